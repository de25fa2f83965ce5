//! checkpointctl's views as ckptfs subcommands: `show`, `inspect`, `memparse`, `list`, `diff`
//! (and the output of `cache list` / `cache clean`). They read the same model as the mount ([`crate::model`]) and
//! need neither FUSE nor root.
//!
//! Each view has a `run(..., &mut dyn Write)` that writes the whole output (testable) from plain
//! arguments; the command line's arguments (clap) and their dispatch are in `cli/views.rs`. A
//! view fails with an [`Error`], the command line's one error type (printed as one line on stderr,
//! `ckptfs: ...`; exit code 2 for bad input: bad PID, missing images, corrupt archive, bad
//! pattern; 1 when the output cannot be written). A closed stdout (`| head`) ends the command
//! quietly with 0.
//!
//! Formats follow checkpointctl (v1.5 line) where it is right; where ckptfs deliberately differs
//! the module docs say so, and so does `docs/views.md`:
//! - [`show`]: the checkpoint table.
//! - [`inspect`]: the tree view and its JSON.
//! - [`memparse`]: memory sizes, hexdump, search ([`search`] is the engine).
//! - [`list`]: checkpoints in the kubelet's directory.
//! - [`scan`]: YARA rules and IOCs over every process of many checkpoints.
//! - [`diff`]: what changed between two checkpoints, down to memory pages.
//! - [`timeline`]: every recorded time of several checkpoints, as one sorted timeline.
//! - [`tree`]: checkpointctl's tree drawing (its table is [`crate::format::table`]).

pub mod cache;
pub mod diff;
pub mod fds;
pub mod inspect;
pub mod list;
pub mod memparse;
pub mod report;
pub mod scan;
pub mod show;
pub mod timeline;
pub mod tree;
pub mod triage;

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use crate::model::Checkpoint;
use crate::model::process::{Process, TaskState};
use crate::source::OpenOptions;

/// Exit code of a failure that is not the input's fault (cannot mount, cannot write the output).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code of bad input or usage (a checkpoint that cannot be opened, a PID it does not have).
pub const EXIT_USAGE: i32 = 2;

/// The command line's one error (`cli` names it `CliError`): what to print on stderr, one line
/// after `ckptfs: `, and the exit code. It is defined here, below `cli`, because the views make
/// most of them; the mount, umount and cache commands use it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// [`EXIT_USAGE`], [`EXIT_FAILURE`], or 0 for a quiet end ([`Error::is_quiet`]).
    pub code: i32,
    /// `<what>: <why>`; made one line when printed.
    pub msg: String,
}

impl Error {
    /// Bad input or usage about `what` (exit code 2).
    pub fn usage(what: impl fmt::Display, why: impl fmt::Display) -> Error {
        Error::input(format!("{what}: {why}"))
    }

    /// Any other failure about `what` (exit code 1).
    pub fn failure(what: impl fmt::Display, why: impl fmt::Display) -> Error {
        Error {
            code: EXIT_FAILURE,
            msg: format!("{what}: {why}"),
        }
    }

    /// Bad input: a checkpoint that cannot be opened or modelled, a PID it does not have, a bad
    /// pattern or argument. Exit code 2.
    pub fn input(msg: impl Into<String>) -> Error {
        Error {
            code: EXIT_USAGE,
            msg: msg.into(),
        }
    }

    /// The output could not be written (exit code 1). A closed output (`| head`, EPIPE) is not a
    /// failure: the command ends quietly with 0 ([`to_stdout`] swallows it).
    pub fn output(what: &str, e: &io::Error) -> Error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Error {
                code: 0,
                msg: String::new(),
            };
        }
        Error::failure(what, e)
    }

    /// The command ends here without a message, with exit code 0 (the reader went away).
    pub fn is_quiet(&self) -> bool {
        self.code == 0
    }

    /// Some inputs failed and each already has its error line on stderr: exit code 2, nothing
    /// more to print ([`Error::is_reported`]).
    pub fn reported() -> Error {
        Error {
            code: EXIT_USAGE,
            msg: String::new(),
        }
    }

    /// True for [`Error::reported`]: the message is already on stderr.
    pub fn is_reported(&self) -> bool {
        self.code != 0 && self.msg.is_empty()
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ckptfs: {}", one_line(&self.msg))
    }
}

impl std::error::Error for Error {}

/// Keeps a message on one line (names from a checkpoint may hold newlines): control characters
/// escaped ([`crate::format::escape`]).
pub(crate) fn one_line(s: &str) -> String {
    crate::format::escape(s.trim_end()).into_owned()
}

/// Writes to the output.
pub(crate) fn write_out(out: &mut dyn Write, s: &[u8]) -> Result<(), Error> {
    out.write_all(s)
        .map_err(|e| Error::output("cannot write the output", &e))
}

/// Warnings about the output being written, printed by [`to_stdout`] after it: in order, and the
/// set of those already kept (each is printed once).
type Later = (Vec<String>, Option<std::collections::HashSet<String>>);
static LATER: std::sync::Mutex<Later> = std::sync::Mutex::new((Vec::new(), None));

/// A warning about what the view shows (a missing image, an unreadable field): printed on
/// stderr, one line, after the view's output ([`to_stdout`]), so that a reader of both streams
/// (a terminal, `2>&1`) meets the output where a script expects it and the warning after what it
/// qualifies. Outside [`to_stdout`] (a view's `run` called directly) it is kept until
/// [`print_warnings`].
pub fn warn(msg: impl fmt::Display) {
    let line = format!("ckptfs: warning: {}", one_line(&msg.to_string()));
    match LATER.lock() {
        Ok(mut later) => {
            let (lines, seen) = &mut *later;
            if seen
                .get_or_insert_with(Default::default)
                .insert(line.clone())
            {
                lines.push(line);
            }
        }
        Err(_) => eprintln!("{line}"),
    }
}

/// Prints the warnings [`warn`] kept, in order, and forgets them.
pub fn print_warnings() {
    let v = LATER
        .lock()
        .map(|mut later| {
            later.1 = None;
            std::mem::take(&mut later.0)
        })
        .unwrap_or_default();
    for l in v {
        eprintln!("{l}");
    }
}

/// Runs `f` with a buffered, locked stdout, flushing at the end, then prints the warnings the
/// view made ([`warn`]). A closed stdout (`| head`) is not an error.
pub fn to_stdout(f: impl FnOnce(&mut dyn Write) -> Result<(), Error>) -> Result<(), Error> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let r = f(&mut out).and_then(|()| {
        out.flush()
            .map_err(|e| Error::output("cannot write the output", &e))
    });
    drop(out);
    print_warnings();
    match r {
        Err(e) if e.is_quiet() => Ok(()),
        r => r,
    }
}

/// Pretty JSON as Go's `json.MarshalIndent(v, "", "  ")` writes it, with a final newline.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    let s = serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    // Go escapes these inside strings; outside strings JSON never has them.
    let mut s = s
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    s.push('\n');
    s
}

/// Output format of the views that print rows (`show`, `list`, `timeline`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowFormat {
    /// checkpointctl's table
    #[default]
    Table,
    /// One JSON array of rows (fields in docs/views.md)
    Json,
    /// One JSON object per row and line
    Jsonl,
}

impl RowFormat {
    /// `rows` as one JSON array or as one object a line.
    pub fn json_rows(self, rows: &[serde_json::Value]) -> String {
        match self {
            RowFormat::Jsonl => rows.iter().map(|r| format!("{r}\n")).collect(),
            _ => {
                let mut s = serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into());
                s.push('\n');
                s
            }
        }
    }
}

/// Output format of `inspect` and `diff`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// checkpointctl's tree
    #[default]
    Tree,
    /// JSON (schema in docs/views.md)
    Json,
}

/// Runs `each` on every input in turn, so one bad input does not hide the others' output: an
/// input's error (bad input, exit code 2) is printed at once as its one line on stderr and the
/// next input runs; any other error (the output cannot be written, a closed output) ends the
/// whole run. When some input failed the result is [`Error::reported`] (exit code 2).
pub fn each_input<T>(
    inputs: &[T],
    mut each: impl FnMut(&T) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut failed = false;
    for i in inputs {
        match each(i) {
            Ok(()) => {}
            Err(e) if e.code == EXIT_USAGE => {
                if !e.is_reported() {
                    eprintln!("{e}");
                }
                failed = true;
            }
            Err(e) => return Err(e),
        }
    }
    if failed {
        Err(Error::reported())
    } else {
        Ok(())
    }
}

/// Opens and models a checkpoint. Warnings of the load are printed on stderr, one per line, now.
pub fn load(path: &Path, open: &OpenOptions) -> Result<Checkpoint, Error> {
    let ck = open_model(path, open)?;
    let mut seen = std::collections::HashSet::new();
    for w in ck.warnings.iter().chain(&ck.source.warnings) {
        if seen.insert(w.message.as_str()) {
            eprintln!(
                "ckptfs: warning: {}: {}",
                path.display(),
                one_line(&w.message)
            );
        }
    }
    Ok(ck)
}

/// Opens and models a checkpoint for a view: the load's warnings are printed after the view's
/// output ([`warn`]).
pub fn load_for_view(path: &Path, open: &OpenOptions) -> Result<Checkpoint, Error> {
    let ck = open_model(path, open)?;
    for w in ck.warnings.iter().chain(&ck.source.warnings) {
        warn(format_args!("{}: {}", path.display(), w));
    }
    Ok(ck)
}

/// [`load_for_view`] with `rootfs/` attached as a mount attaches it (over `rootfs`, the image's
/// files, when given); the warnings of the attach are printed as the load's are.
pub fn load_with_rootfs(
    path: &Path,
    rootfs: Option<&Path>,
    open: &OpenOptions,
) -> Result<Checkpoint, Error> {
    let mut ck = load_for_view(path, open)?;
    let before = ck.warnings.len();
    crate::model::rootfs::attach(&mut ck, rootfs)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    for w in ck.warnings.iter().skip(before) {
        warn(format_args!("{}: {w}", path.display()));
    }
    Ok(ck)
}

fn open_model(path: &Path, open: &OpenOptions) -> Result<Checkpoint, Error> {
    let source = crate::source::open(path, open).map_err(|e| Error::input(e.to_string()))?;
    crate::model::load::load(source).map_err(|e| Error::input(format!("{}: {e}", path.display())))
}

/// The process `pid`, or the error checkpointctl gives for a PID the checkpoint does not have.
pub fn process(ck: &Checkpoint, pid: u32) -> Result<&Process, Error> {
    ck.process(pid).ok_or_else(|| {
        let pids: Vec<String> = ck.processes.iter().map(|p| p.pid.to_string()).collect();
        Error::input(format!(
            "no process with PID {pid} in {} (it has PIDs {}; `ckptfs inspect --ps-tree` shows the tree)",
            ck.source.input.path.display(),
            pids.join(", ")
        ))
    })
}

/// The task state as checkpointctl names it: `Alive`, `Dead`, `Stopped`, `Zombie`.
/// (checkpointctl v1.5 and CRIU's own pretty-printer call state 3 "Zombie"; it is a stopped task.)
pub fn state_name(s: TaskState) -> String {
    match s {
        TaskState::Alive => "Alive".into(),
        TaskState::Dead => "Dead".into(),
        TaskState::Stopped => "Stopped".into(),
        TaskState::Zombie => "Zombie".into(),
        TaskState::Unknown(n) => format!("Unknown({n})"),
    }
}

/// The processes in tree order: each root (PID order), then its children depth-first in PID
/// order; processes unreachable from a root (a corrupt, cyclic tree) last. Each process once.
pub fn tree_order(ck: &Checkpoint) -> Vec<&Process> {
    let mut out = Vec::with_capacity(ck.processes.len());
    let mut seen = std::collections::HashSet::new();
    fn walk<'a>(
        ck: &'a Checkpoint,
        p: &'a Process,
        seen: &mut std::collections::HashSet<u32>,
        out: &mut Vec<&'a Process>,
    ) {
        if !seen.insert(p.pid) {
            return;
        }
        out.push(p);
        for c in ck.children(p.pid) {
            walk(ck, c, seen, out);
        }
    }
    for r in ck.roots() {
        walk(ck, r, &mut seen, &mut out);
    }
    for p in &ck.processes {
        walk(ck, p, &mut seen, &mut out);
    }
    out
}

/// The command line as checkpointctl shows it: the `cmdline` bytes with every NUL turned into a
/// space (so it ends with a space), or `None` when empty or unreadable (a warning says why).
pub fn cmdline_text(p: &Process) -> Option<String> {
    match crate::render::cmdline::cmdline(p) {
        Ok(b) if b.is_empty() => None,
        Ok(b) => Some(String::from_utf8_lossy(&b).replace('\0', " ")),
        Err(e) => {
            warn(format_args!("PID {}: command line: {e}", p.pid));
            None
        }
    }
}

/// The environment as `NAME=value` strings in memory order (empty strings dropped).
pub fn environ_list(p: &Process) -> Vec<String> {
    match crate::render::cmdline::environ(p) {
        Ok(b) => b
            .split(|&c| c == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        Err(e) => {
            warn(format_args!("PID {}: environment: {e}", p.pid));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_kept_once_until_printed() {
        let count = || {
            LATER
                .lock()
                .unwrap()
                .0
                .iter()
                .filter(|l| l.ends_with("a-warning-kept-once\\x1b"))
                .count()
        };
        warn("a-warning-kept-once\x1b");
        warn(format_args!("a-warning-{}-once\x1b", "kept"));
        assert_eq!(count(), 1);
    }

    #[test]
    fn go_style_json_escapes() {
        let s = to_json(&serde_json::json!({"a": "x > y & <z>"}));
        assert_eq!(
            s,
            "{\n  \"a\": \"x \\u003e y \\u0026 \\u003cz\\u003e\"\n}\n"
        );
    }
}
