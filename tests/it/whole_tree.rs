//! The commands an analyst types without thinking, over the whole mount: `grep -r`,
//! `grep -ra`, `rg` (`-a`, `-uuu`), `cp -r`, `cp -a`, `tar -c`, `rsync -a`, `du`,
//! `find -type f -exec sha256sum`, `yara -r` and `strings -f` must finish with no extra flag, in
//! time and memory bounded by the dumped bytes, and meet each dumped byte of memory once: in
//! `PID/memory/<start>-<end>`, never again through `mem`, `core`, `pagemap`, a shared mapping of
//! a second process, the raw `pages-*.img` or a link into `rootfs/`.
//!
//! Each command runs under a wall-clock guard (`timeout`): a guard against the old traps (hours
//! of zeros, 256 GiB of pagemap), not a benchmark (`scripts/bench.sh` measures).
//!
//! Cases: the real Podman fixture `podman-kitchen` (SysV, memfd and private memory shared with a
//! child, a ghost file), `secretd-shm` (shared anonymous memory and a memfd, a CRIU image dir)
//! and a writer-made checkpoint with a 1 GiB mapping.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ckptfs::writer::{CheckpointWriter, PageFn};
use common::{Mount, Out, TempDir, fixtures, have_tool, run_timeout};

const PAGE: u64 = 4096;

/// The guard for one command on a fixture (seconds). Generous: CI's debug build on 2 busy cores.
const GUARD: u32 = 300;

/// Where a marker must be met, as paths relative to the mount (a `*` stands for any one PID).
struct Expect {
    marker: &'static str,
    /// The `memory/` file (by the mapping's start address) and the offsets in it: the marker is
    /// in exactly `count` such files (one for shared memory, one per process for private copies).
    mapping: Option<(u64, &'static [u64], usize)>,
    /// Other places, exactly (relative paths), outside `PID/` directories.
    elsewhere: &'static [&'static str],
}

/// Paths that a walk must never report a hit in: the whole-address-space files, the hidden link
/// targets and the raw images whose bytes are shown decoded.
fn forbidden(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    rel.starts_with(".link")
        || rel.contains("/.link/")
        || matches!(name, "mem" | "core" | "pagemap")
        || (rel.starts_with("checkpoint/images/")
            && (name.starts_with("pages-")
                || name.starts_with("ghost-file-")
                || name.starts_with("tcp-stream-")
                || matches!(name, "pipes-data.img" | "fifo-data.img" | "sk-queues.img")))
        || matches!(
            rel,
            "checkpoint/rootfs-diff.tar" | "checkpoint/devshm-checkpoint.tar"
        )
}

/// `CMD...` under the guard; panics unless it exits with one of `codes`.
fn guarded(what: &str, secs: u32, args: &[&OsStr], codes: &[i32]) -> Out {
    let o = run_timeout(secs, args);
    assert_ne!(
        o.code,
        Some(124),
        "{what}: did not finish within {secs} s (guard): {o}"
    );
    assert!(
        o.code.is_some_and(|c| codes.contains(&c)),
        "{what}: exit {:?}, expected one of {codes:?}: {o}",
        o.code
    );
    o
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// (relative path -> byte offsets) of every match of `marker` reported by a `grep -b -o`-style
/// output (`PATH:OFFSET:MATCH` lines), paths made relative to `mnt`.
fn offsets_by_file(out: &str, mnt: &Path) -> BTreeMap<String, BTreeSet<u64>> {
    let prefix = format!("{}/", mnt.display());
    let mut m: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        // PATH:OFFSET:MATCH; the path may hold ':' (none of ours ends in ":<digits>:").
        let mut parts = rest.rsplitn(3, ':');
        let (_m, off, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(off), Some(path)) = (off, path)
            && let Ok(off) = off.parse::<u64>()
        {
            m.entry(path.to_string()).or_default().insert(off);
        }
    }
    m
}

/// The relative paths of `PATH:COUNT` lines with a count above 0.
fn files_with_count(out: &str, mnt: &Path) -> BTreeSet<String> {
    let prefix = format!("{}/", mnt.display());
    out.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| l.rsplit_once(':'))
        .filter(|(_, n)| n.parse::<u64>().is_ok_and(|n| n > 0))
        .map(|(p, _)| p.to_string())
        .collect()
}

/// The start address of a `memory/<start>-<end>` path.
fn mapping_start(rel: &str) -> Option<u64> {
    let (dir, name) = rel.rsplit_once('/')?;
    if !dir.ends_with("/memory") {
        return None;
    }
    u64::from_str_radix(name.split_once('-')?.0, 16).ok()
}

/// Checks where `e.marker` was met, given every file reporting it (and, when known, the offsets).
fn check_places(case: &str, tool: &str, e: &Expect, hits: &BTreeMap<String, BTreeSet<u64>>) {
    let ctx = || format!("{case}: {tool}: {}: hits {hits:#?}", e.marker);
    for p in hits.keys() {
        assert!(!forbidden(p), "met again through {p}: {}", ctx());
    }
    if let Some((start, offs, count)) = e.mapping {
        let files: Vec<(&String, &BTreeSet<u64>)> = hits
            .iter()
            .filter(|(p, _)| mapping_start(p) == Some(start))
            .collect();
        assert_eq!(files.len(), count, "memory/{start:x}-* files: {}", ctx());
        for (p, o) in files {
            // Offsets (where the tool reports them): the file name's start + offset = address.
            if !o.is_empty() {
                let want: BTreeSet<u64> = offs.iter().copied().collect();
                assert_eq!(o, &want, "{p}: offsets: {}", ctx());
            }
        }
    }
    let outside: BTreeSet<&str> = hits
        .keys()
        .map(String::as_str)
        .filter(|p| {
            p.split('/')
                .next()
                .is_none_or(|c| c.parse::<u32>().is_err())
        })
        .collect();
    let want: BTreeSet<&str> = e.elsewhere.iter().copied().collect();
    assert_eq!(outside, want, "places outside PID/: {}", ctx());
}

/// Every whole-tree command on `m`; `expects` say where markers are met; copies must stay within
/// `copy_limit` bytes.
fn run_all(case: &str, m: &Mount, expects: &[Expect], copy_limit: u64, guard: u32) {
    let mnt = fs::canonicalize(&m.mnt).unwrap();
    let mnt_s = mnt.to_string_lossy().into_owned();
    let scratch = TempDir::new("reflex");
    let sp = |rel: &str| scratch.join(rel).to_string_lossy().into_owned();

    // `ls -l PID/` still shows mem and pagemap (links); core is found by name only (a link
    // listings leave out, so that its target has its real size); all open by path.
    let pid = fs::read_dir(&mnt)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.parse::<u32>().is_ok())
        .expect("a PID directory");
    for name in ["mem", "pagemap", "core"] {
        let p = mnt.join(&pid).join(name);
        let l = fs::symlink_metadata(&p).unwrap();
        assert!(l.file_type().is_symlink(), "{case}: {pid}/{name} is a link");
        let target = fs::read_link(&p).unwrap();
        assert_eq!(
            target,
            PathBuf::from(format!("../.link/{pid}/{name}")),
            "{case}"
        );
        assert!(fs::metadata(&p).unwrap().is_file(), "{case}: {pid}/{name}");
    }
    let listed: Vec<String> = fs::read_dir(mnt.join(&pid))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(
        listed.iter().any(|n| n == "mem") && listed.iter().any(|n| n == "pagemap"),
        "{case}: {listed:?}"
    );
    assert!(!listed.iter().any(|n| n == "core"), "{case}: {listed:?}");
    let core = guarded(
        "head -c 4 core",
        60,
        &[
            os("head"),
            os("-c"),
            os("4"),
            mnt.join(&pid).join("core").as_os_str(),
        ],
        &[0],
    );
    assert_eq!(core.stdout, b"\x7fELF", "{case}: core by path");
    // The hidden directory is reachable but not listed.
    let top: Vec<String> = fs::read_dir(&mnt)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(!top.iter().any(|n| n.starts_with('.')), "{case}: {top:?}");
    assert!(mnt.join(".link").join(&pid).join("mem").is_file(), "{case}");

    for e in expects {
        // grep -r (binary mode: counts per file, holes skipped).
        let o = guarded(
            "grep -r -c",
            guard,
            &[
                os("grep"),
                os("-r"),
                os("-c"),
                os("-F"),
                os(e.marker),
                os(&mnt_s),
            ],
            &[0],
        );
        let files: BTreeMap<String, BTreeSet<u64>> = files_with_count(&o.stdout_text(), &mnt)
            .into_iter()
            .map(|p| (p, BTreeSet::new()))
            .collect();
        check_places(case, "grep -r", e, &files);

        // grep -rab: every offset (text mode reads every zero of the bounded files).
        let o = guarded(
            "grep -rab",
            guard,
            &[
                os("grep"),
                os("-r"),
                os("-a"),
                os("-b"),
                os("-o"),
                os("-F"),
                os(e.marker),
                os(&mnt_s),
            ],
            &[0],
        );
        let by_file = offsets_by_file(&o.stdout_text(), &mnt);
        check_places(case, "grep -rab", e, &by_file);

        // ripgrep: plain (stops at binary files, finishes), -a and -uuu (search them).
        guarded(
            "rg",
            guard,
            &[os("rg"), os("-c"), os("-F"), os(e.marker), os(&mnt_s)],
            &[0, 1],
        );
        for flags in [&["-a"][..], &["-uuu"][..]] {
            let mut args = vec![os("rg"), os("-c"), os("-F")];
            args.extend(flags.iter().map(|f| os(f)));
            args.extend([os(e.marker), os(&mnt_s)]);
            let o = guarded("rg -a / -uuu", guard, &args, &[0]);
            let files: BTreeMap<String, BTreeSet<u64>> = files_with_count(&o.stdout_text(), &mnt)
                .into_iter()
                .map(|p| (p, BTreeSet::new()))
                .collect();
            check_places(case, &format!("rg {flags:?}"), e, &files);
        }
    }

    // yara -r, no flag: nothing on stderr, each marker's files as grep found them, the offsets of
    // `-s` the same.
    if have_tool("yara", "run scripts/deps.sh") {
        let mut rules = String::new();
        for (i, e) in expects.iter().enumerate() {
            rules.push_str(&format!(
                "rule m{i} {{ strings: $a = \"{}\" condition: $a }}\n",
                e.marker
            ));
        }
        let rf = scratch.join("rules.yar");
        fs::write(&rf, rules).unwrap();
        let o = guarded(
            "yara -r",
            guard,
            &[os("yara"), os("-r"), os("-s"), rf.as_os_str(), os(&mnt_s)],
            &[0],
        );
        assert!(o.stderr.is_empty(), "{case}: yara -r printed errors: {o}");
        let text = o.stdout_text();
        for (i, e) in expects.iter().enumerate() {
            // "mI PATH" then "0xOFF:$a: ..." lines.
            let mut hits: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
            let mut cur: Option<String> = None;
            for l in text.lines() {
                if let Some(off) = l.strip_prefix("0x") {
                    if let (Some(p), Some((o, _))) = (&cur, off.split_once(':')) {
                        let o = u64::from_str_radix(o, 16).unwrap();
                        hits.get_mut(p).unwrap().insert(o);
                    }
                    continue;
                }
                cur = None;
                if let Some((rule, path)) = l.split_once(' ')
                    && rule == format!("m{i}")
                {
                    let rel = path
                        .strip_prefix(&format!("{mnt_s}/"))
                        .unwrap_or(path)
                        .to_string();
                    assert!(
                        !hits.contains_key(&rel),
                        "{case}: yara reported {rel} twice: {o}"
                    );
                    hits.insert(rel.clone(), BTreeSet::new());
                    cur = Some(rel);
                }
            }
            check_places(case, "yara -r", e, &hits);
        }
    }

    // strings -f over every regular file: finishes; each marker line names allowed files only.
    let files = guarded(
        "find -type f",
        guard,
        &[os("find"), os(&mnt_s), os("-type"), os("f")],
        &[0],
    );
    let list: Vec<String> = files.stdout_text().lines().map(str::to_string).collect();
    assert!(!list.is_empty(), "{case}: find found no file");
    for f in &list {
        let rel = f.strip_prefix(&format!("{mnt_s}/")).unwrap_or(f);
        assert!(!forbidden(rel), "{case}: find reaches {rel}");
    }
    let mut args = vec![os("strings"), os("-f"), os("-n"), os("8")];
    args.extend(list.iter().map(|f| os(f)));
    let o = guarded("strings -f", guard, &args, &[0]);
    let text = o.stdout_text();
    for e in expects {
        for l in text.lines().filter(|l| l.contains(e.marker)) {
            let path = l.split(": ").next().unwrap_or(l);
            let rel = path.strip_prefix(&format!("{mnt_s}/")).unwrap_or(path);
            assert!(!forbidden(rel), "{case}: strings met {} in {rel}", e.marker);
        }
    }
    guarded(
        "find -exec sha256sum",
        guard,
        &[
            os("find"),
            os(&mnt_s),
            os("-type"),
            os("f"),
            os("-exec"),
            os("sha256sum"),
            os("{}"),
            os("+"),
        ],
        &[0],
    );
    guarded("du -sh", guard, &[os("du"), os("-sh"), os(&mnt_s)], &[0]);

    // Copies: each finishes and stays within the limit (bytes written, apparent size).
    let parent = mnt.parent().unwrap().to_string_lossy().into_owned();
    let name = mnt.file_name().unwrap().to_string_lossy().into_owned();
    let copies: Vec<(&str, Vec<String>, PathBuf)> = vec![
        (
            "cp -r",
            vec!["cp".into(), "-r".into(), mnt_s.clone(), sp("cp-r")],
            scratch.join("cp-r"),
        ),
        (
            "cp -a",
            vec!["cp".into(), "-a".into(), mnt_s.clone(), sp("cp-a")],
            scratch.join("cp-a"),
        ),
        (
            "tar -c",
            vec![
                "tar".into(),
                "-cf".into(),
                sp("out.tar"),
                "-C".into(),
                parent.clone(),
                name.clone(),
            ],
            scratch.join("out.tar"),
        ),
        (
            "rsync -a",
            vec![
                "rsync".into(),
                "-a".into(),
                format!("{mnt_s}/"),
                sp("rsync"),
            ],
            scratch.join("rsync"),
        ),
    ];
    for (what, args, out) in copies {
        if what == "rsync -a" && !have_tool("rsync", "run scripts/deps.sh") {
            continue;
        }
        let args: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
        let o = guarded(what, guard, &args, &[0]);
        let size = apparent_size(&out);
        eprintln!(
            "{case}: {what}: {size} bytes in {:?} (limit {copy_limit})",
            o.elapsed
        );
        assert!(size > 0, "{case}: {what} copied nothing");
        assert!(
            size <= copy_limit,
            "{case}: {what} wrote {size} bytes, more than {copy_limit}"
        );
        // Links are copied as links: the copy holds no mem / pagemap / core file.
        if out.is_dir() {
            let l = fs::symlink_metadata(out.join(&pid).join("mem"))
                .or_else(|_| fs::symlink_metadata(out.join(&name).join(&pid).join("mem")))
                .unwrap();
            assert!(
                l.file_type().is_symlink(),
                "{case}: {what}: mem copied as a file"
            );
        }
        remove(&out);
    }

    // The daemon stays small after all of it.
    let rss = daemon_rss_kib(m.daemon_pid());
    eprintln!("{case}: daemon VmRSS {rss} KiB after the whole-tree commands");
    assert!(rss < 256 * 1024, "{case}: daemon VmRSS {rss} KiB");
}

/// Bytes of `p`: a file's size, or the sum over a directory's regular files (links not followed).
fn apparent_size(p: &Path) -> u64 {
    let md = fs::symlink_metadata(p).unwrap();
    if md.is_dir() {
        fs::read_dir(p)
            .unwrap()
            .map(|e| apparent_size(&e.unwrap().path()))
            .sum()
    } else if md.is_file() {
        md.len()
    } else {
        0
    }
}

fn remove(p: &Path) {
    if p.is_dir() {
        // The copies keep the tree's modes (no write bit): make them removable.
        let _ = run_timeout(60, &["chmod", "-R", "u+w", &p.to_string_lossy()]);
        fs::remove_dir_all(p).unwrap();
    } else {
        fs::remove_file(p).unwrap();
    }
}

fn daemon_rss_kib(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sum of the mapped sizes of a fixture's ground truth (shared objects once per process: an
/// upper bound of what a copy of `memory/` holds).
fn mapped_bytes(truth: &Path) -> u64 {
    let g: serde_json::Value = common::read_json(truth);
    let mut total = 0;
    for p in g["processes"].as_array().unwrap() {
        for v in p["vmas"].as_array().unwrap() {
            let hex = |k: &str| {
                let t = v[k].as_str().unwrap();
                u64::from_str_radix(t.trim_start_matches("0x"), 16).unwrap()
            };
            let (s, e) = (hex("start"), hex("end"));
            if e < 1 << 63 {
                total += e - s;
            }
        }
    }
    total
}

fn tools() -> bool {
    have_tool("rg", "run scripts/deps.sh (ripgrep)")
        && have_tool("strings", "run scripts/deps.sh (binutils)")
}

#[test]
fn kitchen_whole_tree() {
    let Some(fx) = fixtures() else { return };
    if !tools() {
        return;
    }
    let m = Mount::new(&fx.join("podman-kitchen/checkpoint.tar.gz"));
    let limit = 2 * mapped_bytes(&fx.join("podman-kitchen/ground-truth.json")) + (16 << 20);
    let expects = [
        // SysV segment attached by kitchen (6) and its child (7): one file.
        Expect {
            marker: "KITCHEN-SYSV-s1",
            mapping: Some((0x4b10_0000_0000, &[0, 0x8000], 1)),
            elsewhere: &[],
        },
        // memfd mapped MAP_SHARED by both: one file.
        Expect {
            marker: "KITCHEN-MEMFD-s1",
            mapping: Some((0x4b12_0000_0000, &[0, 0x1000], 1)),
            elsewhere: &[],
        },
        // The /dev/shm file mapped MAP_SHARED by both (its bytes from devshm-checkpoint.tar):
        // one mapping file, and the file itself in rootfs/ (the tar is a link).
        Expect {
            marker: "KITCHEN-DEVSHM-s1",
            mapping: Some((0x4b11_0000_0000, &[0, 0x2000], 1)),
            elsewhere: &["rootfs/dev/shm/kitchen.s1"],
        },
        // Private anonymous memory, copied at fork: one file per process.
        Expect {
            marker: "KITCHEN-ANON-s1",
            mapping: Some((0x4b13_0000_0000, &[0, 12 * PAGE], 2)),
            elsewhere: &[],
        },
        // Unread pipe, FIFO, unix and TCP data: buffers/ only (the raw images are links); the
        // writers' own copies in memory are not checked here.
        Expect {
            marker: "KITCHEN-PIPEBUF-s1",
            mapping: None,
            elsewhere: &["buffers/pipe-101791"],
        },
        Expect {
            marker: "KITCHEN-FIFOBUF-s1",
            mapping: None,
            elsewhere: &["buffers/fifo-2"],
        },
        Expect {
            marker: "KITCHEN-TCPQ-s1",
            mapping: None,
            elsewhere: &["buffers/tcp-101799.recv"],
        },
        // The deleted-but-open file: rootfs only (its ghost image is a link).
        Expect {
            marker: "KITCHEN-GHOST-s1",
            mapping: None,
            elsewhere: &["rootfs/tmp/kitchen-ghost (deleted)"],
        },
    ];
    run_all("podman-kitchen", &m, &expects, limit, GUARD);
    m.unmount();
}

#[test]
fn secretd_shm_whole_tree() {
    let Some(fx) = fixtures() else { return };
    if !tools() {
        return;
    }
    let m = Mount::new(&fx.join("secretd-shm/images"));
    let limit = 2 * mapped_bytes(&fx.join("secretd-shm/ground-truth.json")) + (16 << 20);
    let expects = [
        // MAP_SHARED|MAP_ANONYMOUS memory of the parent, inherited by the child: one file.
        Expect {
            marker: "SECRETD-SHM-PARENT-D4",
            mapping: Some((0x5ec1_0000_0000, &[0], 1)),
            elsewhere: &[],
        },
        Expect {
            marker: "SECRETD-SHM-CHILD-D4",
            mapping: Some((0x5ec1_0000_0000, &[0x10000], 1)),
            elsewhere: &[],
        },
        Expect {
            marker: "SECRETD-MEMFD-D4",
            mapping: Some((0x5ec2_0000_0000, &[0], 1)),
            elsewhere: &[],
        },
    ];
    run_all("secretd-shm", &m, &expects, limit, GUARD);
    m.unmount();
}

/// A writer-made checkpoint with a 1 GiB mapping (fully dumped, markers at known addresses) and
/// 64 KiB of shared memory in two processes.
#[test]
fn one_gib_mapping_whole_tree() {
    if !common::have_fuse() || !tools() {
        return;
    }
    const BIG: u64 = 0x7f00_0000_0000;
    const LEN: u64 = 1 << 30;
    const SHM: u64 = 0x6000_0000_0000;
    let t = TempDir::new("reflex-1g");
    let marker_at = [7 * PAGE + 100, LEN / 2 - 5, LEN - PAGE];
    let fill: PageFn = Arc::new(move |addr, page: &mut [u8]| {
        // Text-free filler (no printable run for strings), a newline closing each page as in
        // real memory (grep -a holds a line at a time), a marker at three known addresses.
        for (i, b) in page.iter_mut().enumerate() {
            *b = if i % 7 == 0 {
                0
            } else {
                ((addr >> 12) as u8) ^ (i as u8) | 0x80
            };
        }
        page[PAGE as usize - 1] = b'\n';
        for off in marker_at {
            let a = BIG + off;
            let m = b"BIG-MAPPING-MARKER-9f2c";
            for (k, &c) in m.iter().enumerate() {
                let x = a + k as u64;
                if x >= addr && x < addr + PAGE {
                    page[(x - addr) as usize] = c;
                }
            }
        }
    });
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("big")
        .anon(BIG, LEN)
        .pages_fn(BIG, LEN / PAGE, fill)
        .shared_anon(SHM, 16 * PAGE, 77)
        .pages(SHM + 3 * PAGE, b"SHARED-SYNTH-MARKER-41");
    w.process(2, 1).comm("peer").shared_anon(SHM, 16 * PAGE, 77);
    let d = t.join("img");
    w.write_dir(&d).unwrap();
    let m = Mount::new(&d);
    let expects = [
        Expect {
            marker: "BIG-MAPPING-MARKER-9f2c",
            mapping: Some((BIG, &[7 * PAGE + 100, LEN / 2 - 5, LEN - PAGE], 1)),
            elsewhere: &[],
        },
        Expect {
            marker: "SHARED-SYNTH-MARKER-41",
            mapping: Some((SHM, &[3 * PAGE], 1)),
            elsewhere: &[],
        },
    ];
    // The copy: the dumped gigabyte and the shared pages once, plus small files.
    run_all("1 GiB mapping", &m, &expects, LEN + LEN / 2, 900);
    m.unmount();
}
