//! The filesystem layer: the inode tree built from the model and the thin FUSE adapter.
//!
//! - [`tree`]: the inode table (pure: no FUSE types). Built once at mount in a fixed order, so
//!   inode numbers are stable across mounts of the same checkpoint; the root is inode 1.
//! - [`content`]: what a file's bytes are and how to read / seek them (the only place that calls
//!   [`crate::render`]; rendered text is cached once per inode).
//! - [`fuse`]: `impl fuser::Filesystem for CkptFs`, mapping tree results to replies, with one place
//!   that logs errors and replies.
//! - [`mount`]: the session configuration, mount point checks, readiness and unmount helpers.
//!
//! Everything is read-only: every write-ish operation answers `EROFS`. Handlers never panic on
//! anything derived from the checkpoint or the request (and a panic anyway becomes `EIO`, not the
//! end of the session).

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

/// The `fuser::Filesystem` methods whose answer never depends on the tree (one list for both
/// adapters): flush / fsync succeed (nothing is ever written), poll says readable, ioctl ENOTTY,
/// and every method that would change the tree answers EROFS.
macro_rules! fixed_handlers {
    () => {
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
    };
}

pub mod collection;
pub mod content;
pub mod fuse;
pub mod mount;
pub mod multi;
pub mod rootfs;
pub mod tree;

use std::fmt;

pub use content::Content;
pub use fuse::{CkptFs, FsOptions};
pub use tree::{Attr, Ino, Kind, ROOT_INO, Tree};

/// An error of the fs layer: the errno to answer, and optionally what to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The positive errno the request is answered with.
    pub errno: i32,
    /// What went wrong, for the log (routine errors such as `ENOENT` on lookup carry none).
    pub detail: Option<Detail>,
}

/// A loggable explanation of an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// Errors with the same key are logged once per mount (a broken memory range read over and
    /// over by readahead is reported once, not once per read).
    pub key: String,
    pub msg: String,
}

impl Error {
    pub const fn errno(errno: i32) -> Error {
        Error {
            errno,
            detail: None,
        }
    }

    /// An error that is logged (once per `key`) at warning level.
    pub fn logged(errno: i32, key: impl Into<String>, msg: impl Into<String>) -> Error {
        Error {
            errno,
            detail: Some(Detail {
                key: key.into(),
                msg: msg.into(),
            }),
        }
    }

    pub const NOENT: Error = Error::errno(libc::ENOENT);
    pub const NOTDIR: Error = Error::errno(libc::ENOTDIR);
    pub const ISDIR: Error = Error::errno(libc::EISDIR);
    pub const INVAL: Error = Error::errno(libc::EINVAL);
    pub const NXIO: Error = Error::errno(libc::ENXIO);
    pub const ROFS: Error = Error::errno(libc::EROFS);
    pub const ACCES: Error = Error::errno(libc::EACCES);
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = std::io::Error::from_raw_os_error(self.errno);
        match &self.detail {
            Some(d) => write!(f, "{}: {e}", d.msg),
            None => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of the fs layer.
pub type Result<T> = std::result::Result<T, Error>;
