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
//! as checkpointctl prints CRIU's microseconds (Go's `time.Duration`: `601 µs`, `150.37 ms`,
//! `1.5 s`).

use crate::model::Checkpoint;
use crate::model::network::describe;
use crate::render::summary::short_time;

/// CRIU's microseconds as checkpointctl shows them.
pub fn duration_us(us: u64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{} ms", trim(format!("{:.3}", us as f64 / 1e3)))
    } else {
        format!("{} s", trim(format!("{:.6}", us as f64 / 1e6)))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_checkpointctl() {
        // The fixture's checkpointctl inspect: 601 µs, 150.37 ms, 1.711 ms, 266 µs.
        assert_eq!(duration_us(601), "601 µs");
        assert_eq!(duration_us(150_370), "150.37 ms");
        assert_eq!(duration_us(1711), "1.711 ms");
        assert_eq!(duration_us(266), "266 µs");
        assert_eq!(duration_us(2000), "2 ms");
        assert_eq!(duration_us(1_500_000), "1.5 s");
        assert_eq!(duration_us(0), "0 µs");
    }
}
