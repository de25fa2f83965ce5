//! Shared harness of the integration tests that mount for real: fixtures, unique temp dirs, a
//! `Mount` guard that always unmounts, and plain tools (`cat`, `grep`, `dd`, `xxd`, `ls`,
//! `sha256sum`, `stat`) run against the mount with a timeout.
//!
//! Beside it: `archive` (the fixtures re-packed), `cli` (subcommands that need no mount, their
//! JSON parsed), `truth` (the fixtures' ground truth checked against a mount) and `writer`
//! (writer-made checkpoints that several test files use).
//!
//! Needs root (or FUSE permission) and `/dev/fuse`; CI runs the tests as root.

#![allow(dead_code)]

pub mod archive;
pub mod cli;
pub mod truth;
pub mod writer;

use std::cell::OnceCell;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The ckptfs binary under test.
pub fn ckptfs() -> &'static str {
    env!("CARGO_BIN_EXE_ckptfs")
}

/// True under `CI=true`, where whatever a test needs must be there (no skipping).
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Says that the calling test skips (it returns early right after): a panic when `CI=true`,
/// where nothing may be skipped; else one line `SKIPPED: <test>: <why>` written straight to
/// stderr, past the test harness's capture, so that it shows in `cargo test`'s output (where
/// scripts/test.sh counts the skips for its closing line).
pub fn skip(why: &str) {
    assert!(!ci(), "{why} (CI=true: nothing may be skipped)");
    let thread = std::thread::current();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {}: {why}",
        thread.name().unwrap_or("?")
    );
}

/// The shared fixtures (`<CARGO_MANIFEST_DIR>/../shared/fixtures`). Missing: [`skip`] and
/// `None` (the caller returns early).
pub fn fixtures() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"));
    if p.is_dir() {
        return Some(p);
    }
    skip(&format!("fixtures not found at {}", p.display()));
    None
}

/// True when `/dev/fuse` exists. Missing: [`skip`] and `false` (the caller returns early).
pub fn have_fuse() -> bool {
    if Path::new("/dev/fuse").exists() {
        return true;
    }
    skip("no /dev/fuse");
    false
}

/// True when the effective user is root. Not: [`skip`] (naming `what` needs it) and `false`
/// (the caller returns early).
pub fn have_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(&format!("needs root ({what})"));
    false
}

/// True when `NAME --version` runs. Missing: [`skip`] (naming `install`, how to get it) and
/// `false` (the caller returns early).
pub fn have_tool(name: &str, install: &str) -> bool {
    let ok = run_timeout(10, &[name, "--version"]).ok();
    if !ok {
        skip(&format!("{name} is not installed ({install})"));
    }
    ok
}

/// Polls `f` every 50 ms; panics (naming `what`) if it is not true within `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True while `pid` runs (a zombie, which still has /proc/PID, does not).
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Sends `sig` to `pid` (a daemon the test started) and checks it was delivered.
pub fn signal(pid: i32, sig: i32) {
    // SAFETY: signalling a process the test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid}");
}

/// True when `pid` is a live `ckptfs mount` whose command line names the mount point `mnt`.
fn serves(pid: i32, mnt: &Path) -> bool {
    let want = mnt.to_string_lossy();
    let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = cmd
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    exe.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("ckptfs"))
        && args.iter().any(|a| a == "mount")
        && args.iter().any(|a| a.trim_end_matches('/') == want)
}

/// The pid of the one daemon serving `mnt` (its command line names the mount point); panics
/// unless there is exactly one.
pub fn daemon_of(mnt: &Path) -> i32 {
    let me = std::process::id() as i32;
    let found: Vec<i32> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|&pid| pid != me && serves(pid, mnt))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "daemons serving {}: {found:?}",
        mnt.display()
    );
    found[0]
}

/// A fresh directory (`$TMPDIR/ckptfs-it-<tag>-<pid>-<n>`), removed on drop, after lazily
/// unmounting anything still mounted beneath it (a stale mount would hang the removal).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ckptfs-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        for m in mounts_under(&self.path) {
            force_unmount(&m);
        }
        if !mounts_under(&self.path).is_empty() {
            eprintln!(
                "WARNING: {} still has mounts; not removing it",
                self.path.display()
            );
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn unescape_mountinfo(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).ok();
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

/// Mount points (from /proc/self/mountinfo) equal to or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    v
}

/// True when `path` is a mount point.
pub fn is_mounted(path: &Path) -> bool {
    mounts_under(path).iter().any(|m| m == path)
}

/// Every process holding something below `dir`: `PID (COMM) WHAT -> TARGET` for each open
/// descriptor, working directory or root there (read from /proc, which never enters the mount).
pub fn holders(dir: &Path) -> Vec<String> {
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let mut links = vec![format!("/proc/{pid}/cwd"), format!("/proc/{pid}/root")];
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
            links.extend(
                fds.flatten()
                    .map(|e| e.path().to_string_lossy().into_owned()),
            );
        }
        for l in links {
            if let Ok(target) = fs::read_link(&l)
                && target.starts_with(dir)
            {
                out.push(format!(
                    "{pid} ({}) {l} -> {}",
                    comm.trim(),
                    target.display()
                ));
            }
        }
    }
    out
}

/// `ckptfs umount`, then `umount -l`, then `fusermount3 -uz`: whatever it takes.
pub fn force_unmount(path: &Path) {
    let p = path.to_string_lossy().to_string();
    if !is_mounted(path) {
        return;
    }
    let _ = run_timeout(20, &[ckptfs(), "umount", &p]);
    if is_mounted(path) {
        let _ = run_timeout(20, &["umount", "-l", &p]);
    }
    if is_mounted(path) {
        let _ = run_timeout(20, &["fusermount3", "-u", "-z", &p]);
    }
}

/// A finished command.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.elapsed,
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(4000)]),
            self.stderr_text()
        )
    }
}

/// Runs `args` under `timeout SECS`, capturing stdout and stderr.
pub fn run_timeout<S: AsRef<OsStr>>(secs: u32, args: &[S]) -> Out {
    let t = Instant::now();
    let out = Command::new("timeout")
        .arg("-k")
        .arg("5")
        .arg(secs.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn timeout(1)");
    Out {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
        elapsed: t.elapsed(),
    }
}

/// Runs `args` as `nobody` (no supplementary groups, through `setpriv`) under `timeout SECS`.
pub fn as_nobody_timeout(secs: u32, args: &[&str]) -> Out {
    let mut a = vec![
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--",
    ];
    a.extend_from_slice(args);
    run_timeout(secs, &a)
}

/// [`as_nobody_timeout`] under `timeout 20`.
pub fn as_nobody(args: &[&str]) -> Out {
    as_nobody_timeout(20, args)
}

/// Runs `args` under `timeout 20`.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Out {
    run_timeout(20, args)
}

/// Runs `args` under `timeout 20` and panics unless it exits 0.
pub fn run_ok<S: AsRef<OsStr>>(args: &[S]) -> Out {
    let o = run(args);
    assert!(
        o.ok(),
        "{:?} failed: {o}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
    );
    o
}

/// Runs `ckptfs ARGS` with stdout / stderr going to files (a daemon keeping a pipe open cannot
/// hang us), under `timeout SECS`.
pub fn ckptfs_cmd(secs: u32, args: &[&OsStr], logs: &Path) -> Out {
    let so = logs.join("stdout");
    let se = logs.join("stderr");
    let t = Instant::now();
    let status = Command::new("timeout")
        .arg("-k")
        .arg("5")
        .arg(secs.to_string())
        .arg(ckptfs())
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&so).unwrap())
        .stderr(fs::File::create(&se).unwrap())
        .status()
        .expect("spawn ckptfs");
    Out {
        code: status.code(),
        stdout: fs::read(&so).unwrap_or_default(),
        stderr: fs::read(&se).unwrap_or_default(),
        elapsed: t.elapsed(),
    }
}

/// `ckptfs mount SRC MNT EXTRA...` (nothing added: no `--cache-dir`) under `timeout SECS`, its
/// output going to files (a daemon that does start cannot hang us): for mounts expected to
/// fail. Whether something got mounted is for the caller to check (`is_mounted(MNT)`); a
/// [`TempDir`] holding `MNT` unmounts it on drop.
pub fn mount_at(secs: u32, src: &Path, mnt: &Path, extra: &[&str]) -> Out {
    let logs = TempDir::new("logs");
    let mut args: Vec<&OsStr> = vec![OsStr::new("mount"), src.as_os_str(), mnt.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    ckptfs_cmd(secs, &args, logs.path())
}

/// A mounted checkpoint; unmounted (whatever it takes) on drop, and its daemon, if the test
/// looked it up ([`Mount::daemon_pid`]) or started it in the foreground, killed if it is still
/// serving a few seconds later.
pub struct Mount {
    /// The mount point.
    pub mnt: PathBuf,
    /// The `ckptfs mount` run (of a foreground mount, which is still running: empty, code None).
    pub out: Out,
    /// The `ckptfs mount -f` process of a foreground mount ([`Mount::foreground`]); the test may
    /// take it to wait for it.
    pub child: Option<Child>,
    pid: OnceCell<i32>,
    dir: TempDir,
}

impl Mount {
    /// Mounts `src` (`ckptfs mount SRC MNT --cache-dir DIR EXTRA...`); panics with the command's
    /// output if it fails.
    pub fn new(src: &Path) -> Mount {
        Mount::with_args(src, &[]).unwrap_or_else(|o| panic!("mounting {}: {o}", src.display()))
    }

    /// Mounts `src` with extra arguments; on failure returns the command's output (and makes
    /// sure nothing stays mounted).
    pub fn with_args(src: &Path, extra: &[&str]) -> Result<Mount, Out> {
        Mount::with_timeout(src, extra, 120)
    }

    /// [`Mount::with_args`], the mount command bounded to `secs` seconds.
    pub fn with_timeout(src: &Path, extra: &[&str], secs: u32) -> Result<Mount, Out> {
        let (dir, mnt, cache) = Mount::dirs();
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("mount"),
            src.as_os_str(),
            mnt.as_os_str(),
            OsStr::new("--cache-dir"),
            cache.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        let out = ckptfs_cmd(secs, &args, &dir.join("logs"));
        if !out.ok() || !is_mounted(&mnt) {
            force_unmount(&mnt);
            let mut out = out;
            if out.ok() {
                out.stderr
                    .extend_from_slice(b"\n[harness] exit 0 but nothing is mounted");
            }
            return Err(out);
        }
        Ok(Mount {
            mnt,
            out,
            child: None,
            pid: OnceCell::new(),
            dir,
        })
    }

    /// Mounts `src` with [`Mount::with_args`], which must fail: its output (panics if it
    /// mounted).
    pub fn expect_failure(src: &Path, extra: &[&str]) -> Out {
        match Mount::with_args(src, extra) {
            Ok(m) => {
                let mnt = m.mnt.clone();
                drop(m);
                panic!(
                    "{} mounted at {} although broken",
                    src.display(),
                    mnt.display()
                );
            }
            Err(o) => o,
        }
    }

    /// Starts `ckptfs mount -f SRC MNT --cache-dir DIR EXTRA...` (the daemon stays in the
    /// foreground: [`Mount::child`]) and waits (60 s) for the mount, then (10 s) for the tree.
    pub fn foreground(src: &Path, extra: &[&str]) -> Mount {
        let (dir, mnt, cache) = Mount::dirs();
        let logs = dir.join("logs");
        let child = Command::new(ckptfs())
            .arg("mount")
            .arg("-f")
            .arg(src)
            .arg(&mnt)
            .arg("--cache-dir")
            .arg(&cache)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(fs::File::create(logs.join("stdout")).unwrap())
            .stderr(fs::File::create(logs.join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let m = Mount {
            mnt,
            out: Out {
                code: None,
                stdout: Vec::new(),
                stderr: Vec::new(),
                elapsed: Duration::ZERO,
            },
            pid: OnceCell::from(child.id() as i32),
            child: Some(child),
            dir,
        };
        wait_until("the foreground mount", 60, || is_mounted(&m.mnt));
        wait_until("the tree", 10, || fs::metadata(m.join("pstree")).is_ok());
        m
    }

    /// A fresh directory with `mnt/` and `logs/` (and the path of `cache/`, which ckptfs creates).
    fn dirs() -> (TempDir, PathBuf, PathBuf) {
        let dir = TempDir::new("mnt");
        let mnt = dir.join("mnt");
        let cache = dir.join("cache");
        fs::create_dir_all(&mnt).unwrap();
        fs::create_dir_all(dir.join("logs")).unwrap();
        (dir, mnt, cache)
    }

    /// The pid of the daemon serving the mount (the foreground process, or the one background
    /// daemon whose command line names the mount point), looked up once.
    pub fn daemon_pid(&self) -> i32 {
        *self.pid.get_or_init(|| daemon_of(&self.mnt))
    }

    /// The `--cache-dir` of the mount.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// What the daemon wrote to stderr so far (for a background mount: what `ckptfs mount` and
    /// the daemon wrote).
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(self.dir.join("logs/stderr")).unwrap_or_default()
    }

    /// `MNT/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.mnt.join(rel)
    }

    /// `MNT/rel` as a string, for tool arguments.
    pub fn p(&self, rel: impl AsRef<Path>) -> String {
        self.join(rel).to_string_lossy().into_owned()
    }

    /// `ckptfs umount FLAGS... MNT`, whatever it gives.
    pub fn try_unmount(&self, flags: &[&str]) -> Out {
        let mnt = self.mnt.to_string_lossy();
        let mut args = vec![ckptfs(), "umount"];
        args.extend_from_slice(flags);
        args.push(&mnt);
        run(&args)
    }

    /// Unmounts now with `ckptfs umount` and checks it worked; a busy mount is tried again for
    /// up to 10 s ([`Mount::unmount_within`]).
    pub fn unmount(&self) -> Out {
        self.unmount_within(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ckptfs umount MNT`, tried again every 100 ms for `grace` while it answers busy; then
    /// checks nothing is mounted there. The tests are threads of one process, and a child that
    /// any of them spawns holds a copy of every descriptor of that process from its fork to its
    /// exec (which closes them: all are close-on-exec), so a file this test has just closed can
    /// keep the mount busy until such a child execs, which under load can take a while. Still
    /// busy after `grace`: an error naming every process holding a descriptor, working
    /// directory or root below the mount point.
    pub fn unmount_within(&self, grace: Duration) -> Result<Out, String> {
        let t = Instant::now();
        let o = loop {
            let o = self.try_unmount(&[]);
            if o.ok() || !o.stderr_text().contains("busy") || t.elapsed() >= grace {
                break o;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !o.ok() {
            return Err(format!(
                "ckptfs umount (tried for {:?}): {o}\nholding {}: {}",
                t.elapsed(),
                self.mnt.display(),
                holders(&self.mnt).join("; ")
            ));
        }
        if is_mounted(&self.mnt) {
            return Err(format!("still mounted after ckptfs umount: {o}"));
        }
        Ok(o)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        force_unmount(&self.mnt);
        // A daemon we know of gets a few seconds to exit on its own, then SIGKILL (checked to
        // still be a ckptfs serving this mount point, so a reused pid is never hit).
        let t = Instant::now();
        let grace = Duration::from_secs(5);
        if let Some(c) = &mut self.child {
            while matches!(c.try_wait(), Ok(None)) && t.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        } else if let Some(&pid) = self.pid.get() {
            while serves(pid, &self.mnt) && pid_alive(pid) && t.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(50));
            }
            if serves(pid, &self.mnt) && pid_alive(pid) {
                // SAFETY: signalling the daemon the test started (checked just above).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        force_unmount(&self.mnt);
        let _ = &self.dir;
    }
}

// -------------------------------------------------------------------------------------------
// Plain tools against the mount

/// Runs `args` under `timeout 20`: its output if it exits 0, else a one-paragraph error.
pub fn run_checked<S: AsRef<OsStr>>(args: &[S]) -> Result<Out, String> {
    let o = run(args);
    if o.ok() {
        Ok(o)
    } else {
        let cmd: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        Err(format!(
            "`{}` failed: exit {:?}: {}",
            cmd.join(" "),
            o.code,
            o.stderr_text().trim()
        ))
    }
}

/// `cat PATH`.
pub fn try_cat(path: &str) -> Result<Vec<u8>, String> {
    run_checked(&["cat", path]).map(|o| o.stdout)
}

/// `cat PATH` (panics on failure).
pub fn cat(path: &str) -> Vec<u8> {
    try_cat(path).unwrap_or_else(|e| panic!("{e}"))
}

/// `info.json`'s `warnings` as (kind, message) pairs; panics when one is not an object with
/// both as strings.
pub fn info_warnings(info: &serde_json::Value) -> Vec<(String, String)> {
    info["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("info.json has no warnings array: {info}"))
        .iter()
        .map(|w| match (w["kind"].as_str(), w["message"].as_str()) {
            (Some(k), Some(m)) => (k.to_string(), m.to_string()),
            _ => panic!("not a {{kind, message}} warning: {w}"),
        })
        .collect()
}

/// `grep -c -F PATTERN PATH`: the count (0 when not found) and how long it took.
pub fn grep_count(pattern: &str, path: &str) -> (u64, Duration) {
    let o = run(&["grep", "-c", "-F", "--", pattern, path]);
    assert!(
        matches!(o.code, Some(0) | Some(1)),
        "grep -c -F {pattern} {path}: {o}"
    );
    let n = o.stdout_text().trim().parse().unwrap_or(0);
    (n, o.elapsed)
}

/// `grep -c -F PATTERN DIR/memory/*` (the files of one process's mappings, a shared mapping's
/// link followed as a command-line argument is): the sum of the counts and how long it took.
/// `PID/mem` answers `EIO` at unmapped addresses as `/proc/PID/mem` does, so searches by count
/// go to `memory/`.
pub fn grep_count_memory(pattern: &str, pid_dir: &str) -> (u64, Duration) {
    let dir = format!("{pid_dir}/memory");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    if files.is_empty() {
        return (0, Duration::ZERO);
    }
    let mut args = vec!["grep", "-c", "-h", "-F", "--", pattern];
    args.extend(files.iter().map(String::as_str));
    let o = run(&args);
    assert!(
        matches!(o.code, Some(0) | Some(1)),
        "grep -c -F {pattern} {dir}/*: {o}"
    );
    let n = o
        .stdout_text()
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum();
    (n, o.elapsed)
}

/// `len` bytes of `path` at byte offset `off`, read with `dd` (skip_bytes / count_bytes).
pub fn try_dd(path: &str, off: u64, len: u64) -> Result<Vec<u8>, String> {
    run_checked(&[
        "dd".to_string(),
        format!("if={path}"),
        "iflag=skip_bytes,count_bytes".to_string(),
        "bs=65536".to_string(),
        format!("skip={off}"),
        format!("count={len}"),
        "status=none".to_string(),
    ])
    .map(|o| o.stdout)
}

/// [`try_dd`], panicking on failure.
pub fn dd(path: &str, off: u64, len: u64) -> Vec<u8> {
    try_dd(path, off, len).unwrap_or_else(|e| panic!("{e}"))
}

/// One 4096-byte page of `path` at page-aligned `addr`, as `dd bs=4096 skip=ADDR/4096 count=1`.
pub fn try_dd_page(path: &str, addr: u64) -> Result<Vec<u8>, String> {
    run_checked(&[
        "dd".to_string(),
        format!("if={path}"),
        "bs=4096".to_string(),
        format!("skip={}", addr / 4096),
        "count=1".to_string(),
        "status=none".to_string(),
    ])
    .map(|o| o.stdout)
}

/// [`try_dd_page`], panicking on failure.
pub fn dd_page(path: &str, addr: u64) -> Vec<u8> {
    try_dd_page(path, addr).unwrap_or_else(|e| panic!("{e}"))
}

/// `len` bytes of `path` at `off`, via `xxd -s OFF -l LEN -p`.
pub fn try_xxd(path: &str, off: u64, len: u64) -> Result<Vec<u8>, String> {
    let o = run_checked(&[
        "xxd".to_string(),
        "-s".to_string(),
        format!("{off:#x}"),
        "-l".to_string(),
        len.to_string(),
        "-p".to_string(),
        path.to_string(),
    ])?;
    let hex: String = o.stdout_text().split_whitespace().collect();
    Ok((0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect())
}

/// [`try_xxd`], panicking on failure.
pub fn xxd(path: &str, off: u64, len: u64) -> Vec<u8> {
    try_xxd(path, off, len).unwrap_or_else(|e| panic!("{e}"))
}

/// `ls -1 -A DIR`, sorted.
pub fn try_ls(dir: &str) -> Result<Vec<String>, String> {
    let o = run_checked(&["ls", "-1", "-A", dir])?;
    let mut v: Vec<String> = o.stdout_text().lines().map(str::to_string).collect();
    v.sort();
    Ok(v)
}

/// [`try_ls`], panicking on failure.
pub fn ls(dir: &str) -> Vec<String> {
    try_ls(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// `sha256sum PATH` (hex digest).
pub fn try_sha256sum(path: &str) -> Result<String, String> {
    let o = run_timeout(120, &["sha256sum", path]);
    if !o.ok() {
        return Err(format!(
            "sha256sum {path}: exit {:?}: {}",
            o.code,
            o.stderr_text().trim()
        ));
    }
    Ok(o.stdout_text()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// [`try_sha256sum`], panicking on failure.
pub fn sha256sum(path: &str) -> String {
    try_sha256sum(path).unwrap_or_else(|e| panic!("{e}"))
}

/// `stat -c FORMAT PATH`.
pub fn stat(format: &str, path: &str) -> String {
    run_ok(&["stat", "-c", format, path])
        .stdout_text()
        .trim()
        .to_string()
}

/// The JSON file at `path`, parsed; panics naming the file when it cannot be read or parsed.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lowercase hex sha256.
pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// sha256 of a file, or of every file below a directory (path-sorted, names included): the
/// "input is untouched" fingerprint.
pub fn tree_sha256(p: &Path) -> String {
    let mut h = Sha256::new();
    let mut stack = vec![p.to_path_buf()];
    let mut files = Vec::new();
    while let Some(x) = stack.pop() {
        let md = fs::symlink_metadata(&x).unwrap();
        if md.is_dir() {
            for e in fs::read_dir(&x).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            files.push(x);
        }
    }
    files.sort();
    for f in files {
        h.update(f.as_os_str().as_bytes());
        let md = fs::symlink_metadata(&f).unwrap();
        if md.file_type().is_symlink() {
            h.update(fs::read_link(&f).unwrap().as_os_str().as_bytes());
        } else {
            h.update(fs::read(&f).unwrap());
        }
    }
    hex(&h.finalize())
}

/// Copies a directory tree (files and symlinks as they are).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if t.is_dir() {
            copy_tree(&e.path(), &dst);
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}
