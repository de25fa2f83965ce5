//! The SVG figure of the map: the row addresses and gap sizes, the permission lane, the
//! mappings coloured by kind with changed pages hatched over them, the held-pages and density
//! lanes, the names of runs of mappings of one file, the finding marks (linked to their
//! findings) and the caption; lines of one colour are drawn as one path ([`Segments`]) to keep
//! the page small. Also the figure's only script, the click-to-zoom handler ([`ZOOM`]).

use std::fmt::Write as _;

use super::super::density::{self, Cell, Class};
use super::super::html::esc;
use super::layout::{Layout, short_size};
use super::style::{
    BROKEN_COLOUR, CHANGED_COLOUR, FINDING_COLOUR, Held, Kind, Perm, class_colour, legend,
};
use super::table::{Facts, mark_text};
use super::{CHAR_W, MARGIN, MAX_DRAWN_FINDINGS, WIDTH};
use crate::model::process::Process;
use crate::render::maps::vma_name;

/// Height of a row of the map, pixels.
const ROW_H: u32 = 76;
/// Lanes of a row (y offsets from the row's top).
const Y_TEXT: u32 = 9;
const Y_MARK: u32 = 11;
const Y_PERM: u32 = 18;
const Y_RECT: u32 = 22;
const H_RECT: u32 = 26;
const Y_DUMP: u32 = 49;
const Y_DENS: u32 = 54;
const H_DENS: u32 = 6;
const Y_NAME: u32 = 71;

/// How much a click on a map zooms it.
pub(super) const ZOOM_FACTOR: u32 = 3;
/// The map's only script, an `onclick` of its SVG: a click outside a link toggles the SVG
/// between fitting its column and [`ZOOM_FACTOR`] times its width (the figure scrolls). The
/// SVG is complete without it. The page's Content-Security-Policy allows this handler alone,
/// by its hash ([`zoom_csp_source`]).
pub const ZOOM: &str = "if(event.target.closest('a'))return;var s=this.style,z=s.width;s.width=z?'':this.width.baseVal.value*3+'px';s.maxWidth=z?'100%':'none';s.cursor=z?'zoom-in':'zoom-out'";

/// The Content-Security-Policy source that allows [`ZOOM`] as an event handler and nothing
/// else: `'sha256-BASE64'` of its text (with `'unsafe-hashes'` in the same directive).
pub fn zoom_csp_source() -> String {
    use sha2::{Digest, Sha256};
    format!(
        "'sha256-{}'",
        super::super::html::base64(&Sha256::digest(ZOOM.as_bytes()))
    )
}

/// Horizontal lines of one colour, drawn as one SVG path; a line that continues the one
/// before it extends it.
#[derive(Default)]
struct Segments(Vec<(f64, f64, f64)>);

impl Segments {
    /// A horizontal line at `y` from `x`, `w` long.
    fn line(&mut self, x: f64, y: f64, w: f64) {
        if w <= 0.0 {
            return;
        }
        match self.0.last_mut() {
            Some((lx, ly, lw)) if *ly == y && (*lx + *lw - x).abs() < 0.05 => *lw = x + w - *lx,
            _ => self.0.push((x, y, w)),
        }
    }
    fn d(&self) -> String {
        let mut d = String::with_capacity(self.0.len() * 14);
        for (x, y, w) in &self.0 {
            let _ = write!(d, "M{} {}h{}", num(*x), num(*y), num(*w));
        }
        d
    }
    /// The lines as one path of `colour`, `width` thick.
    fn stroked(&self, out: &mut String, colour: &str, width: f64) {
        if !self.0.is_empty() {
            let _ = write!(
                out,
                r#"<path stroke="{colour}" stroke-width="{}" d="{}"/>"#,
                num(width),
                self.d()
            );
        }
    }
}

/// `x` with at most one decimal.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}
/// Writes the figure of `p`'s map laid out as `lay` (legend, SVG, caption) to `out`, and
/// returns what the table says of each mapping of `lay.placed` (same order).
pub(super) fn figure(
    out: &mut String,
    p: &Process,
    filled: &[(u64, u64)],
    lay: &Layout,
    scope: &str,
) -> Vec<Facts> {
    let pid = p.pid;
    let (placed, gaps, rows) = (&lay.placed, &lay.gaps, lay.rows);
    let (findings_in, changed_in, outside) = (&lay.findings_in, &lay.changed_in, &lay.outside);
    let (legend_svg, legend_rows) = legend(&format!("{scope}hatch-{pid}"));
    let legend_h = legend_rows * 14 + 16;
    let height = legend_h + rows * ROW_H + 4;
    let total_w = WIDTH + 2 * MARGIN;
    let mapped: u64 = placed
        .iter()
        .map(|q| q.end - q.v.start)
        .fold(0, u64::saturating_add);
    let _ = write!(
        out,
        r#"<figure class="addrmap" id="{scope}addrmap-{pid}" style="overflow-x:auto"><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{scope}addrmap-{pid}-cap" viewBox="0 0 {total_w} {height}" width="{total_w}" height="{height}" style="max-width:100%;height:auto;cursor:zoom-in" font-family="sans-serif" font-size="9" onclick="{ZOOM}">"#
    );
    let hatch = format!("{scope}hatch-{pid}");
    let _ = write!(
        out,
        r#"<defs><pattern id="{hatch}" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="4" fill="{CHANGED_COLOUR}"/></pattern></defs>"#
    );
    out.push_str(&legend_svg);

    let top = |row: u32| legend_h + row * ROW_H;
    let col_x = |x: u32| f64::from(MARGIN + x);

    // Row addresses and gap labels share the top text lane; a label is left out where it would
    // overlap the one before it (the gap's hover title still gives its size).
    let mut text_end: Vec<f64> = vec![0.0; rows as usize];
    let mut top_text = String::new();
    let mut first: Vec<Option<(u32, u64)>> = vec![None; rows as usize];
    for (row, x, a) in placed
        .iter()
        .map(|q| (q.row, q.x, q.v.start))
        .chain(gaps.iter().map(|g| (g.row, g.x, g.lo)))
    {
        if let Some(f) = first.get_mut(row as usize) {
            if f.is_none_or(|(fx, _)| x < fx) {
                *f = Some((x, a));
            }
        }
    }
    for (r, f) in first.iter().enumerate() {
        if let Some((_, a)) = f {
            let label = format!("{a:#x}");
            let _ = write!(
                top_text,
                r#"<text x="{MARGIN}" y="{}">{label}</text>"#,
                top(r as u32) + Y_TEXT
            );
            text_end[r] = f64::from(MARGIN) + CHAR_W * label.len() as f64 + 6.0;
        }
    }
    let mut gap_line = Segments::default();
    for g in gaps {
        let y = top(g.row) + Y_RECT + H_RECT / 2;
        let cx = col_x(g.x) + f64::from(g.w) / 2.0;
        gap_line.line(col_x(g.x) + 2.0, f64::from(y), f64::from(g.w) - 4.0);
        let size = short_size(g.hi - g.lo);
        let lw = CHAR_W * size.len() as f64;
        let lx = cx - lw / 2.0;
        let slot = &mut text_end[g.row as usize];
        if lx >= *slot && lx + lw <= f64::from(total_w) {
            let _ = write!(
                top_text,
                r#"<text x="{}" y="{}">{size}</text>"#,
                num(lx),
                top(g.row) + Y_TEXT
            );
            *slot = lx + lw + 4.0;
        } else {
            let _ = write!(
                out,
                r#"<path fill-opacity="0" d="M{} {}h{}v{H_RECT}h-{}z"><title>{size} gap</title></path>"#,
                g.x + MARGIN,
                top(g.row) + Y_RECT,
                g.w,
                g.w
            );
        }
    }
    if !top_text.is_empty() {
        let _ = write!(out, r##"<g fill="#444">{top_text}</g>"##);
    }
    if !gap_line.0.is_empty() {
        let _ = write!(
            out,
            r##"<path stroke="#777" stroke-width="3" stroke-dasharray="1 2" d="{}"/>"##,
            gap_line.d()
        );
    }

    // Mappings, their permission, dumped and density lanes.
    let mut perm_lane: [Segments; 4] = Default::default();
    let mut held_lane: [Segments; 3] = Default::default();
    let mut dens_lane: [Segments; 4] = Default::default();
    let mut broken_lane = Segments::default();
    let mut changed = Segments::default();
    let mut facts: Vec<Facts> = Vec::with_capacity(placed.len());
    // The rects, grouped by kind (one fill per group).
    let mut by_kind: [String; 8] = Default::default();
    for (i, q) in placed.iter().enumerate() {
        let v = q.v;
        let t = top(q.row);
        let x0 = col_x(q.x);
        let w = f64::from(q.w);
        let len = q.end - v.start;
        if let Some(pm) = Perm::of(v) {
            perm_lane[pm as usize].line(x0, f64::from(t + Y_PERM + 2), w);
        }
        // Held state per pixel column, merged into runs.
        let cols = q.w.max(1) as u64;
        let mut run: Option<(Held, u64)> = None;
        let mut dumped = 0u64;
        let mut filled_bytes = 0u64;
        for c in 0..=cols {
            let state = (c < cols).then(|| {
                let lo = v.start + (u128::from(len) * u128::from(c) / u128::from(cols)) as u64;
                let hi = v.start + (u128::from(len) * u128::from(c + 1) / u128::from(cols)) as u64;
                let present = p.memory.present_in(lo, hi);
                let f = filled_in(p, filled, lo, hi);
                dumped += present.saturating_sub(f);
                filled_bytes += f;
                if present > f {
                    Held::Dumped
                } else if present > 0 {
                    Held::Filled
                } else {
                    Held::Absent
                }
            });
            match (run, state) {
                (Some((h, _)), Some(s)) if h == s => {}
                (prev, s) => {
                    if let Some((h, from)) = prev {
                        let fx = x0 + w * from as f64 / cols as f64;
                        let tx = x0 + w * c as f64 / cols as f64;
                        held_lane[h as usize].line(fx, f64::from(t + Y_DUMP) + 2.0, tx - fx);
                    }
                    run = s.map(|s| (s, c));
                }
            }
        }
        // Density: the cells, merged into at most one column per pixel, shaded by the highest
        // entropy class sampled there.
        let cells = density::cells(&p.memory, v.start, q.end);
        let n = cells.len();
        let dcols = n.min(q.w as usize).max(1);
        for d in 0..dcols.min(n) {
            let group = &cells[d * n / dcols..((d + 1) * n / dcols).max(d * n / dcols + 1)];
            let fx = x0 + w * d as f64 / dcols as f64;
            let cw = w / dcols as f64;
            if group.contains(&Cell::Broken) {
                broken_lane.line(fx, f64::from(t + Y_DENS + H_DENS / 2), cw);
            } else if let Some(c) = group
                .iter()
                .filter_map(|c| match c {
                    Cell::Sample { entropy, .. } => Some(Class::of(*entropy)),
                    _ => None,
                })
                .max()
            {
                dens_lane[c as usize].line(fx, f64::from(t + Y_DENS + H_DENS / 2), cw);
            }
        }
        // Changed pages, merged per pixel, at least 2 px wide.
        let mut spans: Vec<(f64, f64)> = Vec::new();
        for m in &changed_in[i] {
            let (a, b) = rel(m.address, m.len.max(1), v.start, len);
            let (fx, tx) = (x0 + w * a, (x0 + w * b).max(x0 + w * a + 2.0).min(x0 + w));
            match spans.last_mut() {
                Some(s) if fx <= s.1 + 0.5 => s.1 = s.1.max(tx),
                _ => spans.push((fx, tx)),
            }
        }
        for (fx, tx) in spans {
            let fx = fx.min(x0 + w - 2.0).max(x0);
            let cw = (tx - fx).max(2.0).min(x0 + w - fx);
            changed.line(fx, f64::from(t + Y_RECT + H_RECT / 2), cw);
        }
        let name = vma_name(v).map(|n| n.into_owned());
        let perms = v.perms();
        let _ = write!(
            by_kind[Kind::of(v) as usize],
            r#"<path id="{}" d="M{} {}h{}v{H_RECT}h-{}z"><title>{:x}-{:x} {perms} {:x}{}{} | {} dumped</title></path>"#,
            q.id,
            q.x + MARGIN,
            t + Y_RECT,
            q.w,
            q.w,
            v.start,
            v.end,
            v.offset(),
            if name.is_some() { " " } else { "" },
            esc(name.as_deref().unwrap_or("")),
            short_size(dumped),
        );
        facts.push(Facts {
            dumped,
            filled: filled_bytes,
            name,
            perms,
            cells,
        });
    }
    out.push_str(r##"<g stroke="#fff" stroke-width=".5">"##);
    for (k, rects) in Kind::ALL.iter().zip(&by_kind) {
        if !rects.is_empty() {
            let _ = write!(out, r#"<g fill="{}">{rects}</g>"#, k.colour());
        }
    }
    out.push_str("</g>");
    changed.stroked(out, &format!("url(#{hatch})"), f64::from(H_RECT));
    for (pm, s) in Perm::ALL.iter().zip(&perm_lane) {
        s.stroked(out, pm.colour(), 4.0);
    }
    for (h, s) in Held::ALL.iter().zip(&held_lane) {
        s.stroked(out, h.colour(), 4.0);
    }
    for (c, s) in Class::ALL.iter().zip(&dens_lane) {
        s.stroked(out, class_colour(*c), f64::from(H_DENS));
    }
    broken_lane.stroked(out, BROKEN_COLOUR, f64::from(H_DENS));

    // Names of runs of mappings of one name in a row, under a bracket.
    let mut bracket = String::new();
    let mut names = String::new();
    let mut k = 0;
    while k < placed.len() {
        let mut e = k + 1;
        while e < placed.len()
            && placed[e].row == placed[k].row
            && facts[e].name.is_some()
            && facts[e].name == facts[k].name
        {
            e += 1;
        }
        if let Some(name) = &facts[k].name {
            let (first, last) = (&placed[k], &placed[e - 1]);
            let x0 = col_x(first.x);
            let w = f64::from(last.x + last.w - first.x);
            let base = name.rsplit('/').next().unwrap_or(name);
            let fit = ((w - 2.0) / CHAR_W).floor().max(0.0) as usize;
            let t = top(first.row);
            let _ = write!(
                bracket,
                "M{} {}v3h{}v-3",
                num(x0 + 1.0),
                t + Y_DENS + H_DENS + 1,
                num(w - 2.0)
            );
            let shown: String = if base.chars().count() <= fit {
                base.to_string()
            } else if fit >= 6 {
                let mut s: String = base.chars().take(fit - 1).collect();
                s.push('…');
                s
            } else {
                String::new()
            };
            if !shown.is_empty() {
                let _ = write!(
                    names,
                    r#"<text x="{}" y="{}">{}</text>"#,
                    num(x0 + 1.0),
                    t + Y_NAME,
                    esc(&shown)
                );
            }
        }
        k = e;
    }
    if !names.is_empty() {
        let _ = write!(out, r##"<g fill="#222">{names}</g>"##);
    }
    if !bracket.is_empty() {
        let _ = write!(out, r##"<path fill="none" stroke="#999" d="{bracket}"/>"##);
    }

    // Finding marks, one by one (they link to their findings).
    let mut drawn = 0usize;
    let mut not_drawn = 0usize;
    for (i, q) in placed.iter().enumerate() {
        let len = q.end - q.v.start;
        for m in &findings_in[i] {
            if drawn >= MAX_DRAWN_FINDINGS {
                not_drawn += 1;
                continue;
            }
            drawn += 1;
            let (a, _) = rel(m.address, 0, q.v.start, len);
            let mx = col_x(q.x) + f64::from(q.w) * a;
            let t = top(q.row) + Y_MARK;
            let path = format!(
                r##"d="M{} {t}h8l-4 7z" fill="{FINDING_COLOUR}" stroke="#000" stroke-width=".5"><title>{} at {:#x}</title></path>"##,
                num(mx - 4.0),
                esc(&m.label),
                m.address
            );
            match &m.anchor {
                Some(a) => {
                    let a = esc(a);
                    let _ = write!(out, r##"<a href="#{a}"><path id="map-{a}" {path}</a>"##);
                }
                None => {
                    let _ = write!(out, "<path {path}");
                }
            }
        }
    }
    out.push_str("</svg>");

    // Caption.
    let dumped_total: u64 = facts.iter().map(|f| f.dumped).fold(0, u64::saturating_add);
    let filled_total: u64 = facts.iter().map(|f| f.filled).fold(0, u64::saturating_add);
    let _ = write!(
        out,
        r#"<figcaption id="{scope}addrmap-{pid}-cap">Address space of PID {pid} ({}): {} mapping{}, {} mapped, {} dumped{}. Mappings and gaps are drawn on a logarithmic scale (a mapping 6 + 4 &#215; log<sub>2</sub>(pages) pixels wide, a gap 10 + 2 &#215; log<sub>2</sub>(pages), all widened alike when the map is shorter than a row), so small mappings stay visible next to huge gaps; sizes are in the labels, the hover titles and the table. Click the map to zoom it {ZOOM_FACTOR} times (and again to fit it)."#,
        esc(&p.comm),
        placed.len(),
        if placed.len() == 1 { "" } else { "s" },
        short_size(mapped),
        short_size(dumped_total),
        if filled_total > 0 {
            format!(", {} filled from files", short_size(filled_total))
        } else {
            String::new()
        }
    );
    if not_drawn > 0 {
        let _ = write!(
            out,
            " {not_drawn} more findings are not drawn (the first {MAX_DRAWN_FINDINGS} are)."
        );
    }
    if !outside.is_empty() {
        let _ = write!(out, " Marks outside every mapping:");
        for m in outside.iter().take(20) {
            let _ = write!(out, " {:#x} ", m.address);
            mark_text(out, m);
            out.push(';');
        }
        if outside.len() > 20 {
            let _ = write!(out, " and {} more.", outside.len() - 20);
        }
    }
    if placed.is_empty() {
        out.push_str(" The checkpoint records no mapping for this process.");
    }
    out.push_str("</figcaption></figure>");
    facts
}

/// Bytes of `lo..hi` held in `p`'s memory inside the ranges filled from files.
fn filled_in(p: &Process, filled: &[(u64, u64)], lo: u64, hi: u64) -> u64 {
    let i = filled.partition_point(|r| r.1 <= lo);
    filled[i..]
        .iter()
        .take_while(|r| r.0 < hi)
        .map(|r| p.memory.present_in(r.0.max(lo), r.1.min(hi)))
        .fold(0, u64::saturating_add)
}

/// `addr..addr + len` as fractions (0..=1) of a mapping at `start` of `vlen` bytes.
fn rel(addr: u64, len: u64, start: u64, vlen: u64) -> (f64, f64) {
    if vlen == 0 {
        return (0.0, 1.0);
    }
    let a = addr.saturating_sub(start).min(vlen) as f64 / vlen as f64;
    let b = addr.saturating_add(len).saturating_sub(start).min(vlen) as f64 / vlen as f64;
    (a, b)
}
