//! Container and dump metadata: the archive's config.dump / spec.dump (Podman, CRI-O, containerd),
//! inventory.img and stats-dump.

use serde::Serialize;
use serde_json::Value;

use super::network::{self, NetInterface};
use crate::warning::{Kind, Warnings};

/// CRIU dump statistics (`DumpStatsEntry`), times in microseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DumpStats {
    pub freezing_time: u32,
    pub frozen_time: u32,
    pub memdump_time: u32,
    pub memwrite_time: u32,
    pub pages_scanned: u64,
    pub pages_skipped_parent: u64,
    pub pages_written: u64,
    pub irmap_resolve: Option<u32>,
    pub pages_lazy: Option<u64>,
    pub page_pipes: Option<u64>,
    pub page_pipe_bufs: Option<u64>,
    pub shpages_scanned: Option<u64>,
    pub shpages_skipped_parent: Option<u64>,
    pub shpages_written: Option<u64>,
}

impl DumpStats {
    /// From the decoded entry of `stats-dump`.
    pub fn from_entry(d: &crate::image::pb::DumpStatsEntry) -> DumpStats {
        DumpStats {
            freezing_time: d.freezing_time,
            frozen_time: d.frozen_time,
            memdump_time: d.memdump_time,
            memwrite_time: d.memwrite_time,
            pages_scanned: d.pages_scanned,
            pages_skipped_parent: d.pages_skipped_parent,
            pages_written: d.pages_written,
            irmap_resolve: d.irmap_resolve,
            pages_lazy: Some(d.pages_lazy),
            page_pipes: d.page_pipes,
            page_pipe_bufs: d.page_pipe_bufs,
            shpages_scanned: d.shpages_scanned,
            shpages_skipped_parent: d.shpages_skipped_parent,
            shpages_written: d.shpages_written,
        }
    }
}

/// What `inventory.img` says about the dump, beyond its image version.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Inventory {
    /// `selinux`, `apparmor`, `none` (lsmtype), or another number.
    pub lsm: Option<String>,
    /// `iptables`, `nftables`, `skip` (how CRIU locked the network during the dump).
    pub network_lock: Option<String>,
    /// `--tcp-close`: established connections were closed, not dumped.
    pub tcp_close: Option<bool>,
    /// `splice` / `read` for a pre-dump.
    pub pre_dump_mode: Option<String>,
    /// The CRIU run id of the dump.
    pub criu_run_id: Option<String>,
    /// The root task's cgroup set id.
    pub root_cg_set: Option<u32>,
    /// The dump has a parent (an incremental dump's `parent` link resolved).
    pub incremental: bool,
    /// CRIU plugins whose state is in the dump (inventory `plugins`, CRIU 4.1+), e.g.
    /// `amdgpu_plugin` / `cuda_plugin`: the GPU's memory and state are in the images too.
    pub plugins: Vec<String>,
}

impl Inventory {
    /// From the decoded entry (`incremental`: the image directory has a resolved parent).
    pub fn from_entry(inv: &crate::image::pb::InventoryEntry, incremental: bool) -> Inventory {
        let num = |n: u32, names: &[&str]| {
            names
                .get(n as usize)
                .filter(|s| !s.is_empty())
                .map_or_else(|| n.to_string(), |s| (*s).to_string())
        };
        Inventory {
            lsm: inv
                .lsmtype
                .map(|t| num(t as u32, &["none", "selinux", "apparmor"])),
            network_lock: inv
                .network_lock_method
                // CRIU's own enum (0-based), not the RPC one.
                .map(|t| num(t, &["iptables", "nftables", "skip"])),
            tcp_close: inv.tcp_close,
            pre_dump_mode: inv.pre_dump_mode.map(|t| num(t, &["", "splice", "read"])),
            criu_run_id: inv.dump_criu_run_id.clone().filter(|s| !s.is_empty()),
            root_cg_set: inv.root_cg_set,
            incremental,
            plugins: inv
                .plugins
                .as_ref()
                .map(|p| {
                    p.plugins
                        .iter()
                        .filter(|s| !s.is_empty())
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// What is known about the container and the dump.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Metadata {
    /// "Podman", "CRI-O", "containerd", or None for a plain CRIU dump.
    pub engine: Option<String>,
    pub container_name: Option<String>,
    pub container_id: Option<String>,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub runtime: Option<String>,
    pub created: Option<String>,
    /// When the container was started (Docker's `config.v2.json` `State.StartedAt`).
    #[serde(skip)]
    pub started: Option<String>,
    pub checkpointed: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    /// inventory.img `img_version`.
    pub criu_image_version: Option<u32>,
    /// inventory.img `dump_uptime` (microseconds since the dumping host booted), if recorded.
    pub dump_uptime_us: Option<u64>,
    /// The rest of inventory.img.
    pub inventory: Option<Inventory>,
    /// The CRIU version that dumped (`Version: 4.2 (gitid 0)` in dump.log), when the log is kept.
    pub criu_version: Option<String>,
    /// The kernel the dump ran on (`Running on HOST Linux 6.18.44 #1 SMP ... x86_64` in dump.log).
    pub dump_kernel: Option<String>,
    pub dump_stats: Option<DumpStats>,
    /// The CPU architecture of the dump (`x86_64`, `aarch64`, `riscv64`, ...), from the core
    /// images.
    pub arch: Option<String>,
    /// Network interfaces: Podman's `network.status`, or CRI-O's `io.kubernetes.cri-o.IP.N`.
    pub network: Vec<NetInterface>,
    /// When the checkpoint came as a container image: its form, reference and annotations.
    pub image_wrapper: Option<crate::source::oci::OciImage>,
}

pub use crate::format::time::parse_rfc3339;

fn str_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

impl Metadata {
    /// Fills the container fields from `config.dump` and `spec.dump` (either may be absent or
    /// malformed: what cannot be read stays None and a warning is returned).
    pub fn from_container_files(
        config: Option<&[u8]>,
        spec: Option<&[u8]>,
        warnings: &mut Warnings,
    ) -> Metadata {
        let mut m = Metadata::default();
        let parse = |name: &str, b: &[u8], warnings: &mut Warnings| -> Option<Value> {
            match serde_json::from_slice::<Value>(b) {
                Ok(v) => Some(v),
                Err(e) => {
                    warnings.push(
                        Kind::BadMetadata,
                        format!("{name}: not valid JSON ({e}); its metadata is ignored"),
                    );
                    None
                }
            }
        };
        let config = config.and_then(|b| parse("config.dump", b, warnings));
        let spec = spec.and_then(|b| parse("spec.dump", b, warnings));
        if let Some(c) = &config {
            m.container_id = str_at(c, "id");
            m.container_name = str_at(c, "name");
            m.image = str_at(c, "rootfsImageName").or_else(|| str_at(c, "rootfsImageRef"));
            // CRI-O / containerd: `rootfsImage`; Podman: `rootfsImageID`.
            m.image_id = str_at(c, "rootfsImage").or_else(|| str_at(c, "rootfsImageID"));
            m.runtime = str_at(c, "runtime");
            m.created = str_at(c, "createdTime");
            // Go's zero time is a time never set (checkpointctl: `IsZero`, no line).
            m.checkpointed =
                str_at(c, "checkpointedTime").filter(|t| !crate::format::time::is_go_zero(t));
        }
        if let Some(s) = &spec {
            let ann = s.get("annotations").cloned().unwrap_or(Value::Null);
            let manager = str_at(&ann, "io.container.manager");
            m.engine = match manager.as_deref() {
                Some("libpod") => Some("Podman".into()),
                Some("cri-o") => Some("CRI-O".into()),
                Some(other) => Some(other.to_string()),
                None if config.is_some() || spec.is_some() => Some("containerd".into()),
                None => None,
            };
            // As checkpointctl: for Kubernetes engines the annotations name the container (CRI-O's
            // config.dump `name` is the long `k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>` form).
            if m.engine.as_deref() == Some("CRI-O") {
                if let Some(md) = str_at(&ann, "io.kubernetes.cri-o.Metadata")
                    && let Ok(v) = serde_json::from_str::<Value>(&md)
                    && let Some(n) = str_at(&v, "name")
                {
                    m.container_name = Some(n);
                }
                if let Some(c) = str_at(&ann, "io.kubernetes.cri-o.Created") {
                    m.created = Some(c);
                }
                if m.image.is_none() {
                    m.image = str_at(&ann, "io.kubernetes.cri-o.ImageName");
                }
                m.network.extend(network::from_crio_annotations(&ann));
            }
            if m.engine.as_deref() == Some("containerd")
                && let Some(n) = str_at(&ann, "io.kubernetes.cri.container-name")
            {
                m.container_name = Some(n);
            }
            if m.engine.as_deref() == Some("containerd") && m.image.is_none() {
                m.image = str_at(&ann, "io.kubernetes.cri.image-name");
            }
            m.pod_name = str_at(&ann, "io.kubernetes.pod.name")
                .or_else(|| str_at(&ann, "io.kubernetes.cri.sandbox-name"));
            m.pod_namespace = str_at(&ann, "io.kubernetes.pod.namespace")
                .or_else(|| str_at(&ann, "io.kubernetes.cri.sandbox-namespace"));
        }
        m
    }

    /// Takes the container's name, image, id and times from Docker's own records of it
    /// (`config.v2.json`, `hostconfig.json` beside a `docker checkpoint create` checkpoint).
    pub fn set_docker(&mut self, config: &[u8], host: Option<&[u8]>, warnings: &mut Warnings) {
        let c: Value = match serde_json::from_slice(config) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(
                    Kind::BadMetadata,
                    format!("config.v2.json: not valid JSON ({e}); Docker's metadata is ignored"),
                );
                return;
            }
        };
        let at = |p: &str| match c.pointer(p) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        self.engine = Some("Docker".into());
        self.container_id = self.container_id.take().or_else(|| at("/ID"));
        self.container_name = self
            .container_name
            .take()
            .or_else(|| at("/Name").map(|n| n.trim_start_matches('/').to_string()));
        self.image = self.image.take().or_else(|| at("/Config/Image"));
        self.image_id = self.image_id.take().or_else(|| at("/Image"));
        self.created = self.created.take().or_else(|| at("/Created"));
        // Docker writes 0001-01-01T00:00:00Z for a container never started.
        self.started = at("/State/StartedAt").filter(|t| !t.starts_with("0001-"));
        if self.runtime.is_none()
            && let Some(h) = host.and_then(|h| serde_json::from_slice::<Value>(h).ok())
        {
            self.runtime = str_at(&h, "Runtime");
        }
    }

    /// Takes what a checkpoint image says where the checkpoint's own files are silent: the
    /// annotations of `podman container checkpoint --create-image` / `checkpointctl build`
    /// (`io.podman.annotations.checkpoint.*`, `org.criu.checkpoint.*`) and containerd's
    /// checkpoint index (`io.containerd.checkpoint.runtime`, the rootfs image's reference).
    pub fn set_image(&mut self, img: &crate::source::oci::OciImage) {
        let a = |k: &str| img.annotations.get(k).filter(|v| !v.is_empty()).cloned();
        let first = |keys: &[&str]| keys.iter().find_map(|k| a(k));
        if img.containerd_checkpoint {
            self.engine.get_or_insert_with(|| "containerd".into());
            if self.image.is_none() {
                self.image = a("org.opencontainers.image.ref.name");
            }
            if self.runtime.is_none() {
                self.runtime = a("io.containerd.checkpoint.runtime");
            }
        }
        let podman = img
            .annotations
            .keys()
            .any(|k| k.starts_with("io.podman.annotations.checkpoint."));
        if self.engine.is_none() && podman {
            self.engine = Some("Podman".into());
        }
        if self.engine.is_none() {
            // checkpointctl's and CRI-O's `org.criu.checkpoint.engine.name`: `cri-o`,
            // `containerd`, `podman`, or the name checkpointctl shows (`CRI-O`, `Podman`).
            self.engine = a("org.criu.checkpoint.engine.name").map(|e| {
                match e.to_ascii_lowercase().as_str() {
                    "cri-o" | "crio" => "CRI-O".into(),
                    "podman" | "libpod" => "Podman".into(),
                    "containerd" => "containerd".into(),
                    _ => e,
                }
            });
        }
        if self.pod_name.is_none() {
            self.pod_name = a("org.criu.checkpoint.pod.name");
        }
        if self.pod_namespace.is_none() {
            self.pod_namespace = a("org.criu.checkpoint.pod.namespace");
        }
        if self.container_name.is_none() {
            self.container_name = first(&[
                "io.podman.annotations.checkpoint.name",
                "org.criu.checkpoint.container.name",
            ]);
        }
        if self.image.is_none() {
            self.image = first(&[
                "io.podman.annotations.checkpoint.rootfsImageName",
                "io.podman.annotations.checkpoint.rawImageName",
                "org.criu.checkpoint.rootfsImageName",
                "org.criu.checkpoint.rawImageName",
                "org.criu.checkpoint.rootfs.image.name",
            ]);
        }
        if self.image_id.is_none() {
            self.image_id = first(&[
                "io.podman.annotations.checkpoint.rootfsImageID",
                "org.criu.checkpoint.rootfsImageID",
                "org.criu.checkpoint.rootfs.image.id",
            ]);
        }
        if self.runtime.is_none() {
            self.runtime = first(&[
                "io.podman.annotations.checkpoint.runtime.name",
                "org.criu.checkpoint.runtime.name",
            ]);
        }
        self.image_wrapper = Some(img.clone());
    }

    /// Takes the CRIU version and the kernel from the head of CRIU's `dump.log` (only its first
    /// 64 KiB are looked at).
    pub fn set_dump_log(&mut self, bytes: &[u8]) {
        let head = &bytes[..bytes.len().min(64 << 10)];
        for line in String::from_utf8_lossy(head).lines().take(200) {
            // "(00.000071) Version: 4.2 (gitid 0)"
            let text = line
                .split_once(") ")
                .filter(|(t, _)| t.starts_with('('))
                .map_or(line, |(_, r)| r);
            if self.criu_version.is_none()
                && let Some(v) = text.strip_prefix("Version: ")
            {
                self.criu_version = Some(v.trim().to_string());
            } else if self.dump_kernel.is_none()
                && let Some(r) = text.strip_prefix("Running on ")
                && let Some((_, k)) = r.split_once(' ')
            {
                self.dump_kernel = Some(k.trim().to_string());
            }
        }
    }

    /// Reads Podman's `network.status` (see [`network`]); when it has interfaces they replace
    /// those taken from annotations. A malformed file is a warning.
    pub fn set_network_status(&mut self, bytes: &[u8], warnings: &mut Warnings) {
        match network::parse_network_status(bytes) {
            Ok(v) if !v.is_empty() => self.network = v,
            Ok(_) => {}
            Err(e) => warnings.push(
                Kind::BadMetadata,
                format!("network.status: {e}; the network interfaces are unknown"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_config_and_spec() {
        let mut w = Warnings::new();
        let m = Metadata::from_container_files(
            Some(br#"{"id":"abc","name":"web","rootfsImageName":"docker.io/library/nginx:latest","rootfsImage":"sha","runtime":"runc","createdTime":"2026-01-01T00:00:00Z","checkpointedTime":"2026-01-02T00:00:00Z"}"#),
            Some(br#"{"annotations":{"io.container.manager":"libpod"}}"#),
            &mut w,
        );
        assert!(w.is_empty());
        assert_eq!(m.engine.as_deref(), Some("Podman"));
        assert_eq!(m.container_name.as_deref(), Some("web"));
        assert_eq!(m.image.as_deref(), Some("docker.io/library/nginx:latest"));
        assert_eq!(m.runtime.as_deref(), Some("runc"));
    }

    #[test]
    fn crio_annotations() {
        let mut w = Warnings::new();
        let m = Metadata::from_container_files(
            Some(br#"{"id":"abc","rootfsImageName":"img"}"#),
            Some(
                br#"{"annotations":{"io.container.manager":"cri-o","io.kubernetes.cri-o.Metadata":"{\"name\":\"ctr\"}","io.kubernetes.pod.name":"p","io.kubernetes.pod.namespace":"ns"}}"#,
            ),
            &mut w,
        );
        assert_eq!(m.engine.as_deref(), Some("CRI-O"));
        assert_eq!(m.container_name.as_deref(), Some("ctr"));
        assert_eq!(m.pod_name.as_deref(), Some("p"));
        assert_eq!(m.pod_namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn dump_log_head() {
        let mut m = Metadata::default();
        m.set_dump_log(
            b"(00.000000) CRIU run id = 51a8\n(00.000071) Version: 4.2 (gitid 0)\n(00.000083) Running on vm Linux 6.18.44-fc-v509 #1 SMP PREEMPT_DYNAMIC @0 x86_64\n(00.1) Version: 9\n",
        );
        assert_eq!(m.criu_version.as_deref(), Some("4.2 (gitid 0)"));
        assert_eq!(
            m.dump_kernel.as_deref(),
            Some("Linux 6.18.44-fc-v509 #1 SMP PREEMPT_DYNAMIC @0 x86_64")
        );
        let mut m = Metadata::default();
        m.set_dump_log(&[0xff; 100]);
        assert!(m.criu_version.is_none() && m.dump_kernel.is_none());
    }

    #[test]
    fn containerd_and_garbage() {
        let mut w = Warnings::new();
        let m = Metadata::from_container_files(
            Some(b"not json"),
            Some(br#"{"annotations":{"io.kubernetes.cri.container-name":"c"}}"#),
            &mut w,
        );
        assert_eq!(w.kinds(), [Kind::BadMetadata]);
        assert!(w[0].message.contains("config.dump"));
        assert_eq!(m.engine.as_deref(), Some("containerd"));
        assert_eq!(m.container_name.as_deref(), Some("c"));
    }
}
