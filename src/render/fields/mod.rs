//! Where every value of every generated file comes from: one table, [`ROWS`], served as
//! `checkpoint/fields.json` ([`fields_json()`]) and printed in docs/views.md ([`markdown()`]; a
//! test keeps the two equal).
//!
//! Each field is one of:
//! - **image**: read from a CRIU image (or the container's metadata), named with its field;
//! - **derived**: computed from recorded values by the stated rule (the kernel's own formula,
//!   a count, a fixed value the kernel prints for every task in that situation);
//! - **placeholder**: not recorded, but the format is positional (`stat`, `statm`,
//!   `sysvipc/shm`, `maps`, `net/*`): the neutral value shown in its place is given, and it is
//!   never a measurement;
//! - **omitted**: not recorded, and the format is by name (`status`): the line is left out.
//!
//! `checkpoint/fields.json`:
//!
//! ```json
//! { "format": "ckptfs-fields/1",
//!   "files": {
//!     "PID/stat": [
//!       { "field": "pid", "position": 1, "source": "image", "from": "pstree.img `pid` ..." },
//!       { "field": "minflt", "position": 10, "source": "placeholder", "shown_as": "0" },
//!       { "field": "vsize", "position": 23, "source": "derived", "rule": "..." }, ... ],
//!     "PID/status": [ { "field": "VmRSS", "source": "omitted" }, ... ], ... } }
//! ```
//!
//! `files` is keyed by the path inside one checkpoint's tree (`PID`, `TID`, `N` standing for
//! the numbers). `position` (1-based, whitespace-separated, `comm` counting as one) is given for
//! positional formats; `note` is added where a word more is needed. The file is the same for
//! every checkpoint: which fields a file *can* hold does not depend on the dump (an optional image
//! that is absent makes a named line absent, or a positional one 0, as stated in `from`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read from the images: which image and field.
    Image(&'static str),
    /// Computed from recorded values: the rule.
    Derived(&'static str),
    /// Not recorded; the value printed in its place.
    Placeholder(&'static str),
    /// Not recorded; the line is left out.
    Omitted,
}

impl Source {
    pub fn kind(self) -> &'static str {
        match self {
            Source::Image(_) => "image",
            Source::Derived(_) => "derived",
            Source::Placeholder(_) => "placeholder",
            Source::Omitted => "omitted",
        }
    }
}

/// One or more consecutive fields of one or more files that share a source.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Paths inside a checkpoint's tree.
    pub files: &'static [&'static str],
    /// 1-based position of the first field, for positional formats.
    pub pos: Option<u32>,
    pub fields: &'static [&'static str],
    pub source: Source,
    /// A word more, or empty.
    pub note: &'static str,
}

const fn r(
    files: &'static [&'static str],
    pos: u32,
    fields: &'static [&'static str],
    source: Source,
) -> Row {
    n(files, pos, fields, source, "")
}

const fn n(
    files: &'static [&'static str],
    pos: u32,
    fields: &'static [&'static str],
    source: Source,
    note: &'static str,
) -> Row {
    Row {
        files,
        pos: if pos == 0 { None } else { Some(pos) },
        fields,
        source,
        note,
    }
}

mod rows;

pub use rows::ROWS;

/// `ROWS` as `checkpoint/fields.json` (see the module docs).
pub fn fields_json() -> Vec<u8> {
    let mut files: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for row in ROWS {
        for file in row.files {
            let list = files.entry(file).or_default();
            for (i, field) in row.fields.iter().enumerate() {
                let mut o = serde_json::Map::new();
                o.insert("field".into(), json!(field));
                if let Some(p) = row.pos {
                    o.insert("position".into(), json!(p as usize + i));
                }
                o.insert("source".into(), json!(row.source.kind()));
                match row.source {
                    Source::Image(from) => {
                        o.insert("from".into(), json!(from));
                    }
                    Source::Derived(rule) => {
                        o.insert("rule".into(), json!(rule));
                    }
                    Source::Placeholder(shown) => {
                        o.insert("shown_as".into(), json!(shown));
                    }
                    Source::Omitted => {}
                }
                if !row.note.is_empty() {
                    o.insert("note".into(), json!(row.note));
                }
                list.push(Value::Object(o));
            }
        }
    }
    let doc = json!({ "format": "ckptfs-fields/1", "files": files });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `ROWS` as the Markdown table of docs/views.md ("Where every value comes from").
pub fn markdown() -> String {
    let mut s = String::from("| file | field | source |\n|---|---|---|\n");
    for row in ROWS {
        let files: Vec<String> = row.files.iter().map(|f| format!("`{f}`")).collect();
        let fields: Vec<String> = row.fields.iter().map(|f| format!("`{f}`")).collect();
        let fields = match row.pos {
            Some(p) if row.fields.len() > 1 => {
                format!(
                    "{}-{}: {}",
                    p,
                    p as usize + row.fields.len() - 1,
                    fields.join(" ")
                )
            }
            Some(p) => format!("{p}: {}", fields.join(" ")),
            None => fields.join(" "),
        };
        let mut source = match row.source {
            Source::Image(from) => format!("image: {from}"),
            Source::Derived(rule) => format!("derived: {rule}"),
            Source::Placeholder(shown) => format!("not recorded: shown as `{shown}`"),
            Source::Omitted => "not recorded: line left out".to_string(),
        };
        if !row.note.is_empty() {
            source.push_str(" (");
            source.push_str(row.note);
            source.push(')');
        }
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            files.join(", "),
            fields,
            source
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    fn placeholders(file: &str) -> Vec<(usize, &'static str)> {
        ROWS.iter()
            .filter(|r| r.files.contains(&file))
            .filter_map(|r| match (r.source, r.pos) {
                (Source::Placeholder(shown), Some(p)) => Some((p as usize, shown, r.fields.len())),
                _ => None,
            })
            .flat_map(|(p, shown, n)| (p..p + n).map(move |i| (i, shown)))
            .collect()
    }

    /// Positions covered by the rows of `file`, in order.
    fn positions(file: &str) -> Vec<usize> {
        let mut v: Vec<usize> = ROWS
            .iter()
            .filter(|r| r.files.contains(&file))
            .filter_map(|r| r.pos.map(|p| (p as usize, r.fields.len())))
            .flat_map(|(p, n)| p..p + n)
            .collect();
        v.sort_unstable();
        v
    }

    /// Every one of stat's 52 and statm's 7 fields has exactly one source.
    #[test]
    fn stat_and_statm_fully_covered() {
        assert_eq!(positions("PID/stat"), (1..=52).collect::<Vec<_>>());
        assert_eq!(positions("PID/task/TID/stat"), (1..=52).collect::<Vec<_>>());
        assert_eq!(positions("PID/statm"), (1..=7).collect::<Vec<_>>());
        assert_eq!(positions("PID/maps"), (1..=6).collect::<Vec<_>>());
        assert_eq!(positions("sysvipc/shm"), (1..=16).collect::<Vec<_>>());
    }

    /// What the renderers print where the table says "not recorded" is the stated value, for a
    /// real process whose live values were all non-zero.
    #[test]
    fn placeholders_are_what_stat_and_statm_print() {
        let p = secretd_plain_8259();
        let ck = checkpoint(vec![p.clone()]);
        let stat = String::from_utf8(crate::render::stat(&ck, &p)).unwrap();
        let close = stat.rfind(')').unwrap();
        let mut f: Vec<&str> = vec!["pid", "comm"];
        f.extend(stat[close + 2..].split_whitespace());
        assert_eq!(f.len(), 52);
        for (pos, shown) in placeholders("PID/stat") {
            assert_eq!(f[pos - 1], shown, "stat field {pos}");
        }
        let statm = String::from_utf8(crate::render::statm(&p)).unwrap();
        let f: Vec<&str> = statm.split_whitespace().collect();
        for (pos, shown) in placeholders("PID/statm") {
            assert_eq!(f[pos - 1], shown, "statm field {pos}");
        }
    }

    /// Every line `status` prints is named in the table as read or derived, and no line the
    /// table calls omitted is printed.
    #[test]
    fn status_lines_match_the_table() {
        let p = secretd_plain_8259();
        let ck = checkpoint(vec![p.clone()]);
        let text = String::from_utf8(crate::render::status(&ck, &p)).unwrap();
        let source = |name: &str| {
            ROWS.iter()
                .find(|r| r.files.contains(&"PID/status") && r.fields.contains(&name))
                .map(|r| r.source)
        };
        for line in text.lines() {
            let name = line.split(':').next().unwrap();
            match source(name) {
                Some(Source::Image(_) | Source::Derived(_)) => {}
                other => panic!("status line {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_is_keyed_by_file_with_positions() {
        let v: Value = serde_json::from_slice(&fields_json()).unwrap();
        assert_eq!(v["format"], "ckptfs-fields/1");
        let stat = v["files"]["PID/stat"].as_array().unwrap();
        assert_eq!(stat.len(), 52);
        let rss = stat.iter().find(|f| f["field"] == "rss").unwrap();
        assert_eq!(rss["position"], 24);
        assert_eq!(rss["source"], "placeholder");
        assert_eq!(rss["shown_as"], "0");
        let vm_rss = v["files"]["PID/status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "VmRSS")
            .unwrap();
        assert_eq!(vm_rss["source"], "omitted");
    }

    /// docs/views.md carries this very table.
    #[test]
    fn docs_table_is_this_table() {
        let docs = include_str!("../../../docs/views.md");
        let table = markdown();
        assert!(
            docs.contains(&table),
            "docs/views.md lacks the fields table; it should read:\n{table}"
        );
    }
}
