//! The filesystem layer: the inode tree built from the model, the trees a mount serves, and the
//! one FUSE adapter.
//!
//! - [`filesystem`]: the interface, [`Filesystem`]: what a mounted tree answers, in its own inode
//!   numbers, with [`Result`] and no FUSE types.
//! - [`single`]: [`CkptFs`], the tree of one checkpoint.
//! - [`directory`]: [`directory::DirectoryFs`], a directory of checkpoints, each member a
//!   `CkptFs` (the only place that knows the members' inode slots); [`collection`] scans, names
//!   and opens the members.
//! - [`tree`]: the inode table (pure: no FUSE types). Built once at mount in a fixed order, so
//!   inode numbers are stable across mounts of the same checkpoint; the root is inode 1.
//! - [`content`]: what a file's bytes are and how to read / seek them (the only place that calls
//!   [`crate::render`]; rendered text is cached once per inode).
//! - [`fuse`]: [`fuse::Fuse`], `fuser::Filesystem` for any [`Filesystem`]: replies, the error log,
//!   the access rule, the read-only handlers, once.
//! - [`mount`]: the session configuration, mount point checks, readiness and unmount helpers.
//!
//! Everything is read-only: every write-ish operation answers `EROFS`. Handlers never panic on
//! anything derived from the checkpoint or the request (and a panic anyway becomes `EIO`, not the
//! end of the session).

pub mod collection;
pub mod content;
pub mod directory;
pub mod filesystem;
pub mod fuse;
pub mod mount;
pub mod rootfs;
pub mod single;
pub mod tree;

use std::fmt;

pub use content::Content;
pub use filesystem::{Filesystem, FsOptions};
pub use single::CkptFs;
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
