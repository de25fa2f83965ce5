//! What ckptfs compares beyond checkpointctl: the container's files (`rootfs/`: the writable
//! layer `rootfs-diff.tar`, the tmpfs mounts and saved files as the checkpoint knows them, and
//! `deleted.files`), the container log, and when each dump was taken.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::output::{
    DumpTime, FieldChange, LogChanges, QueueChange, RootfsChanges, RootfsEntry, TcpStreamChange,
};
use crate::model::Checkpoint;
use crate::model::rootfs::{FileData, Node, NodeKind, RootFs};
use crate::source::Source;

/// When a dump was taken: the engine's checkpointed time when it records one, else when CRIU
/// wrote the images (inventory.img's modification time as the archive or directory records it).
pub fn dump_time(source: &Source, checkpointed: Option<&str>) -> Option<DumpTime> {
    if let Some(c) = checkpointed
        && crate::model::metadata::parse_rfc3339(c).is_some()
    {
        return Some(DumpTime {
            time: c.trim().to_string(),
            from: "checkpointed".into(),
        });
    }
    let t = source.images.written?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(DumpTime {
        time: crate::format::time::rfc3339(i64::try_from(secs).ok()?),
        from: "images written".into(),
    })
}

fn kind_name(n: &Node) -> &'static str {
    match n.kind {
        NodeKind::Dir => "directory",
        NodeKind::File(_) => "file",
        NodeKind::Symlink { .. } => "symlink",
        NodeKind::Fifo => "fifo",
        NodeKind::Device(d) if d.block => "block device",
        NodeKind::Device(_) => "character device",
    }
}

/// The SHA-256 of a regular file's bytes, or why it has none.
fn sha256(d: &FileData) -> Option<String> {
    let b = d.blob().ok()?;
    Some(hex(&Sha256::digest(b.bytes())))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An entry as one side has it.
fn entry(path: &str, n: &Node, status: &str) -> RootfsEntry {
    let mut e = RootfsEntry {
        path: format!("/{path}"),
        status: status.into(),
        kind: kind_name(n).into(),
        mode: format!("{:04o}", n.mode),
        size: None,
        mtime: n
            .stamp
            .map(|s| crate::format::time::rfc3339(s.mtime as i64)),
        sha256: None,
        target: None,
        changes: Vec::new(),
    };
    match &n.kind {
        NodeKind::File(d) => {
            e.size = Some(d.size());
            e.sha256 = sha256(d);
        }
        NodeKind::Symlink { target, .. } => e.target = Some(target.clone()),
        _ => {}
    }
    e
}

/// Compares the two namespaces entry by entry: type, size, mode, mtime, SHA-256 (files) and
/// target (symlinks). Directories that changed only in mtime are left out (a new entry in them
/// is listed itself).
pub fn rootfs_changes(a: &RootFs, b: &RootFs) -> RootfsChanges {
    let mut r = RootfsChanges::default();
    for (path, nb) in b.nodes() {
        match a.node(path) {
            None => r.added.push(entry(path, nb, "added")),
            Some(na) => {
                let (ea, eb) = (entry(path, na, "removed"), entry(path, nb, "changed"));
                let field = |name: &str, x: Option<String>, y: Option<String>| {
                    (x != y).then(|| FieldChange {
                        field: name.into(),
                        a: x.unwrap_or_else(|| "-".into()),
                        b: y.unwrap_or_else(|| "-".into()),
                    })
                };
                let mut changes: Vec<FieldChange> = [
                    field("type", Some(ea.kind.clone()), Some(eb.kind.clone())),
                    field(
                        "size",
                        ea.size.map(|s| s.to_string()),
                        eb.size.map(|s| s.to_string()),
                    ),
                    field("mode", Some(ea.mode.clone()), Some(eb.mode.clone())),
                    field("sha256", ea.sha256.clone(), eb.sha256.clone()),
                    field("target", ea.target.clone(), eb.target.clone()),
                ]
                .into_iter()
                .flatten()
                .collect();
                if !changes.is_empty() || !matches!(nb.kind, NodeKind::Dir) {
                    changes.extend(field("mtime", ea.mtime.clone(), eb.mtime.clone()));
                }
                if !changes.is_empty() {
                    r.changed.push(RootfsEntry { changes, ..eb });
                }
            }
        }
    }
    for (path, na) in a.nodes() {
        if b.node(path).is_none() {
            r.removed.push(entry(path, na, "removed"));
        }
    }
    r
}

/// The paths a checkpoint's `deleted.files` lists (a JSON array of absolute paths).
fn deleted_files(ck: &Checkpoint) -> BTreeSet<String> {
    ck.source
        .metadata
        .get("deleted.files")
        .and_then(|b| serde_json::from_slice::<Vec<String>>(b.bytes()).ok())
        .map(|v| v.into_iter().collect())
        .unwrap_or_default()
}

/// rootfs/ and deleted.files of two checkpoints (their rootfs/ built from the archives).
pub fn files(a: &Checkpoint, b: &Checkpoint) -> RootfsChanges {
    let mut r = rootfs_changes(&a.container_fs.rootfs, &b.container_fs.rootfs);
    let (da, db) = (deleted_files(a), deleted_files(b));
    r.deleted_files_added = db.difference(&da).cloned().collect();
    r.deleted_files_removed = da.difference(&db).cloned().collect();
    r
}

/// The established TCP connections of one checkpoint that CRIU dumped with their queues, keyed
/// by (PID, descriptor, local end, peer end): (queues, sequence numbers).
#[allow(clippy::type_complexity)]
fn tcp_streams(ck: &Checkpoint) -> BTreeMap<(u32, u32, String, String), ((u32, u32), (u32, u32))> {
    let mut out = BTreeMap::new();
    for p in &ck.processes {
        for fd in &p.fds {
            let crate::model::FileKind::InetSocket(s) = &fd.file.kind else {
                continue;
            };
            let (Some(q), Some(seq)) = (
                ck.objects.tcp_queues.get(&s.ino),
                ck.objects.tcp_seqs.get(&s.ino),
            ) else {
                continue;
            };
            let Some(n) = crate::views::fds::socket_node(&fd.file) else {
                continue;
            };
            let d = n.data;
            out.insert(
                (
                    p.pid,
                    fd.fd,
                    format!("{}:{}", d.src, d.src_port),
                    format!("{}:{}", d.dst, d.dst_port),
                ),
                (*q, *seq),
            );
        }
    }
    out
}

/// TCP connections dumped in both whose queues or sequence numbers differ.
pub fn tcp_changes(a: &Checkpoint, b: &Checkpoint) -> Vec<TcpStreamChange> {
    let (sa, sb) = (tcp_streams(a), tcp_streams(b));
    let mut out = Vec::new();
    for (k, (qb, seqb)) in &sb {
        let Some((qa, seqa)) = sa.get(k) else {
            continue;
        };
        if qa == qb && seqa == seqb {
            continue;
        }
        out.push(TcpStreamChange {
            pid: k.0,
            fd: k.1,
            local: k.2.clone(),
            peer: k.3.clone(),
            recv_queue_a: qa.0,
            recv_queue_b: qb.0,
            send_queue_a: qa.1,
            send_queue_b: qb.1,
            inq_seq_a: seqa.0,
            inq_seq_b: seqb.0,
            outq_seq_a: seqa.1,
            outq_seq_b: seqb.1,
            received: seqb.0.wrapping_sub(seqa.0),
            sent: seqb.1.wrapping_sub(seqa.1),
        });
    }
    out
}

/// Bytes of each side shown in the text and JSON (escaped).
const HEAD: usize = 64;

/// The `buffers/` names a checkpoint's descriptors are open on, with `PID N fd N` for each.
fn queue_holders(ck: &Checkpoint) -> BTreeMap<String, Vec<String>> {
    use crate::model::FileKind;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &ck.processes {
        for fd in &p.fds {
            let names = match &fd.file.kind {
                FileKind::Pipe { pipe_id, .. } => vec![format!("pipe-{pipe_id}")],
                FileKind::Fifo { pipe_id, .. } => vec![format!("fifo-{pipe_id}")],
                FileKind::UnixSocket(u) => vec![format!("unix-{}", u.ino)],
                FileKind::InetSocket(s) => {
                    vec![format!("tcp-{}.recv", s.ino), format!("tcp-{}.send", s.ino)]
                }
                _ => continue,
            };
            for n in names {
                out.entry(n)
                    .or_default()
                    .push(format!("PID {} fd {}", p.pid, fd.fd));
            }
        }
    }
    out
}

fn queue_kind(name: &str) -> &'static str {
    match name.split('-').next() {
        Some("pipe") => "pipe",
        Some("fifo") => "fifo",
        Some("unix") => "unix",
        _ if name.ends_with(".recv") => "tcp-recv",
        _ if name.ends_with(".send") => "tcp-send",
        _ => "other",
    }
}

fn head(b: &[u8]) -> String {
    crate::format::escape::escape_ascii(&b[..b.len().min(HEAD)])
}

/// Unread pipe, FIFO and socket data (`buffers/`) matched by name (the pipe's or socket's
/// inode, which a container keeps while it runs): what only B holds, only A, or what differs.
pub fn queue_changes(a: &Checkpoint, b: &Checkpoint) -> Vec<QueueChange> {
    fn side(ck: &Checkpoint) -> BTreeMap<String, &[u8]> {
        ck.objects
            .buffers
            .iter()
            .map(|x| (x.name.clone(), x.data.bytes()))
            .collect()
    }
    let (qa, qb) = (side(a), side(b));
    let (ha, hb) = (queue_holders(a), queue_holders(b));
    let names: BTreeSet<&String> = qa.keys().chain(qb.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (x, y) = (qa.get(name).copied(), qb.get(name).copied());
        let status = match (x, y) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        let holders = if status == "removed" { &ha } else { &hb };
        let (mut appended, mut consumed) = (None, None);
        if let (Some(x), Some(y)) = (x, y) {
            if let Some(rest) = y.strip_prefix(x) {
                appended = Some(head(rest));
            } else if x.ends_with(y) {
                consumed = Some((x.len() - y.len()) as u64);
            }
        }
        out.push(QueueChange {
            name: name.clone(),
            kind: queue_kind(name).into(),
            status: status.into(),
            holders: holders.get(name).cloned().unwrap_or_default(),
            size_a: x.map(|x| x.len() as u64),
            size_b: y.map(|y| y.len() as u64),
            sha256_a: x.map(|x| hex(&Sha256::digest(x))),
            sha256_b: y.map(|y| hex(&Sha256::digest(y))),
            head_a: x.map(head),
            head_b: y.map(head),
            appended,
            consumed,
        });
    }
    out
}

/// The container log's lines in B that A does not have. When A's log is the start of B's (a log
/// only grows), the lines after it; else every line of B not in A, and the lines of A not in B
/// as lost (the log was rotated or truncated).
pub fn log_changes(a: &Checkpoint, b: &Checkpoint) -> Option<LogChanges> {
    let (name_b, lb) = b.container_log()?;
    let la = a.container_log().map(|(_, l)| l.bytes()).unwrap_or(&[]);
    let lb = lb.bytes();
    let lines = |s: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(s)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let mut r = LogChanges {
        name: name_b.to_string(),
        lines_a: lines(la).len(),
        lines_b: lines(lb).len(),
        ..LogChanges::default()
    };
    if lb.starts_with(la) {
        r.new_lines = lines(&lb[la.len()..]);
    } else {
        let mut count: BTreeMap<String, i64> = BTreeMap::new();
        for l in lines(la) {
            *count.entry(l).or_default() += 1;
        }
        for l in lines(lb) {
            let c = count.entry(l.clone()).or_default();
            if *c > 0 {
                *c -= 1;
            } else {
                r.new_lines.push(l);
            }
        }
        let mut left: BTreeMap<String, i64> = count.into_iter().filter(|(_, c)| *c > 0).collect();
        for l in lines(la) {
            if let Some(c) = left.get_mut(&l)
                && *c > 0
            {
                *c -= 1;
                r.lost_lines.push(l);
            }
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8], u32, u64)]) -> crate::source::Blob {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data, mode, mtime) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_mtime(*mtime);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, *data).unwrap();
        }
        crate::source::Blob::from_vec(b.into_inner().unwrap())
    }

    fn fs(entries: &[(&str, &[u8], u32, u64)]) -> RootFs {
        RootFs::build(None, Some(&tar_of(entries)), None).unwrap()
    }

    #[test]
    fn files_added_removed_and_changed() {
        let a = fs(&[
            ("data/same.txt", b"same", 0o644, 10),
            ("data/edit.txt", b"one", 0o644, 10),
            ("data/chmod.txt", b"x", 0o644, 10),
            ("data/gone.txt", b"gone", 0o644, 10),
        ]);
        let b = fs(&[
            ("data/same.txt", b"same", 0o644, 10),
            ("data/edit.txt", b"two", 0o644, 20),
            ("data/chmod.txt", b"x", 0o600, 10),
            ("data/new.txt", b"new", 0o640, 30),
        ]);
        let r = rootfs_changes(&a, &b);
        assert_eq!(r.added.len(), 1);
        assert_eq!(r.added[0].path, "/data/new.txt");
        assert_eq!(r.added[0].size, Some(3));
        assert_eq!(r.added[0].mode, "0640");
        assert_eq!(r.added[0].mtime.as_deref(), Some("1970-01-01T00:00:30Z"));
        assert_eq!(
            r.added[0].sha256.as_deref(),
            Some("11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437")
        );
        assert_eq!(r.removed.len(), 1);
        assert_eq!(r.removed[0].path, "/data/gone.txt");
        let changed: BTreeMap<&str, Vec<&str>> = r
            .changed
            .iter()
            .map(|e| {
                (
                    e.path.as_str(),
                    e.changes.iter().map(|c| c.field.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert_eq!(changed["/data/edit.txt"], ["sha256", "mtime"]);
        assert_eq!(changed["/data/chmod.txt"], ["mode"]);
    }
}
