//! A mount of a directory of checkpoints (`ckptfs mount DIR MOUNTPOINT` where DIR holds
//! checkpoints rather than being one): [`DirectoryFs`], a [`Filesystem`] whose members are each
//! served by the [`CkptFs`] a mount of that checkpoint alone would serve.
//!
//! ```text
//! MOUNT/
//!   checkpoints                                  the table (render/catalog.rs), fresh at each open
//!   prod_web_nginx_2026-11-28T14:47:37Z/         one checkpoint's tree, as a mount of it alone
//!   checkpoint.tar.gz/                           (named by the file when its metadata cannot)
//! ```
//!
//! Inode numbers: 1 is the root, 2 the table; a checkpoint in slot `s` (see [`Collection`]) has
//! `s * SLOT_SPAN + n` for its tree's inode `n`. Only this file knows that: a request inside a
//! member is handed to the member's tree with the member's own inode numbers, and the answer's
//! inode numbers are moved back into the member's slot.
//!
//! The root's listing and a checkpoint's top directory's attributes come from here and open
//! nothing: a checkpoint is opened by the first request that needs its tree (a lookup, listing or
//! open inside it), once. The top directory has the tree root's type, mode and owner, and the
//! file's time and a link count of 2 whether or not the checkpoint is opened (attributes that
//! changed at the opening would make `tar` report the directory as changed while it read it).
//!
//! The root's entries are looked up with a short TTL and listed from a fresh scan at each
//! `opendir`, so checkpoints added to the directory appear and removed ones disappear.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::collection::{Collection, Loader, Member, TABLE_NAME};
use super::filesystem::{
    Attributes, Cache, DirEntry, Entry, Filesystem, FsOptions, Lookup, Opened, StatFs,
};
use super::single::CkptFs;
use super::tree::{Ino, Kind, ROOT_INO};
use super::{Detail, Error, Result};
use crate::render::catalog::{self, Row};
use crate::render::summary::checkpoint_sizes;

/// Inode numbers per checkpoint (a tree has far fewer).
pub const SLOT_SPAN: u64 = 1 << 40;

const ROOT: Ino = ROOT_INO;
const TABLE: Ino = 2;

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
    Listing(Vec<(Ino, Kind, String)>),
    /// The table's text as rendered at `open`.
    Table(Arc<Vec<u8>>),
}

/// The mounted directory of checkpoints. Cheap to clone.
#[derive(Clone)]
pub struct DirectoryFs(Arc<Inner>);

pub struct Inner {
    col: Collection<CkptFs>,
    opts: FsOptions,
    /// The root's and the table's times.
    time: SystemTime,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    /// The table's text as last reported (its size in an attribute): an `open` within the
    /// attribute TTL reads this one, so a reader that sized the file first (`tar`) reads exactly
    /// that many bytes even while checkpoints are being opened.
    table_shown: Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl std::ops::Deref for DirectoryFs {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Which part of the mount an inode is.
enum Route {
    Root,
    Table,
    /// A checkpoint's tree, at its own inode `n` (`ROOT_INO`: its top directory).
    Member(Arc<Member<CkptFs>>, Ino),
}

/// The mount's inode number of a member's inode `n`.
fn global(m: &Member<CkptFs>, n: Ino) -> Ino {
    m.slot * SLOT_SPAN + n
}

impl DirectoryFs {
    /// The mount of `dir` at `mountpoint` (never listed as a member); `loader` opens a
    /// checkpoint given its path, as a mount of it alone would.
    pub fn new(
        dir: &Path,
        mountpoint: &Path,
        opts: FsOptions,
        loader: Loader<CkptFs>,
    ) -> DirectoryFs {
        DirectoryFs(Arc::new(Inner {
            col: Collection::new(dir.to_path_buf(), loader).excluding(mountpoint.to_path_buf()),
            opts,
            time: SystemTime::now(),
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

    fn route(&self, ino: Ino) -> Result<Route> {
        match (ino / SLOT_SPAN, ino % SLOT_SPAN) {
            (0, ROOT) => Ok(Route::Root),
            (0, TABLE) => Ok(Route::Table),
            (0, _) | (_, 0) => Err(Error::NOENT),
            (slot, n) => {
                let m = self.col.by_slot(slot).ok_or(Error::NOENT)?;
                Ok(Route::Member(m, n))
            }
        }
    }

    /// `m`'s tree, opening it if this is the first request that needs it.
    fn open_member(&self, m: &Member<CkptFs>) -> Result<CkptFs> {
        self.col.open(m).map_err(|why| {
            Error::logged(
                libc::EIO,
                m.path.display().to_string(),
                format!("{} ({}): cannot open: {why}", m.name, m.path.display()),
            )
        })
    }

    /// Runs `f` on `m`'s tree (opening it); an error it logs names the checkpoint.
    fn inside<T>(&self, m: &Member<CkptFs>, f: impl FnOnce(&CkptFs) -> Result<T>) -> Result<T> {
        let fs = self.open_member(m)?;
        f(&fs).map_err(|e| Error {
            errno: e.errno,
            detail: e.detail.map(|d| Detail {
                key: format!("{}/{}", m.slot, d.key),
                msg: format!("{}: {}", m.name, d.msg),
            }),
        })
    }

    /// Attributes of the directory's own nodes (the root, the table, an unopened member's top).
    fn own_attr(&self, ino: Ino, kind: Kind, size: u64, time: SystemTime) -> Attributes {
        Attributes {
            ino,
            kind,
            size,
            blocks: 0,
            perm: self.opts.perm(kind),
            nlink: if kind == Kind::Dir { 2 } else { 1 },
            uid: self.opts.uid,
            gid: self.opts.gid,
            mtime: time,
            time,
        }
    }

    /// A checkpoint's top directory, the same before and after it is opened: the file's time.
    fn top_attr(&self, m: &Member<CkptFs>) -> Attributes {
        self.own_attr(global(m, ROOT_INO), Kind::Dir, 0, m.mtime)
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
        let lock = || self.table_shown.lock().unwrap_or_else(|p| p.into_inner());
        if !fresh
            && let Some((at, text)) = lock().as_ref()
            && at.elapsed() < TABLE_TTL
        {
            return text.clone();
        }
        // The directory as it is now (a table read before any listing lists the checkpoints);
        // no lock held meanwhile: describing an entry may come back into this mount.
        self.col.refresh(RESCAN_AFTER);
        let text = Arc::new(self.table());
        *lock() = Some((Instant::now(), text.clone()));
        text
    }

    fn table_attr(&self) -> Attributes {
        let size = self.table_snapshot(true).len() as u64;
        self.own_attr(TABLE, Kind::File, size, self.time)
    }

    fn new_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut hs) = self.handles.lock() {
            hs.insert(fh, h);
        }
        fh
    }

    fn drop_handle(&self, fh: u64) {
        if let Ok(mut hs) = self.handles.lock() {
            hs.remove(&fh);
        }
    }

    fn lookup_root(&self, name: &[u8]) -> Result<Lookup> {
        let Ok(name) = std::str::from_utf8(name) else {
            return Err(Error::NOENT);
        };
        let found = |attr, ttl| Ok(Lookup::Found(Entry { attr, ttl }));
        match name {
            "." | ".." => return found(self.own_attr(ROOT, Kind::Dir, 0, self.time), ROOT_TTL),
            TABLE_NAME => return found(self.table_attr(), TABLE_TTL),
            _ => {}
        }
        let m = match self.col.by_name(name) {
            Some(m) => m,
            None => {
                self.col.refresh(RESCAN_AFTER);
                self.col.by_name(name).ok_or(Error::NOENT)?
            }
        };
        found(self.top_attr(&m), ROOT_TTL)
    }

    fn root_listing(&self) -> Vec<(Ino, Kind, String)> {
        self.col.scan();
        let mut v = vec![
            (ROOT, Kind::Dir, ".".to_string()),
            (ROOT, Kind::Dir, "..".to_string()),
            (TABLE, Kind::File, TABLE_NAME.to_string()),
        ];
        v.extend(
            self.col
                .listing()
                .iter()
                .map(|m| (global(m, ROOT_INO), Kind::Dir, m.name.clone())),
        );
        v
    }
}

impl Filesystem for DirectoryFs {
    fn options(&self) -> FsOptions {
        self.opts
    }

    fn describe(&self) -> String {
        format!("directory {}", self.col.dir().display())
    }

    fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Lookup> {
        match self.route(parent)? {
            Route::Root => self.lookup_root(name),
            Route::Table => Err(Error::NOTDIR),
            Route::Member(m, n) => self.inside(&m, |fs| {
                Ok(match fs.lookup(n, name)? {
                    Lookup::Found(mut e) => {
                        e.attr.ino = global(&m, e.attr.ino);
                        Lookup::Found(e)
                    }
                    absent => absent,
                })
            }),
        }
    }

    fn getattr(&self, ino: Ino) -> Result<Entry> {
        let (attr, ttl) = match self.route(ino)? {
            Route::Root => (self.own_attr(ROOT, Kind::Dir, 0, self.time), ROOT_TTL),
            Route::Table => (self.table_attr(), TABLE_TTL),
            // Without opening it: `ls -l MOUNT` opens nothing.
            Route::Member(m, ROOT_INO) => (self.top_attr(&m), ROOT_TTL),
            Route::Member(m, n) => {
                let mut e = self.inside(&m, |fs| fs.getattr(n))?;
                e.attr.ino = global(&m, e.attr.ino);
                return Ok(e);
            }
        };
        Ok(Entry { attr, ttl })
    }

    fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        match self.route(ino)? {
            Route::Root | Route::Table => Err(Error::INVAL),
            Route::Member(m, n) => self.inside(&m, |fs| fs.readlink(n)),
        }
    }

    fn open(&self, ino: Ino) -> Result<Opened> {
        match self.route(ino)? {
            Route::Root => Err(Error::ISDIR),
            // Rendered afresh at each open (states change): no page cache.
            Route::Table => Ok(Opened {
                fh: self.new_handle(Handle::Table(self.table_snapshot(false))),
                cache: Cache::Direct,
            }),
            Route::Member(m, n) => self.inside(&m, |fs| fs.open(n)),
        }
    }

    fn read<R>(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        size: u32,
        reply: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        match self.route(ino)? {
            Route::Root => Err(Error::ISDIR),
            Route::Table => {
                let text = match self.handles.lock().ok().and_then(|hs| match hs.get(&fh) {
                    Some(Handle::Table(t)) => Some(t.clone()),
                    _ => None,
                }) {
                    Some(t) => t,
                    None => return Err(Error::errno(libc::EBADF)),
                };
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(text.len());
                let end = start.saturating_add(size as usize).min(text.len());
                Ok(reply(&text[start..end]))
            }
            Route::Member(m, n) => self.inside(&m, |fs| fs.read(n, fh, offset, size, reply)),
        }
    }

    fn release(&self, ino: Ino, fh: u64) {
        match self.route(ino) {
            Ok(Route::Table) => self.drop_handle(fh),
            Ok(Route::Member(m, n)) => {
                if let Some(fs) = m.opened() {
                    fs.release(n, fh);
                }
            }
            Ok(Route::Root) | Err(_) => {}
        }
    }

    fn opendir(&self, ino: Ino) -> Result<Opened> {
        match self.route(ino)? {
            // Listed afresh at each opendir: no directory cache.
            Route::Root => Ok(Opened {
                fh: self.new_handle(Handle::Listing(self.root_listing())),
                cache: Cache::Fresh,
            }),
            Route::Table => Err(Error::NOTDIR),
            Route::Member(m, n) => self.inside(&m, |fs| fs.opendir(n)),
        }
    }

    fn readdir(
        &self,
        ino: Ino,
        fh: u64,
        offset: u64,
        add: &mut dyn FnMut(DirEntry<'_>) -> bool,
    ) -> Result<()> {
        match self.route(ino)? {
            Route::Root => {
                let hs = self.handles.lock().map_err(|_| Error::errno(libc::EIO))?;
                let Some(Handle::Listing(entries)) = hs.get(&fh) else {
                    return Err(Error::errno(libc::EBADF));
                };
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                for (i, (child, kind, name)) in entries.iter().enumerate().skip(skip) {
                    let e = DirEntry {
                        ino: *child,
                        next: i as u64 + 1,
                        kind: *kind,
                        name,
                    };
                    if add(e) {
                        break;
                    }
                }
                Ok(())
            }
            Route::Table => Err(Error::NOTDIR),
            Route::Member(m, n) => self.inside(&m, |fs| {
                fs.readdir(n, fh, offset, &mut |mut e| {
                    // The top directory's parent is the mount's root.
                    e.ino = if n == ROOT_INO && e.name == ".." {
                        ROOT
                    } else {
                        global(&m, e.ino)
                    };
                    add(e)
                })
            }),
        }
    }

    fn releasedir(&self, ino: Ino, fh: u64) {
        match self.route(ino) {
            Ok(Route::Root) => self.drop_handle(fh),
            Ok(Route::Member(m, n)) => {
                if let Some(fs) = m.opened() {
                    fs.releasedir(n, fh);
                }
            }
            Ok(Route::Table) | Err(_) => {}
        }
    }

    fn lseek(&self, ino: Ino, fh: u64, offset: i64, whence: i32) -> Result<u64> {
        match self.route(ino)? {
            Route::Root | Route::Table => Err(Error::INVAL),
            Route::Member(m, n) => self.inside(&m, |fs| fs.lseek(n, fh, offset, whence)),
        }
    }

    /// The whole mount's: the checkpoints' files' sizes.
    fn statfs(&self, _ino: Ino) -> Result<StatFs> {
        let blocks: u64 = self
            .col
            .listing()
            .iter()
            .filter_map(|m| std::fs::metadata(&m.path).ok())
            .map(|md| md.len().div_ceil(4096))
            .sum();
        Ok(StatFs { blocks, files: 0 })
    }

    fn getxattr(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>> {
        match self.route(ino)? {
            Route::Member(m, n) if n != ROOT_INO => self.inside(&m, |fs| fs.getxattr(n, name)),
            _ => Err(Error::errno(libc::ENODATA)),
        }
    }

    fn listxattr(&self, ino: Ino) -> Result<Vec<u8>> {
        match self.route(ino)? {
            Route::Member(m, n) if n != ROOT_INO => self.inside(&m, |fs| fs.listxattr(n)),
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::filesystem::STABLE_TTL;
    use crate::fs::single::tests::sample;
    use crate::render::catalog::State;

    /// A plain CRIU image directory `name` under `dir` (enough to be listed).
    fn image_dir(dir: &Path, name: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("inventory.img"), b"x").unwrap();
        std::fs::write(p.join("pstree.img"), b"x").unwrap();
    }

    const OPTS: FsOptions = FsOptions {
        uid: 1234,
        gid: 99,
        allow_other: false,
    };

    /// A directory holding `a`, `b` (each opened as [`sample`]) and `broken` (fails to open).
    fn directory() -> (tempfile::TempDir, DirectoryFs) {
        let tmp = tempfile::tempdir().unwrap();
        for n in ["a", "b", "broken"] {
            image_dir(tmp.path(), n);
        }
        let fs = DirectoryFs::new(
            tmp.path(),
            &tmp.path().join("mnt"),
            OPTS,
            Box::new(|p| {
                if p.ends_with("broken") {
                    Err("pstree.img: truncated".into())
                } else {
                    Ok(sample().0)
                }
            }),
        );
        (tmp, fs)
    }

    fn listing(fs: &impl Filesystem, ino: Ino, fh: u64) -> Vec<(String, Ino, Kind)> {
        let mut out = Vec::new();
        fs.readdir(ino, fh, 0, &mut |e| {
            out.push((e.name.to_string(), e.ino, e.kind));
            false
        })
        .unwrap();
        out
    }

    fn found(l: Lookup) -> Entry {
        match l {
            Lookup::Found(e) => e,
            l => panic!("{l:?}"),
        }
    }

    #[test]
    fn root_lists_members_without_opening_them() {
        let (_tmp, fs) = directory();
        let root = fs.getattr(ROOT).unwrap();
        assert_eq!(
            (root.attr.kind, root.attr.perm, root.attr.uid, root.ttl),
            (Kind::Dir, 0o500, 1234, ROOT_TTL)
        );
        let dir = fs.opendir(ROOT).unwrap();
        assert_eq!(dir.cache, Cache::Fresh);
        let names: Vec<(String, Kind)> = listing(&fs, ROOT, dir.fh)
            .into_iter()
            .map(|(n, _, k)| (n, k))
            .collect();
        let want = [
            (".", Kind::Dir),
            ("..", Kind::Dir),
            (TABLE_NAME, Kind::File),
            ("a", Kind::Dir),
            ("b", Kind::Dir),
            ("broken", Kind::Dir),
        ];
        assert_eq!(
            names,
            want.map(|(n, k)| (n.to_string(), k)),
            "the root's listing"
        );
        // Resumed from an offset, with the handle of that opendir.
        let mut rest = Vec::new();
        fs.readdir(ROOT, dir.fh, 4, &mut |e| {
            rest.push(e.name.to_string());
            false
        })
        .unwrap();
        assert_eq!(rest, ["b", "broken"]);
        fs.releasedir(ROOT, dir.fh);
        assert_eq!(
            fs.readdir(ROOT, dir.fh, 0, &mut |_| false)
                .unwrap_err()
                .errno,
            libc::EBADF
        );
        // A top directory by name and by inode, no extended attributes: nothing opened.
        let a = found(fs.lookup(ROOT, b"a").unwrap());
        let m = fs.collection().by_name("a").unwrap();
        assert_eq!(a.attr.ino, m.slot * SLOT_SPAN + ROOT_INO);
        assert_eq!(
            (a.attr.kind, a.attr.mtime, a.ttl),
            (Kind::Dir, m.mtime, ROOT_TTL)
        );
        assert_eq!(fs.getattr(a.attr.ino).unwrap(), a);
        assert_eq!(
            fs.getxattr(a.attr.ino, b"user.x").unwrap_err().errno,
            libc::ENODATA
        );
        assert_eq!(fs.listxattr(a.attr.ino).unwrap(), b"");
        assert!(
            fs.collection()
                .listing()
                .iter()
                .all(|m| m.state() == State::NotOpened)
        );
        // An unknown name is not remembered (it may appear); inodes of nothing are not found.
        assert_eq!(fs.lookup(ROOT, b"c").unwrap_err(), Error::NOENT);
        assert_eq!(fs.lookup(ROOT, b"\xff").unwrap_err(), Error::NOENT);
        for ino in [0, 3, 99 * SLOT_SPAN + 1, m.slot * SLOT_SPAN] {
            assert_eq!(fs.getattr(ino).unwrap_err(), Error::NOENT, "{ino}");
        }
        assert_eq!(fs.statfs(ROOT).unwrap().files, 0);
    }

    #[test]
    fn a_member_is_its_single_tree() {
        let (_tmp, fs) = directory();
        let (alone, data) = sample();
        let top = found(fs.lookup(ROOT, b"a").unwrap()).attr.ino;
        let base = top - ROOT_INO;
        // Inside: opened by the first lookup, then every node as the tree alone shows it, its
        // inode moved into the member's slot. The top directory too, now that it is opened.
        let pid = found(fs.lookup(top, b"7").unwrap());
        let m = fs.collection().by_name("a").unwrap();
        assert_eq!(m.state(), State::Opened);
        assert_eq!(pid.attr.ino - base, alone.tree().resolve("/7").unwrap());
        for n in 2..=alone.tree().len() as Ino {
            let mut want = alone.getattr(n).unwrap().attr;
            want.ino += base;
            assert_eq!(fs.getattr(base + n).unwrap().attr, want, "inode {n}");
        }
        // The top directory: the root's type, mode and owner; the file's time, as before opening.
        let (t, root) = (
            fs.getattr(top).unwrap(),
            alone.getattr(ROOT_INO).unwrap().attr,
        );
        assert_eq!(
            (
                t.attr.kind,
                t.attr.perm,
                t.attr.uid,
                t.attr.gid,
                t.attr.size
            ),
            (root.kind, root.perm, root.uid, root.gid, root.size)
        );
        assert_eq!(
            (t.attr.mtime, t.attr.time, t.ttl),
            (m.mtime, m.mtime, ROOT_TTL)
        );
        assert_eq!(fs.lookup(top, b"8").unwrap(), Lookup::Absent(STABLE_TTL));
        // Listings: the tree's, moved; the top's parent is the mount's root.
        let inside = listing(&fs, top, fs.opendir(top).unwrap().fh);
        let want: Vec<(String, Ino, Kind)> = listing(&alone, ROOT_INO, 0)
            .into_iter()
            .map(|(name, ino, k)| {
                let ino = if name == ".." { ROOT } else { ino + base };
                (name, ino, k)
            })
            .collect();
        assert_eq!(inside, want);
        // Reads, links, seeks and refusals: the tree's own answers.
        let range = base + alone.tree().resolve("/7/memory/00010000-00014000").unwrap();
        assert_eq!(fs.open(range).unwrap(), alone.open(range - base).unwrap());
        let got = fs.read(range, 0, 0x10, 4, <[u8]>::to_vec).unwrap();
        assert_eq!(got, data.bytes()[0x10..0x14]);
        assert_eq!(fs.lseek(range, 0, 0, libc::SEEK_HOLE).unwrap(), 0x3000);
        let mem = base + alone.tree().resolve("/7/mem").unwrap();
        assert_eq!(fs.readlink(mem).unwrap(), b"../.link/7/mem");
        assert_eq!(fs.open(mem).unwrap_err().errno, libc::ELOOP);
        assert_eq!(fs.open(top).unwrap_err(), Error::ISDIR);
        assert_eq!(
            fs.getxattr(range, b"user.x").unwrap_err().errno,
            libc::ENODATA
        );
        // A logged error inside names the checkpoint.
        let environ = base + alone.tree().resolve("/7/environ").unwrap();
        let e = fs.open(environ).unwrap_err();
        assert_eq!(e.errno, libc::EIO);
        assert!(e.detail.unwrap().msg.starts_with("a: 7/environ"));
        // The other member is still unopened; the broken one answers EIO, naming itself.
        assert_eq!(
            fs.collection().by_name("b").unwrap().state(),
            State::NotOpened
        );
        let broken = found(fs.lookup(ROOT, b"broken").unwrap()).attr.ino;
        let e = fs.lookup(broken, b"7").unwrap_err();
        assert_eq!(e.errno, libc::EIO);
        let msg = e.detail.unwrap().msg;
        assert!(
            msg.contains("broken") && msg.contains("pstree.img: truncated"),
            "{msg}"
        );
        assert_eq!(fs.getattr(broken).unwrap().attr.kind, Kind::Dir);
    }

    #[test]
    fn the_table_reads_what_its_open_rendered() {
        let (_tmp, fs) = directory();
        let t = found(fs.lookup(ROOT, TABLE_NAME.as_bytes()).unwrap());
        assert_eq!(
            (t.attr.ino, t.attr.kind, t.attr.perm),
            (TABLE, Kind::File, 0o400)
        );
        assert_eq!(t.ttl, TABLE_TTL);
        let o = fs.open(TABLE).unwrap();
        assert_eq!(o.cache, Cache::Direct);
        let text = fs.read(TABLE, o.fh, 0, 1 << 20, <[u8]>::to_vec).unwrap();
        assert_eq!(text.len() as u64, t.attr.size);
        let text = String::from_utf8(text).unwrap();
        assert!(text.lines().any(|l| l.starts_with("a ")), "{text}");
        let tail = fs.read(TABLE, o.fh, 5, 3, <[u8]>::to_vec).unwrap();
        assert_eq!(tail, text.as_bytes()[5..8]);
        fs.release(TABLE, o.fh);
        assert_eq!(
            fs.read(TABLE, o.fh, 0, 1, |_| ()).unwrap_err().errno,
            libc::EBADF
        );
        assert_eq!(fs.opendir(TABLE).unwrap_err(), Error::NOTDIR);
        assert_eq!(fs.lookup(TABLE, b"x").unwrap_err(), Error::NOTDIR);
        assert_eq!(fs.open(ROOT).unwrap_err(), Error::ISDIR);
        assert_eq!(
            fs.lseek(TABLE, o.fh, 0, libc::SEEK_DATA).unwrap_err(),
            Error::INVAL
        );
    }
}
