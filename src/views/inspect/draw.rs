//! The tree view of what `inspect` collected (checkpointctl's `treeprint` layout).

use std::collections::HashMap;

use serde_json::Value;

use super::Sections;
use super::output::*;
use crate::format::size::human_size;
use crate::format::time::duration_us;
use crate::views::tree::Node;

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
    if let Some(img) = &i.checkpoint_image {
        let what = match (&img.reference, &img.digest) {
            (Some(r), Some(d)) => format!("{r} ({}, {d})", img.form.name()),
            (Some(r), None) => format!("{r} ({})", img.form.name()),
            (None, Some(d)) => format!("{d} ({})", img.form.name()),
            (None, None) => format!("unnamed ({})", img.form.name()),
        };
        let n = root.add(Node::new(format!("Checkpoint image: {what}")));
        for (k, v) in &img.annotations {
            n.leaf(format!("{k}: {}", crate::format::escape::escape(v)));
        }
    }
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
    if let Some(a) = &i.architecture {
        root.leaf(format!("Architecture: {a}"));
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
    if !i.parent_dumps.is_empty() {
        let parents = size.add(Node::new(
            "Parent dumps (incremental: part of the memory is read from them)",
        ));
        for p in &i.parent_dumps {
            parents.leaf(format!(
                "{}: {}, memory pages {}",
                p.path,
                human_size(p.total_size),
                human_size(p.memory_pages_size)
            ));
        }
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
    // No empty node (a plain CRIU image directory has no pod, namespace or annotations).
    if let Some(md) = i.metadata.as_ref().filter(|md| {
        md.pod_name.is_some() || md.kubernetes_namespace.is_some() || !md.annotations.is_empty()
    }) {
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
