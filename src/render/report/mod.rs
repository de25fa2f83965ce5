//! The case report: one self-contained HTML page (inline CSS and SVG, no network) for one or
//! more checkpoints, served as `report.html` (reachable by path, not listed) and written by
//! `ckptfs report`.
//!
//! One file per section of the page; each returns an HTML fragment built from the model:
//!
//! | section | source file |
//! |---|---|
//! | escaping and small HTML / SVG builders | `html.rs` |
//! | an address-space map of one process (SVG and its table) | `addrmap.rs` |
//! | the connections graph (SVG and its table) | `connections.rs` |

pub mod html;

/// A place in a process's memory the page marks on its address-space map (a finding, a
/// changed page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The first byte's virtual address.
    pub address: u64,
    /// How many bytes (0 for a point).
    pub len: u64,
    /// What is there, one line (shown on hover and in the table).
    pub label: String,
    /// The HTML id of the finding's row elsewhere on the page, when it has one (the map links
    /// to it and it links back).
    pub anchor: Option<String>,
    pub kind: MarkKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A triage or scan finding.
    Finding,
    /// A page that differs from the other dump of the same container.
    Changed,
}
