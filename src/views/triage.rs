//! `ckptfs triage CHECKPOINT... [--rootfs DIR] [--format text|json|jsonl]`: the findings of the
//! mount's `triage` file ([`crate::render::triage`]), without a mount.
//!
//! The checkpoint is opened as a mount opens it: the model, then `rootfs/` (the container's
//! changes, `/dev/shm`, deleted files' saved copies, and `--rootfs`'s image), so the findings are
//! the ones `MNT/triage` shows. Formats:
//! - `text`: the `triage` file; with several checkpoints, each preceded by `# checkpoint: PATH`;
//! - `json`: one array, one object per checkpoint: `{"checkpoint": PATH, "findings": [...]}`,
//!   each finding `{"pid", "where", "tag", "strength", "what"}` (`pid` null for a finding about
//!   the container's files);
//! - `jsonl`: one finding per line, with its `checkpoint`.
//!
//! One bad input is one error line on stderr; the others are still triaged (exit code 2).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Error, write_out};
use crate::render::triage::{self, Finding};
use crate::source::OpenOptions;

/// Output format of `ckptfs triage`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The mount's `triage` file
    #[default]
    Text,
    /// One JSON array, one object per checkpoint
    Json,
    /// One JSON object per finding and line
    Jsonl,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    checkpoint: String,
    findings: &'a [Finding],
}

#[derive(serde::Serialize)]
struct Line<'a> {
    checkpoint: &'a str,
    #[serde(flatten)]
    finding: &'a Finding,
}

/// The findings of one checkpoint, opened as a mount opens it.
pub fn findings(
    path: &Path,
    rootfs: Option<&Path>,
    open: &OpenOptions,
) -> Result<Vec<Finding>, Error> {
    let ck = super::load_with_rootfs(path, rootfs, open)?;
    Ok(triage::findings(&ck))
}

/// Writes the findings of every checkpoint to `out` in `format`.
pub fn run(
    checkpoints: &[PathBuf],
    rootfs: Option<&Path>,
    format: Format,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let multi = checkpoints.len() > 1;
    let mut reports: Vec<(String, Vec<Finding>)> = Vec::new();
    let r = super::each_input(checkpoints, |path| {
        let f = findings(path, rootfs, open)?;
        let name = path.display().to_string();
        match format {
            Format::Text => {
                if multi {
                    write_out(out, format!("# checkpoint: {name}\n").as_bytes())?;
                }
                write_out(out, &triage::text(&f))?;
            }
            Format::Jsonl => {
                for finding in &f {
                    let line = serde_json::to_string(&Line {
                        checkpoint: &name,
                        finding,
                    })
                    .map_err(|e| Error::input(format!("cannot encode a finding: {e}")))?;
                    write_out(out, format!("{line}\n").as_bytes())?;
                }
            }
            Format::Json => reports.push((name, f)),
        }
        Ok(())
    });
    if format == Format::Json {
        let v: Vec<Report> = reports
            .iter()
            .map(|(c, f)| Report {
                checkpoint: c.clone(),
                findings: f,
            })
            .collect();
        write_out(out, super::to_json(&v).as_bytes())?;
    }
    r
}
