//! The address spaces: each process's map ([`super::addrmap::address_map`]) under its heading
//! (`{P}map-PID`, h3; h4 under an h3 per checkpoint when there are several), with the findings
//! and changed pages marked on it. Bounded: at most [`MAX_MAPS`] processes and [`MAX_VMAS`]
//! mappings drawn per page (the page says when it stops).

use super::html::esc;
use super::{Mark, Report, addrmap, findings, prefix};

/// Processes whose map is drawn, over the whole page.
pub const MAX_MAPS: usize = 300;
/// Mappings drawn over the whole page (a map costs about 300 bytes a mapping).
pub const MAX_VMAS: usize = 12_000;

/// Which processes get a map: (input, PID), in page order, within the bounds.
pub fn drawn(r: &Report<'_>) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut vmas = 0usize;
    for (k, i) in r.inputs.iter().enumerate() {
        for (_, p) in super::processes::tree_order(i.ck) {
            if out.len() >= MAX_MAPS || vmas.saturating_add(p.vmas.len()) > MAX_VMAS {
                return out;
            }
            vmas += p.vmas.len();
            out.push((k, p.pid));
        }
    }
    out
}

/// The section.
pub fn section(r: &Report<'_>, drawn: &[(usize, u32)]) -> String {
    let mut s = String::from("<section id=\"maps\">\n<h2>Address spaces</h2>\n");
    s.push_str(
        "<p>Each process's mappings in address order. Widths grow with the logarithm of the \
         size, so a one-page mapping stays visible beside a huge one; the gaps between mappings \
         are cut short and labelled with their size. Colour says the kind of mapping (the \
         legend and the table under each map say the same in words); the strip under it says \
         which pages were dumped, and how dense their bytes are. Findings are marked above the \
         mappings and link to their rows; changed pages (since the previous dump of the same \
         container) are hatched. Hover a mapping for its range, offset, file and dumped bytes.</p>\n",
    );
    let multi = r.inputs.len() > 1;
    let total: usize = r.inputs.iter().map(|i| i.ck.processes.len()).sum();
    for (k, i) in r.inputs.iter().enumerate() {
        let pre = prefix(k);
        let mine: Vec<u32> = drawn
            .iter()
            .filter(|(kk, _)| *kk == k)
            .map(|(_, p)| *p)
            .collect();
        if multi {
            s.push_str(&format!(
                "<h3 id=\"maps-{}\">Checkpoint {}: {}</h3>\n",
                k + 1,
                k + 1,
                esc(&i.label)
            ));
        }
        let h = if multi { "h4" } else { "h3" };
        let mut marks: Vec<(u32, Mark)> = findings::marks(r, k);
        marks.extend(i.changed.iter().cloned());
        for pid in mine {
            let Some(p) = i.ck.process(pid) else { continue };
            let pm: Vec<Mark> = marks
                .iter()
                .filter(|(q, _)| *q == pid)
                .map(|(_, m)| m.clone())
                .collect();
            s.push_str(&format!(
                "<{h} id=\"{pre}map-{pid}\">PID {pid} <code>{}</code> <a class=\"back\" href=\"#{pre}proc-{pid}\">in the tree</a></{h}>\n",
                esc(&p.comm)
            ));
            if p.vmas.is_empty() {
                s.push_str("<p>No mapping recorded (a zombie, or no mm image).</p>\n");
                continue;
            }
            s.push_str(&addrmap::address_map(
                p,
                i.ck.container_fs.filled(pid),
                &pm,
                &pre,
            ));
        }
    }
    if drawn.len() < total {
        s.push_str(&format!(
            "<p class=\"cap\">The maps of the first {} of {total} processes are drawn (at most {MAX_MAPS} processes and {MAX_VMAS} mappings a page); PID/maps of a mount lists every mapping.</p>\n",
            drawn.len()
        ));
    }
    s.push_str("</section>\n");
    s
}
