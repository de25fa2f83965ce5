//! `sockets` (at the mount root): every socket of the checkpoint in the layout of `ss -tuanxp`
//! (iproute2): `Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process`, unix
//! sockets first, then UDP, then TCP (ss's order), each socket once with every process and fd
//! that holds it: `users:(("comm",pid=N,fd=M),...)`.
//!
//! Unix sockets show their name as `/proc/net/unix` does (`*` when unbound) and inode, and their
//! peer's inode, so both ends of a pair or connection can be matched (`* 101793` on one line,
//! `101793` as the local inode of the other). Queues: a TCP listener's Send-Q is its backlog; an
//! established TCP socket's Recv-Q / Send-Q come from `tcp-stream-<ino>.img`; a unix socket's
//! Recv-Q is the bytes queued for it in `sk-queues.img`; a listening unix socket's Send-Q is its
//! backlog. Everything the images do not record is 0. Columns are padded to their widest cell.

use std::collections::BTreeMap;

use crate::format::net::ip_host;
use crate::model::Checkpoint;
use crate::model::files::{FileKind, InetSocket, UnixSocket};

/// One row before padding.
type Row = [String; 7];

/// ss's state names.
fn state(s: u32) -> &'static str {
    match s {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// The text of `sockets`.
pub fn sockets(ck: &Checkpoint) -> Vec<u8> {
    // Socket inode -> the socket and who holds it, in PID and fd order.
    let mut unix: BTreeMap<u32, (&UnixSocket, Vec<String>)> = BTreeMap::new();
    let mut inet: BTreeMap<u32, (&InetSocket, Vec<String>)> = BTreeMap::new();
    for p in &ck.processes {
        let mut fds: Vec<_> = p.fds.iter().collect();
        fds.sort_by_key(|f| f.fd);
        for f in fds {
            let user = format!(
                "(\"{}\",pid={},fd={})",
                p.comm.replace(['"', '\\'], "_"),
                p.pid,
                f.fd
            );
            match &f.file.kind {
                FileKind::UnixSocket(s) => {
                    unix.entry(s.ino).or_insert((s, Vec::new())).1.push(user)
                }
                FileKind::InetSocket(s) => {
                    inet.entry(s.ino).or_insert((s, Vec::new())).1.push(user)
                }
                _ => {}
            }
        }
    }
    let users = |u: &[String]| format!("users:({})", u.join(","));
    let mut rows: Vec<Row> = Vec::new();
    for (ino, (s, u)) in &unix {
        let netid = match s.sock_type {
            1 => "u_str",
            2 => "u_dgr",
            5 => "u_seq",
            _ => "u_???",
        };
        let st = match s.state {
            10 => "LISTEN",
            1 => "ESTAB",
            _ => "UNCONN",
        };
        let recv = ck.objects.unix_queues.get(ino).copied().unwrap_or(0);
        let send = if s.state == 10 { s.backlog } else { 0 };
        let name = match s.shown_name() {
            n if n.is_empty() => "*".to_string(),
            n => n,
        };
        rows.push([
            netid.into(),
            st.into(),
            recv.to_string(),
            send.to_string(),
            format!("{name} {ino}"),
            format!("* {}", s.peer),
            users(u),
        ]);
    }
    for udp in [true, false] {
        for (ino, (s, u)) in &inet {
            let is_udp = s.proto == 17;
            if is_udp != udp || !(s.proto == 6 || s.proto == 17) {
                continue;
            }
            let (recv, send) = match (udp, s.state) {
                (false, 10) => (0, s.backlog),
                (false, _) => ck
                    .objects
                    .tcp_queues
                    .get(ino)
                    .map_or((0, 0), |&(r, w)| (r, w)),
                (true, _) => (0, 0),
            };
            let port = |p: u32| {
                if p == 0 {
                    "*".to_string()
                } else {
                    p.to_string()
                }
            };
            let peer_host = if s.dst_addr.is_empty() || s.dst_addr.iter().all(|w| *w == 0) {
                ip_host(&vec![0; s.src_addr.len().max(1)])
            } else {
                ip_host(&s.dst_addr)
            };
            rows.push([
                if udp { "udp" } else { "tcp" }.into(),
                state(s.state).into(),
                recv.to_string(),
                send.to_string(),
                format!("{}:{}", ip_host(&s.src_addr), port(s.src_port)),
                format!("{peer_host}:{}", port(s.dst_port)),
                users(u),
            ]);
        }
    }
    let header: Row = [
        "Netid".into(),
        "State".into(),
        "Recv-Q".into(),
        "Send-Q".into(),
        "Local Address:Port".into(),
        "Peer Address:Port".into(),
        "Process".into(),
    ];
    let mut widths = [0usize; 7];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$} ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.into_bytes()
}
