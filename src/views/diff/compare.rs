//! Comparing two operands (checkpoints or pre-dumps) from the model: processes, files, sockets,
//! and memory through [`crate::model::page_diff`].

use std::collections::{BTreeMap, BTreeSet};

use super::identity::{identify, warning};
use super::output::*;
use crate::model::Checkpoint;
use crate::model::memory::Memory;
use crate::model::page_diff::{compare_pages, compare_pages_by_range_with};
use crate::model::predump::Operand;
use crate::model::process::{Process, Vma};
use crate::render::maps::vma_name;
use crate::views;
use crate::views::fds::{open_files, socket_node};

/// A process as far as a memory-only comparison sees it.
struct MemProc<'a> {
    memory: &'a Memory,
    /// None for a pre-dump.
    process: Option<&'a Process>,
}

/// One side as the result shows it.
fn operand_side(op: &Operand) -> Side {
    match op {
        Operand::Full(ck) => side(ck),
        Operand::Pre(p) => Side {
            path: p.source.input.path.display().to_string(),
            total_size: p
                .source
                .images
                .files
                .values()
                .map(|b| b.len() as u64)
                .fold(0, u64::saturating_add),
            processes: p.memory.len(),
            dumped_bytes: p
                .memory
                .values()
                .map(|m| m.present_bytes())
                .fold(0, u64::saturating_add),
            pre_dump: true,
            dump_time: super::extra::dump_time(&p.source, None),
            ..Side::default()
        },
    }
}

/// The processes of an operand by PID, as a memory-only comparison sees them.
fn procs(op: &Operand) -> BTreeMap<u32, MemProc<'_>> {
    match op {
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

fn mem_brief(pid: u32, m: &MemProc) -> ProcessInfo {
    match m.process {
        Some(p) => brief(p),
        None => ProcessInfo {
            pid,
            command: String::new(),
            cmdline: None,
            changes: Vec::new(),
            environment: EnvDiff::default(),
        },
    }
}

/// The header: checkpointctl's container id, name and image (A's, "" when it does not say),
/// whether A and B are one container, and the warning when they are not.
fn header(r: &mut DiffResult) {
    let (a, b) = (&r.checkpoint_a, &r.checkpoint_b);
    r.container_id = a.id.clone().unwrap_or_default();
    r.container_name = a.container_name.clone().unwrap_or_default();
    r.image = a.image.clone().unwrap_or_default();
    let id = identify(a, b);
    r.same_container = id.same;
    r.same_container_by = id.by;
    if let (Some(false), Some(by)) = (id.same, id.by) {
        r.warnings.push(warning(a, b, by));
    }
}

/// What no comparison looks at.
const NOT_COMPARED: [&str; 6] = [
    "registers and signal state of threads",
    "file positions and flags of open descriptors",
    "namespaces, cgroups, mounts, limits and credentials",
    "the image's layers below rootfs-diff.tar (only what the checkpoint holds)",
    "pages neither dump holds (lazy or not dumped)",
    "timers, eventfd / epoll / inotify state",
];

fn mib(bytes: i64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

/// Compares by memory only (one side or both is a pre-dump): processes are matched by PID, their
/// pages compared; per VMA of the full side when there is one.
pub fn compare_memory_only(a: &Operand, b: &Operand) -> DiffResult {
    let (sa, sb) = (operand_side(a), operand_side(b));
    let mut r = DiffResult {
        checkpoint_a: sa,
        checkpoint_b: sb,
        memory_only: true,
        unknown: vec![
            "process_changes.modified".into(),
            "file_changes".into(),
            "socket_changes".into(),
            "queued_data".into(),
        ],
        not_compared: NOT_COMPARED.iter().map(|s| s.to_string()).collect(),
        ..DiffResult::default()
    };
    let (pa, pb) = (procs(a), procs(b));
    for (pid, q) in &pb {
        if !pa.contains_key(pid) {
            r.process_changes.added.push(mem_brief(*pid, q));
        }
    }
    for (pid, p) in &pa {
        let Some(q) = pb.get(pid) else {
            r.process_changes.removed.push(mem_brief(*pid, p));
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
                        page_list: Vec::new(),
                        strings_gained: Vec::new(),
                        strings_lost: Vec::new(),
                    });
                }
            }
        }
        r.memory_changes.pages.add(&pages);
        if pages.any_change() || !vmas.is_empty() {
            let command = q
                .process
                .or(p.process)
                .map(|x| x.comm.clone())
                .unwrap_or_default();
            r.memory_changes.processes.push(ProcMemDiff {
                pid: *pid,
                command,
                dumped_a: p.memory.present_bytes(),
                dumped_b: q.memory.present_bytes(),
                pages,
                vmas,
                strings_capped: false,
            });
        }
    }
    r.memory_changes.size_change_bytes =
        r.checkpoint_b.dumped_bytes as i64 - r.checkpoint_a.dumped_bytes as i64;
    r.memory_changes.size_change_mb = mib(r.memory_changes.size_change_bytes);
    header(&mut r);
    r.finish();
    r
}

fn side(ck: &Checkpoint) -> Side {
    Side {
        path: ck.source.input.path.display().to_string(),
        total_size: crate::render::summary::checkpoint_sizes(ck).images,
        container_name: ck.meta.container_name.clone(),
        id: ck.meta.container_id.clone(),
        image: ck.meta.image.clone(),
        engine: ck.meta.engine.clone(),
        created: ck.meta.created.clone(),
        checkpointed: ck.meta.checkpointed.clone(),
        processes: ck.processes.len(),
        dumped_bytes: dumped(ck),
        pre_dump: false,
        dump_time: super::extra::dump_time(&ck.source, ck.meta.checkpointed.as_deref()),
    }
}

/// The checkpoint's dumped memory, each page once (the one definition, also `info.json`'s).
fn dumped(ck: &Checkpoint) -> u64 {
    ck.dumped_bytes()
}

fn brief(p: &Process) -> ProcessInfo {
    ProcessInfo {
        pid: p.pid,
        command: p.comm.clone(),
        cmdline: p.mm.as_ref().and_then(|_| views::cmdline_text(p)),
        changes: Vec::new(),
        environment: EnvDiff::default(),
    }
}

/// B's process tree, roots first, children in PID order.
fn tree_of(ck: &Checkpoint) -> Vec<TreeNode> {
    fn node(
        ck: &Checkpoint,
        p: &Process,
        seen: &mut std::collections::HashSet<u32>,
        depth: usize,
    ) -> TreeNode {
        seen.insert(p.pid);
        let mut n = TreeNode {
            pid: p.pid,
            command: p.comm.clone(),
            cmdline: p.mm.as_ref().and_then(|_| views::cmdline_text(p)),
            children: Vec::new(),
        };
        if depth < 1000 {
            for c in ck.children(p.pid) {
                if !seen.contains(&c.pid) {
                    n.children.push(node(ck, c, seen, depth + 1));
                }
            }
        }
        n
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let roots: Vec<&Process> = ck.roots().collect();
    for p in roots.into_iter().chain(&ck.processes) {
        if !seen.contains(&p.pid) {
            out.push(node(ck, p, &mut seen, 0));
        }
    }
    out
}

/// Compares two loaded checkpoints.
pub fn compare(a: &Checkpoint, b: &Checkpoint) -> DiffResult {
    let mut r = DiffResult {
        checkpoint_a: side(a),
        checkpoint_b: side(b),
        ..DiffResult::default()
    };
    // Processes.
    for p in &b.processes {
        if a.process(p.pid).is_none() {
            r.process_changes.added.push(brief(p));
        }
    }
    for p in &a.processes {
        match b.process(p.pid) {
            None => r.process_changes.removed.push(brief(p)),
            Some(q) => {
                match process_change(p, q) {
                    Some(c) => r.process_changes.modified.push(c),
                    None => r.process_changes.unchanged.push(brief(q)),
                }
                let m = memory_diff(p, q);
                r.memory_changes.pages.add(&m.pages);
                if m.pages.any_change() || !m.vmas.is_empty() {
                    r.memory_changes.processes.push(m);
                }
            }
        }
    }
    r.memory_changes.size_change_bytes = dumped(b) as i64 - dumped(a) as i64;
    r.memory_changes.size_change_mb = mib(r.memory_changes.size_change_bytes);
    // Files and sockets.
    let files = |ck: &Checkpoint| -> BTreeSet<FileInfo> {
        ck.processes
            .iter()
            .flat_map(|p| {
                open_files(p).into_iter().map(|f| FileInfo {
                    pid: p.pid,
                    fd: f.fd,
                    kind: f.kind,
                    path: f.path,
                })
            })
            .collect()
    };
    let (xa, xb) = (files(a), files(b));
    r.file_changes.added = xb.difference(&xa).cloned().collect();
    r.file_changes.removed = xa.difference(&xb).cloned().collect();
    r.file_changes.unchanged = xb.intersection(&xa).cloned().collect();
    let socks = |ck: &Checkpoint| -> BTreeSet<SocketInfo> {
        ck.processes
            .iter()
            .flat_map(|p| {
                p.fds.iter().filter_map(move |fd| {
                    socket_node(&fd.file).map(|s| {
                        let d = s.data;
                        SocketInfo {
                            pid: p.pid,
                            protocol: if s.protocol.is_empty() {
                                d.kind.clone()
                            } else {
                                s.protocol
                            },
                            kind: d.kind,
                            address: d.address,
                            state: d.state,
                            source: d.src,
                            src_port: d.src_port,
                            dest: d.dst,
                            dst_port: d.dst_port,
                            fd: fd.fd,
                        }
                    })
                })
            })
            .collect()
    };
    let (sa, sb) = (socks(a), socks(b));
    r.socket_changes.added = sb.difference(&sa).cloned().collect();
    r.socket_changes.removed = sa.difference(&sb).cloned().collect();
    r.socket_changes.unchanged = sb.intersection(&sa).cloned().collect();
    r.rootfs_changes = Some(super::extra::files(a, b));
    r.log_changes = super::extra::log_changes(a, b);
    r.tcp_streams = super::extra::tcp_changes(a, b);
    r.queued_data = super::extra::queue_changes(a, b);
    r.not_compared = NOT_COMPARED.iter().map(|s| s.to_string()).collect();
    r.tree_b = tree_of(b);
    header(&mut r);
    r.finish();
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

fn process_change(p: &Process, q: &Process) -> Option<ProcessInfo> {
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
        views::state_name(p.state),
        views::state_name(q.state),
    );
    let cmd = |p: &Process| {
        p.mm.as_ref()
            .and_then(|_| views::cmdline_text(p))
            .unwrap_or_default()
    };
    field("cmdline", cmd(p), cmd(q));
    let env = |p: &Process| {
        if p.mm.is_some() {
            views::environ_list(p)
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
    Some(ProcessInfo {
        changes,
        environment,
        ..brief(q)
    })
}

fn vma_label(v: &Vma) -> String {
    vma_name(v).map(|c| c.into_owned()).unwrap_or_default()
}

/// The pages holding a thread's `struct rseq`, in A or in B.
fn rseq_pages(p: &Process, q: &Process) -> BTreeSet<u64> {
    let mask = !(crate::model::PAGE_SIZE - 1);
    p.threads
        .iter()
        .chain(&q.threads)
        .filter_map(|t| t.rseq)
        .flat_map(|(at, size)| {
            let last = at.saturating_add(u64::from(size.max(1)) - 1);
            [at & mask, last & mask]
        })
        .collect()
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
    let mut col = super::pages::Collector::default();
    let rseq = rseq_pages(p, q);
    let (pages, per_vma) = compare_pages_by_range_with(&p.memory, &q.memory, &keys, |page, c| {
        col.page(&p.memory, &q.memory, page, c, rseq.contains(&page))
    });
    let in_stack = |vs: &[Vma], addr: u64| {
        vs.iter()
            .any(|v| v.start <= addr && addr < v.end && vma_label(v) == "[stack]")
    };
    let (gained, lost) = col.strings(|a| in_stack(&q.vmas, a), |a| in_stack(&p.vmas, a));
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
        let within = |a: u64| k.0 <= a && a < k.1;
        let lo = col.pages.partition_point(|e| e.address < k.0);
        let hi = col.pages.partition_point(|e| e.address < k.1);
        vmas.push(VmaDiff {
            range: range(v),
            perms: v.perms(),
            name: vma_label(v),
            change: change.into(),
            perms_a,
            dumped_a: p.memory.present_in(k.0, k.1),
            dumped_b: q.memory.present_in(k.0, k.1),
            pages: pg,
            page_list: col.pages[lo..hi].to_vec(),
            strings_gained: gained
                .iter()
                .filter(|h| within(h.address))
                .cloned()
                .collect(),
            strings_lost: lost.iter().filter(|h| within(h.address)).cloned().collect(),
        });
    }
    ProcMemDiff {
        pid: q.pid,
        command: q.comm.clone(),
        dumped_a: p.memory.present_bytes(),
        dumped_b: q.memory.present_bytes(),
        pages,
        vmas,
        strings_capped: col.capped,
    }
}
