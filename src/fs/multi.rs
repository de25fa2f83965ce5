//! The FUSE adapter of a mount of a directory of checkpoints (`ckptfs mount DIR MOUNTPOINT` where
//! DIR holds checkpoints rather than being one):
//!
//! ```text
//! MOUNT/
//!   checkpoints                                  the table (render/catalog.rs), fresh at each open
//!   prod_web_nginx_2026-11-28T14:47:37Z/         one checkpoint's tree, as a mount of it alone
//!   checkpoint.tar.gz/                           (named by the file when its metadata cannot)
//! ```
//!
//! Inode numbers: 1 is the root, 2 the table; a checkpoint in slot `s` (see [`Collection`]) has
//! `s * SLOT_SPAN + n` for its tree's inode `n`, so its own adapter ([`CkptFs`] built with that
//! base) answers every request about it unchanged. The root's listing and a checkpoint's top
//! directory's attributes come from here and open nothing (until it is opened, the top directory
//! shows the file's time; from then on its tree's root): a checkpoint is opened by the first
//! request that needs its tree (a lookup or listing inside it), once.
//!
//! The root's entries are looked up with a short TTL and listed from a fresh scan at each
//! `opendir`, so checkpoints added to the directory appear and removed ones disappear.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType,
    Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner, OpenAccMode, OpenFlags,
    PollEvents, PollFlags, PollNotifier, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyPoll,
    ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use log::debug;

use super::collection::{Collection, Loader, Member, TABLE_NAME};
use super::fuse::{ErrorReply, Logged, answer, configure};
use super::{CkptFs, Error, FsOptions, Result};
use crate::render::catalog::{self, Row};
use crate::render::summary::checkpoint_sizes;

/// Inode numbers per checkpoint (a tree has far fewer).
pub const SLOT_SPAN: u64 = 1 << 40;

const ROOT: u64 = 1;
const TABLE: u64 = 2;

/// How long the kernel may cache the root's entries: checkpoints come and go.
const ROOT_TTL: Duration = Duration::from_secs(1);

/// How long the kernel may cache the table's attributes, and how long an `open` reads the text
/// whose size was last reported rather than a fresh one (the table changes as checkpoints open).
const TABLE_TTL: Duration = Duration::from_millis(250);

/// A lookup of an unknown name in the root rescans the directory if the last scan is older.
const RESCAN_AFTER: Duration = Duration::from_secs(1);

/// What an open handle of the root or the table holds.
enum Handle {
    /// The root's listing as the scan at `opendir` found it: (inode, kind, name).
    Listing(Vec<(u64, FileType, String)>),
    /// The table's text as rendered at `open`.
    Table(Arc<Vec<u8>>),
}

/// The mounted directory of checkpoints. Cheap to clone.
#[derive(Clone)]
pub struct MultiFs(Arc<Inner>);

pub struct Inner {
    col: Collection<CkptFs>,
    opts: FsOptions,
    /// The root's and the table's times.
    time: SystemTime,
    logged: Logged,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    /// The table's text as last reported (its size in an attribute): an `open` within the
    /// attribute TTL reads this one, so a reader that sized the file first (`tar`) reads exactly
    /// that many bytes even while checkpoints are being opened.
    table_shown: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl std::ops::Deref for MultiFs {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Which part of the mount an inode is.
enum Route {
    Root,
    Table,
    /// A checkpoint's top directory (its attributes are ours).
    Top(Arc<Member<CkptFs>>),
    /// Inside a checkpoint: its adapter answers.
    Inside(Arc<Member<CkptFs>>),
}

impl MultiFs {
    /// The mount of `dir` at `mountpoint`; `loader` opens a checkpoint given its path and inode
    /// base.
    pub fn new(dir: &Path, mountpoint: &Path, opts: FsOptions, loader: Loader<CkptFs>) -> MultiFs {
        MultiFs(Arc::new(Inner {
            col: Collection::new(dir.to_path_buf(), loader).excluding(mountpoint.to_path_buf()),
            opts,
            time: SystemTime::now(),
            logged: Logged::default(),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            table_shown: Mutex::new(None),
        }))
    }

    pub fn collection(&self) -> &Collection<CkptFs> {
        &self.col
    }

    /// Waits until every opened checkpoint's cache entry is recorded (before the daemon exits).
    pub fn wait_cache_recorded(&self) {
        for m in self.col.listing() {
            if let Some(fs) = m.opened() {
                fs.checkpoint().source.wait_cache_recorded();
            }
        }
    }

    fn route(&self, ino: INodeNo) -> Result<Route> {
        let (slot, n) = (ino.0 / SLOT_SPAN, ino.0 % SLOT_SPAN);
        match (slot, n) {
            (0, ROOT) => Ok(Route::Root),
            (0, TABLE) => Ok(Route::Table),
            (0, _) => Err(Error::NOENT),
            _ => {
                let m = self.col.by_slot(slot).ok_or(Error::NOENT)?;
                Ok(if n == super::ROOT_INO {
                    Route::Top(m)
                } else {
                    Route::Inside(m)
                })
            }
        }
    }

    /// `m`'s filesystem, opening it if this is the first request that needs it.
    fn open(&self, m: &Member<CkptFs>) -> Result<CkptFs> {
        self.col.open(m, m.slot * SLOT_SPAN).map_err(|why| {
            Error::logged(
                libc::EIO,
                m.path.display().to_string(),
                format!("{} ({}): cannot open: {why}", m.name, m.path.display()),
            )
        })
    }

    /// Runs `f` with the adapter of the checkpoint `ino` belongs to (opening it), or answers the
    /// error. `top` answers for a checkpoint's top directory when it must not open it.
    fn forward<R: ErrorReply>(&self, op: &str, ino: INodeNo, reply: R, f: impl FnOnce(&CkptFs, R)) {
        let fs = self.route(ino).and_then(|r| match r {
            Route::Top(m) | Route::Inside(m) => self.open(&m),
            Route::Root | Route::Table => Err(Error::INVAL),
        });
        match fs {
            Ok(fs) => f(&fs, reply),
            Err(e) => answer(&self.logged, op, reply, || Err::<(), _>(e), |_, ()| {}),
        }
    }

    fn attr(&self, ino: u64, kind: FileType, size: u64, time: SystemTime) -> FileAttr {
        let (dir, file) = if self.opts.allow_other {
            (0o555, 0o444)
        } else {
            (0o500, 0o400)
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: 0,
            atime: time,
            mtime: time,
            ctime: time,
            crtime: time,
            kind,
            perm: if kind == FileType::Directory {
                dir
            } else {
                file
            },
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.opts.uid,
            gid: self.opts.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// A checkpoint's top directory: once it is opened its tree's root (as a mount of it alone
    /// shows it), before that the directory entry's time.
    fn top_attr(&self, m: &Member<CkptFs>) -> FileAttr {
        if let Some(fs) = m.opened()
            && let Ok(a) = fs.file_attr(super::ROOT_INO)
        {
            return a;
        }
        self.attr(
            m.slot * SLOT_SPAN + super::ROOT_INO,
            FileType::Directory,
            0,
            m.mtime,
        )
    }

    /// The table's text now.
    pub fn table(&self) -> Vec<u8> {
        let listing = self.col.listing();
        let rows: Vec<Row<'_>> = listing
            .iter()
            .map(|m| Row {
                name: &m.name,
                listed: &m.listed,
                meta: m
                    .opened()
                    .map_or(&m.listed.meta, |fs| &fs.checkpoint().meta),
                sizes: m.opened().map(|fs| {
                    let s = checkpoint_sizes(fs.checkpoint());
                    (s.images, s.root_fs_diff)
                }),
                time: m.opened().map(|fs| fs.checkpoint().time),
                state: m.state(),
            })
            .collect();
        catalog::table(&rows).into_bytes()
    }

    /// The table's text: rendered now (`fresh`), or the one last reported if younger than
    /// [`TABLE_TTL`] (so a reader that sized it, like `tar`, reads what it sized).
    fn table_snapshot(&self, fresh: bool) -> Arc<Vec<u8>> {
        let mut last = self.table_shown.lock().unwrap_or_else(|p| p.into_inner());
        if !fresh
            && let Some((at, text)) = last.as_ref()
            && at.elapsed() < TABLE_TTL
        {
            return text.clone();
        }
        let text = Arc::new(self.table());
        *last = Some((Instant::now(), text.clone()));
        text
    }

    fn table_attr(&self) -> FileAttr {
        let size = self.table_snapshot(true).len() as u64;
        self.attr(TABLE, FileType::RegularFile, size, self.time)
    }

    fn new_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut hs) = self.handles.lock() {
            hs.insert(fh, h);
        }
        fh
    }

    fn drop_handle(&self, fh: FileHandle) {
        if let Ok(mut hs) = self.handles.lock() {
            hs.remove(&fh.0);
        }
    }

    /// The access rule of [`CkptFs`]: the mounting user, or everyone with `--allow-other`.
    fn allowed(&self, req: &Request) -> Result<()> {
        if self.opts.allow_other || req.uid() == self.opts.uid {
            Ok(())
        } else {
            Err(Error::ACCES)
        }
    }

    fn lookup_root(&self, name: &[u8]) -> Result<Option<FileAttr>> {
        let Ok(name) = std::str::from_utf8(name) else {
            return Ok(None);
        };
        match name {
            "." | ".." => return Ok(Some(self.attr(ROOT, FileType::Directory, 0, self.time))),
            TABLE_NAME => return Ok(Some(self.table_attr())),
            _ => {}
        }
        let m = match self.col.by_name(name) {
            Some(m) => Some(m),
            None => {
                self.col.refresh(RESCAN_AFTER);
                self.col.by_name(name)
            }
        };
        Ok(m.map(|m| self.top_attr(&m)))
    }

    fn root_listing(&self) -> Vec<(u64, FileType, String)> {
        self.col.scan();
        let mut v = vec![
            (ROOT, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
            (TABLE, FileType::RegularFile, TABLE_NAME.to_string()),
        ];
        v.extend(self.col.listing().iter().map(|m| {
            (
                m.slot * SLOT_SPAN + super::ROOT_INO,
                FileType::Directory,
                m.name.clone(),
            )
        }));
        v
    }
}

impl Filesystem for MultiFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let ra = configure(config);
        debug!(
            "init: max_readahead {ra}, directory {}",
            self.col.dir().display()
        );
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent.0 == ROOT {
            return answer(
                &self.logged,
                "lookup",
                reply,
                || self.lookup_root(name.as_bytes()),
                |r, a| match a {
                    Some(a) if a.ino.0 == TABLE => r.entry(&TABLE_TTL, &a, Generation(0)),
                    Some(a) => r.entry(&ROOT_TTL, &a, Generation(0)),
                    None => r.error(Errno::ENOENT),
                },
            );
        }
        self.forward("lookup", parent, reply, |fs, r| {
            fs.lookup(req, parent, name, r)
        });
    }

    fn getattr(&self, req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.route(ino) {
            Ok(Route::Root) => reply.attr(
                &ROOT_TTL,
                &self.attr(ROOT, FileType::Directory, 0, self.time),
            ),
            Ok(Route::Table) => reply.attr(&TABLE_TTL, &self.table_attr()),
            Ok(Route::Top(m)) => reply.attr(&ROOT_TTL, &self.top_attr(&m)),
            Ok(Route::Inside(_)) => {
                self.forward("getattr", ino, reply, |fs, r| fs.getattr(req, ino, fh, r))
            }
            Err(e) => answer(
                &self.logged,
                "getattr",
                reply,
                || Err::<(), _>(e),
                |_, ()| {},
            ),
        }
    }

    fn readlink(&self, req: &Request, ino: INodeNo, reply: ReplyData) {
        self.forward("readlink", ino, reply, |fs, r| fs.readlink(req, ino, r));
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match ino.0 {
            ROOT => reply.error(Errno::EISDIR),
            TABLE => answer(
                &self.logged,
                "open",
                reply,
                || {
                    if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
                        return Err(Error::ROFS);
                    }
                    self.allowed(req)?;
                    Ok(self.new_handle(Handle::Table(self.table_snapshot(false))))
                },
                // Rendered afresh at each open (states change): no page cache.
                |r, fh| r.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            ),
            _ => self.forward("open", ino, reply, |fs, r| fs.open(req, ino, flags, r)),
        }
    }

    fn read(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        if ino.0 != TABLE {
            return self.forward("read", ino, reply, |fs, r| {
                fs.read(req, ino, fh, offset, size, flags, lock_owner, r)
            });
        }
        let text = match self.handles.lock().ok().and_then(|hs| match hs.get(&fh.0) {
            Some(Handle::Table(t)) => Some(t.clone()),
            _ => None,
        }) {
            Some(t) => t,
            None => return reply.error(Errno::EBADF),
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(text.len());
        let end = start.saturating_add(size as usize).min(text.len());
        reply.data(&text[start..end]);
    }

    fn release(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        flush: bool,
        reply: ReplyEmpty,
    ) {
        if ino.0 == TABLE {
            self.drop_handle(fh);
            return reply.ok();
        }
        self.forward("release", ino, reply, |fs, r| {
            fs.release(req, ino, fh, flags, lock_owner, flush, r)
        });
    }

    fn opendir(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match ino.0 {
            ROOT => answer(
                &self.logged,
                "opendir",
                reply,
                || {
                    self.allowed(req)?;
                    Ok(self.new_handle(Handle::Listing(self.root_listing())))
                },
                // Listed afresh at each opendir: no directory cache.
                |r, fh| r.opened(FileHandle(fh), FopenFlags::empty()),
            ),
            TABLE => reply.error(Errno::ENOTDIR),
            _ => self.forward("opendir", ino, reply, |fs, r| {
                fs.opendir(req, ino, flags, r)
            }),
        }
    }

    fn readdir(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino.0 != ROOT {
            return self.forward("readdir", ino, reply, |fs, r| {
                fs.readdir(req, ino, fh, offset, r)
            });
        }
        let hs = match self.handles.lock() {
            Ok(hs) => hs,
            Err(_) => return reply.error(Errno::EIO),
        };
        let Some(Handle::Listing(entries)) = hs.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (child, kind, name)) in entries.iter().enumerate().skip(skip) {
            if reply.add(INodeNo(*child), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        if ino.0 == ROOT {
            self.drop_handle(fh);
            return reply.ok();
        }
        self.forward("releasedir", ino, reply, |fs, r| {
            fs.releasedir(req, ino, fh, flags, r)
        });
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let blocks: u64 = self
            .col
            .listing()
            .iter()
            .filter_map(|m| std::fs::metadata(&m.path).ok())
            .map(|md| md.len().div_ceil(4096))
            .sum();
        reply.statfs(blocks, 0, 0, 0, 0, 4096, 255, 4096);
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        let top = match self.route(ino) {
            Ok(Route::Inside(_)) => false,
            Ok(Route::Root | Route::Table | Route::Top(_)) => true,
            Err(e) => {
                return answer(
                    &self.logged,
                    "access",
                    reply,
                    || Err::<(), _>(e),
                    |_, ()| {},
                );
            }
        };
        if !top {
            return self.forward("access", ino, reply, |fs, r| fs.access(req, ino, mask, r));
        }
        answer(
            &self.logged,
            "access",
            reply,
            || {
                if mask.contains(AccessFlags::W_OK) {
                    return Err(Error::ROFS);
                }
                self.allowed(req)?;
                if mask.contains(AccessFlags::X_OK) && ino.0 == TABLE {
                    return Err(Error::ACCES);
                }
                Ok(())
            },
            |r, ()| r.ok(),
        );
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        if ino.0 / SLOT_SPAN == 0 || ino.0 % SLOT_SPAN == super::ROOT_INO {
            return reply.error(Errno::ENODATA);
        }
        self.forward("getxattr", ino, reply, |fs, r| {
            fs.getxattr(req, ino, name, size, r)
        });
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        if ino.0 / SLOT_SPAN == 0 || ino.0 % SLOT_SPAN == super::ROOT_INO {
            return if size == 0 {
                reply.size(0)
            } else {
                reply.data(&[])
            };
        }
        self.forward("listxattr", ino, reply, |fs, r| {
            fs.listxattr(req, ino, size, r)
        });
    }

    fn lseek(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        if ino.0 / SLOT_SPAN == 0 {
            return reply.error(Errno::EINVAL);
        }
        self.forward("lseek", ino, reply, |fs, r| {
            fs.lseek(req, ino, fh, offset, whence, r)
        });
    }

    fixed_handlers!();
}
