//! The interface between a tree ckptfs serves and the kernel: [`Filesystem`], what a mounted
//! tree answers, in its own inode numbers, with [`super::Result`] and no FUSE types.
//!
//! Two trees implement it: [`super::single::CkptFs`] (one checkpoint) and
//! [`super::directory::DirectoryFs`] (a directory of checkpoints, each member served by a
//! `CkptFs`). One generic adapter, [`super::fuse::Fuse`], turns any implementor into a FUSE
//! session: it owns the reply, the error log, the access rule, the open-flags check and every
//! write-ish request (EROFS). Tests drive the interface directly, without `/dev/fuse`.

use std::time::{Duration, SystemTime};

use super::Result;
use super::tree::{Ino, Kind, made_up_perm};

/// How long the kernel may cache what a checkpoint's tree answers (entries, attributes, the
/// absence of a name): the content never changes.
pub const STABLE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Who owns the tree and who may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsOptions {
    /// Owner of every node without an owner of its own (the mounting user).
    pub uid: u32,
    pub gid: u32,
    /// `--allow-other`: modes 0555 / 0444 instead of 0500 / 0400, and every user may read.
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

    /// The permission bits of a node ckptfs makes up (see [`made_up_perm`]).
    pub fn perm(&self, kind: Kind) -> u16 {
        made_up_perm(kind, self.allow_other)
    }

    /// The access rule: the mounting user reads everything, and so does everyone when the mount
    /// is `--allow-other`; nobody else reads anything.
    pub fn allows(&self, uid: u32) -> bool {
        self.allow_other || uid == self.uid
    }
}

/// The attributes of a node, complete (owner and times resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    /// 512-byte blocks actually present.
    pub blocks: u64,
    /// Permission bits.
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
    /// Access, change and creation time.
    pub time: SystemTime,
}

/// Attributes and how long the kernel may keep them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub attr: Attributes,
    pub ttl: Duration,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(Entry),
    /// No such name, and there will be none for this long (the kernel remembers the absence).
    /// A name that may appear later is `Err(ENOENT)` instead.
    Absent(Duration),
}

/// How the kernel may cache an opened file's or directory's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// The content never changes: keep the page cache (a directory's listing) across opens.
    Keep,
    /// Read through to the tree at every read, past the reported size (size-0 procfs-style
    /// files such as pagemap, or text rendered afresh at each open).
    Direct,
    /// No promise: a directory listed afresh at each open.
    Fresh,
}

/// An open file or directory: its handle (given back with each read) and its caching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub fh: u64,
    pub cache: Cache,
}

/// One item of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    pub ino: Ino,
    /// The offset at which the listing resumes after this item.
    pub next: u64,
    pub kind: Kind,
    pub name: &'a str,
}

/// What statfs(2) reports that depends on the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    /// 4 KiB blocks the tree holds.
    pub blocks: u64,
    /// Nodes.
    pub files: u64,
}

/// A read-only tree the kernel can walk. Inode 1 is the root; every method answers for the
/// tree's own inode numbers. Nothing here writes: the adapter refuses writes before they reach
/// the tree.
pub trait Filesystem: Send + Sync + 'static {
    /// Who owns the nodes without an owner of their own, and who may read.
    fn options(&self) -> FsOptions;

    /// One line about the tree for the log, when the kernel connects.
    fn describe(&self) -> String;

    /// `name` in directory `parent`.
    fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Lookup>;

    fn getattr(&self, ino: Ino) -> Result<Entry>;

    /// A symbolic link's target.
    fn readlink(&self, ino: Ino) -> Result<Vec<u8>>;

    /// Opens a file for reading (the adapter has checked the flags and the access rule).
    fn open(&self, ino: Ino) -> Result<Opened>;

    /// Up to `size` bytes at `offset` of the file open as `fh`, handed to `reply` (which copies
    /// them out): empty at or past the end.
    fn read<R>(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        size: u32,
        reply: impl FnOnce(&[u8]) -> R,
    ) -> Result<R>;

    /// The file open as `fh` is closed.
    fn release(&self, _ino: Ino, _fh: u64) {}

    /// Opens a directory for listing (the adapter has checked the access rule).
    fn opendir(&self, ino: Ino) -> Result<Opened>;

    /// The listing of directory `ino` (open as `fh`) from `offset` on, including `.` and `..`,
    /// one item at a time to `add` until it answers true (the reply is full).
    fn readdir(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        add: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> Result<()>;

    /// The directory open as `fh` is closed.
    fn releasedir(&self, _ino: Ino, _fh: u64) {}

    /// lseek(2) on the file open as `fh` (SEEK_DATA / SEEK_HOLE reach the tree).
    fn lseek(&self, ino: Ino, fh: u64, offset: i64, whence: i32) -> Result<u64>;

    fn statfs(&self, ino: Ino) -> Result<StatFs>;

    /// The value of extended attribute `name` (ckptfs shows none: `ENODATA` for a node).
    fn getxattr(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>>;

    /// The extended attributes' names, each NUL-terminated (none).
    fn listxattr(&self, ino: Ino) -> Result<Vec<u8>>;
}
