//! The memory search engine of `memparse --search` / `--search-regex`, in the model so that
//! every layer above it (views, render) can search a process's memory.
//!
//! A process's dumped memory ([`Memory`]) is a sorted list of extents, each a slice of a pages
//! file. The search walks **data runs**: maximal groups of address-adjacent extents (a run can be
//! made of several pagemap entries and several pages files, e.g. private pages next to a parent
//! dump's pages). Within a run every byte is searched as if the run were one buffer, so a match
//! that crosses a page, a pagemap entry or an extent boundary is found, at its exact address.
//! Between runs lies a hole (memory that is not in the checkpoint): nothing matches across it.
//!
//! - A **string** (`memchr::memmem`) is found at *every* address where it occurs, overlapping
//!   occurrences included (`aa` in `aaaa`: three matches), so the result does not depend on how
//!   the memory is split into extents. Each slice is searched in place (no copy); at each boundary
//!   between two slices of a run, the last `len - 1` bytes before it (carried over, across short
//!   slices too) and the first `len - 1` after it are searched for the matches that straddle it.
//! - A **regex** (`regex::bytes`, Unicode off: `.` matches any byte but `\n`) is searched in
//!   windows of [`REGEX_WINDOW`] bytes that overlap the next window by [`MAX_REGEX_MATCH`] bytes
//!   (and look [`REGEX_LOOKBEHIND`] bytes back for `\b`-style assertions); a match belongs to the
//!   window in which it starts, matches do not overlap (leftmost-first, as `grep -o`), and a match
//!   is at most about [`MAX_REGEX_MATCH`] bytes long (a longer one is cut). Empty matches are
//!   ignored.
//! - Extents the checkpoint claims but cannot serve (broken) end a run and are reported, not
//!   searched.
//!
//! Cost: one pass over the dumped bytes (page cache speed for mapped pages files); nothing is
//! copied except the few bytes around slice boundaries and regex windows that straddle slices.

use std::borrow::Cow;

use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};

use crate::model::memory::{Extent, ExtentData, Memory, Piece};
use crate::source::blob::Releaser;

/// Bytes of a regex window (the overlap comes on top).
pub const REGEX_WINDOW: usize = 1 << 20;
/// Literal search scans a piece this much at a time and then releases the scanned pages (see
/// [`Releaser`]), so the resident set stays bounded however large one dumped run is.
const SCAN_CHUNK: usize = 8 << 20;
/// The longest regex match found whole; windows overlap by this much.
pub const MAX_REGEX_MATCH: usize = 4096;
/// Bytes before a regex window given to the engine as context for look-around assertions.
pub const REGEX_LOOKBEHIND: usize = 64;

/// What to look for.
pub enum Pattern {
    /// A byte string (every occurrence, overlapping ones included).
    Literal(Box<memmem::Finder<'static>>),
    /// A regular expression over bytes (non-overlapping, leftmost-first).
    Regex(Regex),
}

impl Pattern {
    /// A string pattern; an empty one is refused.
    pub fn literal(s: &[u8]) -> Result<Pattern, String> {
        if s.is_empty() {
            return Err("the search string is empty".into());
        }
        Ok(Pattern::Literal(Box::new(
            memmem::Finder::new(s).into_owned(),
        )))
    }

    /// A regex pattern, compiled for bytes with Unicode off.
    pub fn regex(s: &str) -> Result<Pattern, String> {
        RegexBuilder::new(s)
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .map(Pattern::Regex)
            .map_err(|e| {
                format!(
                    "invalid regular expression: {}",
                    e.to_string().replace('\n', " ")
                )
            })
    }
}

impl Pattern {
    /// True when no match can contain a zero byte and whether bytes match does not depend on the
    /// bytes around them (a literal without `\0`; a regex without look-around assertions none of
    /// whose literals and classes holds `\0`, judged from its parsed form, conservatively). Such
    /// a pattern finds nothing in a hole read as zeros, nor across one: searching the dumped
    /// bytes alone finds what a search of memory with its holes as zeros finds (`scan`).
    pub fn skips_zeros(&self) -> bool {
        match self {
            Pattern::Literal(f) => !f.needle().contains(&0),
            Pattern::Regex(re) => parse(re.as_str())
                .is_some_and(|h| h.properties().look_set().is_empty() && !may_hold_zero(&h)),
        }
    }
}

/// `pattern` parsed as [`Pattern::regex`] compiles it.
fn parse(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
}

/// True when some literal or class of `h` holds the byte 0 (reachable or not).
fn may_hold_zero(h: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(l) => l.0.contains(&0),
        HirKind::Class(Class::Bytes(c)) => c.ranges().first().is_some_and(|r| r.start() == 0),
        HirKind::Class(Class::Unicode(c)) => c.ranges().first().is_some_and(|r| r.start() == '\0'),
        HirKind::Repetition(r) => may_hold_zero(&r.sub),
        HirKind::Capture(c) => may_hold_zero(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(may_hold_zero),
    }
}

/// One match: its address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub addr: u64,
    pub len: usize,
}

/// A range the checkpoint claims but cannot serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub start: u64,
    pub len: u64,
    pub reason: String,
}

/// A maximal run of address-contiguous dumped bytes: its slices in address order.
#[derive(Debug)]
pub struct Run<'a> {
    pub start: u64,
    pub pieces: Vec<&'a [u8]>,
    /// Start offset (from `start`) of each piece.
    offsets: Vec<u64>,
    pub len: u64,
}

impl<'a> Run<'a> {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }

    /// Schedules the pages of the pieces under `lo..hi` for release (see [`Releaser`]; the bytes
    /// stay readable).
    pub fn release(&self, lo: u64, hi: u64, rel: &mut Releaser) {
        let i = self
            .offsets
            .partition_point(|&o| o + self.start <= lo)
            .saturating_sub(1);
        for (&o, &p) in self.offsets[i..].iter().zip(&self.pieces[i..]) {
            let ps = self.start + o;
            if ps >= hi {
                break;
            }
            let a = lo.saturating_sub(ps).min(p.len() as u64) as usize;
            let b = (hi - ps).min(p.len() as u64) as usize;
            rel.add(&p[a..b]);
        }
    }

    /// The bytes at `lo..hi` (clamped to the run): borrowed when inside one piece.
    pub fn bytes(&self, lo: u64, hi: u64) -> Cow<'a, [u8]> {
        let lo = lo.clamp(self.start, self.end());
        let hi = hi.clamp(lo, self.end());
        let (a, b) = (lo - self.start, hi - self.start);
        let i = self.offsets.partition_point(|&o| o <= a).saturating_sub(1);
        let (off_i, p) = (self.offsets[i], self.pieces[i]);
        if b - off_i <= p.len() as u64 {
            return Cow::Borrowed(&p[(a - off_i) as usize..(b - off_i) as usize]);
        }
        let mut v = Vec::with_capacity((b - a) as usize);
        let mut j = i;
        while j < self.pieces.len() && self.offsets[j] < b {
            let o = self.offsets[j];
            let p = self.pieces[j];
            let s = a.saturating_sub(o) as usize;
            let e = ((b - o) as usize).min(p.len());
            v.extend_from_slice(&p[s..e]);
            j += 1;
        }
        Cow::Owned(v)
    }
}

/// The data runs of `mem`, and the broken ranges between them.
pub fn runs(mem: &Memory) -> (Vec<Run<'_>>, Vec<Skipped>) {
    let mut runs: Vec<Run<'_>> = Vec::new();
    let mut skipped = Vec::new();
    let mut adjacent = false;
    for e in mem.extents() {
        match &e.data {
            ExtentData::Bytes(b) => {
                let bytes = b.bytes();
                if bytes.is_empty() {
                    continue;
                }
                match runs.last_mut() {
                    Some(r) if adjacent && r.end() == e.start => {
                        r.offsets.push(r.len);
                        r.pieces.push(bytes);
                        r.len += bytes.len() as u64;
                    }
                    _ => runs.push(Run {
                        start: e.start,
                        pieces: vec![bytes],
                        offsets: vec![0],
                        len: bytes.len() as u64,
                    }),
                }
                adjacent = true;
            }
            ExtentData::Broken(r) => {
                skipped.push(Skipped {
                    start: e.start,
                    len: e.len,
                    reason: r.to_string(),
                });
                adjacent = false;
            }
        }
    }
    (runs, skipped)
}

/// A process's memory prepared for searching.
pub struct Searchable<'a> {
    mem: &'a Memory,
    /// The ranges the checkpoint claims but cannot serve (not searched).
    pub skipped: Vec<Skipped>,
}

impl<'a> Searchable<'a> {
    pub fn new(mem: &'a Memory) -> Searchable<'a> {
        let skipped = mem
            .extents()
            .iter()
            .filter_map(|e| match &e.data {
                ExtentData::Broken(r) => Some(Skipped {
                    start: e.start,
                    len: e.len,
                    reason: r.to_string(),
                }),
                ExtentData::Bytes(_) => None,
            })
            .collect();
        Searchable { mem, skipped }
    }

    /// Every match of `pat`, in address order.
    ///
    /// Runs that are one extent between holes (a fragmented dump: one per pagemap entry) and
    /// whose bytes follow each other in one pages file are searched in **batches**: one slice
    /// of up to [`BATCH`] bytes of the file, one pass of the finder over it, each hit mapped
    /// back to its extent with a forward cursor. A hit that crosses from one extent of a batch
    /// into the next is not a match (a hole lies between them in memory); for a regex such a hit
    /// is searched again within its extent alone, so the matches are exactly those of a search
    /// of each run on its own. Regexes with look-around assertions (`^`, `$`, `\b`, ...), which
    /// see the bytes next to a run, and the other runs (several address-adjacent extents, e.g. a
    /// parent dump's pages next to this dump's, or longer than [`REGEX_WINDOW`]) are searched
    /// run by run.
    ///
    /// The scanned pages are released per window of the pages files, not per extent or run.
    pub fn find(&self, pat: &Pattern) -> Vec<Match> {
        let mut out = Vec::new();
        let mut rel = Releaser::new();
        let mut spans: Vec<Span> = Vec::new();
        // The run searched on its own, its vectors reused from run to run.
        let mut r = Run {
            start: 0,
            pieces: Vec::new(),
            offsets: Vec::new(),
            len: 0,
        };
        let ext = self.mem.extents();
        let batched = match pat {
            Pattern::Literal(_) => true,
            Pattern::Regex(re) => look_free(re.as_str()),
        };
        let mut i = 0;
        while i < ext.len() {
            let ExtentData::Bytes(first) = &ext[i].data else {
                i += 1;
                continue;
            };
            if batched && alone(ext, i) {
                // A batch: the following lone extents while their bytes follow in the same file.
                let mut j = i + 1;
                let mut last = first;
                let mut total = first.len();
                while let Some(ExtentData::Bytes(b)) = ext.get(j).map(|e| &e.data) {
                    if !(alone(ext, j) && last.is_followed_by(b) && total + b.len() <= BATCH) {
                        break;
                    }
                    (last, total) = (b, total + b.len());
                    j += 1;
                }
                if let Some(h) = first.through(last) {
                    spans.clear();
                    let base = h.as_ptr() as usize;
                    for e in &ext[i..j] {
                        if let ExtentData::Bytes(b) = &e.data {
                            let off = b.bytes().as_ptr() as usize - base;
                            spans.push(Span {
                                off,
                                end: off + b.len(),
                                addr: e.start,
                            });
                        }
                    }
                    let batch = Batch { spans: &spans, h };
                    batch.find(pat, &mut out);
                    rel.add(h);
                    i = j;
                    continue;
                }
            }
            // One run, as it is.
            let mut j = i + 1;
            while j < ext.len()
                && ext[j - 1].end() == ext[j].start
                && matches!(ext[j].data, ExtentData::Bytes(_))
            {
                j += 1;
            }
            fill_run(&mut r, &ext[i..j]);
            match pat {
                Pattern::Literal(f) => literal_run(&r, f, &mut out, &mut rel),
                Pattern::Regex(re) => regex_run(&r, re, &mut out, &mut rel),
            }
            i = j;
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The text shown for a match: `context` bytes before and after it (within its data run),
    /// the match itself, non-printable bytes as `?` (as checkpointctl shows them).
    pub fn context_text(&self, m: &Match, context: usize) -> String {
        let ext = self.mem.extents();
        let data = |k: usize| matches!(ext[k].data, ExtentData::Bytes(_));
        let i = ext.partition_point(|e| e.end() <= m.addr);
        if !(i < ext.len() && ext[i].start <= m.addr && data(i)) {
            return String::new();
        }
        let lo = m.addr.saturating_sub(context as u64);
        let hi = m
            .addr
            .saturating_add(m.len as u64)
            .saturating_add(context as u64);
        // The run's extents around the match, as far as the context reaches.
        let (mut a, mut b) = (i, i);
        while ext[a].start > lo && a > 0 && data(a - 1) && ext[a - 1].end() == ext[a].start {
            a -= 1;
        }
        while ext[b].end() < hi
            && b + 1 < ext.len()
            && data(b + 1)
            && ext[b].end() == ext[b + 1].start
        {
            b += 1;
        }
        let (lo, hi) = (lo.max(ext[a].start), hi.min(ext[b].end()));
        let mut v = Vec::with_capacity((hi - lo) as usize);
        let mut rel = Releaser::new();
        for (_, p) in self.mem.pieces(lo, hi - lo) {
            if let Piece::Data(d) = p {
                v.extend_from_slice(d);
                rel.add(d);
            }
        }
        printable(&v)
    }
}

/// Bytes of the pages files searched in one pass (see [`Searchable::find`]).
pub const BATCH: usize = 8 << 20;

/// True when extent `i` is a data run on its own (no data extent right before or after it in
/// memory) short enough to be searched whole by a regex (one [`REGEX_WINDOW`]).
fn alone(ext: &[Extent], i: usize) -> bool {
    let adjacent_data = |a: &Extent, b: &Extent| {
        a.end() == b.start
            && matches!(a.data, ExtentData::Bytes(_))
            && matches!(b.data, ExtentData::Bytes(_))
    };
    ext[i].len <= REGEX_WINDOW as u64
        && !(i > 0 && adjacent_data(&ext[i - 1], &ext[i]))
        && !ext.get(i + 1).is_some_and(|n| adjacent_data(&ext[i], n))
}

/// True when the regex `pattern` (as compiled by [`Pattern::regex`]) has no look-around
/// assertion: whether it matches `h[s..e]` then depends on those bytes only, not on the bytes
/// around them, which in a batch belong to other extents.
fn look_free(pattern: &str) -> bool {
    parse(pattern).is_some_and(|h| h.properties().look_set().is_empty())
}

/// Where an extent of a batch lies: `h[off..end]`, at address `addr`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub off: usize,
    pub end: usize,
    pub addr: u64,
}

/// Data runs whose bytes are `h`, one after the other (in a pages file, or copied), each searched
/// on its own: `spans` tile `h` in order.
pub(crate) struct Batch<'s, 'h> {
    pub spans: &'s [Span],
    pub h: &'h [u8],
}

impl Batch<'_, '_> {
    /// Every match of `pat` (see [`Batch::literal`], [`Batch::regex`]; a regex without
    /// look-around assertions).
    pub fn find(&self, pat: &Pattern, out: &mut Vec<Match>) {
        match pat {
            Pattern::Literal(f) => self.literal(f, out),
            Pattern::Regex(re) => self.regex(re, out),
        }
    }

    /// Every occurrence within one extent, at its address.
    fn literal(&self, f: &memmem::Finder<'_>, out: &mut Vec<Match>) {
        let n = f.needle().len();
        let mut k = 0;
        find_all(f, self.h, |s| {
            while s >= self.spans[k].end {
                k += 1;
            }
            let x = self.spans[k];
            // A hit that runs into the next extent crosses a hole: not a match.
            if s + n <= x.end {
                out.push(Match {
                    addr: x.addr + (s - x.off) as u64,
                    len: n,
                });
            }
        });
    }

    /// The matches of a search of each extent on its own (leftmost-first, non-overlapping, empty
    /// ones ignored), found with one pass over `h` where they do not cross extents.
    ///
    /// Why this is exact (no look-around): a match of `h[s..e]` with `e` within the extent that
    /// holds `s` is a match of the extent alone, and every match of the extent alone is one of
    /// `h`; so when the leftmost-first match of `h` from `at` stays in its extent, it is the
    /// extent's own next match. When it crosses, that extent is searched again alone from `s`.
    /// The haystack is cut at an extent boundary after a crossing and grows again (doubling),
    /// so a regex whose matches run on (`[ -~]+` over text) does not re-scan the batch per extent.
    fn regex(&self, re: &Regex, out: &mut Vec<Match>) {
        let h = self.h;
        let (mut k, mut at) = (0usize, 0usize);
        // The haystack is `h[..cut]`, `cut` an extent's end; `ck` that extent.
        let (mut cut, mut ck) = (0usize, 0usize);
        let mut reach = usize::MAX;
        loop {
            if at >= cut {
                if at >= h.len() {
                    break;
                }
                let want = at.saturating_add(reach).min(h.len());
                ck = ck.max(k);
                while self.spans[ck].end < want {
                    ck += 1;
                }
                cut = self.spans[ck].end;
                reach = reach.saturating_mul(2);
            }
            let Some(m) = re.find_at(&h[..cut], at) else {
                at = cut;
                continue;
            };
            let (s, e) = (m.start(), m.end());
            if m.is_empty() {
                // At the cut, the position starts the next extent: search it there again.
                at = if e == cut { cut } else { e + 1 };
                continue;
            }
            while self.spans[k].end <= s {
                k += 1;
            }
            let Span { off, end, addr } = self.spans[k];
            if e <= end {
                out.push(Match {
                    addr: addr + (s - off) as u64,
                    len: m.len(),
                });
                at = e;
                continue;
            }
            // Crossed into the next extent: this extent alone, from `s`.
            let piece = &h[off..end];
            let mut p = s - off;
            while p <= piece.len() {
                let Some(m) = re.find_at(piece, p) else { break };
                if m.is_empty() {
                    p = m.end() + 1;
                    continue;
                }
                out.push(Match {
                    addr: addr + m.start() as u64,
                    len: m.len(),
                });
                p = m.end();
            }
            at = end;
            (cut, ck, reach) = (end, k, 4096);
        }
    }
}

/// Makes `r` the data run made of `ext` (address-adjacent data extents).
fn fill_run<'a>(r: &mut Run<'a>, ext: &'a [Extent]) {
    r.start = ext.first().map_or(0, |e| e.start);
    r.pieces.clear();
    r.offsets.clear();
    r.len = 0;
    for e in ext {
        if let ExtentData::Bytes(b) = &e.data {
            r.offsets.push(r.len);
            r.pieces.push(b.bytes());
            r.len += b.len() as u64;
        }
    }
}

/// Every match of `pat` in `mem`, in address order, and the ranges that could not be searched.
pub fn search(mem: &Memory, pat: &Pattern) -> (Vec<Match>, Vec<Skipped>) {
    let s = Searchable::new(mem);
    let m = s.find(pat);
    (m, s.skipped)
}

/// Every (overlapping) occurrence of `f`'s needle in `hay`, as offsets.
fn find_all(f: &memmem::Finder<'_>, hay: &[u8], mut emit: impl FnMut(usize)) {
    let mut p = 0;
    while p < hay.len() {
        match f.find(&hay[p..]) {
            Some(i) => {
                emit(p + i);
                p += i + 1;
            }
            None => break,
        }
    }
}

fn literal_run(r: &Run<'_>, f: &memmem::Finder<'_>, out: &mut Vec<Match>, rel: &mut Releaser) {
    let n = f.needle().len();
    let keep = n - 1;
    // The last `keep` bytes before the current piece, and the address of the first of them.
    let mut carry: Vec<u8> = Vec::with_capacity(keep * 2);
    let mut carry_start = r.start;
    let mut buf: Vec<u8> = Vec::with_capacity(keep * 2);
    for (&off, &piece) in r.offsets.iter().zip(&r.pieces) {
        let base = r.start + off;
        if !carry.is_empty() {
            // Matches starting in the carry and ending in this piece.
            buf.clear();
            buf.extend_from_slice(&carry);
            buf.extend_from_slice(&piece[..keep.min(piece.len())]);
            let cl = carry.len();
            find_all(f, &buf, |s| {
                if s < cl && s + n > cl {
                    out.push(Match {
                        addr: carry_start + s as u64,
                        len: n,
                    });
                }
            });
        }
        // In chunks that overlap the next by `keep` bytes; a match is reported by the chunk it
        // starts in.
        let mut cs = 0;
        while cs < piece.len() {
            let ce = (cs + SCAN_CHUNK).min(piece.len());
            let we = (ce + keep).min(piece.len());
            find_all(f, &piece[cs..we], |s| {
                if cs + s < ce {
                    out.push(Match {
                        addr: base + (cs + s) as u64,
                        len: n,
                    })
                }
            });
            rel.add(&piece[cs..ce]);
            cs = ce;
        }
        if keep > 0 {
            if piece.len() >= keep {
                carry.clear();
                carry.extend_from_slice(&piece[piece.len() - keep..]);
                carry_start = base + (piece.len() - keep) as u64;
            } else {
                carry.extend_from_slice(piece);
                let drop = carry.len().saturating_sub(keep);
                carry.drain(..drop);
                carry_start = base + piece.len() as u64 - carry.len() as u64;
            }
            // Copying the carry touched the piece's tail again.
            rel.add(&piece[piece.len().saturating_sub(keep)..]);
        }
    }
}

fn regex_run(r: &Run<'_>, re: &Regex, out: &mut Vec<Match>, rel: &mut Releaser) {
    let mut last_end = r.start;
    let mut w = r.start;
    while w < r.end() {
        let own_end = (w + REGEX_WINDOW as u64).min(r.end());
        let lo = w.saturating_sub(REGEX_LOOKBEHIND as u64).max(r.start);
        let hi = (own_end + MAX_REGEX_MATCH as u64).min(r.end());
        let buf = r.bytes(lo, hi);
        let mut at = (w - lo) as usize;
        while at <= buf.len() {
            let Some(m) = re.find_at(&buf, at) else { break };
            let s = lo + m.start() as u64;
            if s >= own_end {
                break;
            }
            if m.is_empty() {
                at = m.end() + 1;
                continue;
            }
            if s >= last_end {
                out.push(Match {
                    addr: s,
                    len: m.len(),
                });
                last_end = s + m.len() as u64;
            }
            at = m.end();
        }
        // The whole window read, look-behind included.
        r.release(lo, hi, rel);
        w = own_end;
    }
}

/// Bytes as text: printable ASCII as is, everything else `?`.
pub fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (32..127).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::{Extent, testrand};
    use crate::source::Blob;
    use crate::source::blob::resident;

    fn ext(start: u64, b: &Blob, off: usize, len: usize) -> Extent {
        Extent {
            start,
            len: len as u64,
            data: ExtentData::Bytes(b.slice(off..off + len).unwrap()),
        }
    }

    fn pages(n: usize, fill: u8) -> Vec<u8> {
        vec![fill; n * 4096]
    }

    fn lit(s: &str) -> Pattern {
        Pattern::literal(s.as_bytes()).unwrap()
    }

    fn addrs(v: &[Match]) -> Vec<u64> {
        v.iter().map(|m| m.addr).collect()
    }

    /// A marker written across a page boundary inside one extent, and across the boundary of two
    /// extents that come from different pages files (two blobs, adjacent addresses).
    #[test]
    fn finds_markers_across_page_and_extent_boundaries() {
        let marker = b"SYNTHETIC-CROSS-MARKER-0123456789";
        // Extent A: 2 pages at 0x10000 from blob a; the marker crosses its page boundary.
        let mut a = pages(2, b'.');
        let m1 = 4096 - 10;
        a[m1..m1 + marker.len()].copy_from_slice(marker);
        // Extent A ends at 0x12000; extent B (blob b, another pages file) starts there. The
        // marker starts 7 bytes before the end of A and continues in B.
        let m2 = 2 * 4096 - 7;
        a[m2..].copy_from_slice(&marker[..7]);
        let mut b = pages(1, b'.');
        b[..marker.len() - 7].copy_from_slice(&marker[7..]);
        let ba = Blob::from_vec(a);
        let bb = Blob::from_vec(b);
        let (mem, ov) = Memory::from_extents(vec![
            ext(0x10000, &ba, 0, 2 * 4096),
            ext(0x12000, &bb, 0, 4096),
        ]);
        assert!(ov.is_empty());
        assert_eq!(mem.extents().len(), 2, "two sources stay two extents");
        let (m, skipped) = search(&mem, &Pattern::literal(marker).unwrap());
        assert!(skipped.is_empty());
        assert_eq!(addrs(&m), vec![0x10000 + m1 as u64, 0x10000 + m2 as u64]);
        // The same with a regex.
        let (m, _) = search(
            &mem,
            &Pattern::regex("SYNTHETIC-CROSS-MARKER-[0-9]+").unwrap(),
        );
        assert_eq!(addrs(&m), vec![0x10000 + m1 as u64, 0x10000 + m2 as u64]);
        assert!(m.iter().all(|m| m.len == marker.len()));
        // The context crosses the extent boundary too.
        let t = Searchable::new(&mem).context_text(&m[1], 3);
        assert_eq!(t, format!("...{}...", std::str::from_utf8(marker).unwrap()));
    }

    /// Literal search scans a large piece in chunks: matches across, at and right after a chunk
    /// boundary are each found once, also when the piece is a mapped file (whose scanned pages
    /// are released as the scan goes).
    #[test]
    fn literal_matches_at_scan_chunk_boundaries() {
        let marker = b"CHUNK-EDGE-MARKER";
        let len = 3 * SCAN_CHUNK + 3 * 4096;
        let mut a = vec![b'.'; len];
        let at = [
            SCAN_CHUNK - 5,                // across the first boundary
            2 * SCAN_CHUNK - marker.len(), // ends at the second
            3 * SCAN_CHUNK,                // starts at the third
            len - marker.len(),            // ends the piece
        ];
        for &o in &at {
            a[o..o + marker.len()].copy_from_slice(marker);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages");
        std::fs::write(&path, &a).unwrap();
        for blob in [Blob::from_vec(a.clone()), Blob::map_file(&path).unwrap()] {
            let (mem, _) = Memory::from_extents(vec![ext(0x100000, &blob, 0, len)]);
            let (m, _) = search(&mem, &Pattern::literal(marker).unwrap());
            let want: Vec<u64> = at.iter().map(|&o| 0x100000 + o as u64).collect();
            assert_eq!(addrs(&m), want);
            let (m, _) = search(&mem, &Pattern::regex("CHUNK-EDGE-MARKER").unwrap());
            assert_eq!(addrs(&m), want);
            assert_eq!(blob.bytes(), &a[..], "released pages read back unchanged");
        }
    }

    #[test]
    fn a_marker_spread_over_many_tiny_extents() {
        // Pieces shorter than the pattern: the carry must reach back over several of them.
        let marker = b"ABCDEFGHIJKLMNOP";
        let mut ext_v = Vec::new();
        let mut blobs = Vec::new();
        for (i, chunk) in marker.chunks(3).enumerate() {
            let b = Blob::from_vec(chunk.to_vec());
            blobs.push(b.clone());
            ext_v.push(ext(0x1000 + 3 * i as u64, &b, 0, chunk.len()));
        }
        let (mem, _) = Memory::from_extents(ext_v);
        assert!(mem.extents().len() > 5);
        let (m, _) = search(&mem, &lit("ABCDEFGHIJKLMNOP"));
        assert_eq!(addrs(&m), vec![0x1000]);
        let (m, _) = search(&mem, &lit("FGHIJ"));
        assert_eq!(addrs(&m), vec![0x1005]);
        let (m, _) = search(&mem, &lit("P"));
        assert_eq!(addrs(&m), vec![0x100f]);
        let (m, _) = search(&mem, &Pattern::regex("C.*N").unwrap());
        assert_eq!(
            m,
            vec![Match {
                addr: 0x1002,
                len: 12
            }]
        );
    }

    /// A fragmented dump: 10,000 one-page extents of a mapped pages file with a one-page hole
    /// after each, then two address-adjacent extents from two blobs. Every match is found at its
    /// exact address (at a page's first and last bytes too), none across a hole, one across the
    /// two blobs; and the scanned pages are released (per window, not per extent).
    #[test]
    fn many_tiny_extents_with_holes() {
        const N: usize = 10_000;
        let marker = b"TINY-EXTENT-MARKER";
        let ml = marker.len();
        let base = 0x7f00_0000_0000u64;
        let mut file = vec![b'.'; N * 4096];
        let mut want = Vec::new();
        for i in (0..N).step_by(37) {
            let off = match i % 3 {
                0 => 0,         // the page's first byte
                1 => 4096 - ml, // ends on the page's last byte
                _ => 1000 + i % 2000,
            };
            file[i * 4096 + off..i * 4096 + off + ml].copy_from_slice(marker);
            want.push(base + 2 * (i as u64) * 4096 + off as u64);
        }
        // Half a marker at the end of page 100 and half at the start of page 101: contiguous in
        // the pages file but a hole apart in memory, so no match.
        file[101 * 4096 - 9..101 * 4096].copy_from_slice(&marker[..9]);
        file[101 * 4096..101 * 4096 + ml - 9].copy_from_slice(&marker[9..]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages-1.img");
        std::fs::write(&path, &file).unwrap();
        let pages_file = Blob::map_file(&path).unwrap();
        let mut v: Vec<Extent> = (0..N)
            .map(|i| ext(base + 2 * (i as u64) * 4096, &pages_file, i * 4096, 4096))
            .collect();
        // Two address-adjacent extents from different blobs (e.g. a page of the parent dump
        // next to one of this dump), the marker across them.
        let tail = base + 2 * (N as u64) * 4096;
        let mut a = vec![b'-'; 4096];
        a[4096 - 5..].copy_from_slice(&marker[..5]);
        let mut b = vec![b'-'; 4096];
        b[..ml - 5].copy_from_slice(&marker[5..]);
        let (ba, bb) = (Blob::from_vec(a), Blob::from_vec(b));
        v.push(ext(tail, &ba, 0, 4096));
        v.push(ext(tail + 4096, &bb, 0, 4096));
        want.push(tail + 4096 - 5);
        let (mem, _) = Memory::from_extents(v);
        assert_eq!(mem.extents().len(), N + 2, "holes keep the extents apart");
        assert_eq!(runs(&mem).0.len(), N + 1);
        let s = Searchable::new(&mem);
        let m = s.find(&Pattern::literal(marker).unwrap());
        assert_eq!(addrs(&m), want);
        assert!(m.iter().all(|m| m.len == ml));
        let m = s.find(&Pattern::regex("TINY-EXTENT-MARKE[R]").unwrap());
        assert_eq!(addrs(&m), want);
        let m = s.find(&Pattern::regex("EXTENT-MARKER").unwrap());
        let moved: Vec<u64> = want.iter().map(|a| a + 5).collect();
        assert_eq!(addrs(&m), moved);
        // Nothing of the pages file stays in our page tables.
        let p0 = pages_file.bytes().as_ptr() as usize;
        let kept = (0..N).filter(|&i| resident(p0 + i * 4096)).count();
        assert_eq!(kept, 0, "pages left mapped after the search");
        assert_eq!(
            pages_file.bytes(),
            &file[..],
            "released pages read back unchanged"
        );
    }

    /// Each run searched on its own, the definition the batched search must agree with (runs
    /// here are shorter than a regex window).
    fn oracle(mem: &Memory, pat: &Pattern) -> Vec<Match> {
        let mut out = Vec::new();
        for r in runs(mem).0 {
            let hay = r.bytes(r.start, r.end());
            match pat {
                Pattern::Literal(f) => find_all(f, &hay, |s| {
                    out.push(Match {
                        addr: r.start + s as u64,
                        len: f.needle().len(),
                    })
                }),
                Pattern::Regex(re) => {
                    let mut at = 0;
                    while let Some(m) = re.find_at(&hay, at).filter(|_| at <= hay.len()) {
                        if !m.is_empty() {
                            out.push(Match {
                                addr: r.start + m.start() as u64,
                                len: m.len(),
                            });
                        }
                        at = if m.is_empty() { m.end() + 1 } else { m.end() };
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Batches: a pages file cut into thousands of tiny extents (1 to 40 bytes, and pages), most
    /// a hole apart in memory and consecutive in the file, some address-adjacent to the previous
    /// one but from another file or from a later place of the same file (so not merged), some
    /// broken, some taken out of file order. A small alphabet makes matches cross extent
    /// boundaries everywhere. Every literal and regex (greedy, empty-matching, with and without
    /// look-around) finds exactly what a search of each run on its own finds.
    #[test]
    fn batched_search_agrees_with_each_run_alone() {
        let mut rnd = testrand::xorshift(0x2545_f491_4f6c_dd1d);
        let file = testrand::text(&mut rnd, b"AAAB\n- xB", 4 << 20);
        let f = testrand::fragmented(&mut rnd, &file, 0x10_0000);
        let (mem, ov) = Memory::from_extents(f.extents);
        assert!(ov.is_empty(), "{ov:?}");
        assert!(mem.extents().len() > 5_000, "{}", mem.extents().len());
        let pats = [
            lit("A"),
            lit("AB"),
            lit("BAAB"),
            lit("AAAAAAAAB"),
            lit("\nB-"),
            Pattern::regex("AB+A").unwrap(),
            Pattern::regex("A{5,}").unwrap(),
            Pattern::regex("A[^\n]*B").unwrap(),
            Pattern::regex("[AB -]+").unwrap(),
            Pattern::regex("B?").unwrap(),
            Pattern::regex("(A|AB)(x|BA)").unwrap(),
            Pattern::regex(r"\bAB").unwrap(),
            Pattern::regex("^A|B$").unwrap(),
            Pattern::regex("(?m)^AB").unwrap(),
        ];
        let s = Searchable::new(&mem);
        for p in &pats {
            let name = match p {
                Pattern::Literal(f) => format!("{:?}", String::from_utf8_lossy(f.needle())),
                Pattern::Regex(re) => re.as_str().to_string(),
            };
            let want = oracle(&mem, p);
            assert!(want.len() > 100, "{name}: {} matches", want.len());
            testrand::assert_same(&name, &s.find(p), &want);
        }
        assert_eq!(
            f.file.bytes(),
            &file[..],
            "released pages read back unchanged"
        );
    }

    /// Address order is not file order: two pages of one pages file, the second in the file at
    /// the lower address, right before the first in memory. They are one run (never merged, never
    /// batched as strangers): a marker across them is found, and one across their file boundary
    /// is not.
    #[test]
    fn adjacent_in_memory_reversed_in_the_file() {
        let marker = b"REVERSED-MARKER";
        let mut file = vec![b'.'; 3 * 4096];
        // Memory: page 1 of the file at 0x1000, page 0 at 0x2000, page 2 at 0x4000 (a hole).
        file[2 * 4096 - 6..2 * 4096].copy_from_slice(&marker[..6]); // end of file page 1
        file[..marker.len() - 6].copy_from_slice(&marker[6..]); // start of file page 0
        file[4096 - 4..4096].copy_from_slice(&marker[..4]); // end of page 0, file-before page 1
        file[2 * 4096..2 * 4096 + marker.len() - 4].copy_from_slice(&marker[4..]); // page 2
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages-1.img");
        std::fs::write(&path, &file).unwrap();
        let b = Blob::map_file(&path).unwrap();
        let (mem, _) = Memory::from_extents(vec![
            ext(0x1000, &b, 4096, 4096),
            ext(0x2000, &b, 0, 4096),
            ext(0x4000, &b, 2 * 4096, 4096),
        ]);
        for p in [
            Pattern::literal(marker).unwrap(),
            Pattern::regex("REVERSED-[A-Z]+").unwrap(),
        ] {
            let (m, _) = search(&mem, &p);
            assert_eq!(addrs(&m), vec![0x2000 - 6]);
        }
    }

    #[test]
    fn no_match_across_a_hole() {
        let b = Blob::from_vec(b"xxxxHALF".to_vec());
        let c = Blob::from_vec(b"MARKxxxx".to_vec());
        let (mem, _) = Memory::from_extents(vec![ext(0x1000, &b, 0, 8), ext(0x2000, &c, 0, 8)]);
        let (m, _) = search(&mem, &lit("HALFMARK"));
        assert!(m.is_empty());
        let (m, _) = search(&mem, &Pattern::regex("HALF.*MARK").unwrap());
        assert!(m.is_empty());
    }

    #[test]
    fn overlapping_occurrences_do_not_depend_on_splitting() {
        let whole = Blob::from_vec(b"aaaaa".to_vec());
        let (one, _) = Memory::from_extents(vec![ext(0, &whole, 0, 5)]);
        let x = Blob::from_vec(b"aa".to_vec());
        let y = Blob::from_vec(b"aaa".to_vec());
        let (two, _) = Memory::from_extents(vec![ext(0, &x, 0, 2), ext(2, &y, 0, 3)]);
        for mem in [&one, &two] {
            let (m, _) = search(mem, &lit("aa"));
            assert_eq!(addrs(&m), vec![0, 1, 2, 3]);
            // Regex: leftmost-first, non-overlapping, like grep -o.
            let (m, _) = search(mem, &Pattern::regex("aa").unwrap());
            assert_eq!(addrs(&m), vec![0, 2]);
        }
    }

    #[test]
    fn regex_windows_cover_big_runs() {
        // 3 MiB run in 3 extents from 3 blobs; markers at window edges and extent edges.
        let size = 1 << 20;
        let mut blobs = Vec::new();
        let spots = [
            0usize,
            REGEX_WINDOW - 3,
            REGEX_WINDOW + 8,
            2 * REGEX_WINDOW - 1,
            3 * size - 9,
        ];
        let mut all = vec![b'-'; 3 * size];
        for &s in &spots {
            all[s..s + 9].copy_from_slice(b"K3Y=12345");
        }
        for i in 0..3 {
            blobs.push(Blob::from_vec(all[i * size..(i + 1) * size].to_vec()));
        }
        let (mem, _) = Memory::from_extents(
            (0..3)
                .map(|i| ext(0x7000_0000 + (i * size) as u64, &blobs[i], 0, size))
                .collect(),
        );
        let want: Vec<u64> = spots.iter().map(|&s| 0x7000_0000 + s as u64).collect();
        let (m, _) = search(&mem, &Pattern::regex("K3Y=[0-9]+").unwrap());
        assert_eq!(addrs(&m), want);
        assert!(m.iter().all(|m| m.len == 9));
        let (m, _) = search(&mem, &lit("K3Y=12345"));
        assert_eq!(addrs(&m), want);
        // Long matches: the run of dashes between the first two markers (almost a whole window),
        // and no match overlaps another.
        let (m, _) = search(&mem, &Pattern::regex("-+").unwrap());
        assert_eq!(
            m[0],
            Match {
                addr: 0x7000_0000 + 9,
                len: REGEX_WINDOW - 12
            }
        );
        assert!(
            m.windows(2)
                .all(|w| w[0].addr + w[0].len as u64 <= w[1].addr)
        );
    }

    #[test]
    fn broken_extents_are_reported_not_searched() {
        let b = Blob::from_vec(b"SECRET..".to_vec());
        let (mem, _) = Memory::from_extents(vec![
            ext(0x1000, &b, 0, 8),
            Extent {
                start: 0x1008,
                len: 8,
                data: ExtentData::Broken("pages file too short".into()),
            },
            ext(0x1010, &b, 0, 8),
        ]);
        let (m, skipped) = search(&mem, &lit("SECRET"));
        assert_eq!(addrs(&m), vec![0x1000, 0x1010]);
        assert_eq!(
            skipped,
            vec![Skipped {
                start: 0x1008,
                len: 8,
                reason: "pages file too short".into()
            }]
        );
    }

    #[test]
    fn bad_patterns() {
        assert!(Pattern::literal(b"").is_err());
        let e = Pattern::regex("a(").err().unwrap();
        assert!(e.starts_with("invalid regular expression"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn printable_text() {
        assert_eq!(printable(b"\t\techo \"A\xff\x00"), "??echo \"A??");
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::model::memory::Extent;
    use crate::source::Blob;

    /// `cargo test --release --lib model::memory::search::bench -- --ignored --nocapture`: searches
    /// 2 GiB of synthetic memory (pseudo-random bytes, 2048 extents of 1 MiB from 8 blobs).
    #[test]
    #[ignore]
    fn search_2gib() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let blob_len = 256usize << 20;
        let mut blobs = Vec::new();
        for _ in 0..8 {
            let mut v = vec![0u8; blob_len];
            for c in v.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
            }
            v[blob_len - 5..].copy_from_slice(b"NEEDL");
            blobs.push(Blob::from_vec(v));
        }
        let mut ext = Vec::new();
        let mut addr = 0x1000_0000u64;
        for b in &blobs {
            for i in 0..256 {
                ext.push(Extent {
                    start: addr,
                    len: 1 << 20,
                    data: ExtentData::Bytes(b.slice(i << 20..(i + 1) << 20).unwrap()),
                });
                addr += 1 << 20;
            }
            // Put "E-MARK" at the start of the next blob so "NEEDLE-MARK" crosses blobs.
        }
        let (mem, _) = Memory::from_extents(ext);
        let s = Searchable::new(&mem);
        for (name, pat) in [
            ("literal", Pattern::literal(b"NEEDLE-MARK").unwrap()),
            ("regex literal", Pattern::regex("NEEDL").unwrap()),
            ("regex class", Pattern::regex("AKIA[0-9A-Z]{16}").unwrap()),
        ] {
            let t = std::time::Instant::now();
            let m = s.find(&pat);
            eprintln!("{name}: {} matches in {:?}", m.len(), t.elapsed());
        }
    }
}
