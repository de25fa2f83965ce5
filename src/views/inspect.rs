//! `ckptfs inspect CHECKPOINT...`: checkpointctl's tree view of a checkpoint, and its JSON.
//!
//! ```text
//!
//! Displaying container checkpoint tree view from checkpoint.tar.gz
//!
//! fx-busybox
//! ├── Image: localhost/fixture-busybox:latest
//! ├── ID: 2a5c15b736f04ac9ce5122fcae32ecd6ca063d55526bb05ae9b1c8d620be6fc6
//! ├── Runtime: runc
//! ├── Created: 2026-11-28T14:47:37Z
//! ├── Engine: Podman
//! ├── Network Interfaces
//! │   └── podman (eth0)
//! │       ├── IP: 10.88.0.13/16
//! │       ├── MAC: d6:cf:7b:43:b8:3d
//! │       └── Gateway: 10.88.0.1
//! ├── Checkpoint size: 246.4 KiB
//! │   └── Memory pages size: 200.0 KiB
//! ├── Root FS diff size: 2.0 KiB
//! └── Process tree
//!     └── [1]  sh
//!         ├── [6]  httpd
//!         └── [7]  sleep
//! ```
//!
//! The network lines come from the model's interfaces ([`crate::model::network`], parsed once at
//! load): with `network.status` (Podman), a `Network Interfaces` subtree with every interface of
//! every network, as checkpointctl v1.5 prints it (IP with prefix length, MAC, gateway); without
//! it (CRI-O's annotations), `IP:` / `MAC:` lines after `Engine:`; nothing when none is known.
//!
//! Sections, in this order, each when asked for: `--stats` (CRIU dump statistics), `--metadata`
//! (pod, namespace, `spec.dump` annotations), `--ps-tree` (process tree; implied by `-p`,
//! `--ps-tree-cmd`, `--ps-tree-env`, `--files`, `--sockets`), `--mounts` (the OCI spec's mounts).
//! `--all` turns on all of them. Under each process: its environment, open files and open
//! sockets, then its children (in PID order).
//!
//! # JSON (`--format json`)
//!
//! An array with one object per checkpoint, pretty-printed with two-space indent, keys in this
//! order (checkpointctl's schema, so its consumers keep working; `<`, `>` and `&` inside strings
//! are written `\u003c`, `\u003e`, `\u0026` as Go does):
//!
//! ```text
//! container_name  string | null   (null: unknown, e.g. a plain CRIU dump)
//! image           string | null
//! id              string | null   (full container id)
//! runtime         string | null
//! created         string | null   (RFC 3339, no fractional seconds)
//! checkpointed    string          (only when config.dump has it)
//! engine          string | null   ("Podman", "CRI-O", "containerd")
//! ip, mac         string          (only when known: the first interface with an address, its first
//!                                  address without prefix length; CRI-O: io.kubernetes.cri-o.IP.0)
//! networks        [ {name, interfaces: {IFNAME: {ip ("10.88.0.13/16"), mac, gateway}}} ]
//!                                 (only when network.status names interfaces; one entry per
//!                                  network, every interface, each with its first address)
//! criu_plugins    [string]        (only when inventory.img names CRIU plugins, e.g. amdgpu_plugin)
//! checkpoint_size {total_size, memory_pages_size, root_fs_diff_size}   bytes; a zero is left out
//! statistics      {freezing_time, frozen_time, memdump_time, memwrite_time (µs),
//!                  pages_scanned, pages_written}                 (--stats; zeros left out)
//! metadata        {pod_name, kubernetes_namespace, annotations: {KEY: VALUE}}   (--metadata)
//! process_tree    {pid, command (comm), cmdline (--ps-tree-cmd), task_state ("Alive", "Dead",
//!                  "Stopped", "Zombie"), environment_variables {NAME: VALUE} (--ps-tree-env),
//!                  children [...] (PID order)}                   (--ps-tree)
//! additional_process_trees [process_tree...]   (only when the checkpoint has several roots)
//! file_descriptors [ {pid, open_files: [ {type ("REG", "PIPE", "INETSK", ... ; "" for cwd and
//!                  root), fd ("REG 0", "cwd", "root"), path} ]} ]                   (--files)
//! sockets         [ {pid, open_sockets: [ {protocol ("TCP", "UDP", ...), data: {type, address,
//!                  state, src, src_port, dst, dst_port, send_buf, recv_buf}} ]} ]   (--sockets)
//! mounts          [ {destination, type, source} ]                                  (--mounts)
//! ```
//! Empty strings, zero ports, empty lists and maps are left out, as checkpointctl does.
//!
//! # Where ckptfs differs from checkpointctl, on purpose
//! - Task state 3 is `Stopped` (checkpointctl v1.5 says `Zombie`, as CRIU's pretty-printer does),
//!   and a stopped task's environment, files and children are shown (checkpointctl skips them,
//!   taking it for a zombie).
//! - Orders are deterministic: annotations sorted by key, environment variables in the order of
//!   the process's memory (checkpointctl: Go map order, different each run), JSON children in PID
//!   order (checkpointctl sorts them only in the tree).
//! - A socket descriptor's path is what `/proc/PID/fd` shows, `socket:[INODE]` (checkpointctl:
//!   `INETSK.8`, CRIU's internal file id, which matches nothing outside the images).
//! - IPv6 addresses are printed correctly (checkpointctl keeps only the last 32 bits).
//! - CRIU's durations (`--stats`) are exact (`999.999 ms`; checkpointctl rounds to five significant
//!   digits: `1000 ms`).
//! - The command line follows the kernel's rules (`/proc/PID/cmdline`, including
//!   `setproctitle()`), not the raw argument area.
//! - Plain CRIU image directories are accepted: unknown container fields are `-` in the tree and
//!   `null` in JSON.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::tree::Node;
use super::{Error, Format, write_out};
use crate::format::net::{ip_proto, ip_text, sock_type, tcp_state};
use crate::format::size::{count_bytes, human_size};
use crate::format::time::{duration_us, short_time};
use crate::image::{self, magic, pb};
use crate::model::Checkpoint;
use crate::model::files::{FileKind, FileObject, InetSocket, UnixSocket};
use crate::model::network::NetInterface;
use crate::model::process::{Process, TaskState};
use crate::render::summary::checkpoint_sizes;
use crate::source::OpenOptions;

/// What to include, after `--all` and the implications.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sections {
    pub ps_tree: bool,
    pub cmd: bool,
    pub env: bool,
    pub files: bool,
    pub sockets: bool,
    pub mounts: bool,
    pub stats: bool,
    pub metadata: bool,
    pub pid: Option<u32>,
}

/// Writes the `inspect` output for `checkpoints` to `out`.
pub fn run(
    checkpoints: &[PathBuf],
    sections: &Sections,
    format: Format,
    open: &OpenOptions,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut all = Vec::with_capacity(checkpoints.len());
    for p in checkpoints {
        let ck = super::load(p, open)?;
        let i = collect(&ck, sections)?;
        match format {
            Format::Tree => {
                let s = format!(
                    "\nDisplaying container checkpoint tree view from {}\n\n{}\n",
                    p.display(),
                    tree(&i, sections).render()
                );
                write_out(out, s.as_bytes())?;
            }
            Format::Json => all.push(i),
        }
    }
    if format == Format::Json {
        write_out(out, to_json(&all).as_bytes())?;
    }
    Ok(())
}

/// Pretty JSON as Go's `json.MarshalIndent(v, "", "  ")` writes it, with a final newline.
pub fn to_json<T: Serialize>(v: &T) -> String {
    let s = serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    // Go escapes these inside strings; outside strings JSON never has them.
    let mut s = s
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    s.push('\n');
    s
}

fn is_zero(v: &Option<u64>) -> bool {
    v.is_none_or(|v| v == 0)
}

fn empty_vec<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

/// Everything `inspect` shows about one checkpoint (the JSON object; see the module docs).
#[derive(Serialize, Debug, Default)]
pub struct Inspected {
    pub container_name: Option<String>,
    pub image: Option<String>,
    pub id: Option<String>,
    pub runtime: Option<String>,
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpointed: Option<String>,
    pub engine: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// CRIU plugins whose state is in the dump (inventory.img `plugins`, CRIU 4.1+).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criu_plugins: Vec<String>,
    pub checkpoint_size: Sizes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetaNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_tree: Option<PsNode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_process_trees: Vec<PsNode>,
    #[serde(skip_serializing_if = "empty_vec")]
    pub file_descriptors: Option<Vec<FdNode>>,
    #[serde(skip_serializing_if = "empty_vec")]
    pub sockets: Option<Vec<SkNode>>,
    #[serde(skip_serializing_if = "empty_vec")]
    pub mounts: Option<Vec<MountNode>>,
}

/// A network of `network.status` and its interfaces.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub interfaces: BTreeMap<String, Interface>,
}

/// One interface of a network.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
}

/// Sizes in bytes.
#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct Sizes {
    #[serde(skip_serializing_if = "is_zero")]
    pub total_size: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub memory_pages_size: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub root_fs_diff_size: Option<u64>,
}

/// CRIU dump statistics (times in µs).
#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct Stats {
    #[serde(skip_serializing_if = "is_zero")]
    pub freezing_time: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub frozen_time: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub memdump_time: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub memwrite_time: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_scanned: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_written: Option<u64>,
}

/// Pod, namespace and annotations.
#[derive(Serialize, Debug, Default, Clone)]
pub struct MetaNode {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A process and its subtree.
#[derive(Serialize, Debug, Clone, Default)]
pub struct PsNode {
    pub pid: u32,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    pub task_state: String,
    #[serde(skip_serializing_if = "map_empty")]
    pub environment_variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<PsNode>,
    /// The environment in memory order (for the tree).
    #[serde(skip)]
    pub env_list: Vec<String>,
    /// Alive (`[PID]` in the tree rather than `[PID (State)]`).
    #[serde(skip)]
    pub alive: bool,
}

fn map_empty(m: &Option<BTreeMap<String, String>>) -> bool {
    m.as_ref().is_none_or(|m| m.is_empty())
}

/// A process's open files.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct FdNode {
    pub pid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open_files: Vec<OpenFile>,
}

/// One open file (`fd` is `TYPE N`, or `cwd` / `root`).
#[derive(Serialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub fd: String,
    pub path: String,
}

/// A process's open sockets.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SkNode {
    pub pid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open_sockets: Vec<SocketNode>,
}

/// One socket.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SocketNode {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    pub data: SkData,
    /// The tree's `[META]  VALUE`.
    #[serde(skip)]
    pub tree: (String, String),
}

/// A socket's details.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SkData {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(skip_serializing_if = "is_zero32")]
    pub src_port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dst: String,
    #[serde(skip_serializing_if = "is_zero32")]
    pub dst_port: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send_buf: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recv_buf: String,
}

fn is_zero32(v: &u32) -> bool {
    *v == 0
}

/// One mount of the OCI spec.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct MountNode {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
}

/// Gathers what `sections` asks for.
pub fn collect(ck: &Checkpoint, sections: &Sections) -> Result<Inspected, Error> {
    let m = &ck.meta;
    let sizes = checkpoint_sizes(ck);
    let spec = json_metadata(ck, "spec.dump");
    let annotations: BTreeMap<String, String> = spec
        .as_ref()
        .and_then(|s| s.get("annotations"))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let (networks, ip, mac) = networks(&m.network);
    let mut i = Inspected {
        container_name: m.container_name.clone(),
        image: m.image.clone(),
        id: m.container_id.clone(),
        runtime: m.runtime.clone(),
        created: m.created.as_deref().map(short_time),
        checkpointed: m.checkpointed.as_deref().map(short_time),
        engine: m.engine.clone(),
        ip,
        mac,
        networks,
        criu_plugins: m
            .inventory
            .as_ref()
            .map(|inv| inv.plugins.clone())
            .unwrap_or_default(),
        checkpoint_size: Sizes {
            total_size: Some(sizes.images),
            memory_pages_size: Some(sizes.pages),
            root_fs_diff_size: sizes.root_fs_diff,
        },
        ..Inspected::default()
    };
    if sections.stats {
        match &m.dump_stats {
            Some(d) => {
                i.statistics = Some(Stats {
                    freezing_time: Some(d.freezing_time.into()),
                    frozen_time: Some(d.frozen_time.into()),
                    memdump_time: Some(d.memdump_time.into()),
                    memwrite_time: Some(d.memwrite_time.into()),
                    pages_scanned: Some(d.pages_scanned),
                    pages_written: Some(d.pages_written),
                })
            }
            None => eprintln!(
                "ckptfs: warning: {}: no CRIU dump statistics (stats-dump) in this checkpoint",
                ck.source.input.path.display()
            ),
        }
    }
    if sections.metadata {
        i.metadata = Some(MetaNode {
            pod_name: m.pod_name.clone(),
            kubernetes_namespace: m.pod_namespace.clone(),
            annotations,
        });
    }
    if sections.ps_tree {
        let roots: Vec<&Process> = match sections.pid {
            Some(pid) => vec![super::process(ck, pid)?],
            None => {
                let r: Vec<&Process> = ck.roots().collect();
                if r.is_empty() {
                    // A cyclic tree: start from the lowest PID.
                    ck.processes.first().into_iter().collect()
                } else {
                    r
                }
            }
        };
        let mut seen = std::collections::HashSet::new();
        let mut trees: Vec<PsNode> = roots
            .into_iter()
            .map(|r| ps_node(ck, r, sections, &mut seen, 0))
            .collect();
        if !trees.is_empty() {
            i.process_tree = Some(trees.remove(0));
            i.additional_process_trees = trees;
        }
        let shown: Vec<&Process> = ck
            .processes
            .iter()
            .filter(|p| seen.contains(&p.pid))
            .collect();
        let file_types = if sections.files || sections.sockets {
            FileTypes::of(ck)
        } else {
            FileTypes::default()
        };
        if sections.files {
            i.file_descriptors = Some(
                shown
                    .iter()
                    .map(|p| FdNode {
                        pid: p.pid,
                        open_files: open_files(p, &file_types),
                    })
                    .filter(|n| !n.open_files.is_empty())
                    .collect(),
            );
        }
        if sections.sockets {
            i.sockets = Some(
                shown
                    .iter()
                    .map(|p| SkNode {
                        pid: p.pid,
                        open_sockets: p
                            .fds
                            .iter()
                            .filter_map(|fd| socket_node(&fd.file, &file_types))
                            .collect(),
                    })
                    .filter(|n| !n.open_sockets.is_empty())
                    .collect(),
            );
        }
    }
    if sections.mounts {
        match spec
            .as_ref()
            .and_then(|s| s.get("mounts"))
            .and_then(Value::as_array)
        {
            Some(ms) => {
                let s =
                    |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                i.mounts = Some(
                    ms.iter()
                        .map(|v| MountNode {
                            destination: s(v, "destination"),
                            kind: s(v, "type"),
                            source: s(v, "source"),
                        })
                        .collect(),
                );
            }
            None => eprintln!(
                "ckptfs: warning: {}: no mounts: the checkpoint has no OCI spec (spec.dump)",
                ck.source.input.path.display()
            ),
        }
    }
    Ok(i)
}

/// A metadata file of the archive, parsed as JSON.
pub(crate) fn json_metadata(ck: &Checkpoint, name: &str) -> Option<Value> {
    ck.source
        .metadata
        .get(name)
        .and_then(|b| serde_json::from_slice(b.bytes()).ok())
}

/// The networks of the model's interfaces ([`crate::model::network`]: Podman's
/// `network.status`, or CRI-O's `io.kubernetes.cri-o.IP.N` annotations), as checkpointctl shows
/// them: named interfaces grouped by network (each with its first address, with prefix length, and
/// that address's gateway), and the `ip` (without prefix length) and `mac` of the first interface
/// that has an address. An interface without a name (a CRI-O annotation, a CNI address not tied
/// to an interface) gives only `ip` / `mac`.
pub(crate) fn networks(ifaces: &[NetInterface]) -> (Vec<Network>, Option<String>, Option<String>) {
    let mut out: Vec<Network> = Vec::new();
    for i in ifaces {
        let Some(ifname) = &i.name else { continue };
        let net = i.network.clone().unwrap_or_default();
        let first = i.addresses.first();
        let iface = Interface {
            ip: first.map(|a| a.address.clone()).unwrap_or_default(),
            mac: i.mac.clone().unwrap_or_default(),
            gateway: first.and_then(|a| a.gateway.clone()).unwrap_or_default(),
        };
        match out.iter_mut().find(|n| n.name == net) {
            Some(n) => {
                n.interfaces.entry(ifname.clone()).or_insert(iface);
            }
            None => out.push(Network {
                name: net,
                interfaces: BTreeMap::from([(ifname.clone(), iface)]),
            }),
        }
    }
    let first = ifaces
        .iter()
        .find(|i| !i.addresses.is_empty())
        .or(ifaces.first());
    let ip = first
        .and_then(|i| i.addresses.first())
        .map(|a| a.address.split('/').next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty());
    let mac = first.and_then(|i| i.mac.clone()).filter(|s| !s.is_empty());
    (out, ip, mac)
}

fn ps_node(
    ck: &Checkpoint,
    p: &Process,
    s: &Sections,
    seen: &mut std::collections::HashSet<u32>,
    depth: usize,
) -> PsNode {
    seen.insert(p.pid);
    let has_state = p.mm.is_some();
    let mut n = PsNode {
        pid: p.pid,
        command: p.comm.clone(),
        task_state: super::state_name(p.state),
        alive: p.state == TaskState::Alive,
        ..PsNode::default()
    };
    if has_state && s.cmd {
        n.cmdline = super::cmdline_text(p);
    }
    if has_state && s.env {
        n.env_list = super::environ_list(p);
        n.environment_variables = Some(
            n.env_list
                .iter()
                .map(|e| match e.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (e.clone(), String::new()),
                })
                .collect(),
        );
    }
    if depth < 1000 {
        for c in ck.children(p.pid) {
            if !seen.contains(&c.pid) {
                n.children.push(ps_node(ck, c, s, seen, depth + 1));
            }
        }
    }
    n
}

/// What files.img says about each file object beyond the model: its CRIU fd type and, for
/// sockets, the send / receive buffer sizes.
#[derive(Default)]
pub(crate) struct FileTypes {
    types: HashMap<u32, &'static str>,
    bufs: HashMap<u32, (u32, u32)>,
}

impl FileTypes {
    pub(crate) fn of(ck: &Checkpoint) -> FileTypes {
        let mut ft = FileTypes::default();
        let Some(b) = ck.source.images.files.get("files.img") else {
            return ft;
        };
        let Ok(entries) = image::decode_all::<pb::FileEntry>("files.img", b.bytes(), magic::FILES)
        else {
            return ft; // the model already warned
        };
        for e in entries {
            if let Ok(t) = pb::FdTypes::try_from(e.r#type) {
                ft.types.insert(e.id, t.as_str_name());
            }
            let opts = e
                .isk
                .as_ref()
                .map(|s| &s.opts)
                .or(e.usk.as_ref().map(|s| &s.opts));
            if let Some(o) = opts {
                ft.bufs.insert(e.id, (o.so_sndbuf, o.so_rcvbuf));
            }
        }
        ft
    }

    fn type_of(&self, f: &FileObject) -> &'static str {
        self.types
            .get(&f.id)
            .copied()
            .filter(|t| *t != "UND")
            .unwrap_or_else(|| super::fd_type_name(&f.kind))
    }
}

/// The path shown for an open file: checkpointctl's forms for pipes (`pipe[N]`) and unix sockets
/// (`unix[INO (PEER) NAME]`), `/proc`'s link text for everything else (`socket:[INO]`, paths with
/// ` (deleted)`, `anon_inode:[eventfd]`).
pub(crate) fn file_path(f: &FileObject) -> String {
    match &f.kind {
        FileKind::Pipe { pipe_id, .. } => format!("pipe[{pipe_id}]"),
        FileKind::UnixSocket(u) => format!("unix[{} ({}) {}]", u.ino, u.peer, unix_name(u)),
        FileKind::Pidfd { nspid: -1, .. } => "pidfd[reaped]".to_string(),
        FileKind::Pidfd { nspid, .. } => format!("pidfd[{nspid}]"),
        _ => f.link_text(),
    }
}

fn unix_name(u: &UnixSocket) -> String {
    u.shown_name()
}

pub(crate) fn open_files(p: &Process, ft: &FileTypes) -> Vec<OpenFile> {
    let mut v: Vec<OpenFile> = p
        .fds
        .iter()
        .map(|fd| {
            let t = ft.type_of(&fd.file);
            OpenFile {
                kind: t.to_string(),
                fd: format!("{t} {}", fd.fd),
                path: file_path(&fd.file),
            }
        })
        .collect();
    for (name, f) in [("cwd", &p.cwd), ("root", &p.root)] {
        if let Some(f) = f {
            v.push(OpenFile {
                kind: String::new(),
                fd: name.to_string(),
                path: file_path(f),
            });
        }
    }
    v
}

fn inet(s: &InetSocket) -> (String, SkData) {
    let proto = ip_proto(s.proto);
    (
        proto.clone(),
        SkData {
            kind: proto,
            state: tcp_state(s.state).to_string(),
            src: ip_text(&s.src_addr),
            src_port: s.src_port,
            dst: ip_text(&s.dst_addr),
            dst_port: s.dst_port,
            ..SkData::default()
        },
    )
}

/// The socket of an open file, if it is one.
pub(crate) fn socket_node(f: &FileObject, ft: &FileTypes) -> Option<SocketNode> {
    let bufs = ft.bufs.get(&f.id).copied();
    let (snd, rcv) = bufs.map_or((String::new(), String::new()), |(s, r)| {
        (count_bytes(s.into()), count_bytes(r.into()))
    });
    match &f.kind {
        FileKind::InetSocket(s) => {
            let (protocol, mut data) = inet(s);
            data.send_buf = snd.clone();
            data.recv_buf = rcv.clone();
            let meta = if protocol == "TCP" {
                format!("TCP ({})", data.state)
            } else {
                protocol.clone()
            };
            let value = format!(
                "{}:{} -> {}:{} (↑ {} ↓ {})",
                data.src, data.src_port, data.dst, data.dst_port, snd, rcv
            );
            Some(SocketNode {
                protocol,
                data,
                tree: (meta, value),
            })
        }
        FileKind::UnixSocket(u) => {
            let name = unix_name(u);
            let shown = if name.is_empty() {
                "@".to_string()
            } else {
                name.clone()
            };
            Some(SocketNode {
                protocol: String::new(),
                data: SkData {
                    kind: "UNIX".into(),
                    address: name,
                    ..SkData::default()
                },
                tree: (format!("UNIX ({})", sock_type(u.sock_type)), shown),
            })
        }
        FileKind::Socket { what, .. } => {
            let what = what.to_uppercase();
            Some(SocketNode {
                protocol: String::new(),
                data: SkData {
                    kind: what.clone(),
                    send_buf: snd,
                    recv_buf: rcv,
                    ..SkData::default()
                },
                tree: (what, f.link_text()),
            })
        }
        _ => None,
    }
}

/// The tree view of one checkpoint.
pub fn tree(i: &Inspected, s: &Sections) -> Node {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let name = i
        .container_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Container".into());
    let mut root = Node::new(name);
    root.leaf(format!("Image: {}", dash(&i.image)));
    root.leaf(format!("ID: {}", dash(&i.id)));
    root.leaf(format!("Runtime: {}", dash(&i.runtime)));
    root.leaf(format!("Created: {}", dash(&i.created)));
    if let Some(c) = &i.checkpointed {
        root.leaf(format!("Checkpointed: {c}"));
    }
    root.leaf(format!("Engine: {}", dash(&i.engine)));
    if i.networks.is_empty() {
        if let Some(ip) = &i.ip {
            root.leaf(format!("IP: {ip}"));
        }
        if let Some(mac) = &i.mac {
            root.leaf(format!("MAC: {mac}"));
        }
    } else {
        let nets = root.add(Node::new("Network Interfaces"));
        for n in &i.networks {
            for (ifname, iface) in &n.interfaces {
                let label = if n.name.is_empty() {
                    ifname.clone()
                } else {
                    format!("{} ({ifname})", n.name)
                };
                let node = nets.add(Node::new(label));
                if !iface.ip.is_empty() {
                    node.leaf(format!("IP: {}", iface.ip));
                }
                if !iface.mac.is_empty() {
                    node.leaf(format!("MAC: {}", iface.mac));
                }
                if !iface.gateway.is_empty() {
                    node.leaf(format!("Gateway: {}", iface.gateway));
                }
            }
        }
    }
    if !i.criu_plugins.is_empty() {
        root.leaf(format!(
            "CRIU plugins: {} (their devices' state, e.g. GPU memory, is in the dump)",
            i.criu_plugins.join(", ")
        ));
    }
    let size = root.add(Node::new(format!(
        "Checkpoint size: {}",
        human_size(i.checkpoint_size.total_size.unwrap_or(0))
    )));
    if let Some(p) = i.checkpoint_size.memory_pages_size.filter(|&p| p != 0) {
        size.leaf(format!("Memory pages size: {}", human_size(p)));
    }
    if let Some(r) = i.checkpoint_size.root_fs_diff_size.filter(|&r| r != 0) {
        root.leaf(format!("Root FS diff size: {}", human_size(r)));
    }
    if let Some(st) = &i.statistics {
        let n = root.add(Node::new("CRIU dump statistics"));
        let t = |v: Option<u64>| duration_us(v.unwrap_or(0));
        n.leaf(format!("Freezing time: {}", t(st.freezing_time)));
        n.leaf(format!("Frozen time: {}", t(st.frozen_time)));
        n.leaf(format!("Memdump time: {}", t(st.memdump_time)));
        n.leaf(format!("Memwrite time: {}", t(st.memwrite_time)));
        n.leaf(format!("Pages scanned: {}", st.pages_scanned.unwrap_or(0)));
        n.leaf(format!("Pages written: {}", st.pages_written.unwrap_or(0)));
    }
    if let Some(md) = &i.metadata {
        let n = root.add(Node::new("Metadata"));
        if let Some(p) = &md.pod_name {
            n.leaf(format!("Pod name: {p}"));
        }
        if let Some(ns) = &md.kubernetes_namespace {
            n.leaf(format!("Kubernetes namespace: {ns}"));
        }
        if !md.annotations.is_empty() {
            let a = n.add(Node::new("Annotations"));
            for (k, v) in &md.annotations {
                annotation_node(a, k, v);
            }
        }
    }
    if s.ps_tree {
        let n = root.add(Node::new("Process tree"));
        let files: HashMap<u32, &FdNode> = i
            .file_descriptors
            .iter()
            .flatten()
            .map(|f| (f.pid, f))
            .collect();
        let socks: HashMap<u32, &SkNode> = i.sockets.iter().flatten().map(|f| (f.pid, f)).collect();
        for t in i.process_tree.iter().chain(&i.additional_process_trees) {
            ps_tree_node(n, t, s, &files, &socks);
        }
    }
    if let Some(ms) = &i.mounts {
        let n = root.add(Node::new("Overview of mounts"));
        for m in ms {
            let d = n.add(Node::new(format!("Destination: {}", m.destination)));
            d.leaf(format!("Type: {}", m.kind));
            d.leaf(format!("Source: {}", m.source));
        }
    }
    root
}

fn ps_tree_node(
    parent: &mut Node,
    p: &PsNode,
    s: &Sections,
    files: &HashMap<u32, &FdNode>,
    socks: &HashMap<u32, &SkNode>,
) {
    let meta = if p.alive {
        p.pid.to_string()
    } else {
        format!("{} ({})", p.pid, p.task_state)
    };
    let value = match &p.cmdline {
        Some(c) if s.cmd && !c.is_empty() => c.clone(),
        _ => p.command.clone(),
    };
    let node = parent.add(Node::with_meta(meta, value));
    if s.env && !p.env_list.is_empty() {
        let e = node.add(Node::new("Environment variables"));
        for v in &p.env_list {
            e.leaf(v.clone());
        }
    }
    if s.files
        && let Some(f) = files.get(&p.pid)
    {
        let e = node.add(Node::new("Open files"));
        for of in &f.open_files {
            e.add(Node::with_meta(of.fd.clone(), of.path.clone()));
        }
    }
    if s.sockets
        && let Some(k) = socks.get(&p.pid)
    {
        let e = node.add(Node::new("Open sockets"));
        for sk in &k.open_sockets {
            e.add(Node::with_meta(sk.tree.0.clone(), sk.tree.1.clone()));
        }
    }
    for c in &p.children {
        ps_tree_node(node, c, s, files, socks);
    }
}

/// An annotation: JSON-valued ones (CRI-O labels, annotations, metadata, volumes, kubectl's
/// last-applied-configuration) as subtrees, like checkpointctl; the rest as `KEY: VALUE`.
fn annotation_node(parent: &mut Node, key: &str, value: &str) {
    const JSON_KEYS: [&str; 4] = [
        "io.kubernetes.cri-o.Labels",
        "io.kubernetes.cri-o.Annotations",
        "io.kubernetes.cri-o.Metadata",
        "kubectl.kubernetes.io/last-applied-configuration",
    ];
    if JSON_KEYS.contains(&key) {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(value) {
            let n = parent.add(Node::new(key));
            add_json_map(n, &o);
            return;
        }
    }
    if key == "io.kubernetes.cri-o.Volumes"
        && let Ok(Value::Array(vols)) = serde_json::from_str::<Value>(value)
    {
        let n = parent.add(Node::new(key));
        for v in &vols {
            let s = |k: &str| v.get(k).map_or_else(String::new, json_scalar);
            let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            let c = n.add(Node::new(s("container_path")));
            c.leaf(format!("host path: {}", s("host_path")));
            c.leaf(format!("read-only: {}", b("readonly")));
            c.leaf(format!("selinux relabel: {}", b("selinux_relabel")));
            c.leaf(format!("recursive read-only: {}", b("recursive_read_only")));
            c.leaf(format!(
                "propagation: {}",
                v.get("propagation").and_then(Value::as_i64).unwrap_or(0)
            ));
        }
        return;
    }
    parent.leaf(format!("{key}: {value}"));
}

fn json_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        o => o.to_string(),
    }
}

fn add_json_map(n: &mut Node, o: &serde_json::Map<String, Value>) {
    let mut keys: Vec<&String> = o.keys().collect();
    keys.sort();
    for k in keys {
        match &o[k] {
            Value::Object(m) => add_json_map(n.add(Node::new(format!("{k}:"))), m),
            Value::Array(a) => add_json_array(n.add(Node::new(format!("{k}: "))), a),
            v => {
                n.leaf(format!("{k}: {}", json_scalar(v)));
            }
        }
    }
}

fn add_json_array(n: &mut Node, a: &[Value]) {
    for (i, v) in a.iter().enumerate() {
        match v {
            Value::Object(m) => add_json_map(n.add(Node::new(format!("[{i}]:"))), m),
            Value::Array(x) => add_json_array(n.add(Node::new(format!("[{i}]: "))), x),
            v => {
                n.leaf(format!("[{i}]: {}", json_scalar(v)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_from_the_model() {
        use crate::model::network::{NetAddress, NetInterface, parse_network_status};
        // Podman 4: one network, one interface (the fixture's shape).
        let v = parse_network_status(
            br#"{"podman":{"interfaces":{"eth0":{"subnets":[{"ipnet":"10.88.0.13/16","gateway":"10.88.0.1"}],"mac_address":"d6:cf:7b:43:b8:3d"}}}}"#,
        )
        .unwrap();
        let (nets, ip, mac) = networks(&v);
        assert_eq!(ip.as_deref(), Some("10.88.0.13"));
        assert_eq!(mac.as_deref(), Some("d6:cf:7b:43:b8:3d"));
        assert_eq!(
            nets,
            [Network {
                name: "podman".into(),
                interfaces: BTreeMap::from([(
                    "eth0".to_string(),
                    Interface {
                        ip: "10.88.0.13/16".into(),
                        mac: "d6:cf:7b:43:b8:3d".into(),
                        gateway: "10.88.0.1".into(),
                    }
                )]),
            }]
        );
        let i = Inspected {
            engine: Some("Podman".into()),
            networks: nets,
            ip,
            mac,
            ..Inspected::default()
        };
        let t = tree(&i, &Sections::default()).render();
        assert!(
            t.contains(
                "├── Engine: Podman\n\
                 ├── Network Interfaces\n\
                 │   └── podman (eth0)\n\
                 │       ├── IP: 10.88.0.13/16\n\
                 │       ├── MAC: d6:cf:7b:43:b8:3d\n\
                 │       └── Gateway: 10.88.0.1\n\
                 └── Checkpoint size"
            ),
            "{t}"
        );
        // The first interface without an address is passed over for ip / mac; every interface
        // of every network is listed.
        let v = vec![
            NetInterface {
                network: Some("a".into()),
                name: Some("eth0".into()),
                mac: Some("00:00:00:00:00:01".into()),
                addresses: vec![],
            },
            NetInterface {
                network: Some("b".into()),
                name: Some("eth1".into()),
                mac: Some("00:00:00:00:00:02".into()),
                addresses: vec![
                    NetAddress {
                        address: "fd00::2/64".into(),
                        gateway: None,
                    },
                    NetAddress {
                        address: "10.0.0.2/24".into(),
                        gateway: Some("10.0.0.1".into()),
                    },
                ],
            },
            NetInterface {
                network: Some("a".into()),
                name: Some("eth2".into()),
                ..NetInterface::default()
            },
        ];
        let (nets, ip, mac) = networks(&v);
        assert_eq!(
            (ip.as_deref(), mac.as_deref()),
            (Some("fd00::2"), Some("00:00:00:00:00:02"))
        );
        let names: Vec<(&str, Vec<&str>)> = nets
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.interfaces.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(names, [("a", vec!["eth0", "eth2"]), ("b", vec!["eth1"])]);
        assert_eq!(nets[1].interfaces["eth1"].ip, "fd00::2/64");
        assert_eq!(nets[1].interfaces["eth1"].gateway, "");
        // CRI-O's annotations: an address without interface name: ip only, no subtree.
        let v = vec![NetInterface {
            addresses: vec![NetAddress {
                address: "10.244.1.7".into(),
                gateway: None,
            }],
            ..NetInterface::default()
        }];
        let (nets, ip, mac) = networks(&v);
        assert!(nets.is_empty() && mac.is_none());
        assert_eq!(ip.as_deref(), Some("10.244.1.7"));
        let i = Inspected {
            ip,
            ..Inspected::default()
        };
        let t = tree(&i, &Sections::default()).render();
        assert!(
            t.contains("├── Engine: -\n├── IP: 10.244.1.7\n└── Checkpoint size"),
            "{t}"
        );
        // Nothing known: no network line at all.
        let (nets, ip, mac) = networks(&[]);
        assert!(nets.is_empty() && ip.is_none() && mac.is_none());
        let t = tree(&Inspected::default(), &Sections::default()).render();
        assert!(t.contains("├── Engine: -\n└── Checkpoint size"), "{t}");
    }

    #[test]
    fn go_style_json_escapes() {
        let s = to_json(&serde_json::json!({"a": "x > y & <z>"}));
        assert_eq!(
            s,
            "{\n  \"a\": \"x \\u003e y \\u0026 \\u003cz\\u003e\"\n}\n"
        );
    }

    #[test]
    fn json_annotations_become_subtrees() {
        let mut n = Node::new("Annotations");
        annotation_node(
            &mut n,
            "io.kubernetes.cri-o.Labels",
            r#"{"b":"2","a":{"x":[1,{"y":null}]}}"#,
        );
        annotation_node(
            &mut n,
            "io.kubernetes.cri-o.Volumes",
            r#"[{"container_path":"/data","host_path":"/h","readonly":true}]"#,
        );
        annotation_node(&mut n, "plain", "v");
        assert_eq!(
            n.render(),
            "Annotations\n\
             ├── io.kubernetes.cri-o.Labels\n\
             │   ├── a:\n\
             │   │   └── x: \n\
             │   │       ├── [0]: 1\n\
             │   │       └── [1]:\n\
             │   │           └── y: <nil>\n\
             │   └── b: 2\n\
             ├── io.kubernetes.cri-o.Volumes\n\
             │   └── /data\n\
             │       ├── host path: /h\n\
             │       ├── read-only: true\n\
             │       ├── selinux relabel: false\n\
             │       ├── recursive read-only: false\n\
             │       └── propagation: 0\n\
             └── plain: v\n"
        );
    }
}
