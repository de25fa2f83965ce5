//! [`Blob`]: a cheap, cloneable, immutable view of bytes (usually a slice of a read-only mmap).

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
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
    }
}
