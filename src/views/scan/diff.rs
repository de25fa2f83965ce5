//! `scan A B --diff`: the findings new in B and those gone from A.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use super::{Finding, Matchers, Request, output, scan_path};
use crate::source::OpenOptions;
use crate::views::Error;

/// What matches a finding across two checkpoints: rule, string and address (for a file outside
/// memory, the offset in that file: its path too).
fn diff_key(f: &Finding) -> (String, String, u64, String) {
    let file = if f.pid.is_some() {
        String::new()
    } else {
        f.path.clone()
    };
    (f.rule.clone(), f.string.clone(), f.address, file)
}

/// `scan A B --diff`: the findings of B that A does not have (`new`), then those of A that B
/// does not have (`gone`). Exit 0 when there is no difference, 1 when there is one.
pub(super) fn run(
    args: &Request,
    m: &Matchers,
    cks: &[PathBuf],
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let [a, b] = cks else {
        return Err(Error::usage(
            "--diff",
            format!("needs two checkpoints, got {}", cks.len()),
        ));
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let none = |_: u64| {};
    let mut scanned = Vec::new();
    for p in [a, b] {
        let o = scan_path(p, open, m, args, jobs, &none, &none)?;
        for w in &o.warnings {
            eprintln!("ckptfs: warning: {}: {w}", p.display());
        }
        scanned.push(o.findings);
    }
    let gone_from = scanned.remove(0);
    let new_in = scanned.remove(0);
    let keys = |v: &[Finding]| -> HashSet<_> { v.iter().map(diff_key).collect() };
    let (in_a, in_b) = (keys(&gone_from), keys(&new_in));
    let mut changes: Vec<Finding> = Vec::new();
    for mut f in new_in {
        if !in_a.contains(&diff_key(&f)) {
            f.change = Some("new");
            changes.push(f);
        }
    }
    for mut f in gone_from {
        if !in_b.contains(&diff_key(&f)) {
            f.change = Some("gone");
            changes.push(f);
        }
    }
    let mut json_first = true;
    let mut rows = Vec::new();
    output::begin(out, args.format)?;
    output::write_findings(out, args.format, &changes, &mut json_first, &mut rows, true)?;
    for (row, f) in rows.iter_mut().zip(&changes) {
        row.insert(0, f.change.unwrap_or("").to_string());
    }
    let header: Vec<&str> = std::iter::once("Change").chain(output::COLUMNS).collect();
    output::end(out, args.format, json_first, &header, &rows)?;
    Ok(i32::from(!changes.is_empty()))
}
