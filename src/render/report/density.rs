//! How dense a mapping's bytes are, at a bounded cost whatever its size: the mapping is cut into
//! at most [`MAX_CELLS`] equal cells of whole pages, and each cell is represented by one sample,
//! the first [`SAMPLE_LEN`] bytes the memory holds from the cell's start (holes are skipped, a
//! cell without any byte is a hole). So a mapping costs at most `MAX_CELLS` lookups and
//! `MAX_CELLS * SAMPLE_LEN` bytes read (256 KiB), for 4 KiB as for 128 TiB.
//!
//! A sample's Shannon entropy (bits per byte, 0..=8) and its share of printable bytes (ASCII
//! 0x20..0x7e, tab, newline, carriage return) are kept; the map shades cells by entropy class.

use crate::model::memory::{Memory, PAGE_SIZE, Piece};

/// At most this many cells (samples) per mapping.
pub const MAX_CELLS: u64 = 64;
/// Bytes read per sample (one page).
pub const SAMPLE_LEN: u64 = PAGE_SIZE;

/// One cell of a mapping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    /// The memory holds no byte in this cell.
    Hole,
    /// The checkpoint claims bytes here that cannot be read (a broken extent).
    Broken,
    /// A sample of `len` bytes.
    Sample {
        /// Bytes sampled (at most [`SAMPLE_LEN`]).
        len: u32,
        /// Shannon entropy, bits per byte.
        entropy: f32,
        /// Share of printable bytes, 0..=1.
        printable: f32,
    },
}

/// Entropy classes the map shades, from sparse to random-looking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Below 1 bit per byte: zeros, padding, sparse tables.
    Sparse,
    /// 1 to 5 bits: text and structured data.
    Text,
    /// 5 to 7.2 bits: machine code, mixed data.
    Code,
    /// 7.2 bits and above: compressed, encrypted or random bytes.
    Random,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Sparse, Class::Text, Class::Code, Class::Random];

    pub fn of(entropy: f32) -> Class {
        if entropy < 1.0 {
            Class::Sparse
        } else if entropy < 5.0 {
            Class::Text
        } else if entropy < 7.2 {
            Class::Code
        } else {
            Class::Random
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Class::Sparse => "sparse (< 1 bit/byte)",
            Class::Text => "text / structured (1-5)",
            Class::Code => "code / data (5-7.2)",
            Class::Random => "packed / random (>= 7.2)",
        }
    }
}

/// The cells of `lo..hi` in `mem`: `min(MAX_CELLS, pages)` of them, empty when `hi <= lo`.
pub fn cells(mem: &Memory, lo: u64, hi: u64) -> Vec<Cell> {
    if hi <= lo {
        return Vec::new();
    }
    let pages = (hi - lo).div_ceil(PAGE_SIZE);
    let n = pages.min(MAX_CELLS);
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        // Whole pages per cell; u128 so that no product overflows.
        let page_of = |k: u64| (u128::from(pages) * u128::from(k) / u128::from(n)) as u64;
        let c_lo = lo.saturating_add(page_of(i).saturating_mul(PAGE_SIZE));
        let c_hi = lo
            .saturating_add(page_of(i + 1).saturating_mul(PAGE_SIZE))
            .min(hi);
        out.push(cell(mem, c_lo, c_hi));
    }
    out
}

/// The sample of `lo..hi`: the first bytes held at or after `lo`, up to one extent's end.
fn cell(mem: &Memory, lo: u64, hi: u64) -> Cell {
    let Some(at) = mem.next_data(lo).filter(|&a| a < hi) else {
        return Cell::Hole;
    };
    match mem.piece_at(at, SAMPLE_LEN.min(hi - at)) {
        Piece::Data(d) if !d.is_empty() => Cell::Sample {
            len: d.len() as u32,
            entropy: entropy(d),
            printable: printable(d),
        },
        Piece::Broken(_) => Cell::Broken,
        _ => Cell::Hole,
    }
}

/// Shannon entropy of `bytes` in bits per byte (0 for no bytes).
pub fn entropy(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    h as f32
}

/// Share of printable bytes in `bytes` (0 for no bytes).
pub fn printable(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let n = bytes
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    (n as f64 / bytes.len() as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memory::{Extent, ExtentData};
    use crate::render::testutil::memory;

    #[test]
    fn entropy_and_printable_of_known_bytes() {
        assert_eq!(entropy(&[0; 4096]), 0.0);
        let all: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-4);
        assert!((entropy(b"abab") - 1.0).abs() < 1e-6);
        assert_eq!(printable(b"hello\n"), 1.0);
        assert_eq!(printable(&[0, 0, b'a', b'b']), 0.5);
        assert_eq!(entropy(&[]), 0.0);
        assert_eq!(printable(&[]), 0.0);
        assert_eq!(Class::of(0.0), Class::Sparse);
        assert_eq!(Class::of(4.5), Class::Text);
        assert_eq!(Class::of(6.0), Class::Code);
        assert_eq!(Class::of(7.99), Class::Random);
    }

    #[test]
    fn cells_skip_holes_and_sample_what_is_held() {
        // Four pages: text, hole, zeros, random-looking.
        let text = b"The quick brown fox jumps over the lazy dog. "
            .iter()
            .copied()
            .cycle()
            .take(4096)
            .collect();
        let mut x: u32 = 12345;
        let random = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let m = memory(vec![
            (0x1000, text),
            (0x3000, vec![0; 4096]),
            (0x4000, random),
        ]);
        let c = cells(&m, 0x1000, 0x5000);
        assert_eq!(c.len(), 4);
        let Cell::Sample {
            entropy, printable, ..
        } = c[0]
        else {
            panic!("{c:?}")
        };
        assert_eq!(Class::of(entropy), Class::Text);
        assert_eq!(printable, 1.0);
        assert_eq!(c[1], Cell::Hole);
        assert!(matches!(c[2], Cell::Sample { entropy, .. } if entropy == 0.0));
        assert!(
            matches!(c[3], Cell::Sample { entropy, .. } if Class::of(entropy) == Class::Random)
        );
        // A cell whose first page is a hole samples the bytes held later in it.
        let c = cells(&m, 0x0, 0x2000);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], Cell::Hole);
        assert!(matches!(c[1], Cell::Sample { .. }));
        assert!(cells(&m, 0x5000, 0x5000).is_empty());
        assert!(cells(&m, 0x5000, 0x1000).is_empty());
    }

    #[test]
    fn broken_bytes_are_a_broken_cell() {
        let m = Memory::from_extents(vec![Extent {
            start: 0x1000,
            len: 0x1000,
            data: ExtentData::Broken("pages file too short".into()),
        }])
        .0;
        assert_eq!(cells(&m, 0x1000, 0x2000), vec![Cell::Broken]);
    }

    /// A 128 TiB mapping with pages held all over it: at most MAX_CELLS samples of one page each,
    /// found by lookup (the cost does not grow with the mapping).
    #[test]
    fn cost_is_bounded_for_a_huge_mapping() {
        let lo = 0x1000_0000_0000u64;
        let hi = lo + (128u64 << 40);
        let chunks = (0..1_000u64)
            .map(|i| {
                (
                    lo + i * (hi - lo) / 1_000 / PAGE_SIZE * PAGE_SIZE,
                    vec![b'A'; 8192],
                )
            })
            .collect();
        let m = memory(chunks);
        let c = cells(&m, lo, hi);
        assert_eq!(c.len() as u64, MAX_CELLS);
        let mut read = 0u64;
        for c in &c {
            let Cell::Sample { len, .. } = c else {
                panic!("{c:?}")
            };
            assert!(u64::from(*len) <= SAMPLE_LEN);
            read += u64::from(*len);
        }
        assert!(read <= MAX_CELLS * SAMPLE_LEN);
    }
}
