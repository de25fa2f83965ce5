//! `ckptfs diff A B`: what changed from checkpoint A to checkpoint B.
//!
//! The output keeps checkpointctl's `diff` (its headings, its JSON keys, its flags
//! `--ps-tree-cmd`, `--ps-tree-env`, `--files`, `--sockets`, `--show-unchanged`) for what both
//! compare, and adds what ckptfs compares beyond it after that ([`output`], [`draw`]). ckptfs
//! always compares everything; the flags that select parts in checkpointctl are accepted and
//! change nothing.
//!
//! - **Processes**, matched by PID (the PID inside the container): added, removed, modified (comm,
//!   task state, command line, environment: variables added, removed, changed) and unchanged.
//! - **Files**: descriptors (and cwd / root) opened, closed and kept, keyed by PID, descriptor and
//!   path.
//! - **Sockets**: sockets opened, closed and kept, keyed by PID, descriptor, protocol, addresses,
//!   ports and state (a socket whose state changed shows as closed and opened).
//! - **Memory**: the change of the dumped memory (each page once; checkpointctl: the size of the
//!   pages files), and per process present in both, a page-level comparison of the dumped memory:
//!   pages whose content changed (dumped in both, bytes differ), pages added (dumped only in B)
//!   and removed (dumped only in A); then per VMA (matched by address range): VMAs added, removed,
//!   and those whose pages changed.
//!
//! - **Files** (ckptfs): `rootfs/` entry by entry (type, size, mode, mtime, SHA-256, symlink
//!   target) and `deleted.files`; **the container log**'s new lines; **unread queue data**
//!   (`buffers/`: pipes, FIFOs, unix and TCP queues) added, removed or changed, and TCP
//!   sequence numbers' moves; both **dump times** ([`extra`]).
//!
//! Pages that cannot be read (a broken extent in either checkpoint) are counted as `unreadable`,
//! never as equal. Checkpoints of different containers ([`identity`]'s rule: the container ids
//! differ, or without ids the names or images) are compared anyway, with a warning on stderr
//! and in the JSON's `warnings` (checkpointctl refuses); the header shows both sides' container,
//! image, id and engine where they differ.
//!
//! **Pre-dumps** (`criu pre-dump`: `pagemap-<pid>.img` and `pages-*.img`, no `pstree.img`, no
//! core / mm / files images) are compared by memory only: each pagemap's page index (PARENT pages
//! resolved through the `parent` chain) against the other side's process of the same PID, page by
//! page; per VMA when the other side is a full dump (each page attributed to the full dump's VMA
//! containing it). What a pre-dump does not record (comm, state, command line, environment,
//! files, sockets) is reported as unknown (`unknown` in JSON), never as a change.
//!
//! `--format json` gives the same as one object (see `docs/views.md` for the schema).
//!
//! The module's parts: [`compare`] (model → [`output`]), [`extra`] (files, log, dump times), [`output`] (the result, its JSON),
//! [`draw`] (the tree). Pre-dumps are loaded by [`crate::model::predump`], pages compared by
//! [`crate::model::page_diff`].

pub mod compare;
pub mod draw;
pub mod extra;
pub mod identity;
pub mod output;
pub mod pages;

use std::io::Write;
use std::path::Path;

use super::{Error, Format, to_json, write_out};
use crate::model::predump::Operand;
use crate::source::OpenOptions;

pub use compare::{compare, compare_memory_only};
pub use output::DiffResult;

/// How to show the comparison.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub format: Format,
    /// Entries alike in both, in the tree view (checkpointctl's `--show-unchanged`; the JSON has
    /// them always).
    pub show_unchanged: bool,
    /// Every string gained and lost per mapping in the tree view (the JSON has them always).
    pub strings: bool,
}

/// Writes the comparison of checkpoint `path_a` with `path_b` to `out`.
pub fn run(
    path_a: &Path,
    path_b: &Path,
    opts: Options,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let a = load_operand(path_a, open)?;
    let b = load_operand(path_b, open)?;
    let mut r = match (&a, &b) {
        (Operand::Full(a), Operand::Full(b)) => compare::compare(a, b),
        _ => compare::compare_memory_only(&a, &b),
    };
    r.checkpoint_a.path = path_a.display().to_string();
    r.checkpoint_b.path = path_b.display().to_string();
    for w in &r.warnings {
        super::warn(w);
    }
    let s = match opts.format {
        Format::Json => to_json(&r),
        Format::Tree => draw::tree(
            &r,
            draw::Show {
                unchanged: opts.show_unchanged,
                strings: opts.strings,
            },
        ),
    };
    write_out(out, s.as_bytes())
}

/// Opens `path` as a full checkpoint, or as a pre-dump when it is one. Warnings go to stderr.
pub fn load_operand(path: &Path, open: &OpenOptions) -> Result<Operand, Error> {
    let source = crate::source::open(path, open).map_err(|e| Error::input(e.to_string()))?;
    let mut op =
        Operand::load(source).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    if let Operand::Full(ck) = &mut op {
        crate::model::rootfs::attach(ck, None)
            .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    }
    for w in op.warnings() {
        super::warn(format_args!("{}: {w}", path.display()));
    }
    Ok(op)
}
