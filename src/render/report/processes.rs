//! The processes: the tree (indented by depth) with each process's command line, user, exe,
//! threads, state and the system call its main thread was in. One row per process, id
//! `proc-PID` (prefixed for inputs after the first).

use super::html::{esc, esc_cut, not_recorded, table};
use crate::model::{Checkpoint, Process};

/// Processes listed per input (a larger tree is cut, and the page says so).
pub const MAX_ROWS: usize = 2000;
/// Characters of a command line shown.
const CMDLINE_CHARS: usize = 600;

/// The processes in tree order with their depth: each root (PID order), then its children
/// depth-first; processes no root reaches (a corrupt tree) last, at depth 0. Each once.
pub fn tree_order(ck: &Checkpoint) -> Vec<(usize, &Process)> {
    let mut out = Vec::with_capacity(ck.processes.len());
    let mut seen = std::collections::HashSet::new();
    // An explicit stack: a hostile tree may be deep.
    let mut stack: Vec<(usize, &Process)> = Vec::new();
    let starts: Vec<&Process> = ck.roots().chain(ck.processes.iter()).collect();
    for s in starts {
        stack.push((0, s));
        while let Some((d, p)) = stack.pop() {
            if !seen.insert(p.pid) {
                continue;
            }
            out.push((d, p));
            let kids: Vec<&Process> = ck.children(p.pid).collect();
            for c in kids.into_iter().rev() {
                stack.push((d + 1, c));
            }
        }
    }
    out
}

/// The command line (NULs as spaces), or None when empty or unreadable.
pub fn cmdline(p: &Process) -> Option<String> {
    match crate::render::cmdline::cmdline(p) {
        Ok(b) if !b.is_empty() => Some(
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " "),
        ),
        _ => None,
    }
}

fn user(p: &Process) -> String {
    match p.creds() {
        None => not_recorded(),
        Some(c) if c.uid == c.euid => format!("uid {}", c.uid),
        Some(c) => format!("uid {} (euid {})", c.uid, c.euid),
    }
}

fn syscall(p: &Process) -> String {
    let Some(t) = p.main_thread() else {
        return not_recorded();
    };
    match (&t.regs, crate::render::syscall::thread_syscall(t)) {
        (None, _) => not_recorded(),
        (Some(_), Some(s)) => esc(&s),
        (Some(_), None) => "none (in user space)".into(),
    }
}

/// The state as `/proc` shows it (`S (sleeping)`).
pub fn state(p: &Process) -> &'static str {
    crate::render::task::state(p.state).1
}

/// One input's process table; `drawn`: the (input, PID) whose map is on the page (the name
/// links to it).
pub fn table_of(k: usize, label: &str, ck: &Checkpoint, drawn: &[(usize, u32)]) -> String {
    let pre = super::prefix(k);
    let order = tree_order(ck);
    let rows: Vec<Vec<String>> = order
        .iter()
        .take(MAX_ROWS)
        .map(|(depth, p)| {
            let d = (*depth).min(20);
            vec![
                format!(
                    "<span id=\"{pre}proc-{pid}\" class=\"pid\" style=\"padding-left:{}em\">{pid}</span>",
                    d,
                    pid = p.pid
                ),
                p.ppid.to_string(),
                if drawn.contains(&(k, p.pid)) {
                    format!(
                        "<code>{}</code> <a href=\"#{pre}map-{}\">map</a>",
                        esc(&p.comm),
                        p.pid
                    )
                } else {
                    format!("<code>{}</code>", esc(&p.comm))
                },
                cmdline(p).map_or_else(not_recorded, |c| {
                    format!("<code>{}</code>", esc_cut(&c, CMDLINE_CHARS))
                }),
                user(p),
                p.exe.as_ref().map_or_else(not_recorded, |e| {
                    format!("<code>{}</code>", esc(&e.link_text()))
                }),
                if p.threads.is_empty() {
                    not_recorded()
                } else {
                    p.threads.len().to_string()
                },
                state(p).to_string(),
                syscall(p),
            ]
        })
        .collect();
    let mut s = table(
        "procs",
        &format!("Process tree of checkpoint {}: {label}", k + 1),
        &[
            "PID",
            "PPID",
            "Name",
            "Command line",
            "User",
            "Executable",
            "Threads",
            "State",
            "System call",
        ],
        &rows,
    );
    s.push_str(&super::html::capped(
        rows.len(),
        order.len(),
        "the mount's pstree",
    ));
    s
}

/// The section.
pub fn section(r: &super::Report<'_>, drawn: &[(usize, u32)]) -> String {
    let mut s = String::from("<section id=\"processes\">\n<h2>Processes</h2>\n");
    s.push_str(
        "<p>Each checkpoint's process tree (children indented under their parent). The system \
         call is the one the main thread was in when CRIU froze it.</p>\n",
    );
    let multi = r.inputs.len() > 1;
    for (k, i) in r.inputs.iter().enumerate() {
        if multi {
            s.push_str(&format!(
                "<h3 id=\"processes-{}\">Checkpoint {}: {}</h3>\n",
                k + 1,
                k + 1,
                esc(&i.label)
            ));
        }
        s.push_str(&table_of(k, &i.label, i.ck, drawn));
    }
    s.push_str("</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    #[test]
    fn every_process_has_its_row_and_hostile_names_are_escaped() {
        let mut a = process_with_args(1, 0, "<script>x</script>", b"sh\0-c\0<img src=x>\0");
        a.threads.clear();
        let b = process_with_args(7, 1, "child", b"child\0");
        let c = process_with_args(9, 7, "grandchild", b"");
        let ck = checkpoint(vec![a, b, c]);
        let s = table_of(0, "l<", &ck, &[(0, 7)]);
        for pid in [1, 7, 9] {
            assert!(s.contains(&format!("id=\"proc-{pid}\"")), "{pid}: {s}");
        }
        assert!(!s.contains("<script>") && !s.contains("<img"), "{s}");
        assert!(s.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(s.contains("sh -c &lt;img src=x&gt;"));
        // Tree order and depth: 9 under 7 under 1.
        let at = |p: &str| s.find(p).unwrap();
        assert!(at("proc-1\"") < at("proc-7\"") && at("proc-7\"") < at("proc-9\""));
        assert!(s.contains("padding-left:2em\">9<"));
        assert!(s.contains("href=\"#map-7\"") && !s.contains("href=\"#map-9\""));
        // No threads recorded, no command line: said, not 0.
        assert!(s.contains("not recorded"));
        let k1 = table_of(1, "x", &ck, &[]);
        assert!(k1.contains("id=\"c1-proc-7\""));
    }

    #[test]
    fn a_cyclic_tree_lists_each_process_once() {
        let a = process_with_args(1, 2, "a", b"a\0");
        let b = process_with_args(2, 1, "b", b"b\0");
        let ck = checkpoint(vec![a, b]);
        let o = tree_order(&ck);
        assert_eq!(o.len(), 2);
    }
}
