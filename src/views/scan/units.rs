//! What a checkpoint's scan covers: its VMAs as units (a shared range once, with every process
//! that maps it) and the other files of the tree that hold checkpoint bytes.

use std::collections::HashMap;

use crate::model::Checkpoint;
use crate::model::process::{Process, SharedObject, Vma, vma_status as vs};
use crate::source::Blob;
use crate::warning::{Kind, Warnings};

/// A unit of work: one VMA of one process (for shared memory: the first process that maps that
/// range of the object), plus every process that maps the same range.
pub(super) struct Unit<'c> {
    pub proc: &'c Process,
    pub vma: &'c Vma,
    pub object: Option<String>,
    /// (process, VMA) of every process that sees this range, the unit's own first.
    pub sharers: Vec<(&'c Process, &'c Vma)>,
    /// Dumped bytes in the VMA (progress).
    pub present: u64,
}

/// The shared-memory object behind a `MAP_SHARED` VMA, named for the output (the model's
/// [`Vma::shared_object`]); None for private memory (and an unresolved shared file).
pub fn shared_object(v: &Vma) -> Option<String> {
    Some(match v.shared_object()? {
        SharedObject::Shmem(id) if v.status & vs::SYSVIPC != 0 => format!("sysv:{id}"),
        SharedObject::Shmem(id) => format!("shmem:{id}"),
        SharedObject::Memfd(id) => format!("memfd:{id}"),
        SharedObject::File(path) => format!("file:{path}"),
    })
}

/// The units of a checkpoint: private VMAs each, shared ranges once.
pub(super) fn units(ck: &Checkpoint) -> Vec<Unit<'_>> {
    let mut out: Vec<Unit<'_>> = Vec::new();
    let mut by_range: HashMap<(String, u64, u64), usize> = HashMap::new();
    for p in &ck.processes {
        for v in &p.vmas {
            if v.is_empty() {
                continue;
            }
            let present = p.memory.present_in(v.start, v.end);
            let object = shared_object(v);
            if let Some(o) = &object {
                let key = (o.clone(), v.pgoff, v.len());
                if let Some(&i) = by_range.get(&key) {
                    let u: &mut Unit<'_> = &mut out[i];
                    u.sharers.push((p, v));
                    // A process may hold pages of the object another did not (never both: then
                    // its copy is scanned).
                    if present > u.present {
                        u.proc = p;
                        u.vma = v;
                        u.present = present;
                    }
                    continue;
                }
                by_range.insert(key, out.len());
            }
            if present == 0 && object.is_none() {
                continue;
            }
            out.push(Unit {
                proc: p,
                vma: v,
                object,
                sharers: vec![(p, v)],
                present,
            });
        }
    }
    out.retain(|u| u.present > 0);
    out
}

/// A VMA as a `maps` line: `start-end perms path`.
pub fn mapping_text(v: &Vma) -> String {
    let name = crate::render::maps::vma_name(v);
    let mut s = format!("{:x}-{:x} {}", v.start, v.end, v.perms());
    if let Some(n) = name {
        s.push(' ');
        s.push_str(&n);
    }
    s
}

/// A file of the tree that holds checkpoint bytes outside memory, scanned whole.
pub(super) struct TreeFile {
    /// The finding's `where`: `buffer`, `checkpoint` or `rootfs`.
    pub where_: &'static str,
    /// Its path in the tree.
    pub path: String,
    /// Its path in the container (a file of `rootfs/`).
    pub file: Option<String>,
    pub blob: Blob,
}

/// The other bytes the tree shows, each file whole: unread pipe / FIFO / socket data, the
/// checkpoint's metadata files and the container log, and (asked for) the files of `rootfs/`.
/// A file of `rootfs/` that cannot be read is a line in `warn`.
pub(super) fn tree_files(
    ck: &Checkpoint,
    rootfs_files: bool,
    warn: &mut Warnings,
) -> Vec<TreeFile> {
    let mut files: Vec<TreeFile> = Vec::new();
    for b in &ck.objects.buffers {
        files.push(TreeFile {
            where_: "buffer",
            path: format!("buffers/{}", b.name),
            file: None,
            blob: b.data.clone(),
        });
    }
    // The images whose bytes the tree does not show decoded elsewhere (pages, ghost files and
    // buffers are: memory/, rootfs/, buffers/), and the metadata files but the layer and
    // /dev/shm tars (rootfs/).
    for (name, blob) in &ck.source.images.files {
        if !crate::fs::tree::shown_decoded(name, true) {
            files.push(TreeFile {
                where_: "checkpoint",
                path: format!("checkpoint/images/{name}"),
                file: None,
                blob: blob.clone(),
            });
        }
    }
    for (name, blob) in &ck.source.metadata {
        if crate::fs::tree::shown_decoded(name, false) {
            continue;
        }
        files.push(TreeFile {
            where_: "checkpoint",
            path: format!("checkpoint/{name}"),
            file: None,
            blob: blob.clone(),
        });
    }
    if rootfs_files {
        for (path, node) in ck.container_fs.rootfs.nodes() {
            let crate::model::rootfs::NodeKind::File(data) = &node.kind else {
                continue;
            };
            match data.blob() {
                Ok(blob) => files.push(TreeFile {
                    where_: "rootfs",
                    path: format!("rootfs/{path}"),
                    file: Some(format!("/{path}")),
                    blob,
                }),
                Err(e) => warn.push(Kind::Unreadable, format!("rootfs/{path}: cannot read: {e}")),
            }
        }
    }
    files
}
