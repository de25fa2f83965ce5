//! YARA end to end on the mounted fixtures (Debian's `yara`, 4.2 here): a plain
//! `yara -r RULES MNT` (no option) finds every fixture marker in `PID/memory/` and (Podman) in
//! `rootfs/`, once per place; every file it reports lies inside the mount, and no symlink of the
//! mount leads out; the scan's time is compared with the same bytes scanned on disk (printed, not
//! asserted).
//!
//! yara follows symbolic links (its default; `-N` turns that off). Every link of the tree (`mem`,
//! `core`, `pagemap`, `fd/N`, `cwd`, `exe`, `root`, a second process's shared mapping) points
//! into the hidden `.link/`, whose files report size 0 like procfs's and are read by offset: yara
//! sizes a file before mapping it, so it scans nothing there, and `yara -r` equals
//! `yara -r -N` ([`run_case`]). By path, `yara RULES PID/core` still scans the core
//! ([`core_by_path`]).
//!
//! Needs `yara` (scripts/deps.sh installs it): missing, the tests panic when `CI=true` and skip
//! otherwise.

use crate::common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use common::{Mount, Out, TempDir, fixtures, have_tool, run_timeout};

/// Files larger than this are not copied for the on-disk baseline (none of the fixtures' are).
const SKIP_LARGER: u64 = 1 << 30;

/// A mounted fixture to scan, a scratch directory and the rules for its markers.
struct Setup {
    m: Mount,
    dir: TempDir,
    rules: PathBuf,
}

/// Mounts the fixture `input` (relative to the fixtures) and writes [`rules`] for `markers` in a
/// fresh `tag` directory. None (the test returns): no fixtures, or no yara (a panic when
/// `CI=true`).
fn setup(tag: &str, input: &str, markers: &[&str]) -> Option<Setup> {
    let fx = fixtures()?;
    if !have_tool("yara", "run scripts/deps.sh") {
        return None;
    }
    let dir = TempDir::new(tag);
    let m = Mount::new(&fx.join(input));
    let rules = rules(&dir, markers);
    Some(Setup { m, dir, rules })
}

/// Where a marker must be found.
#[derive(Clone, Copy)]
enum At {
    /// In `PID/memory/<the [heap] range>`.
    Heap(u32),
    /// In some `PID/memory/*` file.
    Mem(u32),
    /// In `rootfs/<path>`.
    Rootfs(&'static str),
}

struct Case {
    name: &'static str,
    input: &'static str,
    markers: &'static [(&'static str, At)],
}

const CASES: &[Case] = &[
    Case {
        name: "secretd-plain",
        input: "images",
        markers: &[
            ("SECRET_TOKEN=tok-plain-7f3a9c21", At::Mem(8259)),
            ("SECRET_TOKEN=tok-plain-7f3a9c21", At::Mem(8262)),
            ("SECRETD-GLOBAL-A1", At::Mem(8259)),
            ("SECRETD-HEAP-A1", At::Heap(8259)),
            ("SECRETD-STACK-A1", At::Mem(8259)),
            ("SECRETD-THREAD1-A1", At::Mem(8259)),
            ("SECRETD-THREAD2-A1", At::Mem(8259)),
            ("SECRETD-CHILD-A1", At::Heap(8262)),
            ("SECRETD-PROTNONE-A1", At::Mem(8259)),
        ],
    },
    Case {
        name: "secretd-incremental",
        input: "images/dump",
        markers: &[
            ("SECRET_TOKEN=tok-incr-0d4e8b55", At::Mem(8319)),
            ("SECRETD-GLOBAL-B2", At::Mem(8319)),
            ("SECRETD-HEAP-B2", At::Heap(8319)),
            ("SECRETD-STACK-B2", At::Mem(8319)),
            ("SECRETD-THREAD1-B2", At::Mem(8319)),
            ("SECRETD-THREAD2-B2", At::Mem(8319)),
            ("SECRETD-CHILD-B2", At::Heap(8322)),
            ("SECRETD-PROTNONE-B2", At::Mem(8319)),
        ],
    },
    Case {
        name: "secretd-shm",
        input: "images",
        markers: &[
            ("SECRET_TOKEN=tok-shm-6b1f3e90", At::Mem(8410)),
            ("SECRETD-HEAP-D4", At::Heap(8410)),
            ("SECRETD-STACK-D4", At::Mem(8410)),
            ("SECRETD-THREAD1-D4", At::Mem(8410)),
            ("SECRETD-CHILD-D4", At::Heap(8414)),
            // Shared memory: met once, in the first process that maps it (the child's mapping
            // is a link to it).
            ("SECRETD-SHM-PARENT-D4", At::Mem(8410)),
            ("SECRETD-SHM-CHILD-D4", At::Mem(8410)),
            ("SECRETD-MEMFD-D4", At::Mem(8410)),
        ],
    },
    Case {
        name: "podman-busybox",
        input: "checkpoint.tar.gz",
        markers: &[
            ("PODBB-SHELL-VAR-MARKER-77e1", At::Heap(1)),
            ("POSTGRES_PASSWORD=PODBB-secret_password-shared", At::Mem(1)),
            ("APP_TOKEN=PODBB-ENV-TOKEN-4c1d", At::Mem(6)),
            ("APP_TOKEN=PODBB-ENV-TOKEN-4c1d", At::Mem(7)),
            (
                "PODBB-ROOTFS-DIFF-FILE-MARKER",
                At::Rootfs("data/written-at-runtime.txt"),
            ),
        ],
    },
];

/// One rule per distinct marker (`m0`, `m1`, ...), written to `dir/rules.yar`.
fn rules(dir: &TempDir, markers: &[&str]) -> PathBuf {
    let mut text = String::new();
    for (i, m) in markers.iter().enumerate() {
        let lit = m.replace('\\', "\\\\").replace('"', "\\\"");
        text.push_str(&format!(
            "rule m{i} {{ strings: $a = \"{lit}\" condition: $a }}\n"
        ));
    }
    let p = dir.join("rules.yar");
    fs::write(&p, text).unwrap();
    p
}

/// (rule, path) pairs of yara's output.
fn matches(o: &Out) -> BTreeSet<(String, PathBuf)> {
    o.stdout_text()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(r, p)| (r.to_string(), PathBuf::from(p)))
        .collect()
}

/// `yara OPTS... RULES TARGET` under `timeout SECS`.
fn yara(secs: u32, opts: &[&str], rules: &Path, target: &Path) -> Out {
    let mut args: Vec<&OsStr> = vec![OsStr::new("yara")];
    args.extend(opts.iter().map(OsStr::new));
    args.push(rules.as_os_str());
    args.push(target.as_os_str());
    run_timeout(secs, &args)
}

/// `yara -r [-N] RULES DIR`: no other option, as an analyst types it.
fn scan(rules: &Path, dir: &Path, follow: bool) -> Out {
    let opts: &[&str] = if follow { &["-r"] } else { &["-r", "-N"] };
    yara(600, opts, rules, dir)
}

/// `path` with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Every symlink below `mnt` (not following links): its target must be relative and resolve,
/// lexically, inside `mnt`. Returns how many links were checked.
fn links_stay_inside(mnt: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![mnt.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let p = e.path();
            if t.is_dir() {
                stack.push(p);
            } else if t.is_symlink() {
                let target = fs::read_link(&p).unwrap();
                assert!(
                    target.is_relative(),
                    "{} -> {}: absolute",
                    p.display(),
                    target.display()
                );
                let r = normalize(&d.join(&target));
                assert!(
                    r.starts_with(mnt),
                    "{} -> {} leaves the mount ({})",
                    p.display(),
                    target.display(),
                    r.display()
                );
                n += 1;
            }
        }
    }
    n
}

/// Regular files below `mnt` (not following links) of at most `SKIP_LARGER` bytes, copied to
/// `to` with the same relative paths (unreadable ones skipped). Returns the bytes copied.
fn copy_scanned_bytes(mnt: &Path, to: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![mnt.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let p = e.path();
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                let md = e.metadata().unwrap();
                // yara scans a size-0 file as empty: `pagemap` (size 0 like procfs, read by
                // offset) is not copied, or the copy would read its 256 GiB.
                if md.len() > SKIP_LARGER || md.len() == 0 {
                    continue;
                }
                let dst = to.join(p.strip_prefix(mnt).unwrap());
                fs::create_dir_all(dst.parent().unwrap()).unwrap();
                if let Ok(n) = fs::copy(&p, &dst) {
                    total += n;
                }
            }
        }
    }
    total
}

fn heap_range(m: &Mount, pid: u32) -> String {
    let maps = String::from_utf8(common::cat(&m.p(format!("{pid}/maps")))).unwrap();
    maps.lines()
        .find(|l| l.ends_with("[heap]"))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("PID {pid} has no [heap]:\n{maps}"))
        .to_string()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn run_case(c: &Case) {
    let mut distinct: Vec<&str> = c.markers.iter().map(|(s, _)| *s).collect();
    distinct.dedup();
    let distinct: Vec<&str> = distinct
        .iter()
        .enumerate()
        .filter(|(i, s)| !distinct[..*i].contains(s))
        .map(|(_, s)| *s)
        .collect();
    let input = format!("{}/{}", c.name, c.input);
    let Some(Setup { m, dir, rules }) = setup("yara", &input, &distinct) else {
        return;
    };
    let mnt = fs::canonicalize(&m.mnt).unwrap();
    let rule_of =
        |marker: &str| format!("m{}", distinct.iter().position(|d| *d == marker).unwrap());

    // Timing first, on a cold mount (each file once: links not followed).
    let mount_cold = scan(&rules, &mnt, false);
    assert!(mount_cold.ok(), "{mount_cold}");
    // The scan as an analyst runs it (symlinks followed, yara's default).
    let cold = scan(&rules, &mnt, true);
    assert!(cold.ok(), "{}: yara -r failed: {cold}", c.name);
    assert!(
        cold.stderr.is_empty(),
        "{}: yara -r printed errors: {cold}",
        c.name
    );
    // Following the links adds nothing: each byte is met once, through the listed tree.
    assert_eq!(
        matches(&cold),
        matches(&mount_cold),
        "{}: -r vs -r -N",
        c.name
    );
    let found = matches(&cold);
    eprintln!(
        "{}: yara -r over the mount: {} matches in {:.3}s",
        c.name,
        found.len(),
        secs(cold.elapsed)
    );
    assert!(!found.is_empty(), "{}: no match at all: {cold}", c.name);

    // Never outside the mount: every reported file, resolved, is inside; and every link too.
    for (_, p) in &found {
        let real = fs::canonicalize(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            real.starts_with(&mnt),
            "{} resolves outside the mount: {}",
            p.display(),
            real.display()
        );
    }
    let links = links_stay_inside(&mnt);
    assert!(links > 0, "{}: no symlink checked", c.name);

    for (marker, at) in c.markers {
        let rule = rule_of(marker);
        let hit = |rel: &str| found.contains(&(rule.clone(), mnt.join(rel)));
        match *at {
            At::Heap(pid) => {
                let heap = heap_range(&m, pid);
                assert!(
                    hit(&format!("{pid}/memory/{heap}")),
                    "{}: {marker} not in {pid}/memory/{heap} ([heap]): {cold}",
                    c.name
                );
            }
            At::Mem(pid) => {
                let prefix = mnt.join(format!("{pid}/memory"));
                assert!(
                    found
                        .iter()
                        .any(|(r, p)| *r == rule && p.parent() == Some(prefix.as_path())),
                    "{}: {marker} not in any {pid}/memory/ file: {cold}",
                    c.name
                );
            }
            At::Rootfs(path) => {
                assert!(
                    hit(&format!("rootfs/{path}")),
                    "{}: {marker} not in rootfs/{path}: {cold}",
                    c.name
                );
            }
        }
    }

    // Time: the same bytes on disk. Both without following links (each file once).
    let copy = dir.join("copy");
    let bytes = copy_scanned_bytes(&mnt, &copy);
    let on_disk = scan(&rules, &copy, false);
    let on_mount = scan(&rules, &mnt, false);
    assert!(on_mount.ok() && on_disk.ok(), "{on_mount}\n{on_disk}");
    // Same files found, relative to their roots.
    let rel = |o: &Out, root: &Path| -> BTreeSet<(String, PathBuf)> {
        matches(o)
            .into_iter()
            .map(|(r, p)| (r, p.strip_prefix(root).unwrap().to_path_buf()))
            .collect()
    };
    assert_eq!(rel(&on_mount, &mnt), rel(&on_disk, &copy), "{}", c.name);
    assert_eq!(rel(&mount_cold, &mnt), rel(&on_disk, &copy), "{}", c.name);
    let disk = secs(on_disk.elapsed).max(1e-3);
    eprintln!(
        "{}: yara -r -N over {bytes} bytes: disk {disk:.3}s, mount cold {:.3}s ({:.2}x), mount warm {:.3}s ({:.2}x) (target <= 3x)",
        c.name,
        secs(mount_cold.elapsed),
        secs(mount_cold.elapsed) / disk,
        secs(on_mount.elapsed),
        secs(on_mount.elapsed) / disk,
    );
}

#[test]
fn yara_secretd_plain() {
    run_case(&CASES[0]);
}

#[test]
fn yara_secretd_incremental() {
    run_case(&CASES[1]);
}

#[test]
fn yara_secretd_shm() {
    run_case(&CASES[2]);
}

#[test]
fn yara_podman_busybox() {
    run_case(&CASES[3]);
}

/// By path, yara sizes the file first: `yara RULES PID/mem` quietly scans nothing (size 0, like
/// `/proc/PID/mem`; it used to fail to map 128 TiB); `PID/core` has its real size (it is found by
/// name only, never by a walk), so `yara RULES PID/core` scans it, as it does a copy.
#[test]
fn core_by_path() {
    let markers = ["SECRETD-HEAP-A1", "SECRETD-STACK-A1"];
    let Some(Setup { m, dir, rules }) = setup("yara-core", "secretd-plain/images", &markers) else {
        return;
    };
    let o = yara(60, &[], &rules, &m.join("8259/mem"));
    assert!(
        o.ok() && o.stderr.is_empty() && o.stdout.is_empty(),
        "8259/mem: {o}"
    );
    let copy = dir.join("core");
    fs::copy(m.join("8259/core"), &copy).unwrap();
    for f in [m.join("8259/core"), copy] {
        let o = yara(300, &[], &rules, &f);
        assert!(o.ok() && o.stderr.is_empty(), "{o}");
        let out = o.stdout_text();
        for r in ["m0", "m1"] {
            assert!(out.contains(&format!("{r} {}", f.display())), "{o}");
        }
    }
}

/// `yara -r RULES MNT` with no option finishes quietly and reports each file once; the shell's
/// heap marker is in `1/memory/<heap>`, never in `core` or `mem`.
#[test]
fn plain_recursive_scan_finishes() {
    let input = "podman-busybox/checkpoint.tar.gz";
    let markers = ["PODBB-SHELL-VAR-MARKER-77e1"];
    // `_dir` (not `..`): the rules live there until the end of the test.
    let Some(Setup {
        m,
        dir: _dir,
        rules,
    }) = setup("yara-plain", input, &markers)
    else {
        return;
    };
    let o = yara(120, &["-r"], &rules, &m.mnt);
    assert_ne!(
        o.code,
        Some(124),
        "yara -r MNT did not finish in 120 s: {o}"
    );
    assert!(o.ok() && o.stderr.is_empty(), "{o}");
    let out = o.stdout_text();
    let lines: Vec<&str> = out.lines().collect();
    let unique: BTreeSet<&str> = lines.iter().copied().collect();
    assert_eq!(lines.len(), unique.len(), "a file reported twice: {o}");
    let heap = heap_range(&m, 1);
    assert!(
        unique.contains(format!("m0 {}", m.p(format!("1/memory/{heap}"))).as_str()),
        "{o}"
    );
    for l in &lines {
        let name = l.rsplit('/').next().unwrap_or(l);
        assert!(!matches!(name, "core" | "mem" | "pagemap"), "{l}: {o}");
    }
}
