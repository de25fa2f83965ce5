//! Findings written out: a table, one JSON array, or JSON lines.

use std::io::Write;

use super::{Finding, Format};
use crate::format::table;
use crate::views::{Error, write_out};

/// The table's columns, in the order [`write_findings`] fills a row (`Checkpoint` only when it
/// writes the checkpoint's column).
pub(super) const COLUMNS: [&str; 8] = [
    "Checkpoint",
    "PID",
    "Comm",
    "Address",
    "Mapping",
    "Rule",
    "String",
    "Context",
];

/// What starts the output (`[` of a JSON array).
pub(super) fn begin(out: &mut dyn Write, format: Format) -> Result<(), Error> {
    if format == Format::Json {
        write_out(out, b"[")?;
    }
    Ok(())
}

/// What ends the output: the JSON array's `]`, or the table of `rows` under `header` (nothing
/// without a row).
pub(super) fn end(
    out: &mut dyn Write,
    format: Format,
    json_first: bool,
    header: &[&str],
    rows: &[Vec<String>],
) -> Result<(), Error> {
    match format {
        Format::Json => write_out(out, if json_first { b"]\n" } else { b"\n]\n" }),
        Format::Jsonl => Ok(()),
        Format::Table if rows.is_empty() => Ok(()),
        Format::Table => write_out(out, table::render(header, rows).as_bytes()),
    }
}

/// Writes `findings` as JSON (after the first of the array when not `json_first`), or adds them
/// to `rows` for the table (with the checkpoint's column when `multi`).
pub(super) fn write_findings(
    out: &mut dyn Write,
    format: Format,
    findings: &[Finding],
    json_first: &mut bool,
    rows: &mut Vec<Vec<String>>,
    multi: bool,
) -> Result<(), Error> {
    for f in findings {
        match format {
            Format::Json | Format::Jsonl => {
                let j = serde_json::to_string(f)
                    .map_err(|e| Error::input(format!("cannot encode a finding: {e}")))?;
                let sep: &[u8] = match (format, *json_first) {
                    (Format::Json, true) => b"\n",
                    (Format::Json, false) => b",\n",
                    _ => b"",
                };
                *json_first = false;
                write_out(out, sep)?;
                write_out(out, j.as_bytes())?;
                if format == Format::Jsonl {
                    write_out(out, b"\n")?;
                }
            }
            Format::Table => {
                let mut row = Vec::new();
                if multi {
                    row.push(f.checkpoint.clone());
                }
                let pids: Vec<String> = f.pids.iter().map(u32::to_string).collect();
                let (pids, comm, mapping) = if f.pid.is_none() {
                    // A file outside memory: its path in the tree where the mapping goes, the
                    // offset as address.
                    ("-".into(), "-".into(), f.path.clone())
                } else {
                    (pids.join(","), f.comm.clone(), f.mapping.clone())
                };
                row.extend([
                    pids,
                    comm,
                    format!("{:#x}", f.address),
                    mapping,
                    f.rule.clone(),
                    f.string.clone(),
                    f.context.clone(),
                ]);
                rows.push(row);
            }
        }
    }
    Ok(())
}
