//! Bounded reflexes and working by-path commands (issue 19, goal 4).
//!
//! The commands an analyst types at `PID/mem` (`rg -a`, `grep -a`, `strings`, `cat > file`) and
//! over the whole mount following links (`grep -R`, `find -L -exec cat`) end within 60 s with a
//! peak RSS under 1 GiB, on every fixture and on a writer-made checkpoint, and `cat PID/mem`
//! writes under 512 MiB. `mem` reads as `/proc/PID/mem` does: an unmapped address fails with
//! `EIO` at once, a mapped page that was never dumped reads as zeros. `pagemap` answers the
//! entries of mapped pages only (`EIO` elsewhere). `core` is found by name but never listed, and
//! has its real size: `readelf -n` / `-a` read it by path, no walk reaches it.
//!
//! Each command runs with its address space limited (4 GiB) and its output file size limited
//! (1 GiB), so that a runaway reader fails instead of taking the machine down; its peak RSS is
//! that of the process and its children as `wait4(2)` reports it (an upper bound: it includes
//! the test process's own RSS at the fork, which the child carries until its `exec`).

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ckptfs::writer::{CheckpointWriter, PageFn};
use common::{Mount, TempDir, fixtures, have_tool};

const PAGE: u64 = 4096;
/// Wall-clock bound of one command (seconds).
const SECS: u64 = 60;
/// Peak RSS bound of one command and of the daemon (KiB).
const RSS_KIB: u64 = 1 << 20;
/// What `cat PID/mem > file` may write.
const CAT_BYTES: u64 = 512 << 20;
/// Safety nets: address space of a command (KiB) and the size of the files it writes (512-byte
/// blocks, dash's unit).
const AS_KIB: u64 = 4 << 20;
const FSIZE_BLOCKS: u64 = 2 << 20;

/// A string no fixture holds: every search reads its whole input.
const ABSENT: &str = "CKPTFS-REFLEX-ABSENT-5d0c71";

struct Run {
    what: String,
    code: Option<i32>,
    signal: Option<i32>,
    elapsed: Duration,
    maxrss_kib: u64,
    stderr: String,
}

impl Run {
    /// Ended by itself (not by the guard, not by a signal) within [`SECS`], under [`RSS_KIB`].
    fn assert_bounded(&self, case: &str) {
        let ctx = format!(
            "{case}: {}: exit {:?} signal {:?} in {:?}, peak RSS {} KiB; stderr: {}",
            self.what,
            self.code,
            self.signal,
            self.elapsed,
            self.maxrss_kib,
            self.stderr.chars().take(2000).collect::<String>()
        );
        eprintln!("{ctx}");
        assert!(self.signal.is_none(), "killed: {ctx}");
        assert!(
            !matches!(self.code, Some(124 | 137 | 152 | 153)),
            "stopped by the guard (time or file size): {ctx}"
        );
        assert!(self.elapsed < Duration::from_secs(SECS), "too slow: {ctx}");
        assert!(self.maxrss_kib < RSS_KIB, "peak RSS: {ctx}");
    }
}

/// Runs `args` with stdout into `out` (`/dev/null` for the searches) and stderr into `errf`,
/// under `timeout` and the safety nets; waits with `wait4` for the peak RSS of the command and
/// everything it waited for.
fn bounded(what: &str, args: &[&OsStr], out: &Path, errf: &Path) -> Run {
    let script = format!(
        "ulimit -v {AS_KIB} && ulimit -f {FSIZE_BLOCKS} && exec timeout -k 5 {SECS} \"$@\""
    );
    let t = Instant::now();
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(out).unwrap())
        .stderr(fs::File::create(errf).unwrap())
        .spawn()
        .expect("spawn sh");
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers and timevals).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (`child` is never waited on); `status` and
    // `ru` are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let elapsed = t.elapsed();
    drop(child);
    let st = std::process::ExitStatus::from_raw(status);
    let stderr = fs::read_to_string(errf).unwrap_or_default();
    Run {
        what: what.to_string(),
        code: st.code(),
        signal: st.signal(),
        elapsed,
        maxrss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
        stderr,
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn pids(mnt: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(mnt)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    v.sort();
    v
}

fn daemon_hwm_kib(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Every reflex on `m`: per process at `mem`, then over the whole mount following links.
fn reflexes(case: &str, m: &Mount) {
    let mnt = fs::canonicalize(&m.mnt).unwrap();
    let scratch = TempDir::new("bounded");
    let null = Path::new("/dev/null");
    let errf = scratch.join("stderr");
    let errf = errf.as_path();
    let pids = pids(&mnt);
    assert!(!pids.is_empty(), "{case}: no process");
    for pid in &pids {
        let mem = mnt.join(pid).join("mem");
        let mem = mem.as_os_str();
        for (what, args) in [
            ("rg -a", vec![os("rg"), os("-a"), os(ABSENT), mem]),
            ("grep -a", vec![os("grep"), os("-a"), os(ABSENT), mem]),
            ("strings", vec![os("strings"), mem]),
        ] {
            bounded(&format!("{what} {pid}/mem"), &args, null, errf).assert_bounded(case);
        }
        let copy = scratch.join("mem.copy");
        bounded(
            &format!("cat {pid}/mem > file"),
            &[os("cat"), mem],
            &copy,
            errf,
        )
        .assert_bounded(case);
        let written = fs::metadata(&copy).unwrap().len();
        assert!(
            written < CAT_BYTES,
            "{case}: cat {pid}/mem wrote {written} bytes"
        );
        fs::remove_file(&copy).unwrap();
    }
    let root = mnt.as_os_str();
    // GNU grep -R opens a FIFO it meets and waits for a writer, on any filesystem; `rootfs/`
    // shows the container's FIFOs as FIFO nodes, as recorded. Where the tree holds one, the
    // walk skips devices explicitly (`-D skip`), as the README says.
    let fifos = common::run_timeout(60, &[os("find"), root, os("-type"), os("p")]);
    let mut grep_r = vec![os("grep"), os("-R")];
    if !fifos.stdout.is_empty() {
        eprintln!("{case}: FIFOs: {}", fifos.stdout_text().trim());
        grep_r.extend([os("-D"), os("skip")]);
    }
    grep_r.extend([os(ABSENT), root]);
    bounded(
        &format!(
            "{} X MOUNT",
            if fifos.stdout.is_empty() {
                "grep -R"
            } else {
                "grep -R -D skip"
            }
        ),
        &grep_r,
        null,
        errf,
    )
    .assert_bounded(case);
    bounded(
        "find -L MOUNT -type f -exec cat {} +",
        &[
            os("find"),
            os("-L"),
            root,
            os("-type"),
            os("f"),
            os("-exec"),
            os("cat"),
            os("{}"),
            os("+"),
        ],
        null,
        errf,
    )
    .assert_bounded(case);
    let hwm = daemon_hwm_kib(m.daemon_pid());
    eprintln!("{case}: daemon VmHWM {hwm} KiB");
    assert!(hwm < RSS_KIB, "{case}: daemon peak RSS {hwm} KiB");
}

fn tools() -> bool {
    have_tool("rg", "run scripts/deps.sh (ripgrep)")
        && have_tool("strings", "run scripts/deps.sh (binutils)")
}

/// The mountable inputs of the shared fixtures.
fn fixture_inputs(fx: &Path) -> Vec<PathBuf> {
    [
        "podman-busybox/checkpoint.tar.gz",
        "podman-implant/checkpoint.tar.gz",
        "podman-kitchen/checkpoint.tar.gz",
        "podman-redis/checkpoint.tar.zst",
        "podman-redis/checkpoint2.tar.gz",
        "secretd-plain/images",
        "secretd-incremental/images/dump",
        "secretd-shm/images",
    ]
    .iter()
    .map(|p| fx.join(p))
    .collect()
}

#[test]
fn fixtures_bounded_reflexes() {
    let Some(fx) = fixtures() else { return };
    if !tools() {
        return;
    }
    for input in fixture_inputs(&fx) {
        assert!(input.exists(), "fixture {} missing", input.display());
        let m = Mount::new(&input);
        reflexes(&input.display().to_string(), &m);
        m.unmount();
    }
}

const BIG: u64 = 0x7f00_0000_0000;
const BIG_LEN: u64 = 1 << 30;
/// Dumped at the start of the big mapping (the rest is mapped, never touched).
const BIG_DUMPED: u64 = 256 << 20;
const STACK: u64 = 0x7ffd_0000_0000;
const MARK: &[u8] = b"REFLEX-MARKER-4e1b";
const MARK_AT: u64 = BIG + 5 * PAGE + 100;

/// A writer-made checkpoint: one process with a 1 GiB mapping of which 256 MiB are dumped
/// (text-free bytes, a newline per page, a marker at [`MARK_AT`]) and a stack near the top of
/// the address space.
fn synthetic(t: &TempDir) -> PathBuf {
    let fill: PageFn = Arc::new(move |addr, page: &mut [u8]| {
        for (i, b) in page.iter_mut().enumerate() {
            *b = if i % 7 == 0 {
                0
            } else {
                ((addr >> 12) as u8) ^ (i as u8) | 0x80
            };
        }
        page[PAGE as usize - 1] = b'\n';
        if addr == MARK_AT & !(PAGE - 1) {
            let o = (MARK_AT - addr) as usize;
            page[o..o + MARK.len()].copy_from_slice(MARK);
        }
    });
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("big")
        .anon(BIG, BIG_LEN)
        .pages_fn(BIG, BIG_DUMPED / PAGE, fill)
        .stack(STACK, 16 * PAGE)
        .pages(STACK + 15 * PAGE, b"stack top");
    let d = t.join("img");
    w.write_dir(&d).unwrap();
    d
}

#[test]
fn synthetic_bounded_reflexes() {
    if !common::have_fuse() || !tools() {
        return;
    }
    let t = TempDir::new("bounded-synth");
    let m = Mount::new(&synthetic(&t));
    reflexes("writer-made 1 GiB mapping", &m);
    m.unmount();
}

/// `python3 -c` reading `n` bytes at `off` of `path` with seek + read: the bytes, or the errno.
fn py_read(path: &Path, off: u64, n: u64) -> Result<Vec<u8>, i32> {
    let o = Command::new("python3")
        .arg("-c")
        .arg(
            "import os, sys\n\
             f = open(sys.argv[1], 'rb', buffering=0)\n\
             f.seek(int(sys.argv[2]))\n\
             try:\n    sys.stdout.buffer.write(f.read(int(sys.argv[3])))\n\
             except OSError as e:\n    sys.exit(100 + e.errno)\n",
        )
        .arg(path)
        .arg(off.to_string())
        .arg(n.to_string())
        .output()
        .expect("python3");
    match o.status.code() {
        Some(0) => Ok(o.stdout),
        Some(c) if c > 100 => Err(c - 100),
        c => panic!(
            "python3: exit {c:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// `mem` as `/proc/PID/mem`: by address with xxd, dd and Python; `EIO` where nothing is mapped,
/// past the first `HOLE_LIP` bytes of zeros after the mapped run before (so that GNU grep, which
/// reads a first buffer at 0 and then seeks past each hole, still works on `mem`); zeros where a
/// mapped page was never dumped; `grep -c` over `mem` and over `memory/*`.
#[test]
fn mem_reads_like_proc() {
    if !common::have_fuse() {
        return;
    }
    let t = TempDir::new("bounded-mem");
    let m = Mount::new(&synthetic(&t));
    let mem = m.join("1/mem");
    let mem_s = mem.to_string_lossy().into_owned();
    // By address.
    assert_eq!(common::xxd(&mem_s, MARK_AT, MARK.len() as u64), MARK);
    assert_eq!(common::dd(&mem_s, MARK_AT, MARK.len() as u64), MARK);
    assert_eq!(py_read(&mem, MARK_AT, MARK.len() as u64).unwrap(), MARK);
    // Mapped, never dumped: zeros.
    let untouched = BIG + BIG_DUMPED + 3 * PAGE;
    assert_eq!(py_read(&mem, untouched, 4096).unwrap(), vec![0u8; 4096]);
    // Unmapped: the lip of zeros after 0 and after each mapped run, then EIO at once, between
    // the mappings and above the last one.
    let lip = ckptfs::fs::content::HOLE_LIP;
    for addr in [0, PAGE, BIG + BIG_LEN] {
        assert_eq!(
            py_read(&mem, addr, 4096).unwrap(),
            vec![0u8; 4096],
            "{addr:#x}"
        );
    }
    for addr in [
        lip,
        BIG - PAGE,
        BIG + BIG_LEN + lip,
        STACK + 16 * PAGE + lip,
    ] {
        let t0 = Instant::now();
        assert_eq!(py_read(&mem, addr, 4096), Err(libc::EIO), "{addr:#x}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{addr:#x}");
    }
    // A read running off the end of a mapping stops there (a short read), as the kernel's.
    let tail = py_read(&mem, BIG + BIG_LEN - 100, 4096).unwrap();
    assert_eq!(tail, vec![0u8; 100]);
    // `cat` stops at once, having written one lip of zeros: nothing is mapped at 0.
    let o = common::run_timeout(30, &["cat", &mem_s]);
    assert!(
        !o.ok() && o.stdout.len() as u64 <= lip,
        "cat 1/mem: {} bytes",
        o.stdout.len()
    );
    assert!(
        o.stderr_text().contains("Input/output error"),
        "{}",
        o.stderr_text()
    );
    // GNU grep (binary mode) reads the first lip, seeks past every hole and counts the marker.
    let o = common::run_timeout(60, &["grep", "-c", "-F", "REFLEX-MARKER-4e1b", &mem_s]);
    assert_eq!(
        o.stdout_text().trim(),
        "1",
        "grep -c 1/mem: {}",
        o.stderr_text()
    );
    // Searches by count move to memory/: each mapping's file, its name the address.
    let files: Vec<String> = fs::read_dir(m.join("1/memory"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["grep", "-c", "-F", "REFLEX-MARKER-4e1b"];
    args.extend(files.iter().map(String::as_str));
    let o = common::run_timeout(120, &args);
    assert!(o.ok(), "grep -c memory/*: {o}");
    let name = format!("{BIG:x}-{:x}", BIG + BIG_LEN);
    assert!(
        o.stdout_text()
            .lines()
            .any(|l| l.ends_with(&format!("{name}:1"))),
        "{o}"
    );
    m.unmount();
}

/// `pagemap`: the entries of mapped pages read (bit 63 for a dumped one), elsewhere `EIO`.
#[test]
fn pagemap_reads_mapped_entries_only() {
    if !common::have_fuse() {
        return;
    }
    let t = TempDir::new("bounded-pagemap");
    let m = Mount::new(&synthetic(&t));
    let pm = m.join("1/pagemap");
    let entry = |addr: u64| py_read(&pm, addr / PAGE * 8, 8);
    let e = entry(MARK_AT).unwrap();
    assert_eq!(u64::from_le_bytes(e.try_into().unwrap()) >> 63, 1, "dumped");
    let e = entry(BIG + BIG_DUMPED).unwrap();
    assert_eq!(
        u64::from_le_bytes(e.try_into().unwrap()),
        0,
        "mapped, not dumped"
    );
    for addr in [0, BIG - PAGE, BIG + BIG_LEN] {
        assert_eq!(entry(addr), Err(libc::EIO), "{addr:#x}");
    }
    // A read of many entries stops at the end of the mapping.
    let run = py_read(&pm, (BIG + BIG_LEN - 4 * PAGE) / PAGE * 8, 1 << 16).unwrap();
    assert_eq!(run.len(), 32);
    m.unmount();
}

/// `core` by path: its real size, `readelf -n` and `-a` clean; never listed, so no walk meets it.
#[test]
fn core_by_path_has_its_size() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(&fx.join("podman-kitchen/checkpoint.tar.gz"));
    let mnt = fs::canonicalize(&m.mnt).unwrap();
    for pid in pids(&mnt) {
        let core = mnt.join(&pid).join("core");
        let size = fs::metadata(&core).unwrap().len();
        let mut f = fs::File::open(&core).unwrap();
        let mut head = [0u8; 4];
        f.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"\x7fELF");
        assert_eq!(f.seek(SeekFrom::End(0)).unwrap(), size);
        assert!(size > PAGE, "{pid}/core: size {size}");
        let core_s = core.to_string_lossy().into_owned();
        for flag in ["-n", "-a"] {
            let o = common::run_timeout(120, &["readelf", flag, "-W", &core_s]);
            assert!(o.ok(), "readelf {flag} {pid}/core: {o}");
            assert!(
                !o.stderr_text().contains("readelf:"),
                "readelf {flag} {pid}/core complains: {o}"
            );
            if flag == "-n" {
                assert!(o.stdout_text().contains("NT_PRSTATUS"), "{o}");
            }
        }
        let listed: Vec<String> = fs::read_dir(mnt.join(&pid))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(!listed.iter().any(|n| n == "core"), "{pid}/: {listed:?}");
        assert!(listed.iter().any(|n| n == "mem"), "{pid}/: {listed:?}");
    }
    // No walk reaches a core, following links or not.
    let o = common::run_timeout(
        120,
        &["find", "-L", &mnt.to_string_lossy(), "-name", "core"],
    );
    assert!(o.stdout.is_empty(), "find -L reaches: {o}");
    m.unmount();
}
