//! The table of a process's mappings, the map's text alternative: range, permissions, offset,
//! kind, name (one cell for a run of one name), size, what was dumped or filled from a file, the
//! density of the sampled pages and the marks each mapping holds. Each row's id is its rect's
//! with `-row`.

use std::fmt::Write as _;

use super::super::Mark;
use super::super::density::Cell;
use super::super::html::esc;
use super::layout::{Layout, short_size};
use super::style::Kind;

/// What the table says of a mapping beyond its `Vma`.
pub(super) struct Facts {
    pub(super) dumped: u64,
    pub(super) filled: u64,
    pub(super) name: Option<String>,
    pub(super) perms: String,
    pub(super) cells: Vec<Cell>,
}

/// Writes the table of the mappings of `pid` laid out as `lay`, with their `facts`, to `out`.
pub(super) fn table(out: &mut String, pid: u32, scope: &str, lay: &Layout, facts: &[Facts]) {
    let (placed, findings_in, changed_in) = (&lay.placed, &lay.findings_in, &lay.changed_in);
    let _ = write!(
        out,
        r#"<table class="addrmap-table" id="{scope}addrmap-{pid}-table"><caption>Mappings of PID {pid}</caption><thead><tr><th scope="col">Range</th><th scope="col">Perms</th><th scope="col">Offset</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Dumped</th><th scope="col">Density (entropy mean / max, bits per byte; printable bytes)</th><th scope="col">Marks</th></tr></thead><tbody>"#
    );
    for (i, (q, f)) in placed.iter().zip(facts).enumerate() {
        let v = q.v;
        let _ = write!(
            out,
            r#"<tr id="{}-row"><td>{:x}-{:x}<td>{}<td>{:x}<td>{}"#,
            q.id,
            v.start,
            v.end,
            f.perms,
            v.offset(),
            Kind::of(v).label(),
        );
        // A run of rows of one name shares one cell.
        let same = |a: &Facts, b: &Facts| a.name.is_some() && a.name == b.name;
        if i == 0 || !same(&facts[i - 1], f) {
            let run = facts[i..].iter().take_while(|g| same(g, f)).count();
            if run > 1 {
                let _ = write!(out, r#"<td rowspan="{run}">"#);
            } else {
                out.push_str("<td>");
            }
            out.push_str(&esc(f.name.as_deref().unwrap_or("")));
        }
        let _ = write!(
            out,
            "<td>{}<td>{}",
            short_size(q.end - v.start),
            short_size(f.dumped),
        );
        if f.filled > 0 {
            let _ = write!(out, " (+{} from file)", short_size(f.filled));
        }
        out.push_str("<td>");
        density_text(out, &f.cells);
        out.push_str("<td>");
        let mut first = true;
        for m in findings_in[i].iter().take(5) {
            if !first {
                out.push_str("; ");
            }
            first = false;
            mark_text(out, m);
        }
        if findings_in[i].len() > 5 {
            let _ = write!(out, "; {} more", findings_in[i].len() - 5);
        }
        if !changed_in[i].is_empty() {
            if !first {
                out.push_str("; ");
            }
            let bytes: u64 = changed_in[i]
                .iter()
                .map(|m| m.len)
                .fold(0, u64::saturating_add);
            let _ = write!(
                out,
                "{} changed ({})",
                changed_in[i].len(),
                short_size(bytes)
            );
        }
        out.push('\n');
    }
    out.push_str("</tbody></table>");
}

/// A mark in the table: its label, linked to its finding when it has one.
pub(super) fn mark_text(out: &mut String, m: &Mark) {
    match &m.anchor {
        Some(a) => {
            let _ = write!(out, r##"<a href="#{}">{}</a>"##, esc(a), esc(&m.label));
        }
        None => out.push_str(&esc(&m.label)),
    }
}

/// The density column: mean and highest entropy of the samples, mean printable share
/// (`4.2 / 7.9; 63%`).
fn density_text(out: &mut String, cells: &[Cell]) {
    let (mut n, mut sum, mut max, mut pr) = (0u32, 0f64, 0f32, 0f64);
    let mut broken = 0;
    for c in cells {
        match c {
            Cell::Sample {
                entropy, printable, ..
            } => {
                n += 1;
                sum += f64::from(*entropy);
                max = max.max(*entropy);
                pr += f64::from(*printable);
            }
            Cell::Broken => broken += 1,
            Cell::Hole => {}
        }
    }
    if n > 0 {
        let _ = write!(
            out,
            "{:.1} / {:.1}; {:.0}%",
            sum / f64::from(n),
            max,
            pr / f64::from(n) * 100.0,
        );
    } else if broken == 0 {
        out.push('—');
    }
    if broken > 0 {
        let _ = write!(out, "{}{broken} unreadable", if n > 0 { ", " } else { "" });
    }
}
