//! `ckptfs scan`: YARA rules and literal / regex IOCs over every process of one or many
//! checkpoints, each finding at its virtual address.
//!
//! ```text
//! CHECKPOINT   PID    COMM      ADDRESS          MAPPING                                        RULE     STRING                 CONTEXT
//! ck.tar.zst   8410   secretd   0x5ec100000000   5ec100000000-5ec100100000 rw-s /dev/zero (deleted)   string   SECRETD-SHM-PARENT-D4   SECRETD-SHM-PARENT-D4\x00\x00
//! ```
//!
//! What is scanned, and how:
//! - Every VMA of every process (PROT_NONE ones too: their dumped bytes are evidence), as the
//!   `PID/memory/<range>` file shows it: contiguous bytes from the VMA's start, the holes (memory
//!   that is not in the checkpoint) as zeros, so a match that crosses a page, a pagemap entry, a
//!   pages file or a parent dump is found whole. Bytes the checkpoint claims but cannot serve
//!   (broken extents) read as zeros too and are counted in a warning.
//! - In windows of [`WINDOW`] bytes that overlap the next by [`OVERLAP`] bytes and look
//!   [`LOOKBEHIND`] bytes back: a match belongs to the window it starts in (reported once), a
//!   match up to [`OVERLAP`] bytes long is found whole wherever it lies. A YARA rule's condition
//!   is evaluated per window, so in a VMA larger than a window a condition over several strings
//!   (`$a and $b`, counts, `filesize`) sees one window at a time. (A thread holds about a window of
//!   mapped pages and its buffer; 8 MiB keeps `scan` at `-j 2` under 64 MiB: docs/performance.md,
//!   row 10.) A window with no dumped byte
//!   is not scanned (a reserved, never touched range: nothing there but zeros).
//! - The resident set stays bounded: a window inside one mapped slice of a pages file is scanned
//!   in place and its pages are released afterwards ([`crate::source::blob::release`]); any
//!   other window is assembled into one reused buffer, the mapped pages copied into it released
//!   every `engine::COPY_RELEASE` bytes.
//! - Without YARA rules, when no IOC can match a zero byte (a literal without `\0`, a regex none
//!   of whose literals and classes holds `\0` and without look-around assertions), no match lies
//!   in a hole or crosses one: then only the dumped bytes of each window are searched, in place,
//!   each data run on its own (the one-page runs of a fragmented dump in batches of their pages
//!   file, as `memparse --search`), with the same windows, matches and contexts as above.
//! - Every other file of the tree that holds checkpoint bytes, whole, by its path in the tree:
//!   `buffers/` (unread pipe, FIFO and socket data), `checkpoint/` (the metadata files, the
//!   container log, the images not shown decoded elsewhere) and, with `--rootfs-files`,
//!   `rootfs/`.
//! - Shared memory (`MAP_SHARED`: anonymous shared, memfd, SysV, files such as `/dev/shm/*`,
//!   whose pages come from Podman's `devshm-checkpoint.tar`) is scanned once per object and
//!   range, and each finding in it names every process that maps it, with the address in each.
//! - Several checkpoints are scanned in parallel (`-j`); when there are fewer checkpoints than
//!   jobs, the VMAs of one checkpoint are shared out between threads, a VMA holding more than
//!   `engine::PART` dumped bytes (a JVM or Go heap) in parts of whole windows.
//!
//! Literal `--string` IOCs are found at every address where they occur (overlapping occurrences
//! included, as `memparse --search`); `--regex` IOCs match raw bytes (Unicode off, `.` is any byte
//! but `\n`), leftmost-first and non-overlapping, as `memparse --search-regex`.
//!
//! `--diff A B`: the findings of B that A lacks (`new`) and those of A that B lacks (`gone`),
//! matched by rule, string and address.
//!
//! The rooms, one concern each: `matchers` (IOCs, YARA-X rules, one thread's scanner), `units`
//! (which VMAs are scanned, a shared range once, and the tree's other files), `engine` (windows,
//! the dumped-bytes-only search, parts of a large VMA, files in the same windows), `checkpoint`
//! (one checkpoint's parts shared out between threads), `merge` (one finding per match, sorted),
//! `output` (table, JSON, JSON lines), `diff` (`--diff`) and `input` (checkpoints under
//! directories). Addresses and offsets are `u64` until they are printed.
//!
//! Exit status: 0 no match, 1 matches, 2 error (a checkpoint that cannot be read, bad rules or
//! patterns; with bad rules or patterns nothing is scanned).

mod checkpoint;
mod diff;
mod engine;
mod input;
mod matchers;
mod merge;
mod output;
mod units;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::Error;
use crate::source::OpenOptions;

use crate::warning::Warnings;
pub use checkpoint::{Options, scan_checkpoint};
pub use input::expand;
pub use matchers::{Ioc, Matchers};
pub use units::{mapping_text, shared_object};

/// Bytes of a scan window (the overlap and look-behind come on top).
pub const WINDOW: u64 = 8 << 20;
/// The longest match found whole across a window boundary; windows overlap by this much.
pub const OVERLAP: u64 = 64 << 10;
/// Bytes before a window given as context (regex look-behind assertions; matches starting there
/// belong to the previous window).
pub const LOOKBEHIND: u64 = 64;

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One row per finding (checkpointctl-style table)
    #[default]
    Table,
    /// One JSON array of findings
    Json,
    /// One JSON object per finding and line
    Jsonl,
}

/// What `ckptfs scan` is asked to do (the command line's arguments are in `cli/views.rs`).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Checkpoints, or directories holding checkpoints.
    pub paths: Vec<PathBuf>,
    /// YARA rule files, directories of them (`*.yar`, `*.yara`), or one file of compiled rules.
    pub rules: Vec<PathBuf>,
    /// Literal string IOCs.
    pub strings: Vec<String>,
    /// Regex IOCs.
    pub regexes: Vec<String>,
    /// IOC files (one IOC a line: `re:REGEX`, `str:TEXT` or TEXT; `#` comments).
    pub ioc_files: Vec<PathBuf>,
    pub format: Format,
    /// Threads (checkpoints scanned in parallel); None: the number of CPUs.
    pub jobs: Option<usize>,
    /// Bytes of context on each side of a match.
    pub context: usize,
    /// Also scan the files of `rootfs/` (the container's changed files, ghost files, /dev/shm).
    pub rootfs_files: bool,
    /// Two checkpoints A B: only the findings new in B and those gone from A.
    pub diff: bool,
}

/// A process that sees a finding, and where.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Seen {
    pub pid: u32,
    pub comm: String,
    /// The match's virtual address in this process (`0x...` in the output).
    #[serde(serialize_with = "hex")]
    pub address: u64,
    /// The VMA, as a `maps` line: `start-end perms path`.
    pub mapping: String,
}

/// A shared-memory object a finding lies in.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Shared {
    /// `shmem:<shmid>` (anonymous shared), `memfd:<shmid>`, `sysv:<shmid>`, `file:<path>`.
    pub object: String,
    /// The match's offset in the object (`0x...` in the output).
    #[serde(serialize_with = "hex")]
    pub offset: u64,
}

/// One finding: one match of one rule string (or IOC) at one place. The field names are stable
/// (documented in `docs/views.md`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The checkpoint as given (or as found under a directory given).
    pub checkpoint: String,
    /// The container's name, when the checkpoint's metadata has one.
    pub container: Option<String>,
    /// What the match lies in: `memory` (a process's memory), `buffer` (unread pipe, FIFO or
    /// socket data), `checkpoint` (a metadata file of the checkpoint, the container log) or
    /// `rootfs` (a file of `rootfs/`, `--rootfs-files`).
    #[serde(rename = "where")]
    pub where_: &'static str,
    /// The file the match lies in, as the mount's tree names it (relative to the mount point):
    /// `PID/memory/<range>`, `buffers/<name>`, `checkpoint/<name>`, `rootfs/<path>`.
    pub path: String,
    /// The SHA-256 of the input the finding comes from (an archive's own hash; a directory's
    /// `checkpoint/manifest.sha256` hash); null when it cannot be read.
    pub sha256: Option<String>,
    /// For a match in a file of `rootfs/` (`--rootfs-files`): its path in the container; else
    /// null. Outside memory `address` is the offset in the file and `pid` null.
    pub file: Option<String>,
    /// The first process that sees the match (lowest PID); null outside memory.
    pub pid: Option<u32>,
    pub comm: String,
    /// The match's virtual address in `pid` (`0x...` in the output).
    #[serde(serialize_with = "hex")]
    pub address: u64,
    /// Matched bytes.
    pub length: usize,
    /// The VMA in `pid`, as a `maps` line.
    pub mapping: String,
    /// The YARA rule, or `string` / `regex` for an IOC.
    pub rule: String,
    /// The YARA string identifier (`$a`), or the IOC as given.
    pub string: String,
    /// The match with `--context` bytes on each side, escaped: printable ASCII as is, `\\`,
    /// other bytes `\xNN`; a match longer than 64 bytes shown as its first 64 and `...`.
    pub context: String,
    /// Every PID that sees the match (shared memory: all that map it), ascending.
    pub pids: Vec<u32>,
    /// Each process that sees the match, with its address and VMA (one entry for private memory).
    pub processes: Vec<Seen>,
    /// For shared memory: the object and the offset in it; `null` for private memory.
    pub shared: Option<Shared>,
    /// `--diff`: `new` (in the second checkpoint only) or `gone` (in the first only); absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'static str>,
}

/// An address or offset as the output shows it: `0x` and lowercase hex digits.
fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:#x}"))
}

/// What scanning one checkpoint gave.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Problems that did not stop the scan (unreadable ranges), one line each.
    pub warnings: Warnings,
}

/// Runs the scan, writing findings to `out`; returns 0 (no match), 1 (matches) or 2 (some
/// checkpoint could not be scanned; reported on stderr). Bad rules or IOCs, and paths that do
/// not exist, are an error before anything is scanned.
pub fn run(
    args: &Request,
    open: &OpenOptions,
    out: &mut dyn Write,
    tty: bool,
) -> Result<i32, Error> {
    let m = Matchers::from_request(args)?;
    let cks = expand(&args.paths)?;
    if args.diff {
        return diff::run(args, &m, &cks, open, out);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let workers = jobs.min(cks.len()).max(1);
    let inner = (jobs / workers).max(1);
    let bytes_bar = tty.then(|| {
        let b = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let style = indicatif::ProgressStyle::with_template(
            "scanning [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        b.set_style(style);
        b
    });
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Outcome, Error>)>();
    let mut status = 0;
    let mut json_first = true;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let multi = cks.len() > 1;
    let result = std::thread::scope(|s| -> Result<(), Error> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (cks, m, next, bytes_bar) = (&cks, &m, &next, &bytes_bar);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = cks.get(i) else { break };
                    let progress = |n: u64| {
                        if let Some(b) = bytes_bar {
                            b.inc(n);
                        }
                    };
                    let on_units = |n: u64| {
                        if let Some(b) = bytes_bar {
                            b.inc_length(n);
                        }
                    };
                    let r = scan_path(path, open, m, args, inner, &progress, &on_units);
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Results in input order, each written as soon as those before it are.
        let mut pending: BTreeMap<usize, Result<Outcome, Error>> = BTreeMap::new();
        let mut want = 0usize;
        output::begin(out, args.format)?;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                want += 1;
                match r {
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        if let Some(b) = &bytes_bar {
                            b.suspend(|| eprintln!("{e}"));
                        } else {
                            eprintln!("{e}");
                        }
                    }
                    Ok(o) => {
                        for w in &o.warnings {
                            eprintln!("ckptfs: warning: {}: {w}", cks[want - 1].display());
                        }
                        if !o.findings.is_empty() {
                            status = 1;
                        }
                        output::write_findings(
                            out,
                            args.format,
                            &o.findings,
                            &mut json_first,
                            &mut rows,
                            multi,
                        )?;
                    }
                }
            }
        }
        Ok(())
    });
    if let Some(b) = &bytes_bar {
        b.finish_and_clear();
    }
    result?;
    let columns = &output::COLUMNS;
    let header = if multi { &columns[..] } else { &columns[1..] };
    output::end(out, args.format, json_first, header, &rows)?;
    if failed.load(Ordering::Relaxed) {
        return Ok(2);
    }
    Ok(status)
}

/// Loads the checkpoint at `path` and scans it.
pub(super) fn scan_path(
    path: &Path,
    open: &OpenOptions,
    m: &Matchers,
    args: &Request,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    on_units: &dyn Fn(u64),
) -> Result<Outcome, Error> {
    super::load(path, open).map(|mut ck| {
        // Podman's /dev/shm (devshm-checkpoint.tar) fills its shared mappings.
        if let Err(e) = crate::model::rootfs::attach(&mut ck, None) {
            eprintln!(
                "ckptfs: warning: {}: rootfs/ and /dev/shm: {e}",
                path.display()
            );
        }
        scan_checkpoint(
            &ck,
            &path.display().to_string(),
            m,
            &Options {
                context: args.context,
                threads,
                rootfs_files: args.rootfs_files,
            },
            progress,
            on_units,
        )
    })
}
