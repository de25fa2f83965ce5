//! [`Blob`]: a cheap, cloneable, immutable view of bytes (usually a slice of a read-only mmap).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, RwLock};

use memmap2::Mmap;

enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
    /// An anonymous mapping of which the first `len` bytes are laid out, the `holes` never
    /// written: bytes withheld (see [`Blob::is_withheld`]).
    Sparse {
        map: Mmap,
        len: usize,
        holes: Vec<Range<usize>>,
    },
}

/// Every live read-only file mapping made by [`Blob::map`]: start address → length. Lets
/// [`release`] tell bytes of a mapping (safe to drop from our page tables) from heap bytes (which
/// `MADV_DONTNEED` would zero).
static MAPPINGS: RwLock<BTreeMap<usize, usize>> = RwLock::new(BTreeMap::new());

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Map(m) = self {
            // Unregister before memmap2 unmaps (the field is dropped after this body).
            let mut maps = MAPPINGS.write().unwrap_or_else(|e| e.into_inner());
            maps.remove(&(m.as_ptr() as usize));
        }
    }
}

/// Drops the pages under `bytes` from this process's page tables when `bytes` lies in a
/// read-only file mapping of a [`Blob`]; a no-op for any other memory (heap, statics).
///
/// The data stays in the kernel's page cache: a later access faults the same bytes back in, so
/// this is safe while other threads read the same pages. It keeps the resident set of a process
/// that streams gigabytes out of mapped pages files (the mount daemon, `memparse --search`)
/// bounded by what it owns instead of growing with every byte it has served.
pub fn release(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let start = bytes.as_ptr() as usize;
    release_range(start, start + bytes.len());
}

/// [`release`] of the addresses `start..end` (which need not be borrowed any more: nothing is
/// done unless they lie in one live registered mapping, checked under the lock that keeps it alive).
fn release_range(start: usize, end: usize) {
    if start >= end {
        return;
    }
    let maps = MAPPINGS.read().unwrap_or_else(|e| e.into_inner());
    let Some((&map_start, &map_len)) = maps.range(..=start).next_back() else {
        return;
    };
    if end > map_start + map_len {
        return;
    }
    let page = page_size();
    // A fault maps more than the page it hits: the cached pages of the fault-around window
    // (64 KiB by default, aligned in the address space) and, on recent kernels, the whole large
    // folio of the page cache (up to 2 MiB, aligned in the file), neighbours the caller never
    // touched. Dropping whole windows of both kinds keeps those from piling up. The mapping
    // starts at file offset 0 on a page boundary and covers whole pages.
    let map_end = (map_start + map_len).div_ceil(page) * page;
    let lo = (map_start + ((start - map_start) & !(RELEASE_ALIGN - 1))) & !(FAULT_AROUND - 1);
    let hi = (map_start + (end - map_start).div_ceil(RELEASE_ALIGN) * RELEASE_ALIGN)
        .div_ceil(FAULT_AROUND)
        .saturating_mul(FAULT_AROUND);
    let (lo, hi) = (lo.max(map_start), hi.min(map_end));
    // SAFETY: [lo, hi) lies in a live, read-only, private file mapping (registered, and kept alive
    // by the borrow of `bytes` while the lock is held); MADV_DONTNEED on such pages only drops
    // page-table entries, the contents are re-read from the page cache on the next access.
    unsafe {
        libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED);
    }
}

/// The live mapping `[start, start + len)` that holds all of `start..end`, if any.
fn mapping_of(start: usize, end: usize) -> Option<(usize, usize)> {
    let maps = MAPPINGS.read().unwrap_or_else(|e| e.into_inner());
    let (&map_start, &map_len) = maps.range(..=start).next_back()?;
    (end <= map_start + map_len).then_some((map_start, map_len))
}

/// How much of one mapping a [`Releaser`] lets pile up before it releases it.
pub const RELEASE_WINDOW: usize = 8 << 20;

/// [`release`] in batches: the byte ranges given to [`Releaser::add`] are gathered while they fall
/// in one mapping and within [`RELEASE_WINDOW`] of each other (pages of a pages file read in
/// order, even when they serve scattered addresses), then released with one `madvise`. Readers
/// of many small extents pay one system call per window, not one per extent; the pages a
/// releaser holds back are at most a window (plus the rounding of [`release`]). Dropping it
/// releases what is pending.
#[derive(Debug, Default)]
pub struct Releaser {
    /// The pending span (empty when `lo == hi`).
    lo: usize,
    hi: usize,
    /// The mapping the pending span lies in (checked again, under the lock, when released).
    map: (usize, usize),
}

impl Releaser {
    pub const fn new() -> Releaser {
        Releaser {
            lo: 0,
            hi: 0,
            map: (0, 0),
        }
    }

    /// Schedules `bytes` for release (a no-op for memory that is not a [`Blob`]'s mapping).
    pub fn add(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let s = bytes.as_ptr() as usize;
        let e = s + bytes.len();
        if self.lo < self.hi && s >= self.map.0 && e <= self.map.0 + self.map.1 {
            let (lo, hi) = (self.lo.min(s), self.hi.max(e));
            if hi - lo <= RELEASE_WINDOW {
                (self.lo, self.hi) = (lo, hi);
                return;
            }
        }
        // Not a mapping (heap bytes): nothing to do, and what is pending stays pending.
        let Some(m) = mapping_of(s, e) else { return };
        self.flush();
        (self.lo, self.hi, self.map) = (s, e, m);
    }

    /// Releases what is pending now.
    pub fn flush(&mut self) {
        if self.lo < self.hi {
            release_range(self.lo, self.hi);
        }
        (self.lo, self.hi) = (0, 0);
    }
}

impl Drop for Releaser {
    fn drop(&mut self) {
        self.flush();
    }
}

thread_local! {
    static LATER: std::cell::RefCell<Releaser> = const { std::cell::RefCell::new(Releaser::new()) };
}

/// [`Releaser::add`] on this thread's releaser: for readers that copy a piece of a mapping at a
/// time (the FUSE read path, `read_at`), so a thread keeps at most a window of mapped pages and
/// pays one `madvise` per window.
pub fn release_later(bytes: &[u8]) {
    LATER.with(|r| match r.try_borrow_mut() {
        Ok(mut r) => r.add(bytes),
        Err(_) => release(bytes),
    });
}

/// The largest page-cache folio a fault may map with page-table entries (PMD size on x86-64).
const RELEASE_ALIGN: usize = 2 << 20;
/// The kernel's default `fault_around_bytes`.
const FAULT_AROUND: usize = 64 << 10;

fn page_size() -> usize {
    Some(rustix::param::page_size())
        .filter(|n| n.is_power_of_two())
        .unwrap_or(4096)
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
            Backing::Sparse { map, len, .. } => &map[..*len],
        }
    }
}

/// Immutable bytes: an `Arc` of a read-only mapping (or an owned buffer) and a range inside it.
/// Cloning and slicing are O(1) and never copy.
#[derive(Clone)]
pub struct Blob {
    backing: Arc<Backing>,
    start: usize,
    len: usize,
}

impl Blob {
    /// Maps `path` read-only. An empty file gives an empty blob (mmap of length 0 is not possible).
    pub fn map_file(path: &Path) -> std::io::Result<Blob> {
        let file = File::open(path)?;
        Self::map(&file)
    }

    /// Maps an open file read-only.
    pub fn map(file: &File) -> std::io::Result<Blob> {
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(Blob::from_vec(Vec::new()));
        }
        // SAFETY: the mapping is read-only and private; the evidence files are never written by us.
        // A concurrent truncation by another process would raise SIGBUS; inputs are evidence the
        // analyst does not modify while mounted (documented in README).
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        let len = map.len();
        MAPPINGS
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(map.as_ptr() as usize, len);
        Ok(Blob {
            backing: Arc::new(Backing::Map(map)),
            start: 0,
            len,
        })
    }

    /// Wraps an owned buffer.
    pub fn from_vec(v: Vec<u8>) -> Blob {
        let len = v.len();
        Blob {
            backing: Arc::new(Backing::Owned(v)),
            start: 0,
            len,
        }
    }

    /// The first `len` bytes of an anonymous mapping whose `holes` were never written: what
    /// a metadata-only open lays out (`source/stream.rs`). Slices that touch a hole are
    /// [`Blob::is_withheld`].
    pub(crate) fn sparse(map: Mmap, len: usize, holes: Vec<Range<usize>>) -> Blob {
        let len = len.min(map.len());
        Blob {
            backing: Arc::new(Backing::Sparse { map, len, holes }),
            start: 0,
            len,
        }
    }

    /// True when some of these bytes were not read from the input (an archive opened for its
    /// metadata only withholds the memory pages): their content is unknown and must not be
    /// served.
    pub fn is_withheld(&self) -> bool {
        match &*self.backing {
            Backing::Sparse { holes, .. } => {
                let (s, e) = (self.start, self.start + self.len);
                holes.iter().any(|h| h.start < e && s < h.end)
            }
            _ => false,
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.backing.bytes()[self.start..self.start + self.len]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sub-range, or `None` when `r` is not inside the blob.
    pub fn slice(&self, r: Range<usize>) -> Option<Blob> {
        if r.start > r.end || r.end > self.len {
            return None;
        }
        Some(Blob {
            backing: self.backing.clone(),
            start: self.start + r.start,
            len: r.end - r.start,
        })
    }

    /// True when `other` is the bytes directly after `self` in the same backing (so the two can merge).
    pub fn is_followed_by(&self, other: &Blob) -> bool {
        Arc::ptr_eq(&self.backing, &other.backing) && self.start + self.len == other.start
    }

    /// The bytes from the start of `self` to the end of `last`, when both are slices of the same
    /// backing and `last` does not start before `self` (the pages of consecutive pagemap entries
    /// of one pages file: one slice to search in one pass, whatever addresses they serve).
    pub fn through(&self, last: &Blob) -> Option<&[u8]> {
        (Arc::ptr_eq(&self.backing, &last.backing) && last.start >= self.start)
            .then(|| &self.backing.bytes()[self.start..last.start + last.len])
    }

    /// `self` extended by `other`, when [`Blob::is_followed_by`] holds.
    pub fn join(&self, other: &Blob) -> Option<Blob> {
        self.is_followed_by(other).then(|| Blob {
            backing: self.backing.clone(),
            start: self.start,
            len: self.len + other.len,
        })
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes @{})", self.len, self.start)
    }
}

/// Whether the page at `addr` is mapped in this process's page tables (/proc/self/pagemap
/// bit 63): what the tests of the releases check.
#[cfg(test)]
pub(crate) fn resident(addr: usize) -> bool {
    use std::os::unix::fs::FileExt;
    let f = File::open("/proc/self/pagemap").unwrap();
    let mut e = [0u8; 8];
    f.read_exact_at(&mut e, (addr / page_size() * 8) as u64)
        .unwrap();
    u64::from_le_bytes(e) >> 63 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_and_join() {
        let b = Blob::from_vec((0u8..100).collect());
        let a = b.slice(10..20).unwrap();
        let c = b.slice(20..30).unwrap();
        assert_eq!(a.bytes()[0], 10);
        assert!(a.is_followed_by(&c));
        let j = a.join(&c).unwrap();
        assert_eq!(j.len(), 20);
        assert_eq!(j.bytes()[19], 29);
        assert!(b.slice(90..101).is_none());
        assert!(!c.is_followed_by(&a));
        assert_eq!(a.through(&c), Some(&b.bytes()[10..30]));
        assert_eq!(
            a.through(&b.slice(50..60).unwrap()),
            Some(&b.bytes()[10..60])
        );
        assert_eq!(c.through(&a), None, "backwards");
        assert_eq!(
            a.through(&Blob::from_vec(vec![0; 30])),
            None,
            "another backing"
        );
    }

    #[test]
    fn release_drops_the_pages_from_the_page_tables() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let n = 1024;
        std::fs::write(&p, vec![1u8; n * 4096]).unwrap();
        let b = Blob::map_file(&p).unwrap();
        let base = b.bytes().as_ptr() as usize;
        let sum: u64 = b.bytes().iter().step_by(4096).map(|&x| u64::from(x)).sum();
        assert_eq!(sum, n as u64);
        assert!(
            (0..n).all(|i| resident(base + i * 4096)),
            "touched pages are mapped"
        );
        // A few bytes in page 20: the whole 2 MiB window of the file around them (pages 0..512)
        // is dropped; pages past it and its 64 KiB fault-around rounding stay.
        release(&b.bytes()[20 * 4096 + 5..20 * 4096 + 10]);
        for i in 0..n {
            let a = base + i * 4096;
            if i < 512 {
                assert!(!resident(a), "page {i} dropped");
            } else if i >= 512 + 16 {
                assert!(resident(a), "page {i} kept");
            }
        }
        release(b.bytes());
        assert!((0..n).all(|i| !resident(base + i * 4096)));
        assert!(b.bytes().iter().all(|&x| x == 1));
    }

    /// Pieces of one mapping added one at a time (every other page, as a fragmented pagemap's
    /// pages file serves scattered addresses) are released together, when the window is full or
    /// at `flush`; heap bytes are ignored.
    #[test]
    fn releaser_batches_a_window() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let n = 3 * RELEASE_WINDOW / 4096;
        std::fs::write(&p, vec![3u8; n * 4096]).unwrap();
        let b = Blob::map_file(&p).unwrap();
        let base = b.bytes().as_ptr() as usize;
        let touched: u64 = b.bytes().iter().step_by(4096).map(|&x| u64::from(x)).sum();
        assert_eq!(touched, 3 * n as u64);
        let mut r = Releaser::new();
        let heap = vec![9u8; 8192];
        let per_window = RELEASE_WINDOW / 4096;
        for i in (0..per_window).step_by(2) {
            r.add(&b.bytes()[i * 4096..i * 4096 + 100]);
            r.add(&heap[..10]);
        }
        assert!(resident(base), "nothing released before the window is full");
        // The next piece is past the window: the first window goes.
        r.add(&b.bytes()[per_window * 4096 + 8192..per_window * 4096 + 8200]);
        assert!((0..per_window - 16).all(|i| !resident(base + i * 4096)));
        assert!(resident(base + (2 * per_window + 100) * 4096), "not added");
        r.flush();
        assert!(!resident(base + (per_window + 2) * 4096));
        assert!(heap.iter().all(|&x| x == 9));
        drop(r);
        assert!(b.bytes().iter().all(|&x| x == 3));
    }

    #[test]
    fn release_keeps_mapped_bytes_and_ignores_heap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let b = Blob::map_file(&p).unwrap();
        // Released pages read back the same (from the page cache).
        release(&b.bytes()[10..5000]);
        release(b.bytes());
        assert_eq!(b.bytes(), &data[..]);
        // Heap memory is never touched: MADV_DONTNEED would zero it.
        let heap = Blob::from_vec(data.clone());
        release(heap.bytes());
        assert_eq!(heap.bytes(), &data[..]);
        let v = vec![7u8; 3 * 4096];
        release(&v);
        assert!(v.iter().all(|&x| x == 7));
        // Once the mapping is gone its range is forgotten.
        let ptr = b.bytes().as_ptr() as usize;
        drop(b);
        let maps = MAPPINGS.read().unwrap();
        assert!(!maps.contains_key(&ptr));
    }
}
