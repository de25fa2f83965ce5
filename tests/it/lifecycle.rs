//! The daemon's life: SIGINT / SIGTERM unmount cleanly (foreground `-f` and background); a mount
//! whose daemon was SIGKILLed is detected (ENOTCONN) and `ckptfs umount` clears it; mounting on a
//! non-empty, already-mounted, stale or non-directory mount point is a clear error (exit 2);
//! unmounting a busy mount says so and `--lazy` detaches it.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    Mount, TempDir, fixtures, have_fuse, is_mounted, mount_at, pid_alive, signal, wait_until,
};

fn setup() -> Option<PathBuf> {
    if !have_fuse() {
        return None;
    }
    Some(fixtures()?.join("secretd-plain/images"))
}

/// A background mount of `src`, ready when `ckptfs mount` returns: the tree answers at once.
fn background(src: &Path) -> Mount {
    let m = Mount::with_timeout(src, &[], 60).unwrap_or_else(|o| panic!("{o}"));
    assert!(fs::metadata(m.join("pstree")).is_ok());
    // Looked up now, while it serves (exactly one daemon names the mount point).
    m.daemon_pid();
    m
}

#[test]
fn sigint_and_sigterm_unmount_cleanly() {
    let Some(src) = setup() else { return };
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        // Foreground.
        let mut d = Mount::foreground(&src, &[]);
        // A reader in the tree does not stop the unmount (lazy when busy).
        let _ = fs::read(d.join("pstree")).unwrap();
        signal(d.daemon_pid(), sig);
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
            d.stderr_log()
        );
        let err = d.stderr_log();
        assert!(!err.contains("panicked"), "{err}");
        // The mount point is an empty directory again, reusable at once.
        assert_eq!(fs::read_dir(&d.mnt).unwrap().count(), 0);
        drop(d);

        // Background daemon.
        let d = background(&src);
        let pid = d.daemon_pid();
        signal(pid, sig);
        wait_until(&format!("background {name} to unmount"), 15, || {
            !is_mounted(&d.mnt)
        });
        wait_until(&format!("background {name} to exit"), 15, || {
            !pid_alive(pid)
        });
        drop(d);
    }
}

#[test]
fn killed_daemon_is_detected_and_cleared() {
    let Some(src) = setup() else { return };
    let d = background(&src);
    let pid = d.daemon_pid();
    signal(pid, libc::SIGKILL);
    wait_until("the daemon to die", 10, || !pid_alive(pid));
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
    let o = mount_at(30, &src, &d.mnt, &[]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stderr_text().contains("stale"), "{o}");
    // ckptfs umount clears it.
    d.unmount();
    assert_eq!(fs::read_dir(&d.mnt).unwrap().count(), 0);
}

#[test]
fn bad_mount_points_are_clear_errors() {
    let Some(src) = setup() else { return };
    let t = TempDir::new("life-mp");
    let mount_on = |mp: &Path| mount_at(30, &src, mp, &[]);
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
    one_line_2("non-empty", &mount_on(&full), "empty");
    assert!(!is_mounted(&full));
    // Missing, and a file.
    one_line_2("missing", &mount_on(&t.join("nope")), "");
    let file = t.join("file");
    fs::write(&file, b"").unwrap();
    one_line_2("a file", &mount_on(&file), "director");
    // Already mounted (busy with a live ckptfs).
    let m = Mount::new(&src);
    one_line_2(
        "already mounted",
        &mount_on(&m.mnt),
        "already a mount point",
    );
    assert!(
        fs::metadata(m.join("pstree")).is_ok(),
        "the first mount survives"
    );
    // Unmounting a busy mount: a clear error, or it goes; --lazy always detaches it.
    let f = fs::File::open(m.join("pstree")).unwrap();
    let o = m.try_unmount(&[]);
    if !o.ok() {
        assert!(o.stderr_text().to_lowercase().contains("busy"), "{o}");
        let o = m.try_unmount(&["--lazy"]);
        assert!(o.ok(), "{o}");
    }
    drop(f);
    wait_until("the lazy unmount", 10, || !is_mounted(&m.mnt));
    // Not a mount at all.
    let o = common::run(&[common::ckptfs(), "umount", &full.to_string_lossy()]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(o.stderr_text().contains("not mounted"), "{o}");
}
