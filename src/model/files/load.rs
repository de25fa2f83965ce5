//! The file objects and fd tables from the images: files.img (resolved against memfd.img and
//! tty-info.img), `fdinfo-<files_id>.img` per files table, and the sessions' controlling
//! terminals from tty-info.img.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{
    AnonDetail, EpollTarget, FileKind, FileObject, FileRef, InetSocket, InotifyWatch,
    SocketBuffers, UnixSocket,
};
use crate::image::{magic, pb};
use crate::model::load::{lossy, optional, optional_one};
use crate::model::process::Fd;
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

pub(in crate::model) fn load_files(
    dir: &ImageDir,
    memfd: &MemfdInodes,
    warnings: &mut Warnings,
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
                if let Some(MemfdInode { name: n, shmid: s }) = memfd.get(&u64::from(*inode_id)) {
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
            warnings.push(
                Kind::Duplicate,
                format!(
                    "{}/files.img: file id {} appears twice; the last one is used",
                    dir.label, fe.id
                ),
            );
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

/// A memfd's inode as memfd.img records it.
pub(in crate::model) struct MemfdInode {
    /// The name its dentry has (`memfd:NAME`, or a path for shared anonymous memory).
    pub name: String,
    /// The shared-memory object holding its pages (`pagemap-shmem-<shmid>.img`).
    pub shmid: u64,
}

/// The memfd inodes of memfd.img, by inode id.
pub(in crate::model) type MemfdInodes = HashMap<u64, MemfdInode>;

/// The memfd inodes of memfd.img, by inode id.
pub(in crate::model) fn load_memfd_inodes(dir: &ImageDir, warnings: &mut Warnings) -> MemfdInodes {
    let v: Vec<pb::MemfdInodeEntry> =
        optional(dir, "memfd.img", magic::MEMFD_INODE, warnings).unwrap_or_default();
    v.into_iter()
        .map(|m| {
            let inode = MemfdInode {
                name: lossy(&m.name),
                shmid: u64::from(m.shmid),
            };
            (m.inode_id, inode)
        })
        .collect()
}

/// The open files of PID `pid`: `ids-<pid>.img` names its files table, whose fds
/// `fdinfo-<files_id>.img` lists.
pub(in crate::model) fn process_fds(
    dir: &ImageDir,
    pid: u32,
    files: &BTreeMap<u32, FileRef>,
    warnings: &mut Warnings,
) -> Vec<Fd> {
    let lost = format!(": the open files of PID {pid} are unknown");
    match optional_one::<pb::TaskKobjIdsEntry>(
        dir,
        &format!("ids-{pid}.img"),
        magic::IDS,
        &lost,
        warnings,
    ) {
        Some(ids) => load_fds(dir, ids.files_id, files, pid, warnings),
        None => Vec::new(),
    }
}

fn load_fds(
    dir: &ImageDir,
    files_id: u32,
    files: &BTreeMap<u32, FileRef>,
    pid: u32,
    warnings: &mut Warnings,
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
            None => warnings.push(
                Kind::DanglingReference,
                format!(
                    "{}/{name}: PID {pid} fd {} refers to file id {} which files.img lacks",
                    dir.label, e.fd, e.id
                ),
            ),
        }
    }
    out.sort_by_key(|f| f.fd);
    out.dedup_by_key(|f| f.fd);
    out
}

/// The controlling terminals the images record, by session: for each terminal of tty-info.img
/// with a session (`sid`, which CRIU reads inside the task's PID namespace), its device (`rdev`,
/// dev_t as glibc encodes it: what stat's `tty_nr` prints), its foreground process group
/// (`pgrp`), as (rdev, pgrp). CRIU records a pty pair's session on its master
/// (`/dev/ptmx`, 5:2); the terminal is the slave, `/dev/pts/<pty.index>` (its own entry's
/// `rdev`, or the kernel's number for it, major 136 minor index). A bad image is reported where
/// the files are read.
pub(in crate::model) fn session_ttys(dir: &ImageDir) -> HashMap<u32, (u32, u32)> {
    /// `new_encode_dev(MKDEV(major, minor))`, which is also glibc's 32-bit dev_t.
    fn encode(major: u32, minor: u32) -> u32 {
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }
    const PTMX: u32 = 5 << 8 | 2;
    const PTS_MAJOR: u32 = 136;
    let mut reported = Warnings::new();
    let ttys = optional::<pb::TtyInfoEntry>(dir, "tty-info.img", magic::TTY_INFO, &mut reported)
        .unwrap_or_default();
    // sid -> (rdev, pgrp, from a pty master): a slave's own entry wins over its master's.
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
    out.into_iter()
        .map(|(sid, (rdev, pgrp, _))| (sid, (rdev, pgrp)))
        .collect()
}
