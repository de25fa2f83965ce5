//! The fs side of `rootfs/` (the namespace itself is [`crate::model::rootfs`]): a file's content
//! and mode, and the permission policy shared by its files and directories.

use super::{Error, Result};
use crate::model::rootfs::FileData;

/// A regular file of `rootfs/`: its bytes and its layer's permission bits.
#[derive(Debug)]
pub struct RootFile {
    pub data: FileData,
    pub mode: u32,
    /// Its layer's modification time (None: a file from `--rootfs` or without a stamp).
    pub mtime: Option<std::time::SystemTime>,
    /// Its layer's owner and group (None: without a stamp).
    pub owner: Option<(u32, u32)>,
}

/// The permission bits `rootfs/` shows for a layer's `mode` (files, directories and FIFOs
/// alike): all of them as recorded, write, setuid, setgid and sticky included, whether or not
/// the mount is public. They are evidence; who may read the tree is decided by the mount, not by
/// them (see `fs::fuse`), nothing is writable (a read-only mount, writes refused) and set-id bits
/// have no effect (`nosuid`).
pub fn perm(mode: u32, _public: bool) -> u16 {
    (mode & 0o7777) as u16
}

impl RootFile {
    pub fn size(&self) -> u64 {
        self.data.size()
    }

    /// Permission bits as shown (see [`perm`]).
    pub fn perm(&self, public: bool) -> u16 {
        perm(self.mode, public)
    }

    /// Up to `len` bytes at `off`: the archive slice itself, or read from the `--rootfs`
    /// directory into `scratch`.
    pub fn read<'a>(&'a self, off: u64, len: u32, scratch: &'a mut Vec<u8>) -> Result<&'a [u8]> {
        match &self.data {
            FileData::Blob(b) => {
                let bytes = b.bytes();
                let Ok(off) = usize::try_from(off) else {
                    return Ok(&[]);
                };
                let rest = bytes.get(off..).unwrap_or(&[]);
                Ok(rest.get(..len as usize).unwrap_or(rest))
            }
            FileData::Host(h) => {
                scratch.clear();
                scratch.resize(len as usize, 0);
                let n = h.read_at(off, scratch).map_err(|e| {
                    let p = h.host_path();
                    Error::logged(
                        e.raw_os_error().unwrap_or(libc::EIO),
                        format!("rootfs:{}", p.display()),
                        format!("--rootfs {}: {e}", p.display()),
                    )
                })?;
                Ok(&scratch[..n])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Blob;

    #[test]
    fn perms_and_reads() {
        let f = RootFile {
            data: FileData::Blob(Blob::from_vec(b"hello".to_vec())),
            mode: 0o555,
            mtime: None,
            owner: Some((100100, 100102)),
        };
        // The layer's bits as they are, public mount or not.
        assert_eq!(f.perm(false), 0o555);
        assert_eq!(f.perm(true), 0o555);
        let s = RootFile {
            data: FileData::Blob(Blob::from_vec(vec![])),
            mode: 0o104755,
            mtime: None,
            owner: None,
        };
        assert_eq!(
            s.perm(false),
            0o4755,
            "setuid and write as recorded, no type bits"
        );
        let g = RootFile {
            data: FileData::Blob(Blob::from_vec(vec![])),
            mode: 0o004,
            mtime: None,
            owner: None,
        };
        assert_eq!(g.perm(false), 0o004);
        assert_eq!(g.perm(true), 0o004);
        let mut s = Vec::new();
        assert_eq!(f.read(1, 3, &mut s).unwrap(), b"ell");
        assert_eq!(f.read(4, 100, &mut s).unwrap(), b"o");
        assert!(f.read(u64::MAX, 1, &mut s).unwrap().is_empty());
    }
}
