//! Completing a new or unhashed entry off the open's path: the input's hash, the tar synced to
//! disk, the meta file updated under the entry's lock.

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::entry::{Meta, read_meta, write_meta};
use super::hash::{EarlyHash, NoHash, PendingHash, finish_hash};
use super::lock::lock_wait;
use crate::source::error::Error;

/// Completes a cache entry: hashes the input (continuing what [`EarlyHash`] did) and publishes
/// the hash; syncs a new tar to disk; then, under the entry's lock and only if the meta file is
/// still the one written for this tar and input, records the hash in it and clears
/// `unsynced_boot`, and syncs the directory. If the sync fails, the meta file is removed so the
/// entry is rebuilt rather than trusted; if the input changed while it was read, the hash is not
/// published (a hash of other bytes than were decompressed) and the meta file is removed.
pub(super) struct RecordJob {
    /// The input, for messages, and its own descriptor.
    pub(super) input: PathBuf,
    pub(super) file: File,
    pub(super) early: Option<EarlyHash>,
    pub(super) hash: Arc<PendingHash>,
    /// A new entry's tar, not yet synced to disk.
    pub(super) unsynced_tar: Option<File>,
    pub(super) tar_path: PathBuf,
    pub(super) meta_path: PathBuf,
    /// The meta file as this open wrote or read it.
    pub(super) meta: Meta,
    pub(super) dir: PathBuf,
    pub(super) lock_path: PathBuf,
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

/// A [`RecordJob`] running on its own thread. Dropping the `Record` (the last clone of the
/// [`crate::source::Source`] that holds it) waits for the job, so a process does not exit
/// half-way; if it is killed anyway, the entry stays marked unsynced (reused until the next
/// restart, then rebuilt) and without a hash (computed again by the next open).
pub(crate) struct Record(Mutex<Option<std::thread::JoinHandle<()>>>);

impl Record {
    pub(super) fn start(job: RecordJob) -> Option<Record> {
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
