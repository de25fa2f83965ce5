//! Output of `ckptfs cache list` / `ckptfs cache clean` (the command is in `src/cli/cache.rs`,
//! the cache directory's scanning and removal in [`crate::source::cache::admin`]).
//!
//! ```text
//! STATE   COMPRESSION   SIZE       INPUT SHA256   BUILT                  LAST USED              INPUT
//! -----   -----------   ----       ------------   -----                  ---------              -----
//! ok      zstd          27.3 MiB   3f2a9c01b7de   2026-11-28T14:47:37Z   2026-11-29T08:01:12Z   /srv/ck/web.tar.zst
//! stale   gzip          1.2 GiB    91c0e44a0d2f   2026-11-20T09:12:03Z   2026-11-20T09:12:03Z   /srv/ck/old.tar.gz (its input no longer exists)
//! Total: 2 entries, 1.2 GiB (1 stale)
//! ```
//!
//! Sizes are the bytes of the entry's files (what `clean` frees), humanised like the other
//! views; times are the tar's mtime (BUILT) and atime (LAST USED; `-` on a `noatime`
//! filesystem), RFC 3339 in UTC. `--format json` gives one object with every field in full.

use serde::Serialize;

use crate::format::human_size;
use crate::format::table;
use crate::format::time::rfc3339;
use crate::source::cache::admin::{Cleaned, Entry, Scan, State};

const HEADER: [&str; 7] = [
    "State",
    "Compression",
    "Size",
    "Input SHA256",
    "Built",
    "Last Used",
    "Input",
];

fn dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

fn row(e: &Entry) -> Vec<String> {
    let input = match (&e.input, &e.why) {
        (Some(i), Some(w)) => format!("{i} ({w})"),
        (Some(i), None) => i.clone(),
        (None, Some(w)) => format!("- ({w})"),
        (None, None) => "-".into(),
    };
    vec![
        e.state.name().into(),
        dash(e.compression.clone()),
        human_size(e.size),
        dash(
            e.input_sha256
                .as_ref()
                .map(|s| s.chars().take(12).collect()),
        ),
        dash(e.built.map(rfc3339)),
        dash(e.last_used.map(rfc3339)),
        input,
    ]
}

/// `N entries, SIZE (1 stale, 2 orphan)`.
fn summary<'a>(entries: impl Iterator<Item = &'a Entry>) -> String {
    let mut n = 0usize;
    let mut size = 0u64;
    let mut by: std::collections::BTreeMap<State, usize> = Default::default();
    for e in entries {
        n += 1;
        size = size.saturating_add(e.size);
        *by.entry(e.state).or_default() += 1;
    }
    let counts: Vec<String> = by
        .iter()
        .filter(|(s, _)| **s != State::Ok)
        .map(|(s, c)| format!("{c} {}", s.name()))
        .collect();
    let plural = if n == 1 { "entry" } else { "entries" };
    let mut s = format!("{n} {plural}, {}", human_size(size));
    if !counts.is_empty() {
        s.push_str(&format!(" ({})", counts.join(", ")));
    }
    s
}

fn others_text(scan: &Scan) -> String {
    let mut s = String::new();
    if !scan.others.is_empty() {
        s.push_str("Not cache files, left alone:\n");
        for o in &scan.others {
            s.push_str(&format!("  {} ({})\n", table::cell(&o.name), o.why));
        }
    }
    s
}

fn unsafe_text(scan: &Scan) -> String {
    match &scan.unsafe_dir {
        Some(why) => format!(
            "Warning: the cache would refuse this directory: {}\n",
            table::cell(why)
        ),
        None => String::new(),
    }
}

/// When there is nothing to list: the line saying so.
fn nothing(scan: &Scan) -> Option<String> {
    if !scan.exists {
        return Some(format!(
            "No cache directory at {}: nothing cached\n",
            scan.dir.display()
        ));
    }
    if scan.entries.is_empty() && scan.others.is_empty() {
        return Some(format!(
            "The cache directory {} is empty\n{}",
            scan.dir.display(),
            unsafe_text(scan)
        ));
    }
    None
}

/// `cache list` as a table.
pub fn list_table(scan: &Scan) -> String {
    if let Some(s) = nothing(scan) {
        return s;
    }
    let mut s = format!("Cache directory: {}\n", scan.dir.display());
    s.push_str(&unsafe_text(scan));
    if scan.entries.is_empty() {
        s.push_str("No cache entries\n");
    } else {
        let rows: Vec<Vec<String>> = scan.entries.iter().map(row).collect();
        s.push_str(&table::render(&HEADER, &rows));
    }
    s.push_str(&others_text(scan));
    s.push_str(&format!("Total: {}\n", summary(scan.entries.iter())));
    s
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    key: &'a str,
    state: &'static str,
    why: Option<&'a str>,
    input: Option<&'a str>,
    compression: Option<&'a str>,
    /// Decompressed size from the meta file.
    tar_size: Option<u64>,
    /// Bytes of all the entry's files.
    size: u64,
    size_human: String,
    input_sha256: Option<&'a str>,
    built: Option<String>,
    last_used: Option<String>,
    files: &'a [String],
}

#[derive(Serialize)]
struct JsonOther<'a> {
    name: &'a str,
    why: &'a str,
}

#[derive(Serialize)]
struct JsonList<'a> {
    cache_dir: String,
    exists: bool,
    unsafe_dir: Option<&'a str>,
    entries: Vec<JsonEntry<'a>>,
    other_files: Vec<JsonOther<'a>>,
    total_entries: usize,
    total_size: u64,
}

fn json_entry(e: &Entry) -> JsonEntry<'_> {
    JsonEntry {
        key: &e.key,
        state: e.state.name(),
        why: e.why.as_deref(),
        input: e.input.as_deref(),
        compression: e.compression.as_deref(),
        tar_size: e.tar_size,
        size: e.size,
        size_human: human_size(e.size),
        input_sha256: e.input_sha256.as_deref(),
        built: e.built.map(rfc3339),
        last_used: e.last_used.map(rfc3339),
        files: &e.files,
    }
}

/// `cache list --format json`: one pretty-printed object, with a final newline.
pub fn list_json(scan: &Scan) -> String {
    let j = JsonList {
        cache_dir: scan.dir.display().to_string(),
        exists: scan.exists,
        unsafe_dir: scan.unsafe_dir.as_deref(),
        entries: scan.entries.iter().map(json_entry).collect(),
        other_files: scan
            .others
            .iter()
            .map(|o| JsonOther {
                name: &o.name,
                why: o.why,
            })
            .collect(),
        total_entries: scan.entries.len(),
        total_size: scan.total(),
    };
    let mut s = serde_json::to_string_pretty(&j).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// `cache clean`'s report: what was (or, for a dry run, would be) removed, what was skipped or
/// failed, the other files left alone, and the space freed.
pub fn clean_text(scan: &Scan, c: &Cleaned, dry_run: bool) -> String {
    if let Some(s) = nothing(scan) {
        return s;
    }
    let mut s = format!("Cache directory: {}\n", scan.dir.display());
    s.push_str(&unsafe_text(scan));
    if c.removed.is_empty() {
        s.push_str("Nothing to remove\n");
    } else {
        s.push_str(if dry_run {
            "Would remove:\n"
        } else {
            "Removed:\n"
        });
        let rows: Vec<Vec<String>> = c.removed.iter().map(row).collect();
        s.push_str(&table::render(&HEADER, &rows));
    }
    for (e, why) in &c.skipped {
        s.push_str(&format!(
            "Skipped {} ({}): {}\n",
            &e.key[..12],
            table::cell(&dash(e.input.clone())),
            table::cell(why)
        ));
    }
    for (e, why) in &c.failed {
        s.push_str(&format!(
            "Failed {} ({}): {}\n",
            &e.key[..12],
            table::cell(&dash(e.input.clone())),
            table::cell(why)
        ));
    }
    s.push_str(&others_text(scan));
    let n = c.removed.len();
    let plural = if n == 1 { "entry" } else { "entries" };
    if dry_run {
        s.push_str(&format!(
            "Would free {} ({n} {plural}; dry run, nothing removed)\n",
            human_size(c.freed)
        ));
    } else {
        s.push_str(&format!("Freed {} ({n} {plural})\n", human_size(c.freed)));
    }
    s
}
