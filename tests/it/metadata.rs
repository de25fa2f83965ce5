//! Container metadata end to end: `checkpoint/info.json` and `checkpoint/summary` of a mounted
//! Podman fixture, synthetic CRI-O and containerd archives (the in-repo writer's container layout
//! with the engines' own `config.dump` / `spec.dump`), and a plain CRIU image directory.

use crate::common;

use std::path::Path;

use ckptfs::writer::{CheckpointWriter, Compression, File, Layout};
use common::{Mount, TempDir, cat, fixtures, run_ok, stat};
use serde_json::{Value, json};

fn info(m: &Mount) -> Value {
    serde_json::from_slice(&cat(&m.p("checkpoint/info.json"))).expect("info.json is JSON")
}

fn summary(m: &Mount) -> String {
    String::from_utf8(cat(&m.p("checkpoint/summary"))).unwrap()
}

/// A small checkpoint: a shell and a server child.
fn writer() -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .cmdline(&["/bin/sh", "-c", "serve"])
        .environ(&["PATH=/bin"])
        .exe("/bin/sh")
        .anon(0x5000_0000, 0x1000)
        .pages(0x5000_0000, b"META-MARKER");
    w.process(2, 1)
        .comm("server")
        .cmdline(&["/usr/bin/server"])
        .exe("/usr/bin/server")
        .fd(3, File::tcp_listen(8080));
    w
}

fn archive(
    dir: &TempDir,
    name: &str,
    config: Value,
    spec: Value,
    network: Option<&str>,
) -> std::path::PathBuf {
    let mut w = writer();
    if let Some(n) = network {
        w.archive_file("network.status", n.as_bytes());
    }
    let path = dir.join(name);
    w.write_tar(
        &path,
        &Layout::Podman {
            config_json: config.to_string(),
            spec_json: spec.to_string(),
        },
        Compression::None,
    )
    .unwrap();
    path
}

#[test]
fn podman_fixture_info_and_summary() {
    let Some(fx) = fixtures() else { return };
    let archive = fx.join("podman-busybox/checkpoint.tar.gz");
    let m = Mount::new(&archive);
    // Every file shows when the checkpoint was taken: config.dump has no checkpointedTime
    // here, so it is when CRIU wrote inventory.img, as the archive's own header records it
    // (not when the archive was copied). `tar --full-time` prints it.
    let listing = run_ok(&[
        "tar",
        "-tvzf",
        archive.to_str().unwrap(),
        "--full-time",
        "--utc",
        "checkpoint/inventory.img",
    ])
    .stdout_text();
    let f: Vec<&str> = listing.split_whitespace().collect();
    let when = run_ok(&["date", "-u", "-d", &format!("{} {}Z", f[3], f[4]), "+%s"]).stdout_text();
    assert_eq!(stat("%Y", &m.p("1/maps")), when.trim(), "{listing}");
    assert_eq!(stat("%Y", &m.p("checkpoint/info.json")), when.trim());
    let v = info(&m);
    assert_eq!(v["images_written"], format!("{}T{}Z", f[3], f[4]));
    assert_eq!(
        v["checkpointed"],
        Value::Null,
        "config.dump has no checkpointedTime"
    );
    assert_eq!(v["engine"], "Podman");
    assert_eq!(v["container_name"], "fx-busybox");
    assert_eq!(
        v["container_id"],
        "2a5c15b736f04ac9ce5122fcae32ecd6ca063d55526bb05ae9b1c8d620be6fc6"
    );
    assert_eq!(v["image"], "localhost/fixture-busybox:latest");
    assert_eq!(
        v["image_id"],
        "df49bf5274d7aa0d0e2e2f271c3b17035cefdccd60e5ad6f21fdbabf042d5dbc"
    );
    assert_eq!(v["runtime"], "runc");
    assert_eq!(v["created"], "2026-11-28T14:47:37.419807618Z");
    // Podman 4.3's config.dump has no checkpointedTime; nothing is invented.
    assert_eq!(v["checkpointed"], Value::Null);
    assert_eq!(v["pod"], Value::Null);
    assert_eq!(v["namespace"], Value::Null);
    assert_eq!(
        v["network"],
        json!([{"network": "podman", "name": "eth0", "mac": "d6:cf:7b:43:b8:3d",
                "addresses": [{"address": "10.88.0.13/16", "gateway": "10.88.0.1"}]}])
    );
    assert_eq!(v["criu_image_version"], 2);
    // The archive keeps no dump.log: the CRIU version and kernel are unknown.
    assert_eq!(v["criu_version"], Value::Null);
    assert_eq!(v["kernel"], Value::Null);
    // checkpointctl inspect: Freezing 601 µs, Frozen 150.37 ms, Memdump 1.711 ms, Memwrite
    // 266 µs, Pages scanned 71, Pages written 50.
    let s = &v["dump_stats"];
    assert_eq!(s["freezing_time"], 601);
    assert_eq!(s["frozen_time"], 150370);
    assert_eq!(s["memdump_time"], 1711);
    assert_eq!(s["memwrite_time"], 266);
    assert_eq!(s["pages_scanned"], 71);
    assert_eq!(s["pages_written"], 50);
    assert_eq!(v["processes"], 3);

    let text = summary(&m);
    let show = std::fs::read_to_string(fx.join("podman-busybox/checkpointctl/show.txt")).unwrap();
    let table: Vec<&str> = show.lines().filter(|l| !l.is_empty()).skip(1).collect();
    for l in &table {
        assert!(
            text.contains(l),
            "summary lacks the show line {l:?}:\n{text}"
        );
    }
    assert!(
        text.contains(
            "\nNetwork: eth0 (podman) 10.88.0.13/16 gw 10.88.0.1 MAC d6:cf:7b:43:b8:3d\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nCRIU: image version 2; freezing 601 µs, frozen 150.37 ms, memdump 1.711 ms, memwrite 266 µs, pages scanned 71, written 50\n"),
        "{text}"
    );
    assert!(text.contains("\nProcess tree\n1 sh"), "{text}");
    assert!(!text.contains("Pod:"), "{text}");
}

#[test]
fn crio_archive() {
    let dir = TempDir::new("meta-crio");
    let config = json!({
        "id": "f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2",
        "name": "k8s_counter_counters_default_8a3c1a1e-0000-4000-8000-000000000001_0",
        "rootfsImage": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "rootfsImageRef": "quay.io/adrianreber/counter@sha256:0123",
        "rootfsImageName": "quay.io/adrianreber/counter:latest",
        "runtime": "runc",
        "createdTime": "2023-02-13T16:19:40.522146253Z",
        "checkpointedTime": "2023-02-13T16:20:09.117839016Z",
        "restoredTime": "0001-01-01T00:00:00Z",
        "restored": false
    });
    let spec = json!({
        "ociVersion": "1.0.2-dev",
        "annotations": {
            "io.container.manager": "cri-o",
            "io.kubernetes.cri-o.Metadata": "{\"name\":\"counter\",\"attempt\":0}",
            "io.kubernetes.cri-o.Created": "2023-02-13T16:19:40.522146253Z",
            "io.kubernetes.cri-o.IP.0": "10.85.0.9",
            "io.kubernetes.pod.name": "counters",
            "io.kubernetes.pod.namespace": "default",
            "io.kubernetes.container.name": "counter"
        }
    });
    let tar = archive(
        &dir,
        "checkpoint-counters_default-counter.tar",
        config,
        spec,
        None,
    );
    let m = Mount::new(&tar);
    // The engine's checkpointedTime is the tree's time (`date -u -d 2023-02-13T16:20:09Z +%s`).
    assert_eq!(stat("%Y", &m.p("checkpoint/summary")), "1676305209");
    let v = info(&m);
    assert_eq!(v["engine"], "CRI-O");
    assert_eq!(
        v["container_name"], "counter",
        "the Metadata annotation's name, not config.dump's"
    );
    assert_eq!(
        v["container_id"],
        "f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2"
    );
    assert_eq!(v["image"], "quay.io/adrianreber/counter:latest");
    assert_eq!(
        v["image_id"],
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(v["runtime"], "runc");
    assert_eq!(v["created"], "2023-02-13T16:19:40.522146253Z");
    assert_eq!(v["checkpointed"], "2023-02-13T16:20:09.117839016Z");
    assert_eq!(v["pod"], "counters");
    assert_eq!(v["namespace"], "default");
    assert_eq!(v["network"][0]["addresses"][0]["address"], "10.85.0.9");
    assert_eq!(v["source"]["kind"], "tar");
    assert_eq!(v["source"]["layout"], "container-archive");
    assert_eq!(v["processes"], 2);
    assert!(v["dump_stats"].is_object(), "{v}");

    let text = summary(&m);
    let row = text.lines().nth(2).unwrap();
    for cell in [
        "counter",
        "quay.io/adrianreber/counter:latest",
        "f1a2b3c4d5e6",
        "runc",
        "2023-02-13T16:19:40Z",
        "CRI-O",
    ] {
        assert!(row.contains(cell), "{cell} not in {row:?}");
    }
    assert!(
        text.contains("\nCheckpointed: 2023-02-13T16:20:09Z\n"),
        "{text}"
    );
    assert!(
        text.contains("\nPod: counters (namespace default)\n"),
        "{text}"
    );
    assert!(text.contains("\nNetwork: 10.85.0.9\n"), "{text}");
}

#[test]
fn containerd_archive() {
    let dir = TempDir::new("meta-ctrd");
    let config = json!({
        "id": "0cd0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
        "name": "0cd0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e",
        "rootfsImageName": "docker.io/library/nginx:1.27",
        "rootfsImageRef": "docker.io/library/nginx@sha256:abcd",
        "runtime": "io.containerd.runc.v2",
        "createdTime": "2026-01-05T08:00:00Z",
        "checkpointedTime": "2026-01-05T09:30:00.5Z"
    });
    let spec = json!({
        "ociVersion": "1.2.0",
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "web",
            "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
            "io.kubernetes.cri.sandbox-name": "web-7d4b9c",
            "io.kubernetes.cri.sandbox-namespace": "shop"
        }
    });
    let tar = archive(&dir, "ctrd.tar", config, spec, None);
    let m = Mount::new(&tar);
    let v = info(&m);
    assert_eq!(v["engine"], "containerd");
    assert_eq!(v["container_name"], "web");
    assert_eq!(v["image"], "docker.io/library/nginx:1.27");
    assert_eq!(v["runtime"], "io.containerd.runc.v2");
    assert_eq!(v["created"], "2026-01-05T08:00:00Z");
    assert_eq!(v["checkpointed"], "2026-01-05T09:30:00.5Z");
    assert_eq!(v["pod"], "web-7d4b9c");
    assert_eq!(v["namespace"], "shop");
    assert_eq!(v["network"], json!([]));
    let text = summary(&m);
    assert!(
        text.lines().nth(2).unwrap().contains("containerd"),
        "{text}"
    );
    assert!(
        text.contains("\nPod: web-7d4b9c (namespace shop)\n"),
        "{text}"
    );
    assert!(
        text.contains("\nCheckpointed: 2026-01-05T09:30:00Z\n"),
        "{text}"
    );
}

#[test]
fn podman_cni_network_status_and_bad_one() {
    let dir = TempDir::new("meta-net");
    let cni = r#"[{"cniVersion":"0.4.0","interfaces":[{"name":"cni-podman0","mac":"11:11:11:11:11:11"},{"name":"eth0","mac":"33:33:33:33:33:33","sandbox":"/run/netns/cni-1"}],"ips":[{"version":"4","interface":1,"address":"10.88.0.2/16","gateway":"10.88.0.1"}]}]"#;
    let Layout::Podman {
        config_json,
        spec_json,
    } = Layout::podman("net")
    else {
        unreachable!()
    };
    let config: Value = serde_json::from_str(&config_json).unwrap();
    let spec: Value = serde_json::from_str(&spec_json).unwrap();
    let tar = archive(&dir, "cni.tar", config.clone(), spec.clone(), Some(cni));
    let m = Mount::new(&tar);
    let v = info(&m);
    assert_eq!(v["engine"], "Podman");
    assert_eq!(v["container_name"], "net");
    assert_eq!(v["network"][0]["name"], "eth0");
    assert_eq!(v["network"][0]["mac"], "33:33:33:33:33:33");
    assert_eq!(v["network"][0]["addresses"][0]["address"], "10.88.0.2/16");
    // The file itself is served as-is.
    assert_eq!(cat(&m.p("checkpoint/network.status")), cni.as_bytes());
    drop(m);

    let tar = archive(&dir, "bad.tar", config, spec, Some("{broken"));
    let m = Mount::new(&tar);
    let v = info(&m);
    assert_eq!(v["network"], json!([]));
    assert!(
        common::info_warnings(&v)
            .iter()
            .any(|(k, m)| k == "bad-metadata" && m.starts_with("network.status:")),
        "{v}"
    );
}

#[test]
fn plain_image_dir_inventory() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(Path::new(&fx.join("secretd-plain/images")));
    // An image directory: the tree's time is inventory.img's.
    let inv = fx.join("secretd-plain/images/inventory.img");
    assert_eq!(
        stat("%Y", &m.p("pstree")),
        stat("%Y", inv.to_str().unwrap())
    );
    let v = info(&m);
    for k in [
        "engine",
        "container_name",
        "container_id",
        "image",
        "runtime",
        "created",
        "pod",
    ] {
        assert_eq!(v[k], Value::Null, "{k}");
    }
    assert_eq!(v["network"], json!([]));
    assert_eq!(v["criu_image_version"], 2);
    assert!(
        v["dump_stats"]["pages_written"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert_eq!(v["source"]["layout"], "image-dir");
    assert_eq!(v["inventory"]["incremental"], false);
    assert_eq!(v["criu_version"], "4.2 (gitid 0)");
    assert_eq!(
        v["kernel"],
        "Linux 6.18.44-fc-v509 #1 SMP PREEMPT_DYNAMIC @0 x86_64"
    );
    assert_eq!(v["inventory"]["lsm"], "none");
    let text = summary(&m);
    assert!(
        text.contains(
            "\nCRIU: version 4.2 (gitid 0); on Linux 6.18.44-fc-v509 #1 SMP PREEMPT_DYNAMIC @0 x86_64; image version 2; freezing "
        ),
        "{text}"
    );
    assert!(
        !text.contains("Network:") && !text.contains("Pod:"),
        "{text}"
    );
}

#[test]
fn incremental_inventory() {
    let Some(fx) = fixtures() else { return };
    let m = Mount::new(Path::new(&fx.join("secretd-incremental/images/dump")));
    let v = info(&m);
    let inv = &v["inventory"];
    assert_eq!(inv["incremental"], true, "{v}");
    assert_eq!(inv["lsm"], "none");
    assert_eq!(inv["network_lock"], "iptables");
    assert_eq!(inv["root_cg_set"], 1);
    assert!(inv["criu_run_id"].as_str().unwrap().len() >= 32, "{inv}");
    assert_eq!(v["dump_uptime_us"], 2249960000u64);
    // The final dump wrote 1 page: the rest is in the parents.
    assert_eq!(v["dump_stats"]["pages_written"], 1);
    let text = summary(&m);
    assert!(
        text.contains("; image version 2, incremental (parent dump); freezing "),
        "{text}"
    );
}
