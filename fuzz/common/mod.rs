//! Helpers shared by the fuzz targets: a container format that splits one fuzz input into named
//! files (a synthetic CRIU image directory, with `parent/` chains), and `exercise`, which runs
//! every renderer and every read of the mount tree over a loaded checkpoint.
//!
//! Split format (also written by `fuzz/mkcorpus.py`): repeated
//! `name_len: u8, name: [u8; name_len], data_len: u32 LE, data: [u8; data_len]`; a truncated
//! record ends the list (its data is cut to what is left). A name starting with `parent/` goes
//! into the parent dump (`parent/parent/` into the grandparent, ...).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ckptfs::fs::Tree;
use ckptfs::fs::tree::NodeKind;
use ckptfs::model::Checkpoint;
use ckptfs::render;
use ckptfs::source::{Blob, ImageDir, InputInfo, InputKind, Layout, Source};

/// Deepest `parent/` chain built (the loader itself caps at 64).
const MAX_DEPTH: usize = 8;

/// Splits `data` into named files.
pub fn split(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let n = usize::from(n).min(rest.len());
        let name = String::from_utf8_lossy(&rest[..n]).into_owned();
        let rest = &rest[n..];
        let (len, rest) = match rest.get(..4) {
            Some(w) => (
                u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize,
                &rest[4..],
            ),
            None => (0, &rest[rest.len()..]),
        };
        let len = len.min(rest.len());
        out.push((name, rest[..len].to_vec()));
        data = &rest[len..];
    }
    out
}

/// Builds an image directory (and its parents) from split files.
pub fn image_dir(files: &[(String, Vec<u8>)]) -> ImageDir {
    let mut levels: Vec<BTreeMap<String, Blob>> = vec![BTreeMap::new()];
    for (name, bytes) in files {
        let mut depth = 0;
        let mut n = name.as_str();
        while let Some(rest) = n.strip_prefix("parent/") {
            depth += 1;
            n = rest;
        }
        if depth > MAX_DEPTH || n.is_empty() {
            continue;
        }
        while levels.len() <= depth {
            levels.push(BTreeMap::new());
        }
        levels[depth].insert(n.to_string(), Blob::from_vec(bytes.clone()));
    }
    let mut dir: Option<Box<ImageDir>> = None;
    for (i, files) in levels.into_iter().enumerate().rev() {
        dir = Some(Box::new(ImageDir {
            label: format!("fuzz{}", "/parent".repeat(i)),
            files,
            parent: dir,
            written: None,
        }));
    }
    *dir.expect("at least one level")
}

/// A source whose images are the split files.
pub fn source(files: &[(String, Vec<u8>)]) -> Source {
    let images = image_dir(files);
    let size = images
        .chain()
        .flat_map(|d| d.files.values())
        .map(|b| b.len() as u64)
        .sum();
    Source::from_parts(
        InputInfo {
            path: PathBuf::from("/nonexistent/fuzz-input"),
            kind: InputKind::ImageDir,
            size,
            cache_path: None,
        },
        Layout::ImageDir,
        images,
        BTreeMap::new(),
        ckptfs::warning::Warnings::new(),
    )
}

/// Most bytes read from one sparse file per call of `exercise` (keeps an exec fast).
const READ_BUDGET: u64 = 1 << 20;

/// Runs every renderer on every process and thread, then builds the mount tree and reads every
/// file of it (sparse files: their data regions, found with SEEK_DATA / SEEK_HOLE, within a
/// budget), every link and every directory listing. Checks the invariants that must hold for any
/// input: no panic, sizes that agree with reads, data regions inside the file.
pub fn exercise(ck: &Checkpoint) {
    exercise_with_budget(ck, READ_BUDGET);
}

/// [`exercise`] reading at most `read_budget` bytes of each sparse file.
pub fn exercise_with_budget(ck: &Checkpoint, read_budget: u64) {
    for p in &ck.processes {
        let _ = render::cmdline(p);
        let _ = render::environ(p);
        let _ = render::comm(p);
        let _ = render::auxv(p);
        let _ = render::status(ck, p);
        let _ = render::stat(ck, p);
        let _ = render::statm(p);
        let _ = render::maps(p);
        let _ = render::limits(p);
        for t in &p.threads {
            let _ = render::thread_comm(t);
            let _ = render::thread_status(ck, p, t);
            let _ = render::thread_stat(ck, p, t);
            let _ = render::regs(t);
        }
        for v in &p.vmas {
            let _ = render::vma_name(v);
            let _ = render::vma_range_name(v);
        }
        for fd in &p.fds {
            let _ = render::fdinfo(p, fd);
        }
        check_memory(&p.memory);
        let core = render::elfcore::CoreLayout::new(ck, p);
        let mut buf = vec![0u8; 4096];
        let _ = core.read_at(p, 0, &mut buf);
        let mut off = 0u64;
        let mut budget = read_budget;
        for _ in 0..64 {
            let Some(d) = core.next_data(p, off) else {
                break;
            };
            assert!(d >= off, "core: SEEK_DATA went backwards");
            let h = core.next_hole(p, d);
            assert!(h >= d, "core: SEEK_HOLE before SEEK_DATA");
            let n = (h - d).min(buf.len() as u64).min(budget);
            if n == 0 {
                break;
            }
            let _ = core.read_at(p, d, &mut buf[..n as usize]);
            budget -= n;
            off = h.max(d + 1);
        }
        let _ = core.present_bytes(p);
        let _ = core.size();
    }
    let _ = render::pstree(ck);
    let _ = render::summary(ck);
    let _ = render::info_json(ck);
    let _ = render::show_table(ck);
    let _ = render::checkpoint_sizes(ck);

    let tree = Tree::build(ck);
    let mut scratch = Vec::new();
    for (i, node) in tree.nodes().iter().enumerate() {
        let ino = i as u64 + 1;
        let attr = tree
            .attr(ino, ck, false)
            .expect("every node has attributes");
        // A `rootfs/` entry shows its layer's mode as recorded (setuid and write bits included);
        // everything else is never writable nor set-id.
        let from_layer = match &node.kind {
            NodeKind::Dir(d) => d.layer().is_some(),
            NodeKind::File(c) => c.root_file().is_some(),
            NodeKind::Link(_) | NodeKind::Special(_) => true,
        };
        if !from_layer {
            assert_eq!(
                attr.perm & 0o7222,
                0,
                "writable or setuid mode {:o}",
                attr.perm
            );
        }
        match &node.kind {
            NodeKind::Dir(_) => {
                let n = tree.readdir(ino, 0).map(|it| it.count()).unwrap_or(0);
                assert!(n >= 2, "a directory lists . and ..");
            }
            NodeKind::Link(t) => {
                assert!(!t.starts_with(b"/"), "link leaves the mount: {t:?}");
            }
            NodeKind::Special(_) => {}
            NodeKind::File(c) => {
                // The real extent (a procfs-style file under `.link/` reports size 0).
                let size = c.real_size(ck);
                if c.prepare(ck).is_err() {
                    continue;
                }
                let mut off = 0u64;
                let mut budget = read_budget;
                for _ in 0..64 {
                    // SEEK_DATA = 3, SEEK_HOLE = 4.
                    let Ok(d) = c.seek(ck, off as i64, 3) else {
                        break;
                    };
                    assert!(d >= off && d <= size, "SEEK_DATA {d} outside {off}..{size}");
                    let h = c.seek(ck, d as i64, 4).unwrap_or(size);
                    assert!(h >= d && h <= size, "SEEK_HOLE {h} outside {d}..{size}");
                    let want = (h - d).min(128 * 1024).min(budget) as u32;
                    if want == 0 {
                        break;
                    }
                    if let Ok(b) = c.read(ck, d, want, &mut scratch) {
                        assert!(b.len() as u64 <= u64::from(want), "read more than asked");
                    }
                    budget -= u64::from(want);
                    off = h.max(d + 1);
                    if off >= size || off > i64::MAX as u64 {
                        break;
                    }
                }
            }
        }
    }
}

/// The page index's invariants: sorted, non-overlapping, non-empty extents; SEEK_DATA /
/// SEEK_HOLE consistent with them.
pub fn check_memory(m: &ckptfs::model::Memory) {
    let mut last_end = 0u64;
    let mut total = 0u64;
    for (i, e) in m.extents().iter().enumerate() {
        assert!(e.len > 0, "empty extent {i}");
        let end = e.start.checked_add(e.len).expect("extent end overflows");
        assert!(
            i == 0 || e.start >= last_end,
            "extent {i} overlaps the previous one"
        );
        if let ckptfs::model::memory::ExtentData::Bytes(b) = &e.data {
            assert_eq!(b.len() as u64, e.len, "extent {i}: blob length differs");
        }
        assert_eq!(m.next_data(e.start), Some(e.start));
        assert!(m.next_hole(e.start) >= end);
        last_end = end;
        total += e.len;
    }
    assert_eq!(m.present_bytes(), total, "present bytes");
}
