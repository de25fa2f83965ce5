//! `ckptfs mount CHECKPOINT MOUNTPOINT`: load, mount, report readiness, serve until unmounted.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::Args;
use log::{info, warn};

use super::daemon::{self, Forked, Reporter};
use super::{CliError, EXIT_FAILURE, EXIT_USAGE};
use crate::fs::directory::DirectoryFs;
use crate::fs::{self, CkptFs, FsOptions};
use crate::warning::Warning;
use crate::{model, source};

/// Arguments of `ckptfs mount`.
#[derive(Debug, Args)]
pub struct MountArgs {
    /// The checkpoint: a Podman / CRI-O / containerd archive (.tar, .tar.gz, .tar.zst), a CRIU
    /// image directory (Docker's `checkpoints/NAME` too), or a checkpoint image (oci-archive,
    /// docker-archive, an OCI layout directory or a tar of one, containerd's `ctr` export); or a
    /// directory holding checkpoints (e.g. /var/lib/kubelet/checkpoints):
    /// one subdirectory per checkpoint, each opened on first access, and a `checkpoints` table
    pub checkpoint: PathBuf,
    /// An empty directory to mount the tree on
    pub mountpoint: PathBuf,
    /// Stay in the foreground (Ctrl-C unmounts)
    #[arg(short, long)]
    pub foreground: bool,
    /// Let every user read the tree (by default only the mounting user can: checkpoints hold secrets)
    #[arg(long)]
    pub allow_other: bool,
    #[command(flatten)]
    pub cache: super::CacheDirArg,
    /// Refuse to decompress more than this (bytes; suffixes K, M, G, T)
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// The container image's root filesystem (e.g. from `podman image mount`), read-only: shown
    /// under rootfs/ beneath the checkpoint's changes, and used to fill the clean pages of
    /// private file mappings that the dump does not hold
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
}

/// Printed on stderr by `mount --allow-other` (checkpoints hold secrets: say who can read them).
pub const ALLOW_OTHER_NOTE: &str = "ckptfs: note: --allow-other: every user of this machine can read the mounted checkpoint (memory, environ, files)";

/// `10G`, `512M`, `4096`, `1KiB` -> bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("not a size: {s:?} (use e.g. 4096, 512M, 10G)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

pub fn run(a: MountArgs) -> Result<(), CliError> {
    let ckpt = std::fs::canonicalize(&a.checkpoint)
        .map_err(|e| CliError::usage(a.checkpoint.display(), super::io_why(&e)))?;
    let mp = fs::mount::check_mountpoint(&a.mountpoint)
        .map_err(|e| CliError::usage(a.mountpoint.display(), e))?;
    let many = ckpt.is_dir() && !source::is_checkpoint_dir(&ckpt);
    if many && a.rootfs.is_some() {
        return Err(CliError::usage(
            ckpt.display(),
            "--rootfs applies to one checkpoint, and this is a directory of checkpoints",
        ));
    }
    let serve = if many { serve_many } else { serve };
    if a.foreground {
        return serve(&a, &ckpt, &mp, None);
    }
    match daemon::fork()? {
        Forked::Parent(r) => r,
        Forked::Child(mut rep) => {
            let code = match serve(&a, &ckpt, &mp, Some(&mut rep)) {
                Ok(()) => 0,
                Err(e) => {
                    // The parent prints it (our stderr may already be /dev/null).
                    rep.fail(&e);
                    e.code
                }
            };
            std::process::exit(code)
        }
    }
}

/// Exit code for a source error: the input's fault (2) or the system's (1).
fn source_code(e: &source::Error) -> i32 {
    match e {
        source::Error::Io { .. } | source::Error::Cache { .. } => EXIT_FAILURE,
        _ => EXIT_USAGE,
    }
}

/// What a stop signal does, depending on whether the mount exists yet.
#[derive(Default)]
struct Stop {
    requested: bool,
    mounted: bool,
}

fn stop_now(mp: &Path) {
    match fs::mount::unmount(mp, true) {
        Ok(()) => info!("unmounted {}", mp.display()),
        Err(e) => warn!("unmount {}: {e}", mp.display()),
    }
}

/// How a mount opens a checkpoint: the same for a mount of one checkpoint and for each member of
/// a mount of a directory of checkpoints, so both show the same tree.
struct Load {
    /// How inputs are opened (`--cache-dir`, `--max-size`, `--image`, ...).
    source: source::OpenOptions,
    /// `--rootfs` (a mount of one checkpoint only).
    rootfs: Option<PathBuf>,
    opts: FsOptions,
}

/// How `mount` opens its inputs.
fn source_options(a: &MountArgs) -> source::OpenOptions {
    source::OpenOptions {
        max_size: a.max_size,
        ..a.cache.open_options()
    }
}

impl Load {
    /// Opens the input by its real path (links resolved: what `info.json` and the manifest name),
    /// loads the model, attaches `rootfs/` (the container's changes, `/dev/shm`, ghost files, and
    /// `--rootfs`'s image) and builds the tree.
    fn open(&self, ckpt: &Path) -> Result<CkptFs, CliError> {
        let real = std::fs::canonicalize(ckpt)
            .map_err(|e| CliError::usage(ckpt.display(), super::io_why(&e)))?;
        let ckpt = real.as_path();
        // Progress on the mount's stderr when it is a terminal (a daemon keeps a terminal).
        let opts = source::OpenOptions {
            progress: std::io::stderr().is_terminal(),
            metadata_only: false,
            ..self.source.clone()
        };
        let src = source::open(ckpt, &opts).map_err(|e| CliError {
            code: source_code(&e),
            msg: e.to_string(),
        })?;
        let mut ck = model::load::load(src).map_err(|e| CliError::usage(ckpt.display(), e))?;
        model::rootfs::attach(&mut ck, self.rootfs.as_deref()).map_err(|e| CliError {
            code: EXIT_USAGE,
            msg: e,
        })?;
        Ok(CkptFs::new(ck, self.opts))
    }
}

/// Loads, mounts, reports readiness (daemon) and serves until the tree is unmounted.
fn serve(
    a: &MountArgs,
    ckpt: &Path,
    mp: &Path,
    reporter: Option<&mut Reporter>,
) -> Result<(), CliError> {
    let load = Load {
        source: source_options(a),
        rootfs: a.rootfs.clone(),
        opts: FsOptions::current_user(a.allow_other),
    };
    let fs = load.open(ckpt)?;
    print_warnings(warnings(&fs).into_iter());
    if a.allow_other {
        eprintln!("{}", ALLOW_OTHER_NOTE);
    }
    fs.warm_up_in_background();

    let source = fs.checkpoint().source.clone();
    mount_and_serve(
        fs,
        a.allow_other,
        &ckpt.display().to_string(),
        mp,
        reporter,
        false,
    )?;
    source.wait_cache_recorded();
    Ok(())
}

/// Serves a directory of checkpoints: nothing is opened until it is needed.
fn serve_many(
    a: &MountArgs,
    dir: &Path,
    mp: &Path,
    reporter: Option<&mut Reporter>,
) -> Result<(), CliError> {
    let fs_opts = FsOptions::current_user(a.allow_other);
    let load = Load {
        source: source_options(a),
        rootfs: None,
        opts: fs_opts,
    };
    let loader = move |path: &Path| -> Result<CkptFs, String> {
        let fs = load.open(path).map_err(|e| e.msg)?;
        for w in warnings(&fs).into_iter().take(100) {
            warn!("{}: {}", path.display(), super::one_line(&w.message));
        }
        fs.warm_up_in_background();
        Ok(fs)
    };
    let fs = DirectoryFs::new(dir, mp, fs_opts, Box::new(loader));
    let empty = std::fs::read_dir(dir)
        .map_err(|e| CliError::usage(dir.display(), super::io_why(&e)))?
        .flatten()
        .all(|e| e.file_name().as_encoded_bytes().starts_with(b"."));
    if empty {
        eprintln!(
            "ckptfs: note: {} holds no checkpoint yet; checkpoints added to it will appear in {}",
            dir.display(),
            mp.display()
        );
    }
    if a.allow_other {
        eprintln!("{}", ALLOW_OTHER_NOTE);
    }
    let keep = fs.clone();
    mount_and_serve(
        fs,
        a.allow_other,
        &dir.display().to_string(),
        mp,
        reporter,
        true,
    )?;
    keep.wait_cache_recorded();
    Ok(())
}

/// Mounts `fs`, reports readiness (daemon: then detaches; `keep_stderr` keeps a terminal or file
/// stderr for what later work reports), unmounts on a stop signal, serves until unmounted.
fn mount_and_serve<FS: fs::Filesystem>(
    fs: FS,
    allow_other: bool,
    what: &str,
    mp: &Path,
    reporter: Option<&mut Reporter>,
    keep_stderr: bool,
) -> Result<(), CliError> {
    let stop = Arc::new(Mutex::new(Stop::default()));
    {
        let stop = stop.clone();
        let mp = mp.to_path_buf();
        daemon::on_stop_signal(move |sig| {
            info!("signal {sig}: unmounting {}", mp.display());
            let mut s = stop.lock().unwrap_or_else(|p| p.into_inner());
            s.requested = true;
            if s.mounted {
                stop_now(&mp);
            }
        })
        .map_err(|e| CliError::failure("mount: signal handlers", e))?;
    }

    let bg = fs::mount::start(fs, mp, allow_other)
        .map_err(|e| CliError::failure(format!("mount {}", mp.display()), super::io_why(&e)))?;
    {
        let mut s = stop.lock().unwrap_or_else(|p| p.into_inner());
        s.mounted = true;
        if s.requested {
            stop_now(mp);
        }
    }
    match reporter {
        Some(r) => {
            if !r.ready() {
                // The parent is gone: the user gave up waiting (Ctrl-C). Do not linger.
                stop_now(mp);
            }
            daemon::detach(keep_stderr);
        }
        None => info!("{what} mounted at {}", mp.display()),
    }
    // A cache entry built by this mount is synced to disk while it serves; the caller waits for
    // that before the daemon exits, whatever happens to the filesystem object.
    bg.join()
        .map_err(|e| CliError::failure(format!("serving {}", mp.display()), e))
}

/// What the checkpoint's tree could not show, each line once (the model repeats the source's
/// warnings).
fn warnings(fs: &CkptFs) -> Vec<&Warning> {
    let mut seen = std::collections::HashSet::new();
    let ck = fs.checkpoint();
    ck.source
        .warnings
        .iter()
        .chain(&ck.warnings)
        .chain(fs.warnings())
        .filter(|w| seen.insert(w.message.as_str()))
        .collect()
}

/// One line each on stderr (capped, so a broken checkpoint does not flood the terminal).
fn print_warnings<'a>(ws: impl Iterator<Item = &'a Warning>) {
    const MAX: usize = 100;
    let mut n = 0usize;
    for w in ws {
        if n < MAX {
            eprintln!("ckptfs: warning: {}", super::one_line(&w.message));
        }
        n += 1;
    }
    if n > MAX {
        eprintln!("ckptfs: warning: ... and {} more", n - MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("1X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
