//! Stress: 8 concurrent readers walk the whole mounted tree several times and hash every file
//! (sparse ones — `mem`, and any file — by their data regions, found with SEEK_DATA / SEEK_HOLE;
//! `memory/*` and `core` included). All hashes must agree across readers and runs, no read may
//! fail, and the daemon's resident memory must stay bounded.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Mount, fixtures, have_fuse};
use sha2::{Digest, Sha256};

const READERS: usize = 8;
const RUNS: usize = 3;

/// Every regular file below `dir` (links not followed), plus `PID/mem`, `core` and `pagemap`
/// (links into the hidden `.link/`, opened by path like an analyst does; `core` is not listed,
/// it is added beside each `mem`), sorted.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let t = e.file_type().unwrap();
        let whole = matches!(e.file_name().to_str(), Some("mem" | "core" | "pagemap"));
        if t.is_dir() {
            files(&e.path(), out);
        } else if t.is_file() || (t.is_symlink() && whole) {
            if e.file_name() == "mem" {
                out.push(e.path().with_file_name("core"));
            }
            out.push(e.path());
        }
    }
}

/// The data regions of `f` (SEEK_DATA / SEEK_HOLE).
fn regions(f: &fs::File) -> Result<Vec<(u64, u64)>, String> {
    let fd = f.as_raw_fd();
    let mut out = Vec::new();
    let mut off: i64 = 0;
    loop {
        // SAFETY: lseek on a descriptor we own.
        let d = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
        if d < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                break;
            }
            return Err(format!("SEEK_DATA {off}: {e}"));
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        if hole < d {
            return Err(format!(
                "SEEK_HOLE {d}: {}",
                std::io::Error::last_os_error()
            ));
        }
        out.push((d as u64, hole as u64));
        off = hole;
    }
    Ok(out)
}

/// sha256 over (offset, bytes) of each data region of `p`. `pagemap` (8 bytes per page of the
/// whole address space: 256 GiB, dense, like the kernel's) is hashed over the entries of the
/// pages `mem` has data for.
fn hash(p: &Path) -> Result<String, String> {
    let f = fs::File::open(p).map_err(|e| format!("open: {e}"))?;
    let regs = if p.file_name().is_some_and(|n| n == "pagemap") {
        let mem = fs::File::open(p.with_file_name("mem")).map_err(|e| format!("open mem: {e}"))?;
        regions(&mem)?
            .into_iter()
            .map(|(d, h)| (d / 4096 * 8, h.div_ceil(4096) * 8))
            .collect()
    } else {
        regions(&f)?
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for (d, hole) in regs {
        h.update(d.to_le_bytes());
        let mut at = d;
        while at < hole {
            let want = ((hole - at) as usize).min(buf.len());
            let n = f
                .read_at(&mut buf[..want], at)
                .map_err(|e| format!("read at {at:#x}: {e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(common::hex(&h.finalize()))
}

fn vm_rss_kib(pid: i32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn eight_readers_hash_the_whole_tree_identically() {
    if !have_fuse() {
        return;
    }
    let Some(f) = fixtures() else { return };
    for case in ["secretd-shm/images", "podman-busybox/checkpoint.tar.gz"] {
        let m = Mount::new(&f.join(case));
        let daemon = m.daemon_pid();
        let rss_start = vm_rss_kib(daemon);
        let mut list = Vec::new();
        files(&m.mnt, &mut list);
        list.sort();
        assert!(
            list.iter().any(|p| p.ends_with("mem"))
                && list
                    .iter()
                    .any(|p| p.to_string_lossy().contains("/memory/")),
            "{case}: no mem / memory files"
        );
        let list = Arc::new(list);
        let mut first: Option<BTreeMap<PathBuf, String>> = None;
        let mut rss = Vec::new();
        for run in 0..RUNS {
            let handles: Vec<_> = (0..READERS)
                .map(|r| {
                    let list = list.clone();
                    std::thread::spawn(move || {
                        // Each reader walks in its own order.
                        let n = list.len();
                        let mut got = BTreeMap::new();
                        for i in 0..n {
                            let p = &list[(i * (2 * r + 1) + r * 7) % n];
                            if got.contains_key(p) {
                                continue;
                            }
                            let h = hash(p).map_err(|e| format!("{}: {e}", p.display()));
                            got.insert(p.clone(), h);
                        }
                        for p in list.iter() {
                            if !got.contains_key(p) {
                                let h = hash(p).map_err(|e| format!("{}: {e}", p.display()));
                                got.insert(p.clone(), h);
                            }
                        }
                        got
                    })
                })
                .collect();
            for (r, h) in handles.into_iter().enumerate() {
                let got = h.join().expect("reader panicked");
                let got: BTreeMap<PathBuf, String> = got
                    .into_iter()
                    .map(|(p, h)| {
                        let h = h.unwrap_or_else(|e| panic!("{case}: run {run} reader {r}: {e}"));
                        (p, h)
                    })
                    .collect();
                match &first {
                    None => first = Some(got),
                    Some(f) => {
                        for (p, h) in &got {
                            assert_eq!(
                                f.get(p),
                                Some(h),
                                "{case}: run {run} reader {r}: {} hashes differently",
                                p.display()
                            );
                        }
                        assert_eq!(f.len(), got.len());
                    }
                }
            }
            rss.push(vm_rss_kib(daemon));
        }
        let n = first.as_ref().map_or(0, |f| f.len());
        eprintln!(
            "{case}: {n} files x {READERS} readers x {RUNS} runs; daemon VmRSS {rss_start} KiB -> {rss:?} KiB"
        );
        // Bounded: the checkpoints are a few MiB; metadata and caches well below 256 MiB, and no
        // growth from run to run (no leak per read).
        let max = *rss.iter().max().unwrap();
        assert!(max < 256 * 1024, "{case}: daemon VmRSS {max} KiB");
        assert!(
            rss[RUNS - 1] <= rss[0] + 32 * 1024,
            "{case}: daemon VmRSS grows run after run: {rss:?} KiB"
        );
        m.unmount();
    }
}

/// The harness's unmount waits out a forked child of this process that still holds a file of the
/// mount the test has closed (as any test's spawn does between its fork and its exec: the tests
/// are threads of one process), and still fails, naming the holder, while the test itself keeps
/// a file of the mount open.
#[test]
fn unmount_waits_out_a_forked_copy_and_names_a_real_holder() {
    if !have_fuse() {
        return;
    }
    let Some(f) = fixtures() else { return };
    let m = Mount::new(&f.join("secretd-shm/images"));
    let held = fs::File::open(m.join("pstree")).unwrap();
    let e = m.unmount_within(Duration::from_millis(500)).unwrap_err();
    let me = format!("{} (", std::process::id());
    assert!(
        e.contains("busy") && e.contains(&me) && e.contains("/pstree"),
        "{e}"
    );
    // SAFETY: the child calls only async-signal-safe functions (sleep, _exit).
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        // SAFETY: as above.
        unsafe {
            libc::sleep(2);
            libc::_exit(0);
        }
    }
    // Only the child holds the file now, until it exits.
    drop(held);
    m.unmount();
    let mut status = 0;
    // SAFETY: reaping the child forked above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
}
