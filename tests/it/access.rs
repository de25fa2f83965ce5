//! Access control of a real mount: by default only the mounting user reads the tree (checked as
//! `nobody`, including `mem` and `environ`); `--allow-other` opens it and says so; nowhere a
//! setuid bit, a device node or a writable file; every write-ish operation fails.

use crate::common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Mount, as_nobody, fixtures, have_fuse};

fn plain_images() -> Option<PathBuf> {
    Some(fixtures()?.join("secretd-plain/images"))
}

/// The numeric (PID) entries of the root.
fn pids(mnt: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no process directory in {}", mnt.display());
    v
}

#[test]
fn only_the_mounting_user_reads_by_default() {
    if !have_fuse() || !common::have_root("to switch to nobody") {
        return;
    }
    let Some(src) = plain_images() else { return };
    let m = Mount::new(&src);
    let pid = pids(&m.mnt)[0].clone();
    // The mounting user (root) reads.
    assert!(
        !fs::read(m.join(format!("{pid}/environ")))
            .unwrap()
            .is_empty()
    );
    // nobody reads nothing: not the root directory, not mem, not environ, not the images.
    for rel in [
        format!("{pid}/mem"),
        format!("{pid}/environ"),
        format!("{pid}/cmdline"),
        format!("{pid}/maps"),
        "pstree".to_string(),
        "checkpoint/info.json".to_string(),
    ] {
        let o = as_nobody(&[
            "dd",
            &format!("if={}", m.p(&rel)),
            "of=/dev/null",
            "bs=4096",
            "count=1",
        ]);
        assert!(!o.ok(), "nobody read {rel}: {o}");
        let err = o.stderr_text().to_lowercase();
        assert!(err.contains("permission denied"), "{rel}: {o}");
    }
    let o = as_nobody(&["ls", &m.p("")]);
    assert!(!o.ok(), "nobody listed the root: {o}");
    let o = as_nobody(&["stat", &m.p(format!("{pid}/mem"))]);
    assert!(!o.ok(), "nobody could stat mem: {o}");
    // Modes say the same: owner-only, read-only.
    let md = fs::metadata(m.join(format!("{pid}/mem"))).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o400);
    let md = fs::metadata(&m.mnt).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o500);
    // Nothing printed about other users.
    assert!(!m.out.stderr_text().contains("allow-other"), "{}", m.out);
}

#[test]
fn allow_other_opens_reading_and_says_so() {
    if !have_fuse() || !common::have_root("to switch to nobody") {
        return;
    }
    let Some(src) = plain_images() else { return };
    let m = Mount::with_args(&src, &["--allow-other"]).unwrap_or_else(|o| panic!("{o}"));
    let err = m.out.stderr_text();
    assert!(
        err.contains("--allow-other") && err.contains("every user"),
        "the CLI does not say the tree is open to all: {}",
        m.out
    );
    let pid = pids(&m.mnt)[0].clone();
    let o = as_nobody(&["cat", &m.p(format!("{pid}/environ"))]);
    assert!(o.ok(), "nobody cannot read environ with --allow-other: {o}");
    assert_eq!(
        o.stdout,
        fs::read(m.join(format!("{pid}/environ"))).unwrap()
    );
    let o = as_nobody(&["grep", "-c", "-a", "x", &m.p(format!("{pid}/maps"))]);
    assert!(o.ok(), "{o}");
    // mem: read its first data region as nobody.
    let maps = fs::read_to_string(m.join(format!("{pid}/maps"))).unwrap();
    let start = u64::from_str_radix(maps.split('-').next().unwrap(), 16).unwrap();
    let o = as_nobody(&[
        "dd",
        &format!("if={}", m.p(format!("{pid}/mem"))),
        "of=/dev/null",
        "bs=4096",
        "count=1",
        &format!("skip={}", start / 4096),
    ]);
    assert!(o.ok(), "nobody cannot read mem with --allow-other: {o}");
    let md = fs::metadata(m.join(format!("{pid}/mem"))).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o444);
    // Still read-only for everyone.
    let o = as_nobody(&["touch", &m.p("new")]);
    assert!(!o.ok(), "{o}");
}

/// Every path below `dir` (not following links).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        out.push(p.clone());
        if t.is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn no_setuid_no_devices_nothing_writable() {
    if !have_fuse() {
        return;
    }
    let Some(f) = fixtures() else { return };
    for case in ["secretd-plain/images", "podman-busybox/checkpoint.tar.gz"] {
        let m = Mount::new(&f.join(case));
        let mut all = vec![m.mnt.clone()];
        walk(&m.mnt, &mut all);
        assert!(all.len() > 50, "{case}: only {} entries", all.len());
        for p in &all {
            let md = fs::symlink_metadata(p).unwrap();
            let t = md.file_type();
            let mode = md.mode();
            // rootfs/ shows its layers' entries as recorded: FIFOs, device nodes, write and
            // set-id bits included (the mount below stays read-only, nosuid and nodev: opening
            // a device node fails, tests/it/rootfs_evidence.rs).
            let in_rootfs = p
                .strip_prefix(&m.mnt)
                .is_ok_and(|r| r.starts_with("rootfs") || r.starts_with(".link/rootfs"));
            let special = t.is_fifo() || t.is_char_device() || t.is_block_device();
            assert!(
                t.is_dir() || t.is_file() || t.is_symlink() || (in_rootfs && special),
                "{}: a {:?} (only dirs, files, links, and rootfs/ FIFOs and devices)",
                p.display(),
                t
            );
            assert!(!t.is_socket(), "{}: socket node", p.display());
            if in_rootfs {
                continue;
            }
            assert_eq!(
                mode & 0o7000,
                0,
                "{}: setuid/setgid/sticky {mode:o}",
                p.display()
            );
            if !t.is_symlink() {
                assert_eq!(mode & 0o222, 0, "{}: writable mode {mode:o}", p.display());
            }
        }
        // The mount itself: read-only, nosuid, nodev.
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let line = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(&*m.mnt.to_string_lossy()))
            .expect("in mountinfo");
        let opts = line.split(' ').nth(5).unwrap();
        for o in ["ro", "nosuid", "nodev"] {
            assert!(
                opts.split(',').any(|x| x == o),
                "{case}: mount options {opts} lack {o}"
            );
        }
        // Every write-ish operation fails with EROFS or EACCES.
        let pid = pids(&m.mnt)[0].clone();
        let file = m.join(format!("{pid}/environ"));
        let dir = m.join(&pid);
        let denied = |what: &str, r: std::io::Result<()>| {
            let e = r
                .err()
                .unwrap_or_else(|| panic!("{case}: {what} succeeded"));
            assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM)
                ),
                "{case}: {what}: {e}"
            );
        };
        denied(
            "open for writing",
            fs::OpenOptions::new().write(true).open(&file).map(drop),
        );
        denied(
            "open with O_TRUNC",
            fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&file)
                .map(drop),
        );
        denied("create", fs::File::create(dir.join("new")).map(drop));
        denied("mkdir", fs::create_dir(dir.join("newdir")));
        denied("unlink", fs::remove_file(&file));
        denied("rmdir", fs::remove_dir(m.join(format!("{pid}/task"))));
        denied("rename", fs::rename(&file, dir.join("moved")));
        denied(
            "chmod",
            fs::set_permissions(&file, fs::Permissions::from_mode(0o666)),
        );
        denied("symlink", std::os::unix::fs::symlink("/etc", dir.join("l")));
        denied("hardlink", fs::hard_link(&file, dir.join("h")));
        let c = std::ffi::CString::new(file.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::truncate(c.as_ptr(), 0) };
        denied(
            "truncate",
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            },
        );
        // SAFETY: valid NUL-terminated path and owner ids.
        let r = unsafe { libc::chown(c.as_ptr(), 0, 0) };
        denied(
            "chown",
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            },
        );
        // And nothing changed.
        assert!(!dir.join("new").exists() && file.exists());
    }
}
