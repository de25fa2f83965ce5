//! Tars inside a checkpoint (`rootfs-diff.tar`, `devshm-checkpoint.tar`), whatever their name
//! says: Podman and CRI-O write them uncompressed, containerd 2.x writes `rootfs-diff.tar` as a
//! gzip-compressed OCI layer. The compression is detected from the content (gzip `1f 8b`, zstd
//! `28 b5 2f fd`, else taken as a plain tar).
//!
//! A compressed one is decompressed once, streaming, into an anonymous file in the cache
//! directory (`O_TMPFILE`: it has no name, nothing is left behind, not even after a crash) and
//! mapped, so it is served like any other blob without holding it in memory. The decompressed
//! size is bounded (`max_size`, else the free space of the cache filesystem minus 1 GiB).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Blob, OpenOptions};

/// How an inner tar is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InnerCompression {
    None,
    Gzip,
    Zstd,
}

/// The compression of `bytes`, from its first bytes.
pub fn compression_of(bytes: &[u8]) -> InnerCompression {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        InnerCompression::Gzip
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        InnerCompression::Zstd
    } else {
        InnerCompression::None
    }
}

/// An unnamed file in `dir` (`O_TMPFILE`), for scratch data that must never be left behind.
fn anonymous_file(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    if dir.as_os_str().as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NUL in the cache path",
        ));
    }
    let fd = rustix::fs::open(
        dir,
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    Ok(File::from(fd))
}

/// The tar `name` of a checkpoint as a plain tar: `blob` itself when it is not compressed, else
/// its decompressed content (see the module docs). Errors say what and why, for a warning.
pub fn plain_tar(name: &str, blob: &Blob, opts: &OpenOptions) -> Result<Blob, String> {
    let comp = compression_of(blob.bytes());
    if comp == InnerCompression::None {
        return Ok(blob.clone());
    }
    let format = if comp == InnerCompression::Gzip {
        "gzip"
    } else {
        "zstd"
    };
    let dir = super::cache::usable_cache_dir(opts.cache_dir.as_deref())
        .map_err(|e| format!("{name}: {e}"))?;
    let limit = match opts.max_size {
        Some(m) => m,
        None => super::cache::free_space(&dir)
            .map_err(|e| {
                format!(
                    "{name}: cannot tell the free space of {}: {e}",
                    dir.display()
                )
            })?
            .saturating_sub(1 << 30),
    };
    let mut out = anonymous_file(&dir).map_err(|e| {
        format!(
            "{name}: cannot create a scratch file in {}: {e}",
            dir.display()
        )
    })?;
    let mut dec: Box<dyn Read + '_> = match comp {
        InnerCompression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(blob.bytes())
                .map_err(|e| format!("{name}: {format}: {e}"))?,
        ),
        _ => Box::new(flate2::read::MultiGzDecoder::new(blob.bytes())),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut written: u64 = 0;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!(
                    "{name}: {format} content is corrupt after {written} decompressed bytes: {e}"
                ));
            }
        };
        written = written
            .checked_add(n as u64)
            .filter(|&w| w <= limit)
            .ok_or_else(|| {
                format!("{name}: decompresses to more than {limit} bytes (the limit): left out")
            })?;
        out.write_all(&buf[..n])
            .map_err(|e| format!("{name}: cannot write its decompressed copy: {e}"))?;
    }
    if written == 0 {
        return Ok(Blob::from_vec(Vec::new()));
    }
    Blob::map(&out).map_err(|e| format!("{name}: cannot map its decompressed copy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> OpenOptions {
        OpenOptions {
            cache_dir: Some(dir.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn plain_gzip_and_zstd_give_the_same_tar() {
        let dir = std::env::temp_dir().join(format!("ckptfs-inner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let tar: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        let o = opts(&dir);
        for (input, comp) in [
            (&tar, InnerCompression::None),
            (&gz, InnerCompression::Gzip),
            (&zst, InnerCompression::Zstd),
        ] {
            assert_eq!(compression_of(input), comp);
            let b = plain_tar("rootfs-diff.tar", &Blob::from_vec(input.clone()), &o).unwrap();
            assert_eq!(b.bytes(), &tar[..], "{comp:?}");
        }
        // Nothing is left in the cache directory.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        // Corrupt and too large inputs are errors naming the file.
        let mut bad = gz.clone();
        let n = bad.len();
        bad.truncate(n / 2);
        let e = plain_tar("rootfs-diff.tar", &Blob::from_vec(bad), &o).unwrap_err();
        assert!(
            e.starts_with("rootfs-diff.tar: gzip content is corrupt"),
            "{e}"
        );
        let small = OpenOptions {
            max_size: Some(100),
            ..o.clone()
        };
        let e = plain_tar("rootfs-diff.tar", &Blob::from_vec(gz), &small).unwrap_err();
        assert!(e.contains("more than 100 bytes"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
