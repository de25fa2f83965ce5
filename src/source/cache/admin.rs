//! Listing and removing the entries of the decompression cache (`ckptfs cache list` / `clean`).
//!
//! An entry is the set of files the cache (`mod.rs`) creates for one key `K` (64 lowercase hex
//! digits): `K.tar`, `K.meta`, `K.lock`, `K.tar.partial`, `K.meta.partial`. Only regular files with
//! exactly such a name belong to an entry; anything else in the directory (other names,
//! symlinks, directories) is reported as "other" and never touched. Nothing here follows a
//! symlink inside the cache directory or reads a cached tar's content (so listing does not
//! change its access time).
//!
//! An entry's [`State`]:
//! - `in use`: a process holds its lock (checking or building it); checked with a non-blocking
//!   `flock`, the same lock the cache takes. Never removed.
//! - `partial`: a leftover `K.tar.partial` / `K.meta.partial` (a build that died).
//! - `orphan`: a tar without meta file, a meta file without tar, or only a lock file.
//! - `stale`: the cache would not reuse it: its input is gone or its identity (path, size,
//!   mtime, inode, device) changed, the tar changed after it was written, or the meta file is
//!   unreadable.
//! - `ok`: reused by the next open of its input.
//!
//! Removal takes the entry's lock (without waiting: a locked entry is skipped), classifies the
//! entry again under the lock, then unlinks its files (partials, meta, tar, lock last). Unlinking
//! the tar of a mounted checkpoint is safe: the mount's mapping keeps the data until it is
//! unmounted (only then is the space freed).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::dir::{check_cache_dir, resolve_cache_dir};
use super::entry::{
    Identity, LOCK, META, META_FORMAT, META_PARTIAL, Meta, Stamp, TAR, TAR_PARTIAL, boot_id,
    identity, key_of, read_meta,
};
use super::euid;
use super::lock::{lock_is_current, open_lock, try_flock};
use crate::source::InputKind;
use crate::source::error::Error;

/// Every suffix of an entry's files, in removal order (the lock last).
const SUFFIXES: [&str; 5] = [TAR_PARTIAL, META_PARTIAL, META, TAR, LOCK];

/// The state of a cache entry (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok,
    Stale,
    Partial,
    Orphan,
    InUse,
}

impl State {
    /// `ok`, `stale`, `partial`, `orphan`, `in use`.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Stale => "stale",
            State::Partial => "partial",
            State::Orphan => "orphan",
            State::InUse => "in use",
        }
    }
}

/// One cache entry: the files of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 64-hex key.
    pub key: String,
    pub state: State,
    /// Why the entry is stale / orphan / partial, or why its input could not be checked.
    pub why: Option<String>,
    /// The entry's file names, in removal order.
    pub files: Vec<String>,
    /// Bytes of all its files (what removing it frees).
    pub size: u64,
    /// From the meta file: the input it was made from, its compression (`gzip`, `zstd`), the
    /// decompressed size, the input's sha256.
    pub input: Option<String>,
    pub compression: Option<String>,
    pub tar_size: Option<u64>,
    pub input_sha256: Option<String>,
    /// The tar's mtime (when it was built), seconds since the epoch.
    pub built: Option<i64>,
    /// The tar's atime when it says more than `built` (not on a `noatime` filesystem).
    pub last_used: Option<i64>,
    /// The time `--older-than` compares: the tar's mtime, else the newest mtime of its files.
    pub mtime: i64,
}

/// A file in the cache directory that is not a cache file (left alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other {
    pub name: String,
    pub why: &'static str,
}

/// The content of a cache directory.
#[derive(Debug, Clone)]
pub struct Scan {
    pub dir: PathBuf,
    /// False when the directory does not exist.
    pub exists: bool,
    /// By key.
    pub entries: Vec<Entry>,
    pub others: Vec<Other>,
    /// Why the directory is not one the cache would use (wrong owner or mode), if so.
    pub unsafe_dir: Option<String>,
}

impl Scan {
    /// Bytes of all entries.
    pub fn total(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| e.size)
            .fold(0, u64::saturating_add)
    }
}

/// The cache directory for `--cache-dir` (`explicit`) and the environment, as the cache picks it.
pub fn cache_dir(explicit: Option<&Path>) -> PathBuf {
    resolve_cache_dir(explicit)
}

/// The key and suffix of a cache file name, if it is one.
fn parse_name(name: &str) -> Option<(&str, &'static str)> {
    if name.len() <= 64 || !name.is_char_boundary(64) {
        return None;
    }
    let (key, rest) = name.split_at(64);
    if !key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    SUFFIXES.iter().find(|s| **s == rest).map(|s| (key, *s))
}

/// The prefix of a checkpoint image's layer kept by its digest (`layer-<sha256>.tar`, with its
/// recorded size in `layer-<sha256>.size`; see `inner::cached_layer`).
const LAYER: &str = "layer-";
const LAYER_SUFFIXES: [&str; 2] = [".size", ".tar"];

/// `layer-<64 hex>.tar` / `.size` -> (`layer-<64 hex>`, suffix).
fn parse_layer_name(name: &str) -> Option<(&str, &'static str)> {
    let hex = name.strip_prefix(LAYER)?;
    let (h, rest) = (hex.get(..64)?, hex.get(64..)?);
    if !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let suffix = LAYER_SUFFIXES.iter().find(|s| **s == rest)?;
    Some((&name[..LAYER.len() + 64], suffix))
}

/// A kept layer: usable (`ok`) when its recorded size is its tar's size, else an orphan.
fn classify_layer(dir: &Path, key: &str, noatime: bool) -> Result<Option<Entry>, Error> {
    let mut files = Vec::new();
    let mut size = 0u64;
    let mut tar = None;
    for suffix in LAYER_SUFFIXES {
        let name = format!("{key}{suffix}");
        match fs::symlink_metadata(dir.join(&name)) {
            Ok(md) if md.is_file() => {
                size = size.saturating_add(md.len());
                if suffix == ".tar" {
                    tar = Some(md);
                }
                files.push(name);
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir.join(&name), "cannot stat", e)),
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let recorded = fs::read_to_string(dir.join(format!("{key}.size")))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let hex = key[LAYER.len()..].to_string();
    let (state, why) = match (&tar, recorded) {
        (Some(t), Some(n)) if t.len() == n => (State::Ok, None),
        (Some(_), Some(_)) => (
            State::Orphan,
            Some("the tar is not the size recorded".into()),
        ),
        (Some(_), None) => (
            State::Orphan,
            Some("a layer without its recorded size".into()),
        ),
        (None, _) => (
            State::Orphan,
            Some("a recorded size without its layer".into()),
        ),
    };
    Ok(Some(Entry {
        key: key.to_string(),
        state,
        why,
        files,
        size,
        input: Some(format!("checkpoint image layer sha256:{hex}")),
        compression: None,
        tar_size: tar.as_ref().map(|t| t.len()),
        input_sha256: Some(hex),
        built: tar.as_ref().map(|t| t.mtime()),
        last_used: tar
            .as_ref()
            .filter(|_| !noatime)
            .map(|t| t.atime().max(t.mtime())),
        mtime: tar.as_ref().map_or(0, |t| t.mtime()),
    }))
}

/// Lists and classifies the entries of the cache directory `dir` (a missing directory is an
/// empty scan, `exists: false`).
pub fn scan(dir: &Path) -> Result<Scan, Error> {
    let mut out = Scan {
        dir: dir.to_path_buf(),
        exists: false,
        entries: Vec::new(),
        others: Vec::new(),
        unsafe_dir: None,
    };
    let rd = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, "cannot list the cache directory", e)),
        Ok(rd) => rd,
    };
    out.exists = true;
    if let Err(e) = check_cache_dir(dir) {
        out.unsafe_dir = Some(match e {
            Error::Cache { why, .. } => why,
            e => e.to_string(),
        });
    }
    let mut keys: BTreeMap<String, ()> = BTreeMap::new();
    for de in rd {
        let de = de.map_err(|e| Error::io(dir, "cannot list the cache directory", e))?;
        let name = de.file_name();
        let Some(name) = name.to_str() else {
            out.others.push(Other {
                name: name.to_string_lossy().into_owned(),
                why: "not a cache file name",
            });
            continue;
        };
        let Some((key, _)) = parse_name(name).or_else(|| parse_layer_name(name)) else {
            out.others.push(Other {
                name: name.to_string(),
                why: "not a cache file name",
            });
            continue;
        };
        match fs::symlink_metadata(de.path()) {
            Ok(md) if md.is_file() => {
                keys.insert(key.to_string(), ());
            }
            Ok(_) => out.others.push(Other {
                name: name.to_string(),
                why: "not a regular file",
            }),
            // Removed meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(de.path(), "cannot stat", e)),
        }
    }
    out.others.sort_by(|a, b| a.name.cmp(&b.name));
    let noatime = noatime(dir);
    for key in keys.into_keys() {
        if let Some(e) = classify(dir, &key, false, noatime)? {
            out.entries.push(e);
        }
    }
    Ok(out)
}

/// Whether `dir`'s filesystem is mounted `noatime` (access times say nothing).
fn noatime(dir: &Path) -> bool {
    rustix::fs::statvfs(dir)
        .is_ok_and(|st| st.f_flag.contains(rustix::fs::StatVfsMountFlags::NOATIME))
}

/// The entry `key` of `dir` as it is now (`None` when it has no file any more). `locked`: the
/// caller holds its lock (so it is not "in use").
fn classify(dir: &Path, key: &str, locked: bool, noatime: bool) -> Result<Option<Entry>, Error> {
    if key.starts_with(LAYER) {
        return classify_layer(dir, key, noatime);
    }
    let mut mds: BTreeMap<&'static str, fs::Metadata> = BTreeMap::new();
    let mut files = Vec::new();
    for suffix in SUFFIXES {
        let name = format!("{key}{suffix}");
        let p = dir.join(&name);
        match fs::symlink_metadata(&p) {
            Ok(md) if md.is_file() => {
                mds.insert(suffix, md);
                files.push(name);
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&p, "cannot stat", e)),
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let mut e = Entry {
        key: key.to_string(),
        state: State::Ok,
        why: None,
        files,
        size: mds.values().map(|m| m.len()).fold(0, u64::saturating_add),
        input: None,
        compression: None,
        tar_size: None,
        input_sha256: None,
        built: None,
        last_used: None,
        mtime: mds.values().map(|m| m.mtime()).max().unwrap_or(0),
    };
    let tar = mds.get(TAR);
    if let Some(t) = tar {
        e.built = Some(t.mtime());
        e.mtime = t.mtime();
        e.last_used = (!noatime).then(|| t.atime().max(t.mtime()));
    }
    let meta = mds
        .contains_key(META)
        .then(|| read_meta(&dir.join(format!("{key}{META}"))));
    if let Some(Ok(m)) = &meta {
        e.input = Some(m.input.path.clone());
        e.compression = Some(m.compression.clone());
        e.tar_size = Some(m.tar_size);
        e.input_sha256 = m.input_sha256.clone();
    }
    let (state, why) = if !locked && mds.contains_key(LOCK) && in_use(dir, key)? {
        (
            State::InUse,
            "a process holds its lock (building it)".to_string(),
        )
    } else if mds.contains_key(TAR_PARTIAL) || mds.contains_key(META_PARTIAL) {
        (State::Partial, "a leftover partial file".to_string())
    } else {
        match (tar, &meta) {
            (None, None) => (State::Orphan, "only a lock file".to_string()),
            (Some(_), None) => (State::Orphan, "a tar without meta file".to_string()),
            (None, Some(_)) => (State::Orphan, "a meta file without tar".to_string()),
            (Some(_), Some(Err(why))) => (State::Stale, why.clone()),
            (Some(t), Some(Ok(m))) => match staleness(key, t, m) {
                Some(why) => (State::Stale, why),
                None => match input_changed(&m.input) {
                    Ok(None) => (State::Ok, String::new()),
                    Ok(Some(why)) => (State::Stale, why),
                    // Cannot tell (e.g. permission denied): kept as usable.
                    Err(why) => (State::Ok, why),
                },
            },
        }
    };
    e.state = state;
    e.why = (!why.is_empty()).then_some(why);
    Ok(Some(e))
}

/// Why the cache would not reuse an entry with tar `t` and meta `m`, apart from its input.
fn staleness(key: &str, t: &fs::Metadata, m: &Meta) -> Option<String> {
    let kind = match m.compression.as_str() {
        "gzip" => InputKind::TarGz,
        "zstd" => InputKind::TarZst,
        _ => return Some("its meta file has an unknown compression".into()),
    };
    if m.format != META_FORMAT {
        return Some("its meta file has another format".into());
    }
    if key_of(&m.input, kind) != key {
        return Some("its meta file describes another input than its name says".into());
    }
    if t.uid() != euid() {
        return Some("the tar is not owned by the current user".into());
    }
    if m.tar_stamp != Some(Stamp::of(t)) || t.len() != m.tar_size {
        return Some("the tar changed after it was written".into());
    }
    if let Some(b) = &m.unsynced_boot
        && boot_id().as_deref() != Some(b.as_str())
    {
        return Some("written before the last restart and never synced to disk".into());
    }
    None
}

/// Whether the input an entry was made from is gone or changed (`Ok(Some(why))`), checked like
/// the cache does on reuse: the identity of the file opened at its path. `Err` when it cannot be
/// checked.
fn input_changed(id: &Identity) -> Result<Option<String>, String> {
    let p = Path::new(&id.path);
    let f = match crate::source::dir::open_evidence(p, true) {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Some("its input no longer exists".into()));
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return Ok(Some("its input is no longer a regular file".into()));
        }
        Err(e) => return Err(format!("cannot check its input: {e}")),
    };
    match identity(p, &f) {
        Ok(now) if &now == id => Ok(None),
        Ok(_) => Ok(Some(
            "its input changed (path, size, mtime, inode or device differ)".into(),
        )),
        Err(e) => Err(format!("cannot check its input: {e}")),
    }
}

/// Whether another process holds the entry's lock (the lock file is not created).
fn in_use(dir: &Path, key: &str) -> Result<bool, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join(format!("{key}{LOCK}"));
    let f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&p)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(&p, "cannot open the cache lock", e)),
    };
    // Released when `f` is closed.
    try_flock(&f)
        .map(|got| !got)
        .map_err(|e| Error::io(&p, "cannot check the cache lock", e))
}

/// Which entries `clean` removes (entries in use never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Stale, partial and orphan entries: those the cache cannot reuse (the default).
    Unusable,
    /// Every entry.
    All,
    /// Entries whose tar was built longer ago than this (by its mtime).
    OlderThan(Duration),
}

impl Select {
    /// Whether `e` is selected at time `now` (the state aside from "in use").
    pub fn matches(self, e: &Entry, now: SystemTime) -> bool {
        match self {
            Select::Unusable => matches!(e.state, State::Stale | State::Partial | State::Orphan),
            Select::All => true,
            Select::OlderThan(d) => {
                let Some(limit) = now.checked_sub(d) else {
                    return false;
                };
                let t = if e.mtime >= 0 {
                    UNIX_EPOCH + Duration::from_secs(e.mtime as u64)
                } else {
                    UNIX_EPOCH
                };
                t < limit
            }
        }
    }
}

/// What `clean` did (or would do, for a dry run).
#[derive(Debug, Clone, Default)]
pub struct Cleaned {
    /// Entries removed (as they were just before).
    pub removed: Vec<Entry>,
    /// Selected entries left, and why (in use).
    pub skipped: Vec<(Entry, String)>,
    /// Entries that could not be (completely) removed, and why.
    pub failed: Vec<(Entry, String)>,
    /// Bytes freed (once no mount maps a removed tar).
    pub freed: u64,
}

/// Removes the entries of `scan` that `select` selects, except those in use. `dry_run`: removes
/// nothing, reports what would be removed.
pub fn clean(scan: &Scan, select: Select, dry_run: bool) -> Cleaned {
    let now = SystemTime::now();
    let noatime = noatime(&scan.dir);
    let mut out = Cleaned::default();
    for e in &scan.entries {
        if !select.matches(e, now) {
            continue;
        }
        if e.state == State::InUse {
            out.skipped
                .push((e.clone(), "in use: a process holds its lock".into()));
            continue;
        }
        if dry_run {
            out.freed = out.freed.saturating_add(e.size);
            out.removed.push(e.clone());
            continue;
        }
        match remove_entry(&scan.dir, &e.key, select, now, noatime) {
            Ok(Removal::Removed(e)) => {
                out.freed = out.freed.saturating_add(e.size);
                out.removed.push(e);
            }
            Ok(Removal::Gone) => {}
            Ok(Removal::Skipped(why)) => out.skipped.push((e.clone(), why)),
            Err((freed, why)) => {
                out.freed = out.freed.saturating_add(freed);
                out.failed.push((e.clone(), why));
            }
        }
    }
    out
}

enum Removal {
    Removed(Entry),
    /// No file of it is left (removed by someone else).
    Gone,
    Skipped(String),
}

/// Removes the entry `key` under its lock, if it is still selected. `Err((bytes freed, why))`.
/// A kept layer has no lock: an open maps it, and a removed name does not disturb it.
fn remove_entry(
    dir: &Path,
    key: &str,
    select: Select,
    now: SystemTime,
    noatime: bool,
) -> Result<Removal, (u64, String)> {
    let (lock, suffixes): (_, &[&str]) = if key.starts_with(LAYER) {
        (None, &[".tar", ".size"])
    } else {
        let lock_path = dir.join(format!("{key}{LOCK}"));
        let lock = open_lock(&lock_path).map_err(|e| (0, format!("cannot open its lock: {e}")))?;
        match try_flock(&lock) {
            Ok(true) if lock_is_current(&lock, &lock_path) => {}
            Ok(true) => {
                return Ok(Removal::Skipped(
                    "changed since it was listed: its lock file was replaced".into(),
                ));
            }
            Ok(false) => {
                return Ok(Removal::Skipped("in use: a process holds its lock".into()));
            }
            Err(e) => return Err((0, format!("cannot lock it: {e}"))),
        }
        (Some(lock), &SUFFIXES)
    };
    // Under the lock: what it is now (a build may have completed since the scan). When it is no
    // longer selected, our lock file stays, like the cache's own.
    let mut removed = match classify(dir, key, true, noatime) {
        Ok(Some(e)) if select.matches(&e, now) => e,
        Ok(Some(e)) => {
            return Ok(Removal::Skipped(format!(
                "changed since it was listed: now {}",
                e.state.name()
            )));
        }
        Ok(None) => return Ok(Removal::Gone),
        Err(e) => return Err((0, e.to_string())),
    };
    removed.size = remove_files(dir, key, suffixes)?;
    drop(lock);
    Ok(Removal::Removed(removed))
}

/// Removes the regular files `key` + each of `suffixes` in `dir`, in that order: the bytes freed,
/// or those freed before an error and the error.
fn remove_files(dir: &Path, key: &str, suffixes: &[&str]) -> Result<u64, (u64, String)> {
    let mut freed = 0u64;
    for suffix in suffixes {
        let p = dir.join(format!("{key}{suffix}"));
        let md = match fs::symlink_metadata(&p) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err((freed, format!("cannot stat {}: {e}", p.display()))),
        };
        if !md.is_file() {
            continue;
        }
        match fs::remove_file(&p) {
            Ok(()) => freed = freed.saturating_add(md.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err((freed, format!("cannot remove {}: {e}", p.display()))),
        }
    }
    Ok(freed)
}

/// `7d`, `12h`, `30m`, `45s` -> a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (use e.g. 7d, 12h, 30m, 45s)"))?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "not a duration: {s:?} (use e.g. 7d, 12h, 30m, 45s)"
            ));
        }
    };
    n.checked_mul(mul)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::test_util::{TarSpec, TempDir, gzip, zstd};
    use crate::source::{OpenOptions, open};
    use std::os::unix::fs::PermissionsExt;

    fn archive(tag: &[u8]) -> Vec<u8> {
        TarSpec::new()
            .file("./config.dump", b"{}")
            .file("./checkpoint/inventory.img", tag)
            .file("./checkpoint/pages-1.img", &[7u8; 4096])
            .build_gnu()
    }

    /// Fills `cache` through the public source API: returns the inputs (gzip, zstd).
    fn fill(t: &TempDir, cache: &Path) -> (PathBuf, PathBuf) {
        let gz = t.join("a.tar.gz");
        let zst = t.join("b.tar.zst");
        fs::write(&gz, gzip(&archive(b"A"))).unwrap();
        fs::write(&zst, zstd(&archive(b"B"))).unwrap();
        let opts = OpenOptions {
            cache_dir: Some(cache.to_path_buf()),
            ..Default::default()
        };
        open(&gz, &opts).unwrap();
        open(&zst, &opts).unwrap();
        (gz, zst)
    }

    fn by_state(s: &Scan) -> Vec<(&'static str, Option<String>)> {
        s.entries
            .iter()
            .map(|e| (e.state.name(), e.input.clone()))
            .collect()
    }

    #[test]
    fn names() {
        let k = "0123456789abcdef".repeat(4);
        assert_eq!(parse_name(&format!("{k}.tar")), Some((&k[..], TAR)));
        assert_eq!(
            parse_name(&format!("{k}.tar.partial")),
            Some((&k[..], TAR_PARTIAL))
        );
        assert_eq!(
            parse_name(&format!("{k}.meta.partial")),
            Some((&k[..], META_PARTIAL))
        );
        assert_eq!(parse_name(&format!("{k}.tar.gz")), None);
        assert_eq!(parse_name(&format!("{}.tar", k.to_uppercase())), None);
        assert_eq!(parse_name(&format!("{}.tar", &k[1..])), None);
        assert_eq!(parse_name(&k), None);
        assert_eq!(parse_name("notes.txt"), None);
        assert_eq!(parse_name(&format!("{}é.tar", &k[..63])), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        for bad in ["7", "d", "7w", "-1d", "1.5h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_and_empty_dir() {
        let t = TempDir::new("cadm-empty");
        let s = scan(&t.join("nope")).unwrap();
        assert!(!s.exists && s.entries.is_empty());
        let d = t.join("c");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        let s = scan(&d).unwrap();
        assert!(s.exists && s.entries.is_empty() && s.others.is_empty());
        assert!(s.unsafe_dir.is_none());
        assert_eq!(clean(&s, Select::All, false).removed.len(), 0);
    }

    #[test]
    fn kept_image_layers_are_entries_and_cleaned() {
        let t = TempDir::new("cadm-layer");
        let cache = t.join("cache");
        fs::create_dir_all(&cache).unwrap();
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
        let good = format!("layer-{}", "a".repeat(64));
        let cut = format!("layer-{}", "b".repeat(64));
        fs::write(cache.join(format!("{good}.tar")), [0u8; 1024]).unwrap();
        fs::write(cache.join(format!("{good}.size")), "1024").unwrap();
        fs::write(cache.join(format!("{cut}.tar")), [0u8; 100]).unwrap();
        fs::write(cache.join(format!("{cut}.size")), "1024").unwrap();
        fs::write(cache.join("layer-notahash.tar"), b"x").unwrap();
        let s = scan(&cache).unwrap();
        let state_of = |k: &str| s.entries.iter().find(|e| e.key == k).map(|e| e.state);
        assert_eq!(state_of(&good), Some(State::Ok), "{:?}", s.entries);
        assert_eq!(state_of(&cut), Some(State::Orphan));
        assert_eq!(s.others.len(), 1, "{:?}", s.others);
        // Default: the unusable one; --all: every one.
        let c = clean(&s, Select::Unusable, false);
        assert_eq!(c.removed.len(), 1);
        assert!(!cache.join(format!("{cut}.tar")).exists());
        assert!(cache.join(format!("{good}.tar")).exists());
        let c = clean(&scan(&cache).unwrap(), Select::All, false);
        assert_eq!(c.removed.len(), 1);
        assert_eq!(c.freed, 1024 + 4);
        assert!(!cache.join(format!("{good}.size")).exists());
    }

    #[test]
    fn scan_classify_and_clean() {
        let t = TempDir::new("cadm");
        let cache = t.join("cache");
        let (gz, zst) = fill(&t, &cache);
        let s = scan(&cache).unwrap();
        assert_eq!(s.entries.len(), 2, "{:?}", s.entries);
        for e in &s.entries {
            assert_eq!(e.state, State::Ok, "{e:?}");
            assert_eq!(e.files.len(), 3, "{e:?}"); // tar, meta, lock
            assert!(e.built.is_some());
            assert_eq!(e.input_sha256.as_ref().unwrap().len(), 64);
            assert!(e.size >= e.tar_size.unwrap());
        }
        let mut comps: Vec<_> = s
            .entries
            .iter()
            .map(|e| e.compression.clone().unwrap())
            .collect();
        comps.sort();
        assert_eq!(comps, ["gzip", "zstd"]);
        let gz_sha = crate::source::test_util::sha256_file(&gz);
        let gz_entry = s
            .entries
            .iter()
            .find(|e| e.input_sha256.as_deref() == Some(gz_sha.as_str()))
            .unwrap()
            .clone();
        assert_eq!(
            gz_entry.input.as_deref(),
            Some(fs::canonicalize(&gz).unwrap().to_str().unwrap())
        );

        // Stale: the zstd input is rewritten (its identity changes); the gzip one stays.
        fs::remove_file(&zst).unwrap();
        fs::write(&zst, zstd(&archive(b"C"))).unwrap();
        // A partial (a dead build), an orphan tar, an orphan lock, unrelated files.
        let k = |c: &str| c.repeat(64);
        fs::write(cache.join(format!("{}.tar.partial", k("1"))), [0u8; 100]).unwrap();
        fs::write(cache.join(format!("{}.lock", k("1"))), b"").unwrap();
        fs::write(cache.join(format!("{}.tar", k("2"))), [0u8; 1024]).unwrap();
        fs::write(cache.join(format!("{}.lock", k("3"))), b"").unwrap();
        fs::write(cache.join("notes.txt"), b"mine").unwrap();
        fs::write(cache.join(format!("{}.tar", k("A"))), b"upper case").unwrap();
        std::os::unix::fs::symlink(&gz, cache.join(format!("{}.tar", k("4")))).unwrap();

        let s = scan(&cache).unwrap();
        let states: Vec<_> = s.entries.iter().map(|e| (e.key.clone(), e.state)).collect();
        assert_eq!(s.entries.len(), 5, "{states:?}");
        let state_of = |key: &str| s.entries.iter().find(|e| e.key == key).unwrap().state;
        assert_eq!(state_of(&k("1")), State::Partial);
        assert_eq!(state_of(&k("2")), State::Orphan);
        assert_eq!(state_of(&k("3")), State::Orphan);
        assert_eq!(state_of(&gz_entry.key), State::Ok);
        let stale: Vec<_> = s
            .entries
            .iter()
            .filter(|e| e.state == State::Stale)
            .collect();
        assert_eq!(stale.len(), 1);
        assert!(
            stale[0].why.as_deref().unwrap().contains("input changed"),
            "{:?}",
            stale[0]
        );
        let others: Vec<_> = s.others.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            others,
            [
                format!("{}.tar", k("4")).as_str(),
                format!("{}.tar", k("A")).as_str(),
                "notes.txt"
            ]
        );
        assert_eq!(s.others[0].why, "not a regular file");

        // In use: a held lock keeps an entry out of every selection.
        let held = open_lock(&cache.join(format!("{}.lock", k("3")))).unwrap();
        assert!(try_flock(&held).unwrap());
        let s = scan(&cache).unwrap();
        assert_eq!(state_of_in(&s, &k("3")), State::InUse);

        // Dry run: nothing removed.
        let before: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let c = clean(&s, Select::Unusable, true);
        assert_eq!(c.removed.len(), 3, "{:?}", c.removed);
        assert_eq!(c.skipped.len(), 0);
        assert_eq!(
            fs::read_dir(&cache).unwrap().count(),
            before.len(),
            "a dry run removed something"
        );

        // Default: stale + partial + orphan, not the one in use, not the others.
        let c = clean(&s, Select::Unusable, false);
        assert!(c.failed.is_empty(), "{:?}", c.failed);
        let mut removed: Vec<_> = c.removed.iter().map(|e| e.state).collect();
        removed.sort();
        assert_eq!(removed, [State::Stale, State::Partial, State::Orphan]);
        assert_eq!(c.freed, c.removed.iter().map(|e| e.size).sum::<u64>());
        assert!(c.freed >= 100 + 1024);
        let s = scan(&cache).unwrap();
        assert_eq!(
            by_state(&s)
                .iter()
                .map(|(st, _)| *st)
                .collect::<Vec<_>>()
                .len(),
            2
        );
        assert_eq!(state_of_in(&s, &gz_entry.key), State::Ok);
        assert_eq!(state_of_in(&s, &k("3")), State::InUse);
        assert!(cache.join("notes.txt").exists());
        assert!(gz.exists(), "the symlink was followed");

        // --older-than: nothing is a day old.
        let c = clean(&s, Select::OlderThan(Duration::from_secs(86400)), false);
        assert!(c.removed.is_empty() && c.skipped.is_empty());

        // --all: everything but the entry in use.
        let c = clean(&s, Select::All, false);
        assert_eq!(c.removed.len(), 1);
        assert_eq!(c.skipped.len(), 1);
        drop(held);
        let s = scan(&cache).unwrap();
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].state, State::Orphan); // the lock, now free
        clean(&s, Select::All, false);
        let s = scan(&cache).unwrap();
        assert!(s.entries.is_empty());
        assert_eq!(s.others.len(), 3);

        // The cache still works afterwards: rebuilt.
        let opts = OpenOptions {
            cache_dir: Some(cache.clone()),
            ..Default::default()
        };
        open(&gz, &opts).unwrap();
        let s = scan(&cache).unwrap();
        assert_eq!(by_state(&s).len(), 1);
        assert_eq!(s.entries[0].state, State::Ok);
    }

    fn state_of_in(s: &Scan, key: &str) -> State {
        s.entries.iter().find(|e| e.key == key).unwrap().state
    }

    #[test]
    fn input_gone_and_tampered_tar_are_stale() {
        let t = TempDir::new("cadm-gone");
        let cache = t.join("cache");
        let (gz, zst) = fill(&t, &cache);
        fs::remove_file(&gz).unwrap();
        let zst_sha = crate::source::test_util::sha256_file(&zst);
        let s = scan(&cache).unwrap();
        let zst_key = s
            .entries
            .iter()
            .find(|e| e.input_sha256.as_deref() == Some(zst_sha.as_str()))
            .unwrap()
            .key
            .clone();
        let gone: Vec<_> = s
            .entries
            .iter()
            .filter(|e| e.state == State::Stale)
            .collect();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].why.as_deref().unwrap().contains("no longer exists"));
        // Writing into the cached tar changes its ctime: stale.
        {
            use std::os::unix::fs::FileExt;
            let f = fs::OpenOptions::new()
                .write(true)
                .open(cache.join(format!("{zst_key}.tar")))
                .unwrap();
            f.write_all_at(b"X", 600).unwrap();
        }
        let s = scan(&cache).unwrap();
        let e = s.entries.iter().find(|e| e.key == zst_key).unwrap();
        assert_eq!(e.state, State::Stale);
        assert!(e.why.as_deref().unwrap().contains("changed after"), "{e:?}");
        // A meta file that is not JSON: stale.
        let key = s
            .entries
            .iter()
            .find(|e| e.key != zst_key)
            .unwrap()
            .key
            .clone();
        fs::write(cache.join(format!("{key}.meta")), b"garbage").unwrap();
        let s = scan(&cache).unwrap();
        assert_eq!(state_of_in(&s, &key), State::Stale);
    }
}
