//! `checkpoint/info.json`: what is known about the checkpoint, as pretty JSON with a trailing
//! newline. Every key is always present (`null` when unknown), in this order:
//!
//! ```json
//! {
//!   "engine": "Podman", "container_name": "...", "container_id": "...", "image": "...",
//!   "image_id": "...", "runtime": "runc", "created": "...", "checkpointed": "...",
//!   "images_written": "2026-11-28T14:47:41Z",
//!   (when CRIU wrote inventory.img, as the archive's header or the directory records it)
//!   "pod": null, "namespace": null,
//!   "network": [ { "network": "podman", "name": "eth0", "mac": "d6:cf:7b:43:b8:3d",
//!                  "addresses": [ { "address": "10.88.0.13/16", "gateway": "10.88.0.1" } ] } ],
//!   (network: Podman's network.status, or CRI-O's IP annotations; `[]` when unknown)
//!   "criu_image_version": 2, "criu_version": "4.2 (gitid 0)", "kernel": "Linux 6.18.44 ... x86_64",
//!   "arch": "x86_64",  (the dump's CPU: x86_64, aarch64, riscv64, ...; from the core images)
//!   "dump_uptime_us": null,
//!   "inventory": { "lsm": "none", "network_lock": "iptables", "tcp_close": false,
//!                  "pre_dump_mode": null, "criu_run_id": "...", "root_cg_set": 1, "incremental": false,
//!                  "plugins": [] },
//!   (plugins: CRIU 4.1+ plugins whose state is in the dump, e.g. "amdgpu_plugin", "cuda_plugin")
//!   "dump_stats": { "freezing_time": 601, ... },
//!   "source": { "path": "/abs/checkpoint.tar.gz", "kind": "tar.gz", "layout": "container-archive",
//!               "size": 123, "sha256": "...", "cache_path": "/home/u/.cache/ckptfs/...",
//!               "manifest": null },
//!   (manifest, for a directory: [ { "path": "checkpoint/pstree.img", "size": 12, "sha256": "..." } ])
//!   "checkpoint_size": { "images_bytes": 252279, "pages_bytes": 204800, "root_fs_diff_bytes": 2048 },
//!   "processes": 3, "threads": 3,
//!   "memory": { "dumped_bytes": 204800 },
//!   "warnings": []
//! }
//! ```
//!
//! `source.kind` is `image-dir`, `tar`, `tar.gz` or `tar.zst`; `source.layout` `image-dir` or
//! `container-archive`; `sha256` is the input file's (for a directory: the SHA-256 of
//! `checkpoint/manifest.sha256`, whose lines are every file's); `manifest` lists the input files
//! and their SHA-256 as `checkpoint/manifest.sha256` does (null for an archive). Both wait until the files are hashed. Times are as the
//! metadata gives them. `memory.dumped_bytes` is the checkpoint's dumped memory, each page once
//! ([`Checkpoint::dumped_bytes`]: shared memory counts once, however many processes map it). `warnings` are the model's and the source's, each once.

use serde::Serialize;

use crate::model::Checkpoint;
use crate::model::metadata::{DumpStats, Inventory};
use crate::model::network::NetInterface;
use crate::render::summary::checkpoint_sizes;
use crate::source::{InputKind, Layout};
use crate::warning::Warning;

#[derive(Serialize)]
struct Info<'a> {
    engine: Option<&'a str>,
    /// The container image the checkpoint came wrapped in, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint_image: Option<&'a crate::source::oci::OciImage>,
    container_name: Option<&'a str>,
    container_id: Option<&'a str>,
    image: Option<&'a str>,
    image_id: Option<&'a str>,
    runtime: Option<&'a str>,
    created: Option<&'a str>,
    checkpointed: Option<&'a str>,
    images_written: Option<String>,
    pod: Option<&'a str>,
    namespace: Option<&'a str>,
    network: &'a [NetInterface],
    criu_image_version: Option<u32>,
    criu_version: Option<&'a str>,
    kernel: Option<&'a str>,
    arch: Option<&'a str>,
    dump_uptime_us: Option<u64>,
    inventory: Option<&'a Inventory>,
    dump_stats: Option<&'a DumpStats>,
    source: SourceInfo,
    checkpoint_size: Sizes,
    processes: usize,
    threads: usize,
    memory: MemoryInfo,
    warnings: Vec<&'a Warning>,
}

#[derive(Serialize)]
struct SourceInfo {
    path: String,
    kind: &'static str,
    layout: &'static str,
    size: u64,
    sha256: Option<String>,
    cache_path: Option<String>,
    manifest: Option<Vec<crate::source::ManifestEntry>>,
}

#[derive(Serialize)]
struct Sizes {
    images_bytes: u64,
    pages_bytes: u64,
    root_fs_diff_bytes: Option<u64>,
}

#[derive(Serialize)]
struct MemoryInfo {
    dumped_bytes: u64,
}

fn kind_name(k: InputKind) -> &'static str {
    match k {
        InputKind::ImageDir => "image-dir",
        InputKind::Tar => "tar",
        InputKind::TarGz => "tar.gz",
        InputKind::TarZst => "tar.zst",
    }
}

fn layout_name(l: Layout) -> &'static str {
    match l {
        Layout::ImageDir => "image-dir",
        Layout::ContainerArchive => "container-archive",
    }
}

/// The text of `checkpoint/info.json`.
pub fn info_json(ck: &Checkpoint) -> Vec<u8> {
    let m = &ck.meta;
    let src = &ck.source;
    let sizes = checkpoint_sizes(ck);
    let mut seen = std::collections::BTreeSet::new();
    let warnings: Vec<&Warning> = ck
        .warnings
        .iter()
        .chain(&src.warnings)
        .filter(|w| seen.insert(w.message.as_str()))
        .collect();
    let info = Info {
        engine: m.engine.as_deref(),
        checkpoint_image: m.image_wrapper.as_ref(),
        container_name: m.container_name.as_deref(),
        container_id: m.container_id.as_deref(),
        image: m.image.as_deref(),
        image_id: m.image_id.as_deref(),
        runtime: m.runtime.as_deref(),
        created: m.created.as_deref(),
        checkpointed: m.checkpointed.as_deref(),
        images_written: src
            .images
            .written
            .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .map(crate::format::time::rfc3339),
        pod: m.pod_name.as_deref(),
        namespace: m.pod_namespace.as_deref(),
        network: &m.network,
        criu_image_version: m.criu_image_version,
        criu_version: m.criu_version.as_deref(),
        kernel: m.dump_kernel.as_deref(),
        arch: m.arch.as_deref(),
        dump_uptime_us: m.dump_uptime_us,
        inventory: m.inventory.as_ref(),
        dump_stats: m.dump_stats.as_ref(),
        source: SourceInfo {
            path: src.input.path.to_string_lossy().into_owned(),
            kind: kind_name(src.input.kind),
            layout: layout_name(src.layout),
            size: src.input.size,
            sha256: src.input_sha256(),
            cache_path: src
                .input
                .cache_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            manifest: src.manifest().map(|m| m.entries.clone()),
        },
        checkpoint_size: Sizes {
            images_bytes: sizes.images,
            pages_bytes: sizes.pages,
            root_fs_diff_bytes: sizes.root_fs_diff,
        },
        processes: ck.processes.len(),
        threads: ck.processes.iter().map(|p| p.threads.len()).sum(),
        memory: MemoryInfo {
            dumped_bytes: ck.dumped_bytes(),
        },
        warnings,
    };
    let mut out = serde_json::to_vec_pretty(&info)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()).into_bytes());
    out.push(b'\n');
    out
}

/// The text of `checkpoint/manifest.sha256`: the SHA-256 of every input file in `sha256sum -c`
/// format (see [`crate::source::Manifest`]); empty when it is not known.
pub fn manifest_sha256(ck: &Checkpoint) -> Vec<u8> {
    ck.source
        .manifest()
        .map(|m| m.text().into_bytes())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;
    use serde_json::Value;

    #[test]
    fn busybox_info() {
        let ck = busybox_checkpoint();
        let b = info_json(&ck);
        assert!(b.ends_with(b"}\n"));
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["engine"], "Podman");
        assert_eq!(v["container_name"], "fx-busybox");
        assert_eq!(v["runtime"], "runc");
        assert_eq!(v["pod"], Value::Null);
        assert_eq!(v["source"]["kind"], "tar.gz");
        assert_eq!(v["source"]["layout"], "container-archive");
        assert_eq!(v["source"]["sha256"], Value::Null);
        assert_eq!(v["source"]["manifest"], Value::Null);
        assert_eq!(v["source"]["cache_path"], "/cache/x.tar");
        assert_eq!(v["checkpoint_size"]["images_bytes"], 252279);
        assert_eq!(v["checkpoint_size"]["pages_bytes"], 204800);
        assert_eq!(v["checkpoint_size"]["root_fs_diff_bytes"], 2048);
        assert_eq!(v["processes"], 2);
        assert_eq!(v["threads"], 2);
        assert_eq!(v["dump_stats"]["pages_written"], 50);
        assert_eq!(
            v["warnings"],
            serde_json::json!([
                {"kind": "lazy-pages", "message": "model warning"},
                {"kind": "missing-image", "message": "source warning"},
            ])
        );
        assert!(v["memory"]["dumped_bytes"].as_u64().unwrap() > 0);
        // Key order is the documented one.
        let text = String::from_utf8(b).unwrap();
        let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(at("engine") < at("container_name"));
        assert!(at("source") < at("processes"));
        assert!(at("memory") < at("warnings"));
    }

    #[test]
    fn empty_checkpoint() {
        let ck = checkpoint(vec![]);
        let v: Value = serde_json::from_slice(&info_json(&ck)).unwrap();
        assert_eq!(v["engine"], Value::Null);
        assert_eq!(v["processes"], 0);
        assert_eq!(v["memory"]["dumped_bytes"], 0);
        assert_eq!(v["checkpoint_size"]["root_fs_diff_bytes"], Value::Null);
    }
}
