//! The inode table: every directory, file and link of the mount, built once from the model.
//!
//! Pure (no FUSE types). [`layout`] decides which node goes where and [`builder`] numbers them as
//! they are added: inode `n` is `nodes[n - 1]`; the root is [`ROOT_INO`]. The same checkpoint
//! mounted by the same version of ckptfs gets the same inode numbers; another version may
//! number the nodes differently (what tools need, `find -inum`, `tar` and `rsync -H` finding
//! hard links, is stability within one mount).
//!
//! Directory listings are sorted: names that are decimal numbers (PIDs, fds, TIDs) numerically
//! after the other names, which sort bytewise; `memory/` keeps address order.

mod builder;
mod layout;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::SystemTime;

use super::content::Content;
use super::{Error, Result};
use crate::model::Checkpoint;
use crate::warning::Warnings;

pub use layout::{Parts, file_link, inside_rootfs, link_target, shown_decoded};

/// An inode number.
pub type Ino = u64;

/// The root directory's inode number.
pub const ROOT_INO: Ino = 1;

/// The kinds of node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Link,
    /// A named pipe of `rootfs/` (the kernel opens it itself: it never reaches the adapter).
    Fifo,
    /// A device node of `rootfs/` with its number (`new_encode_dev`): the mount is `nodev`, so
    /// the kernel refuses to open it.
    CharDevice(u32),
    BlockDevice(u32),
}

/// The permission bits of a node ckptfs makes up (not a layer's file): r-x for directories, r--
/// for the rest, for the owner only or (`public`: `--allow-other`) for everyone.
pub fn made_up_perm(kind: Kind, public: bool) -> u16 {
    match (kind, public) {
        (Kind::Dir, true) => 0o555,
        (Kind::Dir, false) => 0o500,
        (_, true) => 0o444,
        (_, false) => 0o400,
    }
}

/// One directory entry.
#[derive(Debug)]
pub struct Entry {
    pub name: Box<str>,
    pub ino: Ino,
    /// Found by lookups, left out of listings (see [`LINK_DIR`]).
    pub hidden: bool,
}

/// The hidden top-level directory that the tree's links point into: `.link/PID/mem`, `core`,
/// `pagemap`, `memory/<range>` and `.link/rootfs/` (the same files as `rootfs/`). Lookups reach it,
/// listings do not show it, and its regular files are served like procfs's (size 0, read by
/// offset: [`Content::Procfs`]), except `core`, which has its real size.
///
/// Why: the whole-address-space files (`mem` is 128 TiB, `pagemap` 256 GiB) and every other way
/// to reach the same bytes twice (`core`, `fd/N` / `cwd` / `exe` / `root` into `rootfs/`, a
/// shared mapping seen from a second process) must not trap or repeat a recursive walk. Recursive
/// tools (`grep -r`, `rg`, `cp -r`, `tar`, `rsync -a`, `find`, `du`) do not follow symlinks, and
/// do not see `.link/`; yara follows symlinks, but it sizes a file before scanning it and finds
/// size 0 there. Walks that follow links (`grep -R`, `find -L`) reach `mem` and `pagemap`, whose
/// unmapped addresses answer `EIO` at once (as `/proc/PID/mem` does), and never `core`: the link
/// `PID/core` is not listed (found by name only), so its target can report its real size, which
/// `readelf` needs. Opening a link by path (`xxd -s ADDR 1/mem`, `gdb -c 1/core`,
/// `readelf -n 1/core`, `sha256sum 1/exe`) reads the whole file as before.
pub const LINK_DIR: &str = ".link";

/// How a directory lists its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// Non-numeric names bytewise, then decimal names numerically.
    Natural,
    /// As inserted (used for `memory/`, built in address order).
    Insertion,
}

/// A directory: entries in listing order, plus an index sorted by name for lookups.
#[derive(Debug)]
pub struct Dir {
    entries: Vec<Entry>,
    by_name: Vec<u32>,
    subdirs: u32,
    order: Order,
    /// A `rootfs/` directory that its layer records (a rootfs-diff.tar entry): its own mode and
    /// time. None: the tree's defaults (every other directory, and implicit parents).
    layer: Option<LayerDir>,
}

/// What a layer records about a directory of `rootfs/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerDir {
    /// Permission bits as the layer records them.
    pub mode: u32,
    pub mtime: SystemTime,
    /// Owner and group as the layer records them.
    pub owner: Option<(u32, u32)>,
}

impl Dir {
    fn new(order: Order) -> Dir {
        Dir {
            entries: Vec::new(),
            by_name: Vec::new(),
            subdirs: 0,
            order,
            layer: None,
        }
    }

    /// What its layer records, for a `rootfs/` directory that has an entry of its own.
    pub fn layer(&self) -> Option<LayerDir> {
        self.layer
    }

    /// Entries in listing order (without `.` and `..`).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry named `name`.
    pub fn get(&self, name: &[u8]) -> Option<Ino> {
        let i = self
            .by_name
            .binary_search_by(|&i| {
                self.entries
                    .get(i as usize)
                    .map_or(&[][..], |e| e.name.as_bytes())
                    .cmp(name)
            })
            .ok()?;
        let i = *self.by_name.get(i)?;
        self.entries.get(i as usize).map(|e| e.ino)
    }
}

/// What a node is.
#[derive(Debug)]
pub enum NodeKind {
    Dir(Dir),
    File(Content),
    /// A symlink and its target (relative, never leaving the mount).
    Link(Box<[u8]>),
    /// A FIFO or device node of `rootfs/`, with its layer's attributes: a node without content.
    Special(LayerNode),
}

/// What a layer records about a `rootfs/` entry that has no content (a FIFO, a device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerNode {
    /// [`Kind::Fifo`], [`Kind::CharDevice`] or [`Kind::BlockDevice`].
    pub kind: Kind,
    /// Permission bits as recorded.
    pub mode: u32,
    pub mtime: Option<SystemTime>,
    pub owner: Option<(u32, u32)>,
}

/// One inode.
#[derive(Debug)]
pub struct Node {
    /// The parent directory (the root is its own parent).
    pub parent: Ino,
    pub kind: NodeKind,
}

impl Node {
    pub fn kind(&self) -> Kind {
        match self.kind {
            NodeKind::Dir(_) => Kind::Dir,
            NodeKind::File(_) => Kind::File,
            NodeKind::Link(_) => Kind::Link,
            NodeKind::Special(l) => l.kind,
        }
    }
}

/// The attributes of a node, as the fs layer knows them (owner and times are the adapter's;
/// `mtime`, when set, is the node's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    /// 512-byte blocks actually present (for sparse files: the dumped bytes).
    pub blocks: u64,
    /// Permission bits (no file type; setuid / setgid / sticky only as a `rootfs/` entry's
    /// layer records them).
    pub perm: u16,
    pub nlink: u32,
    /// The node's own modification time (a `rootfs/` directory its layer records); None: the
    /// adapter's time (the checkpoint's).
    pub mtime: Option<SystemTime>,
    /// The node's own owner and group: a `rootfs/` entry's (its layer's), or for everything in
    /// `PID/` the process's (as `/proc/PID` belongs to the task's effective ids). None: the
    /// adapter's (the mounting user's).
    pub owner: Option<(u32, u32)>,
}

/// The inode table.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    /// `PID/` directories -> index of their process (for ownership).
    pid_dirs: HashMap<Ino, u32>,
    /// Things left out of the tree (conflicting or unsafe names), one line each.
    warnings: Warnings,
}

impl Tree {
    /// Number of inodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// What was left out while building, one line each.
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    /// The node `ino`.
    pub fn node(&self, ino: Ino) -> Result<&Node> {
        index(ino)
            .and_then(|i| self.nodes.get(i))
            .ok_or(Error::NOENT)
    }

    /// The directory `ino`.
    pub fn dir(&self, ino: Ino) -> Result<&Dir> {
        match &self.node(ino)?.kind {
            NodeKind::Dir(d) => Ok(d),
            _ => Err(Error::NOTDIR),
        }
    }

    /// The file content of `ino` (`EISDIR` for a directory, `EINVAL` for a link).
    pub fn content(&self, ino: Ino) -> Result<&Content> {
        match &self.node(ino)?.kind {
            NodeKind::File(c) => Ok(c),
            NodeKind::Dir(_) => Err(Error::ISDIR),
            NodeKind::Link(_) | NodeKind::Special(_) => Err(Error::INVAL),
        }
    }

    /// The target of link `ino` (`EINVAL` if it is not a link, as readlink(2) says).
    pub fn link(&self, ino: Ino) -> Result<&[u8]> {
        match &self.node(ino)?.kind {
            NodeKind::Link(t) => Ok(t),
            _ => Err(Error::INVAL),
        }
    }

    /// The child `name` of directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Ino> {
        let dir = self.dir(parent)?;
        match name {
            b"." => Ok(parent),
            b".." => Ok(self.node(parent)?.parent),
            _ => dir.get(name).ok_or(Error::NOENT),
        }
    }

    /// Resolves a path of names from the root (test and debugging helper; no link following).
    pub fn resolve(&self, path: &str) -> Result<Ino> {
        let mut ino = ROOT_INO;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            ino = self.lookup(ino, c.as_bytes())?;
        }
        Ok(ino)
    }

    /// The listing of directory `ino` from `offset` on, including `.` and `..`: each item is
    /// (the offset of the next item, inode, kind, name). Offset 0 is the start; offsets are
    /// positions, so a listing can be resumed anywhere.
    pub fn readdir(
        &self,
        ino: Ino,
        offset: u64,
    ) -> Result<impl Iterator<Item = (u64, Ino, Kind, &str)> + '_> {
        let node = self.node(ino)?;
        let NodeKind::Dir(dir) = &node.kind else {
            return Err(Error::NOTDIR);
        };
        // Position 0 is `.`, 1 is `..`, 2 + k is entry k: resuming costs nothing (no skipping).
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let dots = [(ino, "."), (node.parent, "..")]
            .into_iter()
            .enumerate()
            .skip(skip);
        let first = skip.saturating_sub(2);
        let rest = dir
            .entries
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.hidden)
            .map(move |(k, e)| (first + k + 2, (e.ino, &*e.name)));
        Ok(dots.chain(rest).map(move |(i, (child, name))| {
            let kind = self.node(child).map_or(Kind::File, Node::kind);
            (i as u64 + 1, child, kind, name)
        }))
    }

    /// The attributes of `ino`. `public` selects the modes for `--allow-other` (0555 / 0444)
    /// instead of owner-only (0500 / 0400). Text files are rendered (once) to know their size.
    pub fn attr(&self, ino: Ino, ck: &Checkpoint, public: bool) -> Result<Attr> {
        let node = self.node(ino)?;
        Ok(match &node.kind {
            NodeKind::Dir(d) => Attr {
                ino,
                kind: Kind::Dir,
                size: 0,
                blocks: 0,
                // A layer's directory follows the same policy as its files.
                perm: match &d.layer {
                    Some(l) => super::rootfs::perm(l.mode, public),
                    None => made_up_perm(Kind::Dir, public),
                },
                nlink: 2u32.saturating_add(d.subdirs),
                mtime: d.layer.map(|l| l.mtime),
                owner: d.layer.and_then(|l| l.owner),
            },
            NodeKind::File(c) => {
                let (size, present) = c.size_and_present(ck);
                Attr {
                    ino,
                    kind: Kind::File,
                    size,
                    blocks: present.div_ceil(512),
                    perm: match c.root_file() {
                        Some(f) => f.perm(public),
                        None => made_up_perm(Kind::File, public),
                    },
                    nlink: 1,
                    mtime: c.root_file().and_then(|f| f.mtime),
                    owner: c.root_file().and_then(|f| f.owner),
                }
            }
            NodeKind::Link(t) => Attr {
                ino,
                kind: Kind::Link,
                size: t.len() as u64,
                blocks: 0,
                perm: 0o777,
                nlink: 1,
                mtime: None,
                owner: None,
            },
            NodeKind::Special(l) => Attr {
                ino,
                kind: l.kind,
                size: 0,
                blocks: 0,
                perm: super::rootfs::perm(l.mode, public),
                nlink: 1,
                mtime: l.mtime,
                owner: l.owner,
            },
        })
        .map(|mut a| {
            if a.owner.is_none() {
                a.owner = self.process_owner(ino, ck);
            }
            a
        })
    }

    /// The owner of a node inside `PID/`: the process's effective uid and gid, or root's when
    /// the process was not dumpable (as procfs does).
    fn process_owner(&self, ino: Ino, ck: &Checkpoint) -> Option<(u32, u32)> {
        let mut cur = ino;
        for _ in 0..16 {
            if let Some(&pi) = self.pid_dirs.get(&cur) {
                let p = ck.processes.get(pi as usize)?;
                if p.mm
                    .as_ref()
                    .and_then(|m| m.dumpable)
                    .is_some_and(|d| d != 1)
                {
                    return Some((0, 0));
                }
                return p.creds().map(|c| (c.euid, c.egid));
            }
            let parent = self.node(cur).ok()?.parent;
            if parent == cur {
                return None;
            }
            cur = parent;
        }
        None
    }

    /// All nodes, by inode number - 1.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

/// The position of inode `ino` in the node table (None for 0 or out of range of usize).
fn index(ino: Ino) -> Option<usize> {
    ino.checked_sub(1).and_then(|i| usize::try_from(i).ok())
}

/// Sort key: non-numeric names first (bytewise), then decimal numbers by value.
fn natural_key(name: &str) -> (u8, u128, &[u8]) {
    let numeric = !name.is_empty() && name.len() <= 38 && name.bytes().all(|b| b.is_ascii_digit());
    match numeric.then(|| name.parse::<u128>().ok()).flatten() {
        Some(n) => (1, n, name.as_bytes()),
        None => (0, 0, name.as_bytes()),
    }
}
