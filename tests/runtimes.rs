//! What Kubernetes nodes produce: the runtimes' archive layouts (containerd 2.x, CRI-O) and
//! what CRIU 4.1-4.2 writes on current kernels (guard regions, ...).
//!
//! - `kitchen_guard_region_shown_once`: the real `podman-kitchen` fixture (CRIU 4.2, kernel
//!   6.18) has a `MADV_GUARD_INSTALL` page inside an anonymous VMA, which CRIU appends to
//!   mm-*.img as a fake `VMA_AREA_GUARD` VMA. Mounted, the VMA is one maps line (as
//!   ground-truth.json's maps), one `memory/` file whose sha256 is the truth's
//!   `sha256_unreadable_as_zero`, the guard page has pagemap bit 58, and no warning is printed.
//!
//! Fixtures: `<CARGO_MANIFEST_DIR>/../shared/fixtures`; missing fixtures or /dev/fuse skip a test,
//! except with `CI=true`, where they fail it.

mod common;

use std::os::unix::fs::FileExt;

use common::{Mount, fixtures, have_fuse};
use serde_json::Value;

fn truth(case: &str) -> Option<(std::path::PathBuf, Value)> {
    let dir = fixtures()?.join(case);
    let t = serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json")).unwrap()).unwrap();
    Some((dir, t))
}

fn ns_pid(p: &Value) -> u64 {
    p["ns_pids"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap()
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn kitchen_guard_region_shown_once() {
    let Some((dir, t)) = truth("podman-kitchen") else {
        return;
    };
    if !have_fuse() {
        return;
    }
    let m = Mount::new(&dir.join("checkpoint.tar.gz"));
    let log = m.stderr_log();
    assert!(!log.contains("overlaps"), "guard VMAs warned about: {log}");
    let mut checked = 0;
    for p in t["processes"].as_array().unwrap() {
        let pid = ns_pid(p);
        for v in p["vmas"].as_array().unwrap() {
            let Some(guards) = v.get("guard_page_ranges") else {
                continue;
            };
            let (start, end) = (hex(&v["start"]), hex(&v["end"]));
            let maps = std::fs::read_to_string(m.join(format!("{pid}/maps"))).unwrap();
            let range = format!("{start:x}-{end:x} ");
            let truth_line = p["maps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .find(|l| l.starts_with(&range))
                .unwrap();
            let ours: Vec<&str> = maps
                .lines()
                .filter(|l| {
                    let a = l.split('-').next().unwrap();
                    let a = u64::from_str_radix(a, 16).unwrap();
                    a >= start && a < end
                })
                .collect();
            assert_eq!(ours.len(), 1, "PID {pid}: {ours:?}");
            assert_eq!(
                ours[0].split_whitespace().take(2).collect::<Vec<_>>(),
                truth_line.split_whitespace().take(2).collect::<Vec<_>>(),
                "PID {pid}"
            );
            let mem = m.join(format!("{pid}/memory/{start:x}-{end:x}"));
            let want = v["sha256_unreadable_as_zero"].as_str().unwrap();
            assert_eq!(common::sha256sum(mem.to_str().unwrap()), want, "PID {pid}");
            let listing = common::ls(m.p(format!("{pid}/memory")).as_str());
            assert_eq!(
                listing
                    .iter()
                    .filter(|n| n.starts_with(&format!("{start:x}")))
                    .count(),
                1,
                "{listing:?}"
            );
            let pagemap = std::fs::File::open(m.join(format!("{pid}/pagemap"))).unwrap();
            for r in guards.as_array().unwrap() {
                let (a, b) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
                for page in a..=b {
                    let mut e = [0u8; 8];
                    let vpn = start / 4096 + page;
                    pagemap.read_exact_at(&mut e, vpn * 8).unwrap();
                    assert_eq!(
                        u64::from_le_bytes(e),
                        1 << 58,
                        "PID {pid} page {page}: PM_GUARD_REGION only"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the kitchen truth has guard regions in 2 processes"
    );
}
