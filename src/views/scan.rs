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
//!   (`$a and $b`, counts, `filesize`) sees one window at a time. (The window was 32 MiB until
//!   a thread holds about a window of mapped pages and its buffer, and 8 MiB keeps
//!   `scan` at `-j 2` under 64 MiB: docs/performance.md, rows 10.) A window with no dumped byte
//!   is not scanned (a reserved, never touched range: nothing there but zeros).
//! - The resident set stays bounded: a window inside one mapped slice of a pages file is scanned
//!   in place and its pages are released afterwards ([`crate::source::blob::release`]); any
//!   other window is assembled into one reused buffer, the mapped pages copied into it released
//!   every [`COPY_RELEASE`] bytes.
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
//!   whose pages come from Podman's `devshm-checkpoint.tar`) is scanned once per object and range, and each finding in it names every process that maps
//!   it, with the address in each.
//! - Several checkpoints are scanned in parallel (`-j`); when there are fewer checkpoints than
//!   jobs, the VMAs of one checkpoint are shared out between threads, a VMA holding more than
//!   [`PART`] dumped bytes (a JVM or Go heap) in parts of whole windows.
//!
//! Literal `--string` IOCs are found at every address where they occur (overlapping occurrences
//! included, as `memparse --search`); `--regex` IOCs match raw bytes (Unicode off, `.` is any byte
//! but `\n`), leftmost-first and non-overlapping, as `memparse --search-regex`.
//!
//! `--diff A B`: the findings of B that A lacks (`new`) and those of A that B lacks (`gone`),
//! matched by rule, string and address.
//!
//! Exit status: 0 no match, 1 matches, 2 error (a checkpoint that cannot be read, bad rules or
//! patterns; with bad rules or patterns nothing is scanned).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::search::{Batch, Match, Pattern, Span};
use super::{Error, write_out};
use crate::format::escape::escape_ascii as escape;
use crate::format::table;
use crate::model::Checkpoint;
use crate::model::memory::{Extent, ExtentData, Memory, Piece};
use crate::model::process::{Process, SharedObject, Vma, vma_status as vs};
use crate::source::blob::Releaser;
use crate::source::{Blob, OpenOptions};

/// Bytes of a scan window (the overlap and look-behind come on top).
pub const WINDOW: u64 = 8 << 20;
/// The longest match found whole across a window boundary; windows overlap by this much.
pub const OVERLAP: u64 = 64 << 10;
/// Bytes before a window given as context (regex look-behind assertions; matches starting there
/// belong to the previous window).
pub const LOOKBEHIND: u64 = 64;
/// Most bytes of a pages file searched in one pass when the holes are skipped (see
/// `scan_dumped`), then released: what a thread keeps mapped, unless one extent is longer.
const SCAN_BATCH: usize = 4 << 20;
/// Bytes copied into a window's buffer between two releases of the mapped pages they came from.
const COPY_RELEASE: usize = 1 << 20;
/// Longest part of a match shown in `context` (the rest is elided with `...`).
const MAX_SHOWN: usize = 64;
/// Directory depth searched for checkpoints under a directory given on the command line.
const MAX_DEPTH: usize = 4;

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

/// One literal or regex IOC.
pub struct Ioc {
    /// `string` or `regex`: the finding's rule.
    pub kind: &'static str,
    /// The IOC as given: the finding's string.
    pub text: String,
    pub pattern: Pattern,
}

/// What a scan looks for: IOCs and YARA rules (when built with the `yara` feature).
pub struct Matchers {
    pub iocs: Vec<Ioc>,
    #[cfg(feature = "yara")]
    pub rules: Option<yara_x::Rules>,
}

impl Matchers {
    /// The IOCs of a request (`--string`, `--regex`, `--ioc-file`); a bad one is an error naming
    /// it.
    pub fn from_request(args: &Request) -> Result<Matchers, Error> {
        let mut iocs = Vec::new();
        for s in &args.strings {
            iocs.push(ioc_string(s).map_err(|e| Error::input(format!("--string {s:?}: {e}")))?);
        }
        for r in &args.regexes {
            iocs.push(ioc_regex(r).map_err(|e| Error::input(format!("--regex {r:?}: {e}")))?);
        }
        for f in &args.ioc_files {
            let text = std::fs::read(f)
                .map_err(|e| Error::input(format!("{}: cannot read: {e}", f.display())))?;
            let text = String::from_utf8_lossy(&text);
            for (i, line) in text.lines().enumerate() {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let r = if let Some(re) = line.strip_prefix("re:") {
                    ioc_regex(re)
                } else {
                    ioc_string(line.strip_prefix("str:").unwrap_or(line))
                };
                iocs.push(r.map_err(|e| Error::input(format!("{}:{}: {e}", f.display(), i + 1)))?);
            }
        }
        #[cfg(feature = "yara")]
        let rules = yara::compile(&args.rules)?;
        #[cfg(feature = "yara")]
        let have_rules = rules.is_some();
        #[cfg(not(feature = "yara"))]
        let have_rules = if args.rules.is_empty() {
            false
        } else {
            return Err(Error::input(
                "--rules: this ckptfs was built without YARA support (the `yara` cargo feature)",
            ));
        };
        if iocs.is_empty() && !have_rules {
            return Err(Error::input(
                "nothing to look for: give --rules, --string, --regex or --ioc-file",
            ));
        }
        Ok(Matchers {
            iocs,
            #[cfg(feature = "yara")]
            rules,
        })
    }

    /// True when memory can be searched in its dumped bytes alone, the holes skipped: no YARA
    /// rules (their conditions and offsets see the window, zeros included) and every IOC
    /// [`Pattern::skips_zeros`] (a literal no longer than [`OVERLAP`]). Then no match lies in a
    /// hole or crosses one, and the matches, addresses and contexts are those of the window
    /// search with the holes as zeros (test `dumped_bytes_alone_find_what_the_windows_find`).
    fn dumped_only(&self) -> bool {
        #[cfg(feature = "yara")]
        if self.rules.is_some() {
            return false;
        }
        self.iocs.iter().all(|i| {
            i.pattern.skips_zeros()
                && match &i.pattern {
                    Pattern::Literal(f) => f.needle().len() as u64 <= OVERLAP,
                    Pattern::Regex(_) => true,
                }
        })
    }

    fn scanner(&self) -> Scanner<'_> {
        Scanner {
            m: self,
            dumped_only: self.dumped_only(),
            #[cfg(feature = "yara")]
            yara: self.rules.as_ref().map(|r| {
                let mut s = yara_x::Scanner::new(r);
                s.max_matches_per_pattern(yara::MAX_MATCHES);
                s
            }),
        }
    }
}

fn ioc_string(s: &str) -> Result<Ioc, String> {
    Ok(Ioc {
        kind: "string",
        text: s.to_string(),
        pattern: Pattern::literal(s.as_bytes())?,
    })
}

fn ioc_regex(s: &str) -> Result<Ioc, String> {
    Ok(Ioc {
        kind: "regex",
        text: s.to_string(),
        pattern: Pattern::regex(s)?,
    })
}

/// One thread's scanner.
struct Scanner<'m> {
    m: &'m Matchers,
    /// [`Matchers::dumped_only`].
    dumped_only: bool,
    #[cfg(feature = "yara")]
    yara: Option<yara_x::Scanner<'m>>,
}

/// A match in a window: rule, string, offset in the window buffer, length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Hit {
    rule: String,
    string: String,
    off: usize,
    len: usize,
}

impl Scanner<'_> {
    /// Every match in `buf` that starts at or after `from` and before `to`. A YARA rule that
    /// matches without a string match (a condition on something else) is a hit of length 0 at
    /// `from`. Scan errors (a rule's timeout) go to `warnings`.
    fn scan(
        &mut self,
        buf: &[u8],
        from: usize,
        to: usize,
        out: &mut Vec<Hit>,
        warnings: &mut Vec<String>,
    ) {
        #[cfg(feature = "yara")]
        if let Some(y) = &mut self.yara {
            yara::scan(y, buf, from, to, out, warnings);
        }
        #[cfg(not(feature = "yara"))]
        let _ = warnings;
        for ioc in &self.m.iocs {
            match &ioc.pattern {
                Pattern::Literal(f) => {
                    let mut p = from;
                    while p < to {
                        let Some(i) = f.find(&buf[p..]) else { break };
                        if p + i >= to {
                            break;
                        }
                        out.push(Hit {
                            rule: ioc.kind.into(),
                            string: ioc.text.clone(),
                            off: p + i,
                            len: f.needle().len(),
                        });
                        p += i + 1;
                    }
                }
                Pattern::Regex(re) => {
                    let mut at = from;
                    while at <= buf.len() {
                        let Some(m) = re.find_at(buf, at) else { break };
                        if m.start() >= to {
                            break;
                        }
                        if m.is_empty() {
                            at = m.end() + 1;
                            continue;
                        }
                        out.push(Hit {
                            rule: ioc.kind.into(),
                            string: ioc.text.clone(),
                            off: m.start(),
                            len: m.len(),
                        });
                        at = m.end();
                    }
                }
            }
        }
    }
}

#[cfg(feature = "yara")]
mod yara {
    //! YARA-X: compiling `--rules` and running them over a window.

    use std::path::{Path, PathBuf};

    use super::{Error, Hit};

    /// Matches kept per string and window (YARA-X's default is a million).
    pub const MAX_MATCHES: usize = 10_000;
    /// What `Rules::serialize` writes first (`yr compile` output).
    const COMPILED_MAGIC: &[u8] = b"YARA-X\0\0";

    /// The rules of `paths` (rule files, directories of `*.yar` / `*.yara`, or one file of
    /// compiled rules), compiled once; None without paths. Compiler errors are printed on
    /// stderr, one line each (`FILE:LINE:COLUMN: error[...]: ...`), and fail the whole run.
    pub fn compile(paths: &[PathBuf]) -> Result<Option<yara_x::Rules>, Error> {
        if paths.is_empty() {
            return Ok(None);
        }
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| Error::input(format!("{}: cannot read: {e}", p.display())))
        };
        if let [p] = paths
            && p.is_file()
        {
            let b = read(p)?;
            if b.starts_with(COMPILED_MAGIC) {
                return yara_x::Rules::deserialize(&b)
                    .map(Some)
                    .map_err(|e| Error::input(format!("{}: compiled rules: {e}", p.display())));
            }
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                rule_files(p, 0, &mut files)?;
                continue;
            }
            if !p.exists() {
                return Err(Error::input(format!("{}: no such rules file", p.display())));
            }
            files.push(p.clone());
        }
        if files.is_empty() {
            return Err(Error::input("--rules: no .yar or .yara file found"));
        }
        let mut texts = Vec::with_capacity(files.len());
        for f in &files {
            texts.push((f.display().to_string(), read(f)?));
        }
        let mut c = yara_x::Compiler::new();
        c.colorize_errors(false);
        for (name, text) in &texts {
            // Errors are collected by the compiler; all of them are shown below.
            let _ = c.add_source(yara_x::SourceCode::from(text.as_slice()).with_origin(name));
        }
        let errors = c.errors();
        if !errors.is_empty() {
            for e in errors {
                eprintln!("ckptfs: {}", one_line(&e.to_string()));
            }
            return Err(Error::input(format!(
                "{} error(s) in the rules; nothing scanned",
                errors.len()
            )));
        }
        Ok(Some(c.build()))
    }

    /// A compiler report (title, `--> file:line:col`, the source excerpt with a caret line) as
    /// one line: `file:line:col: title: what the caret says`.
    pub fn one_line(report: &str) -> String {
        let mut lines = report.lines();
        let title = lines.next().unwrap_or("").trim().to_string();
        let mut at = None;
        let mut note = None;
        for l in lines {
            let t = l.trim_start();
            if let Some(loc) = t.strip_prefix("--> ") {
                at.get_or_insert_with(|| loc.trim().to_string());
            } else if let Some(i) = t.find('^') {
                let text = t[i..].trim_start_matches(['^', '-', ' ']).trim();
                if !text.is_empty() {
                    note.get_or_insert_with(|| text.to_string());
                }
            }
        }
        let mut s = match at {
            Some(a) => format!("{a}: {title}"),
            None => title,
        };
        if let Some(n) = note {
            s.push_str(": ");
            s.push_str(&n);
        }
        crate::format::escape(&s).into_owned()
    }

    fn rule_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::input(format!("{}: cannot list: {e}", dir.display())))?;
        let mut v: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        v.sort();
        for p in v {
            if p.is_dir() {
                if depth < 8 {
                    rule_files(&p, depth + 1, out)?;
                }
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yar" | "yara")) {
                out.push(p);
            }
        }
        Ok(())
    }

    /// Runs the rules over `buf`; hits starting in `from..to` (see `Scanner::scan`).
    pub fn scan(
        y: &mut yara_x::Scanner<'_>,
        buf: &[u8],
        from: usize,
        to: usize,
        out: &mut Vec<Hit>,
        warnings: &mut Vec<String>,
    ) {
        let res = match y.scan(buf) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("YARA: {e}"));
                return;
            }
        };
        for r in res.matching_rules() {
            let rule = match r.namespace() {
                "default" => r.identifier().to_string(),
                ns => format!("{ns}:{}", r.identifier()),
            };
            let mut any = false;
            for p in r.patterns() {
                for m in p.matches() {
                    any = true;
                    let range = m.range();
                    if range.start >= from && range.start < to {
                        out.push(Hit {
                            rule: rule.clone(),
                            string: p.identifier().to_string(),
                            off: range.start,
                            len: range.len(),
                        });
                    }
                }
            }
            if !any {
                out.push(Hit {
                    rule,
                    string: String::new(),
                    off: from,
                    len: 0,
                });
            }
        }
    }
}

/// A hit placed in a unit: its address in the unit's VMA and its context text.
struct Located {
    hit: Hit,
    addr: u64,
    context: String,
}

/// A process that sees a finding, and where.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Seen {
    pub pid: u32,
    pub comm: String,
    /// The match's virtual address in this process (`0x...`).
    pub address: String,
    /// The VMA, as a `maps` line: `start-end perms path`.
    pub mapping: String,
}

/// A shared-memory object a finding lies in.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Shared {
    /// `shmem:<shmid>` (anonymous shared), `memfd:<shmid>`, `sysv:<shmid>`, `file:<path>`.
    pub object: String,
    /// The match's offset in the object (`0x...`).
    pub offset: String,
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
    /// The match's virtual address in `pid` (`0x...`).
    pub address: String,
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

/// What scanning one checkpoint gave.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Problems that did not stop the scan (unreadable ranges), one line each.
    pub warnings: Vec<String>,
}

/// A unit of work: one VMA of one process (for shared memory: the first process that maps that
/// range of the object), plus every process that maps the same range.
struct Unit<'c> {
    proc: &'c Process,
    vma: &'c Vma,
    object: Option<String>,
    /// (process, VMA) of every process that sees this range, the unit's own first.
    sharers: Vec<(&'c Process, &'c Vma)>,
    /// Dumped bytes in the VMA (progress).
    present: u64,
}

/// The shared-memory object behind a `MAP_SHARED` VMA, named for the output (the model's
/// [`Vma::shared_object`]); None for private memory (and an unresolved shared file).
pub fn shared_object(v: &Vma) -> Option<String> {
    Some(match v.shared_object()? {
        SharedObject::Shmem(id) if v.status & vs::SYSVIPC != 0 => format!("sysv:{id}"),
        SharedObject::Shmem(id) => format!("shmem:{id}"),
        SharedObject::Memfd(id) => format!("memfd:{id}"),
        SharedObject::File(path) => format!("file:{path}"),
    })
}

/// The units of a checkpoint: private VMAs each, shared ranges once.
fn units(ck: &Checkpoint) -> Vec<Unit<'_>> {
    let mut out: Vec<Unit<'_>> = Vec::new();
    let mut by_range: HashMap<(String, u64, u64), usize> = HashMap::new();
    for p in &ck.processes {
        for v in &p.vmas {
            if v.is_empty() {
                continue;
            }
            let present = p.memory.present_in(v.start, v.end);
            let object = shared_object(v);
            if let Some(o) = &object {
                let key = (o.clone(), v.pgoff, v.len());
                if let Some(&i) = by_range.get(&key) {
                    let u: &mut Unit<'_> = &mut out[i];
                    u.sharers.push((p, v));
                    // A process may hold pages of the object another did not (never both: then
                    // its copy is scanned).
                    if present > u.present {
                        u.proc = p;
                        u.vma = v;
                        u.present = present;
                    }
                    continue;
                }
                by_range.insert(key, out.len());
            }
            if present == 0 && object.is_none() {
                continue;
            }
            out.push(Unit {
                proc: p,
                vma: v,
                object,
                sharers: vec![(p, v)],
                present,
            });
        }
    }
    out.retain(|u| u.present > 0);
    out
}

/// A VMA as a `maps` line: `start-end perms path`.
pub fn mapping_text(v: &Vma) -> String {
    let name = crate::render::maps::vma_name(v);
    let mut s = format!("{:x}-{:x} {}", v.start, v.end, v.perms());
    if let Some(n) = name {
        s.push(' ');
        s.push_str(&n);
    }
    s
}

/// The window buffer `lo..hi` of `mem`: borrowed when one dumped slice covers it, else assembled
/// into `buf` (holes and broken ranges as zeros; broken bytes counted in `broken`).
fn window_bytes<'a>(
    mem: &'a Memory,
    lo: u64,
    hi: u64,
    buf: &'a mut Vec<u8>,
    broken: &mut u64,
) -> (&'a [u8], bool) {
    let i = mem.extents().partition_point(|e| e.end() <= lo);
    if let Some(Extent {
        start,
        data: ExtentData::Bytes(b),
        ..
    }) = mem.extents().get(i)
        && *start <= lo
        && mem.extents()[i].end() >= hi
    {
        let off = (lo - start) as usize;
        return (&b.bytes()[off..off + (hi - lo) as usize], true);
    }
    // Grown once per thread (a fill by `resize` is slow in unoptimised builds); each window
    // writes every byte of its part: data copied, holes and broken ranges zeroed by `fill`.
    let n = (hi - lo) as usize;
    if buf.len() < n {
        buf.resize(n, 0);
    }
    let out = &mut buf[..n];
    // One lookup, then a walk over the extents (a fragmented dump has one per page); the copied
    // pages are released in batches, not per extent, and every [`COPY_RELEASE`] bytes copied, so
    // a thread holds its buffer and little more.
    let mut rel = Releaser::new();
    let mut copied = 0;
    for (a, piece) in mem.pieces(lo, hi - lo) {
        let o = (a - lo) as usize;
        match piece {
            crate::model::memory::Piece::Data(d) => {
                out[o..o + d.len()].copy_from_slice(d);
                rel.add(d);
                copied += d.len();
                if copied >= COPY_RELEASE {
                    rel.flush();
                    copied = 0;
                }
            }
            crate::model::memory::Piece::Zeros(z) => out[o..o + z as usize].fill(0),
            crate::model::memory::Piece::Broken(_) => {
                let i = mem.extents().partition_point(|e| e.end() <= a);
                let end = mem.extents().get(i).map_or(hi, |e| e.end().min(hi));
                out[o..(end - lo) as usize].fill(0);
                *broken += end - a;
            }
        }
    }
    (&buf[..n], false)
}

/// Dumped bytes a thread takes at a time: a VMA holding more is shared out between threads in
/// parts of whole windows (a JVM or Go heap is one VMA; scanned as one unit it kept one thread
/// busy while the others waited).
const PART: u64 = 64 << 20;

/// The parts of `range` (a unit's VMA, `present` dumped bytes) of `mem`, each a range of whole
/// windows (aligned to `range.start`, as [`scan_range`] places them) holding about `part` dumped
/// bytes; windows without a dumped byte are skipped over by a lookup, so a huge sparse
/// reservation costs what its data costs.
fn parts(
    mem: &Memory,
    range: std::ops::Range<u64>,
    present: u64,
    window: u64,
    part: u64,
) -> Vec<std::ops::Range<u64>> {
    let (start, end) = (range.start, range.end);
    if present <= part {
        return std::iter::once(start..end).collect();
    }
    let mut out = Vec::new();
    let (mut from, mut w, mut acc) = (start, start, 0u64);
    while w < end {
        match mem.next_data(w) {
            // The start of the window that holds the next dumped byte (never before `w`).
            Some(d) if d < end => w = start + (d - start) / window * window,
            _ => break,
        }
        let own_end = w.saturating_add(window).min(end);
        acc += mem.present_in(w, own_end);
        w = own_end;
        if acc >= part && w < end {
            out.push(from..w);
            from = w;
            acc = 0;
        }
    }
    out.push(from..end);
    out
}

/// What one part of a unit gave: findings (one per match, not yet merged across units), the
/// broken bytes scanned as zeros, scan errors with their window's start.
#[derive(Default)]
struct PartResult {
    out: Vec<Located>,
    broken: u64,
    errs: Vec<(u64, String)>,
}

/// Scans the windows of `part` of one unit's VMA.
fn scan_part(
    sc: &mut Scanner<'_>,
    u: &Unit<'_>,
    part: std::ops::Range<u64>,
    context: usize,
    buf: &mut Vec<u8>,
    progress: &dyn Fn(u64),
) -> PartResult {
    let mut r = PartResult::default();
    r.broken = scan_range(
        sc,
        &u.proc.memory,
        u.vma.start..u.vma.end,
        part,
        WINDOW,
        context,
        buf,
        progress,
        &mut r.out,
        &mut r.errs,
    );
    r
}

/// Scans the windows of `range` of `mem` that start in `part` (all of them when `part` is
/// `range`) in windows of `window` bytes aligned to `range.start` (see the module's
/// documentation); returns the broken bytes scanned as zeros. Scan errors go to `errs` with their
/// window's start.
#[allow(clippy::too_many_arguments)]
fn scan_range(
    sc: &mut Scanner<'_>,
    mem: &Memory,
    range: std::ops::Range<u64>,
    part: std::ops::Range<u64>,
    window: u64,
    context: usize,
    buf: &mut Vec<u8>,
    progress: &dyn Fn(u64),
    out: &mut Vec<Located>,
    errs: &mut Vec<(u64, String)>,
) -> u64 {
    let mut broken = 0u64;
    let mut hits = Vec::new();
    let mut whole = std::collections::HashSet::new();
    let mut w = part.start;
    while w < part.end.min(range.end) {
        let own_end = w.saturating_add(window).min(range.end);
        let lo = w.saturating_sub(LOOKBEHIND).max(range.start);
        let hi = own_end.saturating_add(OVERLAP).min(range.end);
        let present = mem.present_in(w, own_end);
        if mem.present_in(lo, hi) > 0 && sc.dumped_only {
            let win = Window { w, own_end, lo, hi };
            scan_dumped(sc.m, mem, &win, context, buf, &mut broken, out);
        } else if mem.present_in(lo, hi) > 0 {
            let (bytes, mapped) = window_bytes(mem, lo, hi, buf, &mut broken);
            hits.clear();
            let mut e = Vec::new();
            sc.scan(
                bytes,
                (w - lo) as usize,
                (own_end - lo) as usize,
                &mut hits,
                &mut e,
            );
            errs.extend(e.into_iter().map(|e| (w, e)));
            for h in hits.drain(..) {
                // A rule that matched without a string: once per VMA.
                if h.len == 0 && !whole.insert(h.rule.clone()) {
                    continue;
                }
                let addr = lo + h.off as u64;
                let context = context_text(bytes, h.off, h.len, context);
                out.push(Located {
                    hit: h,
                    addr,
                    context,
                });
            }
            if mapped {
                crate::source::blob::release(bytes);
            }
        }
        progress(present);
        w = own_end;
    }
    broken
}

/// The match at `off..off + len` of `b` with `context` bytes on each side, escaped.
fn context_text(b: &[u8], off: usize, len: usize, context: usize) -> String {
    let lo = off.saturating_sub(context);
    let end = (off + len).min(b.len());
    let shown_end = end.min(off + MAX_SHOWN);
    context_join(
        &b[lo..shown_end],
        shown_end < end,
        &b[end..(end + context).min(b.len())],
    )
}

/// The context before a match and its shown part, `...` when the match is cut, the context
/// after it: escaped.
fn context_join(head: &[u8], cut: bool, tail: &[u8]) -> String {
    let mut s = escape(head);
    if cut {
        s.push_str("...");
    }
    s.push_str(&escape(tail));
    s
}

/// One window of a VMA: matches belong to it when they start in `w..own_end`; it holds the bytes
/// `lo..hi` (look-behind and overlap included).
struct Window {
    w: u64,
    own_end: u64,
    lo: u64,
    hi: u64,
}

/// The bytes of `mem` at `a..b`, holes and broken ranges as zeros, appended to `v`.
fn read_zeros(mem: &Memory, a: u64, b: u64, v: &mut Vec<u8>, rel: &mut Releaser) {
    if a >= b {
        return;
    }
    for (pa, p) in mem.pieces(a, b - a) {
        match p {
            Piece::Data(d) => {
                v.extend_from_slice(d);
                rel.add(d);
            }
            Piece::Zeros(n) => v.resize(v.len() + n as usize, 0),
            Piece::Broken(_) => {
                let i = mem.extents().partition_point(|e| e.end() <= pa);
                let end = mem.extents().get(i).map_or(b, |e| e.end().min(b));
                v.resize(v.len() + (end - pa) as usize, 0);
            }
        }
    }
}

/// The IOCs' matches in window `win` of `mem`, searched in its dumped bytes only (when
/// [`Matchers::dumped_only`]): each data run of the window (address-adjacent extents, clipped to
/// `w..hi`) is searched on its own, as the window search with the holes as zeros would find it.
/// Runs of one extent whose bytes follow each other in a pages file (a fragmented dump: one per
/// pagemap entry) are searched as one slice, each hit mapped back to its run and dropped when it
/// crosses into the next ([`Batch`], as `memparse --search` does); a run of several extents is
/// copied into `buf`. The context is read from memory within `lo..hi`, holes as zeros, as the
/// window shows it. Broken bytes in `lo..hi` are counted in `broken`, as the window search counts
/// them. The pages read are released by the end of the window.
fn scan_dumped(
    m: &Matchers,
    mem: &Memory,
    win: &Window,
    context: usize,
    buf: &mut Vec<u8>,
    broken: &mut u64,
    out: &mut Vec<Located>,
) {
    let ext = mem.extents();
    let mut rel = Releaser::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut found: Vec<(usize, Match)> = Vec::new();
    // The pending batch: its first and last blobs, where it starts in the first and ends in the
    // last (byte offsets in each).
    let mut batch: Option<(&Blob, usize, &Blob, usize)> = None;
    let search = |h: &[u8], spans: &[Span], found: &mut Vec<(usize, Match)>| {
        let b = Batch { spans, h };
        let mut v = Vec::new();
        for (k, ioc) in m.iocs.iter().enumerate() {
            v.clear();
            b.find(&ioc.pattern, &mut v);
            found.extend(v.iter().filter(|x| x.addr < win.own_end).map(|&x| (k, x)));
        }
    };
    let flush = |batch: &mut Option<(&Blob, usize, &Blob, usize)>,
                 spans: &mut Vec<Span>,
                 found: &mut Vec<(usize, Match)>,
                 rel: &mut Releaser| {
        if let Some((first, a, last, b)) = batch.take()
            && let Some(t) = first.through(last)
        {
            let h = &t[a..t.len() - (last.len() - b)];
            search(h, spans, found);
            rel.add(h);
            // A batch of one pages file is released as soon as it is searched: with the
            // window's other pages pending, a thread would hold twice as much.
            if h.len() >= SCAN_BATCH / 2 {
                rel.flush();
            }
        }
        spans.clear();
    };
    let mut k = ext.partition_point(|e| e.end() <= win.lo);
    while k < ext.len() && ext[k].start < win.hi {
        let e = &ext[k];
        let ExtentData::Bytes(blob) = &e.data else {
            *broken += e.end().min(win.hi) - e.start.max(win.lo);
            k += 1;
            continue;
        };
        // The run: address-adjacent data extents from `k`.
        let mut j = k + 1;
        while j < ext.len()
            && ext[j].start < win.hi
            && ext[j].start == ext[j - 1].end()
            && matches!(ext[j].data, ExtentData::Bytes(_))
        {
            j += 1;
        }
        let (s, t) = (e.start.max(win.w), ext[j - 1].end().min(win.hi));
        if s >= t {
            k = j;
            continue;
        }
        if j == k + 1 {
            let (a, b) = ((s - e.start) as usize, (t - e.start) as usize);
            let total = spans.last().map_or(0, |x| x.end);
            let joins = matches!(batch, Some((_, _, last, lb))
                if lb == last.len() && a == 0 && last.is_followed_by(blob)
                    && total + (b - a) <= SCAN_BATCH);
            if !joins {
                flush(&mut batch, &mut spans, &mut found, &mut rel);
            }
            let off = spans.last().map_or(0, |x| x.end);
            spans.push(Span {
                off,
                end: off + (b - a),
                addr: s,
            });
            batch = Some(match batch {
                Some((first, fa, _, _)) if joins => (first, fa, blob, b),
                _ => (blob, a, blob, b),
            });
        } else {
            flush(&mut batch, &mut spans, &mut found, &mut rel);
            buf.clear();
            read_zeros(mem, s, t, buf, &mut rel);
            spans.push(Span {
                off: 0,
                end: buf.len(),
                addr: s,
            });
            search(buf, &spans, &mut found);
            spans.clear();
        }
        k = j;
    }
    flush(&mut batch, &mut spans, &mut found, &mut rel);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    for (i, x) in found {
        let ioc = &m.iocs[i];
        // As `context_text` over the window's bytes.
        let end = (x.addr + x.len as u64).min(win.hi);
        let shown_end = end.min(x.addr + MAX_SHOWN as u64);
        head.clear();
        tail.clear();
        let from = x.addr.saturating_sub(context as u64).max(win.lo);
        read_zeros(mem, from, shown_end, &mut head, &mut rel);
        let to = end.saturating_add(context as u64).min(win.hi);
        read_zeros(mem, end, to, &mut tail, &mut rel);
        out.push(Located {
            hit: Hit {
                rule: ioc.kind.into(),
                string: ioc.text.clone(),
                off: (x.addr - win.lo) as usize,
                len: x.len,
            },
            addr: x.addr,
            context: context_join(&head, shown_end < end, &tail),
        });
    }
}

/// Scans contiguous bytes (a file) in the same windows as a VMA; offsets as `addr`.
fn scan_slice(
    sc: &mut Scanner<'_>,
    bytes: &[u8],
    context: usize,
    warnings: &mut Vec<String>,
) -> Vec<Located> {
    let mut out = Vec::new();
    let mut hits = Vec::new();
    let mut whole = std::collections::HashSet::new();
    let len = bytes.len() as u64;
    let mut w = 0u64;
    while w < len {
        let own_end = w.saturating_add(WINDOW).min(len);
        let lo = w.saturating_sub(LOOKBEHIND);
        let hi = own_end.saturating_add(OVERLAP).min(len);
        let win = &bytes[lo as usize..hi as usize];
        sc.scan(
            win,
            (w - lo) as usize,
            (own_end - lo) as usize,
            &mut hits,
            warnings,
        );
        for h in hits.drain(..) {
            if h.len == 0 && !whole.insert(h.rule.clone()) {
                continue;
            }
            let context = context_text(win, h.off, h.len, context);
            out.push(Located {
                addr: lo + h.off as u64,
                hit: h,
                context,
            });
        }
        crate::source::blob::release(win);
        w = own_end;
    }
    out
}

/// How one checkpoint is scanned.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Bytes of context on each side of a match.
    pub context: usize,
    /// Threads sharing out the VMAs (large ones in parts).
    pub threads: usize,
    /// Also the files of `rootfs/`.
    pub rootfs_files: bool,
}

/// Scans one loaded checkpoint with `threads` threads.
pub fn scan_checkpoint(
    ck: &Checkpoint,
    shown: &str,
    m: &Matchers,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
    on_units: &dyn Fn(u64),
) -> Outcome {
    let Options {
        context,
        threads,
        rootfs_files,
    } = *opts;
    let units = units(ck);
    on_units(units.iter().map(|u| u.present).sum());
    // The work: each unit's parts, in address order (a large VMA is several).
    let work_items: Vec<(usize, std::ops::Range<u64>)> = units
        .iter()
        .enumerate()
        .flat_map(|(i, u)| {
            parts(
                &u.proc.memory,
                u.vma.start..u.vma.end,
                u.present,
                WINDOW,
                PART,
            )
            .into_iter()
            .map(move |r| (i, r))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, PartResult)>> = Mutex::new(Vec::new());
    let work = || {
        let mut sc = m.scanner();
        let mut buf = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((u, part)) = work_items.get(i) else {
                break;
            };
            let r = scan_part(
                &mut sc,
                &units[*u],
                part.clone(),
                context,
                &mut buf,
                progress,
            );
            lock(&results).push((i, r));
        }
    };
    let threads = threads.clamp(1, work_items.len().max(1));
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.0);
    // Warnings in the units' order, whichever thread scanned which part: the errors per window,
    // the broken bytes summed per VMA.
    let mut warnings = Vec::new();
    let mut broken = vec![0u64; units.len()];
    for (i, r) in &results {
        let u = &units[work_items[*i].0];
        for (w, e) in &r.errs {
            warnings.push(format!(
                "PID {} {} at {w:#x}: {e}",
                u.proc.pid,
                mapping_text(u.vma)
            ));
        }
        broken[work_items[*i].0] += r.broken;
    }
    for (u, b) in units.iter().zip(&broken) {
        if *b > 0 {
            warnings.push(format!(
                "PID {} {}: {b} bytes the checkpoint cannot serve were scanned as zeros",
                u.proc.pid,
                mapping_text(u.vma)
            ));
        }
    }
    let container = ck.meta.container_name.clone();
    // Merge: one finding per (object or process, offset or address, rule, string).
    let mut merged: BTreeMap<(String, u64, String, String), Finding> = BTreeMap::new();
    // A rule that matched without a string: once per VMA (each part reports it once).
    let mut whole: std::collections::HashSet<(usize, String)> = Default::default();
    for (i, r) in results {
        let ui = work_items[i].0;
        let u = &units[ui];
        for Located {
            hit: h,
            addr,
            context: ctx,
        } in r.out
        {
            if h.len == 0 && !whole.insert((ui, h.rule.clone())) {
                continue;
            }
            let rel = addr - u.vma.start;
            let mut seen: Vec<Seen> = u
                .sharers
                .iter()
                .map(|(p, v)| Seen {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    address: format!("{:#x}", v.start + rel),
                    mapping: mapping_text(v),
                })
                .collect();
            seen.sort_by_key(|s| s.pid);
            seen.dedup();
            let (key, pos, shared) = match &u.object {
                Some(o) => (
                    o.clone(),
                    u.vma.pgoff + rel,
                    Some(Shared {
                        object: o.clone(),
                        offset: format!("{:#x}", u.vma.pgoff + rel),
                    }),
                ),
                None => (format!("pid:{}", u.proc.pid), addr, None),
            };
            // The file in the tree: the lowest PID's memory/ file (the others' are links to it).
            let (low_pid, path) = u
                .sharers
                .iter()
                .min_by_key(|(p, _)| p.pid)
                .map(|(p, v)| {
                    (
                        p.pid,
                        format!("{}/memory/{}", p.pid, crate::fs::content::vma_file_name(v)),
                    )
                })
                .unwrap_or_default();
            let k = (key, pos, h.rule.clone(), h.string.clone());
            if let Some(f) = merged.get_mut(&k) {
                if f.processes.first().is_some_and(|s| low_pid < s.pid) {
                    f.path = path;
                }
                for s in seen {
                    if !f.processes.contains(&s) {
                        f.processes.push(s);
                    }
                }
                f.processes.sort_by_key(|s| s.pid);
                continue;
            }
            let first = seen[0].clone();
            merged.insert(
                k,
                Finding {
                    checkpoint: shown.to_string(),
                    container: container.clone(),
                    where_: "memory",
                    path,
                    sha256: None,
                    file: None,
                    pid: Some(first.pid),
                    comm: first.comm,
                    address: first.address,
                    length: h.len,
                    mapping: first.mapping,
                    rule: h.rule,
                    string: h.string,
                    context: ctx,
                    pids: Vec::new(),
                    processes: seen,
                    shared,
                    change: None,
                },
            );
        }
    }
    let mut findings: Vec<Finding> = merged
        .into_values()
        .map(|mut f| {
            let mut pids: Vec<u32> = f.processes.iter().map(|s| s.pid).collect();
            pids.dedup();
            f.pids = pids;
            let first = &f.processes[0];
            f.pid = Some(first.pid);
            f.comm = first.comm.clone();
            f.address = first.address.clone();
            f.mapping = first.mapping.clone();
            f
        })
        .collect();
    findings.sort_by(|a, b| {
        (a.pid, addr_of(&a.address), &a.rule, &a.string).cmp(&(
            b.pid,
            addr_of(&b.address),
            &b.rule,
            &b.string,
        ))
    });
    // The other bytes the tree shows, each file whole: unread pipe / FIFO / socket data, the
    // checkpoint's metadata files and the container log, and (asked for) rootfs/.
    let mut files: Vec<(&'static str, String, Option<String>, Blob)> = Vec::new();
    for b in &ck.objects.buffers {
        files.push((
            "buffer",
            format!("buffers/{}", b.name),
            None,
            b.data.clone(),
        ));
    }
    // The images whose bytes the tree does not show decoded elsewhere (pages, ghost files and
    // buffers are: memory/, rootfs/, buffers/), and the metadata files but the layer and
    // /dev/shm tars (rootfs/).
    for (name, blob) in &ck.source.images.files {
        if !crate::fs::tree::shown_decoded(name, true) {
            files.push((
                "checkpoint",
                format!("checkpoint/images/{name}"),
                None,
                blob.clone(),
            ));
        }
    }
    for (name, blob) in &ck.source.metadata {
        if crate::fs::tree::shown_decoded(name, false) {
            continue;
        }
        files.push((
            "checkpoint",
            format!("checkpoint/{name}"),
            None,
            blob.clone(),
        ));
    }
    let mut warn = Vec::new();
    if rootfs_files {
        for (path, node) in ck.container_fs.rootfs.nodes() {
            let crate::model::rootfs::NodeKind::File(data) = &node.kind else {
                continue;
            };
            match data.blob() {
                Ok(b) => files.push((
                    "rootfs",
                    format!("rootfs/{path}"),
                    Some(format!("/{path}")),
                    b,
                )),
                Err(e) => warn.push(format!("rootfs/{path}: cannot read: {e}")),
            }
        }
    }
    let mut sc = m.scanner();
    for (where_, path, file, blob) in files {
        for l in scan_slice(&mut sc, blob.bytes(), context, &mut warn) {
            findings.push(Finding {
                checkpoint: shown.to_string(),
                container: container.clone(),
                where_,
                path: path.clone(),
                sha256: None,
                file: file.clone(),
                pid: None,
                comm: String::new(),
                address: format!("{:#x}", l.addr),
                length: l.hit.len,
                mapping: String::new(),
                rule: l.hit.rule,
                string: l.hit.string,
                context: l.context,
                pids: Vec::new(),
                processes: Vec::new(),
                shared: None,
                change: None,
            });
        }
    }
    warnings.extend(warn);
    if !findings.is_empty() {
        let sha = ck.source.input_sha256();
        for f in &mut findings {
            f.sha256.clone_from(&sha);
        }
    }
    Outcome { findings, warnings }
}

fn addr_of(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The checkpoints named by `paths`: each path that is a checkpoint itself, and the checkpoints
/// found under each directory that is not one (entries in name order, up to [`MAX_DEPTH`]
/// levels down; files that are not archives are skipped). A path that does not exist is an
/// error.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p)
            .map_err(|e| Error::input(format!("{}: cannot open: {e}", p.display())))?;
        if !md.is_dir() || crate::source::sniff(p).is_some() {
            out.push(p.clone());
            continue;
        }
        walk(p, 0, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Error::input(format!("{}: cannot list: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        match crate::source::sniff(&e) {
            Some(_) => out.push(e),
            None if depth + 1 < MAX_DEPTH && e.is_dir() => walk(&e, depth + 1, out)?,
            None => log::debug!("{}: not a checkpoint; skipped", e.display()),
        }
    }
    Ok(())
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
        return run_diff(args, &m, &cks, open, out);
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
        if args.format == Format::Json {
            write_out(out, b"[")?;
        }
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
                        write_findings(
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
    match args.format {
        Format::Json => write_out(out, if json_first { b"]\n" } else { b"\n]\n" })?,
        Format::Jsonl => {}
        Format::Table => {
            if !rows.is_empty() {
                let mut header = vec!["Checkpoint"];
                if !multi {
                    header.clear();
                }
                header.extend([
                    "PID", "Comm", "Address", "Mapping", "Rule", "String", "Context",
                ]);
                write_out(out, table::render(&header, &rows).as_bytes())?;
            }
        }
    }
    if failed.load(Ordering::Relaxed) {
        return Ok(2);
    }
    Ok(status)
}

/// Loads the checkpoint at `path` and scans it.
fn scan_path(
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

/// What matches a finding across two checkpoints: rule, string and address (for a file outside
/// memory, the offset in that file: its path too).
fn diff_key(f: &Finding) -> (String, String, String, String) {
    let file = if f.pid.is_some() {
        String::new()
    } else {
        f.path.clone()
    };
    (f.rule.clone(), f.string.clone(), f.address.clone(), file)
}

/// `scan A B --diff`: the findings of B that A does not have (`new`), then those of A that B
/// does not have (`gone`). Exit 0 when there is no difference, 1 when there is one.
fn run_diff(
    args: &Request,
    m: &Matchers,
    cks: &[PathBuf],
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let [a, b] = cks else {
        return Err(Error::usage(
            "--diff",
            format!("needs two checkpoints, got {}", cks.len()),
        ));
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let none = |_: u64| {};
    let mut scanned = Vec::new();
    for p in [a, b] {
        let o = scan_path(p, open, m, args, jobs, &none, &none)?;
        for w in &o.warnings {
            eprintln!("ckptfs: warning: {}: {w}", p.display());
        }
        scanned.push(o.findings);
    }
    let gone_from = scanned.remove(0);
    let new_in = scanned.remove(0);
    let keys = |v: &[Finding]| -> std::collections::HashSet<_> { v.iter().map(diff_key).collect() };
    let (in_a, in_b) = (keys(&gone_from), keys(&new_in));
    let mut changes: Vec<Finding> = Vec::new();
    for mut f in new_in {
        if !in_a.contains(&diff_key(&f)) {
            f.change = Some("new");
            changes.push(f);
        }
    }
    for mut f in gone_from {
        if !in_b.contains(&diff_key(&f)) {
            f.change = Some("gone");
            changes.push(f);
        }
    }
    let mut json_first = true;
    let mut rows = Vec::new();
    if args.format == Format::Json {
        write_out(out, b"[")?;
    }
    write_findings(out, args.format, &changes, &mut json_first, &mut rows, true)?;
    match args.format {
        Format::Json => write_out(out, if json_first { b"]\n" } else { b"\n]\n" })?,
        Format::Jsonl => {}
        Format::Table => {
            if !rows.is_empty() {
                let header = [
                    "Change",
                    "Checkpoint",
                    "PID",
                    "Comm",
                    "Address",
                    "Mapping",
                    "Rule",
                    "String",
                    "Context",
                ];
                for (row, f) in rows.iter_mut().zip(&changes) {
                    row.insert(0, f.change.unwrap_or("").to_string());
                }
                write_out(out, table::render(&header, &rows).as_bytes())?;
            }
        }
    }
    Ok(i32::from(!changes.is_empty()))
}

fn write_findings(
    out: &mut dyn Write,
    format: Format,
    findings: &[Finding],
    json_first: &mut bool,
    rows: &mut Vec<Vec<String>>,
    multi: bool,
) -> Result<(), Error> {
    for f in findings {
        match format {
            Format::Json | Format::Jsonl => {
                let j = serde_json::to_string(f)
                    .map_err(|e| Error::input(format!("cannot encode a finding: {e}")))?;
                let sep: &[u8] = match (format, *json_first) {
                    (Format::Json, true) => b"\n",
                    (Format::Json, false) => b",\n",
                    _ => b"",
                };
                *json_first = false;
                write_out(out, sep)?;
                write_out(out, j.as_bytes())?;
                if format == Format::Jsonl {
                    write_out(out, b"\n")?;
                }
            }
            Format::Table => {
                let mut row = Vec::new();
                if multi {
                    row.push(f.checkpoint.clone());
                }
                let pids: Vec<String> = f.pids.iter().map(u32::to_string).collect();
                let (pids, comm, mapping) = if f.pid.is_none() {
                    // A file outside memory: its path in the tree where the mapping goes, the
                    // offset as address.
                    ("-".into(), "-".into(), f.path.clone())
                } else {
                    (pids.join(","), f.comm.clone(), f.mapping.clone())
                };
                row.extend([
                    pids,
                    comm,
                    f.address.clone(),
                    mapping,
                    f.rule.clone(),
                    f.string.clone(),
                    f.context.clone(),
                ]);
                rows.push(row);
            }
        }
    }
    Ok(())
}

/// Memmem over a window, for tests of the window logic.
#[cfg(test)]
fn find_literal(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    memchr::memmem::find_iter(hay, needle).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Blob;

    fn ext(start: u64, b: &Blob) -> Extent {
        Extent {
            start,
            len: b.len() as u64,
            data: ExtentData::Bytes(b.clone()),
        }
    }

    /// `--rules` takes compiled rules (`Rules::serialize`, what `yr compile` writes) as well as
    /// sources; a compiler report becomes one line with its place.
    #[cfg(feature = "yara")]
    #[test]
    fn compiled_rules_and_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let src = "rule r { strings: $a = \"KEY\" condition: $a }";
        let compiled = yara_x::compile(src).unwrap().serialize().unwrap();
        let f = dir.path().join("rules.yarc");
        std::fs::write(&f, &compiled).unwrap();
        let rules = yara::compile(&[f]).unwrap().unwrap();
        let m = Matchers {
            iocs: Vec::new(),
            rules: Some(rules),
        };
        let mut out = Vec::new();
        m.scanner()
            .scan(b"..KEY..KEY", 0, 10, &mut out, &mut Vec::new());
        let got: Vec<(&str, &str, usize)> = out
            .iter()
            .map(|h| (h.rule.as_str(), h.string.as_str(), h.off))
            .collect();
        assert_eq!(got, vec![("r", "$a", 2), ("r", "$a", 7)]);
        let report = "error[E009]: unknown identifier `foo`\n --> r.yar:9:21\n  |\n9 | rule x { condition: foo }\n  |                     ^^^ this identifier has not been declared\n";
        assert_eq!(
            yara::one_line(report),
            "r.yar:9:21: error[E009]: unknown identifier `foo`: this identifier has not been declared"
        );
    }

    #[test]
    fn escape_and_context() {
        assert_eq!(escape(b"a\\b\x00\xff~"), "a\\\\b\\x00\\xff~");
        let b = b"..xxKEYxx..";
        assert_eq!(context_text(b, 4, 3, 2), "xxKEYxx");
        assert_eq!(context_text(b, 0, 2, 5), "..xxKEY");
        let long = vec![b'A'; 100];
        let t = context_text(&long, 0, 100, 0);
        assert_eq!(t, format!("{}...", "A".repeat(64)));
    }

    #[test]
    fn window_bytes_borrows_or_assembles() {
        let a = Blob::from_vec(b"abcdefgh".to_vec());
        let c = Blob::from_vec(b"ABCD".to_vec());
        let (mem, _) = Memory::from_extents(vec![
            ext(0x1000, &a),
            ext(0x1010, &c),
            Extent {
                start: 0x1020,
                len: 4,
                data: ExtentData::Broken("gone".into()),
            },
        ]);
        let mut buf = Vec::new();
        let mut broken = 0;
        let (b, mapped) = window_bytes(&mem, 0x1002, 0x1006, &mut buf, &mut broken);
        assert!(mapped);
        assert_eq!(b, b"cdef");
        let (b, mapped) = window_bytes(&mem, 0x1006, 0x1024, &mut buf, &mut broken);
        assert!(!mapped);
        let mut want = b"gh".to_vec();
        want.extend([0; 8]);
        want.extend(b"ABCD");
        want.extend([0; 12]);
        want.extend([0; 4]);
        assert_eq!(b, &want[..]);
        assert_eq!(broken, 4);
        assert_eq!(find_literal(b, b"ABCD"), vec![10]);
        // A reused buffer: holes and broken bytes are zeroed again, not left from before.
        buf.fill(0xff);
        let (b, _) = window_bytes(&mem, 0x1006, 0x1024, &mut buf, &mut broken);
        assert_eq!(b, &want[..]);
    }

    /// A finding as a comparable row: address, length, rule, string, context.
    type Row = (u64, usize, String, String, String);

    fn rows(mut v: Vec<Located>) -> Vec<Row> {
        let mut r: Vec<_> = v
            .drain(..)
            .map(|l| (l.addr, l.hit.len, l.hit.rule, l.hit.string, l.context))
            .collect();
        r.sort();
        r
    }

    /// `range` of `mem` scanned in windows of `window` bytes, in the dumped bytes alone or with
    /// the holes as zeros: the findings and the broken bytes counted.
    fn scan_both(
        m: &Matchers,
        mem: &Memory,
        range: std::ops::Range<u64>,
        window: u64,
        context: usize,
    ) -> [(Vec<Row>, u64); 2] {
        [true, false].map(|dumped_only| {
            let mut sc = m.scanner();
            sc.dumped_only = dumped_only;
            let (mut out, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
            let range = range.clone();
            let broken = scan_range(
                &mut sc,
                mem,
                range.clone(),
                range,
                window,
                context,
                &mut buf,
                &|_| {},
                &mut out,
                &mut errs,
            );
            assert!(errs.is_empty());
            (rows(out), broken)
        })
    }

    /// Which patterns may skip the holes: none that can match a zero byte or looks around.
    #[test]
    fn patterns_that_skip_zeros() {
        for (p, want) in [
            (Pattern::literal(b"KEY").unwrap(), true),
            (Pattern::literal(b"K\0Y").unwrap(), false),
            (Pattern::regex("AB+A").unwrap(), true),
            (Pattern::regex("(?i)key-[0-9a-f]{4,}").unwrap(), true),
            (Pattern::regex("A[^\n\x00]*B").unwrap(), true),
            (Pattern::regex("(A|AB)(x|BA)?").unwrap(), true),
            (Pattern::regex("A[^\n]*B").unwrap(), false),
            (Pattern::regex("A.B").unwrap(), false),
            (Pattern::regex("(?s-u).").unwrap(), false),
            (Pattern::regex("A\\x00").unwrap(), false),
            (Pattern::regex("A[\\x00-\\x20]").unwrap(), false),
            (Pattern::regex("\\bAB").unwrap(), false),
            (Pattern::regex("^AB|B$").unwrap(), false),
            (Pattern::regex("\\W").unwrap(), false),
        ] {
            let name = match &p {
                Pattern::Literal(f) => format!("{:?}", f.needle()),
                Pattern::Regex(re) => re.as_str().to_string(),
            };
            assert_eq!(p.skips_zeros(), want, "{name}");
        }
    }

    /// Differential: fragmented memory (thousands of tiny extents of a mapped pages file, most a
    /// hole apart, some address-adjacent to the previous one from another file or from a later
    /// place of the same file, some broken) scanned in the dumped bytes alone finds exactly what
    /// the window search with the holes as zeros finds — addresses, lengths, contexts (zeros of
    /// the holes included), overlapping literal hits, leftmost-first regex matches, matches
    /// across address-adjacent extents, none across a hole — in small windows and in one
    /// window, every IOC alone and all together.
    #[test]
    fn dumped_bytes_alone_find_what_the_windows_find() {
        let mut rnd = crate::views::testrand::xorshift(0x2545_f491_4f6c_dd1d);
        let file = crate::views::testrand::text(&mut rnd, b"AAABx\n- B", 2 << 20);
        let other: Vec<u8> = (0..(64 << 10)).map(|i| b"BAAB"[i % 4]).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages-1.img");
        std::fs::write(&path, &file).unwrap();
        let (fb, ob) = (Blob::map_file(&path).unwrap(), Blob::from_vec(other));
        let piece = |b: &Blob, start: u64, off: usize, len: usize| Extent {
            start,
            len: len as u64,
            data: ExtentData::Bytes(b.slice(off..off + len).unwrap()),
        };
        let mut v = Vec::new();
        let (mut off, mut addr, mut ooff) = (0usize, 0x10_0000u64, 0usize);
        let (mut adjacent, mut crossing) = (0, 0);
        while off < file.len() - 8192 {
            let len = match rnd(32) {
                0 => 4096,
                1 => 8192,
                _ => 1 + rnd(40) as usize,
            };
            let e = match rnd(20) {
                0 => {
                    let e = piece(&ob, addr, ooff, len.min(64));
                    ooff = (ooff + 64) % (60 << 10);
                    e
                }
                1 => Extent {
                    start: addr,
                    len: len as u64,
                    data: ExtentData::Broken("test".into()),
                },
                _ => {
                    let e = piece(&fb, addr, off, len);
                    off += len;
                    if rnd(10) == 0 {
                        off += 1 + rnd(30) as usize;
                    }
                    e
                }
            };
            addr = e.end();
            match rnd(8) {
                0 => adjacent += 1,
                1 => addr += 4096 + rnd(8192),
                _ => addr += 1 + rnd(3),
            }
            v.push(e);
        }
        let end = addr + 100;
        let (mem, ov) = Memory::from_extents(v);
        assert!(ov.is_empty());
        assert!(mem.extents().len() > 4_000, "{}", mem.extents().len());
        assert!(adjacent > 500);
        let iocs = || {
            vec![
                ioc_string("A").unwrap(),
                ioc_string("AB").unwrap(),
                ioc_string("BAAB").unwrap(),
                ioc_string("AAAAAB").unwrap(),
                ioc_string("\nB-").unwrap(),
                ioc_regex("AB+A").unwrap(),
                ioc_regex("A{4,}").unwrap(),
                ioc_regex("A[^\n\x00]*B").unwrap(),
                ioc_regex("[AB -]+").unwrap(),
                ioc_regex("B?").unwrap(),
                ioc_regex("(A|AB)(x|BA)").unwrap(),
            ]
        };
        let all = Matchers {
            iocs: iocs(),
            #[cfg(feature = "yara")]
            rules: None,
        };
        assert!(all.dumped_only());
        let ext = mem.extents();
        for window in [64 << 10, WINDOW] {
            for (i, ioc) in iocs().into_iter().enumerate() {
                let name = ioc.text.clone();
                let m = Matchers {
                    iocs: vec![ioc],
                    #[cfg(feature = "yara")]
                    rules: None,
                };
                let [(got, gb), (want, wb)] = scan_both(&m, &mem, 0x10_0000 - 300..end, window, 7);
                assert!(want.len() > 100, "{name}: {} matches", want.len());
                assert_eq!(gb, wb, "{name}: broken bytes");
                if got != want {
                    let d = got.iter().zip(&want).position(|(a, b)| a != b);
                    let d = d.unwrap_or(got.len().min(want.len()));
                    panic!(
                        "{name}, window {window}: {} matches, want {}; first difference: {:?} vs {:?}",
                        got.len(),
                        want.len(),
                        got.get(d),
                        want.get(d)
                    );
                }
                // Matches across two address-adjacent extents exist (the literals and regexes
                // that need more than one byte), none crosses a hole.
                for (a, len, ..) in &want {
                    let k = ext.partition_point(|e| e.end() <= *a);
                    let mut e = k;
                    while ext[e].end() < a + *len as u64 {
                        assert_eq!(ext[e].end(), ext[e + 1].start, "{name}: across a hole");
                        e += 1;
                    }
                    crossing += usize::from(e > k && i > 0);
                }
            }
            let [(got, _), (want, _)] = scan_both(&all, &mem, 0x10_0000 - 300..end, window, 7);
            assert_eq!(got, want, "all IOCs together");
        }
        assert!(crossing > 100, "{crossing} matches across extents");
        assert_eq!(fb.bytes(), &file[..], "released pages read back unchanged");
    }

    /// A large VMA is scanned in parts by several threads: the parts cover it, start on its
    /// windows, hold about `part` dumped bytes each (a long empty stretch adds no part), and
    /// scanned one by one they find exactly what the whole VMA scanned at once finds — matches
    /// across the parts' boundaries, contexts, broken bytes — in both search paths.
    #[test]
    fn parts_find_what_the_whole_vma_finds() {
        let mut rnd = crate::views::testrand::xorshift(0x9e37_79b9_7f4a_7c15);
        let data = crate::views::testrand::text(&mut rnd, b"AAABx B", 3 << 20);
        let blob = Blob::from_vec(data);
        let (window, part) = (64u64 << 10, 256u64 << 10);
        let start = 0x40_0000u64;
        let mut v = Vec::new();
        let (mut addr, mut off) = (start + 100, 0usize);
        while off + 40_000 < blob.len() {
            let len = 1 + rnd(30_000) as usize;
            v.push(if rnd(25) == 0 {
                Extent {
                    start: addr,
                    len: len as u64,
                    data: ExtentData::Broken("test".into()),
                }
            } else {
                let e = Extent {
                    start: addr,
                    len: len as u64,
                    data: ExtentData::Bytes(blob.slice(off..off + len).unwrap()),
                };
                off += len;
                e
            });
            addr += len as u64 + rnd(3) * rnd(4096);
            if off > blob.len() / 2 && off < blob.len() / 2 + 40_000 {
                addr += 1 << 30; // a long empty stretch: no part of its own
            }
        }
        let end = addr + 5000;
        let (mem, ov) = Memory::from_extents(v);
        assert!(ov.is_empty());
        let present = mem.present_in(start, end);
        let ps = parts(&mem, start..end, present, window, part);
        assert_eq!(ps.first().map(|p| p.start), Some(start));
        assert_eq!(ps.last().map(|p| p.end), Some(end));
        assert!(
            ps.len() as u64 >= present / (part + window),
            "{} parts",
            ps.len()
        );
        assert!(ps.len() as u64 <= present / part + 1, "{} parts", ps.len());
        for (i, p) in ps.iter().enumerate() {
            assert_eq!((p.start - start) % window, 0, "part {i} starts on a window");
            if i + 1 < ps.len() {
                assert_eq!(p.end, ps[i + 1].start);
                assert!(mem.present_in(p.start, p.end) >= part, "part {i}");
            }
        }
        let one = parts(&mem, start..end, present, window, present);
        assert_eq!((one.len(), one[0].clone()), (1, start..end));
        let m = Matchers {
            iocs: vec![
                ioc_string("AAAB").unwrap(),
                ioc_regex("A+B[ AB]{0,30}x").unwrap(),
                ioc_regex("B\\x00*A").unwrap(),
            ],
            #[cfg(feature = "yara")]
            rules: None,
        };
        for dumped_only in [true, false] {
            let scan = |part: std::ops::Range<u64>| {
                let mut sc = m.scanner();
                sc.dumped_only = dumped_only;
                let (mut out, mut errs, mut buf) = (Vec::new(), Vec::new(), Vec::new());
                let b = scan_range(
                    &mut sc,
                    &mem,
                    start..end,
                    part,
                    window,
                    5,
                    &mut buf,
                    &|_| {},
                    &mut out,
                    &mut errs,
                );
                assert!(errs.is_empty());
                (out, b)
            };
            let (whole, whole_broken) = scan(start..end);
            let (mut split, mut split_broken) = (Vec::new(), 0);
            for p in &ps {
                let (o, b) = scan(p.clone());
                split.extend(o);
                split_broken += b;
            }
            let (whole, split) = (rows(whole), rows(split));
            assert!(whole.len() > 1000, "{} matches", whole.len());
            assert_eq!(split, whole, "dumped only: {dumped_only}");
            assert_eq!(split_broken, whole_broken);
            assert!(whole_broken > 0);
            // Some match starts before a part's end and ends after it.
            assert!(
                ps.iter().any(|p| whole
                    .iter()
                    .any(|(a, len, ..)| *a < p.end && a + *len as u64 > p.end)),
                "no match across a part boundary"
            );
        }
    }

    /// The context of a match next to a hole shows the hole's zeros, as the memory file does.
    #[test]
    fn context_next_to_a_hole_shows_zeros() {
        let a = Blob::from_vec(b"..KEY".to_vec());
        let b = Blob::from_vec(b"KEY..".to_vec());
        let (mem, _) = Memory::from_extents(vec![ext(0x1000, &a), ext(0x1008, &b)]);
        let m = Matchers {
            iocs: vec![ioc_string("KEY").unwrap()],
            #[cfg(feature = "yara")]
            rules: None,
        };
        let [(got, _), (want, _)] = scan_both(&m, &mem, 0x1000..0x2000, WINDOW, 4);
        assert_eq!(got, want);
        let ctx: Vec<&str> = got.iter().map(|r| r.4.as_str()).collect();
        assert_eq!(
            ctx,
            vec!["..KEY\\x00\\x00\\x00K", "Y\\x00\\x00\\x00KEY..\\x00\\x00"]
        );
    }

    #[test]
    fn literal_and_regex_in_a_window_range() {
        let m = Matchers {
            iocs: vec![ioc_string("aa").unwrap(), ioc_regex("b+").unwrap()],
            #[cfg(feature = "yara")]
            rules: None,
        };
        let mut sc = m.scanner();
        let mut out = Vec::new();
        //           0123456789
        sc.scan(b"aaaxbbbxaa", 1, 9, &mut out, &mut Vec::new());
        let got: Vec<(&str, usize, usize)> = out
            .iter()
            .map(|h| (h.rule.as_str(), h.off, h.len))
            .collect();
        assert_eq!(
            got,
            vec![("string", 1, 2), ("string", 8, 2), ("regex", 4, 3)]
        );
    }

    #[test]
    fn iocs_from_a_file_and_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("iocs.txt");
        std::fs::write(
            &f,
            "# comment\n\nPGHOLD\nre:sk_live_[0-9a-z]+\nstr:re:x\r\n",
        )
        .unwrap();
        let args = Request {
            ioc_files: vec![f.clone()],
            strings: vec!["X".into()],
            ..Default::default()
        };
        let m = Matchers::from_request(&args).unwrap();
        let got: Vec<(&str, &str)> = m.iocs.iter().map(|i| (i.kind, i.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("string", "X"),
                ("string", "PGHOLD"),
                ("regex", "sk_live_[0-9a-z]+"),
                ("string", "re:x")
            ]
        );
        std::fs::write(&f, "ok\nre:a(\n").unwrap();
        let e = Matchers::from_request(&args).err().unwrap().to_string();
        assert!(e.contains("iocs.txt:2: invalid regular expression"), "{e}");
        let e = Matchers::from_request(&Request::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nothing to look for"), "{e}");
    }
}
