//! Image decoding: every image kind we parse. The first byte picks the message type (and so the
//! magic); bit 7 of the second byte says whether to prepend the right header (so most execs reach
//! the framing and the protobuf decoder). Any input must give Ok or an Err naming the file, never a
//! panic, and an error's offset must lie inside the file.
#![no_main]

use ckptfs::image::{self, magic, pb};
use libfuzzer_sys::fuzz_target;

fn all<M: prost::Message + Default>(name: &str, bytes: &[u8], magic: u32) {
    match image::decode_all::<M>(name, bytes, magic) {
        Ok(v) => assert!(v.len() <= bytes.len() / 4 + 1),
        Err(e) => check(&e, bytes),
    }
    if let Err(e) = image::decode_one::<M>(name, bytes, magic) {
        check(&e, bytes);
    }
}

fn check(e: &image::Error, bytes: &[u8]) {
    assert!(e.offset() <= bytes.len(), "error offset past the file: {e}");
    assert!(!e.to_string().is_empty());
}

fn payload<M: prost::Message + Default>(
    name: &str,
    bytes: &[u8],
    magic: u32,
    len: impl Fn(&M) -> u64,
) {
    match image::decode_with_payload::<M>(name, bytes, magic, len) {
        Ok(v) => {
            let mut last = 0;
            for (_, r) in v {
                assert!(r.start >= last && r.start <= r.end && r.end <= bytes.len());
                last = r.end;
            }
        }
        Err(e) => check(&e, bytes),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some((&hdr, body)) = rest.split_first() else {
        return;
    };
    let m = match kind % 19 {
        0 => magic::PSTREE,
        1 => magic::CORE,
        2 => magic::MM,
        3 => magic::PAGEMAP,
        4 => magic::FDINFO,
        5 => magic::FILES,
        6 => magic::FS,
        7 => magic::IDS,
        8 => magic::INVENTORY,
        9 => magic::STATS,
        10 => magic::MEMFD_INODE,
        11 => magic::MNTS,
        12 => magic::GHOST_FILE,
        13 => magic::PIPES_DATA,
        14 => magic::TCP_STREAM,
        15 => magic::SECCOMP,
        16 => magic::TIMENS,
        17 => magic::UTSNS,
        _ => magic::PAGEMAP,
    };
    let mut owned;
    let bytes: &[u8] = if hdr & 0x80 != 0 {
        owned = Vec::with_capacity(body.len() + 8);
        match image::magic::Header::for_magic(m) {
            image::magic::Header::Bare => {}
            image::magic::Header::Common => {
                owned.extend_from_slice(&magic::IMG_COMMON_MAGIC.to_le_bytes())
            }
            image::magic::Header::Service => {
                owned.extend_from_slice(&magic::IMG_SERVICE_MAGIC.to_le_bytes())
            }
        }
        owned.extend_from_slice(&m.to_le_bytes());
        owned.extend_from_slice(body);
        &owned
    } else {
        body
    };
    match kind % 19 {
        0 => all::<pb::PstreeEntry>("pstree.img", bytes, m),
        1 => all::<pb::CoreEntry>("core-1.img", bytes, m),
        2 => all::<pb::MmEntry>("mm-1.img", bytes, m),
        3 | 18 => match image::decode_pagemap("pagemap-1.img", bytes) {
            Ok((_, runs)) => {
                for r in runs {
                    assert_eq!(r.vaddr % 4096, 0);
                    assert!(
                        r.nr_pages
                            .checked_mul(4096)
                            .and_then(|l| r.vaddr.checked_add(l))
                            .is_some()
                    );
                }
            }
            Err(e) => check(&e, bytes),
        },
        4 => all::<pb::FdinfoEntry>("fdinfo-1.img", bytes, m),
        5 => all::<pb::FileEntry>("files.img", bytes, m),
        6 => all::<pb::FsEntry>("fs-1.img", bytes, m),
        7 => all::<pb::TaskKobjIdsEntry>("ids-1.img", bytes, m),
        8 => all::<pb::InventoryEntry>("inventory.img", bytes, m),
        9 => all::<pb::StatsEntry>("stats-dump", bytes, m),
        10 => all::<pb::MemfdInodeEntry>("memfd.img", bytes, m),
        11 => all::<pb::MntEntry>("mountpoints-1.img", bytes, m),
        12 => payload::<pb::GhostFileEntry>("ghost-file-1.img", bytes, m, |e| e.size.unwrap_or(0)),
        13 => payload::<pb::PipeDataEntry>("pipes-data.img", bytes, m, |e| u64::from(e.bytes)),
        14 => payload::<pb::TcpStreamEntry>("tcp-stream-1.img", bytes, m, |e| {
            u64::from(e.inq_len) + u64::from(e.outq_len)
        }),
        15 => all::<pb::SeccompEntry>("seccomp.img", bytes, m),
        16 => all::<pb::TimensEntry>("timens-0.img", bytes, m),
        _ => all::<pb::UtsnsEntry>("utsns-1.img", bytes, m),
    }
});
