//! The bytes of mappings whose content the checkpoint holds outside the process's own pages,
//! read through the mount as the kernel would show them:
//! - a private mapping of a memfd (a program executed from it): its own dumped pages win over the
//!   memfd's content, which shows where it has none; every dumped byte reads;
//! - the clean pages of a private file mapping come from the file when the checkpoint holds it
//!   (a file of the layer, a deleted file's saved copy, a file of a saved tmpfs), and stay holes
//!   when only the image holds it (unless `--rootfs` names the image).
//!
//! Writer-made cases, and the real `podman-implant` fixture against its ground truth.

use crate::common;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use ckptfs::writer::{
    CheckpointWriter, Compression, K8sArchive, K8sContainer, Layout, PAGE, Vma, prot,
};
use common::{Mount, TempDir, cat, dd, fixtures, have_fuse, ls, sha256_hex, sha256sum, xxd};
use serde_json::Value;

fn hexnum(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// The `memory/` file of the VMA starting at `start`.
fn memory_file(m: &Mount, pid: u32, start: u64) -> String {
    let name = ls(&m.p(format!("{pid}/memory")))
        .into_iter()
        .find(|n| n.split('-').next().map(hexnum) == Some(start))
        .unwrap_or_else(|| panic!("pid {pid}: no memory/ file at {start:x}"));
    m.p(format!("{pid}/memory/{name}"))
}

fn page(fill: &str, n: usize) -> Vec<u8> {
    fill.as_bytes().iter().copied().cycle().take(n).collect()
}

/// A memfd mapped shared by one process (its content: three pages) and privately, executed, by
/// another that wrote its second page: the private process reads its own page there and the
/// memfd's elsewhere; the sharing process reads the memfd's everywhere. Nothing fails to read.
#[test]
fn private_memfd_mapping_shows_its_own_pages_over_the_memfd() {
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("mm-memfd");
    let mfd = 0x7f00_0000_0000u64;
    let exe = 0x40_0000u64;
    let shared: Vec<u8> = [page("SHARED-0 ", 4096), page("SHARED-1 ", 4096)]
        .concat()
        .into_iter()
        .chain(page("SHARED-2 ", 4096))
        .collect();
    let own = page("PRIVATE-COW ", 4096);
    let mut w = CheckpointWriter::new();
    w.process(10, 0)
        .comm("dropper")
        .memfd(mfd, 3 * PAGE, "payload", 9)
        .pages(mfd, &shared);
    w.process(11, 10)
        .comm("payload")
        .vma(
            Vma::memfd(exe, 3 * PAGE, "payload", 9)
                .prot(prot::READ | prot::EXEC)
                .map_flags(libc::MAP_PRIVATE as u32),
        )
        .pages(exe + PAGE, &own);
    let d = t.join("d");
    w.write_dir(&d).unwrap();
    let m = Mount::new(&d);
    let maps = String::from_utf8(cat(&m.p("11/maps"))).unwrap();
    assert!(
        maps.contains("00400000-00403000 r-xp 00000000") && maps.contains("/memfd:payload"),
        "{maps}"
    );
    let want: Vec<u8> = [&shared[..4096], &own[..], &shared[8192..]].concat();
    let f = memory_file(&m, 11, exe);
    assert_eq!(sha256sum(&f), sha256_hex(&want), "11/memory/{f}");
    assert_eq!(xxd(&m.p("11/mem"), exe + PAGE, 16), &own[..16]);
    assert_eq!(xxd(&m.p("11/mem"), exe + 2 * PAGE, 16), &shared[8192..8208]);
    assert_eq!(dd(&m.p("10/mem"), mfd + PAGE, 16), &shared[4096..4112]);
    let log = m.stderr_log();
    assert!(!log.contains("overlap"), "{log}");
    m.unmount();
}

/// A library dropped into the container's layer and mapped privately: its clean pages read from
/// the layer's file (the page tail past the end of the file as zeros), the page the process
/// wrote from the dump, and the mapping hashes as the whole file would.
#[test]
fn layer_file_fills_the_clean_pages_of_its_mapping() {
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("mm-layer");
    let lib: Vec<u8> = (0..3 * 4096 + 1000)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
        .collect();
    let base = 0x7f4d_0000_0000u64;
    let written = page("RELOCATED ", 4096);
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sh")
        .vma(Vma::file(base, 4 * PAGE, "/tmp/.hidden/libdrop.so", 0).rx())
        .vma(Vma::file(
            base + 4 * PAGE,
            PAGE,
            "/usr/lib/only-in-image.so",
            0,
        ))
        .pages(base + PAGE, &written);
    let mut a = K8sArchive::new(K8sContainer::new("prod", "web", "web"));
    a.rootfs.files = vec![("tmp/.hidden/libdrop.so".into(), lib.clone())];
    let path = t.join(a.ctr.kubelet_file_name());
    w.write_tar(&path, &Layout::Crio(a), Compression::None)
        .unwrap();
    let m = Mount::new(&path);
    let mut want = lib.clone();
    want[4096..8192].copy_from_slice(&written);
    want.resize(4 * 4096, 0);
    let f = memory_file(&m, 1, base);
    assert_eq!(sha256sum(&f), sha256_hex(&want));
    assert_eq!(
        xxd(&m.p("1/mem"), base + 3 * PAGE, 32),
        &lib[3 * 4096..3 * 4096 + 32]
    );
    // Only the image holds this one: a hole (zeros, no blocks), not invented.
    let img = memory_file(&m, 1, base + 4 * PAGE);
    assert_eq!(std::fs::metadata(&img).unwrap().blocks(), 0, "{img}");
    assert!(cat(&img).iter().all(|&b| b == 0));
    let log = m.stderr_log();
    assert!(!log.contains("warning"), "{log}");
    m.unmount();
}

/// A library in a tmpfs whose contents CRIU saved (`tmpfs-dev-N.tar.gz.img`, merged into
/// `rootfs/` at its mount point), mapped privately: its clean pages read from that file.
#[test]
fn tmpfs_file_fills_the_clean_pages_of_its_mapping() {
    use std::io::Write;
    if !have_fuse() {
        return;
    }
    let t = TempDir::new("mm-tmpfs");
    let lib: Vec<u8> = (0..2 * 4096u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8 | 1)
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o755);
    h.set_size(lib.len() as u64);
    b.append_data(&mut h, "./libt.so", &lib[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    let base = 0x7f4e_0000_0000u64;
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("app")
        .vma(Vma::file(base, 2 * PAGE, "/tmp/libt.so", 0).rx());
    w.tmpfs("/tmp", 45, &gz.finish().unwrap());
    let ck = t.join("ck.tar");
    w.write_tar(&ck, &Layout::podman("tmpfs-lib"), Compression::None)
        .unwrap();
    let m = Mount::new(&ck);
    assert_eq!(sha256sum(&memory_file(&m, 1, base)), sha256_hex(&lib));
    assert_eq!(xxd(&m.p("1/mem"), base + PAGE + 100, 16), &lib[4196..4212]);
    m.unmount();
}

struct Implant {
    dir: std::path::PathBuf,
    truth: Value,
}

fn implant() -> Option<Implant> {
    let fx = fixtures()?;
    if !have_fuse() {
        return None;
    }
    let dir = fx.join("podman-implant");
    let truth = common::read_json(&dir.join("ground-truth.json"));
    Some(Implant { dir, truth })
}

impl Implant {
    /// Every VMA of the ground truth: (container pid, start, end, path, sha256).
    fn vmas(&self) -> Vec<(u32, u64, u64, String, String)> {
        let mut out = Vec::new();
        for p in self.truth["processes"].as_array().unwrap() {
            let pid = common::truth::ns_pid(p);
            for v in p["vmas"].as_array().unwrap() {
                let Some(sha) = v["sha256"].as_str() else {
                    continue;
                };
                out.push((
                    pid,
                    hexnum(v["start"].as_str().unwrap()),
                    hexnum(v["end"].as_str().unwrap()),
                    v["path"].as_str().unwrap_or("").to_string(),
                    sha.to_string(),
                ));
            }
        }
        out
    }
}

/// Whether `rootfs/` of the mount holds the file a truth VMA path names (`PATH (deleted)` for a
/// deleted file: its saved copy).
fn in_rootfs(m: &Mount, path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("/memfd:")
        && std::fs::symlink_metadata(m.join(format!("rootfs{path}"))).is_ok_and(|md| md.is_file())
}

/// podman-implant: the fexecve'd memfd payload (PID 12) reads, equal to ground truth; the
/// deleted implant's mappings (PID 11, from its ghost file) and the dropped `libx.so` mapped by
/// the reverse shell (PID 13, from rootfs-diff.tar) hash as /proc showed them; every marker copy
/// /proc had in such a mapping is found there.
#[test]
fn implant_payload_deleted_exe_and_dropped_library_read_as_at_dump() {
    let Some(fx) = implant() else { return };
    let m = Mount::new(&fx.dir.join("checkpoint.tar.gz"));
    let log = m.stderr_log();
    assert!(!log.contains("overlap"), "{log}");

    // The memfd payload: its only file mapping, and the marker at 0xb9 of the ELF.
    let f = memory_file(&m, 12, 0x40_0000);
    let (_, _, _, _, sha) = fx
        .vmas()
        .into_iter()
        .find(|v| v.0 == 12 && v.1 == 0x40_0000)
        .unwrap();
    assert_eq!(sha256sum(&f), sha, "12/memory/00400000-00401000");
    assert_eq!(
        xxd(&m.p("12/mem"), 0x40_00b9, 24),
        b"IMPLANT-MEMFD-PAYLOAD-s2"
    );

    // Mappings of files the checkpoint holds: equal to ground truth, all of them.
    let mut checked = Vec::new();
    let mut bad = Vec::new();
    for (pid, s, e, path, sha) in fx.vmas() {
        if !in_rootfs(&m, &path) {
            continue;
        }
        let f = memory_file(&m, pid, s);
        let got = sha256sum(&f);
        if got != sha {
            bad.push(format!("{pid} {s:x}-{e:x} {path}: {got} != {sha}"));
        }
        checked.push(format!("{pid} {path}"));
    }
    assert!(bad.is_empty(), "{bad:#?}");
    let n = |p: &str| checked.iter().filter(|c| c.contains(p)).count();
    assert_eq!(n("11 /tmp/.hidden/kworkerd (deleted)"), 5, "{checked:?}");
    assert_eq!(n("13 /tmp/.hidden/libx.so"), 5, "{checked:?}");

    // Marker copies: as many as /proc had in every mapping whose bytes the checkpoint holds;
    // never more anywhere.
    let hits: Value = common::read_json(&fx.dir.join("marker-hits.json"));
    let mut cache: HashMap<String, Vec<u8>> = HashMap::new();
    let mut missed = Vec::new();
    for (marker, per_vma) in hits["proc"].as_object().unwrap() {
        for (key, want) in per_vma.as_object().unwrap() {
            let mut parts = key.splitn(3, ':');
            let pid: u32 = parts.next().unwrap().parse().unwrap();
            let start = hexnum(parts.next().unwrap());
            let path = parts.next().unwrap();
            let f = memory_file(&m, pid, start);
            let bytes = cache.entry(f.clone()).or_insert_with(|| cat(&f));
            let got = bytes
                .windows(marker.len())
                .filter(|w| *w == marker.as_bytes())
                .count() as u64;
            let want = want.as_u64().unwrap();
            let image_only =
                path.starts_with('/') && !path.starts_with("/memfd:") && !in_rootfs(&m, path);
            if got > want || (got < want && !image_only) {
                missed.push(format!("{marker} in {key}: {got} of {want}"));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
    m.unmount();
}

/// podman-implant: the image's own libc (not in the checkpoint) stays a hole without `--rootfs`
/// (no byte invented), and reads as /proc showed it with `--rootfs` naming the image's files.
#[test]
fn implant_image_only_library_is_a_hole_unless_rootfs_names_it() {
    let Some(fx) = implant() else { return };
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    // The first libc mapping of the implant: r--p, never written, so never dumped.
    let (pid, s, e, _, sha) = fx
        .vmas()
        .into_iter()
        .find(|v| v.0 == 11 && v.3 == libc)
        .unwrap();
    let m = Mount::new(&fx.dir.join("checkpoint.tar.gz"));
    let f = memory_file(&m, pid, s);
    assert_eq!(std::fs::metadata(&f).unwrap().blocks(), 0, "{f}");
    assert!(cat(&f).iter().all(|&b| b == 0), "{f}");
    m.unmount();
    let image = fx.dir.join("image-rootfs");
    let m = Mount::with_args(
        &fx.dir.join("checkpoint.tar.gz"),
        &["--rootfs", image.to_str().unwrap()],
    )
    .unwrap();
    let f = memory_file(&m, pid, s);
    assert_eq!(sha256sum(&f), sha, "{pid} {s:x}-{e:x} {libc} with --rootfs");
    m.unmount();
}
