//! Kernel objects of the checkpoint that no single process owns, each held once however many
//! processes use it: System V shared memory segments (`ipcns-shm-<ns>.img` +
//! `pagemap-shmem-<id>.img`), and the data nobody had read yet (pipe and FIFO buffers from
//! `pipes-data.img` / `fifo-data.img`, unix socket queues from `sk-queues.img`, TCP queues from
//! `tcp-stream-<ino>.img`).

use std::collections::BTreeMap;

use super::memory::{Extent, ExtentData, Memory};
use super::pages;
use crate::image::{self, magic, pb};
use crate::source::{Blob, ImageDir};
use crate::warning::{Kind, Warnings};

/// The checkpoint's shared kernel objects.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// System V shared memory segments, sorted by id.
    pub shm: Vec<ShmSegment>,
    /// PID -> network namespace id (`ids-<pid>.img`), where recorded.
    pub net_ns: BTreeMap<u32, u32>,
    /// Data nobody had read yet: pipe and FIFO buffers, socket queues, sorted by name.
    pub buffers: Vec<Buffer>,
    /// TCP socket inode -> (receive queue, send queue) lengths (`tcp-stream-<ino>.img`).
    pub tcp_queues: BTreeMap<u32, (u32, u32)>,
    /// TCP socket inode -> (`inq_seq`, `outq_seq`): the sequence numbers of the receive queue's
    /// next byte to read and of the send queue's next byte to send (`tcp-stream-<ino>.img`).
    pub tcp_seqs: BTreeMap<u32, (u32, u32)>,
    /// Unix socket inode -> bytes queued for it to read (`sk-queues.img`).
    pub unix_queues: BTreeMap<u32, u64>,
    /// memfds (`memfd.img` + `pagemap-shmem-<shmid>.img`), in the image's order.
    pub memfds: Vec<Memfd>,
}

/// A memfd's inode and contents (`MemfdInodeEntry`).
#[derive(Clone, Debug, Default)]
pub struct Memfd {
    /// `MemfdInodeEntry.inode_id`, what `MemfdFileEntry.inode_id` names.
    pub inode_id: u64,
    /// The name as the kernel shows it in `/proc/PID/fd/N`, without `/memfd:` and ` (deleted)`.
    pub name: String,
    pub size: u64,
    /// The contents at offsets `0..size`; never-touched pages are holes.
    pub memory: Memory,
}

/// Unread data that CRIU saved: the name it has in `buffers/` and its bytes.
#[derive(Clone, Debug)]
pub struct Buffer {
    /// `pipe-<ino>`, `fifo-<ino>`, `unix-<ino>` (the socket's receive queue), `tcp-<ino>.recv`,
    /// `tcp-<ino>.send`.
    pub name: String,
    pub data: Blob,
}

impl Objects {
    /// Loads every object kind `dir` has; what is broken becomes a warning.
    pub fn load(dir: &ImageDir, warnings: &mut Warnings) -> Objects {
        let mut o = Objects {
            shm: load_shm(dir, warnings),
            memfds: load_memfds(dir, warnings),
            ..Objects::default()
        };
        o.load_pipe_data(dir, "pipes-data.img", magic::PIPES_DATA, "pipe", warnings);
        o.load_pipe_data(dir, "fifo-data.img", magic::FIFO_DATA, "fifo", warnings);
        o.load_tcp_streams(dir, warnings);
        o.buffers.sort_by(|a, b| a.name.cmp(&b.name));
        o
    }

    /// pipes-data.img / fifo-data.img: each pipe's unread bytes (empty buffers are left out).
    fn load_pipe_data(
        &mut self,
        dir: &ImageDir,
        name: &str,
        magic: u32,
        kind: &str,
        warnings: &mut Warnings,
    ) {
        let Some(blob) = dir.files.get(name) else {
            return;
        };
        match image::decode_with_payload(name, blob.bytes(), magic, |e: &pb::PipeDataEntry| {
            u64::from(e.bytes)
        }) {
            Ok(v) => {
                for (e, range) in v {
                    if range.is_empty() {
                        continue;
                    }
                    if let Some(data) = blob.slice(range) {
                        self.buffers.push(Buffer {
                            name: format!("{kind}-{}", e.pipe_id),
                            data,
                        });
                    }
                }
            }
            Err(e) => warnings.push(e.warning_kind(), format!("{}: {e}", dir.label)),
        }
    }

    /// `tcp-stream-<ino>.img`: an established socket's receive and send queues.
    fn load_tcp_streams(&mut self, dir: &ImageDir, warnings: &mut Warnings) {
        for (name, blob) in &dir.files {
            let Some(ino) = name
                .strip_prefix("tcp-stream-")
                .and_then(|r| r.strip_suffix(".img"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
            else {
                continue;
            };
            let v = match image::decode_with_payload(
                name,
                blob.bytes(),
                magic::TCP_STREAM,
                |e: &pb::TcpStreamEntry| u64::from(e.inq_len) + u64::from(e.outq_len),
            ) {
                Ok(v) => v,
                Err(e) => {
                    warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                    continue;
                }
            };
            for (e, range) in v {
                self.tcp_queues.insert(ino, (e.inq_len, e.outq_len));
                self.tcp_seqs.insert(ino, (e.inq_seq, e.outq_seq));
                let split = range.start + e.inq_len as usize;
                for (suffix, r) in [("recv", range.start..split), ("send", split..range.end)] {
                    if r.is_empty() {
                        continue;
                    }
                    if let Some(data) = blob.slice(r) {
                        self.buffers.push(Buffer {
                            name: format!("tcp-{ino}.{suffix}"),
                            data,
                        });
                    }
                }
            }
        }
    }

    /// sk-queues.img: the packets queued for unix sockets, by the socket's files.img id
    /// (`socket_ino` maps that id to the socket's inode).
    pub fn load_unix_queues(
        &mut self,
        dir: &ImageDir,
        socket_ino: &BTreeMap<u32, u32>,
        warnings: &mut Warnings,
    ) {
        let name = "sk-queues.img";
        let Some(blob) = dir.files.get(name) else {
            return;
        };
        let v = match image::decode_with_payload(
            name,
            blob.bytes(),
            magic::SK_QUEUES,
            |e: &pb::SkPacketEntry| u64::from(e.length),
        ) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                return;
            }
        };
        let mut per: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for (e, range) in v {
            let Some(&ino) = socket_ino.get(&e.id_for) else {
                warnings.push(
                    Kind::DanglingReference,
                    format!(
                        "{}/{name}: queued data for socket id {} which files.img lacks",
                        dir.label, e.id_for
                    ),
                );
                continue;
            };
            if let Some(b) = blob.bytes().get(range) {
                per.entry(ino).or_default().extend_from_slice(b);
            }
        }
        for (ino, data) in per {
            self.unix_queues.insert(ino, data.len() as u64);
            self.buffers.push(Buffer {
                name: format!("unix-{ino}"),
                data: Blob::from_vec(data),
            });
        }
        self.buffers.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Records the network namespace of each process from its `ids-<pid>.img` (decoded again:
    /// a few bytes each; a broken one was already reported by the process loader).
    pub fn load_net_ns(&mut self, dir: &ImageDir, pids: &[u32]) {
        for &pid in pids {
            let name = format!("ids-{pid}.img");
            if let Some(b) = dir.files.get(&name)
                && let Ok(ids) =
                    image::decode_one::<pb::TaskKobjIdsEntry>(&name, b.bytes(), magic::IDS)
                && let Some(ns) = ids.net_ns_id
            {
                self.net_ns.insert(pid, ns);
            }
        }
    }

    /// True when `a` and `b` share a network namespace (also when the images do not say: a
    /// container's processes share one unless recorded otherwise).
    pub fn same_net_ns(&self, a: u32, b: u32) -> bool {
        match (self.net_ns.get(&a), self.net_ns.get(&b)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }

    /// The SysV segment with id `id`.
    pub fn shm_by_id(&self, id: u64) -> Option<&ShmSegment> {
        self.shm.iter().find(|s| u64::from(s.id) == id)
    }
}

/// One System V shared memory segment (`IpcShmEntry`).
#[derive(Clone, Debug, Default)]
pub struct ShmSegment {
    /// The IPC key (`shmget`'s first argument; `IPC_PRIVATE` is 0).
    pub key: u32,
    /// The segment id (`shmid`), which the kernel also uses as the inode number of its mapping.
    pub id: u32,
    /// Permission bits and `SHM_*` flags as `shmid_ds.shm_perm.mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Size in bytes, as created (not rounded to pages).
    pub size: u64,
    /// The contents at offsets `0..size`; never-touched pages are holes.
    pub memory: Memory,
}

impl ShmSegment {
    /// The name the kernel gives its mappings (`/SYSV%08x`, shown with ` (deleted)`).
    pub fn path(&self) -> String {
        format!("/SYSV{:08x}", self.key)
    }
}

/// The memfds of `memfd.img` with their contents (`pagemap-shmem-<shmid>.img`; none: holes).
/// An anonymous shared mapping that CRIU records as a memfd named after its path (`/dev/zero`)
/// is left out: it has no file to open.
fn load_memfds(dir: &ImageDir, warnings: &mut Warnings) -> Vec<Memfd> {
    let Some(blob) = dir.files.get("memfd.img") else {
        return Vec::new();
    };
    let entries: Vec<pb::MemfdInodeEntry> =
        match image::decode_all("memfd.img", blob.bytes(), magic::MEMFD_INODE) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                return Vec::new();
            }
        };
    let mut out = Vec::new();
    for e in entries {
        let name = String::from_utf8_lossy(&e.name).into_owned();
        if name.starts_with('/') {
            continue;
        }
        let pm = format!("pagemap-shmem-{}.img", e.shmid);
        let memory = match pages::load(dir, &pm, warnings) {
            Ok(Some(m)) => m,
            Ok(None) => Memory::default(),
            Err(err) => {
                warnings.push(err.warning_kind(), err.to_string());
                Memory::default()
            }
        };
        out.push(Memfd {
            inode_id: e.inode_id,
            name: name.strip_prefix("memfd:").unwrap_or(&name).to_string(),
            size: e.size,
            memory,
        });
    }
    out
}

/// The segments of every `ipcns-shm-*.img` of `dir`, sorted by id.
pub fn load_shm(dir: &ImageDir, warnings: &mut Warnings) -> Vec<ShmSegment> {
    let mut out = Vec::new();
    for (name, blob) in &dir.files {
        if !(name.starts_with("ipcns-shm-") && name.ends_with(".img")) {
            continue;
        }
        let entries = match image::decode_with_payload(
            name,
            blob.bytes(),
            magic::IPCNS_SHM,
            |e: &pb::IpcShmEntry| {
                if e.in_pagemaps.unwrap_or(false) {
                    0
                } else {
                    e.size.saturating_add(3) & !3
                }
            },
        ) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                continue;
            }
        };
        for (e, range) in entries {
            let d = e.desc;
            let memory =
                if e.in_pagemaps.unwrap_or(false) {
                    let pm = format!("pagemap-shmem-{}.img", d.id);
                    match pages::load(dir, &pm, warnings) {
                        Ok(Some(m)) => m,
                        Ok(None) => {
                            warnings.push(Kind::MissingImage, format!(
                            "{}/{pm}: missing: SysV segment {} (key {:#010x}) reads as zeros",
                            dir.label, d.id, d.key
                        ));
                            Memory::default()
                        }
                        Err(err) => {
                            warnings.push(err.warning_kind(), err.to_string());
                            Memory::default()
                        }
                    }
                } else {
                    let len = e.size.min(range.len() as u64) as usize;
                    match blob.slice(range.start..range.start + len) {
                        Some(b) => {
                            Memory::from_extents(vec![Extent {
                                start: 0,
                                len: len as u64,
                                data: ExtentData::Bytes(b),
                            }])
                            .0
                        }
                        None => Memory::default(),
                    }
                };
            out.push(ShmSegment {
                key: d.key,
                id: d.id,
                mode: d.mode,
                uid: d.uid,
                gid: d.gid,
                cuid: d.cuid,
                cgid: d.cgid,
                size: e.size,
                memory,
            });
        }
    }
    out.sort_by_key(|s| s.id);
    out
}
