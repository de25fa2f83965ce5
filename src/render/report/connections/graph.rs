//! The connections graph's facts, gathered from the model: every pipe, FIFO, socket and
//! terminal a process holds, with who holds it on which descriptors, joined across processes
//! when the checkpoint holds both ends, and the peers outside the checkpoint they reach. The
//! drawing ([`super::svg`]) and the table ([`super::table`]) show what [`Graph::of`] finds here;
//! nothing here writes HTML.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::Flag;
use crate::format::net::{ip_host, tcp_state};
use crate::model::Checkpoint;
use crate::model::files::{FileKind, InetSocket, UnixSocket};

/// What an object in the middle column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Tcp,
    Udp,
    Unix,
    Pipe,
    Fifo,
    Pty,
    /// Any other socket (netlink, packet, an inet protocol other than TCP / UDP).
    Socket,
}

impl Kind {
    #[cfg(test)]
    pub(super) const ALL: [Kind; 7] = [
        Kind::Tcp,
        Kind::Unix,
        Kind::Udp,
        Kind::Pty,
        Kind::Socket,
        Kind::Pipe,
        Kind::Fifo,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "TCP",
            Kind::Udp => "UDP",
            Kind::Unix => "unix socket",
            Kind::Pipe => "pipe",
            Kind::Fifo => "FIFO",
            Kind::Pty => "terminal",
            Kind::Socket => "socket",
        }
    }

    /// The kind's word on a graph node.
    pub(super) fn short(self) -> &'static str {
        match self {
            Kind::Unix => "unix",
            Kind::Pty => "tty",
            k => k.name(),
        }
    }

    /// The node's fill: the kinds differ in lightness (a greyscale print keeps them apart).
    pub(super) fn fill(self) -> &'static str {
        match self {
            Kind::Tcp => "#08306b",
            Kind::Unix => "#6a3d9a",
            Kind::Udp => "#1f78b4",
            Kind::Pty => "#33a02c",
            Kind::Socket => "#a6a6a6",
            Kind::Pipe => "#fdbf6f",
            Kind::Fifo => "#fff1d6",
        }
    }

    /// The text colour on [`Kind::fill`] (an inline style: the page's stylesheet sets the
    /// colour of SVG text, which a presentation attribute would not override).
    pub(super) fn ink(self) -> &'static str {
        match self {
            Kind::Tcp | Kind::Unix | Kind::Udp => "#ffffff",
            _ => "#000000",
        }
    }
}

/// One process's hold on an object: its descriptors and which end they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Hold {
    pub(super) pid: u32,
    pub(super) comm: String,
    pub(super) fds: Vec<u32>,
    /// The end, for the table (`127.0.0.1:4444 socket:[171038]`, `write end`).
    pub(super) end: String,
    /// The end's role on the graph's edge (`write`, `read`, `master`), or empty.
    pub(super) role: &'static str,
}

/// A pipe, socket or terminal, with everyone in the checkpoint who holds it.
#[derive(Clone, Debug)]
pub(super) struct Object {
    pub(super) kind: Kind,
    /// One line: what it is (`127.0.0.1:53678 ⇄ 127.0.0.1:4444`, `pipe:[171037]`).
    pub(super) label: String,
    pub(super) state: String,
    pub(super) holds: Vec<Hold>,
    /// The peer outside the checkpoint it reaches, an index into [`Graph::peers`].
    pub(super) peer: Option<usize>,
    /// What the table says about the other end when no process of the checkpoint holds it.
    pub(super) other: String,
    /// The triage findings about it.
    pub(super) flags: Vec<Flag>,
}

/// Something outside the checkpoint an object reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Peer {
    /// `HOST:PORT` or `unix socket:[INO]`.
    pub(super) label: String,
}

/// At most this many objects are drawn and listed (the first, in the graph's order); the
/// page says when there are more.
pub(super) const MAX_OBJECTS: usize = 1000;

/// The facts the graph and the table show.
#[derive(Debug)]
pub(super) struct Graph {
    /// The processes that hold a shown object: (PID, comm) in PID order.
    pub(super) procs: Vec<(u32, String)>,
    /// At most [`MAX_OBJECTS`].
    pub(super) objects: Vec<Object>,
    pub(super) peers: Vec<Peer>,
    /// How many objects the checkpoint has, and how many processes.
    pub(super) total_objects: usize,
    pub(super) total_procs: usize,
}

/// The other end of a joined object.
pub(super) const BOTH: &str = "both ends in the checkpoint";

/// One descriptor of a process on an object: PID, comm, fd.
type Desc = (u32, String, u32);

/// A descriptor on a pipe or FIFO, with its open flags (which end it is).
type PipeDesc = (Desc, u32);

fn port(p: u32) -> String {
    if p == 0 { "*".into() } else { p.to_string() }
}

fn local(s: &InetSocket) -> String {
    format!("{}:{}", ip_host(&s.src_addr), port(s.src_port))
}

fn remote(s: &InetSocket) -> String {
    format!("{}:{}", ip_host(&s.dst_addr), port(s.dst_port))
}

/// Whether the socket has a remote end (a connected TCP or UDP socket).
fn connected(s: &InetSocket) -> bool {
    s.dst_port != 0 && !s.dst_addr.is_empty() && s.dst_addr.iter().any(|w| *w != 0)
}

fn inet_kind(s: &InetSocket) -> Kind {
    match s.proto {
        6 => Kind::Tcp,
        17 => Kind::Udp,
        0 if s.sock_type == libc::SOCK_STREAM as u32 => Kind::Tcp,
        0 if s.sock_type == libc::SOCK_DGRAM as u32 => Kind::Udp,
        _ => Kind::Socket,
    }
}

fn inet_state(s: &InetSocket) -> String {
    match (inet_kind(s), s.state) {
        (Kind::Udp, 1) => "connected".into(),
        (Kind::Udp, _) => "unconnected".into(),
        (_, st) => match tcp_state(st) {
            "" => format!("state {st}"),
            name => name.into(),
        },
    }
}

fn unix_type(s: &UnixSocket) -> &'static str {
    match s.sock_type {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => "socket",
    }
}

fn unix_state(s: &UnixSocket) -> &'static str {
    match s.state {
        10 => "LISTEN",
        1 => "ESTABLISHED",
        _ => "UNCONNECTED",
    }
}

/// A unix socket's name for a label: its bound name, else its inode.
fn unix_name(s: &UnixSocket) -> String {
    match s.shown_name() {
        n if n.is_empty() => format!("socket:[{}]", s.ino),
        n => n,
    }
}

/// Descriptors grouped per process and end, in the order first seen.
fn holds(descs: Vec<(Desc, String, &'static str)>) -> Vec<Hold> {
    let mut out: Vec<Hold> = Vec::new();
    for ((pid, comm, fd), end, role) in descs {
        match out
            .iter_mut()
            .find(|h| h.pid == pid && h.end == end && h.role == role)
        {
            Some(h) => h.fds.push(fd),
            None => out.push(Hold {
                pid,
                comm,
                fds: vec![fd],
                end,
                role,
            }),
        }
    }
    out
}

/// The end text of an inet socket: its local address, inode and queued bytes.
fn inet_end(ck: &Checkpoint, s: &InetSocket) -> String {
    let mut end = format!("{} socket:[{}]", local(s), s.ino);
    if let Some(&(recv, send)) = ck.objects.tcp_queues.get(&s.ino) {
        if recv > 0 || send > 0 {
            let _ = write!(end, ", {recv} B to read, {send} B unsent");
        }
    }
    end
}

fn unix_end(ck: &Checkpoint, s: &UnixSocket) -> String {
    let mut end = match s.shown_name() {
        n if n.is_empty() => format!("socket:[{}]", s.ino),
        n => format!("{n} socket:[{}]", s.ino),
    };
    if let Some(&q) = ck.objects.unix_queues.get(&s.ino) {
        if q > 0 {
            let _ = write!(end, ", {q} B to read");
        }
    }
    end
}

impl Graph {
    pub(super) fn of(ck: &Checkpoint) -> Graph {
        let procs: Vec<(u32, String)> = ck
            .processes
            .iter()
            .map(|p| (p.pid, p.comm.clone()))
            .collect();
        // Every descriptor on an object, by object, in PID and fd order.
        let mut inet: BTreeMap<u32, (&InetSocket, Vec<Desc>)> = BTreeMap::new();
        let mut unix: BTreeMap<u32, (&UnixSocket, Vec<Desc>)> = BTreeMap::new();
        let mut pipes: BTreeMap<u32, Vec<PipeDesc>> = BTreeMap::new();
        let mut fifos: BTreeMap<u32, (Option<&str>, Vec<PipeDesc>)> = BTreeMap::new();
        let mut ptys: BTreeMap<String, Vec<(Desc, bool)>> = BTreeMap::new();
        let mut sockets: BTreeMap<u32, (&'static str, Vec<Desc>)> = BTreeMap::new();
        for p in &ck.processes {
            let mut fds: Vec<_> = p.fds.iter().collect();
            fds.sort_by_key(|f| f.fd);
            for f in fds {
                let d: Desc = (p.pid, p.comm.clone(), f.fd);
                match &f.file.kind {
                    FileKind::InetSocket(s) => {
                        inet.entry(s.ino).or_insert((s, Vec::new())).1.push(d)
                    }
                    FileKind::UnixSocket(s) => {
                        unix.entry(s.ino).or_insert((s, Vec::new())).1.push(d)
                    }
                    FileKind::Socket { what, ino } => {
                        sockets.entry(*ino).or_insert((what, Vec::new())).1.push(d)
                    }
                    FileKind::Pipe { pipe_id, flags } => {
                        pipes.entry(*pipe_id).or_default().push((d, *flags))
                    }
                    FileKind::Fifo {
                        pipe_id,
                        path,
                        flags,
                        ..
                    } => fifos
                        .entry(*pipe_id)
                        .or_insert((path.as_deref(), Vec::new()))
                        .1
                        .push((d, flags.unwrap_or(0))),
                    FileKind::Tty {
                        index,
                        master,
                        path,
                        ..
                    } => {
                        let pts =
                            *master || path.as_deref().is_none_or(|p| p.starts_with("/dev/pts/"));
                        let key = if pts {
                            format!("/dev/pts/{index}")
                        } else {
                            f.file.link_text()
                        };
                        ptys.entry(key).or_default().push((d, *master));
                    }
                    _ => {}
                }
            }
        }

        let mut objects: Vec<Object> = Vec::new();
        let mut peers: Vec<Peer> = Vec::new();
        let mut peer_at: HashMap<String, usize> = HashMap::new();
        let mut reach = |label: String| -> usize {
            *peer_at.entry(label.clone()).or_insert_with(|| {
                peers.push(Peer { label });
                peers.len() - 1
            })
        };

        // Inet sockets: a connected socket joins the one whose ends mirror its own.
        type Ends<'a> = (u32, &'a [u32], u32, &'a [u32], u32);
        let mut by_ends: HashMap<Ends, Vec<u32>> = HashMap::new();
        for (ino, (s, _)) in &inet {
            if connected(s) {
                by_ends
                    .entry((s.proto, &s.src_addr, s.src_port, &s.dst_addr, s.dst_port))
                    .or_default()
                    .push(*ino);
            }
        }
        let first_pid = |d: &[Desc]| d.first().map_or(0, |x| x.0);
        let mut done: std::collections::HashSet<u32> = std::collections::HashSet::new();
        for (ino, (s, descs)) in &inet {
            if !done.insert(*ino) {
                continue;
            }
            let kind = inet_kind(s);
            let partner = if connected(s) {
                by_ends
                    .get(&(s.proto, &s.dst_addr, s.dst_port, &s.src_addr, s.src_port))
                    .into_iter()
                    .flatten()
                    .copied()
                    .find(|p| {
                        *p != *ino
                            && !done.contains(p)
                            && inet.get(p).is_some_and(|(_, pd)| {
                                ck.objects.same_net_ns(first_pid(descs), first_pid(pd))
                            })
                    })
            } else {
                None
            };
            let mut all: Vec<(Desc, String, &'static str)> = descs
                .iter()
                .map(|d| (d.clone(), inet_end(ck, s), ""))
                .collect();
            let (label, state, peer, other) = match partner.and_then(|p| inet.get(&p)) {
                Some((t, tdescs)) => {
                    done.insert(t.ino);
                    all.extend(tdescs.iter().map(|d| (d.clone(), inet_end(ck, t), "")));
                    let (a, b) = (inet_state(s), inet_state(t));
                    let state = if a == b { a } else { format!("{a} / {b}") };
                    (
                        format!("{} ⇄ {}", local(s), local(t)),
                        state,
                        None,
                        BOTH.to_string(),
                    )
                }
                None if connected(s) => (
                    format!("{} → {}", local(s), remote(s)),
                    inet_state(s),
                    Some(reach(remote(s))),
                    format!("{}: no socket of the checkpoint", remote(s)),
                ),
                None => (
                    local(s),
                    inet_state(s),
                    None,
                    match (kind, s.state) {
                        (Kind::Tcp, 10) => "listening".into(),
                        _ => "not connected".into(),
                    },
                ),
            };
            all.sort_by_key(|x| (x.0.0, x.0.2));
            objects.push(Object {
                kind,
                label,
                state,
                holds: holds(all),
                peer,
                other,
                flags: Vec::new(),
            });
        }

        // Unix sockets: a socket joins the one its image names as peer (several datagram
        // sockets connected to one server join it).
        let mut unix_at: BTreeMap<u32, usize> = BTreeMap::new();
        for (ino, (s, descs)) in &unix {
            if unix_at.contains_key(ino) {
                continue;
            }
            let partner = (s.peer != 0 && s.peer != *ino)
                .then_some(s.peer)
                .and_then(|p| unix.get(&p));
            let ends: Vec<(Desc, String, &'static str)> = descs
                .iter()
                .map(|d| (d.clone(), unix_end(ck, s), ""))
                .collect();
            if let Some(i) = partner.and_then(|(t, _)| unix_at.get(&t.ino).copied()) {
                let o = &mut objects[i];
                let mut all: Vec<(Desc, String, &'static str)> = o
                    .holds
                    .iter()
                    .flat_map(|h| {
                        h.fds
                            .iter()
                            .map(|fd| ((h.pid, h.comm.clone(), *fd), h.end.clone(), h.role))
                    })
                    .collect();
                all.extend(ends);
                all.sort_by_key(|x| (x.0.0, x.0.2));
                o.holds = holds(all);
                unix_at.insert(*ino, i);
                continue;
            }
            let mut all = ends;
            let i = objects.len();
            let (label, state, peer, other) = match partner {
                Some((t, tdescs)) => {
                    unix_at.insert(t.ino, i);
                    all.extend(tdescs.iter().map(|d| (d.clone(), unix_end(ck, t), "")));
                    let (a, b) = (unix_state(s), unix_state(t));
                    (
                        format!("{} {} ⇄ {}", unix_type(s), unix_name(s), unix_name(t)),
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a} / {b}")
                        },
                        None,
                        BOTH.to_string(),
                    )
                }
                None if s.peer != 0 && s.peer != *ino => {
                    let far = format!("unix socket:[{}]", s.peer);
                    (
                        format!("{} {}", unix_type(s), unix_name(s)),
                        unix_state(s).to_string(),
                        Some(reach(far.clone())),
                        format!("{far}: not in the checkpoint"),
                    )
                }
                None => (
                    format!("{} {}", unix_type(s), unix_name(s)),
                    unix_state(s).to_string(),
                    None,
                    if s.state == 10 {
                        "listening".into()
                    } else {
                        "not connected".into()
                    },
                ),
            };
            unix_at.insert(*ino, i);
            all.sort_by_key(|x| (x.0.0, x.0.2));
            objects.push(Object {
                kind: Kind::Unix,
                label,
                state,
                holds: holds(all),
                peer,
                other,
                flags: Vec::new(),
            });
        }

        // Pipes and FIFOs: the write and read ends by the descriptor's access mode.
        let role = |flags: u32| match flags & libc::O_ACCMODE as u32 {
            f if f == libc::O_WRONLY as u32 => "write",
            f if f == libc::O_RDWR as u32 => "read/write",
            _ => "read",
        };
        let pipe_object = |kind: Kind, label: String, descs: &[PipeDesc]| {
            let all: Vec<(Desc, String, &'static str)> = descs
                .iter()
                .map(|(d, fl)| (d.clone(), format!("{} end", role(*fl)), role(*fl)))
                .collect();
            let has = |r: &str| all.iter().any(|x| x.2 == r || x.2 == "read/write");
            let other = match (has("write"), has("read")) {
                (true, true) => BOTH.to_string(),
                (true, false) => "read end: no process of the checkpoint".into(),
                (false, true) => "write end: no process of the checkpoint".into(),
                (false, false) => String::new(),
            };
            Object {
                kind,
                label,
                state: String::new(),
                holds: holds(all),
                peer: None,
                other,
                flags: Vec::new(),
            }
        };
        for (id, descs) in &pipes {
            objects.push(pipe_object(Kind::Pipe, format!("pipe:[{id}]"), descs));
        }
        for (id, (path, descs)) in &fifos {
            let label = match path {
                Some(p) => format!("{p} (inode {id})"),
                None => format!("pipe:[{id}]"),
            };
            objects.push(pipe_object(Kind::Fifo, label, descs));
        }

        // Terminals: a pseudo-terminal's master and slaves.
        for (name, descs) in &ptys {
            let all: Vec<(Desc, String, &'static str)> = descs
                .iter()
                .map(|(d, master)| {
                    let r = if *master { "master" } else { "slave" };
                    (d.clone(), format!("{r} end"), r)
                })
                .collect();
            let has = |m: bool| descs.iter().any(|x| x.1 == m);
            let other = match (has(true), has(false)) {
                (true, false) => "slave: no process of the checkpoint".into(),
                (false, true) if name.starts_with("/dev/pts/") => {
                    "master: no process of the checkpoint".into()
                }
                (true, true) => BOTH.to_string(),
                _ => String::new(),
            };
            objects.push(Object {
                kind: Kind::Pty,
                label: name.clone(),
                state: String::new(),
                holds: holds(all),
                peer: None,
                other,
                flags: Vec::new(),
            });
        }

        for (ino, (what, descs)) in &sockets {
            objects.push(Object {
                kind: Kind::Socket,
                label: format!("{what} socket:[{ino}]"),
                state: String::new(),
                holds: holds(
                    descs
                        .iter()
                        .map(|d| (d.clone(), String::new(), ""))
                        .collect(),
                ),
                peer: None,
                other: String::new(),
                flags: Vec::new(),
            });
        }

        // Objects beside the first process that holds them; peers beside the first object
        // that reaches them.
        let row_of = |pid: u32| {
            procs
                .binary_search_by_key(&pid, |p| p.0)
                .unwrap_or(usize::MAX)
        };
        objects.sort_by(|a, b| {
            let first = |o: &Object| o.holds.iter().map(|h| row_of(h.pid)).min();
            (first(a), a.kind, &a.label).cmp(&(first(b), b.kind, &b.label))
        });
        let total_objects = objects.len();
        objects.truncate(MAX_OBJECTS);
        let total_procs = procs.len();
        let shown: std::collections::HashSet<u32> = objects
            .iter()
            .flat_map(|o| o.holds.iter().map(|h| h.pid))
            .collect();
        let procs: Vec<(u32, String)> =
            procs.into_iter().filter(|p| shown.contains(&p.0)).collect();
        let mut new_index: Vec<Option<usize>> = vec![None; peers.len()];
        let mut peers_sorted: Vec<Peer> = Vec::with_capacity(peers.len());
        for o in &mut objects {
            if let Some(p) = o.peer {
                let i = *new_index[p].get_or_insert_with(|| {
                    peers_sorted.push(peers[p].clone());
                    peers_sorted.len() - 1
                });
                o.peer = Some(i);
            }
        }
        Graph {
            procs,
            objects,
            peers: peers_sorted,
            total_objects,
            total_procs,
        }
    }
}
