//! The report's connections section: who talks to whom. An SVG graph (processes in the left
//! column, the pipes, sockets and terminals they hold in the middle, peers outside the
//! checkpoint on the right) and a table beside it with the same facts, for readers who cannot
//! see the picture and for print.
//!
//! Objects are joined across processes when the checkpoint holds both ends: a pipe or FIFO by
//! its pipe id (its write and read ends), a unix socket with the socket its image names as
//! peer, a TCP or UDP socket with the socket whose local address is its remote one and the
//! reverse (in the same network namespace), a pseudo-terminal's master with its slave by index.
//! An inet socket connected to an address no socket of the checkpoint has is drawn to that peer
//! (`HOST:PORT`); a unix socket whose peer inode is not in the checkpoint, to that inode. A pipe
//! end whose other end no process holds says so in the table (the other end may be outside the
//! container, such as the runtime's log pipe, or closed).
//!
//! The layout is deterministic: processes in PID order, each object beside the first process
//! that holds it, each peer beside the first object that reaches it. Every text from the
//! checkpoint goes through [`esc`]; the fragment references nothing outside itself (links are
//! `#` anchors into its own table).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::html::esc;
use crate::format::net::{ip_host, tcp_state};
use crate::model::Checkpoint;
use crate::model::files::{FileKind, InetSocket, UnixSocket};

/// The connections section of one checkpoint: a `<div class="connections">` holding the graph
/// (`<figure>` with an inline `<svg>`) and its table, without a heading (the page gives the
/// section its own). HTML ids start with `conn-`; a page showing several checkpoints uses
/// [`connections_in`] with a prefix per checkpoint.
pub fn connections(ck: &Checkpoint) -> String {
    connections_in(ck, "conn")
}

/// [`connections`] with every HTML id starting with `id` (`{id}`, `{id}-title`, `{id}-o1`, ...),
/// so that several checkpoints' sections can share one page. `id` is used as given: a plain
/// ASCII word.
pub fn connections_in(ck: &Checkpoint, id: &str) -> String {
    fragment(ck, id, None, &[])
}

/// A triage finding about a socket, shown on the socket's node and row.
#[derive(Clone, Debug)]
struct Flag {
    /// Its number on the page (`finding-N`).
    n: usize,
    pid: u32,
    /// The inode the finding names (`socket:[N]`).
    socket: u32,
    tag: &'static str,
    strong: bool,
}

/// The first `socket:[N]` a finding's text names.
fn socket_named(what: &str) -> Option<u32> {
    let rest = &what[what.find("socket:[")? + 8..];
    rest[..rest.find(']')?].parse().ok()
}

/// The page's connections section: `<section id="connections">`, its heading, how to read it,
/// and each checkpoint's graph and table (under an h3 `connections-K` per checkpoint, K from 1,
/// when there are several).
/// Ids: `{P}conn-...` with `P` the input's [`super::prefix`]; processes link to their rows in the
/// processes section (`{P}proc-PID`).
pub fn section(r: &super::Report<'_>) -> String {
    let mut s = String::from("<section id=\"connections\">\n<h2>Connections</h2>\n");
    s.push_str(
        "<p>Who talks to whom: each process (left), the pipes, sockets and terminals it holds \
         (middle, by descriptor), and what they reach outside the checkpoint (right). Both ends \
         are joined when the checkpoint holds both; the table beside the graph lists the same.</p>\n",
    );
    let multi = r.inputs.len() > 1;
    for (k, i) in r.inputs.iter().enumerate() {
        let p = super::prefix(k);
        if multi {
            let _ = writeln!(
                s,
                "<h3 id=\"connections-{}\">Checkpoint {}: {}</h3>",
                k + 1,
                k + 1,
                esc(&i.label)
            );
        }
        let first = super::findings::firsts(r)[k];
        let flags: Vec<Flag> = i
            .triage
            .iter()
            .take(super::findings::MAX_ROWS)
            .enumerate()
            .filter_map(|(j, f)| {
                Some(Flag {
                    n: first + j,
                    pid: f.pid?,
                    socket: socket_named(&f.what)?,
                    tag: f.tag,
                    strong: f.strength == crate::render::triage::Strength::Strong,
                })
            })
            .collect();
        s.push_str(&fragment(i.ck, &format!("{p}conn"), Some(&p), &flags));
    }
    s.push_str("</section>\n");
    s
}

/// The graph and table of `ck` with ids starting with `id`; with `procs`, each process links to
/// `#{procs}proc-PID`. An object that a process holds on the socket a flag names shows the flag.
fn fragment(ck: &Checkpoint, id: &str, procs: Option<&str>, flags: &[Flag]) -> String {
    let mut g = Graph::of(ck);
    for o in &mut g.objects {
        let named = |f: &&Flag| {
            let sock = format!("socket:[{}]", f.socket);
            o.holds
                .iter()
                .any(|h| h.pid == f.pid && h.end.split([' ', ',']).any(|w| w == sock))
        };
        o.flags = flags.iter().filter(named).cloned().collect();
    }
    let id = esc(id);
    let procs = procs.map(esc);
    let procs = procs.as_deref();
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"connections\" id=\"{id}\" style=\"display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start\">"
    );
    out.push_str("<figure class=\"connections-graph\" style=\"margin:0;max-width:100%\">");
    svg(&g, &id, procs, &mut out);
    let _ = write!(
        out,
        "<figcaption>{} of {} processes hold {} pipes, sockets and terminals; {} peers outside the checkpoint. Select an object for its row in the table.</figcaption></figure>",
        g.procs.len(),
        g.total_procs,
        g.total_objects,
        g.peers.len()
    );
    table(&g, &id, procs, &mut out);
    out.push_str(&super::html::capped(
        g.objects.len(),
        g.total_objects,
        "the mount's sockets file and PID/fd/",
    ));
    out.push_str("</div>");
    out
}

/// What an object in the middle column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
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
    const ALL: [Kind; 7] = [
        Kind::Tcp,
        Kind::Unix,
        Kind::Udp,
        Kind::Pty,
        Kind::Socket,
        Kind::Pipe,
        Kind::Fifo,
    ];

    fn name(self) -> &'static str {
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
    fn short(self) -> &'static str {
        match self {
            Kind::Unix => "unix",
            Kind::Pty => "tty",
            k => k.name(),
        }
    }

    /// The node's fill: the kinds differ in lightness (a greyscale print keeps them apart).
    fn fill(self) -> &'static str {
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
    fn ink(self) -> &'static str {
        match self {
            Kind::Tcp | Kind::Unix | Kind::Udp => "#ffffff",
            _ => "#000000",
        }
    }
}

/// One process's hold on an object: its descriptors and which end they are.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hold {
    pid: u32,
    comm: String,
    fds: Vec<u32>,
    /// The end, for the table (`127.0.0.1:4444 socket:[171038]`, `write end`).
    end: String,
    /// The end's role on the graph's edge (`write`, `read`, `master`), or empty.
    role: &'static str,
}

/// A pipe, socket or terminal, with everyone in the checkpoint who holds it.
#[derive(Clone, Debug)]
struct Object {
    kind: Kind,
    /// One line: what it is (`127.0.0.1:53678 ⇄ 127.0.0.1:4444`, `pipe:[171037]`).
    label: String,
    state: String,
    holds: Vec<Hold>,
    /// The peer outside the checkpoint it reaches, an index into [`Graph::peers`].
    peer: Option<usize>,
    /// What the table says about the other end when no process of the checkpoint holds it.
    other: String,
    /// The triage findings about it.
    flags: Vec<Flag>,
}

/// Something outside the checkpoint an object reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Peer {
    /// `HOST:PORT` or `unix socket:[INO]`.
    label: String,
}

/// At most this many objects are drawn and listed (the first, in the graph's order); the
/// page says when there are more.
const MAX_OBJECTS: usize = 1000;

/// The facts the graph and the table show.
#[derive(Debug)]
struct Graph {
    /// The processes that hold a shown object: (PID, comm) in PID order.
    procs: Vec<(u32, String)>,
    /// At most [`MAX_OBJECTS`].
    objects: Vec<Object>,
    peers: Vec<Peer>,
    /// How many objects the checkpoint has, and how many processes.
    total_objects: usize,
    total_procs: usize,
}

/// The other end of a joined object.
const BOTH: &str = "both ends in the checkpoint";

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
    fn of(ck: &Checkpoint) -> Graph {
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

/// The outline of an object a strong triage finding is about.
const FLAG_COLOUR: &str = "#b2182b";

/// Vertical space between two nodes of a column.
const GAP: u32 = 10;
const BOX_H: u32 = 24;
/// Vertical distance between two edges leaving one process (each has its own port and label).
const PORT: u32 = 15;
const TOP: u32 = 30;
const P_X: u32 = 8;
const P_W: u32 = 210;
/// Where an edge leaving a process starts to curve: its label sits above the straight part.
const LABEL_W: u32 = 140;
const O_X: u32 = 410;
const O_W: u32 = 400;
const R_X: u32 = 920;
const R_W: u32 = 210;
/// The width of one character of the graph's 12 px monospace font, in tenths of a pixel.
const CHAR_W10: u32 = 73;

/// The width of one character of an edge label's 11 px font, in tenths of a pixel.
const LABEL_CHAR_W10: u32 = 67;

/// `s` cut to what fits in a box `w` pixels wide (an ellipsis ends a cut text), then escaped.
fn fit(s: &str, w: u32) -> String {
    fit_chars(s, ((w.saturating_sub(12)) * 10 / CHAR_W10) as usize)
}

/// `s` cut to `max` characters (an ellipsis ends a cut text), then escaped.
fn fit_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return esc(s);
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    esc(&format!("{cut}…"))
}

fn fds_text(h: &Hold) -> String {
    let fds: Vec<String> = h.fds.iter().map(u32::to_string).collect();
    let mut t = format!("fd {}", fds.join(","));
    if !h.role.is_empty() {
        let _ = write!(t, " {}", h.role);
    }
    t
}

/// The node text of an object: its number, kind and label (the kind once: a pipe's label
/// names it).
fn object_text(n: usize, o: &Object) -> String {
    if o.label.starts_with(o.kind.short()) {
        format!("{n} {}", o.label)
    } else {
        format!("{n} {} {}", o.kind.short(), o.label)
    }
}

/// Where every node and edge goes. Each edge leaving a process has its own port on the
/// process's right side (the box grows with them), in the order of the objects it reaches; an
/// object sits level with the first port that reaches it, a peer level with its first object,
/// when the column has room there.
struct Layout {
    /// Top and height of each process's box.
    procs: Vec<(u32, u32)>,
    /// Top of each object's box.
    objects: Vec<u32>,
    /// Top of each peer's box.
    peers: Vec<u32>,
    /// (process row, port y, object, label) per edge.
    edges: Vec<(usize, u32, usize, String)>,
    height: u32,
}

impl Layout {
    fn of(g: &Graph) -> Layout {
        // The edges of each process, in object order.
        let mut per_proc: Vec<Vec<(usize, String)>> = vec![Vec::new(); g.procs.len()];
        for (i, o) in g.objects.iter().enumerate() {
            for h in &o.holds {
                if let Ok(r) = g.procs.binary_search_by_key(&h.pid, |p| p.0) {
                    per_proc[r].push((i, fds_text(h)));
                }
            }
        }
        let mut procs = Vec::with_capacity(g.procs.len());
        let mut edges = Vec::new();
        let mut y = TOP;
        for (r, list) in per_proc.into_iter().enumerate() {
            let n = list.len() as u32;
            let h = BOX_H.max(n.saturating_mul(PORT).saturating_add(9));
            procs.push((y, h));
            let first = y + h / 2 - (n.saturating_sub(1)).saturating_mul(PORT) / 2;
            for (k, (obj, label)) in list.into_iter().enumerate() {
                edges.push((r, first + k as u32 * PORT, obj, label));
            }
            y = y.saturating_add(h).saturating_add(GAP);
        }
        let mut bottom = y;
        // An object level with the first port that reaches it.
        let mut first_port: Vec<Option<u32>> = vec![None; g.objects.len()];
        for e in &edges {
            let f = &mut first_port[e.2];
            *f = Some(f.map_or(e.1, |y| y.min(e.1)));
        }
        let mut objects = Vec::with_capacity(g.objects.len());
        let mut next = TOP;
        for port in first_port {
            let want = port.map_or(next, |y| y.saturating_sub(BOX_H / 2));
            let top = want.max(next);
            objects.push(top);
            next = top + BOX_H + GAP;
        }
        bottom = bottom.max(next);
        let mut first_object: Vec<Option<u32>> = vec![None; g.peers.len()];
        for (o, y) in g.objects.iter().zip(&objects) {
            if let Some(f) = o.peer.and_then(|p| first_object.get_mut(p)) {
                *f = Some(f.map_or(*y, |v| v.min(*y)));
            }
        }
        let mut peers = Vec::with_capacity(g.peers.len());
        let mut next = TOP;
        for first in first_object {
            let want = first.unwrap_or(next);
            let top = want.max(next);
            peers.push(top);
            next = top + BOX_H + GAP;
        }
        bottom = bottom.max(next);
        Layout {
            procs,
            objects,
            peers,
            edges,
            height: bottom.max(TOP + BOX_H + GAP),
        }
    }
}

fn svg(g: &Graph, id: &str, procs: Option<&str>, out: &mut String) {
    let l = Layout::of(g);
    let height = l.height;
    let width = if g.peers.is_empty() {
        O_X + O_W + 8
    } else {
        R_X + R_W + 8
    };
    let _ = write!(
        out,
        "<svg class=\"connections-graph\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" style=\"max-width:100%;height:auto\" role=\"img\" aria-labelledby=\"{id}-title\" font-family=\"ui-monospace,Menlo,Consolas,monospace\" font-size=\"12\">"
    );
    let _ = write!(
        out,
        "<title id=\"{id}-title\">Connections: {} processes, {} pipes, sockets and terminals, {} peers outside the checkpoint (the table beside it lists the same)</title>",
        g.procs.len(),
        g.objects.len(),
        g.peers.len()
    );
    let heading = |out: &mut String, x: u32, t: &str| {
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"18\" style=\"font-weight:bold\">{t}</text>"
        );
    };
    heading(out, P_X, "Processes");
    heading(out, O_X, "Pipes, sockets, terminals");
    if !g.peers.is_empty() {
        heading(out, R_X, "Outside the checkpoint");
    }
    if g.objects.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{O_X}\" y=\"{}\" fill=\"#444\">none held</text>",
            TOP + 16
        );
    }

    // Edges under the nodes: a straight part under the label, then a curve.
    let mid = BOX_H / 2;
    for (_, y1, obj, label) in &l.edges {
        let (x1, x2, y2) = (P_X + P_W, O_X, l.objects[*obj] + mid);
        let xs = x1 + LABEL_W;
        let mx = (xs + x2) / 2;
        let _ = write!(
            out,
            "<path d=\"M{x1} {y1} H{xs} C{mx} {y1} {mx} {y2} {x2} {y2}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#222\">{}</text>",
            x1 + 4,
            y1 - 3,
            fit_chars(label, (LABEL_W * 10 / LABEL_CHAR_W10) as usize)
        );
    }
    for (i, o) in g.objects.iter().enumerate() {
        if let Some(p) = o.peer {
            let (x1, y1, x2, y2) = (O_X + O_W, l.objects[i] + mid, R_X, l.peers[p] + mid);
            let mx = (x1 + x2) / 2;
            let _ = write!(
                out,
                "<path d=\"M{x1} {y1} C{mx} {y1} {mx} {y2} {x2} {y2}\" fill=\"none\" stroke=\"#b2182b\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>"
            );
        }
    }

    for ((pid, comm), (y, h)) in g.procs.iter().zip(&l.procs) {
        let text = format!("PID {pid} {comm}");
        let (open, close) = match procs {
            Some(p) => (
                format!("<a href=\"#{p}proc-{pid}\" class=\"conn-process\">"),
                "</a>",
            ),
            None => ("<g class=\"conn-process\">".to_string(), "</g>"),
        };
        let _ = write!(
            out,
            "{open}<title>{}</title><rect x=\"{P_X}\" y=\"{y}\" width=\"{P_W}\" height=\"{h}\" rx=\"4\" fill=\"#f2f2f2\" stroke=\"#333\"/><text x=\"{}\" y=\"{}\">{}</text>{close}",
            esc(&text),
            P_X + 6,
            y + h / 2 + 4,
            fit(&text, P_W)
        );
    }
    for (i, (o, y)) in g.objects.iter().zip(&l.objects).enumerate() {
        let text = object_text(i + 1, o);
        let mut title = text.clone();
        if !o.state.is_empty() {
            let _ = write!(title, " ({})", o.state);
        }
        for f in &o.flags {
            let _ = write!(title, "; finding #{} {}", f.n, f.tag);
        }
        // A strong finding about it: a thick red outline, and a flag before its text.
        let strong = o.flags.iter().any(|f| f.strong);
        let (stroke, width, text) = if strong {
            (FLAG_COLOUR, 3, format!("⚑ {text}"))
        } else {
            ("#222", 1, text)
        };
        let _ = write!(
            out,
            "<a href=\"#{id}-o{}\" class=\"conn-object\"><title>{}</title><rect x=\"{O_X}\" y=\"{y}\" width=\"{O_W}\" height=\"{BOX_H}\" rx=\"4\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/><text x=\"{}\" y=\"{}\" style=\"fill:{}\">{}</text></a>",
            i + 1,
            esc(&title),
            o.kind.fill(),
            O_X + 6,
            y + 16,
            o.kind.ink(),
            fit(&text, O_W)
        );
    }
    for (p, y) in g.peers.iter().zip(&l.peers) {
        let _ = write!(
            out,
            "<g class=\"conn-peer\"><title>{}</title><rect x=\"{R_X}\" y=\"{y}\" width=\"{R_W}\" height=\"{BOX_H}\" rx=\"12\" fill=\"#ffffff\" stroke=\"#b2182b\" stroke-dasharray=\"4 2\"/><text x=\"{}\" y=\"{}\" fill=\"#000\">{}</text></g>",
            esc(&p.label),
            R_X + 10,
            y + 16,
            fit(&p.label, R_W)
        );
    }
    out.push_str("</svg>");
}

fn table(g: &Graph, id: &str, procs: Option<&str>, out: &mut String) {
    // A findings column when triage found something about an object.
    let flagged = g.objects.iter().any(|o| !o.flags.is_empty());
    let _ = write!(
        out,
        "<table class=\"connections\" id=\"{id}-table\"><caption>Pipes, sockets and terminals, who holds them, and their other ends</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Kind</th><th scope=\"col\">Object</th><th scope=\"col\">State</th><th scope=\"col\">Held by</th><th scope=\"col\">Other end</th>{}</tr></thead><tbody>",
        if flagged {
            "<th scope=\"col\">Findings</th>"
        } else {
            ""
        }
    );
    if g.objects.is_empty() {
        out.push_str("<tr><td colspan=\"6\">No process of the checkpoint holds a pipe, socket or terminal.</td></tr>");
    }
    for (i, o) in g.objects.iter().enumerate() {
        let held: Vec<String> = o
            .holds
            .iter()
            .map(|h| {
                let fds: Vec<String> = h.fds.iter().map(u32::to_string).collect();
                let pid = match procs {
                    Some(p) => format!("<a href=\"#{p}proc-{0}\">PID {0}</a>", h.pid),
                    None => format!("PID {}", h.pid),
                };
                let mut t = format!("{pid} ({}) fd {}", esc(&h.comm), fds.join(", "));
                if !h.end.is_empty() {
                    let _ = write!(t, ": {}", esc(&h.end));
                }
                t
            })
            .collect();
        let findings = if flagged {
            let links: Vec<String> = o
                .flags
                .iter()
                .map(|f| {
                    format!(
                        "<a href=\"#finding-{0}\">#{0}</a> <span class=\"s-{1}\">{1}</span> {2}",
                        f.n,
                        if f.strong { "strong" } else { "weak" },
                        esc(f.tag)
                    )
                })
                .collect();
            format!("<td>{}</td>", links.join("<br>"))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr id=\"{id}-o{n}\"><td>{n}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{findings}</tr>",
            o.kind.name(),
            esc(&o.label),
            esc(&o.state),
            held.join("<br>"),
            esc(&o.other),
            n = i + 1
        );
    }
    out.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests;
