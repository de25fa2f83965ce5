//! What `inspect` shows about one checkpoint: the JSON object (checkpointctl's schema, see the
//! module docs of [`super`]), also the input of the tree view.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::views::fds::{OpenFile, SkData, SocketNode};

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
    /// The container image the checkpoint came wrapped in (OCI forms, docker-archive), with its
    /// annotations as recorded (checkpointctl's schema has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_image: Option<crate::source::oci::OciImage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// The dump's CPU architecture, when it is not x86_64 (checkpointctl's schema has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// CRIU plugins whose state is in the dump (inventory.img `plugins`, CRIU 4.1+).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criu_plugins: Vec<String>,
    pub checkpoint_size: Sizes,
    /// The dumps an incremental dump reads part of its memory from (its `parent` links),
    /// nearest first (checkpointctl's schema has none: it ignores them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_dumps: Vec<ParentDump>,
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

/// A parent dump of an incremental dump: where it is and its sizes in bytes.
#[derive(Serialize, Debug, Default, Clone)]
pub struct ParentDump {
    pub path: String,
    pub total_size: u64,
    pub memory_pages_size: u64,
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
    /// The system call each thread was in at the dump, from its saved registers (`read (0)`,
    /// tid -> name); ckptfs's own key (checkpointctl has none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub syscalls: BTreeMap<String, String>,
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

/// A process's open sockets.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SkNode {
    pub pid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open_sockets: Vec<SocketNode>,
}

/// One mount of the OCI spec.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct MountNode {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
}
