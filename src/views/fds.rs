//! A process's open files and sockets as checkpointctl shows them (`inspect --files / --sockets`,
//! and what `diff` compares): the CRIU fd type, checkpointctl's paths for pipes and unix sockets,
//! socket addresses, states and buffer sizes, all from the model.

use serde::Serialize;

use crate::format::net::{ip_proto, ip_text, sock_type, tcp_state};
use crate::format::size::count_bytes;
use crate::model::files::{FileKind, FileObject, InetSocket, UnixSocket};
use crate::model::process::Process;

/// One open file (`fd` is `TYPE N`, or `cwd` / `root`).
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub fd: String,
    pub path: String,
}

/// One socket.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SocketNode {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    pub data: SkData,
    /// The descriptors of the process that hold this socket (ckptfs's own; [`socket_nodes`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<u32>,
    /// The tree's `[META]  VALUE`.
    #[serde(skip)]
    pub tree: (String, String),
}

/// A socket's details.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SkData {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(skip_serializing_if = "is_zero32")]
    pub src_port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dst: String,
    #[serde(skip_serializing_if = "is_zero32")]
    pub dst_port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send_buf: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recv_buf: String,
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}

/// The path shown for an open file: checkpointctl's forms for pipes (`pipe[N]`) and unix sockets
/// (`unix[INO (PEER) NAME]`), `/proc`'s link text for everything else (`socket:[INO]`, paths with
/// ` (deleted)`, `anon_inode:[eventfd]`).
pub fn file_path(f: &FileObject) -> String {
    match &f.kind {
        FileKind::Pipe { pipe_id, .. } => format!("pipe[{pipe_id}]"),
        FileKind::UnixSocket(u) => format!("unix[{} ({}) {}]", u.ino, u.peer, unix_name(u)),
        FileKind::Pidfd { nspid: -1, .. } => "pidfd[reaped]".to_string(),
        FileKind::Pidfd { nspid, .. } => format!("pidfd[{nspid}]"),
        _ => f.link_text(),
    }
}

fn unix_name(u: &UnixSocket) -> String {
    u.shown_name()
}

/// The open files of `p` as checkpointctl lists them: each descriptor (`TYPE N`), then cwd and
/// root.
pub fn open_files(p: &Process) -> Vec<OpenFile> {
    let mut v: Vec<OpenFile> = p
        .fds
        .iter()
        .map(|fd| {
            let t = fd.file.criu_type();
            OpenFile {
                kind: t.to_string(),
                fd: format!("{t} {}", fd.fd),
                path: file_path(&fd.file),
            }
        })
        .collect();
    for (name, f) in [("cwd", &p.cwd), ("root", &p.root)] {
        if let Some(f) = f {
            v.push(OpenFile {
                kind: String::new(),
                fd: name.to_string(),
                path: file_path(f),
            });
        }
    }
    v
}

fn inet(s: &InetSocket) -> (String, SkData) {
    let proto = ip_proto(s.proto);
    (
        proto.clone(),
        SkData {
            kind: proto,
            state: tcp_state(s.state).to_string(),
            src: ip_text(&s.src_addr),
            src_port: s.src_port,
            dst: ip_text(&s.dst_addr),
            dst_port: s.dst_port,
            ..SkData::default()
        },
    )
}

/// The socket of an open file, if it is one.
pub fn socket_node(f: &FileObject) -> Option<SocketNode> {
    let (snd, rcv) = f
        .socket_buffers()
        .map_or((String::new(), String::new()), |b| {
            (count_bytes(b.send.into()), count_bytes(b.recv.into()))
        });
    match &f.kind {
        FileKind::InetSocket(s) => {
            let (protocol, mut data) = inet(s);
            data.send_buf = snd.clone();
            data.recv_buf = rcv.clone();
            let meta = if protocol == "TCP" {
                format!("TCP ({})", data.state)
            } else {
                protocol.clone()
            };
            let value = format!(
                "{}:{} -> {}:{}",
                data.src, data.src_port, data.dst, data.dst_port
            );
            Some(SocketNode {
                protocol,
                data,
                fds: Vec::new(),
                tree: (meta, value),
            })
        }
        FileKind::UnixSocket(u) => {
            let name = unix_name(u);
            let shown = if name.is_empty() {
                "@".to_string()
            } else {
                name.clone()
            };
            Some(SocketNode {
                protocol: String::new(),
                data: SkData {
                    kind: "UNIX".into(),
                    address: name,
                    ..SkData::default()
                },
                fds: Vec::new(),
                tree: (format!("UNIX ({})", sock_type(u.sock_type)), shown),
            })
        }
        FileKind::Socket { what, .. } => {
            let what = what.to_uppercase();
            Some(SocketNode {
                protocol: String::new(),
                data: SkData {
                    kind: what.clone(),
                    send_buf: snd,
                    recv_buf: rcv,
                    ..SkData::default()
                },
                fds: Vec::new(),
                tree: (what, f.link_text()),
            })
        }
        _ => None,
    }
}

/// The sockets of `p`, each once with every descriptor that holds it (in fd order), for
/// `inspect --sockets`: the tree's value is the socket, then `(fd N` or `(fds N, M`, then the
/// buffer sizes CRIU recorded (`SO_SNDBUF` / `SO_RCVBUF`: sizes, not traffic), when known.
pub fn socket_nodes(p: &Process) -> Vec<SocketNode> {
    let mut out: Vec<(String, SocketNode)> = Vec::new();
    for fd in &p.fds {
        let Some(n) = socket_node(&fd.file) else {
            continue;
        };
        let key = fd.file.link_text();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, s)) => s.fds.push(fd.fd),
            None => {
                let mut n = n;
                n.fds.push(fd.fd);
                out.push((key, n));
            }
        }
    }
    out.into_iter()
        .map(|(_, mut n)| {
            let list: Vec<String> = n.fds.iter().map(u32::to_string).collect();
            let mut tail = format!(
                "fd{} {}",
                if list.len() == 1 { "" } else { "s" },
                list.join(", ")
            );
            if !n.data.send_buf.is_empty() || !n.data.recv_buf.is_empty() {
                tail.push_str(&format!(
                    "; buffer sizes: send {}, recv {}",
                    n.data.send_buf, n.data.recv_buf
                ));
            }
            n.tree.1 = format!("{} ({tail})", n.tree.1);
            n
        })
        .collect()
}
