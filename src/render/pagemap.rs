//! `PID/pagemap`: the kernel's format (Documentation/admin-guide/mm/pagemap.rst): one `u64`
//! little-endian per virtual page, file offset = page number × 8, size = `mem` size / 4096 × 8.
//!
//! | bit | meaning here |
//! |---|---|
//! | 63 present | the page is in the checkpoint (dumped) |
//! | 58 guard region | the page lies in a `MADV_GUARD_INSTALL` guard region (CRIU 4.2 `VMA_AREA_GUARD`) |
//! | 61 file-page / shared-anon | a dumped page of a shared mapping (shared anonymous, memfd, shared file), or a clean page of a private file mapping filled from the file in `rootfs/` (the layer, a saved deleted file, a saved tmpfs, `--rootfs`; not present) |
//! | 0-54 PFN | always 0 (as for an unprivileged reader) |
//!
//! Soft-dirty (55), exclusive (56), uffd-wp (57) and swap (62) are not in the images: 0.
//! The file is generated per read from the VMA list and the page index, never materialised
//! (a 47-bit address space is 2^35 pages, 256 GiB of pagemap).

use crate::model::memory::{PAGE_SIZE, Piece};
use crate::model::process::{Process, vma_status};

pub const PM_PRESENT: u64 = 1 << 63;
pub const PM_FILE: u64 = 1 << 61;
/// `PM_GUARD_REGION` (Linux 6.14+): the page lies in a `MADV_GUARD_INSTALL` guard region.
pub const PM_GUARD_REGION: u64 = 1 << 58;

/// Size of `PID/pagemap`.
pub fn pagemap_size(p: &Process) -> u64 {
    p.mem_size() / PAGE_SIZE * 8
}

/// The entry of the page at `vaddr`. `filled`: sorted ranges filled from `rootfs/`.
pub fn pagemap_entry(p: &Process, filled: &[(u64, u64)], vaddr: u64) -> u64 {
    let in_filled = {
        let i = filled.partition_point(|r| r.1 <= vaddr);
        filled.get(i).is_some_and(|r| r.0 <= vaddr)
    };
    if in_filled {
        return PM_FILE;
    }
    let guard = {
        let g = &p.guard_regions;
        let i = g.partition_point(|r| r.1 <= vaddr);
        g.get(i).is_some_and(|r| r.0 <= vaddr)
    };
    if guard {
        return PM_GUARD_REGION;
    }
    let dumped = !matches!(p.memory.piece_at(vaddr, 1), Piece::Zeros(_));
    if !dumped {
        return 0;
    }
    let shared = p.vma_at(vaddr).is_some_and(|v| {
        v.shared()
            || v.status & (vma_status::ANON_SHARED | vma_status::FILE_SHARED | vma_status::MEMFD)
                != 0
    });
    PM_PRESENT | if shared { PM_FILE } else { 0 }
}

/// Appends the bytes of `pagemap` at `off..off + len` (clamped to the size) to `out`.
pub fn pagemap_read(p: &Process, filled: &[(u64, u64)], off: u64, len: u64, out: &mut Vec<u8>) {
    let size = pagemap_size(p);
    if off >= size {
        return;
    }
    let end = off.saturating_add(len).min(size);
    let mut at = off;
    while at < end {
        let page = at / 8;
        let e = pagemap_entry(p, filled, page * PAGE_SIZE).to_le_bytes();
        let s = (at % 8) as usize;
        let n = ((end - at) as usize).min(8 - s);
        out.extend_from_slice(&e[s..s + n]);
        at += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::VmaName;
    use crate::render::testutil::{process, vma};

    #[test]
    fn bits_per_page() {
        let mut p = process(
            1,
            vec![
                vma(0x1000, 0x3000, "rw-p", 0, VmaName::Anon),
                vma(0x10000, 0x12000, "rw-s", 0, VmaName::Anon),
            ],
            vec![(0x1000, vec![1; 4096]), (0x10000, vec![2; 4096])],
        );
        p.mm = None;
        let filled = [(0x2000u64, 0x3000u64)];
        assert_eq!(pagemap_entry(&p, &filled, 0x1000), PM_PRESENT);
        assert_eq!(pagemap_entry(&p, &filled, 0x2000), PM_FILE);
        assert_eq!(pagemap_entry(&p, &filled, 0x3000), 0);
        assert_eq!(pagemap_entry(&p, &filled, 0x10000), PM_PRESENT | PM_FILE);
        assert_eq!(pagemap_entry(&p, &filled, 0x11000), 0);
        assert_eq!(pagemap_size(&p), 0x7fff_ffff_f000 / 4096 * 8);
        let mut v = Vec::new();
        pagemap_read(&p, &filled, 8, 24, &mut v);
        assert_eq!(v.len(), 24);
        assert_eq!(&v[..8], &PM_PRESENT.to_le_bytes());
        assert_eq!(&v[8..16], &PM_FILE.to_le_bytes());
        assert_eq!(&v[16..], &[0; 8]);
        // Unaligned reads give the same bytes.
        let mut w = Vec::new();
        pagemap_read(&p, &filled, 13, 7, &mut w);
        assert_eq!(&w[..], &v[5..12]);
        // At and past the end: nothing.
        let mut x = Vec::new();
        pagemap_read(&p, &filled, pagemap_size(&p) - 4, 100, &mut x);
        assert_eq!(x.len(), 4);
        x.clear();
        pagemap_read(&p, &filled, u64::MAX, 100, &mut x);
        assert!(x.is_empty());
    }
}
