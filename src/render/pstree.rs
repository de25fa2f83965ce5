//! `pstree` (top of the mount) and the process tree of `checkpoint/summary`.
//!
//! One line per task, children indented two spaces under their parent:
//!
//! ```text
//! 1 sh [S] /bin/sh -c \n\t\t\tSHELLVAR="PODBB-SHELL-VAR-MARKER-77e1"\n ...
//!   6 httpd [S] httpd -f -p 8080 -h /var/www
//!   7 sleep [S] sleep 3600
//! 8259 secretd [T] ./secretd A1 /tmp/mapped.dat /tmp/open.log
//!   {8263} secretd
//!   {8264} secretd
//!   8262 secretd [T] ./secretd A1 /tmp/mapped.dat /tmp/open.log
//! ```
//!
//! A process line is `PID COMM [STATE] CMDLINE`: the PID inside the container, the comm, the
//! state letter of `stat` (S, T, Z, X), and the command line read from memory like `cmdline`
//! (NULs as spaces, trailing NULs dropped, cut to 200 characters with `...`). Names and command
//! lines are kept on one line: control characters are escaped by [`crate::format::escape`]'s rule
//! (`\n`, `\t`, `\x1b`), backslashes doubled (`\\`) so the text stays unambiguous, and invalid
//! UTF-8 is replaced.
//! When there is no command line to show: `[zombie]` / `[dead]` for a task without memory,
//! `[COMM]` for an empty one (like ps), `[cmdline unreadable: REASON]` when the dump is broken.
//! The threads other than the main one come first under their process, as `{TID} NAME` (pstree's
//! braces). Roots (processes whose parent is not in the checkpoint) are in PID order, children in
//! PID order. Every process appears exactly once, even with a corrupt tree: processes not
//! reachable from a root (a parent cycle) are listed as roots afterwards. Indentation stops
//! growing at depth 100.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Checkpoint;
use crate::model::process::{Process, TaskState};
use crate::render::cmdline::cmdline;
use crate::render::task::state;

/// Characters of command line shown per task.
const CMDLINE_CHARS: usize = 200;
/// Characters of a name shown (comms are 15 bytes; this only bounds corrupt ones).
const COMM_CHARS: usize = 64;
/// Deepest indentation level.
const MAX_INDENT: usize = 100;

/// The command line of `p` as one display line (see the module docs).
pub(crate) fn cmdline_text(p: &Process) -> String {
    if p.mm.is_none() {
        return match p.state {
            TaskState::Zombie => "[zombie]".into(),
            TaskState::Dead => "[dead]".into(),
            _ => "[no memory image]".into(),
        };
    }
    let raw = match cmdline(p) {
        Ok(b) => b,
        Err(e) => {
            return format!(
                "[cmdline unreadable: {}]",
                display(&e.to_string(), CMDLINE_CHARS)
            );
        }
    };
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end == 0 {
        return format!("[{}]", display(&p.comm, COMM_CHARS));
    }
    display(&String::from_utf8_lossy(&raw[..end]), CMDLINE_CHARS)
}

/// `text` on one line: NULs as spaces, backslashes doubled, control characters escaped
/// ([`crate::format::escape`]), cut to `max` characters (plus `...`).
fn display(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 8));
    let mut n = 0;
    for c in text.chars() {
        let piece = match c {
            '\0' => " ".to_string(),
            '\\' => "\\\\".to_string(),
            c => crate::format::escape(c.encode_utf8(&mut [0; 4])).into_owned(),
        };
        let len = piece.chars().count();
        if n + len > max {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
        n += len;
    }
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth.min(MAX_INDENT) {
        out.push_str("  ");
    }
}

/// The text of `pstree`.
pub fn pstree(ck: &Checkpoint) -> Vec<u8> {
    tree_text(&ck.processes).into_bytes()
}

/// The tree of `processes` (see the module docs).
pub(crate) fn tree_text(processes: &[Process]) -> String {
    let by_pid: BTreeMap<u32, usize> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pid, i))
        .collect();
    let mut children: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, p) in processes.iter().enumerate() {
        if p.ppid == p.pid || !by_pid.contains_key(&p.ppid) {
            roots.push(i);
        } else {
            children.entry(p.ppid).or_default().push(i);
        }
    }
    let key = |i: &usize| processes[*i].pid;
    roots.sort_by_key(key);
    for v in children.values_mut() {
        v.sort_by_key(key);
    }

    let mut out = String::new();
    let mut seen: BTreeSet<usize> = BTreeSet::new();
    let walk = |start: usize, out: &mut String, seen: &mut BTreeSet<usize>| {
        // Explicit stack: a deep (or corrupt) tree must not overflow the thread's stack.
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            let p = &processes[i];
            indent(out, depth);
            out.push_str(&format!(
                "{} {} [{}] {}\n",
                p.pid,
                display(&p.comm, COMM_CHARS),
                state(p.state).0,
                cmdline_text(p)
            ));
            for t in p.threads.iter().filter(|t| t.tid != p.pid) {
                indent(out, depth + 1);
                let name = if t.comm.is_empty() { &p.comm } else { &t.comm };
                out.push_str(&format!("{{{}}} {}\n", t.tid, display(name, COMM_CHARS)));
            }
            if let Some(kids) = children.get(&p.pid) {
                for &k in kids.iter().rev() {
                    stack.push((k, depth + 1));
                }
            }
        }
    };
    for &r in &roots {
        walk(r, &mut out, &mut seen);
    }
    // Whatever a cycle hid from the roots.
    for i in 0..processes.len() {
        if !seen.contains(&i) {
            walk(i, &mut out, &mut seen);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Control characters by the one rule (was: `\x85` for U+0085 here, `\xc2\x85` in tables).
    #[test]
    fn controls_escaped_by_the_one_rule() {
        assert_eq!(
            display("a\u{85}\x1b\\b\0c\n", 200),
            "a\\xc2\\x85\\x1b\\\\b c\\n"
        );
        assert_eq!(display("abc\x1bdef", 5), "abc...");
    }
    use crate::render::testutil::*;

    #[test]
    fn podman_busybox_like_tree() {
        let sh = process_with_args(
            1,
            0,
            "sh",
            b"/bin/sh\0-c\0\n\t\t\tSHELLVAR=\"X\"\n\t\t\thttpd &\0",
        );
        let httpd = process_with_args(6, 1, "httpd", b"httpd\0-f\0-p\x008080\0");
        let sleep = process_with_args(7, 1, "sleep", b"sleep\x003600\0");
        let text = tree_text(&[sh, sleep, httpd]);
        assert_eq!(
            text,
            "1 sh [S] /bin/sh -c \\n\\t\\t\\tSHELLVAR=\"X\"\\n\\t\\t\\thttpd &\n  6 httpd [S] httpd -f -p 8080\n  7 sleep [S] sleep 3600\n"
        );
    }

    #[test]
    fn threads_zombies_and_long_lines() {
        let mut parent = secretd_plain_8259();
        parent.threads[2].comm = "worker".into();
        let mut zombie = process(8262, vec![], vec![]);
        zombie.ppid = 8259;
        zombie.comm = "secretd".into();
        zombie.mm = None;
        zombie.state = TaskState::Zombie;
        let long = process_with_args(9000, 8262, "long", &vec![b'a'; 5000]);
        let empty = process_with_args(9001, 8259, "kworkerish", b"");
        let text = tree_text(&[parent, zombie, long, empty]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "8259 secretd [T] ./secretd A1 /tmp/criu-fixture-work/secretd-plain/mapped.dat /tmp/criu-fixture-work/secretd-plain/open.log"
        );
        assert_eq!(lines[1], "  {8263} secretd");
        assert_eq!(lines[2], "  {8264} worker");
        assert_eq!(lines[3], "  8262 secretd [Z] [zombie]");
        assert!(lines[4].starts_with("    9000 long [S] aaaa"));
        assert!(lines[4].ends_with("a..."));
        assert_eq!(lines[4].len(), "    9000 long [S] ".len() + 200 + 3);
        assert_eq!(lines[5], "  9001 kworkerish [S] [kworkerish]");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn cycles_and_deep_chains_terminate() {
        let mut a = process(2, vec![], vec![]);
        a.ppid = 3;
        let mut b = process(3, vec![], vec![]);
        b.ppid = 2;
        let text = tree_text(&[a, b]);
        assert_eq!(text.lines().count(), 2);
        // A 5000-deep chain: no recursion, bounded indentation.
        let chain: Vec<Process> = (1..=5000u32)
            .map(|pid| {
                let mut p = process(pid, vec![], vec![]);
                p.ppid = pid - 1;
                p.mm = None;
                p
            })
            .collect();
        let text = tree_text(&chain);
        assert_eq!(text.lines().count(), 5000);
        assert!(text.lines().all(|l| l.len() < 2 * MAX_INDENT + 64));
        assert!(tree_text(&[]).is_empty());
    }
}
