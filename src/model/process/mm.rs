//! The address space from `mm-<pid>.img`: its layout ([`MmInfo`]), its VMAs named as the kernel
//! names them, and its guard regions.

use std::collections::BTreeMap;

use super::{MmInfo, Process, Vma, VmaName, vma_status as vs};
use crate::image::{magic, pb};
use crate::model::files::load::MemfdInodes;
use crate::model::files::{FileKind, FileRef};
use crate::model::load::optional_one;
use crate::model::objects::Objects;
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

/// A task's address space: its layout, its VMAs in address order and its guard regions. A task
/// without `mm-<pid>.img` (a kernel thread, a zombie) has none.
#[derive(Default)]
pub(in crate::model) struct AddressSpace {
    pub info: Option<MmInfo>,
    pub vmas: Vec<Vma>,
    pub guard_regions: Vec<(u64, u64)>,
}

/// The address space of PID `pid` from `mm-<pid>.img`, its mappings of files resolved against
/// `files` and its memfds named from `memfd` (memfd.img: inode id -> (name, shmid)).
pub(in crate::model) fn load_mm(
    dir: &ImageDir,
    pid: u32,
    files: &BTreeMap<u32, FileRef>,
    memfd: &MemfdInodes,
    warnings: &mut Warnings,
) -> AddressSpace {
    let Some(m) =
        optional_one::<pb::MmEntry>(dir, &format!("mm-{pid}.img"), magic::MM, "", warnings)
    else {
        return AddressSpace::default();
    };
    let (mut vmas, guard_regions) = vmas_of(&m, pid, files, dir, warnings);
    name_memfd_mappings(&mut vmas, memfd);
    AddressSpace {
        info: Some(mm_info(&m)),
        vmas,
        guard_regions,
    }
}

/// Mappings of a memfd memfd.img knows are named from its record of the inode, as the kernel
/// names them.
fn name_memfd_mappings(vmas: &mut [Vma], memfd: &MemfdInodes) {
    for v in vmas {
        if let Some(f) = &v.file
            && let FileKind::Memfd { inode_id, .. } = &f.kind
            && let Some(m) = memfd.get(&u64::from(*inode_id))
        {
            v.name = memfd_vma_name(&m.name);
        }
    }
}

fn mm_info(m: &pb::MmEntry) -> MmInfo {
    MmInfo {
        start_code: m.mm_start_code,
        end_code: m.mm_end_code,
        start_data: m.mm_start_data,
        end_data: m.mm_end_data,
        start_stack: m.mm_start_stack,
        start_brk: m.mm_start_brk,
        brk: m.mm_brk,
        arg_start: m.mm_arg_start,
        arg_end: m.mm_arg_end,
        env_start: m.mm_env_start,
        env_end: m.mm_env_end,
        exe_file_id: m.exe_file_id,
        auxv: m.mm_saved_auxv.clone(),
        dumpable: m.dumpable.map(|d| d as u32),
        thp_disabled: m.thp_disabled,
    }
}

/// The VMAs of `m` in address order, and the guard regions (CRIU 4.2's `VMA_AREA_GUARD` entries:
/// `MADV_GUARD_INSTALL` ranges, appended after the real VMAs and overlapping them; the kernel's
/// maps shows the real VMA unsplit, so they are kept apart, sorted and merged).
fn vmas_of(
    m: &pb::MmEntry,
    pid: u32,
    files: &BTreeMap<u32, FileRef>,
    dir: &ImageDir,
    warnings: &mut Warnings,
) -> (Vec<Vma>, Vec<(u64, u64)>) {
    let mut out: Vec<Vma> = Vec::with_capacity(m.vmas.len());
    let mut guards: Vec<(u64, u64)> = Vec::new();
    for (i, v) in m.vmas.iter().enumerate() {
        if v.status & vs::GUARD != 0 {
            if v.end > v.start && v.start % 4096 == 0 && v.end % 4096 == 0 {
                guards.push((v.start, v.end));
            } else {
                warnings.push(Kind::BadMapping, format!(
                    "{}/mm-{pid}.img: guard region {i} {:#x}-{:#x} is empty, inverted or unaligned; ignored",
                    dir.label, v.start, v.end
                ));
            }
            continue;
        }
        if v.end <= v.start || v.start % 4096 != 0 || v.end % 4096 != 0 {
            warnings.push(
                Kind::BadMapping,
                format!(
                    "{}/mm-{pid}.img: VMA {i} {:#x}-{:#x} is empty, inverted or unaligned; ignored",
                    dir.label, v.start, v.end
                ),
            );
            continue;
        }
        if let Some(last) = out.last()
            && v.start < last.end
        {
            warnings.push(Kind::BadMapping, format!(
                "{}/mm-{pid}.img: VMA {i} {:#x}-{:#x} overlaps or precedes the previous one; ignored",
                dir.label, v.start, v.end
            ));
            continue;
        }
        let st = v.status;
        let file_backed = st & (vs::FILE_PRIVATE | vs::FILE_SHARED | vs::MEMFD) != 0;
        let file = if file_backed {
            u32::try_from(v.shmid)
                .ok()
                .and_then(|id| files.get(&id).cloned())
        } else {
            None
        };
        let name = if st & vs::VSYSCALL != 0 {
            VmaName::Vsyscall
        } else if st & vs::UPROBES != 0 {
            VmaName::Uprobes
        } else if st & vs::VDSO != 0 {
            VmaName::Vdso
        } else if st & vs::VVAR != 0 {
            VmaName::Vvar
        } else if st & vs::HEAP != 0 {
            VmaName::Heap
        } else if file_backed {
            match file.as_ref().map(|f| &f.kind) {
                Some(FileKind::Reg { path, deleted, .. }) => VmaName::File {
                    path: path.clone(),
                    deleted: *deleted,
                },
                Some(FileKind::Memfd { name, .. }) => memfd_vma_name(name),
                Some(_) | None => VmaName::Unknown { file_id: v.shmid },
            }
        } else if st & (vs::ANON_SHARED | vs::SYSVIPC) != 0 {
            // SysV segments are renamed once their keys are known (`name_sysv_mappings`).
            VmaName::File {
                path: "/dev/zero".into(),
                deleted: true,
            }
        } else if m.mm_start_stack >= v.start && m.mm_start_stack < v.end {
            VmaName::Stack
        } else {
            VmaName::Anon
        };
        let vma = Vma {
            start: v.start,
            end: v.end,
            pgoff: v.pgoff,
            shmid: v.shmid,
            prot: v.prot,
            flags: v.flags,
            status: st,
            fd: v.fd,
            madv: v.madv.unwrap_or(0),
            fdflags: v.fdflags.unwrap_or(0),
            name,
            file,
        };
        // Since Linux 6.16 the vvar area is shown as two VMAs, [vvar] (4 pages) and [vvar_vclock]
        // (2 pages), but CRIU records it as one 6-page VMA: split it as the kernel shows it.
        if vma.name == VmaName::Vvar && vma.len() == 6 * 4096 {
            let mid = vma.start + 4 * 4096;
            let mut clock = vma.clone();
            clock.start = mid;
            clock.name = VmaName::VvarVclock;
            let mut head = vma;
            head.end = mid;
            out.push(head);
            out.push(clock);
        } else {
            out.push(vma);
        }
    }
    guards.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(guards.len());
    for (s, e) in guards {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    (out, merged)
}

fn memfd_vma_name(name: &str) -> VmaName {
    // CRIU stores the memfd's dentry name: a memfd created with memfd_create("x") is shown by the
    // kernel as "/memfd:x (deleted)"; an anonymous shared mapping (which CRIU 4.2 on kernel 6.18
    // records as a memfd named "/dev/zero") as "/dev/zero (deleted)".
    let path = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/memfd:{}", name.strip_prefix("memfd:").unwrap_or(name))
    };
    VmaName::File {
        path,
        deleted: true,
    }
}

/// SysV shared memory mappings are named as the kernel names them, `/SYSV<key> (deleted)`
/// (CRIU marks them `VMA_AREA_SYSVIPC`, with the segment id in `shmid`).
pub(in crate::model) fn name_sysv_mappings(
    processes: &mut [Process],
    objects: &Objects,
    warnings: &mut Warnings,
) {
    for p in processes {
        for v in &mut p.vmas {
            if v.status & vs::SYSVIPC == 0 {
                continue;
            }
            match objects.shm_by_id(v.shmid) {
                Some(seg) => {
                    v.name = VmaName::File {
                        path: seg.path(),
                        deleted: true,
                    }
                }
                None => warnings.push(Kind::DanglingReference, format!(
                    "PID {}: SysV shared memory mapping {:x}-{:x}: segment {} is not in any ipcns-shm image; its key is unknown",
                    p.pid, v.start, v.end, v.shmid
                )),
            }
        }
    }
}
