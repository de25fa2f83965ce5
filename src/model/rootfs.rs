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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::mounts::Mounts;
use crate::source::Blob;
use crate::source::path::{Root, base_name, parent_of};

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
    /// What was left out or could not be read, one line each.
    pub warnings: Vec<String>,
}

/// A tmpfs mount whose contents CRIU saved: where it is mounted in the container and its
/// archive, decompressed.
#[derive(Debug, Clone)]
pub struct TmpfsMount {
    /// The mount point as the container saw it (`/tmp`).
    pub mountpoint: String,
    /// The image's name, for warnings (`tmpfs-dev-45.tar.gz.img`).
    pub image: String,
    /// The archive as a plain tar.
    pub tar: Blob,
}

/// The tmpfs mounts of `mounts` (one mount namespace's, parents first) whose contents the
/// checkpoint holds, in mount order: CRIU names the archive by the superblock's device
/// (`tmpfs-dev-<root_dev>.tar.gz.img`; before CRIU 3.x by the mount id, `tmpfs-<mnt_id>.tar.gz.img`).
/// Only mounts of a tmpfs's root (`root` = `/`) are taken: a bind mount of a subdirectory or
/// file shows a part of a tree already shown at its own mount point. `tar` decompresses an
/// image (None: absent); its failures become warnings.
pub fn tmpfs_mounts(
    mounts: &[super::mounts::MountPoint],
    mut tar: impl FnMut(&str) -> Option<Result<Blob, String>>,
    warnings: &mut Vec<String>,
) -> Vec<TmpfsMount> {
    let mut out = Vec::new();
    for m in mounts {
        if m.fstype != "tmpfs" || m.root != "/" {
            continue;
        }
        for image in [
            format!("tmpfs-dev-{}.tar.gz.img", m.root_dev),
            format!("tmpfs-{}.tar.gz.img", m.mnt_id),
        ] {
            match tar(&image) {
                None => continue,
                Some(Ok(t)) => out.push(TmpfsMount {
                    mountpoint: m.mountpoint.clone(),
                    image,
                    tar: t,
                }),
                Some(Err(e)) => warnings.push(format!(
                    "{e}; rootfs{} lacks the tmpfs's contents",
                    crate::format::escape(&m.mountpoint)
                )),
            }
            break;
        }
    }
    out
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
}

/// Where a regular file's bytes are.
#[derive(Debug, Clone)]
pub enum FileData {
    /// In memory or in the archive's mapping (rootfs-diff.tar entries): zero copy.
    Blob(Blob),
    /// A file of the `--rootfs` directory, read on demand.
    Host(HostFile),
}

/// A file of the `--rootfs` directory.
#[derive(Debug, Clone)]
pub struct HostFile {
    root: Arc<HostRoot>,
    /// Path relative to the root directory.
    rel: String,
    /// Size seen at mount (what the tree reports; reads never go past it).
    pub size: u64,
}

/// The `--rootfs` directory, held open: every read is resolved beneath it.
#[derive(Debug)]
struct HostRoot {
    path: PathBuf,
    fd: OwnedFd,
}

impl HostRoot {
    fn open(path: &Path) -> std::io::Result<HostRoot> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostRoot {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Opens `rel` read-only beneath the root, refusing any symlink on the way (openat2 with
    /// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; on kernels without openat2, O_NOFOLLOW on every
    /// component, walked with openat).
    fn open_file(&self, rel: &str) -> std::io::Result<File> {
        match rustix::fs::openat2(
            &self.fd,
            if rel.is_empty() { "." } else { rel },
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => Ok(File::from(fd)),
            Err(rustix::io::Errno::NOSYS) => self.open_file_walk(rel),
            Err(e) => Err(e.into()),
        }
    }

    fn open_file_walk(&self, rel: &str) -> std::io::Result<File> {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let mut dir: Option<OwnedFd> = None;
        for (i, c) in comps.iter().enumerate() {
            if *c == "." || *c == ".." {
                return Err(std::io::Error::from_raw_os_error(libc::EXDEV));
            }
            let last = i + 1 == comps.len();
            let flags = OFlags::RDONLY
                | OFlags::CLOEXEC
                | OFlags::NOFOLLOW
                | if last {
                    OFlags::empty()
                } else {
                    OFlags::DIRECTORY
                };
            let at = dir.as_ref().unwrap_or(&self.fd);
            let fd = rustix::fs::openat(at, *c, flags, Mode::empty())?;
            if last {
                return Ok(File::from(fd));
            }
            dir = Some(fd);
        }
        Err(std::io::Error::from_raw_os_error(libc::EISDIR))
    }
}

impl HostFile {
    /// Reads up to `buf.len()` bytes at `off` (never past the size seen at mount).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if off >= self.size {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.size - off) as usize;
        let f = self.root.open_file(&self.rel)?;
        let mut done = 0;
        while done < want {
            match f.read_at(&mut buf[done..want], off + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// The whole file as a blob (mapped), at most its size at mount.
    pub fn map(&self) -> std::io::Result<Blob> {
        let f = self.root.open_file(&self.rel)?;
        let b = Blob::map(&f)?;
        let n = b
            .len()
            .min(usize::try_from(self.size).unwrap_or(usize::MAX));
        Ok(b.slice(0..n).unwrap_or(b))
    }

    /// The path on the host, for messages.
    pub fn host_path(&self) -> PathBuf {
        self.root.path.join(&self.rel)
    }
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

fn depth_of_dir(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    }
}

/// True when symlink `target`, read from directory `dir` (a normalized path), climbs above the
/// root lexically (`..` past the top); absolute targets start at the root and never do.
fn climbs_out(dir: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth = depth_of_dir(dir) as i64;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
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

    /// Builds the layers: `image` (a host directory), then `diff` (rootfs-diff.tar), minus
    /// `deleted` (deleted.files). Only an unreadable `image` directory is an error; problems with
    /// the archive's parts become warnings.
    pub fn build(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
    ) -> Result<RootFs, String> {
        Self::build_with_ghosts(image, diff, deleted, &[])
    }

    /// [`RootFs::build`], plus the saved contents of open-but-deleted files, each at
    /// `<path> (deleted)` (where the descriptor's link, `<path> (deleted)` as /proc shows it,
    /// leads).
    pub fn build_with_ghosts(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
        ghosts: &[super::ghost::Ghost],
    ) -> Result<RootFs, String> {
        Self::build_all(image, diff, deleted, &[], ghosts)
    }

    /// [`RootFs::build_with_ghosts`], with the tmpfs mounts CRIU saved laid over the layers
    /// before the ghost files (see the module docs).
    pub fn build_all(
        image: Option<&Path>,
        diff: Option<&Blob>,
        deleted: Option<&[u8]>,
        tmpfs: &[TmpfsMount],
        ghosts: &[super::ghost::Ghost],
    ) -> Result<RootFs, String> {
        let mut r = RootFs::empty();
        if let Some(dir) = image {
            let root = HostRoot::open(dir)
                .map_err(|e| format!("--rootfs {}: cannot open: {e}", dir.display()))?;
            r.add_host_layer(Arc::new(root));
        }
        if let Some(tar) = diff {
            r.add_tar_layer(tar);
        }
        if let Some(d) = deleted {
            match serde_json::from_slice::<Vec<String>>(d) {
                Ok(paths) => {
                    for p in paths {
                        if let Some(c) = clean(&p)
                            && !c.is_empty()
                        {
                            r.remove_tree(&c);
                        }
                    }
                }
                Err(e) => r.warnings.push(format!(
                    "deleted.files: not a JSON array of paths ({e}): ignored"
                )),
            }
        }
        for t in tmpfs {
            r.add_tmpfs(t);
        }
        for g in ghosts {
            match clean(&format!("{} (deleted)", g.path)) {
                Some(p) if !p.is_empty() => r.insert(
                    p,
                    NodeKind::File(FileData::Blob(g.data.clone())),
                    shown_mode(g.mode),
                    None,
                ),
                _ => r.warnings.push(format!(
                    "deleted file {}: a path with `..`: left out of rootfs/",
                    crate::format::escape(&g.path)
                )),
            }
        }
        r.rewrite_links();
        Ok(r)
    }

    /// Lays one tmpfs mount's saved contents over its mount point: what the layers hold there
    /// is hidden (removed), the tar's root entry gives the mount point its mode, owner and time.
    fn add_tmpfs(&mut self, t: &TmpfsMount) {
        let label = format!("{} ({})", t.image, crate::format::escape(&t.mountpoint));
        let at = match clean(&t.mountpoint) {
            Some(at) if t.mountpoint.starts_with('/') => at,
            _ => {
                self.warnings.push(format!(
                    "{label}: the mount point is not a plain absolute path: left out of rootfs/"
                ));
                return;
            }
        };
        // A mount point below a symlink of the layers: the mount is where the link leads.
        let at = match parent_of(&at) {
            "" => at,
            parent => match self.resolve(parent, true) {
                Some(p) if p.is_empty() => base_name(&at).to_string(),
                Some(p) => format!("{p}/{}", base_name(&at)),
                None => {
                    self.warnings.push(format!(
                        "{label}: the mount point's parent is a symlink loop: left out of rootfs/"
                    ));
                    return;
                }
            },
        };
        if at.is_empty() {
            self.nodes.retain(|k, _| k.is_empty());
        } else {
            self.remove_tree(&at);
        }
        self.add_tar_layer_at(&t.tar, &label, &at, true);
        if !at.is_empty() && !self.nodes.contains_key(&at) {
            // An archive without a root entry: the mount point still exists.
            self.insert(at, NodeKind::Dir, 0o555, None);
        }
    }

    /// Adds Podman's `devshm-checkpoint.tar` (the container's `/dev/shm`, a bind mount CRIU does
    /// not dump) as `dev/shm/`.
    pub fn add_devshm(&mut self, tar: &Blob) {
        self.add_tar_layer_at(tar, "devshm-checkpoint.tar", "dev/shm", false);
        self.rewrite_links();
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

    // ---- layers ----

    fn add_host_layer(&mut self, root: Arc<HostRoot>) {
        // The walk's own problems are gathered and reported as one line (`--rootfs /` meets
        // thousands); pseudo filesystems mounted below DIR (/proc, /sys, ...) are not walked.
        let outer = std::mem::take(&mut self.warnings);
        let root_dev = std::fs::metadata(&root.path).map(|m| m.dev()).ok();
        let mut pseudo: Vec<String> = Vec::new();
        self.walk_host(&root, root_dev, &mut pseudo);
        let problems = std::mem::replace(&mut self.warnings, outer);
        if !pseudo.is_empty() {
            self.warnings.push(format!(
                "--rootfs {}: pseudo filesystems not walked (shown empty): {}{}",
                root.path.display(),
                pseudo
                    .iter()
                    .take(8)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if pseudo.len() > 8 { ", ..." } else { "" }
            ));
        }
        match problems.len() {
            0 => {}
            1 => self.warnings.extend(problems),
            n => self.warnings.push(format!(
                "--rootfs {}: {n} entries left out or unreadable (first: {})",
                root.path.display(),
                problems[0]
            )),
        }
    }

    /// Walks the `--rootfs` directory (see [`RootFs::add_host_layer`]).
    fn walk_host(&mut self, root: &Arc<HostRoot>, root_dev: Option<u64>, pseudo: &mut Vec<String>) {
        let mut stack: Vec<String> = vec![String::new()];
        let mut count = 0usize;
        while let Some(rel) = stack.pop() {
            let dir = if rel.is_empty() {
                root.path.clone()
            } else {
                root.path.join(&rel)
            };
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) => {
                    self.warnings
                        .push(format!("--rootfs {}: cannot list: {e}", dir.display()));
                    continue;
                }
            };
            for ent in rd.flatten() {
                count += 1;
                if count > MAX_NODES {
                    self.warnings.push(format!(
                        "--rootfs {}: more than {MAX_NODES} entries: the rest is left out",
                        root.path.display()
                    ));
                    return;
                }
                let name = ent.file_name();
                let Some(name) = name.to_str() else {
                    self.warnings.push(format!(
                        "--rootfs {}: a name that is not UTF-8: left out",
                        ent.path().display()
                    ));
                    continue;
                };
                let path = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                let Ok(md) = ent.path().symlink_metadata() else {
                    continue;
                };
                let ft = md.file_type();
                let mode = shown_mode(md.mode());
                let stamp = Some(Stamp {
                    uid: md.uid().into(),
                    gid: md.gid().into(),
                    mtime: u64::try_from(md.mtime()).unwrap_or(0),
                    image_dir: true,
                });
                if ft.is_dir() {
                    self.nodes.insert(
                        path.clone(),
                        Node {
                            kind: NodeKind::Dir,
                            mode,
                            stamp,
                        },
                    );
                    if root_dev.is_some_and(|d| d != md.dev()) && is_pseudo_fs(&ent.path()) {
                        pseudo.push(format!("/{path}"));
                    } else {
                        stack.push(path);
                    }
                } else if ft.is_file() {
                    let data = FileData::Host(HostFile {
                        root: root.clone(),
                        rel: path.clone(),
                        size: md.len(),
                    });
                    self.nodes.insert(
                        path,
                        Node {
                            kind: NodeKind::File(data),
                            mode,
                            stamp,
                        },
                    );
                } else if ft.is_symlink() {
                    match std::fs::read_link(ent.path()) {
                        Ok(t) => match t.to_str() {
                            Some(t) if !t.is_empty() => {
                                self.nodes.insert(
                                    path,
                                    Node {
                                        kind: NodeKind::Symlink {
                                            target: t.to_string(),
                                            shown: String::new(),
                                        },
                                        mode: 0o777,
                                        stamp,
                                    },
                                );
                            }
                            _ => self.warnings.push(format!(
                                "--rootfs {}: symlink target empty or not UTF-8: left out",
                                ent.path().display()
                            )),
                        },
                        Err(e) => self.warnings.push(format!(
                            "--rootfs {}: cannot read link: {e}",
                            ent.path().display()
                        )),
                    }
                } else if ft.is_fifo() {
                    self.nodes.insert(
                        path,
                        Node {
                            kind: NodeKind::Fifo,
                            mode,
                            stamp,
                        },
                    );
                }
                // Devices and sockets are left out (the mount is nodev; nothing to read).
            }
        }
    }

    /// Indexes rootfs-diff.tar (uncompressed, in `tar`) and lays it over what is there.
    fn add_tar_layer(&mut self, tar: &Blob) {
        self.add_tar_layer_at(tar, "rootfs-diff.tar", "", false);
    }

    /// Adds the entries of `tar` (named `label` in warnings) below the directory `at` (a
    /// normalized path; `""` is the root). `relative_only`: an entry with an absolute name is
    /// left out with a warning (CRIU's tmpfs archives name everything `./...`), rather than taken
    /// as relative to `at`.
    fn add_tar_layer_at(&mut self, tar: &Blob, label: &str, at: &str, relative_only: bool) {
        struct Item {
            path: String,
            kind: NodeKind,
            mode: u32,
            stamp: Stamp,
        }
        let bytes = tar.bytes();
        let mut items: Vec<Item> = Vec::new();
        let mut whiteouts: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        let mut ar = tar::Archive::new(std::io::Cursor::new(bytes));
        let entries = match ar.entries_with_seek() {
            Ok(e) => e,
            Err(e) => {
                self.warnings
                    .push(format!("{label}: cannot read: {e}: left out"));
                return;
            }
        };
        let mut files: HashMap<String, (Blob, u32)> = HashMap::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (n, entry) in entries.enumerate() {
            if n >= MAX_NODES {
                self.warnings.push(format!(
                    "{label}: more than {MAX_NODES} entries: the rest is left out"
                ));
                break;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.warnings.push(format!(
                        "{label}: entry {n}: {e}: the rest of the archive is left out"
                    ));
                    break;
                }
            };
            let raw = entry.path_bytes().into_owned();
            if relative_only && raw.first() == Some(&b'/') {
                self.warnings.push(format!(
                    "{label}: entry {}: an absolute name: left out",
                    crate::format::escape_bytes(&raw)
                ));
                continue;
            }
            let Some(path) = std::str::from_utf8(&raw).ok().and_then(clean) else {
                self.warnings.push(format!(
                    "{label}: entry {}: name with `..` or not UTF-8: left out",
                    crate::format::escape_bytes(&raw)
                ));
                continue;
            };
            let path = match (at.is_empty(), path.is_empty()) {
                (true, true) => continue,
                (true, false) => path,
                (false, true) => at.to_string(),
                (false, false) => format!("{at}/{path}"),
            };
            let h = entry.header();
            let mode = h.mode().unwrap_or(0o644);
            let stamp = Stamp {
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0),
                image_dir: false,
            };
            let base = base_name(&path);
            if base == ".wh..wh..opq" {
                opaque.push(parent_of(&path).to_string());
                continue;
            }
            if let Some(victim) = base.strip_prefix(".wh.") {
                let dir = parent_of(&path);
                whiteouts.push(if dir.is_empty() {
                    victim.to_string()
                } else {
                    format!("{dir}/{victim}")
                });
                continue;
            }
            let et = entry.header().entry_type();
            let kind = match et {
                tar::EntryType::Directory => NodeKind::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let pos = entry.raw_file_position();
                    let size = entry.size();
                    let slice = usize::try_from(pos).ok().and_then(|p| {
                        let e = p.checked_add(usize::try_from(size).ok()?)?;
                        tar.slice(p..e)
                    });
                    match slice {
                        Some(b) => {
                            files.insert(path.clone(), (b.clone(), mode));
                            NodeKind::File(FileData::Blob(b))
                        }
                        None => {
                            self.warnings.push(format!(
                                "{label}: {path}: data runs past the end of the archive: left out"
                            ));
                            continue;
                        }
                    }
                }
                tar::EntryType::Symlink => {
                    let t = entry
                        .link_name_bytes()
                        .and_then(|t| std::str::from_utf8(&t).ok().map(str::to_string));
                    match t {
                        Some(t) if !t.is_empty() && !t.contains('\0') => {
                            if mode & 0o6000 != 0 {
                                self.warnings.push(format!(
                                    "{label}: {path}: a symlink with mode {:04o}: shown as a \
                                     link (a link has no mode of its own)",
                                    mode & 0o7777
                                ));
                            }
                            if climbs_out(parent_of(&path), &t) {
                                self.warnings.push(format!(
                                    "{label}: {path}: symlink target {} climbs above the \
                                     container's root: shown resolved inside rootfs/",
                                    crate::format::escape(&t)
                                ));
                            }
                            NodeKind::Symlink {
                                target: t,
                                shown: String::new(),
                            }
                        }
                        _ => {
                            self.warnings.push(format!(
                                "{label}: {path}: symlink without a usable target: left out"
                            ));
                            continue;
                        }
                    }
                }
                tar::EntryType::Link => {
                    let t = entry
                        .link_name_bytes()
                        .and_then(|t| std::str::from_utf8(&t).ok().and_then(clean))
                        .map(|t| {
                            if at.is_empty() {
                                t
                            } else {
                                format!("{at}/{t}")
                            }
                        });
                    let found = t.as_ref().and_then(|t| {
                        files
                            .get(t)
                            .map(|(b, _)| FileData::Blob(b.clone()))
                            .or_else(|| match self.nodes.get(t).map(|n| &n.kind) {
                                Some(NodeKind::File(d)) => Some(d.clone()),
                                _ => None,
                            })
                    });
                    match found {
                        Some(d) => NodeKind::File(d),
                        None => {
                            self.warnings.push(format!(
                                "{label}: {path}: hardlink to a file not in the layers: left out"
                            ));
                            continue;
                        }
                    }
                }
                tar::EntryType::Fifo => NodeKind::Fifo,
                _ => continue, // devices: not served (the mount is nodev)
            };
            if !seen.insert(path.clone()) {
                self.warnings.push(format!(
                    "{label}: {path}: more than one entry: the last one is shown"
                ));
            }
            items.push(Item {
                path,
                kind,
                mode: if matches!(et, tar::EntryType::Symlink) {
                    0o777
                } else {
                    shown_mode(mode)
                },
                stamp,
            });
        }
        // Whiteouts and opaque directories hide the lower layer only.
        for w in whiteouts {
            self.remove_tree(&w);
        }
        for d in opaque {
            if d.is_empty() {
                self.nodes.retain(|k, _| k.is_empty());
                continue;
            }
            // Everything below `d`, but `d` itself stays.
            let keep = self.nodes.remove(&d);
            self.remove_tree(&d);
            if let Some(n) = keep {
                self.nodes.insert(d, n);
            }
        }
        for it in items {
            self.insert(it.path, it.kind, it.mode, Some(it.stamp));
        }
    }

    /// Inserts a node, creating missing parent directories (mode 0o555, no stamp; an existing
    /// directory is kept as it is) and replacing what was there (a non-directory replacing a
    /// directory takes its subtree with it; a directory replacing a directory takes its mode and
    /// stamp, and keeps the subtree).
    fn insert(&mut self, path: String, kind: NodeKind, mode: u32, stamp: Option<Stamp>) {
        let mut anc = parent_of(&path).to_string();
        let mut chain = Vec::new();
        while !anc.is_empty() {
            chain.push(anc.clone());
            anc = parent_of(&anc).to_string();
        }
        for a in chain.into_iter().rev() {
            match self.nodes.get(&a).map(|n| &n.kind) {
                Some(NodeKind::Dir) => {}
                _ => {
                    self.nodes.insert(
                        a,
                        Node {
                            kind: NodeKind::Dir,
                            mode: 0o555,
                            stamp: None,
                        },
                    );
                }
            }
        }
        let new_dir = matches!(kind, NodeKind::Dir);
        let old_dir = matches!(self.nodes.get(&path).map(|n| &n.kind), Some(NodeKind::Dir));
        if old_dir && !new_dir {
            self.remove_tree(&path);
        }
        self.nodes.insert(path, Node { kind, mode, stamp });
    }

    /// Removes `path` and everything below it.
    fn remove_tree(&mut self, path: &str) {
        if path.is_empty() {
            return;
        }
        self.nodes.remove(path);
        let prefix = format!("{path}/");
        let victims: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for v in victims {
            self.nodes.remove(&v);
        }
    }

    // ---- resolution ----

    /// Resolves `path` (absolute inside the container, or relative to the root) in the
    /// namespace, following symlinks with chroot semantics. `follow_last`: follow a final
    /// symlink too. Returns the normalized path reached (which may not exist); `None` on a loop.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        self.resolve_from("", path, follow_last)
    }

    fn resolve_from(&self, dir: &str, path: &str, follow_last: bool) -> Option<String> {
        let link = |p: &str| match self.nodes.get(p).map(|n| &n.kind) {
            Some(NodeKind::Symlink { target, .. }) => Some(target.as_str()),
            _ => None,
        };
        crate::source::path::resolve(dir, path, Root::Chroot, follow_last, link).ok()
    }

    /// The file a path names, following symlinks (for mapped files and links).
    pub fn file(&self, path: &str) -> Option<&FileData> {
        let p = self.resolve(path, true)?;
        match self.nodes.get(&p).map(|n| &n.kind) {
            Some(NodeKind::File(d)) => Some(d),
            _ => None,
        }
    }

    /// Computes every symlink's shown target (see the module docs).
    fn rewrite_links(&mut self) {
        let links: Vec<(String, String)> = self
            .nodes
            .iter()
            .filter_map(|(k, n)| match &n.kind {
                NodeKind::Symlink { target, .. } => Some((k.clone(), target.clone())),
                _ => None,
            })
            .collect();
        for (path, target) in links {
            let dir = parent_of(&path);
            let depth = depth_of_dir(dir);
            let shown = safe_form(&target, depth).unwrap_or_else(|| {
                // Replace by where it leads in the namespace (a loop: to the root).
                let to = self.resolve_from(dir, &target, true).unwrap_or_default();
                relative_to_root(depth, &to)
            });
            if let Some(Node {
                kind: NodeKind::Symlink { shown: s, .. },
                ..
            }) = self.nodes.get_mut(&path)
            {
                *s = shown;
            }
        }
    }
}

/// Pushes the components of `path` onto `todo` (reversed), the final one marked `last` if the
/// path itself is last.
/// `../` × `depth` + `to` (a normalized path from the root), or `.` when both are empty.
fn relative_to_root(depth: usize, to: &str) -> String {
    let mut s = "../".repeat(depth);
    s.push_str(to);
    if s.is_empty() {
        ".".into()
    } else if s.ends_with('/') {
        s.pop();
        s
    } else {
        s
    }
}

/// The target as shown, when it is of a form that cannot leave `rootfs/` from a link in a
/// directory `depth` levels below the root: `..` only at the start and at most `depth` of them,
/// then only names (an absolute target counts as `depth` `..`s). `None` otherwise.
fn safe_form(target: &str, depth: usize) -> Option<String> {
    let comps: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let ups = if target.starts_with('/') {
        if comps.contains(&"..") {
            return None;
        }
        depth
    } else {
        let k = comps.iter().take_while(|c| **c == "..").count();
        if k > depth || comps[k..].contains(&"..") {
            return None;
        }
        k
    };
    let names: Vec<&str> = comps.into_iter().filter(|c| *c != "..").collect();
    Some(relative_to_root(ups, &names.join("/")))
}

/// True for a directory that is the root of a kernel pseudo filesystem (proc, sysfs, cgroup,
/// debugfs, ...): nothing of the container's files is there, and walking it is slow or endless.
fn is_pseudo_fs(path: &Path) -> bool {
    const PSEUDO: [u64; 19] = [
        0x9fa0,      // proc
        0x6265_6572, // sysfs
        0x1cd1,      // devpts
        0x0027_e0eb, // cgroup
        0x6367_7270, // cgroup2
        0x6462_6720, // debugfs
        0x7472_6163, // tracefs
        0x7363_6673, // securityfs
        0xcafe_4a11, // bpf
        0x6165_676c, // pstore
        0x6265_6570, // configfs
        0x6573_5543, // fusectl
        0x1980_0202, // mqueue
        0x4249_4e4d, // binfmt_misc
        0x9584_58f6, // hugetlbfs
        0x0187,      // autofs
        0xde5e_81e4, // efivarfs
        0xf97c_ff8c, // selinuxfs
        0x6e73_6673, // nsfs
    ];
    rustix::fs::statfs(path).is_ok_and(|s| PSEUDO.contains(&(s.f_type as u64)))
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
            ck.warnings
                .push(format!("{e}; rootfs/ lacks the container's changes"));
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
        Some(Err(e)) => rootfs
            .warnings
            .push(format!("{e}; rootfs/dev/shm/ is left out")),
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
mod tests {
    use super::*;

    /// (path, file data, symlink target, mode); neither data nor target: a directory.
    type TarEntry<'a> = (&'a str, Option<&'a [u8]>, Option<&'a str>, u32);

    fn tar_of(entries: &[TarEntry<'_>]) -> Blob {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data, link, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            match (data, link) {
                (Some(d), _) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    b.append_data(&mut h, path, *d).unwrap();
                }
                (None, Some(t)) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, path, t).unwrap();
                }
                (None, None) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
            }
        }
        Blob::from_vec(b.into_inner().unwrap())
    }

    fn shown(r: &RootFs, p: &str) -> String {
        match &r.node(p).unwrap().kind {
            NodeKind::Symlink { shown, .. } => shown.clone(),
            k => panic!("{p}: {k:?}"),
        }
    }

    /// `--rootfs /` does not walk /proc or /sys, and says so in one line.
    #[test]
    fn pseudo_filesystems_are_not_walked() {
        assert!(is_pseudo_fs(Path::new("/proc")));
        assert!(is_pseudo_fs(Path::new("/sys")));
        assert!(!is_pseudo_fs(Path::new(env!("CARGO_MANIFEST_DIR"))));
    }

    #[test]
    fn tar_layer_is_zero_copy_with_modes_and_deletions() {
        let tar = tar_of(&[
            ("data/written.txt", Some(b"MARKER"), None, 0o4755),
            ("etc", None, None, 0o755),
            ("etc/gone", Some(b"x"), None, 0o644),
            ("bin/sh", None, Some("/bin/busybox"), 0o777),
        ]);
        let r = RootFs::build(None, Some(&tar), Some(br#"["/etc/gone"]"#)).unwrap();
        let n = r.node("data/written.txt").unwrap();
        assert_eq!(n.mode, 0o4755, "every bit as recorded");
        let NodeKind::File(FileData::Blob(b)) = &n.kind else {
            panic!()
        };
        assert_eq!(b.bytes(), b"MARKER");
        let off = b.bytes().as_ptr() as usize - tar.bytes().as_ptr() as usize;
        assert!(off < tar.len(), "a slice of the archive itself");
        assert!(matches!(r.node("data").unwrap().kind, NodeKind::Dir));
        assert!(r.node("etc/gone").is_none());
        assert!(r.node("etc").is_some());
        assert_eq!(shown(&r, "bin/sh"), "../bin/busybox");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn tar_directories_keep_their_mode_owner_and_time() {
        let mut b = tar::Builder::new(Vec::new());
        // (path, mode, uid, gid, mtime); the file comes before its parent's own entry.
        let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode, uid, gid, mtime| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(mode);
            h.set_uid(uid);
            h.set_gid(gid);
            h.set_mtime(mtime);
            b.append_data(&mut h, path, &[][..]).unwrap();
        };
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "srv/www/index.html", &b"x"[..])
            .unwrap();
        dir(&mut b, "srv/www/", 0o2775, 33, 34, 1_764_341_257);
        dir(&mut b, "tmp", 0o1777, 0, 0, 1_764_341_000);
        dir(&mut b, "root", 0o700, 0, 0, 1);
        let tar = Blob::from_vec(b.into_inner().unwrap());
        let r = RootFs::build(None, Some(&tar), None).unwrap();
        let www = r.node("srv/www").unwrap();
        assert!(matches!(www.kind, NodeKind::Dir));
        assert_eq!(www.mode, 0o2775, "write and setgid as recorded");
        assert_eq!(
            www.stamp,
            Some(Stamp {
                uid: 33,
                gid: 34,
                mtime: 1_764_341_257,
                image_dir: false,
            })
        );
        assert_eq!(r.node("tmp").unwrap().mode, 0o1777, "sticky as recorded");
        assert_eq!(r.node("root").unwrap().mode, 0o700);
        assert_eq!(r.node("root").unwrap().stamp.map(|s| s.mtime), Some(1));
        // `srv` only exists as a parent: defaults, no stamp.
        let srv = r.node("srv").unwrap();
        assert_eq!((srv.mode, srv.stamp), (0o555, None));
        // The file keeps its own stamp; the directory entry did not replace its subtree.
        let f = r.node("srv/www/index.html").unwrap();
        assert_eq!(f.stamp.map(|s| s.mtime), Some(1_700_000_000));
        assert_eq!(r.node("").unwrap().stamp, None);
    }

    #[test]
    fn tmpfs_contents_replace_the_layer_at_their_mount_point() {
        use crate::model::mounts::MountPoint;
        let mp = |id: u32, dev: u32, fstype: &str, root: &str, at: &str| MountPoint {
            mnt_id: id,
            root_dev: dev,
            fstype: fstype.into(),
            root: root.into(),
            mountpoint: at.into(),
            ..Default::default()
        };
        let mounts = [
            mp(1, 40, "overlay", "/", "/"),
            mp(2, 45, "tmpfs", "/", "/tmp"),
            mp(3, 47, "tmpfs", "/null", "/proc/keys"),
            mp(4, 48, "tmpfs", "/", "/run/lock"),
            mp(5, 49, "tmpfs", "/", "/empty"),
        ];
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o1777);
        h.set_size(0);
        b.append_data(&mut h, "./", &[][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_mode(0o600);
        h.set_size(0);
        b.append_data(&mut h, "./k.fifo", &[][..]).unwrap();
        let tmp = Blob::from_vec(b.into_inner().unwrap());
        let mut asked = Vec::new();
        let mut w = Vec::new();
        let found = tmpfs_mounts(
            &mounts,
            |name| {
                asked.push(name.to_string());
                match name {
                    "tmpfs-dev-45.tar.gz.img" => Some(Ok(tmp.clone())),
                    "tmpfs-dev-48.tar.gz.img" => Some(Err("tmpfs-dev-48.tar.gz.img: bad".into())),
                    _ => None,
                }
            },
            &mut w,
        );
        // Only tmpfs roots; the device names the image, the mount id is the older name.
        assert_eq!(
            asked,
            [
                "tmpfs-dev-45.tar.gz.img",
                "tmpfs-dev-48.tar.gz.img",
                "tmpfs-dev-49.tar.gz.img",
                "tmpfs-5.tar.gz.img"
            ]
        );
        assert_eq!(found.len(), 1);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("rootfs/run/lock lacks"), "{w:?}");
        // The layer's /tmp (hidden by the mount in the container) gives way to the tmpfs.
        let diff = tar_of(&[
            ("tmp", None, None, 0o755),
            ("tmp/under-the-mount", Some(b"x"), None, 0o644),
            ("etc/x", Some(b"y"), None, 0o644),
        ]);
        let r = RootFs::build_all(None, Some(&diff), None, &found, &[]).unwrap();
        assert!(r.node("tmp/under-the-mount").is_none());
        assert!(r.node("etc/x").is_some());
        assert_eq!(r.node("tmp").unwrap().mode, 0o1777);
        let f = r.node("tmp/k.fifo").unwrap();
        assert!(matches!(f.kind, NodeKind::Fifo));
        assert_eq!(f.mode, 0o600);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn link_targets_never_leave_the_rootfs() {
        let tar = tar_of(&[
            ("a/b/abs", None, Some("/usr/lib/x"), 0o777),
            ("a/b/rel", None, Some("../c/d"), 0o777),
            ("a/b/up", None, Some("../../../../../etc/shadow"), 0o777),
            ("a/b/mid", None, Some("x/../../y"), 0o777),
            ("a/b/root", None, Some("/"), 0o777),
            ("a/b/dotdot", None, Some("/../.."), 0o777),
            ("top", None, Some(".."), 0o777),
            ("loop1", None, Some("loop2"), 0o777),
            ("loop2", None, Some("loop1/.."), 0o777),
            ("dir", None, None, 0o755),
            ("viaroot", None, Some("top/x"), 0o777),
        ]);
        let r = RootFs::build(None, Some(&tar), None).unwrap();
        assert_eq!(shown(&r, "a/b/abs"), "../../usr/lib/x");
        assert_eq!(shown(&r, "a/b/rel"), "../c/d");
        assert_eq!(shown(&r, "a/b/up"), "../../etc/shadow");
        assert_eq!(shown(&r, "a/b/mid"), "../../a/y");
        assert_eq!(shown(&r, "a/b/root"), "../..");
        assert_eq!(shown(&r, "a/b/dotdot"), "../..");
        assert_eq!(shown(&r, "top"), ".");
        assert_eq!(shown(&r, "viaroot"), "top/x");
        // Every shown target, read lexically from its directory, stays inside.
        for (p, n) in r.nodes() {
            if let NodeKind::Symlink { shown, .. } = &n.kind {
                assert!(!shown.starts_with('/'), "{p} -> {shown}");
                let mut d = depth_of_dir(parent_of(p)) as i64;
                let mut seen_name = false;
                for c in shown.split('/') {
                    if c == ".." {
                        assert!(!seen_name, "{p} -> {shown}: `..` after a name");
                        d -= 1;
                    } else if c != "." {
                        seen_name = true;
                        d += 1;
                    }
                    assert!(d >= 0, "{p} -> {shown} escapes");
                }
            }
        }
        assert_eq!(r.resolve("/a/b/abs", true).as_deref(), Some("usr/lib/x"));
        assert_eq!(r.resolve("/loop1", true), None);
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_the_lower_layer() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("etc/conf.d")).unwrap();
        std::fs::write(d.join("etc/passwd"), "root:x:0:0").unwrap();
        std::fs::write(d.join("etc/conf.d/a"), "a").unwrap();
        std::fs::write(d.join("etc/hosts"), "lower").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("etc/pw")).unwrap();
        std::os::unix::fs::symlink("/", d.join("escape")).unwrap();
        let tar = tar_of(&[
            ("etc/.wh.passwd", Some(b""), None, 0o644),
            ("etc/conf.d/.wh..wh..opq", Some(b""), None, 0o644),
            ("etc/conf.d/b", Some(b"b"), None, 0o644),
            ("etc/hosts", Some(b"upper"), None, 0o644),
        ]);
        let r = RootFs::build(Some(d), Some(&tar), None).unwrap();
        assert!(r.node("etc/passwd").is_none());
        assert!(r.node("etc/conf.d/a").is_none());
        assert!(r.node("etc/conf.d/b").is_some());
        let Some(FileData::Blob(b)) = r.file("/etc/hosts") else {
            panic!()
        };
        assert_eq!(b.bytes(), b"upper");
        assert_eq!(shown(&r, "etc/pw"), "../etc/passwd");
        assert_eq!(shown(&r, "escape"), ".");
        // A host file is read beneath the root only, never through a symlink.
        std::fs::write(d.join("etc/plain"), "plain").unwrap();
        let r = RootFs::build(Some(d), None, None).unwrap();
        let Some(FileData::Host(h)) = r.file("/etc/plain") else {
            panic!()
        };
        let mut buf = [0u8; 16];
        assert_eq!(h.read_at(0, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"plain");
        assert_eq!(h.map().unwrap().bytes(), b"plain");
        // Swap the directory for a symlink pointing out: the read must fail, not follow.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("plain"), "HOST-SECRET").unwrap();
        std::fs::rename(d.join("etc"), d.join("etc.old")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.join("etc")).unwrap();
        assert!(h.read_at(0, &mut buf).is_err());
        assert!(h.map().is_err());
        assert!(h.root.open_file_walk("etc/plain").is_err());
    }

    #[test]
    fn ghosts_are_shown_beside_their_path() {
        let (dir, files) = crate::model::ghost::tests::ghost_dir(b"GHOST");
        let mut w = Vec::new();
        let g = crate::model::ghost::ghosts(&dir, &files, &mut w);
        let tar = tar_of(&[("tmp/gone.txt", Some(b"NEW FILE, SAME NAME"), None, 0o644)]);
        let r = RootFs::build_with_ghosts(None, Some(&tar), None, &g).unwrap();
        let Some(FileData::Blob(b)) = r.file("/tmp/gone.txt (deleted)") else {
            panic!()
        };
        assert_eq!(b.bytes(), b"GHOST");
        assert!(r.file("/tmp/gone.txt").is_some());
        assert_eq!(r.node("tmp/gone.txt (deleted)").unwrap().mode, 0o600);
    }
}
