//! A process's memory as its VMAs map it: its own pagemap, and the shared-memory objects
//! (shared anonymous memory, memfds) its VMAs map, from their `pagemap-shmem-<shmid>.img`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Extent, ExtentData, Memory};
use crate::model::files::load::MemfdInodes;
use crate::model::files::{FileKind, FileRef};
use crate::model::pages;
use crate::model::process::{Vma, vma_status as vs};
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

/// The memory of PID `pid` as its `vmas` map it: `pagemap-<pid>.img`, and for each mapping of
/// shared memory `pagemap-shmem-<shmid>.img` (decoded once per object into `shmem_cache`).
///
/// A pagemap that is missing (for a process with an address space) or refused leaves the
/// private memory unknown: its VMAs read as errors (EIO), never as zeros; the rest of the
/// process (threads, files, maps) is still served.
pub(in crate::model) fn process_memory(
    dir: &ImageDir,
    pid: u32,
    vmas: &[Vma],
    files: &BTreeMap<u32, FileRef>,
    memfd: &MemfdInodes,
    shmem_cache: &mut HashMap<u64, Option<Memory>>,
    warnings: &mut Warnings,
) -> Memory {
    let pagemap_name = format!("pagemap-{pid}.img");
    let mut unknown: Option<Arc<str>> = None;
    let mut memory = match pages::load(dir, &pagemap_name, warnings) {
        Ok(Some(m)) => m,
        Ok(None) if vmas.is_empty() => Memory::default(),
        Ok(None) => {
            let msg = format!(
                "{}/{pagemap_name}: missing: the memory of PID {pid} is unknown; reads of it fail",
                dir.label
            );
            warnings.push(Kind::MissingImage, msg.clone());
            unknown = Some(Arc::from(msg));
            Memory::default()
        }
        Err(e) => {
            let msg = format!("{e}: the memory of PID {pid} is unknown; reads of it fail");
            warnings.push(e.warning_kind(), msg.clone());
            unknown = Some(Arc::from(msg));
            Memory::default()
        }
    };
    // A shared mapping shows the object's pages; a private mapping of the object (a memfd
    // executed or mapped MAP_PRIVATE) shows its own dumped pages (copied on write) and the
    // object's content where it has none, as the kernel does.
    let mut shared: Vec<Extent> = Vec::new();
    let mut under: Vec<Extent> = Vec::new();
    // Where the pagemap is unknown, a mapping's own pages fail to read.
    let unknown_pages = |v: &Vma| {
        unknown.as_ref().map(|why| Extent {
            start: v.start,
            len: v.len(),
            data: ExtentData::Broken(why.clone()),
        })
    };
    for v in vmas {
        let Some(shmid) = shmem_id(v, files, memfd) else {
            shared.extend(unknown_pages(v));
            continue;
        };
        let shm = shmem_cache.entry(shmid).or_insert_with(|| {
            match pages::load(dir, &format!("pagemap-shmem-{shmid}.img"), warnings) {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(e.warning_kind(), e.to_string());
                    None
                }
            }
        });
        if !v.shared() && unknown.is_some() {
            // A private mapping's own pages (those it wrote) are in the unknown pagemap: the
            // object's content cannot stand in for them.
            shared.extend(unknown_pages(v));
            continue;
        }
        match shm {
            Some(m) => {
                let w = m.window(v.pgoff, v.pgoff.saturating_add(v.len()), v.start);
                if v.shared() {
                    shared.extend(w);
                } else {
                    under.extend(w);
                }
            }
            None => warnings.push(Kind::MissingImage, format!(
                "PID {pid}: shared mapping {:x}-{:x}: pagemap-shmem-{shmid}.img is missing; it reads as zeros",
                v.start, v.end
            )),
        }
    }
    shared.extend(memory.in_holes(under));
    if !shared.is_empty() {
        let (m, overlaps) = std::mem::take(&mut memory).with(shared);
        for o in overlaps {
            warnings.push(Kind::PagesOverlap, format!(
                "PID {pid}: private and shared pages overlap at {:#x}-{:#x}: those bytes fail to read",
                o.start, o.end
            ));
        }
        memory = m;
    }
    memory
}

/// The shared-memory object behind a VMA, if it is shared anonymous or memfd memory.
fn shmem_id(v: &Vma, _files: &BTreeMap<u32, FileRef>, memfd: &MemfdInodes) -> Option<u64> {
    if v.status & vs::ANON_SHARED != 0 && v.status & vs::MEMFD == 0 && v.file.is_none() {
        return Some(v.shmid);
    }
    if v.status & vs::MEMFD != 0
        || matches!(
            v.file.as_ref().map(|f| &f.kind),
            Some(FileKind::Memfd { .. })
        )
    {
        if let Some(FileKind::Memfd { inode_id, .. }) = v.file.as_ref().map(|f| &f.kind) {
            return memfd.get(&u64::from(*inode_id)).map(|m| m.shmid);
        }
    }
    None
}
