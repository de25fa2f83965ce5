//! The model checked against the real fixtures' ground truth (no FUSE): VMAs, threads, and the
//! sha256 of every anonymous / shared VMA read through the page index.

use sha2::{Digest, Sha256};

use super::load::load;
use crate::source::test_util::fixtures;
use crate::source::{OpenOptions, open};

fn hexval(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn check_fixture(case: &str, input: &str) {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join(case);
    let truth = super::test_util::ground_truth(&dir);
    let rseq: serde_json::Value = std::fs::read(dir.join("rseq-pages.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let ck = super::test_util::load_path(&dir.join(input));
    for w in &ck.warnings {
        eprintln!("{case}: warning: {w}");
    }
    for tp in truth["processes"].as_array().unwrap() {
        let pid = super::test_util::ns_pid(tp);
        let p = ck
            .process(pid)
            .unwrap_or_else(|| panic!("{case}: pid {pid} missing"));
        let mut tids: Vec<u32> = p.threads.iter().map(|t| t.tid).collect();
        tids.sort();
        let mut want: Vec<u32> = tp["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(super::test_util::ns_tid)
            .collect();
        want.sort();
        assert_eq!(tids, want, "{case} pid {pid} threads");
        assert_eq!(
            p.comm,
            tp["comm"].as_str().unwrap(),
            "{case} pid {pid} comm"
        );
        let rseq_pages: Vec<u64> = rseq[pid.to_string()]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_u64().unwrap()).collect())
            .unwrap_or_default();
        for tv in tp["vmas"].as_array().unwrap() {
            let s = hexval(&tv["start"]);
            let e = hexval(&tv["end"]);
            let path = tv["path"].as_str().unwrap_or("");
            if path == "[vsyscall]" {
                continue;
            }
            let v = p.vma_at(s);
            assert!(v.is_some(), "{case} pid {pid}: no VMA at {s:x} ({path})");
            let Some(sha) = tv["sha256"].as_str() else {
                continue;
            };
            let anon = path.is_empty()
                || path == "[heap]"
                || path == "[stack]"
                || path.starts_with("/dev/zero")
                || path.starts_with("/memfd:");
            if !anon || tv.get("page_sha256_16").is_none() {
                continue;
            }
            let mut buf = vec![0u8; (e - s) as usize];
            p.memory.read_at(s, &mut buf).unwrap();
            let got = format!("{:x}", Sha256::digest(&buf));
            if got == sha {
                continue;
            }
            // Page by page: only rseq pages may differ.
            let pages: std::collections::HashMap<u64, String> = tv["page_sha256_16"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (x[0].as_u64().unwrap(), x[1].as_str().unwrap().to_string()))
                .collect();
            let zero = format!("{:x}", Sha256::digest([0u8; 4096]))[..16].to_string();
            for (i, pg) in buf.chunks(4096).enumerate() {
                let h = format!("{:x}", Sha256::digest(pg))[..16].to_string();
                let w = pages.get(&(i as u64)).cloned().unwrap_or(zero.clone());
                let addr = s + i as u64 * 4096;
                assert!(
                    h == w || rseq_pages.contains(&addr),
                    "{case} pid {pid}: VMA {s:x}-{e:x} ({path}) page {i} ({addr:x}) differs"
                );
            }
        }
    }
}

#[test]
fn secretd_plain_model_matches_truth() {
    check_fixture("secretd-plain", "images");
}

#[test]
fn secretd_incremental_model_matches_truth() {
    check_fixture("secretd-incremental", "images/dump");
}

#[test]
fn secretd_shm_model_matches_truth() {
    check_fixture("secretd-shm", "images");
}

#[test]
fn podman_model_matches_truth() {
    check_fixture("podman-busybox", "checkpoint.tar.gz");
}

/// Opened for its metadata only, a compressed archive gives the same processes, but no dumped
/// byte of memory reads (never zeros in their place), and no warning about it.
#[test]
fn metadata_only_memory_is_withheld_not_zeros() {
    let Some(fx) = fixtures() else { return };
    let input = fx.join("podman-busybox/checkpoint.tar.gz");
    let cache = std::env::temp_dir().join(format!("ckptfs-model-mdonly-{}", std::process::id()));
    let open_with = |metadata_only: bool| {
        let src = open(
            &input,
            &OpenOptions {
                cache_dir: Some(cache.clone()),
                metadata_only,
                ..Default::default()
            },
        )
        .unwrap();
        load(src).unwrap()
    };
    let full = open_with(false);
    let meta = open_with(true);
    let _ = std::fs::remove_dir_all(&cache);
    assert_eq!(full.processes.len(), meta.processes.len());
    assert_eq!(full.warnings, meta.warnings);
    let mut checked = 0;
    for (a, b) in full.processes.iter().zip(&meta.processes) {
        assert_eq!(a.pid, b.pid);
        assert_eq!(a.vmas.len(), b.vmas.len());
        for e in a.memory.extents() {
            let mut buf = vec![0u8; 16];
            assert!(a.memory.read_at(e.start, &mut buf).is_ok());
            assert!(
                b.memory.read_at(e.start, &mut buf).is_err(),
                "PID {} at {:#x}",
                b.pid,
                e.start
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
