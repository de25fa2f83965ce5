//! What a checkpoint says about itself before it is opened: namespace, pod, container, engine,
//! checkpoint time and the container metadata, from `config.dump` / `spec.dump`
//! ([`crate::source::peek`]) and the kubelet's file name
//! `checkpoint-<pod>_<namespace>-<container>-<time>.tar`. Used by `ckptfs list` and by a mount of
//! a directory of checkpoints (to name each one without opening it).

use std::path::Path;

use crate::format::time::short_time;
use crate::model::metadata::Metadata;
use crate::source::peek;
use crate::warning::Warnings;

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
    let p = peek::container_metadata(path)?;
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
    let parsed = parse_kubelet_name(&name, m.pod_namespace.as_deref());
    let from_name = |f: fn(&KubeletName) -> &String| parsed.as_ref().map(|p| f(p).clone());
    let (time, time_from) = m
        .checkpointed
        .as_deref()
        .map(|t| (short_time(t), FROM_CONFIG))
        .or(parsed.as_ref().map(|p| (short_time(&p.time), FROM_NAME)))
        .or_else(|| images_time(p.written))
        .unzip();
    Ok(Listed {
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
        name,
        meta: m,
        warnings,
    })
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
}
