//! The scale and layout of the map: how wide a mapping and a gap are drawn (logarithmic in
//! pages), where each lands (address order, wrapped into rows of [`WIDTH`] pixels, a short map
//! widened to fill a row), the HTML id of each mapping, and which mapping holds each mark.
//! Sizes are printed here too ([`short_size`]), as the labels and the table show them.

use std::fmt::Write as _;

use super::super::{Mark, MarkKind};
use super::{MIN_WIDTH, WIDTH};
use crate::model::memory::PAGE_SIZE;
use crate::model::process::{Process, Vma};

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
pub(super) struct Placed<'a> {
    pub(super) v: &'a Vma,
    /// `v.end`, or `v.start` for a mapping whose end is below its start.
    pub(super) end: u64,
    pub(super) id: String,
    pub(super) row: u32,
    pub(super) x: u32,
    pub(super) w: u32,
}

/// One gap placed on the map.
pub(super) struct Gap {
    pub(super) lo: u64,
    pub(super) hi: u64,
    pub(super) row: u32,
    pub(super) x: u32,
    pub(super) w: u32,
}

/// The map's layout: every mapping and gap placed, and the marks by mapping.
pub(super) struct Layout<'a> {
    /// The mappings in address order.
    pub(super) placed: Vec<Placed<'a>>,
    pub(super) gaps: Vec<Gap>,
    /// How many rows the map takes.
    pub(super) rows: u32,
    /// The findings held by each mapping of `placed` (same index), in address order.
    pub(super) findings_in: Vec<Vec<&'a Mark>>,
    /// The changed pages held by each mapping of `placed` (same index), in address order.
    pub(super) changed_in: Vec<Vec<&'a Mark>>,
    /// Marks no mapping holds.
    pub(super) outside: Vec<&'a Mark>,
}

/// Places `p`'s mappings and gaps and assigns `marks` to them; ids prefixed with `scope`.
pub(super) fn layout<'a>(p: &'a Process, marks: &'a [Mark], scope: &str) -> Layout<'a> {
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
    Layout {
        placed,
        gaps,
        rows,
        findings_in,
        changed_in,
        outside,
    }
}
