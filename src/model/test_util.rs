//! Test helpers: checkpoints (fixtures, or made by the writer) loaded as the model.

use std::path::Path;

use crate::model::Checkpoint;
use crate::model::load::load;
use crate::source::{self, OpenOptions};
use crate::writer::CheckpointWriter;

/// Opens `input` (with a cache directory of its own, removed before returning: the images are
/// mmapped and stay valid) and loads it; panics on failure.
pub(crate) fn load_path(input: &Path) -> Checkpoint {
    let cache = tempfile::tempdir().unwrap();
    let src = source::open(
        input,
        &OpenOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let ck = load(src).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    drop(cache);
    ck
}

/// Writes `w` as an image directory and loads it ([`load_path`]).
pub(crate) fn load_written(w: &CheckpointWriter) -> Checkpoint {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    w.write_dir(&img).unwrap();
    load_path(&img)
}
