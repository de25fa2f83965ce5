//! The tree view of a comparison: checkpointctl's sections first, with its headings and lines
//! (the header box, `Checkpoint A:` / `Checkpoint B:`, `Memory Changes`, `Process Tree`, `File
//! Descriptor Changes`, `Socket Changes`), then ckptfs's own (`Process Details`: what changed in
//! a modified process; `Memory Pages`: pages by process and VMA), then `Summary:`. Unlike
//! checkpointctl, nothing is cut short (paths and command lines are evidence); values from the
//! checkpoint are shown with their control characters escaped.

use unicode_width::UnicodeWidthStr;

use super::identity::shown;
use super::output::*;
use crate::format::human_size;
use crate::views::tree::{Node, clean};

/// What the tree shows beyond the changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Show {
    /// Entries alike in both (checkpointctl's `--show-unchanged`): B's process tree with a mark
    /// per process, unchanged files and sockets.
    pub unchanged: bool,
    /// Every string gained and lost per mapping (else the first few).
    pub strings: bool,
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
        format!("{n} {what}{}", if what.ends_with('s') { "es" } else { "s" })
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

/// The header box's least inner width (66 columns with its borders); it widens to its longest
/// line.
const BOX_WIDTH: usize = 64;

/// The header box: `Checkpoint Diff`, then the container's name, image and id, one row when A
/// and B record the same (or both nothing: `not recorded`), else a row per side (`A: `, `B: `);
/// the engines, a row per side, only when they differ; a last part when they are different
/// containers. Values are escaped and never cut:
/// the box is as wide as its widest line, measured in terminal columns.
fn header_box(r: &DiffResult) -> String {
    let (a, b) = (&r.checkpoint_a, &r.checkpoint_b);
    let mut rows = Vec::new();
    for (k, va, vb) in [
        ("Container:", &a.container_name, &b.container_name),
        ("Image:", &a.image, &b.image),
        ("ID:", &a.id, &b.id),
        ("Engine:", &a.engine, &b.engine),
    ] {
        if k == "Engine:" && va == vb {
            continue;
        }
        if va == vb {
            rows.push(format!("{k:<10} {}", shown(va)));
        } else {
            rows.push(format!("{k:<10} A: {}", shown(va)));
            rows.push(format!("{:<10} B: {}", "", shown(vb)));
        }
    }
    let warning = match (r.same_container, r.same_container_by) {
        (Some(false), Some(Basis::Id)) => Some("their container ids differ"),
        (Some(false), Some(Basis::NameAndImage)) => Some("their names or images differ"),
        _ => None,
    }
    .map(|why| format!("WARNING: A and B are different containers ({why})"));
    let title = "Checkpoint Diff";
    let inner = rows
        .iter()
        .chain(&warning)
        .map(|l| l.width())
        .chain([title.width(), BOX_WIDTH - 2])
        .max()
        .unwrap_or(BOX_WIDTH - 2);
    let rule = "═".repeat(inner + 2);
    let line = |l: &str| format!("║ {l}{} ║\n", " ".repeat(inner - l.width()));
    let mut out = format!("╔{rule}╗\n{}╠{rule}╣\n", line(title));
    for l in &rows {
        out.push_str(&line(l));
    }
    if let Some(w) = &warning {
        out.push_str(&format!("╠{rule}╣\n{}", line(w)));
    }
    out.push_str(&format!("╚{rule}╝\n"));
    out
}

fn section(out: &mut String, title: &str, width: usize, body: &[String]) {
    let head = format!("┌─ {title} ");
    let fill = width.saturating_sub(head.chars().count() + 1);
    out.push_str(&format!("{head}{}┐\n", "─".repeat(fill)));
    for l in body {
        out.push_str(&format!("│ {l}\n"));
    }
    out.push_str(&format!("└{}┘\n", "─".repeat(width.saturating_sub(2))));
}

/// `why` when `what` could not be compared (a pre-dump operand).
fn unknown(r: &DiffResult, what: &str) -> Option<String> {
    r.unknown.iter().any(|u| u == what).then(|| {
        let who = match (r.checkpoint_a.pre_dump, r.checkpoint_b.pre_dump) {
            (true, true) => "A and B are pre-dumps",
            (true, false) => "A is a pre-dump",
            _ => "B is a pre-dump",
        };
        format!("unknown ({who}, which records memory only)")
    })
}

fn socket_columns(s: &SocketInfo) -> (String, String, String) {
    match s.kind.as_str() {
        "TCP" | "UDP" => (
            if s.state.is_empty() {
                "-".into()
            } else {
                s.state.clone()
            },
            format!("{}:{}", s.source, s.src_port),
            if s.dst_port > 0 {
                format!("{}:{}", s.dest, s.dst_port)
            } else {
                "-".into()
            },
        ),
        _ => (
            "-".into(),
            if s.address.is_empty() {
                "@".into()
            } else {
                clean(&s.address)
            },
            "-".into(),
        ),
    }
}

fn annotated(n: &TreeNode, r: &DiffResult) -> Node {
    let pc = &r.process_changes;
    let has = |v: &[ProcessInfo]| v.iter().any(|p| p.pid == n.pid);
    let mark = if has(&pc.added) {
        "+"
    } else if has(&pc.modified) {
        "~"
    } else if has(&pc.unchanged) {
        "="
    } else {
        " "
    };
    let mut node = Node::with_meta(
        format!("{mark} PID {}", n.pid),
        n.cmdline.clone().unwrap_or_else(|| n.command.clone()),
    );
    let mut kids: Vec<&TreeNode> = n.children.iter().collect();
    kids.sort_by_key(|c| c.pid);
    for c in kids {
        node.add(annotated(c, r));
    }
    node
}

/// The tree view of a comparison.
pub fn tree(r: &DiffResult, show: Show) -> String {
    let mut out = header_box(r);
    for (label, s) in [("A", &r.checkpoint_a), ("B", &r.checkpoint_b)] {
        out.push_str(&format!("Checkpoint {label}: {}\n", clean(&s.path)));
        out.push_str(&format!(
            "  Created: {}\n",
            clean(s.created.as_deref().unwrap_or("-"))
        ));
        out.push_str(&format!("  Size:    {} bytes\n", s.total_size));
        if s.pre_dump {
            out.push_str("  Pre-dump: memory only (no process tree, files or sockets)\n");
        }
        let when = match &s.dump_time {
            Some(t) => format!("{} ({})", clean(&t.time), t.from),
            None => "unknown (no checkpointed time, no image time)".into(),
        };
        out.push_str(&format!(
            "  Checkpointed: {when}; {}, {} dumped\n",
            plural(s.processes as u64, "process"),
            human_size(s.dumped_bytes)
        ));
    }

    // Memory Changes.
    let m = &r.memory_changes;
    let mut body = vec![if m.size_change_bytes > 0 {
        format!("↑ Increased by {:.2} MB", m.size_change_mb)
    } else if m.size_change_bytes < 0 {
        format!("↓ Decreased by {:.2} MB", -m.size_change_mb)
    } else {
        "= No change".to_string()
    }];
    body.push(format!(
        "Dumped memory: {} -> {} ({}); {}",
        human_size(r.checkpoint_a.dumped_bytes),
        human_size(r.checkpoint_b.dumped_bytes),
        signed_size(m.size_change_bytes),
        pages_text(&m.pages)
    ));
    section(&mut out, "Memory Changes", 64, &body);

    // Process Tree.
    let pc = &r.process_changes;
    let mut body = Vec::new();
    let line =
        |mark: &str, p: &ProcessInfo| format!("  {mark} PID {:<5} {}", p.pid, clean(&p.command));
    if show.unchanged && !r.tree_b.is_empty() {
        let mut root = Node::new("Process tree");
        for t in &r.tree_b {
            root.add(annotated(t, r));
        }
        body.extend(root.render().lines().map(str::to_string));
        if !pc.removed.is_empty() {
            body.push("Removed:".into());
            body.extend(pc.removed.iter().map(|p| line("-", p)));
        }
    } else if pc.added.is_empty()
        && pc.removed.is_empty()
        && pc.modified.is_empty()
        && unknown(r, "process_changes.modified").is_none()
    {
        body.push("= No change".into());
    } else {
        if !pc.added.is_empty() {
            body.push("Added:".into());
            for p in &pc.added {
                body.push(line("+", p));
                if let Some(c) = &p.cmdline {
                    body.push(format!("            {}", clean(c)));
                }
            }
        }
        if !pc.removed.is_empty() {
            body.push("Removed:".into());
            body.extend(pc.removed.iter().map(|p| line("-", p)));
        }
        if !pc.modified.is_empty() {
            body.push("Modified:".into());
            body.extend(pc.modified.iter().map(|p| line("~", p)));
        }
    }
    if let Some(u) = unknown(r, "process_changes.modified") {
        body.push(format!("Modified: {u}"));
    }
    section(&mut out, "Process Tree", 64, &body);

    // File Descriptor Changes.
    let fc = &r.file_changes;
    let mut body = Vec::new();
    let fline = |mark: &str, f: &FileInfo| {
        format!(
            "  {mark} PID {:<5} {:<8} {}",
            f.pid,
            clean(&f.fd),
            clean(&f.path)
        )
    };
    if let Some(u) = unknown(r, "file_changes") {
        body.push(u);
    } else {
        for (label, mark, list, shown) in [
            ("Added:", "+", &fc.added, true),
            ("Removed:", "-", &fc.removed, true),
            ("Unchanged:", "=", &fc.unchanged, show.unchanged),
        ] {
            if shown && !list.is_empty() {
                body.push(label.into());
                body.extend(list.iter().map(|f| fline(mark, f)));
            }
        }
        if fc.added.is_empty() && fc.removed.is_empty() {
            body.push("= No change".into());
        }
    }
    section(&mut out, "File Descriptor Changes", 64, &body);

    // Socket Changes.
    let sc = &r.socket_changes;
    let mut body = Vec::new();
    if let Some(u) = unknown(r, "socket_changes") {
        body.push(u);
    } else {
        let unchanged = show.unchanged && !sc.unchanged.is_empty();
        if !sc.added.is_empty() || !sc.removed.is_empty() || unchanged {
            body.push(format!(
                "    {:<5} {:<5} {:<12} {:<21} PEER",
                "PID", "PROTO", "STATE", "LOCAL"
            ));
            for (mark, list, shown) in [
                ("+", &sc.added, true),
                ("-", &sc.removed, true),
                ("=", &sc.unchanged, unchanged),
            ] {
                if !shown {
                    continue;
                }
                for s in list {
                    let (state, local, peer) = socket_columns(s);
                    body.push(format!(
                        " {mark}  {:<5} {:<5} {:<12} {:<21} {peer}",
                        s.pid,
                        clean(&s.protocol),
                        state,
                        local
                    ));
                }
            }
        }
        if sc.added.is_empty() && sc.removed.is_empty() {
            body.push("= No change".into());
        }
    }
    section(&mut out, "Socket Changes", 73, &body);

    // ckptfs: the container's files, its log, the strings the memory gained and lost.
    if let Some(fc) = &r.rootfs_changes {
        out.push_str(&tree_section("Files (rootfs)", rootfs_lines(fc)));
    }
    if let Some(l) = &r.log_changes {
        let (head, lines) = log_lines(l);
        out.push_str(&tree_section(
            &format!("Container Log ({}): {head}", clean(&l.name)),
            lines,
        ));
    }
    if !r.queued_data.is_empty() {
        let mut lines = Vec::new();
        listed(&mut lines, &r.queued_data, queue_line);
        out.push_str(&tree_section("Queued Data (buffers/, unread)", lines));
    }
    if !m.processes.is_empty() {
        out.push_str(&tree_section(
            "Memory Strings (ranked, in the changed pages)",
            strings_lines(r),
        ));
    }

    if !r.tcp_streams.is_empty() {
        let lines = r
            .tcp_streams
            .iter()
            .map(|t| {
                format!(
                    "PID {} fd {} {} -> {}: {} B received, {} B sent; queues recv {} -> {}, send {} -> {}",
                    t.pid,
                    t.fd,
                    clean(&t.local),
                    clean(&t.peer),
                    t.received,
                    t.sent,
                    t.recv_queue_a,
                    t.recv_queue_b,
                    t.send_queue_a,
                    t.send_queue_b
                )
            })
            .collect();
        out.push_str(&tree_section("TCP Streams (dumped in both)", lines));
    }

    // ckptfs: what changed in each modified process.
    if !pc.modified.is_empty() {
        let mut root = Node::new("Process Details");
        for c in &pc.modified {
            let p = root.add(Node::with_meta(c.pid.to_string(), c.command.clone()));
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
        out.push_str(&root.render());
    }
    // ckptfs: pages by process and VMA.
    if !m.processes.is_empty() {
        let mut root = Node::new("Memory Pages");
        for mp in &m.processes {
            let n = root.add(Node::with_meta(
                mp.pid.to_string(),
                format!(
                    "{}: {} -> {} ({}); {}",
                    mp.command,
                    human_size(mp.dumped_a),
                    human_size(mp.dumped_b),
                    signed_size(mp.dumped_b as i64 - mp.dumped_a as i64),
                    pages_text(&mp.pages)
                ),
            ));
            for v in &mp.vmas {
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
                let vn = n.add(Node::new(format!(
                    "{mark}{} {perms}{name}: {what}",
                    v.range
                )));
                let runs = runs(&v.page_list);
                let shown = if show.strings { runs.len() } else { RUNS_MAX };
                for r in runs.iter().take(shown) {
                    vn.leaf(r.clone());
                }
                if runs.len() > shown {
                    vn.leaf(format!(
                        "... {} more runs (--format json lists every page)",
                        runs.len() - shown
                    ));
                }
                let few = if show.strings {
                    usize::MAX
                } else {
                    STRINGS_PER_VMA
                };
                for (mark, list) in [("+", &v.strings_gained), ("-", &v.strings_lost)] {
                    for h in list.iter().take(few) {
                        vn.leaf(format!(
                            "{mark} {:?} at {:x}{}",
                            clean(&h.string),
                            h.address,
                            copies(h, mark == "+")
                        ));
                    }
                    if list.len() > few {
                        vn.leaf(format!(
                            "{mark} ... {} more (--strings shows all)",
                            list.len() - few
                        ));
                    }
                }
            }
        }
        out.push_str(&root.render());
    }
    if !r.not_compared.is_empty() {
        out.push_str(&format!("Not compared: {}\n", r.not_compared.join("; ")));
    }
    out.push_str("Summary:\n");
    out.push_str(&clean(&r.summary));
    out.push('\n');
    out
}

/// Most entries of one kind listed in the tree (the JSON has them all).
const LIST_MAX: usize = 20;

fn listed<T>(body: &mut Vec<String>, items: &[T], f: impl Fn(&T) -> String) {
    body.extend(items.iter().take(LIST_MAX).map(f));
    if items.len() > LIST_MAX {
        body.push(format!(
            "  ... {} more (--format json lists all)",
            items.len() - LIST_MAX
        ));
    }
}

fn entry_text(e: &RootfsEntry) -> String {
    let mut parts = vec![e.kind.clone(), e.mode.clone()];
    if let Some(n) = e.size {
        parts.push(format!("{n} B"));
    }
    if let Some(t) = &e.mtime {
        parts.push(format!("mtime {}", clean(t)));
    }
    if let Some(t) = &e.target {
        parts.push(format!("-> {}", clean(t)));
    }
    if let Some(h) = &e.sha256 {
        parts.push(format!("sha256 {h}"));
    }
    parts.join(", ")
}

fn rootfs_lines(fc: &RootfsChanges) -> Vec<String> {
    let mut body = Vec::new();
    if fc.is_empty() {
        body.push("= No change".into());
        return body;
    }
    listed(&mut body, &fc.added, |e| {
        format!("+ {}  ({})", clean(&e.path), entry_text(e))
    });
    listed(&mut body, &fc.removed, |e| {
        format!("- {}  ({})", clean(&e.path), entry_text(e))
    });
    listed(&mut body, &fc.changed, |e| {
        let what: Vec<String> = e
            .changes
            .iter()
            .map(|c| format!("{} {} -> {}", c.field, clean(&c.a), clean(&c.b)))
            .collect();
        format!("~ {}  ({})", clean(&e.path), what.join(", "))
    });
    listed(&mut body, &fc.deleted_files_added, |p| {
        format!("+ deleted.files: {}", clean(p))
    });
    listed(&mut body, &fc.deleted_files_removed, |p| {
        format!("- deleted.files: {}", clean(p))
    });
    body
}

/// A heading and its lines as a tree (ckptfs's sections).
fn tree_section(title: &str, lines: Vec<String>) -> String {
    let mut root = Node::new(title);
    for l in lines {
        root.leaf(l);
    }
    root.render()
}

fn log_lines(l: &LogChanges) -> (String, Vec<String>) {
    let head = format!(
        "{} -> {} lines: {} new{}",
        l.lines_a,
        l.lines_b,
        l.new_lines.len(),
        if l.lost_lines.is_empty() {
            String::new()
        } else {
            format!(
                ", {} gone (B does not continue A's log)",
                l.lost_lines.len()
            )
        }
    );
    let mut body = Vec::new();
    listed(&mut body, &write_groups(&l.new_lines), |x| format!("+ {x}"));
    listed(&mut body, &write_groups(&l.lost_lines), |x| {
        format!("- {x}")
    });
    (head, body)
}

/// Two parts of a log line: (time, stream) or (tag, message).
type Pair<'a> = (&'a str, &'a str);

/// `~ buffers/pipe-7 (pipe; PID 1 fd 3): 5 B -> 12 B, appended "..."`.
fn queue_line(q: &QueueChange) -> String {
    let mark = match q.status.as_str() {
        "added" => "+",
        "removed" => "-",
        _ => "~",
    };
    let mut who = vec![q.kind.clone()];
    who.extend(q.holders.iter().cloned());
    let size = |s: Option<u64>| s.map_or("-".to_string(), |n| format!("{n} B"));
    let quoted = |h: &Option<String>| format!("\"{}\"", h.as_deref().unwrap_or(""));
    let what = match (q.status.as_str(), &q.appended, q.consumed) {
        ("added", ..) => format!("{} {}", size(q.size_b), quoted(&q.head_b)),
        ("removed", ..) => format!("{} {}", size(q.size_a), quoted(&q.head_a)),
        (_, Some(app), _) => format!(
            "{} -> {}, appended \"{app}\"",
            size(q.size_a),
            size(q.size_b)
        ),
        (_, None, Some(n)) => format!(
            "{} -> {}, {n} B read from the front",
            size(q.size_a),
            size(q.size_b)
        ),
        _ => format!(
            "{} -> {}, A {} B {}",
            size(q.size_a),
            size(q.size_b),
            quoted(&q.head_a),
            quoted(&q.head_b)
        ),
    };
    format!(
        "{mark} buffers/{} ({}): {what}",
        clean(&q.name),
        who.join("; ")
    )
}

/// A CRI log line (`TIME STREAM TAG MESSAGE`, as conmon and containerd write them) split into
/// its time and stream, and its tag and message.
fn cri_line(l: &str) -> Option<(Pair<'_>, Pair<'_>)> {
    let mut it = l.splitn(4, ' ');
    let (time, stream, tag) = (it.next()?, it.next()?, it.next()?);
    let msg = it.next().unwrap_or("");
    let known = matches!(stream, "stdout" | "stderr") && matches!(tag, "F" | "P");
    (known && crate::format::time::parse_rfc3339(time).is_some())
        .then_some(((time, stream), (tag, msg)))
}

/// Log lines for the tree: consecutive CRI lines of one stream with the same time (one read of
/// the container's output) on one line, `TIME STREAM, N lines: "MSG" "MSG"` (a partial line's
/// message marked `P:`); any other line as it is.
fn write_groups(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((key, _)) = cri_line(&lines[i]) else {
            out.push(clean(&lines[i]));
            i += 1;
            continue;
        };
        let mut msgs = Vec::new();
        let mut j = i;
        while let Some((k, (tag, msg))) = lines.get(j).and_then(|l| cri_line(l)) {
            if k != key {
                break;
            }
            let p = if tag == "P" { "P:" } else { "" };
            msgs.push(format!("{p}{:?}", clean(msg)));
            j += 1;
        }
        if msgs.len() == 1 {
            out.push(clean(&lines[i]));
        } else {
            out.push(format!(
                "{} {}, {} lines: {}",
                clean(key.0),
                key.1,
                msgs.len(),
                msgs.join(" ")
            ));
        }
        i = j;
    }
    out
}

/// Runs of pages shown per VMA in the tree (`--strings`: all; the JSON lists every page).
const RUNS_MAX: usize = 8;
/// Strings gained and lost shown per VMA in the tree (`--strings`: all).
const STRINGS_PER_VMA: usize = 3;
/// Strings in the ranked `Memory Strings` section: gained, lost.
const RANKED: (usize, usize) = (8, 4);

/// Runs of consecutive pages with the same change: `changed 7f..000-7f..000 (3 pages)`, tagged
/// `rseq (expected)` when a thread's `struct rseq` is in them.
fn runs(pages: &[PageEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pages.len() {
        let first = &pages[i];
        let mut j = i + 1;
        while j < pages.len()
            && pages[j].change == first.change
            && pages[j].rseq == first.rseq
            && pages[j].address == pages[j - 1].address + crate::model::PAGE_SIZE
        {
            j += 1;
        }
        let end = pages[j - 1].address + crate::model::PAGE_SIZE;
        out.push(format!(
            "{} {:x}-{:x} ({}){}",
            first.change,
            first.address,
            end,
            plural((j - i) as u64, "page"),
            if first.rseq {
                ", a thread's rseq area: expected noise"
            } else {
                ""
            }
        ));
        i = j;
    }
    out
}

/// For a string both sides hold, how many copies each holds: ` (5 copies, 4 in A)`.
fn copies(h: &StringHit, gained: bool) -> String {
    if h.count_other == 0 {
        return String::new();
    }
    format!(
        " ({} copies, {} in {})",
        h.count,
        h.count_other,
        if gained { "A" } else { "B" }
    )
}

/// The strings gained and lost over every process, best-ranked first.
fn strings_lines(r: &DiffResult) -> Vec<String> {
    let mut body = Vec::new();
    let all = |gained: bool| {
        let mut v: Vec<(u32, &str, &StringHit)> = r
            .memory_changes
            .processes
            .iter()
            .flat_map(|p| {
                p.vmas.iter().flat_map(move |v| {
                    let list = if gained {
                        &v.strings_gained
                    } else {
                        &v.strings_lost
                    };
                    list.iter().map(move |h| (p.pid, v.name.as_str(), h))
                })
            })
            .collect();
        v.sort_by(|a, b| {
            b.2.score
                .cmp(&a.2.score)
                .then(a.2.address.cmp(&b.2.address))
        });
        v
    };
    for (gained, n, mark) in [(true, RANKED.0, "+"), (false, RANKED.1, "-")] {
        // One line per string, naming every process that has it.
        let mut seen: Vec<(&str, Vec<String>)> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (pid, name, h) in all(gained) {
            let i = *index.entry(h.string.as_str()).or_insert_with(|| {
                seen.push((&h.string, Vec::new()));
                seen.len() - 1
            });
            // Where it is, for the lines shown only.
            if i < n {
                let name = if name.is_empty() { "anon" } else { name };
                seen[i].1.push(format!(
                    "PID {pid} {:x} {}{}",
                    h.address,
                    clean(name),
                    copies(h, gained)
                ));
            }
        }
        for (string, wheres) in seen.iter().take(n) {
            body.push(format!("{mark} {:?}  {}", clean(string), wheres.join(", ")));
        }
        if seen.len() > n {
            body.push(format!(
                "{mark} ... {} more {} (per mapping under Memory Pages; --strings, --format json)",
                seen.len() - n,
                if gained { "gained" } else { "lost" }
            ));
        }
    }
    for p in r
        .memory_changes
        .processes
        .iter()
        .filter(|p| p.strings_capped)
    {
        body.push(format!(
            "PID {}: more distinct strings than are kept (200000 a side): the later pages' strings are not compared",
            p.pid
        ));
    }
    if body.is_empty() {
        body.push("= No string gained or lost in the changed pages".into());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_of_output_on_one_line() {
        let l: Vec<String> = [
            "2026-12-05T19:02:43.5+00:00 stdout F message",
            "2026-12-05T19:02:43.5+00:00 stdout P part",
            "2026-12-05T19:02:43.5+00:00 stderr F other stream",
            "2026-12-05T19:02:44.5+00:00 stderr F later",
            "not a CRI line",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            write_groups(&l),
            [
                "2026-12-05T19:02:43.5+00:00 stdout, 2 lines: \"message\" P:\"part\"",
                "2026-12-05T19:02:43.5+00:00 stderr F other stream",
                "2026-12-05T19:02:44.5+00:00 stderr F later",
                "not a CRI line",
            ]
        );
    }
}
