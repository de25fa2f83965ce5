//! Open-but-deleted files: `remap-fpath.img` and `ghost-file-<id>.img`.
//!
//! CRIU records, for a file object whose path no longer names it, a `RemapFilePathEntry
//! {orig_id, remap_id, remap_type}`: GHOST (1) when it saved the content itself in
//! `ghost-file-<remap_id in hex>.img` (a `GhostFileEntry`, then the bytes: `size` of them, or
//! until the end in old images; or, with `chunks`, repeated `GhostChunkEntry{len, off}` + bytes
//! of a sparse file), LINKED (0) when it linked the file to a new name, PROCFS (2) for /proc
//! entries of dead tasks. Old images have no `remap_type` and set bit 31 of `remap_id` for GHOST.
//!
//! GHOST and LINKED files are deleted: their link text gets ` (deleted)`, as /proc shows, and a
//! ghost's saved bytes are shown in `rootfs/` at `<path> (deleted)` (where that link leads).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::files::{FileKind, FileRef};
use crate::image::{self, magic, pb};
use crate::source::{Blob, ImageDir};
use crate::warning::{Kind, Warnings};

/// `remap_file_path_entry` (CRIU images/remap-file-path.proto); not in our `proto/`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemapFilePathEntry {
    #[prost(uint32, required, tag = "1")]
    pub orig_id: u32,
    #[prost(uint32, required, tag = "2")]
    pub remap_id: u32,
    #[prost(int32, optional, tag = "3")]
    pub remap_type: Option<i32>,
}

const LINKED: i32 = 0;
const GHOST: i32 = 1;
const REMAP_GHOST_BIT: u32 = 1 << 31;
/// Largest chunked ghost file assembled in memory.
const MAX_CHUNKED: u64 = 1 << 30;

/// (orig file id, ghost id or None for LINKED) of every deleted file.
fn remaps(dir: &ImageDir, warnings: &mut Warnings) -> Vec<(u32, Option<u32>)> {
    let Some(b) = dir.files.get("remap-fpath.img") else {
        return Vec::new();
    };
    let v: Vec<RemapFilePathEntry> =
        match image::decode_all("remap-fpath.img", b.bytes(), magic::REMAP_FPATH) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                return Vec::new();
            }
        };
    v.into_iter()
        .filter_map(|r| match r.remap_type {
            Some(GHOST) => Some((r.orig_id, Some(r.remap_id))),
            Some(LINKED) => Some((r.orig_id, None)),
            Some(_) => None,
            None if r.remap_id & REMAP_GHOST_BIT != 0 => {
                Some((r.orig_id, Some(r.remap_id & !REMAP_GHOST_BIT)))
            }
            None => Some((r.orig_id, None)),
        })
        .collect()
}

/// Marks the files CRIU remapped (ghost or linked) as deleted, with a ghost's recorded device
/// and inode. Call before the files are shared.
pub fn mark_deleted(dir: &ImageDir, files: &mut BTreeMap<u32, FileRef>, warnings: &mut Warnings) {
    for (id, ghost) in remaps(dir, warnings) {
        let recorded = ghost
            .and_then(|gid| dir.files.get(&format!("ghost-file-{gid:x}.img")))
            .and_then(|b| ghost_entry(b.bytes()));
        if let Some(f) = files.get_mut(&id)
            && let FileKind::Reg {
                deleted, dev_ino, ..
            } = &mut Arc::make_mut(f).kind
        {
            *deleted = true;
            if let Some(e) = recorded
                && let (Some(dev), Some(ino)) = (e.dev, e.ino)
            {
                *dev_ino = Some((dev, ino));
            }
        }
    }
}

/// The `GhostFileEntry` of a ghost-file image (after its 8-byte header, one framed entry), or
/// None when it cannot be read (`ghosts()` reports why).
fn ghost_entry(bytes: &[u8]) -> Option<pb::GhostFileEntry> {
    image::decode_all::<pb::GhostFileEntry>("ghost", bytes.get(..8)?, magic::GHOST_FILE).ok()?;
    let len = u32_at(bytes, 8)?;
    let body = bytes.get(12..12usize.checked_add(len)?)?;
    <pb::GhostFileEntry as prost::Message>::decode(body).ok()
}

/// A ghost file's saved content.
#[derive(Debug, Clone)]
pub struct Ghost {
    /// The path the process opened it by (without ` (deleted)`).
    pub path: String,
    pub data: Blob,
    pub mode: u32,
    /// The file's modification time as CRIU recorded it (`mtim`: seconds, nanoseconds), if it did.
    pub mtime: Option<(u64, u32)>,
}

/// The saved contents of the ghost files (regular files only).
pub fn ghosts(
    dir: &ImageDir,
    files: &BTreeMap<u32, FileRef>,
    warnings: &mut Warnings,
) -> Vec<Ghost> {
    let mut out = Vec::new();
    for (id, ghost) in remaps(dir, warnings) {
        let Some(gid) = ghost else { continue };
        let Some(path) = files.get(&id).and_then(|f| f.path()) else {
            continue;
        };
        let name = format!("ghost-file-{gid:x}.img");
        let Some(b) = dir.files.get(&name) else {
            warnings.push(
                Kind::MissingImage,
                format!(
                    "{}/{name}: missing: the content of deleted file {path} is not available",
                    dir.label
                ),
            );
            continue;
        };
        match ghost_content(&name, b) {
            Ok(Some((data, mode))) => out.push(Ghost {
                path: path.to_string(),
                data,
                mode,
                mtime: ghost_entry(b.bytes()).and_then(|e| e.mtim).map(|t| {
                    (
                        t.tv_sec,
                        u32::try_from(t.tv_usec.min(999_999) * 1000).unwrap_or(0),
                    )
                }),
            }),
            Ok(None) => {}
            Err(e) => warnings.push(Kind::CorruptImage, format!("{}/{name}: {e}", dir.label)),
        }
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(w.try_into().ok()?) as usize)
}

/// The entry and content of one ghost-file image; `None` for a non-regular ghost.
fn ghost_content(name: &str, b: &Blob) -> Result<Option<(Blob, u32)>, String> {
    let bytes = b.bytes();
    // The header (8 bytes), then one framed GhostFileEntry.
    let len = u32_at(bytes, 8).ok_or("truncated header")?;
    let body = bytes.get(12..12 + len).ok_or("truncated entry")?;
    // Check the magic by decoding the header alone.
    image::decode_all::<pb::GhostFileEntry>(name, &bytes[..8], magic::GHOST_FILE)
        .map_err(|e| e.to_string())?;
    let e = <pb::GhostFileEntry as prost::Message>::decode(body).map_err(|e| e.to_string())?;
    if e.mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    let at = 12 + len;
    if !e.chunks.unwrap_or(false) {
        let end = match e.size {
            Some(s) => at
                .checked_add(usize::try_from(s).map_err(|_| "size too large")?)
                .ok_or("size too large")?,
            None => bytes.len(),
        };
        let data = b
            .slice(at..end)
            .ok_or_else(|| format!("content of {end} bytes runs past the end of the image"))?;
        return Ok(Some((data, e.mode)));
    }
    let size = e.size.unwrap_or(0);
    if size > MAX_CHUNKED {
        return Err(format!("chunked ghost file of {size} bytes: too large"));
    }
    let mut v = vec![0u8; size as usize];
    let mut pos = at;
    while pos < bytes.len() {
        let l = u32_at(bytes, pos).ok_or("truncated chunk header")?;
        let cb = bytes.get(pos + 4..pos + 4 + l).ok_or("truncated chunk")?;
        let c = <pb::GhostChunkEntry as prost::Message>::decode(cb).map_err(|e| e.to_string())?;
        let d = pos + 4 + l;
        let n = usize::try_from(c.len).map_err(|_| "chunk too large")?;
        let src = bytes.get(d..d + n).ok_or("chunk data runs past the end")?;
        let off = usize::try_from(c.off).map_err(|_| "chunk offset too large")?;
        let dst = v
            .get_mut(off..off + n)
            .ok_or("chunk outside the file's size")?;
        dst.copy_from_slice(src);
        pos = d + n;
    }
    Ok(Some((Blob::from_vec(v), e.mode)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::files::FileObject;
    use prost::Message;

    pub(crate) fn image(magic: u32, entries: &[Vec<u8>], payload: &[u8]) -> Vec<u8> {
        let mut v = 0x5456_4319u32.to_le_bytes().to_vec();
        v.extend_from_slice(&magic.to_le_bytes());
        for e in entries {
            v.extend_from_slice(&(e.len() as u32).to_le_bytes());
            v.extend_from_slice(e);
        }
        v.extend_from_slice(payload);
        v
    }

    pub(crate) fn ghost_dir(content: &[u8]) -> (ImageDir, BTreeMap<u32, FileRef>) {
        let remap = RemapFilePathEntry {
            orig_id: 7,
            remap_id: 0x1a,
            remap_type: Some(GHOST),
        }
        .encode_to_vec();
        let linked = RemapFilePathEntry {
            orig_id: 8,
            remap_id: 9,
            remap_type: Some(LINKED),
        }
        .encode_to_vec();
        let g = pb::GhostFileEntry {
            uid: 0,
            gid: 0,
            mode: 0o100600,
            size: Some(content.len() as u64),
            dev: Some(0x29),
            ino: Some(1181264),
            ..Default::default()
        }
        .encode_to_vec();
        let mut files = BTreeMap::new();
        files.insert(
            "remap-fpath.img".to_string(),
            Blob::from_vec(image(magic::REMAP_FPATH, &[remap, linked], &[])),
        );
        files.insert(
            "ghost-file-1a.img".to_string(),
            Blob::from_vec(image(magic::GHOST_FILE, &[g], content)),
        );
        let dir = ImageDir {
            label: "imgs".into(),
            files,
            parent: None,
            written: None,
        };
        let mut objs = BTreeMap::new();
        for (id, path) in [(7, "/tmp/gone.txt"), (8, "/var/linked"), (10, "/etc/kept")] {
            objs.insert(id, FileObject::reg(id, path));
        }
        (dir, objs)
    }

    #[test]
    fn ghosts_are_deleted_and_readable() {
        let (dir, mut files) = ghost_dir(b"GHOST-CONTENT");
        let mut w = Warnings::new();
        mark_deleted(&dir, &mut files, &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(files[&7].link_text(), "/tmp/gone.txt (deleted)");
        assert_eq!(files[&8].link_text(), "/var/linked (deleted)");
        assert_eq!(files[&10].link_text(), "/etc/kept");
        // The ghost's recorded device and inode (podman-implant's /tmp/.hidden/kworkerd: 00:29
        // 1181264); a linked remap records none.
        let dev_ino = |id: u32| match &files[&id].kind {
            FileKind::Reg { dev_ino, .. } => *dev_ino,
            _ => panic!("not a regular file"),
        };
        assert_eq!(dev_ino(7), Some((0x29, 1181264)));
        assert_eq!(dev_ino(8), None);
        let g = ghosts(&dir, &files, &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].path, "/tmp/gone.txt");
        assert_eq!(g[0].data.bytes(), b"GHOST-CONTENT");
        assert_eq!(g[0].mode, 0o100600);
    }

    #[test]
    fn chunked_and_broken_ghosts() {
        let g = pb::GhostFileEntry {
            mode: 0o100644,
            chunks: Some(true),
            size: Some(10),
            ..Default::default()
        }
        .encode_to_vec();
        let c = pb::GhostChunkEntry { len: 3, off: 5 }.encode_to_vec();
        let mut payload = (c.len() as u32).to_le_bytes().to_vec();
        payload.extend_from_slice(&c);
        payload.extend_from_slice(b"abc");
        let img = Blob::from_vec(image(magic::GHOST_FILE, std::slice::from_ref(&g), &payload));
        let (data, _) = ghost_content("g", &img).unwrap().unwrap();
        assert_eq!(data.bytes(), b"\0\0\0\0\0abc\0\0");
        // Truncated: an error, never a panic.
        for cut in 0..img.len() {
            let b = Blob::from_vec(img.bytes()[..cut].to_vec());
            let _ = ghost_content("g", &b);
        }
        let bad = pb::GhostFileEntry {
            mode: 0o100644,
            size: Some(1000),
            ..Default::default()
        }
        .encode_to_vec();
        let img = Blob::from_vec(image(magic::GHOST_FILE, &[bad], b"short"));
        assert!(ghost_content("g", &img).is_err());
    }
}
