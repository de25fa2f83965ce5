//! `ckptfs diff A B`: what changed from checkpoint A to checkpoint B.
//!
//! - **Processes**, matched by PID (the PID inside the container): added, removed, and changed
//!   ones with what changed: comm, task state, command line, environment (variables added,
//!   removed, changed).
//! - **Files**: descriptors (and cwd / root) opened and closed, keyed by PID, descriptor and path.
//! - **Sockets**: sockets opened and closed, keyed by PID, descriptor, protocol, addresses, ports
//!   and state (a socket whose state changed shows as closed and opened).
//! - **Memory**: per process present in both, the dumped size in A and B and a page-level
//!   comparison of the dumped memory: pages whose content changed (dumped in both, bytes
//!   differ), pages added (dumped only in B) and removed (dumped only in A); then per VMA (matched
//!   by address range): VMAs added, removed, and those whose pages changed. checkpointctl compares
//!   only the total size of the pages files.
//!
//! Pages that cannot be read (a broken extent in either checkpoint) are counted as `unreadable`,
//! never as equal. Checkpoints of different containers (different ids) are compared anyway, with
//! a warning on stderr (checkpointctl refuses).
//!
//! **Pre-dumps** (`criu pre-dump`: `pagemap-<pid>.img` and `pages-*.img`, no `pstree.img`, no
//! core / mm / files images) are compared by memory only: each pagemap's page index (PARENT pages
//! resolved through the `parent` chain) against the other side's process of the same PID, page by
//! page; per VMA when the other side is a full dump (each page attributed to the full dump's VMA
//! containing it). What a pre-dump does not record (comm, state, command line, environment,
//! files, sockets) is reported as unknown (`unknown` in JSON), never as a change.
//!
//! `--format json` gives the same as one object (see `docs/views.md` for the schema).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::inspect::{FileTypes, open_files, socket_node, to_json};
use super::tree::Node;
use super::{Error, Format, write_out};
use crate::format::human_size;
use crate::model::Checkpoint;
use crate::model::memory::{Memory, PAGE_SIZE, Piece};
use crate::model::process::{Process, Vma};
use crate::render::maps::vma_name;
use crate::source::{ImageDir, OpenOptions, Source};

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
    fn is_empty(&self) -> bool {
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

/// Page counts of a page-level comparison.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pages {
    /// Dumped in both, content differs.
    pub changed: u64,
    /// Dumped only in B.
    pub added: u64,
    /// Dumped only in A.
    pub removed: u64,
    /// Dumped in both and equal.
    pub unchanged: u64,
    /// Cannot be read in A or B (broken extents).
    pub unreadable: u64,
}

impl Pages {
    fn any_change(&self) -> bool {
        self.changed + self.added + self.removed + self.unreadable > 0
    }
    fn add(&mut self, o: &Pages) {
        self.changed += o.changed;
        self.added += o.added;
        self.removed += o.removed;
        self.unchanged += o.unchanged;
        self.unreadable += o.unreadable;
    }
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

/// Writes the comparison of checkpoint `path_a` with `path_b` to `out`.
pub fn run(
    path_a: &Path,
    path_b: &Path,
    format: Format,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let a = load_operand(path_a, open)?;
    let b = load_operand(path_b, open)?;
    let mut r = match (&a, &b) {
        (Operand::Full(a), Operand::Full(b)) => compare(a, b),
        _ => compare_memory_only(&a, &b),
    };
    r.checkpoint_a.path = path_a.display().to_string();
    r.checkpoint_b.path = path_b.display().to_string();
    if !r.same_container {
        eprintln!(
            "ckptfs: warning: the checkpoints are of different containers (A: {}, B: {}); comparing anyway",
            r.checkpoint_a.id.as_deref().unwrap_or("-"),
            r.checkpoint_b.id.as_deref().unwrap_or("-")
        );
    }
    let s = match format {
        Format::Json => to_json(&r),
        Format::Tree => format!(
            "\nDisplaying checkpoint diff from {} to {}{}\n\n{}\n",
            path_a.display(),
            path_b.display(),
            pre_dump_note(&r),
            tree(&r).render()
        ),
    };
    write_out(out, s.as_bytes())
}

/// What the header says about pre-dump operands (empty for two full dumps).
fn pre_dump_note(r: &DiffResult) -> String {
    match (r.checkpoint_a.pre_dump, r.checkpoint_b.pre_dump) {
        (true, true) => " (A and B are pre-dumps: memory only)".into(),
        (true, false) => " (A is a pre-dump: memory only)".into(),
        (false, true) => " (B is a pre-dump: memory only)".into(),
        (false, false) => String::new(),
    }
}

/// A CRIU pre-dump: per-PID memory, nothing else.
#[derive(Debug)]
pub struct PreDump {
    pub source: Source,
    /// The memory of each `pagemap-<pid>.img`, by PID (PARENT pages resolved through the chain).
    pub memory: BTreeMap<u32, Memory>,
    pub warnings: Vec<String>,
}

/// One operand of `diff`.
#[derive(Debug)]
pub enum Operand {
    Full(Box<Checkpoint>),
    Pre(Box<PreDump>),
}

/// The PID of a `pagemap-<pid>.img` name (not `pagemap-shmem-*`).
fn pagemap_pid(name: &str) -> Option<u32> {
    name.strip_prefix("pagemap-")?
        .strip_suffix(".img")?
        .parse()
        .ok()
}

/// A pre-dump: no `pstree.img`, but `pagemap-<pid>.img` files.
pub fn is_pre_dump(images: &ImageDir) -> bool {
    images.get("pstree.img").is_none() && images.files.keys().any(|n| pagemap_pid(n).is_some())
}

/// Builds the per-PID page indexes of a pre-dump.
pub fn load_pre_dump(source: Source) -> Result<PreDump, crate::model::Error> {
    let mut warnings = Vec::new();
    let mut memory = BTreeMap::new();
    let names: Vec<(u32, String)> = source
        .images
        .files
        .keys()
        .filter_map(|n| pagemap_pid(n).map(|pid| (pid, n.clone())))
        .collect();
    for (pid, name) in names {
        if let Some(m) = crate::model::pages::load(&source.images, &name, &mut warnings)? {
            memory.insert(pid, m);
        }
    }
    Ok(PreDump {
        source,
        memory,
        warnings,
    })
}

/// Opens `path` as a full checkpoint, or as a pre-dump when it is one. Warnings go to stderr.
pub fn load_operand(path: &Path, open: &OpenOptions) -> Result<Operand, Error> {
    let source = crate::source::open(path, open).map_err(|e| Error::input(e.to_string()))?;
    let op = if is_pre_dump(&source.images) {
        Operand::Pre(Box::new(
            load_pre_dump(source).map_err(|e| Error::input(format!("{}: {e}", path.display())))?,
        ))
    } else {
        Operand::Full(Box::new(
            crate::model::load::load(source)
                .map_err(|e| Error::input(format!("{}: {e}", path.display())))?,
        ))
    };
    let (w, sw) = match &op {
        Operand::Full(ck) => (&ck.warnings, &ck.source.warnings),
        Operand::Pre(p) => (&p.warnings, &p.source.warnings),
    };
    let mut seen = std::collections::HashSet::new();
    for w in w.iter().chain(sw) {
        if seen.insert(w.as_str()) {
            eprintln!(
                "ckptfs: warning: {}: {}",
                path.display(),
                super::one_line(w)
            );
        }
    }
    Ok(op)
}

/// A process as far as a memory-only comparison sees it.
struct MemProc<'a> {
    memory: &'a Memory,
    /// None for a pre-dump.
    process: Option<&'a Process>,
}

impl Operand {
    fn side(&self) -> Side {
        match self {
            Operand::Full(ck) => side(ck),
            Operand::Pre(p) => Side {
                path: p.source.input.path.display().to_string(),
                processes: p.memory.len(),
                dumped_bytes: p
                    .memory
                    .values()
                    .map(|m| m.present_bytes())
                    .fold(0, u64::saturating_add),
                pre_dump: true,
                ..Side::default()
            },
        }
    }

    fn procs(&self) -> BTreeMap<u32, MemProc<'_>> {
        match self {
            Operand::Full(ck) => ck
                .processes
                .iter()
                .map(|p| {
                    (
                        p.pid,
                        MemProc {
                            memory: &p.memory,
                            process: Some(p),
                        },
                    )
                })
                .collect(),
            Operand::Pre(pd) => pd
                .memory
                .iter()
                .map(|(pid, m)| {
                    (
                        *pid,
                        MemProc {
                            memory: m,
                            process: None,
                        },
                    )
                })
                .collect(),
        }
    }
}

fn mem_brief(pid: u32, m: &MemProc) -> ProcBrief {
    match m.process {
        Some(p) => brief(p),
        None => ProcBrief {
            pid,
            command: String::new(),
            cmdline: None,
        },
    }
}

/// Compares by memory only (one side or both is a pre-dump): processes are matched by PID, their
/// pages compared; per VMA of the full side when there is one.
pub fn compare_memory_only(a: &Operand, b: &Operand) -> DiffResult {
    let (sa, sb) = (a.side(), b.side());
    let mut r = DiffResult {
        same_container: sa.id == sb.id,
        checkpoint_a: sa,
        checkpoint_b: sb,
        memory_only: true,
        unknown: vec!["processes.changed".into(), "files".into(), "sockets".into()],
        ..DiffResult::default()
    };
    let (pa, pb) = (a.procs(), b.procs());
    for (pid, q) in &pb {
        if !pa.contains_key(pid) {
            r.processes.added.push(mem_brief(*pid, q));
        }
    }
    for (pid, p) in &pa {
        let Some(q) = pb.get(pid) else {
            r.processes.removed.push(mem_brief(*pid, p));
            continue;
        };
        let pages = compare_pages(p.memory, q.memory, 0, u64::MAX);
        let mut vmas = Vec::new();
        match (p.process, q.process) {
            (Some(x), Some(y)) => vmas = memory_diff(x, y).vmas,
            (None, None) => {}
            (Some(full), None) | (None, Some(full)) => {
                // Each page belongs to the full dump's VMA that contains it.
                for v in &full.vmas {
                    let pg = compare_pages(p.memory, q.memory, v.start, v.end);
                    if !pg.any_change() {
                        continue;
                    }
                    vmas.push(VmaDiff {
                        range: format!("{:08x}-{:08x}", v.start, v.end),
                        perms: v.perms(),
                        name: vma_label(v),
                        change: "changed".into(),
                        perms_a: None,
                        dumped_a: p.memory.present_in(v.start, v.end),
                        dumped_b: q.memory.present_in(v.start, v.end),
                        pages: pg,
                    });
                }
            }
        }
        r.memory.pages.add(&pages);
        if pages.any_change() || !vmas.is_empty() {
            let command = q
                .process
                .or(p.process)
                .map(|x| x.comm.clone())
                .unwrap_or_default();
            r.memory.processes.push(ProcMemDiff {
                pid: *pid,
                command,
                dumped_a: p.memory.present_bytes(),
                dumped_b: q.memory.present_bytes(),
                pages,
                vmas,
            });
        }
    }
    r.memory.size_change_bytes =
        r.checkpoint_b.dumped_bytes as i64 - r.checkpoint_a.dumped_bytes as i64;
    r.summary = Summary {
        processes_added: r.processes.added.len(),
        processes_removed: r.processes.removed.len(),
        pages_changed: r.memory.pages.changed,
        pages_added: r.memory.pages.added,
        pages_removed: r.memory.pages.removed,
        ..Summary::default()
    };
    r
}

fn side(ck: &Checkpoint) -> Side {
    Side {
        path: ck.source.input.path.display().to_string(),
        container_name: ck.meta.container_name.clone(),
        id: ck.meta.container_id.clone(),
        created: ck.meta.created.clone(),
        checkpointed: ck.meta.checkpointed.clone(),
        processes: ck.processes.len(),
        dumped_bytes: dumped(ck),
        pre_dump: false,
    }
}

fn dumped(ck: &Checkpoint) -> u64 {
    ck.processes
        .iter()
        .map(|p| p.memory.present_bytes())
        .fold(0, u64::saturating_add)
}

fn brief(p: &Process) -> ProcBrief {
    ProcBrief {
        pid: p.pid,
        command: p.comm.clone(),
        cmdline: p.mm.as_ref().and_then(|_| super::cmdline_text(p)),
    }
}

/// Compares two loaded checkpoints.
pub fn compare(a: &Checkpoint, b: &Checkpoint) -> DiffResult {
    let mut r = DiffResult {
        checkpoint_a: side(a),
        checkpoint_b: side(b),
        same_container: a.meta.container_id == b.meta.container_id,
        ..DiffResult::default()
    };
    // Processes.
    for p in &b.processes {
        if a.process(p.pid).is_none() {
            r.processes.added.push(brief(p));
        }
    }
    for p in &a.processes {
        match b.process(p.pid) {
            None => r.processes.removed.push(brief(p)),
            Some(q) => {
                if let Some(c) = process_change(p, q) {
                    r.processes.changed.push(c);
                }
                let m = memory_diff(p, q);
                r.memory.pages.add(&m.pages);
                if m.pages.any_change() || !m.vmas.is_empty() {
                    r.memory.processes.push(m);
                }
            }
        }
    }
    r.memory.size_change_bytes = dumped(b) as i64 - dumped(a) as i64;
    // Files and sockets.
    let (fa, fb) = (FileTypes::of(a), FileTypes::of(b));
    let files = |ck: &Checkpoint, ft: &FileTypes| -> BTreeSet<FdRef> {
        ck.processes
            .iter()
            .flat_map(|p| {
                open_files(p, ft).into_iter().map(|f| FdRef {
                    pid: p.pid,
                    fd: f.fd,
                    kind: f.kind,
                    path: f.path,
                })
            })
            .collect()
    };
    let (xa, xb) = (files(a, &fa), files(b, &fb));
    r.files.opened = xb.difference(&xa).cloned().collect();
    r.files.closed = xa.difference(&xb).cloned().collect();
    let socks = |ck: &Checkpoint, ft: &FileTypes| -> BTreeSet<SockRef> {
        ck.processes
            .iter()
            .flat_map(|p| {
                p.fds.iter().filter_map(move |fd| {
                    socket_node(&fd.file, ft).map(|s| {
                        let d = &s.data;
                        let description = match d.kind.as_str() {
                            "UNIX" => format!("[{}]  {}", s.tree.0, s.tree.1),
                            _ if !d.src.is_empty() => format!(
                                "[{}]  {}:{} -> {}:{}",
                                s.tree.0, d.src, d.src_port, d.dst, d.dst_port
                            ),
                            _ => format!("[{}]  {}", s.tree.0, s.tree.1),
                        };
                        SockRef {
                            pid: p.pid,
                            fd: fd.fd,
                            protocol: if s.protocol.is_empty() {
                                d.kind.clone()
                            } else {
                                s.protocol
                            },
                            description,
                        }
                    })
                })
            })
            .collect()
    };
    let (sa, sb) = (socks(a, &fa), socks(b, &fb));
    r.sockets.opened = sb.difference(&sa).cloned().collect();
    r.sockets.closed = sa.difference(&sb).cloned().collect();
    r.summary = Summary {
        processes_added: r.processes.added.len(),
        processes_removed: r.processes.removed.len(),
        processes_changed: r.processes.changed.len(),
        files_opened: r.files.opened.len(),
        files_closed: r.files.closed.len(),
        sockets_opened: r.sockets.opened.len(),
        sockets_closed: r.sockets.closed.len(),
        pages_changed: r.memory.pages.changed,
        pages_added: r.memory.pages.added,
        pages_removed: r.memory.pages.removed,
    };
    r
}

fn env_map(v: &[String]) -> BTreeMap<String, String> {
    v.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

fn process_change(p: &Process, q: &Process) -> Option<ProcChange> {
    let mut changes = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            changes.push(FieldChange {
                field: name.to_string(),
                a,
                b,
            });
        }
    };
    field("comm", p.comm.clone(), q.comm.clone());
    field(
        "state",
        super::state_name(p.state),
        super::state_name(q.state),
    );
    let cmd = |p: &Process| {
        p.mm.as_ref()
            .and_then(|_| super::cmdline_text(p))
            .unwrap_or_default()
    };
    field("cmdline", cmd(p), cmd(q));
    let env = |p: &Process| {
        if p.mm.is_some() {
            super::environ_list(p)
        } else {
            Vec::new()
        }
    };
    let (ea, eb) = (env_map(&env(p)), env_map(&env(q)));
    let mut environment = EnvDiff::default();
    for (k, v) in &eb {
        match ea.get(k) {
            None => environment.added.push(format!("{k}={v}")),
            Some(old) if old != v => environment.changed.push(EnvChange {
                name: k.clone(),
                a: old.clone(),
                b: v.clone(),
            }),
            _ => {}
        }
    }
    for (k, v) in &ea {
        if !eb.contains_key(k) {
            environment.removed.push(format!("{k}={v}"));
        }
    }
    if changes.is_empty() && environment.is_empty() {
        return None;
    }
    Some(ProcChange {
        pid: q.pid,
        command: q.comm.clone(),
        changes,
        environment,
    })
}

/// What one page is in a comparison of two memories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageChange {
    Changed,
    Added,
    Removed,
    Unchanged,
    Unreadable,
}

impl Pages {
    fn count(&mut self, c: PageChange) {
        match c {
            PageChange::Changed => self.changed += 1,
            PageChange::Added => self.added += 1,
            PageChange::Removed => self.removed += 1,
            PageChange::Unchanged => self.unchanged += 1,
            PageChange::Unreadable => self.unreadable += 1,
        }
    }
}

/// Compares the pages of `a` and `b` in `lo..hi` (page-aligned), one page at a time, skipping
/// what neither has.
pub fn compare_pages(a: &Memory, b: &Memory, lo: u64, hi: u64) -> Pages {
    let mut n = Pages::default();
    walk_pages(a, b, lo, hi, |_, c| n.count(c));
    n
}

/// Calls `f(page address, change)` for every page in `lo..hi` that `a` or `b` has, in address
/// order.
fn walk_pages(a: &Memory, b: &Memory, lo: u64, hi: u64, mut f: impl FnMut(u64, PageChange)) {
    let mut ba = vec![0u8; PAGE_SIZE as usize];
    let mut bb = vec![0u8; PAGE_SIZE as usize];
    let mut addr = lo & !(PAGE_SIZE - 1);
    let mut released = addr;
    while addr < hi {
        let next = match (a.next_data(addr), b.next_data(addr)) {
            (None, None) => break,
            (Some(x), None) | (None, Some(x)) => x,
            (Some(x), Some(y)) => x.min(y),
        };
        if next >= hi {
            break;
        }
        let page = next & !(PAGE_SIZE - 1);
        let end = page.saturating_add(PAGE_SIZE).min(hi);
        let (in_a, in_b) = (a.present_in(page, end) > 0, b.present_in(page, end) > 0);
        match (in_a, in_b) {
            (true, true) => {
                let len = (end - page) as usize;
                let same = match (whole_piece(a, page, len), whole_piece(b, page, len)) {
                    (Some(x), Some(y)) => Some(x == y),
                    _ => match (
                        a.read_at(page, &mut ba[..len]),
                        b.read_at(page, &mut bb[..len]),
                    ) {
                        (Ok(()), Ok(())) => Some(ba[..len] == bb[..len]),
                        _ => None,
                    },
                };
                f(
                    page,
                    match same {
                        Some(true) => PageChange::Unchanged,
                        Some(false) => PageChange::Changed,
                        None => PageChange::Unreadable,
                    },
                );
            }
            (true, false) => f(page, PageChange::Removed),
            (false, true) => f(page, PageChange::Added),
            (false, false) => {}
        }
        if end <= addr {
            break;
        }
        addr = end;
        // Keep the resident set bounded on big processes: drop what was compared so far.
        if addr - released >= RELEASE_EVERY {
            a.release(released, addr);
            b.release(released, addr);
            released = addr;
        }
    }
    a.release(released, addr);
    b.release(released, addr);
}

/// The pages of the whole of `a` and `b` and of each of `ranges` (sorted, page-aligned, possibly
/// overlapping: a VMA that grew is one range in A and another in B), in one walk.
fn compare_pages_by_range(a: &Memory, b: &Memory, ranges: &[(u64, u64)]) -> (Pages, Vec<Pages>) {
    let mut total = Pages::default();
    let mut each = vec![Pages::default(); ranges.len()];
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    walk_pages(a, b, 0, u64::MAX, |page, c| {
        total.count(c);
        while next < ranges.len() && ranges[next].0 <= page {
            active.push(next);
            next += 1;
        }
        active.retain(|&i| ranges[i].1 > page);
        for &i in &active {
            each[i].count(c);
        }
    });
    (total, each)
}

/// How much address space [`compare_pages`] walks between two releases of the mapped pages.
const RELEASE_EVERY: u64 = 8 << 20;

/// The bytes of `addr..addr + len` when one extent holds them all.
fn whole_piece(m: &Memory, addr: u64, len: usize) -> Option<&[u8]> {
    match m.piece_at(addr, len as u64) {
        Piece::Data(d) if d.len() == len => Some(d),
        _ => None,
    }
}

fn vma_label(v: &Vma) -> String {
    vma_name(v).map(|c| c.into_owned()).unwrap_or_default()
}

fn memory_diff(p: &Process, q: &Process) -> ProcMemDiff {
    let mut vmas = Vec::new();
    let range = |v: &Vma| format!("{:08x}-{:08x}", v.start, v.end);
    let key = |v: &Vma| (v.start, v.end);
    let va: BTreeMap<(u64, u64), &Vma> = p.vmas.iter().map(|v| (key(v), v)).collect();
    let vb: BTreeMap<(u64, u64), &Vma> = q.vmas.iter().map(|v| (key(v), v)).collect();
    let mut keys: BTreeSet<(u64, u64)> = va.keys().copied().collect();
    keys.extend(vb.keys().copied());
    let keys: Vec<(u64, u64)> = keys.into_iter().collect();
    let (pages, per_vma) = compare_pages_by_range(&p.memory, &q.memory, &keys);
    for (k, pg) in keys.into_iter().zip(per_vma) {
        let (x, y) = (va.get(&k), vb.get(&k));
        let v = *y.or(x).expect("key from one of the maps");
        let change = match (x, y) {
            (Some(_), None) => "removed",
            (None, Some(_)) => "added",
            _ => "changed",
        };
        let perms_a = match (x, y) {
            (Some(x), Some(y)) if x.perms() != y.perms() => Some(x.perms()),
            _ => None,
        };
        if change == "changed" && !pg.any_change() && perms_a.is_none() {
            continue;
        }
        vmas.push(VmaDiff {
            range: range(v),
            perms: v.perms(),
            name: vma_label(v),
            change: change.into(),
            perms_a,
            dumped_a: p.memory.present_in(k.0, k.1),
            dumped_b: q.memory.present_in(k.0, k.1),
            pages: pg,
        });
    }
    ProcMemDiff {
        pid: q.pid,
        command: q.comm.clone(),
        dumped_a: p.memory.present_bytes(),
        dumped_b: q.memory.present_bytes(),
        pages,
        vmas,
    }
}

fn signed_size(d: i64) -> String {
    if d >= 0 {
        format!("+{}", human_size(d as u64))
    } else {
        format!("-{}", human_size(d.unsigned_abs()))
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn pages_text(p: &Pages) -> String {
    let mut parts = vec![format!("{} changed", plural(p.changed, "page"))];
    if p.added > 0 {
        parts.push(format!("{} added", p.added));
    }
    if p.removed > 0 {
        parts.push(format!("{} removed", p.removed));
    }
    if p.unreadable > 0 {
        parts.push(format!("{} unreadable", p.unreadable));
    }
    parts.join(", ")
}

/// The tree view of a comparison.
pub fn tree(r: &DiffResult) -> Node {
    let name = r
        .checkpoint_b
        .container_name
        .clone()
        .or_else(|| r.checkpoint_a.container_name.clone())
        .unwrap_or_else(|| "Container".into());
    let mut root = Node::new(name);
    for (label, s) in [("A", &r.checkpoint_a), ("B", &r.checkpoint_b)] {
        let title = if s.pre_dump {
            format!("{label}: {} (pre-dump: memory only)", s.path)
        } else {
            format!("{label}: {}", s.path)
        };
        let n = root.add(Node::new(title));
        if let Some(c) = &s.checkpointed {
            n.leaf(format!("Checkpointed: {c}"));
        }
        n.leaf(format!("Processes: {}", s.processes));
        n.leaf(format!("Dumped memory: {}", human_size(s.dumped_bytes)));
    }
    let unknown = |what: &str| -> Option<String> {
        r.unknown.iter().any(|u| u == what).then(|| {
            format!(
                "unknown{}",
                pre_dump_note(r).replace(": memory only", ", which records memory only")
            )
        })
    };
    let procs = root.add(Node::new("Processes"));
    let pc = &r.processes;
    if let Some(u) = unknown("processes.changed") {
        procs.leaf(format!("comm, state, command line, environment: {u}"));
    } else if pc.added.is_empty() && pc.removed.is_empty() && pc.changed.is_empty() {
        procs.leaf("no changes");
    }
    for (label, list) in [("Added", &pc.added), ("Removed", &pc.removed)] {
        if !list.is_empty() {
            let n = procs.add(Node::new(label));
            for p in list {
                let what = match (&p.cmdline, p.command.is_empty()) {
                    (Some(c), _) => c.clone(),
                    (None, false) => p.command.clone(),
                    (None, true) => "(pre-dump: memory only)".into(),
                };
                n.add(Node::with_meta(p.pid.to_string(), what));
            }
        }
    }
    if !pc.changed.is_empty() {
        let n = procs.add(Node::new("Changed"));
        for c in &pc.changed {
            let p = n.add(Node::with_meta(c.pid.to_string(), c.command.clone()));
            for f in &c.changes {
                p.leaf(format!("{}: {:?} -> {:?}", f.field, f.a, f.b));
            }
            if !c.environment.is_empty() {
                let e = p.add(Node::new("Environment variables"));
                for v in &c.environment.added {
                    e.leaf(format!("+ {v}"));
                }
                for v in &c.environment.removed {
                    e.leaf(format!("- {v}"));
                }
                for v in &c.environment.changed {
                    e.leaf(format!("~ {}: {:?} -> {:?}", v.name, v.a, v.b));
                }
            }
        }
    }
    let files = root.add(Node::new("Files"));
    if let Some(u) = unknown("files") {
        files.leaf(u);
    } else if r.files.opened.is_empty() && r.files.closed.is_empty() {
        files.leaf("no changes");
    }
    for (label, list) in [("Opened", &r.files.opened), ("Closed", &r.files.closed)] {
        if !list.is_empty() {
            let n = files.add(Node::new(label));
            for f in list {
                n.add(Node::with_meta(
                    format!("{} {}", f.pid, f.fd),
                    f.path.clone(),
                ));
            }
        }
    }
    let socks = root.add(Node::new("Sockets"));
    if let Some(u) = unknown("sockets") {
        socks.leaf(u);
    } else if r.sockets.opened.is_empty() && r.sockets.closed.is_empty() {
        socks.leaf("no changes");
    }
    for (label, list) in [("Opened", &r.sockets.opened), ("Closed", &r.sockets.closed)] {
        if !list.is_empty() {
            let n = socks.add(Node::new(label));
            for s in list {
                n.add(Node::with_meta(
                    format!("{} fd {}", s.pid, s.fd),
                    s.description.clone(),
                ));
            }
        }
    }
    let mem = root.add(Node::new("Memory"));
    mem.leaf(format!(
        "Dumped memory: {} -> {} ({})",
        human_size(r.checkpoint_a.dumped_bytes),
        human_size(r.checkpoint_b.dumped_bytes),
        signed_size(r.memory.size_change_bytes)
    ));
    if r.memory.processes.is_empty() {
        mem.leaf("no page changed");
    }
    for m in &r.memory.processes {
        let n = mem.add(Node::with_meta(
            m.pid.to_string(),
            format!(
                "{}: {} -> {} ({}); {}",
                m.command,
                human_size(m.dumped_a),
                human_size(m.dumped_b),
                signed_size(m.dumped_b as i64 - m.dumped_a as i64),
                pages_text(&m.pages)
            ),
        ));
        for v in &m.vmas {
            let mark = match v.change.as_str() {
                "added" => "+ ",
                "removed" => "- ",
                _ => "",
            };
            let perms = match &v.perms_a {
                Some(pa) => format!("{pa} -> {}", v.perms),
                None => v.perms.clone(),
            };
            let name = if v.name.is_empty() {
                String::new()
            } else {
                format!(" {}", v.name)
            };
            let what = match v.change.as_str() {
                "added" => format!("added, {} dumped", human_size(v.dumped_b)),
                "removed" => format!("removed, {} were dumped", human_size(v.dumped_a)),
                _ => pages_text(&v.pages),
            };
            n.leaf(format!("{mark}{} {perms}{name}: {what}", v.range));
        }
    }
    let s = &r.summary;
    let (changed, files, sockets) = if r.unknown.is_empty() {
        (
            s.processes_changed.to_string(),
            format!("+{} -{}", s.files_opened, s.files_closed),
            format!("+{} -{}", s.sockets_opened, s.sockets_closed),
        )
    } else {
        ("?".into(), "?".into(), "?".into())
    };
    root.leaf(format!(
        "Summary: processes +{} -{} ~{changed}; files {files}; sockets {sockets}; pages {} changed, {} added, {} removed",
        s.processes_added,
        s.processes_removed,
        s.pages_changed,
        s.pages_added,
        s.pages_removed
    ));
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::{Extent, ExtentData};
    use crate::source::Blob;

    fn mem(chunks: &[(u64, Vec<u8>)]) -> Memory {
        Memory::from_extents(
            chunks
                .iter()
                .map(|(a, b)| Extent {
                    start: *a,
                    len: b.len() as u64,
                    data: ExtentData::Bytes(Blob::from_vec(b.clone())),
                })
                .collect(),
        )
        .0
    }

    /// One walk gives, for the whole and for each (overlapping) range, what a walk of that range
    /// alone gives.
    #[test]
    fn one_walk_counts_every_range_like_its_own_walk() {
        let page = |f: u8| vec![f; 4096];
        let a = mem(&[
            (0x10000, [page(1), page(2), page(3)].concat()),
            (0x20000, page(5)),
            (0x40000, page(7)),
        ]);
        let b = mem(&[
            (0x10000, [page(1), page(9)].concat()),
            (0x30000, page(6)),
            (0x40000, page(7)),
            (0x50000, page(8)),
        ]);
        // A VMA that shrank (two keys with one start), one that only B has, a gap between.
        let ranges = [
            (0x10000, 0x12000),
            (0x10000, 0x13000),
            (0x20000, 0x21000),
            (0x30000, 0x31000),
            (0x40000, 0x60000),
        ];
        let (total, each) = compare_pages_by_range(&a, &b, &ranges);
        assert_eq!(total, compare_pages(&a, &b, 0, u64::MAX));
        for (r, got) in ranges.iter().zip(&each) {
            assert_eq!(*got, compare_pages(&a, &b, r.0, r.1), "{r:x?}");
        }
        assert_eq!(
            (total.changed, total.added, total.removed, total.unchanged),
            (1, 2, 2, 2)
        );
    }

    #[test]
    fn page_level_comparison() {
        let page = |f: u8| vec![f; 4096];
        let mut two = page(1);
        two.extend(page(2));
        let mut two_b = page(1);
        two_b.extend(page(9));
        let a = mem(&[(0x10000, two), (0x20000, page(5)), (0x40000, page(7))]);
        // B: page 0x11000 changed (and comes from two different blobs), 0x20000 gone,
        // 0x30000 new, 0x40000 equal.
        let b = mem(&[
            (0x10000, two_b[..4096].to_vec()),
            (0x11000, two_b[4096..].to_vec()),
            (0x30000, page(3)),
            (0x40000, page(7)),
        ]);
        let n = compare_pages(&a, &b, 0, u64::MAX);
        assert_eq!(
            n,
            Pages {
                changed: 1,
                added: 1,
                removed: 1,
                unchanged: 2,
                unreadable: 0
            }
        );
        // Restricted to one range.
        let n = compare_pages(&a, &b, 0x11000, 0x12000);
        assert_eq!((n.changed, n.unchanged), (1, 0));
        // A broken page is never "equal".
        let broken = Memory::from_extents(vec![Extent {
            start: 0x40000,
            len: 4096,
            data: ExtentData::Broken("pages file too short".into()),
        }])
        .0;
        let n = compare_pages(&a, &broken, 0x40000, 0x41000);
        assert_eq!(n.unreadable, 1);
        // One changed byte is a changed page.
        let mut p = page(7);
        p[4095] = 8;
        let c = mem(&[(0x40000, p)]);
        assert_eq!(compare_pages(&a, &c, 0x40000, 0x41000).changed, 1);
    }
}
