//! checkpointctl's views as ckptfs subcommands: `show`, `inspect`, `memparse`, `list`, `diff`,
//! plus `completions` and `man`. They read the same model as the mount ([`crate::model`]) and
//! need neither FUSE nor root.
//!
//! Each view has its clap arguments (`*Args`), a `run(&Args, &mut dyn Write)` that writes the
//! whole output (testable), and a `main(Args)` that the command line dispatches to: it writes to
//! stdout and returns an [`Error`] that converts into the command line's error (printed as one
//! line on stderr, `ckptfs: ...`; exit code 2 for bad input: bad PID, missing images, corrupt
//! archive, bad pattern; 1 when the output cannot be written). A closed stdout (`| head`) ends
//! the command quietly with 0.
//!
//! Formats follow checkpointctl (v1.5 line) where it is right; where ckptfs deliberately differs
//! the module docs say so, and so does `docs/views.md`:
//! - [`show`]: the checkpoint table.
//! - [`inspect`]: the tree view and its JSON.
//! - [`memparse`]: memory sizes, hexdump, search ([`search`] is the engine).
//! - [`list`]: checkpoints in the kubelet's directory.
//! - [`diff`]: what changed between two checkpoints, down to memory pages.
//! - [`tree`]: checkpointctl's tree drawing (its table is [`crate::format::table`]).

pub mod cache;
pub mod completions;
pub mod diff;
pub mod inspect;
pub mod list;
pub mod memparse;
pub mod search;
pub mod show;
pub mod tree;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::model::process::{Process, TaskState};
use crate::model::{Checkpoint, FileKind};

/// Why a view failed. `Display` is the one line printed on stderr (without the `ckptfs: ` prefix).
#[derive(Debug)]
pub struct Error {
    msg: String,
    code: u8,
    broken_pipe: bool,
}

impl Error {
    /// Bad input: a checkpoint that cannot be opened or modelled, a PID it does not have, a bad
    /// pattern or argument. Exit code 2.
    pub fn input(msg: impl Into<String>) -> Error {
        Error {
            msg: one_line(&msg.into()),
            code: 2,
            broken_pipe: false,
        }
    }

    /// The output could not be written. Exit code 1.
    pub fn output(what: &str, e: &io::Error) -> Error {
        Error {
            msg: one_line(&format!("{what}: {e}")),
            code: 1,
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// Joins a multi-line message into one line.
fn one_line(s: &str) -> String {
    s.trim_end().replace('\n', "; ")
}

/// Writes to stdout; a broken pipe is not an error.
pub(crate) fn write_out(out: &mut dyn Write, s: &[u8]) -> Result<(), Error> {
    out.write_all(s)
        .map_err(|e| Error::output("cannot write the output", &e))
}

/// Runs `f` with a buffered, locked stdout, flushing at the end. A closed stdout (`| head`) is not
/// an error.
pub(crate) fn to_stdout(f: impl FnOnce(&mut dyn Write) -> Result<(), Error>) -> Result<(), Error> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let r = f(&mut out).and_then(|()| {
        out.flush()
            .map_err(|e| Error::output("cannot write the output", &e))
    });
    match r {
        Err(e) if e.broken_pipe => Ok(()),
        r => r,
    }
}

impl From<Error> for crate::cli::CliError {
    fn from(e: Error) -> Self {
        crate::cli::CliError {
            code: e.code.into(),
            msg: e.msg,
        }
    }
}

/// How checkpoints are opened (shared by the views).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OpenArgs {
    /// Where compressed archives are decompressed (once; reused next time) [default:
    /// $XDG_CACHE_HOME/ckptfs]
    #[arg(long, value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

/// Opens and models a checkpoint. Warnings of the load are printed on stderr, one per line.
pub fn load(path: &Path, open: &OpenArgs) -> Result<Checkpoint, Error> {
    let opts = crate::source::OpenOptions {
        cache_dir: open.cache_dir.clone(),
        max_size: None,
        progress: true,
    };
    let source = crate::source::open(path, &opts).map_err(|e| Error::input(e.to_string()))?;
    let ck = crate::model::load::load(source)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let mut seen = std::collections::HashSet::new();
    for w in ck.warnings.iter().chain(&ck.source.warnings) {
        if seen.insert(w.as_str()) {
            eprintln!("ckptfs: warning: {}: {}", path.display(), one_line(w));
        }
    }
    Ok(ck)
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
            eprintln!("ckptfs: warning: PID {}: command line: {e}", p.pid);
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
            eprintln!("ckptfs: warning: PID {}: environment: {e}", p.pid);
            Vec::new()
        }
    }
}

/// CRIU's fd type name (`REG`, `PIPE`, `INETSK`, ...) of a file object.
pub fn fd_type_name(kind: &FileKind) -> &'static str {
    match kind {
        FileKind::Reg { .. } => "REG",
        FileKind::InetSocket(_) => "INETSK",
        FileKind::UnixSocket(_) => "UNIXSK",
        FileKind::Socket { what: "packet", .. } => "PACKETSK",
        FileKind::Socket {
            what: "netlink", ..
        } => "NETLINKSK",
        FileKind::Socket { .. } => "SOCKET",
        FileKind::Pipe { .. } => "PIPE",
        FileKind::Fifo { .. } => "FIFO",
        FileKind::AnonInode { what } => match *what {
            "eventfd" => "EVENTFD",
            "eventpoll" => "EVENTPOLL",
            "signalfd" => "SIGNALFD",
            "timerfd" => "TIMERFD",
            "inotify" => "INOTIFY",
            "fanotify" => "FANOTIFY",
            "bpf-map" => "BPFMAP",
            "pidfd" => "PIDFD",
            _ => "ANON",
        },
        FileKind::Memfd { .. } => "MEMFD",
        FileKind::Tty { .. } => "TTY",
        FileKind::Pidfd { .. } => "PIDFD",
        FileKind::Tun => "TUNF",
        FileKind::Other { .. } => "UND",
    }
}
