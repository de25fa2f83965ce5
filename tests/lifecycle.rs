//! The daemon's life: SIGINT / SIGTERM unmount cleanly (foreground `-f` and background); a mount
//! whose daemon was SIGKILLed is detected (ENOTCONN) and `ckptfs umount` clears it; mounting on a
//! non-empty, already-mounted, stale or non-directory mount point is a clear error (exit 2);
//! unmounting a busy mount says so and `--lazy` detaches it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Mount, TempDir, ckptfs, fixtures, force_unmount, is_mounted, run, run_timeout};

fn setup() -> Option<PathBuf> {
    if !Path::new("/dev/fuse").exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no /dev/fuse in CI"
        );
        eprintln!("SKIP: no /dev/fuse");
        return None;
    }
    Some(fixtures()?.join("secretd-plain/images"))
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon we started: killed (by its pid) and its mount cleared on drop, whatever happened.
struct Daemon {
    pid: i32,
    child: Option<Child>,
    mnt: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        force_unmount(&self.mnt);
        if pid_alive(self.pid) {
            // SAFETY: signalling a process we started.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        if let Some(c) = &mut self.child {
            let _ = c.wait();
        }
        force_unmount(&self.mnt);
    }
}

fn pid_alive(pid: i32) -> bool {
    // A zombie still has /proc/PID: look at its state.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: signalling a process we started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill {pid}");
}

/// The pid of the background daemon serving `mnt` (its command line names the mount point).
fn daemon_of(mnt: &Path) -> i32 {
    let want = mnt.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("ckptfs"))
            && args.iter().any(|a| a == "mount")
            && args.iter().any(|a| a.trim_end_matches('/') == want)
        {
            found.push(pid);
        }
    }
    assert_eq!(found.len(), 1, "daemons serving {want}: {found:?}");
    found[0]
}

fn foreground(src: &Path, t: &TempDir) -> Daemon {
    let mnt = t.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let child = Command::new(ckptfs())
        .arg("mount")
        .arg("-f")
        .arg(src)
        .arg(&mnt)
        .arg("--cache-dir")
        .arg(t.join("cache"))
        .stdin(Stdio::null())
        .stdout(fs::File::create(t.join("stdout")).unwrap())
        .stderr(fs::File::create(t.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let d = Daemon {
        pid: child.id() as i32,
        child: Some(child),
        mnt: mnt.clone(),
    };
    wait_until("the foreground mount", 60, || is_mounted(&mnt));
    wait_until("the tree", 10, || fs::metadata(mnt.join("pstree")).is_ok());
    d
}

fn background(src: &Path, t: &TempDir) -> Daemon {
    let mnt = t.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let o = run_timeout(
        60,
        &[
            ckptfs(),
            "mount",
            &src.to_string_lossy(),
            &mnt.to_string_lossy(),
            "--cache-dir",
            &t.join("cache").to_string_lossy(),
        ],
    );
    assert!(o.ok(), "{o}");
    assert!(is_mounted(&mnt), "exit 0 but not mounted");
    // Ready when mount returns: the tree answers at once.
    assert!(fs::metadata(mnt.join("pstree")).is_ok());
    Daemon {
        pid: daemon_of(&mnt),
        child: None,
        mnt,
    }
}

#[test]
fn sigint_and_sigterm_unmount_cleanly() {
    let Some(src) = setup() else { return };
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        // Foreground.
        let t = TempDir::new("life-fg");
        let mut d = foreground(&src, &t);
        // A reader in the tree does not stop the unmount (lazy when busy).
        let _ = fs::read(d.mnt.join("pstree")).unwrap();
        signal(d.pid, sig);
        let mut child = d.child.take().unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "foreground {name}: still running"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!is_mounted(&d.mnt), "foreground {name}: still mounted");
        assert!(
            status.success(),
            "foreground {name}: exit {status:?}; stderr: {}",
            fs::read_to_string(t.join("stderr")).unwrap_or_default()
        );
        let err = fs::read_to_string(t.join("stderr")).unwrap_or_default();
        assert!(!err.contains("panicked"), "{err}");
        // The mount point is an empty directory again, reusable at once.
        assert_eq!(fs::read_dir(&d.mnt).unwrap().count(), 0);
        drop(d);

        // Background daemon.
        let t = TempDir::new("life-bg");
        let d = background(&src, &t);
        signal(d.pid, sig);
        wait_until(&format!("background {name} to unmount"), 15, || {
            !is_mounted(&d.mnt)
        });
        wait_until(&format!("background {name} to exit"), 15, || {
            !pid_alive(d.pid)
        });
        drop(d);
    }
}

#[test]
fn killed_daemon_is_detected_and_cleared() {
    let Some(src) = setup() else { return };
    let t = TempDir::new("life-kill");
    let d = background(&src, &t);
    signal(d.pid, libc::SIGKILL);
    wait_until("the daemon to die", 10, || !pid_alive(d.pid));
    // The mount is still listed but dead: ENOTCONN (ECONNABORTED while the kernel is still
    // aborting the connection's requests).
    assert!(is_mounted(&d.mnt), "the kernel keeps the dead mount");
    let e = fs::read_dir(&d.mnt).expect_err("a dead mount cannot be listed");
    assert!(
        matches!(
            e.raw_os_error(),
            Some(libc::ENOTCONN) | Some(libc::ECONNABORTED)
        ),
        "{e}"
    );
    // Mounting there again is refused, naming the problem.
    let src2 = src.to_string_lossy().into_owned();
    let o = run_timeout(30, &[ckptfs(), "mount", &src2, &d.mnt.to_string_lossy()]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stderr_text().contains("stale"), "{o}");
    // ckptfs umount clears it.
    let o = run(&[ckptfs(), "umount", &d.mnt.to_string_lossy()]);
    assert!(o.ok(), "{o}");
    assert!(!is_mounted(&d.mnt));
    assert_eq!(fs::read_dir(&d.mnt).unwrap().count(), 0);
}

#[test]
fn bad_mount_points_are_clear_errors() {
    let Some(src) = setup() else { return };
    let src = src.to_string_lossy().into_owned();
    let t = TempDir::new("life-mp");
    let mount_at = |mp: &Path| run_timeout(30, &[ckptfs(), "mount", &src, &mp.to_string_lossy()]);
    let one_line_2 = |what: &str, o: &common::Out, needle: &str| {
        assert_eq!(o.code, Some(2), "{what}: {o}");
        let err = o.stderr_text();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: {o}");
        assert!(lines[0].starts_with("ckptfs: "), "{what}: {o}");
        assert!(
            lines[0].to_lowercase().contains(needle),
            "{what}: no {needle:?} in {o}"
        );
    };
    // Non-empty.
    let full = t.join("full");
    fs::create_dir_all(&full).unwrap();
    fs::write(full.join("x"), b"x").unwrap();
    one_line_2("non-empty", &mount_at(&full), "empty");
    assert!(!is_mounted(&full));
    // Missing, and a file.
    one_line_2("missing", &mount_at(&t.join("nope")), "");
    let file = t.join("file");
    fs::write(&file, b"").unwrap();
    one_line_2("a file", &mount_at(&file), "director");
    // Already mounted (busy with a live ckptfs).
    let m = Mount::new(Path::new(&src));
    one_line_2(
        "already mounted",
        &mount_at(&m.mnt),
        "already a mount point",
    );
    assert!(
        fs::metadata(m.join("pstree")).is_ok(),
        "the first mount survives"
    );
    // Unmounting a busy mount: a clear error, or it goes; --lazy always detaches it.
    let f = fs::File::open(m.join("pstree")).unwrap();
    let o = run(&[ckptfs(), "umount", &m.mnt.to_string_lossy()]);
    if !o.ok() {
        assert!(o.stderr_text().to_lowercase().contains("busy"), "{o}");
        let o = run(&[ckptfs(), "umount", "--lazy", &m.mnt.to_string_lossy()]);
        assert!(o.ok(), "{o}");
    }
    drop(f);
    wait_until("the lazy unmount", 10, || !is_mounted(&m.mnt));
    // Not a mount at all.
    let o = run(&[ckptfs(), "umount", &full.to_string_lossy()]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stderr_text().contains("not mounted"), "{o}");
}
