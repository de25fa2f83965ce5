//! The Kubernetes runtimes' checkpoint archives, as the kubelet's checkpoint API leaves them in
//! `/var/lib/kubelet/checkpoints/` (the metadata files' shapes follow the runtimes' own formats;
//! see docs/criu-format.md, "Archive metadata facts"):
//!
//! - **containerd 2.x** (CRI `CheckpointContainer`): `checkpoint/` (the CRIU images, flat),
//!   `config.dump` (with `checkpointedTime`), `spec.dump` (the OCI spec, `io.kubernetes.cri.*`
//!   annotations, no `io.container.manager`), `status` (containerd's JSON), `status.dump` (the CRI
//!   `ContainerStatus`), `container.log` (CRI log lines), `dump.log`, `stats-dump` (a copy of
//!   CRIU's); `rootfs-diff.tar` is a
//!   **gzip-compressed OCI layer** whose deletions are whiteouts (`.wh.NAME`, `.wh..wh..opq`);
//!   no `deleted.files`, no `network.status`.
//! - **CRI-O**: an uncompressed tar whose entries start with `./` and whose `checkpoint/` is mode
//!   0700: `config.dump` (`name` in the long `k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>` form),
//!   `spec.dump` (`io.container.manager: cri-o`, `io.kubernetes.cri-o.*` annotations),
//!   `dump.log`, `stats-dump`, `bind.mounts`, `rootfs-diff.tar` (plain tar) + `deleted.files` (JSON list of
//!   paths), and the container log under the literal name `io.kubernetes.cri-o.LogPath`.

use std::path::PathBuf;

/// Who the container is, as Kubernetes names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sContainer {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The image reference (`docker.io/library/busybox:latest`).
    pub image: String,
    /// RFC 3339, e.g. `2026-11-28T10:05:00.123456789Z`.
    pub checkpointed: String,
}

impl K8sContainer {
    pub fn new(namespace: &str, pod: &str, container: &str) -> K8sContainer {
        K8sContainer {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            image: "docker.io/library/busybox:latest".into(),
            checkpointed: "2026-11-28T10:05:00.123456789Z".into(),
        }
    }

    /// The kubelet's archive name: `checkpoint-<pod>_<namespace>-<container>-<time>.tar`.
    pub fn kubelet_file_name(&self) -> String {
        format!(
            "checkpoint-{}_{}-{}-{}.tar",
            self.pod, self.namespace, self.container, self.checkpointed
        )
    }
}

/// The container's writable layer: what was written, what was deleted, which directories were
/// replaced whole (opaque; containerd only: CRI-O / Podman cannot say it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootfsChanges {
    /// Regular files by path (no leading `/`); their directories are added.
    pub files: Vec<(String, Vec<u8>)>,
    /// Deleted paths (no leading `/`).
    pub deleted: Vec<String>,
    /// Directories whose lower content is hidden (`.wh..wh..opq`).
    pub opaque_dirs: Vec<String>,
}

/// One Kubernetes runtime's archive: the container, its writable layer, its log (stdout /
/// stderr, as the runtime's log file has it), and the host directory the CRIU images are taken
/// from when the archive is not made from a [`super::CheckpointWriter`]'s own images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sArchive {
    pub ctr: K8sContainer,
    pub rootfs: RootfsChanges,
    pub log: Vec<u8>,
    pub images_from: Option<PathBuf>,
}

impl K8sArchive {
    pub fn new(ctr: K8sContainer) -> K8sArchive {
        K8sArchive {
            ctr,
            rootfs: RootfsChanges::default(),
            log: Vec::new(),
            images_from: None,
        }
    }
}

const CTR_ID: &str = "4f1d7c3a9b2e8d6f0a1c5e7b9d3f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f";
const SANDBOX_ID: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
const IMAGE_ID: &str = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741";
const CREATED: &str = "2026-11-28T10:00:00.000000000Z";

fn json(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// A tar of `changes` (directories first, then files, then, with `whiteouts`, the OCI
/// whiteouts), uncompressed.
fn layer(changes: &RootfsChanges, whiteouts: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    let add_dirs = |p: &str, dirs: &mut std::collections::BTreeSet<String>| {
        let mut acc = String::new();
        for c in p
            .split('/')
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            dirs.insert(acc.clone());
        }
    };
    for (p, _) in &changes.files {
        add_dirs(p, &mut dirs);
    }
    if whiteouts {
        for p in &changes.deleted {
            add_dirs(p, &mut dirs);
        }
        for d in &changes.opaque_dirs {
            dirs.insert(d.clone());
        }
    }
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_764_324_200);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    // Writing into a Vec cannot fail.
    for d in &dirs {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        let _ = b.append_data(&mut h, format!("{d}/"), std::io::empty());
    }
    if whiteouts {
        for d in &changes.opaque_dirs {
            let mut h = header(tar::EntryType::Regular, 0o644, 0);
            let _ = b.append_data(&mut h, format!("{d}/.wh..wh..opq"), std::io::empty());
        }
    }
    for (p, data) in &changes.files {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        let _ = b.append_data(&mut h, p, &data[..]);
    }
    if whiteouts {
        for p in &changes.deleted {
            let (dir, base) = p.rsplit_once('/').map_or(("", p.as_str()), |(d, b)| (d, b));
            let name = if dir.is_empty() {
                format!(".wh.{base}")
            } else {
                format!("{dir}/.wh.{base}")
            };
            let mut h = header(tar::EntryType::Regular, 0o644, 0);
            let _ = b.append_data(&mut h, name, std::io::empty());
        }
    }
    b.into_inner().unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

fn dump_log() -> Vec<u8> {
    b"(00.000000) CRIU run id = 0a1b2c3d\n\
      (00.000071) Version: 4.2 (gitid 0)\n\
      (00.000083) Running on node-1 Linux 6.12.0-k8s #1 SMP PREEMPT_DYNAMIC x86_64\n\
      (00.250000) Dumping finished successfully\n"
        .to_vec()
}

/// containerd 2.x's files beside `checkpoint/`, by name.
pub(crate) fn containerd_files(a: &K8sArchive) -> Vec<(String, Vec<u8>)> {
    let c = &a.ctr;
    let config = serde_json::json!({
        "id": CTR_ID,
        "name": c.container,
        "rootfsImage": IMAGE_ID,
        "rootfsImageRef": IMAGE_ID,
        "rootfsImageName": c.image,
        "runtime": "io.containerd.runc.v2",
        "createdTime": CREATED,
        "checkpointedTime": c.checkpointed,
    });
    let spec = serde_json::json!({
        "ociVersion": "1.2.0",
        "process": { "args": ["/bin/sh"], "cwd": "/" },
        "root": { "path": "rootfs" },
        "hostname": c.pod,
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": c.container,
            "io.kubernetes.cri.sandbox-name": c.pod,
            "io.kubernetes.cri.sandbox-namespace": c.namespace,
            "io.kubernetes.cri.sandbox-id": SANDBOX_ID,
            "io.kubernetes.cri.sandbox-uid": "0c6e6f1e-5a9d-4c1b-9a57-2f0d7e3b8a41",
            "io.kubernetes.cri.image-name": c.image,
        },
    });
    let status = serde_json::json!({
        "Pid": 4242,
        "CreatedAt": 1_764_324_000_000_000_000u64,
        "StartedAt": 1_764_324_001_000_000_000u64,
        "FinishedAt": 0,
        "ExitCode": 0,
        "Reason": "",
        "Message": "",
        "Starting": false,
        "Removing": false,
        "Unknown": false,
        "Resources": null,
    });
    let log_path = format!(
        "/var/log/pods/{}_{}_0c6e6f1e-5a9d-4c1b-9a57-2f0d7e3b8a41/{}/0.log",
        c.namespace, c.pod, c.container
    );
    let status_dump = serde_json::json!({
        "id": CTR_ID,
        "metadata": { "name": c.container, "attempt": 0 },
        "state": "CONTAINER_RUNNING",
        "createdAt": "1764324000000000000",
        "startedAt": "1764324001000000000",
        "image": { "image": c.image },
        "imageRef": IMAGE_ID,
        "labels": {
            "io.kubernetes.container.name": c.container,
            "io.kubernetes.pod.name": c.pod,
            "io.kubernetes.pod.namespace": c.namespace,
        },
        "logPath": log_path,
    });
    let mut out = vec![
        ("config.dump".to_string(), json(&config)),
        ("spec.dump".to_string(), json(&spec)),
        ("status".to_string(), json(&status)),
        ("status.dump".to_string(), json(&status_dump)),
        ("container.log".to_string(), a.log.clone()),
        ("dump.log".to_string(), dump_log()),
    ];
    out.push(("rootfs-diff.tar".into(), gzip(&layer(&a.rootfs, true))));
    out
}

/// CRI-O's files beside `checkpoint/`, by name.
pub(crate) fn crio_files(a: &K8sArchive) -> Vec<(String, Vec<u8>)> {
    let c = &a.ctr;
    let uid = "7d1f0c2e-3b4a-4c5d-8e6f-9a0b1c2d3e4f";
    let config = serde_json::json!({
        "id": CTR_ID,
        "name": format!("k8s_{}_{}_{}_{uid}_0", c.container, c.pod, c.namespace),
        "rootfsImage": IMAGE_ID.trim_start_matches("sha256:"),
        "rootfsImageRef": IMAGE_ID,
        "rootfsImageName": c.image,
        "runtime": "runc",
        "createdTime": CREATED,
        "checkpointedTime": c.checkpointed,
    });
    let log_path = format!(
        "/var/log/pods/{}_{}_{uid}/{}/0.log",
        c.namespace, c.pod, c.container
    );
    let metadata = serde_json::json!({ "name": c.container, "attempt": 0 }).to_string();
    let spec = serde_json::json!({
        "ociVersion": "1.0.2-dev",
        "process": { "args": ["/bin/sh"], "cwd": "/" },
        "root": { "path": "/var/lib/containers/storage/overlay/x/merged" },
        "hostname": c.pod,
        "annotations": {
            "io.container.manager": "cri-o",
            "io.kubernetes.cri-o.Metadata": metadata,
            "io.kubernetes.cri-o.Created": "2026-11-28T10:00:00.5Z",
            "io.kubernetes.cri-o.ImageName": c.image,
            "io.kubernetes.cri-o.ContainerType": "container",
            "io.kubernetes.cri-o.LogPath": log_path,
            "io.kubernetes.cri-o.IP.0": "10.244.1.7",
            "io.kubernetes.container.name": c.container,
            "io.kubernetes.pod.name": c.pod,
            "io.kubernetes.pod.namespace": c.namespace,
            "io.kubernetes.pod.uid": uid,
        },
    });
    let deleted: Vec<String> = a.rootfs.deleted.iter().map(|p| format!("/{p}")).collect();
    let mut out = vec![
        ("config.dump".to_string(), json(&config)),
        ("spec.dump".to_string(), json(&spec)),
        ("dump.log".to_string(), dump_log()),
        ("bind.mounts".to_string(), b"[]".to_vec()),
        ("rootfs-diff.tar".to_string(), layer(&a.rootfs, false)),
    ];
    if !deleted.is_empty() {
        out.push((
            "deleted.files".into(),
            serde_json::to_vec(&deleted).unwrap_or_default(),
        ));
    }
    out.push(("io.kubernetes.cri-o.LogPath".into(), a.log.clone()));
    out
}
