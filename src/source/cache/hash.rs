//! The input's sha256: begun at idle priority beside the decompressor ([`EarlyHash`]), finished
//! by the entry's record job ([`finish_hash`]), published to whoever waits for it
//! ([`PendingHash`]). A file that changed while it was read gets no hash.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use sha2::{Digest, Sha256};

use super::BUF;
use super::entry::Identity;

/// The input's SHA-256, published once by whoever computes it; readers wait for it.
pub(crate) struct PendingHash {
    value: Mutex<Option<Option<String>>>,
    cv: Condvar,
}

impl PendingHash {
    pub(super) fn new() -> Arc<PendingHash> {
        Arc::new(PendingHash {
            value: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    pub(super) fn known(sha: String) -> Arc<PendingHash> {
        let h = PendingHash::new();
        h.publish(Some(sha));
        h
    }

    /// Sets the value (None: it could not be computed); later calls change nothing.
    pub(super) fn publish(&self, v: Option<String>) {
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Why the input has no hash.
#[derive(Debug)]
pub(super) enum NoHash {
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
pub(super) fn finish_hash(
    file: &File,
    id: &Identity,
    early: Option<EarlyHash>,
) -> Result<String, NoHash> {
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
pub(super) struct EarlyHash {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<io::Result<(Sha256, u64)>>,
}

/// The early hash's reads: small, so that a stop request waits for little CPU time.
const EARLY_CHUNK: usize = 256 << 10;

impl EarlyHash {
    pub(super) fn start(file: &File) -> Option<EarlyHash> {
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
    pub(super) fn stop(self) -> io::Result<(Sha256, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")))
    }

    /// Stops it without waiting.
    pub(super) fn cancel(self) {
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

#[cfg(test)]
mod tests {
    use super::super::entry::identity;
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::time::Duration;

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
}
