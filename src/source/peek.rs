//! A cheap look at a checkpoint without opening it: its `config.dump` and `spec.dump`, reading as
//! little as possible. A `.tar` is scanned header by header (seeking past the other entries), a
//! `.tar.gz` / `.tar.zst` is decompressed as a stream only until both are found (Podman, CRI-O and
//! containerd write them near the start), a directory is read directly; nothing is written anywhere.
//! A checkpoint image ([`image`]): its index, manifest and config, and the start of the layer
//! that holds the checkpoint, read the same way.
//! Used by `ckptfs list` and by a mount of a directory of checkpoints to name them.

use std::cell::Cell;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::warning::Kind;

/// Largest config.dump / spec.dump read (a real one is tens of KiB).
const MAX_METADATA: u64 = 16 << 20;

/// What a look at a checkpoint found.
#[derive(Debug, Default)]
pub struct Peek {
    pub config: Option<Vec<u8>>,
    pub spec: Option<Vec<u8>>,
    /// It holds CRIU images (`inventory.img` / `pstree.img`, at the top or in `checkpoint/`).
    pub images: bool,
    /// False when a compressed archive was given up on after [`STREAM_BUDGET`] bytes without
    /// finding both metadata files: what it holds is not known yet.
    pub complete: bool,
    /// When CRIU wrote the images: the modification time of `inventory.img` (else `pstree.img`)
    /// as the archive's header or the directory records it. Looked for only while `config.dump`
    /// records no `checkpointedTime` (within [`STREAM_BUDGET`] for a compressed archive).
    pub written: Option<SystemTime>,
}

/// Whether `config.dump` records when the container was checkpointed.
fn has_checkpointed_time(config: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(config).is_ok_and(|v| {
        v.get("checkpointedTime")
            .and_then(|t| t.as_str())
            .is_some_and(|t| !t.is_empty() && !crate::format::time::is_go_zero(t))
    })
}

/// The images' time of a directory: `inventory.img`, else `pstree.img`, at its top or in
/// `checkpoint/`.
fn dir_written(path: &Path) -> Option<SystemTime> {
    ["inventory.img", "pstree.img"].iter().find_map(|n| {
        ["", "checkpoint"].iter().find_map(|d| {
            std::fs::metadata(path.join(d).join(n))
                .ok()?
                .modified()
                .ok()
        })
    })
}

/// How much of a compressed archive is decompressed looking for its metadata (Podman, CRI-O and
/// containerd write it within the first kilobytes; a hand-made archive may hold it anywhere, and
/// the listing of a mounted directory must not decompress whole archives).
pub const STREAM_BUDGET: u64 = 64 << 20;

/// `config.dump` and `spec.dump` of an archive or directory, and whether it holds CRIU images
/// (`Err`: why it cannot be read).
pub fn container_metadata(path: &Path) -> Result<Peek, String> {
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
        let config = read("config.dump")?;
        let timed = config.as_deref().is_some_and(has_checkpointed_time);
        return Ok(Peek {
            config,
            spec: read("spec.dump")?,
            images: super::is_checkpoint_dir(path),
            complete: true,
            written: if timed { None } else { dir_written(path) },
        });
    }
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).map_err(|e| e.to_string())?;
    drop(f);
    let f = File::open(path).map_err(|e| e.to_string())?;
    let counted = Rc::new(Cell::new(0u64));
    match &head[..n] {
        [0x1f, 0x8b, ..] => {
            let d = flate2::read::GzDecoder::new(std::io::BufReader::new(f));
            scan_tar(
                tar::Archive::new(Counting(d, counted.clone())),
                &counted,
                true,
            )
        }
        [0x28, 0xb5, 0x2f, 0xfd] => {
            let d = zstd::stream::read::Decoder::new(f).map_err(|e| e.to_string())?;
            scan_tar(
                tar::Archive::new(Counting(d, counted.clone())),
                &counted,
                true,
            )
        }
        _ => {
            let mut a = tar::Archive::new(f);
            let entries = a
                .entries_with_seek()
                .map_err(|e| format!("not a tar archive: {e}"))?;
            // Seeking from header to header costs nothing per byte: no budget.
            collect(entries, &Rc::new(Cell::new(0)), true)
        }
    }
}

/// What a checkpoint image (an OCI layout directory or tar, `oci-archive`, `docker-archive`,
/// containerd's checkpoint) says about the checkpoint it carries, read without decompressing
/// its layer: the image's index, manifest and config, and the start of the layer.
#[derive(Debug)]
pub struct ImagePeek {
    /// The image's form, reference and annotations.
    pub image: super::oci::OciImage,
    /// The image config's `created` (when the image was made), as recorded.
    pub created: Option<String>,
    /// `config.dump`, `spec.dump` (containerd: the runtime spec from its container record) and
    /// the images' time found in the checkpoint's layer: a plain layer is scanned header by
    /// header; a compressed one is decompressed as a stream within [`STREAM_BUDGET`], and only
    /// up to the images' time when the image's annotations are Podman's (its `config.dump`
    /// records no checkpoint time and the annotations name the container).
    pub layer: Peek,
    /// What could not be read or looks wrong (an altered blob, a layer that is not a tar), one
    /// line each, without the input's path.
    pub warnings: crate::warning::Warnings,
}

/// `e`'s message without the leading `path: ` (the caller names the input).
fn why(e: &super::Error, path: &Path) -> String {
    let s = e.to_string();
    s.strip_prefix(&format!("{}: ", path.display()))
        .map_or_else(|| s.clone(), str::to_string)
}

/// What the checkpoint image at `path` says ([`ImagePeek`]); `Ok(None)` when `path` is no image
/// (a checkpoint archive or image directory, a compressed file: those are read by
/// [`container_metadata`]); `Err`: why the image's own metadata cannot be read, one line
/// without the path.
pub fn image(path: &Path) -> Result<Option<ImagePeek>, String> {
    use super::oci::{Files, detect_dir, detect_tar, glance};
    let md = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let g = if md.is_dir() {
        if super::dir::has_images(path)
            || super::dir::has_images(&path.join(super::layout::CHECKPOINT_DIR))
        {
            return Ok(None);
        }
        let Some(form) = detect_dir(path) else {
            return Ok(None);
        };
        glance(&Files::Dir(path), form, path).map_err(|e| why(&e, path))?
    } else {
        let f = super::dir::open_evidence(path, true).map_err(|e| e.to_string())?;
        let blob = super::Blob::map(&f).map_err(|e| format!("cannot map: {e}"))?;
        let head = &blob.bytes()[..blob.len().min(512)];
        if !super::tar::looks_like_tar(head) {
            return Ok(None);
        }
        // Headers only: the index maps the entries where they lie.
        let idx = super::tar::TarIndex::build(path, &blob).map_err(|e| why(&e, path))?;
        if super::layout::holds_images(&idx) {
            return Ok(None);
        }
        let Some((root, form)) = detect_tar(&idx) else {
            return Ok(None);
        };
        glance(&Files::Tar { idx: &idx, root }, form, path).map_err(|e| why(&e, path))?
    };
    let mut warnings = g.warnings;
    let podman = g
        .image
        .annotations
        .keys()
        .any(|k| k.starts_with("io.podman.annotations.checkpoint."));
    let mut layer = match layer_metadata(&g.checkpoint, !podman) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(
                Kind::Unreadable,
                format!(
                    "{}: {e}: the checkpoint's own metadata is not read",
                    g.checkpoint_name
                ),
            );
            Peek::default()
        }
    };
    if layer.spec.is_none()
        && let Some(s) = &g.spec
    {
        if s.len() as u64 > MAX_METADATA {
            warnings.push(
                Kind::LimitReached,
                format!("containerd's runtime spec: larger than {MAX_METADATA} bytes: not read"),
            );
        } else {
            layer.spec = Some(s.bytes().to_vec());
        }
    }
    Ok(Some(ImagePeek {
        image: g.image,
        created: g.created,
        layer,
        warnings,
    }))
}

/// [`Peek`] of a checkpoint's layer held as a blob (plain, gzip or zstd); with `metadata`
/// false a compressed one is read only up to the images' time.
fn layer_metadata(layer: &super::Blob, metadata: bool) -> Result<Peek, String> {
    use super::inner::{InnerCompression, compression_of};
    let counted = Rc::new(Cell::new(0u64));
    let bytes = layer.bytes();
    match compression_of(bytes) {
        InnerCompression::Gzip => {
            let d = flate2::read::GzDecoder::new(bytes);
            scan_tar(
                tar::Archive::new(Counting(d, counted.clone())),
                &counted,
                metadata,
            )
        }
        InnerCompression::Zstd => {
            let d = zstd::stream::read::Decoder::new(bytes).map_err(|e| e.to_string())?;
            scan_tar(
                tar::Archive::new(Counting(d, counted.clone())),
                &counted,
                metadata,
            )
        }
        InnerCompression::None => {
            let mut a = tar::Archive::new(std::io::Cursor::new(bytes));
            let entries = a
                .entries_with_seek()
                .map_err(|e| format!("not a tar archive: {e}"))?;
            collect(entries, &Rc::new(Cell::new(0)), true)
        }
    }
}

/// A reader that counts the bytes it gave and gives none past [`STREAM_BUDGET`] (an error), so
/// that one large entry (a pages image) is not decompressed to its end before the budget is
/// looked at.
struct Counting<R>(R, Rc<Cell<u64>>);

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.1.get() > STREAM_BUDGET {
            return Err(std::io::Error::other(
                "the metadata stream's budget is spent",
            ));
        }
        let n = self.0.read(buf)?;
        self.1.set(self.1.get() + n as u64);
        Ok(n)
    }
}

fn scan_tar<R: Read>(
    mut a: tar::Archive<R>,
    counted: &Rc<Cell<u64>>,
    metadata: bool,
) -> Result<Peek, String> {
    let entries = a.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    collect(entries, counted, metadata)
}

/// Looks through `entries` for the metadata files and the images' time; with `metadata` false,
/// stops at the images' time (the caller knows the rest).
fn collect<R: Read>(
    entries: tar::Entries<'_, R>,
    counted: &Cell<u64>,
    metadata: bool,
) -> Result<Peek, String> {
    let mut p = Peek::default();
    // Whether config.dump records the checkpoint's time (then the images' time is not needed),
    // and whether inventory.img's time was found (pstree.img's is taken until then).
    let (mut timed, mut inventory) = (false, false);
    let found = |p: &Peek| (p.config.is_some() && p.spec.is_some()) || !metadata;
    for e in entries {
        if counted.get() > STREAM_BUDGET {
            p.complete = found(&p);
            return Ok(p);
        }
        let e = match e {
            Err(_) if counted.get() > STREAM_BUDGET => {
                p.complete = found(&p);
                return Ok(p);
            }
            e => e.map_err(|e| format!("corrupt archive: {e}"))?,
        };
        let is_config = {
            let path = e.path_bytes();
            let path = path.strip_prefix(b"./").unwrap_or(&path);
            match path {
                b"config.dump" => true,
                b"spec.dump" => false,
                b"inventory.img"
                | b"pstree.img"
                | b"checkpoint/inventory.img"
                | b"checkpoint/pstree.img" => {
                    p.images = true;
                    let is_inventory = path.ends_with(b"inventory.img");
                    if !inventory && (is_inventory || p.written.is_none()) {
                        p.written = e
                            .header()
                            .mtime()
                            .ok()
                            .and_then(|t| UNIX_EPOCH.checked_add(Duration::from_secs(t)));
                        inventory = is_inventory;
                    }
                    if found(&p) && (timed || inventory) {
                        break;
                    }
                    continue;
                }
                // A checkpoint wrapped as an image (OCI layout, docker-archive, a tarred layout
                // directory): its metadata is inside a layer, read when it is opened.
                other
                    if [&b"oci-layout"[..], b"index.json", b"manifest.json"]
                        .iter()
                        .any(|n| {
                            other == *n
                                || other.strip_suffix(*n).is_some_and(|d| {
                                    d.ends_with(b"/") && !d[..d.len() - 1].contains(&b'/')
                                })
                        }) =>
                {
                    p.images = true;
                    continue;
                }
                _ => continue,
            }
        };
        let (slot, name) = if is_config {
            (&mut p.config, "config.dump")
        } else {
            (&mut p.spec, "spec.dump")
        };
        if slot.is_none() {
            match read_capped(e, name) {
                Ok(v) => *slot = Some(v),
                // Cut by the budget: not found within it.
                Err(_) if counted.get() > STREAM_BUDGET => {
                    p.complete = found(&p);
                    return Ok(p);
                }
                Err(e) => return Err(e),
            }
            if is_config {
                timed = p.config.as_deref().is_some_and(has_checkpointed_time);
            }
        }
        if found(&p) && (timed || inventory) {
            break;
        }
    }
    p.complete = true;
    if timed {
        p.written = None;
    }
    Ok(p)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of `(name, size)` entries (content zeros, except the metadata files' `{}`).
    fn tar_of(entries: &[(&str, usize)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, size) in entries {
            let data = if name.ends_with(".dump") {
                b"{}".to_vec()
            } else {
                vec![0u8; *size]
            };
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn peek(dir: &Path, file: &str, bytes: &[u8]) -> Result<Peek, String> {
        let p = dir.join(file);
        std::fs::write(&p, bytes).unwrap();
        container_metadata(&p)
    }

    #[test]
    fn archives_with_and_without_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        // A Podman-like archive: metadata first.
        let podman = tar_of(&[
            ("config.dump", 0),
            ("spec.dump", 0),
            ("checkpoint/pstree.img", 10),
        ]);
        let p = peek(d, "a.tar", &podman).unwrap();
        assert!(p.config.is_some() && p.spec.is_some() && p.complete);
        // A tar of a plain CRIU image directory: images, no metadata.
        let plain = tar_of(&[
            ("./inventory.img", 10),
            ("./pstree.img", 10),
            ("./pages-1.img", 4096),
        ]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &plain).unwrap();
            e.finish().unwrap()
        };
        let p = peek(d, "plain.tar.gz", &gz).unwrap();
        assert!(p.images && p.complete && p.config.is_none());
        // A tar of something else.
        let docs = tar_of(&[("notes/a.txt", 100)]);
        let p = peek(d, "docs.tar", &docs).unwrap();
        assert!(!p.images && p.complete && p.config.is_none() && p.spec.is_none());
        // Metadata behind more than the budget in a compressed archive: given up, not decompressed
        // to the end.
        let deep = tar_of(&[
            (
                "checkpoint/pages-1.img",
                (STREAM_BUDGET + (8 << 20)) as usize,
            ),
            ("config.dump", 0),
            ("spec.dump", 0),
        ]);
        let zst = zstd::encode_all(&deep[..], 1).unwrap();
        let p = peek(d, "deep.tar.zst", &zst).unwrap();
        assert!(!p.complete && p.config.is_none(), "{p:?}");
        // The same uncompressed: seeking is free, the metadata is found.
        let p = peek(d, "deep.tar", &deep).unwrap();
        assert!(p.complete && p.config.is_some());
    }

    /// The budget bounds the stream inside an entry, not only between entries: a compressed
    /// archive whose first entry runs past the budget and whose stream is cut beyond the
    /// budget is given up on at the budget (what it holds is not known), never read to the cut.
    #[test]
    fn budget_holds_inside_one_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tar_of(&[
            (
                "checkpoint/pages-1.img",
                (STREAM_BUDGET + (32 << 20)) as usize,
            ),
            ("config.dump", 0),
            ("spec.dump", 0),
        ]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &big).unwrap();
            e.finish().unwrap()
        };
        // Zeros compress evenly: 95% of the stream is well past the budget's 64 of 96 MiB.
        let cut = &gz[..gz.len() * 95 / 100];
        let p = peek(tmp.path(), "cut.tar.gz", cut).unwrap();
        assert!(!p.complete && p.config.is_none(), "{p:?}");
        // How much of the compressed stream is read: about the budget's share, not all of it.
        struct Source<'a>(&'a [u8], Rc<Cell<usize>>);
        impl Read for Source<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1.set(self.1.get() + n);
                Ok(n)
            }
        }
        let consumed = Rc::new(Cell::new(0));
        let counted = Rc::new(Cell::new(0u64));
        let d = flate2::read::GzDecoder::new(Source(&gz, consumed.clone()));
        let p = scan_tar(
            tar::Archive::new(Counting(d, counted.clone())),
            &counted,
            true,
        )
        .unwrap();
        assert!(!p.complete, "{p:?}");
        assert!(
            consumed.get() < gz.len() * 3 / 4,
            "{} of {} compressed bytes read",
            consumed.get(),
            gz.len()
        );
    }

    /// A tar of `(name, content, mtime)` entries.
    fn timed_tar(entries: &[(&str, &[u8], u64)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mtime) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(*mtime);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// The images' time is inventory.img's (else pstree.img's) header time, taken only when
    /// config.dump records no checkpointed time.
    #[test]
    fn images_time_when_the_metadata_has_none() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let at = |s: u64| Some(UNIX_EPOCH + Duration::from_secs(s));
        let podman = timed_tar(&[
            ("config.dump", b"{\"name\":\"c\"}", 100),
            ("spec.dump", b"{}", 100),
            ("checkpoint/pstree.img", b"x", 1_000),
            ("checkpoint/inventory.img", b"x", 2_000),
        ]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &podman).unwrap();
            e.finish().unwrap()
        };
        for (n, b) in [("p.tar", &podman), ("p.tar.gz", &gz)] {
            let p = peek(d, n, b).unwrap();
            assert!(p.complete && p.images, "{n}");
            assert_eq!(p.written, at(2_000), "{n}");
        }
        let no_inventory = timed_tar(&[
            ("config.dump", b"{}", 100),
            ("spec.dump", b"{}", 100),
            ("checkpoint/pstree.img", b"x", 1_000),
        ]);
        assert_eq!(peek(d, "n.tar", &no_inventory).unwrap().written, at(1_000));
        let timed = timed_tar(&[
            (
                "config.dump",
                br#"{"checkpointedTime":"2026-01-02T03:04:05Z"}"#,
                100,
            ),
            ("spec.dump", b"{}", 100),
            ("checkpoint/inventory.img", b"x", 2_000),
        ]);
        assert_eq!(peek(d, "t.tar", &timed).unwrap().written, None);
    }
}
