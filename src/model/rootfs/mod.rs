//! `rootfs/`: the container's root filesystem as far as the checkpoint knows it.
//!
//! Layers, bottom to top:
//! 1. an optional image rootfs the user names (`--rootfs DIR`, e.g. from `podman image mount`),
//!    walked once at mount without following any symlink; its files are read later with
//!    `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` relative to DIR, so nothing outside DIR is
//!    ever read, even if DIR changes while mounted;
//! 2. the files of the archive's `rootfs-diff.tar` (the container's writable layer), served as
//!    slices of the archive itself (zero copy; overlay whiteouts `.wh.NAME` / `.wh..wh..opq` are
//!    honoured); containerd's, a gzip-compressed OCI layer despite its name, is decompressed
//!    first (compression told from the content: [`crate::source::inner`]);
//! 3. minus the paths of `deleted.files` (a JSON array of absolute paths);
//! 4. the tmpfs mounts CRIU saved (`tmpfs-dev-<dev>.tar.gz.img`, one per tmpfs superblock; the
//!    mount whose `MntEntry.root_dev` is `<dev>` and whose root is `/` says where): each replaces
//!    what the layers hold at its mount point, as the mount hid it in the container (Podman's
//!    `--tmpfs /tmp`, `/dev`); then the ghost files and Podman's `/dev/shm`.
//!
//! Symlinks are resolved inside this namespace only, with chroot semantics (`..` stops at the
//! root). Their targets are shown rewritten so that following them from inside the mount can
//! never leave `rootfs/`: an absolute target becomes relative (`/bin/busybox` seen from `usr/bin/`
//! is `../../bin/busybox`); a target that climbs only through the link's own directories and then
//! only descends is kept; anything else (a `..` after a name, too many `..`) is replaced by the
//! path it resolves to in the namespace.
//!
//! Modes: the layer's permission bits as recorded, all of them (write, setuid, setgid and sticky
//! included: they are evidence; the mount is read-only and `nosuid`, and who may read is the
//! mount's rule, not the modes'), for files, directories and FIFOs alike. Every
//! entry a layer has (a rootfs-diff.tar entry, a file of `--rootfs`) also keeps its owner and
//! modification time ([`Stamp`]); directories that exist only as parents of other entries have
//! none, and the fs layer gives them its defaults.
//!
//! The files of this namespace (layer, saved deleted files, `--rootfs`) also fill the clean
//! pages of the processes' file mappings: [`super::fill`].
//!
//! This module holds the namespace's types and [`attach`]; its rooms:
//! - `union.rs`: the layers laid over each other (build order, `deleted.files`, ghost files,
//!   inserting and removing subtrees);
//! - `layer.rs`: a tar layer (`rootfs-diff.tar`, `/dev/shm`, a tmpfs archive), overlay
//!   whiteouts and opaque directories;
//! - `host.rs`: the `--rootfs` directory, walked at mount and read beneath its root;
//! - `tmpfs.rs`: the tmpfs mounts CRIU saved, laid over their mount points;
//! - `links.rs`: symlink resolution inside the namespace and the targets as shown.

mod host;
mod layer;
mod links;
mod tmpfs;
mod union;

pub use host::HostFile;
pub use tmpfs::{TmpfsMount, tmpfs_mounts};

use std::collections::BTreeMap;
use std::path::Path;

use super::mounts::Mounts;
use crate::source::Blob;
use crate::warning::{Kind, Warnings};

/// Most entries taken from a layer (a pathological tar or directory is cut there, with a warning).
const MAX_NODES: usize = 4_000_000;

/// What the fs layer serves that is not a process: `rootfs/` and the mounts, plus which memory
/// ranges were filled from `rootfs/`.
#[derive(Debug, Default)]
pub struct ContainerFs {
    pub rootfs: RootFs,
    pub mounts: Mounts,
    /// PID -> ranges `(start, end)` of memory filled from rootfs files (not dumped), sorted.
    pub filled: BTreeMap<u32, Vec<(u64, u64)>>,
    /// The container's user namespace, when it has one of its own (`userns-<id>.img`): the
    /// layers' owners are shown through its maps, in the container's view as `PID/` is.
    pub userns: Option<super::userns::UserNs>,
}

impl ContainerFs {
    /// The ranges of `pid`'s memory filled from `rootfs/` (empty without `--rootfs`).
    pub fn filled(&self, pid: u32) -> &[(u64, u64)] {
        self.filled.get(&pid).map_or(&[], Vec::as_slice)
    }
}

/// The layered namespace: normalized paths (no leading `/`, `""` is the root) -> nodes.
#[derive(Debug, Default)]
pub struct RootFs {
    nodes: BTreeMap<String, Node>,
    /// The names of the tars the entries come from (`rootfs-diff.tar`, `devshm-checkpoint.tar`,
    /// `tmpfs-dev-45.tar.gz.img (/tmp)`), indexed by [`Stamp::layer`].
    layers: Vec<String>,
    /// What was left out or could not be read, one line each.
    pub warnings: Warnings,
}

/// One file, directory or symlink of `rootfs/`.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    /// Permission bits as the layer records them, all twelve (setuid, setgid, sticky, read,
    /// write, execute); 0o555 for an implicit directory.
    pub mode: u32,
    /// Owner and time as the layer records them; None for a directory that exists only as the
    /// parent of other entries (and for the root and ghost files).
    pub stamp: Option<Stamp>,
}

/// The owner and modification time a layer records for an entry (the tar header's `uid`, `gid`,
/// `mtime`; a `--rootfs` file's lstat). The archive's tars hold the ids as the host saw them;
/// with a user namespace they are mapped into the container's view
/// ([`RootFs::map_owners`]); `--rootfs` files keep their directory's own ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the Unix epoch (negative host times are taken as 0).
    pub mtime: u64,
    /// From the `--rootfs` directory (not one of the checkpoint's tars).
    pub image_dir: bool,
    /// Which of the checkpoint's tars records the entry ([`RootFs::layer_name`]); 0 for a
    /// `--rootfs` file.
    pub layer: u32,
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir,
    File(FileData),
    /// `target`: as the layer has it; `shown`: the rewritten target that stays inside `rootfs/`.
    Symlink {
        target: String,
        shown: String,
    },
    /// A named pipe (FIFO) as the layer records it: a node, no bytes (what was unread in it at
    /// dump time is in `buffers/`).
    Fifo,
    /// A character or block device node as the layer records it (a saved `/dev` tmpfs holds
    /// `null`, `zero`, `tty`...): its number, never its host device (the mount is `nodev`).
    Device(Device),
}

/// A device node's type and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub block: bool,
    pub major: u32,
    pub minor: u32,
}

impl Device {
    /// The number as the kernel's `new_encode_dev` packs it into 32 bits (FUSE's `rdev`):
    /// minor's low 8 bits, then major's 12, then minor's upper 12.
    pub fn rdev(self) -> u32 {
        (self.minor & 0xff) | ((self.major & 0xfff) << 8) | ((self.minor & !0xff) << 12)
    }

    /// An overlay whiteout: a character device 0:0 stands for a deleted name in an overlayfs
    /// upper directory, never for a device.
    pub fn is_whiteout(self) -> bool {
        !self.block && self.major == 0 && self.minor == 0
    }

    /// One of the pseudo devices every container's `/dev` holds and every host lets any user
    /// read and write: `null`, `zero`, `full`, `random`, `urandom` (1:3, 1:5, 1:7-9), `tty`,
    /// `console`, `ptmx` (5:0-2) and the pty slaves (136-143:N). Only these are shown: any other
    /// number (a disk, `/dev/mem`) is left out with a warning, so a hostile layer cannot hand
    /// an analyst who copies the tree as root (`cp -a`) a writable node of a host device.
    pub fn is_harmless(self) -> bool {
        !self.block
            && match self.major {
                1 => matches!(self.minor, 3 | 5 | 7 | 8 | 9),
                5 => self.minor <= 2,
                136..=143 => true,
                _ => false,
            }
    }

    /// `c 1:3` / `b 8:0`, for messages.
    pub fn describe(self) -> String {
        let t = if self.block { 'b' } else { 'c' };
        format!("{t} {}:{}", self.major, self.minor)
    }
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone)]
pub enum FileData {
    /// In memory or in the archive's mapping (rootfs-diff.tar entries): zero copy.
    Blob(Blob),
    /// A file of the `--rootfs` directory, read on demand.
    Host(HostFile),
}

impl FileData {
    pub fn size(&self) -> u64 {
        match self {
            FileData::Blob(b) => b.len() as u64,
            FileData::Host(h) => h.size,
        }
    }

    /// The bytes as a blob (the archive slice, or the host file mapped).
    pub fn blob(&self) -> std::io::Result<Blob> {
        match self {
            FileData::Blob(b) => Ok(b.clone()),
            FileData::Host(h) => h.map(),
        }
    }
}

/// Normalizes a path for the namespace: drops empty and `.` components; `None` if it has `..`.
fn clean(raw: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

/// The permission bits as recorded (the file type bits dropped).
fn shown_mode(mode: u32) -> u32 {
    mode & 0o7777
}

impl RootFs {
    /// An empty namespace (just the root).
    pub fn empty() -> RootFs {
        let mut r = RootFs::default();
        r.nodes.insert(
            String::new(),
            Node {
                kind: NodeKind::Dir,
                mode: 0o555,
                stamp: None,
            },
        );
        r
    }

    /// Shows the owners the checkpoint's tars record in the container's view: they hold the
    /// host's ids (the writable layer's tar, the tmpfs archives, `/dev/shm`), which `ns` maps into
    /// the namespace (an id it does not map becomes the overflow id 65534, as the kernel shows
    /// it). `--rootfs` entries keep their directory's ids.
    pub fn map_owners(&mut self, ns: &super::userns::UserNs) {
        for n in self.nodes.values_mut() {
            if let Some(st) = &mut n.stamp
                && !st.image_dir
            {
                st.uid = ns.uid_inside(st.uid);
                st.gid = ns.gid_inside(st.gid);
            }
        }
    }

    /// The name of the tar that records an entry (`rootfs-diff.tar`, `devshm-checkpoint.tar`,
    /// `tmpfs-dev-45.tar.gz.img (/tmp)`); `--rootfs` for a file of the image directory.
    pub fn layer_name(&self, st: &Stamp) -> &str {
        if st.image_dir {
            return "--rootfs";
        }
        usize::try_from(st.layer)
            .ok()
            .and_then(|i| self.layers.get(i))
            .map_or("?", String::as_str)
    }

    /// The index [`Stamp::layer`] of the tar named `label`, added when new.
    fn layer_index(&mut self, label: &str) -> u32 {
        let i = match self.layers.iter().position(|l| l == label) {
            Some(i) => i,
            None => {
                self.layers.push(label.to_string());
                self.layers.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// The node at a normalized path (no link following).
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node but the root, in path order (parents before children).
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, n)| (k.as_str(), n))
    }

    /// Number of nodes, root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }
}

/// Builds `checkpoint.container_fs` for a loaded checkpoint: rootfs-diff.tar and deleted.files
/// from the archive, over `image` (`--rootfs`); then fills the clean file pages from it
/// ([`super::fill`]).
pub fn attach(ck: &mut super::Checkpoint, image: Option<&Path>) -> Result<(), String> {
    let abs = image.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let image = abs.as_deref();
    let ghosts = super::ghost::ghosts(&ck.source.images, &ck.files, &mut ck.warnings);
    let diff = match ck.source.plain_tar("rootfs-diff.tar") {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            ck.warnings.push(
                Kind::Unreadable,
                format!("{e}; rootfs/ lacks the container's changes"),
            );
            None
        }
    };
    let root_pid = ck.processes.first().map_or(0, |p| p.pid);
    let tmpfs = match ck.container_fs.mounts.for_pid(root_pid) {
        Some(mounts) => tmpfs_mounts(mounts, |n| ck.source.image_tar(n), &mut ck.warnings),
        None => Vec::new(),
    };
    let rootfs = RootFs::build_all(
        image,
        diff.as_ref(),
        ck.source.metadata.get("deleted.files").map(|b| b.bytes()),
        &tmpfs,
        &ghosts,
    )?;
    let mut rootfs = rootfs;
    match ck.source.plain_tar("devshm-checkpoint.tar") {
        None => {}
        Some(Ok(devshm)) => rootfs.add_devshm(&devshm),
        Some(Err(e)) => rootfs.warnings.push(
            Kind::Unreadable,
            format!("{e}; rootfs/dev/shm/ is left out"),
        ),
    }
    if let Some(ns) = &ck.container_fs.userns {
        rootfs.map_owners(ns);
    }
    ck.warnings.extend(rootfs.warnings.iter().cloned());
    ck.container_fs.filled = super::fill::file_pages(&rootfs, &mut ck.processes, &mut ck.warnings);
    super::fill::devshm_pages(
        &rootfs,
        &mut ck.processes,
        &mut ck.container_fs.filled,
        &mut ck.warnings,
    );
    ck.container_fs.rootfs = rootfs;
    Ok(())
}

#[cfg(test)]
mod tests;
