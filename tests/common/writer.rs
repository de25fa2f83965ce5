//! Checkpoints made by the in-repo writer that several test files search.

use std::path::{Path, PathBuf};

use ckptfs::writer::{CheckpointWriter, Compression, K8sArchive, Layout, PE_PRESENT, Vma};

const PAGE: u64 = 4096;

/// Where [`cross_boundary_dump`] maps its anonymous VMA.
pub const CROSS_BASE: u64 = 0x5ec0_0000_0000;

/// Writes `dir/dump` with its parent dump `pre`: process 1 with one anonymous rw VMA at
/// [`CROSS_BASE`] of `len` bytes (at least 8 pages), dots in its first 4 pages, pages of 2 per
/// pagemap entry, and three markers: across a page boundary inside one entry, across two
/// entries, and across a page of the parent dump (page 4) and a page of this dump (page 5);
/// then each of `more` (marker, address) as it is. Returns every marker with its address, the
/// three crossing ones first.
pub fn cross_boundary_dump(
    dir: &Path,
    len: u64,
    more: &[(&'static [u8], u64)],
) -> Vec<(&'static [u8], u64)> {
    let m3: &'static [u8] = b"CROSS-DUMP-MARKER-3333";
    let at3 = CROSS_BASE + 5 * PAGE - 11;
    let mut all = vec![
        (&b"CROSS-PAGE-MARKER-1111"[..], CROSS_BASE + PAGE - 9),
        (&b"CROSS-ENTRY-MARKER-2222"[..], CROSS_BASE + 3 * PAGE - 5),
        (m3, at3),
    ];
    let mut pre = CheckpointWriter::new();
    pre.process(1, 0)
        .anon(CROSS_BASE, len)
        .pages(at3, &m3[..11]);
    let mut w = CheckpointWriter::new();
    w.max_batch_pages(2);
    w.with_parent("pre", pre);
    let p = w
        .process(1, 0)
        .comm("x")
        .vma(Vma::anon(CROSS_BASE, len).rw())
        .pages(CROSS_BASE, &[b'.'; 4 * 4096])
        .pages(all[0].1, all[0].0)
        .pages(all[1].1, all[1].0)
        .parent_pages(CROSS_BASE + 4 * PAGE, 1)
        .pages_with_flags(CROSS_BASE + 5 * PAGE, &m3[11..], PE_PRESENT);
    for &(m, at) in more {
        p.pages(at, m);
    }
    w.write_dir(&dir.join("dump")).unwrap();
    all.extend_from_slice(more);
    all
}

/// Writes `a` as CRI-O's (`crio`) or containerd's archive, uncompressed, in `dir` under the name
/// the kubelet gives it; returns its path.
pub fn kube_archive_in(dir: &Path, a: K8sArchive, crio: bool) -> PathBuf {
    let path = dir.join(a.ctr.kubelet_file_name());
    let layout = if crio {
        Layout::Crio(a)
    } else {
        Layout::Containerd(a)
    };
    CheckpointWriter::new()
        .write_tar(&path, &layout, Compression::None)
        .unwrap();
    path
}
