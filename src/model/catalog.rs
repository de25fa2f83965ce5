//! What a checkpoint says about itself before it is opened: namespace, pod, container, engine,
//! checkpoint time and the container metadata, from `config.dump` / `spec.dump`
//! ([`crate::source::peek`]; for a checkpoint image, also its annotations and config,
//! [`crate::source::peek::image`]) and the kubelet's file name
//! `checkpoint-<pod>_<namespace>-<container>-<time>.tar`. Used by `ckptfs list` and by a mount of
//! a directory of checkpoints (to name each one without opening it).

use std::path::Path;

use crate::format::time::short_time;
use crate::model::metadata::Metadata;
use crate::source::peek;
use crate::warning::{Kind, Warnings};

/// What is known about one checkpoint without opening it.
#[derive(Clone, Debug, Default)]
pub struct Listed {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub engine: Option<String>,
    /// When it was checkpointed, RFC 3339 without fractional seconds.
    pub time: Option<String>,
    /// Where `time` is recorded: [`FROM_CONFIG`], [`FROM_NAME`] or [`FROM_IMAGES`].
    pub time_from: Option<&'static str>,
    /// For a checkpoint image: when the image was made (its config's `created`, RFC 3339
    /// without fractional seconds), which `list` shows, marked, when `time` is unknown.
    pub image_created: Option<String>,
    /// The file (or directory) name.
    pub name: String,
    /// Everything `config.dump` / `spec.dump` said (empty for a plain CRIU image directory).
    pub meta: Metadata,
    /// What could not be understood in the metadata, one line each.
    pub warnings: Warnings,
}

impl Listed {
    /// `<namespace>_<pod>_<container>_<time>` when all four are known.
    pub fn kube_name(&self) -> Option<String> {
        match (&self.namespace, &self.pod, &self.container, &self.time) {
            (Some(n), Some(p), Some(c), Some(t)) => Some(format!("{n}_{p}_{c}_{t}")),
            _ => None,
        }
    }
}

/// The parts of a kubelet checkpoint name `checkpoint-<pod>_<namespace>-<container>-<time>.tar`.
/// `namespace` (when known from the metadata) resolves the `<namespace>-<container>` ambiguity;
/// without it the namespace is taken to end at the first `-`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeletName {
    pub pod: String,
    pub namespace: String,
    pub container: String,
    pub time: String,
}

/// Parses a kubelet checkpoint file name.
pub fn parse_kubelet_name(name: &str, namespace: Option<&str>) -> Option<KubeletName> {
    let rest = name.strip_prefix("checkpoint-")?;
    let rest = [".tar.gz", ".tar.zst", ".tgz", ".tar"]
        .iter()
        .find_map(|s| rest.strip_suffix(s))
        .unwrap_or(rest);
    let (pod, rest) = rest.split_once('_')?;
    // The time is RFC 3339 at the end: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM).
    let re = regex::Regex::new(
        r"-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))$",
    )
    .ok()?;
    let caps = re.captures(rest)?;
    let time = caps.get(1)?.as_str().to_string();
    let ns_ctr = &rest[..caps.get(0)?.start()];
    let (namespace, container) = match namespace {
        Some(ns) if ns_ctr.starts_with(&format!("{ns}-")) => {
            (ns.to_string(), ns_ctr[ns.len() + 1..].to_string())
        }
        _ => {
            let (n, c) = ns_ctr.split_once('-')?;
            (n.to_string(), c.to_string())
        }
    };
    if pod.is_empty() || namespace.is_empty() || container.is_empty() {
        return None;
    }
    Some(KubeletName {
        pod: pod.to_string(),
        namespace,
        container,
        time,
    })
}

/// `time` is `config.dump`'s `checkpointedTime`.
pub const FROM_CONFIG: &str = "config.dump checkpointedTime";
/// `time` is the one in the kubelet's file name.
pub const FROM_NAME: &str = "checkpoint name";
/// `time` is when CRIU wrote the images (`inventory.img`'s modification time as the archive or
/// directory records it): the metadata records no time.
pub const FROM_IMAGES: &str = "images written";
/// The time shown is when the checkpoint image was made (its config's `created`): nothing
/// nearer to the checkpoint was found without decompressing its layer.
pub const FROM_IMAGE_CREATED: &str = "image created";

fn images_time(t: Option<std::time::SystemTime>) -> Option<(String, &'static str)> {
    let secs = t?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some((
        crate::format::time::rfc3339(i64::try_from(secs).ok()?),
        FROM_IMAGES,
    ))
}

/// What `path` (an archive or an extracted directory) says about itself (`Err`: why it is not
/// a checkpoint, or cannot be read).
pub fn describe(path: &Path) -> Result<Listed, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if crate::source::sniff(path).is_none() {
        return Err("neither a CRIU image directory nor a tar, tar.gz or tar.zst archive".into());
    }
    if is_pre_dump_dir(path) {
        return Err(
            "a CRIU pre-dump (memory pages only, no process tree): its pages are read \
                    through the dump whose `parent` link leads to it"
                .into(),
        );
    }
    let p = peek::container_metadata(path)?;
    if p.config.is_none() && p.spec.is_none() && p.images {
        // A checkpoint image: its annotations and config, and what its layer holds near its
        // start.
        match peek::image(path) {
            Ok(Some(img)) => return Ok(from_image(name, img)),
            Ok(None) => {}
            Err(e) => {
                let mut warnings = Warnings::new();
                warnings.push(
                    Kind::BadMetadata,
                    format!("the image's metadata cannot be read: {e}"),
                );
                return Ok(Listed {
                    name,
                    warnings,
                    ..Listed::default()
                });
            }
        }
    }
    let (config, spec) = (p.config, p.spec);
    if config.is_none() && spec.is_none() {
        // A plain CRIU image directory or archive: listed, with nothing known about a container;
        // likewise a compressed archive whose metadata was not found early (opening tells).
        if p.images || !p.complete {
            let (time, time_from) = images_time(p.written).unzip();
            return Ok(Listed {
                name,
                time,
                time_from,
                ..Listed::default()
            });
        }
        return Err("no config.dump, spec.dump or CRIU images: not a checkpoint".into());
    }
    let mut warnings = Warnings::new();
    let m = Metadata::from_container_files(config.as_deref(), spec.as_deref(), &mut warnings);
    Ok(listed(name, m, p.written, warnings))
}

/// An image directory of `criu pre-dump` (no `pstree.img`, a `pagemap-<pid>.img`), the rule
/// of [`super::predump::is_pre_dump`] read off the directory.
fn is_pre_dump_dir(path: &Path) -> bool {
    if !path.is_dir() || path.join("pstree.img").exists() {
        return false;
    }
    std::fs::read_dir(path).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| super::predump::pagemap_pid(&e.file_name().to_string_lossy()).is_some())
    })
}

/// What a checkpoint image says: its layer's `config.dump` / `spec.dump` as far as they were
/// read, then its annotations where they are silent (as an opened image's metadata is made).
fn from_image(name: String, img: peek::ImagePeek) -> Listed {
    let mut warnings = img.warnings;
    let mut m = Metadata::from_container_files(
        img.layer.config.as_deref(),
        img.layer.spec.as_deref(),
        &mut warnings,
    );
    m.set_image(&img.image);
    let mut l = listed(name, m, img.layer.written, warnings);
    l.image_created = img
        .created
        .as_deref()
        .filter(|t| crate::format::time::parse_rfc3339(t).is_some())
        .map(short_time);
    l
}

/// The row of a checkpoint named `name` whose metadata is `m`, its images written at `written`.
fn listed(
    name: String,
    m: Metadata,
    written: Option<std::time::SystemTime>,
    warnings: Warnings,
) -> Listed {
    let parsed = parse_kubelet_name(&name, m.pod_namespace.as_deref());
    let from_name = |f: fn(&KubeletName) -> &String| parsed.as_ref().map(|p| f(p).clone());
    let (time, time_from) = m
        .checkpointed
        .as_deref()
        .map(|t| (short_time(t), FROM_CONFIG))
        .or(parsed.as_ref().map(|p| (short_time(&p.time), FROM_NAME)))
        .or_else(|| images_time(written))
        .unzip();
    Listed {
        namespace: m
            .pod_namespace
            .clone()
            .or_else(|| from_name(|p| &p.namespace)),
        pod: m.pod_name.clone().or_else(|| from_name(|p| &p.pod)),
        container: m
            .container_name
            .clone()
            .or_else(|| from_name(|p| &p.container)),
        engine: m.engine.clone(),
        time,
        time_from,
        image_created: None,
        name,
        meta: m,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_names() {
        let k = parse_kubelet_name(
            "checkpoint-web-7d9f_prod-ns-nginx-side-2026-11-28T14:47:37Z.tar",
            Some("prod-ns"),
        )
        .unwrap();
        assert_eq!(k.pod, "web-7d9f");
        assert_eq!(k.namespace, "prod-ns");
        assert_eq!(k.container, "nginx-side");
        assert_eq!(k.time, "2026-11-28T14:47:37Z");
        // Without metadata, the namespace ends at the first '-'.
        let k = parse_kubelet_name("checkpoint-p_default-c-2026-01-02T03:04:05+01:00.tar", None)
            .unwrap();
        assert_eq!(
            (k.namespace.as_str(), k.container.as_str()),
            ("default", "c")
        );
        assert_eq!(k.time, "2026-01-02T03:04:05+01:00");
        assert!(parse_kubelet_name("checkpoint-nopod-2026-01-02T03:04:05Z.tar", None).is_none());
        assert!(parse_kubelet_name("other.tar", None).is_none());
        assert!(parse_kubelet_name("checkpoint-p_ns-c-yesterday.tar", None).is_none());
    }

    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    use std::io::Write;

    /// A gzip layer holding a checkpoint archive's files: `checkpoint/inventory.img` written at
    /// `written` (seconds), then `config.dump` and `spec.dump` (as Podman orders them; with
    /// `config_first`, the metadata first).
    fn layer(config: &str, spec: &str, written: u64, config_first: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut entries = vec![
            ("checkpoint/inventory.img", b"inv".as_slice(), written),
            ("config.dump", config.as_bytes(), 1),
            ("spec.dump", spec.as_bytes(), 1),
        ];
        if config_first {
            entries.rotate_left(1);
        }
        for (name, data, mtime) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(mtime);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    /// An OCI layout directory at `dir` of one image: `layer`, a config with `created`, a
    /// manifest with `annotations`; `edit` changes the index, manifest and config before they
    /// are written.
    fn layout(
        dir: &Path,
        layer: &[u8],
        annotations: Value,
        edit: impl Fn(&mut Value, &mut Value, &mut Value),
    ) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |b: &[u8]| {
            let h: String = Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect();
            std::fs::write(blobs.join(&h), b).unwrap();
            (format!("sha256:{h}"), b.len())
        };
        let (ld, ll) = put(layer);
        let mut config =
            json!({"created": "2026-12-05T18:26:53.149441157Z", "architecture": "amd64"});
        let mut index = json!({"schemaVersion": 2, "manifests": []});
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ll}],
            "annotations": annotations,
        });
        edit(&mut index, &mut manifest, &mut config);
        let (cd, cl) = put(&serde_json::to_vec(&config).unwrap());
        if manifest.is_object() && manifest.get("config").is_none() {
            manifest["config"] = json!({"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl});
        }
        let mb = match manifest.as_str() {
            Some(raw) => raw.as_bytes().to_vec(),
            None => serde_json::to_vec(&manifest).unwrap(),
        };
        let (md, ml) = put(&mb);
        if index["manifests"].as_array().is_some_and(|a| a.is_empty()) {
            index["manifests"] = json!([{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": md, "size": ml,
                "annotations": {"org.opencontainers.image.ref.name": "ck:1"}
            }]);
        }
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    }

    fn podman_annotations() -> Value {
        json!({
            "io.podman.annotations.checkpoint.name": "from-annotation",
            "io.podman.annotations.checkpoint.rootfsImageName": "localhost/app:1",
        })
    }

    const PODMAN_SPEC: &str = r#"{"annotations":{"io.container.manager":"libpod"}}"#;

    /// A checkpoint image is listed from its annotations, config and the start of its layer:
    /// Podman's annotations name the container, the layer's inventory.img gives the images'
    /// time; checkpointctl's `org.criu.checkpoint.*` annotations give the pod and namespace
    /// where spec.dump is silent, config.dump its checkpointedTime.
    #[test]
    fn images_described_from_annotations_and_layer() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("podman");
        let l = layer(
            r#"{"name":"from-config"}"#,
            PODMAN_SPEC,
            1_800_000_000,
            false,
        );
        layout(&p, &l, podman_annotations(), |_, _, _| {});
        let d = describe(&p).unwrap();
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        // Podman's layer is read only up to inventory.img: config.dump, after the images, is
        // not reached; the annotation names the container.
        assert_eq!(d.container.as_deref(), Some("from-annotation"));
        assert_eq!(d.engine.as_deref(), Some("Podman"));
        assert_eq!(d.time.as_deref(), Some("2027-01-15T08:00:00Z"));
        assert_eq!(d.time_from, Some(FROM_IMAGES));
        assert_eq!(d.image_created.as_deref(), Some("2026-12-05T18:26:53Z"));
        assert_eq!(d.meta.image.as_deref(), Some("localhost/app:1"));

        let c = t.path().join("crio");
        let l = layer(
            r#"{"name":"k8s_x","checkpointedTime":"2026-11-28T14:47:37.5Z"}"#,
            r#"{"annotations":{"io.container.manager":"cri-o"}}"#,
            1_800_000_000,
            false,
        );
        let ann = json!({
            "org.criu.checkpoint.container.name": "web",
            "org.criu.checkpoint.engine.name": "cri-o",
            "org.criu.checkpoint.pod.name": "web-7d9f",
            "org.criu.checkpoint.pod.namespace": "prod",
        });
        layout(&c, &l, ann, |_, _, _| {});
        let d = describe(&c).unwrap();
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        assert_eq!(d.engine.as_deref(), Some("CRI-O"));
        assert_eq!(d.pod.as_deref(), Some("web-7d9f"));
        assert_eq!(d.namespace.as_deref(), Some("prod"));
        assert_eq!(d.time.as_deref(), Some("2026-11-28T14:47:37Z"));
        assert_eq!(d.time_from, Some(FROM_CONFIG));
    }

    /// Hostile or broken image metadata: the entry is listed with what could be read, one
    /// warning line saying why the rest is not; never a panic, never a value the image does
    /// not hold.
    #[test]
    fn hostile_image_metadata_is_one_line() {
        let t = tempfile::tempdir().unwrap();
        let good = layer(r#"{"name":"c"}"#, PODMAN_SPEC, 1_800_000_000, false);
        type Edit = Box<dyn Fn(&mut Value, &mut Value, &mut Value)>;
        // (case, layer, edit, what the warning says, whether the annotations still name the
        // container)
        let cases: Vec<(&str, Vec<u8>, Edit, &str, bool)> = vec![
            (
                "manifest-not-json",
                good.clone(),
                Box::new(|_, m, _| *m = Value::from("{\"layers\": [")),
                "not valid JSON",
                false,
            ),
            (
                "digest-is-a-path",
                good.clone(),
                Box::new(|_, m, _| {
                    m["layers"][0]["digest"] = Value::from("sha256:../../../../etc/passwd")
                }),
                "not sha256:<64 hex digits>",
                false,
            ),
            (
                "oversized-layer",
                good.clone(),
                Box::new(|_, m, _| m["layers"][0]["size"] = Value::from(1u64 << 40)),
                "its descriptor says",
                false,
            ),
            (
                "missing-layer",
                good.clone(),
                Box::new(|_, m, _| {
                    m["layers"][0]["digest"] = Value::from(format!("sha256:{}", "a".repeat(64)))
                }),
                "is missing from the image",
                false,
            ),
            (
                "no-layer",
                good.clone(),
                Box::new(|_, m, _| m["layers"] = json!([])),
                "lists no layer",
                false,
            ),
            (
                "two-images",
                good.clone(),
                Box::new(|i, _, _| {
                    let d = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": format!("sha256:{}", "b".repeat(64)), "size": 2});
                    i["manifests"] = json!([d.clone(), d]);
                }),
                "2 images here",
                false,
            ),
            (
                "layer-not-gzip-tar",
                [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef].to_vec(),
                Box::new(|_, _, _| {}),
                "the checkpoint's own metadata is not read",
                true,
            ),
            (
                "config-dump-not-json",
                layer("{\"name\":", PODMAN_SPEC, 1_800_000_000, true),
                Box::new(|_, _, _| {}),
                "config.dump: not valid JSON",
                true,
            ),
        ];
        for (name, l, edit, want, named) in cases {
            let p = t.path().join(name);
            layout(&p, &l, podman_annotations(), edit);
            let d = describe(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.warnings.len(), 1, "{name}: {:?}", d.warnings);
            let w = &d.warnings[0].message;
            assert!(w.contains(want) && !w.contains('\n'), "{name}: {w}");
            assert!(
                !w.contains(&p.display().to_string()),
                "{name}: path twice: {w}"
            );
            let container = named.then_some("from-annotation");
            assert_eq!(d.container.as_deref(), container, "{name}");
            if !named {
                assert!(d.engine.is_none() && d.time.is_none(), "{name}: {d:?}");
            }
        }
        // A config whose `created` is not a time: not shown.
        let p = t.path().join("created-not-a-time");
        layout(&p, &good, podman_annotations(), |_, _, c| {
            c["created"] = Value::from("yesterday\u{1b}[2J")
        });
        let d = describe(&p).unwrap();
        assert!(d.image_created.is_none() && d.warnings.is_empty(), "{d:?}");
    }
}
