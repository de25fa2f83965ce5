//! Decompression of `.tar.gz` / `.tar.zst` inputs, once, streaming, into a single `.tar` file in a
//! cache directory; later opens of the same input (same path, size, mtime, inode, device) reuse it.
//!
//! Entries are never extracted: the decompressed tar is then indexed like any `.tar`, so an
//! archive's paths can never cause a write anywhere. Files in the cache directory, for a key `K`
//! (sha256 of the input's identity):
//! - `K.tar`: the decompressed archive (renamed into place only after complete success),
//! - `K.meta`: JSON: input identity, compression, decompressed size, sha256 of the input file
//!   (null until known: the hash is computed off the open's critical path, see [`Record`]),
//! - `K.tar.partial`: being written (created with `O_EXCL`, mode 0600; removed on any error),
//! - `K.lock`: `flock`ed by the one process that checks / builds the entry; others wait,
//! - `K.meta.partial`: the meta file being written (renamed to `K.meta`).
//!
//! `cache_admin.rs` lists and removes these entries (`ckptfs cache list` / `clean`).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;

use rustix::fs::FlockOperation;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::{Blob, InputKind, OpenOptions};

const BUF: usize = 1 << 20;
const GIB: u64 = 1 << 30;
/// How long to wait for another process's decompression that shows no progress.
const WAIT_NO_PROGRESS: Duration = Duration::from_secs(600);
pub(super) const META_FORMAT: u32 = 1;
const MAX_META: u64 = 64 * 1024;

/// The suffixes (after the 64-hex key) of every file the cache creates for an entry.
pub(super) const TAR: &str = ".tar";
pub(super) const META: &str = ".meta";
pub(super) const LOCK: &str = ".lock";
pub(super) const TAR_PARTIAL: &str = ".tar.partial";
pub(super) const META_PARTIAL: &str = ".meta.partial";

/// A decompressed archive ready to index.
pub(crate) struct Cached {
    pub tar_path: PathBuf,
    pub tar: Blob,
    /// The input's sha256: known from the meta file, or being computed (see [`Record`]).
    pub sha256: Arc<PendingHash>,
    pub warnings: Vec<String>,
    /// The entry's recording (hash, sync, meta file), still running (see [`Record`]); None when
    /// there is nothing left to record.
    pub record: Option<Record>,
}

/// The input's SHA-256, published once by whoever computes it; readers wait for it.
pub(crate) struct PendingHash {
    value: Mutex<Option<Option<String>>>,
    cv: Condvar,
}

impl PendingHash {
    fn new() -> Arc<PendingHash> {
        Arc::new(PendingHash {
            value: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    fn known(sha: String) -> Arc<PendingHash> {
        let h = PendingHash::new();
        h.publish(Some(sha));
        h
    }

    /// Sets the value (None: it could not be computed); later calls change nothing.
    fn publish(&self, v: Option<String>) {
        let mut g = self.value.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(v);
            self.cv.notify_all();
        }
    }

    /// The sha256 (lowercase hex), waiting until it is known; None if it could not be computed.
    pub(crate) fn wait(&self) -> Option<String> {
        let mut g = self.value.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(v) = &*g {
                return v.clone();
            }
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl std::fmt::Debug for PendingHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingHash")
    }
}

/// What identifies an input file: if any of it changes, the cache entry is not reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Identity {
    pub(super) path: String,
    size: u64,
    mtime_sec: i64,
    mtime_nsec: i64,
    ino: u64,
    dev: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) format: u32,
    pub(super) compression: String,
    pub(super) input: Identity,
    pub(super) tar_size: u64,
    /// The input file's sha256; null while the entry's [`Record`] job computes it (or when it
    /// could not: a later open computes it again).
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
    /// rebuilt. Cleared once the tar is synced (see [`Record`]).
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
    ino: u64,
    ctime_sec: i64,
    ctime_nsec: i64,
    mtime_sec: i64,
    mtime_nsec: i64,
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub(super) fn compression(kind: InputKind) -> &'static str {
    match kind {
        InputKind::TarZst => "zstd",
        _ => "gzip",
    }
}

pub(super) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The cache directories to try, in order: `explicit` alone when given, else
/// `$XDG_CACHE_HOME/ckptfs`, `$HOME/.cache/ckptfs` and the private per-user
/// `/var/tmp/ckptfs-$UID`. Relative or empty environment values are left out.
pub(crate) fn cache_dir_candidates(
    explicit: Option<&Path>,
    xdg: Option<OsString>,
    home: Option<OsString>,
    uid: u32,
) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let abs = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let mut out = Vec::with_capacity(3);
    if let Some(x) = abs(xdg) {
        out.push(x.join("ckptfs"));
    }
    if let Some(h) = abs(home) {
        out.push(h.join(".cache").join("ckptfs"));
    }
    out.push(PathBuf::from(format!("/var/tmp/ckptfs-{uid}")));
    out
}

/// The candidates for `explicit` (`--cache-dir`) and this process's environment, made absolute.
fn candidates_here(explicit: Option<&Path>) -> Vec<PathBuf> {
    cache_dir_candidates(
        explicit,
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
        euid(),
    )
    .into_iter()
    .map(|d| std::path::absolute(&d).unwrap_or(d))
    .collect()
}

/// The cache directory as `ckptfs cache list` / `clean` see it, without creating anything: the
/// first candidate that exists, else the first candidate.
pub(crate) fn resolve_cache_dir(explicit: Option<&Path>) -> PathBuf {
    let all = candidates_here(explicit);
    all.iter()
        .find(|d| fs::symlink_metadata(d).is_ok())
        .or(all.first())
        .cloned()
        .unwrap_or_else(|| PathBuf::from(format!("/var/tmp/ckptfs-{}", euid())))
}

/// The cache directory to write in, created (mode 0700) if needed: the first candidate that is,
/// or can be made, a directory owned by the current user and not writable by group or others.
/// A user without a writable home gets the per-user directory under `/var/tmp`. A candidate that
/// exists but is refused as unsafe is skipped with a warning in the log; `--cache-dir` is the
/// only candidate when given. The error names every candidate and why it was refused.
pub(crate) fn usable_cache_dir(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    usable_of(&candidates_here(explicit))
}

fn usable_of(candidates: &[PathBuf]) -> Result<PathBuf, Error> {
    let mut refused = Vec::new();
    for d in candidates {
        let existed = fs::symlink_metadata(d).is_ok();
        match ensure_cache_dir(d) {
            Ok(()) => return Ok(d.clone()),
            Err(e) => {
                let why = match e {
                    Error::Cache { why, .. } => why,
                    e => e.to_string(),
                };
                if existed && candidates.len() > 1 {
                    log::warn!("cache directory {}: {why}; trying the next", d.display());
                }
                refused.push((d.clone(), why));
            }
        }
    }
    let mut it = refused.into_iter();
    let (path, mut why) = it.next().unwrap_or_default();
    for (p, w) in it {
        why.push_str(&format!("; fallback {}: {w}", p.display()));
    }
    if candidates.len() > 1 {
        why.push_str("; use --cache-dir");
    }
    Err(Error::Cache { path, why })
}

/// Creates the cache directory (mode 0700) if needed and checks it is safe: a directory owned by
/// the current user, not writable by group or others.
pub(crate) fn ensure_cache_dir(dir: &Path) -> Result<(), Error> {
    if let Err(e) = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        return Err(Error::Cache {
            path: dir.to_path_buf(),
            why: format!("cannot create it: {e}"),
        });
    }
    check_cache_dir(dir)
}

/// Checks that the existing cache directory is safe: a directory owned by the current user, not
/// writable by group or others.
pub(super) fn check_cache_dir(dir: &Path) -> Result<(), Error> {
    let cache_err = |why: String| Error::Cache {
        path: dir.to_path_buf(),
        why,
    };
    let md = fs::metadata(dir).map_err(|e| cache_err(format!("cannot stat it: {e}")))?;
    if !md.is_dir() {
        return Err(cache_err("not a directory".into()));
    }
    let me = euid();
    if md.uid() != me {
        return Err(cache_err(format!(
            "owned by uid {}, not by the current user (uid {me}): refusing to use it",
            md.uid()
        )));
    }
    let mode = md.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(cache_err(format!(
            "writable by group or others (mode {mode:04o}): refusing to use it"
        )));
    }
    Ok(())
}

/// Bytes available to the current user on the filesystem holding `dir`.
pub(super) fn free_space(dir: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
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

/// Removes a file on drop unless disarmed (the partial copy, on any error or panic).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The decompressed tar of `input` (opened as `file`, of kind `kind`), from the cache or built now.
///
/// The input's sha256 is not on this path: a new entry's meta file is written without it, and a
/// [`Record`] job finishes hashing the input (begun at idle priority beside the decompressor, so
/// it only takes a core nobody else wants), publishes the hash, syncs the tar and completes the
/// meta file. An entry whose meta file has no hash yet (its builder is still hashing, or was
/// killed) is reused all the same, and its input hashed again off the critical path.
pub(crate) fn decompressed(
    input: &Path,
    file: &File,
    kind: InputKind,
    opts: &OpenOptions,
) -> Result<Cached, Error> {
    let dir = usable_cache_dir(opts.cache_dir.as_deref())?;
    let id = identity(input, file).map_err(|e| Error::io(input, "cannot stat", e))?;
    let key = key_of(&id, kind);
    let tar_path = dir.join(format!("{key}{TAR}"));
    let partial = dir.join(format!("{key}{TAR_PARTIAL}"));
    let meta_path = dir.join(format!("{key}{META}"));
    let lock_path = dir.join(format!("{key}{LOCK}"));
    let own_input = || {
        file.try_clone()
            .map_err(|e| Error::io(input, "cannot duplicate the descriptor of", e))
    };

    let lock = lock(&lock_path, &partial, input)?;
    let mut warnings = Vec::new();
    match reuse(&tar_path, &meta_path, &id, kind) {
        Ok(Some((tar, meta))) => {
            lock.release();
            let (sha256, record) = match meta.input_sha256.clone() {
                Some(sha) => (PendingHash::known(sha), None),
                None => {
                    let hash = PendingHash::new();
                    let record = Record::start(RecordJob {
                        input: input.to_path_buf(),
                        file: own_input()?,
                        early: None,
                        hash: hash.clone(),
                        unsynced_tar: None,
                        tar_path: tar_path.clone(),
                        meta_path,
                        meta,
                        dir,
                        lock_path,
                    });
                    (hash, record)
                }
            };
            return Ok(Cached {
                tar_path,
                tar,
                sha256,
                warnings,
                record,
            });
        }
        Ok(None) => {}
        Err(why) => {
            warnings.push(format!(
                "cache {}: a cache it cannot trust ({why}): removed and rebuilt",
                tar_path.display()
            ));
        }
    }
    for p in [&tar_path, &meta_path] {
        remove_if_exists(p).map_err(|e| Error::io(p, "cannot remove the stale cache file", e))?;
    }

    let (limit, why) = match opts.max_size {
        Some(m) => (m, "the configured maximum size".to_string()),
        None => {
            let free =
                free_space(&dir).map_err(|e| Error::io(&dir, "cannot measure free space", e))?;
            (
                free.saturating_sub(GIB),
                format!(
                    "the free space of the cache filesystem at {} ({free} bytes) minus 1 GiB; free space, use another cache directory or set a maximum size",
                    dir.display()
                ),
            )
        }
    };
    let job_file = own_input()?;
    let (tar_size, early) = build(&BuildJob {
        input,
        file,
        kind,
        partial: &partial,
        limit,
        why_limit: &why,
        progress: opts.progress,
    })?;
    // The tar first, then the meta file that vouches for it (with the tar's stamp, taken after
    // the rename, which may itself change the ctime): a crash in between leaves a tar without
    // meta, which is rebuilt.
    fs::rename(&partial, &tar_path).map_err(|e| {
        Error::io(
            &tar_path,
            "cannot move the decompressed archive into place",
            e,
        )
    })?;
    let f = open_cached(&tar_path)
        .map_err(|e| Error::io(&tar_path, "cannot open the cached archive", e))?;
    let stamp = f
        .metadata()
        .map(|m| Stamp::of(&m))
        .map_err(|e| Error::io(&tar_path, "cannot stat the cached archive", e))?;
    let tar =
        Blob::map(&f).map_err(|e| Error::io(&tar_path, "cannot map the cached archive", e))?;
    if tar.len() as u64 != tar_size {
        return Err(Error::invalid(
            &tar_path,
            format!(
                "the cached archive has {} bytes right after writing {tar_size}: changed by someone else",
                tar.len()
            ),
        ));
    }
    let boot = boot_id();
    let meta = Meta {
        format: META_FORMAT,
        compression: compression(kind).into(),
        input: id,
        tar_size,
        input_sha256: None,
        tar_stamp: Some(stamp),
        unsynced_boot: boot.clone(),
    };
    if boot.is_none() {
        // Without a boot id an unsynced tar cannot be vouched for: sync it now.
        f.sync_all()
            .map_err(|e| Error::io(&tar_path, "cannot flush the decompressed copy", e))?;
    }
    // Not synced while the tar is not: if it is lost in a crash, the tar is rebuilt; if it
    // survives, its boot id tells that the tar may not have.
    write_meta(&meta_path, &meta, boot.is_none())?;
    lock.release();
    // The bytes are in the page cache and served from there at once; the hash, the sync to disk
    // and the meta file's completion happen beside the work that follows, without holding the
    // entry's lock: another open meanwhile reuses the entry.
    let sha256 = PendingHash::new();
    let record = Record::start(RecordJob {
        input: input.to_path_buf(),
        file: job_file,
        early,
        hash: sha256.clone(),
        unsynced_tar: boot.map(|_| f),
        tar_path: tar_path.clone(),
        meta_path,
        meta,
        dir,
        lock_path,
    });
    Ok(Cached {
        tar_path,
        tar,
        sha256,
        warnings,
        record,
    })
}

/// Removes the cache entry whose tar is `tar_path` (one that turned out to be no usable tar),
/// after its recording job is done, under the entry's lock; the lock file goes with it. Best
/// effort: an entry in use elsewhere is removed from the directory, its mapped copy stays valid.
pub(crate) fn discard(tar_path: &Path, record: Option<Arc<Record>>) {
    if let Some(r) = record {
        r.wait();
    }
    let (Some(dir), Some(key)) = (
        tar_path.parent(),
        tar_path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(TAR)),
    ) else {
        return;
    };
    let lock_path = dir.join(format!("{key}{LOCK}"));
    let Ok(held) = lock(
        &lock_path,
        &dir.join(format!("{key}{TAR_PARTIAL}")),
        tar_path,
    ) else {
        return;
    };
    for p in [tar_path.to_path_buf(), dir.join(format!("{key}{META}"))] {
        if let Err(e) = remove_if_exists(&p) {
            log::warn!("cache {}: cannot remove: {e}", p.display());
        }
    }
    // Dropped without release: the lock file is removed too.
    drop(held);
}

/// Completes a cache entry: hashes the input (continuing what [`EarlyHash`] did) and publishes
/// the hash; syncs a new tar to disk; then, under the entry's lock and only if the meta file is
/// still the one written for this tar and input, records the hash in it and clears
/// `unsynced_boot`, and syncs the directory. If the sync fails, the meta file is removed so the
/// entry is rebuilt rather than trusted; if the input changed while it was read, the hash is not
/// published (a hash of other bytes than were decompressed) and the meta file is removed.
struct RecordJob {
    /// The input, for messages, and its own descriptor.
    input: PathBuf,
    file: File,
    early: Option<EarlyHash>,
    hash: Arc<PendingHash>,
    /// A new entry's tar, not yet synced to disk.
    unsynced_tar: Option<File>,
    tar_path: PathBuf,
    meta_path: PathBuf,
    /// The meta file as this open wrote or read it.
    meta: Meta,
    dir: PathBuf,
    lock_path: PathBuf,
}

impl RecordJob {
    fn run(mut self) -> Result<(), Error> {
        let hashed = finish_hash(&self.file, &self.meta.input, self.early.take());
        let sha = match &hashed {
            Ok(s) => Some(s.clone()),
            Err(e) => {
                log::warn!("{}: no sha256: {e}", self.input.display());
                None
            }
        };
        self.hash.publish(sha.clone());
        if let Some(t) = &self.unsynced_tar
            && let Err(e) = t.sync_all()
        {
            let _ = fs::remove_file(&self.meta_path);
            return Err(Error::io(
                &self.tar_path,
                "cannot flush the decompressed copy",
                e,
            ));
        }
        let _lock =
            lock_wait(&self.lock_path).map_err(|e| Error::io(&self.lock_path, "cannot lock", e))?;
        let Ok(mut current) = read_meta(&self.meta_path) else {
            return Ok(());
        };
        if current.tar_stamp != self.meta.tar_stamp || current.input != self.meta.input {
            return Ok(()); // another entry since
        }
        if matches!(hashed, Err(NoHash::Changed(_))) {
            let _ = fs::remove_file(&self.meta_path);
            return Ok(());
        }
        let mut dirty = false;
        if current.input_sha256.is_none()
            && let Some(s) = sha
        {
            current.input_sha256 = Some(s);
            dirty = true;
        }
        if self.unsynced_tar.is_some()
            && current.unsynced_boot.is_some()
            && current.unsynced_boot == self.meta.unsynced_boot
        {
            current.unsynced_boot = None;
            dirty = true;
        }
        if dirty {
            write_meta(&self.meta_path, &current, true)?;
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for RecordJob {
    /// A job that never ran (its thread could not start) still answers the hash's readers.
    fn drop(&mut self) {
        if let Some(e) = self.early.take() {
            e.cancel();
        }
        self.hash.publish(None);
    }
}

/// Why the input has no hash.
#[derive(Debug)]
enum NoHash {
    Io(io::Error),
    /// It changed while it was read (so the hash would not be of the bytes decompressed).
    Changed(String),
}

impl std::fmt::Display for NoHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoHash::Io(e) => write!(f, "cannot read it: {e}"),
            NoHash::Changed(why) => write!(f, "it changed while being read ({why})"),
        }
    }
}

/// The sha256 of `file`, whose identity was `id` when it was opened, continuing from what
/// `early` hashed; an error if the file's size, mtime, inode or device differ from `id` after
/// hashing (a file changed while it was decompressed or hashed).
fn finish_hash(file: &File, id: &Identity, early: Option<EarlyHash>) -> Result<String, NoHash> {
    let (h, off) = match early.map(EarlyHash::stop) {
        Some(Ok(done)) => done,
        _ => (Sha256::new(), 0),
    };
    let (h, n) = hash_from(file, h, off, BUF, &|| false).map_err(NoHash::Io)?;
    let md = file.metadata().map_err(NoHash::Io)?;
    let now = (md.len(), md.mtime(), md.mtime_nsec(), md.ino(), md.dev());
    let then = (id.size, id.mtime_sec, id.mtime_nsec, id.ino, id.dev);
    if now != then || n != id.size {
        return Err(NoHash::Changed(format!(
            "{n} bytes hashed; size, mtime, inode, device {now:?} now, {then:?} when opened"
        )));
    }
    Ok(hex(&h.finalize()))
}

/// The first part of the input's hash, computed beside the decompressor at idle priority
/// (`SCHED_IDLE`): it uses a core only while nothing else wants it, so on a busy machine it
/// costs the decompression nothing. [`EarlyHash::stop`] takes over what it did.
struct EarlyHash {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<io::Result<(Sha256, u64)>>,
}

/// The early hash's reads: small, so that a stop request waits for little CPU time.
const EARLY_CHUNK: usize = 256 << 10;

impl EarlyHash {
    fn start(file: &File) -> Option<EarlyHash> {
        let f = file.try_clone().ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ckptfs-hash-idle".into())
            .spawn(move || {
                idle_priority();
                hash_from(&f, Sha256::new(), 0, EARLY_CHUNK, &|| {
                    flag.load(Ordering::Relaxed)
                })
            })
            .ok()?;
        Some(EarlyHash { stop, handle })
    }

    /// Stops it; the hash state and the number of bytes hashed so far.
    fn stop(self) -> io::Result<(Sha256, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")))
    }

    /// Stops it without waiting.
    fn cancel(self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Puts the calling thread in the `SCHED_IDLE` class (best effort: a sandbox may refuse).
fn idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param for the call's duration; pid 0 is the calling thread.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if r != 0 {
        log::debug!(
            "SCHED_IDLE for the early hash: {}",
            io::Error::last_os_error()
        );
    }
}

/// Takes the exclusive `flock` of a lock file, waiting for it.
fn flock_wait(f: &File) -> io::Result<()> {
    loop {
        match rustix::fs::flock(f, FlockOperation::LockExclusive) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A [`RecordJob`] running on its own thread. Dropping the `Record` (the last clone of the
/// [`super::Source`] that holds it) waits for the job, so a process does not exit half-way; if
/// it is killed anyway, the entry stays marked unsynced (reused until the next restart, then
/// rebuilt) and without a hash (computed again by the next open).
pub(crate) struct Record(Mutex<Option<std::thread::JoinHandle<()>>>);

impl Record {
    fn start(job: RecordJob) -> Option<Record> {
        let path = job.tar_path.clone();
        let spawned = std::thread::Builder::new()
            .name("ckptfs-cache-record".into())
            .spawn(move || {
                let path = job.tar_path.clone();
                if let Err(e) = job.run() {
                    log::warn!("cache {}: not recorded: {e}", path.display());
                }
            });
        match spawned {
            Ok(h) => Some(Record(Mutex::new(Some(h)))),
            // The job was dropped: the hash is unknown (null), the entry stays as written.
            Err(e) => {
                log::warn!(
                    "cache {}: cannot start hashing the input and syncing the copy ({e})",
                    path.display()
                );
                None
            }
        }
    }

    /// Waits until the job is done (or failed).
    pub(crate) fn wait(&self) {
        let h = self.0.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = h {
            let _ = h.join();
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.wait();
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Record")
    }
}

/// Tries to take the exclusive `flock` of an entry's lock file without waiting: `Ok(false)` when
/// another process (a running check or build) holds it.
pub(super) fn try_flock(f: &File) -> io::Result<bool> {
    match rustix::fs::flock(f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Opens (creating it, mode 0600, never through a symlink) an entry's lock file.
pub(super) fn open_lock(lock_path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(lock_path)
}

/// True while the locked file `f` is still the one named `lock_path`: a process that holds a
/// lock may remove its file (a failed build, `cache clean`), and a lock taken on a removed file
/// excludes nobody who opens the name afresh, so whoever gets it checks and takes it again.
pub(super) fn lock_is_current(f: &File, lock_path: &Path) -> bool {
    match (f.metadata(), fs::symlink_metadata(lock_path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Opens the entry's lock file and takes its `flock`, waiting for it, on the file that still has
/// the name (see [`lock_is_current`]).
fn lock_wait(lock_path: &Path) -> io::Result<File> {
    loop {
        let f = open_lock(lock_path)?;
        flock_wait(&f)?;
        if lock_is_current(&f, lock_path) {
            return Ok(f);
        }
    }
}

fn open_cached(p: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(p)
}

/// An entry's lock, held. Released by [`EntryLock::release`], which keeps the lock file beside
/// the entry; dropped without it (an error on the way), it removes the lock file while still
/// holding it, so a failed run leaves no lock file behind.
struct EntryLock {
    file: Option<File>,
    path: PathBuf,
    keep: bool,
}

impl EntryLock {
    fn release(mut self) {
        self.keep = true;
        drop(self.file.take());
    }
}

impl Drop for EntryLock {
    fn drop(&mut self) {
        if let Some(f) = self.file.take()
            && !self.keep
            && lock_is_current(&f, &self.path)
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Takes the entry's lock, waiting while another process holds it and its partial file grows.
fn lock(lock_path: &Path, partial: &Path, input: &Path) -> Result<EntryLock, Error> {
    let open =
        || open_lock(lock_path).map_err(|e| Error::io(lock_path, "cannot open the cache lock", e));
    let mut f = open()?;
    let mut last_size: Option<u64> = None;
    let mut deadline = Instant::now() + WAIT_NO_PROGRESS;
    let mut said = false;
    loop {
        match try_flock(&f) {
            Ok(true) if lock_is_current(&f, lock_path) => {
                return Ok(EntryLock {
                    file: Some(f),
                    path: lock_path.to_path_buf(),
                    keep: false,
                });
            }
            Ok(true) => {
                // Removed by its holder meanwhile: lock the name as it is now.
                f = open()?;
                continue;
            }
            Ok(false) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(Error::io(lock_path, "cannot lock the cache entry", e)),
        }
        if !said {
            log::info!(
                "{}: waiting for another ckptfs process decompressing it into {}",
                input.display(),
                partial.display()
            );
            said = true;
        }
        let size = fs::metadata(partial).map(|m| m.len()).ok();
        if size != last_size {
            last_size = size;
            deadline = Instant::now() + WAIT_NO_PROGRESS;
        }
        if Instant::now() > deadline {
            return Err(Error::Cache {
                path: lock_path.to_path_buf(),
                why: format!(
                    "another process holds this lock and its decompression of {} made no progress for {} s",
                    input.display(),
                    WAIT_NO_PROGRESS.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The cached tar and its meta file if the cache entry can be trusted; `Ok(None)` when there is
/// none; `Err(why)` when there is one that cannot be trusted.
fn reuse(
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
    if !super::tar::looks_like_tar(tar.bytes()) {
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
fn write_meta(p: &Path, meta: &Meta, durable: bool) -> Result<(), Error> {
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

/// Reads the compressed input, counting every byte (and driving the progress bar).
pub(super) struct Tally<'a, R: Read> {
    pub(super) inner: R,
    pub(super) read: &'a std::cell::Cell<u64>,
    pub(super) bar: Option<indicatif::ProgressBar>,
}

impl<'a, R: Read> Tally<'a, R> {
    /// `inner` (a compressed input of `total_in` bytes) counted into `read` and buffered, with a
    /// progress bar when asked and stderr is a terminal (returned too, to be finished).
    pub(super) fn buffered(
        input: &Path,
        inner: R,
        total_in: u64,
        progress: bool,
        read: &'a std::cell::Cell<u64>,
    ) -> (BufReader<Tally<'a, R>>, Option<indicatif::ProgressBar>) {
        let bar = if progress {
            progress_bar(input, total_in)
        } else {
            None
        };
        let tally = Tally {
            inner,
            read,
            bar: bar.clone(),
        };
        (BufReader::with_capacity(BUF, tally), bar)
    }
}

/// The decompressor of a `kind` input (gzip, possibly multi-member, or zstd) over `src`.
pub(super) fn decoder<'r>(
    kind: InputKind,
    src: &'r mut impl io::BufRead,
) -> io::Result<Box<dyn Read + 'r>> {
    Ok(match kind {
        InputKind::TarZst => Box::new(zstd::stream::read::Decoder::with_buffer(src)?),
        _ => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
    })
}

impl<R: Read> Read for Tally<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.read.get().saturating_add(n as u64);
        self.read.set(total);
        if let Some(b) = &self.bar {
            b.set_position(total);
        }
        Ok(n)
    }
}

/// Continues `h` over `file` from offset `off` to its end with positional reads of `chunk`
/// bytes (so it can run beside the decompressor, which reads the same file through its cursor);
/// stops early when `stop()` says so (checked before each read). Returns the state and the
/// offset reached.
fn hash_from(
    file: &File,
    mut h: Sha256,
    mut off: u64,
    chunk: usize,
    stop: &dyn Fn() -> bool,
) -> io::Result<(Sha256, u64)> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; chunk];
    loop {
        if stop() {
            break;
        }
        let n = match file.read_at(&mut buf, off) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok((h, off))
}

pub(super) fn progress_bar(input: &Path, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    bar.set_message(format!("decompressing {name}"));
    Some(bar)
}

/// What one cache build works on.
#[derive(Clone, Copy)]
struct BuildJob<'a> {
    input: &'a Path,
    file: &'a File,
    kind: InputKind,
    /// Where the decompressed copy is written before it is renamed into place.
    partial: &'a Path,
    /// The most bytes the decompressed copy may have, and why (for the error).
    limit: u64,
    why_limit: &'a str,
    /// Show a progress bar (on a terminal).
    progress: bool,
}

/// Decompresses `file` into a new `partial` file, with an [`EarlyHash`] of the input beside it.
/// Returns the decompressed size and the early hash (still running). On any error the partial
/// file is removed.
fn build(job: &BuildJob<'_>) -> Result<(u64, Option<EarlyHash>), Error> {
    let BuildJob { input, file, .. } = *job;
    let total_in = file
        .metadata()
        .map_err(|e| Error::io(input, "cannot stat", e))?
        .len();
    let early = EarlyHash::start(file);
    let decompressed = decompress(job, total_in);
    let (written, read_in, mut guard) = match decompressed {
        Ok(d) => d,
        Err(e) => {
            if let Some(h) = early {
                h.cancel();
            }
            return Err(e);
        }
    };
    if read_in != total_in {
        if let Some(h) = early {
            h.cancel();
        }
        return Err(Error::invalid(
            input,
            format!(
                "the file changed while being read ({read_in} bytes decompressed, {total_in} expected)"
            ),
        ));
    }
    guard.0 = None;
    Ok((written, early))
}

/// Decompresses the job's file (of `total_in` bytes) into a new partial file (not yet synced: see
/// [`Record`]). Returns the decompressed size, the number of input bytes read (the stream and
/// anything after it), and the guard that removes the partial file unless disarmed. On any error
/// the partial file is removed.
fn decompress(job: &BuildJob<'_>, total_in: u64) -> Result<(u64, u64, RemoveOnDrop), Error> {
    let BuildJob {
        input,
        file,
        kind,
        partial,
        limit,
        why_limit,
        progress,
    } = *job;
    // We hold the lock: a partial file left here is from a process that died.
    remove_if_exists(partial)
        .map_err(|e| Error::io(partial, "cannot remove a stale partial file", e))?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(partial)
        .map_err(|e| Error::io(partial, "cannot create the decompressed copy", e))?;
    let guard = RemoveOnDrop(Some(partial.to_path_buf()));
    let read = std::cell::Cell::new(0u64);
    let (mut src, bar) = Tally::buffered(input, file, total_in, progress, &read);
    let format = compression(kind);
    let dec_err = |e: io::Error| Error::Decompress {
        path: input.to_path_buf(),
        format,
        offset: read.get(),
        err: e,
    };
    // The writes go to a second thread (as `zstd -dc` does with its asynchronous I/O): copying
    // into the page cache overlaps the decompression, and on a busy machine the pipeline gets
    // the CPU share a two-thread decompressor gets. Buffers go round: at most 4 exist.
    let (to_writer, written_chunks) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
    let (give_back, free) = std::sync::mpsc::channel::<Vec<u8>>();
    let (read_result, wrote) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            for (b, n) in written_chunks {
                out.write_all(&b[..n])?;
                let _ = give_back.send(b);
            }
            Ok(())
        });
        let r = (|| -> Result<u64, Error> {
            let mut dec = decoder(kind, &mut src).map_err(dec_err)?;
            let mut written: u64 = 0;
            let mut head: Vec<u8> = Vec::with_capacity(512);
            loop {
                let mut buf = free.try_recv().unwrap_or_else(|_| vec![0u8; BUF]);
                let n = match dec.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(dec_err(e)),
                };
                let next = written.checked_add(n as u64).filter(|&w| w <= limit);
                let Some(next) = next else {
                    return Err(Error::TooLarge {
                        path: input.to_path_buf(),
                        limit,
                        why: why_limit.to_string(),
                    });
                };
                if head.len() < 512 {
                    let take = (512 - head.len()).min(n);
                    head.extend_from_slice(&buf[..take]);
                    if head.len() == 512 && !super::tar::looks_like_tar(&head) {
                        return Err(not_tar(input, format));
                    }
                }
                if to_writer.send((buf, n)).is_err() {
                    break; // the writer failed: its error is reported
                }
                written = next;
            }
            if head.len() < 512 {
                return Err(not_tar(input, format));
            }
            Ok(written)
        })();
        drop(to_writer);
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked")));
        (r, wrote)
    });
    // A reader's own error first (a writer that failed only stops the reader, which then
    // reports success).
    let written = read_result?;
    wrote.map_err(|e| Error::io(partial, "cannot write the decompressed copy", e))?;
    // Read whatever follows the compressed stream too (the hash covers the whole file; the
    // count tells whether the file changed).
    io::copy(&mut src, &mut io::sink()).map_err(|e| Error::io(input, "cannot read", e))?;
    drop(src);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((written, read.get(), guard))
}

fn not_tar(input: &Path, format: &str) -> Error {
    Error::NotCheckpoint {
        path: input.to_path_buf(),
        why: format!("its {format} content is not a tar archive (no tar header at its start)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_choice() {
        let x = Some(OsString::from("/x"));
        let h = Some(OsString::from("/home/u"));
        let v = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            cache_dir_candidates(Some(Path::new("/c")), x.clone(), h.clone(), 7),
            v(&["/c"])
        );
        assert_eq!(
            cache_dir_candidates(None, x, h.clone(), 7),
            v(&["/x/ckptfs", "/home/u/.cache/ckptfs", "/var/tmp/ckptfs-7"])
        );
        assert_eq!(
            cache_dir_candidates(None, Some("rel".into()), h, 7),
            v(&["/home/u/.cache/ckptfs", "/var/tmp/ckptfs-7"])
        );
        assert_eq!(
            cache_dir_candidates(None, None, Some("".into()), 7),
            v(&["/var/tmp/ckptfs-7"])
        );
    }

    /// A candidate that cannot be created (a home that does not exist, under a file) or that is
    /// unsafe is passed over for the next; when none is usable the error names each.
    #[test]
    fn cache_dir_falls_back_to_the_next_candidate() {
        use crate::source::test_util::TempDir;
        let t = TempDir::new("cfall");
        fs::write(t.join("file"), b"").unwrap();
        let no_home = t.join("file").join(".cache").join("ckptfs");
        let open = t.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let good = t.join("private");
        let got = usable_of(&[no_home.clone(), open.clone(), good.clone()]).unwrap();
        assert_eq!(got, good);
        assert_eq!(
            fs::metadata(&good).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let e = usable_of(&[no_home.clone(), open.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{}: cannot create it", no_home.display())),
            "{e}"
        );
        assert!(
            e.contains(&format!("fallback {}: writable by group", open.display())),
            "{e}"
        );
        assert!(e.contains("use --cache-dir"), "{e}");
        // An explicit directory is the only candidate: no fallback, the plain message.
        let e = usable_of(std::slice::from_ref(&no_home))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("fallback") && !e.contains("--cache-dir"), "{e}");
    }

    /// Regression: a cached tar modified in place, keeping its size and its tar
    /// header, was trusted and served. Its ctime no longer matches the meta file: rebuilt.
    #[test]
    fn tampered_cache_is_rebuilt() {
        use crate::source::test_util::{TarSpec, TempDir, gzip};
        use std::os::unix::fs::FileExt;
        let t = TempDir::new("tamper");
        let input = t.join("in.tar.gz");
        let data = vec![0x33u8; 8192];
        fs::write(
            &input,
            gzip(&TarSpec::new().file("a/pages-1.img", &data).build_gnu()),
        )
        .unwrap();
        let opts = OpenOptions {
            cache_dir: Some(t.join("cache")),
            max_size: None,
            progress: false,
            ..Default::default()
        };
        let open = || {
            let f = File::open(&input).unwrap();
            decompressed(&input, &f, InputKind::TarGz, &opts).unwrap()
        };
        let first = open();
        let orig = first.tar.bytes().to_vec();
        assert!(first.warnings.is_empty());
        let again = open();
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        drop((first, again));
        let f = fs::OpenOptions::new()
            .write(true)
            .open(
                t.join("cache").join(
                    fs::read_dir(t.join("cache"))
                        .unwrap()
                        .flatten()
                        .map(|e| e.file_name())
                        .find(|n| n.to_string_lossy().ends_with(".tar"))
                        .unwrap(),
                ),
            )
            .unwrap();
        f.write_all_at(b"EVIL", 1024).unwrap();
        drop(f);
        let r = open();
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("changed after it was written")),
            "{:?}",
            r.warnings
        );
        assert!(r.tar.bytes() == &orig[..], "the tampered copy was served");
    }

    /// The hash is taken over in pieces (an idle-priority start, stopped anywhere, then the
    /// rest): the same digest as hashing the file at once.
    #[test]
    fn hash_continues_where_the_early_hash_stopped() {
        use crate::source::test_util::{TempDir, sha256_file};
        use std::cell::Cell;
        let t = TempDir::new("hashpart");
        let p = t.join("in");
        let data: Vec<u8> = (0..(3 * EARLY_CHUNK + 1234) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(&p, &data).unwrap();
        let want = sha256_file(&p);
        let f = File::open(&p).unwrap();
        for stop_after in [0, 1, 2, 3, 4, 10] {
            let reads = Cell::new(0);
            let (h, off) = hash_from(&f, Sha256::new(), 0, EARLY_CHUNK, &|| {
                reads.set(reads.get() + 1);
                reads.get() > stop_after
            })
            .unwrap();
            assert_eq!(off, (stop_after * EARLY_CHUNK).min(data.len()) as u64);
            let (h, n) = hash_from(&f, h, off, BUF, &|| false).unwrap();
            assert_eq!(n, data.len() as u64);
            assert_eq!(hex(&h.finalize()), want, "stopped after {stop_after} reads");
        }
        // Through the threads: the early hash stopped at once or after finishing.
        let id = identity(&p, &f).unwrap();
        assert_eq!(finish_hash(&f, &id, EarlyHash::start(&f)).unwrap(), want);
        let early = EarlyHash::start(&f).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(finish_hash(&f, &id, Some(early)).unwrap(), want);
        assert_eq!(finish_hash(&f, &id, None).unwrap(), want);
    }

    /// A file whose size or mtime changed since it was opened gets no hash (it would not be of
    /// the bytes decompressed).
    #[test]
    fn changed_input_has_no_hash() {
        use crate::source::test_util::TempDir;
        let t = TempDir::new("hashchg");
        let p = t.join("in");
        fs::write(&p, b"0123456789").unwrap();
        let f = File::open(&p).unwrap();
        let id = identity(&p, &f).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let e = finish_hash(&f, &id, None).unwrap_err();
        assert!(matches!(e, NoHash::Changed(_)), "{e}");
        assert!(e.to_string().contains("14 bytes hashed"), "{e}");
    }

    /// The hash is not on the open's path: a new entry's meta file is first written without it,
    /// the background job records it; an entry whose meta file has none (its builder was killed
    /// before recording it) is reused, not rebuilt, and hashed again.
    #[test]
    fn hash_is_recorded_after_the_open_and_recomputed_when_missing() {
        use crate::source::test_util::{TarSpec, TempDir, gzip, sha256_file};
        let t = TempDir::new("hashrec");
        let input = t.join("in.tar.gz");
        fs::write(
            &input,
            gzip(
                &TarSpec::new()
                    .file("a/pages-1.img", &[7u8; 9000])
                    .build_gnu(),
            ),
        )
        .unwrap();
        let want = sha256_file(&input);
        let opts = OpenOptions {
            cache_dir: Some(t.join("cache")),
            max_size: None,
            progress: false,
            ..Default::default()
        };
        let open = || {
            let f = File::open(&input).unwrap();
            decompressed(&input, &f, InputKind::TarGz, &opts).unwrap()
        };
        let first = open();
        let meta_path = first.tar_path.with_extension("meta");
        assert_eq!(first.sha256.wait().as_deref(), Some(want.as_str()));
        first.record.as_ref().unwrap().wait();
        let m = read_meta(&meta_path).unwrap();
        assert_eq!(m.input_sha256.as_deref(), Some(want.as_str()));
        assert!(m.unsynced_boot.is_none());
        let ino = fs::metadata(&first.tar_path).unwrap().ino();
        drop(first);
        // Reused with the hash known: nothing to record.
        let again = open();
        assert!(again.record.is_none() && again.warnings.is_empty());
        assert_eq!(again.sha256.wait().as_deref(), Some(want.as_str()));
        drop(again);
        // The meta file as a killed builder leaves it: no hash.
        let mut m = read_meta(&meta_path).unwrap();
        m.input_sha256 = None;
        write_meta(&meta_path, &m, false).unwrap();
        let text = fs::read_to_string(&meta_path).unwrap();
        assert!(text.contains("\"input_sha256\": null"), "{text}");
        let third = open();
        assert!(third.warnings.is_empty(), "{:?}", third.warnings);
        assert_eq!(fs::metadata(&third.tar_path).unwrap().ino(), ino, "rebuilt");
        assert_eq!(third.sha256.wait().as_deref(), Some(want.as_str()));
        drop(third);
        let m = read_meta(&meta_path).unwrap();
        assert_eq!(m.input_sha256.as_deref(), Some(want.as_str()));
        // A malformed hash is not trusted: rebuilt.
        let text = fs::read_to_string(&meta_path).unwrap();
        fs::write(&meta_path, text.replace(&want, "zz")).unwrap();
        let fourth = open();
        assert!(
            fourth
                .warnings
                .iter()
                .any(|w| w.contains("no valid sha256")),
            "{:?}",
            fourth.warnings
        );
        assert_eq!(fourth.sha256.wait().as_deref(), Some(want.as_str()));
    }

    /// A build that fails (a truncated input) leaves nothing in the cache: no partial copy, no
    /// meta file, no lock file.
    #[test]
    fn failed_build_leaves_no_lock_file() {
        use crate::source::test_util::{TarSpec, TempDir, gzip};
        let t = TempDir::new("faillock");
        let input = t.join("in.tar.gz");
        let gz = gzip(
            &TarSpec::new()
                .file("a/pages-1.img", &[9u8; 100_000])
                .build_gnu(),
        );
        fs::write(&input, &gz[..gz.len() / 2]).unwrap();
        let cache = t.join("cache");
        let opts = OpenOptions {
            cache_dir: Some(cache.clone()),
            max_size: None,
            progress: false,
            ..Default::default()
        };
        let f = File::open(&input).unwrap();
        assert!(decompressed(&input, &f, InputKind::TarGz, &opts).is_err());
        let left: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// A lock whose file its holder removed is not a lock: the next taker locks the file that
    /// has the name now.
    #[test]
    fn a_removed_lock_file_is_not_trusted() {
        use crate::source::test_util::TempDir;
        let t = TempDir::new("lockrm");
        let p = t.join("k.lock");
        let first = open_lock(&p).unwrap();
        assert!(try_flock(&first).unwrap() && lock_is_current(&first, &p));
        fs::remove_file(&p).unwrap();
        assert!(!lock_is_current(&first, &p));
        let l = lock(&p, &t.join("k.tar.partial"), &t.join("in")).unwrap();
        assert!(lock_is_current(l.file.as_ref().unwrap(), &p));
        l.release();
        assert!(p.exists(), "a released lock keeps its file");
        let l = lock(&p, &t.join("k.tar.partial"), &t.join("in")).unwrap();
        drop(l);
        assert!(!p.exists(), "a lock dropped on an error removes its file");
    }

    #[test]
    fn unsafe_cache_dir_is_refused() {
        let t = crate::source::test_util::TempDir::new("cdir");
        let d = t.join("c");
        ensure_cache_dir(&d).unwrap();
        assert_eq!(
            fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_cache_dir(&d).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let f = t.join("file");
        fs::write(&f, b"").unwrap();
        assert!(ensure_cache_dir(&f).is_err());
        if euid() == 0 {
            let o = t.join("other");
            fs::create_dir(&o).unwrap();
            std::os::unix::fs::chown(&o, Some(12345), Some(12345)).unwrap();
            let e = ensure_cache_dir(&o).unwrap_err().to_string();
            assert!(e.contains("owned by uid 12345"), "{e}");
        }
    }
}
