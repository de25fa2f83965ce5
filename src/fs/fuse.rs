//! The thin FUSE adapter: `impl fuser::Filesystem for CkptFs`.
//!
//! Every handler resolves the request against the [`Tree`] and its [`Content`], then goes through
//! [`CkptFs::answer`], the one place that logs errors and replies. Handlers also run under
//! `catch_unwind`: should anything panic anyway, the dropped reply answers `EIO` and the session
//! keeps serving.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType,
    Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode,
    OpenFlags, PollEvents, PollFlags, PollNotifier, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyPoll,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use log::{debug, error, warn};

use super::tree::{Attr, Ino, Kind, NodeKind, Tree};
use super::{Error, Result};
use crate::model::Checkpoint;

/// How long the kernel may cache entries and attributes: the content never changes.
pub(super) const TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Who owns the tree and who may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsOptions {
    /// Owner of every node (the mounting user).
    pub uid: u32,
    pub gid: u32,
    /// `--allow-other`: modes 0555 / 0444 instead of 0500 / 0400.
    pub allow_other: bool,
}

impl FsOptions {
    /// Owned by the calling process's user and group (who the mount lets in).
    pub fn current_user(allow_other: bool) -> FsOptions {
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        FsOptions {
            uid,
            gid,
            allow_other,
        }
    }
}

/// The mounted filesystem: the checkpoint, its inode tree and the options. Cheap to clone
/// (shared), so a background thread can pre-render while the session serves.
#[derive(Clone)]
pub struct CkptFs(Arc<Inner>);

/// What [`CkptFs`] shares.
pub struct Inner {
    ck: Checkpoint,
    tree: Tree,
    opts: FsOptions,
    /// Bytes the tree holds (dumped memory + raw files), for statfs.
    total_bytes: u64,
    /// Errors already logged (each is logged once).
    logged: Logged,
    /// Added to every inode number the kernel sees: 0 for a mount of one checkpoint; in a mount
    /// of a directory of checkpoints, the checkpoint's slot (see [`super::multi`]).
    base: u64,
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

/// The keys of the errors already logged: each is logged once per mount at warning level, then
/// at debug level.
#[derive(Default)]
pub(super) struct Logged(Mutex<HashSet<String>>);

impl Logged {
    pub(super) fn log(&self, op: &str, e: &Error) {
        match &e.detail {
            Some(d) => {
                let first = match self.0.lock() {
                    Ok(mut set) => set.len() < 10_000 && set.insert(d.key.clone()),
                    Err(_) => false,
                };
                if first {
                    warn!("{op}: {e}");
                } else {
                    debug!("{op}: {e}");
                }
            }
            None => debug!("{op}: {e}"),
        }
    }
}

/// The one place that replies to a request: runs `f`, answers with `ok` on success, logs and
/// answers the errno on failure. A panic in `f` is caught (the dropped reply answers EIO).
pub(super) fn answer<R: ErrorReply, T>(
    logged: &Logged,
    op: &str,
    reply: R,
    f: impl FnOnce() -> Result<T>,
    ok: impl FnOnce(R, T),
) {
    let run = AssertUnwindSafe(move || match f() {
        Ok(v) => ok(reply, v),
        Err(e) => {
            logged.log(op, &e);
            reply.fail(Errno::from_i32(e.errno));
        }
    });
    if catch_unwind(run).is_err() {
        error!("{op}: internal error (panic); answered EIO");
    }
}

/// The `error` method every reply type has.
pub(super) trait ErrorReply {
    fn fail(self, e: Errno);
}

macro_rules! error_reply {
    ($($t:ty),*) => {$(
        impl ErrorReply for $t {
            fn fail(self, e: Errno) {
                self.error(e)
            }
        }
    )*};
}
error_reply!(
    ReplyAttr,
    ReplyCreate,
    ReplyData,
    ReplyDirectory,
    ReplyEmpty,
    ReplyEntry,
    ReplyIoctl,
    ReplyLseek,
    ReplyOpen,
    ReplyPoll,
    ReplyStatfs,
    ReplyWrite,
    ReplyXattr
);

impl CkptFs {
    /// Builds the tree for `ck`.
    pub fn new(ck: Checkpoint, opts: FsOptions) -> CkptFs {
        CkptFs::with_base(ck, opts, 0)
    }

    /// Builds the tree for `ck`, whose inode `n` the kernel sees as `base + n` (`base` is a
    /// multiple of [`super::multi::SLOT_SPAN`]).
    pub fn with_base(ck: Checkpoint, opts: FsOptions, base: u64) -> CkptFs {
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
            logged: Logged::default(),
            base,
        }))
    }

    /// The tree's inode for the kernel's `ino` (`ENOENT` if it is not one of this tree's).
    fn local(&self, ino: INodeNo) -> Result<Ino> {
        match ino.0.checked_sub(self.base) {
            Some(i) if self.base == 0 || i < super::multi::SLOT_SPAN => Ok(i),
            _ => Err(Error::NOENT),
        }
    }

    /// The kernel's inode number for the tree's `ino`.
    fn global(&self, ino: Ino) -> u64 {
        self.base + ino
    }

    /// Renders, in a background thread, the files whose first rendering may be slow
    /// (`checkpoint/info.json` hashes the input archive), so the first `ls -l` does not wait.
    pub fn warm_up_in_background(&self) {
        let fs = self.clone();
        let spawned = std::thread::Builder::new()
            .name("ckptfs-warmup".into())
            .spawn(move || {
                for path in ["/checkpoint/info.json", "/checkpoint/summary", "/pstree"] {
                    if let Ok(ino) = fs.tree.resolve(path) {
                        let _ = catch_unwind(AssertUnwindSafe(|| fs.file_attr(ino)));
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
    pub fn warnings(&self) -> &[String] {
        self.tree.warnings()
    }

    /// The FUSE attributes of `ino`.
    pub fn file_attr(&self, ino: Ino) -> Result<FileAttr> {
        let a = self.tree.attr(ino, &self.ck, self.opts.allow_other)?;
        Ok(self.to_fuse(&a))
    }

    fn to_fuse(&self, a: &Attr) -> FileAttr {
        let t = self.ck.time;
        FileAttr {
            ino: INodeNo(self.global(a.ino)),
            size: a.size,
            blocks: a.blocks,
            atime: t,
            // A rootfs/ entry's own time (from its layer); everything else the checkpoint's.
            mtime: a.mtime.unwrap_or(t),
            ctime: t,
            crtime: t,
            kind: file_type(a.kind),
            perm: a.perm,
            nlink: a.nlink,
            // A node's own owner (a rootfs/ entry's layer, a process's ids for PID/), else the
            // mounting user's.
            uid: a.owner.map_or(self.opts.uid, |o| o.0),
            gid: a.owner.map_or(self.opts.gid, |o| o.1),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The one place that replies to a request (see [`answer`]).
    fn answer<R: ErrorReply, T>(
        &self,
        op: &str,
        reply: R,
        f: impl FnOnce() -> Result<T>,
        ok: impl FnOnce(R, T),
    ) {
        answer(&self.logged, op, reply, f, ok)
    }

    fn node_kind(&self, ino: INodeNo) -> Result<Kind> {
        Ok(self.tree.node(self.local(ino)?)?.kind())
    }

    /// The access rule, checked here rather than by the kernel on the modes (which are the
    /// checkpoint's evidence, owners included): the mounting user reads everything, and so does
    /// everyone when the mount is `--allow-other`; nobody else reads anything. Never writable.
    fn allowed(&self, req: &Request) -> Result<()> {
        if self.opts.allow_other || req.uid() == self.opts.uid {
            Ok(())
        } else {
            Err(Error::ACCES)
        }
    }

    /// access(2): the access rule ([`CkptFs::allowed`]); `W_OK` is refused (read-only), `X_OK`
    /// granted for directories and for files with an execute bit.
    fn check_access(&self, req: &Request, ino: INodeNo, mask: AccessFlags) -> Result<()> {
        let a = self
            .tree
            .attr(self.local(ino)?, &self.ck, self.opts.allow_other)?;
        if mask.contains(AccessFlags::W_OK) {
            return Err(Error::ROFS);
        }
        self.allowed(req)?;
        if mask.contains(AccessFlags::X_OK) && a.kind != Kind::Dir && a.perm & 0o111 == 0 {
            return Err(Error::ACCES);
        }
        Ok(())
    }
}

pub(super) fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Link => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
    }
}

/// Asks the kernel for what every ckptfs mount wants: the largest readahead it offers, many
/// concurrent background requests, cached symlinks, parallel directory operations, large requests.
/// Returns the readahead granted.
pub(super) fn configure(config: &mut KernelConfig) -> u32 {
    // The largest readahead the kernel offers (it offers its maximum; ask for more and take
    // what it answers).
    let ra = match config.set_max_readahead(u32::MAX) {
        Ok(_) => u32::MAX,
        Err(max) => {
            let _ = config.set_max_readahead(max);
            max
        }
    };
    // Many concurrent readahead requests (the multi-threaded session serves them in parallel).
    let _ = config.set_max_background(64);
    let _ = config.set_congestion_threshold(48);
    for cap in [
        InitFlags::FUSE_CACHE_SYMLINKS,
        InitFlags::FUSE_PARALLEL_DIROPS,
        InitFlags::FUSE_MAX_PAGES,
    ] {
        if config.add_capabilities(cap).is_err() {
            debug!("kernel does not offer {cap:?}");
        }
    }
    ra
}

/// A negative entry (inode 0): the kernel caches "no such name" for the entry TTL.
pub(super) fn negative_entry(time: SystemTime) -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: time,
        mtime: time,
        ctime: time,
        crtime: time,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl Filesystem for CkptFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let ra = configure(config);
        debug!("init: max_readahead {ra}, {} inodes", self.tree.len());
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.answer(
            "lookup",
            reply,
            || match self.tree.lookup(self.local(parent)?, name.as_bytes()) {
                Ok(ino) => self.file_attr(ino).map(Some),
                // Cache the absence too (a negative entry): the tree never changes.
                Err(e) if e.errno == libc::ENOENT => Ok(None),
                Err(e) => Err(e),
            },
            |r, attr| match attr {
                Some(a) => r.entry(&TTL, &a, Generation(0)),
                None => r.entry(&TTL, &negative_entry(self.ck.time), Generation(0)),
            },
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.answer(
            "getattr",
            reply,
            || self.file_attr(self.local(ino)?),
            |r, a| r.attr(&TTL, &a),
        );
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.answer(
            "readlink",
            reply,
            || self.tree.link(self.local(ino)?),
            |r, t| r.data(t),
        );
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.answer(
            "open",
            reply,
            || {
                if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
                    return Err(Error::ROFS);
                }
                self.allowed(req)?;
                match &self.tree.node(self.local(ino)?)?.kind {
                    NodeKind::File(c) => c.prepare(&self.ck).map(|()| c.direct_io()),
                    NodeKind::Dir(_) => Err(Error::ISDIR),
                    NodeKind::Link(_) => Err(Error::errno(libc::ELOOP)),
                    NodeKind::Fifo(_) => Err(Error::NXIO),
                }
            },
            // Content never changes: keep the page cache across opens. DIRECT_IO only for the
            // size-0 procfs-style files (pagemap), never for mem / memory / core.
            |r, direct| {
                let flags = if direct {
                    FopenFlags::FOPEN_DIRECT_IO
                } else {
                    FopenFlags::FOPEN_KEEP_CACHE
                };
                r.opened(FileHandle(0), flags)
            },
        );
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        SCRATCH.with(|cell| {
            // The buffer is this thread's; a re-entrant borrow cannot happen, but never panic.
            let mut fresh = Vec::new();
            let mut guard = cell.try_borrow_mut();
            let scratch = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => &mut fresh,
            };
            self.answer(
                "read",
                reply,
                || {
                    self.tree
                        .content(self.local(ino)?)?
                        .read(&self.ck, offset, size, scratch)
                },
                |r, data| {
                    r.data(data);
                    // The reply is copied into the kernel: pages of a mapped pages file it came
                    // from need not stay in the daemon's resident set (no-op for other memory;
                    // released per window of the file, at most a window per thread held back).
                    crate::source::blob::release_later(data);
                },
            );
        });
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.answer(
            "opendir",
            reply,
            || {
                self.allowed(req)?;
                match self.node_kind(ino)? {
                    Kind::Dir => Ok(()),
                    _ => Err(Error::NOTDIR),
                }
            },
            |r, ()| {
                r.opened(
                    FileHandle(0),
                    FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR,
                )
            },
        );
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        self.answer(
            "readdir",
            reply,
            || self.tree.readdir(self.local(ino)?, offset),
            |mut r, entries| {
                for (next, child, kind, name) in entries {
                    if r.add(INodeNo(self.global(child)), next, file_type(kind), name) {
                        break;
                    }
                }
                r.ok();
            },
        );
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let blocks = self.total_bytes.div_ceil(4096);
        reply.statfs(blocks, 0, 0, self.tree.len() as u64, 0, 4096, 255, 4096);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        self.answer(
            "access",
            reply,
            || self.check_access(req, ino, mask),
            |r, ()| r.ok(),
        );
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, _name: &OsStr, _size: u32, reply: ReplyXattr) {
        self.answer(
            "getxattr",
            reply,
            || {
                self.tree.node(self.local(ino)?)?;
                Err::<(), _>(Error::errno(libc::ENODATA))
            },
            |_, ()| {},
        );
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.answer(
            "listxattr",
            reply,
            || self.tree.node(self.local(ino)?).map(|_| ()),
            |r, ()| {
                if size == 0 { r.size(0) } else { r.data(&[]) }
            },
        );
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        self.answer(
            "lseek",
            reply,
            || {
                let c = self
                    .tree
                    .content(self.local(ino)?)
                    .map_err(|_| Error::INVAL)?;
                let off = c.seek(&self.ck, offset, whence)?;
                i64::try_from(off).map_err(|_| Error::NXIO)
            },
            |r, off| r.offset(off),
        );
    }

    // Everything that would change the tree: EROFS (the kernel already refuses most of it on a
    // read-only mount; fuser's defaults would answer ENOSYS and log a warning each time).
    fixed_handlers!();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::model::memory::{Extent, ExtentData, Memory};
    use crate::model::process::MmInfo;
    use crate::render::testutil::{
        anon_vma as vma, blob_memory as memory, process_with_files as process,
    };
    use crate::source::{Blob, ImageDir, InputInfo, InputKind, Layout, Source};

    fn checkpoint(processes: Vec<crate::model::Process>) -> Checkpoint {
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
            vec![],
        );
        Checkpoint {
            source,
            meta: Default::default(),
            processes,
            files: BTreeMap::new(),
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            warnings: vec![],
            container_fs: Default::default(),
            objects: Default::default(),
        }
    }

    fn sample() -> (CkptFs, Blob) {
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

    fn attr(fs: &CkptFs, path: &str) -> FileAttr {
        fs.file_attr(fs.tree().resolve(path).unwrap()).unwrap()
    }

    #[test]
    fn attributes() {
        let (fs, _) = sample();
        let root = attr(&fs, "/");
        assert_eq!(root.ino, INodeNo(1));
        assert_eq!(root.kind, FileType::Directory);
        assert_eq!(root.perm, 0o500);
        assert_eq!((root.uid, root.gid), (1234, 99));
        assert_eq!(root.mtime, fs.checkpoint().time);
        let maps = attr(&fs, "/7/maps");
        assert_eq!(maps.perm, 0o400);
        assert_eq!(maps.nlink, 1);
        assert_eq!(maps.blksize, 4096);
        assert!(maps.size > 0, "text files report their rendered size");
        for p in [
            "/pstree",
            "/checkpoint/info.json",
            "/checkpoint/summary",
            "/7/status",
            "/7/cmdline",
        ] {
            let a = attr(&fs, p);
            let c = fs.tree().content(a.ino.0).unwrap();
            let mut s = Vec::new();
            let bytes = c.read(fs.checkpoint(), 0, u32::MAX, &mut s).unwrap();
            assert_eq!(a.size, bytes.len() as u64, "{p}");
            assert!(a.size > 0, "{p}");
        }
        // mem: a link to the hidden `.link/7/mem`, size 0 and no blocks like /proc/PID/mem.
        assert_eq!(attr(&fs, "/7/mem").kind, FileType::Symlink);
        let mem = attr(&fs, "/.link/7/mem");
        assert_eq!(
            (mem.kind, mem.size, mem.blocks),
            (FileType::RegularFile, 0, 0)
        );
        let range = attr(&fs, "/7/memory/00010000-00014000");
        assert_eq!(range.size, 0x4000);
        assert_eq!(range.blocks, 3 * 4096 / 512);
        let exe = attr(&fs, "/7/exe");
        assert_eq!(exe.kind, FileType::Symlink);
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
                let a = fs.file_attr(i).unwrap();
                assert_eq!(a.perm & 0o7000, 0);
                if a.kind != FileType::Symlink {
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
}
