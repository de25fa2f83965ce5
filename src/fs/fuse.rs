//! The one FUSE adapter: [`Fuse`] serves any [`Filesystem`] to the kernel.
//!
//! It holds what every tree would otherwise repeat: the reply (through [`answer`], the one place
//! that logs errors and replies), the access rule and access(2), the open-flags check (read-only),
//! the kernel configuration, attribute conversion, and the requests whose answer never depends on
//! the tree (flush, fsync, poll, ioctl, and EROFS for everything that would write). Handlers run
//! under `catch_unwind`: should anything panic anyway, the dropped reply answers `EIO` and the
//! session keeps serving.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType,
    FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags,
    PollEvents, PollFlags, PollNotifier, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyPoll,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use log::{debug, error, warn};

use super::filesystem::{Attributes, Cache, Filesystem, FsOptions, Lookup};
use super::tree::Kind;
use super::{Error, Result};

/// `fuser::Filesystem` methods that answer EROFS, one each: `name(argument types after the
/// request) -> reply type;` becomes `fn name(&self, _: &Request, _: T1, ..., reply: R)`.
macro_rules! read_only {
    ($($name:ident($($arg:ty),* $(,)?) -> $reply:ty;)*) => {
        $(
            fn $name(&self, _: &Request, $(_: $arg,)* reply: $reply) {
                reply.error(Errno::EROFS);
            }
        )*
    };
}

/// A [`Filesystem`] served to the kernel.
pub struct Fuse<F> {
    fs: F,
    opts: FsOptions,
    logged: Logged,
}

impl<F: Filesystem> Fuse<F> {
    pub fn new(fs: F) -> Fuse<F> {
        let opts = fs.options();
        Fuse {
            fs,
            opts,
            logged: Logged::default(),
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

    /// The access rule, checked here rather than by the kernel on the modes (which are the
    /// checkpoint's evidence, owners included): see [`FsOptions::allows`].
    fn allowed(&self, req: &Request) -> Result<()> {
        if self.opts.allows(req.uid()) {
            Ok(())
        } else {
            Err(Error::ACCES)
        }
    }

    /// access(2): `W_OK` is refused (read-only), then the access rule; `X_OK` is granted for
    /// directories and for files with an execute bit.
    fn check_access(&self, req: &Request, ino: INodeNo, mask: AccessFlags) -> Result<()> {
        let a = self.fs.getattr(ino.0)?.attr;
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

/// The kernel's attributes of `a`.
fn file_attr(a: &Attributes) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.time,
        mtime: a.mtime,
        ctime: a.time,
        crtime: a.time,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: match a.kind {
            Kind::CharDevice(rdev) | Kind::BlockDevice(rdev) => rdev,
            _ => 0,
        },
        blksize: 4096,
        flags: 0,
    }
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Link => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::CharDevice(_) => FileType::CharDevice,
        Kind::BlockDevice(_) => FileType::BlockDevice,
    }
}

/// A negative entry (inode 0): the kernel caches "no such name" for the entry's TTL.
fn negative_entry() -> FileAttr {
    let t = SystemTime::UNIX_EPOCH;
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
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

/// The keys of the errors already logged: each is logged once per mount at warning level, then
/// at debug level.
#[derive(Default)]
struct Logged(Mutex<HashSet<String>>);

impl Logged {
    fn log(&self, op: &str, e: &Error) {
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
fn answer<R: ErrorReply, T>(
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
trait ErrorReply {
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

/// Asks the kernel for what every ckptfs mount wants: the largest readahead it offers, many
/// concurrent background requests, cached symlinks, parallel directory operations, large requests.
/// Returns the readahead granted.
fn configure(config: &mut KernelConfig) -> u32 {
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

/// An extended attribute reply: the size asked for (`size` 0), else the bytes if they fit.
fn xattr_reply(r: ReplyXattr, size: u32, value: Vec<u8>) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    if size == 0 {
        r.size(len)
    } else if len > size {
        r.error(Errno::ERANGE)
    } else {
        r.data(&value)
    }
}

impl<F: Filesystem> fuser::Filesystem for Fuse<F> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let ra = configure(config);
        debug!("init: max_readahead {ra}, {}", self.fs.describe());
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.answer(
            "lookup",
            reply,
            || self.fs.lookup(parent.0, name.as_bytes()),
            |r, found| match found {
                Lookup::Found(e) => r.entry(&e.ttl, &file_attr(&e.attr), Generation(0)),
                Lookup::Absent(ttl) => r.entry(&ttl, &negative_entry(), Generation(0)),
            },
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.answer(
            "getattr",
            reply,
            || self.fs.getattr(ino.0),
            |r, e| r.attr(&e.ttl, &file_attr(&e.attr)),
        );
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.answer(
            "readlink",
            reply,
            || self.fs.readlink(ino.0),
            |r, t| r.data(&t),
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
                self.fs.open(ino.0)
            },
            |r, o| {
                let flags = match o.cache {
                    Cache::Keep => FopenFlags::FOPEN_KEEP_CACHE,
                    Cache::Direct => FopenFlags::FOPEN_DIRECT_IO,
                    Cache::Fresh => FopenFlags::empty(),
                };
                r.opened(FileHandle(o.fh), flags)
            },
        );
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // The bytes are borrowed from the tree for the time of the reply only: the reply is
        // handed in, and taken back to answer an error.
        let run = AssertUnwindSafe(|| {
            let mut reply = Some(reply);
            let r = self.fs.read(ino.0, fh.0, offset, size, |data| {
                if let Some(r) = reply.take() {
                    r.data(data);
                }
            });
            if let (Err(e), Some(r)) = (r, reply.take()) {
                self.logged.log("read", &e);
                r.error(Errno::from_i32(e.errno));
            }
        });
        if catch_unwind(run).is_err() {
            error!("read: internal error (panic); answered EIO");
        }
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.answer(
            "release",
            reply,
            || {
                self.fs.release(ino.0, fh.0);
                Ok(())
            },
            |r, ()| r.ok(),
        );
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.answer(
            "opendir",
            reply,
            || {
                self.allowed(req)?;
                self.fs.opendir(ino.0)
            },
            |r, o| {
                let flags = match o.cache {
                    Cache::Keep => FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR,
                    Cache::Direct => FopenFlags::FOPEN_DIRECT_IO,
                    Cache::Fresh => FopenFlags::empty(),
                };
                r.opened(FileHandle(o.fh), flags)
            },
        );
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        let run = AssertUnwindSafe(|| {
            let mut reply = reply;
            let r = self.fs.readdir(ino.0, fh.0, offset, &mut |e| {
                reply.add(INodeNo(e.ino), e.next, file_type(e.kind), e.name)
            });
            match r {
                Ok(()) => reply.ok(),
                Err(e) => {
                    self.logged.log("readdir", &e);
                    reply.error(Errno::from_i32(e.errno));
                }
            }
        });
        if catch_unwind(run).is_err() {
            error!("readdir: internal error (panic); answered EIO");
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.answer(
            "releasedir",
            reply,
            || {
                self.fs.releasedir(ino.0, fh.0);
                Ok(())
            },
            |r, ()| r.ok(),
        );
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        self.answer(
            "statfs",
            reply,
            || self.fs.statfs(ino.0),
            |r, s| r.statfs(s.blocks, 0, 0, s.files, 0, 4096, 255, 4096),
        );
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        self.answer(
            "access",
            reply,
            || self.check_access(req, ino, mask),
            |r, ()| r.ok(),
        );
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.answer(
            "getxattr",
            reply,
            || self.fs.getxattr(ino.0, name.as_bytes()),
            |r, v| xattr_reply(r, size, v),
        );
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.answer(
            "listxattr",
            reply,
            || self.fs.listxattr(ino.0),
            |r, v| xattr_reply(r, size, v),
        );
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        self.answer(
            "lseek",
            reply,
            || {
                let off = self.fs.lseek(ino.0, fh.0, offset, whence)?;
                i64::try_from(off).map_err(|_| Error::NXIO)
            },
            |r, off| r.offset(off),
        );
    }

    // Nothing is ever written: flush / fsync succeed, poll says readable, ioctl ENOTTY.
    fn flush(&self, _: &Request, _: INodeNo, _: FileHandle, _: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&self, _: &Request, _: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsyncdir(&self, _: &Request, _: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn poll(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        _: PollNotifier,
        _: PollEvents,
        _: PollFlags,
        reply: ReplyPoll,
    ) {
        reply.poll(PollEvents::POLLIN | PollEvents::POLLRDNORM);
    }

    fn ioctl(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        _: fuser::IoctlFlags,
        _: u32,
        _: &[u8],
        _: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    // Everything that would change the tree: EROFS (the kernel already refuses most of it on a
    // read-only mount; fuser's defaults would answer ENOSYS and log a warning each time).
    read_only! {
        setattr(
            INodeNo, Option<u32>, Option<u32>, Option<u32>, Option<u64>, Option<TimeOrNow>,
            Option<TimeOrNow>, Option<SystemTime>, Option<FileHandle>, Option<SystemTime>,
            Option<SystemTime>, Option<SystemTime>, Option<BsdFileFlags>
        ) -> ReplyAttr;
        mknod(INodeNo, &OsStr, u32, u32, u32) -> ReplyEntry;
        mkdir(INodeNo, &OsStr, u32, u32) -> ReplyEntry;
        unlink(INodeNo, &OsStr) -> ReplyEmpty;
        rmdir(INodeNo, &OsStr) -> ReplyEmpty;
        symlink(INodeNo, &OsStr, &Path) -> ReplyEntry;
        rename(INodeNo, &OsStr, INodeNo, &OsStr, RenameFlags) -> ReplyEmpty;
        link(INodeNo, INodeNo, &OsStr) -> ReplyEntry;
        write(
            INodeNo, FileHandle, u64, &[u8], WriteFlags, OpenFlags, Option<LockOwner>
        ) -> ReplyWrite;
        setxattr(INodeNo, &OsStr, &[u8], i32, u32) -> ReplyEmpty;
        removexattr(INodeNo, &OsStr) -> ReplyEmpty;
        create(INodeNo, &OsStr, u32, u32, i32) -> ReplyCreate;
        fallocate(INodeNo, FileHandle, u64, u64, i32) -> ReplyEmpty;
        copy_file_range(
            INodeNo, FileHandle, u64, INodeNo, FileHandle, u64, u64, CopyFileRangeFlags
        ) -> ReplyWrite;
    }
}
