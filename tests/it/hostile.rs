//! Hostile and broken input, in-process (source::open + model::load + every renderer and every
//! read of the tree, no FUSE), plus a few cases through a real mount.
//!
//! Every case runs in a thread bounded to 10 s, and must give either a clear error naming the
//! file, or a load of everything valid with a warning naming what is not — never a panic, a
//! hang, a write outside the cache, or a wrong byte served as if right (reads of pages whose
//! source is broken fail).
//!
//! Inputs: copies of the shared fixtures, damaged in memory (truncation at every entry boundary
//! and mid-entry, flipped bytes, swapped magics), synthetic checkpoints from the in-repo writer
//! (`ckptfs::writer`) and raw images (`ckptfs::image::pb`), hand-made tar archives, and
//! compression bombs.

use crate::common;
#[path = "../../fuzz/common/mod.rs"]
mod fuzzcommon;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use ckptfs::image::{magic, pb};
use ckptfs::model::{Checkpoint, load::load};
use ckptfs::source::{self, Blob, OpenOptions, Source};
use ckptfs::warning::Kind;
use ckptfs::writer::{CheckpointWriter, PageRun, encode_image, encode_pagemap};
use ckptfs::writer::{PE_LAZY, PE_PARENT, PE_PRESENT};
use common::{Mount, TempDir, fixtures, have_fuse};

const LIMIT: Duration = Duration::from_secs(10);
const PAGE: u64 = 4096;
const A: u64 = 0x5000_0000_0000;

// ------------------------------------------------------------------------------------------
// Harness

/// Runs `f` in a thread; fails if it panics or takes more than 10 s.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::Builder::new()
        .name(what.chars().take(60).collect())
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .unwrap();
    match rx.recv_timeout(LIMIT) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match h.join() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("case failed: {what}");
                std::panic::resume_unwind(e)
            }
        },
        Err(RecvTimeoutError::Timeout) => panic!("{what}: took more than {LIMIT:?} (a hang?)"),
    }
}

/// Loads `src` (bounded) and, when it loads, runs every renderer and reads of the tree
/// (`budget` bytes per sparse file). Err: the load error's text.
fn try_load(what: &str, src: Source, budget: u64) -> Result<Checkpoint, String> {
    bounded(what, move || match load(src) {
        Ok(ck) => {
            fuzzcommon::exercise_with_budget(&ck, budget);
            Ok(ck)
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.is_empty() && !m.contains('\n'), "unclear error: {m:?}");
            Err(m)
        }
    })
}

/// True when the outcome names `file`: an error that does, or a warning that does.
fn reported(r: &Result<Checkpoint, String>, file: &str) -> bool {
    match r {
        Err(m) => m.contains(file),
        Ok(ck) => ck.warnings.iter().any(|w| w.message.contains(file)),
    }
}

fn describe(r: &Result<Checkpoint, String>) -> String {
    match r {
        Err(m) => format!("error: {m}"),
        Ok(ck) => format!("loaded, warnings: {:#?}", ck.warnings),
    }
}

/// A source of in-memory image files (label `synthetic`).
fn mem_source(files: BTreeMap<String, Vec<u8>>) -> Source {
    Source::in_memory("/nonexistent/synthetic", "synthetic", files)
}

/// `src` with image `name` replaced (Some) or removed (None).
fn with_file(src: &Source, name: &str, bytes: Option<Vec<u8>>) -> Source {
    let mut s = src.clone();
    match bytes {
        Some(b) => {
            s.images.files.insert(name.to_string(), Blob::from_vec(b));
        }
        None => {
            s.images.files.remove(name);
        }
    }
    s
}

fn open(path: &Path) -> Source {
    source::open(path, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// secretd-plain's image directory, opened.
fn plain() -> Option<Source> {
    let f = fixtures()?;
    Some(open(&f.join("secretd-plain/images")))
}

/// Images the loader reads (and must report when broken).
fn loaded_image(name: &str) -> bool {
    ["pstree.img", "files.img", "inventory.img", "stats-dump"].contains(&name)
        || ["core-", "mm-", "pagemap-", "fdinfo-", "fs-", "ids-"]
            .iter()
            .any(|p| name.starts_with(p))
}

/// Header length and the (offset, length) of each framed entry of a protobuf image.
fn frames(name: &str, b: &[u8]) -> (usize, Vec<(usize, usize)>) {
    let hdr = if name == "inventory.img" { 4 } else { 8 };
    let mut out = Vec::new();
    let mut at = hdr;
    while at + 4 <= b.len() {
        let len = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        if at + 4 + len > b.len() {
            break;
        }
        out.push((at, len));
        at += 4 + len;
    }
    (hdr, out)
}

/// Every byte of every process's memory that `got` serves is the byte `orig` serves, or the read
/// fails. Checked page by page over the data of both (at most 16 MiB per process).
fn same_or_fails(what: &str, orig: &Checkpoint, got: &Checkpoint) {
    let (mut a, mut b) = (vec![0u8; PAGE as usize], vec![0u8; PAGE as usize]);
    for p in &got.processes {
        let Some(o) = orig.process(p.pid) else {
            continue;
        };
        let mut pages = std::collections::BTreeSet::new();
        for e in o.memory.extents().iter().chain(p.memory.extents()) {
            let mut x = e.start & !(PAGE - 1);
            while x < e.end() && pages.len() < 4096 {
                pages.insert(x);
                x += PAGE;
            }
        }
        for x in pages {
            if p.memory.read_at(x, &mut a).is_ok() {
                o.memory.read_at(x, &mut b).unwrap();
                assert!(
                    a == b,
                    "{what}: PID {} page {x:#x} serves bytes that differ from the intact checkpoint",
                    p.pid
                );
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Truncation, flipped bytes, magics (fixture images)

#[test]
fn truncation_at_every_boundary_and_mid_entry() {
    let Some(src) = plain() else { return };
    let orig = try_load("intact", src.clone(), 1 << 16).expect("the fixture loads");
    let names: Vec<String> = src.images.files.keys().cloned().collect();
    let mut cases = 0;
    for name in names.iter().filter(|n| !n.starts_with("pages-")) {
        let bytes = src.images.files[name].bytes().to_vec();
        let (hdr, fr) = frames(name, &bytes);
        // (cut, mid-entry?)
        let mut cuts: Vec<(usize, bool)> =
            vec![(0, true), (2, true), (hdr - 1, true), (hdr, false)];
        for &(at, len) in &fr {
            cuts.push((at, false));
            cuts.push((at + 2, true));
            cuts.push((at + 4 + len / 2, len > 0));
            cuts.push((at + 4 + len, false));
            cuts.push((at + 4 + len.saturating_sub(1), len > 0));
        }
        cuts.sort();
        cuts.dedup();
        for (cut, mid) in cuts {
            if cut >= bytes.len() {
                continue;
            }
            let what = format!("{name} cut at {cut} of {}", bytes.len());
            let r = try_load(
                &what,
                with_file(&src, name, Some(bytes[..cut].to_vec())),
                1 << 14,
            );
            cases += 1;
            let empty_ok = cut == hdr && !["pstree.img"].contains(&name.as_str());
            if mid && loaded_image(name) && !empty_ok {
                assert!(
                    reported(&r, name),
                    "{what}: not reported ({})",
                    describe(&r)
                );
            }
            if name == "pstree.img" && (mid || cut <= hdr) {
                assert!(
                    r.is_err(),
                    "{what}: a broken process tree must fail the load"
                );
            }
            if let Ok(ck) = &r
                && (mid || !name.starts_with("pagemap-"))
            {
                same_or_fails(&what, &orig, ck);
            }
        }
    }
    eprintln!("{cases} truncations");
}

#[test]
fn truncated_pages_file_fails_reads_never_zeros() {
    let Some(src) = plain() else { return };
    let orig = try_load("intact", src.clone(), 0).unwrap();
    for name in src.images.files.keys().filter(|n| n.starts_with("pages-")) {
        let bytes = src.images.files[name].bytes();
        for cut in [
            0,
            1,
            4095,
            4096,
            8192 + 17,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            if cut >= bytes.len() {
                continue;
            }
            let what = format!("{name} cut at {cut}");
            let ck = try_load(
                &what,
                with_file(&src, name, Some(bytes[..cut].to_vec())),
                1 << 14,
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                ck.warnings
                    .of(Kind::TruncatedImage)
                    .any(|w| w.message.contains(name.as_str())),
                "{what}: no warning names {name}: {:#?}",
                ck.warnings
            );
            same_or_fails(&what, &orig, &ck);
            // And at least one read fails where the original had data.
            let mut buf = vec![0u8; PAGE as usize];
            let broken = ck.processes.iter().any(|p| {
                p.memory
                    .extents()
                    .iter()
                    .any(|e| p.memory.read_at(e.start, &mut buf).is_err())
            });
            assert!(broken, "{what}: no read fails");
        }
    }
    // A missing pages file: every page it held fails.
    let ck = try_load(
        "pages-1.img missing",
        with_file(&src, "pages-1.img", None),
        0,
    )
    .unwrap();
    assert!(
        ck.warnings
            .of(Kind::MissingImage)
            .any(|w| w.message.contains("pages-1.img")),
        "{:#?}",
        ck.warnings
    );
    same_or_fails("pages-1.img missing", &orig, &ck);
}

/// Deterministic pseudo-random positions (no dependency on a RNG crate).
fn positions(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % len.max(1) as u64) as usize
        })
        .collect()
}

#[test]
fn flipped_bytes_in_headers_lengths_and_varints() {
    let Some(src) = plain() else { return };
    let names: Vec<String> = src
        .images
        .files
        .keys()
        .filter(|n| !n.starts_with("pages-") && !n.ends_with(".log"))
        .cloned()
        .collect();
    let mut cases = 0;
    for name in &names {
        let bytes = src.images.files[name].bytes().to_vec();
        let (hdr, fr) = frames(name, &bytes);
        let mut at: Vec<usize> = (0..hdr).collect();
        for &(o, _) in fr.iter().take(6) {
            at.extend(o..o + 4); // the length word
            at.extend((o + 4..o + 7).filter(|&i| i < bytes.len())); // tag + varint
        }
        at.extend(positions(bytes.len(), 12, name.len() as u64 * 7919));
        at.sort();
        at.dedup();
        for i in at.into_iter().filter(|&i| i < bytes.len()) {
            for v in [bytes[i] ^ 0xff, 0x80, 0x00] {
                if v == bytes[i] {
                    continue;
                }
                let mut b = bytes.clone();
                b[i] = v;
                let what = format!("{name}: byte {i} {:#04x} -> {v:#04x}", bytes[i]);
                let r = try_load(&what, with_file(&src, name, Some(b)), 1 << 12);
                cases += 1;
                if i < hdr && loaded_image(name) {
                    assert!(
                        reported(&r, name),
                        "{what}: not reported ({})",
                        describe(&r)
                    );
                }
            }
        }
    }
    eprintln!("{cases} flips");
}

#[test]
fn bad_and_swapped_magics() {
    let Some(src) = plain() else { return };
    let files = &src.images.files;
    // A wrong magic on every image the loader reads is reported, naming the image.
    for name in files.keys().filter(|n| loaded_image(n)) {
        let mut b = files[name].bytes().to_vec();
        let at = if name == "inventory.img" { 0 } else { 4 };
        b[at..at + 4].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        let what = format!("{name} with magic 0xdeadbeef");
        let r = try_load(&what, with_file(&src, name, Some(b)), 1 << 12);
        assert!(reported(&r, name), "{what}: {}", describe(&r));
        if name == "pstree.img" {
            let m = r.expect_err("a bad pstree fails the load");
            assert!(m.contains("magic"), "{m}");
        }
    }
    // Swapped: core <-> mm, pagemap <-> pstree content.
    let core = files["core-8262.img"].bytes().to_vec();
    let mm = files["mm-8262.img"].bytes().to_vec();
    let s = with_file(&src, "core-8262.img", Some(mm));
    let s = with_file(&s, "mm-8262.img", Some(core));
    let ck = try_load("core and mm swapped", s, 1 << 12).unwrap();
    for n in ["core-8262.img", "mm-8262.img"] {
        assert!(
            ck.warnings
                .of(Kind::CorruptImage)
                .any(|w| w.message.contains(n)),
            "{n}: {:#?}",
            ck.warnings
        );
    }
    let pm = files["pagemap-8262.img"].bytes().to_vec();
    let r = try_load(
        "pstree holds a pagemap",
        with_file(&src, "pstree.img", Some(pm)),
        0,
    );
    let m = r.err().unwrap();
    assert!(m.contains("pstree.img") && m.contains("PAGEMAP"), "{m}");
    // The inventory with a common header (as if it were any other image).
    let mut inv = magic::IMG_COMMON_MAGIC.to_le_bytes().to_vec();
    inv.extend_from_slice(files["inventory.img"].bytes());
    let r = try_load(
        "inventory with a lead magic",
        with_file(&src, "inventory.img", Some(inv)),
        0,
    );
    assert!(reported(&r, "inventory.img"), "{}", describe(&r));
}

// ------------------------------------------------------------------------------------------
// Synthetic: pagemaps, VMAs, process trees

/// The images of process 1 (`victim`) with `npages` anonymous pages at [`A`] and `data` at
/// [`A`], and the name of its pagemap image.
fn victim(npages: u64, data: &[u8]) -> (BTreeMap<String, Vec<u8>>, String) {
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("victim")
        .anon(A, npages * PAGE)
        .pages(A, data);
    let files = w.encode_files();
    let pm = files
        .keys()
        .find(|k| k.starts_with("pagemap-1"))
        .cloned()
        .unwrap();
    (files, pm)
}

fn pagemap_case(
    what: &str,
    runs: &[PageRun],
    pages: Vec<u8>,
) -> (Checkpoint, ckptfs::model::Memory) {
    let (mut files, pm) = victim(64, b"x");
    let (id, _) = ckptfs::image::decode_pagemap("x", &files[&pm]).unwrap();
    files.insert(pm, encode_pagemap(id as u32, runs));
    files.insert(format!("pages-{id}.img"), pages);
    let ck = try_load(what, mem_source(files), 1 << 16).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mem = ck.process(1).unwrap().memory.clone();
    fuzzcommon::check_memory(&mem);
    (ck, mem)
}

fn run(vaddr: u64, nr_pages: u64, flags: u32) -> PageRun {
    PageRun {
        vaddr,
        nr_pages,
        flags,
    }
}

fn page_of(seed: u8) -> Vec<u8> {
    vec![seed; PAGE as usize]
}

fn read(mem: &ckptfs::model::Memory, addr: u64) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; PAGE as usize];
    mem.read_at(addr, &mut b)
        .map(|_| b)
        .map_err(|e| e.to_string())
}

#[test]
fn pagemap_unsorted_overlapping_beyond_and_huge() {
    let pages: Vec<u8> = (1..=4u8).flat_map(page_of).collect();
    // Unsorted: the pages file is in entry order, whatever the addresses.
    let (_, m) = pagemap_case(
        "unsorted",
        &[run(A + 8 * PAGE, 2, PE_PRESENT), run(A, 2, PE_PRESENT)],
        pages.clone(),
    );
    assert_eq!(read(&m, A + 8 * PAGE).unwrap(), page_of(1));
    assert_eq!(read(&m, A + 9 * PAGE).unwrap(), page_of(2));
    assert_eq!(read(&m, A).unwrap(), page_of(3));
    assert_eq!(read(&m, A + PAGE).unwrap(), page_of(4));
    assert_eq!(read(&m, A + 2 * PAGE).unwrap(), page_of(0));

    // Overlapping: the doubly claimed page fails; the rest reads right.
    let (ck, m) = pagemap_case(
        "overlap",
        &[run(A, 2, PE_PRESENT), run(A + PAGE, 2, PE_PRESENT)],
        pages.clone(),
    );
    assert_eq!(read(&m, A).unwrap(), page_of(1));
    assert!(read(&m, A + PAGE).is_err());
    assert_eq!(read(&m, A + 2 * PAGE).unwrap(), page_of(4));
    assert!(ck.warnings.has(Kind::PagesOverlap), "{:#?}", ck.warnings);

    // Three runs over the same pages, one inside another.
    let (_, m) = pagemap_case(
        "triple overlap",
        &[
            run(A, 2, PE_PRESENT),
            run(A, 1, PE_PRESENT),
            run(A + PAGE, 1, PE_PRESENT),
        ],
        pages.clone(),
    );
    assert!(read(&m, A).is_err() && read(&m, A + PAGE).is_err());

    // Beyond the pages file: what is there reads, the rest fails.
    let (ck, m) = pagemap_case("beyond", &[run(A, 6, PE_PRESENT)], pages.clone());
    assert_eq!(read(&m, A + 3 * PAGE).unwrap(), page_of(4));
    assert!(read(&m, A + 4 * PAGE).is_err() && read(&m, A + 5 * PAGE).is_err());
    assert_eq!(read(&m, A + 6 * PAGE).unwrap(), page_of(0));
    assert!(
        ck.warnings
            .of(Kind::TruncatedImage)
            .any(|w| w.message.contains("pages-")),
        "{:#?}",
        ck.warnings
    );

    // Huge counts: 2^40 pages present (a 4 PiB claim on a 16 KiB file) and 2^40 lazy.
    let (_, m) = pagemap_case(
        "2^40 present",
        &[run(0, 1 << 40, PE_PRESENT)],
        pages.clone(),
    );
    assert_eq!(read(&m, 0).unwrap(), page_of(1));
    assert!(read(&m, 1 << 50).is_err());
    let (ck, m) = pagemap_case("2^40 lazy", &[run(0, 1 << 40, PE_LAZY)], pages.clone());
    assert_eq!(read(&m, 1 << 50).unwrap(), page_of(0));
    assert!(!ck.warnings.is_empty());

    // 2^60 pages cannot be addressed: the pagemap is refused, the process's memory fails to read
    // (never zeros), and the rest of the process is there.
    for flags in [PE_PRESENT, PE_LAZY, PE_PARENT] {
        let (mut files, pm) = victim(4, b"x");
        files.insert(pm.clone(), encode_pagemap(1, &[run(A, 1 << 60, flags)]));
        let what = format!("2^60 pages, flags {flags}");
        let r = try_load(&what, mem_source(files), 1 << 16);
        assert!(reported(&r, &pm), "{what}: {}", describe(&r));
        if let Ok(ck) = &r
            && let Some(p) = ck.process(1)
        {
            assert!(
                read(&p.memory, A).is_err(),
                "{what}: memory reads although its pagemap is refused"
            );
        }
    }
}

#[test]
fn missing_pagemap_of_a_live_process_fails_reads() {
    let (mut files, pm) = victim(4, b"secret");
    files.remove(&pm);
    let ck = try_load("no pagemap", mem_source(files), 1 << 16).unwrap();
    assert!(
        ck.warnings
            .of(Kind::MissingImage)
            .any(|w| w.message.contains(&pm)),
        "{:#?}",
        ck.warnings
    );
    let p = ck.process(1).unwrap();
    assert!(
        read(&p.memory, A).is_err(),
        "memory of a process without pagemap reads as zeros"
    );
}

#[test]
fn vmas_overlapping_inverted_unaligned() {
    let (mut files, _) = victim(4, b"x");
    let mm: pb::MmEntry =
        ckptfs::image::decode_one("mm-1.img", &files["mm-1.img"], magic::MM).unwrap();
    let good = mm.vmas[0];
    let mut vmas = vec![good];
    let mut v = good;
    v.start += PAGE; // overlaps
    vmas.push(v);
    let mut v = good;
    std::mem::swap(&mut v.start, &mut v.end); // inverted
    vmas.push(v);
    let mut v = good;
    v.start = u64::MAX - 10; // unaligned, at the top
    v.end = u64::MAX;
    vmas.push(v);
    let mut v = good;
    v.start = 0;
    v.end = !(PAGE - 1); // the whole address space
    vmas.push(v);
    let mm = pb::MmEntry { vmas, ..mm };
    files.insert("mm-1.img".into(), encode_image(magic::MM, &[mm]));
    let ck = try_load("bad VMAs", mem_source(files), 1 << 16).unwrap();
    let p = ck.process(1).unwrap();
    assert_eq!(p.vmas.len(), 1, "only the good VMA is kept: {:?}", p.vmas);
    assert!(
        ck.warnings
            .of(Kind::BadMapping)
            .filter(|w| w.message.contains("mm-1.img"))
            .count()
            >= 4,
        "{:#?}",
        ck.warnings
    );
}

fn pstree_entry(pid: u32, ppid: u32) -> pb::PstreeEntry {
    pb::PstreeEntry {
        pid,
        ppid,
        pgid: pid,
        sid: pid,
        threads: vec![pid],
    }
}

#[test]
fn pstree_cycles_duplicates_missing_images() {
    let mut w = CheckpointWriter::new();
    for (pid, ppid) in [(1, 2), (2, 1), (3, 3), (4, 0), (5, 4), (6, 4)] {
        w.process(pid, ppid)
            .comm("p")
            .anon(A, 4 * PAGE)
            .pages(A, b"x");
    }
    let mut files = w.encode_files();
    let tree = vec![
        pstree_entry(1, 2),
        pstree_entry(2, 1),
        pstree_entry(3, 3),
        pstree_entry(4, 0),
        pstree_entry(4, 1), // duplicate PID
        pstree_entry(5, 4),
        pstree_entry(6, 4),
        pstree_entry(7, 6), // no images at all
    ];
    files.insert("pstree.img".into(), encode_image(magic::PSTREE, &tree));
    files.remove("core-5.img");
    files.remove("mm-6.img");
    let ck = try_load("cycles", mem_source(files), 1 << 16).unwrap();
    let text = String::from_utf8(ckptfs::render::pstree(&ck)).unwrap();
    for pid in 1..=7 {
        assert!(
            ck.process(pid).is_some(),
            "PID {pid} not loaded: {:#?}",
            ck.warnings
        );
        assert!(
            text.contains(&pid.to_string()),
            "PID {pid} not in the tree:\n{text}"
        );
    }
    for (kind, needle) in [
        (Kind::Duplicate, "pstree.img"),
        (Kind::MissingImage, "core-5.img"),
        (Kind::MissingImage, "core-7.img"),
    ] {
        assert!(
            ck.warnings.of(kind).any(|w| w.message.contains(needle)),
            "no warning about {needle}: {:#?}",
            ck.warnings
        );
    }
    // Ancestry walks terminate.
    let _ = ckptfs::render::summary(&ck);
    // An empty tree and a tree of only garbage fail with the file named.
    let mut files = w.encode_files();
    files.insert(
        "pstree.img".into(),
        encode_image::<pb::PstreeEntry>(magic::PSTREE, &[]),
    );
    let m = try_load("empty pstree", mem_source(files), 0)
        .err()
        .unwrap();
    assert!(m.contains("pstree.img"), "{m}");
}

/// One process whose pages at `A` are its own and whose pages at `A + 4 pages` are its parent
/// dump's (PARENT entries): a dump whose `parent` link the tests point where they like.
fn incremental_writer() -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("inc")
        .anon(A, 8 * PAGE)
        .pages(A, b"new")
        .parent_pages(A + 4 * PAGE, 2);
    w
}

#[test]
fn parent_link_loops_and_missing_parents() {
    let t = TempDir::new("hostile-parent");
    let w = incremental_writer();
    for d in ["a", "b", "self"] {
        w.write_dir(&t.join(d)).unwrap();
        let _ = fs::remove_file(t.join(d).join("parent"));
        let _ = fs::remove_dir_all(t.join(d).join("parent"));
    }
    std::os::unix::fs::symlink("../b", t.join("a/parent")).unwrap();
    std::os::unix::fs::symlink("../a", t.join("b/parent")).unwrap();
    std::os::unix::fs::symlink(".", t.join("self/parent")).unwrap();
    for d in ["a", "self"] {
        let p = t.join(d);
        let r = bounded(&format!("parent loop {d}"), move || {
            source::open(&p, &OpenOptions::default()).map_err(|e| e.to_string())
        });
        let Ok(src) = r else { continue };
        assert!(
            src.warnings.has(Kind::ParentChain),
            "{d}: {:#?}",
            src.warnings
        );
        let ck = try_load(&format!("parent loop {d}"), src, 1 << 16).unwrap();
        let p = ck.process(1).unwrap();
        assert!(read(&p.memory, A).is_ok());
        // PARENT pages whose parent chain loops are not served (never as zeros).
        assert!(
            read(&p.memory, A + 4 * PAGE).is_err(),
            "{d}: a PARENT page of a looping chain reads"
        );
    }
    // No parent at all: PARENT pages fail.
    let d = t.join("orphan");
    w.write_dir(&d).unwrap();
    let _ = fs::remove_file(d.join("parent"));
    let _ = fs::remove_dir_all(d.join("parent"));
    let ck = try_load("orphan", open(&d), 1 << 16).unwrap();
    let m = &ck.process(1).unwrap().memory;
    assert!(
        read(m, A + 4 * PAGE).is_err(),
        "PARENT page without a parent must fail"
    );
    assert!(read(m, A).is_ok());
}

#[test]
fn parent_link_loop_in_an_archive_warns_once_and_names_images_plainly() {
    let t = TempDir::new("hostile-parent-tar");
    let w = incremental_writer();
    // `a`, a dump whose parent is `b`, a pre-dump (no process tree) whose parent is `a`.
    let staging = t.join("in");
    for d in ["a", "b"] {
        w.write_dir(&staging.join(d)).unwrap();
        let _ = fs::remove_file(staging.join(d).join("parent"));
        let _ = fs::remove_dir_all(staging.join(d).join("parent"));
    }
    fs::remove_file(staging.join("b/pstree.img")).unwrap();
    std::os::unix::fs::symlink("../b", staging.join("a/parent")).unwrap();
    std::os::unix::fs::symlink("../a", staging.join("b/parent")).unwrap();
    let tar = t.join("l.tar");
    let st = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&staging)
        .args(["a", "b"])
        .status()
        .unwrap();
    assert!(st.success());
    let p = tar.clone();
    let src = bounded("parent loop in a tar", move || {
        source::open(&p, &OpenOptions::default()).map_err(|e| e.to_string())
    })
    .unwrap();
    let chain: Vec<_> = src
        .warnings
        .iter()
        .filter(|w| w.kind == Kind::ParentChain)
        .map(|w| w.message.clone())
        .collect();
    assert_eq!(chain.len(), 1, "{chain:#?}");
    assert!(
        chain[0].ends_with(&format!("loops back to {}:a: stopped there", tar.display())),
        "{chain:#?}"
    );
    let ck = try_load("parent loop in a tar", src, 1 << 16).unwrap();
    let m = &ck.process(1).unwrap().memory;
    assert!(read(m, A).is_ok());
    // The PARENT pages of `b` have no parent to come from: the error names b's pagemap.
    let e = read(m, A + 4 * PAGE).unwrap_err();
    assert!(
        e.contains(&format!("{}:b/pagemap-1.img", tar.display())),
        "{e}"
    );
}

// ------------------------------------------------------------------------------------------
// Non-UTF-8 names

#[test]
fn non_utf8_names_do_not_fail_the_images() {
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("victim")
        .anon(A, 4 * PAGE)
        .pages(A, b"x")
        .fd(3, ckptfs::writer::File::reg("/tmp/placeholder"));
    let mut files = w.encode_files();
    // files.img: a regular file named with invalid UTF-8.
    let mut fe: Vec<pb::FileEntry> =
        ckptfs::image::decode_all("files.img", &files["files.img"], magic::FILES).unwrap();
    for e in &mut fe {
        if let Some(r) = &mut e.reg {
            r.name = b"/tmp/\xff\xfeevil\n".to_vec();
        }
    }
    files.insert("files.img".into(), encode_image(magic::FILES, &fe));
    // core: comm with invalid UTF-8 in the task and the thread part.
    let mut core: pb::CoreEntry =
        ckptfs::image::decode_one("core-1.img", &files["core-1.img"], magic::CORE).unwrap();
    if let Some(tc) = &mut core.tc {
        tc.comm = b"\xc3\x28bad".to_vec();
    }
    if let Some(t) = &mut core.thread_core {
        t.comm = Some(b"\xffthr".to_vec());
    }
    files.insert("core-1.img".into(), encode_image(magic::CORE, &[core]));
    let ck = try_load("non-UTF-8 names", mem_source(files), 1 << 16).unwrap();
    assert!(
        !ck.warnings
            .iter()
            .any(|w| w.message.contains("files.img") || w.message.contains("core-1.img")),
        "{:#?}",
        ck.warnings
    );
    let p = ck.process(1).unwrap();
    assert!(p.comm.contains("bad"), "{:?}", p.comm);
    let fd = p.fds.iter().find(|f| f.fd == 3).expect("fd 3 survives");
    assert!(
        fd.file.link_text().contains("evil"),
        "{}",
        fd.file.link_text()
    );
}

// ------------------------------------------------------------------------------------------
// Archives: hostile tar entries, bombs

/// One raw ustar header + data (full control over the name bytes, type, size).
fn tar_entry(out: &mut Vec<u8>, name: &[u8], typ: u8, link: &[u8], data: &[u8], size: Option<u64>) {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    let sz = size.unwrap_or(data.len() as u64);
    if sz < 1 << 33 {
        h[124..136].copy_from_slice(format!("{sz:011o}\0").as_bytes());
    } else {
        // GNU base-256: high bit set, big-endian in the remaining 11 bytes.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&sz.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"14540000000\0");
    h[156] = typ;
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
}

/// A container archive holding the writer's images in `checkpoint/`, plus `evil` entries.
/// An extra tar entry: (name, type flag, link target, data, declared size if not the data's).
type Evil<'a> = (&'a [u8], u8, &'a [u8], &'a [u8], Option<u64>);

fn tar_with(evil: &[Evil<'_>], end: bool) -> Vec<u8> {
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("sh").anon(A, 4 * PAGE).pages(A, b"x");
    let mut t = Vec::new();
    tar_entry(
        &mut t,
        b"config.dump",
        b'0',
        b"",
        br#"{"id":"x","name":"x"}"#,
        None,
    );
    tar_entry(&mut t, b"spec.dump", b'0', b"", b"{}", None);
    tar_entry(&mut t, b"checkpoint/", b'5', b"", b"", None);
    for (n, b) in w.encode_files() {
        tar_entry(
            &mut t,
            format!("checkpoint/{n}").as_bytes(),
            b'0',
            b"",
            &b,
            None,
        );
    }
    for (n, typ, link, data, size) in evil {
        tar_entry(&mut t, n, *typ, link, data, *size);
    }
    if end {
        t.extend_from_slice(&[0u8; 1024]);
    }
    t
}

/// Opens `bytes` as an archive in a fresh dir (cache inside it); checks that nothing but the
/// input and the cache exists afterwards and the input is unchanged.
fn open_archive(what: &str, bytes: Vec<u8>, max: Option<u64>) -> Result<Source, String> {
    let t = TempDir::new("hostile-tar");
    let input = t.join("input");
    fs::write(&input, &bytes).unwrap();
    let cache = t.join("cache");
    let (i2, c2) = (input.clone(), cache.clone());
    let r = bounded(what, move || {
        source::open(
            &i2,
            &OpenOptions {
                cache_dir: Some(c2),
                max_size: max,
                progress: false,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())
    });
    for e in walk(t.path()) {
        assert!(
            e == input || e.starts_with(&cache),
            "{what}: wrote outside the cache: {}",
            e.display()
        );
    }
    assert!(
        fs::read(&input).unwrap() == bytes,
        "{what}: the input changed"
    );
    if let Err(m) = &r {
        assert!(!m.contains('\n'), "{what}: error not one line: {m}");
    }
    r
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn tar_entries_that_escape_or_lie() {
    // `..` and absolute names: refused, naming the entry.
    for evil in [&b"../escape"[..], b"checkpoint/../../escape", b"/etc/evil"] {
        let what = format!("entry {}", String::from_utf8_lossy(evil));
        let r = open_archive(
            &what,
            tar_with(&[(evil, b'0', b"", b"x", None)], true),
            None,
        );
        let m = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            m.contains(String::from_utf8_lossy(evil).trim_start_matches('/')),
            "{m}"
        );
    }
    // Symlinks and hardlinks pointing out, a symlinked parent, a link replacing an image:
    // never followed out of the archive (they are no files of the archive: ignored or refused).
    let links: [(&[u8], u8, &[u8]); 5] = [
        (b"checkpoint/parent", b'2', b"/"),
        (b"checkpoint/parent", b'2', b"../../../../etc"),
        (b"checkpoint/inventory.img", b'2', b"/etc/passwd"),
        (b"checkpoint/stats-dump", b'1', b"../../etc/shadow"),
        (b"deleted.files", b'1', b"/etc/passwd"),
    ];
    for (n, typ, link) in links {
        let what = format!(
            "{} -> {} (type {})",
            String::from_utf8_lossy(n),
            String::from_utf8_lossy(link),
            typ as char
        );
        let r = open_archive(&what, tar_with(&[(n, typ, link, b"", None)], true), None);
        if let Ok(src) = r {
            let passwd = fs::read("/etc/passwd").unwrap_or_default();
            for d in src.images.chain() {
                for (name, b) in &d.files {
                    assert!(
                        passwd.is_empty() || b.bytes() != &passwd[..],
                        "{what}: {name} serves the host's /etc/passwd"
                    );
                }
            }
            assert!(
                src.images.parent.is_none(),
                "{what}: a parent outside the archive"
            );
            let _ = try_load(&what, src, 1 << 12);
        }
    }
    // Duplicate names: one wins, with a warning.
    let r = open_archive(
        "duplicate",
        tar_with(
            &[
                (b"checkpoint/stats-dump", b'0', b"", b"one", None),
                (b"checkpoint/stats-dump", b'0', b"", b"two", None),
            ],
            true,
        ),
        None,
    )
    .unwrap_or_else(|e| panic!("duplicate names: {e}"));
    assert!(
        r.warnings
            .of(Kind::Duplicate)
            .any(|w| w.message.contains("stats-dump")),
        "{:#?}",
        r.warnings
    );
    // Huge declared sizes: the archive is too short for them.
    for size in [1u64 << 33, 0o77777777777, u64::MAX >> 1] {
        let what = format!("declared size {size}");
        let r = open_archive(
            &what,
            tar_with(
                &[(b"checkpoint/pages-9.img", b'0', b"", b"", Some(size))],
                false,
            ),
            None,
        );
        let m = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(m.contains("pages-9.img"), "{m}");
    }
    // Non-UTF-8 and control characters in names: served or refused, never garbling the
    // one-line error.
    let r = open_archive(
        "non-UTF-8 name",
        tar_with(
            &[(b"checkpoint/\xff\xfe\n.img", b'0', b"", b"x", None)],
            true,
        ),
        None,
    );
    if let Ok(src) = r {
        let _ = try_load("non-UTF-8 tar name", src, 1 << 12);
    }
    let r = open_archive(
        "non-UTF-8 dotdot",
        tar_with(&[(b"\xff/../../x", b'0', b"", b"x", None)], true),
        None,
    );
    // Refused, or ignored with a warning that shows the name escaped; never served.
    match r {
        Err(m) => assert!(m.contains("\\xff"), "{m}"),
        Ok(src) => {
            assert!(
                src.warnings.iter().any(|w| w.message.contains("\\xff")),
                "{:#?}",
                src.warnings
            );
            assert!(!src.metadata.keys().any(|k| k.ends_with('x')));
        }
    }
}

/// A tar stream declaring a `n`-byte entry of zeros, compressed (a bomb: tiny input, huge
/// output): one compressed 1 MiB block of zeros repeated as gzip members / zstd frames, which
/// decoders concatenate.
fn bomb(n: usize, zstd_: bool) -> Vec<u8> {
    let mut t = Vec::new();
    tar_entry(
        &mut t,
        b"checkpoint/pages-1.img",
        b'0',
        b"",
        b"",
        Some(n as u64),
    );
    let zeros = vec![0u8; 1 << 20];
    let pack = |b: &[u8]| -> Vec<u8> {
        if zstd_ {
            zstd::encode_all(b, 19).unwrap()
        } else {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(b).unwrap();
            e.finish().unwrap()
        }
    };
    let mut out = pack(&t);
    let block = pack(&zeros);
    for _ in 0..n >> 20 {
        out.extend_from_slice(&block);
    }
    out
}

#[test]
fn compression_bombs_stop_at_max_size() {
    for z in [false, true] {
        let b = bomb(256 << 20, z);
        assert!(b.len() < 1 << 20, "the bomb is small: {}", b.len());
        let what = if z { "zstd bomb" } else { "gzip bomb" };
        let t = TempDir::new("hostile-bomb");
        let input = t.join("bomb");
        fs::write(&input, &b).unwrap();
        let cache = t.join("cache");
        let (i2, c2) = (input.clone(), cache.clone());
        let r = bounded(what, move || {
            source::open(
                &i2,
                &OpenOptions {
                    cache_dir: Some(c2),
                    max_size: Some(16 << 20),
                    progress: false,
                    ..Default::default()
                },
            )
        });
        let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(matches!(e, source::Error::TooLarge { .. }), "{what}: {e}");
        // Nothing left in the cache but the (empty) lock file.
        let left: Vec<_> = walk(&cache)
            .into_iter()
            .filter(|p| fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
            .collect();
        assert!(left.is_empty(), "{what}: left in the cache: {left:?}");
        // The CLI says it in one line, exit code 2, nothing mounted.
        let mnt = t.join("mnt");
        fs::create_dir_all(&mnt).unwrap();
        let out = common::mount_at(
            30,
            &input,
            &mnt,
            &["--cache-dir", &cache.to_string_lossy(), "--max-size", "16M"],
        );
        assert_eq!(out.code, Some(2), "{what}: {out}");
        let err = out.stderr_text();
        assert!(err.contains("exceeds the limit"), "{what}: {err}");
        assert!(!common::is_mounted(&mnt));
    }
}

// ------------------------------------------------------------------------------------------
// Evidence integrity: the input is never changed; the cache is private and checked before reuse

fn sha256_file(p: &Path) -> String {
    common::sha256_hex(&fs::read(p).unwrap())
}

fn busybox_copy(t: &TempDir) -> Option<PathBuf> {
    let f = fixtures()?;
    let dst = t.join("checkpoint.tar.gz");
    fs::copy(f.join("podman-busybox/checkpoint.tar.gz"), &dst).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o644)).unwrap();
    Some(dst)
}

#[test]
fn cache_is_private_and_rebuilt_when_tampered_or_partial() {
    let t = TempDir::new("hostile-cache");
    let Some(input) = busybox_copy(&t) else {
        return;
    };
    let cache = t.join("deep/cache");
    let opts = OpenOptions {
        cache_dir: Some(cache.clone()),
        max_size: None,
        progress: false,
        ..Default::default()
    };
    let first = source::open(&input, &opts).unwrap();
    let mode = fs::metadata(&cache).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "cache dir mode {mode:o}");
    let tar = first
        .input
        .cache_path
        .clone()
        .expect("a compressed input is cached");
    assert!(tar.starts_with(&cache));
    assert_eq!(
        fs::metadata(&tar).unwrap().mode() & 0o077,
        0,
        "cached tar readable by others"
    );
    let snapshot: BTreeMap<String, Vec<u8>> = first
        .images
        .files
        .iter()
        .map(|(k, v)| (k.clone(), v.bytes().to_vec()))
        .collect();
    let sha = first.input_sha256().unwrap();
    assert_eq!(sha, sha256_file(&input));
    drop(first);

    let same = |s: &Source, what: &str| {
        for (k, v) in &snapshot {
            assert!(
                s.images.files.get(k).map(|b| b.bytes()) == Some(&v[..]),
                "{what}: {k} differs from the first decompression"
            );
        }
        assert_eq!(s.input_sha256().unwrap(), sha, "{what}: sha256");
    };
    // Reuse: same bytes, no warning.
    let again = source::open(&input, &opts).unwrap();
    same(&again, "reuse");
    assert!(again.warnings.is_empty(), "{:#?}", again.warnings);
    drop(again);

    // Tampered in place (same size, tar header intact): rebuilt, not trusted.
    let len = fs::metadata(&tar).unwrap().len();
    {
        let f = fs::OpenOptions::new().write(true).open(&tar).unwrap();
        f.write_all_at(&vec![0x41u8; 4096], len / 2).unwrap();
    }
    let r = source::open(&input, &opts).unwrap();
    same(&r, "tampered");
    assert!(r.warnings.has(Kind::CacheRebuilt), "{:#?}", r.warnings);
    drop(r);

    // Partial: truncated.
    fs::OpenOptions::new()
        .write(true)
        .open(&tar)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let r = source::open(&input, &opts).unwrap();
    same(&r, "truncated");
    drop(r);

    // A crash mid-decompression left a .partial and no tar: rebuilt.
    fs::remove_file(&tar).unwrap();
    fs::write(tar.with_extension("tar.partial"), b"junk").unwrap();
    let r = source::open(&input, &opts).unwrap();
    same(&r, "after a crash");
    drop(r);

    // A cache dir others can write to is refused.
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
    let e = source::open(&input, &opts).expect_err("a 0777 cache is refused");
    assert!(e.to_string().contains("writable by group or others"), "{e}");
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();

    // The input itself was never changed.
    assert_eq!(sha256_file(&input), sha);
}

#[test]
fn input_unchanged_by_mount_reads_and_unmount() {
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("hostile-integrity");
    let Some(input) = busybox_copy(&t) else {
        return;
    };
    let before = sha256_file(&input);
    let md = fs::metadata(&input).unwrap();
    let m = Mount::new(&input);
    let info = fs::read_to_string(m.join("checkpoint/info.json")).unwrap();
    assert!(
        info.contains(&before),
        "info.json lacks the input's sha256 {before}:\n{info}"
    );
    // Read a lot: every top-level file, every process's maps, a few pages of mem.
    for e in fs::read_dir(&m.mnt).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            let _ = fs::read(e.path()).unwrap();
        }
    }
    for e in fs::read_dir(&m.mnt).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_ok() {
            let _ = fs::read(e.path().join("maps")).unwrap();
            let _ = fs::read(e.path().join("environ"));
            for v in fs::read_dir(e.path().join("memory")).unwrap().flatten() {
                let _ = fs::read(v.path());
            }
        }
    }
    m.unmount();
    drop(m);
    assert_eq!(sha256_file(&input), before, "the input changed");
    let after = fs::metadata(&input).unwrap();
    assert_eq!(
        (after.mtime(), after.mtime_nsec(), after.mode(), after.ino()),
        (md.mtime(), md.mtime_nsec(), md.mode(), md.ino()),
        "the input's metadata changed"
    );
}

// ------------------------------------------------------------------------------------------
// Through a real mount: broken pages are EIO, not zeros

#[test]
fn broken_pages_are_eio_through_fuse() {
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("hostile-eio");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("victim")
        .anon(A, 16 * PAGE)
        .pages(A, &vec![0x5a; 16 * PAGE as usize]);
    let files = w.encode_files();
    let pages = files
        .keys()
        .find(|k| k.starts_with("pages-"))
        .cloned()
        .unwrap();
    let cut = files[&pages][..8 * PAGE as usize].to_vec();
    w.raw_file(&pages, &cut);
    let dir = t.join("ck");
    w.write_dir(&dir).unwrap();
    let m = Mount::new(&dir);
    assert!(
        m.out.stderr_text().contains(&pages),
        "the mount warns about {pages}: {}",
        m.out
    );
    let f = fs::File::open(m.join("1/mem")).unwrap();
    let mut buf = vec![0u8; PAGE as usize];
    f.read_exact_at(&mut buf, A).unwrap();
    assert!(buf.iter().all(|&b| b == 0x5a));
    let e = f.read_exact_at(&mut buf, A + 12 * PAGE).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    // The VMA's dense file fails at the same place.
    let name = format!("{:x}-{:x}", A, A + 16 * PAGE);
    let f = fs::File::open(m.join(format!("1/memory/{name}"))).unwrap();
    f.read_exact_at(&mut buf, 0).unwrap();
    let e = f.read_exact_at(&mut buf, 12 * PAGE).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
    // The mount is still alive after the errors.
    assert!(fs::read(m.join("pstree")).is_ok());
}

/// Every descriptor and mapping the daemon holds on the evidence (the input, or the cache copy)
/// is read-only.
#[test]
fn evidence_is_opened_and_mapped_read_only() {
    if !have_fuse() {
        return;
    }
    let Some(f) = fixtures() else { return };
    let t = TempDir::new("hostile-ro");
    // An uncompressed .tar (mapped in place), a compressed one (its cache copy), an image dir.
    let tar = t.join("checkpoint.tar");
    let gz = fs::read(f.join("podman-busybox/checkpoint.tar.gz")).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).unwrap();
    fs::write(&tar, &raw).unwrap();
    let Some(targz) = busybox_copy(&t) else {
        return;
    };
    let dir = f.join("secretd-plain/images");
    for input in [tar, targz, dir] {
        let before = if input.is_file() {
            Some(sha256_file(&input))
        } else {
            None
        };
        let m = Mount::new(&input);
        let pid = m.daemon_pid();
        // Make it touch the memory.
        let mut any = false;
        for e in fs::read_dir(&m.mnt).unwrap().flatten() {
            if e.file_name().to_string_lossy().parse::<u32>().is_ok() {
                for v in fs::read_dir(e.path().join("memory")).unwrap().flatten() {
                    let _ = fs::read(v.path());
                    any = true;
                }
            }
        }
        assert!(any, "{}: no memory file read", input.display());
        let inp = fs::canonicalize(&input).unwrap();
        let cache = m.cache_dir();
        let evidence = |p: &Path| p.starts_with(&inp) || p.starts_with(&cache);
        let mut seen = 0;
        for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
            let Ok(target) = fs::read_link(e.path()) else {
                continue;
            };
            if !evidence(&target) || target.to_string_lossy().ends_with(".lock") {
                continue;
            }
            seen += 1;
            let info = fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                e.file_name().to_string_lossy()
            ))
            .unwrap();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
                .unwrap();
            assert_eq!(
                flags & libc::O_ACCMODE as u32,
                libc::O_RDONLY as u32,
                "{}: fd on {} opened for writing",
                input.display(),
                target.display()
            );
        }
        let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        for l in maps.lines() {
            let path = l.split_whitespace().nth(5).unwrap_or("");
            if !path.is_empty() && evidence(Path::new(path)) {
                seen += 1;
                let perms = l.split_whitespace().nth(1).unwrap();
                assert!(
                    !perms.contains('w'),
                    "{}: {path} mapped writable: {l}",
                    input.display()
                );
            }
        }
        assert!(
            seen > 0,
            "{}: the daemon holds no evidence file?",
            input.display()
        );
        m.unmount();
        if let Some(b) = before {
            assert_eq!(sha256_file(&input), b, "{}: changed", input.display());
        }
    }
}
