//! Open-file objects from files.img (regular files, sockets, pipes, anon inodes), shared by fds,
//! VMAs and the cwd / root / exe links.

pub(super) mod load;

use std::sync::Arc;

/// A shared reference to a file object.
pub type FileRef = Arc<FileObject>;

/// A socket's buffer sizes in bytes (`SO_SNDBUF`, `SO_RCVBUF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SocketBuffers {
    pub send: u32,
    pub recv: u32,
}

/// A file object (`FileEntry`), keyed by its id in files.img.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileObject {
    pub id: u32,
    pub kind: FileKind,
}

#[cfg(test)]
impl FileObject {
    /// A regular file opened at `path` (position 0, no flags, nothing else known): test models.
    pub(crate) fn reg(id: u32, path: &str) -> std::sync::Arc<FileObject> {
        std::sync::Arc::new(FileObject {
            id,
            kind: FileKind::Reg {
                path: path.into(),
                pos: 0,
                flags: 0,
                mnt_id: None,
                size: None,
                mode: None,
                deleted: false,
                dev_ino: None,
            },
        })
    }
}

/// Socket address families we render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Inet,
    Inet6,
    Other(u32),
}

/// An inet socket (`InetSkEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InetSocket {
    pub ino: u32,
    pub family: u32,
    /// SOCK_STREAM, SOCK_DGRAM, ...
    pub sock_type: u32,
    pub proto: u32,
    /// TCP state as the kernel numbers it (10 = LISTEN, 1 = ESTABLISHED, 7 = CLOSE).
    pub state: u32,
    pub src_port: u32,
    pub dst_port: u32,
    /// Addresses as the image stores them: 1 word for IPv4, 4 for IPv6 (network byte order words).
    pub src_addr: Vec<u32>,
    pub dst_addr: Vec<u32>,
    pub backlog: u32,
    pub uid: Option<u32>,
    /// The open file's flags (`O_RDWR | O_NONBLOCK` ...), as fdinfo shows them.
    pub flags: u32,
    /// `SO_SNDBUF` / `SO_RCVBUF` as CRIU recorded them.
    pub buffers: Option<SocketBuffers>,
}

/// A unix socket (`UnixSkEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UnixSocket {
    pub ino: u32,
    pub sock_type: u32,
    pub state: u32,
    pub flags: u32,
    pub backlog: u32,
    pub peer: u32,
    /// The bound name as CRIU records it: a path with its terminating NUL, or NUL and the
    /// abstract name.
    pub name: Vec<u8>,
    /// `SO_SNDBUF` / `SO_RCVBUF` as CRIU recorded them.
    pub buffers: Option<SocketBuffers>,
}

impl UnixSocket {
    /// The name as `/proc/net/unix` prints it (`unix_seq_show()`): an abstract name as `@` and
    /// its bytes, a path without its terminating NUL, any other NUL as `@`. Empty when unbound.
    /// The one rule for every view (net/unix, triage, inspect, JSON, the sockets overview).
    pub fn proc_name(&self) -> Vec<u8> {
        let name: &[u8] = match self.name.first() {
            None => return Vec::new(),
            Some(0) => &self.name,
            Some(_) => self.name.strip_suffix(&[0]).unwrap_or(&self.name),
        };
        name.iter()
            .map(|&b| if b == 0 { b'@' } else { b })
            .collect()
    }

    /// [`UnixSocket::proc_name`] as text (bytes that are not UTF-8 become U+FFFD).
    pub fn shown_name(&self) -> String {
        String::from_utf8_lossy(&self.proc_name()).into_owned()
    }
}

/// What the images record about an anonymous-inode file, kind by kind (`fdinfo`'s lines).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AnonDetail {
    /// Nothing beyond the kind.
    #[default]
    None,
    Eventfd {
        flags: u32,
        counter: u64,
    },
    Eventpoll {
        flags: u32,
        targets: Vec<EpollTarget>,
    },
    Signalfd {
        flags: u32,
        sigmask: u64,
    },
    Timerfd {
        flags: u32,
        clockid: u32,
        ticks: u64,
        settime_flags: u32,
        /// Time left and interval, (seconds, nanoseconds), when CRIU read them.
        value: (u64, u64),
        interval: (u64, u64),
    },
    Inotify {
        flags: u32,
        watches: Vec<InotifyWatch>,
    },
}

/// One file an epoll instance watches (`EventpollTfdEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EpollTarget {
    pub tfd: u32,
    pub events: u32,
    pub data: u64,
    pub pos: Option<u64>,
    pub ino: Option<u64>,
    pub dev: Option<u32>,
}

/// One inotify watch (`InotifyWdEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InotifyWatch {
    pub wd: u32,
    pub ino: u64,
    pub mask: u32,
    pub ignored_mask: u32,
    pub s_dev: u32,
    pub handle_type: u32,
    /// The file handle's bytes.
    pub handle: Vec<u8>,
}

/// What a file object is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file or directory by path (as the process saw it).
    Reg {
        path: String,
        pos: u64,
        flags: u32,
        mnt_id: Option<i32>,
        size: Option<u64>,
        mode: Option<u32>,
        /// The file was unlinked (CRIU saved it as a ghost file or marked it deleted).
        deleted: bool,
        /// Device (the kernel's encoding, major << 20 | minor) and inode number, when recorded:
        /// only a ghost file's image has them (`GhostFileEntry.dev`, `ino`).
        dev_ino: Option<(u32, u64)>,
    },
    InetSocket(InetSocket),
    UnixSocket(UnixSocket),
    /// Other socket families (netlink, packet): the type name and inode.
    Socket {
        what: &'static str,
        ino: u32,
    },
    Pipe {
        pipe_id: u32,
        flags: u32,
    },
    Fifo {
        pipe_id: u32,
        path: Option<String>,
        /// Open flags and mount id of the FIFO's regular-file entry (`FifoEntry.regf_id`).
        flags: Option<u32>,
        mnt_id: Option<i32>,
    },
    /// An anonymous inode: `eventfd`, `eventpoll`, `signalfd`, `timerfd`, `inotify`, `fanotify`, `bpf-map`, ...
    AnonInode {
        what: &'static str,
        /// What CRIU recorded about it (for `fdinfo`).
        detail: AnonDetail,
    },
    Memfd {
        name: String,
        inode_id: u32,
        /// The memfd's shmem id, which is its inode number.
        shmid: Option<u64>,
        flags: u32,
        pos: u64,
    },
    /// A terminal (`TtyFileEntry` + its `TtyInfoEntry` in tty-info.img).
    Tty {
        /// The pty's index (`/dev/pts/<index>`), when recorded.
        index: u32,
        /// A pty master (the ptmx device, 5:2), not a slave.
        master: bool,
        /// The path it was opened by (its regular-file entry: `/dev/pts/ptmx`, `/dev/pts/0`).
        path: Option<String>,
        /// The open file's flags.
        flags: u32,
        /// The mount id of its regular-file entry.
        mnt_id: Option<i32>,
    },
    /// A pidfd (`pidfd_open(2)`, CRIU 4.1+ fd type 20): `nspid` is the PID it refers to in the
    /// container's PID namespace, -1 for a task already reaped.
    Pidfd {
        nspid: i32,
        flags: u32,
        ino: u64,
    },
    Tun,
    /// A type we do not decode; the raw FileEntry type number.
    Other {
        type_id: i32,
    },
}

impl FileObject {
    /// CRIU's name of the file's type (files.img's `FdTypes`: `REG`, `PIPE`, `INETSK`, `EVENTFD`,
    /// ...), as checkpointctl shows it; a type the model has no kind for keeps its image name.
    pub fn criu_type(&self) -> &'static str {
        match &self.kind {
            FileKind::Reg { .. } => "REG",
            FileKind::InetSocket(_) => "INETSK",
            FileKind::UnixSocket(_) => "UNIXSK",
            FileKind::Socket { what: "packet", .. } => "PACKETSK",
            FileKind::Socket {
                what: "netlink", ..
            } => "NETLINKSK",
            FileKind::Socket { .. } => "SOCKET",
            FileKind::Pipe { .. } => "PIPE",
            FileKind::Fifo { .. } => "FIFO",
            FileKind::AnonInode { what, .. } => match *what {
                "eventfd" => "EVENTFD",
                "eventpoll" => "EVENTPOLL",
                "signalfd" => "SIGNALFD",
                "timerfd" => "TIMERFD",
                "inotify" => "INOTIFY",
                "fanotify" => "FANOTIFY",
                "bpf-map" => "BPFMAP",
                "pidfd" => "PIDFD",
                _ => "ANON",
            },
            FileKind::Memfd { .. } => "MEMFD",
            FileKind::Tty { .. } => "TTY",
            FileKind::Pidfd { .. } => "PIDFD",
            FileKind::Tun => "TUNF",
            FileKind::Other { type_id } => {
                crate::image::pb::FdTypes::try_from(*type_id).map_or("UND", |t| t.as_str_name())
            }
        }
    }

    /// The socket's buffer sizes, when it is an inet or unix socket and CRIU recorded them.
    pub fn socket_buffers(&self) -> Option<SocketBuffers> {
        match &self.kind {
            FileKind::InetSocket(s) => s.buffers,
            FileKind::UnixSocket(u) => u.buffers,
            _ => None,
        }
    }

    /// The link text /proc shows for a descriptor of this file (`socket:[123]`, `pipe:[4]`, a path).
    pub fn link_text(&self) -> String {
        match &self.kind {
            FileKind::Reg { path, deleted, .. } => {
                if *deleted {
                    format!("{path} (deleted)")
                } else {
                    path.clone()
                }
            }
            FileKind::InetSocket(s) => format!("socket:[{}]", s.ino),
            FileKind::UnixSocket(s) => format!("socket:[{}]", s.ino),
            FileKind::Socket { ino, .. } => format!("socket:[{ino}]"),
            FileKind::Pipe { pipe_id, .. } => format!("pipe:[{pipe_id}]"),
            FileKind::Fifo { path, pipe_id, .. } => {
                path.clone().unwrap_or_else(|| format!("pipe:[{pipe_id}]"))
            }
            // The kernel's anon inode names: most are bracketed, inotify's and bpf-map's are not.
            FileKind::AnonInode {
                what: w @ ("inotify" | "bpf-map"),
                ..
            } => format!("anon_inode:{w}"),
            FileKind::AnonInode { what, .. } => format!("anon_inode:[{what}]"),
            // A memfd shows as `/memfd:NAME (deleted)`; an anonymous shared mapping that CRIU
            // records as a memfd keeps its own path (`/dev/zero`).
            FileKind::Memfd { name, .. } if name.starts_with('/') => format!("{name} (deleted)"),
            FileKind::Memfd { name, .. } => format!("/memfd:{name} (deleted)"),
            FileKind::Tty { path: Some(p), .. } => p.clone(),
            FileKind::Tty { master: true, .. } => "/dev/ptmx".to_string(),
            FileKind::Tty { index, .. } => format!("/dev/pts/{index}"),
            FileKind::Pidfd { .. } => "anon_inode:[pidfd]".to_string(),
            FileKind::Tun => "/dev/net/tun".to_string(),
            FileKind::Other { type_id } => format!("anon_inode:[criu-file-type-{type_id}]"),
        }
    }

    /// The path inside the container, for objects that have one (regular files, fifos).
    pub fn path(&self) -> Option<&str> {
        match &self.kind {
            FileKind::Reg { path, .. } => Some(path),
            FileKind::Fifo { path, .. } => path.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `inspect` used to decode files.img a second time for: the CRIU type and the socket
    /// buffers are the model's.
    #[test]
    fn criu_types_and_socket_buffers() {
        let f = |kind| FileObject { id: 1, kind };
        assert_eq!(
            f(FileKind::Pipe {
                pipe_id: 1,
                flags: 0
            })
            .criu_type(),
            "PIPE"
        );
        assert_eq!(
            f(FileKind::AnonInode {
                what: "timerfd",
                detail: AnonDetail::None
            })
            .criu_type(),
            "TIMERFD"
        );
        assert_eq!(f(FileKind::Other { type_id: 14 }).criu_type(), "NS");
        assert_eq!(f(FileKind::Other { type_id: 16 }).criu_type(), "EXT");
        assert_eq!(f(FileKind::Other { type_id: 999 }).criu_type(), "UND");
        let bufs = Some(SocketBuffers {
            send: 16384,
            recv: 131072,
        });
        let sk = f(FileKind::InetSocket(InetSocket {
            buffers: bufs,
            ..InetSocket::default()
        }));
        assert_eq!((sk.criu_type(), sk.socket_buffers()), ("INETSK", bufs));
        let u = f(FileKind::UnixSocket(UnixSocket::default()));
        assert_eq!((u.criu_type(), u.socket_buffers()), ("UNIXSK", None));
    }

    fn named(name: &[u8]) -> UnixSocket {
        UnixSocket {
            name: name.to_vec(),
            ..UnixSocket::default()
        }
    }

    /// One rule, `/proc/net/unix`'s: no stray NUL, `@` for abstract names.
    #[test]
    fn unix_names_as_proc_net_unix_prints_them() {
        assert_eq!(
            named(b"/tmp/kitchen.sock\0").shown_name(),
            "/tmp/kitchen.sock"
        );
        assert_eq!(named(b"/run/x.sock").shown_name(), "/run/x.sock");
        assert_eq!(named(b"\0abs\0x").shown_name(), "@abs@x");
        assert_eq!(named(b"\0abs\0").shown_name(), "@abs@");
        assert_eq!(named(b"").shown_name(), "");
        assert_eq!(named(b"/a\0b\0").proc_name(), b"/a@b");
    }
}
