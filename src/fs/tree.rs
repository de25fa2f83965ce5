//! The inode table: every directory, file and link of the mount, built once from the model.
//!
//! Pure (no FUSE types). Nodes are created in a fixed order (checkpoint/, pstree, then processes
//! by PID, each in a fixed layout), so the same checkpoint always gets the same inode numbers.
//! Inode `n` is `nodes[n - 1]`; the root is [`ROOT_INO`].
//!
//! Directory listings are sorted: names that are decimal numbers (PIDs, fds, TIDs) numerically
//! after the other names, which sort bytewise; `memory/` keeps address order.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::content::{self, Content, TextSrc};
use super::{Error, Result};
use crate::model::{Checkpoint, FileObject, Process};
use crate::source::Blob;

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
    /// A FIFO of `rootfs/`, with its layer's attributes: a node without content.
    Fifo(LayerNode),
}

/// What a layer records about a `rootfs/` entry that has no content (a FIFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerNode {
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
            NodeKind::Fifo(_) => Kind::Fifo,
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

/// The inputs the tree is built from (all of them live in a [`Checkpoint`]).
pub struct Parts<'a> {
    /// The archive's own metadata files (`config.dump`, `artifacts/x`, ...).
    pub metadata: &'a BTreeMap<String, Blob>,
    /// The raw CRIU image files.
    pub images: &'a BTreeMap<String, Blob>,
    /// Processes, sorted by PID.
    pub processes: &'a [Process],
    /// The container's log, whatever the runtime named it (see
    /// [`Checkpoint::container_log`]): also served as `checkpoint/container.log`.
    pub container_log: Option<&'a Blob>,
    /// `rootfs/` (None: an empty `rootfs/`, so links into it dangle inside the mount).
    pub rootfs: Option<&'a crate::model::rootfs::RootFs>,
    /// Objects no process owns (`sysvipc/`); None: none.
    pub objects: Option<&'a crate::model::objects::Objects>,
    /// The container has a user namespace of its own: `PID/uid_map` and `PID/gid_map`.
    pub userns: bool,
    /// `checkpoint/manifest.sha256`: the input is a directory whose files are listed there.
    pub manifest: bool,
}

/// The inode table.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    /// `PID/` directories -> index of their process (for ownership).
    pid_dirs: HashMap<Ino, u32>,
    /// Things left out of the tree (conflicting or unsafe names), one line each.
    warnings: Vec<String>,
}

impl Tree {
    /// Builds the tree for a checkpoint.
    pub fn build(ck: &Checkpoint) -> Tree {
        Tree::from_parts(&Parts {
            metadata: &ck.source.metadata,
            images: &ck.source.images.files,
            processes: &ck.processes,
            container_log: ck.container_log().map(|(_, b)| b),
            rootfs: Some(&ck.container_fs.rootfs),
            objects: Some(&ck.objects),
            userns: ck.container_fs.userns.is_some(),
            manifest: ck.source.has_manifest(),
        })
    }

    /// Builds the tree from its inputs. Deterministic: the same inputs give the same inode numbers.
    pub fn from_parts(parts: &Parts<'_>) -> Tree {
        let mut b = Builder::new();
        // /checkpoint
        if let Some(cp) = b.dir(ROOT_INO, "checkpoint", Order::Natural) {
            b.text(cp, TextSrc::Info);
            b.text(cp, TextSrc::Summary);
            if let Some(images) = b.dir(cp, "images", Order::Natural) {
                for (name, blob) in parts.images {
                    if shown_decoded(name, true) {
                        let t = format!("../../{LINK_DIR}/checkpoint/images/{name}");
                        b.link(images, name, t.into_bytes());
                    } else {
                        b.file_at_path(images, "checkpoint/images", name, blob);
                    }
                }
            }
            for (name, blob) in parts.metadata {
                if shown_decoded(name, false) {
                    let t = format!("../{LINK_DIR}/checkpoint/{name}");
                    b.link(cp, name, t.into_bytes());
                } else {
                    b.file_at_path(cp, "checkpoint", name, blob);
                }
            }
        }
        b.text(ROOT_INO, TextSrc::Pstree);
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            b.process(i, p, parts.processes);
        }
        // Last, so that adding it moved no other inode number.
        b.text(ROOT_INO, TextSrc::Triage);
        // PID/bash_history of each bash process, after triage for the same reason.
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            if crate::model::bash_history::is_bash(p)
                && let Some(&pd) = b
                    .names
                    .get(&(ROOT_INO, Box::<str>::from(p.pid.to_string())))
            {
                b.text(pd, TextSrc::BashHistory(i));
            }
        }
        // rootfs/ and PID/{net/,pagemap,mountinfo}, after everything else.
        b.forensic_views(parts);
        // Shared kernel objects, after everything else.
        b.link_targets(parts);
        b.kernel_objects(parts);
        // checkpoint/container.log under a stable name (unless the archive has it already).
        if let (Some(log), Some(&cp)) = (
            parts.container_log,
            b.names.get(&(ROOT_INO, Box::<str>::from("checkpoint"))),
        ) && !parts.metadata.contains_key("container.log")
        {
            b.file_at_path(cp, "checkpoint", "container.log", log);
        }
        // checkpoint/fields.json: where each field of the generated files comes from.
        if let Some(&cp) = b.names.get(&(ROOT_INO, Box::<str>::from("checkpoint")))
            && !parts.metadata.contains_key("fields.json")
        {
            b.text(cp, TextSrc::Fields);
        }
        // checkpoint/manifest.sha256: the SHA-256 of every input file (chain of custody).
        if let Some(&cp) = b.names.get(&(ROOT_INO, Box::<str>::from("checkpoint")))
            && parts.manifest
            && !parts.metadata.contains_key("manifest.sha256")
        {
            b.text(cp, TextSrc::Manifest);
        }
        // The timeline of every recorded time, last so that no other inode number moved.
        b.text(ROOT_INO, TextSrc::Timeline);
        b.finish()
    }

    /// Number of inodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// What was left out while building, one line each.
    pub fn warnings(&self) -> &[String] {
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
            NodeKind::Link(_) | NodeKind::Fifo(_) => Err(Error::INVAL),
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
            NodeKind::Fifo(l) => Attr {
                ino,
                kind: Kind::Fifo,
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

/// Builds the node table. Names are validated and de-duplicated here.
struct Builder {
    nodes: Vec<Node>,
    pid_dirs: HashMap<Ino, u32>,
    names: HashMap<(Ino, Box<str>), Ino>,
    warnings: Vec<String>,
    /// Shared mappings already given a `memory/` file: the object's identity -> (process index,
    /// start, end, file name) of that file.
    shared: HashMap<SharedKey, (u32, u64, u64, String)>,
    /// `memory/` files that a later process's link points at: `.link/PID/memory/<name>` exists
    /// for exactly these (process index, start, end, file name).
    link_ranges: Vec<(u32, u64, u64, String)>,
}

/// What makes two processes' shared mappings the same bytes: the object (the model's
/// [`crate::model::process::SharedObject`]), the offset in it and the length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SharedKey {
    object: crate::model::process::SharedObject,
    pgoff: u64,
    len: u64,
}

impl SharedKey {
    /// The identity of `v`'s bytes if it maps shared memory, else None (private memory is never
    /// the same object in two processes, even when its bytes are equal).
    fn of(v: &crate::model::Vma) -> Option<SharedKey> {
        Some(SharedKey {
            object: v.shared_object()?,
            pgoff: v.pgoff,
            len: v.end.checked_sub(v.start)?,
        })
    }
}

impl Builder {
    fn new() -> Builder {
        Builder {
            nodes: vec![Node {
                parent: ROOT_INO,
                kind: NodeKind::Dir(Dir::new(Order::Natural)),
            }],
            pid_dirs: HashMap::new(),
            names: HashMap::new(),
            warnings: Vec::new(),
            shared: HashMap::new(),
            link_ranges: Vec::new(),
        }
    }

    /// Adds a node named `name` under `parent`. Refuses (with a warning) names that are not a
    /// single path component, and names already taken (the first one wins).
    fn add(&mut self, parent: Ino, name: &str, kind: NodeKind) -> Option<Ino> {
        self.add_entry(parent, name, kind, false)
    }

    /// [`Builder::add`], for an entry that listings leave out when `hidden`.
    fn add_entry(&mut self, parent: Ino, name: &str, kind: NodeKind, hidden: bool) -> Option<Ino> {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
            || name.len() > 255
        {
            self.warnings.push(format!(
                "{}: not a usable file name, left out of the mount",
                crate::format::escape(name)
            ));
            return None;
        }
        let key = (parent, Box::<str>::from(name));
        if self.names.contains_key(&key) {
            self.warnings.push(format!(
                "{}: name used twice in one directory, only the first is shown",
                crate::format::escape(name)
            ));
            return None;
        }
        let ino = self.nodes.len() as Ino + 1;
        let is_dir = matches!(kind, NodeKind::Dir(_));
        let Some(Node {
            kind: NodeKind::Dir(dir),
            ..
        }) = index(parent).and_then(|i| self.nodes.get_mut(i))
        else {
            return None;
        };
        dir.entries.push(Entry {
            name: key.1.clone(),
            ino,
            hidden,
        });
        if is_dir {
            dir.subdirs = dir.subdirs.saturating_add(1);
        }
        self.names.insert(key, ino);
        self.nodes.push(Node { parent, kind });
        Some(ino)
    }

    fn dir(&mut self, parent: Ino, name: &str, order: Order) -> Option<Ino> {
        self.add(parent, name, NodeKind::Dir(Dir::new(order)))
    }

    fn file(&mut self, parent: Ino, name: &str, c: Content) -> Option<Ino> {
        self.add(parent, name, NodeKind::File(c))
    }

    /// A generated text file, named by its row of the table of files.
    fn text(&mut self, parent: Ino, src: TextSrc) -> Option<Ino> {
        self.file(parent, src.name(), Content::text(src))
    }

    fn link(&mut self, parent: Ino, name: &str, target: Vec<u8>) -> Option<Ino> {
        self.add(parent, name, NodeKind::Link(target.into_boxed_slice()))
    }

    /// Adds a blob at a relative path (`artifacts/x`), creating the directories on the way.
    /// `where_` names the base directory for warnings.
    fn file_at_path(&mut self, base: Ino, where_: &str, path: &str, blob: &Blob) {
        let comps: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let Some((last, dirs)) = comps.split_last() else {
            self.warnings.push(format!(
                "{where_}/{}: empty name, left out",
                crate::format::escape(path)
            ));
            return;
        };
        if comps.contains(&"..") {
            self.warnings.push(format!(
                "{where_}/{}: a name with '..', left out",
                crate::format::escape(path)
            ));
            return;
        }
        let mut at = base;
        for d in dirs {
            at = match self.names.get(&(at, Box::<str>::from(*d))) {
                Some(&ino) if matches!(self.node_kind(ino), Some(Kind::Dir)) => ino,
                Some(_) => {
                    self.warnings.push(format!(
                        "{where_}/{}: {d} is both a file and a directory, left out",
                        crate::format::escape(path)
                    ));
                    return;
                }
                None => match self.dir(at, d, Order::Natural) {
                    Some(i) => i,
                    None => return,
                },
            };
        }
        self.file(at, last, Content::Blob(blob.clone()));
    }

    /// Gives the directory `ino` its layer's attributes.
    fn set_layer(&mut self, ino: Ino, l: LayerDir) {
        if let Some(Node {
            kind: NodeKind::Dir(d),
            ..
        }) = index(ino).and_then(|i| self.nodes.get_mut(i))
        {
            d.layer = Some(l);
        }
    }

    fn node_kind(&self, ino: Ino) -> Option<Kind> {
        index(ino).and_then(|i| self.nodes.get(i)).map(Node::kind)
    }

    /// `/<pid>/` with everything in it, in a fixed order.
    fn process(&mut self, pi: u32, p: &Process, procs: &[Process]) {
        let Some(pd) = self.dir(ROOT_INO, &p.pid.to_string(), Order::Natural) else {
            return;
        };
        self.pid_dirs.insert(pd, pi);
        let text = |s: TextSrc| Content::text(s);
        for src in [
            TextSrc::Cmdline(pi),
            TextSrc::Environ(pi),
            TextSrc::Comm(pi),
            TextSrc::Status(pi),
            TextSrc::Stat(pi),
            TextSrc::Statm(pi),
            TextSrc::Maps(pi),
            TextSrc::Auxv(pi),
            TextSrc::Limits(pi),
        ] {
            self.text(pd, src);
        }
        // The whole-address-space files are links into `.link/` (see LINK_DIR); `core` is not
        // listed (found by name only), so that its target can have its real size.
        let pid = p.pid;
        self.link(pd, "mem", format!("../{LINK_DIR}/{pid}/mem").into_bytes());
        self.add_entry(
            pd,
            "core",
            NodeKind::Link(format!("../{LINK_DIR}/{pid}/core").into_bytes().into()),
            true,
        );
        if let Some(md) = self.dir(pd, "memory", Order::Insertion) {
            let mut vmas: Vec<_> = p.vmas.iter().filter(|v| v.end > v.start).collect();
            vmas.sort_by_key(|v| v.start);
            for v in vmas {
                let name = content::vma_file_name(v);
                // A shared mapping whose bytes another process's memory/ file already holds is a
                // link to that file: a recursive walk meets each dumped byte once.
                if let Some(target) = self.shared_link(pi, p, v, procs) {
                    self.link(md, &name, target);
                    continue;
                }
                self.file(
                    md,
                    &name,
                    Content::Range {
                        proc: pi,
                        start: v.start,
                        end: v.end,
                    },
                );
            }
        }
        let mut fds: Vec<(usize, &crate::model::process::Fd)> = p.fds.iter().enumerate().collect();
        fds.sort_by_key(|(_, f)| f.fd);
        if let Some(fd_dir) = self.dir(pd, "fd", Order::Natural) {
            for (_, f) in &fds {
                self.link(fd_dir, &f.fd.to_string(), file_link(2, &f.file));
            }
        }
        if let Some(fi_dir) = self.dir(pd, "fdinfo", Order::Natural) {
            for (j, f) in &fds {
                let Ok(j) = u32::try_from(*j) else { break };
                self.file(fi_dir, &f.fd.to_string(), text(TextSrc::Fdinfo(pi, j)));
            }
        }
        if let Some(cwd) = &p.cwd {
            self.link(pd, "cwd", file_link(1, cwd));
        }
        if let Some(exe) = &p.exe {
            self.link(pd, "exe", file_link(1, exe));
        }
        if let Some(root) = &p.root {
            self.link(pd, "root", file_link(1, root));
        }
        if let Some(td) = self.dir(pd, "task", Order::Natural) {
            for (j, t) in p.threads.iter().enumerate() {
                let Ok(j) = u32::try_from(j) else { break };
                let Some(tdir) = self.dir(td, &t.tid.to_string(), Order::Natural) else {
                    continue;
                };
                for src in [
                    TextSrc::ThreadComm(pi, j),
                    TextSrc::ThreadStatus(pi, j),
                    TextSrc::ThreadStat(pi, j),
                    TextSrc::Regs(pi, j),
                    TextSrc::Syscall(pi, j),
                ] {
                    self.text(tdir, src);
                }
            }
        }
    }

    /// For a shared mapping already shown by an earlier process (same object, offset, length and
    /// the same dumped bytes), the target of a link to that process's file; else None (and the
    /// mapping is recorded as the one to link to).
    fn shared_link(
        &mut self,
        pi: u32,
        p: &Process,
        v: &crate::model::Vma,
        procs: &[Process],
    ) -> Option<Vec<u8>> {
        let key = SharedKey::of(v)?;
        let Some((qi, qs, qe, qname)) = self.shared.get(&key).cloned() else {
            let name = content::vma_file_name(v);
            self.shared.insert(key, (pi, v.start, v.end, name));
            return None;
        };
        let q = procs.get(qi as usize)?;
        if qi == pi || !q.memory.same_as(qs, qe - qs, &p.memory, v.start) {
            return None;
        }
        let target = format!("../../{LINK_DIR}/{}/memory/{qname}", q.pid);
        self.link_ranges.push((qi, qs, qe, qname));
        Some(target.into_bytes())
    }

    /// `.link/` (see [`LINK_DIR`]): per process `mem`, `core`, `pagemap` and the `memory/` files
    /// that links point at; `rootfs/` again, with files served procfs-style.
    fn link_targets(&mut self, parts: &Parts<'_>) {
        let Some(ld) = self.add_entry(
            ROOT_INO,
            LINK_DIR,
            NodeKind::Dir(Dir::new(Order::Natural)),
            true,
        ) else {
            return;
        };
        let mut ranges = std::mem::take(&mut self.link_ranges);
        ranges.sort_unstable();
        ranges.dedup();
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(pi) = u32::try_from(i) else { break };
            let Some(pd) = self.dir(ld, &p.pid.to_string(), Order::Natural) else {
                continue;
            };
            // Owned like the process's own directory (as procfs does).
            self.pid_dirs.insert(pd, pi);
            let procfs = |c: Content| Content::Procfs(Box::new(c));
            self.file(pd, "mem", procfs(Content::Mem { proc: pi }));
            self.file(pd, "core", Content::core(pi));
            self.file(pd, "pagemap", Content::Pagemap { proc: pi });
            let mine = ranges.iter().filter(|r| r.0 == pi);
            if mine.clone().next().is_some()
                && let Some(md) = self.dir(pd, "memory", Order::Insertion)
            {
                for (_, start, end, name) in mine {
                    let c = procfs(Content::Range {
                        proc: pi,
                        start: *start,
                        end: *end,
                    });
                    self.file(md, name, c);
                }
            }
        }
        if let Some(rd) = self.dir(ld, "rootfs", Order::Natural) {
            self.rootfs(rd, parts.rootfs, true);
            if let Some(o) = parts.objects {
                self.memfds(rd, o, None);
            }
        }
        let procfs = |b: &Blob| Content::Procfs(Box::new(Content::Blob(b.clone())));
        if let Some(cd) = self.dir(ld, "checkpoint", Order::Natural) {
            if let Some(id) = self.dir(cd, "images", Order::Natural) {
                for (name, blob) in parts.images.iter().filter(|(n, _)| shown_decoded(n, true)) {
                    self.file(id, name, procfs(blob));
                }
            }
            for (name, blob) in parts
                .metadata
                .iter()
                .filter(|(n, _)| shown_decoded(n, false))
            {
                self.file(cd, name, procfs(blob));
            }
        }
    }

    /// The memfds at the path their descriptors' links name (`memfd:NAME (deleted)`, as
    /// `/proc/PID/fd/N` shows it), in `.link/rootfs/` (`visible_unless_mapped` None): `fd/N` and
    /// `exe` of a memfd open its bytes. In `rootfs/` (`Some(processes)`) only the memfds no
    /// process maps: their bytes are in no `PID/memory/` file, and a walk must meet them once.
    /// A name several memfds share is left out (a link must not lead to another memfd's bytes),
    /// with a warning.
    fn memfds(
        &mut self,
        rd: Ino,
        objects: &crate::model::objects::Objects,
        visible_unless_mapped: Option<&[Process]>,
    ) {
        use crate::model::files::FileKind;
        let mapped = |inode: u64| {
            visible_unless_mapped.is_some_and(|procs| {
                procs.iter().flat_map(|p| &p.vmas).any(|v| {
                    matches!(v.file.as_ref().map(|f| &f.kind),
                        Some(FileKind::Memfd { inode_id, .. }) if u64::from(*inode_id) == inode)
                })
            })
        };
        let mut count: HashMap<&str, usize> = HashMap::new();
        for m in &objects.memfds {
            *count.entry(m.name.as_str()).or_default() += 1;
        }
        for (i, m) in objects.memfds.iter().enumerate() {
            let Ok(idx) = u32::try_from(i) else { break };
            match count.get(m.name.as_str()).copied().unwrap_or(0) {
                1 => {
                    let name = format!("memfd:{} (deleted)", m.name);
                    let c = Content::Memfd { idx };
                    if visible_unless_mapped.is_none() {
                        self.file(rd, &name, Content::Procfs(Box::new(c)));
                    } else if !mapped(m.inode_id) {
                        self.file(rd, &name, c);
                    }
                }
                0 => {}
                _ if visible_unless_mapped.is_some() => {
                    // Said once, in `.link/rootfs/`.
                    count.insert(m.name.as_str(), 0);
                }
                n => {
                    count.insert(m.name.as_str(), 0);
                    self.warnings.push(format!(
                        "memfd:{}: {n} memfds have this name: the links of their descriptors \
                         are left dangling (mapped bytes are in PID/memory/)",
                        crate::format::escape(&m.name)
                    ));
                }
            }
        }
    }

    /// `rootfs/` and, per process, `net/`, `pagemap` and `mountinfo`.
    fn forensic_views(&mut self, parts: &Parts<'_>) {
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(pi) = u32::try_from(i) else { break };
            let key = (ROOT_INO, Box::<str>::from(p.pid.to_string()));
            let Some(&pd) = self.names.get(&key) else {
                continue;
            };
            self.link(
                pd,
                "pagemap",
                format!("../{LINK_DIR}/{}/pagemap", p.pid).into_bytes(),
            );
            self.text(pd, TextSrc::Mountinfo(pi));
            if parts.userns {
                self.text(pd, TextSrc::UidMap(pi));
                self.text(pd, TextSrc::GidMap(pi));
            }
            if let Some(nd) = self.dir(pd, "net", Order::Natural) {
                for w in crate::render::NetFile::ALL {
                    self.text(nd, TextSrc::Net(pi, w));
                }
            }
        }
        if let Some(root) = self.dir(ROOT_INO, "rootfs", Order::Natural) {
            self.rootfs(root, parts.rootfs, false);
            if let Some(o) = parts.objects {
                self.memfds(root, o, Some(parts.processes));
            }
        }
    }

    /// The files of `rootfs` under directory `root`; served procfs-style when `procfs` (the copy
    /// under `.link/`).
    fn rootfs(&mut self, root: Ino, rootfs: Option<&crate::model::rootfs::RootFs>, procfs: bool) {
        use crate::model::rootfs::NodeKind as R;
        let Some(rootfs) = rootfs else { return };
        // Paths come parents first (sorted), so every parent exists when a child is added.
        let mut dirs: HashMap<&str, Ino> = HashMap::new();
        dirs.insert("", root);
        for (path, node) in rootfs.nodes() {
            let (parent, name) = match path.rfind('/') {
                Some(k) => (&path[..k], &path[k + 1..]),
                None => ("", path),
            };
            let Some(&at) = dirs.get(parent) else {
                continue;
            };
            match &node.kind {
                R::Dir => {
                    if let Some(d) = self.dir(at, name, Order::Natural) {
                        // Its layer's mode and time; an implicit parent (no stamp) keeps the
                        // defaults.
                        if let Some(mtime) = stamp_time(node.stamp) {
                            self.set_layer(
                                d,
                                LayerDir {
                                    mode: node.mode,
                                    mtime,
                                    owner: stamp_owner(node.stamp),
                                },
                            );
                        }
                        dirs.insert(path, d);
                    }
                }
                R::File(data) => {
                    let f = super::rootfs::RootFile {
                        data: data.clone(),
                        mode: node.mode,
                        mtime: stamp_time(node.stamp),
                        owner: stamp_owner(node.stamp),
                    };
                    let c = Content::RootFile(f);
                    let c = if procfs {
                        Content::Procfs(Box::new(c))
                    } else {
                        c
                    };
                    self.file(at, name, c);
                }
                R::Symlink { shown, .. } => {
                    self.link(at, name, shown.clone().into_bytes());
                }
                R::Fifo => {
                    let l = LayerNode {
                        mode: node.mode,
                        mtime: stamp_time(node.stamp),
                        owner: stamp_owner(node.stamp),
                    };
                    self.add(at, name, NodeKind::Fifo(l));
                }
            }
        }
    }

    /// `sysvipc/shm` (the kernel's table) and `sysvipc/shm-<id>` (each segment's bytes, once);
    /// `buffers/`: the unread data of pipes, FIFOs and sockets, one file each.
    fn kernel_objects(&mut self, parts: &Parts<'_>) {
        let Some(objects) = parts.objects else { return };
        self.text(ROOT_INO, TextSrc::Sockets);
        if let Some(d) = self.dir(ROOT_INO, "buffers", Order::Natural) {
            for b in &objects.buffers {
                self.file(d, &b.name, Content::Blob(b.data.clone()));
            }
        }
        if let Some(d) = self.dir(ROOT_INO, "sysvipc", Order::Natural) {
            self.text(d, TextSrc::SysvShm);
            for (i, seg) in objects.shm.iter().enumerate() {
                let Ok(i) = u32::try_from(i) else { break };
                let name = format!("shm-{}", seg.id);
                // A segment some process maps is met in that process's memory/ file: here it is
                // a link into `.link/` (see LINK_DIR), readable by path, skipped by walks.
                if attached(parts.processes, u64::from(seg.id)) {
                    let t = format!("../{LINK_DIR}/sysvipc/{name}");
                    self.link(d, &name, t.into_bytes());
                } else {
                    self.file(d, &name, Content::Shm { seg: i });
                }
            }
        }
        let attached_segs: Vec<(u32, String)> = objects
            .shm
            .iter()
            .enumerate()
            .filter(|(_, seg)| attached(parts.processes, u64::from(seg.id)))
            .filter_map(|(i, seg)| Some((u32::try_from(i).ok()?, format!("shm-{}", seg.id))))
            .collect();
        if !attached_segs.is_empty()
            && let Some(ld) = self
                .names
                .get(&(ROOT_INO, Box::<str>::from(LINK_DIR)))
                .copied()
            && let Some(d) = self.dir(ld, "sysvipc", Order::Natural)
        {
            for (i, name) in attached_segs {
                self.file(d, &name, Content::Procfs(Box::new(Content::Shm { seg: i })));
            }
        }
    }

    fn finish(mut self) -> Tree {
        for node in &mut self.nodes {
            if let NodeKind::Dir(d) = &mut node.kind {
                if d.order == Order::Natural {
                    d.entries
                        .sort_by(|a, b| natural_key(&a.name).cmp(&natural_key(&b.name)));
                }
                let mut idx: Vec<u32> = (0..d.entries.len() as u32).collect();
                idx.sort_by(|&a, &b| {
                    let name = |i: u32| {
                        d.entries
                            .get(i as usize)
                            .map_or(&[][..], |e| e.name.as_bytes())
                    };
                    name(a).cmp(name(b))
                });
                d.by_name = idx;
            }
        }
        Tree {
            nodes: self.nodes,
            pid_dirs: self.pid_dirs,
            warnings: self.warnings,
        }
    }
}

/// True when some process maps SysV segment `id`.
fn attached(processes: &[Process], id: u64) -> bool {
    use crate::model::process::vma_status as vs;
    processes
        .iter()
        .flat_map(|p| &p.vmas)
        .any(|v| v.status & vs::SYSVIPC != 0 && v.shmid == id)
}

/// True for a file of the checkpoint whose bytes the tree shows decoded elsewhere, so that it is
/// a link into `.link/checkpoint/` (a recursive walk meets those bytes once, decoded): among the
/// CRIU images the raw pages (`pages-*.img`: `PID/memory/`), the deleted files' contents
/// (`ghost-file-*.img`: `rootfs/PATH (deleted)`) and the unread pipe, FIFO and socket data
/// (`pipes-data.img`, `fifo-data.img`, `sk-queues.img`, `tcp-stream-*.img`: `buffers/`), among
/// the archive's metadata files the layer and `/dev/shm` tars (`rootfs/`).
pub fn shown_decoded(name: &str, image: bool) -> bool {
    if image {
        !name.contains('/')
            && name.ends_with(".img")
            && (name.starts_with("pages-")
                || name.starts_with("ghost-file-")
                || name.starts_with("tcp-stream-")
                || matches!(name, "pipes-data.img" | "fifo-data.img" | "sk-queues.img"))
    } else {
        matches!(name, "rootfs-diff.tar" | "devshm-checkpoint.tar")
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

/// The target of a link to `file` from a directory `depth` levels below the mount root.
///
/// A file with a path (or any link text containing `/`) points into `rootfs/` inside the mount:
/// `../../rootfs/tmp/x/open.log` from `/<pid>/fd/`. Other link texts (`socket:[123]`,
/// `pipe:[4]`, `anon_inode:[eventfd]`) are dangling names, as in /proc.
pub fn file_link(depth: usize, file: &FileObject) -> Vec<u8> {
    let text = file.link_text();
    if file.path().is_some() {
        inside_rootfs(depth, &text)
    } else {
        link_target(depth, &text)
    }
}

/// A link target for the text /proc would show: a dangling name if it has no `/`, else a path
/// inside `rootfs/`. Never absolute, never leaving the mount.
pub fn link_target(depth: usize, text: &str) -> Vec<u8> {
    if text.is_empty() || text.contains('/') {
        inside_rootfs(depth, text)
    } else {
        // A single component: resolves (or dangles) inside the link's own directory.
        text.replace('\0', "\\0").into_bytes()
    }
}

/// `../` × `depth` + `rootfs` + the path, normalised as the container's root would resolve it:
/// empty and `.` components dropped, `..` pops (and stops at the root), NUL bytes escaped.
pub fn inside_rootfs(depth: usize, path: &str) -> Vec<u8> {
    let mut comps: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    let mut out = "../".repeat(depth);
    out.push_str(LINK_DIR);
    out.push_str("/rootfs");
    for c in comps {
        out.push('/');
        out.push_str(&c.replace('\0', "\\0"));
    }
    out.into_bytes()
}

/// A layer entry's owner and group (ids beyond 32 bits, which no kernel has, are left out).
fn stamp_owner(stamp: Option<crate::model::rootfs::Stamp>) -> Option<(u32, u32)> {
    let st = stamp?;
    Some((u32::try_from(st.uid).ok()?, u32::try_from(st.gid).ok()?))
}

/// A layer entry's modification time (whole seconds since the epoch) as a `SystemTime`.
fn stamp_time(stamp: Option<crate::model::rootfs::Stamp>) -> Option<SystemTime> {
    let st = stamp?;
    Some(
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(st.mtime))
            .unwrap_or(SystemTime::UNIX_EPOCH),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::files::FileKind;
    use crate::model::memory::Memory;
    use crate::model::process::Vma;

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
        let twin: Vec<_> = t.warnings().iter().filter(|w| w.contains("twin")).collect();
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
                "timeline",
                "triage",
                "9",
                "20",
                "100"
            ]
        );
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
        assert!(t.warnings().iter().any(|w| w.contains("summary")));
        assert!(t.warnings().iter().any(|w| w.contains("evil")));
        let summary = t.resolve("/checkpoint/summary").unwrap();
        assert!(matches!(
            t.content(summary).unwrap(),
            Content::Text(x) if x.src() == TextSrc::Summary
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
    fn inode_numbers_are_stable() {
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
        // root: checkpoint + rootfs + 3 pids + the hidden .link (counted: find's leaf
        // optimisation must never see fewer subdirectories than the listing has)
        assert_eq!(n(ROOT_INO), 8);
        // pid: memory, fd, fdinfo, task, net
        assert_eq!(n(t.resolve("/9").unwrap()), 7);
        assert_eq!(n(t.resolve("/9/task").unwrap()), 5);
    }

    #[test]
    fn links_point_inside_the_mount() {
        let s = sample();
        let t = build(&s);
        let l =
            |p: &str| String::from_utf8(t.link(t.resolve(p).unwrap()).unwrap().to_vec()).unwrap();
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
}
