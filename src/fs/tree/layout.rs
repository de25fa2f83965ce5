//! The layout of the tree: which node goes where, built from the model in tree order (the root's
//! files, `checkpoint/`, each `PID/`, `rootfs/`, the kernel objects, then the hidden `.link/`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use super::builder::Builder;
use super::{Dir, Ino, Kind, LINK_DIR, LayerDir, LayerNode, NodeKind, Order, ROOT_INO, Tree};
use crate::fs::content::{self, Content, TextSrc};
use crate::model::{Checkpoint, FileObject, Process};
use crate::render::files::{self, Render, When};
use crate::source::Blob;

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

    /// Builds the tree from its inputs. Deterministic: the same inputs give the same inode
    /// numbers (nodes are numbered in the order this creates them).
    pub fn from_parts(parts: &Parts<'_>) -> Tree {
        let mut l = Layout {
            b: Builder::new(),
            parts,
            shared: HashMap::new(),
            linked: Vec::new(),
        };
        // The root's, `checkpoint/`'s and `sysvipc/`'s rendered files (their generated files
        // come first: a metadata file of the same name is refused, with a warning).
        l.rendered(ROOT_INO, About::Checkpoint);
        l.checkpoint();
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            l.process(i, p);
        }
        l.rootfs_dir();
        l.kernel_objects();
        l.link_dir();
        l.b.finish()
    }
}

/// The layout under construction: the node table, its inputs, and which `memory/` files hold
/// the bytes of shared mappings.
struct Layout<'p> {
    b: Builder,
    parts: &'p Parts<'p>,
    /// Shared mappings already given a `memory/` file, by what makes their bytes the same.
    shared: HashMap<SharedKey, MemoryFile>,
    /// `memory/` files that a later process's link points at: `.link/PID/memory/<name>` exists
    /// for exactly these.
    linked: Vec<MemoryFile>,
}

/// What a rendered file is about (indices into the processes, then into the process's threads or
/// descriptors), which picks the rows of the table of files that apply.
#[derive(Clone, Copy)]
enum About<'a> {
    Checkpoint,
    Process(u32, &'a Process),
    Thread(u32, &'a Process, u32),
    Fd(u32, &'a Process, u32, &'a crate::model::process::Fd),
}

/// A file of `PID/memory/`: the process's index, the mapping's range and the file's name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MemoryFile {
    proc: u32,
    start: u64,
    end: u64,
    name: String,
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

impl Layout<'_> {
    /// `checkpoint/`: what the checkpoint holds as it holds it (images, metadata files, the
    /// container's log), beside what ckptfs says about it (info.json, summary, fields.json, the
    /// manifest: rendered rows of the table, made before).
    fn checkpoint(&mut self) {
        let parts = self.parts;
        let Some(cp) = self.b.subdir(ROOT_INO, "checkpoint") else {
            return;
        };
        if let Some(images) = self.b.dir(cp, "images", Order::Natural) {
            for (name, blob) in parts.images {
                if shown_decoded(name, true) {
                    let t = format!("../../{LINK_DIR}/checkpoint/images/{name}");
                    self.b.link(images, name, t.into_bytes());
                } else {
                    self.b.file_at_path(images, "checkpoint/images", name, blob);
                }
            }
        }
        for (name, blob) in parts.metadata {
            if shown_decoded(name, false) {
                let t = format!("../{LINK_DIR}/checkpoint/{name}");
                self.b.link(cp, name, t.into_bytes());
            } else {
                self.b.file_at_path(cp, "checkpoint", name, blob);
            }
        }
        // container.log under a stable name (unless the archive has it already).
        if let Some(log) = parts.container_log
            && !parts.metadata.contains_key("container.log")
        {
            self.b.file_at_path(cp, "checkpoint", "container.log", log);
        }
    }

    /// `PID/` with everything in it.
    fn process(&mut self, pi: u32, p: &Process) {
        let Some(pd) = self.b.dir(ROOT_INO, &p.pid.to_string(), Order::Natural) else {
            return;
        };
        self.b.owned_by(pd, pi);
        // The rendered files of `PID/` and `PID/net/`.
        self.rendered(pd, About::Process(pi, p));
        // The whole-address-space files are links into `.link/` (see LINK_DIR); `core` is not
        // listed (found by name only), so that its target can have its real size.
        let pid = p.pid;
        self.b
            .link(pd, "mem", format!("../{LINK_DIR}/{pid}/mem").into_bytes());
        self.b.add_entry(
            pd,
            "core",
            NodeKind::Link(format!("../{LINK_DIR}/{pid}/core").into_bytes().into()),
            true,
        );
        self.b.link(
            pd,
            "pagemap",
            format!("../{LINK_DIR}/{pid}/pagemap").into_bytes(),
        );
        if let Some(md) = self.b.dir(pd, "memory", Order::Insertion) {
            let mut vmas: Vec<_> = p.vmas.iter().filter(|v| v.end > v.start).collect();
            vmas.sort_by_key(|v| v.start);
            for v in vmas {
                let name = content::vma_file_name(v);
                // A shared mapping whose bytes another process's memory/ file already holds is a
                // link to that file: a recursive walk meets each dumped byte once.
                if let Some(target) = self.shared_link(pi, p, v) {
                    self.b.link(md, &name, target);
                    continue;
                }
                self.b.file(
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
        if let Some(fd_dir) = self.b.dir(pd, "fd", Order::Natural) {
            for (_, f) in &fds {
                self.b
                    .link(fd_dir, &f.fd.to_string(), file_link(2, &f.file));
            }
        }
        if let Some(fi_dir) = self.b.dir(pd, "fdinfo", Order::Natural) {
            for (j, f) in &fds {
                let Ok(j) = u32::try_from(*j) else { break };
                self.rendered(fi_dir, About::Fd(pi, p, j, f));
            }
        }
        if let Some(cwd) = &p.cwd {
            self.b.link(pd, "cwd", file_link(1, cwd));
        }
        if let Some(exe) = &p.exe {
            self.b.link(pd, "exe", file_link(1, exe));
        }
        if let Some(root) = &p.root {
            self.b.link(pd, "root", file_link(1, root));
        }
        if let Some(td) = self.b.dir(pd, "task", Order::Natural) {
            for (j, t) in p.threads.iter().enumerate() {
                let Ok(j) = u32::try_from(j) else { break };
                let Some(tdir) = self.b.dir(td, &t.tid.to_string(), Order::Natural) else {
                    continue;
                };
                self.rendered(tdir, About::Thread(pi, p, j));
            }
        }
    }

    /// The rendered files about `about` under `dir` (the directory its rows' [`Render::base`]
    /// names), in the table's order: every row of that kind whose [`When`] holds, with the fixed
    /// directories of its path made on the way (`net/` for `PID/net/tcp`). A descriptor's file
    /// is named by its number.
    fn rendered(&mut self, dir: Ino, about: About<'_>) {
        'rows: for (i, row) in files::FILES.iter().enumerate() {
            let (Some(render), Some(rel)) = (row.render(), row.rel()) else {
                continue;
            };
            let (proc, sub) = match (render, about) {
                (Render::Checkpoint(_), About::Checkpoint) => (0, 0),
                (Render::Process(_), About::Process(pi, _)) => (pi, 0),
                (Render::Thread(_), About::Thread(pi, _, j)) => (pi, j),
                (Render::Fd(_), About::Fd(pi, _, j, _)) => (pi, j),
                _ => continue,
            };
            if !self.holds(row.when, about) {
                continue;
            }
            let Some(src) = TextSrc::new(i, proc, sub) else {
                continue;
            };
            let (dirs, name) = match rel.rsplit_once('/') {
                Some((dirs, name)) => (Some(dirs), name),
                None => (None, rel),
            };
            let mut at = dir;
            for d in dirs.into_iter().flat_map(|d| d.split('/')) {
                match self.b.subdir(at, d) {
                    Some(ino) => at = ino,
                    None => continue 'rows,
                }
            }
            let name = match (name, about) {
                ("N", About::Fd(.., f)) => f.fd.to_string(),
                (name, _) => name.to_string(),
            };
            let node = NodeKind::File(Content::text(src));
            self.b.add_entry(at, &name, node, !row.listed);
        }
    }

    /// Whether a row's condition holds for what its file would be about.
    fn holds(&self, when: When, about: About<'_>) -> bool {
        match when {
            When::Always => true,
            When::Manifest => self.parts.manifest,
            When::UserNs => self.parts.userns,
            When::Process(test) => match about {
                About::Process(_, p) | About::Thread(_, p, _) | About::Fd(_, p, ..) => test(p),
                About::Checkpoint => false,
            },
        }
    }

    /// For a shared mapping already shown by an earlier process (same object, offset, length and
    /// the same dumped bytes), the target of a link to that process's file; else None (and the
    /// mapping is recorded as the one to link to).
    fn shared_link(&mut self, pi: u32, p: &Process, v: &crate::model::Vma) -> Option<Vec<u8>> {
        let key = SharedKey::of(v)?;
        let Some(first) = self.shared.get(&key).cloned() else {
            let file = MemoryFile {
                proc: pi,
                start: v.start,
                end: v.end,
                name: content::vma_file_name(v),
            };
            self.shared.insert(key, file);
            return None;
        };
        let q = self.parts.processes.get(first.proc as usize)?;
        if first.proc == pi
            || !q
                .memory
                .same_as(first.start, first.end - first.start, &p.memory, v.start)
        {
            return None;
        }
        let target = format!("../../{LINK_DIR}/{}/memory/{}", q.pid, first.name);
        self.linked.push(first);
        Some(target.into_bytes())
    }

    /// `rootfs/`: the container's files, and the memfds no process maps.
    fn rootfs_dir(&mut self) {
        let parts = self.parts;
        if let Some(root) = self.b.dir(ROOT_INO, "rootfs", Order::Natural) {
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
                    if let Some(d) = self.b.dir(at, name, Order::Natural) {
                        // Its layer's mode and time; an implicit parent (no stamp) keeps the
                        // defaults.
                        if let Some(mtime) = stamp_time(node.stamp) {
                            self.b.set_layer(
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
                    let f = crate::fs::rootfs::RootFile {
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
                    self.b.file(at, name, c);
                }
                R::Symlink { shown, .. } => {
                    self.b.link(at, name, shown.clone().into_bytes());
                }
                R::Fifo | R::Device(_) => {
                    let kind = match &node.kind {
                        R::Device(d) if d.block => Kind::BlockDevice(d.rdev()),
                        R::Device(d) => Kind::CharDevice(d.rdev()),
                        _ => Kind::Fifo,
                    };
                    let l = LayerNode {
                        kind,
                        mode: node.mode,
                        mtime: stamp_time(node.stamp),
                        owner: stamp_owner(node.stamp),
                    };
                    self.b.add(at, name, NodeKind::Special(l));
                }
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
                        self.b.file(rd, &name, Content::Procfs(Box::new(c)));
                    } else if !mapped(m.inode_id) {
                        self.b.file(rd, &name, c);
                    }
                }
                0 => {}
                _ if visible_unless_mapped.is_some() => {
                    // Said once, in `.link/rootfs/`.
                    count.insert(m.name.as_str(), 0);
                }
                n => {
                    count.insert(m.name.as_str(), 0);
                    self.b.warn(
                        crate::warning::Kind::AmbiguousMemfd,
                        format!(
                            "memfd:{}: {n} memfds have this name: the links of their descriptors \
                         are left dangling (mapped bytes are in PID/memory/)",
                            crate::format::escape(&m.name)
                        ),
                    );
                }
            }
        }
    }

    /// `sysvipc/shm` (the kernel's table) and `sysvipc/shm-<id>` (each segment's bytes, once);
    /// `buffers/`: the unread data of pipes, FIFOs and sockets, one file each.
    fn kernel_objects(&mut self) {
        let parts = self.parts;
        let Some(objects) = parts.objects else { return };
        if let Some(d) = self.b.dir(ROOT_INO, "buffers", Order::Natural) {
            for b in &objects.buffers {
                self.b.file(d, &b.name, Content::Blob(b.data.clone()));
            }
        }
        if let Some(d) = self.b.subdir(ROOT_INO, "sysvipc") {
            for (i, seg) in objects.shm.iter().enumerate() {
                let Ok(i) = u32::try_from(i) else { break };
                let name = format!("shm-{}", seg.id);
                // A segment some process maps is met in that process's memory/ file: here it is
                // a link into `.link/` (see LINK_DIR), readable by path, skipped by walks.
                if attached(parts.processes, u64::from(seg.id)) {
                    let t = format!("../{LINK_DIR}/sysvipc/{name}");
                    self.b.link(d, &name, t.into_bytes());
                } else {
                    self.b.file(d, &name, Content::Shm { seg: i });
                }
            }
        }
    }

    /// `.link/` (see [`LINK_DIR`]): per process `mem`, `core`, `pagemap` and the `memory/` files
    /// that links point at; `rootfs/` again, with files served procfs-style; the checkpoint's
    /// files shown decoded elsewhere; the SysV segments some process maps.
    fn link_dir(&mut self) {
        let parts = self.parts;
        let Some(ld) = self.b.add_entry(
            ROOT_INO,
            LINK_DIR,
            NodeKind::Dir(Dir::new(Order::Natural)),
            true,
        ) else {
            return;
        };
        let mut ranges = std::mem::take(&mut self.linked);
        ranges.sort_unstable();
        ranges.dedup();
        for (i, p) in parts.processes.iter().enumerate() {
            let Ok(pi) = u32::try_from(i) else { break };
            let Some(pd) = self.b.dir(ld, &p.pid.to_string(), Order::Natural) else {
                continue;
            };
            // Owned like the process's own directory (as procfs does).
            self.b.owned_by(pd, pi);
            let procfs = |c: Content| Content::Procfs(Box::new(c));
            self.b.file(pd, "mem", procfs(Content::Mem { proc: pi }));
            self.b.file(pd, "core", Content::core(pi));
            self.b.file(pd, "pagemap", Content::Pagemap { proc: pi });
            let mine = ranges.iter().filter(|r| r.proc == pi);
            if mine.clone().next().is_some()
                && let Some(md) = self.b.dir(pd, "memory", Order::Insertion)
            {
                for r in mine {
                    let c = procfs(Content::Range {
                        proc: pi,
                        start: r.start,
                        end: r.end,
                    });
                    self.b.file(md, &r.name, c);
                }
            }
        }
        if let Some(rd) = self.b.dir(ld, "rootfs", Order::Natural) {
            self.rootfs(rd, parts.rootfs, true);
            if let Some(o) = parts.objects {
                self.memfds(rd, o, None);
            }
        }
        let procfs = |b: &Blob| Content::Procfs(Box::new(Content::Blob(b.clone())));
        if let Some(cd) = self.b.dir(ld, "checkpoint", Order::Natural) {
            if let Some(id) = self.b.dir(cd, "images", Order::Natural) {
                for (name, blob) in parts.images.iter().filter(|(n, _)| shown_decoded(n, true)) {
                    self.b.file(id, name, procfs(blob));
                }
            }
            for (name, blob) in parts
                .metadata
                .iter()
                .filter(|(n, _)| shown_decoded(n, false))
            {
                self.b.file(cd, name, procfs(blob));
            }
        }
        let Some(objects) = parts.objects else { return };
        let attached_segs: Vec<(u32, String)> = objects
            .shm
            .iter()
            .enumerate()
            .filter(|(_, seg)| attached(parts.processes, u64::from(seg.id)))
            .filter_map(|(i, seg)| Some((u32::try_from(i).ok()?, format!("shm-{}", seg.id))))
            .collect();
        if !attached_segs.is_empty()
            && let Some(d) = self.b.dir(ld, "sysvipc", Order::Natural)
        {
            for (i, name) in attached_segs {
                self.b
                    .file(d, &name, Content::Procfs(Box::new(Content::Shm { seg: i })));
            }
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
