//! What changed between two dumps of one container, as plain data the caller computed (the
//! CLI runs `diff`'s comparison, [`crate::views::diff`]) and the page shows: the summary, the
//! container's files and log first (the changes people make), then processes, connections and
//! memory: each changed page run also a [`Mark`] on the later dump's map ([`Changes::marks`]).

use super::html::{capped, esc, esc_cut, hex, table};
use super::{Mark, MarkKind};

/// Rows of each list (files, log lines, page runs, strings).
pub const MAX_ROWS: usize = 500;
/// Runs listed per mapping.
pub const RUNS_LISTED: usize = 12;

/// A run of pages of one mapping that changed, appeared or disappeared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRun {
    pub start: u64,
    pub pages: u64,
    /// `changed`, `added`, `removed` or `unreadable`.
    pub change: String,
    /// A thread's `struct rseq` lies there (the kernel rewrites it: expected noise).
    pub rseq: bool,
}

/// One process's memory changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcPages {
    pub pid: u32,
    pub command: String,
    pub changed: u64,
    pub added: u64,
    pub removed: u64,
    /// Per mapping: its `start-end perms name` and its runs.
    pub mappings: Vec<(String, Vec<PageRun>)>,
    /// Strings the later dump's changed pages gained, best first: (string, address).
    pub gained: Vec<(String, u64)>,
    /// Strings the earlier dump's changed pages lost.
    pub lost: Vec<(String, u64)>,
}

/// A file of `rootfs/` added, removed or changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub status: String,
    /// `file`, `directory`, `symlink`, `fifo`.
    pub kind: String,
    pub size: Option<u64>,
    pub mtime: Option<String>,
    pub sha256: Option<String>,
    /// What differs, for a changed entry (`size: 3 -> 9`).
    pub what: String,
}

/// The comparison of input `a` with the later input `b`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Indices of the two inputs in the report.
    pub a: usize,
    pub b: usize,
    /// When each was dumped (and where that time is from), if recorded.
    pub time_a: Option<String>,
    pub time_b: Option<String>,
    /// `diff`'s summary lines.
    pub summary: Vec<String>,
    pub files: Vec<FileChange>,
    pub deleted_files_added: Vec<String>,
    pub deleted_files_removed: Vec<String>,
    /// The container log's new lines (and those lost when it was rotated).
    pub log_new: Vec<String>,
    pub log_lost: Vec<String>,
    /// Processes added / removed / modified: (PID, command, what).
    pub processes: Vec<(u32, String, String)>,
    /// Connections: one line each (sockets opened / closed, bytes through TCP streams).
    pub connections: Vec<String>,
    pub memory: Vec<ProcPages>,
    /// What the comparison does not look at.
    pub not_compared: Vec<String>,
}

impl Changes {
    /// The later dump's marks: one per run of changed or added pages (removed pages are not in
    /// the later dump), (PID, mark).
    pub fn marks(&self) -> Vec<(u32, Mark)> {
        let mut out = Vec::new();
        for p in &self.memory {
            for (_, runs) in &p.mappings {
                for r in runs.iter().filter(|r| r.change != "removed") {
                    out.push((
                        p.pid,
                        Mark {
                            address: r.start,
                            len: r.pages.saturating_mul(crate::model::PAGE_SIZE),
                            label: format!(
                                "{} page{} {}{}",
                                r.pages,
                                if r.pages == 1 { "" } else { "s" },
                                r.change,
                                if r.rseq { " (rseq: expected)" } else { "" }
                            ),
                            anchor: None,
                            kind: MarkKind::Changed,
                        },
                    ));
                }
            }
        }
        out
    }
}

fn list(items: &[String], whole: &str) -> String {
    let mut s = String::from("<ul>");
    for i in items.iter().take(MAX_ROWS) {
        s.push_str(&format!("<li><code>{}</code></li>", esc_cut(i, 400)));
    }
    s.push_str("</ul>\n");
    s.push_str(&capped(items.len().min(MAX_ROWS), items.len(), whole));
    s
}

fn status(s: &str) -> String {
    format!("<span class=\"c-{0}\">{0}</span>", esc(s))
}

/// One comparison; `labels` are the inputs' labels.
pub fn comparison(c: &Changes, labels: &[String]) -> String {
    let name = |i: usize| labels.get(i).map_or("?", String::as_str);
    let mut s = format!(
        "<h3 id=\"changed-{}-{}\">From checkpoint {} to checkpoint {}</h3>\n",
        c.a + 1,
        c.b + 1,
        c.a + 1,
        c.b + 1
    );
    s.push_str(&format!(
        "<p>Earlier: <code>{}</code>, dumped {}.<br>Later: <code>{}</code>, dumped {}.</p>\n",
        esc(name(c.a)),
        super::html::opt(c.time_a.as_deref()),
        esc(name(c.b)),
        super::html::opt(c.time_b.as_deref()),
    ));
    if !c.summary.is_empty() {
        s.push_str("<ul class=\"summary\">");
        for l in &c.summary {
            s.push_str(&format!("<li>{}</li>", esc(l)));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("<h4>Files</h4>\n");
    if c.files.is_empty() && c.deleted_files_added.is_empty() && c.deleted_files_removed.is_empty()
    {
        s.push_str("<p>No file of the container changed.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = c
            .files
            .iter()
            .take(MAX_ROWS)
            .map(|f| {
                vec![
                    status(&f.status),
                    format!("<code>{}</code>", esc(&f.path)),
                    esc(&f.kind),
                    f.size
                        .map_or_else(super::html::not_recorded, |n| n.to_string()),
                    super::html::opt(f.mtime.as_deref()),
                    f.sha256.as_deref().map_or_else(String::new, |h| {
                        format!("<code class=\"hash\">{}</code>", esc(h))
                    }),
                    esc(&f.what),
                ]
            })
            .collect();
        if !rows.is_empty() {
            s.push_str(&table(
                "files",
                "The container's files (rootfs/)",
                &[
                    "Change",
                    "Path",
                    "Type",
                    "Bytes",
                    "Modified",
                    "SHA-256",
                    "What differs",
                ],
                &rows,
            ));
            s.push_str(&capped(rows.len(), c.files.len(), "ckptfs diff"));
        }
        if !c.deleted_files_added.is_empty() {
            s.push_str("<p>Newly in <code>deleted.files</code>:</p>");
            s.push_str(&list(&c.deleted_files_added, "ckptfs diff"));
        }
        if !c.deleted_files_removed.is_empty() {
            s.push_str("<p>No longer in <code>deleted.files</code>:</p>");
            s.push_str(&list(&c.deleted_files_removed, "ckptfs diff"));
        }
    }
    s.push_str("<h4>Container log</h4>\n");
    if c.log_new.is_empty() && c.log_lost.is_empty() {
        s.push_str("<p>No new log line.</p>\n");
    } else {
        if !c.log_new.is_empty() {
            s.push_str(&format!("<p>{} new line(s):</p>", c.log_new.len()));
            s.push_str(&list(&c.log_new, "ckptfs diff"));
        }
        if !c.log_lost.is_empty() {
            s.push_str(&format!(
                "<p>{} line(s) of the earlier log are gone (rotated or truncated):</p>",
                c.log_lost.len()
            ));
            s.push_str(&list(&c.log_lost, "ckptfs diff"));
        }
    }
    if !c.processes.is_empty() {
        s.push_str("<h4>Processes</h4>\n");
        let rows: Vec<Vec<String>> = c
            .processes
            .iter()
            .take(MAX_ROWS)
            .map(|(pid, cmd, what)| {
                vec![
                    pid.to_string(),
                    format!("<code>{}</code>", esc(cmd)),
                    esc_cut(what, 400),
                ]
            })
            .collect();
        s.push_str(&table(
            "procchanges",
            "Processes",
            &["PID", "Command", "Change"],
            &rows,
        ));
        s.push_str(&capped(rows.len(), c.processes.len(), "ckptfs diff"));
    }
    if !c.connections.is_empty() {
        s.push_str("<h4>Connections</h4>\n");
        s.push_str(&list(&c.connections, "ckptfs diff"));
    }
    s.push_str("<h4>Memory</h4>\n");
    if c.memory.is_empty() {
        s.push_str("<p>No dumped page differs.</p>\n");
    }
    for p in &c.memory {
        s.push_str(&format!(
            "<p><a href=\"#{}proc-{pid}\">PID {pid}</a> <code>{}</code>: {} page(s) changed, {} added, {} removed. Pages holding a thread's <code>struct rseq</code> are marked: the kernel rewrites them.</p>\n",
            super::prefix(c.b),
            esc(&p.command),
            p.changed,
            p.added,
            p.removed,
            pid = p.pid
        ));
        for (what, v) in [("gained", &p.gained), ("lost", &p.lost)] {
            if v.is_empty() {
                continue;
            }
            s.push_str(&format!(
                "<p>Strings {what} (best first; {} in all):</p><ul class=\"strings\">",
                v.len()
            ));
            for (st, a) in v.iter().take(20) {
                s.push_str(&format!(
                    "<li><code>{}</code> at <code>{}</code></li>",
                    esc_cut(st, 200),
                    hex(*a)
                ));
            }
            s.push_str("</ul>\n");
        }
        let rows: Vec<Vec<String>> = p
            .mappings
            .iter()
            .take(MAX_ROWS)
            .map(|(m, runs)| {
                let count = |c: &str| -> u64 {
                    runs.iter().filter(|r| r.change == c).map(|r| r.pages).sum()
                };
                let mut list: Vec<String> = runs
                    .iter()
                    .take(RUNS_LISTED)
                    .map(|r| {
                        format!(
                            "<code>{}</code>{}{}{}",
                            hex(r.start),
                            if r.pages > 1 {
                                format!("&nbsp;×{}", r.pages)
                            } else {
                                String::new()
                            },
                            if r.change == "changed" {
                                String::new()
                            } else {
                                format!(" {}", status(&r.change))
                            },
                            if r.rseq { " (rseq)" } else { "" }
                        )
                    })
                    .collect();
                if runs.len() > RUNS_LISTED {
                    list.push(format!("and {} more runs", runs.len() - RUNS_LISTED));
                }
                vec![
                    format!("<code>{}</code>", esc_cut(m, 200)),
                    count("changed").to_string(),
                    count("added").to_string(),
                    count("removed").to_string(),
                    list.join(", "),
                ]
            })
            .collect();
        s.push_str(&table(
            "pages",
            &format!("Pages of PID {} by mapping", p.pid),
            &[
                "Mapping",
                "Changed",
                "Added",
                "Removed",
                "Runs of pages (first page × pages)",
            ],
            &rows,
        ));
        s.push_str(&capped(
            rows.len(),
            p.mappings.len(),
            "ckptfs diff --strings",
        ));
    }
    if !c.not_compared.is_empty() {
        s.push_str(&format!(
            "<p class=\"note\">Not compared: {}.</p>\n",
            esc(&c.not_compared.join("; "))
        ));
    }
    s
}

/// The section (present only when the inputs include two dumps of one container).
pub fn section(changes: &[Changes], labels: &[String]) -> String {
    let mut s = String::from("<section id=\"changed\">\n<h2>What changed</h2>\n");
    s.push_str(
        "<p>Between dumps of the same container (by container ID), in the order the dumps were \
         taken. Changed and added pages are also marked on the later dump's maps.</p>\n",
    );
    for c in changes {
        s.push_str(&comparison(c, labels));
    }
    s.push_str("</section>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_listed_escaped_and_marked() {
        let c = Changes {
            a: 0,
            b: 1,
            time_a: Some("2026-01-01T00:00:00Z (checkpointed)".into()),
            time_b: None,
            summary: vec!["Rootfs: +1 -0 ~0".into()],
            files: vec![FileChange {
                path: "/tmp/<new>".into(),
                status: "added".into(),
                kind: "file".into(),
                size: Some(9),
                mtime: None,
                sha256: Some("ab".repeat(32)),
                what: String::new(),
            }],
            log_new: vec!["stdout: SET k <v>".into()],
            memory: vec![ProcPages {
                pid: 1,
                command: "redis-server".into(),
                changed: 2,
                added: 1,
                removed: 1,
                mappings: vec![(
                    "55d0-56d0 rw-p [heap]".into(),
                    vec![
                        PageRun {
                            start: 0x55d0,
                            pages: 2,
                            change: "changed".into(),
                            rseq: false,
                        },
                        PageRun {
                            start: 0x56d0,
                            pages: 1,
                            change: "removed".into(),
                            rseq: false,
                        },
                        PageRun {
                            start: 0x57d0,
                            pages: 1,
                            change: "added".into(),
                            rseq: true,
                        },
                    ],
                )],
                gained: vec![("secret-<b>".into(), 0x55d8)],
                lost: vec![],
            }],
            ..Changes::default()
        };
        let s = section(std::slice::from_ref(&c), &["a.tar".into(), "b.tar".into()]);
        assert!(s.contains("/tmp/&lt;new&gt;") && !s.contains("<new>"));
        assert!(s.contains("SET k &lt;v&gt;") && s.contains("secret-&lt;b&gt;"));
        assert!(s.contains("not recorded"), "B's unknown dump time");
        assert!(s.contains("href=\"#c1-proc-1\""));
        let m = c.marks();
        assert_eq!(m.len(), 2, "removed pages are not in the later dump");
        assert_eq!(m[0].1.len, 2 * 4096);
        assert!(m[1].1.label.contains("rseq"));
        assert!(m.iter().all(|(_, m)| m.kind == MarkKind::Changed));
    }
}
