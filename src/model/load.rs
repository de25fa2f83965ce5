//! Building the [`Checkpoint`] model from a [`Source`]: decode the images, resolve file ids,
//! index memory. Pure with respect to the outside world: reads only the source's blobs.
//!
//! Which image holds what (docs/criu-format.md, "Who holds what"): pstree.img lists tasks; `core-<tid>.img`
//! per thread; `mm-<pid>.img`, `pagemap-<pid>.img`, `fs-<pid>.img`, `ids-<pid>.img` per process;
//! `fdinfo-<files_id>.img` per files table; files.img the file objects; memfd.img the memfd inodes;
//! `pagemap-shmem-<shmid>.img` shared anonymous / memfd memory.
//!
//! This file holds the order of loading; each image's conversion sits beside the model type it
//! produces: `files/load.rs` (file objects, fd tables, session terminals), `process/threads.rs`
//! (threads and task state from the core images), `process/mm.rs` (address space, VMAs),
//! `memory/load.rs` (a process's memory from its pagemap and the shared objects it maps).

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use super::files::FileKind;
use super::files::load::{MemfdInodes, load_files, load_memfd_inodes, session_ttys};
use super::memory::Memory;
use super::metadata::{DumpStats, Metadata};
use super::process::mm::{self, name_sysv_mappings};
use super::process::{Arch, Process, TaskState, threads};
use super::{Checkpoint, Error, FileRef, files, memory};
use crate::image::{self, magic, pb};
use crate::source::{ImageDir, Source};
use crate::warning::{Kind, Warnings};

/// Loads the whole model. Fails only when the checkpoint has no usable process tree; everything
/// else that is missing or broken becomes a warning (and, for memory, broken extents).
pub fn load(source: Source) -> Result<Checkpoint, Error> {
    let mut warnings: Warnings = source.warnings.clone();
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
            warnings.push(Kind::MissingImage, format!(
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
        if super::predump::is_pre_dump(dir) {
            return Err(Error::Invalid {
                file: format!("{}/pstree.img", dir.label),
                what: "missing: this is a CRIU pre-dump (`criu pre-dump`: memory pages only, no \
                       process tree); mount, show or inspect the dump whose `parent` link leads \
                       here (its memory is read through that link), or compare the two with \
                       `ckptfs diff`"
                    .into(),
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
            warnings.push(
                Kind::Duplicate,
                format!(
                    "{}/pstree.img: PID {} is listed twice; the second entry is ignored",
                    dir.label, entry.pid
                ),
            );
            continue;
        }
        processes.push(load_process(
            dir,
            entry,
            &files,
            &memfd_shmid,
            &mut shmem_cache,
            &mut warnings,
        ));
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
        p.ctty = ttys.get(&p.sid).copied();
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

fn load_metadata(source: &Source, warnings: &mut Warnings) -> Metadata {
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
            Err(e) => warnings.push(e.warning_kind(), format!("{}: {e}", dir.label)),
        }
    }
    // CRIU writes stats-dump in the image dir; Podman also copies it to the archive root.
    let stats = dir
        .files
        .get("stats-dump")
        .or_else(|| source.metadata.get("stats-dump"));
    if let Some(b) = stats {
        match image::decode_one::<pb::StatsEntry>("stats-dump", b.bytes(), magic::STATS) {
            Ok(s) => meta.dump_stats = s.dump.as_ref().map(DumpStats::from_entry),
            Err(e) => warnings.push(e.warning_kind(), format!("{}: {e}", dir.label)),
        }
    }
    meta
}

/// Decodes an optional single-entry image; a decoding error becomes a warning (the error, then
/// `lost`: what it costs, or "") and `None`.
pub(super) fn optional_one<M: prost::Message + Default>(
    dir: &ImageDir,
    name: &str,
    magic: u32,
    lost: &str,
    warnings: &mut Warnings,
) -> Option<M> {
    let b = dir.files.get(name)?;
    match image::decode_one::<M>(name, b.bytes(), magic) {
        Ok(m) => Some(m),
        Err(e) => {
            warnings.push(e.warning_kind(), format!("{}: {e}{lost}", dir.label));
            None
        }
    }
}

/// Decodes an optional image; a decoding error becomes a warning and `None`.
pub(super) fn optional<M: prost::Message + Default>(
    dir: &ImageDir,
    name: &str,
    magic: u32,
    warnings: &mut Warnings,
) -> Option<Vec<M>> {
    let b = dir.files.get(name)?;
    match image::decode_all::<M>(name, b.bytes(), magic) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
            None
        }
    }
}

/// One process of pstree.img, in named steps: its threads and task state (core images), its
/// address space (mm), its memory (pagemaps), its open files (ids, fdinfo) and its fs links.
fn load_process(
    dir: &ImageDir,
    entry: &pb::PstreeEntry,
    files: &BTreeMap<u32, FileRef>,
    memfd: &MemfdInodes,
    shmem_cache: &mut HashMap<u64, Option<Memory>>,
    warnings: &mut Warnings,
) -> Process {
    let pid = entry.pid;
    let task = threads::load_task(dir, entry, warnings);
    let mm = mm::load_mm(dir, pid, files, memfd, warnings);
    let memory =
        memory::load::process_memory(dir, pid, &mm.vmas, files, memfd, shmem_cache, warnings);
    let fds = files::load::process_fds(dir, pid, files, warnings);
    let fs: Option<pb::FsEntry> =
        optional_one(dir, &format!("fs-{pid}.img"), magic::FS, "", warnings);
    let lookup = |id: u32| files.get(&id).cloned();
    let tc = &task.core;
    Process {
        pid,
        ppid: entry.ppid,
        pgid: entry.pgid,
        sid: entry.sid,
        state: TaskState::from_criu(tc.task_state),
        exit_code: tc.exit_code,
        stop_signo: tc.stop_signo,
        personality: tc.personality,
        task_flags: tc.flags,
        rlimits: threads::rlimits(tc),
        sigactions: threads::sigactions(tc),
        loginuid: tc.loginuid,
        oom_score_adj: tc.oom_score_adj,
        seccomp_mode: task.seccomp_mode,
        shd_pending: threads::pending_mask(tc.signals_s.as_ref()),
        comm: task.comm,
        threads: task.threads,
        ctty: None,
        exe: mm.info.as_ref().and_then(|m| lookup(m.exe_file_id)),
        mm: mm.info,
        vmas: mm.vmas,
        guard_regions: mm.guard_regions,
        memory,
        fds,
        cwd: fs.as_ref().and_then(|f| lookup(f.cwd_id)),
        root: fs.as_ref().and_then(|f| lookup(f.root_id)),
        umask: fs.as_ref().and_then(|f| f.umask),
    }
}

/// A name from an image (path, comm, memfd name: `bytes` in our proto, as the kernel does not
/// promise UTF-8) as text: invalid UTF-8 becomes U+FFFD, so one odd name cannot fail a whole image.
pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::CheckpointWriter;

    const A: u64 = 0x5000_0000_0000;

    fn source(files: BTreeMap<String, Vec<u8>>) -> Source {
        Source::in_memory("/nonexistent", "t", files)
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
                .of(Kind::MissingImage)
                .any(|w| w.message.contains("pagemap-1.img")),
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
            ck.warnings
                .of(Kind::TruncatedImage)
                .any(|w| w.message.contains("pagemap-1.img")),
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
            ck.warnings
                .of(Kind::TruncatedImage)
                .any(|w| w.message.contains("pages-1.img")),
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
            ck.warnings
                .of(Kind::TruncatedImage)
                .any(|w| w.message.contains("ids-1.img")),
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
