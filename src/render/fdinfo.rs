//! `PID/fdinfo/N`: the kernel's first four lines (`seq_show()` of fs/proc/fd.c),
//! `pos:\t%lli`, `flags:\t0%o`, `mnt_id:\t%i`, `ino:\t%lu`, for the lines the images know:
//!
//! | file kind | pos | flags | mnt_id | ino |
//! |---|---|---|---|---|
//! | regular file / directory | `RegFileEntry.pos` | its open flags | its mount id, when recorded | – |
//! | pipe | 0 (pipes are streams) | its flags | – | the pipe's inode (`pipe_id`) |
//! | fifo | 0 | – | – | the pipe's inode |
//! | inet socket | 0 | its flags | – | the socket inode |
//! | unix socket | 0 | its flags | – | the socket inode |
//! | other socket | 0 | – | – | the socket inode |
//! | pidfd | 0 | its flags | – | the pidfs inode; then `Pid:` / `NSpid:` (the container's PID, -1 when reaped) |
//! | anything else | – | – | – | – |
//!
//! `O_CLOEXEC` is or-ed into the flags when the descriptor has `FD_CLOEXEC`, as the kernel does.
//! Left out: inode numbers of regular files and the internal mounts' ids (not in the images), and
//! the type-specific lines after `ino` (eventfd counts, epoll targets, inotify watches...), which
//! the model does not carry.

use std::fmt::Write;

use crate::model::files::FileKind;
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
            FileKind::Fifo { pipe_id, .. } => (Some(0), None, None, Some(u64::from(*pipe_id))),
            FileKind::InetSocket(s) => (Some(0), Some(s.flags), None, Some(u64::from(s.ino))),
            FileKind::UnixSocket(s) => (Some(0), Some(s.flags), None, Some(u64::from(s.ino))),
            FileKind::Socket { ino, .. } => (Some(0), None, None, Some(u64::from(*ino))),
            FileKind::Pidfd { flags, ino, .. } => (Some(0), Some(*flags), None, Some(*ino)),
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
    s.into_bytes()
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
        let f = fd(6, 0, FileKind::AnonInode { what: "eventfd" });
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
            },
        );
        assert_eq!(fdinfo(&p, &f), b"pos:\t-1\nflags:\t00\n");
    }
}
