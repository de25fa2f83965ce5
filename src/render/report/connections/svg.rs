//! The connections graph drawn as an inline SVG: processes in the left column, the objects
//! they hold in the middle (one edge per process and end, labelled with its descriptors), peers
//! outside the checkpoint on the right. [`Layout`] places every node and edge; [`svg`] writes
//! them, each object linking to its row in the table.

use std::fmt::Write as _;

use super::graph::{Graph, Hold, Object};
use crate::render::report::html::esc;

/// The outline of an object a strong triage finding is about.
const FLAG_COLOUR: &str = "#b2182b";

/// Vertical space between two nodes of a column.
const GAP: u32 = 10;
const BOX_H: u32 = 24;
/// Vertical distance between two edges leaving one process (each has its own port and label).
const PORT: u32 = 15;
const TOP: u32 = 30;
const P_X: u32 = 8;
pub(super) const P_W: u32 = 210;
/// Where an edge leaving a process starts to curve: its label sits above the straight part.
const LABEL_W: u32 = 140;
const O_X: u32 = 410;
const O_W: u32 = 400;
const R_X: u32 = 920;
const R_W: u32 = 210;
/// The width of one character of the graph's 12 px monospace font, in tenths of a pixel.
pub(super) const CHAR_W10: u32 = 73;

/// The width of one character of an edge label's 11 px font, in tenths of a pixel.
const LABEL_CHAR_W10: u32 = 67;

/// `s` cut to what fits in a box `w` pixels wide (an ellipsis ends a cut text), then escaped.
pub(super) fn fit(s: &str, w: u32) -> String {
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

pub(super) fn svg(g: &Graph, id: &str, procs: Option<&str>, out: &mut String) {
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
