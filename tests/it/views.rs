//! The checkpointctl views (`show`, `inspect`, `memparse`, `list`, `diff`, `completions`, `man`)
//! run through the built binary, against the fixtures' checkpointctl outputs
//! (`../shared/fixtures/podman-busybox/checkpointctl/`) and ground truth, and against synthetic
//! checkpoints made by the in-repo writer. No FUSE, no root.
//!
//! Where ckptfs deliberately differs from checkpointctl, the test says so and asserts the
//! difference explicitly (search for "DIFFERENCE").

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ckptfs::writer::{CheckpointWriter, Compression, File, Layout, PE_PRESENT, Vma};
use common::TempDir;
use common::cli::{ckptfs_in, ckptfs_merged, json_lines, table_row};
use common::writer::{CROSS_BASE, cross_boundary_dump};
use serde_json::Value;

const PAGE: u64 = 4096;

/// The fixtures, or None (after a SKIPPED line) when they are absent outside CI.
fn fixtures() -> Option<PathBuf> {
    let p = common::fixtures()?;
    let archive = p.join("podman-busybox/checkpoint.tar.gz");
    if archive.is_file() {
        return Some(p);
    }
    common::skip(&format!("{} not found", archive.display()));
    None
}

/// Runs and requires success.
fn ok(cwd: &Path, args: &[&str]) -> String {
    let r = ckptfs_in(cwd, args);
    assert_eq!(r.code, 0, "ckptfs {args:?} failed: {}", r.err);
    r.out
}

/// Runs, requires success and parses stdout as one JSON value.
fn json(cwd: &Path, args: &[&str]) -> Value {
    let out = ok(cwd, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ckptfs {args:?}: {e}: {out}"))
}

/// Runs and requires exit code 2 with exactly one line on stderr; returns that line.
fn fails(cwd: &Path, args: &[&str]) -> String {
    let r = ckptfs_in(cwd, args);
    assert_eq!(
        r.code, 2,
        "ckptfs {args:?}: want exit 2, got {} ({})",
        r.code, r.err
    );
    assert_eq!(
        r.err.lines().count(),
        1,
        "one stderr line, got: {:?}",
        r.err
    );
    assert!(r.err.starts_with("ckptfs: "), "{}", r.err);
    r.err.trim_end().to_string()
}

fn busybox(f: &Path) -> PathBuf {
    f.join("podman-busybox")
}

fn golden(f: &Path, name: &str) -> String {
    std::fs::read_to_string(busybox(f).join("checkpointctl").join(name)).unwrap()
}

fn truth(f: &Path, case: &str) -> Value {
    common::read_json(&f.join(case).join("ground-truth.json"))
}

/// `(pid inside the container, process)` of a ground truth.
fn truth_procs(t: &Value) -> Vec<(u32, &Value)> {
    t["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let ns = p["ns_pids"].as_array().unwrap();
            (ns.last().unwrap().as_u64().unwrap() as u32, p)
        })
        .collect()
}

/// A hex number with or without `0x`.
fn hexnum(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// Field `n` (1-based, as in man 5 proc) of a stat line.
fn stat_field(stat: &str, n: usize) -> u64 {
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after
        .split_whitespace()
        .nth(n - 3)
        .unwrap()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------- show

#[test]
fn show_matches_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let out = ok(&busybox(&f), &["show", "checkpoint.tar.gz"]);
    // checkpointctl's columns unchanged, then CHECKPOINTED (when CRIU wrote the images: Podman 4
    // writes no checkpointedTime; inventory.img's time in the archive is 14:47:38).
    let want = golden(&f, "show.txt");
    let (got, want): (Vec<&str>, Vec<&str>) = (out.lines().collect(), want.lines().collect());
    assert_eq!(got.len(), want.len(), "{out}");
    for (g, w) in got.iter().zip(&want) {
        assert!(
            g.starts_with(w.trim_end()),
            "{g:?} does not start with {w:?}"
        );
    }
    assert!(got[3].trim_end().ends_with("CHECKPOINTED"), "{out}");
    // Labelled with where it comes from, as `list` labels it: no metadata records it.
    assert!(
        got[5]
            .trim_end()
            .ends_with("2026-11-28T14:47:38Z (images written)"),
        "{out}"
    );
}

#[test]
fn show_and_list_as_json() {
    let Some(f) = fixtures() else { return };
    let out = ok(
        &f,
        &[
            "show",
            "--format",
            "json",
            "podman-busybox/checkpoint.tar.gz",
            "secretd-plain/images",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{out}");
    let b = &rows[0];
    assert_eq!(b["path"], "podman-busybox/checkpoint.tar.gz");
    assert_eq!(b["container"], "fx-busybox");
    assert_eq!(b["image"], "localhost/fixture-busybox:latest");
    assert!(b["id"].as_str().unwrap().starts_with("2a5c15b736f0"), "{b}");
    assert_eq!(b["engine"], "Podman");
    assert_eq!(
        b["created"].as_str().unwrap().get(..19),
        Some("2026-11-28T14:47:37")
    );
    assert_eq!(b["checkpointed"], "2026-11-28T14:47:38Z");
    assert_eq!(b["checkpointed_from"], "images written");
    assert_eq!(b["root_fs_diff_size"], 2048);
    assert!(b["checkpoint_size"].as_u64().unwrap() > 200 * 1024, "{b}");
    // A plain CRIU dump: what it does not record is null.
    assert!(rows[1]["container"].is_null(), "{}", rows[1]);
    assert!(rows[1]["root_fs_diff_size"].is_null(), "{}", rows[1]);
    // jsonl: one object a line, the same objects.
    let out = ok(
        &f,
        &[
            "show",
            "--format",
            "jsonl",
            "podman-busybox/checkpoint.tar.gz",
            "secretd-plain/images",
        ],
    );
    let lines: Vec<Value> = json_lines(&out);
    assert_eq!(lines, *rows);
    // list: the same checkpoint, its time and where it was found.
    let out = ok(&f, &["list", "--format", "json", "podman-busybox"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v.as_array().unwrap();
    let b = rows
        .iter()
        .find(|r| r["name"] == "checkpoint.tar.gz")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(b["directory"], "podman-busybox");
    assert_eq!(b["path"], "podman-busybox/checkpoint.tar.gz");
    assert_eq!(b["container"], "fx-busybox");
    assert_eq!(b["engine"], "Podman");
    // Podman records no checkpointed time: when CRIU wrote the images, as show says.
    assert_eq!(b["checkpointed"], "2026-11-28T14:47:38Z");
    assert_eq!(b["checkpointed_from"], "images written");
    let t = ok(&f, &["list", "podman-busybox"]);
    assert!(
        t.contains("   2026-11-28T14:47:38Z (images written)   checkpoint.tar.gz\n"),
        "{t}"
    );
    let out = ok(&f, &["list", "--format", "jsonl", "podman-busybox"]);
    assert_eq!(out.lines().count(), rows.len(), "{out}");
}

#[test]
fn show_several_and_plain_dumps() {
    let Some(f) = fixtures() else { return };
    let out = ok(
        &f,
        &[
            "show",
            "podman-busybox/checkpoint.tar.gz",
            "secretd-plain/images",
        ],
    );
    // Like checkpointctl, no heading for several checkpoints; one row each.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("CONTAINER    IMAGE"));
    assert!(lines[2].starts_with("fx-busybox   localhost/fixture-busybox:latest   2a5c15b736f0"));
    // DIFFERENCE: checkpointctl refuses a plain CRIU dump; ckptfs shows what it knows, `-` for
    // the container fields it does not have.
    let row: Vec<&str> = lines[3]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(row[..6], ["-", "-", "-", "-", "-", "-"], "{}", lines[3]);
    assert!(row[6].ends_with("MiB"), "{}", lines[3]);
    // Several checkpoints: a PATH column, the path as given.
    assert!(lines[0].trim_end().ends_with("PATH"), "{out}");
    assert!(
        lines[2]
            .trim_end()
            .ends_with("podman-busybox/checkpoint.tar.gz"),
        "{out}"
    );
    assert!(
        lines[3].trim_end().ends_with("secretd-plain/images"),
        "{out}"
    );
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_matches_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let out = ok(&busybox(&f), &["inspect", "checkpoint.tar.gz"]);
    assert_eq!(out, golden(&f, "inspect.txt"));
    let out = ok(&busybox(&f), &["inspect", "--ps-tree", "checkpoint.tar.gz"]);
    assert_eq!(out, golden(&f, "inspect-ps-tree.txt"));
}

/// The fixture archive's `network.status`, read with the system's tar (not with ckptfs).
fn fixture_network_status(f: &Path) -> Value {
    let o = Command::new("tar")
        .arg("-xzOf")
        .arg(busybox(f).join("checkpoint.tar.gz"))
        .arg("network.status")
        .output()
        .expect("run tar");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn inspect_shows_the_fixture_network_status() {
    let Some(f) = fixtures() else { return };
    // The truth: Podman 4's network.status, {NETWORK: {interfaces: {IFNAME: {subnets: [{ipnet,
    // gateway}], mac_address}}}}. Every value below comes from the file, none is typed in.
    let ns = fixture_network_status(&f);
    let nets = ns.as_object().unwrap();
    assert!(!nets.is_empty());
    let mut want_tree = String::from("├── Network Interfaces\n");
    let mut want_json = Vec::new();
    let mut first: Option<(String, String)> = None;
    let n_ifaces: usize = nets
        .values()
        .map(|n| n["interfaces"].as_object().unwrap().len())
        .sum();
    let mut k = 0;
    for (net, block) in nets {
        let mut ifs = serde_json::Map::new();
        for (ifname, i) in block["interfaces"].as_object().unwrap() {
            k += 1;
            let sub = &i["subnets"][0];
            let (ip, gw, mac) = (
                sub["ipnet"].as_str().unwrap(),
                sub["gateway"].as_str().unwrap(),
                i["mac_address"].as_str().unwrap(),
            );
            assert!(ip.contains('/') && mac.len() == 17, "{ip} {mac}");
            let (edge, bar) = if k == n_ifaces {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            want_tree += &format!(
                "│   {edge}{net} ({ifname})\n\
                 │   {bar}├── IP: {ip}\n\
                 │   {bar}├── MAC: {mac}\n\
                 │   {bar}└── Gateway: {gw}\n"
            );
            ifs.insert(
                ifname.clone(),
                serde_json::json!({"ip": ip, "mac": mac, "gateway": gw}),
            );
            if first.is_none() {
                first = Some((ip.split('/').next().unwrap().to_string(), mac.to_string()));
            }
        }
        want_json.push(serde_json::json!({"name": net, "interfaces": ifs}));
    }
    let (ip0, mac0) = first.unwrap();
    // Tree: right after the Engine line, before the sizes.
    let out = ok(&busybox(&f), &["inspect", "checkpoint.tar.gz"]);
    let want = format!("├── Engine: Podman\n{want_tree}├── Checkpoint size: ");
    assert!(out.contains(&want), "want\n{want}\nin\n{out}");
    // JSON: ip / mac of the first interface (ip without prefix length), every network.
    let j: Value = json(
        &busybox(&f),
        &["inspect", "--format", "json", "checkpoint.tar.gz"],
    );
    assert_eq!(j[0]["ip"], Value::from(ip0.clone()));
    assert_eq!(j[0]["mac"], Value::from(mac0.clone()));
    assert_eq!(j[0]["networks"], Value::from(want_json));
    // The same values as checkpointctl printed them.
    let gold = golden(&f, "inspect.txt");
    assert!(gold.contains(&want_tree), "{gold}");
    let gold: Value = serde_json::from_str(&golden(&f, "inspect-all.json")).unwrap();
    assert_eq!(gold[0]["ip"], Value::from(ip0));
    assert_eq!(gold[0]["mac"], Value::from(mac0));
    assert_eq!(gold[0]["networks"], j[0]["networks"]);
}

#[test]
fn inspect_network_interfaces_synthetic() {
    let dir = TempDir::new("views");
    let write = |name: &str, status: Option<&[u8]>| {
        let mut w = CheckpointWriter::new();
        w.process(1, 0).comm("app");
        if let Some(s) = status {
            w.archive_file("network.status", s);
        }
        w.write_tar(
            &dir.path().join(name),
            &Layout::podman("net-ctr"),
            Compression::None,
        )
        .unwrap();
    };
    // Two networks, three interfaces, a dual-stack one (its first address is shown), one
    // without any address.
    write(
        "multi.tar",
        Some(
            br#"{"backend": {"interfaces": {"eth1": {"subnets": [{"ipnet": "fd00:1::5/64", "gateway": "fd00:1::1"}, {"ipnet": "10.90.0.5/24"}], "mac_address": "0a:00:00:00:00:02"},
                              "eth2": {"subnets": [], "mac_address": "0a:00:00:00:00:03"}}},
                 "frontend": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.89.0.7/24", "gateway": "10.89.0.1"}], "mac_address": "0a:00:00:00:00:01"}}}}"#,
        ),
    );
    // Checkpoint size is the root's last line when there is no rootfs-diff.tar.
    let ok = |d: &Path, a: &[&str]| ok(d, a).replace("└── Checkpoint size", "├── Checkpoint size");
    let out = ok(dir.path(), &["inspect", "multi.tar"]);
    let want = "├── Engine: Podman\n\
                ├── Network Interfaces\n\
                │   ├── backend (eth1)\n\
                │   │   ├── IP: fd00:1::5/64\n\
                │   │   ├── MAC: 0a:00:00:00:00:02\n\
                │   │   └── Gateway: fd00:1::1\n\
                │   ├── backend (eth2)\n\
                │   │   └── MAC: 0a:00:00:00:00:03\n\
                │   └── frontend (eth0)\n\
                │       ├── IP: 10.89.0.7/24\n\
                │       ├── MAC: 0a:00:00:00:00:01\n\
                │       └── Gateway: 10.89.0.1\n\
                ├── Checkpoint size: ";
    assert!(out.contains(want), "{out}");
    let j: Value = json(dir.path(), &["inspect", "--format", "json", "multi.tar"]);
    // ip / mac: every address and every MAC, as checkpointctl joins them.
    assert_eq!(j[0]["ip"], "fd00:1::5, 10.90.0.5, 10.89.0.7");
    assert_eq!(
        j[0]["mac"],
        "0a:00:00:00:00:02, 0a:00:00:00:00:03, 0a:00:00:00:00:01"
    );
    let nets = j[0]["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[0]["name"], "backend");
    assert_eq!(
        nets[0]["interfaces"]["eth2"],
        serde_json::json!({"mac": "0a:00:00:00:00:03"})
    );
    assert_eq!(nets[1]["interfaces"]["eth0"]["gateway"], "10.89.0.1");
    // Podman 3's CNI results: the interface inside the container, without a network name.
    write(
        "cni.tar",
        Some(
            br#"[{"cniVersion": "0.4.0", "interfaces": [{"name": "cni-podman0", "mac": "11:11:11:11:11:11"}, {"name": "eth0", "mac": "33:33:33:33:33:33", "sandbox": "/run/netns/x"}],
                  "ips": [{"version": "4", "interface": 1, "address": "10.88.0.2/16", "gateway": "10.88.0.1"}]}]"#,
        ),
    );
    let out = ok(dir.path(), &["inspect", "cni.tar"]);
    assert!(
        out.contains(
            "├── Network Interfaces\n\
             │   └── eth0\n\
             │       ├── IP: 10.88.0.2/16\n\
             │       ├── MAC: 33:33:33:33:33:33\n\
             │       └── Gateway: 10.88.0.1\n"
        ),
        "{out}"
    );
    let j: Value = json(dir.path(), &["inspect", "--format", "json", "cni.tar"]);
    assert_eq!(j[0]["ip"], "10.88.0.2");
    assert_eq!(j[0]["mac"], "33:33:33:33:33:33");
    // No network.status, or an empty one: no network lines, no keys.
    write("none.tar", None);
    write("empty.tar", Some(b"{}"));
    for ck in ["none.tar", "empty.tar"] {
        let out = ok(dir.path(), &["inspect", ck]);
        assert!(
            out.contains("├── Engine: Podman\n├── Checkpoint size: "),
            "{out}"
        );
        assert!(!out.contains("IP:") && !out.contains("MAC:") && !out.contains("Network"));
        let j: Value = json(dir.path(), &["inspect", "--format", "json", ck]);
        for k in ["ip", "mac", "networks"] {
            assert!(j[0].get(k).is_none(), "{ck}: {k}");
        }
    }
}

/// The tree's lines with each block of leaves under `Environment variables` / `Annotations`
/// sorted (and their last-edge mark normalised): the order-free form of a tree.
fn canonical_tree(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].clone();
        if l.ends_with("── Environment variables") || l.ends_with("── Annotations") {
            let (prefix, last) = match (l.find("├── "), l.find("└── ")) {
                (Some(p), _) => (&l[..p], false),
                (None, Some(p)) => (&l[..p], true),
                _ => unreachable!(),
            };
            let child = format!("{prefix}{}", if last { "    " } else { "│   " });
            let mut j = i + 1;
            while j < lines.len()
                && (lines[j].starts_with(&format!("{child}├── "))
                    || lines[j].starts_with(&format!("{child}└── ")))
            {
                j += 1;
            }
            let mut block: Vec<String> = lines[i + 1..j]
                .iter()
                .map(|s| s.replacen("└── ", "├── ", 1))
                .collect();
            block.sort();
            lines.splice(i + 1..j, block);
            i = j;
        } else {
            i += 1;
        }
    }
    lines
}

/// The leaves under the first `header` line after the line containing `after`.
fn block_after(text: &str, after: &str, header: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.contains(after)).unwrap();
    let h = start
        + lines[start..]
            .iter()
            .position(|l| l.ends_with(header))
            .unwrap();
    let l = lines[h];
    let child = match (l.find("├── "), l.find("└── ")) {
        (Some(p), _) => format!("{}│   ", &l[..p]),
        (None, Some(p)) => format!("{}    ", &l[..p]),
        _ => unreachable!(),
    };
    lines[h + 1..]
        .iter()
        .map_while(|l| {
            l.strip_prefix(&format!("{child}├── "))
                .or_else(|| l.strip_prefix(&format!("{child}└── ")))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn inspect_all_matches_checkpointctl_up_to_its_random_orders() {
    let Some(f) = fixtures() else { return };
    let ours = ok(&busybox(&f), &["inspect", "--all", "checkpoint.tar.gz"]);
    let gold = golden(&f, "inspect-all.txt");
    // DIFFERENCE 1: httpd's listening socket is fd 3. checkpointctl names it `INETSK.8` (CRIU's
    // internal file id); ckptfs shows what /proc/PID/fd showed, which the ground truth recorded.
    let t = truth(&f, "podman-busybox");
    let httpd = truth_procs(&t)
        .into_iter()
        .find(|(pid, _)| *pid == 6)
        .unwrap()
        .1;
    let link = httpd["fds"]["3"].as_str().unwrap();
    assert_eq!(link, "socket:[82782]");
    assert!(gold.contains("[INETSK 3]  INETSK.8"));
    assert!(ours.contains(&format!("[INETSK 3]  {link}")));
    let gold = gold.replace("INETSK.8", link);
    // DIFFERENCE 3: a socket's line names the descriptors that hold it and labels the buffer
    // sizes as such (checkpointctl's `(↑ 16.0 KB ↓ 128.0 KB)` reads like traffic).
    assert!(gold.contains(":::8080 -> :::0 (↑ 16.0 KB ↓ 128.0 KB)"));
    let gold = gold.replace(
        ":::8080 -> :::0 (↑ 16.0 KB ↓ 128.0 KB)",
        ":::8080 -> :::0 (fd 3; buffer sizes: send 16.0 KB, recv 128.0 KB)",
    );
    // DIFFERENCE 2: checkpointctl prints annotations and environment variables in Go's random
    // map order (a different order on every run); ckptfs sorts annotations by key and keeps
    // the environment in the process's own order. As sets, and in every other line, equal.
    assert_eq!(canonical_tree(&ours), canonical_tree(&gold));
    let ann = block_after(&ours, "├── Metadata", "── Annotations");
    let mut sorted = ann.clone();
    sorted.sort();
    assert_eq!(ann, sorted);
    assert_eq!(ann.len(), 8);
    for (pid, p) in truth_procs(&t) {
        let env = block_after(&ours, &format!("[{pid}]  "), "── Environment variables");
        let want: Vec<String> = p["environ"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(env, want, "PID {pid}: environment in /proc order");
    }
}

/// Sorts every `children` array by PID.
fn sort_children(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(c)) = o.get_mut("children") {
                c.sort_by_key(|n| n["pid"].as_u64());
            }
            for (_, x) in o.iter_mut() {
                sort_children(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_children),
        _ => {}
    }
}

#[test]
fn inspect_json_matches_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let text = ok(
        &busybox(&f),
        &["inspect", "--all", "--format", "json", "checkpoint.tar.gz"],
    );
    let mut ours: Value = serde_json::from_str(&text).unwrap();
    let gold_text = golden(&f, "inspect-all.json");
    let mut gold: Value = serde_json::from_str(&gold_text).unwrap();
    // DIFFERENCE 3: each process has `syscalls`, tid -> the system call its thread was
    // in at the dump (from the saved registers); checkpointctl has no such key.
    fn take_syscalls(v: &mut Value, found: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(s)) = o.remove("syscalls") {
                    found.extend(s.values().filter_map(|x| x.as_str().map(String::from)));
                }
                o.values_mut().for_each(|x| take_syscalls(x, found));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| take_syscalls(x, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    take_syscalls(&mut ours, &mut found);
    assert_eq!(found.len(), 3, "one per thread: {found:?}");
    assert!(
        found.iter().all(|s| s.ends_with(')') && s.contains(" (")),
        "{found:?}"
    );
    // Go's escaping of <, > and & inside strings, two-space indent, final newline: as checkpointctl.
    assert!(gold_text.contains("\\u003e /data") && text.contains("\\u003e /data"));
    assert!(text.contains("\\u0026\\n"));
    assert!(text.starts_with("[\n  {\n    \"container_name\": \"fx-busybox\",\n"));
    assert!(text.ends_with("]\n"));
    // DIFFERENCE 1: children in PID order (checkpointctl's JSON keeps pstree's unsorted order,
    // here 7 before 6; its own tree view sorts them).
    let kids = |v: &Value| -> Vec<u64> {
        v[0]["process_tree"]["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["pid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(kids(&gold), [7, 6]);
    assert_eq!(kids(&ours), [6, 7]);
    sort_children(&mut gold);
    // DIFFERENCE 2: the socket's path, as in the tree view (see above).
    let p = &mut gold[0]["file_descriptors"][1]["open_files"][3]["path"];
    assert_eq!(p, "INETSK.8");
    *p = Value::from("socket:[82782]");
    // DIFFERENCE 3: each socket once, with the descriptors that hold it (ckptfs's own `fds`).
    let sk = &mut gold[0]["sockets"][0]["open_sockets"][0];
    assert!(sk.get("fds").is_none());
    sk["fds"] = serde_json::json!([3]);
    assert_eq!(ours, gold);
    // Key order is checkpointctl's.
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    let keys = [
        "container_name",
        "image",
        "id",
        "runtime",
        "created",
        "engine",
        "ip",
        "mac",
        "networks",
        "checkpoint_size",
        "statistics",
        "metadata",
        "process_tree",
        "file_descriptors",
        "sockets",
        "mounts",
    ];
    assert!(keys.windows(2).all(|w| at(w[0]) < at(w[1])));
}

#[test]
fn inspect_flags_one_by_one() {
    let Some(f) = fixtures() else { return };
    let d = busybox(&f);
    let run = |flag: &str| ok(&d, &["inspect", flag, "checkpoint.tar.gz"]);
    let base = golden(&f, "inspect.txt");
    let all = golden(&f, "inspect-all.txt");
    // Each section appears only with its flag.
    let sections = [
        ("--stats", "── CRIU dump statistics"),
        ("--metadata", "── Metadata"),
        ("--mounts", "── Overview of mounts"),
        ("--ps-tree", "── Process tree"),
    ];
    for (flag, title) in sections {
        assert!(!base.contains(title));
        let out = run(flag);
        assert!(out.contains(title), "{flag}: {out}");
        for (other, t) in sections {
            if other != flag {
                assert!(!out.contains(t), "{flag} shows {t}");
            }
        }
    }
    let stats = run("--stats");
    assert!(stats.ends_with("└── CRIU dump statistics\n    ├── Freezing time: 601 µs\n    ├── Frozen time: 150.37 ms\n    ├── Memdump time: 1.711 ms\n    ├── Memwrite time: 266 µs\n    ├── Pages scanned: 71\n    └── Pages written: 50\n\n"), "{stats}");
    for l in [
        "├── Freezing time: 601 µs\n",
        "├── Frozen time: 150.37 ms\n",
        "├── Memdump time: 1.711 ms\n",
        "├── Memwrite time: 266 µs\n",
        "├── Pages scanned: 71\n",
        "└── Pages written: 50\n",
    ] {
        assert!(stats.contains(l) && all.contains(l), "{l}");
    }
    let mounts = run("--mounts");
    assert!(mounts.ends_with(&all[all.find("└── Overview of mounts").unwrap()..]));
    // --ps-tree-cmd: command lines instead of comm (implies --ps-tree).
    let cmd = run("--ps-tree-cmd");
    assert!(cmd.contains(
        "    └── [1]  /bin/sh -c \n        \t\t\tSHELLVAR=\"PODBB-SHELL-VAR-MARKER-77e1\"\n"
    ));
    assert!(cmd.contains("        ├── [6]  httpd -f -p 8080 -h /var/www \n"));
    assert!(cmd.contains("        └── [7]  sleep 3600 \n"));
    assert!(!cmd.contains("Environment variables"));
    // --ps-tree-env: comm and environment.
    let env = run("--ps-tree-env");
    assert!(env.contains("    └── [1]  sh\n        ├── Environment variables\n"));
    assert!(env.contains("APP_TOKEN=PODBB-ENV-TOKEN-4c1d"));
    assert!(!env.contains("Open files"));
    // --files, --sockets.
    let files = run("--files");
    assert!(
        files.contains(
            "    └── [1]  sh\n\
             \x20       ├── Open files\n\
             \x20       │   ├── [REG 0]  /dev/null\n\
             \x20       │   ├── [PIPE 1]  pipe[83897]\n\
             \x20       │   ├── [PIPE 2]  pipe[83898]\n\
             \x20       │   ├── [cwd]  /\n\
             \x20       │   └── [root]  /\n\
             \x20       ├── [6]  httpd\n"
        ),
        "{files}"
    );
    assert!(files.contains("[cwd]  /var/www"));
    assert!(!files.contains("Open sockets"));
    let socks = run("--sockets");
    assert!(
        socks.contains(
            "└── [TCP (LISTEN)]  :::8080 -> :::0 (fd 3; buffer sizes: send 16.0 KB, recv 128.0 KB)"
        ),
        "{socks}"
    );
    assert!(!socks.contains("Open files"));
    // -p PID: that subtree only.
    let one = ok(
        &d,
        &["inspect", "-p", "6", "--ps-tree-cmd", "checkpoint.tar.gz"],
    );
    assert!(
        one.ends_with("└── Process tree\n    └── [6]  httpd -f -p 8080 -h /var/www \n\n"),
        "{one}"
    );
    // Several checkpoints: one tree each; JSON: one array.
    let two = ok(
        &f,
        &[
            "inspect",
            "podman-busybox/checkpoint.tar.gz",
            "secretd-plain/images",
        ],
    );
    assert_eq!(
        two.matches("Displaying container checkpoint tree view from")
            .count(),
        2
    );
    let j: Value = json(
        &f,
        &[
            "inspect",
            "--format",
            "json",
            "podman-busybox/checkpoint.tar.gz",
            "secretd-plain/images",
        ],
    );
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[1]["container_name"], Value::Null);
    assert_eq!(
        j[1]["checkpoint_size"]["total_size"]
            .as_u64()
            .map(|n| n > 0),
        Some(true)
    );
}

/// An incremental dump reads most of its memory from its parent dumps: `inspect` names them,
/// nearest first, with the sizes of their files and of their `pages-*.img`, in the tree and in
/// the JSON; a dump without a parent has no such entry.
#[test]
fn inspect_names_the_parent_dumps() {
    let Some(f) = fixtures() else { return };
    let images = f.join("secretd-incremental/images");
    let sizes = |d: &Path| {
        let (mut all, mut pages) = (0u64, 0u64);
        // The images, not the `parent` link (a file holding the link's text in this copy).
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if !e.file_type().unwrap().is_file() || e.file_name() == "parent" {
                continue;
            }
            let len = e.metadata().unwrap().len();
            let n = e.file_name().to_string_lossy().into_owned();
            all += len;
            if n.starts_with("pages-") && n.ends_with(".img") {
                pages += len;
            }
        }
        (all, pages)
    };
    let text = ok(&f, &["inspect", "secretd-incremental/images/dump"]);
    let tree = block_after(
        &text,
        "Checkpoint size",
        "Parent dumps (incremental: part of the memory is read from them)",
    );
    assert_eq!(tree.len(), 2, "{text}");
    let j: Value = serde_json::from_str(&ok(
        &f,
        &[
            "inspect",
            "--format",
            "json",
            "secretd-incremental/images/dump",
        ],
    ))
    .unwrap();
    let parents = j[0]["parent_dumps"].as_array().expect("parent_dumps");
    assert_eq!(parents.len(), 2, "{j}");
    for (i, name) in ["pre2", "pre"].into_iter().enumerate() {
        let (all, pages) = sizes(&images.join(name));
        let p = &parents[i];
        assert!(p["path"].as_str().unwrap().ends_with(name), "{p}");
        assert_eq!(p["total_size"], all, "{p}");
        assert_eq!(p["memory_pages_size"], pages, "{p}");
        assert!(
            tree[i].contains(&format!("{name}: ")) && tree[i].contains("memory pages"),
            "{text}"
        );
    }
    let plain = ok(&f, &["inspect", "secretd-plain/images"]);
    assert!(!plain.contains("Parent dumps"), "{plain}");
    let j: Value = serde_json::from_str(&ok(
        &f,
        &["inspect", "--format", "json", "secretd-plain/images"],
    ))
    .unwrap();
    assert!(j[0].get("parent_dumps").is_none(), "{j}");
}

#[test]
fn stopped_tasks_are_stopped_not_zombies() {
    // DIFFERENCE: CRIU records task_state 3 for the secretd tasks (SIGSTOPped; /proc said
    // "T (stopped)"). checkpointctl v1.5, like CRIU's own pretty-printer, calls 3 "Zombie" and
    // then skips such a task's environment, files and children. ckptfs says Stopped and shows
    // them.
    let Some(f) = fixtures() else { return };
    let t = truth(&f, "secretd-plain");
    for (_, p) in truth_procs(&t) {
        assert!(
            p["status"]
                .as_str()
                .unwrap()
                .contains("State:\tT (stopped)")
        );
    }
    let out = ok(&f, &["inspect", "--ps-tree-env", "secretd-plain/images"]);
    assert!(out.contains("└── [8259 (Stopped)]  secretd\n"), "{out}");
    assert!(out.contains("└── [8262 (Stopped)]  secretd\n"), "{out}");
    assert!(out.contains("SECRET_TOKEN=tok-plain-7f3a9c21"));
    assert!(!out.contains("Zombie"));
    let j: Value = json(
        &f,
        &[
            "inspect",
            "--ps-tree",
            "--format",
            "json",
            "secretd-plain/images",
        ],
    );
    assert_eq!(j[0]["process_tree"]["task_state"], "Stopped");
    assert_eq!(j[0]["process_tree"]["children"][0]["task_state"], "Stopped");
    // Busybox tasks were frozen, not stopped: Alive, shown as [PID] alone.
    let out = ok(&busybox(&f), &["inspect", "--ps-tree", "checkpoint.tar.gz"]);
    assert!(out.contains("[1]  sh") && !out.contains("(Alive)"));
}

#[test]
fn inspect_synthetic_sockets_files_and_zombies() {
    let dir = TempDir::new("views");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("srv")
        .cmdline(&["srv", "--listen"])
        .environ(&["K=V"])
        .fd(3, File::tcp6_listen(8443))
        .fd(4, File::udp(5353))
        .fd(5, File::unix_listen(b"\0abstract-sock"))
        .fd(
            6,
            File::tcp_established([10, 0, 0, 2], 40000, [10, 0, 0, 1], 5432),
        )
        .fd(7, File::reg("/var/log/srv.log"));
    w.process(9, 1).comm("defunct").zombie(1);
    let ck = dir.path().join("ck");
    w.write_dir(&ck).unwrap();
    let out = ok(dir.path(), &["inspect", "--files", "--sockets", "ck"]);
    assert!(out.contains("[TCP (LISTEN)]  :::8443 -> :::0"), "{out}");
    assert!(out.contains("[UDP]  0.0.0.0:5353 -> 0.0.0.0:0"), "{out}");
    assert!(out.contains("[UNIX (STREAM)]  @abstract-sock"), "{out}");
    assert!(
        out.contains("[TCP (ESTABLISHED)]  10.0.0.2:40000 -> 10.0.0.1:5432"),
        "{out}"
    );
    assert!(out.contains("[REG 7]  /var/log/srv.log"), "{out}");
    assert!(out.contains("[UNIXSK 5]  unix["), "{out}");
    assert!(out.contains("[9 (Zombie)]  defunct"), "{out}");
    let j: Value = json(dir.path(), &["inspect", "--all", "--format", "json", "ck"]);
    let socks = j[0]["sockets"][0]["open_sockets"].as_array().unwrap();
    assert_eq!(socks[0]["protocol"], "TCP");
    assert_eq!(socks[0]["data"]["src"], "::");
    assert_eq!(socks[0]["data"]["src_port"], 8443);
    assert_eq!(socks[2]["data"]["type"], "UNIX");
    assert_eq!(socks[2]["data"]["address"], "@abstract-sock");
    assert!(
        socks[2].get("protocol").is_none(),
        "empty protocol left out"
    );
    assert_eq!(j[0]["process_tree"]["environment_variables"]["K"], "V");
    assert_eq!(j[0]["process_tree"]["children"][0]["task_state"], "Zombie");
}

// ---------------------------------------------------------------- memparse

#[test]
fn memparse_table_matches_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let out = ok(&busybox(&f), &["memparse", "checkpoint.tar.gz"]);
    // checkpointctl's four columns, then ckptfs's SHARED MEMORY DUMPED.
    let cut = out
        .lines()
        .find_map(|l| l.find("SHARED MEMORY DUMPED"))
        .expect("the dumped-shared column");
    let four: String = out
        .lines()
        .map(|l| format!("{}\n", l.get(..cut).unwrap_or(l).trim_end()))
        .collect();
    assert_eq!(four, golden(&f, "memparse.txt"));
    // Shared memory: SHARED MEMORY SIZE is the mapped size of the MAP_SHARED mappings, as
    // checkpointctl has it; SHARED MEMORY DUMPED their dumped bytes (anonymous shared + memfd).
    let out = ok(&f, &["memparse", "secretd-shm/images"]);
    let row = |pid: &str| table_row(&out, pid);
    assert_eq!(
        row("8410")[2..],
        ["4.1 MiB", "1.1 MiB", "12.0 KiB"],
        "{out}"
    );
    assert_eq!(
        row("8414")[2..],
        ["116.0 KiB", "1.1 MiB", "12.0 KiB"],
        "{out}"
    );
}

#[test]
fn memparse_search_and_regex_match_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let d = busybox(&f);
    for (args, want) in [
        ("-p 1 -s PODBB -c 8", golden(&f, "memparse-pid1-search.txt")),
        (
            "-p 1 --search-regex POSTGRES_PASSWORD=[A-Za-z0-9_-]+",
            golden(&f, "memparse-pid1-regex.txt"),
        ),
        // Long options, no match.
        (
            "--pid 7 --search NOT-THERE-at-all",
            "No matches for pattern \"NOT-THERE-at-all\" in the memory of PID 7\n".to_string(),
        ),
    ] {
        let mut all = vec!["memparse"];
        all.extend(args.split(' '));
        all.push("checkpoint.tar.gz");
        assert_eq!(ok(&d, &all), want, "memparse {args}");
    }
    // Without -p: every process, with a PID column.
    let out = ok(
        &d,
        &[
            "memparse",
            "-s",
            "APP_TOKEN=PODBB-ENV-TOKEN-4c1d",
            "checkpoint.tar.gz",
        ],
    );
    let pids: Vec<&str> = out
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(pids, ["1", "6", "7"], "{out}");
}

enum HexLine {
    Bytes(u64, Vec<u8>),
    Star,
}

fn parse_hexdump(text: &str) -> Vec<HexLine> {
    let mut v = Vec::new();
    let mut started = false;
    for l in text.lines() {
        if l.starts_with("-----") {
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        if l == "*" {
            v.push(HexLine::Star);
            continue;
        }
        let addr = u64::from_str_radix(&l[..16], 16).unwrap();
        let hex = &l[18..18 + 48];
        let bytes = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        v.push(HexLine::Bytes(addr, bytes));
    }
    v
}

/// Every byte of a compact hexdump whose `*` means "identical lines up to the next line shown".
fn expand(lines: &[HexLine]) -> BTreeMap<u64, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut prev: Option<(u64, Vec<u8>)> = None;
    let mut star = false;
    for l in lines {
        match l {
            HexLine::Star => star = true,
            HexLine::Bytes(a, b) => {
                if star {
                    let (pa, pb) = prev.clone().unwrap();
                    let mut x = pa + 16;
                    while x < *a {
                        m.insert(x, pb.clone());
                        x += 16;
                    }
                    star = false;
                }
                m.insert(*a, b.clone());
                prev = Some((*a, b.clone()));
            }
        }
    }
    assert!(
        !star,
        "a dump never ends with *: the run's last line is shown"
    );
    m
}

#[test]
fn memparse_hexdump_against_checkpointctl() {
    let Some(f) = fixtures() else { return };
    let ours_text = ok(&busybox(&f), &["memparse", "-p", "1", "checkpoint.tar.gz"]);
    let gold_text = golden(&f, "memparse-pid1.txt");
    // Same heading and column header.
    let head = |t: &str| t.lines().take(5).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(head(&ours_text), head(&gold_text));
    let ours = parse_hexdump(&ours_text);
    let gold = parse_hexdump(&gold_text);
    let full = expand(&ours);
    // Ours covers exactly the dumped memory of PID 1: 72 KiB (the table says so too).
    assert_eq!(full.len() as u64 * 16, 72 * 1024);
    // Every line checkpointctl prints is in ours, with the same bytes.
    let mut shown = 0;
    for l in &gold {
        if let HexLine::Bytes(a, b) = l {
            assert_eq!(full.get(a), Some(b), "line {a:016x}");
            shown += 1;
        }
    }
    assert!(shown > 1000);
    // Ours collapses only identical lines.
    for w in ours.windows(2) {
        if let (HexLine::Bytes(a, x), HexLine::Bytes(b, y)) = (&w[0], &w[1])
            && b == &(a + 16)
        {
            assert_ne!(x, y, "{b:016x} repeats {a:016x} and should be a *");
        }
    }
    // DIFFERENCE: checkpointctl collapses a line into `*` when its ASCII column equals the
    // previous line's, so lines of different non-printable bytes vanish from its dump. Count
    // the lines it hid that differ from the line its `*` stands for; e.g. 0x4019d0.
    let mut hidden = Vec::new();
    let mut last: Option<(u64, Vec<u8>)> = None;
    let mut in_star = false;
    for l in &gold {
        match l {
            HexLine::Star => in_star = true,
            HexLine::Bytes(a, b) => {
                if in_star {
                    let (pa, pb) = last.clone().unwrap();
                    let mut x = pa + 16;
                    while x < *a && full.contains_key(&x) {
                        if full[&x] != pb {
                            hidden.push(x);
                        }
                        x += 16;
                    }
                    in_star = false;
                }
                last = Some((*a, b.clone()));
            }
        }
    }
    assert!(hidden.contains(&0x4019d0), "{hidden:x?}");
    assert!(ours_text.contains(
        "\n00000000004019d0  c5 f7 ff ff e8 c0 f7 ff ff e8 bb f7 ff ff e8 b6  |................|\n"
    ));
    assert!(
        hidden.len() > 10,
        "checkpointctl hid {} differing lines",
        hidden.len()
    );
}

#[test]
fn memparse_output_file() {
    let Some(f) = fixtures() else { return };
    let dir = TempDir::new("views");
    let file = dir.path().join("pid7.hex");
    let out = ok(
        &busybox(&f),
        &[
            "memparse",
            "-p",
            "7",
            "-o",
            file.to_str().unwrap(),
            "checkpoint.tar.gz",
        ],
    );
    assert_eq!(
        out,
        format!(
            "\nWriting memory pages content for process ID 7 from checkpoint: checkpoint.tar.gz to file: {}...\n",
            file.display()
        )
    );
    let text = std::fs::read_to_string(&file).unwrap();
    // As checkpointctl: every line written (no `*`), 60 KiB = 3840 lines plus the header.
    assert!(!text.lines().any(|l| l == "*"));
    assert_eq!(text.lines().count(), 2 + 60 * 1024 / 16);
    assert!(text.starts_with("Address           Hexadecimal"));
}

/// `(pid, address)` of every row of a `memparse -s` over all processes (a row of shared memory
/// lists every PID that maps it, `8410,8414`: one pair each).
fn hits(f: &Path, ck: &str, marker: &str) -> Vec<(u32, u64)> {
    let out = ok(f, &["memparse", "-s", marker, ck]);
    if out.starts_with("No matches") {
        return Vec::new();
    }
    out.lines()
        .skip(2)
        .flat_map(|l| {
            let mut w = l.split_whitespace();
            let pids = w.next().unwrap().to_string();
            let addr = u64::from_str_radix(w.next().unwrap(), 16).unwrap();
            pids.split(',')
                .map(|p| (p.parse().unwrap(), addr))
                .collect::<Vec<(u32, u64)>>()
        })
        .collect()
}

/// The secretd fixtures: every marker of the README where the README's READY line says it is.
#[test]
fn memparse_finds_every_secretd_marker_at_its_address() {
    let Some(f) = fixtures() else { return };
    for (case, ck) in [
        ("secretd-plain", "secretd-plain/images"),
        ("secretd-shm", "secretd-shm/images"),
        ("secretd-incremental", "secretd-incremental/images/dump"),
    ] {
        let readme = std::fs::read_to_string(f.join(case).join("README.md")).unwrap();
        let tag = readme
            .split("Subject: `secretd ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let ready = readme
            .lines()
            .find(|l| l.trim_start().starts_with("READY pid="))
            .unwrap();
        let field = |k: &str| -> String {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_string()
        };
        let hex = |k: &str| u64::from_str_radix(field(k).trim_start_matches("0x"), 16).unwrap();
        let (parent, child): (u32, u32) = (
            field("pid").parse().unwrap(),
            field("child").parse().unwrap(),
        );
        let at = |m: &str, pid: u32, addr: u64| {
            let h = hits(&f, ck, m);
            assert!(
                h.contains(&(pid, addr)),
                "{case}: {m} not at {pid}:{addr:#x}: {h:x?}"
            );
        };
        at(&format!("SECRETD-GLOBAL-{tag}"), parent, hex("global"));
        at(&format!("SECRETD-HEAP-{tag}"), parent, hex("heap"));
        at(&format!("SECRETD-STACK-{tag}"), parent, hex("stack"));
        at(&format!("SECRETD-PROTNONE-{tag}"), parent, hex("protnone"));
        if field("shm") != "(nil)" {
            for pid in [parent, child] {
                at(&format!("SECRETD-SHM-PARENT-{tag}"), pid, hex("shm"));
                at(
                    &format!("SECRETD-SHM-CHILD-{tag}"),
                    pid,
                    hex("shm") + 0x10000,
                );
                at(&format!("SECRETD-MEMFD-{tag}"), pid, hex("memfd"));
            }
        }
        // Markers the READY line gives no address for: in the right process, inside one of its
        // VMAs as /proc showed them.
        let t = truth(&f, case);
        let procs = truth_procs(&t);
        let in_vma = |pid: u32, addr: u64| -> bool {
            let p = procs.iter().find(|(x, _)| *x == pid).unwrap().1;
            p["vmas"].as_array().unwrap().iter().any(|v| {
                let s = hexnum(v["start"].as_str().unwrap());
                let e = hexnum(v["end"].as_str().unwrap());
                s <= addr && addr < e
            })
        };
        for (m, pid) in [
            (format!("SECRETD-THREAD1-{tag}"), parent),
            (format!("SECRETD-THREAD2-{tag}"), parent),
            (format!("SECRETD-CHILD-{tag}"), child),
        ] {
            let h = hits(&f, ck, &m);
            assert_eq!(h.len(), 1, "{case}: {m}: {h:x?}");
            assert_eq!(h[0].0, pid);
            assert!(in_vma(pid, h[0].1));
        }
        // The environment marker: in both processes, inside [env_start, env_end) of /proc's stat.
        let token = readme
            .split("SECRET_TOKEN=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let h = hits(&f, ck, &format!("SECRET_TOKEN={token}"));
        assert_eq!(h.len(), 2, "{case}: {h:x?}");
        for (pid, addr) in h {
            let p = procs.iter().find(|(x, _)| *x == pid).unwrap().1;
            let stat = p["stat"].as_str().unwrap();
            assert!(
                stat_field(stat, 50) <= addr && addr < stat_field(stat, 51),
                "{case} {pid}"
            );
        }
        // A clean file page is not in a checkpoint.
        assert!(hits(&f, ck, &format!("SECRETD-MAPPED-FILE-{tag}")).is_empty());
    }
}

#[test]
fn memparse_finds_the_podman_markers() {
    let Some(f) = fixtures() else { return };
    let ck = "podman-busybox/checkpoint.tar.gz";
    let t = truth(&f, "podman-busybox");
    for m in [
        "POSTGRES_PASSWORD=PODBB-secret_password-shared",
        "APP_TOKEN=PODBB-ENV-TOKEN-4c1d",
    ] {
        let h = hits(&f, ck, m);
        for (pid, p) in truth_procs(&t) {
            let stat = p["stat"].as_str().unwrap();
            let (lo, hi) = (stat_field(stat, 50), stat_field(stat, 51));
            assert!(
                h.iter().any(|&(x, a)| x == pid && lo <= a && a < hi),
                "{m} not in PID {pid}'s environment: {h:x?}"
            );
        }
    }
    // The shell variable: in PID 1's heap and in its command line.
    let h = hits(&f, ck, "PODBB-SHELL-VAR-MARKER-77e1");
    let (_, p1) = truth_procs(&t).into_iter().find(|(p, _)| *p == 1).unwrap();
    let heap = p1["vmas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == "[heap]")
        .unwrap();
    let (hs, he) = (
        hexnum(heap["start"].as_str().unwrap()),
        hexnum(heap["end"].as_str().unwrap()),
    );
    assert!(
        h.iter().any(|&(p, a)| p == 1 && hs <= a && a < he),
        "{h:x?}"
    );
    let stat = p1["stat"].as_str().unwrap();
    let (lo, hi) = (stat_field(stat, 48), stat_field(stat, 49));
    assert!(
        h.iter().any(|&(p, a)| p == 1 && lo <= a && a < hi),
        "{h:x?}"
    );
}

/// A marker written across a page boundary inside one pagemap entry, across two pagemap entries
/// of one pages file, and across a page of the parent dump and a page of this dump (two
/// separately-sourced extents): found, at its exact address, by string and by regex.
#[test]
fn memparse_finds_markers_across_page_entry_and_dump_boundaries() {
    const BASE: u64 = CROSS_BASE;
    let dir = TempDir::new("views");
    let all = cross_boundary_dump(dir.path(), 8 * PAGE, &[]);
    let m3 = all[2].0;
    for (m, at) in all {
        let s = std::str::from_utf8(m).unwrap();
        let out = ok(
            dir.path(),
            &["memparse", "-p", "1", "-s", s, "-c", "2", "dump"],
        );
        assert_eq!(
            out.lines().nth(2).unwrap(),
            format!(
                "{at:016x}   {}   1",
                if m == m3 {
                    format!("??{s}??")
                } else {
                    format!("..{s}..")
                }
            ),
            "{out}"
        );
        let re = format!("{}[0-9]+", &s[..s.len() - 4]);
        let out = ok(dir.path(), &["memparse", "-p", "1", "-r", &re, "dump"]);
        assert_eq!(
            out.lines().nth(2).unwrap(),
            format!("{at:016x}   {s}   1"),
            "{out}"
        );
    }
    // The hexdump shows the crossing bytes on both sides of the dump boundary.
    let out = ok(dir.path(), &["memparse", "-p", "1", "dump"]);
    assert!(out.contains(&format!("{:016x}", BASE + 5 * PAGE - 16)));
    assert!(out.contains("  |.....CROSS-DUMP-|\n"), "{out}");
    assert!(out.contains("  |MARKER-3333.....|\n"), "{out}");
}

// ---------------------------------------------------------------- errors

#[test]
fn errors_are_one_line_with_exit_code_2() {
    let Some(f) = fixtures() else { return };
    let d = busybox(&f);
    let e = fails(&d, &["inspect", "-p", "99", "checkpoint.tar.gz"]);
    assert!(
        e.contains("no process with PID 99") && e.contains("1, 6, 7"),
        "{e}"
    );
    let e = fails(&d, &["memparse", "-p", "99", "checkpoint.tar.gz"]);
    assert!(e.contains("no process with PID 99"), "{e}");
    fails(
        &d,
        &["memparse", "-p", "99", "-s", "x", "checkpoint.tar.gz"],
    );
    // Missing images: a pre-dump has no process tree, and the line says what to open instead.
    let e = fails(&f, &["show", "secretd-incremental/images/pre"]);
    assert!(e.contains("pstree.img"), "{e}");
    assert!(
        e.contains("CRIU pre-dump") && e.contains("`parent` link") && e.lines().count() == 1,
        "{e}"
    );
    let e = fails(&f, &["inspect", "no/such/checkpoint"]);
    assert!(e.contains("no/such/checkpoint"), "{e}");
    // Corrupt archives: truncated gzip, garbage.
    let dir = TempDir::new("views");
    let gz = std::fs::read(d.join("checkpoint.tar.gz")).unwrap();
    std::fs::write(dir.path().join("cut.tar.gz"), &gz[..gz.len() / 2]).unwrap();
    let e = fails(dir.path(), &["memparse", "cut.tar.gz"]);
    assert!(e.contains("cut.tar.gz"), "{e}");
    std::fs::write(dir.path().join("junk.tar"), vec![0x42u8; 5000]).unwrap();
    let e = fails(dir.path(), &["show", "junk.tar"]);
    assert!(e.contains("junk.tar"), "{e}");
    // Bad patterns.
    let e = fails(&d, &["memparse", "-r", "a(", "checkpoint.tar.gz"]);
    assert!(e.contains("invalid regular expression"), "{e}");
    fails(&d, &["memparse", "-s", "", "checkpoint.tar.gz"]);
    // Usage errors are one line too.
    fails(&d, &["memparse", "-s", "a", "-r", "b", "checkpoint.tar.gz"]);
    fails(&d, &["inspect", "--format", "yaml", "checkpoint.tar.gz"]);
    fails(&d, &["diff", "checkpoint.tar.gz"]);
}

#[test]
fn closed_stdout_is_not_an_error() {
    let Some(f) = fixtures() else { return };
    use std::io::Read;
    let cache = TempDir::new("views");
    let mut child = Command::new(common::ckptfs())
        .args(["memparse", "-p", "1", "checkpoint.tar.gz"])
        .current_dir(busybox(&f))
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .as_mut()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let st = child.wait().unwrap();
    assert!(st.success(), "{st:?} {err}");
    assert!(err.is_empty(), "{err}");
}

// ---------------------------------------------------------------- list

fn crio_layout(pod: &str, ns: &str, ctr: &str, checkpointed: &str) -> Layout {
    let config = serde_json::json!({
        "id": "f00d".repeat(16),
        "rootfsImageName": "registry.example/app:1",
        "runtime": "crun",
        "createdTime": "2026-11-28T09:00:00Z",
        "checkpointedTime": checkpointed,
    });
    let spec = serde_json::json!({
        "annotations": {
            "io.container.manager": "cri-o",
            "io.kubernetes.cri-o.Metadata": serde_json::json!({"name": ctr}).to_string(),
            "io.kubernetes.pod.name": pod,
            "io.kubernetes.pod.namespace": ns,
            "io.kubernetes.cri-o.IP.0": "10.244.1.7",
        },
        "mounts": [],
    });
    Layout::Podman {
        config_json: config.to_string(),
        spec_json: spec.to_string(),
    }
}

#[test]
fn list_kubelet_directory() {
    let Some(f) = fixtures() else { return };
    let dir = TempDir::new("views");
    let d = dir.path();
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("nginx");
    w.write_tar(
        &d.join("checkpoint-web-7d9f_prod-ns-nginx-2026-11-28T14:47:37Z.tar"),
        &crio_layout(
            "web-7d9f",
            "prod-ns",
            "nginx",
            "2026-11-28T14:47:37.123456Z",
        ),
        Compression::None,
    )
    .unwrap();
    w.write_tar(
        &d.join("checkpoint-db-0_data-pg-2026-11-29T01:02:03Z.tar.zst"),
        &crio_layout("db-0", "data", "pg", "2026-11-29T01:02:03Z"),
        Compression::Zstd,
    )
    .unwrap();
    // Podman's archive: no pod metadata, so pod / namespace come from the kubelet-style name.
    std::fs::copy(
        busybox(&f).join("checkpoint.tar.gz"),
        d.join("checkpoint-bb_default-fx-2026-11-28T14:50:00Z.tar.gz"),
    )
    .unwrap();
    std::fs::write(d.join("checkpoint-broken.tar"), b"not a tar").unwrap();
    std::fs::write(d.join("unrelated.tar"), b"x").unwrap();
    let r = ckptfs_in(d, &["list", "."]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.out,
        "Listing checkpoints in path: .\n\
         NAMESPACE   POD        CONTAINER    ENGINE   TIME CHECKPOINTED                        CHECKPOINT NAME\n\
         ---------   ---        ---------    ------   -----------------                        ---------------\n\
         default     bb         fx-busybox   Podman   2026-11-28T14:50:00Z (checkpoint name)   checkpoint-bb_default-fx-2026-11-28T14:50:00Z.tar.gz\n\
         data        db-0       pg           CRI-O    2026-11-29T01:02:03Z                     checkpoint-db-0_data-pg-2026-11-29T01:02:03Z.tar.zst\n\
         prod-ns     web-7d9f   nginx        CRI-O    2026-11-28T14:47:37Z                     checkpoint-web-7d9f_prod-ns-nginx-2026-11-28T14:47:37Z.tar\n"
    );
    assert!(
        r.err.contains("checkpoint-broken.tar: skipped"),
        "{}",
        r.err
    );
    // An empty directory; a missing one given explicitly is an error.
    let empty = TempDir::new("views");
    let out = ok(empty.path(), &["list", "."]);
    assert_eq!(out, "No checkpoints found in [.]\n");
    let e = fails(d, &["list", "does-not-exist"]);
    assert!(e.contains("does-not-exist"), "{e}");
}

/// `ck.tar` in a fresh directory: CRI-O's archive of pod `web-7d9f`'s `nginx` (one process),
/// checkpointed at `checkpointed`.
fn crio_nginx_tar(checkpointed: &str) -> TempDir {
    let dir = TempDir::new("views");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("nginx");
    w.write_tar(
        &dir.path().join("ck.tar"),
        &crio_layout("web-7d9f", "prod-ns", "nginx", checkpointed),
        Compression::None,
    )
    .unwrap();
    dir
}

#[test]
fn inspect_crio_metadata() {
    let dir = crio_nginx_tar("2026-11-28T14:47:37.5Z");
    let out = ok(dir.path(), &["inspect", "--metadata", "ck.tar"]);
    for l in [
        "\nnginx\n",
        "├── Image: registry.example/app:1\n",
        "├── Runtime: crun\n",
        "├── Created: 2026-11-28T09:00:00Z\n",
        "├── Checkpointed: 2026-11-28T14:47:37Z\n",
        "├── Engine: CRI-O\n",
        "├── IP: 10.244.1.7\n",
        "    ├── Pod name: web-7d9f\n",
        "    ├── Kubernetes namespace: prod-ns\n",
        "        ├── io.kubernetes.cri-o.IP.0: 10.244.1.7\n",
        // A JSON-valued annotation as a subtree, as checkpointctl shows it.
        "        ├── io.kubernetes.cri-o.Metadata\n        │   └── name: nginx\n",
    ] {
        assert!(out.contains(l), "missing {l:?} in\n{out}");
    }
    let j: Value = json(
        dir.path(),
        &["inspect", "--metadata", "--format", "json", "ck.tar"],
    );
    assert_eq!(j[0]["engine"], "CRI-O");
    assert_eq!(j[0]["ip"], "10.244.1.7");
    assert_eq!(j[0]["checkpointed"], "2026-11-28T14:47:37Z");
    assert_eq!(j[0]["metadata"]["pod_name"], "web-7d9f");
    assert_eq!(j[0]["metadata"]["kubernetes_namespace"], "prod-ns");
    assert!(j[0].get("networks").is_none());
}

/// checkpointctl prints `Checkpointed:` only when config.dump's checkpointedTime is set: Go's
/// zero time (a time never set) gives no line and no JSON field, and is no dump time elsewhere.
#[test]
fn inspect_go_zero_checkpointed_time() {
    let dir = crio_nginx_tar("0001-01-01T00:00:00Z");
    let out = ok(dir.path(), &["inspect", "ck.tar"]);
    assert!(
        out.contains("├── Created: 2026-11-28T09:00:00Z\n├── Engine: CRI-O\n"),
        "{out}"
    );
    assert!(!out.contains("Checkpointed"), "{out}");
    let j: Value = json(dir.path(), &["inspect", "--format", "json", "ck.tar"]);
    assert!(j[0].get("checkpointed").is_none(), "{j}");
    let l: Value = json(dir.path(), &["list", "--format", "json", "."]);
    assert_ne!(
        l[0]["checkpointed_from"], "config.dump checkpointedTime",
        "{l}"
    );
}

// ---------------------------------------------------------------- diff

const HEAP: u64 = 0x5555_0000_0000;
const DATA: u64 = 0x5000_0000_0000;
const NEW: u64 = 0x6000_0000_0000;

/// Checkpoint A, or B with known differences.
fn diff_subject(b: bool) -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    let page = |c: u8| vec![c; PAGE as usize];
    {
        let p = w.process(1, 0);
        p.comm(if b { "ash" } else { "sh" })
            .cmdline(&["/bin/sh", "-c", if b { "run-b" } else { "run-a" }])
            .environ(&if b {
                vec!["A=1", "B=3", "C=4"]
            } else {
                vec!["A=1", "B=2", "D=5"]
            })
            .heap(HEAP, 4 * PAGE)
            .pages(HEAP, b"heap")
            .vma(Vma::anon(DATA, 16 * PAGE).rw())
            .pages(DATA, &page(1))
            .pages(DATA + PAGE, &page(if b { 9 } else { 2 }))
            .pages(DATA + 2 * PAGE, &page(3))
            .fd(4, File::tcp_listen(8080));
        if b {
            p.stopped()
                .pages(DATA + 8 * PAGE, &page(8))
                .vma(Vma::anon(NEW, 2 * PAGE).rw())
                .pages(NEW, b"new")
                .fd(5, File::reg("/tmp/b"));
        } else {
            p.pages(DATA + 4 * PAGE, &page(4))
                .fd(3, File::reg("/tmp/a"));
        }
    }
    if b {
        w.process(3, 1).comm("late").cmdline(&["late"]);
    } else {
        w.process(2, 1).comm("gone").cmdline(&["gone"]);
    }
    w
}

#[test]
fn diff_two_synthetic_checkpoints() {
    let dir = TempDir::new("views");
    diff_subject(false)
        .write_dir(&dir.path().join("a"))
        .unwrap();
    diff_subject(true).write_dir(&dir.path().join("b")).unwrap();
    let j: Value = json(dir.path(), &["diff", "--format", "json", "a", "b"]);
    let pc = &j["process_changes"];
    assert_eq!(pc["added"][0]["pid"], 3);
    assert_eq!(pc["added"][0]["cmdline"], "late ");
    assert_eq!(pc["removed"][0]["pid"], 2);
    let ch = &pc["modified"][0];
    assert_eq!(ch["pid"], 1);
    let fields: BTreeMap<String, (String, String)> = ch["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().to_string(),
                (
                    c["a"].as_str().unwrap().to_string(),
                    c["b"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(fields["comm"], ("sh".into(), "ash".into()));
    assert_eq!(fields["state"], ("Alive".into(), "Stopped".into()));
    assert_eq!(
        fields["cmdline"],
        ("/bin/sh -c run-a ".into(), "/bin/sh -c run-b ".into())
    );
    assert_eq!(ch["environment"]["added"], serde_json::json!(["C=4"]));
    assert_eq!(ch["environment"]["removed"], serde_json::json!(["D=5"]));
    assert_eq!(
        ch["environment"]["changed"],
        serde_json::json!([{"name": "B", "a": "2", "b": "3"}])
    );
    // Files: fd 3 closed, fd 5 opened; the removed / added processes' cwd and root too.
    let fds = |k: &str| -> BTreeSet<(u64, String, String)> {
        j["file_changes"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["pid"].as_u64().unwrap(),
                    f["fd"].as_str().unwrap().to_string(),
                    f["path"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(fds("added").contains(&(1, "REG 5".into(), "/tmp/b".into())));
    assert!(fds("removed").contains(&(1, "REG 3".into(), "/tmp/a".into())));
    assert!(fds("added").iter().all(|f| f.0 == 1 || f.0 == 3));
    assert!(fds("removed").iter().all(|f| f.0 == 1 || f.0 == 2));
    // The listening socket is the same in both.
    assert_eq!(j["socket_changes"]["added"], serde_json::json!([]));
    assert_eq!(j["socket_changes"]["removed"], serde_json::json!([]));
    assert_eq!(j["socket_changes"]["unchanged"][0]["src_port"], 8080);
    // Memory: the DATA VMA has 1 changed page (DATA+1), 1 added (DATA+8), 1 removed (DATA+4);
    // the new VMA is added; the stack holds the changed command line and environment.
    let m = &j["memory_changes"]["processes"][0];
    assert_eq!(m["pid"], 1);
    let vma = |r: &str| {
        m["vmas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["range"] == r)
            .unwrap_or_else(|| panic!("no VMA {r} in {m}"))
            .clone()
    };
    let data = vma("500000000000-500000010000");
    assert_eq!(data["change"], "changed");
    assert_eq!(
        data["pages"],
        serde_json::json!({"changed": 1, "added": 1, "removed": 1, "unchanged": 2, "unreadable": 0})
    );
    let new = vma("600000000000-600000002000");
    assert_eq!(new["change"], "added");
    assert_eq!(new["pages"]["added"], 1);
    assert!(
        m["vmas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "[stack]" && v["pages"]["changed"].as_u64() >= Some(1))
    );
    assert!(
        m["vmas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != "[heap]"),
        "heap unchanged"
    );
    assert_eq!(j["counts"]["processes_added"], 1);
    assert_eq!(j["counts"]["processes_removed"], 1);
    assert_eq!(j["counts"]["processes_modified"], 1);
    assert_eq!(j["counts"]["pages_added"], 2);
    assert_eq!(j["counts"]["pages_removed"], 1);
    // checkpointctl's summary: text, a line per kind of change.
    let summary = j["summary"].as_str().unwrap();
    assert!(summary.starts_with("Checkpoint comparison for container "));
    assert!(summary.contains("\nProcesses: +1 -1 ~1"), "{summary}");
    // The tree says the same.
    let t = ok(dir.path(), &["diff", "a", "b"]);
    for l in [
        "║ Checkpoint Diff ",
        "┌─ Process Tree ─",
        "│   + PID 3     late",
        "│   - PID 2     gone",
        "│   ~ PID 1     ash",
        "┌─ File Descriptor Changes ─",
        "│   + PID 1     REG 5    /tmp/b",
        "│   - PID 1     REG 3    /tmp/a",
        "Process Details\n└── [1]  ash\n",
        "    ├── comm: \"sh\" -> \"ash\"",
        "    ├── state: \"Alive\" -> \"Stopped\"",
        "        ├── + C=4",
        "        ├── - D=5",
        "        └── ~ B: \"2\" -> \"3\"",
        "Summary:\nCheckpoint comparison for container (name not recorded)\nProcesses: +1 -1 ~1\n",
        "500000000000-500000010000 rw-p: 1 page changed, 1 added, 1 removed",
        "+ 600000000000-600000002000 rw-p: added, 4.0 KiB dumped",
    ] {
        assert!(t.contains(l), "missing {l:?} in\n{t}");
    }
    // A checkpoint compared with itself: nothing.
    let same: Value = json(dir.path(), &["diff", "--format", "json", "a", "a"]);
    let s = &same["counts"];
    for k in [
        "processes_added",
        "processes_removed",
        "processes_modified",
        "files_added",
        "files_removed",
        "pages_changed",
    ] {
        assert_eq!(s[k], 0, "{k}");
    }
}

#[test]
fn diff_socket_changes() {
    let dir = TempDir::new("views");
    let mut a = CheckpointWriter::new();
    a.process(1, 0)
        .comm("s")
        .fd(3, File::tcp_listen(80))
        .fd(4, File::udp(53));
    let mut b = CheckpointWriter::new();
    b.process(1, 0).comm("s").fd(3, File::tcp_listen(80)).fd(
        5,
        File::tcp_established([10, 0, 0, 2], 41000, [10, 0, 0, 9], 443),
    );
    a.write_dir(&dir.path().join("a")).unwrap();
    b.write_dir(&dir.path().join("b")).unwrap();
    let j: Value = json(dir.path(), &["diff", "--format", "json", "a", "b"]);
    let sc = &j["socket_changes"];
    assert_eq!(
        sc["removed"],
        serde_json::json!([{"pid": 1, "protocol": "UDP", "type": "UDP", "state": "CLOSE",
            "source": "0.0.0.0", "src_port": 53, "dest": "0.0.0.0", "fd": 4}])
    );
    assert_eq!(
        sc["added"],
        serde_json::json!([{"pid": 1, "protocol": "TCP", "type": "TCP", "state": "ESTABLISHED",
            "source": "10.0.0.2", "src_port": 41000, "dest": "10.0.0.9", "dst_port": 443, "fd": 5}])
    );
    assert_eq!(sc["unchanged"][0]["state"], "LISTEN");
    let t = ok(dir.path(), &["diff", "--show-unchanged", "a", "b"]);
    for l in [
        "│  +  1     TCP   ESTABLISHED  10.0.0.2:41000        10.0.0.9:443",
        "│  -  1     UDP   CLOSE        0.0.0.0:53            -",
        "│  =  1     TCP   LISTEN       0.0.0.0:80            -",
        "│ └── [= PID 1]  s",
        "\nSockets: +1 -1\n",
    ] {
        assert!(t.contains(l), "missing {l:?} in\n{t}");
    }
}

#[test]
fn diff_incremental_fixture() {
    let Some(f) = fixtures() else { return };
    // The pre-dumps of the incremental fixture have no pstree.img (CRIU's pre-dump saves memory
    // only): they are compared by memory only, see `diff_pre_dump_against_dump` below.
    // The final dump against itself (its pages resolved through two parents): no change.
    let j: Value = json(
        &f,
        &[
            "diff",
            "--format",
            "json",
            "secretd-incremental/images/dump",
            "secretd-incremental/images/dump",
        ],
    );
    assert_eq!(j["counts"]["pages_changed"], 0);
    assert_eq!(j["memory_changes"]["processes"], serde_json::json!([]));
    // Two different dumps of the same program: every marker page differs.
    let j: Value = json(
        &f,
        &[
            "diff",
            "--format",
            "json",
            "secretd-plain/images",
            "secretd-incremental/images/dump",
        ],
    );
    assert_eq!(j["process_changes"]["added"].as_array().unwrap().len(), 2);
    assert_eq!(j["process_changes"]["removed"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------- help, completions, man

#[test]
fn help_has_examples_and_completions_and_man_pages_are_generated() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in [
        "show",
        "inspect",
        "memparse",
        "list",
        "diff",
        "completions",
        "man",
    ] {
        let out = ok(here, &[sub, "--help"]);
        assert!(out.contains("Examples:\n  ckptfs "), "{sub} --help:\n{out}");
    }
    let top = ok(here, &["--help"]);
    for sub in [
        "show",
        "inspect",
        "memparse",
        "list",
        "diff",
        "completions",
        "man",
    ] {
        assert!(
            top.contains(&format!("  {sub} ")),
            "{sub} missing in:\n{top}"
        );
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ok(here, &["completions", shell]);
        assert!(
            out.contains("memparse") && out.contains("search-regex"),
            "{shell}"
        );
    }
    let man = ok(here, &["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH ckptfs"),
        "{man}"
    );
    assert!(man.contains("memparse"));
    let man = ok(here, &["man", "memparse"]);
    assert!(man.contains(".TH ckptfs-memparse 1"), "{man}");
    assert!(man.contains("search\\-regex"));
    let e = fails(here, &["man", "nope"]);
    assert!(e.contains("no subcommand \"nope\""), "{e}");
}

/// `cargo test --release --test it -- --ignored --nocapture views::search_speed`: writes a 2 GiB
/// checkpoint (pseudo-random pages, a marker across every 1 MiB pagemap batch boundary) and times
/// `memparse -s` and `-r` over it, end to end (load included).
#[test]
#[ignore]
fn search_speed_2gib() {
    use std::sync::Arc;
    use std::time::Instant;
    const BASE: u64 = 0x7f00_0000_0000;
    const PAGES: u64 = 512 * 1024; // 2 GiB
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("views-2gib");
    if !dir.join("ck/pstree.img").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f: ckptfs::writer::PageFn = Arc::new(|addr, buf: &mut [u8]| {
            let mut x = addr | 1;
            for c in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            if (addr + PAGE) % (1 << 20) == 0 {
                buf[PAGE as usize - 6..].copy_from_slice(b"NEEDLE");
            } else if addr % (1 << 20) == 0 {
                buf[..5].copy_from_slice(b"-MARK");
            }
        });
        let mut w = CheckpointWriter::new();
        w.process(1, 0)
            .comm("big")
            .vma(Vma::anon(BASE, PAGES * PAGE).rw())
            .pages_fn(BASE, PAGES, f);
        let t = Instant::now();
        w.write_dir(&dir.join("ck")).unwrap();
        eprintln!("wrote 2 GiB in {:?}", t.elapsed());
    }
    for args in [
        vec!["memparse", "-p", "1", "-s", "NEEDLE-MARK", "ck"],
        vec!["memparse", "-p", "1", "-r", "NEEDLE-MARK", "ck"],
        vec!["memparse", "-p", "1", "-r", "AKIA[0-9A-Z]{16}", "ck"],
        vec!["memparse", "ck"],
    ] {
        let _ = ckptfs_in(&dir, &args); // warm the page cache
        let t = Instant::now();
        let out = ok(&dir, &args);
        eprintln!(
            "{args:?}: {} lines in {:?}",
            out.lines().count(),
            t.elapsed()
        );
    }
}

// ---------------------------------------------------------------- diff with a pre-dump

/// The pages (page addresses) a memory index holds.
fn page_set(m: &ckptfs::model::Memory) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for e in m.extents() {
        let mut a = e.start & !(PAGE - 1);
        while a < e.end() {
            out.insert(a);
            a += PAGE;
        }
    }
    out
}

/// (changed, added, removed, unchanged) pages from `a` to `b`, counted byte by byte here (not with
/// the diff's code).
fn count_pages(a: &ckptfs::model::Memory, b: &ckptfs::model::Memory) -> [u64; 4] {
    let (sa, sb) = (page_set(a), page_set(b));
    let (mut changed, mut unchanged) = (0, 0);
    for &p in sa.intersection(&sb) {
        let (mut x, mut y) = (vec![0u8; PAGE as usize], vec![0u8; PAGE as usize]);
        a.read_at(p, &mut x).unwrap();
        b.read_at(p, &mut y).unwrap();
        if x == y {
            unchanged += 1;
        } else {
            changed += 1;
        }
    }
    [
        changed,
        sb.difference(&sa).count() as u64,
        sa.difference(&sb).count() as u64,
        unchanged,
    ]
}

/// The pre-dump's memory of every PID, loaded with the library.
fn pre_dump_memory(dir: &Path) -> BTreeMap<u32, ckptfs::model::Memory> {
    let src = ckptfs::source::open(dir, &ckptfs::source::OpenOptions::default()).unwrap();
    assert!(src.images.get("pstree.img").is_none());
    let mut w = ckptfs::warning::Warnings::new();
    let mut out = BTreeMap::new();
    for name in src.images.files.keys() {
        if let Some(pid) = name
            .strip_prefix("pagemap-")
            .and_then(|n| n.strip_suffix(".img"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            let m = ckptfs::model::pages::load(&src.images, name, &mut w)
                .unwrap()
                .unwrap();
            out.insert(pid, m);
        }
    }
    assert!(w.is_empty(), "{w:?}");
    out
}

fn full_dump(dir: &Path) -> ckptfs::model::Checkpoint {
    let src = ckptfs::source::open(dir, &ckptfs::source::OpenOptions::default()).unwrap();
    ckptfs::model::load::load(src).unwrap()
}

/// `checkpoint_a.total_size` of `diff --format json PATH PATH`.
fn j_total_size(cwd: &Path, path: &str) -> u64 {
    let j: Value = json(cwd, &["diff", "--format", "json", path, path]);
    j["checkpoint_a"]["total_size"].as_u64().unwrap()
}

#[test]
fn diff_pre_dump_against_dump() {
    let Some(f) = fixtures() else { return };
    let inc = f.join("secretd-incremental/images");
    let pre = pre_dump_memory(&inc.join("pre"));
    let dump = full_dump(&inc.join("dump"));
    assert_eq!(pre.keys().copied().collect::<Vec<_>>(), vec![8319, 8322]);
    // Expected numbers, counted independently per PID.
    let mut expect = BTreeMap::new();
    for (pid, m) in &pre {
        let q = dump.process(*pid).expect("PID in the dump");
        expect.insert(*pid, count_pages(m, &q.memory));
    }
    let total = |i: usize| expect.values().map(|c| c[i]).sum::<u64>();
    // The fixture README: every thread sat in pause() from before the pre-dump until it was
    // stopped, so no page changed between the pre-dump and the dump; the PROT_NONE page that the
    // dump stores PE_PRESENT (not PARENT) holds the same bytes as in the pre-dump.
    assert_eq!(expect[&8319], [0, 0, 0, expect[&8319][3]]);
    assert!(expect[&8319][3] > 1000, "{:?}", expect[&8319]);
    let protnone = |m: &ckptfs::model::Memory| {
        let mut b = vec![0u8; PAGE as usize];
        m.read_at(0x5ec3_0000_0000, &mut b).unwrap();
        b
    };
    let pn = protnone(&pre[&8319]);
    assert_eq!(pn, protnone(&dump.process(8319).unwrap().memory));
    assert!(pn.windows(19).any(|w| w == b"SECRETD-PROTNONE-B2"));

    let (a, b) = (
        "secretd-incremental/images/pre",
        "secretd-incremental/images/dump",
    );
    // Tree: exit 0, the header says A is a pre-dump, what it lacks is unknown, not a change.
    let t = ok(&f, &["diff", a, b]);
    assert!(
        t.contains(&format!(
            "Checkpoint A: {a}\n  Created: -\n  Size:    {} bytes\n  Pre-dump: memory only",
            j_total_size(&f, a)
        )),
        "{t}"
    );
    assert!(
        t.contains("Modified: unknown (A is a pre-dump, which records memory only)"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "\nPages: {} changed, {} added, {} removed\n",
            total(0),
            total(1),
            total(2)
        )) || total(0) + total(1) + total(2) == 0,
        "{t}"
    );
    // JSON.
    let j: Value = json(&f, &["diff", "--format", "json", a, b]);
    assert_eq!(j["memory_only"], true);
    assert_eq!(j["checkpoint_a"]["pre_dump"], true);
    assert_eq!(j["checkpoint_b"]["pre_dump"], false);
    assert_eq!(j["checkpoint_a"]["processes"], 2);
    assert_eq!(
        j["unknown"],
        serde_json::json!([
            "process_changes.modified",
            "file_changes",
            "socket_changes",
            "queued_data"
        ])
    );
    assert_eq!(j["process_changes"]["modified"], serde_json::json!([]));
    let pages = |c: [u64; 4]| {
        serde_json::json!({"changed": c[0], "added": c[1], "removed": c[2],
            "unchanged": c[3], "unreadable": 0})
    };
    assert_eq!(
        j["memory_changes"]["pages"],
        pages([total(0), total(1), total(2), total(3)])
    );
    assert_eq!(j["counts"]["pages_changed"], total(0));
    // PID 8319: no page changed, so it is not among the processes whose memory differs.
    assert!(
        !j["memory_changes"]["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == 8319),
        "{}",
        j["memory_changes"]
    );
    // Reversed: B is the pre-dump; added and removed swap.
    let t = ok(&f, &["diff", b, a]);
    assert!(t.contains("Modified: unknown (B is a pre-dump"), "{t}");
    let j: Value = json(&f, &["diff", "--format", "json", b, a]);
    assert_eq!(j["checkpoint_b"]["pre_dump"], true);
    assert_eq!(
        j["memory_changes"]["pages"],
        pages([total(0), total(2), total(1), total(3)])
    );
    // Two pre-dumps (pre2's pages are PARENT pages of pre): memory only, no VMAs, no change.
    let j: Value = json(
        &f,
        &[
            "diff",
            "--format",
            "json",
            a,
            "secretd-incremental/images/pre2",
        ],
    );
    assert_eq!(j["checkpoint_b"]["pre_dump"], true);
    assert_eq!(j["memory_changes"]["pages"]["unchanged"], total(3));
    assert_eq!(j["counts"]["pages_changed"], 0);
}

#[test]
fn diff_pre_dump_reports_changed_pages_per_vma() {
    let Some(f) = fixtures() else { return };
    let inc = f.join("secretd-incremental/images");
    // A copy of the pre-dump with one byte changed in the first page of PID 8319's pages file:
    // one changed page for 8319, attributed to the dump's VMA holding the first PRESENT page of
    // its pagemap.
    let tmp = TempDir::new("views");
    let pre = tmp.path().join("pre");
    std::fs::create_dir(&pre).unwrap();
    for e in std::fs::read_dir(inc.join("pre")).unwrap() {
        let e = e.unwrap();
        let data = std::fs::read(e.path()).unwrap();
        std::fs::write(pre.join(e.file_name()), data).unwrap();
    }
    let pm = std::fs::read(pre.join("pagemap-8319.img")).unwrap();
    let (pages_id, runs) = ckptfs::image::decode_pagemap("pagemap-8319.img", &pm).unwrap();
    let first = runs
        .iter()
        .find(|r| r.flags & PE_PRESENT != 0 && r.nr_pages > 0)
        .unwrap();
    let pages_name = format!("pages-{pages_id}.img");
    let mut pages = std::fs::read(pre.join(&pages_name)).unwrap();
    pages[100] ^= 0xff;
    std::fs::write(pre.join(&pages_name), pages).unwrap();
    let dump = full_dump(&inc.join("dump"));
    let vma = dump
        .process(8319)
        .unwrap()
        .vmas
        .iter()
        .find(|v| v.start <= first.vaddr && first.vaddr < v.end)
        .expect("the page is in a VMA of the dump");
    let range = format!("{:08x}-{:08x}", vma.start, vma.end);
    let j: Value = json(
        &f,
        &[
            "diff",
            "--format",
            "json",
            pre.to_str().unwrap(),
            "secretd-incremental/images/dump",
        ],
    );
    assert_eq!(j["counts"]["pages_changed"], 1);
    let procs = j["memory_changes"]["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{}", j["memory_changes"]);
    let p = &procs[0];
    assert_eq!(p["pid"], 8319);
    assert_eq!(p["pages"]["changed"], 1);
    assert_eq!(p["vmas"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["vmas"][0]["range"], range.as_str());
    assert_eq!(p["vmas"][0]["change"], "changed");
    assert_eq!(p["vmas"][0]["pages"]["changed"], 1);
    let t = ok(
        &f,
        &[
            "diff",
            pre.to_str().unwrap(),
            "secretd-incremental/images/dump",
        ],
    );
    assert!(t.contains(&format!("{range} ")), "{t}");
    assert!(t.contains("1 page changed"), "{t}");
}

// ---------------------------------------------------------------- partial archives

/// A Podman archive whose checkpoint/ lost its images (checkpointctl's test data): the metadata
/// is shown, exit 0, and one warning, after the output, says the images are missing.
#[test]
fn metadata_only_archive_shows_its_metadata() {
    let dir = TempDir::new("views");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("sh").cmdline(&["sh"]);
    let names: Vec<String> = w.encode_files().into_keys().collect();
    for n in &names {
        w.remove_file(n);
    }
    w.write_tar(
        &dir.path().join("meta.tar"),
        &Layout::podman("meta-only"),
        Compression::None,
    )
    .unwrap();
    for args in [
        &["show", "meta.tar"][..],
        &["inspect", "meta.tar"],
        &["inspect", "--all", "meta.tar"],
        &["inspect", "--format", "json", "meta.tar"],
    ] {
        let r = ckptfs_in(dir.path(), args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.err);
        assert!(r.out.contains("meta-only"), "{args:?}: {}", r.out);
        let warnings: Vec<&str> = r
            .err
            .lines()
            .filter(|l| l.contains("pstree.img is missing"))
            .collect();
        assert_eq!(warnings.len(), 1, "{args:?}: {}", r.err);
        let (all, code) = ckptfs_merged(dir.path(), args);
        assert_eq!(code, 0);
        let last = all.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with("ckptfs: warning: ") && !all.starts_with("ckptfs:"),
            "{args:?}: the warnings come after the output:\n{all}"
        );
    }
    let j: Value = json(dir.path(), &["inspect", "--format", "json", "meta.tar"]);
    assert_eq!(j[0]["container_name"], "meta-only");
    assert_eq!(j[0]["engine"], "Podman");
    // memparse has nothing to show: an error naming the missing image.
    let r = ckptfs_in(dir.path(), &["memparse", "meta.tar"]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(
        r.err
            .lines()
            .last()
            .unwrap_or("")
            .contains("pstree.img is missing"),
        "{}",
        r.err
    );
    // Without the engine's metadata an empty checkpoint/ is still not a checkpoint.
    let bare = dir.path().join("bare");
    std::fs::create_dir_all(bare.join("checkpoint")).unwrap();
    std::fs::write(bare.join("checkpoint/readme"), b"x").unwrap();
    let e = fails(dir.path(), &["show", "bare"]);
    assert!(e.contains("checkpoint/ holds neither"), "{e}");
}

/// `inspect --files` / `--sockets` on a checkpoint without the images that hold open files say
/// which are missing instead of showing no files silently.
#[test]
fn inspect_files_without_their_images_says_so() {
    let dir = TempDir::new("views");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .cmdline(&["sh"])
        .fd(3, File::reg("/tmp/x"));
    w.remove_file("files.img");
    w.write_dir(&dir.path().join("ck")).unwrap();
    for (flag, what) in [
        ("--files", "no open files can be shown"),
        ("--sockets", "no sockets can be shown"),
    ] {
        let r = ckptfs_in(dir.path(), &["inspect", flag, "ck"]);
        assert_eq!(r.code, 0, "{flag}: {}", r.err);
        assert!(
            r.err.contains("files.img is missing") && r.err.contains(what),
            "{flag}: {}",
            r.err
        );
    }
    // With its images: no such warning.
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("sh").fd(3, File::reg("/tmp/x"));
    w.write_dir(&dir.path().join("full")).unwrap();
    let r = ckptfs_in(dir.path(), &["inspect", "--files", "full"]);
    assert!(!r.err.contains("missing"), "{}", r.err);
    assert!(r.out.contains("/tmp/x"), "{}", r.out);
}

/// `inspect --sockets`: a socket held by several descriptors is one line with all of them, and
/// the buffer sizes are labelled as such (the implant's reverse shell: fds 0, 1, 2).
#[test]
fn inspect_lists_a_socket_once_with_its_fds() {
    let Some(fx) = common::fixtures() else { return };
    let d = fx.join("podman-implant");
    let tree = ok(&d, &["inspect", "--sockets", "checkpoint.tar.gz"]);
    let lines: Vec<&str> = tree
        .lines()
        .filter(|l| l.contains("127.0.0.1:53678 -> 127.0.0.1:4444"))
        .collect();
    assert_eq!(lines.len(), 1, "{tree}");
    assert!(
        lines[0].ends_with(
            "[TCP (ESTABLISHED)]  127.0.0.1:53678 -> 127.0.0.1:4444 (fds 0, 1, 2; buffer sizes: send 3.8 MB, recv 128.0 KB)"
        ),
        "{tree}"
    );
    assert!(!tree.contains('↑'), "{tree}");
    let json = ok(
        &d,
        &[
            "inspect",
            "--sockets",
            "--format",
            "json",
            "checkpoint.tar.gz",
        ],
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let sh = v[0]["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pid"] == 13)
        .expect("PID 13's sockets");
    assert_eq!(sh["open_sockets"].as_array().map(Vec::len), Some(1), "{sh}");
    assert_eq!(sh["open_sockets"][0]["fds"], serde_json::json!([0, 1, 2]));
    assert_eq!(sh["open_sockets"][0]["data"]["send_buf"], "3.8 MB");
}

/// `memparse -s` over every process: INSTANCE counts the matches of each process (1, 2, ...
/// again for the next PID), as it does for one process.
#[test]
fn memparse_instance_counts_per_process() {
    let Some(f) = fixtures() else { return };
    let out = ok(
        &busybox(&f),
        &["memparse", "-s", "PODBB-ENV-TOKEN", "checkpoint.tar.gz"],
    );
    let mut per_pid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in out.lines().skip(2) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        per_pid
            .entry(cols[0].to_string())
            .or_default()
            .push(cols[cols.len() - 1].to_string());
    }
    assert!(per_pid.len() > 1, "{out}");
    for (pid, inst) in &per_pid {
        let want: Vec<String> = (1..=inst.len()).map(|i| i.to_string()).collect();
        assert_eq!(inst, &want, "PID {pid}: {out}");
    }
}

#[test]
fn memparse_as_json() {
    let Some(f) = fixtures() else { return };
    let d = busybox(&f);
    // Sizes: checkpointctl's processes and sizes (72.0 KiB for sh), in bytes.
    let out = ok(&d, &["memparse", "--format", "json", "checkpoint.tar.gz"]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    let got: Vec<(u64, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["pid"].as_u64().unwrap(),
                r["comm"].as_str().unwrap(),
                r["memory_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "sh", 72 * 1024),
            (6, "httpd", 68 * 1024),
            (7, "sleep", 60 * 1024)
        ]
    );
    assert_eq!(rows[0]["shared_memory_size"], 0);
    // -p: the runs of dumped memory, adding up to the process's dumped memory.
    let out = ok(
        &d,
        &[
            "memparse",
            "--format",
            "jsonl",
            "-p",
            "1",
            "checkpoint.tar.gz",
        ],
    );
    let runs: Vec<Value> = json_lines(&out);
    assert!(!runs.is_empty());
    let mut total = 0;
    let mut prev_end = 0;
    for r in &runs {
        assert!(r["error"].is_null(), "{r}");
        let start =
            u64::from_str_radix(r["start"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let end =
            u64::from_str_radix(r["end"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(end - start, r["size"].as_u64().unwrap(), "{r}");
        assert!(start >= prev_end, "runs not in address order: {out}");
        prev_end = end;
        total += end - start;
    }
    assert_eq!(total, 72 * 1024);
    // Search: checkpointctl's addresses, matches and instances as rows.
    let out = ok(
        &d,
        &[
            "memparse",
            "--format",
            "json",
            "-p",
            "1",
            "-s",
            "PODBB",
            "-c",
            "8",
            "checkpoint.tar.gz",
        ],
    );
    let hits: Vec<Value> = serde_json::from_str(&out).unwrap();
    let want = golden(&f, "memparse-pid1-search.txt");
    let want: Vec<Vec<&str>> = want
        .lines()
        .skip(2)
        .map(|l| l.split("   ").map(str::trim).collect())
        .collect();
    assert_eq!(hits.len(), want.len(), "{out}");
    for (h, w) in hits.iter().zip(&want) {
        let addr = u64::from_str_radix(h["address"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
        assert_eq!(format!("{addr:016x}"), w[0]);
        assert_eq!(h["match"], w[1]);
        assert_eq!(h["instance"].to_string(), w[2]);
        assert_eq!(h["pid"], 1);
        assert_eq!(h["pids"], serde_json::json!([1]));
    }
}
