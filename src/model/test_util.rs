//! Test helpers: checkpoints made by the writer, loaded as the model.

use crate::model::Checkpoint;
use crate::model::load::load;
use crate::source::{self, OpenOptions};
use crate::writer::CheckpointWriter;

/// Writes `w` as an image directory (with a cache directory of its own) and loads it. The
/// directory is removed before returning: the images are mmapped and stay valid.
pub(crate) fn load_written(w: &CheckpointWriter) -> Checkpoint {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    w.write_dir(&img).unwrap();
    let src = source::open(
        &img,
        &OpenOptions {
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        },
    )
    .unwrap();
    let ck = load(src).unwrap();
    drop(dir);
    ck
}
