//! The fixtures' ground truth, and the checks a mounted tree must pass against it (at least what
//! `/work/shared/tools/check-mount.py` checks, plus the README's markers at their addresses).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{
    Mount, grep_count_memory, run_timeout, sha256_hex, try_cat, try_dd, try_dd_page, try_ls,
    try_sha256sum, try_xxd,
};

/// The addresses of the subject's `READY` line.
#[derive(Debug, Clone)]
pub struct Ready {
    pub pid: u32,
    pub child: u32,
    pub global: u64,
    pub heap: u64,
    pub stack: u64,
    pub pattern: u64,
    pub hole: u64,
    pub protnone: u64,
    pub filemap: u64,
    pub shm: Option<u64>,
    pub memfd: Option<u64>,
}

/// A marker that must be in the memory of each of `pids` (and at `(pid, addr)` when known).
#[derive(Debug, Clone)]
pub struct Marker {
    pub text: String,
    pub pids: Vec<u32>,
    pub at: Vec<(u32, u64)>,
}

/// One fixture case with its truth.
#[derive(Debug)]
pub struct Fixture {
    pub case: String,
    /// `fixtures/<case>`.
    pub dir: PathBuf,
    /// What to mount (the README's "input to mount").
    pub input: PathBuf,
    pub truth: Value,
    pub truth_path: PathBuf,
    /// Page addresses per PID that may differ (the kernel rewrites `struct rseq`).
    pub rseq: HashMap<u32, HashSet<u64>>,
    /// Markers in process memory.
    pub markers: Vec<Marker>,
    /// Markers that must NOT be in any process's memory (clean file pages are not dumped).
    pub absent: Vec<String>,
    /// Markers in files of the container's rootfs (rootfs-diff.tar).
    pub rootfs_markers: Vec<String>,
    pub ready: Option<Ready>,
}

/// The four fixture cases and their inputs.
pub const CASES: &[(&str, &str)] = &[
    ("secretd-plain", "images"),
    ("secretd-incremental", "images/dump"),
    ("secretd-shm", "images"),
    ("podman-busybox", "checkpoint.tar.gz"),
];

fn hexnum(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

fn parse_ready(readme: &str) -> Option<Ready> {
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("READY pid="))?;
    let kv: HashMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|t| t.split_once('='))
        .collect();
    let addr = |k: &str| kv.get(k).and_then(|v| hexnum(v));
    Some(Ready {
        pid: kv.get("pid")?.parse().ok()?,
        child: kv.get("child")?.parse().ok()?,
        global: addr("global")?,
        heap: addr("heap")?,
        stack: addr("stack")?,
        pattern: addr("pattern")?,
        hole: addr("hole")?,
        protnone: addr("protnone")?,
        filemap: addr("filemap")?,
        shm: addr("shm"),
        memfd: addr("memfd"),
    })
}

/// Every `backticked` item of the README's markers section (secretd: the table; podman: the
/// paragraph starting with "Markers:").
fn readme_marker_items(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_section = false;
    for l in readme.lines() {
        let t = l.trim();
        if t.starts_with("## Markers") || t.starts_with("Markers:") {
            in_section = true;
        } else if t.starts_with("## ") || (in_section && t.is_empty() && !out.is_empty()) {
            in_section = false;
        }
        if in_section {
            let parts: Vec<&str> = t.split('`').collect();
            for (i, p) in parts.iter().enumerate() {
                if i % 2 == 1 {
                    out.push(p.to_string());
                }
            }
        }
    }
    out
}

/// Loads a fixture case: truth, rseq pages, markers from its README (cross-checked).
pub fn load(fixtures: &Path, case: &str, input: &str) -> Fixture {
    let dir = fixtures.join(case);
    let truth_path = dir.join("ground-truth.json");
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    let rseq: HashMap<u32, HashSet<u64>> = std::fs::read(dir.join("rseq-pages.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<BTreeMap<String, Vec<u64>>>(&b).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.parse().unwrap(), v.into_iter().collect()))
        .collect();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let items = readme_marker_items(&readme);
    let ready = parse_ready(&readme);
    let pids: Vec<u32> = truth["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(ns_pid)
        .collect();
    let mut markers = Vec::new();
    let mut absent = Vec::new();
    let mut rootfs_markers = Vec::new();
    let mk = |text: &str, pids: Vec<u32>, at: Vec<(u32, u64)>| Marker {
        text: text.to_string(),
        pids,
        at,
    };
    if case.starts_with("secretd") {
        let r = ready.clone().expect("secretd README has a READY line");
        let tag = items
            .iter()
            .find_map(|i| i.strip_prefix("SECRETD-GLOBAL-"))
            .expect("README names SECRETD-GLOBAL-<TAG>")
            .to_string();
        let token = items
            .iter()
            .find(|i| i.starts_with("SECRET_TOKEN="))
            .expect("README names SECRET_TOKEN=...")
            .clone();
        let both = vec![r.pid, r.child];
        markers.push(mk(&token, both.clone(), vec![]));
        markers.push(mk(
            &format!("SECRETD-GLOBAL-{tag}"),
            vec![r.pid],
            vec![(r.pid, r.global)],
        ));
        markers.push(mk(
            &format!("SECRETD-HEAP-{tag}"),
            vec![r.pid],
            vec![(r.pid, r.heap)],
        ));
        markers.push(mk(
            &format!("SECRETD-STACK-{tag}"),
            vec![r.pid],
            vec![(r.pid, r.stack)],
        ));
        markers.push(mk(&format!("SECRETD-THREAD1-{tag}"), vec![r.pid], vec![]));
        markers.push(mk(&format!("SECRETD-THREAD2-{tag}"), vec![r.pid], vec![]));
        markers.push(mk(&format!("SECRETD-CHILD-{tag}"), vec![r.child], vec![]));
        markers.push(mk(
            &format!("SECRETD-PROTNONE-{tag}"),
            vec![r.pid],
            vec![(r.pid, r.protnone)],
        ));
        if let (Some(shm), Some(memfd)) = (r.shm, r.memfd) {
            let at = |a: u64| vec![(r.pid, a), (r.child, a)];
            markers.push(mk(
                &format!("SECRETD-SHM-PARENT-{tag}"),
                both.clone(),
                at(shm),
            ));
            markers.push(mk(
                &format!("SECRETD-SHM-CHILD-{tag}"),
                both.clone(),
                at(shm + 0x10000),
            ));
            markers.push(mk(&format!("SECRETD-MEMFD-{tag}"), both.clone(), at(memfd)));
        }
        absent.push(format!("SECRETD-MAPPED-FILE-{tag}"));
    } else {
        for i in &items {
            if i.starts_with("POSTGRES_PASSWORD=") || i.starts_with("APP_TOKEN=") {
                markers.push(mk(i, pids.clone(), vec![]));
            } else if i.starts_with("PODBB-SHELL-VAR") {
                markers.push(mk(i, vec![1], vec![]));
            } else if i.starts_with("PODBB-ROOTFS") {
                rootfs_markers.push(i.clone());
            }
        }
        assert_eq!(markers.len(), 3, "podman README markers: {items:?}");
        assert_eq!(rootfs_markers.len(), 1, "podman README markers: {items:?}");
    }
    // Every marker-looking item of the README is covered, and every marker we check is in it.
    let ours: BTreeSet<&str> = markers
        .iter()
        .map(|m| m.text.as_str())
        .chain(absent.iter().map(String::as_str))
        .chain(rootfs_markers.iter().map(String::as_str))
        .collect();
    for i in &items {
        let looks = i.starts_with("SECRET") || i.starts_with("PODBB") || i.contains('=');
        if looks && !i.contains(' ') {
            assert!(
                ours.contains(i.as_str()),
                "{case}: README marker {i} not checked"
            );
        }
    }
    for o in &ours {
        assert!(
            readme.contains(o),
            "{case}: marker {o} is not in the README"
        );
    }
    Fixture {
        case: case.to_string(),
        input: dir.join(input),
        dir,
        truth,
        truth_path,
        rseq,
        markers,
        absent,
        rootfs_markers,
        ready,
    }
}

/// A process's PID inside the container: the last of its `ns_pids` (innermost namespace last).
pub fn ns_pid(p: &Value) -> u32 {
    innermost(&p["ns_pids"])
}

/// A thread's TID inside the container: the last of its `ns_tids`.
pub fn ns_tid(t: &Value) -> u32 {
    innermost(&t["ns_tids"])
}

fn innermost(ids: &Value) -> u32 {
    ids.as_array().unwrap().last().unwrap().as_u64().unwrap() as u32
}

fn join0(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for s in v.as_array().unwrap() {
        out.extend_from_slice(s.as_str().unwrap().as_bytes());
        out.push(0);
    }
    out
}

/// A maps line without dev / inode: (start, end, perms, offset, path).
type MapsLine = (u64, u64, String, u64, String);

/// `start-end perms offset dev inode path` -> (start, end, perms, offset, path).
fn parse_maps_line(l: &str) -> Option<MapsLine> {
    let mut rest = l;
    let mut f = Vec::with_capacity(5);
    for _ in 0..5 {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ').unwrap_or(rest.len());
        f.push(&rest[..end]);
        rest = &rest[end..];
    }
    let (s, e) = f[0].split_once('-')?;
    Some((
        hexnum(s)?,
        hexnum(e)?,
        f[1].to_string(),
        hexnum(f[2])?,
        rest.trim().to_string(),
    ))
}

fn status_line<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l.trim_end())
}

fn is_anon_like(path: &str) -> bool {
    path.is_empty()
        || path == "[heap]"
        || path == "[stack]"
        || path.starts_with("[anon")
        || path.starts_with("/dev/zero")
        || path.starts_with("/memfd:")
        || path.starts_with("/SYSV")
}

/// Collected results: every failure is listed at the end, not only the first.
#[derive(Default)]
pub struct Checker {
    pub label: String,
    pub ok: usize,
    pub fails: Vec<String>,
}

impl Checker {
    pub fn new(label: &str) -> Checker {
        Checker {
            label: label.to_string(),
            ..Default::default()
        }
    }
    pub fn check(&mut self, cond: bool, what: impl FnOnce() -> String) -> bool {
        if cond {
            self.ok += 1;
        } else {
            self.fails.push(what());
        }
        cond
    }
    /// The value of a tool run, or records its failure and gives the default.
    pub fn got<T: Default>(&mut self, r: Result<T, String>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => {
                self.fails.push(e);
                T::default()
            }
        }
    }
    /// Panics listing every failure, if any.
    pub fn finish(self) {
        eprintln!(
            "{}: {} checks passed, {} failed",
            self.label,
            self.ok,
            self.fails.len()
        );
        if !self.fails.is_empty() {
            panic!(
                "{}: {} failed checks:\n  {}",
                self.label,
                self.fails.len(),
                self.fails.join("\n  ")
            );
        }
    }
}

/// The failures of several labelled [`Checker`]s (one for each form a fixture is mounted in),
/// asserted to be none at the end, so every form is tried even when one fails.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// `src` mounted with `extra`; a failed mount is recorded under `label` and gives `None`.
    pub fn mount(&mut self, label: &str, src: &Path, extra: &[&str]) -> Option<Mount> {
        match Mount::with_args(src, extra) {
            Ok(m) => Some(m),
            Err(o) => {
                self.0.push(format!("{label}: mount failed: {o}"));
                None
            }
        }
    }

    /// Prints `c`'s counts and keeps its failures under its label.
    pub fn add(&mut self, c: Checker) {
        eprintln!(
            "{}: {} checks passed, {} failed",
            c.label,
            c.ok,
            c.fails.len()
        );
        self.0
            .extend(c.fails.iter().map(|x| format!("{}: {x}", c.label)));
    }

    /// Panics listing every failure, if any.
    pub fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} failures:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

/// Everything the mounted tree must agree with the truth on. Failures are collected in `c`.
pub fn check_tree(m: &Mount, f: &Fixture, c: &mut Checker) {
    let procs = f.truth["processes"].as_array().unwrap();
    let prefix = f.truth["host_rootfs_prefix"].as_str().unwrap_or("");
    let norm = |p: &str| -> String {
        if !prefix.is_empty()
            && let Some(r) = p.strip_prefix(prefix)
        {
            return if r.is_empty() { "/".into() } else { r.into() };
        }
        p.to_string()
    };

    // PIDs as directories
    let want_pids: BTreeSet<u32> = procs.iter().map(ns_pid).collect();
    let have_pids: BTreeSet<u32> = c
        .got(try_ls(&m.p("")))
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    c.check(have_pids == want_pids, || {
        format!("PID directories {have_pids:?} != {want_pids:?}")
    });

    for tp in procs {
        let pid = ns_pid(tp);
        let d = |rel: &str| m.p(format!("{pid}/{rel}"));
        if !c.check(m.join(pid.to_string()).is_dir(), || {
            format!("pid {pid}: no directory")
        }) {
            continue;
        }
        // cmdline, environ, comm: byte-equal, read with cat
        for name in ["cmdline", "environ"] {
            let got = c.got(try_cat(&d(name)));
            let want = join0(&tp[name]);
            c.check(got == want, || {
                format!(
                    "pid {pid}: {name} {:?} != {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                )
            });
        }
        let got = c.got(try_cat(&d("comm")));
        let want = format!("{}\n", tp["comm"].as_str().unwrap());
        c.check(got == want.as_bytes(), || {
            format!(
                "pid {pid}: comm {:?} != {want:?}",
                String::from_utf8_lossy(&got)
            )
        });
        // status: the lines the images know exactly
        let st = String::from_utf8_lossy(&c.got(try_cat(&d("status")))).into_owned();
        let tst = tp["status"].as_str().unwrap_or("");
        for key in ["Name", "Uid", "Gid"] {
            let (g, w) = (status_line(&st, key), status_line(tst, key));
            c.check(g == w, || {
                format!("pid {pid}: status {key}: {g:?} != {w:?}")
            });
        }

        // threads
        let mut want_tids: Vec<u32> = tp["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(ns_tid)
            .collect();
        want_tids.sort();
        let mut have_tids: Vec<u32> = c
            .got(try_ls(&d("task")))
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        have_tids.sort();
        c.check(have_tids == want_tids, || {
            format!("pid {pid}: task/ {have_tids:?} != {want_tids:?}")
        });
        for t in tp["threads"].as_array().unwrap() {
            let tid = ns_tid(t);
            let p = d(&format!("task/{tid}/comm"));
            if !m.join(format!("{pid}/task/{tid}")).is_dir() {
                continue;
            }
            let got = c.got(try_cat(&p));
            let want = format!("{}\n", t["comm"].as_str().unwrap());
            c.check(got == want.as_bytes(), || {
                format!(
                    "pid {pid}: task/{tid}/comm {:?} != {want:?}",
                    String::from_utf8_lossy(&got)
                )
            });
        }

        // maps: every line, start end perms offset path (dev / inode are the host's)
        let maps_text = String::from_utf8_lossy(&c.got(try_cat(&d("maps")))).into_owned();
        let got: Vec<_> = maps_text.lines().filter_map(parse_maps_line).collect();
        let want: Vec<_> = tp["vmas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    hexnum(v["start"].as_str().unwrap()).unwrap(),
                    hexnum(v["end"].as_str().unwrap()).unwrap(),
                    v["perms"].as_str().unwrap().to_string(),
                    hexnum(v["offset"].as_str().unwrap()).unwrap(),
                    norm(v["path"].as_str().unwrap_or("")),
                )
            })
            .collect();
        c.check(got.len() == want.len(), || {
            format!(
                "pid {pid}: maps has {} lines, truth {}",
                got.len(),
                want.len()
            )
        });
        let by_range: HashMap<(u64, u64), &MapsLine> =
            got.iter().map(|g| ((g.0, g.1), g)).collect();
        for w in &want {
            match by_range.get(&(w.0, w.1)) {
                None => {
                    c.check(false, || {
                        format!("pid {pid}: maps lacks {:x}-{:x} {}", w.0, w.1, w.4)
                    });
                }
                Some(g) => {
                    c.check(**g == *w, || {
                        format!("pid {pid}: maps line {g:?} != truth {w:?}")
                    });
                }
            }
        }

        // memory/<start>-<end> of anonymous and shared VMAs: sha256 equal (rseq pages may differ)
        let names = c.got(try_ls(&d("memory")));
        let by_start: HashMap<u64, &String> = names
            .iter()
            .filter_map(|n| Some((hexnum(n.split('-').next()?)?, n)))
            .collect();
        let rseq = f.rseq.get(&pid).cloned().unwrap_or_default();
        for v in tp["vmas"].as_array().unwrap() {
            let path = v["path"].as_str().unwrap_or("");
            let Some(sha) = v["sha256"].as_str() else {
                continue;
            };
            if v.get("page_sha256_16").is_none() || !is_anon_like(path) {
                continue;
            }
            let s = hexnum(v["start"].as_str().unwrap()).unwrap();
            let e = hexnum(v["end"].as_str().unwrap()).unwrap();
            let Some(name) = by_start.get(&s) else {
                c.check(false, || format!("pid {pid}: memory/ lacks {s:x} ({path})"));
                continue;
            };
            let file = d(&format!("memory/{name}"));
            if c.got(try_sha256sum(&file)) == sha {
                c.check(true, String::new);
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_default();
            let pages: HashMap<u64, String> = v["page_sha256_16"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x[0].as_u64().unwrap(), x[1].as_str().unwrap().to_string()))
                .collect();
            let zero = sha256_hex(&[0u8; 4096])[..16].to_string();
            let mut bad = Vec::new();
            if bytes.len() as u64 != e - s {
                bad.push(format!("size {} != {}", bytes.len(), e - s));
            }
            for (i, pg) in bytes.chunks(4096).enumerate() {
                let h = &sha256_hex(pg)[..16];
                let w = pages.get(&(i as u64)).unwrap_or(&zero);
                if h != w && !rseq.contains(&(s + i as u64 * 4096)) {
                    bad.push(format!("page {i}"));
                }
            }
            c.check(bad.is_empty(), || {
                format!(
                    "pid {pid}: memory/{name} ({path}) differs: {:?}",
                    &bad[..bad.len().min(8)]
                )
            });
        }
    }

    // markers: grep -c -F over PID/memory/*, fast (holes skipped)
    for mk in &f.markers {
        for &pid in &mk.pids {
            let (n, t) = grep_count_memory(&mk.text, &m.p(pid.to_string()));
            eprintln!(
                "{}: grep -c -F {} {pid}/memory/* -> {n} in {t:?}",
                f.case, mk.text
            );
            c.check(n >= 1, || {
                format!("marker {} not found in {pid}/memory/*", mk.text)
            });
            c.check(t < Duration::from_secs(5), || {
                format!(
                    "marker {}: grep over {pid}/memory/* took {t:?} (holes not skipped?)",
                    mk.text
                )
            });
        }
        for &(pid, addr) in &mk.at {
            let got = c.got(try_dd(
                &m.p(format!("{pid}/mem")),
                addr,
                mk.text.len() as u64,
            ));
            c.check(got == mk.text.as_bytes(), || {
                format!(
                    "marker {} not at {addr:#x} of {pid}/mem: {:?}",
                    mk.text,
                    String::from_utf8_lossy(&got)
                )
            });
        }
    }
    for text in &f.absent {
        for tp in procs {
            let pid = ns_pid(tp);
            let (n, _) = grep_count_memory(text, &m.p(pid.to_string()));
            c.check(n == 0, || {
                format!("{text} found in {pid}/memory/* although its page is not in the checkpoint")
            });
        }
    }

    // The READY line's addresses.
    if let Some(r) = &f.ready {
        let mem = m.p(format!("{}/mem", r.pid));
        let pat = |off: u64| off ^ 0x5a5a_a5a5_c3c3_3c3c;
        for page in [0u64, 1, 511, 513, 1023] {
            let addr = r.pattern + page * 4096;
            let got = c.got(try_dd_page(&mem, addr));
            let ok = got.len() == 4096
                && got.chunks(8).enumerate().all(|(i, w)| {
                    u64::from_le_bytes(w.try_into().unwrap()) == pat(page * 4096 + i as u64 * 8)
                });
            c.check(ok, || format!("pattern page {page} at {addr:#x} is wrong"));
        }
        let head = c.got(try_xxd(&mem, r.pattern, 16));
        let mut want = pat(0).to_le_bytes().to_vec();
        want.extend_from_slice(&pat(8).to_le_bytes());
        c.check(head == want, || {
            format!("xxd at pattern {:#x}: {head:02x?}", r.pattern)
        });
        let hole = c.got(try_dd_page(&mem, r.hole));
        c.check(hole == vec![0u8; 4096], || {
            format!(
                "never-touched page {:#x}: {} bytes, not 4096 zeros",
                r.hole,
                hole.len()
            )
        });
        let fm = c.got(try_dd(&mem, r.filemap, 22));
        c.check(fm.len() == 22 && !fm.starts_with(b"SECRETD-MAPPED"), || {
            format!(
                "clean file page at {:#x} read {fm:?}: not dumped, must be a hole",
                r.filemap
            )
        });
    }
}

/// Runs the independent checker `check-mount.py MNT ground-truth.json MARKERS...` and records
/// whether it exits 0 (skipped when python3 or the tool is missing).
pub fn check_with_tool(m: &Mount, f: &Fixture, c: &mut Checker) {
    let tool = f.dir.join("../../tools/check-mount.py");
    if !tool.exists() || run_timeout(5, &["python3", "--version"]).code != Some(0) {
        // Not a skipped test (the rest of it ran): a note, not a SKIPPED line.
        eprintln!("note: check-mount.py not run: tool or python3 missing");
        return;
    }
    let mut args: Vec<String> = vec![
        "python3".into(),
        tool.to_string_lossy().into(),
        m.p(""),
        f.truth_path.to_string_lossy().into(),
    ];
    args.extend(f.markers.iter().map(|mk| mk.text.clone()));
    let o = run_timeout(600, &args);
    eprintln!("{}: check-mount.py: {}", f.case, o.stdout_text().trim());
    c.check(o.ok(), || format!("check-mount.py failed: {o}"));
}

/// The whole truth check of a mounted fixture; panics listing every failure.
pub fn check_all(m: &Mount, f: &Fixture, label: &str, with_tool: bool) {
    let mut c = Checker::new(label);
    check_tree(m, f, &mut c);
    if with_tool {
        check_with_tool(m, f, &mut c);
    }
    c.finish();
}
