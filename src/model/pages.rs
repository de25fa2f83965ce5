//! Building a [`Memory`] page index from a pagemap image and its pages file, resolving PARENT
//! pages through the chain of parent dumps (incremental checkpoints).
//!
//! Facts (docs/criu-format.md, "Pagemap"): PRESENT pages (also with LAZY set, as normal dumps mark anonymous
//! private pages) lie back to back, in entry order, in `pages-<pages_id>.img`; the offset advances
//! only for them. PARENT pages live in the same-named pagemap of `parent/`, recursively. LAZY
//! without PRESENT has no data anywhere (lazy-pages mode): a hole, with a warning.

use std::sync::Arc;

use super::Error;
use super::memory::{Extent, ExtentData, Memory, PAGE_SIZE};
use crate::image::{self, PE_LAZY, PE_PARENT, PE_PRESENT, PageRun};
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

/// Longest parent chain we follow (the source layer already rejects loops).
const MAX_DEPTH: usize = 64;

/// The memory described by `pagemap_name` in `dir` (None when that pagemap image does not exist).
/// Problems that leave some bytes unservable become broken extents plus a warning.
pub fn load(
    dir: &ImageDir,
    pagemap_name: &str,
    warnings: &mut Warnings,
) -> Result<Option<Memory>, Error> {
    load_at(dir, pagemap_name, warnings, 0)
}

fn load_at(
    dir: &ImageDir,
    name: &str,
    warnings: &mut Warnings,
    depth: usize,
) -> Result<Option<Memory>, Error> {
    let Some(bytes) = dir.files.get(name) else {
        return Ok(None);
    };
    let (pages_id, runs) = image::decode_pagemap(name, bytes.bytes())?;
    // Decoded: its mapped pages need not stay resident (a fragmented dump's pagemap is about 12
    // bytes per dumped page; it is read again only if this memory is loaded again).
    crate::source::blob::release(bytes.bytes());
    let where_ = |what: String| format!("{}/{name}: {what}", dir.label);
    let pages_name = format!("pages-{pages_id}.img");
    let pages = dir.files.get(&pages_name);
    // Withheld (an archive opened for its metadata only): every dumped page is unknown here.
    let withheld: Option<Arc<str>> = pages.filter(|b| b.is_withheld()).map(|_| {
        Arc::from(where_(format!(
            "{pages_name} was not read (the checkpoint was opened for its metadata only)"
        )))
    });
    let mut parent: Option<Option<Memory>> = None; // loaded on first PARENT run
    let mut extents = Vec::with_capacity(runs.len());
    let mut off: u64 = 0;
    let mut lazy_pages: u64 = 0;
    // Entries and pages whose pages file is missing.
    let mut missing: (u64, u64) = (0, 0);
    for (i, run) in runs.iter().enumerate() {
        let PageRun {
            vaddr,
            nr_pages,
            flags,
        } = *run;
        let Some(len) = nr_pages
            .checked_mul(PAGE_SIZE)
            .filter(|l| vaddr.checked_add(*l).is_some())
        else {
            return Err(Error::Invalid {
                file: format!("{}/{name}", dir.label),
                what: format!(
                    "entry {i}: {nr_pages} pages at {vaddr:#x} run past the end of the address space"
                ),
            });
        };
        if len == 0 {
            continue;
        }
        if flags & PE_PARENT != 0 {
            let pm = parent.get_or_insert_with(|| match &dir.parent {
                Some(p) if depth < MAX_DEPTH => match load_at(p, name, warnings, depth + 1) {
                    Ok(m) => m,
                    Err(e) => {
                        warnings.push(
                            e.warning_kind(),
                            format!("{e} (parent dump of {}/{name})", dir.label),
                        );
                        None
                    }
                },
                _ => None,
            });
            let got = pm
                .as_ref()
                .map(|m| m.window(vaddr, vaddr + len, vaddr))
                .unwrap_or_default();
            if got.first().is_some_and(|e| e.start == vaddr)
                && got.windows(2).all(|w| w[0].end() == w[1].start)
                && got.last().is_some_and(|e| e.end() == vaddr + len)
            {
                // All there (the common case): no reason to build.
                extents.extend(got);
                continue;
            }
            let reason: Arc<str> = match (&dir.parent, &pm) {
                (None, _) => Arc::from(where_(format!(
                    "entry {i}: pages at {vaddr:#x} are in the parent dump, which is not available"
                ))),
                (Some(p), None) => Arc::from(where_(format!(
                    "entry {i}: pages at {vaddr:#x} are in the parent dump {}, which has no {name}",
                    p.label
                ))),
                (Some(p), Some(_)) => Arc::from(where_(format!(
                    "entry {i}: page at {vaddr:#x} is marked PARENT but absent from the parent dump {}",
                    p.label
                ))),
            };
            fill_gaps(vaddr, vaddr + len, got, &reason, &mut extents);
        } else if flags & PE_PRESENT != 0
            && let Some(reason) = &withheld
        {
            extents.push(Extent {
                start: vaddr,
                len,
                data: ExtentData::Broken(reason.clone()),
            });
            off = off.saturating_add(len);
        } else if flags & PE_PRESENT != 0 {
            let end = off.saturating_add(len);
            let have = pages.map(|b| b.len() as u64).unwrap_or(0);
            if end <= have {
                if let Some(b) = pages.and_then(|b| b.slice(off as usize..end as usize)) {
                    extents.push(Extent {
                        start: vaddr,
                        len,
                        data: ExtentData::Bytes(b),
                    });
                }
            } else {
                // Serve what the file has; the rest is broken, never zeros.
                let avail = have.saturating_sub(off).min(len);
                if avail > 0
                    && let Some(b) =
                        pages.and_then(|b| b.slice(off as usize..(off + avail) as usize))
                {
                    extents.push(Extent {
                        start: vaddr,
                        len: avail,
                        data: ExtentData::Bytes(b),
                    });
                }
                let msg = if pages.is_none() {
                    // One warning for the whole file (below); each extent keeps its entry.
                    missing.0 += 1;
                    missing.1 += nr_pages;
                    where_(format!("entry {i}: {pages_name} is missing"))
                } else {
                    let m = where_(format!(
                        "entry {i}: needs bytes {off:#x}..{end:#x} of {pages_name}, which has {have:#x}"
                    ));
                    warnings.push(Kind::TruncatedImage, m.clone());
                    m
                };
                extents.push(Extent {
                    start: vaddr + avail,
                    len: len - avail,
                    data: ExtentData::Broken(Arc::from(msg)),
                });
            }
            off = end;
        } else if flags & PE_LAZY != 0 {
            lazy_pages += nr_pages;
        }
    }
    if missing.0 > 0 {
        warnings.push(
            Kind::MissingImage,
            where_(format!(
                "{pages_name} is missing: the {} pages of {} entries cannot be read",
                missing.1, missing.0
            )),
        );
    }
    // Bytes the pagemap does not account for: a pagemap cut at an entry boundary looks valid, but
    // its pages file then holds more than it uses. Say so (the missing entries' pages read as holes).
    if let Some(b) = pages
        && withheld.is_none()
        && (b.len() as u64) > off
    {
        warnings.push(Kind::TruncatedImage, where_(format!(
            "{pages_name} has {} bytes past the {off} its entries use: the pagemap may be truncated",
            b.len() as u64 - off
        )));
    }
    if lazy_pages > 0 {
        warnings.push(Kind::LazyPages, where_(format!(
            "{lazy_pages} lazy pages (LAZY without PRESENT) are not in the checkpoint; they read as zeros"
        )));
    }
    let (mem, overlaps) = Memory::from_extents(extents);
    for o in overlaps {
        warnings.push(
            Kind::PagesOverlap,
            where_(format!(
                "entries overlap at {:#x}-{:#x}: those bytes fail to read (EIO)",
                o.start, o.end
            )),
        );
    }
    Ok(Some(mem))
}

/// Pushes `got` (sorted extents inside lo..hi) and a broken extent for every gap between them.
fn fill_gaps(lo: u64, hi: u64, got: Vec<Extent>, reason: &Arc<str>, out: &mut Vec<Extent>) {
    let mut at = lo;
    for e in got {
        if e.start > at {
            out.push(Extent {
                start: at,
                len: e.start - at,
                data: ExtentData::Broken(reason.clone()),
            });
        }
        at = e.end();
        out.push(e);
    }
    if at < hi {
        out.push(Extent {
            start: at,
            len: hi - at,
            data: ExtentData::Broken(reason.clone()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Blob;
    use crate::source::blob::resident;

    /// Once its index is built, a pagemap image's mapped pages leave the resident set (a
    /// fragmented dump's pagemap is about 12 bytes per dumped page, read once), and the memory
    /// still reads right.
    #[test]
    fn a_decoded_pagemap_is_not_kept_resident() {
        let n = 20_000u64;
        let runs: Vec<PageRun> = (0..n)
            .map(|i| PageRun {
                vaddr: 0x10_0000 + 2 * i * PAGE_SIZE,
                nr_pages: 1,
                flags: PE_PRESENT,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (pm, pages) = (
            dir.path().join("pagemap-1.img"),
            dir.path().join("pages-1.img"),
        );
        std::fs::write(&pm, crate::writer::encode_pagemap(1, &runs)).unwrap();
        let bytes: Vec<u8> = (0..n * PAGE_SIZE).map(|i| (i / PAGE_SIZE) as u8).collect();
        std::fs::write(&pages, &bytes).unwrap();
        let pm_blob = Blob::map_file(&pm).unwrap();
        let images = ImageDir {
            label: "t".into(),
            files: [
                ("pagemap-1.img".to_string(), pm_blob.clone()),
                ("pages-1.img".to_string(), Blob::map_file(&pages).unwrap()),
            ]
            .into(),
            parent: None,
            written: None,
        };
        assert!(pm_blob.len() > 200_000, "{}", pm_blob.len());
        let mut warnings = Warnings::new();
        let mem = load(&images, "pagemap-1.img", &mut warnings)
            .unwrap()
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(mem.extents().len() as u64, n);
        let p0 = pm_blob.bytes().as_ptr() as usize;
        let kept = (0..pm_blob.len() / 4096)
            .filter(|&i| resident(p0 + i * 4096))
            .count();
        assert_eq!(kept, 0, "pagemap pages left mapped after loading");
        let mut b = [0u8; 2];
        mem.read_at(0x10_0000 + 2 * 777 * PAGE_SIZE + 4095, &mut b)
            .unwrap();
        assert_eq!(b, [(777 % 256) as u8, 0]);
    }
}
