//! `ckptfs show CHECKPOINT...`: one table row per checkpoint, with checkpointctl's columns.
//!
//! ```text
//!
//! Displaying container checkpoint data from checkpoint.tar.gz
//!
//! CONTAINER    IMAGE                              ID             RUNTIME   CREATED                ENGINE   CHKPT SIZE   ROOT FS DIFF SIZE   CHECKPOINTED
//! ---------    -----                              --             -------   -------                ------   ----------   -----------------   ------------
//! fx-busybox   localhost/fixture-busybox:latest   2a5c15b736f0   runc      2026-11-28T14:47:37Z   Podman   246.4 KiB    2.0 KiB             2026-11-28T14:49:02Z
//! ```
//!
//! - The heading names the checkpoint as given on the command line; like checkpointctl it is
//!   printed only when one checkpoint is shown.
//! - CONTAINER, IMAGE, ID (cut to 12 characters), RUNTIME, CREATED come from `config.dump` (CRI-O
//!   and containerd: from `spec.dump`'s annotations); ENGINE from `spec.dump`'s
//!   `io.container.manager` annotation. CREATED is RFC 3339 without fractional seconds.
//! - CHKPT SIZE is the size of the CRIU images (checkpointctl: of `checkpoint/`), ROOT FS DIFF
//!   SIZE the size of `rootfs-diff.tar`; both humanised like checkpointctl (`246.4 KiB`).
//! - The row and the table are `checkpoint/summary`'s ([`crate::render::summary::show_row`]).
//! - CHECKPOINTED (not in checkpointctl) is `config.dump`'s `checkpointedTime`, else when CRIU
//!   wrote the images (inventory.img's modification time in the archive), else `-`.
//! - `--format json` / `jsonl`: the same rows as JSON objects (full container ID, sizes in bytes,
//!   `checkpointed_from` naming where the time is recorded); fields in docs/views.md.
//! - ARCH (the dump's CPU, `aarch64`, `riscv64`) is added as a last column when a checkpoint
//!   shown is not x86_64.
//! - Differences from checkpointctl: the eight columns are always there (checkpointctl drops
//!   ROOT FS DIFF SIZE when there is none and adds IP / MAC for CRI-O); a value the checkpoint does
//!   not have is `-`, so a plain CRIU image directory (no container metadata) is shown too,
//!   where checkpointctl refuses it.

use std::io::Write;
use std::path::PathBuf;

use super::{Error, RowFormat, write_out};
use crate::format::table;
use crate::format::time::short_time;
use crate::model::Checkpoint;
use crate::render::summary::{SHOW_HEADER, checkpoint_sizes, show_row};
use crate::source::OpenOptions;

/// When `ck` was checkpointed and where that time is recorded: `config.dump`'s
/// `checkpointedTime`, else when CRIU wrote the images (inventory.img's modification time in the
/// archive or directory). None when neither records it (the input's own time is not shown).
pub fn checkpointed(ck: &Checkpoint) -> Option<(String, &'static str)> {
    if let Some(t) = &ck.meta.checkpointed {
        return Some((short_time(t), crate::model::catalog::FROM_CONFIG));
    }
    let t = ck.source.images.written?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some((
        crate::format::time::rfc3339(i64::try_from(secs).ok()?),
        crate::model::catalog::FROM_IMAGES,
    ))
}

/// `ck`'s `show` row as JSON (field names in docs/views.md).
fn json_row(ck: &Checkpoint, path: &str) -> serde_json::Value {
    let m = &ck.meta;
    let sizes = checkpoint_sizes(ck);
    let when = checkpointed(ck);
    serde_json::json!({
        "path": path,
        "container": m.container_name,
        "image": m.image,
        "id": m.container_id,
        "runtime": m.runtime,
        "created": m.created,
        "engine": m.engine,
        "checkpointed": when.as_ref().map(|w| &w.0),
        "checkpointed_from": when.as_ref().map(|w| w.1),
        "checkpoint_size": sizes.images,
        "root_fs_diff_size": sizes.root_fs_diff,
        "arch": m.arch,
    })
}

/// Writes the `show` output for `checkpoints` to `out`.
pub fn run(
    checkpoints: &[PathBuf],
    format: RowFormat,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut rows = Vec::with_capacity(checkpoints.len());
    let mut json = Vec::new();
    let mut archs = Vec::with_capacity(checkpoints.len());
    let mut shown = Vec::with_capacity(checkpoints.len());
    // A checkpoint that cannot be read has its error line on stderr; the others are shown.
    let loaded = super::each_input(checkpoints, |p| {
        let ck = super::load_for_view(p, open)?;
        let path = p.display().to_string();
        if format == RowFormat::Table {
            let mut row = show_row(&ck);
            // As `list` marks it: a time the metadata does not record is labelled with where
            // it comes from (an image directory's inventory.img may carry a copy's time).
            row.push(checkpointed(&ck).map_or_else(
                || "-".into(),
                |(t, from)| match from {
                    crate::model::catalog::FROM_IMAGES => format!("{t} ({from})"),
                    _ => t,
                },
            ));
            rows.push(row);
        } else {
            json.push(json_row(&ck, &path));
        }
        archs.push(ck.meta.arch.clone().unwrap_or_else(|| "-".into()));
        shown.push(path);
        Ok(())
    });
    if format != RowFormat::Table {
        write_out(out, format.json_rows(&json).as_bytes())?;
        return loaded;
    }
    if rows.is_empty() {
        return loaded;
    }
    let mut header: Vec<&str> = SHOW_HEADER.to_vec();
    header.push("Checkpointed");
    if archs.iter().any(|a| a != "x86_64" && a != "-") {
        header.push("Arch");
        for (r, a) in rows.iter_mut().zip(archs) {
            r.push(a);
        }
    }
    // Several checkpoints: which row is which file (the path as given).
    if checkpoints.len() > 1 {
        header.push("Path");
        for (r, p) in rows.iter_mut().zip(&shown) {
            r.push(p.clone());
        }
    }
    let mut s = String::new();
    if let [one] = checkpoints {
        s.push_str(&format!(
            "\nDisplaying container checkpoint data from {}\n\n",
            one.display()
        ));
    }
    s.push_str(&table::render(&header, &rows));
    write_out(out, s.as_bytes())?;
    loaded
}
