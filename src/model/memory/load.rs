//! A process's memory as its VMAs map it: its own pagemap, and the shared-memory objects
//! (shared anonymous memory, memfds) its VMAs map.

use std::collections::{BTreeMap, HashMap};

use crate::model::files::{FileKind, FileRef};
use crate::model::process::{Vma, vma_status as vs};

/// The shared-memory object behind a VMA, if it is shared anonymous or memfd memory.
pub(in crate::model) fn shmem_id(
    v: &Vma,
    _files: &BTreeMap<u32, FileRef>,
    memfd: &HashMap<u64, (String, u64)>,
) -> Option<u64> {
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
            return memfd.get(&u64::from(*inode_id)).map(|(_, s)| *s);
        }
    }
    None
}
