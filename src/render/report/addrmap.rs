//! The address-space map of one process: an inline SVG drawing every mapping, and a table with
//! the same facts (its text alternative).
//!
//! `address_map(p, filled, marks, scope)`: `p` the process, `filled` the ranges of its memory
//! filled from files of `rootfs/` rather than dumped (`ContainerFs::filled(pid)`, sorted), `marks`
//! the findings and changed pages to draw, `scope` a prefix for every HTML id (empty for a page
//! with one checkpoint; e.g. `c2-` when two dumps share PIDs).
//!
//! The scale is not linear: a 4 KiB mapping next to a 128 TiB gap would vanish. Every mapping is
//! drawn in address order, `6 + 4 * log2(pages)` pixels wide (at least [`MIN_WIDTH`]), and the
//! gaps between mappings as breaks `10 + 2 * log2(pages)` wide, labelled with their size (a map
//! shorter than a row is widened, at most 3 times, to fill it). The ribbon wraps into rows of
//! [`WIDTH`] pixels, each starting with its first address. One row,
//! top to bottom: row address and gap sizes; finding marks; permissions (`r--`, `rw-`, `r-x`,
//! `rwx`); the mapping, coloured by kind (with changed pages hatched over it); which pages were
//! dumped, filled from a file or are absent; the density strip (entropy class of up to 64
//! one-page samples, [`super::density`]); names of runs of mappings of the same file.
//!
//! Ids, for links from the rest of the page: each mapping's rect is `{scope}vma-PID-START`
//! ([`vma_id`], START in lowercase hex as `maps` prints it, without padding) and its table row
//! `{scope}vma-PID-START-row`; a finding mark with an anchor is `map-{anchor}` and links to
//! `#{anchor}`. The SVG's colours are attributes (no stylesheet needed); the classes
//! `addrmap` / `addrmap-table` are for the page's own styling.
//!
//! Bounded output: a mapping costs a rect with its title, a few path segments and one table row
//! (5000 mappings stay under 1.5 MB); at most [`MAX_DRAWN_FINDINGS`] finding marks are drawn
//! one by one, the rest are counted.

use std::fmt::Write as _;

use super::density::{self, Cell, Class};
use super::html::esc;
use super::{Mark, MarkKind};
use crate::model::memory::PAGE_SIZE;
use crate::model::process::{Process, Vma, VmaName, vma_status};
use crate::render::maps::vma_name;

/// Width of a row of the map, pixels.
pub const WIDTH: u32 = 960;
/// The narrowest a mapping is drawn, pixels (at 4 KiB).
pub const MIN_WIDTH: u32 = 6;
/// Finding marks drawn one by one; more are counted in the caption.
pub const MAX_DRAWN_FINDINGS: usize = 1000;

const MARGIN: u32 = 6;
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
/// Average width of a character of the 9 px labels, for fitting them.
const CHAR_W: f64 = 6.0;

/// How much a click on a map zooms it.
const ZOOM_FACTOR: u32 = 3;
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
        super::html::base64(&Sha256::digest(ZOOM.as_bytes()))
    )
}

/// What a mapping maps, as the map colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SysV,
    Stack,
    Memfd,
    File,
    Shared,
    Heap,
    Anon,
    /// `[vdso]`, `[vvar]`, `[vsyscall]`, `[uprobes]`: the kernel's own.
    Kernel,
}

impl Kind {
    /// Every kind, darkest colour first: the colours differ in lightness (a greyscale print
    /// still tells them apart; see the tests).
    pub const ALL: [Kind; 8] = [
        Kind::SysV,
        Kind::Stack,
        Kind::Memfd,
        Kind::File,
        Kind::Shared,
        Kind::Heap,
        Kind::Anon,
        Kind::Kernel,
    ];

    pub fn of(v: &Vma) -> Kind {
        use crate::model::files::FileKind;
        let memfd = v.status & vma_status::MEMFD != 0
            || matches!(
                v.file.as_ref().map(|f| &f.kind),
                Some(FileKind::Memfd { .. })
            );
        match &v.name {
            _ if v.status & vma_status::SYSVIPC != 0 => Kind::SysV,
            _ if memfd => Kind::Memfd,
            VmaName::Stack => Kind::Stack,
            _ if v.status & vma_status::STACK != 0 => Kind::Stack,
            VmaName::Heap => Kind::Heap,
            VmaName::Vdso
            | VmaName::Vvar
            | VmaName::VvarVclock
            | VmaName::Vsyscall
            | VmaName::Uprobes => Kind::Kernel,
            _ if v.shared() => Kind::Shared,
            VmaName::File { .. } | VmaName::Unknown { .. } => Kind::File,
            VmaName::Anon => Kind::Anon,
        }
    }

    pub fn colour(self) -> &'static str {
        match self {
            Kind::SysV => "#4c2d16",
            Kind::Stack => "#67308f",
            Kind::Memfd => "#ba2147",
            Kind::File => "#337acc",
            Kind::Shared => "#29a39e",
            Kind::Heap => "#f59b40",
            Kind::Anon => "#acdb94",
            Kind::Kernel => "#faf198",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::SysV => "SysV shm",
            Kind::Stack => "stack",
            Kind::Memfd => "memfd",
            Kind::File => "file",
            Kind::Shared => "shared",
            Kind::Heap => "heap",
            Kind::Anon => "anon",
            Kind::Kernel => "vdso/vvar",
        }
    }
}

/// The permission lane's classes: the highest permission a mapping has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Perm {
    Read,
    Write,
    Exec,
    WriteExec,
}

impl Perm {
    const ALL: [Perm; 4] = [Perm::Read, Perm::Write, Perm::Exec, Perm::WriteExec];

    fn of(v: &Vma) -> Option<Perm> {
        match (v.readable(), v.writable(), v.executable()) {
            (_, true, true) => Some(Perm::WriteExec),
            (_, _, true) => Some(Perm::Exec),
            (_, true, _) => Some(Perm::Write),
            (true, _, _) => Some(Perm::Read),
            _ => None,
        }
    }
    fn colour(self) -> &'static str {
        match self {
            Perm::Read => "#cfcfcf",
            Perm::Write => "#8a8a8a",
            Perm::Exec => "#262626",
            Perm::WriteExec => "#e41a1c",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Perm::Read => "r--",
            Perm::Write => "rw-",
            Perm::Exec => "r-x",
            Perm::WriteExec => "rwx",
        }
    }
}

/// What the checkpoint holds of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Dumped,
    Filled,
    Absent,
}

impl Held {
    const ALL: [Held; 3] = [Held::Dumped, Held::Filled, Held::Absent];
    fn colour(self) -> &'static str {
        match self {
            Held::Dumped => "#1f1f1f",
            Held::Filled => "#9a9a9a",
            Held::Absent => "#ececec",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Held::Dumped => "dumped",
            Held::Filled => "filled from file",
            Held::Absent => "not dumped",
        }
    }
}

fn class_colour(c: Class) -> &'static str {
    match c {
        Class::Sparse => "#e3e3e3",
        Class::Text => "#b0b0b0",
        Class::Code => "#6a6a6a",
        Class::Random => "#000000",
    }
}

const BROKEN_COLOUR: &str = "#e41a1c";
const FINDING_COLOUR: &str = "#e41a1c";
const CHANGED_COLOUR: &str = "#e7298a";

/// The HTML id of the map rect of the mapping of `pid` starting at `start`.
pub fn vma_id(scope: &str, pid: u32, start: u64) -> String {
    format!("{scope}vma-{pid}-{start:x}")
}

/// Pixel width of a mapping of `len` bytes.
pub fn vma_width(len: u64) -> u32 {
    let pages = len.div_ceil(PAGE_SIZE).max(1);
    let w = 6.0 + 4.0 * (pages as f64).log2();
    (w.round() as u32).clamp(MIN_WIDTH, WIDTH)
}

/// Pixel width of the break drawn for a gap of `len` bytes.
pub fn gap_width(len: u64) -> u32 {
    let pages = len.div_ceil(PAGE_SIZE).max(1);
    let w = 10.0 + 2.0 * (pages as f64).log2();
    (w.round() as u32).clamp(10, WIDTH)
}

/// `4 KiB`, `1.5 MiB`, `128 TiB`: one decimal below 10 units, none above.
pub fn short_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 10.0 || v.fract() == 0.0 {
        format!("{} {}", v.round() as u64, UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// One mapping placed on the map.
struct Placed<'a> {
    v: &'a Vma,
    /// `v.end`, or `v.start` for a mapping whose end is below its start.
    end: u64,
    id: String,
    row: u32,
    x: u32,
    w: u32,
}

/// One gap placed on the map.
struct Gap {
    lo: u64,
    hi: u64,
    row: u32,
    x: u32,
    w: u32,
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

/// The map (SVG) and the table of `p`'s mappings. See the module documentation.
pub fn address_map(p: &Process, filled: &[(u64, u64)], marks: &[Mark], scope: &str) -> String {
    let pid = p.pid;
    // Address order, whatever the model's; a mapping ending below its start is drawn as empty.
    let mut order: Vec<&Vma> = p.vmas.iter().collect();
    order.sort_by_key(|v| (v.start, v.end));

    // Layout. A map that would fill less than a row is widened (at most 3 times) to fill it.
    let natural: u64 = {
        let mut reach: Option<u64> = None;
        let mut total = 0u64;
        for v in &order {
            let end = v.end.max(v.start);
            if let Some(r) = reach.filter(|&r| v.start > r) {
                total += u64::from(gap_width(v.start - r));
            }
            total += u64::from(vma_width(end - v.start));
            reach = Some(reach.map_or(end, |r| r.max(end)));
        }
        total
    };
    let scale = if natural > 0 && natural < u64::from(WIDTH) {
        (f64::from(WIDTH) / natural as f64).min(3.0)
    } else {
        1.0
    };
    let scaled = |w: u32| ((f64::from(w) * scale).floor() as u32).max(w);
    let mut placed: Vec<Placed> = Vec::with_capacity(order.len());
    let mut gaps: Vec<Gap> = Vec::new();
    let (mut row, mut x) = (0u32, 0u32);
    let mut reach: Option<u64> = None;
    let mut prev_start: Option<(u64, u32)> = None;
    for v in order {
        let end = v.end.max(v.start);
        if let Some(r) = reach.filter(|&r| v.start > r) {
            let w = scaled(gap_width(v.start - r));
            if x + w > WIDTH && x > 0 {
                row += 1;
                x = 0;
            }
            gaps.push(Gap {
                lo: r,
                hi: v.start,
                row,
                x,
                w,
            });
            x += w;
        }
        let w = scaled(vma_width(end - v.start));
        if x + w > WIDTH && x > 0 {
            row += 1;
            x = 0;
        }
        // Two mappings starting at one address (a broken model) still get distinct ids.
        let mut id = vma_id(scope, pid, v.start);
        prev_start = match prev_start {
            Some((s, n)) if s == v.start => {
                let _ = write!(id, "-{}", n + 1);
                Some((s, n + 1))
            }
            _ => Some((v.start, 1)),
        };
        placed.push(Placed {
            v,
            end,
            id,
            row,
            x,
            w,
        });
        x += w;
        reach = Some(reach.map_or(end, |r| r.max(end)));
    }
    let rows = if placed.is_empty() { 0 } else { row + 1 };

    // Marks by mapping: a mark belongs to the last mapping starting at or below it that holds it.
    let mut findings_in: Vec<Vec<&Mark>> = vec![Vec::new(); placed.len()];
    let mut changed_in: Vec<Vec<&Mark>> = vec![Vec::new(); placed.len()];
    let mut outside: Vec<&Mark> = Vec::new();
    for m in marks {
        let i = placed.partition_point(|q| q.v.start <= m.address);
        let holder = (0..i).rev().take(8).find(|&j| {
            m.address < placed[j].end
                || (placed[j].end == placed[j].v.start && m.address == placed[j].v.start)
        });
        match (holder, m.kind) {
            (Some(j), MarkKind::Finding) => findings_in[j].push(m),
            (Some(j), MarkKind::Changed) => changed_in[j].push(m),
            (None, _) => outside.push(m),
        }
    }
    for v in findings_in.iter_mut().chain(changed_in.iter_mut()) {
        v.sort_by_key(|m| m.address);
    }

    let (legend_svg, legend_rows) = legend(&format!("{scope}hatch-{pid}"));
    let legend_h = legend_rows * 14 + 16;
    let height = legend_h + rows * ROW_H + 4;
    let total_w = WIDTH + 2 * MARGIN;
    let mapped: u64 = placed
        .iter()
        .map(|q| q.end - q.v.start)
        .fold(0, u64::saturating_add);
    let mut out = String::with_capacity(placed.len() * 300 + 4096);
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
    for g in &gaps {
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
    changed.stroked(&mut out, &format!("url(#{hatch})"), f64::from(H_RECT));
    for (pm, s) in Perm::ALL.iter().zip(&perm_lane) {
        s.stroked(&mut out, pm.colour(), 4.0);
    }
    for (h, s) in Held::ALL.iter().zip(&held_lane) {
        s.stroked(&mut out, h.colour(), 4.0);
    }
    for (c, s) in Class::ALL.iter().zip(&dens_lane) {
        s.stroked(&mut out, class_colour(*c), f64::from(H_DENS));
    }
    broken_lane.stroked(&mut out, BROKEN_COLOUR, f64::from(H_DENS));

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
            mark_text(&mut out, m);
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

    // The table.
    let _ = write!(
        out,
        r#"<table class="addrmap-table" id="{scope}addrmap-{pid}-table"><caption>Mappings of PID {pid}</caption><thead><tr><th scope="col">Range</th><th scope="col">Perms</th><th scope="col">Offset</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Dumped</th><th scope="col">Density (entropy mean / max, bits per byte; printable bytes)</th><th scope="col">Marks</th></tr></thead><tbody>"#
    );
    for (i, (q, f)) in placed.iter().zip(&facts).enumerate() {
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
        density_text(&mut out, &f.cells);
        out.push_str("<td>");
        let mut first = true;
        for m in findings_in[i].iter().take(5) {
            if !first {
                out.push_str("; ");
            }
            first = false;
            mark_text(&mut out, m);
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
    out
}

/// What the table says of a mapping beyond its `Vma`.
struct Facts {
    dumped: u64,
    filled: u64,
    name: Option<String>,
    perms: String,
    cells: Vec<Cell>,
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

/// A mark in the table: its label, linked to its finding when it has one.
fn mark_text(out: &mut String, m: &Mark) {
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

/// The legend, at the top of the SVG (kinds, permissions, held pages, density classes, marks),
/// and how many lines it takes.
fn legend(hatch: &str) -> (String, u32) {
    let mut out = String::new();
    let mut items: Vec<(String, String)> = Vec::new();
    for k in Kind::ALL {
        items.push((
            format!(r#"<rect width="14" height="10" fill="{}"/>"#, k.colour()),
            k.label().to_string(),
        ));
    }
    for pm in Perm::ALL {
        items.push((
            format!(
                r#"<rect y="3" width="14" height="4" fill="{}"/>"#,
                pm.colour()
            ),
            pm.label().to_string(),
        ));
    }
    for h in Held::ALL {
        items.push((
            format!(
                r##"<rect y="3" width="14" height="4" fill="{}" stroke="#bbb" stroke-width=".5"/>"##,
                h.colour()
            ),
            h.label().to_string(),
        ));
    }
    for c in Class::ALL {
        items.push((
            format!(
                r#"<rect y="2" width="14" height="6" fill="{}"/>"#,
                class_colour(c)
            ),
            c.label().to_string(),
        ));
    }
    items.push((
        format!(r#"<rect y="2" width="14" height="6" fill="{BROKEN_COLOUR}"/>"#),
        "unreadable".to_string(),
    ));
    items.push((
        format!(
            r##"<path d="M3 1h8l-4 7z" fill="{FINDING_COLOUR}" stroke="#000" stroke-width=".5"/>"##
        ),
        "finding".to_string(),
    ));
    items.push((
        format!(r#"<rect width="14" height="10" fill="url(#{hatch})" stroke="{CHANGED_COLOUR}"/>"#),
        "changed page".to_string(),
    ));
    let (mut x, mut y) = (0u32, 0u32);
    out.push_str(r#"<g class="legend">"#);
    for (swatch, label) in items {
        let w = 20 + (label.len() as f64 * CHAR_W).ceil() as u32 + 14;
        if x + w > WIDTH {
            x = 0;
            y += 14;
        }
        let _ = write!(
            out,
            r##"<g transform="translate({},{})">{swatch}<text x="18" y="9" fill="#222">{}</text></g>"##,
            x + MARGIN,
            y + 4,
            esc(&label)
        );
        x += w;
    }
    out.push_str("</g>");
    (out, y / 14 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::{file, process, vma};

    /// The mappings' boxes on the map (`M{x} {y}h{w}v..`): (id, x, width).
    fn rects(html: &str) -> Vec<(String, f64, f64)> {
        let mut v = Vec::new();
        for part in html.split("<path id=\"").skip(1) {
            let id = part.split('"').next().unwrap_or_default().to_string();
            if !id.contains("vma-") {
                continue;
            }
            let d = part.split(" d=\"M").nth(1).unwrap_or_default();
            let x = d
                .split(' ')
                .next()
                .unwrap_or_default()
                .parse()
                .unwrap_or(-1.0);
            let w = d
                .split('h')
                .nth(1)
                .and_then(|s| s.split('v').next())
                .unwrap_or_default()
                .parse()
                .unwrap_or(-1.0);
            v.push((id, x, w));
        }
        v
    }

    fn huge_gaps() -> Process {
        let mut vmas = vec![
            vma(0x400000, 0x401000, "r-xp", 0, file("/bin/tiny", false)),
            vma(0x401000, 0x402000, "rw-p", 0x1000, file("/bin/tiny", false)),
            vma(0x10000000, 0x10001000, "rw-p", 0, VmaName::Heap),
            // A 64 TiB reservation, then a 4 KiB mapping 128 TiB away from everything.
            vma(0x1000_0000_0000, 0x5000_0000_0000, "---p", 0, VmaName::Anon),
            vma(
                0x7fff_ffff_d000,
                0x7fff_ffff_e000,
                "rw-p",
                0,
                VmaName::Stack,
            ),
            vma(
                0xffff_ffff_ff60_0000,
                0xffff_ffff_ff60_1000,
                "--xp",
                0,
                VmaName::Vsyscall,
            ),
        ];
        for i in 0..200u64 {
            vmas.push(vma(
                0x7f00_0000_0000 + i * 0x3000,
                0x7f00_0000_1000 + i * 0x3000,
                "r--p",
                0,
                file("/usr/lib/libmany.so", false),
            ));
        }
        vmas.sort_by_key(|v| v.start);
        process(7, vmas, vec![(0x10000000, vec![7; 4096])])
    }

    #[test]
    fn every_mapping_is_drawn_at_least_min_width_inside_the_map() {
        let p = huge_gaps();
        let html = address_map(&p, &[], &[], "");
        let r = rects(&html);
        assert_eq!(r.len(), p.vmas.len());
        for (id, x, w) in &r {
            assert!(*w >= 3.0 && *w >= f64::from(MIN_WIDTH), "{id}: width {w}");
            assert!(
                *x >= 0.0 && x + w <= f64::from(WIDTH + 2 * MARGIN),
                "{id}: x {x}"
            );
        }
        for v in &p.vmas {
            assert!(
                html.contains(&format!("id=\"vma-7-{:x}\"", v.start)),
                "{:x}",
                v.start
            );
            assert!(html.contains(&format!("id=\"vma-7-{:x}-row\"", v.start)));
        }
        // The gaps are labelled with their size.
        assert!(
            html.contains(">64 TiB<") || html.contains("64 TiB unmapped"),
            "{html}"
        );
        // The zoom script and the caption agree on the factor.
        assert!(ZOOM.contains(&format!("*{ZOOM_FACTOR}+")));
        assert!(html.contains(&format!("zoom it {ZOOM_FACTOR} times")));
        // A small map is widened to fill its row, never past it.
        let small = process(8, huge_gaps().vmas[..3].to_vec(), Vec::new());
        let r = rects(&address_map(&small, &[], &[], ""));
        let right = r.iter().map(|(_, x, w)| x + w).fold(0.0, f64::max);
        assert!(r[0].2 >= f64::from(3 * MIN_WIDTH), "{r:?}");
        assert!(right <= f64::from(WIDTH + MARGIN), "{r:?}");
        // A 128 TiB gap is not wider than a few mappings.
        assert!(gap_width(128 << 40) < 100);
        assert_eq!(vma_width(4096), MIN_WIDTH);
    }

    /// WCAG relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let c = |i: usize| {
            let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
    }

    fn assert_distinct_in_grey(colours: &[(&str, &str)], min_ratio: f64) {
        for (i, (na, a)) in colours.iter().enumerate() {
            for (nb, b) in &colours[i + 1..] {
                let (la, lb) = (luminance(a), luminance(b));
                let ratio = (la.max(lb) + 0.05) / (la.min(lb) + 0.05);
                assert!(
                    ratio >= min_ratio,
                    "{na} {a} and {nb} {b}: luminance {la:.3} vs {lb:.3}, ratio {ratio:.2}"
                );
            }
        }
    }

    #[test]
    fn category_colours_differ_in_lightness() {
        let kinds: Vec<(&str, &str)> = Kind::ALL.iter().map(|k| (k.label(), k.colour())).collect();
        assert_distinct_in_grey(&kinds, 1.3);
        let perms: Vec<(&str, &str)> = Perm::ALL.iter().map(|k| (k.label(), k.colour())).collect();
        assert_distinct_in_grey(&perms, 1.3);
        let held: Vec<(&str, &str)> = Held::ALL.iter().map(|k| (k.label(), k.colour())).collect();
        assert_distinct_in_grey(&held, 1.3);
        let dens: Vec<(&str, &str)> = Class::ALL
            .iter()
            .map(|c| (c.label(), class_colour(*c)))
            .collect();
        assert_distinct_in_grey(&dens, 1.3);
    }

    #[test]
    fn kinds_are_classified() {
        let p = huge_gaps();
        let kinds: Vec<Kind> = p.vmas.iter().map(Kind::of).collect();
        assert!(kinds.contains(&Kind::File));
        assert!(kinds.contains(&Kind::Heap));
        assert!(kinds.contains(&Kind::Stack));
        assert!(kinds.contains(&Kind::Anon));
        assert!(kinds.contains(&Kind::Kernel));
        let mut shm = vma(0x1000, 0x2000, "rw-s", 0, file("/SYSV00000001", true));
        shm.status |= vma_status::SYSVIPC;
        assert_eq!(Kind::of(&shm), Kind::SysV);
        let mut mfd = vma(0x1000, 0x2000, "rw-s", 0, file("/memfd:x", true));
        mfd.status |= vma_status::MEMFD;
        assert_eq!(Kind::of(&mfd), Kind::Memfd);
        assert_eq!(
            Kind::of(&vma(0x1000, 0x2000, "rw-s", 0, VmaName::Anon)),
            Kind::Shared
        );
    }

    fn finding(address: u64, label: &str, anchor: Option<&str>) -> Mark {
        Mark {
            address,
            len: 0,
            label: label.to_string(),
            anchor: anchor.map(str::to_string),
            kind: MarkKind::Finding,
        }
    }

    fn changed(address: u64) -> Mark {
        Mark {
            address,
            len: PAGE_SIZE,
            label: "changed".to_string(),
            anchor: None,
            kind: MarkKind::Changed,
        }
    }

    /// 5000 mappings shaped like the maps of a process that has that many (a JVM or a server
    /// with a thousand threads): 200 libraries of four mappings (43-character paths), 1800
    /// thread stacks each below its guard page, 400 anonymous arenas, a gap after every tenth
    /// mapping; a page in three dumped; 200 findings and 2000 changed pages. With
    /// `distinct_names`, every mapping maps its own file (51-character paths) and a gap
    /// follows every other one: the worst case for the size.
    fn big_process(distinct_names: bool) -> (Process, Vec<Mark>) {
        let mut vmas = Vec::new();
        let mut mem = Vec::new();
        let mut at = 0x7f12_0000_0000u64;
        for i in 0..5000u64 {
            let (perms, name, len) = if distinct_names {
                let n = format!("/usr/lib/x86_64-linux-gnu/libplugin{i:05}.so.1.2.3");
                ("r--p", file(&n, false), 0x3000)
            } else if i < 800 {
                let lib = format!("/usr/lib/x86_64-linux-gnu/libmodule{:03}.so.6", i / 4);
                let perms = ["r--p", "r-xp", "r--p", "rw-p"][(i % 4) as usize];
                (perms, file(&lib, false), 0x1000 * (1 + i % 7))
            } else if i < 4400 {
                if i % 2 == 0 {
                    ("---p", VmaName::Anon, 0x1000)
                } else {
                    ("rw-p", VmaName::Anon, 0x80_0000)
                }
            } else {
                ("rw-p", VmaName::Anon, 0x10_0000 * (1 + i % 3))
            };
            vmas.push(vma(at, at + len, perms, 0, name));
            if i % 3 == 0 {
                mem.push((at, vec![(i % 251) as u8; 4096]));
            }
            let gap_every = if distinct_names { 2 } else { 10 };
            at += len
                + if i % gap_every == 0 {
                    0x1000 * (1 + i % 300)
                } else {
                    0
                };
        }
        let starts: Vec<u64> = vmas.iter().map(|v| v.start).collect();
        let marks = (0..200usize)
            .map(|i| finding(starts[i * 25], "yara: rule_x", Some(&format!("f{i}"))))
            .chain((0..2000usize).map(|i| changed(starts[i * 2])))
            .collect();
        (process(42, vmas, mem), marks)
    }

    #[test]
    fn five_thousand_mappings_stay_under_one_and_a_half_megabytes() {
        let (p, marks) = big_process(false);
        let html = address_map(&p, &[], &marks, "");
        assert!(html.len() < 1_500_000, "{} bytes", html.len());
        assert_eq!(rects(&html).len(), 5000);
        // Every mapping with its own long name: still bounded by the same per-mapping cost.
        let (p, marks) = big_process(true);
        let html = address_map(&p, &[], &marks, "");
        assert!(html.len() < 2_500_000, "{} bytes", html.len());
        assert_eq!(rects(&html).len(), 5000);
    }

    #[test]
    fn no_panic_on_odd_models() {
        // No mapping at all.
        let p = process(1, Vec::new(), Vec::new());
        let html = address_map(&p, &[], &[finding(0x1000, "x", None)], "");
        assert!(html.contains("no mapping"), "{html}");
        assert!(html.contains("</table>"));
        // End below start, overlapping, duplicate starts, a mapping at the top of the space,
        // marks outside everything and at the very end.
        let vmas = vec![
            vma(0x5000, 0x1000, "rw-p", 0, VmaName::Anon),
            vma(0x10000, 0x30000, "rw-p", 0, VmaName::Anon),
            vma(0x20000, 0x40000, "r--p", 0, VmaName::Anon),
            vma(0x20000, 0x21000, "r--p", 0, VmaName::Anon),
            vma(u64::MAX - 0xfff, u64::MAX, "r--p", 0, VmaName::Anon),
            vma(0, 0, "r--p", 0, VmaName::Anon),
        ];
        let p = process(2, vmas, vec![(0x10000, vec![1; 0x30000])]);
        let marks = vec![
            finding(0x8, "before", None),
            finding(0x25000, "inside", Some("a1")),
            changed(0x3f000),
            finding(u64::MAX, "last", None),
            changed(0x50_0000),
        ];
        let html = address_map(&p, &[(0x3000, 0x4000), (0x10000, 0x11000)], &marks, "c2-");
        assert_eq!(rects(&html).len(), 6);
        assert!(html.contains(r#"id="c2-vma-2-20000""#));
        assert!(html.contains(r#"id="c2-vma-2-20000-2""#));
        assert!(html.contains("Marks outside every mapping"));
        assert!(html.contains(r##"<a href="#a1"><path id="map-a1""##));
    }

    #[test]
    fn dumped_filled_and_absent_pages_are_told_apart() {
        // One 16-page mapping: pages 0-3 dumped, 4-7 filled from the file, the rest absent.
        let v = vma(0x100000, 0x110000, "r--p", 0, file("/usr/lib/a.so", false));
        let p = process(3, vec![v], vec![(0x100000, vec![b'a'; 0x8000])]);
        let html = address_map(&p, &[(0x104000, 0x108000)], &[], "");
        let lane = |h: Held| format!(r#"<path stroke="{}" stroke-width="4" d="M"#, h.colour());
        for h in Held::ALL {
            assert!(html.contains(&lane(h)), "{h:?} {html}");
        }
        assert!(html.contains("16 KiB dumped</title>"), "{html}");
        assert!(
            html.contains("<td>16 KiB (+16 KiB from file)<td>"),
            "{html}"
        );
        // Nothing held: one absent run, no dumped one.
        let p = process(
            3,
            vec![vma(0x100000, 0x110000, "rw-p", 0, VmaName::Anon)],
            Vec::new(),
        );
        let html = address_map(&p, &[], &[], "");
        assert!(html.contains(&lane(Held::Absent)));
        assert!(!html.contains(&lane(Held::Dumped)));
        assert!(html.contains("<td>—<td>"));
    }

    #[test]
    fn marks_are_drawn_at_their_addresses_and_escaped() {
        let v = vma(0x100000, 0x200000, "rwxp", 0, VmaName::Anon);
        let p = process(4, vec![v], vec![(0x100000, vec![0x90; 0x1000])]);
        let marks = vec![
            finding(0x180000, "<script>alert(1)</script>", Some("find\"x")),
            changed(0x1ff000),
        ];
        let html = address_map(&p, &[], &marks, "");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; at 0x180000"));
        assert!(html.contains(r##"<a href="#find&quot;x"><path id="map-find&quot;x""##));
        // The mark sits at the middle of the mapping's rect.
        let (_, x, w) = rects(&html)[0].clone();
        let mid = x + w / 2.0;
        let d = html.split(r#"id="map-find&quot;x" d="M"#).nth(1).unwrap();
        let mx: f64 = d.split(' ').next().unwrap().parse().unwrap();
        assert!(
            (mx + 4.0 - mid).abs() <= 1.0,
            "mark at {mx}, rect middle {mid}"
        );
        // The changed page is hatched at the mapping's right end.
        let hatch = html
            .split(r#"<path stroke="url(#hatch-4)" stroke-width="26" d="M"#)
            .nth(1)
            .unwrap();
        let hx: f64 = hatch.split(' ').next().unwrap().parse().unwrap();
        assert!(
            hx >= x + w - 2.5 && hx < x + w,
            "changed at {hx}, rect {x}+{w}"
        );
        assert!(html.contains("</a>; 1 changed (4 KiB)\n"), "{html}");
        // The table row links to the finding.
        assert!(html.contains(r##"<a href="#find&quot;x">&lt;script&gt;"##));
    }

    #[test]
    fn a_huge_mapping_costs_no_more_than_a_small_one() {
        let lo = 0x1000_0000_0000u64;
        let v = vma(lo, lo + (128u64 << 40), "rw-p", 0, VmaName::Anon);
        let chunks = (0..512u64)
            .map(|i| (lo + i * (1u64 << 38), vec![b'x'; 4096]))
            .collect();
        let p = process(5, vec![v], chunks);
        let html = address_map(&p, &[], &[], "");
        assert!(html.contains("<td>0.0 / 0.0; 100%<td>"), "{html}");
        assert!(html.len() < 20_000, "{}", html.len());
        assert_eq!(short_size(128u64 << 40), "128 TiB");
        assert_eq!(short_size(1536), "1.5 KiB");
        assert_eq!(short_size(4096), "4 KiB");
        assert_eq!(short_size(0), "0 B");
    }

    /// Every mapping of podman-kitchen (SysV segment, /dev/shm file, memfd, heap, stack, vdso,
    /// libraries) is drawn and has its row, whose kind agrees with the kernel's own maps line in
    /// the fixture's ground truth.
    #[test]
    fn fixture_kinds_agree_with_the_kernels_maps() {
        use crate::source::test_util::fixtures;
        use crate::source::{OpenOptions, open};
        let Some(fx) = fixtures() else { return };
        let dir = fx.join("podman-kitchen");
        let truth: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json")).unwrap()).unwrap();
        let cache = std::env::temp_dir().join(format!("ckptfs-addrmap-{}", std::process::id()));
        let src = open(
            &dir.join("checkpoint.tar.gz"),
            &OpenOptions {
                cache_dir: Some(cache.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        let ck = crate::model::load::load(src).unwrap();
        let _ = std::fs::remove_dir_all(&cache);
        let mut seen = std::collections::BTreeSet::new();
        for tp in truth["processes"].as_array().unwrap() {
            let pid = tp["ns_pids"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_u64()
                .unwrap() as u32;
            let p = ck.process(pid).unwrap();
            let html = address_map(p, ck.container_fs.filled(pid), &[], "");
            assert_eq!(rects(&html).len(), p.vmas.len());
            for line in tp["maps"].as_array().unwrap() {
                let line = line.as_str().unwrap();
                let f: Vec<&str> = line.split_whitespace().collect();
                let (lo, hi) = f[0].split_once('-').unwrap();
                let (lo, hi) = (
                    u64::from_str_radix(lo, 16).unwrap(),
                    u64::from_str_radix(hi, 16).unwrap(),
                );
                let name = f.get(5).copied().unwrap_or("");
                let want = match name {
                    "" => Kind::Anon,
                    "[heap]" => Kind::Heap,
                    "[stack]" => Kind::Stack,
                    "[vdso]" | "[vvar]" | "[vvar_vclock]" | "[vsyscall]" => Kind::Kernel,
                    n if n.starts_with("/SYSV") => Kind::SysV,
                    n if n.starts_with("/memfd:") => Kind::Memfd,
                    _ if f[1].ends_with('s') => Kind::Shared,
                    _ => Kind::File,
                };
                let row = format!(
                    r#"<tr id="vma-{pid}-{lo:x}-row"><td>{lo:x}-{hi:x}<td>{}<td>{:x}<td>{}"#,
                    f[1],
                    u64::from_str_radix(f[2], 16).unwrap(),
                    want.label()
                );
                assert!(html.contains(&row), "PID {pid}: {line}: no {row}");
                seen.insert(want.label());
            }
        }
        // The fixture has every kind.
        assert_eq!(seen.len(), Kind::ALL.len(), "{seen:?}");
    }
}
