//! The result of `ckptfs diff` (its JSON; the tree view is drawn from it).
//!
//! The keys checkpointctl's `diff` has come first, with its names and shapes (`container_id`,
//! `container_name`, `image`, `checkpoint_a` / `checkpoint_b` with `created` and `total_size`,
//! `process_changes`, `file_changes`, `memory_changes` with `size_change_bytes` and
//! `size_change_mb`, `socket_changes`, `summary` as text); what ckptfs adds is in extra fields of
//! those objects (a side's path, a process's field changes, the pages compared) or under its own
//! keys after them (`same_container`, `memory_only`, `unknown`, `counts`, `rootfs_changes`,
//! `log_changes`, `not_compared`).

use serde::Serialize;

pub use super::identity::Basis;
use super::identity::shown;
use crate::warning::Warning;

pub use crate::model::page_diff::Pages;

/// One side of the comparison.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Side {
    /// The engine's creation time of the container (checkpointctl's `created`).
    pub created: Option<String>,
    /// Bytes of the CRIU images (checkpointctl's `total_size`).
    pub total_size: u64,
    pub path: String,
    pub container_name: Option<String>,
    pub id: Option<String>,
    pub image: Option<String>,
    /// The container engine (Podman, CRI-O, containerd, Docker).
    pub engine: Option<String>,
    pub checkpointed: Option<String>,
    pub processes: usize,
    pub dumped_bytes: u64,
    /// A CRIU pre-dump: memory only (no process tree, no files).
    pub pre_dump: bool,
    /// When the dump was taken (null when neither the metadata nor the images record it).
    pub dump_time: Option<DumpTime>,
}

/// When a dump was taken, and where that time comes from: `checkpointed` (the engine's
/// checkpointed time in config.dump) or `images written` (inventory.img's modification time).
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpTime {
    pub time: String,
    pub from: String,
}

/// An entry of `rootfs/` added, removed or changed.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RootfsEntry {
    /// Absolute path inside the container.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub status: String,
    /// `file`, `directory`, `symlink` or `fifo` (B's; A's for a removed entry).
    #[serde(rename = "type")]
    pub kind: String,
    /// Permission bits in octal.
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The layer's modification time (RFC 3339); null for an entry no layer records.
    pub mtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a changed entry: each field that differs (`type`, `size`, `mode`, `sha256`, `target`,
    /// `mtime`) with A's and B's values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// The container's files as the checkpoint knows them (`rootfs/`: rootfs-diff.tar, the saved
/// tmpfs mounts and deleted-but-open files) and `deleted.files`.
#[derive(Serialize, Debug, Clone, Default)]
pub struct RootfsChanges {
    pub added: Vec<RootfsEntry>,
    pub removed: Vec<RootfsEntry>,
    pub changed: Vec<RootfsEntry>,
    /// Paths in B's deleted.files and not in A's.
    pub deleted_files_added: Vec<String>,
    /// Paths in A's deleted.files and not in B's.
    pub deleted_files_removed: Vec<String>,
}

impl RootfsChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.deleted_files_added.is_empty()
            && self.deleted_files_removed.is_empty()
    }
}

/// An established TCP connection dumped in both (`tcp-stream-<ino>.img`) whose queues or
/// sequence numbers moved: what went through it between the dumps.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct TcpStreamChange {
    pub pid: u32,
    pub fd: u32,
    /// `ADDRESS:PORT` of each end.
    pub local: String,
    pub peer: String,
    /// Bytes waiting to be read, in A and in B.
    pub recv_queue_a: u32,
    pub recv_queue_b: u32,
    /// Bytes waiting to be sent or acknowledged, in A and in B.
    pub send_queue_a: u32,
    pub send_queue_b: u32,
    /// `inq_seq` and `outq_seq` in A and in B.
    pub inq_seq_a: u32,
    pub inq_seq_b: u32,
    pub outq_seq_a: u32,
    pub outq_seq_b: u32,
    /// Bytes that arrived between the dumps (`inq_seq` B minus A, modulo 2^32).
    pub received: u32,
    /// Bytes handed to the connection between the dumps (`outq_seq` B minus A, modulo 2^32).
    pub sent: u32,
}

/// Unread data (`buffers/NAME`: a pipe's, FIFO's or socket's queue) that only one dump holds,
/// or whose bytes differ between the dumps.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct QueueChange {
    /// Its name in `buffers/`: `pipe-N`, `fifo-N`, `unix-N`, `tcp-N.recv`, `tcp-N.send`.
    pub name: String,
    /// `pipe`, `fifo`, `unix`, `tcp-recv`, `tcp-send`.
    pub kind: String,
    /// `added` (only B holds unread bytes there), `removed` (only A), `changed`.
    pub status: String,
    /// The descriptors open on it, `PID N fd N` (B's; A's for a removed one).
    pub holders: Vec<String>,
    /// Its bytes in A and in B (null where that side holds none).
    pub size_a: Option<u64>,
    pub size_b: Option<u64>,
    pub sha256_a: Option<String>,
    pub sha256_b: Option<String>,
    /// The first bytes (at most 64) of each side, escaped: printable ASCII as is, `\\` for a
    /// backslash, `\xNN` for any other byte.
    pub head_a: Option<String>,
    pub head_b: Option<String>,
    /// When B's bytes begin with all of A's: the bytes written after them (first 64, escaped).
    pub appended: Option<String>,
    /// When B's bytes are the end of A's: how many bytes were read from the front.
    pub consumed: Option<u64>,
}

/// The container log's new lines.
#[derive(Serialize, Debug, Clone, Default)]
pub struct LogChanges {
    /// The log's name in B's archive (`ctr.log`, `container.log`, ...).
    pub name: String,
    pub lines_a: usize,
    pub lines_b: usize,
    /// Lines in B after A's log (or, when A's log is not the start of B's, lines B has more of).
    pub new_lines: Vec<String>,
    /// Lines A has more of than B (a log rotated or truncated); empty when B continues A.
    pub lost_lines: Vec<String>,
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

/// A process as `process_changes` lists it (checkpointctl's `ProcessInfo`), with what changed
/// for a modified one.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// comm, state, command line: A's and B's values (modified processes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(skip_serializing_if = "EnvDiff::is_empty")]
    pub environment: EnvDiff,
}

/// Processes matched by PID: in B only, in A only, in both with a different comm, state,
/// command line or environment, in both alike.
#[derive(Serialize, Debug, Clone, Default)]
pub struct ProcessChanges {
    pub added: Vec<ProcessInfo>,
    pub removed: Vec<ProcessInfo>,
    pub modified: Vec<ProcessInfo>,
    pub unchanged: Vec<ProcessInfo>,
}

/// An open file (or cwd / root) of a process (checkpointctl's `FileInfo`).
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileInfo {
    pub pid: u32,
    pub fd: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Files opened (in B only), closed (in A only), and open in both.
#[derive(Serialize, Debug, Clone, Default)]
pub struct FileChanges {
    pub added: Vec<FileInfo>,
    pub removed: Vec<FileInfo>,
    pub unchanged: Vec<FileInfo>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A socket of a process (checkpointctl's `SocketInfo`, plus its descriptor).
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocketInfo {
    pub pid: u32,
    pub protocol: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub src_port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dest: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub dst_port: u32,
    pub fd: u32,
}

/// Sockets opened (in B only), closed (in A only; a socket whose state changed is both), and
/// open in both.
#[derive(Serialize, Debug, Clone, Default)]
pub struct SocketChanges {
    pub added: Vec<SocketInfo>,
    pub removed: Vec<SocketInfo>,
    pub unchanged: Vec<SocketInfo>,
}

fn hex_addr<S: serde::Serializer>(a: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{a:x}"))
}

fn hex_digest<S: serde::Serializer>(d: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        None => s.serialize_none(),
    }
}

/// A page that changed, appeared or disappeared.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PageEntry {
    /// The page's address, hex (as in maps).
    #[serde(serialize_with = "hex_addr")]
    pub address: u64,
    /// `changed`, `added`, `removed` or `unreadable`.
    pub change: &'static str,
    /// SHA-256 of the page's 4096 bytes in A (null when A has none or it cannot be read).
    #[serde(serialize_with = "hex_digest")]
    pub sha256_a: Option<[u8; 32]>,
    #[serde(serialize_with = "hex_digest")]
    pub sha256_b: Option<[u8; 32]>,
    /// A thread's `struct rseq` lies in this page: the kernel rewrites it (expected noise).
    pub rseq: bool,
}

/// A printable string (6 characters or more) that the changed pages of one side hold and those
/// of the other side do not.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct StringHit {
    pub string: String,
    /// Where it is first (B's address for a gained string, A's for a lost one), hex.
    #[serde(serialize_with = "hex_addr")]
    pub address: u64,
    /// How many times the side's changed pages hold it.
    pub count: u64,
    /// How many times the other side's changed pages hold it (fewer than `count`; 0 for a
    /// string the other side does not hold).
    pub count_other: u64,
    /// The rank: higher looks more like data (keys, values, tokens), lower like churn (repeated
    /// bytes, symbols, stacks).
    pub score: i64,
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
    /// Every page of the VMA that changed, was added, removed or cannot be read, by address.
    pub page_list: Vec<PageEntry>,
    /// Strings in B's changed pages of the process and not in A's, those in this VMA, best first.
    pub strings_gained: Vec<StringHit>,
    /// Strings in A's changed pages of the process and not in B's, those in this VMA.
    pub strings_lost: Vec<StringHit>,
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
    /// The changed pages held more distinct strings than are kept per process and side
    /// (200000): the strings gained and lost are those of the pages before that point.
    pub strings_capped: bool,
}

/// Memory changes.
#[derive(Serialize, Debug, Clone, Default)]
pub struct MemoryChanges {
    /// Dumped bytes of B minus A (all processes, each page once).
    pub size_change_bytes: i64,
    /// The same in MiB.
    pub size_change_mb: f64,
    /// Pages compared, summed over the processes present in both.
    pub pages: Pages,
    /// Processes present in both whose memory differs, down to their VMAs.
    pub processes: Vec<ProcMemDiff>,
}

/// The counts behind the summary.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Counts {
    pub processes_added: usize,
    pub processes_removed: usize,
    pub processes_modified: usize,
    pub files_added: usize,
    pub files_removed: usize,
    pub sockets_added: usize,
    pub sockets_removed: usize,
    pub pages_changed: u64,
    pub pages_added: u64,
    pub pages_removed: u64,
    pub rootfs_added: usize,
    pub rootfs_removed: usize,
    pub rootfs_changed: usize,
    pub log_lines_new: usize,
    pub queued_added: usize,
    pub queued_removed: usize,
    pub queued_changed: usize,
}

/// A process of B's tree (for `--show-unchanged`).
#[derive(Debug, Clone, Default)]
pub struct TreeNode {
    pub pid: u32,
    pub command: String,
    pub cmdline: Option<String>,
    pub children: Vec<TreeNode>,
}

/// The whole comparison.
#[derive(Serialize, Debug, Clone, Default)]
pub struct DiffResult {
    /// A's container id, name and image ("" when the checkpoint does not say; both sides' are
    /// in `checkpoint_a` and `checkpoint_b`).
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub checkpoint_a: Side,
    pub checkpoint_b: Side,
    pub process_changes: ProcessChanges,
    pub file_changes: FileChanges,
    pub memory_changes: MemoryChanges,
    pub socket_changes: SocketChanges,
    /// checkpointctl's summary: a line naming the container, then a line per kind of change.
    pub summary: String,
    /// Whether A and B are one container ([`super::identity`]'s rule); null when neither
    /// records enough to tell.
    pub same_container: Option<bool>,
    /// What `same_container` rests on: `id` or `name-and-image` (null with it).
    pub same_container_by: Option<Basis>,
    /// The comparison's own warnings (`different-containers`), as `info.json` has them.
    pub warnings: Vec<Warning>,
    /// One side (or both) is a pre-dump: only memory was compared.
    pub memory_only: bool,
    /// What could not be compared because a pre-dump does not record it
    /// (`process_changes.modified`, `file_changes`, `socket_changes`); empty for two full dumps.
    pub unknown: Vec<String>,
    pub counts: Counts,
    /// ckptfs: the container's files (null for a pre-dump).
    pub rootfs_changes: Option<RootfsChanges>,
    /// ckptfs: TCP connections in both whose queues or sequence numbers moved.
    pub tcp_streams: Vec<TcpStreamChange>,
    /// ckptfs: unread pipe, FIFO and socket data added, removed or changed.
    pub queued_data: Vec<QueueChange>,
    /// ckptfs: the container log (null when B's archive has none).
    pub log_changes: Option<LogChanges>,
    /// ckptfs: what this comparison does not look at, one phrase each.
    pub not_compared: Vec<String>,
    /// B's process tree (the tree view's `--show-unchanged`).
    #[serde(skip)]
    pub tree_b: Vec<TreeNode>,
}

impl DiffResult {
    fn queued_count(&self, status: &str) -> usize {
        self.queued_data
            .iter()
            .filter(|q| q.status == status)
            .count()
    }

    /// Fills `counts` and `summary` from the lists.
    pub fn finish(&mut self) {
        let (p, f, s, m) = (
            &self.process_changes,
            &self.file_changes,
            &self.socket_changes,
            &self.memory_changes,
        );
        self.counts = Counts {
            processes_added: p.added.len(),
            processes_removed: p.removed.len(),
            processes_modified: p.modified.len(),
            files_added: f.added.len(),
            files_removed: f.removed.len(),
            sockets_added: s.added.len(),
            sockets_removed: s.removed.len(),
            pages_changed: m.pages.changed,
            pages_added: m.pages.added,
            pages_removed: m.pages.removed,
            rootfs_added: self.rootfs_changes.as_ref().map_or(0, |r| r.added.len()),
            rootfs_removed: self.rootfs_changes.as_ref().map_or(0, |r| r.removed.len()),
            rootfs_changed: self.rootfs_changes.as_ref().map_or(0, |r| r.changed.len()),
            log_lines_new: self.log_changes.as_ref().map_or(0, |l| l.new_lines.len()),
            queued_added: self.queued_count("added"),
            queued_removed: self.queued_count("removed"),
            queued_changed: self.queued_count("changed"),
        };
        let c = &self.counts;
        let unknown = !self.unknown.is_empty();
        let (a, b) = (
            &self.checkpoint_a.container_name,
            &self.checkpoint_b.container_name,
        );
        let name = |n: &Option<String>| match n {
            Some(_) => shown(n),
            None => "(name not recorded)".to_string(),
        };
        let mut s = if a == b {
            format!("Checkpoint comparison for container {}", name(a))
        } else {
            format!(
                "Checkpoint comparison for containers {} (A) and {} (B)",
                name(a),
                name(b)
            )
        };
        if c.processes_added + c.processes_removed + c.processes_modified > 0 {
            let modified = if unknown {
                "?".to_string()
            } else {
                c.processes_modified.to_string()
            };
            s.push_str(&format!(
                "\nProcesses: +{} -{} ~{modified}",
                c.processes_added, c.processes_removed
            ));
        }
        if c.files_added + c.files_removed > 0 {
            s.push_str(&format!("\nFiles: +{} -{}", c.files_added, c.files_removed));
        }
        if c.sockets_added + c.sockets_removed > 0 {
            s.push_str(&format!(
                "\nSockets: +{} -{}",
                c.sockets_added, c.sockets_removed
            ));
        }
        if c.rootfs_added + c.rootfs_removed + c.rootfs_changed > 0 {
            s.push_str(&format!(
                "\nRootfs: +{} -{} ~{}",
                c.rootfs_added, c.rootfs_removed, c.rootfs_changed
            ));
        }
        if c.log_lines_new > 0 {
            s.push_str(&format!("\nLog: +{} lines", c.log_lines_new));
        }
        if c.queued_added + c.queued_removed + c.queued_changed > 0 {
            s.push_str(&format!(
                "\nQueued data: +{} -{} ~{}",
                c.queued_added, c.queued_removed, c.queued_changed
            ));
        }
        if m.size_change_bytes != 0 {
            s.push_str(&format!("\nMemory: {:+.2} MB", m.size_change_mb));
        }
        if c.pages_changed + c.pages_added + c.pages_removed > 0 {
            s.push_str(&format!(
                "\nPages: {} changed, {} added, {} removed",
                c.pages_changed, c.pages_added, c.pages_removed
            ));
        }
        self.summary = s;
    }
}
