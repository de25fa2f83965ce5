//! Network rules: listening and connected sockets, reverse shells, and likely C2 connections.

use super::{Finding, Strength, identity};
use crate::format::net::{
    AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM, TCP_ESTABLISHED, TCP_LISTEN,
    ip_host,
};
use crate::model::files::{InetSocket, UnixSocket};
use crate::model::process::Process;
use crate::model::{Checkpoint, FileKind, FileRef};

/// **Network exposure**: per descriptor, listening TCP sockets (`tcp-listen`), established TCP
/// connections (`tcp-established`, `<where>` = `local->remote`), UDP sockets bound to a port
/// (`udp-bound`), listening unix sockets (`unix-listen`) and connected unix stream sockets with a
/// bound name (`unix-connected`). A socket shared by several descriptors of one process is
/// reported once (its lowest fd); one inherited by a child is reported in each process.
pub fn sockets(p: &Process) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for fd in &p.fds {
        if !seen.insert(fd.file.id) {
            continue;
        }
        match &fd.file.kind {
            FileKind::InetSocket(s) => {
                let v6 = s.family == AF_INET6;
                let fam = if v6 { "6" } else { "" };
                let local = format!("{}:{}", ip_host(&s.src_addr), s.src_port);
                let tcp = s.proto == IPPROTO_TCP || (s.proto == 0 && s.sock_type == SOCK_STREAM);
                let udp = s.proto == IPPROTO_UDP || (s.proto == 0 && s.sock_type == SOCK_DGRAM);
                if tcp && s.state == TCP_LISTEN {
                    out.push(Finding::new(
                        p.pid,
                        local,
                        "tcp-listen",
                        Strength::Weak,
                        format!(
                            "listening TCP{fam} socket (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                } else if tcp && s.state == TCP_ESTABLISHED {
                    let remote = format!("{}:{}", ip_host(&s.dst_addr), s.dst_port);
                    out.push(Finding::new(
                        p.pid,
                        format!("{local}->{remote}"),
                        "tcp-established",
                        Strength::Weak,
                        format!(
                            "established TCP{fam} connection (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                } else if udp && s.src_port != 0 {
                    out.push(Finding::new(
                        p.pid,
                        local,
                        "udp-bound",
                        Strength::Weak,
                        format!(
                            "UDP{fam} socket bound to a port (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                }
            }
            FileKind::UnixSocket(s) => {
                let name = unix_name(s);
                if s.state == TCP_LISTEN {
                    out.push(Finding::new(
                        p.pid,
                        name,
                        "unix-listen",
                        Strength::Weak,
                        format!("listening unix socket (fd {}, socket:[{}])", fd.fd, s.ino),
                    ));
                } else if s.state == TCP_ESTABLISHED && !s.name.is_empty() {
                    out.push(Finding::new(
                        p.pid,
                        name,
                        "unix-connected",
                        Strength::Weak,
                        format!(
                            "connected unix socket with a bound name (fd {}, socket:[{}])",
                            fd.fd, s.ino
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// A unix socket name as /proc/net/unix shows it (`@` for the abstract namespace), or `-`.
fn unix_name(s: &UnixSocket) -> String {
    match s.shown_name() {
        n if n.is_empty() => "-".into(),
        n => n,
    }
}

fn tcp(s: &InetSocket) -> bool {
    s.proto == IPPROTO_TCP || (s.proto == 0 && s.sock_type == SOCK_STREAM)
}

fn ends(s: &InetSocket) -> String {
    format!(
        "{}:{}->{}:{}",
        ip_host(&s.src_addr),
        s.src_port,
        ip_host(&s.dst_addr),
        s.dst_port
    )
}

/// Who holds the other end of a socket inside the checkpoint: `PID N fd M (comm)` for each
/// holder, or that the peer is not in the checkpoint. TCP: the socket whose local end is this
/// one's remote end and the reverse (same network namespace); unix: the socket the image names
/// as peer.
fn peer_text(ck: &Checkpoint, pid: u32, f: &FileRef) -> String {
    let mut holders = Vec::new();
    for q in &ck.processes {
        for fd in &q.fds {
            let hit = match (&f.kind, &fd.file.kind) {
                (FileKind::InetSocket(a), FileKind::InetSocket(b)) => {
                    a.ino != b.ino
                        && a.dst_port == b.src_port
                        && a.src_port == b.dst_port
                        && a.dst_addr == b.src_addr
                        && a.src_addr == b.dst_addr
                        && ck.objects.same_net_ns(pid, q.pid)
                }
                (FileKind::UnixSocket(a), FileKind::UnixSocket(b)) => {
                    a.peer != 0 && a.peer == b.ino
                }
                _ => false,
            };
            if hit {
                holders.push(format!("PID {} fd {} ({})", q.pid, fd.fd, q.comm));
            }
        }
    }
    if holders.is_empty() {
        "peer not in the checkpoint".into()
    } else {
        format!("peer {}", holders.join(", "))
    }
}

/// **A reverse shell**: a shell ([`identity::shells`]) whose standard input, output or error is
/// a socket (a shell's stdio is a terminal, a pipe or a file otherwise). One finding per socket,
/// `<where>` its ends (`local->remote` for TCP, the bound name or `socket:[ino]` for unix), with
/// the descriptors that hold it and who holds the other end. Tag `reverse-shell`: strong when
/// stdin and stdout or stderr are sockets, weak when only one of them is.
pub fn reverse_shell(ck: &Checkpoint, p: &Process) -> Vec<Finding> {
    if identity::shells(p).is_empty() {
        return Vec::new();
    }
    let mut socks: Vec<(FileRef, Vec<u32>)> = Vec::new();
    for fd in p.fds.iter().filter(|f| f.fd <= 2) {
        if !matches!(
            fd.file.kind,
            FileKind::InetSocket(_) | FileKind::UnixSocket(_) | FileKind::Socket { .. }
        ) {
            continue;
        }
        match socks
            .iter_mut()
            .find(|(f, _)| f.id == fd.file.id || f.link_text() == fd.file.link_text())
        {
            Some((_, fds)) => fds.push(fd.fd),
            None => socks.push((fd.file.clone(), vec![fd.fd])),
        }
    }
    let is_sock = |n: u32| socks.iter().any(|(_, fds)| fds.contains(&n));
    let strong = is_sock(0) && (is_sock(1) || is_sock(2));
    socks
        .iter()
        .map(|(f, fds)| {
            let at = match &f.kind {
                FileKind::InetSocket(s) => ends(s),
                FileKind::UnixSocket(s) if !s.name.is_empty() => unix_name(s),
                _ => f.link_text(),
            };
            let list: Vec<String> = fds.iter().map(u32::to_string).collect();
            Finding::new(
                p.pid,
                at,
                "reverse-shell",
                if strong {
                    Strength::Strong
                } else {
                    Strength::Weak
                },
                format!(
                    "shell {} with fd{} {} on {} {}; {}",
                    p.comm,
                    if fds.len() == 1 { "" } else { "s" },
                    list.join(", "),
                    f.criu_type(),
                    f.link_text(),
                    peer_text(ck, p.pid, f)
                ),
            )
        })
        .collect()
}

/// The tags that make a process's connections likely C2: code or identity that is not what the
/// files say (deleted or memfd executable, a kernel thread's name, a strong exe / argv\[0\]
/// mismatch), writable + executable or patched code, a preloaded library.
const C2_SIGNALS: [&str; 10] = [
    "exe-deleted",
    "exe-memfd",
    "exec-deleted",
    "exec-memfd",
    "rwx-anon",
    "code-patched",
    "kthread-name",
    "exe-mismatch",
    "ld-env",
    "reverse-shell",
];

/// **Likely C2**: every established TCP connection of a process that already raised one of
/// `C2_SIGNALS` with strength strong (`prior`, its other findings), whatever the peer:
/// loopback and in-container peers included. `<where>` is `local->remote`, with the descriptor,
/// the signals and who holds the other end. Tag `c2-connection` (strong).
pub fn c2(ck: &Checkpoint, p: &Process, prior: &[Finding]) -> Vec<Finding> {
    let mut why: Vec<&str> = prior
        .iter()
        .filter(|f| f.strength == Strength::Strong && C2_SIGNALS.contains(&f.tag))
        .map(|f| f.tag)
        .collect();
    why.dedup();
    if why.is_empty() {
        return Vec::new();
    }
    // Each connection once, with every descriptor that holds it.
    let mut conns: Vec<(&InetSocket, &FileRef, Vec<String>)> = Vec::new();
    for fd in &p.fds {
        let FileKind::InetSocket(s) = &fd.file.kind else {
            continue;
        };
        if !tcp(s) || s.state != TCP_ESTABLISHED {
            continue;
        }
        match conns.iter_mut().find(|(c, _, _)| c.ino == s.ino) {
            Some((_, _, fds)) => fds.push(fd.fd.to_string()),
            None => conns.push((s, &fd.file, vec![fd.fd.to_string()])),
        }
    }
    conns
        .into_iter()
        .map(|(s, f, fds)| {
            Finding::new(
                p.pid,
                ends(s),
                "c2-connection",
                Strength::Strong,
                format!(
                    "established TCP connection (fd{} {}, socket:[{}]) of a process that raised {}; {}",
                    if fds.len() == 1 { "" } else { "s" },
                    fds.join(", "),
                    s.ino,
                    why.join(", "),
                    peer_text(ck, p.pid, f)
                ),
            )
        })
        .collect()
}
