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
//!
//! | concern | source file |
//! |---|---|
//! | the scale: widths of mappings and gaps, where each lands on which row, marks by mapping | `layout.rs` |
//! | what a mapping is (kind, permission, held pages) and its colours; the legend | `style.rs` |
//! | the SVG figure: lanes, names, finding marks, the caption, the zoom handler | `svg.rs` |
//! | the table (the map's text alternative) | `table.rs` |

mod layout;
mod style;
mod svg;
mod table;

use super::Mark;
use crate::model::process::Process;

pub use layout::{gap_width, short_size, vma_id, vma_width};
pub use style::Kind;
pub use svg::{ZOOM, zoom_csp_source};

/// Width of a row of the map, pixels.
pub const WIDTH: u32 = 960;
/// The narrowest a mapping is drawn, pixels (at 4 KiB).
pub const MIN_WIDTH: u32 = 6;
/// Finding marks drawn one by one; more are counted in the caption.
pub const MAX_DRAWN_FINDINGS: usize = 1000;

/// The left and right margin of the drawing, pixels.
const MARGIN: u32 = 6;
/// Average width of a character of the 9 px labels, for fitting them.
const CHAR_W: f64 = 6.0;

/// The map (SVG) and the table of `p`'s mappings. See the module documentation.
pub fn address_map(p: &Process, filled: &[(u64, u64)], marks: &[Mark], scope: &str) -> String {
    let lay = layout::layout(p, marks, scope);
    let mut out = String::with_capacity(lay.placed.len() * 300 + 4096);
    let facts = svg::figure(&mut out, p, filled, &lay, scope);
    table::table(&mut out, p.pid, scope, &lay, &facts);
    out
}

#[cfg(test)]
mod tests;
