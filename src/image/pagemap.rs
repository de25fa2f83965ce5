//! Pagemap images (`pagemap-<pid>.img`, `pagemap-shmem-<shmid>.img`): a `PagemapHead`
//! naming the pages file, then runs of pages, normalised here.

use super::error::{Error, ErrorKind};
use super::framing::{Frames, capacity_hint, check_header, decode_frame};
use super::magic;
use super::pb::{PagemapEntry, PagemapHead};

/// The page's data is in the parent image (`<dir>/parent/`), not in this one.
pub const PE_PARENT: u32 = 1;
/// The pages are served lazily (lazy-pages mode); without [`PE_PRESENT`] there is no data.
pub const PE_LAZY: u32 = 2;
/// The pages' data is in `pages-<pages_id>.img` (whether or not [`PE_LAZY`] is also set).
pub const PE_PRESENT: u32 = 4;

/// The page size of every x86_64 CRIU image (never the analysis host's).
const PAGE_SIZE: u64 = 4096;

/// One pagemap entry, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    /// The first page's address (for shmem pagemaps: the offset in the shmem object).
    pub vaddr: u64,
    /// The number of pages (may be 0 in a malformed image: callers skip such runs).
    pub nr_pages: u64,
    /// [`PE_PARENT`] | [`PE_LAZY`] | [`PE_PRESENT`]: an old entry without flags means
    /// [`PE_PRESENT`], the deprecated `in_parent` means [`PE_PARENT`].
    pub flags: u32,
}

impl PageRun {
    /// The end address (exclusive); cannot overflow, [`decode_pagemap`] checked it.
    pub fn end(&self) -> u64 {
        self.vaddr
            .saturating_add(self.nr_pages.saturating_mul(PAGE_SIZE))
    }
}

/// Normalises one entry: page count from field 5 (`nr_pages`) when set and non-zero, else
/// field 2 (`compat_nr_pages`); flags as described on [`PageRun::flags`].
fn normalise(e: &PagemapEntry) -> PageRun {
    let nr_pages = match e.nr_pages {
        Some(n) if n != 0 => n,
        _ => u64::from(e.compat_nr_pages),
    };
    let flags = match e.flags {
        Some(f) => f,
        None if e.in_parent() => PE_PARENT,
        None => PE_PRESENT,
    };
    // An old image could set in_parent beside explicit flags; honour both.
    let flags = if e.in_parent() {
        flags | PE_PARENT
    } else {
        flags
    };
    PageRun {
        vaddr: e.vaddr,
        nr_pages,
        flags,
    }
}

/// A `PagemapEntry` as CRIU writes it (fields 1 to 5, each a varint whose value fits its
/// type), decoded without prost's general machinery: a fragmented dump has one entry per dumped
/// page, and prost took about 400 instructions for each. Anything else (other fields or wire
/// types, long or out-of-range varints, a truncated body) gives `None`, and the caller decodes
/// the entry with prost, which accepts or rejects it as before.
fn entry_fast(mut b: &[u8]) -> Option<PagemapEntry> {
    let mut e = PagemapEntry::default();
    while let [key, rest @ ..] = b {
        b = rest;
        let v = varint(&mut b)?;
        match key {
            0x08 => e.vaddr = v,
            0x10 => e.compat_nr_pages = u32::try_from(v).ok()?,
            0x18 if v <= 1 => e.in_parent = Some(v == 1),
            0x20 => e.flags = Some(u32::try_from(v).ok()?),
            0x28 => e.nr_pages = Some(v),
            _ => return None,
        }
    }
    Some(e)
}

/// The PE_* flags this version knows.
const KNOWN_FLAGS: u32 = PE_PARENT | PE_LAZY | PE_PRESENT;

/// The first field a message body carries beyond `known` (field numbers `1..=known`), as
/// `field N`; None when it has none or is not a well-formed message (prost then says why).
fn unknown_field(mut b: &[u8], known: u64) -> Option<String> {
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 || field > known {
            return Some(format!("field {field}"));
        }
        match wire {
            0 => {
                varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            5 => b = b.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                b = b.get(len..)?;
            }
            _ => return None,
        }
    }
    None
}

/// A varint from the front of `b` (at most 10 bytes, the 10th 0 or 1: 64 bits, as prost takes
/// them); anything else is left to prost.
fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().take(10).enumerate() {
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *b = &b[i + 1..];
            return Some(v);
        }
    }
    None
}

/// Decodes a pagemap image: the `PagemapHead`'s `pages_id` and the runs in file order.
///
/// Errors (naming the file, entry and offset) on a missing head, a `vaddr` that is not
/// page aligned, or `vaddr + nr_pages * 4096` overflowing 64 bits. A run of zero pages is
/// kept (callers ignore it).
pub fn decode_pagemap(name: &str, bytes: &[u8]) -> Result<(u64, Vec<PageRun>), Error> {
    let start = check_header(name, bytes, magic::PAGEMAP)?;
    let mut frames = Frames::new(name, bytes, start);
    let head: PagemapHead = match frames.next_frame() {
        Some(frame) => {
            let frame = frame?;
            if let Some(what) = unknown_field(frame.body, 1) {
                let kind = ErrorKind::UnsupportedPages {
                    what: format!("pagemap head has {what}"),
                };
                return Err(Error::new(name, Some(frame.index), frame.offset, kind));
            }
            decode_frame(name, &frame)?
        }
        None => return Err(Error::new(name, None, start, ErrorKind::NoPagemapHead)),
    };
    let mut runs = Vec::with_capacity(capacity_hint(&frames));
    while let Some(frame) = frames.next_frame() {
        let frame = frame?;
        let fault = |kind| Error::new(name, Some(frame.index), frame.offset, kind);
        let entry: PagemapEntry = match entry_fast(frame.body) {
            Some(e) => e,
            None => {
                if let Some(what) = unknown_field(frame.body, 5) {
                    return Err(fault(ErrorKind::UnsupportedPages { what }));
                }
                decode_frame(name, &frame)?
            }
        };
        if let Some(f) = entry.flags.filter(|f| f & !KNOWN_FLAGS != 0) {
            return Err(fault(ErrorKind::UnsupportedPages {
                what: format!("flags {:#x}", f & !KNOWN_FLAGS),
            }));
        }
        let run = normalise(&entry);
        if run.vaddr % PAGE_SIZE != 0 {
            return Err(fault(ErrorKind::UnalignedVaddr { vaddr: run.vaddr }));
        }
        if run
            .nr_pages
            .checked_mul(PAGE_SIZE)
            .and_then(|len| run.vaddr.checked_add(len))
            .is_none()
        {
            return Err(fault(ErrorKind::RangeOverflow {
                vaddr: run.vaddr,
                nr_pages: run.nr_pages,
            }));
        }
        runs.push(run);
    }
    Ok((u64::from(head.pages_id), runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn image(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&magic::IMG_COMMON_MAGIC.to_le_bytes());
        out.extend_from_slice(&magic::PAGEMAP.to_le_bytes());
        for e in entries {
            out.extend_from_slice(&(e.len() as u32).to_le_bytes());
            out.extend_from_slice(e);
        }
        out
    }

    fn head(id: u32) -> Vec<u8> {
        PagemapHead { pages_id: id }.encode_to_vec()
    }

    fn entry(
        vaddr: u64,
        compat: u32,
        in_parent: Option<bool>,
        flags: Option<u32>,
        nr: Option<u64>,
    ) -> Vec<u8> {
        PagemapEntry {
            vaddr,
            compat_nr_pages: compat,
            in_parent,
            flags,
            nr_pages: nr,
        }
        .encode_to_vec()
    }

    /// The fast decoder agrees with prost wherever it answers, and answers for what CRIU
    /// writes: every entry below, and random bodies built from CRIU's fields and from noise.
    #[test]
    fn fast_entry_decoding_agrees_with_prost() {
        let criu = [
            entry(0x7f00_0000_0000, 0, None, Some(PE_PRESENT), Some(1)),
            entry(0x1000, 3, None, None, None),
            entry(0x10000, 2, Some(true), None, None),
            entry(!0xfff, u32::MAX, Some(false), Some(u32::MAX), Some(1 << 52)),
            entry(0, 0, None, Some(PE_PARENT | PE_LAZY), Some(0)),
        ];
        for b in &criu {
            let fast = entry_fast(b).expect("a CRIU entry takes the fast path");
            assert_eq!(fast, PagemapEntry::decode(&b[..]).unwrap());
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut fast_n, mut agree_n) = (0, 0);
        for i in 0..200_000 {
            let mut b = criu[i % criu.len()].clone();
            // Mutate: overwrite, insert, truncate or append bytes.
            for _ in 0..rnd() % 4 {
                let r = rnd();
                let at = (r >> 8) as usize % (b.len() + 1);
                let byte =
                    [0x08, 0x10, 0x18, 0x20, 0x28, 0x80, 0xff, 0x01, 0x02, 0x7f][r as usize % 10];
                match (r >> 4) % 4 {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    2 => b.truncate(at),
                    _ => b.push((r >> 40) as u8),
                }
            }
            if let Some(f) = entry_fast(&b) {
                fast_n += 1;
                let p = PagemapEntry::decode(&b[..]);
                assert_eq!(Some(f), p.ok(), "body {b:02x?}");
                agree_n += 1;
            }
        }
        assert!(fast_n > 50_000 && agree_n == fast_n, "{fast_n} fast");
    }

    #[test]
    fn normalises_flags_and_counts() {
        let bytes = image(&[
            head(7),
            // old entry: no flags → PRESENT, count from field 2
            entry(0x1000, 3, None, None, None),
            // deprecated in_parent → PARENT
            entry(0x10000, 2, Some(true), None, None),
            // new entry: field 5 wins, field 2 left at 0
            entry(0x20000, 0, None, Some(PE_PRESENT | PE_LAZY), Some(300)),
            // both set: field 5 wins
            entry(0x40000, 5, None, Some(PE_PARENT), Some(9)),
            // field 5 present but 0: fall back to field 2
            entry(0x80000, 4, None, Some(PE_PRESENT), Some(0)),
            // zero pages: kept
            entry(0x90000, 0, None, Some(PE_PRESENT), None),
        ]);
        let (id, runs) = decode_pagemap("pagemap-1.img", &bytes).unwrap();
        assert_eq!(id, 7);
        let got: Vec<_> = runs
            .iter()
            .map(|r| (r.vaddr, r.nr_pages, r.flags))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x1000, 3, PE_PRESENT),
                (0x10000, 2, PE_PARENT),
                (0x20000, 300, PE_PRESENT | PE_LAZY),
                (0x40000, 9, PE_PARENT),
                (0x80000, 4, PE_PRESENT),
                (0x90000, 0, PE_PRESENT),
            ]
        );
        assert_eq!(runs[0].end(), 0x4000);
    }

    #[test]
    fn unaligned_vaddr_is_an_error() {
        let bytes = image(&[
            head(1),
            entry(0x1000, 1, None, None, None),
            entry(0x1234, 1, None, None, None),
        ]);
        let err = decode_pagemap("pagemap-9.img", &bytes).unwrap_err();
        assert_eq!(err.entry(), Some(2));
        assert!(matches!(
            err.kind(),
            ErrorKind::UnalignedVaddr { vaddr: 0x1234 }
        ));
        let text = err.to_string();
        assert!(
            text.starts_with("pagemap-9.img: entry 2 at offset "),
            "{text}"
        );
        assert!(text.contains("0x1234"), "{text}");
    }

    #[test]
    fn overflowing_range_is_an_error() {
        let bytes = image(&[
            head(1),
            entry(0xffff_ffff_ffff_f000, 0, None, None, Some(2)),
        ]);
        let err = decode_pagemap("pagemap-9.img", &bytes).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::RangeOverflow { .. }),
            "{err}"
        );
        let bytes = image(&[head(1), entry(0, 0, None, None, Some(u64::MAX))]);
        assert!(decode_pagemap("pagemap-9.img", &bytes).is_err());
        // The last page of the address space ends at 2^64: not representable either.
        let bytes = image(&[
            head(1),
            entry(0xffff_ffff_ffff_f000, 0, None, None, Some(1)),
        ]);
        assert!(decode_pagemap("pagemap-9.img", &bytes).is_err());
        let bytes = image(&[
            head(1),
            entry(0xffff_ffff_ffff_e000, 0, None, None, Some(1)),
        ]);
        assert!(decode_pagemap("pagemap-9.img", &bytes).is_ok());
    }

    #[test]
    fn compressed_pages_are_refused_never_read_as_plain() {
        // criu-dev's compressed entries add fields after 5 (a nested message, repeated sizes:
        // the schema changed after merging), and may add flags: each is refused by field.
        let mut nested = entry(0x1000, 0, None, Some(PE_PRESENT), Some(4));
        nested.extend_from_slice(&[0x32, 0x04, 0x08, 0x01, 0x10, 0x80]);
        let mut sizes = entry(0x1000, 0, None, Some(PE_PRESENT), Some(4));
        sizes.extend_from_slice(&[0x30, 0x90, 0x03]);
        let flagged = entry(0x1000, 0, None, Some(PE_PRESENT | 0x8), Some(4));
        for (body, what) in [
            (nested, "field 6"),
            (sizes, "field 6"),
            (flagged, "flags 0x8"),
        ] {
            let img = image(&[head(1), body]);
            let e = decode_pagemap("pagemap-7.img", &img)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("pagemap-7.img: entry 1"), "{e}");
            assert!(e.contains(what) && e.contains("compressed pages"), "{e}");
            assert!(e.contains("not supported yet"), "{e}");
        }
        // A head with a compression field too.
        let mut h = head(1);
        h.extend_from_slice(&[0x10, 0x01]);
        let e = decode_pagemap("pagemap-7.img", &image(&[h]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pagemap head has field 2"), "{e}");
    }

    #[test]
    fn missing_head_is_an_error() {
        let bytes = image(&[]);
        let err = decode_pagemap("pagemap-9.img", &bytes).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NoPagemapHead);
        assert_eq!(
            err.to_string(),
            "pagemap-9.img: at offset 8: no pagemap head entry"
        );
    }

    #[test]
    fn head_only_is_empty() {
        let (id, runs) = decode_pagemap("pagemap-9.img", &image(&[head(3)])).unwrap();
        assert_eq!((id, runs.len()), (3, 0));
    }
}
