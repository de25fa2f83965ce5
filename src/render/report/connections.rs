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
//!
//! | concern | file |
//! |---|---|
//! | the public entry points, triage flags, the fragment around graph and table | `connections.rs` |
//! | gathering objects, holders, joins and peers from the model | `connections/graph.rs` |
//! | the SVG drawing and its layout | `connections/svg.rs` |
//! | the table | `connections/table.rs` |

mod graph;
mod svg;
mod table;

use std::fmt::Write as _;

use super::html::esc;
use crate::model::Checkpoint;
use graph::Graph;
use svg::svg;
use table::table;

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

#[cfg(test)]
mod tests;
