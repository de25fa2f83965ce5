//! The listings of a real mount, with `ls`: podman-kitchen's root, `PID/`, `PID/net/`,
//! `PID/fdinfo/` and `PID/task/TID/` hold the names the README's tree gives them (nothing more,
//! nothing less, hidden files aside), and the numbered names (processes, descriptors, threads)
//! are those of the fixture's ground truth.

use crate::common;

use common::{Mount, fixtures, ls};
use serde_json::Value;

fn strings(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The in-container number of a ground-truth process or thread (the last of its namespaces').
fn ns_last(v: &Value, key: &str) -> String {
    v[key]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_u64)
        .expect(key)
        .to_string()
}

#[test]
fn podman_kitchen_listings() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("podman-kitchen");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json")).unwrap()).unwrap();
    let procs = truth["processes"].as_array().unwrap();
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));

    let pids: Vec<String> = procs.iter().map(|p| ns_last(p, "ns_pids")).collect();
    let mut root = strings(&[
        "buffers",
        "checkpoint",
        "pstree",
        "rootfs",
        "sockets",
        "sysvipc",
        "timeline",
        "triage",
    ]);
    root.extend(pids.iter().cloned());
    root.sort();
    assert_eq!(ls(&m.p("")), root);
    // Found by name, not listed.
    for hidden in ["report.html", ".link"] {
        assert!(m.join(hidden).exists(), "{hidden}");
    }

    for p in procs {
        let pid = ns_last(p, "ns_pids");
        let at = |rel: &str| m.p(format!("{pid}/{rel}"));
        assert_eq!(
            ls(&at("")),
            strings(&[
                "auxv",
                "cmdline",
                "comm",
                "cwd",
                "environ",
                "exe",
                "fd",
                "fdinfo",
                "limits",
                "maps",
                "mem",
                "memory",
                "mountinfo",
                "net",
                "pagemap",
                "root",
                "stat",
                "statm",
                "status",
                "task",
            ]),
            "{pid}/"
        );
        assert!(m.join(format!("{pid}/core")).exists(), "{pid}/core");
        let net: Vec<&str> = p["net"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(ls(&at("net")), strings(&net), "{pid}/net");
        let fds: Vec<&str> = p["fdinfo"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(ls(&at("fdinfo")), strings(&fds), "{pid}/fdinfo");
        assert_eq!(ls(&at("fd")), strings(&fds), "{pid}/fd");
        let threads = p["threads"].as_array().unwrap();
        let tids: Vec<String> = threads.iter().map(|t| ns_last(t, "ns_tids")).collect();
        let tids: Vec<&str> = tids.iter().map(String::as_str).collect();
        assert_eq!(ls(&at("task")), strings(&tids), "{pid}/task");
        for tid in tids {
            assert_eq!(
                ls(&at(&format!("task/{tid}"))),
                strings(&["comm", "regs", "stat", "status", "syscall"]),
                "{pid}/task/{tid}"
            );
        }
    }
}
