//! `PID/net/{tcp,tcp6,udp,udp6,unix}`: the /proc/net formats (man 5 proc; `tcp4_seq_show()`,
//! `tcp6_seq_show()`, `udp4_seq_show()`, `__ip6_dgram_sock_seq_show()`, `unix_seq_show()` of
//! Linux 6.x), with the sockets of the process's network namespace (each socket once, process by
//! process in fd order).
//!
//! Header lines are the kernel's, byte for byte (tcp and udp are padded with spaces to 149 and
//! 127 columns, as `seq_pad()` does). Addresses are printed as the kernel prints them: each
//! 32-bit word of the address as it lies in memory, `%08X` (127.0.0.1 is `0100007F`); ports in
//! host order `%04X`; the state `%02X`; the socket inode.
//!
//! From the images: addresses, ports, state, inode, and for an established TCP socket dumped with
//! `--tcp-established` its queues (`tcp-stream-<ino>.img`: `tx_queue` = unsent + unacknowledged
//! bytes, `rx_queue` = unread bytes); the uid is the process's fsuid (the socket
//! inode's owner is its creator's fsuid; the images do not record it). Not in the images, printed
//! as 0: other queues, timers, retransmits, the kernel pointer (`%pK`, zeros as for an unprivileged
//! reader), rto / ato / cwnd / ssthresh, drops; the reference count is printed as 1. `sl` is the
//! line number (for udp the kernel prints the hash bucket, which the images do not know).
//! /proc/net lists the whole network namespace: so does this, every socket open in a process of
//! the same namespace (`ids-<pid>.img`'s `net_ns_id`); sockets no process holds are not in the images.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::format::net::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM, TCP_ESTABLISHED,
    TCP_LISTEN,
};
use crate::model::files::{FileKind, InetSocket, UnixSocket};
use crate::model::process::Process;

/// Which /proc/net file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFile {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
    Unix,
}

impl NetFile {
    pub const ALL: [NetFile; 5] = [
        NetFile::Tcp,
        NetFile::Tcp6,
        NetFile::Udp,
        NetFile::Udp6,
        NetFile::Unix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NetFile::Tcp => "tcp",
            NetFile::Tcp6 => "tcp6",
            NetFile::Udp => "udp",
            NetFile::Udp6 => "udp6",
            NetFile::Unix => "unix",
        }
    }
}

/// `__SO_ACCEPTCON`.
const SO_ACCEPTCON: u32 = 1 << 16;
/// `%pK` for an unprivileged reader.
const NULL_PTR: &str = "0000000000000000";

const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const UDP_HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const TCP6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const UDP6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
const UNIX_HEADER: &str = "Num       RefCount Protocol Flags    Type St Inode Path\n";

/// `s` padded with spaces to `width` columns, then a newline (`seq_pad()`).
fn padded(out: &mut String, s: &str, width: usize) {
    let _ = writeln!(out, "{s:<width$}");
}

fn matches(s: &InetSocket, which: NetFile) -> bool {
    let (family, ty, proto) = match which {
        NetFile::Tcp => (AF_INET, SOCK_STREAM, IPPROTO_TCP),
        NetFile::Tcp6 => (AF_INET6, SOCK_STREAM, IPPROTO_TCP),
        NetFile::Udp => (AF_INET, SOCK_DGRAM, IPPROTO_UDP),
        NetFile::Udp6 => (AF_INET6, SOCK_DGRAM, IPPROTO_UDP),
        NetFile::Unix => return false,
    };
    s.family == family && s.sock_type == ty && (s.proto == proto || s.proto == 0)
}

/// Address words as the kernel prints them (`%08X` each), `n` words (missing words are 0).
fn addr(words: &[u32], n: usize) -> String {
    (0..n).fold(String::with_capacity(8 * n), |mut s, i| {
        let _ = write!(s, "{:08X}", words.get(i).copied().unwrap_or(0));
        s
    })
}

/// The sockets of the processes' descriptors (process by process, in fd order), each once, with
/// the owning process's fsuid.
#[allow(clippy::type_complexity)]
fn sockets<'a>(procs: &[&'a Process]) -> (Vec<(&'a InetSocket, u32)>, Vec<&'a UnixSocket>) {
    let mut seen = std::collections::HashSet::new();
    let mut inet = Vec::new();
    let mut unix = Vec::new();
    for p in procs {
        let uid = p.creds().map_or(0, |c| c.fsuid);
        let mut fds: Vec<_> = p.fds.iter().collect();
        fds.sort_by_key(|f| f.fd);
        for f in fds {
            match &f.file.kind {
                FileKind::InetSocket(s) if seen.insert(s.ino) => inet.push((s, uid)),
                FileKind::UnixSocket(s) if seen.insert(s.ino) => unix.push(s),
                _ => {}
            }
        }
    }
    (inet, unix)
}

/// The text of `PID/net/<which>` for a process alone (tests and single-process views).
pub fn net(p: &Process, which: NetFile) -> Vec<u8> {
    net_of(&[p], &BTreeMap::new(), which)
}

/// The text of `PID/net/<which>`: every socket of `procs`, the processes of one network
/// namespace (the kernel lists the whole namespace, not the reader's own sockets). `queues`:
/// TCP socket inode -> (receive, send) queue lengths, where CRIU saved them.
pub fn net_of(procs: &[&Process], queues: &BTreeMap<u32, (u32, u32)>, which: NetFile) -> Vec<u8> {
    let (inet, unix) = sockets(procs);
    let mut out = String::new();
    match which {
        NetFile::Tcp => padded(&mut out, TCP_HEADER, 149),
        NetFile::Udp => padded(&mut out, UDP_HEADER, 127),
        NetFile::Tcp6 => out.push_str(TCP6_HEADER),
        NetFile::Udp6 => out.push_str(UDP6_HEADER),
        NetFile::Unix => out.push_str(UNIX_HEADER),
    }
    if which == NetFile::Unix {
        for s in unix {
            unix_line(&mut out, s);
        }
        return out.into_bytes();
    }
    for (i, (s, uid)) in inet
        .into_iter()
        .filter(|(s, _)| matches(s, which))
        .enumerate()
    {
        let words = if matches!(which, NetFile::Tcp | NetFile::Udp) {
            1
        } else {
            4
        };
        let local = format!("{}:{:04X}", addr(&s.src_addr, words), s.src_port & 0xffff);
        let remote = format!("{}:{:04X}", addr(&s.dst_addr, words), s.dst_port & 0xffff);
        let (rx, tx) = queues.get(&s.ino).copied().unwrap_or((0, 0));
        let common = format!(
            "{local} {remote} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {uid:5} {:8} {} {} {NULL_PTR}",
            s.state & 0xff,
            tx,
            rx,
            0,
            0,
            0,
            0,
            s.ino,
            1
        );
        match which {
            NetFile::Tcp => {
                let ssthresh = if s.state == TCP_LISTEN { 0 } else { -1 };
                let line = format!("{i:4}: {common} 0 0 0 0 {ssthresh}");
                padded(&mut out, &line, 149);
            }
            NetFile::Tcp6 => {
                let ssthresh = if s.state == TCP_LISTEN { 0 } else { -1 };
                let _ = writeln!(out, "{i:4}: {common} 0 0 0 0 {ssthresh}");
            }
            NetFile::Udp => padded(&mut out, &format!("{i:5}: {common} 0"), 127),
            NetFile::Udp6 => {
                let _ = writeln!(out, "{i:5}: {common} 0");
            }
            NetFile::Unix => {}
        }
    }
    out.into_bytes()
}

fn unix_line(out: &mut String, s: &UnixSocket) {
    let flags = if s.state == TCP_LISTEN {
        SO_ACCEPTCON
    } else {
        0
    };
    let st = if s.state == TCP_ESTABLISHED { 3 } else { 1 };
    let _ = write!(
        out,
        "{NULL_PTR}: {:08X} {:08X} {flags:08X} {:04X} {st:02X} {:5}",
        1,
        0,
        s.sock_type & 0xffff,
        s.ino
    );
    if !s.name.is_empty() {
        out.push(' ');
        out.push_str(&s.shown_name());
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::files::FileObject;
    use crate::model::process::Fd;
    use crate::render::testutil::process;

    fn fd(n: u32, kind: FileKind) -> Fd {
        Fd {
            fd: n,
            fd_flags: 0,
            file: Arc::new(FileObject { id: n, kind }),
        }
    }

    fn inet(ino: u32, family: u32, ty: u32, state: u32, src: Vec<u32>, port: u32) -> FileKind {
        FileKind::InetSocket(InetSocket {
            ino,
            family,
            sock_type: ty,
            proto: if ty == SOCK_STREAM {
                IPPROTO_TCP
            } else {
                IPPROTO_UDP
            },
            state,
            src_port: port,
            src_addr: src,
            ..InetSocket::default()
        })
    }

    fn text(p: &Process, w: NetFile) -> String {
        String::from_utf8(net(p, w)).unwrap()
    }

    #[test]
    fn tcp_listener_on_loopback() {
        let mut p = process(1, vec![], vec![]);
        p.fds = vec![
            fd(4, inet(81758, 2, 1, 10, vec![0x0100_007f], 43285)),
            fd(5, inet(81758, 2, 1, 10, vec![0x0100_007f], 43285)), // dup: listed once
            fd(6, inet(99, 2, 2, 7, vec![0], 53)),
            fd(7, inet(100, 10, 1, 10, vec![0, 0, 0, 0x0100_0000], 8080)),
        ];
        let t = text(&p, NetFile::Tcp);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert_eq!(
            lines[0].trim_end(),
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
        );
        assert_eq!(lines[0].len(), 149);
        assert_eq!(lines[1].len(), 149);
        assert_eq!(
            lines[1].trim_end(),
            "   0: 0100007F:A915 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 81758 1 0000000000000000 0 0 0 0 0"
        );
        let u = text(&p, NetFile::Udp);
        assert_eq!(u.lines().next().unwrap().len(), 127);
        assert!(
            u.lines()
                .nth(1)
                .unwrap()
                .starts_with("    0: 00000000:0035 00000000:0000 07 "),
            "{u}"
        );
        let t6 = text(&p, NetFile::Tcp6);
        assert_eq!(t6.lines().count(), 2);
        assert!(t6.lines().nth(1).unwrap().starts_with(
            "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
        ));
        assert!(t6.ends_with(" 0\n"));
        assert_eq!(text(&p, NetFile::Udp6).lines().count(), 1);
    }

    #[test]
    fn unix_sockets() {
        let mut p = process(1, vec![], vec![]);
        p.fds = vec![
            fd(
                3,
                FileKind::UnixSocket(UnixSocket {
                    ino: 555,
                    sock_type: 1,
                    state: 10,
                    name: b"/run/x.sock".to_vec(),
                    ..UnixSocket::default()
                }),
            ),
            fd(
                4,
                FileKind::UnixSocket(UnixSocket {
                    ino: 556,
                    sock_type: 2,
                    state: 1,
                    name: b"\0abs\0x".to_vec(),
                    ..UnixSocket::default()
                }),
            ),
            fd(
                5,
                FileKind::UnixSocket(UnixSocket {
                    ino: 557,
                    sock_type: 1,
                    state: 7,
                    ..UnixSocket::default()
                }),
            ),
        ];
        assert_eq!(
            text(&p, NetFile::Unix),
            "Num       RefCount Protocol Flags    Type St Inode Path\n\
             0000000000000000: 00000001 00000000 00010000 0001 01   555 /run/x.sock\n\
             0000000000000000: 00000001 00000000 00000000 0002 03   556 @abs@x\n\
             0000000000000000: 00000001 00000000 00000000 0001 01   557\n"
        );
        assert_eq!(text(&p, NetFile::Tcp).lines().count(), 1);
    }
}
