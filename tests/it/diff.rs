//! `ckptfs diff A B` explaining a change: the container's files (rootfs/ and deleted.files), the
//! container log's new lines, both dump times, on writer-made pairs of Podman archives.

use std::path::Path;
use std::process::Command;

use crate::common::{self, TempDir};
use ckptfs::writer::{CheckpointWriter, Compression, Layout};
use serde_json::Value;

/// ckptfs's stdout, requiring success.
fn ok(cwd: &Path, args: &[&str]) -> String {
    let cache = TempDir::new("diff");
    let o = Command::new(common::ckptfs())
        .args(args)
        .current_dir(cwd)
        .env("XDG_CACHE_HOME", cache.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("run ckptfs");
    assert!(
        o.status.success(),
        "ckptfs {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A tar of regular files (path, content, mode, mtime).
fn layer(entries: &[(&str, &str, u32, u64)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode, mtime) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(*mode);
        h.set_mtime(*mtime);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

/// A Podman layout whose config.dump says the container was checkpointed at `when`.
fn podman_at(when: &str) -> Layout {
    match Layout::podman("fx") {
        Layout::Podman {
            config_json,
            spec_json,
        } => Layout::Podman {
            config_json: config_json.replace("2026-11-28T10:05:00.000000000Z", when),
            spec_json,
        },
        l => l,
    }
}

const LOG_A: &str = "2026-11-28T10:00:01.000000000+00:00 stdout F started\n\
                     2026-11-28T10:00:02.000000000+00:00 stdout F READY\n";
const LOG_NEW: &str = "2026-11-28T10:06:00.000000000+00:00 stdout F NEW-LOG-LINE-77\n";

/// Two dumps of one container: a file added, one removed, one rewritten, one chmod'ed; a path
/// more in deleted.files; a log line more.
fn write_pair(dir: &Path) {
    let mut a = CheckpointWriter::new();
    a.process(1, 0).comm("app");
    a.archive_file(
        "rootfs-diff.tar",
        &layer(&[
            ("data/keep.txt", "same", 0o644, 1_000),
            ("data/edit.txt", "one", 0o644, 1_000),
            ("data/mode.txt", "m", 0o644, 1_000),
            ("data/gone.txt", "bye", 0o644, 1_000),
        ]),
    );
    a.archive_file("deleted.files", br#"["/etc/motd"]"#);
    a.archive_file("ctr.log", LOG_A.as_bytes());
    a.write_tar(
        &dir.join("a.tar"),
        &podman_at("2026-11-28T10:05:00Z"),
        Compression::None,
    )
    .unwrap();
    let mut b = CheckpointWriter::new();
    b.process(1, 0).comm("app");
    b.archive_file(
        "rootfs-diff.tar",
        &layer(&[
            ("data/keep.txt", "same", 0o644, 1_000),
            ("data/edit.txt", "two!", 0o644, 2_000),
            ("data/mode.txt", "m", 0o600, 1_000),
            ("data/new.txt", "NEW-FILE", 0o640, 3_000),
        ]),
    );
    b.archive_file("deleted.files", br#"["/etc/motd", "/etc/issue"]"#);
    b.archive_file("ctr.log", format!("{LOG_A}{LOG_NEW}").as_bytes());
    b.write_tar(
        &dir.join("b.tar"),
        &podman_at("2026-11-28T10:07:30Z"),
        Compression::Gzip,
    )
    .unwrap();
}

#[test]
fn diff_files_log_and_dump_times() {
    let dir = TempDir::new("diff");
    write_pair(dir.path());
    let j: Value = serde_json::from_str(&ok(
        dir.path(),
        &["diff", "--format", "json", "a.tar", "b.tar"],
    ))
    .unwrap();
    let f = &j["rootfs_changes"];
    assert_eq!(f["added"].as_array().unwrap().len(), 1, "{f}");
    let new = &f["added"][0];
    assert_eq!(new["path"], "/data/new.txt");
    assert_eq!(new["type"], "file");
    assert_eq!(new["size"], 8);
    assert_eq!(new["mode"], "0640");
    assert_eq!(new["mtime"], "1970-01-01T00:50:00Z");
    assert_eq!(new["sha256"], common::sha256_hex(b"NEW-FILE"));
    assert_eq!(f["removed"][0]["path"], "/data/gone.txt");
    assert_eq!(f["removed"].as_array().unwrap().len(), 1);
    let changed: Vec<(String, Vec<String>)> = f["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["field"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            (
                "/data/edit.txt".to_string(),
                vec!["size".into(), "sha256".into(), "mtime".into()]
            ),
            ("/data/mode.txt".to_string(), vec!["mode".to_string()]),
        ]
    );
    let edit = &f["changed"][0]["changes"][1];
    assert_eq!(edit["a"], common::sha256_hex(b"one"));
    assert_eq!(edit["b"], common::sha256_hex(b"two!"));
    assert_eq!(f["deleted_files_added"], serde_json::json!(["/etc/issue"]));
    assert_eq!(f["deleted_files_removed"], serde_json::json!([]));
    let log = &j["log_changes"];
    assert_eq!(log["name"], "ctr.log");
    assert_eq!(log["new_lines"], serde_json::json!([LOG_NEW.trim_end()]));
    assert_eq!(log["lost_lines"], serde_json::json!([]));
    for (side, when) in [
        ("checkpoint_a", "2026-11-28T10:05:00Z"),
        ("checkpoint_b", "2026-11-28T10:07:30Z"),
    ] {
        assert_eq!(
            j[side]["dump_time"],
            serde_json::json!({"time": when, "from": "checkpointed"})
        );
    }
    assert!(!j["not_compared"].as_array().unwrap().is_empty());

    let t = ok(dir.path(), &["diff", "a.tar", "b.tar"]);
    for l in [
        "  Checkpointed: 2026-11-28T10:05:00Z (checkpointed); 1 process,",
        "  Checkpointed: 2026-11-28T10:07:30Z (checkpointed); 1 process,",
        "\nFiles (rootfs)\n├── + /data/new.txt  (file, 0640, 8 B, mtime 1970-01-01T00:50:00Z, sha256 ",
        "── - /data/gone.txt  (file, 0644, 3 B,",
        "── ~ /data/mode.txt  (mode 0644 -> 0600)",
        "── + deleted.files: /etc/issue",
        "\nContainer Log (ctr.log): 2 -> 3 lines: 1 new\n└── + 2026-11-28T10:06:00.000000000+00:00 stdout F NEW-LOG-LINE-77\n",
        "\nNot compared: ",
        "\nRootfs: +1 -1 ~2\nLog: +1 lines",
    ] {
        assert!(t.contains(l), "missing {l:?} in\n{t}");
    }
}

/// Without an engine's checkpointed time, the dump time is when CRIU wrote the images.
#[test]
fn diff_dump_time_from_the_images() {
    let dir = TempDir::new("diff");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("app");
    w.write_dir(&dir.join("a")).unwrap();
    let j: Value =
        serde_json::from_str(&ok(dir.path(), &["diff", "--format", "json", "a", "a"])).unwrap();
    let t = &j["checkpoint_a"]["dump_time"];
    assert_eq!(t["from"], "images written", "{t}");
    assert!(t["time"].as_str().unwrap().ends_with('Z'), "{t}");
    assert_eq!(j["rootfs_changes"]["added"], serde_json::json!([]));
    assert!(j["log_changes"].is_null());
}

const DATA: u64 = 0x5000_0000_0000;
const PAGE: u64 = 4096;

/// A page of filler with `text` at offset 100.
fn page_with(text: &str) -> Vec<u8> {
    let mut p = vec![0u8; PAGE as usize];
    p[100..100 + text.len()].copy_from_slice(text.as_bytes());
    p
}

/// Every changed, added and removed page by address, with both SHA-256s, and the strings the
/// changed pages gained and lost, ranked.
#[test]
fn diff_pages_by_address_and_strings() {
    let dir = TempDir::new("diff");
    let (same, old, new) = (
        page_with("UNCHANGED-PAGE-TEXT"),
        page_with("session=OLD-TOKEN-1111"),
        page_with("session=NEW-TOKEN-2222 GAINED-SECRET-abc123"),
    );
    let mut a = CheckpointWriter::new();
    a.process(1, 0)
        .comm("app")
        .vma(ckptfs::writer::Vma::anon(DATA, 16 * PAGE).rw())
        .pages(DATA, &same)
        .pages(DATA + PAGE, &old)
        .pages(DATA + 4 * PAGE, &page_with("REMOVED-PAGE-TEXT"));
    let mut b = CheckpointWriter::new();
    b.process(1, 0)
        .comm("app")
        .vma(ckptfs::writer::Vma::anon(DATA, 16 * PAGE).rw())
        .pages(DATA, &same)
        .pages(DATA + PAGE, &new)
        .pages(DATA + 8 * PAGE, &page_with("ADDED-PAGE-TEXT"))
        .pages(DATA + 9 * PAGE, &page_with("ADDED-PAGE-TEXT-2"));
    a.write_dir(&dir.join("a")).unwrap();
    b.write_dir(&dir.join("b")).unwrap();
    let j: Value =
        serde_json::from_str(&ok(dir.path(), &["diff", "--format", "json", "a", "b"])).unwrap();
    let vma = j["memory_changes"]["processes"][0]["vmas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["range"] == "500000000000-500000010000")
        .unwrap()
        .clone();
    let h = |b: &[u8]| serde_json::json!(common::sha256_hex(b));
    assert_eq!(
        vma["page_list"],
        serde_json::json!([
            {"address": "500000001000", "change": "changed", "sha256_a": h(&old), "sha256_b": h(&new), "rseq": false},
            {"address": "500000004000", "change": "removed", "sha256_a": h(&page_with("REMOVED-PAGE-TEXT")), "sha256_b": null, "rseq": false},
            {"address": "500000008000", "change": "added", "sha256_a": null, "sha256_b": h(&page_with("ADDED-PAGE-TEXT")), "rseq": false},
            {"address": "500000009000", "change": "added", "sha256_a": null, "sha256_b": h(&page_with("ADDED-PAGE-TEXT-2")), "rseq": false},
        ])
    );
    let strs = |k: &str| -> Vec<String> {
        vma[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["string"].as_str().unwrap().to_string())
            .collect()
    };
    let gained = strs("strings_gained");
    assert_eq!(gained.len(), 3, "{gained:?}");
    for s in [
        "session=NEW-TOKEN-2222 GAINED-SECRET-abc123",
        "ADDED-PAGE-TEXT",
        "ADDED-PAGE-TEXT-2",
    ] {
        assert!(gained.contains(&s.to_string()), "{s} in {gained:?}");
    }
    assert_eq!(
        vma["strings_gained"][0]["address"],
        format!("{:x}", DATA + PAGE + 100)
    );
    let mut lost = strs("strings_lost");
    lost.sort();
    assert_eq!(lost, ["REMOVED-PAGE-TEXT", "session=OLD-TOKEN-1111"]);

    let t = ok(dir.path(), &["diff", "a", "b"]);
    for l in [
        "changed 500000001000-500000002000 (1 page)",
        "removed 500000004000-500000005000 (1 page)",
        "added 500000008000-50000000a000 (2 pages)",
        "Memory Strings (ranked, in the changed pages)\n├── + \"session=NEW-TOKEN-2222 GAINED-SECRET-abc123\"  PID 1 500000001064 anon",
        "- \"session=OLD-TOKEN-1111\"  PID 1 500000001064 anon",
    ] {
        assert!(t.contains(l), "missing {l:?} in\n{t}");
    }
}

/// The shared podman-redis pair: every change its README lists is in the first 40 lines (the
/// deleted key REDISFX-s4-apikey as the one new copy of its name that the DEL command left; its
/// value stays in freed memory, unchanged); the pages tagged as rseq noise are pages that hold a
/// thread's struct rseq (rseq-pages*.json).
#[test]
fn diff_podman_redis_pair() {
    let Some(f) = common::fixtures() else { return };
    let d = f.join("podman-redis");
    if !d.join("checkpoint2.tar.gz").exists() {
        assert!(!common::ci(), "podman-redis/checkpoint2.tar.gz missing");
        common::skip("podman-redis pair missing");
        return;
    }
    let t = ok(&d, &["diff", "checkpoint.tar.zst", "checkpoint2.tar.gz"]);
    let head: String = t.lines().take(40).collect::<Vec<_>>().join("\n");
    for want in [
        "+ /data/s4-note2.txt  (file, 0644, 60 B,",
        "stdout, 3 lines: \"message\" \"REDISFX-s4-chan\" \"REDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8\"",
        "+ \"REDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8\"  PID 37 ",
        "+ \"REDISFX-s4-SECOND-key1\"  PID 7 ",
        "+ \"REDISFX-s4-SECOND-hash\"  PID 7 ",
        "+ \"REDISFX-s4-apikey\"  PID 7 ",
        "+ \"REDISFX-s4-SECOND-VALUE-91d3e0\"",
        "+ \"REDISFX-s4-SECOND-HASHVAL-27ab\"",
        "Checkpointed: 2026-12-05T19:02:37Z",
        "Checkpointed: 2026-12-05T19:02:50Z",
    ] {
        assert!(
            head.contains(want),
            "missing {want:?} in the first 40 lines:\n{head}"
        );
    }
    let j: Value = serde_json::from_str(&ok(
        &d,
        &[
            "diff",
            "--format",
            "json",
            "checkpoint.tar.zst",
            "checkpoint2.tar.gz",
        ],
    ))
    .unwrap();
    // The deleted key's name: one copy more in B's changed pages, at an address where B holds
    // it and A does not (memparse --search of each dump says where each holds it).
    let hit = j["memory_changes"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["pid"] == 7)
        .flat_map(|p| p["vmas"].as_array().unwrap().iter())
        .flat_map(|v| v["strings_gained"].as_array().unwrap().iter())
        .find(|h| h["string"] == "REDISFX-s4-apikey")
        .expect("REDISFX-s4-apikey gained in PID 7");
    assert_eq!(
        hit["count"].as_u64().unwrap(),
        hit["count_other"].as_u64().unwrap() + 1,
        "{hit}"
    );
    let at = |archive: &str| -> Vec<String> {
        let o = ok(
            &d,
            &["memparse", "-p", "7", "-s", "REDISFX-s4-apikey", archive],
        );
        o.lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|a| a.trim_start_matches('0').to_string())
            .collect()
    };
    let addr = hit["address"].as_str().unwrap().trim_start_matches('0');
    assert!(at("checkpoint2.tar.gz").iter().any(|a| a == addr), "{hit}");
    assert!(!at("checkpoint.tar.zst").iter().any(|a| a == addr), "{hit}");
    let rseq: Vec<Value> = ["rseq-pages.json", "rseq-pages2.json"]
        .iter()
        .map(|n| serde_json::from_slice(&std::fs::read(d.join(n)).unwrap()).unwrap())
        .collect();
    let mut tagged = 0;
    for p in j["memory_changes"]["processes"].as_array().unwrap() {
        let pid = p["pid"].to_string();
        let truth: Vec<u64> = rseq
            .iter()
            .flat_map(|r| r[&pid].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_u64())
            .collect();
        for v in p["vmas"].as_array().unwrap() {
            for pg in v["page_list"].as_array().unwrap() {
                let addr = u64::from_str_radix(pg["address"].as_str().unwrap(), 16).unwrap();
                assert_eq!(
                    pg["rseq"].as_bool().unwrap(),
                    truth.contains(&addr),
                    "PID {pid} page {addr:x}"
                );
                tagged += usize::from(pg["rseq"] == true);
            }
        }
    }
    assert!(tagged > 0, "no changed page tagged as rseq");
    // The second PUBLISH went through the subscriber's connection: its RESP push, byte for byte.
    let push = b"*3\r\n$7\r\nmessage\r\n$15\r\nREDISFX-s4-chan\r\n$35\r\nREDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8\r\n";
    let tcp = j["tcp_streams"].as_array().unwrap();
    let cli = tcp
        .iter()
        .find(|t| t["pid"] == 37)
        .expect("redis-cli's stream");
    assert_eq!(cli["received"], push.len(), "{cli}");
    assert_eq!(cli["sent"], 0);
    let srv = tcp
        .iter()
        .find(|t| t["pid"] == 7)
        .expect("redis-server's stream");
    assert_eq!(srv["sent"], push.len(), "{srv}");
    assert!(t.contains(&format!(
        "PID 37 fd 3 127.0.0.1:{}",
        cli["local"].as_str().unwrap().rsplit(':').next().unwrap()
    )));
}

/// A CRIU image of entries each followed by its payload (pipes-data.img, tcp-stream-*.img).
fn with_payloads<M: prost::Message>(magic: u32, entries: &[(M, &[u8])]) -> Vec<u8> {
    let mut out = ckptfs::writer::encode_image::<M>(magic, &[]);
    let head = out.len();
    for (e, payload) in entries {
        out.extend_from_slice(
            &ckptfs::writer::encode_image(magic, std::slice::from_ref(e))[head..],
        );
        out.extend_from_slice(payload);
    }
    out
}

/// One dump's unread data: pipes 100..400 (`pipe id`, bytes) and the TCP connection 0x5000's
/// receive queue with its sequence numbers.
fn queues_ck(path: &Path, pipes: &[(u32, &[u8])], tcp: (&[u8], u32, u32)) {
    use ckptfs::image::{magic, pb};
    use ckptfs::writer::File;
    let mut w = CheckpointWriter::new();
    let p = w.process(1, 0).comm("app");
    for (i, id) in [100, 200, 300, 400].iter().enumerate() {
        p.fd(3 + i as u32, File::pipe(*id, false));
    }
    let sock = match File::tcp_established([10, 0, 0, 2], 40000, [10, 0, 0, 9], 443) {
        File::Inet {
            family,
            sock_type,
            proto,
            state,
            src,
            src_port,
            dst,
            dst_port,
            backlog,
            ..
        } => File::Inet {
            family,
            sock_type,
            proto,
            state,
            src,
            src_port,
            dst,
            dst_port,
            backlog,
            ino: 0x5000,
        },
        f => f,
    };
    p.fd(9, sock);
    let entries: Vec<(pb::PipeDataEntry, &[u8])> = pipes
        .iter()
        .map(|(id, b)| {
            (
                pb::PipeDataEntry {
                    pipe_id: *id,
                    bytes: b.len() as u32,
                    size: None,
                },
                *b,
            )
        })
        .collect();
    w.raw_file(
        "pipes-data.img",
        &with_payloads(magic::PIPES_DATA, &entries),
    );
    let stream = pb::TcpStreamEntry {
        inq_len: tcp.0.len() as u32,
        inq_seq: tcp.1,
        outq_len: 0,
        outq_seq: tcp.2,
        ..Default::default()
    };
    w.raw_file(
        "tcp-stream-5000.img",
        &with_payloads(magic::TCP_STREAM, &[(stream, tcp.0)]),
    );
    w.write_tar(path, &podman_at("2026-11-28T10:05:00Z"), Compression::None)
        .unwrap();
}

/// Unread pipe and socket data compared between dumps: bytes appended to a queue, read from
/// its front, a queue emptied, a new one, a TCP receive queue rewritten; the bytes shown
/// escaped, with the descriptors holding them and the TCP sequence numbers' moves.
#[test]
fn diff_queued_data() {
    let dir = TempDir::new("diff-queues");
    queues_ck(
        &dir.join("a.tar"),
        &[
            (100, b"HELLO-"),
            (200, b"QUEUED-AND-READ-LATER"),
            (300, b"GONE-BYTES\x01"),
        ],
        (b"REQ-1", 1000, 2000),
    );
    queues_ck(
        &dir.join("b.tar"),
        &[
            (100, b"HELLO-WORLD-APPENDED"),
            (200, b"READ-LATER"),
            (400, b"NEW\nLINE\x00\\"),
        ],
        (b"REQ-2", 1010, 2003),
    );
    let j: Value = serde_json::from_str(&ok(
        dir.path(),
        &["diff", "--format", "json", "a.tar", "b.tar"],
    ))
    .unwrap();
    let q = j["queued_data"].as_array().unwrap();
    let by = |name: &str| {
        q.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing in {q:?}"))
    };
    assert_eq!(q.len(), 5, "{q:?}");
    let p = by("pipe-100");
    assert_eq!(
        (
            &p["status"],
            &p["kind"],
            &p["appended"],
            &p["size_a"],
            &p["size_b"]
        ),
        (
            &Value::from("changed"),
            &Value::from("pipe"),
            &Value::from("WORLD-APPENDED"),
            &Value::from(6),
            &Value::from(20)
        )
    );
    assert_eq!(p["holders"], serde_json::json!(["PID 1 fd 3"]));
    assert_eq!(by("pipe-200")["consumed"], 11);
    let gone = by("pipe-300");
    assert_eq!(gone["status"], "removed");
    assert_eq!(gone["head_a"], "GONE-BYTES\\x01");
    assert!(gone["size_b"].is_null() && gone["sha256_b"].is_null());
    let new = by("pipe-400");
    assert_eq!(new["status"], "added");
    assert_eq!(new["head_b"], "NEW\\x0aLINE\\x00\\\\");
    assert_eq!(new["holders"], serde_json::json!(["PID 1 fd 6"]));
    let tcp = by(&format!("tcp-{}.recv", 0x5000));
    assert_eq!(
        (&tcp["head_a"], &tcp["head_b"]),
        (&Value::from("REQ-1"), &Value::from("REQ-2"))
    );
    assert!(tcp["appended"].is_null() && tcp["consumed"].is_null());
    assert_eq!(j["counts"]["queued_changed"], 3);
    assert_eq!(j["counts"]["queued_added"], 1);
    assert_eq!(j["counts"]["queued_removed"], 1);
    let s = &j["tcp_streams"][0];
    assert_eq!(
        (&s["received"], &s["sent"]),
        (&Value::from(10), &Value::from(3))
    );
    assert!(
        !j["not_compared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("pipe")),
        "{}",
        j["not_compared"]
    );

    let t = ok(dir.path(), &["diff", "a.tar", "b.tar"]);
    for l in [
        "Queued Data (buffers/, unread)\n",
        "~ buffers/pipe-100 (pipe; PID 1 fd 3): 6 B -> 20 B, appended \"WORLD-APPENDED\"",
        "~ buffers/pipe-200 (pipe; PID 1 fd 4): 21 B -> 10 B, 11 B read from the front",
        "- buffers/pipe-300 (pipe; PID 1 fd 5): 11 B \"GONE-BYTES\\x01\"",
        "+ buffers/pipe-400 (pipe; PID 1 fd 6): 10 B \"NEW\\x0aLINE\\x00\\\\\"",
        "~ buffers/tcp-20480.recv (tcp-recv; PID 1 fd 9): 5 B -> 5 B, A \"REQ-1\" B \"REQ-2\"",
        "10.0.0.2:40000 -> 10.0.0.9:443: 10 B received, 3 B sent",
        "Queued data: +1 -1 ~3",
    ] {
        assert!(t.contains(l), "missing {l:?} in\n{t}");
    }
}

/// ckptfs's stdout and stderr, requiring success.
fn ok_both(cwd: &Path, args: &[&str]) -> (String, String) {
    let r = common::cli::ckptfs_in(cwd, args);
    assert_eq!(r.code, 0, "ckptfs {args:?}: {}", r.err);
    (r.out, r.err)
}

/// The lines of the tree view's header box, checked to be a box: each starts and ends with a
/// border and all have one display width (terminal columns).
fn header_box(t: &str) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let lines: Vec<&str> = t.lines().collect();
    let top = lines.iter().position(|l| l.starts_with('╔'));
    let bottom = lines.iter().position(|l| l.starts_with('╚'));
    let (Some(top), Some(bottom)) = (top, bottom) else {
        panic!("no header box in\n{t}")
    };
    let b: Vec<String> = lines[top..=bottom].iter().map(|l| l.to_string()).collect();
    let all = b.join("\n");
    for l in &b {
        assert!(
            l.starts_with(['╔', '║', '╠', '╚']) && l.ends_with(['╗', '║', '╣', '╝']),
            "{l:?} is not a line of the box:\n{all}"
        );
        assert_eq!(
            l.width(),
            b[0].width(),
            "{l:?} is not as wide as the box's top:\n{all}"
        );
    }
    b
}

/// The rows of the box holding `text`.
fn rows_with<'a>(b: &'a [String], text: &str) -> Vec<&'a str> {
    b.iter()
        .filter(|l| l.contains(text))
        .map(String::as_str)
        .collect()
}

/// The `different-containers` warning lines of stderr.
fn different_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("different containers"))
        .collect()
}

/// A metadata file of a fixture archive, read with tar.
fn archive_json(archive: &Path, member: &str) -> Value {
    let o = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(member)
        .output()
        .expect("run tar");
    assert!(o.status.success(), "tar -xOf {archive:?} {member}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// podman-busybox against podman-redis: two containers. The box shows each side's name, image
/// and id (as config.dump records them) and warns; stderr has one warning naming both ids; the
/// JSON says so with a typed warning.
#[test]
fn diff_of_two_containers_warns_and_shows_both_sides() {
    let Some(f) = common::fixtures() else { return };
    let (a, b) = (
        f.join("podman-busybox/checkpoint.tar.gz"),
        f.join("podman-redis/checkpoint.tar.zst"),
    );
    let (ca, cb) = (
        archive_json(&a, "config.dump"),
        archive_json(&b, "config.dump"),
    );
    let s = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    let (ida, idb) = (s(&ca, "id"), s(&cb, "id"));
    assert_ne!(ida, idb);
    for spec in [&a, &b].map(|p| archive_json(p, "spec.dump")) {
        assert_eq!(spec["annotations"]["io.container.manager"], "libpod");
    }
    let (as_, bs) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (t, err) = ok_both(&f, &["diff", as_, bs]);
    let bx = header_box(&t);
    for (field, key) in [("Container:", "name"), ("Image:", "rootfsImageName")] {
        assert_eq!(
            rows_with(&bx, &format!("{field:<10} A: {} ", s(&ca, key))).len(),
            1,
            "{field} A in\n{}",
            bx.join("\n")
        );
        assert_eq!(
            rows_with(&bx, &format!("{:<10} B: {} ", "", s(&cb, key))).len(),
            1,
            "{field} B in\n{}",
            bx.join("\n")
        );
    }
    assert_eq!(rows_with(&bx, &format!("ID:        A: {ida} ")).len(), 1);
    assert_eq!(rows_with(&bx, &format!("           B: {idb} ")).len(), 1);
    // The same engine: no row of its own.
    assert!(rows_with(&bx, "Engine:").is_empty());
    assert_eq!(
        rows_with(
            &bx,
            "WARNING: A and B are different containers (their container ids differ)"
        )
        .len(),
        1
    );
    assert!(t.contains(&format!(
        "Checkpoint comparison for containers {} (A) and {} (B)",
        s(&ca, "name"),
        s(&cb, "name")
    )));
    let lines = different_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("ckptfs: warning: A and B are checkpoints of different containers")
            && lines[0].contains(&ida)
            && lines[0].contains(&idb),
        "{err}"
    );
    let (j, err) = ok_both(&f, &["diff", "--format", "json", as_, bs]);
    assert_eq!(different_lines(&err).len(), 1, "{err}");
    let j: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(j["same_container"], false);
    assert_eq!(j["same_container_by"], "id");
    let w = j["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["kind"], "different-containers");
    assert!(lines[0].ends_with(w[0]["message"].as_str().unwrap()));
    for (side, c) in [("checkpoint_a", &ca), ("checkpoint_b", &cb)] {
        assert_eq!(j[side]["id"], c["id"]);
        assert_eq!(j[side]["container_name"], c["name"]);
        assert_eq!(j[side]["image"], c["rootfsImageName"]);
        assert_eq!(j[side]["engine"], "Podman");
    }
}

/// Two dumps of one container (podman-redis's pair; secretd-incremental's pre-dumps and dump,
/// which record no container at all) warn of nothing; the box holds one row per field.
#[test]
fn diff_of_one_container_does_not_warn() {
    let Some(f) = common::fixtures() else { return };
    let redis = f.join("podman-redis");
    if !redis.join("checkpoint2.tar.gz").exists() {
        assert!(!common::ci(), "podman-redis/checkpoint2.tar.gz missing");
        common::skip("podman-redis pair missing");
        return;
    }
    let id = archive_json(&redis.join("checkpoint.tar.zst"), "config.dump")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pair = ["checkpoint.tar.zst", "checkpoint2.tar.gz"];
    let (t, err) = ok_both(&redis, &["diff", pair[0], pair[1]]);
    assert!(different_lines(&err).is_empty(), "{err}");
    let bx = header_box(&t);
    assert_eq!(rows_with(&bx, &format!("ID:        {id} ")).len(), 1);
    assert!(rows_with(&bx, " A: ").is_empty() && rows_with(&bx, "WARNING").is_empty());
    let (j, _) = ok_both(&redis, &["diff", "--format", "json", pair[0], pair[1]]);
    let j: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(
        (
            &j["same_container"],
            &j["same_container_by"],
            &j["warnings"]
        ),
        (
            &Value::Bool(true),
            &Value::from("id"),
            &serde_json::json!([])
        )
    );

    let inc = f.join("secretd-incremental/images");
    for (x, y) in [("pre", "pre2"), ("pre", "dump"), ("pre2", "dump")] {
        let (t, err) = ok_both(&inc, &["diff", x, y]);
        assert!(different_lines(&err).is_empty(), "{x} {y}: {err}");
        let bx = header_box(&t);
        for field in ["Container:", "Image:", "ID:"] {
            assert_eq!(
                rows_with(&bx, &format!("{field:<10} not recorded ")).len(),
                1,
                "{field} in\n{}",
                bx.join("\n")
            );
        }
        let (j, _) = ok_both(&inc, &["diff", "--format", "json", x, y]);
        let j: Value = serde_json::from_str(&j).unwrap();
        assert!(j["same_container"].is_null() && j["same_container_by"].is_null());
        assert_eq!(j["warnings"], serde_json::json!([]));
    }
}

/// A Podman layout with config.dump changed by `f`.
fn podman_with(name: &str, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Layout {
    match Layout::podman(name) {
        Layout::Podman {
            config_json,
            spec_json,
        } => {
            let mut c: Value = serde_json::from_str(&config_json).unwrap();
            f(c.as_object_mut().unwrap());
            Layout::Podman {
                config_json: c.to_string(),
                spec_json,
            }
        }
        l => l,
    }
}

/// `l` with spec.dump's `io.container.manager` (the engine) set to `manager`.
fn managed_by(l: Layout, manager: &str) -> Layout {
    match l {
        Layout::Podman {
            config_json,
            spec_json,
        } => {
            let mut s: Value = serde_json::from_str(&spec_json).unwrap();
            s["annotations"]["io.container.manager"] = manager.into();
            Layout::Podman {
                config_json,
                spec_json: s.to_string(),
            }
        }
        l => l,
    }
}

fn one_process(path: &Path, layout: &Layout) {
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("app");
    w.write_tar(path, layout, Compression::None).unwrap();
}

/// Values wider than the box's least width (a 160-character image, a name of wide characters)
/// widen it; a control character is escaped, not drawn; different engines get a row each.
/// Without ids, name and image decide: different names warn, the same name and image do not.
#[test]
fn diff_header_box_holds_every_line() {
    let dir = TempDir::new("diff");
    let long_image = format!("registry.example/{}/app:latest", "x".repeat(130));
    let wide = "容器名前の試験";
    one_process(
        &dir.join("a.tar"),
        &podman_with(wide, |c| {
            c.insert("rootfsImageName".into(), long_image.clone().into());
        }),
    );
    let no_id = |name: &'static str| {
        managed_by(
            podman_with(name, move |c| {
                c.remove("id");
            }),
            "other-engine",
        )
    };
    one_process(&dir.join("b.tar"), &no_id("red\x1b[31m"));
    one_process(&dir.join("c.tar"), &no_id("red\x1b[31m"));
    let (t, err) = ok_both(dir.path(), &["diff", "a.tar", "b.tar"]);
    let bx = header_box(&t);
    assert_eq!(rows_with(&bx, &format!("Container: A: {wide} ")).len(), 1);
    assert_eq!(rows_with(&bx, "           B: red\\x1b[31m ").len(), 1);
    assert_eq!(
        rows_with(&bx, &format!("Image:     A: {long_image} ")).len(),
        1
    );
    assert_eq!(
        rows_with(&bx, "           B: localhost/ckptfs-synthetic:latest ").len(),
        1
    );
    assert_eq!(
        rows_with(&bx, &format!("ID:        A: {:0>64} ", "c0ffee")).len(),
        1
    );
    assert_eq!(rows_with(&bx, "           B: not recorded ").len(), 1);
    assert_eq!(rows_with(&bx, "Engine:    A: Podman ").len(), 1);
    assert_eq!(rows_with(&bx, "           B: other-engine ").len(), 1);
    assert_eq!(
        rows_with(&bx, "(their names or images differ)").len(),
        1,
        "{}",
        bx.join("\n")
    );
    assert!(!t.contains('\x1b'));
    let lines = different_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("(name and image A: "), "{err}");

    let (t, err) = ok_both(dir.path(), &["diff", "b.tar", "c.tar"]);
    assert!(different_lines(&err).is_empty(), "{err}");
    let bx = header_box(&t);
    assert_eq!(rows_with(&bx, "ID:        not recorded ").len(), 1);
    assert!(rows_with(&bx, "WARNING").is_empty());
}

/// The JSON's identity keys: `same_container` true / false / null, `same_container_by` `id` /
/// `name-and-image` / null, `warnings` typed as info.json's; each side's engine; checkpointctl's
/// `container_id`, `container_name` and `image` stay strings (A's).
#[test]
fn diff_json_says_whether_one_container() {
    let dir = TempDir::new("diff");
    one_process(&dir.join("a.tar"), &Layout::podman("web"));
    one_process(
        &dir.join("b.tar"),
        &podman_with("db", |c| {
            c.insert("id".into(), format!("{:0>64}", "b0b").into());
        }),
    );
    one_process(
        &dir.join("c.tar"),
        &podman_with("web", |c| {
            c.remove("id");
        }),
    );
    let mut bare = CheckpointWriter::new();
    bare.process(1, 0).comm("app");
    bare.write_dir(&dir.join("bare")).unwrap();
    let json = |x: &str, y: &str| -> Value {
        serde_json::from_str(&ok(dir.path(), &["diff", "--format", "json", x, y])).unwrap()
    };
    for (x, y, same, by, warned) in [
        ("a.tar", "b.tar", Value::Bool(false), Value::from("id"), 1),
        ("a.tar", "a.tar", Value::Bool(true), Value::from("id"), 0),
        (
            "a.tar",
            "c.tar",
            Value::Bool(true),
            Value::from("name-and-image"),
            0,
        ),
        ("a.tar", "bare", Value::Null, Value::Null, 0),
    ] {
        let j = json(x, y);
        assert_eq!(j["same_container"], same, "{x} {y}");
        assert_eq!(j["same_container_by"], by, "{x} {y}");
        let w = j["warnings"].as_array().unwrap();
        assert_eq!(w.len(), warned, "{x} {y}: {w:?}");
        for w in w {
            let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["kind", "message"]);
            assert_eq!(w["kind"], "different-containers");
            assert!(w["message"].is_string());
        }
        assert_eq!(j["checkpoint_a"]["engine"], "Podman");
        assert_eq!(
            j["checkpoint_b"]["engine"],
            if y == "bare" {
                Value::Null
            } else {
                Value::from("Podman")
            }
        );
        assert_eq!(j["container_id"], format!("{:0>64}", "c0ffee"));
        assert_eq!(j["container_name"], "web");
        assert!(j["image"].is_string());
    }
    let j = json("bare", "a.tar");
    assert_eq!(
        (&j["container_id"], &j["container_name"], &j["image"]),
        (&Value::from(""), &Value::from(""), &Value::from(""))
    );
}
