//! `ckptfs cache list` / `ckptfs cache clean`: see and remove the decompressed archives kept in
//! the cache directory (scanning and removal: [`crate::source::cache::admin`]; output:
//! [`crate::views::cache`]).

use std::time::Duration;

use clap::{Args, Subcommand};

use super::CliError;
use crate::source::cache::admin::{self, Select};

/// Arguments of `ckptfs cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
    #[command(flatten)]
    pub cache: super::CacheDirArg,
}

/// The `cache` subcommands.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cache entries: input, compression, size, input sha256, times, state
    List(CacheListArgs),
    /// Remove cache entries (by default those that cannot be reused: stale, partial, orphan)
    Clean(CacheCleanArgs),
}

/// Output format of `cache list`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListFormat {
    /// A table and a total line
    #[default]
    Table,
    /// JSON
    Json,
}

/// Arguments of `ckptfs cache list`.
#[derive(Debug, Args)]
#[command(after_help = "\
States: ok (reused by the next open of its input), stale (its input is gone or changed, or the
tar changed after it was written), partial (left by a build that died), orphan (a tar without
meta file, a meta file without tar, or only a lock file), in use (a build holds its lock).

Examples:
  ckptfs cache list
  ckptfs cache list --format json | jq '.entries[] | select(.state == \"stale\")'")]
pub struct CacheListArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
}

/// Arguments of `ckptfs cache clean`.
#[derive(Debug, Args)]
#[command(after_help = "\
Only files the cache creates (a 64-hex key and .tar, .meta, .lock, .tar.partial or .meta.partial)
are removed, never through a symlink; other files in the directory are reported and left alone.
Entries locked by a running build are never removed.

Removing the tar of a checkpoint that is mounted right now is safe: the mount keeps its data
(the space is freed once it is unmounted); the next mount decompresses the archive again.

Examples:
  ckptfs cache clean --dry-run
  ckptfs cache clean --older-than 7d
  ckptfs cache clean --all")]
#[command(group = clap::ArgGroup::new("select").args(["all", "stale", "older_than"]))]
pub struct CacheCleanArgs {
    /// Remove every entry not locked by a running build
    #[arg(long)]
    pub all: bool,
    /// Remove the entries that cannot be reused: stale, partial and orphan (the default)
    #[arg(long)]
    pub stale: bool,
    /// Remove the entries built longer ago than this (by the tar's mtime; e.g. 7d, 12h, 30m, 45s)
    #[arg(long, value_name = "DURATION", value_parser = admin::parse_duration)]
    pub older_than: Option<Duration>,
    /// Only say what would be removed
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

pub fn run(a: CacheArgs) -> Result<(), CliError> {
    let dir = admin::cache_dir(a.cache.dir.as_deref());
    let scan = admin::scan(&dir).map_err(|e| match e.io_error() {
        Some(io) => {
            let why = super::io_why(io);
            if io.kind() == std::io::ErrorKind::NotADirectory {
                CliError::usage(dir.display(), format!("not a cache directory: {why}"))
            } else {
                CliError::failure(dir.display(), format!("cannot list the cache: {why}"))
            }
        }
        None => CliError::failure(dir.display(), e),
    })?;
    match a.command {
        CacheCommand::List(l) => {
            let text = match l.format {
                ListFormat::Table => crate::views::cache::list_table(&scan),
                ListFormat::Json => crate::views::cache::list_json(&scan),
            };
            print(&text)
        }
        CacheCommand::Clean(c) => {
            if let Some(why) = &scan.unsafe_dir {
                return Err(CliError::usage(
                    dir.display(),
                    format!("{why}; not cleaning it"),
                ));
            }
            let select = match (c.all, c.older_than) {
                (true, _) => Select::All,
                (false, Some(d)) => Select::OlderThan(d),
                (false, None) => Select::Unusable,
            };
            let done = admin::clean(&scan, select, c.dry_run);
            print(&crate::views::cache::clean_text(&scan, &done, c.dry_run))?;
            if let Some((e, why)) = done.failed.first() {
                return Err(CliError::failure(
                    dir.join(&e.key).display(),
                    format!(
                        "{why} ({} entr{} not removed)",
                        done.failed.len(),
                        if done.failed.len() == 1 { "y" } else { "ies" }
                    ),
                ));
            }
            Ok(())
        }
    }
}

fn print(text: &str) -> Result<(), CliError> {
    crate::views::to_stdout(|out| crate::views::write_out(out, text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn parses() {
        let c = Cli::try_parse_from(["ckptfs", "cache", "list", "--cache-dir", "/c"]).unwrap();
        let Command::Cache(a) = c.command else {
            panic!("not cache")
        };
        assert_eq!(a.cache.dir.as_deref(), Some(std::path::Path::new("/c")));
        let c = Cli::try_parse_from([
            "ckptfs",
            "cache",
            "clean",
            "--older-than",
            "7d",
            "--dry-run",
        ])
        .unwrap();
        let Command::Cache(a) = c.command else {
            panic!("not cache")
        };
        let super::CacheCommand::Clean(cl) = a.command else {
            panic!("not clean")
        };
        assert!(cl.dry_run);
        assert_eq!(cl.older_than, Some(std::time::Duration::from_secs(604_800)));
        assert!(Cli::try_parse_from(["ckptfs", "cache", "clean", "--all", "--stale"]).is_err());
        assert!(Cli::try_parse_from(["ckptfs", "cache", "clean", "--older-than", "7"]).is_err());
        assert!(Cli::try_parse_from(["ckptfs", "cache", "list", "--format", "xml"]).is_err());
    }
}
