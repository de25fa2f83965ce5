//! `ckptfs report CHECKPOINT... -o case.html`: the case report
//! ([`crate::render::report`]) of one or more checkpoints, as one self-contained HTML file.
//!
//! Each checkpoint is opened as a mount opens it (the model, then `rootfs/`, over `--rootfs DIR`
//! when given, as `triage --rootfs`), triaged, and, with
//! `--rules` / `--string` / `--ioc-file`, scanned by `scan`'s engine. When two or more inputs are
//! dumps of one container (the same container ID), each is compared with the one dumped before
//! it by `diff`'s comparison, and the page shows what changed. A checkpoint that cannot be read
//! has its error line on stderr and on the page; the others are reported (exit code 2).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::diff::output::DiffResult;
use super::{Error, write_out};
use crate::model::Checkpoint;
use crate::render::report::changed::{Changes, FileChange, PageRun, ProcPages};
use crate::render::report::{self, Input, Report, ScanHit};
use crate::source::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

/// Runs of pages kept per process for the page (its table shows fewer; the map marks these).
pub const MAX_RUNS: usize = 5000;

/// What `ckptfs report` is asked (the command line's arguments are in `cli/views.rs`).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub checkpoints: Vec<PathBuf>,
    /// Where the page goes; `-` is stdout.
    pub output: PathBuf,
    pub rules: Vec<PathBuf>,
    pub strings: Vec<String>,
    pub ioc_files: Vec<PathBuf>,
    /// The container image's root filesystem (`triage --rootfs`), under each checkpoint's own
    /// files.
    pub rootfs: Option<PathBuf>,
    /// The command line, as the page quotes it.
    pub command: String,
}

impl Request {
    fn scanning(&self) -> bool {
        !(self.rules.is_empty() && self.strings.is_empty() && self.ioc_files.is_empty())
    }
}

pub use crate::render::report::shell_line;

/// Now, in RFC 3339 (UTC, whole seconds).
pub fn now() -> Option<String> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(crate::format::time::rfc3339(
        i64::try_from(d.as_secs()).ok()?,
    ))
}

fn scan_hits(f: Vec<super::scan::Finding>) -> Vec<ScanHit> {
    f.into_iter()
        .map(|f| ScanHit {
            pid: f.pid,
            address: f.address,
            length: f.length as u64,
            rule: f.rule,
            string: f.string,
            path: f.path,
            context: f.context,
        })
        .collect()
}

/// A dump time as the page shows it: `TIME (from)`.
fn dump_time(s: &super::diff::output::Side) -> Option<String> {
    s.dump_time
        .as_ref()
        .map(|t| format!("{} ({})", t.time, t.from))
}

/// Pages of one mapping as runs: consecutive pages with the same change and rseq tag.
fn runs(pages: &[super::diff::output::PageEntry]) -> Vec<PageRun> {
    let mut out: Vec<PageRun> = Vec::new();
    for p in pages {
        if let Some(last) = out.last_mut()
            && last.change == p.change
            && last.rseq == p.rseq
            && last
                .start
                .checked_add(last.pages.saturating_mul(crate::model::PAGE_SIZE))
                == Some(p.address)
        {
            last.pages += 1;
            continue;
        }
        out.push(PageRun {
            start: p.address,
            pages: 1,
            change: p.change.to_string(),
            rseq: p.rseq,
        });
    }
    out
}

/// The page's plain data of `diff`'s result for inputs `a` and `b`.
pub fn changes(r: &DiffResult, a: usize, b: usize) -> Changes {
    let mut c = Changes {
        a,
        b,
        time_a: dump_time(&r.checkpoint_a),
        time_b: dump_time(&r.checkpoint_b),
        summary: r.summary.lines().skip(1).map(str::to_string).collect(),
        not_compared: r.not_compared.clone(),
        ..Changes::default()
    };
    if let Some(rf) = &r.rootfs_changes {
        for e in rf.added.iter().chain(&rf.removed).chain(&rf.changed) {
            c.files.push(FileChange {
                path: e.path.clone(),
                status: e.status.clone(),
                kind: e.kind.clone(),
                size: e.size,
                mtime: e.mtime.clone(),
                sha256: e.sha256.clone(),
                what: e
                    .changes
                    .iter()
                    .map(|f| format!("{}: {} -> {}", f.field, f.a, f.b))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        c.deleted_files_added = rf.deleted_files_added.clone();
        c.deleted_files_removed = rf.deleted_files_removed.clone();
    }
    if let Some(l) = &r.log_changes {
        c.log_new = l.new_lines.clone();
        c.log_lost = l.lost_lines.clone();
    }
    let p = &r.process_changes;
    for (list, what) in [(&p.added, "started"), (&p.removed, "gone")] {
        for i in list {
            c.processes
                .push((i.pid, i.command.clone(), what.to_string()));
        }
    }
    for i in &p.modified {
        let mut what: Vec<String> = i
            .changes
            .iter()
            .map(|f| format!("{}: {} -> {}", f.field, f.a, f.b))
            .collect();
        let e = &i.environment;
        if !e.is_empty() {
            what.push(format!(
                "environment: {} added, {} removed, {} changed",
                e.added.len(),
                e.removed.len(),
                e.changed.len()
            ));
        }
        c.processes
            .push((i.pid, i.command.clone(), what.join("; ")));
    }
    let s = &r.socket_changes;
    for (list, what) in [(&s.added, "opened"), (&s.removed, "closed")] {
        for k in list {
            let mut line = format!(
                "{what}: PID {} fd {} {} {}",
                k.pid, k.fd, k.protocol, k.kind
            );
            if !k.source.is_empty() {
                line.push_str(&format!(" {}:{}", k.source, k.src_port));
            }
            if !k.dest.is_empty() {
                line.push_str(&format!(" -> {}:{}", k.dest, k.dst_port));
            }
            if !k.address.is_empty() {
                line.push_str(&format!(" {}", k.address));
            }
            if !k.state.is_empty() {
                line.push_str(&format!(" {}", k.state));
            }
            c.connections.push(line);
        }
    }
    for t in &r.tcp_streams {
        c.connections.push(format!(
            "PID {} fd {} {} -> {}: {} bytes received and {} sent between the dumps",
            t.pid, t.fd, t.local, t.peer, t.received, t.sent
        ));
    }
    for m in &r.memory_changes.processes {
        let mut pp = ProcPages {
            pid: m.pid,
            command: m.command.clone(),
            changed: m.pages.changed,
            added: m.pages.added,
            removed: m.pages.removed,
            ..ProcPages::default()
        };
        let mut kept = 0usize;
        let mut strings: Vec<(i64, String, u64, bool)> = Vec::new();
        for v in &m.vmas {
            let mut rs = runs(&v.page_list);
            rs.truncate(MAX_RUNS.saturating_sub(kept));
            kept += rs.len();
            let label = format!("{} {} {}", v.range, v.perms, v.name);
            if !rs.is_empty() {
                pp.mappings.push((label.trim_end().to_string(), rs));
            }
            for h in &v.strings_gained {
                strings.push((h.score, h.string.clone(), h.address, true));
            }
            for h in &v.strings_lost {
                strings.push((h.score, h.string.clone(), h.address, false));
            }
        }
        strings.sort_by_key(|x| std::cmp::Reverse(x.0));
        for (_, st, a, gained) in strings {
            if gained {
                pp.gained.push((st, a));
            } else {
                pp.lost.push((st, a));
            }
        }
        c.memory.push(pp);
    }
    c
}

/// The pairs of inputs to compare: within each container (by ID), each dump with the one
/// taken before it (by dump time; inputs without one in the order given).
pub fn pairs(cks: &[(String, &Checkpoint)]) -> Vec<(usize, usize)> {
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, (_, ck)) in cks.iter().enumerate() {
        if let Some(id) = ck.meta.container_id.as_deref().filter(|s| !s.is_empty()) {
            groups.entry(id).or_default().push(i);
        }
    }
    let time = |i: usize| {
        let ck = cks[i].1;
        super::diff::extra::dump_time(&ck.source, ck.meta.checkpointed.as_deref())
            .and_then(|t| crate::format::time::parse_rfc3339(&t.time))
    };
    let mut out = Vec::new();
    for (_, mut v) in groups {
        v.sort_by_key(|&i| (time(i), i));
        for w in v.windows(2) {
            out.push((w[0], w[1]));
        }
    }
    out.sort_unstable();
    out
}

/// Writes the report of `req.checkpoints` to `req.output`.
pub fn run(req: &Request, open: &OpenOptions) -> Result<(), Error> {
    // Bad rules or IOCs are the command's error, before anything is read.
    let matchers = if req.scanning() {
        Some(super::scan::Matchers::from_request(
            &super::scan::Request {
                rules: req.rules.clone(),
                strings: req.strings.clone(),
                ioc_files: req.ioc_files.clone(),
                ..super::scan::Request::default()
            },
        )?)
    } else {
        None
    };
    let mut loaded: Vec<(String, Checkpoint)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    for p in &req.checkpoints {
        match super::load_with_rootfs(p, req.rootfs.as_deref(), open) {
            Ok(ck) => loaded.push((p.display().to_string(), ck)),
            Err(e) if e.code == super::EXIT_USAGE => {
                eprintln!("{e}");
                failed.push((p.display().to_string(), super::one_line(&e.msg)));
            }
            Err(e) => return Err(e),
        }
    }
    let refs: Vec<(String, &Checkpoint)> = loaded.iter().map(|(l, c)| (l.clone(), c)).collect();
    let mut changes: Vec<Changes> = Vec::new();
    for (a, b) in pairs(&refs) {
        let r = super::diff::compare(refs[a].1, refs[b].1);
        changes.push(self::changes(&r, a, b));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut inputs: Vec<Input> = Vec::new();
    for (k, (label, ck)) in refs.iter().enumerate() {
        let scan = match &matchers {
            Some(m) => {
                let o = super::scan::scan_checkpoint(
                    ck,
                    label,
                    m,
                    &super::scan::Options {
                        context: 16,
                        threads,
                        rootfs_files: false,
                    },
                    &|_| {},
                    &|_| {},
                );
                for w in &o.warnings {
                    super::warn(format_args!("{label}: {w}"));
                }
                scan_hits(o.findings)
            }
            None => Vec::new(),
        };
        let changed = changes
            .iter()
            .filter(|c| c.b == k)
            .flat_map(Changes::marks)
            .collect();
        inputs.push(Input {
            label: label.clone(),
            ck,
            triage: crate::render::triage::findings(ck),
            scan,
            changed,
        });
    }
    let page = report::page(&Report {
        inputs,
        failed: failed.clone(),
        command: req.command.clone(),
        made: now(),
        changes,
        scanned: req.scanning(),
    });
    write_page(&req.output, page.as_bytes())?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::reported())
    }
}

/// An I/O error's text without Rust's " (os error N)".
fn why(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error ").next().unwrap_or(&s).to_string()
}

/// Writes the page to `path` (`-`: stdout), whole or not at all: a file is written beside its
/// name (`.NAME.PID.tmp`) and renamed into place. The page quotes the checkpoint's secrets
/// (environments, findings): it is readable by its owner only (0600), as `memparse` files are.
fn write_page(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if path == Path::new("-") {
        return super::to_stdout(|out| write_out(out, bytes));
    }
    let shown = path.display();
    let fail = |e: &std::io::Error| Error::failure(format!("{shown}: cannot write"), why(e));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&e));
    }
    super::print_warnings();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_file_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("case.html");
        write_page(&path, b"<html></html>").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"<html></html>");
        // Nothing left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        assert_eq!(
            shell_line([
                "ckptfs",
                "report",
                "a b.tar",
                "-o",
                "it's.html",
                "--string",
                ""
            ]),
            "ckptfs report 'a b.tar' -o 'it'\\''s.html' --string ''"
        );
    }

    #[test]
    fn dumps_of_one_container_are_paired_in_dump_order() {
        use crate::render::testutil::checkpoint;
        let ck = |id: Option<&str>, at: Option<&str>| {
            let mut c = checkpoint(vec![]);
            c.meta.container_id = id.map(str::to_string);
            c.meta.checkpointed = at.map(str::to_string);
            c
        };
        let later = ck(Some("x"), Some("2026-01-02T00:00:00Z"));
        let other = ck(Some("y"), Some("2026-01-01T00:00:00Z"));
        let earlier = ck(Some("x"), Some("2026-01-01T00:00:00Z"));
        let unknown = ck(None, None);
        let alone = ck(Some("y"), None);
        let cks: Vec<(String, &Checkpoint)> = [&later, &other, &earlier, &unknown, &alone]
            .into_iter()
            .map(|c| (String::new(), c))
            .collect();
        // x: 2 (earlier) then 0 (later); y: 4 has no time and sorts first; no id: never paired.
        assert_eq!(pairs(&cks), vec![(2, 0), (4, 1)]);
    }

    #[test]
    fn pages_become_runs() {
        use super::super::diff::output::PageEntry;
        let p = |a: u64, c: &'static str, rseq: bool| PageEntry {
            address: a,
            change: c,
            sha256_a: None,
            sha256_b: None,
            rseq,
        };
        let r = runs(&[
            p(0x1000, "changed", false),
            p(0x2000, "changed", false),
            p(0x4000, "changed", false),
            p(0x5000, "added", false),
            p(0x6000, "added", true),
        ]);
        let got: Vec<(u64, u64, &str, bool)> = r
            .iter()
            .map(|r| (r.start, r.pages, r.change.as_str(), r.rseq))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x1000, 2, "changed", false),
                (0x4000, 1, "changed", false),
                (0x5000, 1, "added", false),
                (0x6000, 1, "added", true)
            ]
        );
    }
}
