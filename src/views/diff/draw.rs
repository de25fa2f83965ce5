//! The tree view of a comparison.

use super::output::*;
use super::pre_dump_note;
use crate::format::human_size;
use crate::views::tree::Node;

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
