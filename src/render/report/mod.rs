//! The case report: one self-contained HTML page (inline CSS and SVG, no network) for one or
//! more checkpoints, served as `report.html` (reachable by path, not listed) and written by
//! `ckptfs report`.
//!
//! One file per section of the page; each is a pure function from the model (and the plain data
//! the caller computed: scan findings, what changed between two dumps) to an HTML fragment.
//! Every value from a checkpoint goes through [`html::esc`]; a value the checkpoint does not
//! record is shown as [`NOT_RECORDED`], never as 0.
//!
//! | section | source file |
//! |---|---|
//! | the document: head, inline CSS (print too), table of contents | `page.rs` |
//! | escaping and small HTML / SVG builders | `html.rs` |
//! | the case: each input, its hash or manifest, engine, container, times, the command | `case.rs` |
//! | the process tree with command line, user, exe, threads, state, system call | `processes.rs` |
//! | triage and scan findings, each linked to its mark on the map | `findings.rs` |
//! | the timeline: an SVG chart and its table | `timeline.rs` |
//! | what changed between two dumps of one container | `changed.rs` |
//! | the address spaces: each process's map under its heading, marks placed | `maps.rs` |
//! | an address-space map of one process (SVG and its table): the entry point and its documentation; the scale and layout, the kinds, colours and legend, the drawing, the table | `addrmap/mod.rs`, `layout.rs`, `style.rs`, `svg.rs`, `table.rs` |
//! | the density of a mapping's bytes, sampled at a bounded cost | `density.rs` |
//! | the connections graph (SVG and its table): the entry points; under `connections/`, the facts gathered from the model, the drawing, the table | `connections.rs`, `connections/graph.rs`, `svg.rs`, `table.rs` |
//!
//! Stable ids (the page links to them, and tests find them): `proc-PID` (a process's row),
//! `finding-N` (the N-th finding of the page, from 1), and the maps' own ids; inputs after the
//! first prefix theirs with `cK-` (K the input's index, from 1).
//!
//! Bounded: no page's bytes are embedded, and every table is capped (the page says when).

pub mod addrmap;
pub mod case;
pub mod changed;
pub mod connections;
pub mod density;
pub mod findings;
pub mod html;
pub mod maps;
pub mod page;
pub mod processes;
#[cfg(test)]
mod testutil;
pub mod timeline;

use crate::model::Checkpoint;

pub use page::page;

/// What a value the checkpoint does not hold is shown as.
pub const NOT_RECORDED: &str = "not recorded";

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

/// A scan finding (`ckptfs scan`'s engine, run by the CLI), as the page shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanHit {
    /// The process that sees it (None outside memory).
    pub pid: Option<u32>,
    /// The virtual address (in memory) or the offset in the file.
    pub address: u64,
    pub length: u64,
    /// The YARA rule, or `string` / `regex`.
    pub rule: String,
    /// The rule's string identifier, or the IOC.
    pub string: String,
    /// The file of the tree it lies in (`PID/memory/RANGE`, `buffers/NAME`, ...).
    pub path: String,
    /// The match with context, already escaped as `scan` prints it.
    pub context: String,
}

/// One input of the report.
pub struct Input<'a> {
    /// The input as given (a path).
    pub label: String,
    pub ck: &'a Checkpoint,
    /// The triage findings ([`crate::render::triage::findings`]).
    pub triage: Vec<crate::render::triage::Finding>,
    /// Scan findings (empty when no rules or IOCs were given).
    pub scan: Vec<ScanHit>,
    /// The map's marks for what changed since the previous dump of the same container:
    /// (PID, mark).
    pub changed: Vec<(u32, Mark)>,
}

/// Everything one page shows.
pub struct Report<'a> {
    pub inputs: Vec<Input<'a>>,
    /// Inputs that could not be read: (input, why), one line each.
    pub failed: Vec<(String, String)>,
    /// The command that made the report (the CLI's, or the mount's).
    pub command: String,
    /// When the report was made (RFC 3339), if known.
    pub made: Option<String>,
    /// What changed between dumps of one container (pairs of inputs).
    pub changes: Vec<changed::Changes>,
    /// Scan was asked (rules or IOCs given): the page says "no matches" rather than leaving
    /// the scan out.
    pub scanned: bool,
}

/// The page of one checkpoint as a mount serves it (`report.html`): triage's findings, no scan,
/// nothing compared; `command` is the mount's.
pub fn single(ck: &Checkpoint, command: &str, made: Option<String>) -> String {
    page(&Report {
        inputs: vec![Input {
            label: ck.source.input.path.display().to_string(),
            ck,
            triage: crate::render::triage::findings(ck),
            scan: Vec::new(),
            changed: Vec::new(),
        }],
        failed: Vec::new(),
        command: command.to_string(),
        made,
        changes: Vec::new(),
        scanned: false,
    })
}

/// `args` as one line a shell would read back (single quotes where needed): the command a page
/// quotes.
pub fn shell_line<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> String {
    args.into_iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
            {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id prefix of input `k` (`""` for the first, `cK-` after it).
pub fn prefix(k: usize) -> String {
    if k == 0 {
        String::new()
    } else {
        format!("c{k}-")
    }
}
