//! A cache entry: its files' names, its key (the input's identity), its meta file, and whether
//! an entry found in the directory can be reused.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::hash::hex;
use super::{RemoveOnDrop, euid, remove_if_exists};
use crate::source::error::Error;
use crate::source::{Blob, InputKind};

pub(super) const META_FORMAT: u32 = 1;
const MAX_META: u64 = 64 * 1024;

/// The suffixes (after the 64-hex key) of every file the cache creates for an entry.
pub(super) const TAR: &str = ".tar";
pub(super) const META: &str = ".meta";
pub(super) const LOCK: &str = ".lock";
pub(super) const TAR_PARTIAL: &str = ".tar.partial";
pub(super) const META_PARTIAL: &str = ".meta.partial";

/// What identifies an input file: if any of it changes, the cache entry is not reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Identity {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) mtime_sec: i64,
    pub(super) mtime_nsec: i64,
    pub(super) ino: u64,
    pub(super) dev: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) format: u32,
    pub(super) compression: String,
    pub(super) input: Identity,
    pub(super) tar_size: u64,
    /// The input file's sha256; null while the entry's [`super::Record`] job computes it (or
    /// when it could not: a later open computes it again).
    #[serde(default)]
    pub(super) input_sha256: Option<String>,
    /// The cached tar's inode and change time right after it was written: any later write to
    /// it (even one that keeps its size) changes its ctime, so a tampered copy is not reused.
    /// Absent in older meta files: then the entry is rebuilt.
    #[serde(default)]
    pub(super) tar_stamp: Option<Stamp>,
    /// Set while the tar is not yet known to be on disk: the boot it was written in
    /// (`/proc/sys/kernel/random/boot_id`). Within that boot the page cache holds exactly what
    /// was written, so the entry is reused; after a restart writes may have been lost and it is
    /// rebuilt. Cleared once the tar is synced (see [`super::Record`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) unsynced_boot: Option<String>,
}

/// This boot's id, or None where the kernel does not say.
pub(super) fn boot_id() -> Option<String> {
    let s = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let s = s.trim();
    (s.len() == 36).then(|| s.to_string())
}

/// What changes when a file's content is written: inode, ctime (not settable by users), mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stamp {
    pub(super) ino: u64,
    ctime_sec: i64,
    ctime_nsec: i64,
    pub(super) mtime_sec: i64,
    pub(super) mtime_nsec: i64,
}

impl Stamp {
    pub(super) fn of(md: &fs::Metadata) -> Stamp {
        Stamp {
            ino: md.ino(),
            ctime_sec: md.ctime(),
            ctime_nsec: md.ctime_nsec(),
            mtime_sec: md.mtime(),
            mtime_nsec: md.mtime_nsec(),
        }
    }
}

pub(in crate::source) fn compression(kind: InputKind) -> &'static str {
    match kind {
        InputKind::TarZst => "zstd",
        _ => "gzip",
    }
}

/// The error for an `input` whose decompressed `kind` stream does not start as a tar archive.
pub(in crate::source) fn not_tar(input: &Path, kind: InputKind) -> Error {
    Error::NotCheckpoint {
        path: input.to_path_buf(),
        why: format!(
            "its {} content is not a tar archive (no tar header at its start)",
            compression(kind)
        ),
    }
}

/// The error of decompressing `input`, a `kind` stream, that failed `offset` bytes into it.
pub(in crate::source) fn decompress_error(
    input: &Path,
    kind: InputKind,
    offset: u64,
    err: io::Error,
) -> Error {
    Error::Decompress {
        path: input.to_path_buf(),
        format: compression(kind),
        offset,
        err,
    }
}

pub(super) fn identity(input: &Path, file: &File) -> io::Result<Identity> {
    let md = file.metadata()?;
    // The path of the very file we opened (not a name that may since point elsewhere).
    let path = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .or_else(|_| fs::canonicalize(input))?;
    Ok(Identity {
        path: path.to_string_lossy().into_owned(),
        size: md.len(),
        mtime_sec: md.mtime(),
        mtime_nsec: md.mtime_nsec(),
        ino: md.ino(),
        dev: md.dev(),
    })
}

pub(super) fn key_of(id: &Identity, kind: InputKind) -> String {
    let mut h = Sha256::new();
    h.update(b"ckptfs-cache-v1\0");
    h.update(compression(kind).as_bytes());
    h.update(b"\0");
    h.update(id.path.as_bytes());
    h.update(b"\0");
    for v in [
        id.size,
        id.mtime_sec as u64,
        id.mtime_nsec as u64,
        id.ino,
        id.dev,
    ] {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

pub(super) fn open_cached(p: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(p)
}

/// The cached tar and its meta file if the cache entry can be trusted; `Ok(None)` when there is
/// none; `Err(why)` when there is one that cannot be trusted.
pub(super) fn reuse(
    tar_path: &Path,
    meta_path: &Path,
    id: &Identity,
    kind: InputKind,
) -> Result<Option<(Blob, Meta)>, String> {
    let tmd = match fs::symlink_metadata(tar_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot stat it: {e}")),
        Ok(m) => m,
    };
    if !tmd.is_file() || tmd.uid() != euid() {
        return Err("not a regular file owned by the current user".into());
    }
    let meta = read_meta(meta_path)?;
    if meta.format != META_FORMAT || meta.compression != compression(kind) {
        return Err("its meta file has another format or compression".into());
    }
    if &meta.input != id {
        return Err(
            "its meta file describes another input (path, size, mtime, inode or device differ)"
                .into(),
        );
    }
    // No hash yet is fine (it is computed again); a malformed one is not.
    if let Some(sha) = &meta.input_sha256
        && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err("its meta file has no valid sha256".into());
    }
    if let Some(b) = &meta.unsynced_boot
        && boot_id().as_deref() != Some(b.as_str())
    {
        return Err("it was written before the last restart and never synced to disk".into());
    }
    let f = open_cached(tar_path).map_err(|e| format!("cannot open it: {e}"))?;
    let md = f.metadata().map_err(|e| format!("cannot stat it: {e}"))?;
    if meta.tar_stamp != Some(Stamp::of(&md)) {
        return Err("it was changed after it was written (inode or change time differ)".into());
    }
    let len = md.len();
    if len != meta.tar_size {
        return Err(format!(
            "it has {len} bytes, its meta file says {}",
            meta.tar_size
        ));
    }
    let tar = Blob::map(&f).map_err(|e| format!("cannot map it: {e}"))?;
    if !crate::source::tar::looks_like_tar(tar.bytes()) {
        return Err("it does not start with a tar header".into());
    }
    Ok(Some((tar, meta)))
}

pub(super) fn read_meta(p: &Path) -> Result<Meta, String> {
    let f = open_cached(p).map_err(|e| format!("its meta file {}: {e}", p.display()))?;
    let md = f.metadata().map_err(|e| format!("its meta file: {e}"))?;
    if !md.is_file() || md.len() > MAX_META {
        return Err("its meta file is not a small regular file".into());
    }
    let mut s = Vec::new();
    f.take(MAX_META)
        .read_to_end(&mut s)
        .map_err(|e| format!("its meta file: {e}"))?;
    serde_json::from_slice(&s).map_err(|e| format!("its meta file is unreadable: {e}"))
}

/// Writes the meta file (a new file renamed into place), synced to disk when `durable`.
pub(super) fn write_meta(p: &Path, meta: &Meta, durable: bool) -> Result<(), Error> {
    let tmp = p.with_extension(&META_PARTIAL[1..]);
    remove_if_exists(&tmp).map_err(|e| Error::io(&tmp, "cannot remove", e))?;
    let mut guard = RemoveOnDrop(Some(tmp.clone()));
    let json = serde_json::to_vec_pretty(meta)
        .map_err(|e| Error::invalid(p, format!("cannot encode: {e}")))?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, "cannot create", e))?;
    f.write_all(&json)
        .and_then(|_| if durable { f.sync_all() } else { Ok(()) })
        .map_err(|e| Error::io(&tmp, "cannot write", e))?;
    fs::rename(&tmp, p).map_err(|e| Error::io(p, "cannot move into place", e))?;
    guard.0 = None;
    Ok(())
}
