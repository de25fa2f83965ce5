//! Writing a planned checkpoint out: an image directory (with sibling parent dumps), an
//! extracted container archive, or a `.tar` / `.tar.gz` / `.tar.zst` in any layout (bare,
//! Podman, containerd, CRI-O: see [`super::runtime`]).

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use super::encode::Content;
use super::runtime::{self, K8sArchive};
use super::{CheckpointWriter, PAGE_USIZE};

/// How a checkpoint is laid out in an archive (or extracted tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A bare CRIU image directory: the images at the archive's root (under `dump/` when the
    /// dump has a parent, which then lies beside it).
    Bare,
    /// A Podman export: `config.dump`, `spec.dump`, the writer's archive files, and the images in
    /// `checkpoint/` (parents beside it).
    Podman {
        config_json: String,
        spec_json: String,
    },
    /// containerd 2.x's CRI checkpoint (see [`super::runtime`]): images in `checkpoint/` (from
    /// `images_from` when set, else the writer's own), gzip-compressed `rootfs-diff.tar`.
    Containerd(K8sArchive),
    /// CRI-O's checkpoint (see [`super::runtime`]): `./` entry names, `checkpoint/` mode 0700,
    /// `deleted.files`, the log under the name `io.kubernetes.cri-o.LogPath`.
    Crio(K8sArchive),
}

impl Layout {
    /// A Podman layout with plausible `config.dump` / `spec.dump` for a container `name`.
    pub fn podman(name: &str) -> Layout {
        let config = serde_json::json!({
            "id": format!("{:0>64}", "c0ffee"),
            "name": name,
            "rootfsImage": format!("{:0>64}", "1ma9e"),
            "rootfsImageRef": format!("{:0>64}", "1ma9e"),
            "rootfsImageName": "localhost/ckptfs-synthetic:latest",
            "runtime": "runc",
            "createdTime": "2026-11-28T10:00:00.000000000Z",
            "checkpointedTime": "2026-11-28T10:05:00.000000000Z",
            "restoredTime": "0001-01-01T00:00:00Z",
            "restored": false,
        });
        let spec = serde_json::json!({
            "ociVersion": "1.0.2-dev",
            "process": { "args": ["/bin/sh"], "cwd": "/" },
            "root": { "path": "/var/lib/containers/storage/overlay/x/merged" },
            "hostname": name,
            "annotations": {
                "io.container.manager": "libpod",
                "org.opencontainers.image.stopSignal": "15",
            },
        });
        Layout::Podman {
            config_json: config.to_string(),
            spec_json: spec.to_string(),
        }
    }
}

/// Compression of a written archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One node of the tree to write, by path relative to its base (no leading `/`).
enum Item {
    Dir(String),
    File(String, Content),
    /// A file copied from the host (a real dump's image file).
    HostFile(String, std::path::PathBuf),
    Symlink(String, String),
}

/// The regular files directly in `dir`, sorted by name, as items under `prefix`.
fn host_images(dir: &Path, prefix: &str, out: &mut Vec<Item>) -> io::Result<()> {
    out.push(Item::Dir(prefix.to_string()));
    let mut names = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            names.push(e.file_name());
        }
    }
    names.sort();
    for n in names {
        out.push(Item::HostFile(
            join(prefix, &n.to_string_lossy()),
            dir.join(&n),
        ));
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn parent_of(dir: &str) -> &str {
    dir.rsplit_once('/').map_or("", |(p, _)| p)
}

impl CheckpointWriter {
    /// Appends the image directory `img_dir` (relative; `""` = the base itself) and, beside
    /// it, the parent chain.
    fn image_items(&self, img_dir: &str, out: &mut Vec<Item>) {
        if !img_dir.is_empty() {
            out.push(Item::Dir(img_dir.to_string()));
        }
        for (name, c) in self.plan() {
            out.push(Item::File(join(img_dir, &name), c));
        }
        if let Some((name, parent)) = &self.parent {
            let sibling = join(parent_of(img_dir), name);
            out.push(Item::Symlink(join(img_dir, "parent"), format!("../{name}")));
            parent.image_items(&sibling, out);
        }
    }

    fn items(&self, layout: &Layout, img_dir_bare: &str) -> io::Result<Vec<Item>> {
        let mut out = Vec::new();
        match layout {
            Layout::Containerd(a) | Layout::Crio(a) => {
                let files = if matches!(layout, Layout::Crio(_)) {
                    runtime::crio_files(a)
                } else {
                    runtime::containerd_files(a)
                };
                for (name, bytes) in files {
                    out.push(Item::File(name, Content::Bytes(bytes)));
                }
                for (path, bytes) in &self.archive_files {
                    if let Some((d, _)) = path.rsplit_once('/') {
                        out.push(Item::Dir(d.to_string()));
                    }
                    out.push(Item::File(path.clone(), Content::Bytes(bytes.clone())));
                }
                // The runtimes copy CRIU's stats-dump beside checkpoint/ too.
                match &a.images_from {
                    Some(dir) => {
                        let stats = dir.join("stats-dump");
                        if stats.is_file() {
                            out.push(Item::HostFile("stats-dump".into(), stats));
                        }
                        host_images(dir, "checkpoint", &mut out)?
                    }
                    None => {
                        if let Some(c) = self.plan().remove("stats-dump") {
                            out.push(Item::File("stats-dump".into(), c));
                        }
                        self.image_items("checkpoint", &mut out)
                    }
                }
            }
            Layout::Bare => self.image_items(img_dir_bare, &mut out),
            Layout::Podman {
                config_json,
                spec_json,
            } => {
                out.push(Item::File(
                    "config.dump".into(),
                    Content::Bytes(config_json.as_bytes().to_vec()),
                ));
                out.push(Item::File(
                    "spec.dump".into(),
                    Content::Bytes(spec_json.as_bytes().to_vec()),
                ));
                for (path, bytes) in &self.archive_files {
                    if let Some((d, _)) = path.rsplit_once('/') {
                        out.push(Item::Dir(d.to_string()));
                    }
                    out.push(Item::File(path.clone(), Content::Bytes(bytes.clone())));
                }
                self.image_items("checkpoint", &mut out);
            }
        }
        Ok(out)
    }

    /// Writes the image directory `path` (created if needed) and, when the dump has a parent,
    /// the parent chain as sibling directories with `parent` symlinks (`path/parent -> ../NAME`).
    pub fn write_dir(&self, path: &Path) -> io::Result<()> {
        let base = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad directory name"))?;
        fs::create_dir_all(path)?;
        write_items(base, self.items(&Layout::Bare, name)?)
    }

    /// Writes an extracted archive tree at `path` in `layout` (Podman: `path/checkpoint/` plus
    /// the metadata files; Bare: as [`write_dir`](Self::write_dir)).
    pub fn write_tree(&self, path: &Path, layout: &Layout) -> io::Result<()> {
        match layout {
            Layout::Bare => self.write_dir(path),
            _ => {
                fs::create_dir_all(path)?;
                write_items(path, self.items(layout, "")?)
            }
        }
    }

    /// Writes a tar archive of the checkpoint in `layout`, compressed as asked.
    pub fn write_tar(
        &self,
        path: &Path,
        layout: &Layout,
        compression: Compression,
    ) -> io::Result<()> {
        let bare_dir = if self.parent.is_some() { "dump" } else { "" };
        let items = self.items(layout, bare_dir)?;
        // CRI-O names every entry `./...` and keeps `checkpoint/` private.
        let crio = matches!(layout, Layout::Crio(_));
        let file = BufWriter::new(fs::File::create(path)?);
        match compression {
            Compression::None => {
                let w = write_tar_items(file, items, crio)?;
                finish_buf(w)
            }
            Compression::Gzip => {
                let enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                let enc = write_tar_items(enc, items, crio)?;
                finish_buf(enc.finish()?)
            }
            Compression::Zstd => {
                let enc = zstd::Encoder::new(file, 3)?;
                let enc = write_tar_items(enc, items, crio)?;
                finish_buf(enc.finish()?)
            }
        }
    }
}

fn finish_buf(mut w: BufWriter<fs::File>) -> io::Result<()> {
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

fn write_content(c: &Content, w: &mut impl Write) -> io::Result<()> {
    match c {
        Content::Bytes(b) => w.write_all(b),
        Content::Pages(pages) => {
            let mut buf = vec![0u8; PAGE_USIZE];
            for p in pages {
                p.fill(&mut buf);
                w.write_all(&buf)?;
            }
            Ok(())
        }
    }
}

fn write_items(base: &Path, items: Vec<Item>) -> io::Result<()> {
    for item in items {
        match item {
            Item::Dir(d) => fs::create_dir_all(base.join(d))?,
            Item::File(p, c) => {
                let path = base.join(p);
                if let Some(d) = path.parent() {
                    fs::create_dir_all(d)?;
                }
                let mut w = BufWriter::new(fs::File::create(&path)?);
                write_content(&c, &mut w)?;
                w.flush()?;
            }
            Item::HostFile(p, from) => {
                let path = base.join(p);
                if let Some(d) = path.parent() {
                    fs::create_dir_all(d)?;
                }
                fs::copy(from, path)?;
            }
            Item::Symlink(p, target) => {
                let path = base.join(p);
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                std::os::unix::fs::symlink(target, &path)?;
            }
        }
    }
    Ok(())
}

/// Streams a [`Content`] for the tar builder.
struct ContentReader<'a> {
    content: &'a Content,
    pos: usize,
    page: Vec<u8>,
    page_index: usize,
}

impl Read for ContentReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.content {
            Content::Bytes(b) => {
                let rest = &b[self.pos.min(b.len())..];
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                self.pos += n;
                Ok(n)
            }
            Content::Pages(pages) => {
                let i = self.pos / PAGE_USIZE;
                let Some(p) = pages.get(i) else { return Ok(0) };
                if self.page_index != i || self.page.is_empty() {
                    self.page.resize(PAGE_USIZE, 0);
                    p.fill(&mut self.page);
                    self.page_index = i;
                }
                let at = self.pos % PAGE_USIZE;
                let n = (PAGE_USIZE - at).min(out.len());
                out[..n].copy_from_slice(&self.page[at..at + n]);
                self.pos += n;
                Ok(n)
            }
        }
    }
}

const MTIME: u64 = 1_764_324_000;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn write_tar_items<W: Write>(w: W, items: Vec<Item>, crio: bool) -> io::Result<W> {
    let mut b = tar::Builder::new(w);
    let mut dirs_done = std::collections::HashSet::new();
    let pre = if crio { "./" } else { "" };
    if crio {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, "./", io::empty())?;
    }
    for item in items {
        let item = match item {
            Item::Dir(d) => Item::Dir(format!("{pre}{d}")),
            Item::File(p, c) => Item::File(format!("{pre}{p}"), c),
            Item::HostFile(p, f) => Item::HostFile(format!("{pre}{p}"), f),
            Item::Symlink(p, t) => Item::Symlink(format!("{pre}{p}"), t),
        };
        match item {
            Item::Dir(d) => {
                if dirs_done.insert(d.clone()) {
                    let private = crio && d.trim_start_matches("./") == "checkpoint";
                    let mode = if private { 0o700 } else { 0o755 };
                    let mut h = header(tar::EntryType::Directory, mode, 0);
                    b.append_data(&mut h, format!("{d}/"), io::empty())?;
                }
            }
            Item::HostFile(p, from) => {
                let f = fs::File::open(&from)?;
                let mut h = header(tar::EntryType::Regular, 0o644, f.metadata()?.len());
                b.append_data(&mut h, &p, f)?;
            }
            Item::File(p, c) => {
                let mut h = header(tar::EntryType::Regular, 0o644, c.len());
                let r = ContentReader {
                    content: &c,
                    pos: 0,
                    page: Vec::new(),
                    page_index: 0,
                };
                b.append_data(&mut h, &p, r)?;
            }
            Item::Symlink(p, target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut h, &p, &target)?;
            }
        }
    }
    b.into_inner()
}
