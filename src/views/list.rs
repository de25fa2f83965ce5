//! `ckptfs list [DIR...]`: the checkpoints in the kubelet's checkpoint directory (default
//! `/var/lib/kubelet/checkpoints`) or in the given directories.
//!
//! ```text
//! Listing checkpoints in path: /var/lib/kubelet/checkpoints
//! NAMESPACE   POD    CONTAINER   ENGINE   TIME CHECKPOINTED      CHECKPOINT NAME
//! ---------   ---    ---------   ------   -----------------      ---------------
//! default     web    nginx       CRI-O    2026-11-28T14:47:37Z   checkpoint-web_default-nginx-2026-11-28T14:47:37Z.tar
//! ```
//!
//! Every entry of the directory is looked at, whatever its name (the kubelet's
//! `checkpoint-*.tar`, a Podman export, an extracted archive, a plain CRIU image directory), in
//! name order; what is not a checkpoint is skipped with one line on stderr saying why.
//! Only `config.dump` and `spec.dump` are read: a `.tar` is scanned header by header (seeking
//! past the other entries), a `.tar.gz` / `.tar.zst` is decompressed as a stream only until both
//! are found, nothing is written anywhere. Namespace, pod and container come from the metadata
//! (CRI-O / containerd annotations); what the metadata lacks is taken from the kubelet's file
//! name `checkpoint-<pod>_<namespace>-<container>-<time>.tar`. TIME CHECKPOINTED is
//! `config.dump`'s `checkpointedTime` (else the name's time) in RFC 3339 without fractional
//! seconds (checkpointctl: RFC 822, `28 Nov 26 14:47 UTC`, which drops the seconds and the
//! century). An entry that cannot be read is reported on stderr and skipped. A directory given
//! on the command line that does not exist is an error; the default one missing just means no
//! checkpoints.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Error, write_out};
use crate::format::table;
use crate::format::time::short_time;
use crate::model::metadata::Metadata;

/// The kubelet's checkpoint directory.
pub const DEFAULT_DIR: &str = "/var/lib/kubelet/checkpoints";

/// Largest config.dump / spec.dump read (a real one is tens of KiB).
const MAX_METADATA: u64 = 16 << 20;

/// What is known about one listed checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    pub engine: Option<String>,
    pub time: Option<String>,
    pub name: String,
}

/// Writes the `list` output for `dirs` (none: the kubelet's directory) to `out`.
pub fn run(dirs: &[PathBuf], out: &mut dyn Write) -> Result<(), Error> {
    let explicit = !dirs.is_empty();
    let dirs: Vec<PathBuf> = if explicit {
        dirs.to_vec()
    } else {
        vec![PathBuf::from(DEFAULT_DIR)]
    };
    let mut rows = Vec::new();
    let mut s = String::new();
    for dir in &dirs {
        let mut names: Vec<(String, PathBuf)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect(),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::input(format!("{}: cannot list: {e}", dir.display())));
            }
        };
        if names.is_empty() {
            continue;
        }
        names.sort();
        s.push_str(&format!("Listing checkpoints in path: {}\n", dir.display()));
        for (_, path) in names {
            match describe(&path) {
                Ok(l) => rows.push(row(&l)),
                Err(e) => eprintln!(
                    "ckptfs: warning: {}: skipped, not a checkpoint: {e}",
                    path.display()
                ),
            }
        }
    }
    if rows.is_empty() && s.is_empty() {
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return write_out(
            out,
            format!("No checkpoints found in [{}]\n", shown.join(" ")).as_bytes(),
        );
    }
    s.push_str(&table::render(
        &[
            "Namespace",
            "Pod",
            "Container",
            "Engine",
            "Time Checkpointed",
            "Checkpoint Name",
        ],
        &rows,
    ));
    write_out(out, s.as_bytes())
}

fn row(l: &Listed) -> Vec<String> {
    let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    vec![
        d(&l.namespace),
        d(&l.pod),
        d(&l.container),
        d(&l.engine),
        d(&l.time),
        l.name.clone(),
    ]
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

/// What `path` (an archive or an extracted directory) says about itself.
pub fn describe(path: &Path) -> Result<Listed, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (config, spec) = read_metadata(path)?;
    if config.is_none() && spec.is_none() {
        // A plain CRIU image directory: listed, with nothing known about a container.
        if path.join("pstree.img").is_file() && path.join("inventory.img").is_file() {
            return Ok(Listed {
                name,
                ..Listed::default()
            });
        }
        return Err("no config.dump or spec.dump: not a container checkpoint".into());
    }
    let mut warnings = Vec::new();
    let m = Metadata::from_container_files(config.as_deref(), spec.as_deref(), &mut warnings);
    for w in warnings {
        eprintln!("ckptfs: warning: {}: {w}", path.display());
    }
    let parsed = parse_kubelet_name(&name, m.pod_namespace.as_deref());
    let from_name = |f: fn(&KubeletName) -> &String| parsed.as_ref().map(|p| f(p).clone());
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
        time: m
            .checkpointed
            .as_deref()
            .or(parsed.as_ref().map(|p| p.time.as_str()))
            .map(short_time),
        name,
    })
}

type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// `config.dump` and `spec.dump` of an archive or directory, reading as little as possible.
fn read_metadata(path: &Path) -> Result<Pair, String> {
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
