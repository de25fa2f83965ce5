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

/// A fixture's `ground-truth.json` (in `case_dir`), parsed.
pub(crate) fn ground_truth(case_dir: &Path) -> serde_json::Value {
    let p = case_dir.join("ground-truth.json");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A ground-truth process's PID inside the container: the last of its `ns_pids`.
pub(crate) fn ns_pid(p: &serde_json::Value) -> u32 {
    innermost(&p["ns_pids"])
}

/// A ground-truth thread's TID inside the container: the last of its `ns_tids`.
pub(crate) fn ns_tid(t: &serde_json::Value) -> u32 {
    innermost(&t["ns_tids"])
}

fn innermost(ids: &serde_json::Value) -> u32 {
    ids.as_array().unwrap().last().unwrap().as_u64().unwrap() as u32
}
