//! The checkpoints named on the command line: paths, and the checkpoints found under
//! directories.

use std::path::{Path, PathBuf};

use crate::views::Error;

/// Directory depth searched for checkpoints under a directory given on the command line.
const MAX_DEPTH: usize = 4;

/// The checkpoints named by `paths`: each path that is a checkpoint itself, and the checkpoints
/// found under each directory that is not one (entries in name order, up to [`MAX_DEPTH`]
/// levels down; files that are not archives are skipped). A path that does not exist is an
/// error.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p)
            .map_err(|e| Error::input(format!("{}: cannot open: {e}", p.display())))?;
        if !md.is_dir() || crate::source::sniff(p).is_some() {
            out.push(p.clone());
            continue;
        }
        walk(p, 0, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Error::input(format!("{}: cannot list: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        match crate::source::sniff(&e) {
            Some(_) => out.push(e),
            None if depth + 1 < MAX_DEPTH && e.is_dir() => walk(&e, depth + 1, out)?,
            None => log::debug!("{}: not a checkpoint; skipped", e.display()),
        }
    }
    Ok(())
}
