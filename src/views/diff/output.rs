//! The result of `ckptfs diff` (its JSON; the tree view is drawn from it).

use serde::Serialize;

pub use crate::model::page_diff::Pages;

/// One side of the comparison.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Side {
    pub path: String,
    pub container_name: Option<String>,
    pub id: Option<String>,
    pub created: Option<String>,
    pub checkpointed: Option<String>,
    pub processes: usize,
    pub dumped_bytes: u64,
    /// A CRIU pre-dump: memory only (no process tree, no files).
    pub pre_dump: bool,
}

/// A process as listed among the added / removed ones.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ProcBrief {
    pub pid: u32,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
}

/// A field that differs.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub a: String,
    pub b: String,
}

/// A variable whose value changed.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct EnvChange {
    pub name: String,
    pub a: String,
    pub b: String,
}

/// How the environment changed.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<EnvChange>,
}

impl EnvDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A process present in both whose comm, state, command line or environment differ.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ProcChange {
    pub pid: u32,
    pub command: String,
    pub changes: Vec<FieldChange>,
    #[serde(skip_serializing_if = "EnvDiff::is_empty")]
    pub environment: EnvDiff,
}

/// Process changes.
#[derive(Serialize, Debug, Clone, Default)]
pub struct ProcessChanges {
    pub added: Vec<ProcBrief>,
    pub removed: Vec<ProcBrief>,
    pub changed: Vec<ProcChange>,
}

/// An open file (or cwd / root) of a process.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FdRef {
    pub pid: u32,
    pub fd: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
}

/// Files opened and closed.
#[derive(Serialize, Debug, Clone, Default)]
pub struct FileChanges {
    pub opened: Vec<FdRef>,
    pub closed: Vec<FdRef>,
}

/// A socket of a process.
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SockRef {
    pub pid: u32,
    pub fd: u32,
    pub protocol: String,
    pub description: String,
}

/// Sockets opened and closed.
#[derive(Serialize, Debug, Clone, Default)]
pub struct SocketChanges {
    pub opened: Vec<SockRef>,
    pub closed: Vec<SockRef>,
}

/// A VMA that was added, removed or whose pages changed.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct VmaDiff {
    /// `start-end` in hex, as in maps.
    pub range: String,
    pub perms: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perms_a: Option<String>,
    pub dumped_a: u64,
    pub dumped_b: u64,
    pub pages: Pages,
}

/// Memory of one process present in both checkpoints.
#[derive(Serialize, Debug, Clone)]
pub struct ProcMemDiff {
    pub pid: u32,
    pub command: String,
    pub dumped_a: u64,
    pub dumped_b: u64,
    pub pages: Pages,
    pub vmas: Vec<VmaDiff>,
}

/// Memory changes.
#[derive(Serialize, Debug, Clone, Default)]
pub struct MemoryChanges {
    /// Dumped bytes of B minus A (all processes).
    pub size_change_bytes: i64,
    /// Sum over the processes present in both.
    pub pages: Pages,
    /// Processes present in both whose memory differs.
    pub processes: Vec<ProcMemDiff>,
}

/// Counts for a one-line summary.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Summary {
    pub processes_added: usize,
    pub processes_removed: usize,
    pub processes_changed: usize,
    pub files_opened: usize,
    pub files_closed: usize,
    pub sockets_opened: usize,
    pub sockets_closed: usize,
    pub pages_changed: u64,
    pub pages_added: u64,
    pub pages_removed: u64,
}

/// The whole comparison.
#[derive(Serialize, Debug, Clone, Default)]
pub struct DiffResult {
    pub checkpoint_a: Side,
    pub checkpoint_b: Side,
    pub same_container: bool,
    /// One side (or both) is a pre-dump: only memory was compared.
    pub memory_only: bool,
    /// What could not be compared because a pre-dump does not record it (`processes.changed`,
    /// `files`, `sockets`); empty for two full dumps.
    pub unknown: Vec<String>,
    pub processes: ProcessChanges,
    pub files: FileChanges,
    pub sockets: SocketChanges,
    pub memory: MemoryChanges,
    pub summary: Summary,
}
