//! `ckptfs timeline` and the mount's `timeline` file on the shared `podman-redis` pair (two dumps
//! of one redis container, a file written and a message logged between them).

use std::path::{Path, PathBuf};

use crate::common;
use ckptfs::writer::{CheckpointWriter, Compression, Layout};
use common::cli::json_lines;
use common::{Mount, TempDir, cat, fixtures, run_ok};
use serde_json::Value;

const A: &str = "podman-redis/checkpoint.tar.zst";
const B: &str = "podman-redis/checkpoint2.tar.gz";

fn timeline(f: &Path, cache: &Path, format: &str, cks: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        common::ckptfs().into(),
        "timeline".into(),
        "--cache-dir".into(),
        cache.display().to_string(),
        "--format".into(),
        format.into(),
    ];
    args.extend(cks.iter().map(|c| f.join(c).display().to_string()));
    String::from_utf8(run_ok(&args).stdout).unwrap()
}

/// `ckptfs timeline --format jsonl CKS...` (paths below `f`) with a cache of its
/// own: the events and the output they were parsed from.
fn events(f: &Path, cks: &[&str]) -> (Vec<Value>, String) {
    let cache = TempDir::new("timeline");
    let out = timeline(f, cache.path(), "jsonl", cks);
    (json_lines(&out), out)
}

/// The one event of `ev` whose `timestamp_desc` is `desc`; panics (showing `out`) unless there
/// is exactly one.
fn only<'a>(ev: &'a [Value], desc: &str, out: &str) -> &'a Value {
    let v: Vec<&Value> = ev.iter().filter(|e| e["timestamp_desc"] == desc).collect();
    assert_eq!(v.len(), 1, "{desc}: {out}");
    v[0]
}

/// `config.dump`'s `createdTime` straight from the archive.
fn created(f: &Path) -> String {
    let o = run_ok(&[
        "tar",
        "-xzOf",
        &f.join(B).display().to_string(),
        "config.dump",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["createdTime"].as_str().unwrap().to_string()
}

#[test]
fn redis_pair_jsonl_has_timesketch_fields_and_every_source() {
    let Some(f) = fixtures() else { return };
    let cache = TempDir::new("timeline");
    let out = timeline(&f, cache.path(), "jsonl", &[A, B]);
    let ev = json_lines(&out);
    assert!(ev.len() > 20, "{out}");
    let (a, b) = (
        f.join(A).display().to_string(),
        f.join(B).display().to_string(),
    );
    let mut last = i64::MIN;
    for e in &ev {
        // Timesketch's required fields, and timestamp (µs) agreeing with datetime.
        for k in [
            "message",
            "datetime",
            "timestamp_desc",
            "checkpoint",
            "source",
        ] {
            assert!(e[k].is_string(), "{k} missing: {e}");
        }
        let us = e["timestamp"].as_i64().unwrap();
        let t: jiff::Timestamp = e["datetime"].as_str().unwrap().parse().unwrap();
        assert_eq!(t.as_microsecond(), us, "{e}");
        assert!(us >= last, "not sorted at {e}");
        last = us;
        assert!(
            e["checkpoint"] == a.as_str() || e["checkpoint"] == b.as_str(),
            "{e}"
        );
    }
    let find = |ck: &str, desc: &str, msg: &str| -> Vec<&Value> {
        ev.iter()
            .filter(|e| {
                e["checkpoint"] == ck
                    && e["timestamp_desc"] == desc
                    && e["message"].as_str().unwrap().contains(msg)
            })
            .collect()
    };
    // Created: both dumps, config.dump's own time to the nanosecond.
    let c = created(&f);
    let want: jiff::Timestamp = c.parse().unwrap();
    for ck in [&a, &b] {
        let e = find(ck, "Container Created", "fx-redis");
        assert_eq!(e.len(), 1, "{out}");
        assert_eq!(e[0]["timestamp"], want.as_microsecond());
        assert_eq!(e[0]["source"], "config.dump createdTime");
    }
    // Images written, with the dump statistics, the second dump later than the first.
    let wa = find(&a, "Images Written", "pages written");
    let wb = find(&b, "Images Written", "pages written");
    assert_eq!((wa.len(), wb.len()), (1, 1), "{out}");
    assert!(wb[0]["timestamp"].as_i64() > wa[0]["timestamp"].as_i64());
    // The file written between the dumps: in the second dump's rw layer only, between them.
    assert!(find(&a, "File Modified", "/data/s4-note2.txt").is_empty());
    let note = find(&b, "File Modified", "/data/s4-note2.txt");
    assert_eq!(note.len(), 1, "{out}");
    assert_eq!(note[0]["path"], "/data/s4-note2.txt");
    assert_eq!(note[0]["mode"], "-rw-r--r--");
    assert_eq!(note[0]["source"], "rootfs-diff.tar mtime");
    let t = note[0]["timestamp"].as_i64().unwrap();
    assert!(t > wa[0]["timestamp"].as_i64().unwrap() && t < wb[0]["timestamp"].as_i64().unwrap());
    // The message published between the dumps: a log line of the second dump only.
    let msg = "REDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8";
    assert!(find(&a, "Log Line", msg).is_empty());
    let m = find(&b, "Log Line", msg);
    assert_eq!(m.len(), 1, "{out}");
    assert!(
        m[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("ctr.log line ")
    );
    assert_eq!(m[0]["message"], format!("stdout: {msg}"));
    // Redis's first log line, in both dumps.
    assert_eq!(find(&a, "Log Line", "Redis is starting").len(), 1);
    assert_eq!(find(&b, "Log Line", "Redis is starting").len(), 1);

    // json: the same objects as one array.
    let json: Value = serde_json::from_str(&timeline(&f, cache.path(), "json", &[A, B])).unwrap();
    assert_eq!(json.as_array().unwrap(), &ev);
    // csv and text: the same events, one line each (csv with a header).
    let csv = timeline(&f, cache.path(), "csv", &[A, B]);
    assert!(csv.starts_with("datetime,timestamp,timestamp_desc,checkpoint,source,message,path\n"));
    assert_eq!(csv.lines().count(), ev.len() + 1);
    let text = timeline(&f, cache.path(), "text", &[A, B]);
    assert_eq!(text.lines().count(), ev.len());
    assert!(
        text.lines()
            .any(|l| l.contains("File Modified  /data/s4-note2.txt")
                && l.ends_with("[rootfs-diff.tar mtime]")),
        "{text}"
    );
}

#[test]
fn redis_bodyfile_read_by_mactime() {
    let Some(f) = fixtures() else { return };
    // mactime has no --version (have_tool's probe): -V prints it.
    if !common::run_timeout(10, &["mactime", "-V"]).ok() {
        common::skip("mactime is not installed (sleuthkit)");
        return;
    }
    let cache = TempDir::new("timeline");
    let body = timeline(&f, cache.path(), "bodyfile", &[A, B]);
    for l in body.lines() {
        assert_eq!(l.split('|').count(), 11, "{l}");
    }
    let file: PathBuf = cache.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let o = run_ok(&["mactime", "-b", &file.display().to_string(), "-y", "-d"]);
    let out = String::from_utf8(o.stdout).unwrap();
    // The file written between the dumps, at its mtime, as a modification.
    let row = out
        .lines()
        .find(|l| l.contains(":/data/s4-note2.txt") && !l.starts_with("0000"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = row.split(',').collect();
    assert!(cols[0].starts_with("2026-12-05T19:02:"), "{row}");
    assert_eq!(cols[1], "60", "{row}");
    assert_eq!(cols[2], "m...", "{row}");
    assert_eq!(cols[3], "-rw-r--r--", "{row}");
    // The log line and the dump times too.
    assert!(out.contains("REDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8"), "{out}");
    assert!(out.contains("Images Written"), "{out}");
}

#[test]
fn mounted_timeline_file_is_the_text() {
    let Some(f) = fixtures() else { return };
    let m = Mount::new(&f.join(B));
    let file = String::from_utf8(cat(&m.p("timeline"))).unwrap();
    let cache = TempDir::new("timeline");
    let cli = timeline(&f, cache.path(), "text", &[B]);
    // The same events; the checkpoint column is the input's path either way.
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                let mut p: Vec<&str> = l.splitn(3, "  ").collect();
                p.remove(1);
                p.join("  ")
            })
            .collect()
    };
    assert_eq!(strip(&file), strip(&cli));
    assert!(
        file.contains("REDISFX-s4-SECOND-PUBSUB-MSG-2-c4f8"),
        "{file}"
    );
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

fn secs(t: &str) -> u64 {
    t.parse::<jiff::Timestamp>().unwrap().as_second() as u64
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

#[test]
fn writer_pair_merged_in_time_order() {
    let dir = TempDir::new("timeline");
    let log = "2026-11-28T10:00:01.250000000+00:00 stdout F started\n\
               not a timed line\n\
               2026-11-28T10:00:02+01:00 stderr F an|odd\u{1b}line\n";
    let mut a = CheckpointWriter::new();
    a.process(1, 0).comm("app");
    a.archive_file(
        "rootfs-diff.tar",
        &layer(&[("data/early.txt", "x", 0o644, secs("2026-11-28T09:30:00Z"))]),
    );
    a.archive_file("ctr.log", log.as_bytes());
    a.write_tar(
        &dir.path().join("a.tar"),
        &podman_at("2026-11-28T10:05:00.5Z"),
        Compression::None,
    )
    .unwrap();
    let mut b = CheckpointWriter::new();
    b.process(1, 0).comm("app");
    b.archive_file(
        "rootfs-diff.tar",
        &layer(&[(
            "data/late|name.txt",
            "yy",
            0o4755,
            secs("2026-11-28T10:06:00Z"),
        )]),
    );
    b.write_tar(
        &dir.path().join("b.tar"),
        &podman_at("2026-11-28T10:07:30Z"),
        Compression::Gzip,
    )
    .unwrap();
    let cache = TempDir::new("timeline");
    let text = timeline(dir.path(), cache.path(), "text", &["a.tar", "b.tar"]);
    let (a, b) = (
        dir.path().join("a.tar").display().to_string(),
        dir.path().join("b.tar").display().to_string(),
    );
    let want = [
        format!("2026-11-28T09:00:02Z  {a}  Log Line  stderr: an|odd\\x1bline  [ctr.log line 3]"),
        format!(
            "2026-11-28T09:30:00Z  {a}  File Modified  /data/early.txt -rw-r--r-- 0:0 1 bytes  [rootfs-diff.tar mtime]"
        ),
        format!(
            "2026-11-28T10:00:00Z  {a}  Container Created  container fx created from localhost/ckptfs-synthetic:latest  [config.dump createdTime]"
        ),
        format!(
            "2026-11-28T10:00:00Z  {b}  Container Created  container fx created from localhost/ckptfs-synthetic:latest  [config.dump createdTime]"
        ),
        format!("2026-11-28T10:00:01.25Z  {a}  Log Line  stdout: started  [ctr.log line 1]"),
        format!(
            "2026-11-28T10:05:00.5Z  {a}  Checkpointed  container fx checkpointed  [config.dump checkpointedTime]"
        ),
        format!(
            "2026-11-28T10:06:00Z  {b}  File Modified  /data/late|name.txt -rwsr-xr-x 0:0 2 bytes  [rootfs-diff.tar mtime]"
        ),
        format!(
            "2026-11-28T10:07:30Z  {b}  Checkpointed  container fx checkpointed  [config.dump checkpointedTime]"
        ),
    ];
    let got: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("Images Written"))
        .collect();
    assert_eq!(got, want, "{text}");
    // The bodyfile keeps 11 fields per line whatever the names hold.
    let body = timeline(dir.path(), cache.path(), "bodyfile", &["a.tar", "b.tar"]);
    let late = body
        .lines()
        .find(|l| l.contains("late%7Cname.txt"))
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(
        late,
        format!(
            "0|{b}:/data/late%7Cname.txt (rootfs-diff.tar mtime)|0|-rwsr-xr-x|0|0|2|0|{}|0|0",
            secs("2026-11-28T10:06:00Z")
        )
    );
    for l in body.lines() {
        assert_eq!(l.split('|').count(), 11, "{l}");
    }
}

/// podman-implant: each command of the interactive bash's in-memory history is a `Shell Command`
/// event at the time bash recorded, in order (expected.json's entries).
#[test]
fn bash_history_commands_in_the_timeline() {
    let Some(f) = fixtures() else { return };
    let dir = f.join("podman-implant");
    let expected: Value = common::read_json(&dir.join("expected.json"));
    let h = &expected["findings"]["bash_history"];
    let pid = h["pid"].as_u64().unwrap();
    let want: Vec<(String, String)> = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            // "2026-12-05 18:26:40" (UTC) as RFC 3339.
            let t = e["time"].as_str().unwrap().replace(' ', "T") + "Z";
            (
                t,
                format!("PID {pid} bash: {}", e["line"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(want.len(), 6);
    let (ev, out) = events(&dir, &["checkpoint.tar.gz"]);
    let got: Vec<(String, String)> = ev
        .into_iter()
        .filter(|e| e["timestamp_desc"] == "Shell Command")
        .map(|e| {
            (
                e["datetime"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "{out}");
}

#[test]
fn kitchen_ghost_file_by_its_recorded_mtime() {
    let Some(f) = fixtures() else { return };
    let (ev, out) = events(&f, &["podman-kitchen/checkpoint.tar.gz"]);
    let one = |desc: &str| only(&ev, desc, &out);
    // The deleted-but-open /tmp/kitchen-ghost (README), written after the container started and
    // before CRIU wrote the images.
    let g = one("Deleted File Modified");
    assert!(
        g["message"]
            .as_str()
            .unwrap()
            .starts_with("/tmp/kitchen-ghost (deleted"),
        "{g}"
    );
    assert_eq!(g["source"], "ghost file mtime");
    let t = |e: &Value| e["timestamp"].as_i64().unwrap();
    let created = one("Container Created");
    let written = one("Images Written");
    assert!(t(created) <= t(g) && t(g) <= t(written), "{out}");
}

#[test]
fn docker_created_and_started_from_config_v2() {
    let Some(f) = fixtures() else { return };
    let ctr = f
        .join("docker-redis/docker/containers")
        .join("42db61920c44688ea0008685fad46366cde0b320c9689fbe544541be584c336b");
    let cfg: Value = common::read_json(&ctr.join("config.v2.json"));
    let ck = ctr.join("checkpoints/ck1");
    let (ev, out) = events(Path::new("/"), &[ck.to_str().unwrap()]);
    let at = |desc: &str| -> i64 { only(&ev, desc, &out)["timestamp"].as_i64().unwrap() };
    let us = |p: &str| -> i64 {
        let t: jiff::Timestamp = cfg.pointer(p).unwrap().as_str().unwrap().parse().unwrap();
        t.as_microsecond()
    };
    assert_eq!(at("Container Created"), us("/Created"));
    assert_eq!(at("Container Started"), us("/State/StartedAt"));
}

#[test]
fn kitchen_file_events_name_the_tar_they_come_from() {
    let Some(f) = fixtures() else { return };
    let ck = f.join("podman-kitchen/checkpoint.tar.gz");
    let members = String::from_utf8(run_ok(&["tar", "-tzf", ck.to_str().unwrap()]).stdout).unwrap();
    let members: Vec<&str> = members
        .lines()
        .map(|l| l.trim_start_matches("./"))
        .collect();
    // Podman saved no rw layer for this container: its files come from the tmpfs archives CRIU
    // wrote and from Podman's /dev/shm tar.
    assert!(!members.contains(&"rootfs-diff.tar"), "{members:?}");
    assert!(members.contains(&"devshm-checkpoint.tar"), "{members:?}");
    let (ev, out) = events(&f, &["podman-kitchen/checkpoint.tar.gz"]);
    let files: Vec<&Value> = ev
        .iter()
        .filter(|e| e["timestamp_desc"] == "File Modified")
        .collect();
    assert!(!files.is_empty(), "{out}");
    let source = |path: &str| -> String {
        let v: Vec<&&Value> = files.iter().filter(|e| e["path"] == path).collect();
        assert_eq!(v.len(), 1, "{path}: {out}");
        v[0]["source"].as_str().unwrap().to_string()
    };
    assert_eq!(source("/dev/shm/kitchen.s1"), "devshm-checkpoint.tar mtime");
    // The FIFO lives in the container's /tmp tmpfs: the event names that image, which is in the
    // archive.
    let fifo = source("/tmp/kitchen.fifo");
    let image = fifo
        .strip_suffix(" (/tmp) mtime")
        .unwrap_or_else(|| panic!("{fifo}"));
    assert!(image.starts_with("tmpfs-dev-"), "{fifo}");
    assert!(
        members.contains(&format!("checkpoint/{image}").as_str()),
        "{image} not in {members:?}"
    );
    for e in &files {
        assert_ne!(e["source"], "rootfs-diff.tar mtime", "{e}");
    }
}
