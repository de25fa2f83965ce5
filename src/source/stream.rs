//! A compressed archive opened for its metadata only (`show`, `inspect` without memory): read as
//! a stream, nothing written anywhere.
//!
//! The decompressed tar is laid out in memory at its own offsets, so that the tar index and the
//! layout detection ([`super::tar`], [`super::layout`]) work on it unchanged, but the data of the
//! entries no metadata view reads (the memory pages, `pages-*.img`; the root file system diff
//! and `/dev/shm` tars) are skipped in the stream and never stored: they lie in an anonymous
//! mapping reserved without backing store (`MAP_NORESERVE`), whose untouched pages cost no
//! memory. Their sizes stay known; their bytes are *withheld*: [`Blob::is_withheld`] says so, and
//! every reader of such bytes refuses them (memory reads as broken, never as zeros).
//!
//! The header of each entry is read as the tar crate reads it; an entry preceded by an extension
//! header (long name, PAX) or whose header does not parse is kept whole, so a misread can only
//! cost memory, never drop a needed file.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

use memmap2::{MmapMut, MmapOptions, RemapOptions};

use super::cache::{Tally, decoder, decompress_error, not_tar};
use super::error::Error;
use super::{Blob, InputKind};

const BLOCK: usize = 512;
/// The smallest entry whose data is withheld (smaller ones are kept: they cost nothing).
const MIN_WITHHELD: u64 = 4096;
/// Most bytes kept in memory (headers and the files metadata views read).
const MAX_KEPT: u64 = 1 << 30;
/// Largest decompressed archive accepted (address space only: withheld bytes cost no memory).
const MAX_TOTAL: u64 = 1 << 40;
const FIRST_RESERVE: usize = 64 << 20;
const BUF: usize = 1 << 20;

/// True for an entry whose bytes no metadata view reads: a memory pages image anywhere, the
/// root file system diff, the `/dev/shm` tar.
pub(super) fn withheld_name(path: &[u8]) -> bool {
    let path = path.strip_prefix(b"./").unwrap_or(path);
    if path == b"rootfs-diff.tar" || path == b"devshm-checkpoint.tar" {
        return true;
    }
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    base.starts_with(b"pages-") && base.ends_with(b".img")
}

/// The decompressed tar being laid out.
struct Sparse {
    map: MmapMut,
    /// Bytes of the tar laid out so far (written or withheld).
    len: usize,
    kept: u64,
    holes: Vec<Range<usize>>,
}

impl Sparse {
    fn new() -> io::Result<Sparse> {
        let map = MmapOptions::new()
            .len(FIRST_RESERVE)
            .no_reserve_swap()
            .map_anon()?;
        Ok(Sparse {
            map,
            len: 0,
            kept: 0,
            holes: Vec::new(),
        })
    }

    /// Makes room for `more` bytes after `len`.
    fn reserve(&mut self, more: usize) -> io::Result<()> {
        let need = self
            .len
            .checked_add(more)
            .ok_or_else(|| io::Error::other("the archive is too large"))?;
        if need <= self.map.len() {
            return Ok(());
        }
        let new_len = need.max(self.map.len().saturating_mul(2));
        // SAFETY: no reference into the mapping is held across this call (`map` is borrowed
        // mutably), and the mapping may move: it is only ever reached through `self.map`.
        unsafe {
            self.map
                .remap(new_len, RemapOptions::new().may_move(true))?;
        }
        Ok(())
    }
}

/// Reads into `buf` until it is full or the stream ends; the count read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The decompressed tar of the compressed archive `file` (`input` names it in messages), with
/// the data of the entries [`withheld_name`] selects withheld (see the module docs).
pub(super) fn metadata_tar(
    input: &Path,
    file: &File,
    kind: InputKind,
    progress: bool,
) -> Result<Blob, Error> {
    let total_in = file
        .metadata()
        .map_err(|e| Error::io(input, "cannot stat", e))?
        .len();
    metadata_tar_of(input, file, total_in, kind, progress)
}

/// [`metadata_tar`] of a compressed stream of `total_in` bytes read from `file` (a file, or a
/// compressed layer of a checkpoint image held in memory).
pub(super) fn metadata_tar_of(
    input: &Path,
    file: impl Read,
    total_in: u64,
    kind: InputKind,
    progress: bool,
) -> Result<Blob, Error> {
    let read = std::cell::Cell::new(0u64);
    let (mut src, bar) = Tally::buffered(input, file, total_in, progress, &read);
    let dec_err = |e| decompress_error(input, kind, read.get(), e);
    let mut dec = decoder(kind, &mut src).map_err(dec_err)?;
    let mem_err = |e: io::Error| Error::io(input, "cannot reserve memory for reading", e);
    let too_large = |limit: u64, why: &str| Error::TooLarge {
        path: input.to_path_buf(),
        limit,
        why: why.to_string(),
    };
    let mut sp = Sparse::new().map_err(mem_err)?;
    // The entry after an extension header (long name, PAX) is kept whole.
    let mut after_extension = false;
    // Copy everything from here on (a header that does not parse: the index reports it).
    let mut verbatim = false;
    let mut scratch = vec![0u8; BUF];
    loop {
        if verbatim {
            let n = read_full(&mut dec, &mut scratch).map_err(dec_err)?;
            if n == 0 {
                break;
            }
            sp.reserve(n).map_err(mem_err)?;
            sp.map[sp.len..sp.len + n].copy_from_slice(&scratch[..n]);
            sp.len += n;
            sp.kept += n as u64;
            if sp.kept > MAX_KEPT {
                return Err(too_large(
                    MAX_KEPT,
                    "what a metadata-only view keeps in memory; mount the checkpoint instead",
                ));
            }
            continue;
        }
        sp.reserve(BLOCK).map_err(mem_err)?;
        let at = sp.len;
        let n = read_full(&mut dec, &mut sp.map[at..at + BLOCK]).map_err(dec_err)?;
        sp.len += n;
        sp.kept += n as u64;
        if n < BLOCK {
            break; // the end (or a cut header: the index reports it)
        }
        let raw = &sp.map[at..at + BLOCK];
        if raw.iter().all(|&b| b == 0) {
            continue;
        }
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(raw);
        let Ok(size) = header.entry_size() else {
            verbatim = true;
            continue;
        };
        let kind_byte = raw[156];
        let extension = matches!(kind_byte, b'L' | b'K' | b'x' | b'g');
        let regular = matches!(kind_byte, 0 | b'0' | b'7');
        let withhold = regular
            && !after_extension
            && size >= MIN_WITHHELD
            && withheld_name(&header.path_bytes());
        after_extension = extension;
        let Some(padded) = size
            .checked_add(BLOCK as u64 - 1)
            .map(|s| s & !(BLOCK as u64 - 1))
            .filter(|p| (sp.len as u64).saturating_add(*p) <= MAX_TOTAL)
        else {
            return Err(too_large(
                MAX_TOTAL,
                "the largest archive a metadata-only view reads",
            ));
        };
        let mut left = padded;
        let start = sp.len;
        if withhold {
            // Skipped in the stream; its place in the layout stays untouched (no memory).
            sp.reserve(padded as usize).map_err(mem_err)?;
            while left > 0 {
                let want = left.min(scratch.len() as u64) as usize;
                let n = read_full(&mut dec, &mut scratch[..want]).map_err(dec_err)?;
                sp.len += n;
                left -= n as u64;
                if n < want {
                    break;
                }
            }
            sp.holes.push(start..sp.len.min(start + size as usize));
        } else {
            while left > 0 {
                let want = left.min(BUF as u64) as usize;
                sp.reserve(want).map_err(mem_err)?;
                let at = sp.len;
                let n = read_full(&mut dec, &mut sp.map[at..at + want]).map_err(dec_err)?;
                sp.len += n;
                sp.kept += n as u64;
                left -= n as u64;
                if sp.kept > MAX_KEPT {
                    return Err(too_large(
                        MAX_KEPT,
                        "what a metadata-only view keeps in memory; mount the checkpoint instead",
                    ));
                }
                if n < want {
                    break;
                }
            }
        }
        if left > 0 {
            break; // cut short: the index reports the truncated entry
        }
    }
    drop(dec);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if sp.len < BLOCK || !super::tar::looks_like_tar(&sp.map[..BLOCK]) {
        return Err(not_tar(input, kind));
    }
    let len = sp.len;
    let map = sp.map.make_read_only().map_err(mem_err)?;
    Ok(Blob::sparse(map, len, sp.holes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_util::{TarSpec, TempDir, gzip};

    #[test]
    fn names_withheld() {
        for n in [
            "checkpoint/pages-1.img",
            "./checkpoint/pages-12.img",
            "pages-3.img",
            "rootfs-diff.tar",
            "./devshm-checkpoint.tar",
            "pre/pages-1.img",
        ] {
            assert!(withheld_name(n.as_bytes()), "{n}");
        }
        for n in [
            "checkpoint/pagemap-1.img",
            "checkpoint/pstree.img",
            "config.dump",
            "x/rootfs-diff.tar",
            "checkpoint/pages-1.img.txt",
        ] {
            assert!(!withheld_name(n.as_bytes()), "{n}");
        }
    }

    /// The layout has every entry at its place; kept files read as stored, a pages image is
    /// withheld (its bytes never stored, its size known), and the index of the result is the
    /// index of the whole tar.
    #[test]
    fn pages_are_withheld_the_rest_kept() {
        let t = TempDir::new("sparse");
        let pages: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 + 1).collect();
        let small_pages = vec![7u8; 100];
        let tar = TarSpec::new()
            .file("checkpoint/inventory.img", b"inv")
            .file("checkpoint/pages-1.img", &pages)
            .file("checkpoint/pages-2.img", &small_pages)
            .file("checkpoint/pstree.img", b"pstree")
            .build_gnu();
        let p = t.join("a.tar.gz");
        std::fs::write(&p, gzip(&tar)).unwrap();
        let f = File::open(&p).unwrap();
        let b = metadata_tar(&p, &f, InputKind::TarGz, false).unwrap();
        assert_eq!(b.len(), tar.len());
        let idx = crate::source::tar::TarIndex::build(&p, &b).unwrap();
        let full = crate::source::tar::TarIndex::build(&p, &Blob::from_vec(tar.clone())).unwrap();
        let file = |i: &crate::source::tar::TarIndex, n: &str| match i.node(n) {
            Some(crate::source::tar::Node::File(b)) => b.clone(),
            other => panic!("{n}: {other:?}"),
        };
        for n in [
            "checkpoint/inventory.img",
            "checkpoint/pstree.img",
            "checkpoint/pages-2.img",
        ] {
            assert_eq!(file(&idx, n).bytes(), file(&full, n).bytes(), "{n}");
            assert!(!file(&idx, n).is_withheld(), "{n}");
        }
        let w = file(&idx, "checkpoint/pages-1.img");
        assert_eq!(w.len(), pages.len());
        assert!(w.is_withheld());
        assert!(!b.slice(0..512).unwrap().is_withheld());
        // A truncated stream is an error naming the format.
        let gz = gzip(&tar);
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let f = File::open(&p).unwrap();
        let e = metadata_tar(&p, &f, InputKind::TarGz, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip"), "{e}");
    }
}
