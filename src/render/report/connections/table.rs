//! The connections table: one row per object of the graph (kind, what it is, its state, who
//! holds it on which descriptors, its other end, and the triage findings about it), the same
//! facts as the drawing for readers who cannot see it and for print.

use std::fmt::Write as _;

use super::graph::Graph;
use crate::render::report::html::esc;

pub(super) fn table(g: &Graph, id: &str, procs: Option<&str>, out: &mut String) {
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
