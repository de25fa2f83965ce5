//! `ckptfs timeline CHECKPOINT...`: the events every checkpoint records
//! ([`crate::render::timeline`] collects them), merged into one sorted timeline, each event naming
//! its checkpoint (the path as given) and where its time comes from.

use std::io::Write;
use std::path::PathBuf;

use super::{Error, write_out};
use crate::render::timeline::{Format, collect, render, sort};
use crate::source::OpenOptions;

/// Writes the timeline of `checkpoints` in `format` to `out`.
pub fn run(
    checkpoints: &[PathBuf],
    format: Format,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut events = Vec::new();
    // A checkpoint that cannot be read has its error line on stderr; the others are shown.
    let loaded = super::each_input(checkpoints, |p| {
        // rootfs/ as a mount builds it (the rw layer's entries and their times).
        let ck = super::load_with_rootfs(p, None, open)?;
        events.extend(collect(&ck, &p.display().to_string()));
        Ok(())
    });
    sort(&mut events);
    write_out(out, render(&events, format).as_bytes())?;
    loaded
}
