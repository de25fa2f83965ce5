//! The checkpoint model: container metadata, process tree, per-task state, memory, files.
//! Built once at mount from the decoded images ([`load`]), immutable afterwards (handlers need no locks).

pub mod bash_history;
pub mod catalog;
pub mod files;
pub mod fill;
pub mod load;
pub mod memory;
pub mod metadata;
pub mod network;
pub mod objects;
pub mod page_diff;
pub mod pages;
pub mod predump;
pub mod process;
// rootfs/, mountinfo, ghost files
pub mod ghost;
pub mod mounts;
pub mod rootfs;
pub mod userns;

use std::collections::BTreeMap;
use std::time::SystemTime;

pub use files::{FileKind, FileObject, FileRef};
pub use memory::{Memory, PAGE_SIZE};
pub use metadata::Metadata;
pub use process::{Process, Thread, Vma, VmaName};

use crate::source::Source;

/// Why a checkpoint could not be modelled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error("{file}: {what}")]
    Invalid { file: String, what: String },
    #[error("{0}: required image is missing")]
    Missing(String),
}

impl Error {
    /// The kind of warning this error is when the load goes on without what failed.
    pub fn warning_kind(&self) -> crate::warning::Kind {
        match self {
            Error::Image(e) => e.warning_kind(),
            Error::Invalid { .. } => crate::warning::Kind::CorruptImage,
            Error::Missing(_) => crate::warning::Kind::MissingImage,
        }
    }
}

/// Where the runtimes store the container's log in their archives, in the order looked for.
pub const CONTAINER_LOG_NAMES: [&str; 3] =
    ["container.log", "io.kubernetes.cri-o.LogPath", "ctr.log"];

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// Where the bytes come from (kept for the raw image and metadata files).
    pub source: Source,
    pub meta: Metadata,
    /// Processes sorted by PID (as seen inside the container).
    pub processes: Vec<Process>,
    /// File objects of files.img by id.
    pub files: BTreeMap<u32, FileRef>,
    /// The time the tree reports for its files: the checkpoint time when known.
    pub time: SystemTime,
    /// Problems that did not stop the load: what is missing or broken, and where.
    pub warnings: crate::warning::Warnings,
    /// `rootfs/`, the mounts, and the memory filled from `rootfs/` ([`rootfs::attach`]).
    pub container_fs: rootfs::ContainerFs,
    /// Objects no single process owns (SysV shared memory, ...).
    pub objects: objects::Objects,
}

impl Checkpoint {
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &self.processes[i])
    }

    /// The root task(s): processes whose parent is not in the checkpoint.
    pub fn roots(&self) -> impl Iterator<Item = &Process> {
        self.processes
            .iter()
            .filter(|p| self.process(p.ppid).is_none() || p.ppid == p.pid)
    }

    /// The dumped memory of the whole checkpoint, each page once: every process's private pages,
    /// plus the pages of each shared object (shared anonymous memory, SysV segment, memfd, shared
    /// file) once however many processes map it. Pages filled from `rootfs/` (not dumped) are
    /// not counted. The one definition of "dumped memory" (`info.json`, `diff`); per-process
    /// figures (`memparse`) count shared pages in every process that maps them.
    pub fn dumped_bytes(&self) -> u64 {
        let mut total = 0u64;
        let mut shared_pages: std::collections::HashSet<(process::SharedObject, u64)> =
            std::collections::HashSet::new();
        for p in &self.processes {
            let filled_ranges = self.container_fs.filled(p.pid);
            let is_filled = |a: u64| filled_ranges.iter().any(|&(s, e)| s <= a && a < e);
            let filled: u64 = filled_ranges
                .iter()
                .map(|&(s, e)| p.memory.present_in(s, e))
                .fold(0, u64::saturating_add);
            // Present bytes in shared mappings (dumped or filled), and the filled part of them.
            let (mut in_shared, mut filled_shared) = (0u64, 0u64);
            for v in &p.vmas {
                let Some(obj) = v.shared_object() else {
                    continue;
                };
                if p.memory.present_in(v.start, v.end) == 0 {
                    continue;
                }
                let mut at = v.start;
                while at < v.end {
                    let end = at.saturating_add(PAGE_SIZE).min(v.end);
                    let n = p.memory.present_in(at, end);
                    if n > 0 {
                        in_shared = in_shared.saturating_add(n);
                        if is_filled(at) {
                            filled_shared = filled_shared.saturating_add(n);
                        } else {
                            shared_pages
                                .insert((obj.clone(), v.pgoff.saturating_add(at - v.start)));
                        }
                    }
                    at = end;
                }
            }
            let filled_private = filled.saturating_sub(filled_shared);
            total = total.saturating_add(
                p.memory
                    .present_bytes()
                    .saturating_sub(in_shared)
                    .saturating_sub(filled_private),
            );
        }
        total.saturating_add((shared_pages.len() as u64).saturating_mul(PAGE_SIZE))
    }

    /// The processes in `pid`'s network namespace (itself included), in PID order.
    pub fn net_ns_peers(&self, pid: u32) -> Vec<&Process> {
        self.processes
            .iter()
            .filter(|p| self.objects.same_net_ns(pid, p.pid))
            .collect()
    }

    /// The container's log (its stdout / stderr up to the checkpoint) as the runtime stored it:
    /// its name in the archive and its bytes. containerd: `container.log`; CRI-O: the file named
    /// literally `io.kubernetes.cri-o.LogPath`; Podman: `ctr.log` (k8s-file log driver).
    pub fn container_log(&self) -> Option<(&str, &crate::source::Blob)> {
        CONTAINER_LOG_NAMES
            .iter()
            .find_map(|n| self.source.metadata.get_key_value(*n))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Children of `pid`, in PID order.
    pub fn children(&self, pid: u32) -> impl Iterator<Item = &Process> {
        self.processes
            .iter()
            .filter(move |p| p.ppid == pid && p.pid != pid)
    }
}
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
pub(crate) mod test_util;
