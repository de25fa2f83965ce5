//! `ckptfs` subcommands that need no mount (`scan`, `show`, `inspect`, `memparse`, `timeline`...)
//! run through the built binary, and their JSON output parsed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::TempDir;

/// A finished `ckptfs` run: exit code (-1 when killed by a signal), stdout and stderr as text.
pub struct Run {
    pub out: String,
    pub err: String,
    pub code: i32,
}

/// Runs `ckptfs ARGS` in `cwd` with a cache directory of its own (`XDG_CACHE_HOME`: the tests
/// run in parallel; the fixture archives are small, decompressing them again costs
/// milliseconds) and no `RUST_LOG`.
pub fn ckptfs_in(cwd: &Path, args: &[&str]) -> Run {
    let cache = TempDir::new("cli");
    let o = command(Command::new(super::ckptfs()), cwd, &cache)
        .args(args)
        .output()
        .expect("run ckptfs");
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// [`ckptfs_in`] as `ckptfs ARGS 2>&1` through the shell: stdout and stderr as one stream, in
/// the order a terminal (or bats) shows them, and the exit code.
pub fn ckptfs_merged(cwd: &Path, args: &[&str]) -> (String, i32) {
    let cache = TempDir::new("cli");
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(super::ckptfs());
    let o = command(sh, cwd, &cache)
        .args(args)
        .output()
        .expect("run ckptfs");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

/// `cmd` run in `cwd` with `cache` as its `XDG_CACHE_HOME` and no `RUST_LOG`.
fn command(mut cmd: Command, cwd: &Path, cache: &TempDir) -> Command {
    cmd.current_dir(cwd)
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("RUST_LOG");
    cmd
}

/// One JSON value a line (`--format jsonl`); panics naming a line that is not JSON.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The cells (split at runs of three spaces, trimmed) of the first line of the table `out` whose
/// first word is `first`; empty when there is none.
pub fn table_row(out: &str, first: &str) -> Vec<String> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .map(|l| {
            l.split("   ")
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default()
}
