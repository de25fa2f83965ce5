//! `ckptfs umount MOUNTPOINT`: unmount a ckptfs mount, also a stale one (daemon gone).

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::fs::mount::{self, UnmountError};

/// Arguments of `ckptfs umount`.
#[derive(Debug, Args)]
pub struct UmountArgs {
    /// Where the checkpoint is mounted
    pub mountpoint: PathBuf,
    /// If it is busy, detach it now; it goes away when its last user does
    #[arg(short, long)]
    pub lazy: bool,
}

pub fn run(a: UmountArgs) -> Result<(), CliError> {
    // A stale mount answers ENOTCONN to stat: fall back to a lexical absolute path.
    let path = std::fs::canonicalize(&a.mountpoint)
        .or_else(|_| mount::absolute(&a.mountpoint))
        .map_err(|e| CliError::usage(a.mountpoint.display(), super::io_why(&e)))?;
    let what = path.display();
    match mount::find_mount(&path) {
        None => return Err(CliError::usage(what, "not mounted")),
        Some(m) if m.fstype != "fuse" && !m.fstype.starts_with("fuse.") => {
            return Err(CliError::usage(
                what,
                format!("not a ckptfs (FUSE) mount but {}; refusing", m.fstype),
            ));
        }
        Some(_) => {}
    }
    mount::unmount(&path, a.lazy).map_err(|e| match e {
        UnmountError::NotMounted => CliError::usage(what, e),
        _ => CliError::failure(what, e),
    })
}
