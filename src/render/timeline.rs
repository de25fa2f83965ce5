//! The timeline: every time a checkpoint records, as one event each, sorted; the mount's
//! `timeline` file and `ckptfs timeline` (which merges several checkpoints).
//!
//! Events, each with the checkpoint it comes from and where its time is recorded:
//! - `Container Created`: `config.dump`'s `createdTime` (Docker: `config.v2.json`'s `Created`);
//! - `Container Started`: Docker's `config.v2.json` `State.StartedAt`;
//! - `Checkpointed`: `config.dump`'s `checkpointedTime`;
//! - `Images Written`: when CRIU wrote the images (inventory.img's modification time as the
//!   archive or directory records it), with CRIU's dump statistics (`stats-dump`) when present;
//! - `File Modified`: each entry of the tars `rootfs/` is made of, by the modification time its
//!   header records, the source naming the tar: the container's rw layer (`rootfs-diff.tar`,
//!   `--rw-layer`), a tmpfs CRIU saved (`tmpfs-dev-45.tar.gz.img (/tmp)`) or Podman's
//!   `/dev/shm` (`devshm-checkpoint.tar`);
//! - `Deleted File Modified`: each open-but-deleted file CRIU saved (a ghost file), by the
//!   modification time its `ghost-file-*.img` records;
//! - `Log Line`: each line of the container log that starts with an RFC 3339 time (the
//!   k8s-file / CRI format Podman, CRI-O and containerd write: `TIME STREAM TAG text`);
//! - `Shell Command`: each entry of a bash process's history (`PID/bash_history`) at the time
//!   bash recorded for it.
//!
//! Times without a date (CRIU's `dump_uptime`, microseconds since the host booted) and entries
//! that record none (`deleted.files`, a `--rootfs` directory) give no event.
//!
//! Text, one event a line: `TIME  CHECKPOINT  WHAT  MESSAGE  [SOURCE]`, TIME in RFC 3339 UTC
//! with the nanoseconds the source has. The other formats: [`Format`].

use std::time::{SystemTime, UNIX_EPOCH};

use crate::format::time::parse_rfc3339;
use crate::model::Checkpoint;
use crate::model::rootfs::{FileData, NodeKind};

/// A rootfs entry an event is about (for the bodyfile's columns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Absolute path in the container.
    pub path: String,
    /// `ls -l`'s mode string (`-rw-r--r--`).
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
}

/// One event of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within that second.
    pub nanos: u32,
    /// The checkpoint the event comes from (its path or label).
    pub checkpoint: String,
    /// What happened at that time (Timesketch's `timestamp_desc`).
    pub what: &'static str,
    /// Where the time is recorded (`config.dump createdTime`, `rootfs-diff.tar mtime`, ...).
    pub source: String,
    /// The event, one line.
    pub message: String,
    /// The rootfs entry, for `File Modified`.
    pub file: Option<FileInfo>,
}

impl Event {
    /// The time in RFC 3339, UTC, with nanoseconds when there are any.
    pub fn datetime(&self) -> String {
        jiff::Timestamp::new(self.secs, i32::try_from(self.nanos).unwrap_or(0))
            .map_or_else(|_| format!("@{}", self.secs), |t| t.to_string())
    }

    /// Microseconds since the epoch (Timesketch's `timestamp`).
    pub fn micros(&self) -> i64 {
        self.secs
            .saturating_mul(1_000_000)
            .saturating_add(i64::from(self.nanos / 1000))
    }
}

/// Output formats of `ckptfs timeline`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One event a line: time, checkpoint, what, message, [where the time comes from]
    #[default]
    Text,
    /// sleuthkit's body file (`mactime -b FILE`)
    Bodyfile,
    /// One JSON object a line with Timesketch's fields (message, datetime, timestamp_desc,
    /// timestamp)
    Jsonl,
    /// The same objects as one JSON array
    Json,
    /// Comma-separated values with a header line
    Csv,
}

fn split(t: SystemTime) -> Option<(i64, u32)> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    Some((i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()))
}

fn mode_string(kind: &NodeKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(match kind {
        NodeKind::Dir => 'd',
        NodeKind::File(_) => '-',
        NodeKind::Symlink { .. } => 'l',
        NodeKind::Fifo => 'p',
        NodeKind::Device(d) if d.block => 'b',
        NodeKind::Device(_) => 'c',
    });
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (b, c)) in bits.iter().enumerate() {
        let mut ch = if mode & b != 0 { *c } else { '-' };
        let special = match i {
            2 => Some((0o4000, 's', 'S')),
            5 => Some((0o2000, 's', 'S')),
            8 => Some((0o1000, 't', 'T')),
            _ => None,
        };
        if let Some((sb, on, off)) = special
            && mode & sb != 0
        {
            ch = if mode & b != 0 { on } else { off };
        }
        s.push(ch);
    }
    s
}

/// The text of a log line after its time, stream and tag (`stdout F text`): `stdout: text`.
fn log_text(rest: &str) -> String {
    let mut it = rest.splitn(3, ' ');
    match (it.next(), it.next(), it.next()) {
        (Some(stream @ ("stdout" | "stderr")), Some(tag), Some(text))
            if tag.len() == 1 || tag.starts_with(['F', 'P']) =>
        {
            format!("{stream}: {text}")
        }
        _ => rest.to_string(),
    }
}

/// Every event `ck` records, labelled `checkpoint`, in time order.
pub fn collect(ck: &Checkpoint, checkpoint: &str) -> Vec<Event> {
    let mut ev = Vec::new();
    let mut push = |t: (i64, u32), what, source: String, message: String, file| {
        ev.push(Event {
            secs: t.0,
            nanos: t.1,
            checkpoint: checkpoint.to_string(),
            what,
            source,
            message: crate::format::escape(&message).into_owned(),
            file,
        });
    };
    let m = &ck.meta;
    let name = m
        .container_name
        .as_deref()
        .map_or_else(String::new, |n| format!(" {n}"));
    let created_from = if ck.source.metadata.contains_key("config.v2.json") {
        "config.v2.json Created"
    } else {
        "config.dump createdTime"
    };
    if let Some(t) = m.created.as_deref().and_then(parse_rfc3339).and_then(split) {
        push(
            t,
            "Container Created",
            created_from.into(),
            format!(
                "container{name} created{}",
                m.image
                    .as_deref()
                    .map_or_else(String::new, |i| format!(" from {i}"))
            ),
            None,
        );
    }
    if let Some(t) = m.started.as_deref().and_then(parse_rfc3339).and_then(split) {
        push(
            t,
            "Container Started",
            "config.v2.json State.StartedAt".into(),
            format!("container{name} started"),
            None,
        );
    }
    if let Some(t) = m
        .checkpointed
        .as_deref()
        .and_then(parse_rfc3339)
        .and_then(split)
    {
        push(
            t,
            "Checkpointed",
            "config.dump checkpointedTime".into(),
            format!("container{name} checkpointed"),
            None,
        );
    }
    if let Some(t) = ck.source.images.written.and_then(split) {
        let n = ck.processes.len();
        let mut msg = format!(
            "CRIU images written ({n} process{})",
            if n == 1 { "" } else { "es" }
        );
        if let Some(s) = &m.dump_stats {
            msg.push_str(&format!(
                "; dump statistics: frozen {}, freezing {}, memory dump {}, memory write {}, {} pages written of {} scanned",
                crate::format::time::duration_us(s.frozen_time.into()),
                crate::format::time::duration_us(s.freezing_time.into()),
                crate::format::time::duration_us(s.memdump_time.into()),
                crate::format::time::duration_us(s.memwrite_time.into()),
                s.pages_written,
                s.pages_scanned
            ));
        }
        push(t, "Images Written", "inventory.img mtime".into(), msg, None);
    }
    for (path, node) in ck.container_fs.rootfs.nodes() {
        let Some(st) = node.stamp else { continue };
        if st.image_dir {
            continue;
        }
        let size = match &node.kind {
            NodeKind::File(FileData::Blob(b)) => b.len() as u64,
            NodeKind::File(FileData::Host(h)) => h.size,
            _ => 0,
        };
        let mode = mode_string(&node.kind, node.mode);
        let path = format!("/{path}");
        push(
            (i64::try_from(st.mtime).unwrap_or(i64::MAX), 0),
            "File Modified",
            format!("{} mtime", ck.container_fs.rootfs.layer_name(&st)),
            format!("{path} {mode} {}:{} {size} bytes", st.uid, st.gid),
            Some(FileInfo {
                path,
                mode,
                uid: st.uid,
                gid: st.gid,
                size,
            }),
        );
    }
    // Open-but-deleted files CRIU saved (ghost files), by the mtime their image records.
    let mut ignored = crate::warning::Warnings::new();
    for g in crate::model::ghost::ghosts(&ck.source.images, &ck.files, &mut ignored) {
        let Some((secs, nanos)) = g.mtime else {
            continue;
        };
        let mode = mode_string(
            &NodeKind::File(FileData::Blob(g.data.clone())),
            g.mode & 0o7777,
        );
        let size = g.data.len() as u64;
        push(
            (i64::try_from(secs).unwrap_or(i64::MAX), nanos),
            "Deleted File Modified",
            "ghost file mtime".into(),
            format!(
                "{} (deleted, open at the dump; CRIU saved it) {mode} {size} bytes",
                g.path
            ),
            None,
        );
    }
    if let Some((log, blob)) = ck.container_log() {
        for (n, line) in blob.bytes().split(|&b| b == b'\n').enumerate() {
            let line = String::from_utf8_lossy(line);
            let Some((time, rest)) = line.split_once(' ') else {
                continue;
            };
            let Some(t) = parse_rfc3339(time).and_then(split) else {
                continue;
            };
            push(
                t,
                "Log Line",
                format!("{log} line {}", n + 1),
                log_text(rest.trim_end_matches('\r')),
                None,
            );
        }
    }
    // Each command an interactive bash kept in its history, at the time bash recorded.
    for p in ck
        .processes
        .iter()
        .filter(|p| crate::model::bash_history::is_bash(p))
    {
        for e in crate::model::bash_history::recover(p) {
            let Some(t) = e.time.and_then(|t| i64::try_from(t).ok()) else {
                continue;
            };
            push(
                (t, 0),
                "Shell Command",
                format!("PID {} bash history (heap {:#x})", p.pid, e.addr),
                format!("PID {} bash: {}", p.pid, String::from_utf8_lossy(&e.line)),
                None,
            );
        }
    }
    sort(&mut ev);
    ev
}

/// Sorts events by time; at the same time in the order they were collected.
pub fn sort(events: &mut [Event]) {
    events.sort_by_key(|e| (e.secs, e.nanos));
}

/// `ck`'s timeline as text (the mount's `timeline` file).
pub fn timeline(ck: &Checkpoint, checkpoint: &str) -> Vec<u8> {
    render(&collect(ck, checkpoint), Format::Text).into_bytes()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A bodyfile field: `|` would split it, so it is written `%7C` (and `%` as `%25`).
fn body_field(s: &str) -> String {
    s.replace('%', "%25").replace('|', "%7C")
}

/// An event as a JSON object: Timesketch's fields, then ckptfs's.
fn json_event(e: &Event) -> serde_json::Value {
    let mut v = serde_json::json!({
        "message": e.message,
        "datetime": e.datetime(),
        "timestamp": e.micros(),
        "timestamp_desc": e.what,
        "checkpoint": e.checkpoint,
        "source": e.source,
    });
    if let (Some(f), Some(o)) = (&e.file, v.as_object_mut()) {
        o.insert("path".into(), f.path.clone().into());
        o.insert("mode".into(), f.mode.clone().into());
        o.insert("uid".into(), f.uid.into());
        o.insert("gid".into(), f.gid.into());
        o.insert("size".into(), f.size.into());
    }
    v
}

/// `events` in `format`.
pub fn render(events: &[Event], format: Format) -> String {
    if format == Format::Json {
        let all: Vec<serde_json::Value> = events.iter().map(json_event).collect();
        let mut s = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into());
        s.push('\n');
        return s;
    }
    let mut s = String::new();
    if format == Format::Csv {
        s.push_str("datetime,timestamp,timestamp_desc,checkpoint,source,message,path\n");
    }
    for e in events {
        match format {
            Format::Text => s.push_str(&format!(
                "{}  {}  {}  {}  [{}]\n",
                e.datetime(),
                e.checkpoint,
                e.what,
                e.message,
                e.source
            )),
            Format::Bodyfile => {
                // MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime: the time
                // is the mtime (the one time each source records); the others are unknown (0).
                let (name, mode, uid, gid, size) = match &e.file {
                    Some(f) => (
                        format!("{}:{} ({})", e.checkpoint, f.path, e.source),
                        f.mode.clone(),
                        f.uid.to_string(),
                        f.gid.to_string(),
                        f.size,
                    ),
                    None => (
                        format!("{}: {}: {} ({})", e.checkpoint, e.what, e.message, e.source),
                        "0".into(),
                        "0".into(),
                        "0".into(),
                        0,
                    ),
                };
                s.push_str(&format!(
                    "0|{}|0|{}|{uid}|{gid}|{size}|0|{}|0|0\n",
                    body_field(&name),
                    body_field(&mode),
                    e.secs
                ));
            }
            Format::Jsonl => {
                s.push_str(&json_event(e).to_string());
                s.push('\n');
            }
            Format::Json => {}
            Format::Csv => {
                let path = e.file.as_ref().map_or("", |f| f.path.as_str());
                let fields = [
                    e.datetime(),
                    e.micros().to_string(),
                    e.what.to_string(),
                    e.checkpoint.clone(),
                    e.source.clone(),
                    e.message.clone(),
                    path.to_string(),
                ];
                let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                s.push_str(&row.join(","));
                s.push('\n');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(secs: i64, nanos: u32, msg: &str) -> Event {
        Event {
            secs,
            nanos,
            checkpoint: "a|b".into(),
            what: "Log Line",
            source: "ctr.log line 1".into(),
            message: msg.into(),
            file: None,
        }
    }

    #[test]
    fn modes_like_ls() {
        let f = NodeKind::File(FileData::Blob(crate::source::Blob::from_vec(Vec::new())));
        assert_eq!(mode_string(&f, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(&f, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(&NodeKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(&NodeKind::Dir, 0o1770), "drwxrwx--T");
    }

    #[test]
    fn log_lines_lose_stream_and_tag() {
        assert_eq!(log_text("stdout F hello world"), "stdout: hello world");
        assert_eq!(log_text("stderr P part"), "stderr: part");
        assert_eq!(log_text("something else"), "something else");
    }

    #[test]
    fn formats() {
        let e = [ev(1_764_959_550, 510_905_488, "say \"hi\", | there")];
        let t = render(&e, Format::Text);
        assert_eq!(
            t,
            "2025-12-05T18:32:30.510905488Z  a|b  Log Line  say \"hi\", | there  [ctr.log line 1]\n"
        );
        let b = render(&e, Format::Bodyfile);
        assert_eq!(b.matches('|').count(), 10, "{b}");
        assert!(b.ends_with("|0|1764959550|0|0\n"), "{b}");
        let j: serde_json::Value = serde_json::from_str(render(&e, Format::Jsonl).trim()).unwrap();
        assert_eq!(j["timestamp"], 1_764_959_550_510_905_i64);
        assert_eq!(j["datetime"], "2025-12-05T18:32:30.510905488Z");
        assert_eq!(j["timestamp_desc"], "Log Line");
        let c = render(&e, Format::Csv);
        assert!(
            c.lines()
                .nth(1)
                .unwrap()
                .contains("\"say \"\"hi\"\", | there\""),
            "{c}"
        );
    }

    #[test]
    fn sorted_by_time_then_order() {
        let mut v = vec![ev(5, 0, "b"), ev(3, 9, "a"), ev(5, 0, "c"), ev(3, 1, "z")];
        sort(&mut v);
        let m: Vec<&str> = v.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(m, ["z", "a", "b", "c"]);
    }
}
