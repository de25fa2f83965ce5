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
//! This module opens an entry ([`decompressed`]) and removes one ([`discard`]); its rooms:
//! - `dir.rs`: which cache directory, and whether it is safe to use;
//! - `entry.rs`: an entry's files, names, key and meta file, and whether it can be reused;
//! - `lock.rs`: the entry's `flock`, held by the one process that checks or builds it;
//! - `build.rs`: decompressing the input into a new entry (bounded, checked to be a tar);
//! - `hash.rs`: the input's sha256, begun beside the decompressor and finished later;
//! - `record.rs`: the job that completes a new entry off the open's path (hash, sync, meta file);
//! - `admin.rs`: listing and removing entries (`ckptfs cache list` / `clean`).

pub mod admin;
mod build;
mod dir;
mod entry;
mod hash;
mod lock;
mod record;

pub(super) use build::{Tally, decoder};
pub(super) use dir::{free_space, usable_cache_dir};
pub(super) use entry::{compression, decompress_error, not_tar};
pub(crate) use hash::{PendingHash, hex};
pub(crate) use record::Record;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::Error;
use super::{Blob, InputKind, OpenOptions};
use crate::warning::{Kind, Warnings};
use build::{BuildJob, build};
use entry::{
    LOCK, META, META_FORMAT, Meta, Stamp, TAR, TAR_PARTIAL, boot_id, identity, key_of, open_cached,
    reuse, write_meta,
};
use lock::lock;
use record::RecordJob;

const BUF: usize = 1 << 20;
const GIB: u64 = 1 << 30;

/// A decompressed archive ready to index.
pub(crate) struct Cached {
    pub tar_path: PathBuf,
    pub tar: Blob,
    /// The input's sha256: known from the meta file, or being computed (see [`Record`]).
    pub sha256: Arc<PendingHash>,
    pub warnings: Warnings,
    /// The entry's recording (hash, sync, meta file), still running (see [`Record`]); None when
    /// there is nothing left to record.
    pub record: Option<Record>,
}

pub(super) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
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
    let mut warnings = Warnings::new();
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
            warnings.push(
                Kind::CacheRebuilt,
                format!(
                    "cache {}: a cache it cannot trust ({why}): removed and rebuilt",
                    tar_path.display()
                ),
            );
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

#[cfg(test)]
mod tests {
    use super::entry::read_meta;
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The gzip-compressed `input` opened through the cache in `cache` (no size limit, no
    /// progress bar).
    fn open_gz(input: &Path, cache: &Path) -> Result<Cached, Error> {
        let opts = OpenOptions {
            cache_dir: Some(cache.to_path_buf()),
            max_size: None,
            progress: false,
            ..Default::default()
        };
        let f = File::open(input).unwrap();
        decompressed(input, &f, InputKind::TarGz, &opts)
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
        let open = || open_gz(&input, &t.join("cache")).unwrap();
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
                .of(Kind::CacheRebuilt)
                .any(|w| w.message.contains("changed after it was written")),
            "{:?}",
            r.warnings
        );
        assert!(r.tar.bytes() == &orig[..], "the tampered copy was served");
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
        let open = || open_gz(&input, &t.join("cache")).unwrap();
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
                .of(Kind::CacheRebuilt)
                .any(|w| w.message.contains("no valid sha256")),
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
        assert!(open_gz(&input, &cache).is_err());
        let left: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
