//! Process memory filled from files the tree holds, under the dumped pages.
//!
//! CRIU dumps the pages of a private file mapping that the process changed (copied on write) and
//! leaves out the clean ones, which the kernel reads from the file. [`file_pages`] puts the
//! mapped file's bytes at `pgoff` into those holes whenever `rootfs/` holds the file: a file of
//! the container's layer (rootfs-diff.tar), a saved deleted file (a ghost file, served at
//! `rootfs/PATH (deleted)`), any other content merged into `rootfs/`, and, with `--rootfs`, a
//! file of the image. The page tail past the end of the file reads as zeros, as the kernel maps
//! it; pages wholly past the end stay holes. A file whose size differs from the size CRIU
//! recorded for the mapped file is another file: its pages stay holes, with a warning. A file the
//! checkpoint does not hold (the image's own libraries without `--rootfs`) stays a hole.
//!
//! [`devshm_pages`] fills the pages of `MAP_SHARED` mappings of `/dev/shm` files (Podman's
//! devshm-checkpoint.tar, shown as `rootfs/dev/shm/`).
//!
//! Dumped pages always win: only holes are filled. The filled ranges are recorded per PID
//! ([`super::rootfs::ContainerFs::filled`]) so that `pagemap` and the dumped-memory figures tell
//! them from dumped pages.

use std::collections::{BTreeMap, HashMap};

use super::files::FileKind;
use super::memory::{Extent, ExtentData, Memory, PAGE_SIZE};
use super::process::{Process, vma_status};
use super::rootfs::{FileData, RootFs};
use crate::source::Blob;
use crate::warning::{Kind, Warnings};

/// The path under `rootfs/` that holds a mapped file's bytes: the file's own path, or for a
/// deleted file the `PATH (deleted)` where its saved copy is shown.
fn rootfs_path(path: &str, deleted: bool) -> String {
    if deleted {
        format!("{path} (deleted)")
    } else {
        path.to_string()
    }
}

/// Fills the clean pages of private file mappings that the dump does not hold with the mapped
/// file's bytes from `rootfs` (only where the dump has no page). Returns the filled ranges per
/// PID, sorted; problems become warnings (one per file).
pub fn file_pages(
    rootfs: &RootFs,
    processes: &mut [Process],
    warnings: &mut Warnings,
) -> BTreeMap<u32, Vec<(u64, u64)>> {
    let mut out = BTreeMap::new();
    let mut cache: HashMap<String, Option<Blob>> = HashMap::new();
    for p in processes.iter_mut() {
        let mut add: Vec<Extent> = Vec::new();
        let mut filled: Vec<(u64, u64)> = Vec::new();
        for v in &p.vmas {
            if v.status & vma_status::FILE_PRIVATE == 0 || v.shared() {
                continue;
            }
            let Some(FileKind::Reg {
                path,
                deleted,
                size,
                ..
            }) = v.file.as_ref().map(|f| &f.kind)
            else {
                continue;
            };
            let at = rootfs_path(path, *deleted);
            let blob = cache
                .entry(at.clone())
                .or_insert_with(|| match rootfs.file(&at).map(FileData::blob) {
                    Some(Ok(b)) => match size {
                        Some(s) if *s != b.len() as u64 => {
                            warnings.push(
                                Kind::FileMismatch,
                                format!(
                                    "rootfs{}: {} bytes, but the mapped file had {s} at the \
                                 checkpoint: another file; its clean pages are left as holes",
                                    crate::format::escape(&at),
                                    b.len()
                                ),
                            );
                            None
                        }
                        _ => Some(b),
                    },
                    Some(Err(e)) => {
                        warnings.push(
                            Kind::Unreadable,
                            format!("rootfs{}: cannot read: {e}", crate::format::escape(&at)),
                        );
                        None
                    }
                    None => None,
                })
                .clone();
            let Some(blob) = blob else { continue };
            for (gs, ge) in gaps(&p.memory, v.start, v.end) {
                let Some(off) = v.pgoff.checked_add(gs - v.start) else {
                    continue;
                };
                let flen = blob.len() as u64;
                if off >= flen {
                    continue; // wholly past EOF: nothing to read (a hole)
                }
                let avail = (flen - off).min(ge - gs);
                let full = avail / PAGE_SIZE * PAGE_SIZE;
                if full > 0
                    && let Some(b) = blob.slice(off as usize..(off + full) as usize)
                {
                    add.push(Extent {
                        start: gs,
                        len: full,
                        data: ExtentData::Bytes(b),
                    });
                }
                let tail = avail - full;
                let mut end = gs + full;
                if tail > 0 {
                    let mut page = vec![0u8; PAGE_SIZE as usize];
                    let s = (off + full) as usize;
                    page[..tail as usize].copy_from_slice(&blob.bytes()[s..s + tail as usize]);
                    add.push(Extent {
                        start: gs + full,
                        len: PAGE_SIZE.min(ge - gs - full),
                        data: ExtentData::Bytes(Blob::from_vec(page)),
                    });
                    end = (gs + full + PAGE_SIZE).min(ge);
                }
                if end > gs {
                    filled.push((gs, end));
                }
            }
        }
        if add.is_empty() {
            continue;
        }
        add_extents(p, add, "file pages from rootfs", warnings);
        filled.sort_unstable();
        out.insert(p.pid, filled);
    }
    out
}

/// Fills the pages of `MAP_SHARED` mappings of `/dev/shm` files that the dump does not hold with
/// the file's bytes from `rootfs/dev/shm/` (Podman's devshm-checkpoint.tar; at dump time the
/// mapping showed exactly the file). Dumped pages win; pages of the file that are all zeros stay
/// holes. Adds the filled ranges to `filled`.
pub fn devshm_pages(
    rootfs: &RootFs,
    processes: &mut [Process],
    filled: &mut BTreeMap<u32, Vec<(u64, u64)>>,
    warnings: &mut Warnings,
) {
    for p in processes.iter_mut() {
        let mut add: Vec<Extent> = Vec::new();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for v in &p.vmas {
            if v.status & vma_status::FILE_SHARED == 0 {
                continue;
            }
            let Some(FileKind::Reg { path, .. }) = v.file.as_ref().map(|f| &f.kind) else {
                continue;
            };
            if !path.starts_with("/dev/shm/") {
                continue;
            }
            let blob = match rootfs.file(path).map(FileData::blob) {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    warnings.push(Kind::Unreadable, format!("rootfs{path}: cannot read: {e}"));
                    continue;
                }
                None => continue,
            };
            let flen = blob.len() as u64;
            for (gs, ge) in gaps(&p.memory, v.start, v.end) {
                let mut at = gs;
                while at < ge {
                    let Some(off) = v.pgoff.checked_add(at - v.start) else {
                        break;
                    };
                    if off >= flen {
                        break; // past EOF: SIGBUS in the process, a hole here
                    }
                    let n = (flen - off).min(PAGE_SIZE) as usize;
                    let src = &blob.bytes()[off as usize..off as usize + n];
                    if src.iter().any(|&b| b != 0) {
                        let data = if n as u64 == PAGE_SIZE {
                            blob.slice(off as usize..off as usize + n)
                        } else {
                            let mut page = vec![0u8; PAGE_SIZE as usize];
                            page[..n].copy_from_slice(src);
                            Some(Blob::from_vec(page))
                        };
                        if let Some(b) = data {
                            add.push(Extent {
                                start: at,
                                len: PAGE_SIZE,
                                data: ExtentData::Bytes(b),
                            });
                            match ranges.last_mut() {
                                Some(r) if r.1 == at => r.1 = at + PAGE_SIZE,
                                _ => ranges.push((at, at + PAGE_SIZE)),
                            }
                        }
                    }
                    at += PAGE_SIZE;
                }
            }
        }
        if add.is_empty() {
            continue;
        }
        add_extents(p, add, "/dev/shm pages", warnings);
        let f = filled.entry(p.pid).or_default();
        f.extend(ranges);
        f.sort_unstable();
    }
}

/// The page-aligned holes of `mem` inside `lo..hi`.
fn gaps(mem: &Memory, lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    let mut at = lo;
    while at < hi {
        let hole = mem.next_hole(at);
        if hole >= hi {
            break;
        }
        let data = mem.next_data(hole).unwrap_or(hi).min(hi);
        if data > hole {
            v.push((hole, data));
        }
        at = data;
    }
    v
}

/// Adds `add` (pages filled from outside the images) to `p`'s memory; where they overlap dumped
/// pages the bytes become unreadable (never guessed), with a warning naming `what`.
fn add_extents(p: &mut Process, add: Vec<Extent>, what: &str, warnings: &mut Warnings) {
    let (m, overlaps) = std::mem::take(&mut p.memory).with(add);
    for o in overlaps {
        warnings.push(
            Kind::PagesOverlap,
            format!(
                "PID {}: {what} overlap dumped pages at {:#x}-{:#x}",
                p.pid, o.start, o.end
            ),
        );
    }
    p.memory = m;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::files::FileObject;
    use crate::model::process::{Vma, VmaName};
    use std::sync::Arc;

    /// An uncompressed tar of regular files.
    fn tar_of(files: &[(&str, &[u8])]) -> Blob {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, *data).unwrap();
        }
        Blob::from_vec(b.into_inner().unwrap())
    }

    fn file_vma(start: u64, end: u64, pgoff: u64, file: Arc<FileObject>) -> Vma {
        let (path, deleted) = match &file.kind {
            FileKind::Reg { path, deleted, .. } => (path.clone(), *deleted),
            _ => unreachable!(),
        };
        Vma {
            start,
            end,
            pgoff,
            shmid: u64::from(file.id),
            prot: 1,
            flags: libc::MAP_PRIVATE as u32,
            status: vma_status::REGULAR | vma_status::FILE_PRIVATE,
            fd: -1,
            madv: 0,
            fdflags: 0,
            name: VmaName::File { path, deleted },
            file: Some(file),
        }
    }

    /// A regular file object with the size CRIU recorded and whether it was deleted.
    fn reg(id: u32, path: &str, size: Option<u64>, gone: bool) -> Arc<FileObject> {
        let mut f = FileObject::reg(id, path);
        if let FileKind::Reg {
            size: s, deleted, ..
        } = &mut Arc::make_mut(&mut f).kind
        {
            *s = size;
            *deleted = gone;
        }
        f
    }

    fn content(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8 ^ seed | 1).collect()
    }

    #[test]
    fn fills_clean_file_pages_only_in_holes() {
        let content = content(2 * 4096 + 100, 0);
        let tar = tar_of(&[("lib/x.so", &content)]);
        let r = RootFs::build(None, Some(&tar), None).unwrap();
        let vma = file_vma(0x10000, 0x15000, 4096, reg(1, "/lib/x.so", None, false));
        let dumped = Blob::from_vec(vec![0xee; 4096]);
        let (mem, _) = Memory::from_extents(vec![Extent {
            start: 0x10000,
            len: 4096,
            data: ExtentData::Bytes(dumped),
        }]);
        let mut p = crate::render::testutil::process_with_files(5, vec![vma], mem);
        let mut w = Warnings::new();
        let filled = file_pages(&r, std::slice::from_mut(&mut p), &mut w);
        assert!(w.is_empty(), "{w:?}");
        // Page 0 dumped (kept); page 1 = file offset 8192: 100 bytes then zeros; pages 2.. past EOF.
        assert_eq!(filled[&5], vec![(0x11000, 0x12000)]);
        let mut buf = vec![0u8; 0x2000];
        p.memory.read_at(0x10000, &mut buf).unwrap();
        assert!(buf[..4096].iter().all(|&b| b == 0xee));
        assert_eq!(&buf[4096..4196], &content[8192..8292]);
        assert!(buf[4196..].iter().all(|&b| b == 0));
        assert_eq!(p.memory.next_data(0x11000), Some(0x11000));
        assert_eq!(p.memory.next_hole(0x10000), 0x12000);
    }

    /// A deleted file's mapping is filled from its saved copy at `PATH (deleted)`, never from a
    /// new file that took its name; a file whose size is not the recorded one is not used.
    #[test]
    fn deleted_files_from_their_saved_copy_and_sizes_checked() {
        let old = content(2 * 4096, 7);
        let new = content(2 * 4096, 9);
        let tar = tar_of(&[
            ("tmp/x (deleted)", &old),
            ("tmp/x", &new),
            ("lib/other.so", &new),
        ]);
        let r = RootFs::build(None, Some(&tar), None).unwrap();
        let vmas = vec![
            file_vma(0x10000, 0x12000, 0, reg(1, "/tmp/x", Some(8192), true)),
            file_vma(
                0x20000,
                0x22000,
                0,
                reg(2, "/lib/other.so", Some(5000), false),
            ),
            file_vma(0x30000, 0x32000, 0, reg(3, "/tmp/x", Some(8192), false)),
        ];
        let mut p = crate::render::testutil::process_with_files(5, vmas, Memory::default());
        let mut w = Warnings::new();
        let filled = file_pages(&r, std::slice::from_mut(&mut p), &mut w);
        assert_eq!(filled[&5], vec![(0x10000, 0x12000), (0x30000, 0x32000)]);
        let mut buf = vec![0u8; 0x2000];
        p.memory.read_at(0x10000, &mut buf).unwrap();
        assert_eq!(buf, old);
        p.memory.read_at(0x30000, &mut buf).unwrap();
        assert_eq!(buf, new);
        assert_eq!(p.memory.present_in(0x20000, 0x22000), 0);
        assert_eq!(w.kinds(), [Kind::FileMismatch], "{w:?}");
        assert!(w[0].message.contains("rootfs/lib/other.so"), "{w:?}");
    }
}
