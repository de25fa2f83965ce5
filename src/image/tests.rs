//! Tests of the image layer: framing faults, special headers, payloads, and every image
//! of the real fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

use super::magic::{self, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC};
use super::pb;
use super::*;

fn header(magic: u32) -> Vec<u8> {
    let mut out = Vec::new();
    match magic::Header::for_magic(magic) {
        magic::Header::Bare => {}
        magic::Header::Common => out.extend_from_slice(&IMG_COMMON_MAGIC.to_le_bytes()),
        magic::Header::Service => out.extend_from_slice(&IMG_SERVICE_MAGIC.to_le_bytes()),
    }
    out.extend_from_slice(&magic.to_le_bytes());
    out
}

fn push_entry(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}

fn image<M: Message>(magic: u32, entries: &[M]) -> Vec<u8> {
    let mut out = header(magic);
    for e in entries {
        push_entry(&mut out, &e.encode_to_vec());
    }
    out
}

fn pstree(pid: u32, threads: &[u32]) -> pb::PstreeEntry {
    pb::PstreeEntry {
        pid,
        ppid: 0,
        pgid: pid,
        sid: pid,
        threads: threads.to_vec(),
    }
}

#[test]
fn decodes_entries_in_order() {
    let bytes = image(magic::PSTREE, &[pstree(1, &[1, 5]), pstree(7, &[7])]);
    let got: Vec<pb::PstreeEntry> = decode_all("pstree.img", &bytes, magic::PSTREE).unwrap();
    assert_eq!(got, vec![pstree(1, &[1, 5]), pstree(7, &[7])]);
}

#[test]
fn header_only_image_is_empty() {
    let bytes = header(magic::FDINFO);
    let got: Vec<pb::FdinfoEntry> = decode_all("fdinfo-2.img", &bytes, magic::FDINFO).unwrap();
    assert!(got.is_empty());
    let err = decode_one::<pb::FsEntry>("fs-1.img", &header(magic::FS), magic::FS).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NoEntry);
    assert_eq!(
        err.to_string(),
        "fs-1.img: at offset 8: no entry, exactly one expected"
    );
}

#[test]
fn bad_common_magic() {
    let mut bytes = image(magic::CORE, &[pb::CoreEntry::default()]);
    bytes[0] ^= 0xff;
    let err = decode_all::<pb::CoreEntry>("core-1.img", &bytes, magic::CORE).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BadLeadMagic { expected, .. } if *expected == IMG_COMMON_MAGIC)
    );
    assert_eq!((err.entry(), err.offset()), (None, 0));
    let text = err.to_string();
    assert!(
        text.starts_with("core-1.img: at offset 0: header magic 0x"),
        "{text}"
    );
    assert!(text.contains("0x54564319 (IMG_COMMON)"), "{text}");
}

#[test]
fn wrong_image_magic() {
    let bytes = image(magic::MM, &[pb::MmEntry::default()]);
    let err = decode_one::<pb::CoreEntry>("core-1.img", &bytes, magic::CORE).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::WrongMagic {
            found: magic::MM,
            expected: magic::CORE
        }
    );
    assert_eq!(
        err.to_string(),
        "core-1.img: at offset 4: image magic 0x57492820 (MM) where 0x55053847 (CORE) is expected"
    );
}

#[test]
fn truncated_header() {
    let full = image(magic::CORE, &[pb::CoreEntry::default()]);
    for cut in 0..8 {
        let err = decode_all::<pb::CoreEntry>("core-1.img", &full[..cut], magic::CORE).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TruncatedHeader { need: 8, .. }),
            "{cut}: {err}"
        );
    }
    let err = decode_all::<pb::InventoryEntry>("inventory.img", &[0x16, 0x31], magic::INVENTORY)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "inventory.img: at offset 0: file of 2 bytes is too short for its 4-byte header"
    );
}

#[test]
fn truncated_length_word() {
    let mut bytes = image(magic::PSTREE, &[pstree(1, &[1])]);
    let first_end = bytes.len();
    bytes.extend_from_slice(&[3, 0]);
    let err = decode_all::<pb::PstreeEntry>("pstree.img", &bytes, magic::PSTREE).unwrap_err();
    assert_eq!(err.entry(), Some(1));
    assert_eq!(err.offset(), first_end);
    assert!(
        matches!(err.kind(), ErrorKind::TruncatedLength { left: 2, .. }),
        "{err}"
    );
}

#[test]
fn length_past_end_of_file() {
    let mut bytes = header(magic::CORE);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.resize(2298, 0);
    let err = decode_all::<pb::CoreEntry>("core-8259.img", &bytes, magic::CORE).unwrap_err();
    assert_eq!(
        err.to_string(),
        "core-8259.img: entry 0 at offset 8: length 4294967295 runs past end of file (2298 bytes)"
    );
    // One byte short.
    let mut bytes = header(magic::PSTREE);
    let body = pstree(1, &[1]).encode_to_vec();
    push_entry(&mut bytes, &body);
    bytes.pop();
    let err = decode_all::<pb::PstreeEntry>("pstree.img", &bytes, magic::PSTREE).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::LengthPastEnd { .. }),
        "{err}"
    );
}

#[test]
fn corrupt_protobuf_is_an_error() {
    let mut bytes = header(magic::PSTREE);
    // field 1 varint that never ends
    push_entry(&mut bytes, &[0x08, 0xff, 0xff]);
    let err = decode_all::<pb::PstreeEntry>("pstree.img", &bytes, magic::PSTREE).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Decode(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("pstree.img: entry 0 at offset 8: corrupt protobuf")
    );
    // wire type 7 does not exist
    let mut bytes = header(magic::PSTREE);
    push_entry(&mut bytes, &[0x0f]);
    assert!(decode_all::<pb::PstreeEntry>("pstree.img", &bytes, magic::PSTREE).is_err());
    // A comm that is not UTF-8 is not an error: names are `bytes` in our proto (wire-compatible
    // with CRIU's `string`), so one odd name cannot make a whole image unreadable.
    let mut bytes = header(magic::CORE);
    push_entry(&mut bytes, &[0x1a, 0x04, 0x32, 0x02, 0xff, 0xfe]);
    let core = decode_all::<pb::CoreEntry>("core-1.img", &bytes, magic::CORE).unwrap();
    assert_eq!(
        core[0].tc.as_ref().map(|t| t.comm.clone()),
        Some(vec![0xff, 0xfe])
    );
}

#[test]
fn required_fields_may_be_absent() {
    // prost does not enforce `required`: an empty message decodes to defaults.
    let mut bytes = header(magic::PSTREE);
    push_entry(&mut bytes, &[]);
    let got: Vec<pb::PstreeEntry> = decode_all("pstree.img", &bytes, magic::PSTREE).unwrap();
    assert_eq!(got, vec![pb::PstreeEntry::default()]);
}

#[test]
fn unknown_fields_are_skipped() {
    let mut body = pstree(3, &[3]).encode_to_vec();
    // field 99, varint 1; field 100, bytes "xy"
    body.extend_from_slice(&[0x98, 0x06, 0x01, 0xa2, 0x06, 0x02, b'x', b'y']);
    let mut bytes = header(magic::PSTREE);
    push_entry(&mut bytes, &body);
    let got: Vec<pb::PstreeEntry> = decode_all("pstree.img", &bytes, magic::PSTREE).unwrap();
    assert_eq!(got, vec![pstree(3, &[3])]);
}

#[test]
fn decode_one_rejects_several_entries() {
    let bytes = image(
        magic::FS,
        &[
            pb::FsEntry::default(),
            pb::FsEntry::default(),
            pb::FsEntry::default(),
        ],
    );
    let err = decode_one::<pb::FsEntry>("fs-1.img", &bytes, magic::FS).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::TooManyEntries { count: 3 });
    assert_eq!(err.entry(), Some(1));
    let one = image(
        magic::FS,
        &[pb::FsEntry {
            cwd_id: 4,
            root_id: 5,
            umask: Some(0o22),
        }],
    );
    let fs: pb::FsEntry = decode_one("fs-1.img", &one, magic::FS).unwrap();
    assert_eq!((fs.cwd_id, fs.root_id, fs.umask()), (4, 5, 0o22));
}

#[test]
fn inventory_has_a_bare_header() {
    let inv = pb::InventoryEntry {
        img_version: 2,
        dump_uptime: Some(12345),
        ..Default::default()
    };
    let bytes = image(magic::INVENTORY, std::slice::from_ref(&inv));
    assert_eq!(&bytes[..4], &magic::INVENTORY.to_le_bytes());
    let got: pb::InventoryEntry = decode_one("inventory.img", &bytes, magic::INVENTORY).unwrap();
    assert_eq!(got, inv);
    // A common header in front is wrong for the inventory.
    let mut with_common = IMG_COMMON_MAGIC.to_le_bytes().to_vec();
    with_common.extend_from_slice(&bytes);
    let err = decode_one::<pb::InventoryEntry>("inventory.img", &with_common, magic::INVENTORY)
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WrongMagic { .. }), "{err}");
}

#[test]
fn stats_have_a_service_header() {
    let stats = pb::StatsEntry {
        dump: Some(pb::DumpStatsEntry {
            freezing_time: 10,
            pages_written: 99,
            ..Default::default()
        }),
        restore: None,
    };
    let bytes = image(magic::STATS, std::slice::from_ref(&stats));
    assert_eq!(&bytes[..4], &IMG_SERVICE_MAGIC.to_le_bytes());
    let got: pb::StatsEntry = decode_one("stats-dump", &bytes, magic::STATS).unwrap();
    assert_eq!(got, stats);
    // The common magic is wrong for a service file.
    let mut wrong = bytes.clone();
    wrong[..4].copy_from_slice(&IMG_COMMON_MAGIC.to_le_bytes());
    let err = decode_one::<pb::StatsEntry>("stats-dump", &wrong, magic::STATS).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::BadLeadMagic { expected, .. } if *expected == IMG_SERVICE_MAGIC),
        "{err}"
    );
}

#[test]
fn payload_images() {
    let mut bytes = header(magic::PIPES_DATA);
    for (id, data) in [(10u32, &b"hello"[..]), (11, b""), (12, b"xyz")] {
        let e = pb::PipeDataEntry {
            pipe_id: id,
            bytes: data.len() as u32,
            size: Some(65536),
        };
        push_entry(&mut bytes, &e.encode_to_vec());
        bytes.extend_from_slice(data);
    }
    let got = decode_with_payload(
        "pipes-data.img",
        &bytes,
        magic::PIPES_DATA,
        |e: &pb::PipeDataEntry| u64::from(e.bytes),
    )
    .unwrap();
    let view: Vec<_> = got
        .iter()
        .map(|(e, r)| (e.pipe_id, &bytes[r.clone()]))
        .collect();
    assert_eq!(
        view,
        vec![(10, &b"hello"[..]), (11, &b""[..]), (12, &b"xyz"[..])]
    );

    // A payload running past the end.
    let cut = &bytes[..bytes.len() - 1];
    let err = decode_with_payload(
        "pipes-data.img",
        cut,
        magic::PIPES_DATA,
        |e: &pb::PipeDataEntry| u64::from(e.bytes),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::PayloadPastEnd { len: 3, .. }),
        "{err}"
    );
    assert_eq!(err.entry(), Some(2));
    // An absurd payload length.
    let err = decode_with_payload(
        "pipes-data.img",
        &bytes,
        magic::PIPES_DATA,
        |_: &pb::PipeDataEntry| u64::MAX,
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::PayloadPastEnd { .. }),
        "{err}"
    );

    // tcp-stream: inq then outq.
    let ts = pb::TcpStreamEntry {
        inq_len: 2,
        outq_len: 3,
        ..Default::default()
    };
    let mut bytes = header(magic::TCP_STREAM);
    push_entry(&mut bytes, &ts.encode_to_vec());
    bytes.extend_from_slice(b"inout");
    let got = decode_with_payload(
        "tcp-stream-1.img",
        &bytes,
        magic::TCP_STREAM,
        |e: &pb::TcpStreamEntry| u64::from(e.inq_len) + u64::from(e.outq_len),
    )
    .unwrap();
    assert_eq!(&bytes[got[0].1.clone()], b"inout");
}

/// A tiny deterministic generator for the no-panic sweeps.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Decodes `bytes` as every kind we know; only checks that nothing panics.
fn decode_everything(bytes: &[u8]) {
    let _ = decode_all::<pb::CoreEntry>("x", bytes, magic::CORE);
    let _ = decode_all::<pb::MmEntry>("x", bytes, magic::MM);
    let _ = decode_all::<pb::PstreeEntry>("x", bytes, magic::PSTREE);
    let _ = decode_all::<pb::FileEntry>("x", bytes, magic::FILES);
    let _ = decode_one::<pb::InventoryEntry>("x", bytes, magic::INVENTORY);
    let _ = decode_one::<pb::StatsEntry>("x", bytes, magic::STATS);
    let _ = decode_pagemap("x", bytes);
    let _ = decode_with_payload("x", bytes, magic::PIPES_DATA, |e: &pb::PipeDataEntry| {
        u64::from(e.bytes)
    });
}

#[test]
fn hostile_bytes_never_panic() {
    let mut rng = Lcg(42);
    for len in 0..300usize {
        for magic in [
            magic::CORE,
            magic::MM,
            magic::PSTREE,
            magic::FILES,
            magic::PAGEMAP,
            magic::PIPES_DATA,
        ] {
            let mut bytes = header(magic);
            bytes.extend((0..len).map(|_| rng.next() as u8));
            decode_everything(&bytes);
        }
    }
}

#[test]
fn every_truncation_and_bit_flip_of_a_real_image_is_handled() {
    let Some(root) = crate::source::test_util::fixtures() else {
        return;
    };
    for rel in [
        "secretd-plain/images/core-8259.img",
        "secretd-plain/images/mm-8259.img",
        "secretd-plain/images/pagemap-8259.img",
        "secretd-plain/images/files.img",
    ] {
        let bytes = std::fs::read(root.join(rel)).unwrap();
        for cut in 0..bytes.len() {
            decode_everything(&bytes[..cut]);
        }
        let mut rng = Lcg(7);
        for _ in 0..2000 {
            let mut b = bytes.clone();
            let at = (rng.next() as usize) % b.len();
            b[at] ^= 1 << (rng.next() % 8);
            decode_everything(&b);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real fixtures.

/// What the fixture walk learns, for the value checks.
#[derive(Default)]
struct Seen {
    /// image path → decoded entry count
    counts: BTreeMap<String, usize>,
    pstree: BTreeMap<String, Vec<pb::PstreeEntry>>,
    mm: BTreeMap<String, pb::MmEntry>,
    core: BTreeMap<String, pb::CoreEntry>,
    pagemaps: BTreeMap<String, (u64, Vec<PageRun>)>,
}

/// Decodes one image by its name, with the right message type.
fn decode_named(key: &str, name: &str, bytes: &[u8], seen: &mut Seen) -> Result<(), Error> {
    let Some(m) = magic_for(name) else {
        return Ok(());
    };
    let n = if name.starts_with("pagemap-") {
        let (id, runs) = decode_pagemap(name, bytes)?;
        let n = runs.len() + 1;
        seen.pagemaps.insert(key.to_owned(), (id, runs));
        n
    } else if name.starts_with("core-") {
        let core: pb::CoreEntry = decode_one(name, bytes, m)?;
        seen.core.insert(key.to_owned(), core);
        1
    } else if name.starts_with("mm-") {
        let mm: pb::MmEntry = decode_one(name, bytes, m)?;
        seen.mm.insert(key.to_owned(), mm);
        1
    } else if name == "pstree.img" {
        let v: Vec<pb::PstreeEntry> = decode_all(name, bytes, m)?;
        let n = v.len();
        seen.pstree.insert(key.to_owned(), v);
        n
    } else if name == "inventory.img" {
        decode_one::<pb::InventoryEntry>(name, bytes, m).map(|_| 1)?
    } else if name.starts_with("stats-") {
        decode_one::<pb::StatsEntry>(name, bytes, m).map(|_| 1)?
    } else if name.starts_with("ids-") {
        decode_one::<pb::TaskKobjIdsEntry>(name, bytes, m).map(|_| 1)?
    } else if name.starts_with("fs-") {
        decode_one::<pb::FsEntry>(name, bytes, m).map(|_| 1)?
    } else if name.starts_with("fdinfo-") {
        decode_all::<pb::FdinfoEntry>(name, bytes, m)?.len()
    } else if name == "files.img" {
        decode_all::<pb::FileEntry>(name, bytes, m)?.len()
    } else if name == "memfd.img" {
        decode_all::<pb::MemfdInodeEntry>(name, bytes, m)?.len()
    } else if name.starts_with("mountpoints-") {
        decode_all::<pb::MntEntry>(name, bytes, m)?.len()
    } else if name == "seccomp.img" {
        decode_all::<pb::SeccompEntry>(name, bytes, m)?.len()
    } else if name.starts_with("timens-") {
        decode_one::<pb::TimensEntry>(name, bytes, m).map(|_| 1)?
    } else if name.starts_with("utsns-") {
        decode_one::<pb::UtsnsEntry>(name, bytes, m).map(|_| 1)?
    } else if name == "pipes-data.img" || name == "fifo-data.img" {
        decode_with_payload(name, bytes, m, |e: &pb::PipeDataEntry| u64::from(e.bytes))?.len()
    } else if name.starts_with("tcp-stream-") {
        decode_with_payload(name, bytes, m, |e: &pb::TcpStreamEntry| {
            u64::from(e.inq_len) + u64::from(e.outq_len)
        })?
        .len()
    } else if name.starts_with("ghost-file-") {
        // Without chunks: one entry, then the whole content.
        decode_with_payload(name, bytes, m, |e: &pb::GhostFileEntry| e.size())?.len()
    } else {
        // Kinds we do not model (cgroup, netns, ipcns-var, irmap-cache, ...): check the
        // header, the framing and the protobuf wire format.
        decode_all::<()>(name, bytes, m)?.len()
    };
    seen.counts.insert(key.to_owned(), n);
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        // `parent` links point at sibling dumps, walked on their own.
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

#[test]
fn decodes_every_fixture_image() {
    let Some(root) = crate::source::test_util::fixtures() else {
        return;
    };
    let mut seen = Seen::default();
    let mut files = Vec::new();
    for case in std::fs::read_dir(&root).unwrap().flatten() {
        let images = case.path().join("images");
        if images.is_dir() {
            walk(&images, &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 50, "too few fixture files: {}", files.len());
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let key = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = std::fs::read(path).unwrap();
        if let Err(e) = decode_named(&key, name, &bytes, &mut seen) {
            panic!("{key}: {e}");
        }
    }

    // The podman archive: its checkpoint/ images, extracted to memory.
    let archive = root.join("podman-busybox/checkpoint.tar.gz");
    let file = std::fs::File::open(&archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut podman = 0;
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let path = path.to_str().unwrap().trim_start_matches("./").to_owned();
        let Some(name) = path.strip_prefix("checkpoint/") else {
            continue;
        };
        if name.is_empty() || name.contains('/') {
            continue;
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        let key = format!("podman-busybox/{path}");
        if let Err(e) = decode_named(&key, name, &bytes, &mut seen) {
            panic!("{key}: {e}");
        }
        podman += 1;
    }
    assert!(podman > 20, "too few podman images: {podman}");

    check_secretd_plain(&seen);
    check_shm(&seen);
    check_incremental(&seen);
    check_podman(&seen);
}

fn check_secretd_plain(seen: &Seen) {
    let tree = &seen.pstree["secretd-plain/images/pstree.img"];
    let pids: Vec<u32> = tree.iter().map(|e| e.pid).collect();
    assert_eq!(pids, vec![8259, 8262]);
    assert_eq!(tree[0].threads, vec![8259, 8263, 8264]);
    assert_eq!(tree[1].ppid, 8259);
    assert_eq!(tree[1].threads, vec![8262]);

    let mm = &seen.mm["secretd-plain/images/mm-8259.img"];
    let pattern = mm
        .vmas
        .iter()
        .find(|v| v.start == 0x5ec0_0000_0000)
        .expect("pattern VMA");
    assert_eq!(pattern.end - pattern.start, 4 << 20);
    assert_eq!(pattern.fd, -1);
    assert!(mm.mm_arg_start < mm.mm_arg_end && mm.mm_env_start < mm.mm_env_end);
    // Every VMA is page aligned and non-empty.
    for v in &mm.vmas {
        assert!(
            v.start < v.end && v.start % 4096 == 0 && v.end % 4096 == 0,
            "{v:?}"
        );
    }

    // Leader core: x86_64, task core with comm, stopped (3) by SIGSTOP (19).
    let core = &seen.core["secretd-plain/images/core-8259.img"];
    assert_eq!(core.mtype(), pb::core_entry::March::X8664);
    let tc = core.tc.as_ref().expect("leader has tc");
    assert_eq!(tc.comm, b"secretd");
    assert_eq!((tc.task_state, tc.stop_signo()), (3, 19));
    let ti = core.thread_info.as_ref().expect("thread_info");
    let regs = &ti.gpregs;
    assert_ne!(regs.ip, 0);
    assert_ne!(regs.sp, 0);
    let creds = core
        .thread_core
        .as_ref()
        .and_then(|t| t.creds.as_ref())
        .expect("creds");
    assert_eq!(creds.cap_eff.len(), 2);
    // A thread's core: no tc, a thread_core with its own comm.
    let thread = &seen.core["secretd-plain/images/core-8263.img"];
    assert!(thread.tc.is_none());
    assert!(
        thread
            .thread_core
            .as_ref()
            .is_some_and(|t| t.comm.is_some())
    );

    // Pagemap: the pattern region is covered except its never-touched page 512.
    let (_, runs) = &seen.pagemaps["secretd-plain/images/pagemap-8259.img"];
    let hole = 0x5ec0_0020_0000u64;
    let mut covered = 0u64;
    for r in runs
        .iter()
        .filter(|r| r.vaddr >= 0x5ec0_0000_0000 && r.end() <= 0x5ec0_0040_0000)
    {
        assert!(
            !(r.vaddr <= hole && hole < r.end()),
            "hole page dumped: {r:?}"
        );
        assert_eq!(r.flags & PE_PRESENT, PE_PRESENT);
        covered += r.nr_pages;
    }
    assert_eq!(covered, 1023);
}

fn check_shm(seen: &Seen) {
    let mm = &seen.mm["secretd-shm/images/mm-8410.img"];
    let shm = mm
        .vmas
        .iter()
        .find(|v| v.start == 0x5ec1_0000_0000)
        .expect("shm VMA");
    let memfd = mm
        .vmas
        .iter()
        .find(|v| v.start == 0x5ec2_0000_0000)
        .expect("memfd VMA");
    assert_eq!(shm.end - shm.start, 1 << 20);
    assert_eq!(memfd.end - memfd.start, 64 << 10);
    assert!(
        seen.pagemaps
            .contains_key("secretd-shm/images/pagemap-shmem-109.img")
    );
    assert_eq!(seen.counts["secretd-shm/images/memfd.img"], 2);
}

fn check_incremental(seen: &Seen) {
    let (_, runs) = &seen.pagemaps["secretd-incremental/images/dump/pagemap-8319.img"];
    assert!(runs.iter().any(|r| r.flags & PE_PARENT != 0));
    // The PROT_NONE page is dumped again (CRIU never uses the parent for it).
    let protnone = runs
        .iter()
        .find(|r| r.vaddr == 0x5ec3_0000_0000)
        .expect("protnone run");
    assert_eq!(protnone.flags & PE_PARENT, 0);
    assert_eq!(protnone.flags & PE_PRESENT, PE_PRESENT);
}

fn check_podman(seen: &Seen) {
    let tree = &seen.pstree["podman-busybox/checkpoint/pstree.img"];
    assert_eq!(tree[0].pid, 1);
    assert_eq!(tree.len(), 3);
    assert!(seen.counts["podman-busybox/checkpoint/mountpoints-13.img"] > 10);
    // Frozen through the cgroup freezer, not SIGSTOP: alive.
    let core = &seen.core["podman-busybox/checkpoint/core-1.img"];
    assert_eq!(core.tc.as_ref().map(|tc| tc.task_state), Some(1));
}
