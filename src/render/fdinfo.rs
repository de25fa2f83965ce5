//! `PID/fdinfo/N`: the kernel's first four lines (`seq_show()` of fs/proc/fd.c),
//! `pos:\t%lli`, `flags:\t0%o`, `mnt_id:\t%i`, `ino:\t%lu`, for the lines the images know, then
//! the kind's own lines (its `show_fdinfo()`), byte for byte where the images carry the values:
//!
//! | file kind | pos | flags | mnt_id | ino | then |
//! |---|---|---|---|---|---|
//! | regular file / directory | `RegFileEntry.pos` | its open flags | its mount id, when recorded | – | |
//! | pipe | 0 (pipes are streams) | its flags | – | the pipe's inode (`pipe_id`) | |
//! | fifo | 0 | its file's flags | its file's mount id | the pipe's inode | |
//! | memfd | its pos | its flags | – | its inode (the shmem id) | |
//! | inet socket | 0 | its flags | – | the socket inode | |
//! | unix socket | 0 | its flags | – | the socket inode | |
//! | other socket | 0 | – | – | the socket inode | |
//! | pidfd | 0 | its flags | – | the pidfs inode | `Pid:` / `NSpid:` (the container's PID, -1 when reaped) |
//! | tty | 0 | its flags (`TtyFileEntry.flags`) | its path's mount id, when recorded | – | a pty master: `tty-index:` (`TtyInfoEntry.pty.index`) |
//! | eventfd | 0 | its flags | – | – | `eventfd-count:` |
//! | eventpoll | 0 | its flags | – | – | one `tfd:` line per target |
//! | signalfd | 0 | its flags | – | – | `sigmask:` |
//! | timerfd | 0 | its flags | – | – | `clockid:`, `ticks:`, `settime flags:`, `it_value:`, `it_interval:` |
//! | inotify | 0 | its flags | – | – | one `inotify wd:` line per watch, with its file handle |
//! | anything else | – | – | – | – | |
//!
//! `O_CLOEXEC` is or-ed into the flags when the descriptor has `FD_CLOEXEC`, as the kernel does.
//! Anonymous inodes cannot seek, so their position is 0. Left out (not in the images): inode
//! numbers of regular files, terminals and of the anonymous inode, the internal mounts' ids (pipefs,
//! sockfs, anon_inodefs, shm), `eventfd-id` and `eventfd-semaphore`, unix sockets' `scm_fds`.
//! `it_value` is the time left when CRIU read it, a moment before the dump ended.

use std::fmt::Write;

use crate::model::files::{AnonDetail, FileKind};
use crate::model::process::{Fd, Process};

/// x86_64 `O_CLOEXEC`.
const O_CLOEXEC: u32 = 0o2000000;
/// `FD_CLOEXEC`.
const FD_CLOEXEC: u32 = 1;

/// The text of `PID/fdinfo/N`.
pub fn fdinfo(_p: &Process, fd: &Fd) -> Vec<u8> {
    let (pos, flags, mnt_id, ino): (Option<u64>, Option<u32>, Option<i32>, Option<u64>) =
        match &fd.file.kind {
            FileKind::Reg {
                pos, flags, mnt_id, ..
            } => (Some(*pos), Some(*flags), *mnt_id, None),
            FileKind::Pipe { pipe_id, flags } => {
                (Some(0), Some(*flags), None, Some(u64::from(*pipe_id)))
            }
            FileKind::Fifo {
                pipe_id,
                flags,
                mnt_id,
                ..
            } => (Some(0), *flags, *mnt_id, Some(u64::from(*pipe_id))),
            FileKind::Memfd {
                shmid, flags, pos, ..
            } => (Some(*pos), Some(*flags), None, *shmid),
            FileKind::AnonInode { detail, .. } => match detail {
                AnonDetail::None => (None, None, None, None),
                AnonDetail::Eventfd { flags, .. }
                | AnonDetail::Eventpoll { flags, .. }
                | AnonDetail::Signalfd { flags, .. }
                | AnonDetail::Timerfd { flags, .. }
                | AnonDetail::Inotify { flags, .. } => (Some(0), Some(*flags), None, None),
            },
            FileKind::InetSocket(s) => (Some(0), Some(s.flags), None, Some(u64::from(s.ino))),
            FileKind::UnixSocket(s) => (Some(0), Some(s.flags), None, Some(u64::from(s.ino))),
            FileKind::Socket { ino, .. } => (Some(0), None, None, Some(u64::from(*ino))),
            FileKind::Pidfd { flags, ino, .. } => (Some(0), Some(*flags), None, Some(*ino)),
            FileKind::Tty { flags, mnt_id, .. } => (Some(0), Some(*flags), *mnt_id, None),
            _ => (None, None, None, None),
        };
    let mut s = String::with_capacity(64);
    if let Some(pos) = pos {
        let _ = writeln!(s, "pos:\t{}", pos as i64);
    }
    if let Some(mut flags) = flags {
        if fd.fd_flags & FD_CLOEXEC != 0 {
            flags |= O_CLOEXEC;
        }
        let _ = writeln!(s, "flags:\t0{flags:o}");
    }
    if let Some(m) = mnt_id {
        let _ = writeln!(s, "mnt_id:\t{m}");
    }
    if let Some(i) = ino {
        let _ = writeln!(s, "ino:\t{i}");
    }
    if let FileKind::Pidfd { nspid, .. } = &fd.file.kind {
        // pidfd_show_fdinfo(): the PID in the reader's namespace (here: the container's), then
        // the NSpid chain, of which the images keep only the innermost level.
        let _ = writeln!(s, "Pid:\t{nspid}\nNSpid:\t{nspid}");
    }
    if let FileKind::AnonInode { detail, .. } = &fd.file.kind {
        anon_lines(&mut s, detail);
    }
    if let FileKind::Tty {
        index,
        master: true,
        ..
    } = &fd.file.kind
    {
        // ptmx_show_fdinfo(): the pty's index, on the master only.
        let _ = writeln!(s, "tty-index:\t{index}");
    }
    s.into_bytes()
}

/// The lines of an anonymous inode's own `show_fdinfo()` (eventfd_show_fdinfo(),
/// ep_show_fdinfo(), signalfd_show_fdinfo(), timerfd_show(), inotify_show_fdinfo()).
fn anon_lines(s: &mut String, d: &AnonDetail) {
    match d {
        AnonDetail::None => {}
        AnonDetail::Eventfd { counter, .. } => {
            let _ = writeln!(s, "eventfd-count: {counter:16x}");
        }
        AnonDetail::Eventpoll { targets, .. } => {
            for t in targets {
                let _ = writeln!(
                    s,
                    "tfd: {:8} events: {:8x} data: {:16x}  pos:{} ino:{:x} sdev:{:x}",
                    t.tfd,
                    t.events,
                    t.data,
                    t.pos.unwrap_or(0) as i64,
                    t.ino.unwrap_or(0),
                    t.dev.unwrap_or(0)
                );
            }
        }
        AnonDetail::Signalfd { sigmask, .. } => {
            let _ = writeln!(s, "sigmask:\t{sigmask:016x}");
        }
        AnonDetail::Timerfd {
            clockid,
            ticks,
            settime_flags,
            value,
            interval,
            ..
        } => {
            let _ = write!(
                s,
                "clockid: {clockid}\nticks: {ticks}\nsettime flags: 0{settime_flags:o}\n\
                 it_value: ({}, {})\nit_interval: ({}, {})\n",
                value.0, value.1, interval.0, interval.1
            );
        }
        AnonDetail::Inotify { watches, .. } => {
            for w in watches {
                let _ = write!(
                    s,
                    "inotify wd:{:x} ino:{:x} sdev:{:x} mask:{:x} ignored_mask:{:x} \
                     fhandle-bytes:{:x} fhandle-type:{:x} f_handle:",
                    w.wd,
                    w.ino,
                    w.s_dev,
                    w.mask,
                    w.ignored_mask,
                    w.handle.len(),
                    w.handle_type
                );
                for b in &w.handle {
                    let _ = write!(s, "{b:02x}");
                }
                s.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::files::{FileObject, InetSocket};
    use crate::render::testutil::*;
    use std::sync::Arc;

    fn fd(n: u32, fd_flags: u32, kind: FileKind) -> Fd {
        Fd {
            fd: n,
            fd_flags,
            file: Arc::new(FileObject { id: n, kind }),
        }
    }

    #[test]
    fn pty_master_has_its_index_the_slave_not() {
        let p = process(1, vec![], vec![]);
        let tty = |master| FileKind::Tty {
            index: 3,
            master,
            path: None,
            flags: 0o104002,
            mnt_id: Some(86),
        };
        assert_eq!(
            String::from_utf8(fdinfo(&p, &fd(3, 0, tty(true)))).unwrap(),
            "pos:\t0\nflags:\t0104002\nmnt_id:\t86\ntty-index:\t3\n"
        );
        assert_eq!(
            String::from_utf8(fdinfo(&p, &fd(4, 1, tty(false)))).unwrap(),
            "pos:\t0\nflags:\t02104002\nmnt_id:\t86\n"
        );
        assert_eq!(
            FileObject {
                id: 1,
                kind: tty(true)
            }
            .link_text(),
            "/dev/ptmx",
            "a master without its path"
        );
    }

    #[test]
    fn regular_file_with_cloexec() {
        let p = process(1, vec![], vec![]);
        let f = fd(
            3,
            1,
            FileKind::Reg {
                path: "/var/log/x".into(),
                pos: 1234,
                flags: 0o100002,
                mnt_id: Some(29),
                size: Some(10),
                mode: Some(0o100644),
                deleted: false,
                dev_ino: None,
            },
        );
        assert_eq!(
            fdinfo(&p, &f),
            b"pos:\t1234\nflags:\t02100002\nmnt_id:\t29\n"
        );
    }

    #[test]
    fn streams_and_others() {
        let p = process(1, vec![], vec![]);
        let f = fd(
            5,
            0,
            FileKind::Pipe {
                pipe_id: 81759,
                flags: 0,
            },
        );
        assert_eq!(fdinfo(&p, &f), b"pos:\t0\nflags:\t00\nino:\t81759\n");
        let f = fd(
            4,
            1,
            FileKind::InetSocket(InetSocket {
                ino: 81758,
                ..InetSocket::default()
            }),
        );
        assert_eq!(fdinfo(&p, &f), b"pos:\t0\nflags:\t02000000\nino:\t81758\n");
        let f = fd(
            6,
            0,
            FileKind::AnonInode {
                what: "fanotify",
                detail: AnonDetail::None,
            },
        );
        assert!(fdinfo(&p, &f).is_empty());
        let f = fd(
            7,
            0,
            FileKind::Reg {
                path: "/".into(),
                pos: u64::MAX,
                flags: 0,
                mnt_id: None,
                size: None,
                mode: None,
                deleted: true,
                dev_ino: None,
            },
        );
        assert_eq!(fdinfo(&p, &f), b"pos:\t-1\nflags:\t00\n");
    }
}
