//! Writer-made checkpoints (`ckptfs::writer`) mounted for real: the edge cases the fixtures do
//! not cover (zombies, LAZY-only pages, old / new pagemap fields, entries split and spanning
//! VMAs), the sparse `mem` contract (SEEK_DATA / SEEK_HOLE, st_blocks), and permissions.

use crate::common;

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use ckptfs::writer::{
    CheckpointWriter, Compression, File, Layout, PE_LAZY, PE_PRESENT, PageFn, PagemapFormat, Vma,
};
use common::{
    Mount, TempDir, cat, dd, grep_count, grep_count_memory, ls, sha256_hex, sha256sum, stat,
};

const A: u64 = 0x5000_0000_0000;
const PAGE: u64 = 4096;

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 9) as u8)
        .collect()
}

fn mount_dir(t: &TempDir, name: &str, w: &CheckpointWriter) -> Mount {
    let d = t.join(name);
    w.write_dir(&d).unwrap();
    Mount::new(&d)
}

fn memory_name(m: &Mount, pid: u32, start: u64) -> String {
    let names = ls(&m.p(format!("{pid}/memory")));
    names
        .into_iter()
        .find(|n| {
            n.split('-')
                .next()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                == Some(start)
        })
        .unwrap_or_else(|| panic!("no memory/ file for {start:x}"))
}

#[test]
fn zombie_process_is_shown() {
    let t = TempDir::new("syn-zombie");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("init")
        .cmdline(&["/sbin/init", "--x"])
        .environ(&["K=V"]);
    w.process(2, 1).comm("defunct").zombie(3);
    let m = mount_dir(&t, "d", &w);
    let top = ls(&m.p(""));
    assert!(
        top.contains(&"1".to_string()) && top.contains(&"2".to_string()),
        "{top:?}"
    );
    let st = String::from_utf8(cat(&m.p("2/status"))).unwrap();
    assert!(st.contains("State:\tZ (zombie)"), "{st}");
    assert!(st.contains("Name:\tdefunct"), "{st}");
    assert_eq!(cat(&m.p("2/comm")), b"defunct\n");
    assert_eq!(cat(&m.p("2/cmdline")), b"");
    assert_eq!(cat(&m.p("2/environ")), b"");
    assert_eq!(cat(&m.p("2/maps")), b"");
    assert_eq!(cat(&m.p("1/cmdline")), b"/sbin/init\0--x\0");
    assert_eq!(cat(&m.p("1/environ")), b"K=V\0");
    let tree = String::from_utf8(cat(&m.p("pstree"))).unwrap();
    assert!(tree.contains("defunct"), "{tree}");
    m.unmount();
}

#[test]
fn lazy_only_pages_read_as_zeros_present_lazy_as_data() {
    let t = TempDir::new("syn-lazy");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("lazy")
        .anon(A, 8 * PAGE)
        .pages_with_flags(A, b"PRESENT-LAZY-MARKER-1", PE_PRESENT | PE_LAZY)
        .lazy_only(A + PAGE, 2)
        // data given with LAZY alone: lazy-pages mode, nothing in the pages file
        .pages_with_flags(A + 3 * PAGE, b"LAZY-ONLY-MARKER-2", PE_LAZY)
        .pages_with_flags(A + 4 * PAGE, b"PRESENT-ONLY-MARKER-3", PE_PRESENT);
    let m = mount_dir(&t, "d", &w);
    let mem = m.p("1/mem");
    assert_eq!(dd(&mem, A, 21), b"PRESENT-LAZY-MARKER-1");
    assert_eq!(dd(&mem, A + PAGE, 3 * PAGE), vec![0u8; 3 * PAGE as usize]);
    assert_eq!(dd(&mem, A + 4 * PAGE, 21), b"PRESENT-ONLY-MARKER-3");
    let pd = m.p("1");
    assert_eq!(grep_count_memory("PRESENT-LAZY-MARKER-1", &pd).0, 1);
    assert_eq!(grep_count_memory("LAZY-ONLY-MARKER-2", &pd).0, 0);
    assert_eq!(grep_count_memory("PRESENT-ONLY-MARKER-3", &pd).0, 1);
    let name = memory_name(&m, 1, A);
    let body = fs::read(m.join(format!("1/memory/{name}"))).unwrap();
    assert_eq!(body.len() as u64, 8 * PAGE);
    assert!(
        body[PAGE as usize..4 * PAGE as usize]
            .iter()
            .all(|&b| b == 0)
    );
    m.unmount();
}

#[test]
fn old_and_new_nr_pages_fields() {
    let t = TempDir::new("syn-fmt");
    let mut w = CheckpointWriter::new();
    let formats = [
        PagemapFormat::New,
        PagemapFormat::Compat,
        PagemapFormat::Both,
        PagemapFormat::Legacy,
    ];
    let mut want = Vec::new();
    for (i, f) in formats.iter().enumerate() {
        let pid = i as u32 + 1;
        let mut data = pattern(600 * PAGE as usize, pid as u64);
        let marker = format!("FORMAT-{f:?}-MARKER");
        data[300 * PAGE as usize - 5..][..marker.len()].copy_from_slice(marker.as_bytes());
        w.process(pid, if pid == 1 { 0 } else { 1 })
            .comm(&format!("fmt{pid}"))
            .pagemap_format(*f)
            .anon(A, 1024 * PAGE)
            .pages(A, &data);
        let mut full = data.clone();
        full.resize(1024 * PAGE as usize, 0);
        want.push((pid, marker, sha256_hex(&full)));
    }
    // the pagemaps really differ in which field carries the count
    let files = w.encode_files();
    assert_ne!(files["pagemap-1.img"], files["pagemap-2.img"]);
    let m = mount_dir(&t, "d", &w);
    for (pid, marker, sha) in want {
        let name = memory_name(&m, pid, A);
        assert_eq!(
            sha256sum(&m.p(format!("{pid}/memory/{name}"))),
            sha,
            "pid {pid}"
        );
        let (n, dt) = grep_count_memory(&marker, &m.p(pid.to_string()));
        assert_eq!(n, 1, "pid {pid} {marker}");
        eprintln!("pid {pid}: grep {marker} in {dt:?}");
    }
    m.unmount();
}

#[test]
fn marker_across_pages_and_pagemap_entries() {
    let t = TempDir::new("syn-split");
    // one page per pagemap entry: the marker crosses a page boundary and two entries
    let marker = "CROSS-PAGE-AND-ENTRY-MARKER-9f2e";
    let mut w = CheckpointWriter::new();
    w.max_batch_pages(1);
    w.process(1, 0)
        .comm("split")
        .anon(A, 4 * PAGE)
        .pages(A, &pattern(4 * PAGE as usize, 7))
        .pages(A + 2 * PAGE - 11, marker.as_bytes());
    let m = mount_dir(&t, "d", &w);
    let (n, dt) = grep_count_memory(marker, &m.p("1"));
    eprintln!("grep across pages/entries: {n} in {dt:?}");
    assert_eq!(n, 1);
    let name = memory_name(&m, 1, A);
    assert_eq!(grep_count(marker, &m.p(format!("1/memory/{name}"))).0, 1);
    assert_eq!(
        dd(&m.p("1/mem"), A + 2 * PAGE - 11, marker.len() as u64),
        marker.as_bytes()
    );
    drop(m);

    // one entry spanning two adjacent VMAs, the marker across the VMA boundary
    let marker = "ACROSS-TWO-VMAS-ONE-ENTRY-MARKER";
    let mut w = CheckpointWriter::new();
    w.merge_across_vmas(true);
    w.process(1, 0)
        .comm("span")
        .vma(Vma::anon(A, 2 * PAGE).rw())
        .vma(Vma::anon(A + 2 * PAGE, 2 * PAGE).r())
        .pages(A + PAGE, &pattern(2 * PAGE as usize, 3))
        .pages(A + 2 * PAGE - 10, marker.as_bytes());
    let files = w.encode_files();
    let (_, runs) = ckptfs::image::decode_pagemap("pm", &files["pagemap-1.img"]).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let m = mount_dir(&t, "e", &w);
    // By address, mem reads on across the two adjacent mappings.
    assert_eq!(
        dd(&m.p("1/mem"), A + 2 * PAGE - 10, marker.len() as u64),
        marker.as_bytes()
    );
    let maps = String::from_utf8(cat(&m.p("1/maps"))).unwrap();
    assert_eq!(maps.lines().count(), 2, "{maps}");
    let first = memory_name(&m, 1, A);
    let second = memory_name(&m, 1, A + 2 * PAGE);
    let a = fs::read(m.join(format!("1/memory/{first}"))).unwrap();
    let b = fs::read(m.join(format!("1/memory/{second}"))).unwrap();
    let mut joined = a.clone();
    joined.extend_from_slice(&b);
    let mut want = vec![0u8; 4 * PAGE as usize];
    want[PAGE as usize..3 * PAGE as usize].copy_from_slice(&pattern(2 * PAGE as usize, 3));
    want[2 * PAGE as usize - 10..][..marker.len()].copy_from_slice(marker.as_bytes());
    assert_eq!(joined, want);
    m.unmount();
}

fn lseek(f: &fs::File, off: u64, whence: i32) -> Result<u64, i32> {
    // SAFETY: plain lseek on an open descriptor.
    let r = unsafe { libc::lseek(f.as_raw_fd(), off as libc::off_t, whence) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r as u64)
    }
}

/// Data at A..A+2p, A+5p..A+6p and (in another VMA) B..B+1p; nothing else.
fn sparse_writer() -> (CheckpointWriter, u64) {
    let b = 0x7f00_0000_0000u64;
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("sparse")
        .anon(A, 16 * PAGE)
        .pages(A, &pattern(2 * PAGE as usize, 1))
        .pages(A + 5 * PAGE, &pattern(PAGE as usize, 2))
        .anon(b, 4 * PAGE)
        .pages(b + 3 * PAGE, b"LAST");
    (w, b)
}

#[test]
fn seek_data_and_seek_hole_on_mem() {
    let t = TempDir::new("syn-seek");
    let (w, b) = sparse_writer();
    let m = mount_dir(&t, "d", &w);
    let f = fs::File::open(m.join("1/mem")).unwrap();
    const SEEK_DATA: i32 = libc::SEEK_DATA;
    const SEEK_HOLE: i32 = libc::SEEK_HOLE;
    assert_eq!(lseek(&f, 0, SEEK_DATA), Ok(A));
    assert_eq!(lseek(&f, A + 100, SEEK_DATA), Ok(A + 100));
    assert_eq!(lseek(&f, A, SEEK_HOLE), Ok(A + 2 * PAGE));
    assert_eq!(lseek(&f, A + 2 * PAGE, SEEK_DATA), Ok(A + 5 * PAGE));
    assert_eq!(lseek(&f, A + 5 * PAGE, SEEK_HOLE), Ok(A + 6 * PAGE));
    assert_eq!(lseek(&f, A + 6 * PAGE, SEEK_DATA), Ok(b + 3 * PAGE));
    assert_eq!(lseek(&f, b + 3 * PAGE, SEEK_HOLE), Ok(b + 4 * PAGE));
    // Past the last extent: `mem` is served like procfs's (size 0), so SEEK_DATA answers the end
    // of the address space, where reads stop, instead of ENXIO (a hole-skipping reader would
    // otherwise read every trailing zero); SEEK_HOLE there answers the end too; past it, ENXIO.
    let end = 0x7fff_ffff_f000;
    assert_eq!(
        lseek(&f, b + 4 * PAGE, SEEK_DATA),
        Ok(end),
        "past the last extent"
    );
    assert_eq!(lseek(&f, end, SEEK_HOLE), Ok(end));
    assert_eq!(lseek(&f, end, SEEK_DATA), Err(libc::ENXIO));
    assert!(f.read_at(&mut [0u8; 16], end).unwrap() == 0);
    assert_eq!(lseek(&f, 0, SEEK_HOLE), Ok(0));
    // the same on a memory/ file: offsets relative to the VMA
    let name = memory_name(&m, 1, A);
    let g = fs::File::open(m.join(format!("1/memory/{name}"))).unwrap();
    assert_eq!(lseek(&g, 0, SEEK_DATA), Ok(0));
    assert_eq!(lseek(&g, 0, SEEK_HOLE), Ok(2 * PAGE));
    assert_eq!(lseek(&g, 2 * PAGE, SEEK_DATA), Ok(5 * PAGE));
    // At an unmapped address: zeros for the first HOLE_LIP bytes after the mapped run before
    // (from 0 here), EIO beyond, as on /proc/PID/mem; GNU grep reads its first buffer at 0 and
    // then seeks past each hole, so it counts over mem as over memory/.
    let lip = ckptfs::fs::content::HOLE_LIP;
    assert_eq!(
        f.read_at(&mut [0u8; 16], 0).map_err(|e| e.raw_os_error()),
        Ok(16)
    );
    assert_eq!(
        f.read_at(&mut [0u8; 16], lip).map_err(|e| e.raw_os_error()),
        Err(Some(libc::EIO))
    );
    let (n, dt) = grep_count_memory("LAST", &m.p("1"));
    assert_eq!(n, 1);
    assert!(dt.as_secs() < 5, "{dt:?}");
    let (n, dt) = grep_count("LAST", &m.p("1/mem"));
    assert_eq!(n, 1, "grep -c over mem");
    assert!(dt.as_secs() < 5, "{dt:?}");
    drop((f, g));
    m.unmount();
}

/// `memory/*` files are sparse: st_blocks counts the dumped bytes (what `du` and `cp --sparse`
/// use); `mem` reports size 0 and no blocks, like `/proc/PID/mem`.
#[test]
fn st_blocks_of_memory_files_count_present_bytes() {
    let t = TempDir::new("syn-blocks");
    let (w, _) = sparse_writer();
    let present = 4 * PAGE; // 2 + 1 + 1 pages
    let d = t.join("d");
    w.write_dir(&d).unwrap();
    // the model agrees on what is present
    let src = ckptfs::source::open(&d, &Default::default()).unwrap();
    let ck = ckptfs::model::load::load(src).unwrap();
    assert_eq!(ck.process(1).unwrap().memory.present_bytes(), present);
    let m = Mount::new(&d);
    let mem = m.p("1/mem");
    let md = fs::metadata(&mem).unwrap();
    assert_eq!((md.len(), md.blocks()), (0, 0), "mem: like /proc/PID/mem");
    let memory = m.p("1/memory");
    let blocks: u64 = ls(&memory)
        .iter()
        .map(|n| stat("%b", &format!("{memory}/{n}")).parse::<u64>().unwrap())
        .sum();
    assert_eq!(blocks, present / 512);
    let name = memory_name(&m, 1, A);
    let md = fs::metadata(m.join(format!("1/memory/{name}"))).unwrap();
    assert_eq!((md.len(), md.blocks()), (16 * PAGE, 3 * PAGE / 512));
    // du agrees (it reports allocated blocks)
    let du = common::run_ok(&["du", "-s", "-B1", &memory]).stdout_text();
    assert_eq!(
        du.split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        present
    );
    m.unmount();
}

#[test]
fn owner_only_permissions_by_default() {
    let t = TempDir::new("syn-perm");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("perm")
        .threads(&[1, 2])
        .cmdline(&["perm"])
        .environ(&["SECRET=1"])
        .heap(0x5555_0000_0000, 0x21000)
        .pages(0x5555_0000_0000, b"x")
        .fd(3, File::reg("/tmp/x"))
        .fd(4, File::tcp_listen(8080))
        .exe("/bin/perm");
    let m = mount_dir(&t, "d", &w);
    let mut seen = 0;
    let mut stack = vec![(m.mnt.clone(), 0)];
    while let Some((p, depth)) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        if md.file_type().is_symlink() {
            continue;
        }
        let mode = md.permissions().mode() & 0o7777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", p.display());
        assert_eq!(mode & 0o222, 0, "{} is writable: {mode:o}", p.display());
        seen += 1;
        if md.is_dir() && depth < 4 {
            for e in fs::read_dir(&p).unwrap() {
                stack.push((e.unwrap().path(), depth + 1));
            }
        }
    }
    assert!(seen > 20, "walked only {seen} entries");
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some(m.mnt.to_str().unwrap()))
        .unwrap();
    assert!(!line.contains("allow_other"), "{line}");
    assert!(
        line.split(' ')
            .nth(3)
            .unwrap()
            .split(',')
            .any(|o| o == "ro"),
        "{line}"
    );
    m.unmount();
}

#[test]
fn shared_memory_seen_by_both_processes() {
    let t = TempDir::new("syn-shm");
    let s = 0x5ec1_0000_0000u64;
    let mfd = 0x5ec2_0000_0000u64;
    let mut w = CheckpointWriter::new();
    w.process(10, 0)
        .comm("p")
        .shared_anon(s, 0x10_0000, 7)
        .pages(s, b"SYN-SHM-PARENT")
        .memfd(mfd, 0x10000, "syn-memfd", 8)
        .pages(mfd + 0x3000, b"SYN-MEMFD");
    w.process(11, 10)
        .comm("c")
        .shared_anon(s, 0x10_0000, 7)
        .pages(s + 0x10000, b"SYN-SHM-CHILD")
        .memfd(mfd, 0x10000, "syn-memfd", 8);
    let m = mount_dir(&t, "d", &w);
    for pid in [10, 11] {
        let mem = m.p(format!("{pid}/mem"));
        assert_eq!(dd(&mem, s, 14), b"SYN-SHM-PARENT", "pid {pid}");
        assert_eq!(dd(&mem, s + 0x10000, 13), b"SYN-SHM-CHILD", "pid {pid}");
        assert_eq!(dd(&mem, mfd + 0x3000, 9), b"SYN-MEMFD", "pid {pid}");
        let maps = String::from_utf8(cat(&m.p(format!("{pid}/maps")))).unwrap();
        assert!(maps.contains("rw-s"), "{maps}");
        assert!(maps.contains("/memfd:syn-memfd (deleted)"), "{maps}");
        assert!(maps.contains("/dev/zero (deleted)"), "{maps}");
    }
    m.unmount();
}

#[test]
fn incremental_chain_and_container_archive() {
    let t = TempDir::new("syn-incr");
    let base = pattern(64 * PAGE as usize, 5);
    let mut pre = CheckpointWriter::new();
    pre.process(1, 0).anon(A, 64 * PAGE).pages(A, &base);
    let mut dump = CheckpointWriter::new();
    dump.process(1, 0)
        .comm("incr")
        .cmdline(&["incr", "--from-parent"])
        .anon(A, 64 * PAGE)
        .parent_pages(A, 63)
        .pages(A + 63 * PAGE, b"INCR-NEW-PAGE-MARKER");
    dump.with_parent("pre", pre);
    let mut want = base.clone();
    want[63 * PAGE as usize..].fill(0);
    want[63 * PAGE as usize..][..20].copy_from_slice(b"INCR-NEW-PAGE-MARKER");
    let sha = sha256_hex(&want);

    let dir = t.join("images/dump");
    dump.write_dir(&dir).unwrap();
    let check = |m: &Mount| {
        let name = memory_name(m, 1, A);
        assert_eq!(sha256sum(&m.p(format!("1/memory/{name}"))), sha);
        assert_eq!(cat(&m.p("1/cmdline")), b"incr\0--from-parent\0");
    };
    let m = Mount::new(&dir);
    check(&m);
    drop(m);
    let tar = t.join("incr.tar.zst");
    dump.write_tar(&tar, &Layout::podman("syn-demo"), Compression::Zstd)
        .unwrap();
    let m = Mount::new(&tar);
    check(&m);
    let ck = ls(&m.p("checkpoint"));
    assert!(ck.contains(&"config.dump".to_string()), "{ck:?}");
    let info = String::from_utf8(cat(&m.p("checkpoint/info.json"))).unwrap();
    assert!(info.contains("syn-demo"), "{info}");
    m.unmount();
}

#[test]
fn generated_memory_streams_into_an_archive() {
    // 64 MiB of generated pages: written without holding them, read back through the mount.
    let t = TempDir::new("syn-gen");
    let f: PageFn = Arc::new(|addr, buf: &mut [u8]| {
        for (i, w) in buf.chunks_mut(8).enumerate() {
            w.copy_from_slice(&(addr + i as u64 * 8).to_le_bytes());
        }
    });
    let n = 16 * 1024;
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .comm("big")
        .anon(A, n * PAGE)
        .pages_fn(A, n, f)
        .pages(A + 12345 * PAGE + 40, b"GENERATED-MARKER");
    let tar = t.join("big.tar");
    w.write_tar(&tar, &Layout::Bare, Compression::None).unwrap();
    let m = Mount::new(Path::new(&tar));
    let mem = m.p("1/mem");
    let at = A + 9999 * PAGE + 16;
    assert_eq!(dd(&mem, at, 8), at.to_le_bytes());
    let (c, dt) = grep_count_memory("GENERATED-MARKER", &m.p("1"));
    eprintln!("grep over 64 MiB of generated pages: {c} in {dt:?}");
    assert_eq!(c, 1);
    m.unmount();
}
