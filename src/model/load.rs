//! Building the [`Checkpoint`] model from a [`Source`]: decode the images, resolve file ids,
//! index memory. Pure with respect to the outside world: reads only the source's blobs.
//!
//! Which image holds what (docs/criu-format.md, "Who holds what"): pstree.img lists tasks; `core-<tid>.img`
//! per thread; `mm-<pid>.img`, `pagemap-<pid>.img`, `fs-<pid>.img`, `ids-<pid>.img` per process;
//! `fdinfo-<files_id>.img` per files table; files.img the file objects; memfd.img the memfd inodes;
//! `pagemap-shmem-<shmid>.img` shared anonymous / memfd memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use super::files::{
    AnonDetail, EpollTarget, FileKind, FileObject, FileRef, InetSocket, InotifyWatch,
    SocketBuffers, UnixSocket,
};
use super::memory::{Extent, ExtentData, Memory};
use super::metadata::{DumpStats, Metadata};
use super::process::{
    Aarch64Regs, Arch, ArchRegs, Creds, Fd, MmInfo, Process, Riscv64Regs, SigAction, TaskState,
    Thread, Vma, VmaName, X86Fpu, X86Regs, vma_status as vs,
};
use super::{Checkpoint, Error, pages};
use crate::image::{self, magic, pb};
use crate::source::{ImageDir, Source};

/// Loads the whole model. Fails only when the checkpoint has no usable process tree; everything
/// else that is missing or broken becomes a warning (and, for memory, broken extents).
pub fn load(source: Source) -> Result<Checkpoint, Error> {
    let mut warnings: Vec<String> = source.warnings.clone();
    let dir = &source.images;
    if dir.chain().any(|d| d.files.contains_key("cipher.img")) {
        return Err(Error::Invalid {
            file: format!("{}/cipher.img", dir.label),
            what: "the images are encrypted (CRIU image encryption): ckptfs does not decrypt them yet, and never reads encrypted pages as plain ones".into(),
        });
    }

    let mut meta = load_metadata(&source, &mut warnings);

    let Some(pstree_bytes) = dir.files.get("pstree.img") else {
        // A container archive without its process tree still holds the engine's metadata: the
        // model has no process, and one warning says why.
        if source.layout == crate::source::Layout::ContainerArchive {
            warnings.push(format!(
                "{}/pstree.img is missing: the checkpoint holds no process tree (no processes, files, sockets or memory); only the container's metadata is shown",
                dir.label
            ));
            let time = checkpoint_time(&source, &meta);
            return Ok(Checkpoint {
                source,
                meta,
                processes: Vec::new(),
                files: BTreeMap::new(),
                time,
                warnings,
                container_fs: super::rootfs::ContainerFs::default(),
                objects: super::objects::Objects::default(),
            });
        }
        return Err(Error::Missing(format!("{}/pstree.img", dir.label)));
    };
    let pstree: Vec<pb::PstreeEntry> =
        image::decode_all("pstree.img", pstree_bytes.bytes(), magic::PSTREE)?;
    if pstree.is_empty() {
        return Err(Error::Invalid {
            file: format!("{}/pstree.img", dir.label),
            what: "the process tree is empty".into(),
        });
    }

    let memfd_shmid = load_memfd_inodes(dir, &mut warnings);
    let mut files = load_files(dir, &memfd_shmid, &mut warnings);
    // Open-but-deleted files (remap-fpath.img): ` (deleted)` in their link text.
    super::ghost::mark_deleted(dir, &mut files, &mut warnings);
    let mut objects = super::objects::Objects::load(dir, &mut warnings);
    let mut shmem_cache: HashMap<u64, Option<Memory>> = HashMap::new();

    let mut processes = Vec::with_capacity(pstree.len());
    let mut seen = std::collections::HashSet::new();
    for entry in &pstree {
        if !seen.insert(entry.pid) {
            warnings.push(format!(
                "{}/pstree.img: PID {} is listed twice; the second entry is ignored",
                dir.label, entry.pid
            ));
            continue;
        }
        match load_process(
            dir,
            entry,
            &files,
            &memfd_shmid,
            &mut shmem_cache,
            &mut warnings,
        ) {
            Ok(p) => processes.push(p),
            Err(e) => warnings.push(format!("PID {}: not loaded: {e}", entry.pid)),
        }
    }
    if processes.is_empty() {
        return Err(Error::Invalid {
            file: format!("{}/pstree.img", dir.label),
            what: "no process of the tree could be loaded".into(),
        });
    }
    processes.sort_by_key(|p| p.pid);
    let ttys = session_ttys(dir);
    for p in &mut processes {
        p.ctty = ttys.get(&p.sid).map(|&(rdev, pgrp, _)| (rdev, pgrp));
    }
    // The architecture of the first thread whose core image said something about its CPU.
    meta.arch = processes
        .iter()
        .flat_map(|p| &p.threads)
        .find(|t| t.regs.is_some() || t.arch_regs.is_some() || t.arch != Arch::X86_64)
        .map(|t| t.arch.name().to_string());
    name_sysv_mappings(&mut processes, &objects, &mut warnings);
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    objects.load_net_ns(dir, &pids);
    let unix_ino: BTreeMap<u32, u32> = files
        .iter()
        .filter_map(|(id, f)| match &f.kind {
            FileKind::UnixSocket(s) => Some((*id, s.ino)),
            _ => None,
        })
        .collect();
    objects.load_unix_queues(dir, &unix_ino, &mut warnings);

    let time = checkpoint_time(&source, &meta);
    // Mounts for PID/mountinfo; rootfs/ is built by `rootfs::attach` (it may take --rootfs).
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    let container_fs = super::rootfs::ContainerFs {
        mounts: super::mounts::load(dir, &pids, &mut warnings),
        userns: pids
            .first()
            .and_then(|&root| super::userns::load(dir, root, &mut warnings)),
        ..Default::default()
    };
    Ok(Checkpoint {
        source,
        meta,
        processes,
        files,
        time,
        warnings,
        container_fs,
        objects,
    })
}

/// SysV shared memory mappings are named as the kernel names them, `/SYSV<key> (deleted)`
/// (CRIU marks them `VMA_AREA_SYSVIPC`, with the segment id in `shmid`).
fn name_sysv_mappings(
    processes: &mut [Process],
    objects: &super::objects::Objects,
    warnings: &mut Vec<String>,
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
                None => warnings.push(format!(
                    "PID {}: SysV shared memory mapping {:x}-{:x}: segment {} is not in any ipcns-shm image; its key is unknown",
                    p.pid, v.start, v.end, v.shmid
                )),
            }
        }
    }
}

/// When the checkpoint was taken, the time every file of the tree shows: the engine's
/// `checkpointedTime` (config.dump) when it has one; else when CRIU wrote the images (the
/// modification time of inventory.img as the archive's header or the directory records it,
/// which survives copying an archive); else the input's own modification time.
fn checkpoint_time(source: &Source, meta: &Metadata) -> SystemTime {
    if let Some(t) = meta
        .checkpointed
        .as_deref()
        .and_then(super::metadata::parse_rfc3339)
    {
        return t;
    }
    if let Some(t) = source.images.written {
        return t;
    }
    std::fs::metadata(&source.input.path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn load_metadata(source: &Source, warnings: &mut Vec<String>) -> Metadata {
    let md = |n: &str| source.file(n).map(|b| b.bytes());
    let mut meta = Metadata::from_container_files(md("config.dump"), md("spec.dump"), warnings);
    if let Some(img) = &source.oci {
        meta.set_image(img);
    }
    if let Some(b) = md("config.v2.json") {
        meta.set_docker(b, md("hostconfig.json"), warnings);
    }
    if let Some(b) = md("network.status") {
        meta.set_network_status(b, warnings);
    }
    if let Some(b) = source
        .images
        .files
        .get("dump.log")
        .map(|b| b.bytes())
        .or_else(|| md("dump.log"))
    {
        meta.set_dump_log(b);
    }
    let dir = &source.images;
    if let Some(b) = dir.files.get("inventory.img") {
        match image::decode_one::<pb::InventoryEntry>("inventory.img", b.bytes(), magic::INVENTORY)
        {
            Ok(inv) => {
                meta.criu_image_version = Some(inv.img_version);
                meta.dump_uptime_us = inv.dump_uptime;
                let incremental = dir.parent.is_some();
                meta.inventory = Some(super::metadata::Inventory::from_entry(&inv, incremental));
            }
            Err(e) => warnings.push(format!("{}: {e}", dir.label)),
        }
    }
    // CRIU writes stats-dump in the image dir; Podman also copies it to the archive root.
    let stats = dir
        .files
        .get("stats-dump")
        .or_else(|| source.metadata.get("stats-dump"));
    if let Some(b) = stats {
        match image::decode_one::<pb::StatsEntry>("stats-dump", b.bytes(), magic::STATS) {
            Ok(s) => {
                meta.dump_stats = s.dump.map(|d| DumpStats {
                    freezing_time: d.freezing_time,
                    frozen_time: d.frozen_time,
                    memdump_time: d.memdump_time,
                    memwrite_time: d.memwrite_time,
                    pages_scanned: d.pages_scanned,
                    pages_skipped_parent: d.pages_skipped_parent,
                    pages_written: d.pages_written,
                    irmap_resolve: d.irmap_resolve,
                    pages_lazy: Some(d.pages_lazy),
                    page_pipes: d.page_pipes,
                    page_pipe_bufs: d.page_pipe_bufs,
                    shpages_scanned: d.shpages_scanned,
                    shpages_skipped_parent: d.shpages_skipped_parent,
                    shpages_written: d.shpages_written,
                })
            }
            Err(e) => warnings.push(format!("{}: {e}", dir.label)),
        }
    }
    meta
}

/// Decodes an optional image; a decoding error becomes a warning and `None`.
fn optional<M: prost::Message + Default>(
    dir: &ImageDir,
    name: &str,
    magic: u32,
    warnings: &mut Vec<String>,
) -> Option<Vec<M>> {
    let b = dir.files.get(name)?;
    match image::decode_all::<M>(name, b.bytes(), magic) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!("{}: {e}", dir.label));
            None
        }
    }
}

fn load_files(
    dir: &ImageDir,
    memfd: &HashMap<u64, (String, u64)>,
    warnings: &mut Vec<String>,
) -> BTreeMap<u32, FileRef> {
    let entries: Vec<pb::FileEntry> =
        optional(dir, "files.img", magic::FILES, warnings).unwrap_or_default();
    // A FIFO's path is the regular-file entry it names (`FifoEntry.regf_id`).
    let reg_paths: HashMap<u32, (String, u32, Option<i32>)> = entries
        .iter()
        .filter_map(|fe| {
            fe.reg
                .as_ref()
                .map(|r| (fe.id, (lossy(&r.name), r.flags, r.mnt_id)))
        })
        .collect();
    // A terminal's pty index and kind (tty-info.img, by `TtyFileEntry.tty_info_id`).
    let tty_info: HashMap<u32, (u32, bool)> =
        optional::<pb::TtyInfoEntry>(dir, "tty-info.img", magic::TTY_INFO, warnings)
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                // The device as glibc encodes dev_t; the pty master is TTYAUX_MAJOR 5, minor 2.
                let major = (t.rdev >> 8) & 0xfff;
                let minor = (t.rdev & 0xff) | ((t.rdev >> 12) & 0xfff00);
                let index = t.pty.map_or(0, |p| p.index);
                (t.id, (index, major == 5 && minor == 2))
            })
            .collect();
    let mut out = BTreeMap::new();
    for fe in entries {
        let mut kind = file_kind(&fe);
        match &mut kind {
            FileKind::Tty {
                index,
                master,
                path,
                mnt_id,
                ..
            } => {
                if let Some(t) = &fe.tty {
                    if let Some((i, m)) = tty_info.get(&t.tty_info_id) {
                        (*index, *master) = (*i, *m);
                    }
                    if let Some((p, _, m)) = t.regf_id.and_then(|id| reg_paths.get(&id)) {
                        *path = Some(p.clone());
                        *mnt_id = *m;
                    }
                }
            }
            FileKind::Fifo {
                path,
                flags,
                mnt_id,
                ..
            } => {
                if let Some((p, f, m)) = fe
                    .fifo
                    .as_ref()
                    .and_then(|f| f.regf_id)
                    .and_then(|id| reg_paths.get(&id))
                {
                    *path = Some(p.clone());
                    *flags = Some(*f);
                    *mnt_id = *m;
                }
            }
            FileKind::Memfd {
                name,
                inode_id,
                shmid,
                ..
            } => {
                if let Some((n, s)) = memfd.get(&u64::from(*inode_id)) {
                    *name = n.strip_prefix("memfd:").unwrap_or(n).to_string();
                    *shmid = Some(*s);
                }
            }
            _ => {}
        }
        if out
            .insert(fe.id, Arc::new(FileObject { id: fe.id, kind }))
            .is_some()
        {
            warnings.push(format!(
                "{}/files.img: file id {} appears twice; the last one is used",
                dir.label, fe.id
            ));
        }
    }
    out
}

fn buffers(o: &pb::SkOptsEntry) -> SocketBuffers {
    SocketBuffers {
        send: o.so_sndbuf,
        recv: o.so_rcvbuf,
    }
}

fn file_kind(fe: &pb::FileEntry) -> FileKind {
    use pb::FdTypes as T;
    let t = T::try_from(fe.r#type).ok();
    if let Some(r) = &fe.reg {
        return FileKind::Reg {
            path: lossy(&r.name),
            pos: r.pos,
            flags: r.flags,
            mnt_id: r.mnt_id,
            size: r.size,
            mode: r.mode,
            deleted: false,
            dev_ino: None,
        };
    }
    if let Some(s) = &fe.isk {
        return FileKind::InetSocket(InetSocket {
            ino: s.ino,
            family: s.family,
            sock_type: s.r#type,
            proto: s.proto,
            state: s.state,
            src_port: s.src_port,
            dst_port: s.dst_port,
            src_addr: s.src_addr.clone(),
            dst_addr: s.dst_addr.clone(),
            backlog: s.backlog,
            uid: Some(s.fown.uid),
            flags: s.flags,
            buffers: Some(buffers(&s.opts)),
        });
    }
    if let Some(s) = &fe.usk {
        return FileKind::UnixSocket(UnixSocket {
            ino: s.ino,
            sock_type: s.r#type,
            state: s.state,
            flags: s.flags,
            backlog: s.backlog,
            peer: s.peer,
            name: s.name.clone(),
            buffers: Some(buffers(&s.opts)),
        });
    }
    if let Some(p) = &fe.pipe {
        return FileKind::Pipe {
            pipe_id: p.pipe_id,
            flags: p.flags,
        };
    }
    if let Some(f) = &fe.fifo {
        return FileKind::Fifo {
            pipe_id: f.pipe_id,
            path: None,
            flags: None,
            mnt_id: None,
        };
    }
    if let Some(p) = &fe.pidfd {
        return FileKind::Pidfd {
            nspid: p.nspid,
            flags: p.flags,
            ino: p.ino,
        };
    }
    if let Some(m) = &fe.memfd {
        return FileKind::Memfd {
            name: String::new(),
            inode_id: m.inode_id,
            shmid: None,
            flags: m.flags,
            pos: m.pos,
        };
    }
    if let Some(t) = &fe.tty {
        return FileKind::Tty {
            index: 0,
            master: false,
            path: None,
            flags: t.flags,
            mnt_id: None,
        };
    }
    match t {
        Some(T::Eventfd) => anon("eventfd", anon_detail(fe)),
        Some(T::Eventpoll) => anon("eventpoll", anon_detail(fe)),
        Some(T::Signalfd) => anon("signalfd", anon_detail(fe)),
        Some(T::Timerfd) => anon("timerfd", anon_detail(fe)),
        Some(T::Inotify) => anon("inotify", anon_detail(fe)),
        Some(T::Fanotify) => anon("fanotify", AnonDetail::None),
        Some(T::Bpfmap) => anon("bpf-map", AnonDetail::None),
        Some(T::Pidfd) => anon("pidfd", AnonDetail::None),
        Some(T::Packetsk) => FileKind::Socket {
            what: "packet",
            ino: 0,
        },
        Some(T::Netlinksk) => FileKind::Socket {
            what: "netlink",
            ino: 0,
        },
        Some(T::Tunf) => FileKind::Tun,
        _ => FileKind::Other { type_id: fe.r#type },
    }
}

fn anon(what: &'static str, detail: AnonDetail) -> FileKind {
    FileKind::AnonInode { what, detail }
}

/// What files.img records about an anonymous-inode file (CRIU 4.x keeps these kinds there).
fn anon_detail(fe: &pb::FileEntry) -> AnonDetail {
    if let Some(e) = &fe.efd {
        return AnonDetail::Eventfd {
            flags: e.flags,
            counter: e.counter,
        };
    }
    if let Some(e) = &fe.epfd {
        return AnonDetail::Eventpoll {
            flags: e.flags,
            targets: e
                .tfd
                .iter()
                .map(|t| EpollTarget {
                    tfd: t.tfd,
                    events: t.events,
                    data: t.data,
                    pos: t.pos,
                    ino: t.inode,
                    dev: t.dev,
                })
                .collect(),
        };
    }
    if let Some(e) = &fe.sgfd {
        return AnonDetail::Signalfd {
            flags: e.flags,
            sigmask: e.sigmask,
        };
    }
    if let Some(e) = &fe.tfd {
        return AnonDetail::Timerfd {
            flags: e.flags,
            clockid: e.clockid,
            ticks: e.ticks,
            settime_flags: e.settime_flags,
            value: (e.vsec, e.vnsec),
            interval: (e.isec, e.insec),
        };
    }
    if let Some(e) = &fe.ify {
        return AnonDetail::Inotify {
            flags: e.flags,
            watches: e
                .wd
                .iter()
                .map(|w| {
                    let len = (w.f_handle.bytes as usize).min(w.f_handle.handle.len() * 8);
                    let mut handle: Vec<u8> = w
                        .f_handle
                        .handle
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect();
                    handle.truncate(len);
                    InotifyWatch {
                        wd: w.wd,
                        ino: w.i_ino,
                        mask: w.mask,
                        ignored_mask: w.ignored_mask,
                        s_dev: w.s_dev,
                        handle_type: w.f_handle.r#type,
                        handle,
                    }
                })
                .collect(),
        };
    }
    AnonDetail::None
}

/// memfd inode id -> (name, shmid), from memfd.img.
fn load_memfd_inodes(dir: &ImageDir, warnings: &mut Vec<String>) -> HashMap<u64, (String, u64)> {
    let v: Vec<pb::MemfdInodeEntry> =
        optional(dir, "memfd.img", magic::MEMFD_INODE, warnings).unwrap_or_default();
    v.into_iter()
        .map(|m| (m.inode_id, (lossy(&m.name), u64::from(m.shmid))))
        .collect()
}

fn load_process(
    dir: &ImageDir,
    entry: &pb::PstreeEntry,
    files: &BTreeMap<u32, FileRef>,
    memfd: &HashMap<u64, (String, u64)>,
    shmem_cache: &mut HashMap<u64, Option<Memory>>,
    warnings: &mut Vec<String>,
) -> Result<Process, Error> {
    let pid = entry.pid;
    let mut tids: Vec<u32> = entry.threads.clone();
    if tids.is_empty() {
        tids.push(pid);
    }
    // A zombie has one thread in pstree.img whose id CRIU does not fill in (whatever was in
    // memory); its state and name are in core-<pid>.img.
    if let [tid] = tids[..] {
        let core = |t: u32| dir.files.contains_key(&format!("core-{t}.img"));
        if tid != pid && !core(tid) && core(pid) {
            tids[0] = pid;
        }
    }
    // Thread cores. The main thread's core also has the task-wide part (tc).
    let mut threads = Vec::with_capacity(tids.len());
    let mut tc: Option<pb::TaskCoreEntry> = None;
    let mut seccomp: HashMap<u32, Option<u32>> = HashMap::new();
    for &tid in &tids {
        let name = format!("core-{tid}.img");
        let Some(b) = dir.files.get(&name) else {
            warnings.push(format!(
                "{}/{name}: missing: thread {tid} of PID {pid} has no state",
                dir.label
            ));
            threads.push(Thread {
                tid,
                ..Thread::default()
            });
            continue;
        };
        let core: pb::CoreEntry = match image::decode_one(&name, b.bytes(), magic::CORE) {
            Ok(c) => c,
            Err(e) => {
                warnings.push(format!("{}: {e}", dir.label));
                threads.push(Thread {
                    tid,
                    ..Thread::default()
                });
                continue;
            }
        };
        if tid == pid || tc.is_none() {
            if let Some(t) = core.tc.clone() {
                if tid == pid || tc.is_none() {
                    tc = Some(t);
                }
            }
        }
        seccomp.insert(
            tid,
            core.thread_core
                .as_ref()
                .and_then(|t| t.seccomp_mode)
                .map(|m| m as u32),
        );
        threads.push(thread_from_core(tid, &core));
    }
    let tc = tc.unwrap_or_default();
    let main_seccomp = seccomp.get(&pid).copied().flatten();
    let comm = if tc.comm.is_empty() {
        threads
            .iter()
            .find(|t| t.tid == pid)
            .map(|t| t.comm.clone())
            .unwrap_or_default()
    } else {
        lossy(&tc.comm)
    };
    for t in &mut threads {
        if t.comm.is_empty() {
            t.comm = comm.clone();
        }
    }

    // Address space.
    let mm_name = format!("mm-{pid}.img");
    let mm: Option<pb::MmEntry> = match dir.files.get(&mm_name) {
        Some(b) => match image::decode_one(&mm_name, b.bytes(), magic::MM) {
            Ok(m) => Some(m),
            Err(e) => {
                warnings.push(format!("{}: {e}", dir.label));
                None
            }
        },
        None => None,
    };
    let (mm_info, mut vmas, guard_regions) = match &mm {
        Some(m) => {
            let (vmas, guards) = vmas_of(m, pid, files, dir, warnings);
            (Some(mm_info(m)), vmas, guards)
        }
        None => (None, Vec::new(), Vec::new()),
    };

    // Memory: the process's own pagemap, plus shared memory windows.
    // A pagemap that is missing (for a process with an address space) or refused leaves the
    // private memory unknown: its VMAs read as errors (EIO), never as zeros; the rest of the
    // process (threads, files, maps) is still served.
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
            warnings.push(msg.clone());
            unknown = Some(Arc::from(msg));
            Memory::default()
        }
        Err(e) => {
            let msg = format!("{e}: the memory of PID {pid} is unknown; reads of it fail");
            warnings.push(msg.clone());
            unknown = Some(Arc::from(msg));
            Memory::default()
        }
    };
    // A shared mapping shows the object's pages; a private mapping of the object (a memfd
    // executed or mapped MAP_PRIVATE) shows its own dumped pages (copied on write) and the
    // object's content where it has none, as the kernel does.
    let mut shared: Vec<Extent> = Vec::new();
    let mut under: Vec<Extent> = Vec::new();
    for v in &mut vmas {
        let Some(shmid) = shmem_id(v, files, memfd) else {
            if let Some(why) = &unknown {
                shared.push(Extent {
                    start: v.start,
                    len: v.len(),
                    data: ExtentData::Broken(why.clone()),
                });
            }
            continue;
        };
        if let Some(FileKind::Memfd { .. }) = v.file.as_ref().map(|f| &f.kind) {
            // Name the memfd as the kernel does.
            if let Some(f) = &v.file
                && let FileKind::Memfd { inode_id, .. } = &f.kind
                && let Some((n, _)) = memfd.get(&u64::from(*inode_id))
            {
                v.name = memfd_vma_name(n);
            }
        }
        let shm = shmem_cache.entry(shmid).or_insert_with(|| {
            match pages::load(dir, &format!("pagemap-shmem-{shmid}.img"), warnings) {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(e.to_string());
                    None
                }
            }
        });
        if !v.shared() && unknown.is_some() {
            // A private mapping's own pages (those it wrote) are in the unknown pagemap: the
            // object's content cannot stand in for them.
            if let Some(why) = &unknown {
                shared.push(Extent {
                    start: v.start,
                    len: v.len(),
                    data: ExtentData::Broken(why.clone()),
                });
            }
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
            None => warnings.push(format!(
                "PID {pid}: shared mapping {:x}-{:x}: pagemap-shmem-{shmid}.img is missing; it reads as zeros",
                v.start, v.end
            )),
        }
    }
    shared.extend(memory.in_holes(under));
    if !shared.is_empty() {
        let (m, overlaps) = std::mem::take(&mut memory).with(shared);
        for o in overlaps {
            warnings.push(format!(
                "PID {pid}: private and shared pages overlap at {:#x}-{:#x}: those bytes fail to read",
                o.start, o.end
            ));
        }
        memory = m;
    }

    // Files, fs, exe.
    let ids: Option<pb::TaskKobjIdsEntry> =
        dir.files.get(&format!("ids-{pid}.img")).and_then(|b| {
            match image::decode_one(&format!("ids-{pid}.img"), b.bytes(), magic::IDS) {
                Ok(i) => Some(i),
                Err(e) => {
                    warnings.push(format!(
                        "{}: {e}: the open files of PID {pid} are unknown",
                        dir.label
                    ));
                    None
                }
            }
        });
    let fds = match ids.as_ref() {
        Some(ids) => load_fds(dir, ids.files_id, files, pid, warnings),
        None => Vec::new(),
    };
    let fs: Option<pb::FsEntry> = dir.files.get(&format!("fs-{pid}.img")).and_then(|b| {
        match image::decode_one(&format!("fs-{pid}.img"), b.bytes(), magic::FS) {
            Ok(f) => Some(f),
            Err(e) => {
                warnings.push(format!("{}: {e}", dir.label));
                None
            }
        }
    });
    let lookup = |id: u32| files.get(&id).cloned();
    let exe = mm.as_ref().and_then(|m| lookup(m.exe_file_id));

    Ok(Process {
        pid,
        ppid: entry.ppid,
        pgid: entry.pgid,
        sid: entry.sid,
        state: TaskState::from_criu(tc.task_state),
        exit_code: tc.exit_code,
        stop_signo: tc.stop_signo,
        personality: tc.personality,
        task_flags: tc.flags,
        comm,
        threads,
        rlimits: tc
            .rlimits
            .as_ref()
            .map(|r| r.rlimits.iter().map(|l| (l.cur, l.max)).collect())
            .unwrap_or_default(),
        sigactions: tc
            .sigactions
            .iter()
            // CRIU writes one entry per signal from 1 up, skipping SIGKILL and SIGSTOP.
            .zip((1u32..).filter(|s| *s != 9 && *s != 19))
            .map(|(s, sig)| SigAction {
                sig,
                handler: s.sigaction,
                flags: s.flags,
                restorer: s.restorer,
                mask: s.mask,
            })
            .collect(),
        loginuid: tc.loginuid,
        oom_score_adj: tc.oom_score_adj,
        seccomp_mode: main_seccomp.or(tc.old_seccomp_mode.map(|m| m as u32)),
        shd_pending: pending_mask(tc.signals_s.as_ref()),
        ctty: None,
        mm: mm_info,
        vmas,
        guard_regions,
        memory,
        fds,
        cwd: fs.as_ref().and_then(|f| lookup(f.cwd_id)),
        root: fs.as_ref().and_then(|f| lookup(f.root_id)),
        exe,
        umask: fs.as_ref().and_then(|f| f.umask),
    })
}

/// A name from an image (path, comm, memfd name: `bytes` in our proto, as the kernel does not
/// promise UTF-8) as text: invalid UTF-8 becomes U+FFFD, so one odd name cannot fail a whole image.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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

/// The shared-memory object behind a VMA, if it is shared anonymous or memfd memory.
fn shmem_id(
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

fn thread_from_core(tid: u32, core: &pb::CoreEntry) -> Thread {
    let tcore = core.thread_core.clone().unwrap_or_default();
    let regs = core
        .thread_info
        .as_ref()
        .map(|ti| &ti.gpregs)
        .map(|g| X86Regs {
            r15: g.r15,
            r14: g.r14,
            r13: g.r13,
            r12: g.r12,
            bp: g.bp,
            bx: g.bx,
            r11: g.r11,
            r10: g.r10,
            r9: g.r9,
            r8: g.r8,
            ax: g.ax,
            cx: g.cx,
            dx: g.dx,
            si: g.si,
            di: g.di,
            orig_ax: g.orig_ax,
            ip: g.ip,
            cs: g.cs,
            flags: g.flags,
            sp: g.sp,
            ss: g.ss,
            fs_base: g.fs_base,
            gs_base: g.gs_base,
            ds: g.ds,
            es: g.es,
            fs: g.fs,
            gs: g.gs,
        });
    let fpu = core.thread_info.as_ref().map(|ti| fpu_from(&ti.fpregs));
    let arch = Arch::from_criu(core.mtype);
    let arch_regs = match arch {
        Arch::Aarch64 => core.ti_aarch64.as_ref().map(|ti| {
            let g = &ti.gpregs;
            let mut x = [0u64; 31];
            for (d, s) in x.iter_mut().zip(&g.regs) {
                *d = *s;
            }
            ArchRegs::Aarch64(Aarch64Regs {
                x,
                sp: g.sp,
                pc: g.pc,
                pstate: g.pstate,
                tls: ti.tls,
                vregs: ti.fpsimd.vregs.iter().take(64).copied().collect(),
                fpsr: ti.fpsimd.fpsr,
                fpcr: ti.fpsimd.fpcr,
            })
        }),
        Arch::Riscv64 => core.ti_riscv64.as_ref().map(|ti| {
            let g = &ti.gpregs;
            ArchRegs::Riscv64(Riscv64Regs {
                regs: [
                    g.pc, g.ra, g.sp, g.gp, g.tp, g.t0, g.t1, g.t2, g.s0, g.s1, g.a0, g.a1, g.a2,
                    g.a3, g.a4, g.a5, g.a6, g.a7, g.s2, g.s3, g.s4, g.s5, g.s6, g.s7, g.s8, g.s9,
                    g.s10, g.s11, g.t3, g.t4, g.t5, g.t6,
                ],
                f: ti.fpsimd.f.iter().take(32).copied().collect(),
                fcsr: ti.fpsimd.fcsr,
            })
        }),
        _ => None,
    };
    // x86 state only in an x86_64 dump.
    let (regs, fpu) = if arch == Arch::X86_64 {
        (regs, fpu)
    } else {
        (None, None)
    };
    let blk = tcore
        .blk_sigset
        .or_else(|| core.tc.as_ref().map(|t| t.blk_sigset))
        .unwrap_or(0);
    Thread {
        tid,
        comm: tcore.comm.as_deref().map(lossy).unwrap_or_default(),
        creds: tcore.creds.as_ref().map(creds_from),
        arch,
        regs,
        fpu,
        arch_regs,
        blk_sigset: blk,
        sched_policy: tcore.sched_policy.unwrap_or(0),
        sched_prio: tcore.sched_prio.unwrap_or(0),
        sched_nice: tcore.sched_nice.unwrap_or(0),
        sig_pending: pending_mask(tcore.signals_p.as_ref()),
        rseq: tcore
            .rseq_entry
            .as_ref()
            .filter(|r| r.rseq_abi_pointer != 0)
            .map(|r| (r.rseq_abi_pointer, r.rseq_abi_size)),
    }
}

/// The controlling terminals the images record, by session: for each terminal of tty-info.img
/// with a session (`sid`, which CRIU reads inside the task's PID namespace), its device (`rdev`,
/// dev_t as glibc encodes it: what stat's `tty_nr` prints), its foreground process group
/// (`pgrp`) and whether it is a pty master. CRIU records a pty pair's session on its master
/// (`/dev/ptmx`, 5:2); the terminal is the slave, `/dev/pts/<pty.index>` (its own entry's
/// `rdev`, or the kernel's number for it, major 136 minor index). A bad image is reported where
/// the files are read.
fn session_ttys(dir: &ImageDir) -> HashMap<u32, (u32, u32, bool)> {
    /// `new_encode_dev(MKDEV(major, minor))`, which is also glibc's 32-bit dev_t.
    fn encode(major: u32, minor: u32) -> u32 {
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }
    const PTMX: u32 = 5 << 8 | 2;
    const PTS_MAJOR: u32 = 136;
    let mut reported = Vec::new();
    let ttys = optional::<pb::TtyInfoEntry>(dir, "tty-info.img", magic::TTY_INFO, &mut reported)
        .unwrap_or_default();
    let mut out: HashMap<u32, (u32, u32, bool)> = HashMap::new();
    for t in &ttys {
        if t.sid == 0 {
            continue;
        }
        let master = t.rdev == PTMX;
        let rdev = match (master, t.pty.as_ref()) {
            (true, Some(pty)) => ttys
                .iter()
                .find(|s| s.rdev != PTMX && s.pty.as_ref().is_some_and(|p| p.index == pty.index))
                .map_or(encode(PTS_MAJOR, pty.index), |s| s.rdev),
            _ => t.rdev,
        };
        let e = out.entry(t.sid).or_insert((rdev, t.pgrp, master));
        if e.2 && !master {
            *e = (rdev, t.pgrp, master);
        }
    }
    out
}

/// The pending-signal mask of a dumped signal queue: bit `signo - 1` for each queued
/// `siginfo_t` (`si_signo` is its first `int`, native-endian; x86_64, aarch64 and riscv64 are
/// little-endian). An entry too short to hold it or outside 1..=64 is skipped.
fn pending_mask(q: Option<&pb::SignalQueueEntry>) -> u64 {
    let Some(q) = q else { return 0 };
    q.signals
        .iter()
        .filter_map(|e| e.siginfo.get(..4))
        .filter_map(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_le_bytes)
        .filter(|s| (1..=64).contains(s))
        .fold(0u64, |m, s| m | 1u64 << (s - 1))
}

fn caps(words: &[u32]) -> u64 {
    words
        .iter()
        .take(2)
        .enumerate()
        .fold(0u64, |acc, (i, w)| acc | (u64::from(*w) << (32 * i)))
}

fn creds_from(c: &pb::CredsEntry) -> Creds {
    Creds {
        uid: c.uid,
        gid: c.gid,
        euid: c.euid,
        egid: c.egid,
        suid: c.suid,
        sgid: c.sgid,
        fsuid: c.fsuid,
        fsgid: c.fsgid,
        cap_inh: caps(&c.cap_inh),
        cap_prm: caps(&c.cap_prm),
        cap_eff: caps(&c.cap_eff),
        cap_bnd: caps(&c.cap_bnd),
        cap_amb: caps(&c.cap_amb),
        secbits: c.secbits,
        groups: c.groups.clone(),
        no_new_privs: c.no_new_privs.unwrap_or(0) != 0,
    }
}

/// Rebuilds the 512-byte FXSAVE image (`user_i387_struct`) from the dumped fields.
fn fpu_from(f: &pb::UserX86FpregsEntry) -> X86Fpu {
    let mut b = vec![0u8; 512];
    let put16 =
        |b: &mut [u8], o: usize, v: u32| b[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes());
    put16(&mut b, 0, f.cwd);
    put16(&mut b, 2, f.swd);
    put16(&mut b, 4, f.twd);
    put16(&mut b, 6, f.fop);
    b[8..16].copy_from_slice(&f.rip.to_le_bytes());
    b[16..24].copy_from_slice(&f.rdp.to_le_bytes());
    b[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
    b[28..32].copy_from_slice(&f.mxcsr_mask.to_le_bytes());
    for (i, w) in f.st_space.iter().take(32).enumerate() {
        b[32 + 4 * i..36 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    for (i, w) in f.xmm_space.iter().take(64).enumerate() {
        b[160 + 4 * i..164 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    let xsave = f.xsave.as_ref().map(|x| {
        // xstate_bv followed by the AVX upper halves (ymmh), the part gdb reads.
        let mut v = x.xstate_bv.to_le_bytes().to_vec();
        for w in &x.ymmh_space {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    });
    X86Fpu { fxsave: b, xsave }
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
    warnings: &mut Vec<String>,
) -> (Vec<Vma>, Vec<(u64, u64)>) {
    let mut out: Vec<Vma> = Vec::with_capacity(m.vmas.len());
    let mut guards: Vec<(u64, u64)> = Vec::new();
    for (i, v) in m.vmas.iter().enumerate() {
        if v.status & vs::GUARD != 0 {
            if v.end > v.start && v.start % 4096 == 0 && v.end % 4096 == 0 {
                guards.push((v.start, v.end));
            } else {
                warnings.push(format!(
                    "{}/mm-{pid}.img: guard region {i} {:#x}-{:#x} is empty, inverted or unaligned; ignored",
                    dir.label, v.start, v.end
                ));
            }
            continue;
        }
        if v.end <= v.start || v.start % 4096 != 0 || v.end % 4096 != 0 {
            warnings.push(format!(
                "{}/mm-{pid}.img: VMA {i} {:#x}-{:#x} is empty, inverted or unaligned; ignored",
                dir.label, v.start, v.end
            ));
            continue;
        }
        if let Some(last) = out.last()
            && v.start < last.end
        {
            warnings.push(format!(
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

fn load_fds(
    dir: &ImageDir,
    files_id: u32,
    files: &BTreeMap<u32, FileRef>,
    pid: u32,
    warnings: &mut Vec<String>,
) -> Vec<Fd> {
    let name = format!("fdinfo-{files_id}.img");
    let entries: Vec<pb::FdinfoEntry> =
        optional(dir, &name, magic::FDINFO, warnings).unwrap_or_default();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        match files.get(&e.id) {
            Some(f) => out.push(Fd {
                fd: e.fd,
                fd_flags: e.flags,
                file: f.clone(),
            }),
            None => warnings.push(format!(
                "{}/{name}: PID {pid} fd {} refers to file id {} which files.img lacks",
                dir.label, e.fd, e.id
            )),
        }
    }
    out.sort_by_key(|f| f.fd);
    out.dedup_by_key(|f| f.fd);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Blob, InputInfo, InputKind, Layout};
    use crate::writer::CheckpointWriter;

    const A: u64 = 0x5000_0000_0000;

    /// Queued `siginfo_t`s become a mask of their signal numbers; short or bogus entries are
    /// skipped.
    #[test]
    fn pending_mask_from_queued_siginfos() {
        let info = |signo: i32| pb::SiginfoEntry {
            siginfo: [signo.to_le_bytes().as_slice(), &[0u8; 124]].concat(),
        };
        let q = pb::SignalQueueEntry {
            signals: vec![
                info(10),
                info(10),
                info(64),
                info(0),
                info(65),
                info(-1),
                pb::SiginfoEntry {
                    siginfo: vec![2, 0],
                },
            ],
        };
        assert_eq!(pending_mask(Some(&q)), 1 << 9 | 1 << 63);
        assert_eq!(pending_mask(None), 0);
    }

    fn source(files: BTreeMap<String, Vec<u8>>) -> Source {
        let images = ImageDir {
            label: "t".into(),
            files: files
                .into_iter()
                .map(|(k, v)| (k, Blob::from_vec(v)))
                .collect(),
            parent: None,
            written: None,
        };
        let input = InputInfo {
            path: "/nonexistent".into(),
            kind: InputKind::ImageDir,
            size: 0,
            cache_path: None,
        };
        Source::from_parts(input, Layout::ImageDir, images, BTreeMap::new(), Vec::new())
    }

    fn one_process() -> BTreeMap<String, Vec<u8>> {
        let mut w = CheckpointWriter::new();
        w.process(1, 0)
            .comm("p")
            .anon(A, 4 * 4096)
            .pages(A, b"secret")
            .fd(3, crate::writer::File::reg("/tmp/x"));
        w.encode_files()
    }

    /// Regression: a missing pagemap served the process's memory as zeros, and a
    /// refused one dropped the whole process. Now the process is there and its memory fails.
    #[test]
    fn unknown_memory_fails_reads_and_keeps_the_process() {
        let mut buf = [0u8; 8];
        let mut files = one_process();
        files.remove("pagemap-1.img");
        let ck = load(source(files)).unwrap();
        assert!(
            ck.warnings
                .iter()
                .any(|w| w.contains("pagemap-1.img: missing")),
            "{:?}",
            ck.warnings
        );
        let p = ck.process(1).unwrap();
        assert!(p.memory.read_at(A, &mut buf).is_err());
        assert_eq!(p.fds.len(), 1);

        let mut files = one_process();
        files.insert("pagemap-1.img".into(), b"garbage".to_vec());
        let ck = load(source(files)).unwrap();
        let p = ck
            .process(1)
            .expect("the process survives a refused pagemap");
        assert!(p.memory.read_at(A, &mut buf).is_err());
        assert!(
            ck.warnings.iter().any(|w| w.contains("pagemap-1.img")),
            "{:?}",
            ck.warnings
        );
    }

    /// A memfd mapped shared by one process and privately by another whose pagemap is missing:
    /// the private mapping's own pages are unknown, so it fails to read rather than show the
    /// memfd's content as if nothing had been written there; the shared mapping still reads.
    #[test]
    fn private_memfd_mapping_with_unknown_pages_fails() {
        use crate::writer::Vma;
        let mfd = 0x7f00_0000_0000u64;
        let mut w = CheckpointWriter::new();
        w.process(1, 0)
            .comm("a")
            .memfd(mfd, 4096, "m", 9)
            .pages(mfd, b"MEMFD");
        w.process(2, 1)
            .comm("b")
            .vma(Vma::memfd(A, 4096, "m", 9).map_flags(libc::MAP_PRIVATE as u32))
            .pages(A + 8, b"OWN");
        let mut files = w.encode_files();
        let ck = load(source(files.clone())).unwrap();
        let mut buf = [0u8; 16];
        ck.process(2).unwrap().memory.read_at(A, &mut buf).unwrap();
        assert_eq!(&buf[..11], b"\0\0\0\0\0\0\0\0OWN", "its own page wins");
        files.remove("pagemap-2.img");
        let ck = load(source(files)).unwrap();
        assert!(ck.process(2).unwrap().memory.read_at(A, &mut buf).is_err());
        ck.process(1)
            .unwrap()
            .memory
            .read_at(mfd, &mut buf)
            .unwrap();
        assert_eq!(&buf[..5], b"MEMFD");
    }

    /// A pagemap cut at an entry boundary decodes; its pages file's unused bytes give it away.
    #[test]
    fn pagemap_cut_at_an_entry_boundary_is_reported() {
        let mut w = CheckpointWriter::new();
        w.max_batch_pages(1);
        w.process(1, 0)
            .comm("p")
            .anon(A, 4 * 4096)
            .pages(A, &[7u8; 3 * 4096]);
        let mut files = w.encode_files();
        let (id, runs) = image::decode_pagemap("pagemap-1.img", &files["pagemap-1.img"]).unwrap();
        assert!(runs.len() >= 2);
        let cut = crate::writer::encode_pagemap(id as u32, &runs[..runs.len() - 1]);
        files.insert("pagemap-1.img".into(), cut);
        let ck = load(source(files)).unwrap();
        assert!(
            ck.warnings.iter().any(|w| w.contains("may be truncated")),
            "{:?}",
            ck.warnings
        );
    }

    /// Regression: a broken ids image lost the process's fds without a word.
    #[test]
    fn broken_ids_image_is_reported() {
        let mut files = one_process();
        let ids = files.get_mut("ids-1.img").unwrap();
        ids.truncate(ids.len() - 1);
        let ck = load(source(files)).unwrap();
        assert!(
            ck.warnings.iter().any(|w| w.contains("ids-1.img")),
            "{:?}",
            ck.warnings
        );
    }

    /// Regression: a file name that is not UTF-8 failed all of files.img.
    #[test]
    fn non_utf8_file_name_is_kept() {
        let mut files = one_process();
        let mut fe: Vec<pb::FileEntry> =
            image::decode_all("files.img", &files["files.img"], magic::FILES).unwrap();
        for e in &mut fe {
            if let Some(r) = &mut e.reg {
                r.name = b"/tmp/\xffx".to_vec();
            }
        }
        files.insert(
            "files.img".into(),
            crate::writer::encode_image(magic::FILES, &fe),
        );
        let ck = load(source(files)).unwrap();
        assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
        let p = ck.process(1).unwrap();
        assert_eq!(p.fds.len(), 1);
        assert!(
            p.fds[0].file.link_text().contains("/tmp/\u{fffd}x"),
            "{}",
            p.fds[0].file.link_text()
        );
    }
}
