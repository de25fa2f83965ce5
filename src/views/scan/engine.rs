//! The window engine: a VMA's bytes in overlapping windows (borrowed from a mapped pages file
//! or assembled, holes as zeros), or its dumped bytes alone; a large VMA shared out in parts of
//! whole windows; a file's bytes in the same windows.

use std::collections::HashSet;
use std::ops::Range;

use super::matchers::{Hit, Matchers, Scanner};
use super::units::Unit;
use super::{LOOKBEHIND, OVERLAP, WINDOW};
use crate::format::escape::escape_ascii as escape;
use crate::model::memory::search::{Batch, Match, Span};
use crate::model::memory::{Extent, ExtentData, Memory, Piece};
use crate::source::Blob;
use crate::source::blob::Releaser;
use crate::warning::{Warning, Warnings};

/// Most bytes of a pages file searched in one pass when the holes are skipped (see
/// `scan_dumped`), then released: what a thread keeps mapped, unless one extent is longer.
const SCAN_BATCH: usize = 4 << 20;
/// Bytes copied into a window's buffer between two releases of the mapped pages they came from.
const COPY_RELEASE: usize = 1 << 20;
/// Longest part of a match shown in `context` (the rest is elided with `...`).
const MAX_SHOWN: usize = 64;

/// A hit placed in a unit: its address in the unit's VMA and its context text.
pub(super) struct Located {
    pub hit: Hit,
    pub addr: u64,
    pub context: String,
}

/// The window buffer `lo..hi` of `mem`: borrowed when one dumped slice covers it, else assembled
/// into `buf` (holes and broken ranges as zeros; broken bytes counted in `broken`).
fn window_bytes<'a>(
    mem: &'a Memory,
    lo: u64,
    hi: u64,
    buf: &'a mut Vec<u8>,
    broken: &mut u64,
) -> (&'a [u8], bool) {
    let i = mem.extents().partition_point(|e| e.end() <= lo);
    if let Some(Extent {
        start,
        data: ExtentData::Bytes(b),
        ..
    }) = mem.extents().get(i)
        && *start <= lo
        && mem.extents()[i].end() >= hi
    {
        let off = (lo - start) as usize;
        return (&b.bytes()[off..off + (hi - lo) as usize], true);
    }
    // Grown once per thread (a fill by `resize` is slow in unoptimised builds); each window
    // writes every byte of its part: data copied, holes and broken ranges zeroed by `fill`.
    let n = (hi - lo) as usize;
    if buf.len() < n {
        buf.resize(n, 0);
    }
    let out = &mut buf[..n];
    // One lookup, then a walk over the extents (a fragmented dump has one per page); the copied
    // pages are released in batches, not per extent, and every [`COPY_RELEASE`] bytes copied, so
    // a thread holds its buffer and little more.
    let mut rel = Releaser::new();
    let mut copied = 0;
    for (a, piece) in mem.pieces(lo, hi - lo) {
        let o = (a - lo) as usize;
        match piece {
            Piece::Data(d) => {
                out[o..o + d.len()].copy_from_slice(d);
                rel.add(d);
                copied += d.len();
                if copied >= COPY_RELEASE {
                    rel.flush();
                    copied = 0;
                }
            }
            Piece::Zeros(z) => out[o..o + z as usize].fill(0),
            Piece::Broken(_) => {
                let i = mem.extents().partition_point(|e| e.end() <= a);
                let end = mem.extents().get(i).map_or(hi, |e| e.end().min(hi));
                out[o..(end - lo) as usize].fill(0);
                *broken += end - a;
            }
        }
    }
    (&buf[..n], false)
}

/// Dumped bytes a thread takes at a time: a VMA holding more is shared out between threads in
/// parts of whole windows (a JVM or Go heap is one VMA; scanned as one unit it kept one thread
/// busy while the others waited).
pub(super) const PART: u64 = 64 << 20;

/// The parts of `range` (a unit's VMA, `present` dumped bytes) of `mem`, each a range of whole
/// windows (aligned to `range.start`, as [`scan_range`] places them) holding about `part` dumped
/// bytes; windows without a dumped byte are skipped over by a lookup, so a huge sparse
/// reservation costs what its data costs.
pub(super) fn parts(
    mem: &Memory,
    range: Range<u64>,
    present: u64,
    window: u64,
    part: u64,
) -> Vec<Range<u64>> {
    let (start, end) = (range.start, range.end);
    if present <= part {
        return std::iter::once(start..end).collect();
    }
    let mut out = Vec::new();
    let (mut from, mut w, mut acc) = (start, start, 0u64);
    while w < end {
        match mem.next_data(w) {
            // The start of the window that holds the next dumped byte (never before `w`).
            Some(d) if d < end => w = start + (d - start) / window * window,
            _ => break,
        }
        let own_end = w.saturating_add(window).min(end);
        acc += mem.present_in(w, own_end);
        w = own_end;
        if acc >= part && w < end {
            out.push(from..w);
            from = w;
            acc = 0;
        }
    }
    out.push(from..end);
    out
}

/// What one part of a unit gave: findings (one per match, not yet merged across units), the
/// broken bytes scanned as zeros, scan errors with their window's start.
#[derive(Default)]
pub(super) struct PartResult {
    pub out: Vec<Located>,
    pub broken: u64,
    pub errs: Vec<(u64, Warning)>,
}

/// Scans the windows of `part` of one unit's VMA.
pub(super) fn scan_part(
    sc: &mut Scanner<'_>,
    u: &Unit<'_>,
    part: Range<u64>,
    context: usize,
    buf: &mut Vec<u8>,
    progress: &dyn Fn(u64),
) -> PartResult {
    let mut r = PartResult::default();
    r.broken = scan_range(
        sc,
        &u.proc.memory,
        u.vma.start..u.vma.end,
        part,
        WINDOW,
        context,
        buf,
        progress,
        &mut r.out,
        &mut r.errs,
    );
    r
}

/// Scans the windows of `range` of `mem` that start in `part` (all of them when `part` is
/// `range`) in windows of `window` bytes aligned to `range.start` (see the module's
/// documentation); returns the broken bytes scanned as zeros. Scan errors go to `errs` with their
/// window's start.
#[allow(clippy::too_many_arguments)]
fn scan_range(
    sc: &mut Scanner<'_>,
    mem: &Memory,
    range: Range<u64>,
    part: Range<u64>,
    window: u64,
    context: usize,
    buf: &mut Vec<u8>,
    progress: &dyn Fn(u64),
    out: &mut Vec<Located>,
    errs: &mut Vec<(u64, Warning)>,
) -> u64 {
    let mut broken = 0u64;
    let mut hits = Vec::new();
    let mut whole = HashSet::new();
    let mut w = part.start;
    while w < part.end.min(range.end) {
        let own_end = w.saturating_add(window).min(range.end);
        let lo = w.saturating_sub(LOOKBEHIND).max(range.start);
        let hi = own_end.saturating_add(OVERLAP).min(range.end);
        let present = mem.present_in(w, own_end);
        if mem.present_in(lo, hi) > 0 && sc.dumped_only {
            let win = Window { w, own_end, lo, hi };
            scan_dumped(sc.m, mem, &win, context, buf, &mut broken, out);
        } else if mem.present_in(lo, hi) > 0 {
            let (bytes, mapped) = window_bytes(mem, lo, hi, buf, &mut broken);
            hits.clear();
            let mut e = Warnings::new();
            sc.scan(
                bytes,
                (w - lo) as usize,
                (own_end - lo) as usize,
                &mut hits,
                &mut e,
            );
            errs.extend(e.into_iter().map(|e| (w, e)));
            for h in hits.drain(..) {
                // A rule that matched without a string: once per VMA.
                if h.len == 0 && !whole.insert(h.rule.clone()) {
                    continue;
                }
                let addr = lo + h.off as u64;
                let context = context_text(bytes, h.off, h.len, context);
                out.push(Located {
                    hit: h,
                    addr,
                    context,
                });
            }
            if mapped {
                crate::source::blob::release(bytes);
            }
        }
        progress(present);
        w = own_end;
    }
    broken
}

/// The match at `off..off + len` of `b` with `context` bytes on each side, escaped.
fn context_text(b: &[u8], off: usize, len: usize, context: usize) -> String {
    let lo = off.saturating_sub(context);
    let end = (off + len).min(b.len());
    let shown_end = end.min(off + MAX_SHOWN);
    context_join(
        &b[lo..shown_end],
        shown_end < end,
        &b[end..(end + context).min(b.len())],
    )
}

/// The context before a match and its shown part, `...` when the match is cut, the context
/// after it: escaped.
fn context_join(head: &[u8], cut: bool, tail: &[u8]) -> String {
    let mut s = escape(head);
    if cut {
        s.push_str("...");
    }
    s.push_str(&escape(tail));
    s
}

/// One window of a VMA: matches belong to it when they start in `w..own_end`; it holds the bytes
/// `lo..hi` (look-behind and overlap included).
struct Window {
    w: u64,
    own_end: u64,
    lo: u64,
    hi: u64,
}

/// The bytes of `mem` at `a..b`, holes and broken ranges as zeros, appended to `v`.
fn read_zeros(mem: &Memory, a: u64, b: u64, v: &mut Vec<u8>, rel: &mut Releaser) {
    if a >= b {
        return;
    }
    for (pa, p) in mem.pieces(a, b - a) {
        match p {
            Piece::Data(d) => {
                v.extend_from_slice(d);
                rel.add(d);
            }
            Piece::Zeros(n) => v.resize(v.len() + n as usize, 0),
            Piece::Broken(_) => {
                let i = mem.extents().partition_point(|e| e.end() <= pa);
                let end = mem.extents().get(i).map_or(b, |e| e.end().min(b));
                v.resize(v.len() + (end - pa) as usize, 0);
            }
        }
    }
}

/// The IOCs' matches in window `win` of `mem`, searched in its dumped bytes only (when
/// [`Matchers::dumped_only`]): each data run of the window (address-adjacent extents, clipped to
/// `w..hi`) is searched on its own, as the window search with the holes as zeros would find it.
/// Runs of one extent whose bytes follow each other in a pages file (a fragmented dump: one per
/// pagemap entry) are searched as one slice, each hit mapped back to its run and dropped when it
/// crosses into the next ([`Batch`], as `memparse --search` does); a run of several extents is
/// copied into `buf`. The context is read from memory within `lo..hi`, holes as zeros, as the
/// window shows it. Broken bytes in `lo..hi` are counted in `broken`, as the window search counts
/// them. The pages read are released by the end of the window.
fn scan_dumped(
    m: &Matchers,
    mem: &Memory,
    win: &Window,
    context: usize,
    buf: &mut Vec<u8>,
    broken: &mut u64,
    out: &mut Vec<Located>,
) {
    let ext = mem.extents();
    let mut rel = Releaser::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut found: Vec<(usize, Match)> = Vec::new();
    // The pending batch: its first and last blobs, where it starts in the first and ends in the
    // last (byte offsets in each).
    let mut batch: Option<(&Blob, usize, &Blob, usize)> = None;
    let search = |h: &[u8], spans: &[Span], found: &mut Vec<(usize, Match)>| {
        let b = Batch { spans, h };
        let mut v = Vec::new();
        for (k, ioc) in m.iocs.iter().enumerate() {
            v.clear();
            b.find(&ioc.pattern, &mut v);
            found.extend(v.iter().filter(|x| x.addr < win.own_end).map(|&x| (k, x)));
        }
    };
    let flush = |batch: &mut Option<(&Blob, usize, &Blob, usize)>,
                 spans: &mut Vec<Span>,
                 found: &mut Vec<(usize, Match)>,
                 rel: &mut Releaser| {
        if let Some((first, a, last, b)) = batch.take()
            && let Some(t) = first.through(last)
        {
            let h = &t[a..t.len() - (last.len() - b)];
            search(h, spans, found);
            rel.add(h);
            // A batch of one pages file is released as soon as it is searched: with the
            // window's other pages pending, a thread would hold twice as much.
            if h.len() >= SCAN_BATCH / 2 {
                rel.flush();
            }
        }
        spans.clear();
    };
    let mut k = ext.partition_point(|e| e.end() <= win.lo);
    while k < ext.len() && ext[k].start < win.hi {
        let e = &ext[k];
        let ExtentData::Bytes(blob) = &e.data else {
            *broken += e.end().min(win.hi) - e.start.max(win.lo);
            k += 1;
            continue;
        };
        // The run: address-adjacent data extents from `k`.
        let mut j = k + 1;
        while j < ext.len()
            && ext[j].start < win.hi
            && ext[j].start == ext[j - 1].end()
            && matches!(ext[j].data, ExtentData::Bytes(_))
        {
            j += 1;
        }
        let (s, t) = (e.start.max(win.w), ext[j - 1].end().min(win.hi));
        if s >= t {
            k = j;
            continue;
        }
        if j == k + 1 {
            let (a, b) = ((s - e.start) as usize, (t - e.start) as usize);
            let total = spans.last().map_or(0, |x| x.end);
            let joins = matches!(batch, Some((_, _, last, lb))
                if lb == last.len() && a == 0 && last.is_followed_by(blob)
                    && total + (b - a) <= SCAN_BATCH);
            if !joins {
                flush(&mut batch, &mut spans, &mut found, &mut rel);
            }
            let off = spans.last().map_or(0, |x| x.end);
            spans.push(Span {
                off,
                end: off + (b - a),
                addr: s,
            });
            batch = Some(match batch {
                Some((first, fa, _, _)) if joins => (first, fa, blob, b),
                _ => (blob, a, blob, b),
            });
        } else {
            flush(&mut batch, &mut spans, &mut found, &mut rel);
            buf.clear();
            read_zeros(mem, s, t, buf, &mut rel);
            spans.push(Span {
                off: 0,
                end: buf.len(),
                addr: s,
            });
            search(buf, &spans, &mut found);
            spans.clear();
        }
        k = j;
    }
    flush(&mut batch, &mut spans, &mut found, &mut rel);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    for (i, x) in found {
        let ioc = &m.iocs[i];
        // As `context_text` over the window's bytes.
        let end = (x.addr + x.len as u64).min(win.hi);
        let shown_end = end.min(x.addr + MAX_SHOWN as u64);
        head.clear();
        tail.clear();
        let from = x.addr.saturating_sub(context as u64).max(win.lo);
        read_zeros(mem, from, shown_end, &mut head, &mut rel);
        let to = end.saturating_add(context as u64).min(win.hi);
        read_zeros(mem, end, to, &mut tail, &mut rel);
        out.push(Located {
            hit: Hit {
                rule: ioc.kind.into(),
                string: ioc.text.clone(),
                off: (x.addr - win.lo) as usize,
                len: x.len,
            },
            addr: x.addr,
            context: context_join(&head, shown_end < end, &tail),
        });
    }
}

/// Scans contiguous bytes (a file) in the same windows as a VMA; offsets as `addr`.
pub(super) fn scan_slice(
    sc: &mut Scanner<'_>,
    bytes: &[u8],
    context: usize,
    warnings: &mut Warnings,
) -> Vec<Located> {
    let mut out = Vec::new();
    let mut hits = Vec::new();
    let mut whole = HashSet::new();
    let len = bytes.len() as u64;
    let mut w = 0u64;
    while w < len {
        let own_end = w.saturating_add(WINDOW).min(len);
        let lo = w.saturating_sub(LOOKBEHIND);
        let hi = own_end.saturating_add(OVERLAP).min(len);
        let win = &bytes[lo as usize..hi as usize];
        sc.scan(
            win,
            (w - lo) as usize,
            (own_end - lo) as usize,
            &mut hits,
            warnings,
        );
        for h in hits.drain(..) {
            if h.len == 0 && !whole.insert(h.rule.clone()) {
                continue;
            }
            let context = context_text(win, h.off, h.len, context);
            out.push(Located {
                addr: lo + h.off as u64,
                hit: h,
                context,
            });
        }
        crate::source::blob::release(win);
        w = own_end;
    }
    out
}

/// Memmem over a window, for tests of the window logic.
#[cfg(test)]
fn find_literal(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    memchr::memmem::find_iter(hay, needle).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::testrand;
    use crate::views::scan::matchers::{ioc_regex, ioc_string};

    fn ext(start: u64, b: &Blob) -> Extent {
        Extent {
            start,
            len: b.len() as u64,
            data: ExtentData::Bytes(b.clone()),
        }
    }

    #[test]
    fn escape_and_context() {
        assert_eq!(escape(b"a\\b\x00\xff~"), "a\\\\b\\x00\\xff~");
        let b = b"..xxKEYxx..";
        assert_eq!(context_text(b, 4, 3, 2), "xxKEYxx");
        assert_eq!(context_text(b, 0, 2, 5), "..xxKEY");
        let long = vec![b'A'; 100];
        let t = context_text(&long, 0, 100, 0);
        assert_eq!(t, format!("{}...", "A".repeat(64)));
    }

    #[test]
    fn window_bytes_borrows_or_assembles() {
        let a = Blob::from_vec(b"abcdefgh".to_vec());
        let c = Blob::from_vec(b"ABCD".to_vec());
        let (mem, _) = Memory::from_extents(vec![
            ext(0x1000, &a),
            ext(0x1010, &c),
            Extent {
                start: 0x1020,
                len: 4,
                data: ExtentData::Broken("gone".into()),
            },
        ]);
        let mut buf = Vec::new();
        let mut broken = 0;
        let (b, mapped) = window_bytes(&mem, 0x1002, 0x1006, &mut buf, &mut broken);
        assert!(mapped);
        assert_eq!(b, b"cdef");
        let (b, mapped) = window_bytes(&mem, 0x1006, 0x1024, &mut buf, &mut broken);
        assert!(!mapped);
        let mut want = b"gh".to_vec();
        want.extend([0; 8]);
        want.extend(b"ABCD");
        want.extend([0; 12]);
        want.extend([0; 4]);
        assert_eq!(b, &want[..]);
        assert_eq!(broken, 4);
        assert_eq!(find_literal(b, b"ABCD"), vec![10]);
        // A reused buffer: holes and broken bytes are zeroed again, not left from before.
        buf.fill(0xff);
        let (b, _) = window_bytes(&mem, 0x1006, 0x1024, &mut buf, &mut broken);
        assert_eq!(b, &want[..]);
    }

    /// A finding as a comparable row: address, length, rule, string, context.
    type Row = (u64, usize, String, String, String);

    fn rows(mut v: Vec<Located>) -> Vec<Row> {
        let mut r: Vec<_> = v
            .drain(..)
            .map(|l| (l.addr, l.hit.len, l.hit.rule, l.hit.string, l.context))
            .collect();
        r.sort();
        r
    }

    /// `range` of `mem` scanned in windows of `window` bytes, in the dumped bytes alone or with
    /// the holes as zeros: the findings and the broken bytes counted.
    fn scan_both(
        m: &Matchers,
        mem: &Memory,
        range: Range<u64>,
        window: u64,
        context: usize,
    ) -> [(Vec<Row>, u64); 2] {
        [true, false].map(|dumped_only| {
            let mut sc = m.scanner();
            sc.dumped_only = dumped_only;
            let (mut out, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
            let range = range.clone();
            let broken = scan_range(
                &mut sc,
                mem,
                range.clone(),
                range,
                window,
                context,
                &mut buf,
                &|_| {},
                &mut out,
                &mut errs,
            );
            assert!(errs.is_empty());
            (rows(out), broken)
        })
    }

    /// Differential: fragmented memory (thousands of tiny extents of a mapped pages file, most a
    /// hole apart, some address-adjacent to the previous one from another file or from a later
    /// place of the same file, some broken) scanned in the dumped bytes alone finds exactly what
    /// the window search with the holes as zeros finds — addresses, lengths, contexts (zeros of
    /// the holes included), overlapping literal hits, leftmost-first regex matches, matches
    /// across address-adjacent extents, none across a hole — in small windows and in one
    /// window, every IOC alone and all together.
    #[test]
    fn dumped_bytes_alone_find_what_the_windows_find() {
        let mut rnd = testrand::xorshift(0x2545_f491_4f6c_dd1d);
        let file = testrand::text(&mut rnd, b"AAABx\n- B", 2 << 20);
        let f = testrand::fragmented(&mut rnd, &file, 0x10_0000);
        let (v, adjacent, mut crossing) = (f.extents, f.adjacent, 0);
        let end = f.end + 100;
        let (mem, ov) = Memory::from_extents(v);
        assert!(ov.is_empty());
        assert!(mem.extents().len() > 4_000, "{}", mem.extents().len());
        assert!(adjacent > 500);
        let iocs = || {
            vec![
                ioc_string("A").unwrap(),
                ioc_string("AB").unwrap(),
                ioc_string("BAAB").unwrap(),
                ioc_string("AAAAAB").unwrap(),
                ioc_string("\nB-").unwrap(),
                ioc_regex("AB+A").unwrap(),
                ioc_regex("A{4,}").unwrap(),
                ioc_regex("A[^\n\x00]*B").unwrap(),
                ioc_regex("[AB -]+").unwrap(),
                ioc_regex("B?").unwrap(),
                ioc_regex("(A|AB)(x|BA)").unwrap(),
            ]
        };
        let all = Matchers {
            iocs: iocs(),
            #[cfg(feature = "yara")]
            rules: None,
        };
        assert!(all.dumped_only());
        let ext = mem.extents();
        for window in [64 << 10, WINDOW] {
            for (i, ioc) in iocs().into_iter().enumerate() {
                let name = ioc.text.clone();
                let m = Matchers {
                    iocs: vec![ioc],
                    #[cfg(feature = "yara")]
                    rules: None,
                };
                let [(got, gb), (want, wb)] = scan_both(&m, &mem, 0x10_0000 - 300..end, window, 7);
                assert!(want.len() > 100, "{name}: {} matches", want.len());
                assert_eq!(gb, wb, "{name}: broken bytes");
                testrand::assert_same(&format!("{name}, window {window}"), &got, &want);
                // Matches across two address-adjacent extents exist (the literals and regexes
                // that need more than one byte), none crosses a hole.
                for (a, len, ..) in &want {
                    let k = ext.partition_point(|e| e.end() <= *a);
                    let mut e = k;
                    while ext[e].end() < a + *len as u64 {
                        assert_eq!(ext[e].end(), ext[e + 1].start, "{name}: across a hole");
                        e += 1;
                    }
                    crossing += usize::from(e > k && i > 0);
                }
            }
            let [(got, _), (want, _)] = scan_both(&all, &mem, 0x10_0000 - 300..end, window, 7);
            assert_eq!(got, want, "all IOCs together");
        }
        assert!(crossing > 100, "{crossing} matches across extents");
        assert_eq!(
            f.file.bytes(),
            &file[..],
            "released pages read back unchanged"
        );
    }

    /// A large VMA is scanned in parts by several threads: the parts cover it, start on its
    /// windows, hold about `part` dumped bytes each (a long empty stretch adds no part), and
    /// scanned one by one they find exactly what the whole VMA scanned at once finds — matches
    /// across the parts' boundaries, contexts, broken bytes — in both search paths.
    #[test]
    fn parts_find_what_the_whole_vma_finds() {
        let mut rnd = testrand::xorshift(0x9e37_79b9_7f4a_7c15);
        let data = testrand::text(&mut rnd, b"AAABx B", 3 << 20);
        let blob = Blob::from_vec(data);
        let (window, part) = (64u64 << 10, 256u64 << 10);
        let start = 0x40_0000u64;
        let mut v = Vec::new();
        let (mut addr, mut off) = (start + 100, 0usize);
        while off + 40_000 < blob.len() {
            let len = 1 + rnd(30_000) as usize;
            v.push(if rnd(25) == 0 {
                Extent {
                    start: addr,
                    len: len as u64,
                    data: ExtentData::Broken("test".into()),
                }
            } else {
                let e = Extent {
                    start: addr,
                    len: len as u64,
                    data: ExtentData::Bytes(blob.slice(off..off + len).unwrap()),
                };
                off += len;
                e
            });
            addr += len as u64 + rnd(3) * rnd(4096);
            if off > blob.len() / 2 && off < blob.len() / 2 + 40_000 {
                addr += 1 << 30; // a long empty stretch: no part of its own
            }
        }
        let end = addr + 5000;
        let (mem, ov) = Memory::from_extents(v);
        assert!(ov.is_empty());
        let present = mem.present_in(start, end);
        let ps = parts(&mem, start..end, present, window, part);
        assert_eq!(ps.first().map(|p| p.start), Some(start));
        assert_eq!(ps.last().map(|p| p.end), Some(end));
        assert!(
            ps.len() as u64 >= present / (part + window),
            "{} parts",
            ps.len()
        );
        assert!(ps.len() as u64 <= present / part + 1, "{} parts", ps.len());
        for (i, p) in ps.iter().enumerate() {
            assert_eq!((p.start - start) % window, 0, "part {i} starts on a window");
            if i + 1 < ps.len() {
                assert_eq!(p.end, ps[i + 1].start);
                assert!(mem.present_in(p.start, p.end) >= part, "part {i}");
            }
        }
        let one = parts(&mem, start..end, present, window, present);
        assert_eq!((one.len(), one[0].clone()), (1, start..end));
        let m = Matchers {
            iocs: vec![
                ioc_string("AAAB").unwrap(),
                ioc_regex("A+B[ AB]{0,30}x").unwrap(),
                ioc_regex("B\\x00*A").unwrap(),
            ],
            #[cfg(feature = "yara")]
            rules: None,
        };
        for dumped_only in [true, false] {
            let scan = |part: Range<u64>| {
                let mut sc = m.scanner();
                sc.dumped_only = dumped_only;
                let (mut out, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
                let b = scan_range(
                    &mut sc,
                    &mem,
                    start..end,
                    part,
                    window,
                    5,
                    &mut buf,
                    &|_| {},
                    &mut out,
                    &mut errs,
                );
                assert!(errs.is_empty());
                (out, b)
            };
            let (whole, whole_broken) = scan(start..end);
            let (mut split, mut split_broken) = (Vec::new(), 0);
            for p in &ps {
                let (o, b) = scan(p.clone());
                split.extend(o);
                split_broken += b;
            }
            let (whole, split) = (rows(whole), rows(split));
            assert!(whole.len() > 1000, "{} matches", whole.len());
            assert_eq!(split, whole, "dumped only: {dumped_only}");
            assert_eq!(split_broken, whole_broken);
            assert!(whole_broken > 0);
            // Some match starts before a part's end and ends after it.
            assert!(
                ps.iter().any(|p| whole
                    .iter()
                    .any(|(a, len, ..)| *a < p.end && a + *len as u64 > p.end)),
                "no match across a part boundary"
            );
        }
    }

    /// The context of a match next to a hole shows the hole's zeros, as the memory file does.
    #[test]
    fn context_next_to_a_hole_shows_zeros() {
        let a = Blob::from_vec(b"..KEY".to_vec());
        let b = Blob::from_vec(b"KEY..".to_vec());
        let (mem, _) = Memory::from_extents(vec![ext(0x1000, &a), ext(0x1008, &b)]);
        let m = Matchers {
            iocs: vec![ioc_string("KEY").unwrap()],
            #[cfg(feature = "yara")]
            rules: None,
        };
        let [(got, _), (want, _)] = scan_both(&m, &mem, 0x1000..0x2000, WINDOW, 4);
        assert_eq!(got, want);
        let ctx: Vec<&str> = got.iter().map(|r| r.4.as_str()).collect();
        assert_eq!(
            ctx,
            vec!["..KEY\\x00\\x00\\x00K", "Y\\x00\\x00\\x00KEY..\\x00\\x00"]
        );
    }
}
