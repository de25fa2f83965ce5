//! Input sources: open a checkpoint (CRIU image directory, extracted container archive, `.tar`,
//! `.tar.gz`, `.tar.zst`) and give named, immutable byte blobs.
//!
//! The kind is detected from content (directory contents, magic bytes), never from the name.
//! - A directory: each file is read (small) or mapped read-only; `parent` links of incremental
//!   dumps are followed on the filesystem.
//! - A `.tar`: the archive is mapped and its entries indexed in place (zero copy).
//! - A `.tar.gz` / `.tar.zst`: decompressed once, streaming, into a single `.tar` in a cache
//!   directory (see `cache/`), then served like a `.tar`; opened for its metadata only, read as
//!   a stream into memory with the memory pages withheld, nothing written (see `stream.rs`).
//!   Entries are never extracted, so nothing in an archive can cause a write outside the cache
//!   file.
//!
//! The input is evidence: it is opened read-only (with `O_NOATIME` where permitted) and never
//! trusted: `..`, absolute and escaping link entries, truncation, absurd sizes and decompression
//! bombs give an [`Error`] naming the file and the problem.

pub mod blob;
pub mod cache;
mod dir;
mod error;
pub mod inner;
mod layout;
pub mod manifest;
pub mod oci;
pub mod path;
pub mod peek;
mod stream;
mod tar;
#[cfg(test)]
pub(crate) mod test_util;

pub use blob::Blob;
pub use dir::is_checkpoint_dir;
pub use error::Error;
pub use manifest::{Manifest, ManifestEntry};

use crate::warning::{Kind, Warnings};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Longest `parent` chain followed (incremental dumps).
pub(crate) const MAX_PARENT_DEPTH: usize = 64;

/// How to open an input.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Where compressed inputs are decompressed. Default: `$XDG_CACHE_HOME/ckptfs`, else
    /// `$HOME/.cache/ckptfs`, else `/var/tmp/ckptfs-$UID`: the first that exists or can be
    /// created (mode 0700) and is owned by the current user, not writable by group / others.
    pub cache_dir: Option<PathBuf>,
    /// Largest decompressed size accepted (decompression-bomb guard). Default: the free space of
    /// the cache filesystem minus 1 GiB.
    pub max_size: Option<u64>,
    /// Show a progress bar on stderr while decompressing (only when stderr is a terminal).
    pub progress: bool,
    /// Only the metadata will be read (`show`, `inspect` without memory): a compressed archive
    /// is read as a stream, nothing is written to the cache, and the bytes of its memory pages
    /// (and root file system diff) are withheld, never served (see `stream.rs`).
    pub metadata_only: bool,
    /// Which image of an OCI layout or image archive holding several (a reference, repo tag or
    /// digest); `None` takes the only one.
    pub image: Option<String>,
    /// Docker's directory of the checkpointed container (`<docker root>/containers/<id>/`, with
    /// `config.v2.json` and `hostconfig.json`): its name, image and times. Found by itself when
    /// the checkpoint lies in Docker's layout (`<id>/checkpoints/<name>/`).
    pub container_dir: Option<PathBuf>,
    /// The container's rw layer as a tar (Docker's checkpoints leave it out), served as the
    /// rootfs diff.
    pub rw_layer: Option<PathBuf>,
}

/// What the input file (or directory) is, detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A directory (a CRIU image directory or an extracted container archive).
    ImageDir,
    /// An uncompressed tar (ustar magic at offset 257, or a valid v7 header).
    Tar,
    /// A gzip-compressed tar (magic 1f 8b).
    TarGz,
    /// A zstd-compressed tar (magic 28 b5 2f fd).
    TarZst,
}

/// How the checkpoint is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A bare CRIU image directory, or an archive of one.
    ImageDir,
    /// A Podman / CRI-O container archive: CRIU images in `checkpoint/`, metadata files beside.
    ContainerArchive,
}

/// The input as given.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// The input path as given, made absolute (not canonicalized).
    pub path: PathBuf,
    pub kind: InputKind,
    /// The input file's size; for a directory, the sum of the sizes of the files served (images
    /// of the whole parent chain and metadata files).
    pub size: u64,
    /// The decompressed tar in the cache, for compressed inputs.
    pub cache_path: Option<PathBuf>,
}

/// A CRIU image directory: file name -> bytes (regular files directly in it only), and its resolved
/// `parent` (incremental dumps).
#[derive(Debug, Clone)]
pub struct ImageDir {
    /// For messages: the directory path, or `ARCHIVE:checkpoint` (`ARCHIVE:.` for the root); an
    /// image in it is named `LABEL/NAME`.
    pub label: String,
    /// Image files by name. The `parent` link itself is not listed.
    pub files: BTreeMap<String, Blob>,
    /// The previous dump of an incremental chain, when it could be resolved.
    pub parent: Option<Box<ImageDir>>,
    /// When CRIU wrote these images: the modification time of `inventory.img` (else
    /// `pstree.img`) as the directory or the archive's header records it.
    pub written: Option<std::time::SystemTime>,
}

impl ImageDir {
    /// The file `name` of this directory (not of its parents).
    pub fn get(&self, name: &str) -> Option<&Blob> {
        self.files.get(name)
    }

    /// This directory, then its parent, grandparent, ...
    pub fn chain(&self) -> impl Iterator<Item = &ImageDir> {
        std::iter::successors(Some(self), |d| d.parent.as_deref())
    }
}

/// An opened checkpoint.
#[derive(Debug, Clone)]
pub struct Source {
    pub input: InputInfo,
    pub layout: Layout,
    pub images: ImageDir,
    /// Every other regular file of a container archive, by its path relative to the archive root
    /// without leading "./" (config.dump, spec.dump, network.status, stats-dump, deleted.files,
    /// rootfs-diff.tar, devshm-checkpoint.tar, ctr.log, artifacts/..., ...). Empty for an image dir.
    pub metadata: BTreeMap<String, Blob>,
    /// Non-fatal problems (e.g. "parent link ../pre points outside the archive: incremental pages
    /// of the parent are unavailable").
    pub warnings: Warnings,
    /// What the image says, when the checkpoint came wrapped as a container image.
    pub oci: Option<oci::OciImage>,
    /// Files the model reads by a role name (`spec.dump`, `rootfs-diff.tar`) that this input
    /// stores under another (containerd's own checkpoint: its spec and rw layer blobs).
    roles: BTreeMap<&'static str, Blob>,
    /// sha256 of the input file, computed at most once.
    sha256: Arc<OnceLock<Option<String>>>,
    /// The SHA-256 of every input file (see [`Source::manifest`]), computed at most once.
    manifest: Arc<OnceLock<Option<Arc<Manifest>>>>,
    /// A directory input's files read from outside it (Docker's container record, an rw layer
    /// given by path), by absolute path: the manifest lists them so.
    outside: Vec<(PathBuf, Blob)>,
    /// The whole input file, for hashing on demand (plain `.tar`).
    whole: Option<Blob>,
    /// A compressed input's hash, published by the cache's background job
    /// (see `cache/record.rs`).
    hashing: Option<Arc<cache::PendingHash>>,
    /// The cache entry's recording (the input's hash, the sync of a new copy, its meta file),
    /// still running; the last clone dropped waits for it.
    record: Option<Arc<cache::Record>>,
    /// How it was opened (where inner compressed tars are decompressed).
    opts: OpenOptions,
}

impl Source {
    /// sha256 (lowercase hex) of the input file; for a directory, of its manifest's text
    /// ([`Source::manifest`], which lists every file's); None when it could not be read to its
    /// end unchanged, or for an archive opened for its metadata only. Computed once on first
    /// call and cached; for compressed inputs it is computed off the open's critical path (begun
    /// beside the decompressor, finished after it) and kept in the cache's meta file, so a
    /// remount does not rehash: this call waits until it is known.
    pub fn input_sha256(&self) -> Option<String> {
        self.sha256
            .get_or_init(|| match &self.hashing {
                Some(h) => h.wait(),
                None if self.input.kind == InputKind::ImageDir => {
                    self.manifest().map(|m| m.digest())
                }
                None => self.whole.as_ref().map(manifest::sha256_of),
            })
            .clone()
    }

    /// The chain of custody of a directory input: the SHA-256 of every file served, by its
    /// path relative to the directory, in `sha256sum` format by [`Manifest::text`] (hashed on
    /// first call, once; the mount asks for it in the background after the tree is built, so it
    /// is not on the mount's path). None for an archive (its own hash is
    /// [`Source::input_sha256`]).
    pub fn manifest(&self) -> Option<Arc<Manifest>> {
        self.manifest
            .get_or_init(|| {
                if !self.has_manifest() {
                    return None;
                }
                let root = std::fs::canonicalize(&self.input.path).ok();
                let files = manifest::files_of(
                    self.layout,
                    root.as_deref(),
                    &self.images,
                    &self.metadata,
                    &self.outside,
                );
                Some(Arc::new(manifest::compute(&files)))
            })
            .clone()
    }

    /// True when [`Source::manifest`] lists files: a directory of CRIU images or an extracted
    /// container archive (not an archive, not a container image layout).
    pub fn has_manifest(&self) -> bool {
        self.input.kind == InputKind::ImageDir && self.manifest.get().is_none_or(|m| m.is_some())
    }

    /// The archive's tar `name` (`rootfs-diff.tar`, `devshm-checkpoint.tar`) as a plain tar:
    /// as stored, or decompressed when its content is gzip / zstd (containerd's rootfs-diff.tar
    /// is a gzip-compressed OCI layer); None when the archive has none. See [`inner`].
    pub fn plain_tar(&self, name: &str) -> Option<Result<Blob, String>> {
        let b = self.file(name)?;
        if b.is_withheld() {
            return Some(Err(format!(
                "{name}: not read (the checkpoint was opened for its metadata only)"
            )));
        }
        Some(inner::plain_tar(name, b, &self.opts))
    }

    /// The CRIU image `name` holding a tar (`tmpfs-dev-<dev>.tar.gz.img`) as a plain tar, as
    /// [`Source::plain_tar`] does for the archive's tars; `None` when there is no such image.
    pub fn image_tar(&self, name: &str) -> Option<Result<Blob, String>> {
        let b = self.images.files.get(name)?;
        Some(inner::plain_tar(name, b, &self.opts))
    }

    /// The container archive's file `name` (`config.dump`, `spec.dump`, `rootfs-diff.tar`...),
    /// or the file playing its part in an input that stores it elsewhere (containerd's own
    /// checkpoint image keeps the spec inside its container record and the rw layer as a blob).
    pub fn file(&self, name: &str) -> Option<&Blob> {
        self.metadata.get(name).or_else(|| self.roles.get(name))
    }

    /// Waits until the cache entry this open built or reused is recorded: the input's hash
    /// known and written in its meta file, a new copy synced to disk and marked so (a no-op
    /// otherwise). Dropping the last clone does the same.
    pub fn wait_cache_recorded(&self) {
        if let Some(s) = &self.record {
            s.wait();
        }
    }

    /// The source of `input` as its layout was `found`: no image, roles, files outside it, kept
    /// mapping or hashing job; its hash and manifest still to compute.
    fn found(input: InputInfo, found: layout::Found, opts: &OpenOptions) -> Source {
        Source {
            input,
            layout: found.layout,
            images: found.images,
            metadata: found.metadata,
            warnings: found.warnings,
            oci: None,
            roles: BTreeMap::new(),
            sha256: Arc::new(OnceLock::new()),
            manifest: Arc::new(OnceLock::new()),
            outside: Vec::new(),
            whole: None,
            hashing: None,
            record: None,
            opts: opts.clone(),
        }
    }

    /// An image directory at `path` (shown as `label`) whose images are `files`, held in memory,
    /// with no parent and no metadata ([`Source::from_parts`]; for tests and synthetic inputs).
    pub fn in_memory(path: &str, label: &str, files: BTreeMap<String, Vec<u8>>) -> Source {
        let images = ImageDir {
            label: label.into(),
            files: files
                .into_iter()
                .map(|(k, v)| (k, Blob::from_vec(v)))
                .collect(),
            parent: None,
            written: None,
        };
        let input = InputInfo {
            path: path.into(),
            kind: InputKind::ImageDir,
            size: 0,
            cache_path: None,
        };
        Source::from_parts(
            input,
            Layout::ImageDir,
            images,
            BTreeMap::new(),
            Warnings::new(),
        )
    }

    /// A source built from parts (for tests and synthetic inputs); `input_sha256` is `None`.
    pub fn from_parts(
        input: InputInfo,
        layout: Layout,
        images: ImageDir,
        metadata: BTreeMap<String, Blob>,
        warnings: Warnings,
    ) -> Source {
        let found = layout::Found {
            layout,
            images,
            metadata,
            warnings,
        };
        Source {
            sha256: Arc::new(OnceLock::from(None)),
            manifest: Arc::new(OnceLock::from(None)),
            ..Source::found(input, found, &OpenOptions::default())
        }
    }
}

/// Detects a file's kind from its first bytes.
fn detect(head: &[u8]) -> Option<InputKind> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(InputKind::TarGz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(InputKind::TarZst)
    } else if tar::looks_like_tar(head) {
        Some(InputKind::Tar)
    } else {
        None
    }
}

fn read_head(file: &fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What `path` holds, judged without opening it as a checkpoint (for finding checkpoints in a
/// directory): `ImageDir` for a CRIU image directory or an extracted container archive (a
/// `checkpoint/` directory with images), the archive kind for a file that starts like one, `None`
/// for anything else (or what cannot be read).
pub fn sniff(path: &Path) -> Option<InputKind> {
    let md = fs::metadata(path).ok()?;
    if md.is_dir() {
        let yes = dir::has_images(path)
            || dir::has_images(&path.join(layout::CHECKPOINT_DIR))
            || oci::detect_dir(path).is_some();
        return yes.then_some(InputKind::ImageDir);
    }
    if !md.is_file() {
        return None;
    }
    let file = dir::open_evidence(path, true).ok()?;
    let mut head = [0u8; 512];
    let n = read_head(&file, &mut head).ok()?;
    detect(&head[..n])
}

/// Opens a checkpoint: a CRIU image directory, an extracted container archive, or a `.tar`,
/// `.tar.gz` or `.tar.zst` archive of either (detected from content).
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Source, Error> {
    let abs =
        std::path::absolute(path).map_err(|e| Error::io(path, "cannot resolve the path", e))?;
    let md = fs::metadata(&abs).map_err(|e| Error::io(&abs, "cannot open", e))?;
    if md.is_dir()
        && !dir::has_images(&abs)
        && !dir::has_images(&abs.join(layout::CHECKPOINT_DIR))
        && let Some(form) = oci::detect_dir(&abs)
    {
        let opened = oci::open(
            &oci::Files::Dir(&abs),
            form,
            &abs,
            opts.image.as_deref(),
            opts,
        )?;
        return from_image(abs, InputKind::ImageDir, opened, opts);
    }
    if md.is_dir() {
        let mut found = dir::open_dir(&abs)?;
        let mut outside = Vec::new();
        let roles = docker_context(&abs, &mut found, opts, &mut outside)?;
        let size = found
            .images
            .chain()
            .flat_map(|d| d.files.values())
            .chain(found.metadata.values())
            .fold(0u64, |a, b| a.saturating_add(b.len() as u64));
        let input = InputInfo {
            path: abs,
            kind: InputKind::ImageDir,
            size,
            cache_path: None,
        };
        return Ok(Source {
            roles,
            outside,
            ..Source::found(input, found, opts)
        });
    }
    let not_ckpt = |extra: &str| Error::NotCheckpoint {
        path: abs.clone(),
        why: format!("neither a CRIU image directory nor a tar/tar.gz/tar.zst archive{extra}"),
    };
    if !md.is_file() {
        return Err(not_ckpt(" (not a regular file or directory)"));
    }
    let file = dir::open_evidence(&abs, true).map_err(|e| Error::io(&abs, "cannot open", e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io(&abs, "cannot stat", e))?
        .len();
    let mut head = [0u8; 512];
    let n = read_head(&file, &mut head).map_err(|e| Error::io(&abs, "cannot read", e))?;
    let kind =
        detect(&head[..n]).ok_or_else(|| not_ckpt(if n == 0 { " (empty file)" } else { "" }))?;
    let (tar, cache_path, hashing, mut warnings, record) = match kind {
        InputKind::Tar => {
            let blob = Blob::map(&file).map_err(|e| Error::io(&abs, "cannot map", e))?;
            (blob, None, None, Warnings::new(), None)
        }
        _ if opts.metadata_only => {
            let tar = stream::metadata_tar(&abs, &file, kind, opts.progress)?;
            (tar, None, None, Warnings::new(), None)
        }
        _ => {
            let c = cache::decompressed(&abs, &file, kind, opts)?;
            (
                c.tar,
                Some(c.tar_path),
                Some(c.sha256),
                c.warnings,
                c.record.map(Arc::new),
            )
        }
    };
    let idx = match tar::TarIndex::build(&abs, &tar) {
        Ok(idx) => idx,
        Err(e) => {
            // Not a whole tar (a truncated input that decompressed cleanly): its cache entry
            // serves nothing, and a failed run leaves nothing behind.
            if let Some(p) = &cache_path {
                cache::discard(p, record);
            }
            return Err(e);
        }
    };
    let mut image = None;
    let found = match (layout::holds_images(&idx), oci::detect_tar(&idx)) {
        (false, Some((root, form))) => {
            let files = oci::Files::Tar { idx: &idx, root };
            let opened = oci::open(&files, form, &abs, opts.image.as_deref(), opts)?;
            let (found, img) = image_found(&abs, opened)?;
            image = Some(img);
            found
        }
        _ => layout::from_archive(&idx)?,
    };
    let mut found = found;
    warnings.extend(std::mem::take(&mut found.warnings));
    found.warnings = warnings;
    // A plain tar is hashed from its mapping on demand; a compressed input opened for its
    // metadata only has no hash (its stream was not kept).
    let whole = (kind == InputKind::Tar).then_some(tar);
    let (oci, roles) = image.map_or((None, BTreeMap::new()), |(o, r)| (Some(o), r));
    let input = InputInfo {
        path: abs,
        kind,
        size,
        cache_path,
    };
    Ok(Source {
        oci,
        roles,
        whole,
        hashing,
        record,
        ..Source::found(input, found, opts)
    })
}

/// Docker's own checkpoint (`docker checkpoint create`): a bare CRIU directory whose container's
/// records lie two levels up (`<id>/checkpoints/<name>/`, or `--container-dir`). Adds
/// `config.v2.json` and `hostconfig.json` to the metadata, and the rw layer (`--rw-layer`) as the
/// rootfs diff, or a warning that the checkpoint has none.
///
/// Every file it reads from outside `abs` is added to `outside`, by its path (the manifest
/// lists them so).
fn docker_context(
    abs: &Path,
    found: &mut layout::Found,
    opts: &OpenOptions,
    outside: &mut Vec<(PathBuf, Blob)>,
) -> Result<BTreeMap<&'static str, Blob>, Error> {
    let mut roles = BTreeMap::new();
    let beside = || {
        let ckdir = abs.parent()?;
        (ckdir.file_name()? == "checkpoints").then_some(())?;
        let ctr = ckdir.parent()?;
        ctr.join("config.v2.json")
            .is_file()
            .then(|| ctr.to_path_buf())
    };
    let Some(ctr) = opts.container_dir.clone().or_else(beside) else {
        if let Some(rw) = &opts.rw_layer {
            let b = rw_layer(rw)?;
            outside.push((
                std::path::absolute(rw).unwrap_or_else(|_| rw.clone()),
                b.clone(),
            ));
            roles.insert("rootfs-diff.tar", b);
        }
        return Ok(roles);
    };
    for name in ["config.v2.json", "hostconfig.json"] {
        let p = ctr.join(name);
        match dir::load_file(&p) {
            Ok(b) => {
                outside.push((
                    std::path::absolute(&p).unwrap_or_else(|_| p.clone()),
                    b.clone(),
                ));
                found.metadata.insert(name.to_string(), b);
            }
            Err(e) if name == "config.v2.json" => {
                return Err(Error::io(&p, "cannot read Docker's container record", e));
            }
            Err(_) => {}
        }
    }
    match &opts.rw_layer {
        Some(rw) => {
            let b = rw_layer(rw)?;
            outside.push((std::path::absolute(rw).unwrap_or_else(|_| rw.clone()), b.clone()));
            roles.insert("rootfs-diff.tar", b);
        }
        None => found.warnings.push(Kind::MissingMetadata,
            "a Docker checkpoint holds no file of the container: its rw layer stays in Docker's storage; rootfs/ shows only what --rootfs DIR (the layer's directory) or --rw-layer TAR gives",
        ),
    }
    Ok(roles)
}

/// The rw layer tar given with `--rw-layer`, mapped read-only.
fn rw_layer(p: &Path) -> Result<Blob, Error> {
    let f = dir::open_evidence(p, true).map_err(|e| Error::io(p, "cannot open the rw layer", e))?;
    Blob::map(&f).map_err(|e| Error::io(p, "cannot map the rw layer", e))
}

/// The checkpoint inside an opened image: its layout, images and metadata (the image's own
/// blobs added to the metadata), and what the image says.
#[allow(clippy::type_complexity)]
fn image_found(
    abs: &Path,
    opened: oci::Opened,
) -> Result<(layout::Found, (oci::OciImage, BTreeMap<&'static str, Blob>)), Error> {
    let idx = tar::TarIndex::build(abs, &opened.tar)?;
    let mut found = layout::from_archive(&idx)?;
    let mut warnings = opened.warnings;
    warnings.append(&mut found.warnings);
    found.warnings = warnings;
    if opened.image.containerd_checkpoint {
        // The CRIU images with the container's record and rw layer beside them: a container
        // checkpoint, like a kubelet archive.
        found.layout = Layout::ContainerArchive;
    }
    found.metadata.extend(opened.extra);
    Ok((found, (opened.image, opened.roles)))
}

/// A source from an image layout directory.
fn from_image(
    abs: PathBuf,
    kind: InputKind,
    opened: oci::Opened,
    opts: &OpenOptions,
) -> Result<Source, Error> {
    let (found, (image, roles)) = image_found(&abs, opened)?;
    let size = dir_size(&abs);
    let input = InputInfo {
        path: abs,
        kind,
        size,
        cache_path: None,
    };
    Ok(Source {
        oci: Some(image),
        roles,
        sha256: Arc::new(OnceLock::from(None)),
        manifest: Arc::new(OnceLock::from(None)),
        ..Source::found(input, found, opts)
    })
}

/// The sum of the sizes of the regular files below `dir` (an image layout: a few levels).
fn dir_size(dir: &Path) -> u64 {
    fn walk(p: &Path, depth: usize) -> u64 {
        let Ok(rd) = fs::read_dir(p) else { return 0 };
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
                Ok(t) if t.is_dir() && depth < 4 => walk(&e.path(), depth + 1),
                _ => 0,
            })
            .sum()
    }
    walk(dir, 0)
}

#[cfg(test)]
mod tests;
