//! The command-line front end: `ckptfs mount` / `ckptfs umount`, `ckptfs cache list|clean` (the
//! decompression cache), and the checkpointctl views `show`, `inspect`, `memparse`, `list`, `diff`, and `scan`, `triage`,
//! `timeline` and `report`.
//!
//! Errors are one line on stderr, `ckptfs: <what>: <why>`, with exit code 2 for bad input or
//! usage and 1 for other failures. Logging goes to stderr through `RUST_LOG` (env_logger).

mod cache;
mod completions;
mod daemon;
mod mount;
mod umount;
mod views;

use clap::{Parser, Subcommand};

pub use cache::{CacheArgs, CacheCleanArgs, CacheCommand, CacheListArgs};
pub use mount::MountArgs;
pub use umount::UmountArgs;
pub use views::{
    CacheDirArg, DiffArgs, InspectArgs, ListArgs, MemparseArgs, ReportArgs, ScanArgs, ShowArgs,
    TimelineArgs, TriageArgs,
};

/// The command line's one error: [`crate::views::Error`] (the views make most of them).
pub use crate::views::Error as CliError;
pub(crate) use crate::views::one_line;
pub use crate::views::{EXIT_FAILURE, EXIT_USAGE};

/// Mount a CRIU / Podman / CRI-O container checkpoint read-only as a /proc-like tree.
#[derive(Debug, Parser)]
#[command(name = "ckptfs", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount a checkpoint read-only; returns once the tree is ready and serves in the background
    Mount(MountArgs),
    /// Unmount a ckptfs mount (also one whose daemon is gone)
    #[command(visible_alias = "unmount")]
    Umount(UmountArgs),
    /// List or remove the decompressed archives kept in the cache directory
    Cache(CacheArgs),
    // The checkpointctl views (src/views/; arguments in cli/views.rs).
    /// Show a table of checkpoints: container, image, id, runtime, created, engine, sizes
    Show(ShowArgs),
    /// Show a checkpoint as a tree: metadata, processes, files, sockets, mounts, statistics
    Inspect(InspectArgs),
    /// Show memory sizes per process, a process's memory as a hexdump, or search the memory
    Memparse(MemparseArgs),
    /// List the checkpoints in the kubelet's checkpoint directory (or in given directories)
    List(ListArgs),
    /// Compare two checkpoints: processes, files, sockets, memory down to changed pages
    Diff(DiffArgs),
    /// Scan every process of checkpoints for YARA rules and IOCs; findings at virtual addresses
    Scan(ScanArgs),
    /// Print the triage findings of checkpoints (the mount's `triage` file) without a mount
    Triage(TriageArgs),
    /// Print one sorted timeline of every time checkpoints record (the mount's `timeline` file)
    Timeline(TimelineArgs),
    /// Write the case report of checkpoints: one self-contained HTML page (MOUNT/report.html)
    Report(ReportArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) of ckptfs or of one of its subcommands
    Man(completions::ManArgs),
}

/// An I/O error's text without Rust's " (os error N)" suffix.
pub(crate) fn io_why(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Runs the command line; returns the process exit code.
/// What checkpointctl's plugin host asks a plugin (`checkpointctl-NAME --plugin-description`)
/// before listing it: its one-line description, with exit status 42 to say the flag is
/// understood. Installed or linked as `checkpointctl-ckptfs` on PATH, ckptfs is then
/// `checkpointctl ckptfs ...` and listed by `checkpointctl plugin list`.
pub const PLUGIN_DESCRIPTION: &str =
    "Mount a checkpoint read-only as a /proc-like tree for memory forensics (ckptfs)";

/// The exit status checkpointctl expects from `--plugin-description`.
pub const PLUGIN_DESCRIPTION_EXIT: i32 = 42;

fn checkpointctl_plugin(first: Option<&std::ffi::OsStr>) -> Option<i32> {
    (first? == "--plugin-description").then(|| {
        println!("{PLUGIN_DESCRIPTION}");
        PLUGIN_DESCRIPTION_EXIT
    })
}

pub fn main() -> i32 {
    if let Some(code) = checkpointctl_plugin(std::env::args_os().nth(1).as_deref()) {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let r = match cli.command {
        Command::Mount(a) => mount::run(a),
        Command::Umount(a) => umount::run(a),
        Command::Cache(a) => cache::run(a),
        Command::Show(a) => views::show(a),
        Command::Inspect(a) => views::inspect(a),
        Command::Memparse(a) => views::memparse(a),
        Command::List(a) => views::list(a),
        Command::Diff(a) => views::diff(a),
        Command::Scan(a) => match views::scan(a) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
        Command::Triage(a) => views::triage(a),
        Command::Timeline(a) => views::timeline(a),
        Command::Report(a) => views::report(a),
        Command::Completions(a) => {
            completions::completions_main(a, <Cli as clap::CommandFactory>::command())
        }
        Command::Man(a) => completions::man_main(a, <Cli as clap::CommandFactory>::command()),
    };
    match r {
        Ok(()) => 0,
        Err(e) if e.is_quiet() => 0,
        Err(e) if e.is_reported() => e.code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}

/// clap's errors as one line (help and version print as usual).
fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            EXIT_USAGE
        }
        _ => {
            // clap's first line, plus the indented lines that complete it (missing arguments).
            let text = e.to_string();
            let mut lines = text.lines();
            let mut msg = lines
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .trim_end_matches(':')
                .to_string();
            let more: Vec<&str> = lines
                .take_while(|l| l.starts_with("  "))
                .map(str::trim)
                .collect();
            if !more.is_empty() {
                msg = format!("{msg}: {}", more.join(" "));
            }
            eprintln!("ckptfs: usage: {msg} (see ckptfs --help)");
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mount_and_umount() {
        let c = Cli::try_parse_from([
            "ckptfs",
            "mount",
            "/ck",
            "/mnt",
            "-f",
            "--allow-other",
            "--cache-dir",
            "/c",
            "--max-size",
            "10G",
        ])
        .unwrap();
        let Command::Mount(m) = c.command else {
            panic!("not mount")
        };
        assert!(m.foreground && m.allow_other);
        assert_eq!(m.max_size, Some(10 << 30));
        let c = Cli::try_parse_from(["ckptfs", "umount", "--lazy", "/mnt"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Umount(UmountArgs { lazy: true, .. })
        ));
        assert!(Cli::try_parse_from(["ckptfs", "mount", "/ck"]).is_err());
        assert!(Cli::try_parse_from(["ckptfs", "mount", "/ck", "/m", "--max-size", "x"]).is_err());
    }

    #[test]
    fn errors_are_one_line() {
        let e = CliError::usage("/x", "bad\nname");
        assert_eq!(e.to_string(), "ckptfs: /x: bad\\nname");
        assert_eq!(e.code, 2);
        assert_eq!(CliError::failure("a", "b").code, 1);
        // One rule for every control character (cli and views had two one_line()s).
        let e = CliError::input("a\tb\r\x1b[31m\n\n");
        assert_eq!(e.to_string(), "ckptfs: a\\tb\\r\\x1b[31m");
        // A closed output ends quietly; any other write error is a failure.
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(CliError::output("w", &pipe).is_quiet());
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = CliError::output("cannot write", &full);
        assert!(!e.is_quiet() && e.code == 1 && e.msg.starts_with("cannot write: "));
    }
}
