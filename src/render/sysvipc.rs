//! `sysvipc/shm`: `/proc/sysvipc/shm`'s table (`sysvipc_shm_proc_show()` of ipc/shm.c), one line
//! per segment of the checkpoint's IPC namespace.
//!
//! From the images (`ipcns-shm-*.img`): key, shmid, perms, size, uid, gid, cuid, cgid; `nattch`
//! is the number of checkpointed processes that map the segment (a process outside the
//! checkpoint may have attached it too). Not in the images, printed as 0: cpid, lpid, atime,
//! dtime, ctime, rss (the segment's dumped bytes, in `sysvipc/shm-<id>`, are not its resident
//! set), swap. [`super::fields`] lists the columns with their sources.

use std::fmt::Write;

use crate::model::Checkpoint;
use crate::model::process::vma_status;

/// The kernel's header line, byte for byte.
pub const SHM_HEADER: &str = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n";

/// The text of `sysvipc/shm`.
pub fn shm(ck: &Checkpoint) -> Vec<u8> {
    let mut out = String::from(SHM_HEADER);
    for s in &ck.objects.shm {
        let nattch = ck
            .processes
            .iter()
            .filter(|p| {
                p.vmas
                    .iter()
                    .any(|v| v.status & vma_status::SYSVIPC != 0 && v.shmid == u64::from(s.id))
            })
            .count();
        let _ = writeln!(
            out,
            "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:21} {:21}",
            s.key as i32,
            s.id as i32,
            s.mode,
            s.size,
            0,
            0,
            nattch,
            s.uid,
            s.gid,
            s.cuid,
            s.cgid,
            0,
            0,
            0,
            0,
            0
        );
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::objects::ShmSegment;
    use crate::render::testutil::{checkpoint, memory};

    /// The kernel's columns for the fields the images carry (podman-kitchen's segment); the
    /// ones they do not (cpid, lpid, times, rss, swap) are 0, although two pages are dumped.
    #[test]
    fn kernel_layout() {
        let mut ck = checkpoint(vec![]);
        ck.objects.shm.push(ShmSegment {
            key: 0x4b49_5443,
            id: 0,
            mode: 0o600,
            size: 65536,
            memory: memory(vec![(0, vec![1; 4096]), (0x8000, vec![2; 4096])]),
            ..Default::default()
        });
        let text = String::from_utf8(shm(&ck)).unwrap();
        assert_eq!(
            text,
            format!(
                "{SHM_HEADER}1263096899          0   600                 65536     0     0      0     0     0     0     0          0          0          0                     0                     0\n"
            )
        );
    }
}
