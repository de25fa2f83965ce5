//! `ckptfs show CHECKPOINT...`: one table row per checkpoint, with checkpointctl's columns.
//!
//! ```text
//!
//! Displaying container checkpoint data from checkpoint.tar.gz
//!
//! CONTAINER    IMAGE                              ID             RUNTIME   CREATED                ENGINE   CHKPT SIZE   ROOT FS DIFF SIZE
//! ---------    -----                              --             -------   -------                ------   ----------   -----------------
//! fx-busybox   localhost/fixture-busybox:latest   2a5c15b736f0   runc      2026-11-28T14:47:37Z   Podman   246.4 KiB    2.0 KiB
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
//! - ARCH (the dump's CPU, `aarch64`, `riscv64`) is added as a last column when a checkpoint
//!   shown is not x86_64.
//! - Differences from checkpointctl: the eight columns are always there (checkpointctl drops
//!   ROOT FS DIFF SIZE when there is none and adds IP / MAC for CRI-O); a value the checkpoint does
//!   not have is `-`, so a plain CRIU image directory (no container metadata) is shown too,
//!   where checkpointctl refuses it.

use std::io::Write;
use std::path::PathBuf;

use super::{Error, write_out};
use crate::format::table;
use crate::render::summary::{SHOW_HEADER, show_row};
use crate::source::OpenOptions;

/// Writes the `show` output for `checkpoints` to `out`.
pub fn run(checkpoints: &[PathBuf], open: &OpenOptions, out: &mut dyn Write) -> Result<(), Error> {
    let mut rows = Vec::with_capacity(checkpoints.len());
    let mut archs = Vec::with_capacity(checkpoints.len());
    let mut shown = Vec::with_capacity(checkpoints.len());
    // A checkpoint that cannot be read has its error line on stderr; the others are shown.
    let loaded = super::each_input(checkpoints, |p| {
        let ck = super::load_for_view(p, open)?;
        rows.push(show_row(&ck));
        archs.push(ck.meta.arch.clone().unwrap_or_else(|| "-".into()));
        shown.push(p.display().to_string());
        Ok(())
    });
    if rows.is_empty() {
        return loaded;
    }
    let mut header: Vec<&str> = SHOW_HEADER.to_vec();
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
