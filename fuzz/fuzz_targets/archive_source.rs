//! The archive source: fuzz bytes as a `.tar` (first byte 0), or the rest gzip- (1) or zstd- (2)
//! compressed into a `.tar.gz` / `.tar.zst`, written to a temp dir and opened with
//! `source::open` (cache in the temp dir, `max_size` 4 MiB). Must give a Source or an error,
//! never a panic; must write nothing but the cache dir; must not change the input; an opened
//! source is then loaded and every view rendered.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;
use std::path::Path;

use ckptfs::source::{self, OpenOptions};
use libfuzzer_sys::fuzz_target;

fn listing(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let input: Vec<u8> = match mode % 3 {
        0 => body.to_vec(),
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        _ => zstd::encode_all(body, 1).unwrap(),
    };
    let base = if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let tmp = tempfile::Builder::new()
        .prefix("ckptfs-fuzz")
        .tempdir_in(base)
        .unwrap();
    let path = tmp.path().join("input");
    std::fs::write(&path, &input).unwrap();
    let cache = tmp.path().join("cache");
    let opts = OpenOptions {
        cache_dir: Some(cache.clone()),
        max_size: Some(4 << 20),
        progress: false,
        ..Default::default()
    };
    let r = source::open(&path, &opts);
    // Nothing written but the cache directory.
    for p in listing(tmp.path()) {
        assert!(
            p == path || p.starts_with(&cache),
            "wrote outside the cache: {}",
            p.display()
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), input, "the input changed");
    match r {
        Ok(src) => {
            let _ = src.input_sha256();
            if let Ok(ck) = ckptfs::model::load::load(src) {
                common::exercise(&ck);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.is_empty() && !msg.contains('\n'),
                "error not one line: {msg:?}"
            );
        }
    }
});
