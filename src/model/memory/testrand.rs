//! Deterministic pseudo-random input for the differential tests of the searches (xorshift64:
//! the same bytes on every run and machine, no dependency).

use std::fmt::Debug;

use super::{Extent, ExtentData};
use crate::source::Blob;

/// `rnd(n)`: the next number below `n` of the xorshift64 sequence from `seed` (not 0).
pub fn xorshift(mut x: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// `len` bytes drawn from `alphabet` (a small one makes matches cross every boundary).
pub fn text(rnd: &mut impl FnMut(u64) -> u64, alphabet: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| alphabet[rnd(alphabet.len() as u64) as usize])
        .collect()
}

/// Fragmented memory, as a dump of scattered pagemap entries gives it: `file` (written to a
/// temporary pages file and mapped) cut into thousands of tiny extents (1 to 40 bytes,
/// sometimes one or two pages) from address `start` on, in file order (the file sometimes
/// skipping bytes). One in 20 comes from another blob instead (`BAAB` repeated; 64 bytes at
/// most), one in 20 is broken. After each, mostly a hole of 1 to 3 bytes; one in 8 the next
/// extent is right after it in memory (counted in [`Fragmented::adjacent`]), one in 8 a hole of
/// one to three pages. One data extent in 50 swaps places in memory with the next one: the
/// later address first in the file, the two address-adjacent. The extents stop 8 KiB before the
/// end of `file`.
pub fn fragmented(rnd: &mut impl FnMut(u64) -> u64, file: &[u8], start: u64) -> Fragmented {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages-1.img");
    std::fs::write(&path, file).unwrap();
    let file = Blob::map_file(&path).unwrap();
    let other = Blob::from_vec((0..(64 << 10)).map(|i| b"BAAB"[i % 4]).collect());
    let other = &other;
    let piece = |b: &Blob, start: u64, off: usize, len: usize| Extent {
        start,
        len: len as u64,
        data: ExtentData::Bytes(b.slice(off..off + len).unwrap()),
    };
    let mut extents = Vec::new();
    let (mut off, mut addr, mut ooff, mut adjacent) = (0usize, start, 0usize, 0usize);
    let mut held: Option<Extent> = None;
    let other_len = other.len().saturating_sub(64).max(1);
    while off + 8192 < file.len() {
        let len = match rnd(32) {
            0 => 4096,
            1 => 8192,
            _ => 1 + rnd(40) as usize,
        };
        let e = match rnd(20) {
            0 => {
                let e = piece(other, addr, ooff, len.min(64));
                ooff = (ooff + 64) % other_len;
                e
            }
            1 => Extent {
                start: addr,
                len: len as u64,
                data: ExtentData::Broken("test".into()),
            },
            _ => {
                let e = piece(&file, addr, off, len);
                off += len;
                if rnd(10) == 0 {
                    off += 1 + rnd(30) as usize;
                }
                e
            }
        };
        addr = e.end();
        match rnd(8) {
            0 => adjacent += 1,
            1 => addr += 4096 + rnd(8192),
            _ => addr += 1 + rnd(3),
        }
        if let Some(h) = held.take() {
            let a = h.start;
            extents.push(Extent {
                start: a + e.len,
                ..h
            });
            extents.push(Extent { start: a, ..e });
        } else if rnd(50) == 0 && matches!(e.data, ExtentData::Bytes(_)) {
            held = Some(e);
        } else {
            extents.push(e);
        }
    }
    extents.extend(held);
    Fragmented {
        extents,
        end: addr,
        adjacent,
        file,
    }
}

/// What [`fragmented`] made.
pub struct Fragmented {
    /// Not in address order (the swapped pairs).
    pub extents: Vec<Extent>,
    /// The address after the last extent and its hole.
    pub end: u64,
    /// How many extents were placed right after the one before them.
    pub adjacent: usize,
    /// The mapped pages file.
    pub file: Blob,
}

/// Panics, naming `what` and the first difference, when `got` is not `want`.
#[track_caller]
pub fn assert_same<T: PartialEq + Debug>(what: &str, got: &[T], want: &[T]) {
    if got != want {
        let d = got.iter().zip(want).position(|(a, b)| a != b);
        let d = d.unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: {} matches, want {}; first difference at {d}: {:?} vs {:?}",
            got.len(),
            want.len(),
            got.get(d),
            want.get(d)
        );
    }
}
