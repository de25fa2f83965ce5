//! Tests of the namespace as built from its layers.

use super::links::depth_of_dir;
use super::*;
use crate::source::path::parent_of;
use crate::warning::{Kind, Warnings};

/// (path, file data, symlink target, mode); neither data nor target: a directory.
type TarEntry<'a> = (&'a str, Option<&'a [u8]>, Option<&'a str>, u32);

fn tar_of(entries: &[TarEntry<'_>]) -> Blob {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, link, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        match (data, link) {
            (Some(d), _) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, path, *d).unwrap();
            }
            (None, Some(t)) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, t).unwrap();
            }
            (None, None) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    Blob::from_vec(b.into_inner().unwrap())
}

fn shown(r: &RootFs, p: &str) -> String {
    match &r.node(p).unwrap().kind {
        NodeKind::Symlink { shown, .. } => shown.clone(),
        k => panic!("{p}: {k:?}"),
    }
}

#[test]
fn tar_layer_is_zero_copy_with_modes_and_deletions() {
    let tar = tar_of(&[
        ("data/written.txt", Some(b"MARKER"), None, 0o4755),
        ("etc", None, None, 0o755),
        ("etc/gone", Some(b"x"), None, 0o644),
        ("bin/sh", None, Some("/bin/busybox"), 0o777),
    ]);
    let r = RootFs::build(None, Some(&tar), Some(br#"["/etc/gone"]"#)).unwrap();
    let n = r.node("data/written.txt").unwrap();
    assert_eq!(n.mode, 0o4755, "every bit as recorded");
    let NodeKind::File(FileData::Blob(b)) = &n.kind else {
        panic!()
    };
    assert_eq!(b.bytes(), b"MARKER");
    let off = b.bytes().as_ptr() as usize - tar.bytes().as_ptr() as usize;
    assert!(off < tar.len(), "a slice of the archive itself");
    assert!(matches!(r.node("data").unwrap().kind, NodeKind::Dir));
    assert!(r.node("etc/gone").is_none());
    assert!(r.node("etc").is_some());
    assert_eq!(shown(&r, "bin/sh"), "../bin/busybox");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn tar_directories_keep_their_mode_owner_and_time() {
    let mut b = tar::Builder::new(Vec::new());
    // (path, mode, uid, gid, mtime); the file comes before its parent's own entry.
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode, uid, gid, mtime| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        b.append_data(&mut h, path, &[][..]).unwrap();
    };
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "srv/www/index.html", &b"x"[..])
        .unwrap();
    dir(&mut b, "srv/www/", 0o2775, 33, 34, 1_764_341_257);
    dir(&mut b, "tmp", 0o1777, 0, 0, 1_764_341_000);
    dir(&mut b, "root", 0o700, 0, 0, 1);
    let tar = Blob::from_vec(b.into_inner().unwrap());
    let r = RootFs::build(None, Some(&tar), None).unwrap();
    let www = r.node("srv/www").unwrap();
    assert!(matches!(www.kind, NodeKind::Dir));
    assert_eq!(www.mode, 0o2775, "write and setgid as recorded");
    assert_eq!(
        www.stamp,
        Some(Stamp {
            uid: 33,
            gid: 34,
            mtime: 1_764_341_257,
            image_dir: false,
            layer: 0,
        })
    );
    assert_eq!(r.node("tmp").unwrap().mode, 0o1777, "sticky as recorded");
    assert_eq!(r.node("root").unwrap().mode, 0o700);
    assert_eq!(r.node("root").unwrap().stamp.map(|s| s.mtime), Some(1));
    // `srv` only exists as a parent: defaults, no stamp.
    let srv = r.node("srv").unwrap();
    assert_eq!((srv.mode, srv.stamp), (0o555, None));
    // The file keeps its own stamp; the directory entry did not replace its subtree.
    let f = r.node("srv/www/index.html").unwrap();
    assert_eq!(f.stamp.map(|s| s.mtime), Some(1_700_000_000));
    assert_eq!(r.node("").unwrap().stamp, None);
}

#[test]
fn tmpfs_contents_replace_the_layer_at_their_mount_point() {
    use crate::model::mounts::MountPoint;
    let mp = |id: u32, dev: u32, fstype: &str, root: &str, at: &str| MountPoint {
        mnt_id: id,
        root_dev: dev,
        fstype: fstype.into(),
        root: root.into(),
        mountpoint: at.into(),
        ..Default::default()
    };
    let mounts = [
        mp(1, 40, "overlay", "/", "/"),
        mp(2, 45, "tmpfs", "/", "/tmp"),
        mp(3, 47, "tmpfs", "/null", "/proc/keys"),
        mp(4, 48, "tmpfs", "/", "/run/lock"),
        mp(5, 49, "tmpfs", "/", "/empty"),
    ];
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o1777);
    h.set_size(0);
    b.append_data(&mut h, "./", &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Fifo);
    h.set_mode(0o600);
    h.set_size(0);
    b.append_data(&mut h, "./k.fifo", &[][..]).unwrap();
    let tmp = Blob::from_vec(b.into_inner().unwrap());
    let mut asked = Vec::new();
    let mut w = Warnings::new();
    let found = tmpfs_mounts(
        &mounts,
        |name| {
            asked.push(name.to_string());
            match name {
                "tmpfs-dev-45.tar.gz.img" => Some(Ok(tmp.clone())),
                "tmpfs-dev-48.tar.gz.img" => Some(Err("tmpfs-dev-48.tar.gz.img: bad".into())),
                _ => None,
            }
        },
        &mut w,
    );
    // Only tmpfs roots; the device names the image, the mount id is the older name.
    assert_eq!(
        asked,
        [
            "tmpfs-dev-45.tar.gz.img",
            "tmpfs-dev-48.tar.gz.img",
            "tmpfs-dev-49.tar.gz.img",
            "tmpfs-5.tar.gz.img"
        ]
    );
    assert_eq!(found.len(), 1);
    assert_eq!(w.kinds(), [Kind::TmpfsUnreadable], "{w:?}");
    assert!(w[0].message.contains("rootfs/run/lock lacks"), "{w:?}");
    // The layer's /tmp (hidden by the mount in the container) gives way to the tmpfs.
    let diff = tar_of(&[
        ("tmp", None, None, 0o755),
        ("tmp/under-the-mount", Some(b"x"), None, 0o644),
        ("etc/x", Some(b"y"), None, 0o644),
    ]);
    let r = RootFs::build_all(None, Some(&diff), None, &found, &[]).unwrap();
    assert!(r.node("tmp/under-the-mount").is_none());
    assert!(r.node("etc/x").is_some());
    assert_eq!(r.node("tmp").unwrap().mode, 0o1777);
    let f = r.node("tmp/k.fifo").unwrap();
    assert!(matches!(f.kind, NodeKind::Fifo));
    assert_eq!(f.mode, 0o600);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn link_targets_never_leave_the_rootfs() {
    let tar = tar_of(&[
        ("a/b/abs", None, Some("/usr/lib/x"), 0o777),
        ("a/b/rel", None, Some("../c/d"), 0o777),
        ("a/b/up", None, Some("../../../../../etc/shadow"), 0o777),
        ("a/b/mid", None, Some("x/../../y"), 0o777),
        ("a/b/root", None, Some("/"), 0o777),
        ("a/b/dotdot", None, Some("/../.."), 0o777),
        ("top", None, Some(".."), 0o777),
        ("loop1", None, Some("loop2"), 0o777),
        ("loop2", None, Some("loop1/.."), 0o777),
        ("dir", None, None, 0o755),
        ("viaroot", None, Some("top/x"), 0o777),
    ]);
    let r = RootFs::build(None, Some(&tar), None).unwrap();
    assert_eq!(shown(&r, "a/b/abs"), "../../usr/lib/x");
    assert_eq!(shown(&r, "a/b/rel"), "../c/d");
    assert_eq!(shown(&r, "a/b/up"), "../../etc/shadow");
    assert_eq!(shown(&r, "a/b/mid"), "../../a/y");
    assert_eq!(shown(&r, "a/b/root"), "../..");
    assert_eq!(shown(&r, "a/b/dotdot"), "../..");
    assert_eq!(shown(&r, "top"), ".");
    assert_eq!(shown(&r, "viaroot"), "top/x");
    // Every shown target, read lexically from its directory, stays inside.
    for (p, n) in r.nodes() {
        if let NodeKind::Symlink { shown, .. } = &n.kind {
            assert!(!shown.starts_with('/'), "{p} -> {shown}");
            let mut d = depth_of_dir(parent_of(p)) as i64;
            let mut seen_name = false;
            for c in shown.split('/') {
                if c == ".." {
                    assert!(!seen_name, "{p} -> {shown}: `..` after a name");
                    d -= 1;
                } else if c != "." {
                    seen_name = true;
                    d += 1;
                }
                assert!(d >= 0, "{p} -> {shown} escapes");
            }
        }
    }
    assert_eq!(r.resolve("/a/b/abs", true).as_deref(), Some("usr/lib/x"));
    assert_eq!(r.resolve("/loop1", true), None);
}

#[test]
fn whiteouts_and_opaque_dirs_hide_the_lower_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("etc/conf.d")).unwrap();
    std::fs::write(d.join("etc/passwd"), "root:x:0:0").unwrap();
    std::fs::write(d.join("etc/conf.d/a"), "a").unwrap();
    std::fs::write(d.join("etc/hosts"), "lower").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join("etc/pw")).unwrap();
    std::os::unix::fs::symlink("/", d.join("escape")).unwrap();
    let tar = tar_of(&[
        ("etc/.wh.passwd", Some(b""), None, 0o644),
        ("etc/conf.d/.wh..wh..opq", Some(b""), None, 0o644),
        ("etc/conf.d/b", Some(b"b"), None, 0o644),
        ("etc/hosts", Some(b"upper"), None, 0o644),
    ]);
    let r = RootFs::build(Some(d), Some(&tar), None).unwrap();
    assert!(r.node("etc/passwd").is_none());
    assert!(r.node("etc/conf.d/a").is_none());
    assert!(r.node("etc/conf.d/b").is_some());
    let Some(FileData::Blob(b)) = r.file("/etc/hosts") else {
        panic!()
    };
    assert_eq!(b.bytes(), b"upper");
    assert_eq!(shown(&r, "etc/pw"), "../etc/passwd");
    assert_eq!(shown(&r, "escape"), ".");
    // A host file is read beneath the root only, never through a symlink.
    std::fs::write(d.join("etc/plain"), "plain").unwrap();
    let r = RootFs::build(Some(d), None, None).unwrap();
    let Some(FileData::Host(h)) = r.file("/etc/plain") else {
        panic!()
    };
    let mut buf = [0u8; 16];
    assert_eq!(h.read_at(0, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"plain");
    assert_eq!(h.map().unwrap().bytes(), b"plain");
    // Swap the directory for a symlink pointing out: the read must fail, not follow.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("plain"), "HOST-SECRET").unwrap();
    std::fs::rename(d.join("etc"), d.join("etc.old")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("etc")).unwrap();
    assert!(h.read_at(0, &mut buf).is_err());
    assert!(h.map().is_err());
    assert!(h.root.open_file_walk("etc/plain").is_err());
}

#[test]
fn ghosts_are_shown_beside_their_path() {
    let (dir, files) = crate::model::ghost::tests::ghost_dir(b"GHOST");
    let mut w = Warnings::new();
    let g = crate::model::ghost::ghosts(&dir, &files, &mut w);
    let tar = tar_of(&[("tmp/gone.txt", Some(b"NEW FILE, SAME NAME"), None, 0o644)]);
    let r = RootFs::build_with_ghosts(None, Some(&tar), None, &g).unwrap();
    let Some(FileData::Blob(b)) = r.file("/tmp/gone.txt (deleted)") else {
        panic!()
    };
    assert_eq!(b.bytes(), b"GHOST");
    assert!(r.file("/tmp/gone.txt").is_some());
    assert_eq!(r.node("tmp/gone.txt (deleted)").unwrap().mode, 0o600);
}

#[test]
fn pseudo_device_nodes_are_kept_with_their_numbers_and_char_0_0_is_a_whiteout() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, et, major, minor, mode) in [
        ("dev/null", tar::EntryType::Char, 1, 3, 0o666),
        ("dev/pts/70000", tar::EntryType::Char, 143, 70000, 0o620),
        ("dev/sda", tar::EntryType::Block, 8, 0, 0o666),
        ("dev/mem", tar::EntryType::Char, 1, 1, 0o666),
        ("etc/gone", tar::EntryType::Char, 0, 0, 0o000),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(et);
        h.set_mode(mode);
        h.set_size(0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        b.append_data(&mut h, name, &[][..]).unwrap();
    }
    let upper = Blob::from_vec(b.into_inner().unwrap());
    let lower = tar_of(&[("etc/gone", Some(b"x"), None, 0o644)]);
    let mut r = RootFs::build_all(None, Some(&lower), None, &[], &[]).unwrap();
    r.add_tar_layer_at(&upper, "upper", "", false);
    let null = r.node("dev/null").unwrap();
    assert_eq!(null.mode, 0o666);
    let NodeKind::Device(d) = null.kind else {
        panic!("{:?}", null.kind)
    };
    assert_eq!((d.block, d.major, d.minor, d.rdev()), (false, 1, 3, 0x103));
    // The kernel's new_encode_dev: minor's upper bits above major's 12.
    let NodeKind::Device(d) = r.node("dev/pts/70000").unwrap().kind else {
        panic!()
    };
    assert_eq!(
        d.rdev(),
        (70000 & 0xff) | (143 << 8) | ((70000 & !0xff) << 12)
    );
    // A host's disk or /dev/mem is never a node of the tree: one warning each.
    assert!(r.node("dev/sda").is_none());
    assert!(r.node("dev/mem").is_none());
    assert_eq!(
        r.warnings.of(Kind::EntryRefused).count(),
        2,
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("dev/sda: device node b 8:0")),
        "{:?}",
        r.warnings
    );
    // An overlay whiteout hides the lower layer's file and is no node itself.
    assert!(r.node("etc/gone").is_none());
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
}
