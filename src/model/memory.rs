//! A process's (or shared-memory object's) memory as a sorted index of extents:
//! address -> bytes in a pages blob. Everything not covered by an extent is a hole (reads as zeros).
//!
//! Extents never overlap and are sorted by address; adjacent extents whose bytes are adjacent in
//! the same blob are merged, so a read inside one contiguous run is a single slice (zero copy).
//! A range whose source is known to be broken (pages file too short, overlapping pagemap entries,
//! a PARENT page missing from the parent dump) is a [`ExtentData::Broken`] extent: reading it fails
//! instead of serving a wrong byte.

pub(super) mod load;
pub mod search;
#[cfg(test)]
pub(crate) mod testrand;

use std::sync::Arc;

use crate::source::Blob;

/// Page size of x86_64 checkpoints (never taken from the analysis host).
pub const PAGE_SIZE: u64 = 4096;

/// Where an extent's bytes come from.
#[derive(Clone, Debug)]
pub enum ExtentData {
    /// The bytes, exactly `len` of them.
    Bytes(Blob),
    /// The checkpoint claims data here but it cannot be served; the reason says why.
    Broken(Arc<str>),
}

/// A run of dumped memory at `start..start + len`.
#[derive(Clone, Debug)]
pub struct Extent {
    pub start: u64,
    pub len: u64,
    pub data: ExtentData,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }

    /// The part of this extent inside `lo..hi` (clamped), or `None` if empty.
    pub fn clip(&self, lo: u64, hi: u64) -> Option<Extent> {
        let s = self.start.max(lo);
        let e = self.end().min(hi);
        if s >= e {
            return None;
        }
        let data = match &self.data {
            ExtentData::Bytes(b) => {
                let off = (s - self.start) as usize;
                ExtentData::Bytes(b.slice(off..off + (e - s) as usize)?)
            }
            ExtentData::Broken(r) => ExtentData::Broken(r.clone()),
        };
        Some(Extent {
            start: s,
            len: e - s,
            data,
        })
    }

    /// The same extent moved to start at `start`.
    fn moved(mut self, start: u64) -> Extent {
        self.start = start;
        self
    }
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memory at {addr:#x} cannot be read: {reason}")]
pub struct ReadError {
    pub addr: u64,
    pub reason: String,
}

/// One piece of a read: either bytes to copy, a run of zeros, or a broken run.
#[derive(Debug)]
pub enum Piece<'a> {
    Data(&'a [u8]),
    Zeros(u64),
    Broken(&'a str),
}

/// The sorted, non-overlapping extent index.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    extents: Vec<Extent>,
    present: u64,
}

/// A problem found while building an index (reported as a warning by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub start: u64,
    pub end: u64,
}

impl Memory {
    /// Builds an index from extents in any order. Overlapping ranges are not guessed at: the
    /// overlapped bytes become broken (reads fail) and each overlap is returned so the caller can warn.
    pub fn from_extents(mut v: Vec<Extent>) -> (Memory, Vec<Overlap>) {
        v.retain(|e| e.len > 0);
        if !v.is_sorted_by_key(|e| e.start) {
            v.sort_by_key(|e| e.start);
        }
        if v.windows(2).all(|w| w[0].end() <= w[1].start) {
            // No overlap (the common case): merged in place, nothing cloned or allocated (a
            // fragmented dump has an extent per page: a second vector was 24 MB more per GiB).
            v.dedup_by(|e, last| merge_into(last, e));
            if v.len() < v.capacity() / 2 {
                v.shrink_to_fit();
            }
            let present = v.iter().map(|e| e.len).sum();
            return (
                Memory {
                    extents: v,
                    present,
                },
                Vec::new(),
            );
        }
        let mut out: Vec<Extent> = Vec::with_capacity(v.len());
        let mut overlaps = Vec::new();
        let mut i = 0;
        while i < v.len() {
            // A cluster: extents that overlap each other, directly or through a chain.
            let mut end = v[i].end();
            let mut j = i + 1;
            while j < v.len() && v[j].start < end {
                end = end.max(v[j].end());
                j += 1;
            }
            if j == i + 1 {
                push_merged(&mut out, v[i].clone());
            } else {
                resolve_cluster(&v[i..j], &mut out, &mut overlaps);
            }
            i = j;
        }
        let present = out.iter().map(|e| e.len).sum();
        (
            Memory {
                extents: out,
                present,
            },
            overlaps,
        )
    }

    /// The extents, sorted and non-overlapping.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// The extents with `more` added (any order; overlaps are resolved as by
    /// [`Memory::from_extents`]), without a copy of the existing ones: a fragmented dump has an
    /// extent per page, and a copy beside the index was its size again while loading.
    pub fn with(self, more: Vec<Extent>) -> (Memory, Vec<Overlap>) {
        let mut all = self.extents;
        all.reserve_exact(more.len());
        all.extend(more);
        Memory::from_extents(all)
    }

    /// The parts of `under` (sorted, non-overlapping extents) that lie in this memory's holes:
    /// each extent clipped to the gaps between this memory's extents (broken ones included, so
    /// a range whose source is broken is never papered over). How a lower layer of bytes (an
    /// object's shared content, a file's clean pages) is put under a process's own pages.
    pub fn in_holes(&self, under: Vec<Extent>) -> Vec<Extent> {
        let mut out = Vec::with_capacity(under.len());
        for e in under {
            let mut at = e.start;
            let end = e.end();
            for mine in self.extents[self.first_ending_after(at)..]
                .iter()
                .take_while(|m| m.start < end)
            {
                if mine.start > at {
                    out.extend(e.clip(at, mine.start));
                }
                at = at.max(mine.end());
            }
            if at < end {
                out.extend(e.clip(at, end));
            }
        }
        out
    }

    /// Bytes covered by extents (dumped, including broken ones).
    pub fn present_bytes(&self) -> u64 {
        self.present
    }

    /// Drops the mapped pages behind `lo..hi` from the resident set (see
    /// [`crate::source::blob::release`]; the bytes stay readable). For long scans.
    /// The extents' pages are released in batches (one system call per window of a pages file,
    /// not one per extent).
    pub fn release(&self, lo: u64, hi: u64) {
        let mut r = crate::source::blob::Releaser::new();
        for (_, p) in self.pieces(lo, hi.saturating_sub(lo)) {
            if let Piece::Data(d) = p {
                r.add(d);
            }
        }
    }

    /// The pieces of `addr..addr + len` in address order (data, holes, broken ranges), found
    /// with one lookup and a walk: cheap however many extents the range crosses.
    pub fn pieces(&self, addr: u64, len: u64) -> Pieces<'_> {
        Pieces {
            extents: &self.extents,
            i: self.first_ending_after(addr),
            addr,
            end: addr.saturating_add(len),
        }
    }

    /// Bytes covered by extents inside `lo..hi`.
    pub fn present_in(&self, lo: u64, hi: u64) -> u64 {
        let i = self.first_ending_after(lo);
        self.extents[i..]
            .iter()
            .take_while(|e| e.start < hi)
            .map(|e| e.end().min(hi) - e.start.max(lo))
            .sum()
    }

    /// True when `lo..lo + len` of `self` and `other_lo..other_lo + len` of `other` are the same
    /// bytes from the same source: the same holes, and every extent the same slice of the same
    /// blob (so a shared-memory object mapped by two processes is recognised without reading it).
    /// Broken extents never compare equal.
    pub fn same_as(&self, lo: u64, len: u64, other: &Memory, other_lo: u64) -> bool {
        let (Some(hi), Some(other_hi)) = (lo.checked_add(len), other_lo.checked_add(len)) else {
            return false;
        };
        let mine = self.extents[self.first_ending_after(lo)..]
            .iter()
            .take_while(|e| e.start < hi)
            .filter_map(|e| e.clip(lo, hi));
        let theirs = other.extents[other.first_ending_after(other_lo)..]
            .iter()
            .take_while(|e| e.start < other_hi)
            .filter_map(|e| e.clip(other_lo, other_hi));
        let mut theirs = theirs.fuse();
        for a in mine {
            let Some(b) = theirs.next() else { return false };
            let same = a.start - lo == b.start - other_lo
                && a.len == b.len
                && match (&a.data, &b.data) {
                    (ExtentData::Bytes(x), ExtentData::Bytes(y)) => {
                        std::ptr::eq(x.bytes().as_ptr(), y.bytes().as_ptr())
                    }
                    _ => false,
                };
            if !same {
                return false;
            }
        }
        theirs.next().is_none()
    }

    /// Index of the first extent whose end is > addr.
    fn first_ending_after(&self, addr: u64) -> usize {
        self.extents.partition_point(|e| e.end() <= addr)
    }

    /// The piece of memory at `addr`, at most `max` bytes long (never crossing an extent boundary).
    pub fn piece_at(&self, addr: u64, max: u64) -> Piece<'_> {
        let i = self.first_ending_after(addr);
        match self.extents.get(i) {
            Some(e) if e.start <= addr => {
                let n = (e.end() - addr).min(max);
                match &e.data {
                    ExtentData::Bytes(b) => {
                        let off = (addr - e.start) as usize;
                        Piece::Data(&b.bytes()[off..off + n as usize])
                    }
                    ExtentData::Broken(r) => Piece::Broken(r),
                }
            }
            Some(e) => Piece::Zeros((e.start - addr).min(max)),
            None => Piece::Zeros(max),
        }
    }

    /// Fills `buf` with the memory at `addr..addr + buf.len()`; holes read as zeros.
    /// Fails if any byte of the range lies in a broken extent.
    /// Copied pages of mapped pages files are released per window (see
    /// [`crate::source::blob::release_later`]).
    pub fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        for (a, p) in self.pieces(addr, buf.len() as u64) {
            match p {
                Piece::Data(d) => {
                    buf[done..done + d.len()].copy_from_slice(d);
                    // Copied: the mapped pages need not stay in our resident set.
                    crate::source::blob::release_later(d);
                    done += d.len();
                }
                Piece::Zeros(n) => {
                    let n = n as usize;
                    buf[done..done + n].fill(0);
                    done += n;
                }
                Piece::Broken(r) => {
                    return Err(ReadError {
                        addr: a,
                        reason: r.to_string(),
                    });
                }
            }
        }
        // Past the end of the address space: zeros.
        buf[done..].fill(0);
        Ok(())
    }

    /// The first address >= `addr` that holds dumped data, if any (SEEK_DATA).
    pub fn next_data(&self, addr: u64) -> Option<u64> {
        let i = self.first_ending_after(addr);
        self.extents.get(i).map(|e| e.start.max(addr))
    }

    /// The first address >= `addr` that is in a hole (SEEK_HOLE). Adjacent extents count as one run.
    pub fn next_hole(&self, addr: u64) -> u64 {
        let mut a = addr;
        let mut i = self.first_ending_after(addr);
        while let Some(e) = self.extents.get(i) {
            if e.start > a {
                break;
            }
            a = e.end();
            i += 1;
        }
        a
    }

    /// The part of this memory inside `ranges` (`start..end` each, sorted, not overlapping),
    /// at the same addresses: the rest is a hole. No byte is copied (the extents are clipped).
    pub fn restricted(&self, ranges: &[(u64, u64)]) -> Memory {
        let v: Vec<Extent> = ranges
            .iter()
            .flat_map(|&(lo, hi)| self.window(lo, hi, lo))
            .collect();
        Memory::from_extents(v).0
    }

    /// The extents inside `lo..hi`, clipped, moved by `-lo + to` (for mapping a shared-memory
    /// object's offsets to a VMA's addresses).
    pub fn window(&self, lo: u64, hi: u64, to: u64) -> Vec<Extent> {
        let i = self.first_ending_after(lo);
        self.extents[i..]
            .iter()
            .take_while(|e| e.start < hi)
            .filter_map(|e| e.clip(lo, hi))
            .map(|e| {
                let s = e.start - lo + to;
                e.moved(s)
            })
            .collect()
    }
}

/// The pieces of a range of [`Memory`], in address order: `(address, piece)`. See [`Memory::pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    extents: &'a [Extent],
    i: usize,
    addr: u64,
    end: u64,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = (u64, Piece<'a>);

    fn next(&mut self) -> Option<(u64, Piece<'a>)> {
        let a = self.addr;
        if a >= self.end {
            return None;
        }
        let max = self.end - a;
        while self.extents.get(self.i).is_some_and(|e| e.end() <= a) {
            self.i += 1;
        }
        let (n, piece) = match self.extents.get(self.i) {
            Some(e) if e.start <= a => {
                let n = (e.end() - a).min(max);
                match &e.data {
                    ExtentData::Bytes(b) => {
                        let off = (a - e.start) as usize;
                        (n, Piece::Data(&b.bytes()[off..off + n as usize]))
                    }
                    ExtentData::Broken(r) => (n, Piece::Broken(r)),
                }
            }
            Some(e) => {
                let n = (e.start - a).min(max);
                (n, Piece::Zeros(n))
            }
            None => (max, Piece::Zeros(max)),
        };
        self.addr = a + n;
        Some((a, piece))
    }
}

/// Resolves a cluster of overlapping extents (sorted by start) by a sweep over their boundaries:
/// a range covered by exactly one extent keeps that extent's bytes; a range covered by two or
/// more is broken (each maximal such range reported once). O(n log n), whatever the overlaps.
fn resolve_cluster(c: &[Extent], out: &mut Vec<Extent>, overlaps: &mut Vec<Overlap>) {
    // (position, is_start, index): ends sort before starts at the same position.
    let mut ev: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * c.len());
    for (k, e) in c.iter().enumerate() {
        ev.push((e.start, true, k));
        ev.push((e.end(), false, k));
    }
    ev.sort_unstable();
    let mut active = std::collections::BTreeSet::new();
    let mut broken: Option<(u64, u64)> = None;
    let flush = |b: &mut Option<(u64, u64)>, out: &mut Vec<Extent>, ov: &mut Vec<Overlap>| {
        if let Some((s, e)) = b.take() {
            ov.push(Overlap { start: s, end: e });
            let reason: Arc<str> = Arc::from(format!(
                "pagemap entries overlap at {s:#x}-{e:#x}: the checkpoint gives two sources for these bytes"
            ));
            push_merged(
                out,
                Extent {
                    start: s,
                    len: e - s,
                    data: ExtentData::Broken(reason),
                },
            );
        }
    };
    let mut n = 0;
    while n < ev.len() {
        let pos = ev[n].0;
        while n < ev.len() && ev[n].0 == pos {
            let (_, start, k) = ev[n];
            if start {
                active.insert(k);
            } else {
                active.remove(&k);
            }
            n += 1;
        }
        let Some(&(next, _, _)) = ev.get(n) else {
            break;
        };
        match active.len() {
            0 => flush(&mut broken, out, overlaps),
            1 => {
                flush(&mut broken, out, overlaps);
                let k = *active.first().expect("one active extent");
                if let Some(piece) = c[k].clip(pos, next) {
                    push_merged(out, piece);
                }
            }
            _ => {
                broken = match broken {
                    Some((s, e)) if e == pos => Some((s, next)),
                    other => {
                        let mut other = other;
                        flush(&mut other, out, overlaps);
                        Some((pos, next))
                    }
                };
            }
        }
    }
    flush(&mut broken, out, overlaps);
}

/// Appends `e`, merging it into the last extent when both are contiguous in address and source.
fn push_merged(out: &mut Vec<Extent>, e: Extent) {
    if let Some(last) = out.last_mut()
        && merge_into(last, &e)
    {
        return;
    }
    out.push(e);
}

/// Extends `last` by `e` when `e` follows it in memory and in the same source (or is the same
/// broken range); true when merged.
fn merge_into(last: &mut Extent, e: &Extent) -> bool {
    if last.end() != e.start {
        return false;
    }
    match (&last.data, &e.data) {
        (ExtentData::Bytes(a), ExtentData::Bytes(b)) => {
            if let Some(j) = a.join(b) {
                last.len += e.len;
                last.data = ExtentData::Bytes(j);
                return true;
            }
        }
        (ExtentData::Broken(a), ExtentData::Broken(b)) if a == b => {
            last.len += e.len;
            return true;
        }
        _ => {}
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: usize, seed: u8) -> Blob {
        Blob::from_vec((0..n).map(|i| seed.wrapping_add(i as u8)).collect())
    }

    fn ext(start: u64, b: &Blob, off: usize, len: usize) -> Extent {
        Extent {
            start,
            len: len as u64,
            data: ExtentData::Bytes(b.slice(off..off + len).unwrap()),
        }
    }

    /// `pieces` (one lookup, then a walk) gives what `piece_at` gives piece by piece, from any
    /// start, over many small extents, holes and a broken range; `read_at` reads through it.
    #[test]
    fn pieces_walk_like_piece_at() {
        let b = blob(64 * 16, 1);
        let c = blob(64, 200);
        let mut v: Vec<Extent> = (0..16)
            .map(|i| ext(0x1000 + 128 * i as u64, &b, 64 * i, 64))
            .collect();
        v.push(ext(0x1000 + 128 * 16, &c, 0, 64)); // another blob, after a hole
        v.push(ext(0x1000 + 128 * 16 + 64, &c, 0, 32)); // address-adjacent, not merged
        v.push(Extent {
            start: 0x2000,
            len: 16,
            data: ExtentData::Broken("gone".into()),
        });
        let (mem, _) = Memory::from_extents(v);
        let desc = |p: &Piece<'_>| match p {
            Piece::Data(d) => format!("d{}:{}", d.len(), d.first().copied().unwrap_or(0)),
            Piece::Zeros(n) => format!("z{n}"),
            Piece::Broken(r) => format!("b:{r}"),
        };
        for start in [
            0u64, 0xfff, 0x1000, 0x1001, 0x1040, 0x107f, 0x17c0, 0x1ff8, 0x2008,
        ] {
            for len in [0u64, 1, 63, 64, 65, 200, 0x1100, 0x2000] {
                let mut want = Vec::new();
                let mut a = start;
                while a < start + len {
                    let p = mem.piece_at(a, start + len - a);
                    let n = match &p {
                        Piece::Data(d) => d.len() as u64,
                        Piece::Zeros(n) => *n,
                        Piece::Broken(_) => {
                            let i = mem.first_ending_after(a);
                            mem.extents()[i].end().min(start + len) - a
                        }
                    };
                    want.push((a, desc(&p)));
                    a += n;
                }
                let got: Vec<(u64, String)> =
                    mem.pieces(start, len).map(|(a, p)| (a, desc(&p))).collect();
                assert_eq!(got, want, "{start:#x} +{len:#x}");
            }
        }
        let mut buf = vec![9u8; 0x100];
        mem.read_at(0x1000 + 128 * 16 - 16, &mut buf).unwrap();
        assert!(buf[..16].iter().all(|&x| x == 0));
        assert_eq!(&buf[16..80], c.bytes());
        assert_eq!(&buf[80..112], &c.bytes()[..32]);
        assert!(buf[112..].iter().all(|&x| x == 0));
        let e = mem.read_at(0x1ff0, &mut buf[..0x20]).unwrap_err();
        assert_eq!(e.addr, 0x2000);
        assert_eq!(
            mem.pieces(u64::MAX - 1, 10).count(),
            1,
            "clamped at the top"
        );
    }

    #[test]
    fn same_as_compares_sources_not_contents() {
        let b = blob(4 * 4096, 3);
        let copy = Blob::from_vec(b.bytes().to_vec());
        let m1 =
            Memory::from_extents(vec![ext(0x1000, &b, 0, 4096), ext(0x3000, &b, 8192, 4096)]).0;
        // The same object mapped elsewhere (another process), with a private page next to it.
        let p = blob(4096, 9);
        let m2 = Memory::from_extents(vec![
            ext(0x9000, &p, 0, 4096),
            ext(0xa000, &b, 0, 4096),
            ext(0xc000, &b, 8192, 4096),
        ])
        .0;
        assert!(m1.same_as(0x1000, 0x3000, &m2, 0xa000));
        assert!(m2.same_as(0xa000, 0x3000, &m1, 0x1000));
        // Shifted by a page: holes and data differ.
        assert!(!m1.same_as(0x1000, 0x3000, &m2, 0x9000));
        // Equal bytes from another source are not "the same object".
        let m3 = Memory::from_extents(vec![
            ext(0xa000, &copy, 0, 4096),
            ext(0xc000, &copy, 8192, 4096),
        ])
        .0;
        assert!(!m1.same_as(0x1000, 0x3000, &m3, 0xa000));
        // An extra page in one of them.
        let m4 = Memory::from_extents(vec![ext(0xa000, &b, 0, 3 * 4096)]).0;
        assert!(!m1.same_as(0x1000, 0x3000, &m4, 0xa000));
        // Two holes are the same.
        assert!(m1.same_as(0x20000, 0x1000, &m2, 0x40000));
        assert!(!m1.same_as(u64::MAX - 1, 16, &m2, 0));
    }

    #[test]
    fn merges_adjacent_same_blob_and_reads_across() {
        let b = blob(3 * 4096, 1);
        let (m, ov) = Memory::from_extents(vec![
            ext(0x2000, &b, 4096, 4096),
            ext(0x1000, &b, 0, 4096),
            ext(0x3000, &b, 8192, 4096),
        ]);
        assert!(ov.is_empty());
        assert_eq!(m.extents().len(), 1, "contiguous runs of one blob merge");
        let mut buf = vec![0xffu8; 0x3000 + 16];
        m.read_at(0x0ff8, &mut buf).unwrap();
        assert_eq!(&buf[..8], &[0; 8]);
        assert_eq!(&buf[8..8 + 3 * 4096], b.bytes());
        assert_eq!(&buf[8 + 3 * 4096..], &[0; 8]);
    }

    #[test]
    fn no_merge_across_blobs_or_gaps() {
        let a = blob(4096, 1);
        let b = blob(4096, 2);
        let (m, _) = Memory::from_extents(vec![ext(0x1000, &a, 0, 4096), ext(0x2000, &b, 0, 4096)]);
        assert_eq!(m.extents().len(), 2);
        let (m, _) =
            Memory::from_extents(vec![ext(0x1000, &a, 0, 2048), ext(0x2000, &a, 2048, 2048)]);
        assert_eq!(m.extents().len(), 2);
    }

    #[test]
    fn seek_data_and_hole() {
        let b = blob(4 * 4096, 0);
        let (m, _) = Memory::from_extents(vec![
            ext(0x10000, &b, 0, 4096),
            ext(0x11000, &blob(4096, 9), 0, 4096),
            ext(0x20000, &b, 8192, 4096),
        ]);
        assert_eq!(m.next_data(0), Some(0x10000));
        assert_eq!(m.next_data(0x10800), Some(0x10800));
        assert_eq!(
            m.next_hole(0x10800),
            0x12000,
            "adjacent extents from two blobs are one data run"
        );
        assert_eq!(m.next_hole(0x5000), 0x5000);
        assert_eq!(m.next_data(0x12000), Some(0x20000));
        assert_eq!(m.next_data(0x21000), None);
        assert_eq!(m.present_bytes(), 3 * 4096);
        assert_eq!(m.present_in(0x10800, 0x20800), 4096 - 0x800 + 4096 + 0x800);
    }

    #[test]
    fn overlap_is_broken_not_guessed() {
        let a = blob(2 * 4096, 1);
        let b = blob(2 * 4096, 7);
        let (m, ov) =
            Memory::from_extents(vec![ext(0x1000, &a, 0, 8192), ext(0x2000, &b, 0, 8192)]);
        assert_eq!(
            ov,
            vec![Overlap {
                start: 0x2000,
                end: 0x3000
            }]
        );
        let mut buf = [0u8; 16];
        m.read_at(0x1000, &mut buf).unwrap();
        assert_eq!(buf[0], 1);
        let err = m.read_at(0x2ff0, &mut buf).unwrap_err();
        assert_eq!(err.addr, 0x2ff0);
        assert!(err.reason.contains("overlap"));
        m.read_at(0x3000, &mut buf).unwrap();
        assert_eq!(buf[0], 7u8.wrapping_add(0)); // b's second page starts at offset 4096: 7+4096 mod 256 = 7
        // A contained overlap: the outer extent's tail survives.
        let (m, ov) =
            Memory::from_extents(vec![ext(0x1000, &a, 0, 8192), ext(0x1000, &b, 0, 4096)]);
        assert_eq!(ov.len(), 1);
        assert!(m.read_at(0x1000, &mut buf).is_err());
        m.read_at(0x2000, &mut buf).unwrap();
        assert_eq!(buf[0], 1);
    }

    /// Regression (fuzz, page_index): a third entry over a range already found doubly claimed
    /// left two overlapping extents in the index.
    #[test]
    fn overlap_of_three_stays_sorted_and_broken() {
        let a = blob(3 * 4096, 1);
        let b = blob(4096, 50);
        let c = blob(4096, 90);
        let (m, ov) = Memory::from_extents(vec![
            ext(0, &a, 0, 3 * 4096),
            ext(0x1000, &b, 0, 4096),
            ext(0x1000, &c, 0, 4096),
        ]);
        let mut end = 0;
        for e in m.extents() {
            assert!(e.start >= end, "overlapping extents: {:?}", m.extents());
            end = e.end();
        }
        assert_eq!(m.present_bytes(), 3 * 4096);
        assert_eq!(
            ov,
            vec![Overlap {
                start: 0x1000,
                end: 0x2000
            }]
        );
        let mut buf = [0u8; 16];
        m.read_at(0, &mut buf).unwrap();
        assert_eq!(buf[0], 1);
        assert!(m.read_at(0x1000, &mut buf).is_err());
        m.read_at(0x2000, &mut buf).unwrap();
        assert_eq!(buf[0], a.bytes()[0x2000]);
        // Many identical claims: linear-ish, one overlap reported.
        let many: Vec<Extent> = (0..20_000).map(|_| ext(0x1000, &b, 0, 4096)).collect();
        let (m, ov) = Memory::from_extents(many);
        assert_eq!((m.extents().len(), ov.len()), (1, 1));
        assert!(m.read_at(0x1000, &mut buf).is_err());
    }

    #[test]
    fn window_maps_offsets_to_addresses() {
        let b = blob(2 * 4096, 3);
        let (shm, _) =
            Memory::from_extents(vec![ext(0, &b, 0, 4096), ext(0x10000, &b, 4096, 4096)]);
        let w = shm.window(0x1000, 0x20000, 0x7f00_0000_0000);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].start, 0x7f00_0000_0000 + 0xf000);
        let w = shm.window(0, 0x11000, 0x1000);
        assert_eq!(
            w.iter().map(|e| e.start).collect::<Vec<_>>(),
            vec![0x1000, 0x11000]
        );
    }

    #[test]
    fn read_at_top_of_address_space() {
        let m = Memory::default();
        let mut buf = [1u8; 8];
        m.read_at(u64::MAX - 3, &mut buf).unwrap();
        assert_eq!(buf, [0; 8]);
    }

    /// `in_holes` keeps what falls between this memory's extents (broken ones count as covered)
    /// and drops the rest, whatever the alignment of the two layers.
    #[test]
    fn in_holes_clips_the_lower_layer_to_the_gaps() {
        let own = blob(0x1000, 1);
        let (mem, _) = Memory::from_extents(vec![
            ext(0x2000, &own, 0, 0x800),
            Extent {
                start: 0x3000,
                len: 0x100,
                data: ExtentData::Broken("gone".into()),
            },
        ]);
        let low = blob(0x4000, 100);
        let got = mem.in_holes(vec![
            ext(0x1800, &low, 0, 0x2000),
            ext(0x3800, &low, 0x2000, 0x100),
        ]);
        let spans: Vec<(u64, u64)> = got.iter().map(|e| (e.start, e.end())).collect();
        assert_eq!(
            spans,
            vec![
                (0x1800, 0x2000),
                (0x2800, 0x3000),
                (0x3100, 0x3800),
                (0x3800, 0x3900)
            ]
        );
        // Each piece keeps its own bytes: 0x2800 is 0x1000 into the lower extent.
        let ExtentData::Bytes(b) = &got[1].data else {
            panic!("{got:?}")
        };
        assert_eq!(b.bytes(), &low.bytes()[0x1000..0x1800]);
        assert!(Memory::default().in_holes(got.clone()).len() == got.len());
    }
}
