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
    match decompress(name, blob, opts)? {
        None => Ok(blob.clone()),
        Some((_, None)) => Ok(Blob::from_vec(Vec::new())),
        Some((_, Some(out))) => {
            Blob::map(&out).map_err(|e| format!("{name}: cannot map its decompressed copy: {e}"))
        }
    }
}

/// A layer of a checkpoint image as a plain tar, like [`plain_tar`], kept in the cache directory
/// under the sha256 that names the compressed layer (`layer-<hex>.tar`), so a later open of the
/// same image maps it instead of decompressing it again. `named` is called once the layer is
/// decompressed and says whether the compressed bytes hash to `hex` (it may wait for a hash
/// computed beside the decompression): only then is the copy kept under that name.
pub fn cached_layer(
    name: &str,
    hex: &str,
    blob: &Blob,
    opts: &OpenOptions,
    named: impl FnOnce() -> bool,
) -> Result<Blob, String> {
    if compression_of(blob.bytes()) == InnerCompression::None
        || hex.len() != 64
        || !hex.bytes().all(|c| c.is_ascii_hexdigit())
    {
        let b = plain_tar(name, blob, opts);
        named();
        return b;
    }
    let mut named = Some(named);
    let mut known = None;
    let mut ask = || *known.get_or_insert_with(|| named.take().is_some_and(|f| f()));
    let dir = super::cache::usable_cache_dir(opts.cache_dir.as_deref())
        .map_err(|e| format!("{name}: {e}"))?;
    let path = dir.join(format!("layer-{hex}.tar"));
    let done = dir.join(format!("layer-{hex}.size"));
    // Reused when its recorded size is its size (a copy cut short, or written over, is not).
    if let (Ok(f), Ok(rec)) = (
        super::dir::open_evidence(&path, false),
        std::fs::read_to_string(&done),
    ) && let Ok(md) = f.metadata()
        && rec.trim().parse::<u64>().ok() == Some(md.len())
        && md.len() > 0
        && ask()
    {
        return Blob::map(&f).map_err(|e| format!("{name}: cannot map {}: {e}", path.display()));
    }
    let out = decompress(name, blob, opts)?;
    let ok = ask();
    let Some((written, Some(file))) = out else {
        return Ok(Blob::from_vec(Vec::new()));
    };
    if ok {
        // Give the unnamed copy its name (linkat through /proc/self/fd: no window where a
        // partial file has it), then record its size; a failure only loses the reuse.
        let fd_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
        let _ = std::fs::remove_file(&path);
        if rustix::fs::linkat(
            rustix::fs::CWD,
            fd_path.as_str(),
            rustix::fs::CWD,
            &path,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        )
        .is_ok()
        {
            // Synced and recorded off the mount's path (a kept copy counts only once its size is
            // recorded, after it is on disk: a crash never leaves a reusable copy cut short).
            if let Ok(f) = file.try_clone() {
                std::thread::spawn(move || {
                    if f.sync_all().is_ok() {
                        let _ = std::fs::write(&done, written.to_string());
                    }
                });
            }
        }
    }
    Blob::map(&file).map_err(|e| format!("{name}: cannot map its decompressed copy: {e}"))
}

/// Decompresses `blob` into an unnamed file of the cache directory: `None` when it is not
/// compressed, else the decompressed size and the file (`None` when empty).
fn decompress(
    name: &str,
    blob: &Blob,
    opts: &OpenOptions,
) -> Result<Option<(u64, Option<File>)>, String> {
    let comp = compression_of(blob.bytes());
    if comp == InnerCompression::None {
        return Ok(None);
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
    Ok(Some((written, (written > 0).then_some(out))))
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
    fn a_layer_is_kept_under_its_name_only_when_it_matches_it() {
        let dir = std::env::temp_dir().join(format!("ckptfs-layer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let tar: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = Blob::from_vec(gz.finish().unwrap());
        let o = opts(&dir);
        let hex = "ab".repeat(32);
        let kept = dir.join(format!("layer-{hex}.tar"));
        // Not its name: served, not kept.
        let b = cached_layer("layer", &hex, &gz, &o, || false).unwrap();
        assert_eq!(b.bytes(), &tar[..]);
        assert!(!kept.exists());
        // Its name: kept, and the next open maps the kept copy.
        let b = cached_layer("layer", &hex, &gz, &o, || true).unwrap();
        assert_eq!(b.bytes(), &tar[..]);
        assert_eq!(std::fs::read(&kept).unwrap(), tar);
        // Its size is recorded once it is on disk, off the caller's path.
        let size = dir.join(format!("layer-{hex}.size"));
        for _ in 0..200 {
            if size.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(size.exists(), "size recorded");
        let other = Blob::from_vec(b"\x1f\x8bnot even gzip".to_vec());
        let b = cached_layer("layer", &hex, &other, &o, || true).unwrap();
        assert_eq!(b.bytes(), &tar[..], "reused");
        // A kept copy cut short is not reused: decompressed again.
        std::fs::write(&kept, &tar[..100]).unwrap();
        let b = cached_layer("layer", &hex, &gz, &o, || true).unwrap();
        assert_eq!(b.bytes(), &tar[..]);
        // (let its background sync finish before the directory goes)
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::fs::remove_dir_all(&dir).unwrap();
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
