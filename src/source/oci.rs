//! A checkpoint wrapped as a container image, as it travels between nodes and teams:
//!
//! - **OCI image layout** (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): `podman save
//!   --format oci-archive` (a tar of one), `skopeo copy ... oci:DIR` (a directory, or a tar of it
//!   with one top directory). The image of `podman container checkpoint --create-image`,
//!   `checkpointctl build` or buildah has one layer: the checkpoint archive's files
//!   (`checkpoint/`, `config.dump`, `spec.dump`, `rootfs-diff.tar`, ...); its manifest's
//!   annotations (`io.podman.annotations.checkpoint.*`, `org.criu.checkpoint.*`) describe it.
//! - **docker-archive** (`manifest.json`: `[{Config, RepoTags, Layers}]`, `podman save` /
//!   `docker save`): the same layer as `<id>/layer.tar` or `<diff id>.tar`, no annotations.
//! - **containerd's own checkpoint** (`ctr containers checkpoint --task --rw`, exported by `ctr
//!   images export`): an OCI layout whose index points at an image index listing blobs of
//!   containerd's media types: the CRIU images as a tar, the rw layer as a gzip OCI layer, the
//!   container's runtime spec (a protobuf `Any` holding the spec's JSON), runtime options.
//!
//! Detected by content (`oci-layout` / `index.json` / `manifest.json`), never by name. Every blob
//! is named by its digest: a digest that is not `sha256:<64 hex>` is refused (it would be a path),
//! a blob whose size differs from its descriptor is refused, a blob whose content does not hash to
//! its digest is served with a warning naming it. Layers are read in place when plain, else
//! decompressed once into an unnamed file of the cache directory, bounded like every other
//! decompression ([`super::inner`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::tar::TarIndex;
use super::{Blob, Error, OpenOptions};
use crate::warning::{Kind, Warnings};

/// containerd's checkpoint media types (containerd 1.6 `images/mediatypes.go`).
const CTR_CRIU_TAR: &str = "application/vnd.containerd.container.criu.checkpoint.criu.tar";
const CTR_CONFIG: &str = "application/vnd.containerd.container.checkpoint.config.v1+proto";
const CTR_RUNTIME_OPTIONS: &str =
    "application/vnd.containerd.container.checkpoint.runtime.options+proto";
const CTR_OPTIONS: &str = "application/vnd.containerd.container.checkpoint.options.v1+proto";

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Largest JSON document (index, manifest, config) read from an image.
const MAX_JSON: usize = 4 << 20;
/// Deepest chain of indexes followed.
const MAX_DEPTH: usize = 4;
/// Most images listed in one layout or archive.
const MAX_IMAGES: usize = 1000;

/// Which wrapping an input has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// An OCI image layout (directory, or a tar of one: `oci-archive`).
    OciLayout,
    /// `docker save` / `podman save --format docker-archive`.
    DockerArchive,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::OciLayout => "oci-layout",
            Form::DockerArchive => "docker-archive",
        }
    }
}

/// What the image says about the checkpoint, for `show`, `inspect` and `info.json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OciImage {
    pub form: Form,
    /// The image's reference as the layout or archive names it (`org.opencontainers.image.ref.name`,
    /// `io.containerd.image.name`, or a docker-archive's first repo tag); None when unnamed.
    pub reference: Option<String>,
    /// The manifest's (or containerd checkpoint index's) digest; None for a docker-archive.
    pub digest: Option<String>,
    /// Every repo tag of a docker-archive entry.
    pub repo_tags: Vec<String>,
    /// The manifest's annotations (an OCI index's for containerd's checkpoint), as recorded.
    pub annotations: BTreeMap<String, String>,
    /// `containerd` for containerd's own checkpoint (`ctr containers checkpoint`), else None.
    pub containerd_checkpoint: bool,
}

/// Files the checkpoint's model reads under a role name, by that name.
type Roles = BTreeMap<&'static str, Blob>;

/// An image opened down to the checkpoint it carries.
pub(crate) struct Opened {
    /// The checkpoint's files as a plain tar (the layer, or containerd's CRIU tar).
    pub tar: Blob,
    /// What the image says.
    pub image: OciImage,
    /// Files the checkpoint's model reads under a role name (`spec.dump`, `rootfs-diff.tar`)
    /// that this form stores elsewhere: containerd's runtime spec and rw layer.
    pub roles: Roles,
    /// The image's own blobs beside the checkpoint (containerd's config, options), by their
    /// path in the layout, shown as metadata files.
    pub extra: BTreeMap<String, Blob>,
    pub warnings: Warnings,
}

/// Where an image's files are read from: an indexed tar (below `root`) or a directory.
pub(crate) enum Files<'a> {
    Tar { idx: &'a TarIndex, root: String },
    Dir(&'a Path),
}

impl Files<'_> {
    /// The regular file at `rel` (relative to the image's root; links followed inside the
    /// archive or directory; `..` and absolute names never reach outside).
    fn get(&self, rel: &str) -> Option<Blob> {
        if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
            return None;
        }
        match self {
            Files::Tar { idx, root } => idx.file_at(root, rel),
            Files::Dir(dir) => {
                let p = dir.join(rel);
                // Confined: the file's real path must stay below the layout directory.
                let real = std::fs::canonicalize(&p).ok()?;
                let base = std::fs::canonicalize(dir).ok()?;
                if !real.starts_with(&base) || !real.is_file() {
                    return None;
                }
                super::dir::load_file(&real).ok()
            }
        }
    }

    fn has(&self, rel: &str) -> bool {
        self.get(rel).is_some()
    }
}

/// The form of an indexed tar, and the directory of the tar the layout is in (`""`, or the one
/// top directory of a tarred layout directory); None when it is no image. Only asked when the
/// tar holds no CRIU images where a checkpoint archive has them.
pub(crate) fn detect_tar(idx: &TarIndex) -> Option<(String, Form)> {
    let mut roots = vec![String::new()];
    let tops: std::collections::BTreeSet<&str> = idx
        .nodes()
        .filter_map(|(p, _)| p.split('/').next())
        .filter(|p| !p.is_empty())
        .take(2)
        .collect();
    if let [top] = tops.into_iter().collect::<Vec<_>>()[..]
        && idx.is_dir(top)
    {
        roots.push(top.to_string());
    }
    roots.into_iter().find_map(|root| {
        let f = Files::Tar {
            idx,
            root: root.clone(),
        };
        detect(&f).map(|form| (root, form))
    })
}

/// The form of a directory input; None when it is no image layout.
pub(crate) fn detect_dir(dir: &Path) -> Option<Form> {
    detect(&Files::Dir(dir))
}

fn detect(f: &Files) -> Option<Form> {
    if f.has("index.json") && (f.has("oci-layout") || is_oci_index(f)) {
        Some(Form::OciLayout)
    } else if f
        .get("manifest.json")
        .and_then(|b| serde_json::from_slice::<Value>(b.bytes()).ok())
        .is_some_and(|v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|e| e.get("Layers").is_some()))
        })
    {
        Some(Form::DockerArchive)
    } else {
        None
    }
}

fn is_oci_index(f: &Files) -> bool {
    f.get("index.json")
        .and_then(|b| serde_json::from_slice::<Value>(b.bytes()).ok())
        .is_some_and(|v| v.get("manifests").is_some_and(Value::is_array))
}

/// A descriptor (`mediaType`, `digest`, `size`, `annotations`).
#[derive(Clone, Debug)]
struct Desc {
    media: String,
    digest: String,
    size: Option<u64>,
    annotations: BTreeMap<String, String>,
}

fn annotations(v: &Value) -> BTreeMap<String, String> {
    v.get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn descriptor(v: &Value) -> Option<Desc> {
    Some(Desc {
        media: v
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        digest: v.get("digest")?.as_str()?.to_string(),
        size: v.get("size").and_then(Value::as_u64),
        annotations: annotations(v),
    })
}

/// An image found in a layout or archive, before its layers are read.
#[derive(Clone, Debug)]
enum Candidate {
    /// An image manifest (OCI or Docker v2) and the name the index gives it.
    Manifest { desc: Desc, name: Option<String> },
    /// containerd's checkpoint index, its descriptor's name, and its own annotations.
    Containerd {
        desc: Desc,
        name: Option<String>,
        blobs: Vec<Desc>,
        annotations: BTreeMap<String, String>,
    },
    /// A docker-archive entry.
    Docker {
        config: Option<String>,
        tags: Vec<String>,
        layers: Vec<String>,
    },
}

impl Candidate {
    fn names(&self) -> Vec<String> {
        match self {
            Candidate::Manifest { desc, name } | Candidate::Containerd { desc, name, .. } => {
                name.iter().cloned().chain([desc.digest.clone()]).collect()
            }
            Candidate::Docker { tags, config, .. } => {
                tags.iter().cloned().chain(config.iter().cloned()).collect()
            }
        }
    }

    fn label(&self) -> String {
        self.names().into_iter().next().unwrap_or_default()
    }
}

/// Reads images from one layout or archive, checking every blob against its descriptor.
struct Reader<'a> {
    files: &'a Files<'a>,
    label: &'a Path,
    warnings: Warnings,
}

impl Reader<'_> {
    fn invalid(&self, why: impl Into<String>) -> Error {
        Error::invalid(self.label, why)
    }

    /// The blob `d` names: its path is made from a checked digest, its size must match the
    /// descriptor's, and its hash is checked (a mismatch is a warning naming the blob).
    fn blob(&mut self, d: &Desc) -> Result<Blob, Error> {
        let (path, b) = self.blob_unverified(d)?;
        let got = super::cache::hex(&Sha256::digest(b.bytes()));
        self.check_hash(&path, &got);
        Ok(b)
    }

    /// [`Reader::blob`] without the hash, for a layer hashed beside its decompression.
    fn blob_unverified(&self, d: &Desc) -> Result<(String, Blob), Error> {
        let hex = d
            .digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or_else(|| {
                self.invalid(format!(
                    "image descriptor ({}) has digest {:?}: not sha256:<64 hex digits>; refused",
                    d.media,
                    super::error::show(d.digest.as_bytes())
                ))
            })?;
        let path = format!("blobs/sha256/{hex}");
        let b = self.files.get(&path).ok_or_else(|| {
            self.invalid(format!(
                "{path} ({}) is missing from the image",
                if d.media.is_empty() { "blob" } else { &d.media }
            ))
        })?;
        if let Some(size) = d.size
            && size != b.len() as u64
        {
            return Err(self.invalid(format!(
                "{path}: {} bytes, its descriptor says {size}; refused",
                b.len()
            )));
        }
        Ok((path, b))
    }

    /// Warns when the blob at `path` (named by its hash) hashed to `got`.
    fn check_hash(&mut self, path: &str, got: &str) {
        if !path.ends_with(got) {
            self.warnings.push(Kind::AlteredBlob, format!(
                "{path}: content hashes to sha256:{got}, not to its name: the blob was altered or damaged"
            ));
        }
    }

    fn json(&mut self, what: &str, b: &Blob) -> Result<Value, Error> {
        if b.len() > MAX_JSON {
            return Err(self.invalid(format!(
                "{what}: {} bytes, larger than any image document ({MAX_JSON}); refused",
                b.len()
            )));
        }
        serde_json::from_slice(b.bytes())
            .map_err(|e| self.invalid(format!("{what}: not valid JSON: {e}")))
    }

    /// Every image the layout's index reaches (nested indexes followed), in order.
    fn layout_candidates(&mut self) -> Result<Vec<Candidate>, Error> {
        let b = self
            .files
            .get("index.json")
            .ok_or_else(|| self.invalid("index.json is missing"))?;
        let v = self.json("index.json", &b)?;
        let mut out = Vec::new();
        self.walk_index(&v, None, 0, &mut out)?;
        Ok(out)
    }

    fn walk_index(
        &mut self,
        index: &Value,
        inherited: Option<String>,
        depth: usize,
        out: &mut Vec<Candidate>,
    ) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(format!(
                "image indexes nested more than {MAX_DEPTH} deep; refused"
            )));
        }
        let list = index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for m in list.iter().take(MAX_IMAGES) {
            let Some(d) = descriptor(m) else {
                self.warnings.push(
                    Kind::EntryIgnored,
                    "index: a manifest entry without a digest is skipped",
                );
                continue;
            };
            let name = d
                .annotations
                .get("io.containerd.image.name")
                .or_else(|| d.annotations.get("org.opencontainers.image.ref.name"))
                .cloned()
                .or_else(|| inherited.clone());
            match d.media.as_str() {
                OCI_INDEX | DOCKER_LIST => {
                    let b = self.blob(&d)?;
                    let v = self.json(&format!("index {}", d.digest), &b)?;
                    let blobs: Vec<Desc> = v
                        .get("manifests")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(descriptor).collect())
                        .unwrap_or_default();
                    if blobs.iter().any(|x| x.media == CTR_CRIU_TAR) {
                        out.push(Candidate::Containerd {
                            annotations: annotations(&v),
                            desc: d,
                            name,
                            blobs,
                        });
                    } else {
                        self.walk_index(&v, name, depth + 1, out)?;
                    }
                }
                _ => out.push(Candidate::Manifest { desc: d, name }),
            }
        }
        Ok(())
    }

    fn docker_candidates(&mut self) -> Result<Vec<Candidate>, Error> {
        let b = self
            .files
            .get("manifest.json")
            .ok_or_else(|| self.invalid("manifest.json is missing"))?;
        let v = self.json("manifest.json", &b)?;
        let strings = |e: &Value, k: &str| -> Vec<String> {
            e.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .take(MAX_IMAGES)
                    .map(|e| Candidate::Docker {
                        config: e.get("Config").and_then(Value::as_str).map(str::to_string),
                        tags: strings(e, "RepoTags"),
                        layers: strings(e, "Layers"),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The image chosen in a layout or archive, read and checked down to its layers: the index,
/// the manifest (digest form, size, hash, media type) and the config (the same checks; one that
/// cannot be read is left out, as the checkpoint does not need it).
enum Chosen<'c> {
    /// An image manifest: the descriptors of its layers, in order.
    Manifest {
        image: OciImage,
        layers: Vec<Desc>,
        config: Option<Value>,
    },
    /// containerd's checkpoint index: the blobs it lists.
    Containerd { image: OciImage, blobs: &'c [Desc] },
    /// A docker-archive entry: its layers' paths in the archive.
    Docker {
        image: OciImage,
        layers: &'c [String],
        config: Option<Value>,
    },
}

/// The images of a layout or archive of form `form`, found through its index or manifest.json.
fn candidates(r: &mut Reader, form: Form) -> Result<Vec<Candidate>, Error> {
    match form {
        Form::OciLayout => r.layout_candidates(),
        Form::DockerArchive => r.docker_candidates(),
    }
}

/// The image of `cands` that `want` names, or the only one ([`choose`]), with its manifest and
/// config read and checked.
fn read_image<'c>(
    r: &mut Reader,
    cands: &'c [Candidate],
    form: Form,
    want: Option<&str>,
) -> Result<Chosen<'c>, Error> {
    match choose(cands, want, r.label)? {
        Candidate::Manifest { desc, name } => {
            let b = r.blob(desc)?;
            let m = r.json(&format!("manifest {}", desc.digest), &b)?;
            if !matches!(desc.media.as_str(), OCI_MANIFEST | DOCKER_MANIFEST | "") {
                r.warnings.push(
                    Kind::UnexpectedMediaType,
                    format!(
                        "manifest {} has media type {}: read as an image manifest",
                        desc.digest, desc.media
                    ),
                );
            }
            let layers: Vec<Desc> = m
                .get("layers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(descriptor).collect())
                .unwrap_or_default();
            let mut config = None;
            if let Some(d) = m.get("config").and_then(descriptor)
                && let Ok((path, b)) = r.blob_unverified(&d)
                && b.len() <= MAX_JSON
            {
                let got = super::cache::hex(&Sha256::digest(b.bytes()));
                r.check_hash(&path, &got);
                config = serde_json::from_slice::<Value>(b.bytes()).ok();
            }
            Ok(Chosen::Manifest {
                image: OciImage {
                    form,
                    reference: name.clone(),
                    digest: Some(desc.digest.clone()),
                    repo_tags: Vec::new(),
                    annotations: annotations(&m),
                    containerd_checkpoint: false,
                },
                layers,
                config,
            })
        }
        Candidate::Containerd {
            desc,
            name,
            blobs,
            annotations,
        } => Ok(Chosen::Containerd {
            image: OciImage {
                form,
                reference: name.clone(),
                digest: Some(desc.digest.clone()),
                repo_tags: Vec::new(),
                annotations: annotations.clone(),
                containerd_checkpoint: true,
            },
            blobs,
        }),
        Candidate::Docker {
            config,
            tags,
            layers,
        } => Ok(Chosen::Docker {
            image: OciImage {
                form,
                reference: tags.first().cloned(),
                digest: None,
                repo_tags: tags.clone(),
                annotations: BTreeMap::new(),
                containerd_checkpoint: false,
            },
            layers,
            config: config
                .as_deref()
                .and_then(|c| r.files.get(c))
                .filter(|b| b.len() <= MAX_JSON)
                .and_then(|b| serde_json::from_slice::<Value>(b.bytes()).ok()),
        }),
    }
}

/// The docker-archive layer at `l` (the `i`th of its image, from 0).
fn docker_layer(r: &Reader, i: usize, l: &str) -> Result<Blob, Error> {
    r.files.get(l).ok_or_else(|| {
        r.invalid(format!(
            "manifest.json: layer {} ({}) is missing or leaves the archive",
            i + 1,
            super::error::show(l.as_bytes())
        ))
    })
}

/// Opens the image `want` names (a reference, repo tag or digest), or the only one, down to the
/// checkpoint it carries.
pub(crate) fn open(
    files: &Files,
    form: Form,
    label: &Path,
    want: Option<&str>,
    opts: &OpenOptions,
) -> Result<Opened, Error> {
    let mut r = Reader {
        files,
        label,
        warnings: Warnings::new(),
    };
    let cands = candidates(&mut r, form)?;
    let (tar, image, roles, extra) = match read_image(&mut r, &cands, form, want)? {
        Chosen::Manifest { image, layers, .. } => {
            let tar = checkpoint_layer(&mut r, &layers, opts)?;
            (tar, image, BTreeMap::new(), BTreeMap::new())
        }
        Chosen::Containerd { image, blobs } => {
            let (tar, roles, extra) = containerd(&mut r, blobs, opts)?;
            (tar, image, roles, extra)
        }
        Chosen::Docker {
            image,
            layers,
            config,
        } => {
            let mut plain = Vec::new();
            for (i, l) in layers.iter().enumerate() {
                plain.push((l, docker_layer(&r, i, l)?));
            }
            // A docker-archive names no digests for its layers; the config's diff ids are the
            // sha256 of each uncompressed layer.
            let diff_ids: Vec<String> = config
                .as_ref()
                .and_then(|v| {
                    v.pointer("/rootfs/diff_ids")?.as_array().map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                })
                .unwrap_or_default();
            let mut found = None;
            for (i, (path, b)) in plain.iter().enumerate() {
                let tar = layer_tar(path, b, opts).map_err(|e| r.invalid(format!("layer {e}")))?;
                if let Some(want) = diff_ids.get(i) {
                    let got = format!("sha256:{}", super::cache::hex(&Sha256::digest(tar.bytes())));
                    if &got != want {
                        r.warnings.push(Kind::AlteredBlob, format!(
                            "{path}: uncompressed content hashes to {got}, the image config says {want}: the layer was altered or damaged"
                        ));
                    }
                }
                if holds_checkpoint(&tar, label) {
                    found = Some(tar);
                    break;
                }
            }
            let tar = found.ok_or_else(|| {
                r.invalid("no layer of the image holds a checkpoint (checkpoint/ or CRIU images)")
            })?;
            (tar, image, BTreeMap::new(), BTreeMap::new())
        }
    };
    Ok(Opened {
        tar,
        image,
        roles,
        extra,
        warnings: r.warnings,
    })
}

/// What an image says about the checkpoint it carries, read without reading its layers: the
/// manifest's annotations (containerd's checkpoint index's), the image config's `created`, and
/// the blob that carries the checkpoint, unread (for `ckptfs list`).
pub(crate) struct Glance {
    pub image: OciImage,
    /// The image config's `created` (when the image was made), as recorded; None for
    /// containerd's checkpoint (no config) or a config that cannot be read.
    pub created: Option<String>,
    /// The blob holding the checkpoint's files (the image's last layer: an image made by
    /// `--create-image` or `checkpointctl build` has one; containerd's CRIU tar), as stored
    /// (compressed or not), its size checked against its descriptor, its hash not checked.
    pub checkpoint: Blob,
    /// Its name in messages (`blobs/sha256/<hex>`, or a docker-archive's layer path).
    pub checkpoint_name: String,
    /// containerd's runtime spec (from its container record), which stands for `spec.dump`.
    pub spec: Option<Blob>,
    pub warnings: Warnings,
}

/// [`Glance`] at the only image of a layout or archive (several: an error listing them, as
/// [`open`] gives without `--image`). The index, manifest and config are read and checked as
/// [`open`] checks them ([`read_image`]); no layer is read.
pub(crate) fn glance(files: &Files, form: Form, label: &Path) -> Result<Glance, Error> {
    let mut r = Reader {
        files,
        label,
        warnings: Warnings::new(),
    };
    let cands = candidates(&mut r, form)?;
    let created_of = |v: &Value| {
        v.get("created")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (image, created, (checkpoint_name, checkpoint), spec) =
        match read_image(&mut r, &cands, form, None)? {
            Chosen::Manifest {
                image,
                layers,
                config,
            } => {
                let last = layers
                    .last()
                    .ok_or_else(|| r.invalid("the image's manifest lists no layer"))?;
                let checkpoint = r.blob_unverified(last)?;
                (
                    image,
                    config.as_ref().and_then(created_of),
                    checkpoint,
                    None,
                )
            }
            Chosen::Containerd { image, blobs } => {
                let mut checkpoint = None;
                let mut spec = None;
                for d in blobs {
                    match d.media.as_str() {
                        CTR_CRIU_TAR => checkpoint = Some(r.blob_unverified(d)?),
                        CTR_CONFIG => {
                            let b = r.blob(d)?;
                            spec = spec_of_any(b.bytes()).and_then(|range| b.slice(range));
                        }
                        _ => {}
                    }
                }
                let checkpoint = checkpoint
                    .ok_or_else(|| r.invalid("containerd's checkpoint index has no CRIU images"))?;
                (image, None, checkpoint, spec)
            }
            Chosen::Docker {
                image,
                layers,
                config,
            } => {
                let (i, l) = layers
                    .iter()
                    .enumerate()
                    .next_back()
                    .ok_or_else(|| r.invalid("manifest.json: the image lists no layer"))?;
                let checkpoint = docker_layer(&r, i, l)?;
                let name = super::error::show(l.as_bytes());
                (
                    image,
                    config.as_ref().and_then(created_of),
                    (name, checkpoint),
                    None,
                )
            }
        };
    Ok(Glance {
        image,
        created,
        checkpoint,
        checkpoint_name,
        spec,
        warnings: r.warnings,
    })
}

fn choose<'c>(
    cands: &'c [Candidate],
    want: Option<&str>,
    label: &Path,
) -> Result<&'c Candidate, Error> {
    let list = || {
        cands
            .iter()
            .map(Candidate::label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match want {
        Some(w) => cands
            .iter()
            .find(|c| {
                c.names().iter().any(|n| {
                    n == w
                        || (w.len() >= 12
                            && n.strip_prefix("sha256:")
                                .unwrap_or(n)
                                .starts_with(w.trim_start_matches("sha256:")))
                })
            })
            .ok_or_else(|| {
                Error::invalid(
                    label,
                    format!("no image {w:?} here; the images are: {}", list()),
                )
            }),
        None => match cands {
            [] => Err(Error::NotCheckpoint {
                path: label.to_path_buf(),
                why: "an image layout or archive that lists no image".into(),
            }),
            [one] => Ok(one),
            _ => Err(Error::invalid(
                label,
                format!(
                    "{} images here: choose one with --image REF ({})",
                    cands.len(),
                    list()
                ),
            )),
        },
    }
}

/// A layer (or containerd's CRIU tar) as a plain tar: in place when plain; decompressed into the
/// cache directory (an unnamed file) otherwise, or, for a metadata-only open (`show`, `inspect`
/// without memory), read as a stream with the memory pages withheld and nothing written.
fn layer_tar(name: &str, b: &Blob, opts: &OpenOptions) -> Result<Blob, String> {
    use super::inner::{InnerCompression, compression_of};
    let kind = match compression_of(b.bytes()) {
        InnerCompression::None => return Ok(b.clone()),
        InnerCompression::Gzip => super::InputKind::TarGz,
        InnerCompression::Zstd => super::InputKind::TarZst,
    };
    if opts.metadata_only {
        super::stream::metadata_tar_of(Path::new(name), b.bytes(), b.len() as u64, kind, false)
            .map_err(|e| e.to_string())
    } else {
        super::inner::plain_tar(name, b, opts)
    }
}

/// True when the plain tar `tar` holds a checkpoint (`checkpoint/` or CRIU images).
fn holds_checkpoint(tar: &Blob, label: &Path) -> bool {
    TarIndex::build(label, tar).is_ok_and(|idx| super::layout::holds_images(&idx))
}

/// The layer of `layers` that holds the checkpoint, as a plain tar (the last such layer: an
/// image made by `--create-image` has one).
fn checkpoint_layer(r: &mut Reader, layers: &[Desc], opts: &OpenOptions) -> Result<Blob, Error> {
    if layers.is_empty() {
        return Err(r.invalid("the image's manifest lists no layer"));
    }
    let mut found = None;
    for d in layers {
        let (path, b) = r.blob_unverified(d)?;
        let name = format!("layer {}", d.digest);
        // The layer is hashed on another core while it is decompressed: checking its name costs
        // no time on the way to the mount. A layer that matches its name is kept in the cache
        // under it, for the next open.
        let hashing = {
            let b = b.clone();
            std::thread::spawn(move || super::cache::hex(&Sha256::digest(b.bytes())))
        };
        let hex = d.digest.trim_start_matches("sha256:").to_string();
        let mut got = None;
        let tar = if opts.metadata_only {
            let t = layer_tar(&name, &b, opts);
            got = hashing.join().ok();
            t
        } else {
            super::inner::cached_layer(&name, &hex, &b, opts, || {
                let h = hashing.join().unwrap_or_default();
                let ok = h == hex;
                got = Some(h);
                ok
            })
        }
        .map_err(|e| r.invalid(e));
        let got = got.unwrap_or_default();
        r.check_hash(&path, &got);
        let tar = tar?;
        if holds_checkpoint(&tar, r.label) {
            found = Some(tar);
        }
    }
    found.ok_or_else(|| {
        r.invalid("no layer of the image holds a checkpoint (checkpoint/ or CRIU images)")
    })
}

/// What containerd's checkpoint index lists: the CRIU images as a plain tar, the files standing
/// in for role names (the rw layer as the rootfs diff, the runtime spec), the other blobs.
fn containerd(
    r: &mut Reader,
    blobs: &[Desc],
    opts: &OpenOptions,
) -> Result<(Blob, Roles, BTreeMap<String, Blob>), Error> {
    let mut roles = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let mut tar = None;
    for d in blobs {
        let b = r.blob(d)?;
        let path = format!("blobs/sha256/{}", d.digest.trim_start_matches("sha256:"));
        match d.media.as_str() {
            CTR_CRIU_TAR => {
                tar = Some(
                    layer_tar("the CRIU images", &b, opts)
                        .map_err(|e| r.invalid(e))?,
                );
            }
            m if m.starts_with("application/vnd.oci.image.layer.") => {
                roles.insert("rootfs-diff.tar", b.clone());
                extra.insert(path, b);
            }
            CTR_CONFIG => {
                match spec_of_any(b.bytes()) {
                    Some(r0) => {
                        if let Some(s) = b.slice(r0) {
                            roles.insert("spec.dump", s);
                        }
                    }
                    None => r.warnings.push(Kind::MissingMetadata, format!(
                        "{path}: containerd's container record holds no runtime spec: names, environment and mounts are unknown"
                    )),
                }
                extra.insert(path, b);
            }
            CTR_RUNTIME_OPTIONS | CTR_OPTIONS => {
                extra.insert(path, b);
            }
            other => r.warnings.push(Kind::UnexpectedMediaType, format!(
                "{path}: media type {other} is not part of containerd's checkpoint as ckptfs knows it: left out"
            )),
        }
    }
    let tar = tar.ok_or_else(|| r.invalid("containerd's checkpoint index has no CRIU images"))?;
    Ok((tar, roles, extra))
}

/// Reads a protobuf varint at `*pos`.
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The byte range of the runtime spec's JSON inside containerd's checkpoint config: a
/// `google.protobuf.Any` (1: type_url, 2: value) whose type is the OCI runtime spec.
fn spec_of_any(b: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut pos = 0;
    let mut type_url = None;
    let mut value = None;
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        match key & 7 {
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|&e| e <= b.len())?;
                match key >> 3 {
                    1 => type_url = Some(&b[pos..end]),
                    2 => value = Some(pos..end),
                    _ => {}
                }
                pos = end;
            }
            0 => {
                varint(b, &mut pos)?;
            }
            _ => return None,
        }
    }
    let t = type_url?;
    t.ends_with(b"runtime-spec/1/Spec").then_some(())?;
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_inside_containerds_any() {
        let json = br#"{"ociVersion":"1.0.2"}"#;
        let url = b"types.containerd.io/opencontainers/runtime-spec/1/Spec";
        let mut b = vec![0x0a, url.len() as u8];
        b.extend_from_slice(url);
        b.push(0x12);
        b.push(json.len() as u8);
        b.extend_from_slice(json);
        let r = spec_of_any(&b).unwrap();
        assert_eq!(&b[r], json);
        // Another type, a truncated value, garbage: none.
        let mut other = b.clone();
        other[2] = b'x';
        other[2 + url.len() - 1] = b'x';
        assert!(spec_of_any(&other).is_none());
        assert!(spec_of_any(&b[..b.len() - 1]).is_none());
        assert!(spec_of_any(&[0xff; 12]).is_none());
    }
}
