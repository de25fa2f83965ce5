//! The container / dump details that `checkpoint/summary` prints between the `show` table and
//! the process tree: what the one-row table has no column for.
//!
//! ```text
//!
//! Checkpointed: 2026-11-28T10:05:00Z
//! Pod: counters (namespace default)
//! Network: eth0 (podman) 10.88.0.13/16 gw 10.88.0.1 MAC d6:cf:7b:43:b8:3d
//! CRIU: image version 2; freezing 601 µs, frozen 150.37 ms, memdump 1.711 ms, memwrite 266 µs, pages scanned 71, written 50
//! ```
//!
//! A line is printed only when its facts are known; with none known the text is empty. Durations
//! are CRIU's microseconds, exact ([`duration_us`]: `601 µs`, `150.37 ms`, `1.5 s`), as in
//! `ckptfs inspect --stats`.

use crate::format::time::{duration_us, short_time};
use crate::model::Checkpoint;
use crate::model::network::describe;

/// The details block (starts with an empty line), or `""` when nothing is known.
pub fn details(ck: &Checkpoint) -> String {
    let m = &ck.meta;
    let mut lines: Vec<String> = Vec::new();
    if let Some(t) = &m.checkpointed {
        lines.push(format!("Checkpointed: {}", short_time(t)));
    }
    match (&m.pod_name, &m.pod_namespace) {
        (Some(p), Some(ns)) => lines.push(format!("Pod: {p} (namespace {ns})")),
        (Some(p), None) => lines.push(format!("Pod: {p}")),
        (None, Some(ns)) => lines.push(format!("Namespace: {ns}")),
        (None, None) => {}
    }
    for i in &m.network {
        lines.push(format!("Network: {}", describe(i)));
    }
    let mut criu: Vec<String> = Vec::new();
    if let Some(v) = &m.criu_version {
        criu.push(format!("version {v}"));
    }
    if let Some(k) = &m.dump_kernel {
        criu.push(format!("on {k}"));
    }
    if let Some(v) = m.criu_image_version {
        let inc = m.inventory.as_ref().is_some_and(|i| i.incremental);
        criu.push(format!(
            "image version {v}{}",
            if inc {
                ", incremental (parent dump)"
            } else {
                ""
            }
        ));
    }
    if let Some(s) = &m.dump_stats {
        criu.push(format!(
            "freezing {}, frozen {}, memdump {}, memwrite {}, pages scanned {}, written {}",
            duration_us(s.freezing_time.into()),
            duration_us(s.frozen_time.into()),
            duration_us(s.memdump_time.into()),
            duration_us(s.memwrite_time.into()),
            s.pages_scanned,
            s.pages_written
        ));
    }
    if !criu.is_empty() {
        lines.push(format!("CRIU: {}", criu.join("; ")));
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}
