//! The pages behind a process's memory change: each changed, added or removed page by address
//! with the SHA-256 of its bytes in A and in B, and the printable strings (6 characters or more)
//! the changed pages gained and lost, ranked so that what looks like data (keys, values, tokens)
//! comes before allocator and stack churn.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::output::{PageEntry, StringHit};
use crate::model::PAGE_SIZE;
use crate::model::memory::Memory;
use crate::model::page_diff::PageChange;

/// Shortest string taken (as `strings -n 6`).
pub const MIN_STRING: usize = 6;
/// Longest string kept whole; longer ones are cut there (the JSON says so with `cut`).
const MAX_STRING: usize = 200;

/// The printable ASCII runs of at least [`MIN_STRING`] bytes in `b`, with their offsets.
pub fn strings(b: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in b.iter().enumerate() {
        let printable = (0x20..0x7f).contains(&c) || c == b'\t';
        match (printable, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= MIN_STRING {
                    out.push((s, &b[s..i]));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start
        && b.len() - s >= MIN_STRING
    {
        out.push((s, &b[s..]));
    }
    out
}

/// How much a string looks like data someone put there: long, varied, letters with digits,
/// key/value punctuation, upper-case words; low for repeated bytes, symbol soup and stacks.
pub fn score(s: &str, on_stack: bool) -> i64 {
    let len = s.len() as i64;
    let mut sc = len.min(48);
    let mut seen = [false; 128];
    for c in s.bytes() {
        seen[usize::from(c & 0x7f)] = true;
    }
    let distinct = seen.iter().filter(|x| **x).count();
    if distinct < 4 {
        sc -= 100;
    }
    let letters = s.bytes().filter(u8::is_ascii_alphabetic).count() as i64;
    let digits = s.bytes().filter(u8::is_ascii_digit).count() as i64;
    if letters * 2 < len {
        sc -= 30;
    }
    if letters > 0 && digits > 0 {
        sc += 15;
    }
    if s.bytes().any(|c| b"=:_-@/.".contains(&c)) {
        sc += 10;
    }
    let upper_run = s
        .as_bytes()
        .windows(3)
        .any(|w| w.iter().all(u8::is_ascii_uppercase));
    if upper_run {
        sc += 10;
    }
    if on_stack {
        sc -= 60;
    }
    sc
}

/// What ranking takes off a string both sides hold for its `more` new copies: 5 per doubling.
/// One new copy of a name is one event that used it (a command naming a key); many new copies
/// are routine traffic (a password every client sends, a key every poll reads).
fn copies_penalty(more: u64) -> i64 {
    5 * i64::from(more.max(1).ilog2())
}

/// What ranking takes off a string rewritten in place or a remnant.
const DEMOTE: i64 = 40;
/// How many of the best-ranked strings of each side are checked for that.
const RECHECK: usize = 200;

fn words(s: &str) -> std::collections::BTreeSet<&str> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A string as [`rewritten`] compares it: its digits as `#`, and its words.
struct Shape<'a> {
    digits_hidden: String,
    words: std::collections::BTreeSet<&'a str>,
}

fn shape(s: &str) -> Shape<'_> {
    Shape {
        digits_hidden: s
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect(),
        words: words(s),
    }
}

/// Two strings alike but for their digits, or of three words or more sharing at least half
/// their words.
#[cfg(test)]
fn rewritten(a: &str, b: &str) -> bool {
    alike(&shape(a), &shape(b))
}

fn alike(a: &Shape<'_>, b: &Shape<'_>) -> bool {
    if a.digits_hidden == b.digits_hidden {
        return true;
    }
    let (x, y) = (&a.words, &b.words);
    if x.len() < 3 || y.len() < 3 {
        return false;
    }
    let both = x.intersection(y).count();
    both * 2 >= x.len() + y.len() - both
}

/// The strings of one side, each between NULs (no string holds one), to find in one pass
/// whether a string lies inside a longer one.
fn joined(all: &BTreeMap<Vec<u8>, Found>) -> Vec<u8> {
    let mut hay = vec![0u8];
    for k in all.keys() {
        hay.extend_from_slice(k);
        hay.push(0);
    }
    hay
}

/// Whether `needle` lies inside a longer string of `hay` ([`joined`]): a match not both
/// preceded and followed by a NUL.
fn inside_longer(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find_iter(hay, needle).any(|at| {
        let whole =
            hay.get(at.wrapping_sub(1)) == Some(&0) && hay.get(at + needle.len()) == Some(&0);
        !whole
    })
}

/// Most distinct strings kept per process and side (bounded memory on big changes).
const MAX_STRINGS: usize = 200_000;

fn change_name(c: PageChange) -> &'static str {
    match c {
        PageChange::Changed => "changed",
        PageChange::Added => "added",
        PageChange::Removed => "removed",
        PageChange::Unchanged => "unchanged",
        PageChange::Unreadable => "unreadable",
    }
}

/// Addresses kept per string and side, to tell a new copy from an old one.
const MAX_ADDRS: usize = 16;

/// A string as one side's changed pages hold it: where (the first [`MAX_ADDRS`] copies), how
/// often.
struct Found {
    addrs: Vec<u64>,
    count: u64,
}

/// What the changed pages of one process show, gathered during the page walk.
#[derive(Default)]
pub struct Collector {
    pub pages: Vec<PageEntry>,
    a: BTreeMap<Vec<u8>, Found>,
    b: BTreeMap<Vec<u8>, Found>,
    buf: Vec<u8>,
    /// [`MAX_STRINGS`] was reached on a side: the later pages' strings were not taken (on
    /// either side).
    pub capped: bool,
}

impl Collector {
    /// Records page `page` (not unchanged) while its bytes are mapped; `rseq` when a thread's
    /// `struct rseq` lies in it.
    pub fn page(&mut self, a: &Memory, b: &Memory, page: u64, c: PageChange, rseq: bool) {
        self.buf.resize(PAGE_SIZE as usize, 0);
        // Once a side is full, neither side takes the later pages' strings (gained and lost stay
        // a comparison of the same pages; memory and time stay bounded).
        let taking = !self.capped;
        let capped = &mut self.capped;
        let mut side = |m: &Memory, map: &mut BTreeMap<Vec<u8>, Found>, buf: &mut Vec<u8>| {
            m.read_at(page, buf).ok()?;
            let found = if taking { strings(buf) } else { Vec::new() };
            for (off, s) in found {
                let s = &s[..s.len().min(MAX_STRING)];
                let addr = page + off as u64;
                if let Some(f) = map.get_mut(s) {
                    f.count += 1;
                    if f.addrs.len() < MAX_ADDRS {
                        f.addrs.push(addr);
                    }
                } else if map.len() < MAX_STRINGS {
                    map.insert(
                        s.to_vec(),
                        Found {
                            addrs: vec![addr],
                            count: 1,
                        },
                    );
                } else {
                    *capped = true;
                }
            }
            Some(<[u8; 32]>::from(Sha256::digest(&buf[..])))
        };
        let (mut sha_a, mut sha_b) = (None, None);
        if matches!(c, PageChange::Changed | PageChange::Removed) {
            sha_a = side(a, &mut self.a, &mut self.buf);
        }
        if matches!(c, PageChange::Changed | PageChange::Added) {
            sha_b = side(b, &mut self.b, &mut self.buf);
        }
        self.pages.push(PageEntry {
            address: page,
            change: change_name(c),
            sha256_a: sha_a,
            sha256_b: sha_b,
            rseq,
        });
    }

    /// The strings B's changed pages hold more often than A's (gained: new strings, and new
    /// copies of strings A holds too), and the reverse (lost), best-ranked first;
    /// `on_stack_b(addr)` / `on_stack_a(addr)` say whether an address is in a stack of B / A.
    pub fn strings(
        &self,
        on_stack_b: impl Fn(u64) -> bool,
        on_stack_a: impl Fn(u64) -> bool,
    ) -> (Vec<StringHit>, Vec<StringHit>) {
        let diff = |x: &BTreeMap<Vec<u8>, Found>,
                    y: &BTreeMap<Vec<u8>, Found>,
                    on_stack: &dyn Fn(u64) -> bool| {
            let v: Vec<StringHit> = x
                .iter()
                .filter_map(|(s, f)| {
                    let other = y.get(s);
                    let count_other = other.map_or(0, |o| o.count);
                    if f.count <= count_other {
                        return None;
                    }
                    // A copy at an address the other side does not hold it at; the first one
                    // when every kept address is shared.
                    let addr = other
                        .and_then(|o| f.addrs.iter().find(|a| !o.addrs.contains(a)))
                        .or(f.addrs.first())
                        .copied()
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(s).into_owned();
                    let mut sc = score(&text, on_stack(addr));
                    if count_other > 0 {
                        sc -= copies_penalty(f.count - count_other);
                    }
                    Some(StringHit {
                        score: sc,
                        string: text,
                        address: addr,
                        count: f.count,
                        count_other,
                    })
                })
                .collect();
            v
        };
        let (mut gained, mut lost) = (
            diff(&self.b, &self.a, &on_stack_b),
            diff(&self.a, &self.b, &on_stack_a),
        );
        for v in [&mut gained, &mut lost] {
            v.sort_by(|p, q| q.score.cmp(&p.score).then(p.address.cmp(&q.address)));
        }
        // Among the best ranked: a string whose counterpart on the other side has mostly the
        // same words is a value rewritten in place (a counter, a status line), and a piece of a
        // longer string the other side holds is a remnant; both rank below what is new.
        let (lost_top, gained_top): (Vec<String>, Vec<String>) = (
            lost.iter()
                .take(RECHECK)
                .map(|h| h.string.clone())
                .collect(),
            gained
                .iter()
                .take(RECHECK)
                .map(|h| h.string.clone())
                .collect(),
        );
        let demote =
            |v: &mut Vec<StringHit>, other: &[String], other_all: &BTreeMap<Vec<u8>, Found>| {
                if v.is_empty() {
                    return;
                }
                let hay = joined(other_all);
                let others: Vec<Shape<'_>> = other.iter().map(|o| shape(o)).collect();
                for h in v.iter_mut().take(RECHECK) {
                    let mine = shape(&h.string);
                    let in_place = others.iter().any(|o| alike(&mine, o));
                    if in_place || inside_longer(&hay, h.string.as_bytes()) {
                        h.score -= DEMOTE;
                    }
                }
                v.sort_by(|p, q| q.score.cmp(&p.score).then(p.address.cmp(&q.address)));
            };
        demote(&mut gained, &lost_top, &self.a);
        demote(&mut lost, &gained_top, &self.b);
        (gained, lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_six_or_more() {
        let b = b"\0abc\0SIXSIX\0\x01seven77\xffend";
        let s: Vec<(usize, &[u8])> = strings(b);
        assert_eq!(s, [(5, &b"SIXSIX"[..]), (13, &b"seven77"[..])]);
    }

    #[test]
    fn data_ranks_above_churn() {
        let key = score("REDISFX-s4-SECOND-key1", false);
        assert!(key > score("aaaaaaaaaaaaaaaa", false));
        assert!(key > score("@@@@!!##$$%%^^&&", false));
        assert!(key > score("REDISFX-s4-SECOND-key1", true));
        assert!(score("session=af93k2", false) > score("abcdef", false));
    }

    /// Strings kept per side are bounded; the collector says when it stopped taking them.
    #[test]
    fn strings_kept_are_bounded() {
        use crate::model::memory::{Extent, ExtentData};
        let pages = MAX_STRINGS / 512 + 2;
        let mut bytes = Vec::with_capacity(pages * 4096);
        for i in 0..pages * 512 {
            bytes.extend_from_slice(format!("s{i:06}\0").as_bytes());
        }
        let b = Memory::from_extents(vec![Extent {
            start: 0x10000,
            len: bytes.len() as u64,
            data: ExtentData::Bytes(crate::source::Blob::from_vec(bytes)),
        }])
        .0;
        let a = Memory::from_extents(Vec::new()).0;
        let mut c = Collector::default();
        for i in 0..pages as u64 {
            c.page(&a, &b, 0x10000 + i * PAGE_SIZE, PageChange::Added, false);
        }
        assert!(c.capped);
        assert_eq!(c.b.len(), MAX_STRINGS);
        assert_eq!(c.pages.len(), pages);
    }

    /// A string both sides hold is gained when B's changed pages hold more copies of it, at
    /// the address of a copy A does not have; as many copies on each side is no change.
    #[test]
    fn new_copies_of_a_string_both_hold() {
        use crate::model::memory::{Extent, ExtentData};
        let mem = |copies: &[usize]| {
            let mut bytes = vec![0u8; 4096];
            for &o in copies {
                bytes[o..o + 9].copy_from_slice(b"KEY-apike");
            }
            bytes[3000..3008].copy_from_slice(b"SAME-ONE");
            Memory::from_extents(vec![Extent {
                start: 0x10000,
                len: 4096,
                data: ExtentData::Bytes(crate::source::Blob::from_vec(bytes)),
            }])
            .0
        };
        let (a, b) = (mem(&[16, 64]), mem(&[16, 64, 512]));
        let mut c = Collector::default();
        c.page(&a, &b, 0x10000, PageChange::Changed, false);
        let (gained, lost) = c.strings(|_| false, |_| false);
        assert!(lost.is_empty());
        assert_eq!(gained.len(), 1);
        let h = &gained[0];
        assert_eq!(
            (h.string.as_str(), h.address, h.count, h.count_other),
            ("KEY-apike", 0x10000 + 512, 3, 2)
        );
        assert_eq!(h.score, score("KEY-apike", false));
    }

    /// A remnant is a piece of a longer string of the other side, not an equal one.
    #[test]
    fn inside_a_longer_string() {
        let mut m = BTreeMap::new();
        for k in ["token=ABCDEF-123456", "EXACT1", "x"] {
            m.insert(
                k.as_bytes().to_vec(),
                Found {
                    addrs: vec![0],
                    count: 1,
                },
            );
        }
        let hay = joined(&m);
        assert!(inside_longer(&hay, b"ABCDEF-123456"));
        assert!(inside_longer(&hay, b"token="));
        assert!(!inside_longer(&hay, b"EXACT1"));
        assert!(!inside_longer(&hay, b"EXACT12"));
    }

    #[test]
    fn rewritten_in_place() {
        assert!(rewritten(
            "db0:keys=6,expires=1,avg_ttl=86389602",
            "db0:keys=5,expires=1,avg_ttl=86399324"
        ));
        assert!(rewritten(
            "fragmentation_ratio:6.04",
            "fragmentation_ratio:4.50"
        ));
        assert!(!rewritten(
            "REDISFX-s4-SECOND-key1",
            "REDISFX-s4-PASS-Zq8wLm2vN4"
        ));
    }
}
