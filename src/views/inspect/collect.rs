//! Collecting what `inspect` shows from the model.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Sections;
use super::output::*;
use crate::format::time::short_time;
use crate::model::Checkpoint;
use crate::model::network::NetInterface;
use crate::model::process::{Process, TaskState};
use crate::render::summary::checkpoint_sizes;
use crate::views::fds::{open_files, socket_nodes};
use crate::views::{self, Error};

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
        checkpoint_image: m.image_wrapper.clone(),
        ip,
        mac,
        networks,
        architecture: m.arch.clone().filter(|a| a != "x86_64"),
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
        parent_dumps: parent_dumps(ck),
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
            None => crate::views::warn(format_args!(
                "{}: no CRIU dump statistics (stats-dump) in this checkpoint",
                ck.source.input.path.display()
            )),
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
            Some(pid) => vec![views::process(ck, pid)?],
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
        if sections.files || sections.sockets {
            if let Some(missing) = missing_fd_images(ck, &shown) {
                let what = match (sections.files, sections.sockets) {
                    (true, true) => "open files and sockets",
                    (true, false) => "open files",
                    _ => "sockets",
                };
                views::warn(format_args!(
                    "{}: {missing}: no {what} can be shown",
                    ck.source.input.path.display()
                ));
            }
        }
        if sections.files {
            i.file_descriptors = Some(
                shown
                    .iter()
                    .map(|p| FdNode {
                        pid: p.pid,
                        open_files: open_files(p),
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
                        open_sockets: socket_nodes(p),
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
            None => crate::views::warn(format_args!(
                "{}: no mounts: the checkpoint has no OCI spec (spec.dump)",
                ck.source.input.path.display()
            )),
        }
    }
    Ok(i)
}

/// Which of the images that hold open files and sockets are missing (`files.img`; the
/// `ids-<pid>.img` and `fdinfo-<id>.img` of the processes shown, zombies aside), as words, or
/// `None` when they are all there.
fn missing_fd_images(ck: &Checkpoint, shown: &[&Process]) -> Option<String> {
    let files = &ck.source.images.files;
    let live: Vec<&&Process> = shown.iter().filter(|p| p.mm.is_some()).collect();
    let mut missing = Vec::new();
    if !files.contains_key("files.img") {
        missing.push("files.img".to_string());
    }
    let no_ids: Vec<String> = shown
        .iter()
        .filter(|p| p.mm.is_some() && !files.contains_key(&format!("ids-{}.img", p.pid)))
        .map(|p| format!("ids-{}.img", p.pid))
        .collect();
    if !live.is_empty() && no_ids.len() == live.len() {
        missing.push("ids-<pid>.img".to_string());
    } else {
        missing.extend(no_ids);
    }
    if !live.is_empty() && !files.keys().any(|n| n.starts_with("fdinfo-")) {
        missing.push("fdinfo-<id>.img".to_string());
    }
    match missing.len() {
        0 => None,
        1 => Some(format!("{} is missing", missing[0])),
        _ => Some(format!("{} are missing", missing.join(", "))),
    }
}

/// A metadata file of the archive, parsed as JSON.
pub(crate) fn json_metadata(ck: &Checkpoint, name: &str) -> Option<Value> {
    ck.source
        .file(name)
        .and_then(|b| serde_json::from_slice(b.bytes()).ok())
}

/// The networks of the model's interfaces ([`crate::model::network`]: Podman's
/// `network.status`, or CRI-O's `io.kubernetes.cri-o.IP.N` annotations), as checkpointctl shows
/// them: named interfaces grouped by network (each with its first address, with prefix length, and
/// that address's gateway), and `ip` / `mac`: every address (without prefix length) and every MAC
/// of every interface, in order, joined with ", " (a container on two networks has two). An
/// interface without a name (a CRI-O annotation, a CNI address not tied to an interface) gives
/// only `ip` / `mac`.
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
    let join = |v: Vec<String>| Some(v.join(", ")).filter(|s| !s.is_empty());
    let ip = join(
        ifaces
            .iter()
            .flat_map(|i| &i.addresses)
            .map(|a| a.address.split('/').next().unwrap_or("").to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    );
    let mac = join(
        ifaces
            .iter()
            .filter_map(|i| i.mac.clone())
            .filter(|s| !s.is_empty())
            .collect(),
    );
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
        task_state: views::state_name(p.state),
        alive: p.state == TaskState::Alive,
        syscalls: p
            .threads
            .iter()
            .filter_map(|t| {
                crate::render::syscall::thread_syscall(t).map(|n| (t.tid.to_string(), n))
            })
            .collect(),
        ..PsNode::default()
    };
    if has_state && s.cmd {
        n.cmdline = views::cmdline_text(p);
    }
    if has_state && s.env {
        n.env_list = views::environ_list(p);
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

/// The parent dumps of `ck`'s images, nearest first, with the sizes of their files and pages.
fn parent_dumps(ck: &Checkpoint) -> Vec<ParentDump> {
    ck.source
        .images
        .chain()
        .skip(1)
        .map(|d| {
            let sizes = crate::render::summary::image_dir_sizes(d);
            ParentDump {
                path: d.label.clone(),
                total_size: sizes.images,
                memory_pages_size: sizes.pages,
            }
        })
        .collect()
}
