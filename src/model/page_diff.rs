//! Page-level comparison of two memories (two checkpoints of one process, or a pre-dump and a
//! dump): which pages changed, appeared, disappeared, or cannot be read, in one walk over the
//! pages either has, releasing what was compared as it goes (bounded resident set). Used by
//! `ckptfs diff`.

use serde::Serialize;

use super::memory::{Extent, ExtentData, Memory, PAGE_SIZE};

/// Page counts of a page-level comparison.
#[derive(Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pages {
    /// Dumped in both, content differs.
    pub changed: u64,
    /// Dumped only in B.
    pub added: u64,
    /// Dumped only in A.
    pub removed: u64,
    /// Dumped in both and equal.
    pub unchanged: u64,
    /// Cannot be read in A or B (broken extents).
    pub unreadable: u64,
}

impl Pages {
    /// Any page that is not unchanged.
    pub fn any_change(&self) -> bool {
        self.changed + self.added + self.removed + self.unreadable > 0
    }
    /// Adds `o`'s counts.
    pub fn add(&mut self, o: &Pages) {
        self.changed += o.changed;
        self.added += o.added;
        self.removed += o.removed;
        self.unchanged += o.unchanged;
        self.unreadable += o.unreadable;
    }
}

/// What one page is in a comparison of two memories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageChange {
    Changed,
    Added,
    Removed,
    Unchanged,
    Unreadable,
}

impl Pages {
    fn count(&mut self, c: PageChange) {
        match c {
            PageChange::Changed => self.changed += 1,
            PageChange::Added => self.added += 1,
            PageChange::Removed => self.removed += 1,
            PageChange::Unchanged => self.unchanged += 1,
            PageChange::Unreadable => self.unreadable += 1,
        }
    }
}

/// Compares the pages of `a` and `b` in `lo..hi` (page-aligned), one page at a time, skipping
/// what neither has.
pub fn compare_pages(a: &Memory, b: &Memory, lo: u64, hi: u64) -> Pages {
    let mut n = Pages::default();
    walk_pages(a, b, lo, hi, |_, c| n.count(c));
    n
}

/// Calls `f(page address, change)` for every page in `lo..hi` that `a` or `b` has, in address
/// order. One lookup per memory, then a walk: a cursor into each extent list only moves forward
/// (many small extents cost what few big ones do, per page).
fn walk_pages(a: &Memory, b: &Memory, lo: u64, hi: u64, mut f: impl FnMut(u64, PageChange)) {
    let mut ba = vec![0u8; PAGE_SIZE as usize];
    let mut bb = vec![0u8; PAGE_SIZE as usize];
    let mut addr = lo & !(PAGE_SIZE - 1);
    let mut released = addr;
    let mut ca = Cursor::new(a, addr);
    let mut cb = Cursor::new(b, addr);
    while addr < hi {
        let next = match (ca.next_data(addr), cb.next_data(addr)) {
            (None, None) => break,
            (Some(x), None) | (None, Some(x)) => x,
            (Some(x), Some(y)) => x.min(y),
        };
        if next >= hi {
            break;
        }
        let page = next & !(PAGE_SIZE - 1);
        let end = page.saturating_add(PAGE_SIZE).min(hi);
        let (in_a, in_b) = (ca.present(page, end), cb.present(page, end));
        match (in_a, in_b) {
            (true, true) => {
                let len = (end - page) as usize;
                let same = match (ca.whole(page, end), cb.whole(page, end)) {
                    (Some(x), Some(y)) => Some(x == y),
                    _ => match (
                        a.read_at(page, &mut ba[..len]),
                        b.read_at(page, &mut bb[..len]),
                    ) {
                        (Ok(()), Ok(())) => Some(ba[..len] == bb[..len]),
                        _ => None,
                    },
                };
                f(
                    page,
                    match same {
                        Some(true) => PageChange::Unchanged,
                        Some(false) => PageChange::Changed,
                        None => PageChange::Unreadable,
                    },
                );
            }
            (true, false) => f(page, PageChange::Removed),
            (false, true) => f(page, PageChange::Added),
            (false, false) => {}
        }
        if end <= addr {
            break;
        }
        addr = end;
        // Keep the resident set bounded on big processes: drop what was compared so far.
        if addr - released >= RELEASE_EVERY {
            a.release(released, addr);
            b.release(released, addr);
            released = addr;
        }
    }
    a.release(released, addr);
    b.release(released, addr);
}

/// A forward-only position in a memory's extent list, for walks in address order.
struct Cursor<'a> {
    extents: &'a [Extent],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(m: &'a Memory, addr: u64) -> Cursor<'a> {
        let extents = m.extents();
        Cursor {
            extents,
            i: extents.partition_point(|e| e.end() <= addr),
        }
    }

    /// Moves past the extents that end at or before `addr` (never backwards); the current one.
    fn at(&mut self, addr: u64) -> Option<&'a Extent> {
        while self.extents.get(self.i).is_some_and(|e| e.end() <= addr) {
            self.i += 1;
        }
        self.extents.get(self.i)
    }

    /// The first dumped address >= `addr` (as [`Memory::next_data`]).
    fn next_data(&mut self, addr: u64) -> Option<u64> {
        self.at(addr).map(|e| e.start.max(addr))
    }

    /// Whether any byte of `lo..hi` is dumped (as `present_in(lo, hi) > 0`).
    fn present(&mut self, lo: u64, hi: u64) -> bool {
        self.at(lo).is_some_and(|e| e.start < hi)
    }

    /// The bytes of `lo..hi` when one extent holds them all.
    fn whole(&mut self, lo: u64, hi: u64) -> Option<&'a [u8]> {
        match self.at(lo) {
            Some(Extent {
                start,
                len,
                data: ExtentData::Bytes(b),
            }) if *start <= lo && start + len >= hi => {
                let off = (lo - start) as usize;
                b.bytes().get(off..off + (hi - lo) as usize)
            }
            _ => None,
        }
    }
}

/// The pages of the whole of `a` and `b` and of each of `ranges` (sorted, page-aligned, possibly
/// overlapping: a VMA that grew is one range in A and another in B), in one walk.
pub fn compare_pages_by_range(
    a: &Memory,
    b: &Memory,
    ranges: &[(u64, u64)],
) -> (Pages, Vec<Pages>) {
    compare_pages_by_range_with(a, b, ranges, |_, _| {})
}

/// [`compare_pages_by_range`], calling `on_change(page, change)` for every page that is not
/// unchanged, in address order, while its bytes are still mapped (`a.read_at` / `b.read_at` in
/// it cost no second mapping).
pub fn compare_pages_by_range_with(
    a: &Memory,
    b: &Memory,
    ranges: &[(u64, u64)],
    mut on_change: impl FnMut(u64, PageChange),
) -> (Pages, Vec<Pages>) {
    let mut total = Pages::default();
    let mut each = vec![Pages::default(); ranges.len()];
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    walk_pages(a, b, 0, u64::MAX, |page, c| {
        total.count(c);
        if c != PageChange::Unchanged {
            on_change(page, c);
        }
        while next < ranges.len() && ranges[next].0 <= page {
            active.push(next);
            next += 1;
        }
        active.retain(|&i| ranges[i].1 > page);
        for &i in &active {
            each[i].count(c);
        }
    });
    (total, each)
}

/// How much address space [`compare_pages`] walks between two releases of the mapped pages. Both
/// checkpoints hold that much mapped (and the release rounds to 2 MiB): with 8 MiB, `diff` of two
/// one-page-run checkpoints of 2 GiB peaked at 69 MiB, with 2 MiB at 57 MiB, in the same time
/// (docs/performance.md, rows 10).
const RELEASE_EVERY: u64 = 2 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::{Extent, ExtentData};
    use crate::source::Blob;

    fn mem(chunks: &[(u64, Vec<u8>)]) -> Memory {
        Memory::from_extents(
            chunks
                .iter()
                .map(|(a, b)| Extent {
                    start: *a,
                    len: b.len() as u64,
                    data: ExtentData::Bytes(Blob::from_vec(b.clone())),
                })
                .collect(),
        )
        .0
    }

    /// One walk gives, for the whole and for each (overlapping) range, what a walk of that range
    /// alone gives.
    #[test]
    fn one_walk_counts_every_range_like_its_own_walk() {
        let page = |f: u8| vec![f; 4096];
        let a = mem(&[
            (0x10000, [page(1), page(2), page(3)].concat()),
            (0x20000, page(5)),
            (0x40000, page(7)),
        ]);
        let b = mem(&[
            (0x10000, [page(1), page(9)].concat()),
            (0x30000, page(6)),
            (0x40000, page(7)),
            (0x50000, page(8)),
        ]);
        // A VMA that shrank (two keys with one start), one that only B has, a gap between.
        let ranges = [
            (0x10000, 0x12000),
            (0x10000, 0x13000),
            (0x20000, 0x21000),
            (0x30000, 0x31000),
            (0x40000, 0x60000),
        ];
        let (total, each) = compare_pages_by_range(&a, &b, &ranges);
        assert_eq!(total, compare_pages(&a, &b, 0, u64::MAX));
        for (r, got) in ranges.iter().zip(&each) {
            assert_eq!(*got, compare_pages(&a, &b, r.0, r.1), "{r:x?}");
        }
        assert_eq!(
            (total.changed, total.added, total.removed, total.unchanged),
            (1, 2, 2, 2)
        );
    }

    /// Many small extents (one page, holes between, partial pages, pieces of two blobs): the
    /// forward-only walk counts what a page-by-page oracle of lookups counts.
    #[test]
    fn fragmented_walk_matches_a_page_by_page_oracle() {
        let base = 0x7f00_0000_0000u64;
        let mut ea = Vec::new();
        let mut eb = Vec::new();
        for i in 0..2000u64 {
            let at = base + 2 * i * 4096;
            let fill = (i % 251) as u8;
            if i % 7 != 0 {
                ea.push((at, vec![fill; 4096]));
            }
            match i % 5 {
                0 => {}                                               // B lacks it
                1 => eb.push((at, vec![fill.wrapping_add(1); 4096])), // changed
                2 => {
                    // half a page from one blob, half from another (equal bytes)
                    eb.push((at, vec![fill; 2048]));
                    eb.push((at + 2048, vec![fill; 2048]));
                }
                3 => eb.push((at + 4096, vec![fill; 100])), // a partial page in A's hole
                _ => eb.push((at, vec![fill; 4096])),
            }
        }
        let (a, b) = (mem(&ea), mem(&eb));
        let mut want = Pages::default();
        let (mut x, mut y) = (vec![0u8; 4096], vec![0u8; 4096]);
        for i in 0..2 * 2000u64 + 2 {
            let p = base + i * 4096;
            let (in_a, in_b) = (a.present_in(p, p + 4096) > 0, b.present_in(p, p + 4096) > 0);
            want.count(match (in_a, in_b) {
                (true, true) => {
                    a.read_at(p, &mut x).unwrap();
                    b.read_at(p, &mut y).unwrap();
                    if x == y {
                        PageChange::Unchanged
                    } else {
                        PageChange::Changed
                    }
                }
                (true, false) => PageChange::Removed,
                (false, true) => PageChange::Added,
                (false, false) => continue,
            });
        }
        assert_eq!(compare_pages(&a, &b, 0, u64::MAX), want);
        assert!(want.changed > 0 && want.added > 0 && want.removed > 0 && want.unchanged > 0);
        // From the middle of an extent.
        let from = base + 2 * 1000 * 4096 + 100;
        let mut half = Pages::default();
        walk_pages(&a, &b, from, u64::MAX, |_, c| half.count(c));
        assert!(half.unchanged + half.changed < want.unchanged + want.changed);
    }

    #[test]
    fn page_level_comparison() {
        let page = |f: u8| vec![f; 4096];
        let mut two = page(1);
        two.extend(page(2));
        let mut two_b = page(1);
        two_b.extend(page(9));
        let a = mem(&[(0x10000, two), (0x20000, page(5)), (0x40000, page(7))]);
        // B: page 0x11000 changed (and comes from two different blobs), 0x20000 gone,
        // 0x30000 new, 0x40000 equal.
        let b = mem(&[
            (0x10000, two_b[..4096].to_vec()),
            (0x11000, two_b[4096..].to_vec()),
            (0x30000, page(3)),
            (0x40000, page(7)),
        ]);
        let n = compare_pages(&a, &b, 0, u64::MAX);
        assert_eq!(
            n,
            Pages {
                changed: 1,
                added: 1,
                removed: 1,
                unchanged: 2,
                unreadable: 0
            }
        );
        // Restricted to one range.
        let n = compare_pages(&a, &b, 0x11000, 0x12000);
        assert_eq!((n.changed, n.unchanged), (1, 0));
        // A broken page is never "equal".
        let broken = Memory::from_extents(vec![Extent {
            start: 0x40000,
            len: 4096,
            data: ExtentData::Broken("pages file too short".into()),
        }])
        .0;
        let n = compare_pages(&a, &broken, 0x40000, 0x41000);
        assert_eq!(n.unreadable, 1);
        // One changed byte is a changed page.
        let mut p = page(7);
        p[4095] = 8;
        let c = mem(&[(0x40000, p)]);
        assert_eq!(compare_pages(&a, &c, 0x40000, 0x41000).changed, 1);
    }
}
