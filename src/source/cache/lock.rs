//! An entry's lock: an `flock` on `K.lock`, held by the one process that checks or builds the
//! entry (others wait while its partial file grows), and never trusted once its file is removed.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::FlockOperation;

use crate::source::error::Error;

/// How long to wait for another process's decompression that shows no progress.
const WAIT_NO_PROGRESS: Duration = Duration::from_secs(600);

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
pub(super) fn lock_wait(lock_path: &Path) -> io::Result<File> {
    loop {
        let f = open_lock(lock_path)?;
        flock_wait(&f)?;
        if lock_is_current(&f, lock_path) {
            return Ok(f);
        }
    }
}

/// An entry's lock, held. Released by [`EntryLock::release`], which keeps the lock file beside
/// the entry; dropped without it (an error on the way), it removes the lock file while still
/// holding it, so a failed run leaves no lock file behind.
pub(super) struct EntryLock {
    file: Option<File>,
    path: PathBuf,
    keep: bool,
}

impl EntryLock {
    pub(super) fn release(mut self) {
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
pub(super) fn lock(lock_path: &Path, partial: &Path, input: &Path) -> Result<EntryLock, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
