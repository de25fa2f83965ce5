//! `ckptfs scan` through the built binary: IOCs (and YARA rules when built with them) against the
//! fixtures' markers at the addresses their READMEs give, matches across pagemap-entry, parent-dump
//! and scan-window boundaries (writer-made checkpoints), shared-memory dedupe, bad rules and
//! patterns, a directory of mixed checkpoints, exit codes and the JSON field names. No FUSE.

use crate::common;
use common::cli::{Run, ckptfs_in, json_lines};
use common::writer::{CROSS_BASE, cross_boundary_dump};

use std::path::{Path, PathBuf};
use std::process::Command;

use ckptfs::writer::{CheckpointWriter, Compression, Layout, Vma};
use serde_json::Value;

const PAGE: u64 = 4096;

/// `ckptfs scan ARGS` in `cwd`, with a cache directory of its own.
fn scan(cwd: &Path, args: &[&str]) -> Run {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    ckptfs_in(cwd, &all)
}

/// `scan --format jsonl ARGS` in `cwd`, which must exit 1 (something found): the run and its
/// findings.
fn findings(cwd: &Path, args: &[&str]) -> (Run, Vec<Value>) {
    let mut all = vec!["--format", "jsonl"];
    all.extend_from_slice(args);
    let r = scan(cwd, &all);
    assert_eq!(r.code, 1, "{}", r.err);
    let v = json_lines(&r.out);
    (r, v)
}

/// (string, address, pids) of each finding.
fn hits(v: &[Value]) -> Vec<(String, String, Vec<u64>)> {
    v.iter()
        .map(|f| {
            (
                f["string"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
                f["pids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

fn fixture(name: &str) -> Option<PathBuf> {
    Some(common::fixtures()?.join(name))
}

/// The documented field names of a finding (docs/views.md).
const FIELDS: &[&str] = &[
    "checkpoint",
    "container",
    "where",
    "path",
    "sha256",
    "file",
    "pid",
    "comm",
    "address",
    "length",
    "mapping",
    "rule",
    "string",
    "context",
    "pids",
    "processes",
    "shared",
];

/// secretd-shm: every marker of the README at its address; the shared anonymous and memfd
/// markers once each, with both PIDs; the child's heap marker only in the child.
#[test]
fn secretd_shm_markers_at_their_addresses_shared_once() {
    let Some(fx) = fixture("secretd-shm") else {
        return;
    };
    let images = fx.join("images");
    let (_, v) = findings(
        &fx,
        &[
            "--regex",
            "SECRETD-[A-Z0-9-]+-D4",
            "--string",
            "SECRET_TOKEN=tok-shm-6b1f3e90",
            images.to_str().unwrap(),
        ],
    );
    // Each finding names the memory/ file of its first PID (shared memory: the lowest PID's,
    // which the tree holds; the others' are links to it), the VMA's range as its name.
    for f in &v {
        let start = f["mapping"].as_str().unwrap().split('-').next().unwrap();
        let path = f["path"].as_str().unwrap();
        assert!(
            path.starts_with(&format!("{}/memory/", f["pid"]))
                && path.trim_start_matches(|c| c != '/').contains(start),
            "{f}"
        );
        assert_eq!(f["where"], "memory", "{f}");
    }
    let h = hits(&v);
    let (parent, child) = (8410u64, 8414u64);
    // (marker, address, the PID lists of the findings there): private copies of a page (the
    // child was forked) are one finding per process, shared memory one finding for both.
    let want: &[(&str, &str, &[&[u64]])] = &[
        (
            "SECRETD-GLOBAL-D4",
            "0x559c95b76140",
            &[&[parent], &[child]],
        ),
        ("SECRETD-HEAP-D4", "0x559cd2fd22a0", &[&[parent], &[child]]),
        ("SECRETD-STACK-D4", "0x7ffdc57bfe70", &[&[parent], &[child]]),
        ("SECRETD-PROTNONE-D4", "0x5ec300000000", &[&[parent]]),
        (
            "SECRETD-SHM-PARENT-D4",
            "0x5ec100000000",
            &[&[parent, child]],
        ),
        (
            "SECRETD-SHM-CHILD-D4",
            "0x5ec100010000",
            &[&[parent, child]],
        ),
        ("SECRETD-MEMFD-D4", "0x5ec200000000", &[&[parent, child]]),
    ];
    for (marker, addr, pids) in want {
        let found: Vec<Vec<u64>> = h
            .iter()
            .zip(&v)
            .filter(|(h, f)| f["context"].as_str().unwrap().contains(marker) && h.1 == *addr)
            .map(|(h, _)| h.2.clone())
            .collect();
        let pids: Vec<Vec<u64>> = pids.iter().map(|p| p.to_vec()).collect();
        assert_eq!(found, pids, "{marker} at {addr}: {h:#?}");
    }
    // Shared memory: each marker reported once, naming the object and both processes.
    for f in &v {
        let ctx = f["context"].as_str().unwrap();
        if ctx.contains("SECRETD-SHM-") && f["address"].as_str().unwrap().starts_with("0x5ec1") {
            // CRIU 4.2 on kernel 6.18 records shared anonymous memory as a memfd of /dev/zero.
            let kind = f["shared"]["object"].as_str().unwrap().split(':').next();
            assert!(matches!(kind, Some("shmem" | "memfd")), "{f}");
            let ps = f["processes"].as_array().unwrap();
            assert_eq!(ps.len(), 2);
            assert!(ps.iter().all(|p| {
                p["mapping"]
                    .as_str()
                    .unwrap()
                    .starts_with("5ec100000000-5ec100100000 rw-s")
            }));
        }
    }
    assert_eq!(
        v.iter()
            .filter(|f| f["context"]
                .as_str()
                .unwrap()
                .contains("SECRETD-SHM-PARENT-D4")
                && f["address"] == "0x5ec100000000")
            .count(),
        1
    );
    // The child's heap marker: only in the child.
    assert!(
        h.iter()
            .any(|(s, _, p)| s.starts_with("SECRETD-") && p == &vec![child])
            && v.iter().any(
                |f| f["context"].as_str().unwrap().contains("SECRETD-CHILD-D4")
                    && f["pids"] == serde_json::json!([child])
            )
    );
    // The environment of both processes (on their stacks).
    let env: Vec<_> = h
        .iter()
        .filter(|(s, _, _)| s == "SECRET_TOKEN=tok-shm-6b1f3e90")
        .collect();
    assert!(
        env.iter().any(|(_, _, p)| p == &vec![parent])
            && env.iter().any(|(_, _, p)| p == &vec![child]),
        "{env:?}"
    );
    // Field names, in their documented order, on every finding.
    for f in &v {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = FIELDS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want);
        for p in f["processes"].as_array().unwrap() {
            let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["address", "comm", "mapping", "pid"]);
        }
        if !f["shared"].is_null() {
            let mut keys: Vec<&str> = f["shared"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, ["object", "offset"]);
        }
    }
}

/// The fixtures' archives: the environment markers of podman-busybox with the container name.
#[test]
fn podman_archive_with_container_name() {
    let Some(fx) = fixture("podman-busybox") else {
        return;
    };
    let r = scan(
        &fx,
        &[
            "--format",
            "json",
            "--string",
            "APP_TOKEN=PODBB-ENV-TOKEN-4c1d",
            "checkpoint.tar.gz",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let v = v.as_array().unwrap();
    assert!(!v.is_empty());
    for f in v {
        assert_eq!(f["container"], "fx-busybox");
        assert_eq!(f["checkpoint"], "checkpoint.tar.gz");
        assert_eq!(f["rule"], "string");
        assert_eq!(f["length"], 30);
        assert_eq!(f["shared"], Value::Null);
    }
    // Every process of the container has it in its environment.
    let mut pids: Vec<u64> = v.iter().filter_map(|f| f["pid"].as_u64()).collect();
    pids.dedup();
    assert!(pids.len() >= 2, "{pids:?}");
    // No match: exit 0, an empty array.
    let r = scan(
        &fx,
        &[
            "--format",
            "json",
            "--string",
            "NOT-THERE-4242",
            "checkpoint.tar.gz",
        ],
    );
    assert_eq!((r.code, r.out.as_str()), (0, "[]\n"), "{}", r.err);
}

/// Markers across a page boundary in one pagemap entry, across two pagemap entries, across a
/// parent-dump page and this dump's page, and across the scan's window boundary: found once, at
/// their addresses, by string and by regex.
#[test]
fn matches_across_entry_dump_and_window_boundaries() {
    const BASE: u64 = CROSS_BASE;
    const WINDOW: u64 = ckptfs::views::scan::WINDOW;
    let dir = tempfile::tempdir().unwrap();
    let all = cross_boundary_dump(
        dir.path(),
        WINDOW + 16 * PAGE,
        &[
            (b"CROSS-WINDOW-MARKER-4444", BASE + WINDOW - 7),
            // In the second window only.
            (b"AFTER-WINDOW-MARKER-5555", BASE + WINDOW + 100),
        ],
    );
    let mut args = Vec::new();
    for (m, _) in &all {
        let s = std::str::from_utf8(m).unwrap();
        args.extend(["--string".into(), s.into()]);
        args.extend(["--regex".into(), format!("{}[0-9]+", &s[..s.len() - 4])]);
    }
    args.push("dump".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (r, v) = findings(dir.path(), &args);
    assert_eq!(v.len(), 2 * all.len(), "{}", r.out);
    for (m, at) in all {
        let s = std::str::from_utf8(m).unwrap();
        for rule in ["string", "regex"] {
            let f: Vec<&Value> = v
                .iter()
                .filter(|f| f["rule"] == rule && f["context"].as_str().unwrap().contains(s))
                .collect();
            assert_eq!(f.len(), 1, "{rule} {s}: {}", r.out);
            assert_eq!(f[0]["address"], format!("{at:#x}"), "{rule} {s}");
            assert_eq!(f[0]["length"], m.len());
            assert_eq!(f[0]["pids"], serde_json::json!([1]));
            assert_eq!(
                f[0]["mapping"],
                format!("{BASE:x}-{:x} rw-p", BASE + WINDOW + 16 * PAGE)
            );
        }
    }
}

/// Bad patterns and bad IOC files: exit 2, the problem named, nothing scanned (no output).
#[test]
fn bad_patterns_scan_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("x")
        .vma(Vma::anon(0x1000_0000, 4 * PAGE).rw())
        .pages(0x1000_0000, b"MARKER");
    w.write_dir(&dir.path().join("ck")).unwrap();
    let r = scan(dir.path(), &["--string", "MARKER", "--regex", "a(", "ck"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.out, "");
    assert!(r.err.contains("invalid regular expression"), "{}", r.err);
    std::fs::write(dir.path().join("iocs.txt"), "MARKER\n\nre:[z-a]\n").unwrap();
    let r = scan(dir.path(), &["--ioc-file", "iocs.txt", "ck"]);
    assert_eq!((r.code, r.out.as_str()), (2, ""));
    assert!(
        r.err.contains("iocs.txt:3: invalid regular expression"),
        "{}",
        r.err
    );
    let r = scan(dir.path(), &["ck"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("nothing to look for"), "{}", r.err);
    let r = scan(dir.path(), &["--string", "MARKER", "missing"]);
    assert_eq!((r.code, r.out.as_str()), (2, ""));
    // The good ones work.
    std::fs::write(dir.path().join("iocs.txt"), "# iocs\nMARKER\n").unwrap();
    let r = scan(dir.path(), &["--ioc-file", "iocs.txt", "ck"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.out.starts_with("PID "), "{}", r.out);
    assert!(r.out.contains("0x10000000"), "{}", r.out);
}

/// A directory of mixed checkpoints (image directory, .tar, .tar.zst Podman archive, one in a
/// subdirectory, an unrelated file, a corrupt archive): every checkpoint scanned in order, the
/// corrupt one reported (exit 2) without stopping the others.
#[test]
fn a_directory_of_mixed_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("checkpoints");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let make = |marker: &str| {
        let mut w = CheckpointWriter::new();
        w.process(1, 0)
            .comm("app")
            .vma(Vma::anon(0x2000_0000, 4 * PAGE).rw())
            .pages(0x2000_0000 + 100, marker.as_bytes());
        w
    };
    make("MIXED-A-DIR").write_dir(&root.join("a-dir")).unwrap();
    make("MIXED-B-TAR")
        .write_tar(&root.join("b.tar"), &Layout::Bare, Compression::None)
        .unwrap();
    make("MIXED-C-ZST")
        .write_tar(
            &root.join("checkpoint-c.tar.zst"),
            &Layout::podman("ctr-c"),
            Compression::Zstd,
        )
        .unwrap();
    make("MIXED-D-SUB")
        .write_dir(&root.join("sub/d-dir"))
        .unwrap();
    std::fs::write(root.join("README.txt"), "not a checkpoint\n").unwrap();
    let (_, v) = findings(
        dir.path(),
        &["--regex", "MIXED-[A-Z]-[A-Z]+", "-j", "2", "checkpoints"],
    );
    let markers = ["MIXED-A-DIR", "MIXED-B-TAR", "MIXED-C-ZST", "MIXED-D-SUB"];
    let got: Vec<(String, String, Value)> = v
        .iter()
        .map(|f| {
            let ctx = f["context"].as_str().unwrap();
            (
                f["checkpoint"].as_str().unwrap().to_string(),
                markers
                    .iter()
                    .find(|m| ctx.contains(*m))
                    .map_or(String::new(), |m| m.to_string()),
                f["container"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "checkpoints/a-dir".into(),
                "MIXED-A-DIR".into(),
                Value::Null
            ),
            (
                "checkpoints/b.tar".into(),
                "MIXED-B-TAR".into(),
                Value::Null
            ),
            (
                "checkpoints/checkpoint-c.tar.zst".into(),
                "MIXED-C-ZST".into(),
                "ctr-c".into()
            ),
            (
                "checkpoints/sub/d-dir".into(),
                "MIXED-D-SUB".into(),
                Value::Null
            ),
        ]
    );
    assert!(v.iter().all(|f| f["address"] == "0x20000064"));
    // A corrupt archive among them: reported, the others still scanned, exit 2.
    std::fs::write(root.join("broken.tar.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    let r = scan(
        dir.path(),
        &[
            "--format",
            "jsonl",
            "--regex",
            "MIXED-[A-Z]-[A-Z]+",
            "checkpoints",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(json_lines(&r.out).len(), 4);
    assert!(r.err.contains("broken.tar.gz"), "{}", r.err);
}

/// `scan --help` has examples; the man page and completions know the subcommand.
#[test]
fn help_man_and_completions() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let r = ckptfs_in(here, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.err);
        r.out
    };
    let help = run(&["scan", "--help"]);
    assert!(help.contains("Examples:\n  ckptfs scan"), "{help}");
    assert!(
        help.contains("Exit status: 0 no match, 1 matches, 2 error"),
        "{help}"
    );
    assert!(run(&["--help"]).contains("  scan "));
    assert!(run(&["man", "scan"]).contains(".TH ckptfs-scan 1"));
    assert!(run(&["completions", "bash"]).contains("ioc-file"));
}

/// podman-kitchen: SysV shm, /dev/shm (pages from Podman's devshm-checkpoint.tar) and memfd
/// markers, at the offsets its README gives, each once with both processes that map them; the
/// private anonymous marker once per process.
#[test]
fn kitchen_shared_memory_of_every_kind_once() {
    let Some(fx) = fixture("podman-kitchen") else {
        return;
    };
    let (r, v) = findings(
        &fx,
        &[
            "-c",
            "0",
            "--regex",
            "KITCHEN-(SYSV|DEVSHM|MEMFD|ANON)-s1",
            "checkpoint.tar.gz",
        ],
    );
    let got: Vec<(String, String, Value, Value)> = v
        .iter()
        .map(|f| {
            (
                f["context"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
                f["pids"].clone(),
                f["shared"]["object"]
                    .as_str()
                    .map(|o| o.split(':').next().unwrap().into())
                    .unwrap_or(Value::Null),
            )
        })
        .collect();
    let both = serde_json::json!([6, 7]);
    let want: Vec<(String, String, Value, Value)> = [
        (
            "KITCHEN-SYSV-s1",
            "0x4b1000000000",
            both.clone(),
            "sysv".into(),
        ),
        (
            "KITCHEN-SYSV-s1",
            "0x4b1000008000",
            both.clone(),
            "sysv".into(),
        ),
        (
            "KITCHEN-DEVSHM-s1",
            "0x4b1100000000",
            both.clone(),
            "file".into(),
        ),
        (
            "KITCHEN-DEVSHM-s1",
            "0x4b1100002000",
            both.clone(),
            "file".into(),
        ),
        (
            "KITCHEN-MEMFD-s1",
            "0x4b1200000000",
            both.clone(),
            "memfd".into(),
        ),
        (
            "KITCHEN-MEMFD-s1",
            "0x4b1200001000",
            both.clone(),
            "memfd".into(),
        ),
        (
            "KITCHEN-ANON-s1",
            "0x4b1300000000",
            serde_json::json!([6]),
            Value::Null,
        ),
        (
            "KITCHEN-ANON-s1",
            "0x4b130000c000",
            serde_json::json!([6]),
            Value::Null,
        ),
        (
            "KITCHEN-ANON-s1",
            "0x4b1300000000",
            serde_json::json!([7]),
            Value::Null,
        ),
        (
            "KITCHEN-ANON-s1",
            "0x4b130000c000",
            serde_json::json!([7]),
            Value::Null,
        ),
    ]
    .into_iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c, d))
    .collect();
    assert_eq!(got, want, "{}", r.out);
}

/// deploy/: the manifests parse (python3's PyYAML, installed by scripts/deps.sh), have the shape
/// docs/fleet.md promises (read-only hostPath, no privileges, no network, one pod per node), and
/// the exact command the Job runs passes over a directory of the fixtures laid out as a node's
/// /var/lib/kubelet/checkpoints, with the ConfigMap's rules and IOCs.
#[test]
fn deploy_job_parses_and_its_command_runs_over_fixtures() {
    let Some(fx) = common::fixtures() else {
        return;
    };
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(here.join("deploy/scan-job.yaml"))
        .unwrap()
        .replace("__NODES__", "3");
    let py = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))";
    let child = Command::new("python3")
        .args(["-c", py])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        common::skip("python3 is not installed (scripts/deps.sh installs python3-yaml)");
        return;
    };
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(yaml.as_bytes()).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("No module named 'yaml'") {
        common::skip("PyYAML is missing (scripts/deps.sh installs python3-yaml)");
        return;
    }
    assert!(
        o.status.success(),
        "deploy/scan-job.yaml does not parse: {err}"
    );
    let docs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "Job", "NetworkPolicy"]);
    let (cm, job, np) = (&docs[0], &docs[1], &docs[2]);
    // One pod per node, findings (exit 1) not retried.
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 3);
    assert_eq!(job["spec"]["parallelism"], 3);
    let rule = &job["spec"]["podFailurePolicy"]["rules"][0];
    assert_eq!(rule["action"], "FailIndex");
    assert_eq!(rule["onExitCodes"]["values"], serde_json::json!([1]));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    for k in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(pod[k].is_null() || pod[k] == false, "{k}");
    }
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(sc["capabilities"]["add"].is_null());
    let vol = |name: &str| {
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        vol("checkpoints")["hostPath"]["path"],
        "/var/lib/kubelet/checkpoints"
    );
    assert_eq!(vol("rules")["configMap"]["name"], cm["metadata"]["name"]);
    let mounts = c["volumeMounts"].as_array().unwrap();
    let ck_mount = mounts.iter().find(|m| m["name"] == "checkpoints").unwrap();
    assert_eq!(ck_mount["readOnly"], true);
    // hostPath volumes: only the checkpoints, read-only.
    let host: Vec<&Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v["hostPath"].is_null())
        .collect();
    assert_eq!(host.len(), 1);
    // No network: the policy selects the pods and allows nothing.
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"],
        job["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(
        np["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert!(np["spec"]["ingress"].is_null() && np["spec"]["egress"].is_null());
    // The image's entry point is the command's binary.
    let containerfile = std::fs::read_to_string(here.join("deploy/Containerfile")).unwrap();
    let cmd: Vec<String> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        containerfile.contains(&format!(
            "COPY --from=build /src/target/release/ckptfs {}",
            cmd[0]
        )),
        "{}",
        cmd[0]
    );

    // A node: the ConfigMap's files, a checkpoint directory with the fixtures, a cache.
    let node = tempfile::tempdir().unwrap();
    let etc = node.path().join("etc/ckptfs");
    std::fs::create_dir_all(&etc).unwrap();
    for (name, text) in cm["data"].as_object().unwrap() {
        std::fs::write(etc.join(name), text.as_str().unwrap()).unwrap();
    }
    let cks = node.path().join("var/lib/kubelet/checkpoints");
    std::fs::create_dir_all(&cks).unwrap();
    let link = |from: PathBuf, name: &str| {
        std::os::unix::fs::symlink(from, cks.join(name)).unwrap();
    };
    link(
        fx.join("podman-busybox/checkpoint.tar.gz"),
        "checkpoint-busybox_default-fx-busybox-2026-11-28T10:00:00Z.tar.gz",
    );
    link(
        fx.join("secretd-shm/images"),
        "checkpoint-secretd_default-secretd-2026-11-28T10:00:00Z",
    );
    let mapped: Vec<String> = cmd[1..]
        .iter()
        .map(|a| {
            for prefix in ["/etc/ckptfs", "/var/lib/kubelet/checkpoints", "/cache"] {
                if let Some(rest) = a.strip_prefix(prefix) {
                    return format!("{}{prefix}{rest}", node.path().display());
                }
            }
            a.clone()
        })
        .collect();
    let o = Command::new(common::ckptfs())
        .args(&mapped)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    if !cfg!(feature = "yara") {
        // Built without YARA-X (CI's default, see Cargo.toml): `--rules` is refused up front.
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("built without YARA support"), "{err}");
        assert_eq!(out, "");
        return;
    }
    assert_eq!(o.status.code(), Some(1), "{err}");
    let v = json_lines(&out);
    let has = |ck: &str, rule: &str, text: &str| {
        v.iter().any(|f| {
            f["checkpoint"].as_str().unwrap().contains(ck)
                && f["rule"] == rule
                && f["context"].as_str().unwrap().contains(text)
        })
    };
    assert!(has(
        "busybox",
        "env_secret",
        "POSTGRES_PASSWORD=PODBB-secret_password-shared"
    ));
    assert!(has(
        "busybox",
        "env_secret",
        "APP_TOKEN=PODBB-ENV-TOKEN-4c1d"
    ));
    assert!(has(
        "secretd",
        "env_secret",
        "SECRET_TOKEN=tok-shm-6b1f3e90"
    ));
    assert!(
        v.iter()
            .all(|f| f["address"].as_str().unwrap().starts_with("0x"))
    );
}

/// YARA rules (YARA-X): the secretd-shm markers at their addresses with rule and string
/// identifiers, shared memory once; a condition-only rule once per VMA; a directory of rules.
#[cfg(feature = "yara")]
#[test]
fn yara_rules_against_secretd_shm() {
    let Some(fx) = fixture("secretd-shm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("more")).unwrap();
    std::fs::write(
        rules.join("a.yar"),
        r#"
rule secretd_markers : marker
{
  strings:
    $shm = "SECRETD-SHM-PARENT-D4"
    $memfd = /SECRETD-MEMFD-D[0-9]/
    $protnone = "SECRETD-PROTNONE-D4" ascii
  condition:
    any of them
}
"#,
    )
    .unwrap();
    std::fs::write(
        rules.join("more/b.yara"),
        "rule heap_marker { strings: $h = \"SECRETD-HEAP-D4\" condition: $h }\n",
    )
    .unwrap();
    std::fs::write(rules.join("README.txt"), "not a rule file\n").unwrap();
    let images = fx.join("images");
    let (r, v) = findings(dir.path(), &["--rules", "rules", images.to_str().unwrap()]);
    let got: Vec<(String, String, String, Value)> = v
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["string"].as_str().unwrap().into(),
                f["address"].as_str().unwrap().into(),
                f["pids"].clone(),
            )
        })
        .collect();
    let row =
        |r: &str, s: &str, a: &str, p: Value| (r.to_string(), s.to_string(), a.to_string(), p);
    let both = serde_json::json!([8410, 8414]);
    assert_eq!(
        got,
        vec![
            row(
                "heap_marker",
                "$h",
                "0x559cd2fd22a0",
                serde_json::json!([8410])
            ),
            row("secretd_markers", "$shm", "0x5ec100000000", both.clone()),
            row("secretd_markers", "$memfd", "0x5ec200000000", both.clone()),
            row(
                "secretd_markers",
                "$protnone",
                "0x5ec300000000",
                serde_json::json!([8410])
            ),
            row(
                "heap_marker",
                "$h",
                "0x559cd2fd22a0",
                serde_json::json!([8414])
            ),
        ],
        "{}",
        r.out
    );
}

/// YARA rules see the same contiguous bytes as the IOCs: matches across a pagemap entry and a
/// parent-dump boundary at their addresses; a rule without strings once per VMA.
#[cfg(feature = "yara")]
#[test]
fn yara_rules_across_entry_and_dump_boundaries() {
    const BASE: u64 = CROSS_BASE;
    let dir = tempfile::tempdir().unwrap();
    let all = cross_boundary_dump(dir.path(), 8 * PAGE, &[]);
    let (at2, at3) = (all[1].1, all[2].1);
    std::fs::write(
        dir.path().join("r.yar"),
        "rule cross { strings: $e = \"CROSS-ENTRY-MARKER-2222\" $d = /CROSS-DUMP-MARKER-[0-9]{4}/ condition: all of them }\n\
         rule dots { condition: uint32(0) == 0x2e2e2e2e }\n",
    )
    .unwrap();
    let (r, v) = findings(dir.path(), &["--rules", "r.yar", "dump"]);
    let got: Vec<(String, String, String, u64)> = v
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["string"].as_str().unwrap().into(),
                f["address"].as_str().unwrap().into(),
                f["length"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("dots".into(), "".into(), format!("{BASE:#x}"), 0),
            ("cross".into(), "$e".into(), format!("{at2:#x}"), 23),
            ("cross".into(), "$d".into(), format!("{at3:#x}"), 22),
        ],
        "{}",
        r.out
    );
}

/// A bad rule: the compiler's error with file, line and column, exit 2, nothing scanned.
#[test]
fn bad_rules_scan_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("x")
        .vma(Vma::anon(0x1000_0000, 4 * PAGE).rw())
        .pages(0x1000_0000, b"MARKER");
    w.write_dir(&dir.path().join("ck")).unwrap();
    std::fs::write(
        dir.path().join("bad.yar"),
        "rule ok { strings: $a = \"MARKER\" condition: $a }\n\nrule broken {\n  strings:\n    $a = \"x\"\n  condition:\n    $b\n}\n",
    )
    .unwrap();
    let r = scan(
        dir.path(),
        &["--string", "MARKER", "--rules", "bad.yar", "ck"],
    );
    assert_eq!((r.code, r.out.as_str()), (2, ""), "{}", r.err);
    if cfg!(feature = "yara") {
        // The undefined `$b` on line 7, column 5.
        assert!(r.err.contains("bad.yar:7:5: error["), "{}", r.err);
        assert!(r.err.contains("nothing scanned"), "{}", r.err);
        assert!(
            r.err.lines().all(|l| l.starts_with("ckptfs: ")),
            "{}",
            r.err
        );
    } else {
        assert!(r.err.contains("built without YARA support"), "{}", r.err);
    }
    let r = scan(dir.path(), &["--rules", "missing.yar", "ck"]);
    assert_eq!((r.code, r.out.as_str()), (2, ""), "{}", r.err);
}

/// `--rootfs-files`: the files of rootfs/ (here rootfs-diff.tar's) scanned too, reported by path
/// with the offset in the file; without it, only memory.
#[test]
fn rootfs_files_by_path() {
    let Some(fx) = fixture("podman-busybox") else {
        return;
    };
    let args = |extra: &[&'static str]| {
        let mut a = vec!["--string", "PODBB-ROOTFS-DIFF-FILE-MARKER"];
        a.extend_from_slice(extra);
        a.push("checkpoint.tar.gz");
        a
    };
    let (r, v) = findings(&fx, &args(&["--rootfs-files"]));
    let files: Vec<&Value> = v.iter().filter(|f| !f["file"].is_null()).collect();
    assert_eq!(files.len(), 1, "{}", r.out);
    let f = files[0];
    assert_eq!(f["file"], "/data/written-at-runtime.txt");
    assert_eq!(f["address"], "0x0");
    assert_eq!(f["pid"], Value::Null);
    assert_eq!(f["where"], "rootfs");
    assert_eq!(f["path"], "rootfs/data/written-at-runtime.txt");
    assert_eq!(f["pids"], serde_json::json!([]));
    assert_eq!(f["length"], 29);
    // The script that wrote it is in the shell's memory: found both ways, never as a file.
    let (r, v) = findings(&fx, &args(&[]));
    let memory: Vec<&Value> = v.iter().filter(|f| f["where"] == "memory").collect();
    assert!(
        !memory.is_empty()
            && memory
                .iter()
                .all(|f| f["pid"] == 1 && f["path"].as_str().unwrap().starts_with("1/memory/")),
        "{}",
        r.out
    );
    assert!(
        v.iter()
            .all(|f| f["file"].is_null() && f["where"] != "rootfs"),
        "{}",
        r.out
    );
}

/// The checkpoint's metadata files are scanned as the tree shows them (`checkpoint/NAME`): the
/// command that wrote the file is in config.dump and spec.dump; every finding carries the
/// archive's SHA-256 and, outside memory, no PID.
#[test]
fn metadata_files_and_the_input_hash() {
    let Some(fx) = fixture("podman-busybox") else {
        return;
    };
    let (r, v) = findings(
        &fx,
        &[
            "--string",
            "PODBB-ROOTFS-DIFF-FILE-MARKER",
            "checkpoint.tar.gz",
        ],
    );
    let sha = common::sha256sum(&fx.join("checkpoint.tar.gz").to_string_lossy());
    assert!(v.iter().all(|f| f["sha256"] == sha.as_str()), "{}", r.out);
    let mut paths: Vec<&str> = v
        .iter()
        .filter(|f| f["where"] == "checkpoint")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.dedup();
    assert_eq!(
        paths,
        ["checkpoint/config.dump", "checkpoint/spec.dump"],
        "{}",
        r.out
    );
    for f in v.iter().filter(|f| f["where"] != "memory") {
        assert_eq!(f["pid"], Value::Null, "{f}");
        assert_eq!(f["pids"], serde_json::json!([]), "{f}");
    }
    // The container log: Podman's ctr.log holds what PID 1 printed, and only it.
    let (r, v) = findings(&fx, &["--string", "stdout F READY", "checkpoint.tar.gz"]);
    assert!(
        v.len() == 1 && v[0]["path"] == "checkpoint/ctr.log" && v[0]["address"] == "0x24",
        "{}",
        r.out
    );
}

/// A member of a scanned directory that is an archive but not a checkpoint is one error line with
/// one `ckptfs:` prefix; the checkpoints beside it are still scanned (exit 2).
#[test]
fn a_bad_member_is_one_line_with_one_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cks");
    std::fs::create_dir(&root).unwrap();
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("app")
        .cmdline(&["/app"])
        .environ(&["HOME=/"])
        .vma(Vma::anon(0x7000_0000, 0x1000))
        .pages(0x7000_0000, b"PREFIX-MARKER-OK");
    w.write_tar(
        &root.join("good.tar"),
        &Layout::podman("good"),
        Compression::None,
    )
    .unwrap();
    // A tar archive with no CRIU images in it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "notes.txt", &b"abc"[..]).unwrap();
    std::fs::write(root.join("other.tar"), b.into_inner().unwrap()).unwrap();
    let r = scan(dir.path(), &["--string", "PREFIX-MARKER-OK", "cks"]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.out.contains("PREFIX-MARKER-OK"), "{}", r.out);
    let lines: Vec<&str> = r.err.lines().filter(|l| l.contains("other.tar")).collect();
    assert_eq!(lines.len(), 1, "{}", r.err);
    assert!(
        lines[0].starts_with("ckptfs: ") && !lines[0].starts_with("ckptfs: ckptfs:"),
        "{}",
        r.err
    );
}

/// podman-kitchen: the data nobody had read (pipe, FIFO, socketpair, unix and TCP connections)
/// is found in the `buffers/` file that holds it, at offset 0, once each, with no PID.
#[test]
fn unread_pipe_and_socket_data_in_buffers() {
    let Some(fx) = fixture("podman-kitchen") else {
        return;
    };
    let markers = [
        ("KITCHEN-PIPEBUF-s1", "buffers/pipe-"),
        ("KITCHEN-FIFOBUF-s1", "buffers/fifo-"),
        ("KITCHEN-UNIXPAIR-s1", "buffers/unix-"),
        ("KITCHEN-UNIXQ-s1", "buffers/unix-"),
        ("KITCHEN-TCPQ-s1", "buffers/tcp-"),
    ];
    let mut args = Vec::new();
    for (m, _) in &markers {
        args.extend(["--string", m]);
    }
    args.push("checkpoint.tar.gz");
    let (r, v) = findings(&fx, &args);
    for (m, prefix) in markers {
        let b: Vec<&Value> = v
            .iter()
            .filter(|f| f["string"] == m && f["where"] == "buffer")
            .collect();
        assert_eq!(b.len(), 1, "{m}: {}", r.out);
        let path = b[0]["path"].as_str().unwrap();
        assert!(path.starts_with(prefix), "{m}: {path}");
        assert_eq!(b[0]["address"], "0x0", "{m}");
        assert_eq!(b[0]["pid"], Value::Null, "{m}");
    }
    assert!(v.iter().any(
        |f| f["path"].as_str().unwrap().ends_with(".recv") && f["string"] == "KITCHEN-TCPQ-s1"
    ));
    // The table names the file where the mapping goes.
    let r = scan(
        &fx,
        &["--string", "KITCHEN-PIPEBUF-s1", "checkpoint.tar.gz"],
    );
    assert!(
        r.out
            .lines()
            .any(|l| l.contains("buffers/pipe-") && l.starts_with('-')),
        "{}",
        r.out
    );
}

/// `--diff A B`: a marker at the same address in both is no difference; one only in B is `new`,
/// one only in A is `gone`, one that moved is both; exit 1. The two consecutive dumps of
/// podman-implant's frozen container hold the same markers at the same places: exit 0, nothing.
#[test]
fn diff_reports_new_and_gone_findings() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pages: &[(u64, &[u8])]| {
        let mut w = CheckpointWriter::new();
        let p = w
            .process(1, 0)
            .comm("app")
            .cmdline(&["/app"])
            .environ(&["HOME=/"])
            .vma(Vma::anon(0x7000_0000, 0x4000));
        for (a, b) in pages {
            p.pages(*a, b);
        }
        w.write_tar(
            &dir.path().join(name),
            &Layout::podman("app"),
            Compression::None,
        )
        .unwrap();
    };
    write(
        "a.tar",
        &[
            (0x7000_0000, b"DIFFMARK-KEPT"),
            (0x7000_1000, b"DIFFMARK-GONE"),
            (0x7000_2000, b"DIFFMARK-MOVED"),
        ],
    );
    write(
        "b.tar",
        &[
            (0x7000_0000, b"DIFFMARK-KEPT"),
            (0x7000_2100, b"DIFFMARK-MOVED"),
            (0x7000_3000, b"DIFFMARK-NEW"),
        ],
    );
    let (r, v) = findings(
        dir.path(),
        &[
            "--diff",
            "--string",
            "DIFFMARK-KEPT",
            "--string",
            "DIFFMARK-GONE",
            "--string",
            "DIFFMARK-MOVED",
            "--string",
            "DIFFMARK-NEW",
            "a.tar",
            "b.tar",
        ],
    );
    let got: Vec<(String, String, String, String)> = v
        .iter()
        .map(|f| {
            let word = f["string"].as_str().unwrap().to_string();
            (
                f["change"].as_str().unwrap().to_string(),
                f["checkpoint"].as_str().unwrap().to_string(),
                word,
                f["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |c: &str, ck: &str, w: &str, a: &str| {
        (c.to_string(), ck.to_string(), w.to_string(), a.to_string())
    };
    assert_eq!(
        got,
        [
            row("new", "b.tar", "DIFFMARK-MOVED", "0x70002100"),
            row("new", "b.tar", "DIFFMARK-NEW", "0x70003000"),
            row("gone", "a.tar", "DIFFMARK-GONE", "0x70001000"),
            row("gone", "a.tar", "DIFFMARK-MOVED", "0x70002000"),
        ],
        "{}",
        r.out
    );
    // Not two checkpoints: a usage error.
    let r = scan(dir.path(), &["--diff", "--string", "DIFFMARK", "a.tar"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("--diff"), "{}", r.err);
    // Without --diff, no `change` field.
    let r = scan(
        dir.path(),
        &["--format", "jsonl", "--string", "DIFFMARK-NEW", "b.tar"],
    );
    assert!(json_lines(&r.out).iter().all(|f| f.get("change").is_none()));

    let Some(fx) = fixture("podman-implant") else {
        return;
    };
    let r = scan(
        &fx,
        &[
            "--diff",
            "--string",
            "IMPLANT-",
            "checkpoint.tar.gz",
            "ckimg.oci.tar",
        ],
    );
    assert_eq!((r.code, r.out.as_str()), (0, ""), "{}", r.err);
}

/// The CRIU images the tree shows as they are (`checkpoint/images/files.img`: the deleted exe's
/// path) are scanned too; those whose bytes it shows decoded (pages, ghost files, buffers) only
/// where it shows them, so each dumped byte is met once.
#[test]
fn images_as_the_tree_shows_them() {
    let Some(fx) = fixture("podman-implant") else {
        return;
    };
    let (r, v) = findings(
        &fx,
        &[
            "--string",
            ".hidden/kworkerd",
            "--string",
            "IMPLANT-RWX-SHELLCODE-s2",
            "--string",
            "IMPLANT-C2-BEACON-s2",
            "checkpoint.tar.gz",
        ],
    );
    let path = |f: &Value| f["path"].as_str().unwrap().to_string();
    assert!(
        v.iter().any(|f| f["string"] == ".hidden/kworkerd"
            && path(f) == "checkpoint/images/files.img"
            && f["where"] == "checkpoint"),
        "{}",
        r.out
    );
    assert!(
        v.iter().all(|f| {
            let p = path(f);
            !["pages-", "ghost-file-", "tcp-stream-"]
                .iter()
                .any(|d| p.starts_with(&format!("checkpoint/images/{d}")))
        }),
        "{}",
        r.out
    );
    // The beacon unread at the listener: its buffer, not tcp-stream-*.img.
    assert!(
        v.iter().any(|f| f["string"] == "IMPLANT-C2-BEACON-s2"
            && f["where"] == "buffer"
            && path(f).starts_with("buffers/tcp-")),
        "{}",
        r.out
    );
}
