//! The tree of one checkpoint: [`CkptFs`], the [`Filesystem`] a mount of one checkpoint serves
//! (and each member of a mount of a directory of checkpoints, unchanged).
//!
//! Every answer resolves the request against the [`Tree`] and its [`Content`]; nothing here
//! knows FUSE (the adapter is [`super::fuse`]) or where the tree sits in a larger mount.
//!
//! [`Content`]: super::Content

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use log::debug;

use super::filesystem::{
    Attributes, Cache, DirEntry, Entry, Filesystem, FsOptions, Lookup, Opened, STABLE_TTL, StatFs,
};
use super::tree::{Ino, NodeKind, Tree};
use super::{Error, Result};
use crate::model::Checkpoint;
use crate::warning::Warnings;

/// The filesystem of one checkpoint: the checkpoint, its inode tree and the options. Cheap to
/// clone (shared), so a background thread can pre-render while the session serves.
#[derive(Clone)]
pub struct CkptFs(Arc<Inner>);

/// What [`CkptFs`] shares.
pub struct Inner {
    ck: Checkpoint,
    tree: Tree,
    opts: FsOptions,
    /// Bytes the tree holds (dumped memory + raw files), for statfs.
    total_bytes: u64,
}

impl std::ops::Deref for CkptFs {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for CkptFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CkptFs")
            .field("inodes", &self.tree.len())
            .field("opts", &self.opts)
            .finish()
    }
}

thread_local! {
    /// Per-thread buffer for reads that span several pieces (reused: no allocation per read).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl CkptFs {
    /// Builds the tree for `ck`.
    pub fn new(ck: Checkpoint, opts: FsOptions) -> CkptFs {
        let tree = Tree::build(&ck);
        let blobs: u64 = ck
            .source
            .images
            .files
            .values()
            .chain(ck.source.metadata.values())
            .map(|b| b.len() as u64)
            .sum();
        let mem: u64 = ck.processes.iter().map(|p| p.memory.present_bytes()).sum();
        CkptFs(Arc::new(Inner {
            ck,
            tree,
            opts,
            total_bytes: blobs.saturating_add(mem),
        }))
    }

    /// Renders, in a background thread, the files whose first rendering may be slow
    /// (`checkpoint/info.json` hashes the input archive, `checkpoint/manifest.sha256` every file
    /// of an image directory), so the first `ls -l` does not wait.
    pub fn warm_up_in_background(&self) {
        let fs = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ckptfs-warmup".into())
            .spawn(move || {
                for path in [
                    "/checkpoint/manifest.sha256",
                    "/checkpoint/info.json",
                    "/checkpoint/summary",
                    "/pstree",
                ] {
                    if let Ok(ino) = fs.tree.resolve(path) {
                        let _ = catch_unwind(AssertUnwindSafe(|| fs.attributes(ino)));
                    }
                }
            });
        if let Err(e) = spawned {
            debug!("warm-up thread: {e}");
        }
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.ck
    }

    /// What the tree left out, one line each (to print before detaching).
    pub fn warnings(&self) -> &Warnings {
        self.tree.warnings()
    }

    /// The attributes of `ino`.
    pub fn attributes(&self, ino: Ino) -> Result<Attributes> {
        let a = self.tree.attr(ino, &self.ck, self.opts.allow_other)?;
        let t = self.ck.time;
        Ok(Attributes {
            ino: a.ino,
            kind: a.kind,
            size: a.size,
            blocks: a.blocks,
            perm: a.perm,
            nlink: a.nlink,
            // A node's own owner (a rootfs/ entry's layer, a process's ids for PID/), else the
            // mounting user's.
            uid: a.owner.map_or(self.opts.uid, |o| o.0),
            gid: a.owner.map_or(self.opts.gid, |o| o.1),
            // A rootfs/ entry's own time (from its layer); everything else the checkpoint's.
            mtime: a.mtime.unwrap_or(t),
            time: t,
        })
    }
}

impl Filesystem for CkptFs {
    fn options(&self) -> FsOptions {
        self.opts
    }

    fn describe(&self) -> String {
        format!("{} inodes", self.tree.len())
    }

    fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Lookup> {
        match self.tree.lookup(parent, name) {
            Ok(ino) => Ok(Lookup::Found(self.getattr(ino)?)),
            // The absence is cached too: the tree never changes.
            Err(e) if e.errno == libc::ENOENT => Ok(Lookup::Absent(STABLE_TTL)),
            Err(e) => Err(e),
        }
    }

    fn getattr(&self, ino: Ino) -> Result<Entry> {
        Ok(Entry {
            attr: self.attributes(ino)?,
            ttl: STABLE_TTL,
        })
    }

    fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        self.tree.link(ino).map(<[u8]>::to_vec)
    }

    fn open(&self, ino: Ino) -> Result<Opened> {
        match &self.tree.node(ino)?.kind {
            NodeKind::File(c) => {
                c.prepare(&self.ck)?;
                // Content never changes: keep the page cache across opens. Direct I/O only for
                // the size-0 procfs-style files (pagemap), never for mem / memory / core.
                let cache = if c.direct_io() {
                    Cache::Direct
                } else {
                    Cache::Keep
                };
                Ok(Opened { fh: 0, cache })
            }
            NodeKind::Dir(_) => Err(Error::ISDIR),
            NodeKind::Link(_) => Err(Error::errno(libc::ELOOP)),
            NodeKind::Special(_) => Err(Error::NXIO),
        }
    }

    fn read<R>(
        &self,
        ino: Ino,
        _fh: u64,
        offset: u64,
        size: u32,
        reply: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        SCRATCH.with(|cell| {
            // The buffer is this thread's; a re-entrant borrow cannot happen, but never panic.
            let mut fresh = Vec::new();
            let mut guard = cell.try_borrow_mut();
            let scratch = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => &mut fresh,
            };
            let data = self
                .tree
                .content(ino)?
                .read(&self.ck, offset, size, scratch)?;
            let r = reply(data);
            // The reply has copied the bytes: pages of a mapped pages file they came from need
            // not stay in the daemon's resident set (no-op for other memory; released per
            // window of the file, at most a window per thread held back).
            crate::source::blob::release_later(data);
            Ok(r)
        })
    }

    fn opendir(&self, ino: Ino) -> Result<Opened> {
        match self.tree.node(ino)?.kind {
            NodeKind::Dir(_) => Ok(Opened {
                fh: 0,
                cache: Cache::Keep,
            }),
            _ => Err(Error::NOTDIR),
        }
    }

    fn readdir(
        &self,
        ino: Ino,
        _fh: u64,
        offset: u64,
        add: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> Result<()> {
        for (next, child, kind, name) in self.tree.readdir(ino, offset)? {
            let full = add(DirEntry {
                ino: child,
                next,
                kind,
                name,
            });
            if full {
                break;
            }
        }
        Ok(())
    }

    fn lseek(&self, ino: Ino, _fh: u64, offset: i64, whence: i32) -> Result<u64> {
        let c = self.tree.content(ino).map_err(|_| Error::INVAL)?;
        c.seek(&self.ck, offset, whence)
    }

    fn statfs(&self, _ino: Ino) -> Result<StatFs> {
        Ok(StatFs {
            blocks: self.total_bytes.div_ceil(4096),
            files: self.tree.len() as u64,
        })
    }

    fn getxattr(&self, ino: Ino, _name: &[u8]) -> Result<Vec<u8>> {
        self.tree.node(ino)?;
        Err(Error::errno(libc::ENODATA))
    }

    fn listxattr(&self, ino: Ino) -> Result<Vec<u8>> {
        self.tree.node(ino)?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::fs::tree::{Kind, ROOT_INO};
    use crate::model::memory::{Extent, ExtentData, Memory};
    use crate::model::process::MmInfo;
    use crate::render::testutil::{
        anon_vma as vma, blob_memory as memory, process_with_files as process,
    };
    use crate::source::{Blob, ImageDir, InputInfo, InputKind, Layout, Source};

    pub(crate) fn checkpoint(processes: Vec<crate::model::Process>) -> Checkpoint {
        let mut images = BTreeMap::new();
        images.insert("inventory.img".to_string(), Blob::from_vec(vec![7; 100]));
        let mut meta = BTreeMap::new();
        meta.insert("spec.dump".to_string(), Blob::from_vec(b"{}".to_vec()));
        let source = Source::from_parts(
            InputInfo {
                path: "/evidence/x".into(),
                kind: InputKind::ImageDir,
                size: 0,
                cache_path: None,
            },
            Layout::ContainerArchive,
            ImageDir {
                label: "x".into(),
                files: images,
                parent: None,
                written: None,
            },
            meta,
            Warnings::new(),
        );
        Checkpoint {
            source,
            meta: Default::default(),
            processes,
            files: BTreeMap::new(),
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            warnings: Warnings::new(),
            container_fs: Default::default(),
            objects: Default::default(),
        }
    }

    /// One process (pid 7) with two mappings, its environ in a broken range.
    pub(crate) fn sample() -> (CkptFs, Blob) {
        let data = Blob::from_vec((0..3 * 4096).map(|i| (i % 251) as u8 | 1).collect());
        let mut p = process(
            7,
            vec![vma(0x10000, 0x14000), vma(0x20000, 0x22000)],
            memory(&[
                (0x10000, &data),
                (0x20000, &Blob::from_vec(b"a\0b\0".to_vec())),
            ]),
        );
        p.mm = Some(MmInfo {
            arg_start: 0x20000,
            arg_end: 0x20004,
            env_start: 0x30000,
            env_end: 0x30010,
            ..Default::default()
        });
        // environ lies in a broken range.
        let mut ext: Vec<Extent> = p.memory.extents().to_vec();
        ext.push(Extent {
            start: 0x30000,
            len: 4096,
            data: ExtentData::Broken(Arc::from("pages file too short")),
        });
        p.memory = Memory::from_extents(ext).0;
        let fs = CkptFs::new(
            checkpoint(vec![p]),
            FsOptions {
                uid: 1234,
                gid: 99,
                allow_other: false,
            },
        );
        (fs, data)
    }

    fn attr(fs: &CkptFs, path: &str) -> Attributes {
        fs.attributes(fs.tree().resolve(path).unwrap()).unwrap()
    }

    #[test]
    fn attributes() {
        let (fs, _) = sample();
        let root = attr(&fs, "/");
        assert_eq!(root.ino, 1);
        assert_eq!(root.kind, Kind::Dir);
        assert_eq!(root.perm, 0o500);
        assert_eq!((root.uid, root.gid), (1234, 99));
        assert_eq!(root.mtime, fs.checkpoint().time);
        let maps = attr(&fs, "/7/maps");
        assert_eq!(maps.perm, 0o400);
        assert_eq!(maps.nlink, 1);
        assert!(maps.size > 0, "text files report their rendered size");
        for p in [
            "/pstree",
            "/checkpoint/info.json",
            "/checkpoint/summary",
            "/7/status",
            "/7/cmdline",
        ] {
            let a = attr(&fs, p);
            let c = fs.tree().content(a.ino).unwrap();
            let mut s = Vec::new();
            let bytes = c.read(fs.checkpoint(), 0, u32::MAX, &mut s).unwrap();
            assert_eq!(a.size, bytes.len() as u64, "{p}");
            assert!(a.size > 0, "{p}");
        }
        // mem: a link to the hidden `.link/7/mem`, size 0 and no blocks like /proc/PID/mem.
        assert_eq!(attr(&fs, "/7/mem").kind, Kind::Link);
        let mem = attr(&fs, "/.link/7/mem");
        assert_eq!((mem.kind, mem.size, mem.blocks), (Kind::File, 0, 0));
        let range = attr(&fs, "/7/memory/00010000-00014000");
        assert_eq!(range.size, 0x4000);
        assert_eq!(range.blocks, 3 * 4096 / 512);
        let exe = attr(&fs, "/7/exe");
        assert_eq!(exe.kind, Kind::Link);
        assert_eq!(exe.perm, 0o777);
        assert_eq!(exe.size, "../.link/rootfs/bin/busybox".len() as u64);
        assert_eq!(attr(&fs, "/checkpoint/images/inventory.img").size, 100);
        // Public mount: r-x / r-- for everyone, never setuid or writable anywhere.
        let public = CkptFs::new(
            checkpoint(vec![]),
            FsOptions {
                uid: 0,
                gid: 0,
                allow_other: true,
            },
        );
        assert_eq!(attr(&public, "/").perm, 0o555);
        assert_eq!(attr(&public, "/pstree").perm, 0o444);
        for fs in [&fs, &public] {
            for i in 1..=fs.tree().len() as u64 {
                let a = fs.attributes(i).unwrap();
                assert_eq!(a.perm & 0o7000, 0);
                if a.kind != Kind::Link {
                    assert_eq!(a.perm & 0o222, 0);
                }
            }
        }
    }

    #[test]
    fn mem_reads_through_content() {
        let (fs, data) = sample();
        let ck = fs.checkpoint();
        let mem = fs
            .tree()
            .content(fs.tree().resolve("/.link/7/mem").unwrap())
            .unwrap();
        let mut scratch = Vec::new();
        let r = mem.read(ck, 0x10100, 4096, &mut scratch).unwrap();
        assert!(
            std::ptr::eq(r.as_ptr(), data.bytes()[0x100..].as_ptr()),
            "zero copy"
        );
        let r = mem.read(ck, 0x12f00, 0x200, &mut scratch).unwrap().to_vec();
        assert_eq!(&r[..0x100], &data.bytes()[0x2f00..]);
        assert!(r[0x100..].iter().all(|&b| b == 0));
        // The broken range: EIO, with a message naming the process.
        let e = mem.read(ck, 0x30000, 16, &mut scratch).unwrap_err();
        assert_eq!(e.errno, libc::EIO);
        assert!(e.detail.unwrap().msg.contains("7/mem"));
        // memory/<range>: offset 0 is the VMA start.
        let range = fs
            .tree()
            .content(fs.tree().resolve("/7/memory/00010000-00014000").unwrap())
            .unwrap();
        assert_eq!(
            range.read(ck, 0, 4, &mut scratch).unwrap(),
            &data.bytes()[..4]
        );
        assert!(range.read(ck, 0x4000, 4, &mut scratch).unwrap().is_empty());
        assert_eq!(range.seek(ck, 0, libc::SEEK_HOLE), Ok(0x3000));
        assert_eq!(range.seek(ck, 0x3000, libc::SEEK_DATA), Err(Error::NXIO));
        assert_eq!(mem.seek(ck, 0, libc::SEEK_DATA), Ok(0x10000));
        // Past the last dumped byte SEEK_DATA answers the end (where reads stop), not ENXIO:
        // the kernel sees size 0, and a hole-skipping reader must not read the trailing zeros.
        let end = ck.processes[0].mem_size();
        assert_eq!(mem.seek(ck, (end - 4096) as i64, libc::SEEK_DATA), Ok(end));
        assert_eq!(mem.seek(ck, end as i64, libc::SEEK_HOLE), Ok(end));
        assert_eq!(mem.seek(ck, end as i64, libc::SEEK_DATA), Err(Error::NXIO));
        assert!(mem.read(ck, end, 16, &mut scratch).unwrap().is_empty());
    }

    #[test]
    fn unrenderable_text_fails_at_open() {
        let (fs, _) = sample();
        let ck = fs.checkpoint();
        let env = fs
            .tree()
            .content(fs.tree().resolve("/7/environ").unwrap())
            .unwrap();
        let e = env.prepare(ck).unwrap_err();
        assert_eq!(e.errno, libc::EIO);
        assert!(e.detail.unwrap().msg.starts_with("7/environ"));
        let cmd = fs
            .tree()
            .content(fs.tree().resolve("/7/cmdline").unwrap())
            .unwrap();
        assert!(cmd.prepare(ck).is_ok());
        let mut s = Vec::new();
        assert_eq!(cmd.read(ck, 0, 100, &mut s).unwrap(), b"a\0b\0");
        assert_eq!(cmd.seek(ck, 0, libc::SEEK_HOLE), Ok(4));
    }

    /// Every name of directory `ino`, listed through the interface `step` entries at a time.
    fn listing(fs: &impl Filesystem, ino: Ino, step: usize) -> Vec<(String, Ino, Kind)> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let mut batch = Vec::new();
            fs.readdir(ino, 0, offset, &mut |e| {
                batch.push((e.name.to_string(), e.ino, e.kind, e.next));
                batch.len() == step
            })
            .unwrap();
            let Some(last) = batch.last() else { break };
            offset = last.3;
            out.extend(batch.into_iter().map(|(n, i, k, _)| (n, i, k)));
        }
        out
    }

    #[test]
    fn the_interface_walks_the_tree() {
        let (fs, data) = sample();
        let Lookup::Found(pid) = fs.lookup(ROOT_INO, b"7").unwrap() else {
            panic!("7 not found")
        };
        assert_eq!(pid.attr.kind, Kind::Dir);
        assert_eq!(pid.ttl, STABLE_TTL);
        // An absent name is absent for good: the kernel may remember it.
        assert_eq!(
            fs.lookup(ROOT_INO, b"8").unwrap(),
            Lookup::Absent(STABLE_TTL)
        );
        assert_eq!(
            fs.lookup(ROOT_INO, b"").unwrap(),
            Lookup::Absent(STABLE_TTL)
        );
        let maps = match fs.lookup(pid.attr.ino, b"maps").unwrap() {
            Lookup::Found(e) => e.attr,
            l => panic!("{l:?}"),
        };
        assert_eq!(fs.getattr(maps.ino).unwrap().attr, maps);
        assert_eq!(fs.getattr(u64::MAX).unwrap_err().errno, libc::ENOENT);
        // Listings resume at any offset: one at a time equals all at once.
        let all = listing(&fs, ROOT_INO, usize::MAX);
        assert_eq!(listing(&fs, ROOT_INO, 1), all);
        let names: Vec<&str> = all.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(&names[..2], [".", ".."]);
        assert!(
            names.contains(&"7") && names.contains(&"pstree"),
            "{names:?}"
        );
        assert!(!names.contains(&".link"), "hidden from listings");
        assert_eq!(
            fs.readdir(maps.ino, 0, 0, &mut |_| false).unwrap_err(),
            Error::NOTDIR
        );
        // Opening: files by their caching, directories and links refused.
        assert_eq!(
            fs.open(maps.ino).unwrap(),
            Opened {
                fh: 0,
                cache: Cache::Keep
            }
        );
        let pagemap = fs.tree().resolve("/.link/7/pagemap").unwrap();
        assert_eq!(fs.open(pagemap).unwrap().cache, Cache::Direct);
        assert_eq!(fs.open(ROOT_INO).unwrap_err(), Error::ISDIR);
        let mem_link = fs.tree().resolve("/7/mem").unwrap();
        assert_eq!(fs.open(mem_link).unwrap_err().errno, libc::ELOOP);
        assert_eq!(fs.opendir(maps.ino).unwrap_err(), Error::NOTDIR);
        assert_eq!(fs.opendir(ROOT_INO).unwrap().cache, Cache::Keep);
        let environ = fs.tree().resolve("/7/environ").unwrap();
        assert_eq!(fs.open(environ).unwrap_err().errno, libc::EIO);
        // Reading: the bytes of the content, handed to the reply.
        let target = fs.readlink(mem_link).unwrap();
        assert_eq!(target, b"../.link/7/mem");
        assert_eq!(fs.readlink(maps.ino).unwrap_err(), Error::INVAL);
        let range = fs.tree().resolve("/7/memory/00010000-00014000").unwrap();
        let got = fs.read(range, 0, 0x100, 8, <[u8]>::to_vec).unwrap();
        assert_eq!(got, data.bytes()[0x100..0x108]);
        let text = fs.read(maps.ino, 0, 0, 1 << 20, <[u8]>::to_vec).unwrap();
        assert_eq!(text.len() as u64, maps.size);
        assert_eq!(
            fs.read(ROOT_INO, 0, 0, 1, |_| ()).unwrap_err(),
            Error::ISDIR
        );
        assert_eq!(fs.lseek(range, 0, 0, libc::SEEK_HOLE).unwrap(), 0x3000);
        assert_eq!(
            fs.lseek(ROOT_INO, 0, 0, libc::SEEK_DATA).unwrap_err(),
            Error::INVAL
        );
        // No extended attributes; statfs counts the nodes.
        assert_eq!(
            fs.getxattr(maps.ino, b"user.x").unwrap_err().errno,
            libc::ENODATA
        );
        assert_eq!(fs.listxattr(maps.ino).unwrap(), b"");
        assert_eq!(fs.listxattr(u64::MAX).unwrap_err().errno, libc::ENOENT);
        assert_eq!(fs.statfs(ROOT_INO).unwrap().files, fs.tree().len() as u64);
    }
}
