//! The page index: a pagemap + pages file (and parent dumps, for PARENT pages) from split fuzz
//! bytes (see `common/mod.rs`) → `model::pages::load` → a `Memory`. Checked against a simple
//! page-by-page oracle: a page with one source reads exactly that source's bytes; a page the
//! checkpoint claims twice, or whose source is missing or short, fails to read (never zeros, never
//! another page's bytes); a page nobody claims reads as zeros.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use ckptfs::image::{self, PE_PARENT, PE_PRESENT};
use ckptfs::model::pages;
use ckptfs::source::ImageDir;
use libfuzzer_sys::fuzz_target;

const PAGE: u64 = 4096;
/// Above this many claimed pages the oracle is skipped (the invariants are still checked).
const ORACLE_PAGES: u64 = 1 << 14;

/// What a page must read as.
#[derive(Clone, Debug, PartialEq)]
enum Want {
    Bytes(Vec<u8>),
    Fail,
}

/// The oracle for `name` in `dir`: page address → expected content (pages not listed: zeros).
/// None when the pagemap does not decode (then `pages::load` must fail too) or is too big.
fn oracle(dir: &ImageDir, name: &str, depth: usize) -> Option<Option<BTreeMap<u64, Want>>> {
    let Some(bytes) = dir.files.get(name) else {
        return Some(None);
    };
    let (id, runs) = image::decode_pagemap(name, bytes.bytes()).ok()?;
    let total: u64 = runs.iter().map(|r| r.nr_pages).fold(0, u64::saturating_add);
    if total > ORACLE_PAGES {
        return None;
    }
    let pages = dir.files.get(&format!("pages-{id}.img"));
    let mut claims: BTreeMap<u64, Vec<Want>> = BTreeMap::new();
    let mut parent: Option<Option<Option<BTreeMap<u64, Want>>>> = None;
    let mut off = 0u64;
    for r in &runs {
        for k in 0..r.nr_pages {
            let a = r.vaddr + k * PAGE;
            let want = if r.flags & PE_PARENT != 0 {
                let p = parent.get_or_insert_with(|| match &dir.parent {
                    Some(p) if depth < 60 => oracle(p, name, depth + 1),
                    _ => Some(None),
                });
                match p {
                    None => return None, // the parent is too big or broken to predict
                    Some(None) => Want::Fail,
                    Some(Some(m)) => match m.get(&a) {
                        Some(w) => w.clone(),
                        None => Want::Fail, // marked PARENT, absent from the parent
                    },
                }
            } else if r.flags & PE_PRESENT != 0 {
                let w = pages
                    .and_then(|b| b.bytes().get(off as usize..(off + PAGE) as usize))
                    .map(|b| Want::Bytes(b.to_vec()))
                    .unwrap_or(Want::Fail);
                off += PAGE;
                w
            } else {
                continue; // lazy without data: a hole
            };
            claims.entry(a).or_default().push(want);
        }
    }
    Some(Some(
        claims
            .into_iter()
            .map(|(a, mut v)| {
                (
                    a,
                    if v.len() == 1 {
                        v.pop().unwrap()
                    } else {
                        Want::Fail
                    },
                )
            })
            .collect(),
    ))
}

fuzz_target!(|data: &[u8]| {
    let files = common::split(data);
    let dir = common::image_dir(&files);
    let names: Vec<String> = dir
        .files
        .keys()
        .filter(|n| n.starts_with("pagemap-"))
        .cloned()
        .collect();
    for name in names {
        let mut warnings = ckptfs::warning::Warnings::new();
        let got = pages::load(&dir, &name, &mut warnings);
        let expect = oracle(&dir, &name, 0);
        let mem = match got {
            Ok(Some(m)) => m,
            Ok(None) => unreachable!("{name} exists"),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                // A pagemap that decodes and fits must load.
                if let Some(Some(_)) = expect {
                    if image::decode_pagemap(&name, dir.files[&name].bytes()).is_ok() {
                        panic!("{name} decodes but does not load: {e}");
                    }
                }
                continue;
            }
        };
        common::check_memory(&mem);
        let Some(Some(want)) = expect else { continue };
        let mut buf = vec![0u8; PAGE as usize];
        for (&a, w) in &want {
            let r = mem.read_at(a, &mut buf);
            match w {
                Want::Bytes(b) => {
                    r.unwrap_or_else(|e| panic!("{name}: page {a:#x} should read: {e}"));
                    assert!(buf == *b, "{name}: page {a:#x} reads wrong bytes");
                }
                Want::Fail => assert!(
                    r.is_err(),
                    "{name}: page {a:#x} has a broken source but reads as data"
                ),
            }
        }
        // Pages next to claimed ones and not claimed themselves read as zeros.
        for &a in want.keys() {
            for b in [a.wrapping_sub(PAGE), a.wrapping_add(PAGE)] {
                if b % PAGE == 0 && !want.contains_key(&b) && b != u64::MAX - PAGE + 1 {
                    mem.read_at(b, &mut buf)
                        .unwrap_or_else(|e| panic!("{name}: unclaimed page {b:#x} fails: {e}"));
                    assert!(
                        buf.iter().all(|&x| x == 0),
                        "{name}: unclaimed page {b:#x} not zero"
                    );
                }
            }
        }
    }
});
