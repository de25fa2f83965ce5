use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::model::files::FileKind;
use crate::model::memory::Memory;
use crate::model::process::Vma;
use crate::model::{FileObject, Process};
use crate::source::Blob;
use crate::warning;

// The hand-built model comes from the one test-model builder, render::testutil.
use crate::render::testutil::{
    anon_vma as vma, blob_memory as memory, process_with_files as process,
};

fn reg(id: u32, path: &str) -> Arc<FileObject> {
    FileObject::reg(id, path)
}

fn sample() -> Sample {
    let mut meta = BTreeMap::new();
    meta.insert("config.dump".to_string(), Blob::from_vec(b"{}".to_vec()));
    meta.insert("artifacts/x".to_string(), Blob::from_vec(b"x".to_vec()));
    meta.insert("artifacts/y".to_string(), Blob::from_vec(b"y".to_vec()));
    meta.insert("summary".to_string(), Blob::from_vec(b"clash".to_vec()));
    meta.insert("../evil".to_string(), Blob::from_vec(b"no".to_vec()));
    let mut images = BTreeMap::new();
    images.insert("pstree.img".to_string(), Blob::from_vec(vec![1, 2, 3]));
    images.insert("core-1.img".to_string(), Blob::from_vec(vec![4]));
    let data = Blob::from_vec(vec![0xab; 8192]);
    let procs = vec![
        process(9, vec![vma(0x1000, 0x3000)], memory(&[(0x1000, &data)])),
        process(
            100,
            vec![
                vma(0x7f00_0000_0000, 0x7f00_0000_2000),
                vma(0x40_0000, 0x40_1000),
            ],
            Memory::default(),
        ),
        process(20, vec![], Memory::default()),
    ];
    (meta, images, procs)
}

type Sample = (BTreeMap<String, Blob>, BTreeMap<String, Blob>, Vec<Process>);

fn build(s: &Sample) -> Tree {
    Tree::from_parts(&Parts {
        metadata: &s.0,
        images: &s.1,
        processes: &s.2,
        container_log: None,
        rootfs: None,
        objects: None,
        userns: false,
        manifest: true,
    })
}

/// The sample's tree with a `rootfs/` built from the layer tar `tar`.
fn build_with_layer(s: &Sample, tar: &Blob) -> Tree {
    let rootfs = crate::model::rootfs::RootFs::build(None, Some(tar), None).unwrap();
    Tree::from_parts(&Parts {
        metadata: &s.0,
        images: &s.1,
        processes: &s.2,
        container_log: None,
        rootfs: Some(&rootfs),
        objects: None,
        userns: false,
        manifest: true,
    })
}

/// A memfd no process maps is a file of `rootfs/` (a walk meets its bytes there, once); a
/// mapped one only a link target in `.link/rootfs/` (its bytes are in `PID/memory/`); two
/// memfds sharing a name get no file (a link must not lead to the other's bytes).
#[test]
fn memfds_where_their_links_lead() {
    use crate::model::objects::{Memfd, Objects};
    let s = sample();
    let memfd = |inode_id, name: &str| Memfd {
        inode_id,
        name: name.into(),
        size: 4096,
        memory: Default::default(),
    };
    let objects = Objects {
        memfds: vec![memfd(1, "lonely"), memfd(2, "twin"), memfd(3, "twin")],
        ..Default::default()
    };
    let rootfs = crate::model::rootfs::RootFs::empty();
    let t = Tree::from_parts(&Parts {
        metadata: &s.0,
        images: &s.1,
        processes: &s.2,
        container_log: None,
        rootfs: Some(&rootfs),
        objects: Some(&objects),
        userns: false,
        manifest: true,
    });
    assert!(t.resolve("/rootfs/memfd:lonely (deleted)").is_ok());
    assert!(t.resolve("/.link/rootfs/memfd:lonely (deleted)").is_ok());
    assert!(t.resolve("/.link/rootfs/memfd:twin (deleted)").is_err());
    assert!(t.resolve("/rootfs/memfd:twin (deleted)").is_err());
    let twin: Vec<_> = t
        .warnings()
        .of(warning::Kind::AmbiguousMemfd)
        .filter(|w| w.message.contains("twin"))
        .collect();
    assert_eq!(twin.len(), 1, "{twin:?}");
}

fn names(t: &Tree, path: &str) -> Vec<String> {
    let ino = t.resolve(path).unwrap();
    t.readdir(ino, 0)
        .unwrap()
        .map(|(_, _, _, n)| n.to_string())
        .collect()
}

#[test]
fn shape() {
    let s = sample();
    let t = build(&s);
    assert_eq!(
        names(&t, "/"),
        [
            ".",
            "..",
            "checkpoint",
            "pstree",
            "rootfs",
            "sockets",
            "sysvipc",
            "timeline",
            "triage",
            "9",
            "20",
            "100"
        ]
    );
    // The case report is found by name, not listed.
    assert!(t.resolve("/report.html").is_ok());
    assert_eq!(
        names(&t, "/checkpoint"),
        [
            ".",
            "..",
            "artifacts",
            "config.dump",
            "fields.json",
            "images",
            "info.json",
            "manifest.sha256",
            "summary"
        ]
    );
    assert_eq!(names(&t, "/checkpoint/artifacts"), [".", "..", "x", "y"]);
    assert_eq!(
        names(&t, "/checkpoint/images"),
        [".", "..", "core-1.img", "pstree.img"]
    );
    assert_eq!(
        names(&t, "/9"),
        [
            ".",
            "..",
            "auxv",
            "cmdline",
            "comm",
            "cwd",
            "environ",
            "exe",
            "fd",
            "fdinfo",
            "limits",
            "maps",
            "mem",
            "memory",
            "mountinfo",
            "net",
            "pagemap",
            "root",
            "stat",
            "statm",
            "status",
            "task"
        ]
    );
    // `core` is found by name, not listed (see LINK_DIR).
    assert!(t.resolve("/9/core").is_ok());
    assert_eq!(names(&t, "/9/fd"), [".", "..", "0", "3", "10"]);
    assert_eq!(names(&t, "/9/fdinfo"), [".", "..", "0", "3", "10"]);
    assert_eq!(names(&t, "/9/task"), [".", "..", "9", "11", "19"]);
    assert_eq!(
        names(&t, "/9/task/11"),
        [".", "..", "comm", "regs", "stat", "status", "syscall"]
    );
    // memory/ in address order, not name order.
    assert_eq!(
        names(&t, "/100/memory"),
        [".", "..", "00400000-00401000", "7f0000000000-7f0000002000"]
    );
    // The clashing and the unsafe metadata names are left out, with a warning each.
    let ws = t.warnings();
    assert!(
        ws.of(warning::Kind::Duplicate)
            .any(|w| w.message.contains("summary")),
        "{ws:?}"
    );
    assert!(
        ws.of(warning::Kind::EntryRefused)
            .any(|w| w.message.contains("evil")),
        "{ws:?}"
    );
    let summary = t.resolve("/checkpoint/summary").unwrap();
    assert!(matches!(
        t.content(summary).unwrap(),
        Content::Text(x) if x.src().pattern() == "checkpoint/summary"
    ));
}

#[test]
fn lookups_and_errors() {
    let s = sample();
    let t = build(&s);
    let pd = t.resolve("/20").unwrap();
    assert_eq!(t.lookup(pd, b".").unwrap(), pd);
    assert_eq!(t.lookup(pd, b"..").unwrap(), ROOT_INO);
    assert_eq!(t.lookup(ROOT_INO, b"..").unwrap(), ROOT_INO);
    assert_eq!(t.lookup(pd, b"nope"), Err(Error::NOENT));
    let comm = t.lookup(pd, b"comm").unwrap();
    assert_eq!(t.lookup(comm, b"x"), Err(Error::NOTDIR));
    assert_eq!(t.node(0).err(), Some(Error::NOENT));
    assert_eq!(t.node(u64::MAX).err(), Some(Error::NOENT));
    assert_eq!(t.node(t.len() as u64 + 1).err(), Some(Error::NOENT));
    assert_eq!(t.content(pd).err(), Some(Error::ISDIR));
    assert_eq!(t.link(comm).err(), Some(Error::INVAL));
    assert!(t.readdir(comm, 0).is_err());
    // A parent's `..` and every child's parent agree.
    for (i, n) in t.nodes().iter().enumerate() {
        let ino = i as u64 + 1;
        if ino != ROOT_INO {
            let parent = t.dir(n.parent).unwrap();
            assert!(parent.entries().iter().any(|e| e.ino == ino));
        }
    }
}

#[test]
fn readdir_offsets_resume() {
    let s = sample();
    let t = build(&s);
    let pd = t.resolve("/9").unwrap();
    let all: Vec<_> = t
        .readdir(pd, 0)
        .unwrap()
        .map(|(o, i, k, n)| (o, i, k, n.to_string()))
        .collect();
    for (pos, item) in all.iter().enumerate() {
        // Offsets increase (a hidden entry, such as `core`, takes a position of its own).
        assert!(pos == 0 || item.0 > all[pos - 1].0, "offsets increase");
        let rest: Vec<_> = t
            .readdir(pd, item.0)
            .unwrap()
            .map(|(o, i, k, n)| (o, i, k, n.to_string()))
            .collect();
        assert_eq!(rest, all[pos + 1..]);
    }
    assert_eq!(t.readdir(pd, u64::MAX).unwrap().count(), 0);
    assert_eq!(all[0].2, Kind::Dir);
    assert_eq!(all[1].1, ROOT_INO);
    let kinds: HashMap<&str, Kind> = all.iter().map(|(_, _, k, n)| (n.as_str(), *k)).collect();
    assert_eq!(kinds["exe"], Kind::Link);
    // mem is a link into the hidden `.link/` (see LINK_DIR), which the listing leaves out.
    assert_eq!(kinds["mem"], Kind::Link);
    assert!(!kinds.contains_key("core"), "core is not listed");
    assert_eq!(kinds["task"], Kind::Dir);
}

#[test]
fn inode_numbers_are_deterministic() {
    let t1 = build(&sample());
    let t2 = build(&sample());
    assert_eq!(t1.len(), t2.len());
    for path in [
        "/",
        "/checkpoint/artifacts/y",
        "/100/memory/00400000-00401000",
        "/20/task/22/regs",
        "/9/fd/3",
    ] {
        assert_eq!(
            t1.resolve(path).unwrap(),
            t2.resolve(path).unwrap(),
            "{path}"
        );
    }
    assert_eq!(t1.resolve("/").unwrap(), ROOT_INO);
}

#[test]
fn rootfs_and_forensic_views() {
    let s = sample();
    let tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(2);
        b.append_data(&mut h, "bin/busybox", &b"bb"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "bin/sh", "/bin/busybox").unwrap();
        Blob::from_vec(b.into_inner().unwrap())
    };
    let t = build_with_layer(&s, &tar);
    assert_eq!(names(&t, "/rootfs"), [".", "..", "bin"]);
    assert_eq!(names(&t, "/rootfs/bin"), [".", "..", "busybox", "sh"]);
    let sh = t.resolve("/rootfs/bin/sh").unwrap();
    assert_eq!(t.link(sh).unwrap(), b"../bin/busybox");
    let bb = t.resolve("/rootfs/bin/busybox").unwrap();
    assert!(matches!(t.content(bb).unwrap(), Content::RootFile(_)));
    assert_eq!(
        names(&t, "/9/net"),
        [".", "..", "tcp", "tcp6", "udp", "udp6", "unix"]
    );
    assert_eq!(
        t.link(t.resolve("/9/pagemap").unwrap()).unwrap(),
        b"../.link/9/pagemap"
    );
    assert!(matches!(
        t.content(t.resolve("/.link/9/pagemap").unwrap()).unwrap(),
        Content::Pagemap { .. }
    ));
    // `.link/rootfs/` holds the same files, served procfs-style.
    let alias = t.resolve("/.link/rootfs/bin/busybox").unwrap();
    assert!(matches!(t.content(alias).unwrap(), Content::Procfs(_)));
    assert_eq!(
        t.link(t.resolve("/.link/rootfs/bin/sh").unwrap()).unwrap(),
        b"../bin/busybox"
    );
}

#[test]
fn rootfs_entries_take_their_tar_entry_attributes() {
    let s = sample();
    let tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = |path: &str, mode: u32, mtime: u64| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(mode);
            h.set_uid(1000);
            h.set_mtime(mtime);
            b.append_data(&mut h, path, &[][..]).unwrap();
        };
        dir("opt/app", 0o2751, 1_764_341_257);
        dir("tmp", 0o1777, 1_764_000_000);
        dir("notes", 0o644, 5);
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o640);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "var/log/x", &b"x"[..]).unwrap();
        Blob::from_vec(b.into_inner().unwrap())
    };
    let t = build_with_layer(&s, &tar);
    let ck = crate::render::testutil::checkpoint(Vec::new());
    let attr = |p: &str, public: bool| t.attr(t.resolve(p).unwrap(), &ck, public).unwrap();
    let secs = |n: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(n));
    // The layer's own bits as recorded, all of them (the mount is read-only and nosuid),
    // public or not; its owner and group; its time.
    let app = attr("/rootfs/opt/app", false);
    assert_eq!(
        (app.kind, app.perm, app.mtime, app.owner),
        (Kind::Dir, 0o2751, secs(1_764_341_257), Some((1000, 0)))
    );
    assert_eq!(attr("/rootfs/opt/app", true).perm, 0o2751);
    assert_eq!(attr("/rootfs/tmp", false).perm, 0o1777);
    assert_eq!(attr("/rootfs/tmp", true).perm, 0o1777);
    assert_eq!(attr("/rootfs/tmp", true).mtime, secs(1_764_000_000));
    // 644, no x anywhere: readable, not searchable (as a file of that mode is not executable).
    assert_eq!(attr("/rootfs/notes", false).perm, 0o644);
    assert_eq!(attr("/rootfs/notes", true).perm, 0o644);
    // Implicit parents (`opt`, `var`, `var/log`) and rootfs/ itself: the tree's defaults.
    for p in ["/rootfs", "/rootfs/opt", "/rootfs/var", "/rootfs/var/log"] {
        for public in [false, true] {
            let a = attr(p, public);
            let want = if public { 0o555 } else { 0o500 };
            assert_eq!((a.perm, a.mtime, a.owner), (want, None, None), "{p}");
        }
    }
    // A layer's file: its mode by the same policy, its own time and owner.
    let x = attr("/rootfs/var/log/x", false);
    assert_eq!((x.perm, x.owner), (0o640, Some((0, 0))));
    assert_eq!(x.mtime, secs(1_700_000_000));
    // Everything outside rootfs/ keeps the adapter's (the checkpoint's) time.
    assert_eq!(attr("/9", false).mtime, None);
    assert_eq!(attr("/9/maps", false).mtime, None);
}

#[test]
fn nlink_counts_subdirs() {
    let s = sample();
    let t = build(&s);
    let n = |ino| match &t.node(ino).unwrap().kind {
        NodeKind::Dir(d) => 2 + d.subdirs,
        _ => 1,
    };
    // root: checkpoint + rootfs + sysvipc + 3 pids + the hidden .link (counted: find's leaf
    // optimisation must never see fewer subdirectories than the listing has)
    assert_eq!(n(ROOT_INO), 9);
    // pid: memory, fd, fdinfo, task, net
    assert_eq!(n(t.resolve("/9").unwrap()), 7);
    assert_eq!(n(t.resolve("/9/task").unwrap()), 5);
}

#[test]
fn links_point_inside_the_mount() {
    let s = sample();
    let t = build(&s);
    let l = |p: &str| String::from_utf8(t.link(t.resolve(p).unwrap()).unwrap().to_vec()).unwrap();
    assert_eq!(l("/9/fd/3"), "../../.link/rootfs/tmp/x/open.log");
    assert_eq!(l("/9/fd/10"), "pipe:[77]");
    assert_eq!(l("/9/fd/0"), "../../.link/rootfs/dev/pts/0");
    assert_eq!(l("/9/exe"), "../.link/rootfs/bin/busybox");
    assert_eq!(l("/9/cwd"), "../.link/rootfs/tmp/x");
    assert_eq!(l("/9/root"), "../.link/rootfs");
    assert_eq!(l("/9/mem"), "../.link/9/mem");
    assert_eq!(l("/9/core"), "../.link/9/core");
    // Every link of the tree resolves inside the mount, and into `.link/` unless it is a
    // dangling name (`pipe:[77]`).
    for (i, node) in t.nodes().iter().enumerate() {
        let NodeKind::Link(target) = &node.kind else {
            continue;
        };
        let target = String::from_utf8(target.to_vec()).unwrap();
        if !target.contains('/') {
            continue;
        }
        let mut dir = Vec::new();
        let mut at = node.parent;
        while at != ROOT_INO {
            let p = t.node(at).unwrap().parent;
            let name = t
                .dir(p)
                .unwrap()
                .entries()
                .iter()
                .find(|e| e.ino == at)
                .unwrap()
                .name
                .to_string();
            dir.push(name);
            at = p;
        }
        dir.reverse();
        let dir: Vec<&str> = dir.iter().map(String::as_str).collect();
        let reached = resolve_from(&dir, &target)
            .unwrap_or_else(|| panic!("inode {} -> {target} escapes", i + 1));
        let under_link = reached.first().map(String::as_str) == Some(LINK_DIR);
        let in_rootfs = dir.first() == Some(&"rootfs") || dir.first() == Some(&LINK_DIR);
        assert!(under_link || in_rootfs, "{dir:?} -> {target}");
    }
    // `.link/` is found, not listed.
    assert!(t.resolve("/.link/9/mem").is_ok());
    assert!(!names(&t, "/").iter().any(|n| n == LINK_DIR));
}

/// Resolves `target` lexically from `dir` (a list of components below the mount root) and
/// returns the components reached, or None if it climbs above the mount root.
fn resolve_from(dir: &[&str], target: &str) -> Option<Vec<String>> {
    if target.starts_with('/') {
        return None;
    }
    let mut at: Vec<String> = dir.iter().map(|s| s.to_string()).collect();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                at.pop()?;
            }
            c => at.push(c.to_string()),
        }
    }
    Some(at)
}

#[test]
fn hostile_paths_never_escape() {
    let hostile = [
        "/../../etc/passwd",
        "a/../../..",
        "../../../../../../etc/shadow",
        "/",
        "",
        ".",
        "..",
        "/./../x/./../../y",
        "/tmp/with\nnewline",
        "/tmp/nul\0byte/../../..",
        "//double//slash//",
        "/a/b/../../../../../../c",
        "relative/../../../x",
        "x/..",
        "/..\0/..",
    ];
    for depth in [1usize, 2] {
        let dir: Vec<&str> = ["123", "fd"][..depth].to_vec();
        for h in hostile {
            for target in [
                inside_rootfs(depth, h),
                link_target(depth, h),
                file_link(depth, &reg(1, h)),
            ] {
                let s = String::from_utf8(target).unwrap();
                assert!(!s.starts_with('/'), "{h:?} -> {s:?} is absolute");
                assert!(!s.contains('\0'), "{h:?} -> {s:?} has a NUL");
                let reached =
                    resolve_from(&dir, &s).unwrap_or_else(|| panic!("{h:?} -> {s:?} escapes"));
                if s.contains('/') || s.is_empty() {
                    assert_eq!(
                        reached.get(..2),
                        Some(&[LINK_DIR.to_string(), "rootfs".to_string()][..]),
                        "{h:?} -> {s:?}"
                    );
                }
            }
        }
    }
    assert_eq!(
        inside_rootfs(2, "/../../etc/passwd"),
        b"../../.link/rootfs/etc/passwd"
    );
    assert_eq!(inside_rootfs(1, "a/../../.."), b"../.link/rootfs");
    assert_eq!(
        inside_rootfs(1, "/tmp/with\nnewline"),
        b"../.link/rootfs/tmp/with\nnewline"
    );
    assert_eq!(link_target(2, "socket:[5]"), b"socket:[5]");
    assert_eq!(
        link_target(2, "/memfd:x (deleted)"),
        b"../../.link/rootfs/memfd:x (deleted)"
    );
}

#[test]
fn deleted_file_link_keeps_the_marker() {
    let f = FileObject {
        id: 1,
        kind: FileKind::Reg {
            path: "/tmp/gone".into(),
            pos: 0,
            flags: 0,
            mnt_id: None,
            size: None,
            mode: None,
            deleted: true,
            dev_ino: None,
        },
    };
    assert_eq!(file_link(2, &f), b"../../.link/rootfs/tmp/gone (deleted)");
}

/// A shared mapping seen by two processes is one file (in the first) and a link to it; a
/// private mapping with equal bytes stays two files; raw pages images are links too.
#[test]
fn shared_memory_is_listed_once() {
    use crate::model::process::vma_status as vs;
    let shm = Blob::from_vec(vec![0x5a; 8192]);
    let private = Blob::from_vec(vec![0x11; 4096]);
    let shared = |mut v: Vma, shmid: u64| {
        v.status = vs::ANON_SHARED;
        v.shmid = shmid;
        v.flags = (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u32;
        v
    };
    let mk = |pid: u32, shmid: u64| {
        process(
            pid,
            vec![shared(vma(0x1000, 0x3000), shmid), vma(0x9000, 0xa000)],
            memory(&[(0x1000, &shm), (0x9000, &private)]),
        )
    };
    let mut images = BTreeMap::new();
    images.insert("pages-1.img".to_string(), Blob::from_vec(vec![7; 10]));
    images.insert("pagemap-1.img".to_string(), Blob::from_vec(vec![8; 10]));
    let s: Sample = (
        BTreeMap::new(),
        images,
        vec![mk(5, 42), mk(6, 42), mk(7, 43)],
    );
    let t = build(&s);
    let l = |p: &str| t.link(t.resolve(p).unwrap()).map(<[u8]>::to_vec);
    assert!(matches!(
        t.content(t.resolve("/5/memory/00001000-00003000").unwrap())
            .unwrap(),
        Content::Range { .. }
    ));
    assert_eq!(
        l("/6/memory/00001000-00003000").unwrap(),
        b"../../.link/5/memory/00001000-00003000"
    );
    let target = t.resolve("/.link/5/memory/00001000-00003000").unwrap();
    assert!(matches!(t.content(target).unwrap(), Content::Procfs(_)));
    // Another shmem object (43) with the same bytes from another blob slice: its own file.
    assert!(
        t.content(t.resolve("/7/memory/00001000-00003000").unwrap())
            .is_ok()
    );
    // Private memory is never deduplicated.
    for pid in [5, 6, 7] {
        assert!(
            t.content(
                t.resolve(&format!("/{pid}/memory/00009000-0000a000"))
                    .unwrap()
            )
            .is_ok()
        );
    }
    assert_eq!(
        l("/checkpoint/images/pages-1.img").unwrap(),
        b"../../.link/checkpoint/images/pages-1.img"
    );
    assert!(
        t.content(t.resolve("/checkpoint/images/pagemap-1.img").unwrap())
            .is_ok()
    );
    let raw = t.resolve("/.link/checkpoint/images/pages-1.img").unwrap();
    assert!(matches!(t.content(raw).unwrap(), Content::Procfs(_)));
}

#[test]
fn natural_order() {
    let mut v = vec!["10", "9", "b", "a", "100", "0", "a1"];
    v.sort_by(|a, b| natural_key(a).cmp(&natural_key(b)));
    assert_eq!(v, ["a", "a1", "b", "0", "9", "10", "100"]);
}

/// Every rendered file of the tree comes from a rendered row of the table of files, at the place
/// its pattern says, and every rendered row makes files (given a process, thread and descriptor
/// it applies to, a user namespace and a manifest).
#[test]
fn rendered_files_are_the_tables_rows() {
    use std::collections::BTreeSet;

    use crate::render::files::{FILES, PLACEHOLDERS};
    let mut s = sample();
    s.2[1].comm = "bash".into();
    let objects = crate::model::objects::Objects::default();
    let t = Tree::from_parts(&Parts {
        metadata: &s.0,
        images: &s.1,
        processes: &s.2,
        container_log: None,
        rootfs: None,
        objects: Some(&objects),
        userns: true,
        manifest: true,
    });
    fn walk(t: &Tree, ino: Ino, path: &str, out: &mut Vec<(String, &'static str)>) {
        match &t.node(ino).unwrap().kind {
            NodeKind::Dir(d) => {
                for e in d.entries() {
                    walk(t, e.ino, &format!("{path}{}/", e.name), out);
                }
            }
            NodeKind::File(Content::Text(x)) => {
                out.push((path.trim_end_matches('/').to_string(), x.src().pattern()));
            }
            _ => {}
        }
    }
    let mut files = Vec::new();
    walk(&t, ROOT_INO, "", &mut files);
    let mut seen = BTreeSet::new();
    for (path, pattern) in &files {
        let (got, want): (Vec<&str>, Vec<&str>) =
            (path.split('/').collect(), pattern.split('/').collect());
        let fits = got.len() == want.len()
            && got.iter().zip(&want).all(|(g, w)| {
                g == w || (PLACEHOLDERS.contains(w) && g.bytes().all(|b| b.is_ascii_digit()))
            });
        assert!(fits, "{path} is not a file of the row {pattern}");
        seen.insert(*pattern);
    }
    let rows: BTreeSet<&str> = FILES
        .iter()
        .filter(|f| f.render().is_some())
        .map(|f| f.path)
        .collect();
    assert_eq!(seen, rows);
    // Where a row's condition does not hold, no file: bash_history for bash only.
    assert!(t.resolve("/100/bash_history").is_ok());
    assert!(t.resolve("/9/bash_history").is_err());
    // An unlisted row is found by name only.
    assert!(t.resolve("/report.html").is_ok());
    assert!(!names(&t, "/").contains(&"report.html".to_string()));
}
