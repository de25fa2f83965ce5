//! A cheap look at a checkpoint without opening it: its `config.dump` and `spec.dump`, reading as
//! little as possible. A `.tar` is scanned header by header (seeking past the other entries), a
//! `.tar.gz` / `.tar.zst` is decompressed as a stream only until both are found (Podman, CRI-O and
//! containerd write them near the start), a directory is read directly; nothing is written anywhere.
//! Used by `ckptfs list` and by a mount of a directory of checkpoints to name them.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Largest config.dump / spec.dump read (a real one is tens of KiB).
const MAX_METADATA: u64 = 16 << 20;

/// `config.dump` and `spec.dump`, each if present.
pub type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// `config.dump` and `spec.dump` of an archive or directory (`Err`: why it cannot be read).
pub fn container_metadata(path: &Path) -> Result<Pair, String> {
    let md = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if md.is_dir() {
        let read = |n: &str| -> Result<Option<Vec<u8>>, String> {
            let p = path.join(n);
            match File::open(&p) {
                Ok(f) => read_capped(f, n).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{n}: {e}")),
            }
        };
        return Ok((read("config.dump")?, read("spec.dump")?));
    }
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(|e| e.to_string())?;
    drop(f);
    let f = File::open(path).map_err(|e| e.to_string())?;
    match &head[..n] {
        [0x1f, 0x8b, ..] => scan_tar(tar::Archive::new(flate2::read::GzDecoder::new(
            std::io::BufReader::new(f),
        ))),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            let d = zstd::stream::read::Decoder::new(f).map_err(|e| e.to_string())?;
            scan_tar(tar::Archive::new(d))
        }
        _ => {
            let mut a = tar::Archive::new(f);
            let entries = a
                .entries_with_seek()
                .map_err(|e| format!("not a tar archive: {e}"))?;
            collect_pair(entries)
        }
    }
}

fn scan_tar<R: Read>(mut a: tar::Archive<R>) -> Result<Pair, String> {
    let entries = a.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    collect_pair(entries)
}

fn collect_pair<R: Read>(entries: tar::Entries<'_, R>) -> Result<Pair, String> {
    let mut config = None;
    let mut spec = None;
    for e in entries {
        let e = e.map_err(|e| format!("corrupt archive: {e}"))?;
        let is_config = {
            let p = e.path_bytes();
            match p.strip_prefix(b"./").unwrap_or(&p) {
                b"config.dump" => true,
                b"spec.dump" => false,
                _ => continue,
            }
        };
        let (slot, name) = if is_config {
            (&mut config, "config.dump")
        } else {
            (&mut spec, "spec.dump")
        };
        if slot.is_none() {
            *slot = Some(read_capped(e, name)?);
        }
        if config.is_some() && spec.is_some() {
            break;
        }
    }
    Ok((config, spec))
}

fn read_capped(r: impl Read, name: &str) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    r.take(MAX_METADATA + 1)
        .read_to_end(&mut v)
        .map_err(|e| format!("{name}: {e}"))?;
    if v.len() as u64 > MAX_METADATA {
        return Err(format!("{name}: larger than {MAX_METADATA} bytes"));
    }
    Ok(v)
}
