//! Round trips: writer -> files -> `source::open` -> `model::load::load`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::image::{self, decode_pagemap, magic, pb};
use crate::model::load::load;
use crate::model::process::{TaskState, VmaName};
use crate::model::{Checkpoint, FileKind};
use crate::source::{self, OpenOptions};
use crate::warning::{Kind, Warning};

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "ckptfs-writer-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn join(&self, s: &str) -> PathBuf {
        self.0.join(s)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open_load(path: &Path, cache: &Path) -> Checkpoint {
    let src = source::open(
        path,
        &OpenOptions {
            cache_dir: Some(cache.to_path_buf()),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    load(src).unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

fn read(ck: &Checkpoint, pid: u32, addr: u64, len: usize) -> Vec<u8> {
    let p = ck
        .process(pid)
        .unwrap_or_else(|| panic!("pid {pid} missing"));
    let mut buf = vec![0xeeu8; len];
    p.memory.read_at(addr, &mut buf).unwrap();
    buf
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 7) as u8)
        .collect()
}

const A: u64 = 0x5000_0000_0000;

/// A small but complete process tree: 2 processes, 3 threads, anon + heap + file + stack.
fn sample() -> CheckpointWriter {
    let mut w = CheckpointWriter::new();
    let data = pattern(16 * 4096, 1);
    w.process(1, 0)
        .comm("sh")
        .threads(&[1, 5, 6])
        .thread_comm(6, "worker")
        .cmdline(&["/bin/sh", "-c", "echo hi"])
        .environ(&["A=B", "SECRET=hunter2"])
        .creds(1000, 1001)
        .regs(
            5,
            X86Regs {
                ip: 0x0040_1000,
                sp: 0x7ff0_0000,
                ..X86Regs::default()
            },
        )
        .file_vma(0x5555_0000_0000, 0x1000, "/bin/sh", 0, prot::READ)
        .file_vma(
            0x5555_0000_1000,
            0x2000,
            "/bin/sh",
            0x1000,
            prot::READ | prot::EXEC,
        )
        .file_vma(
            0x5555_0000_3000,
            0x1000,
            "/bin/sh",
            0x3000,
            prot::READ | prot::WRITE,
        )
        .pages(0x5555_0000_3010, b"GLOBAL-MARKER")
        .heap(0x5555_1000_0000, 0x21000)
        .pages(0x5555_1000_02a0, b"HEAP-MARKER")
        .vma(Vma::anon(A, 16 * 4096).rw())
        .pages(A, &data)
        .fd(0, File::reg("/dev/null"))
        .fd(3, File::reg_with("/tmp/x.log", 0o2001, 28, 28))
        .fd(4, File::tcp_listen(8080))
        .fd(5, File::pipe(777, false))
        .cwd("/tmp")
        .exe("/bin/sh")
        .stopped();
    w.process(7, 1)
        .comm("child")
        .cmdline(&["child"])
        .environ(&["X=1"])
        .heap(0x5555_2000_0000, 0x1000)
        .pages(0x5555_2000_0000, b"CHILD");
    w
}

fn check_sample(ck: &Checkpoint) {
    assert_eq!(ck.processes.len(), 2);
    let p = ck.process(1).unwrap();
    assert_eq!(p.comm, "sh");
    assert_eq!(p.state, TaskState::Stopped);
    assert_eq!(p.stop_signo, Some(19));
    let tids: Vec<u32> = p.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, [1, 5, 6]);
    assert_eq!(p.threads[2].comm, "worker");
    assert_eq!(p.threads[1].comm, "sh");
    assert_eq!(p.threads[1].regs.as_ref().unwrap().ip, 0x0040_1000);
    assert_eq!(p.creds().unwrap().uid, 1000);
    assert_eq!(p.creds().unwrap().fsgid, 1001);
    // memory
    assert_eq!(read(ck, 1, A, 16 * 4096), pattern(16 * 4096, 1));
    assert_eq!(read(ck, 1, 0x5555_1000_02a0, 11), b"HEAP-MARKER");
    assert_eq!(read(ck, 1, 0x5555_0000_3010, 13), b"GLOBAL-MARKER");
    assert_eq!(
        read(ck, 1, A + 16 * 4096, 8),
        [0u8; 8],
        "past the VMA: a hole"
    );
    // cmdline / environ at the recorded ranges, as the kernel lays them out
    let mm = p.mm.as_ref().unwrap();
    let args = read(ck, 1, mm.arg_start, (mm.arg_end - mm.arg_start) as usize);
    assert_eq!(args, b"/bin/sh\0-c\0echo hi\0");
    let env = read(ck, 1, mm.env_start, (mm.env_end - mm.env_start) as usize);
    assert_eq!(env, b"A=B\0SECRET=hunter2\0");
    assert_eq!(mm.arg_end, mm.env_start);
    assert_eq!(
        crate::render::cmdline::cmdline(p).unwrap(),
        b"/bin/sh\0-c\0echo hi\0"
    );
    assert_eq!(
        crate::render::cmdline::environ(p).unwrap(),
        b"A=B\0SECRET=hunter2\0"
    );
    // argc and argv[0] at start_stack
    let argc = read(ck, 1, mm.start_stack, 8);
    assert_eq!(u64::from_le_bytes(argc.try_into().unwrap()), 3);
    let argv0 = read(ck, 1, mm.start_stack + 8, 8);
    assert_eq!(u64::from_le_bytes(argv0.try_into().unwrap()), mm.arg_start);
    // the exec file name right below the 8 zero bytes at the top of the stack
    let stack = p.vmas.iter().find(|v| v.name == VmaName::Stack).unwrap();
    assert_eq!(
        read(ck, 1, stack.end - 8 - 8, 16),
        b"/bin/sh\0\0\0\0\0\0\0\0\0"
    );
    assert!(stack.start <= mm.start_stack && mm.start_stack < stack.end);
    // VMAs and names
    assert!(p.vmas.iter().any(|v| v.name == VmaName::Heap));
    let exe: Vec<_> = p
        .vmas
        .iter()
        .filter(|v| matches!(&v.name, VmaName::File { path, .. } if path == "/bin/sh"))
        .collect();
    assert_eq!(exe.len(), 3);
    assert_eq!(exe[1].perms(), "r-xp");
    assert_eq!(exe[1].pgoff, 0x1000);
    assert_eq!(mm.start_code, 0x5555_0000_1000);
    assert_eq!(mm.start_brk, 0x5555_1000_0000);
    // files
    let fds: Vec<u32> = p.fds.iter().map(|f| f.fd).collect();
    assert_eq!(fds, [0, 3, 4, 5]);
    match &p.fds[1].file.kind {
        FileKind::Reg { path, pos, .. } => {
            assert_eq!(path, "/tmp/x.log");
            assert_eq!(*pos, 28);
        }
        k => panic!("fd 3: {k:?}"),
    }
    match &p.fds[2].file.kind {
        FileKind::InetSocket(s) => {
            assert_eq!((s.src_port, s.state, s.family), (8080, 10, 2));
        }
        k => panic!("fd 4: {k:?}"),
    }
    assert!(matches!(
        &p.fds[3].file.kind,
        FileKind::Pipe { pipe_id: 777, .. }
    ));
    assert!(matches!(&p.cwd.as_ref().unwrap().kind, FileKind::Reg { path, .. } if path == "/tmp"));
    assert!(
        matches!(&p.exe.as_ref().unwrap().kind, FileKind::Reg { path, .. } if path == "/bin/sh")
    );
    // child
    let c = ck.process(7).unwrap();
    assert_eq!(c.ppid, 1);
    assert_eq!(crate::render::cmdline::cmdline(c).unwrap(), b"child\0");
    assert_eq!(read(ck, 7, 0x5555_2000_0000, 5), b"CHILD");
}

#[test]
fn round_trip_image_dir() {
    let t = Tmp::new("dir");
    let dir = t.join("images");
    sample().write_dir(&dir).unwrap();
    let ck = open_load(&dir, &t.join("cache"));
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
    check_sample(&ck);
}

#[test]
fn round_trip_archives_in_both_layouts() {
    let t = Tmp::new("tar");
    let mut w = sample();
    w.archive_file("network.status", b"[]");
    for (i, layout) in [Layout::Bare, Layout::podman("demo")].iter().enumerate() {
        for (j, c) in [Compression::None, Compression::Gzip, Compression::Zstd]
            .into_iter()
            .enumerate()
        {
            let path = t.join(&format!("ck-{i}-{j}.tar"));
            w.write_tar(&path, layout, c).unwrap();
            let ck = open_load(&path, &t.join("cache"));
            check_sample(&ck);
            match layout {
                Layout::Bare => {
                    assert_eq!(ck.source.layout, source::Layout::ImageDir);
                    assert!(ck.source.metadata.is_empty());
                }
                _ => {
                    assert_eq!(ck.source.layout, source::Layout::ContainerArchive);
                    assert!(ck.source.metadata.contains_key("config.dump"));
                    assert!(ck.source.metadata.contains_key("spec.dump"));
                    assert_eq!(ck.source.metadata["network.status"].bytes(), b"[]");
                    assert_eq!(ck.meta.container_name.as_deref(), Some("demo"));
                }
            }
        }
    }
    // An extracted Podman tree opens too.
    let tree = t.join("tree");
    w.write_tree(&tree, &Layout::podman("demo")).unwrap();
    let ck = open_load(&tree, &t.join("cache"));
    assert_eq!(ck.source.layout, source::Layout::ContainerArchive);
    check_sample(&ck);
}

#[test]
fn incremental_parent_pages_resolve_recursively() {
    let t = Tmp::new("incr");
    let a = pattern(8 * 4096, 3);
    let b = pattern(4 * 4096, 4);
    // pre: holds pages 0..8; pre2: pages 0..4 PARENT, 4..8 rewritten; dump: all PARENT but one.
    let mut pre = CheckpointWriter::new();
    pre.process(1, 0).anon(A, 16 * 4096).pages(A, &a);
    let mut pre2 = CheckpointWriter::new();
    pre2.process(1, 0)
        .anon(A, 16 * 4096)
        .parent_pages(A, 4)
        .pages(A + 4 * 4096, &b);
    pre2.with_parent("pre", pre);
    let mut dump = CheckpointWriter::new();
    dump.process(1, 0)
        .comm("x")
        .anon(A, 16 * 4096)
        .parent_pages(A, 8)
        .pages(A + 8 * 4096, b"NEW");
    dump.with_parent("pre2", pre2);

    let mut want = a.clone();
    want[4 * 4096..].copy_from_slice(&b);
    want.extend_from_slice(b"NEW");

    let dir = t.join("images/dump");
    dump.write_dir(&dir).unwrap();
    assert_eq!(
        std::fs::read_link(dir.join("parent")).unwrap(),
        Path::new("../pre2")
    );
    let ck = open_load(&dir, &t.join("cache"));
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
    assert_eq!(read(&ck, 1, A, want.len()), want);
    // the dump's own pagemap is a real mix of PARENT and PRESENT
    let files = dump.encode_files();
    let (_, runs) = decode_pagemap("pagemap-1.img", &files["pagemap-1.img"]).unwrap();
    assert_eq!(runs[0].flags, PE_PARENT);
    assert_eq!(runs[1].flags, PE_PRESENT | PE_LAZY);
    // pre-dumps hold no pstree / core
    assert!(!t.join("images/pre/pstree.img").exists());
    assert!(t.join("images/pre/pagemap-1.img").exists());

    for (layout, c) in [
        (Layout::Bare, Compression::None),
        (Layout::podman("incr"), Compression::Zstd),
    ] {
        let path = t.join("incr.tar");
        dump.write_tar(&path, &layout, c).unwrap();
        let ck = open_load(&path, &t.join("cache"));
        assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
        assert_eq!(read(&ck, 1, A, want.len()), want);
    }
}

#[test]
fn pagemap_formats_decode_the_same() {
    let data = pattern(300 * 4096, 9);
    let mut runs_seen = Vec::new();
    for f in [
        PagemapFormat::New,
        PagemapFormat::Compat,
        PagemapFormat::Both,
        PagemapFormat::Legacy,
    ] {
        let mut w = CheckpointWriter::new();
        w.pagemap_format(f);
        w.process(1, 0)
            .anon(A, 300 * 4096)
            .pages(A, &data)
            .vma(Vma::file(A + 0x100_0000, 0x2000, "/lib/x.so", 0))
            .pages(A + 0x100_0000, b"FILE");
        let files = w.encode_files();
        let bytes = &files["pagemap-1.img"];
        // raw fields as written
        let raw: Vec<pb::PagemapEntry> = image::decode_all("pm", bytes, magic::PAGEMAP).unwrap();
        let e = &raw[1];
        match f {
            PagemapFormat::New => {
                assert_eq!((e.compat_nr_pages, e.nr_pages), (0, Some(256)));
                assert_eq!(e.flags, Some(PE_PRESENT | PE_LAZY));
            }
            PagemapFormat::Compat => assert_eq!((e.compat_nr_pages, e.nr_pages), (256, None)),
            PagemapFormat::Both => assert_eq!((e.compat_nr_pages, e.nr_pages), (256, Some(256))),
            PagemapFormat::Legacy => {
                assert_eq!((e.compat_nr_pages, e.nr_pages), (256, None));
                // LAZY cannot be expressed without flags: kept
                assert_eq!(e.flags, Some(PE_PRESENT | PE_LAZY));
                assert_eq!(raw[3].flags, None, "the file page: PRESENT implied");
            }
        }
        let (_, runs) = decode_pagemap("pm", bytes).unwrap();
        runs_seen.push(runs);
        let t = Tmp::new("fmt");
        w.write_dir(&t.join("d")).unwrap();
        let ck = open_load(&t.join("d"), &t.join("c"));
        assert_eq!(read(&ck, 1, A, data.len()), data, "{f:?}");
        assert_eq!(read(&ck, 1, A + 0x100_0000, 4), b"FILE", "{f:?}");
    }
    assert!(runs_seen.windows(2).all(|w| w[0] == w[1]));
    let r = &runs_seen[0];
    assert_eq!(
        r.iter().map(|r| r.nr_pages).collect::<Vec<_>>(),
        [256, 44, 1],
        "batches of at most 256 pages, cut at the VMA boundary"
    );
    assert_eq!(r[2].flags, PE_PRESENT, "file-private pages: PRESENT only");
}

#[test]
fn lazy_only_reads_zero_present_lazy_reads_data() {
    let t = Tmp::new("lazy");
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .anon(A, 8 * 4096)
        .pages_with_flags(A, &pattern(4096, 1), PE_PRESENT | PE_LAZY)
        .lazy_only(A + 4096, 2)
        .pages_with_flags(A + 3 * 4096, &pattern(4096, 2), PE_PRESENT)
        .pages(A + 4 * 4096, b"AFTER");
    w.write_dir(&t.join("d")).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    assert_eq!(read(&ck, 1, A, 4096), pattern(4096, 1));
    assert_eq!(read(&ck, 1, A + 4096, 2 * 4096), vec![0u8; 2 * 4096]);
    assert_eq!(read(&ck, 1, A + 3 * 4096, 4096), pattern(4096, 2));
    assert_eq!(read(&ck, 1, A + 4 * 4096, 5), b"AFTER");
    assert!(ck.warnings.has(Kind::LazyPages), "{:?}", ck.warnings);
    let p = ck.process(1).unwrap();
    assert_eq!(p.memory.present_bytes(), 3 * 4096);
    let files = w.encode_files();
    assert_eq!(files["pages-1.img"].len(), 3 * 4096);
    let (_, runs) = decode_pagemap("pm", &files["pagemap-1.img"]).unwrap();
    let flags: Vec<u32> = runs.iter().map(|r| r.flags).collect();
    assert_eq!(
        flags,
        [
            PE_PRESENT | PE_LAZY,
            PE_LAZY,
            PE_PRESENT,
            PE_PRESENT | PE_LAZY
        ]
    );
}

#[test]
fn batches_and_an_entry_spanning_two_vmas() {
    let t = Tmp::new("span");
    let mut w = CheckpointWriter::new();
    w.max_batch_pages(1).merge_across_vmas(true);
    // A marker across a page boundary, so across two pagemap entries of one page each.
    let marker = b"SPLIT-MARKER-ACROSS-PAGES";
    w.process(1, 0)
        .anon(A, 2 * 4096)
        .pages(A + 4096 - 10, marker);
    let files = w.encode_files();
    let (_, runs) = decode_pagemap("pm", &files["pagemap-1.img"]).unwrap();
    assert_eq!(runs.len(), 2);
    w.write_dir(&t.join("d")).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    assert_eq!(read(&ck, 1, A + 4096 - 10, marker.len()), marker);

    let mut w = CheckpointWriter::new();
    w.merge_across_vmas(true);
    w.process(1, 0)
        .vma(Vma::anon(A, 2 * 4096).rw())
        .vma(Vma::anon(A + 2 * 4096, 2 * 4096).r())
        .pages(A + 4096, &pattern(2 * 4096, 5));
    let files = w.encode_files();
    let (_, runs) = decode_pagemap("pm", &files["pagemap-1.img"]).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].vaddr, runs[0].nr_pages), (A + 4096, 2));
    w.write_dir(&t.join("e")).unwrap();
    let ck = open_load(&t.join("e"), &t.join("c"));
    assert_eq!(ck.process(1).unwrap().vmas.len(), 2);
    assert_eq!(read(&ck, 1, A + 4096, 2 * 4096), pattern(2 * 4096, 5));
}

#[test]
fn zombie_has_a_core_only() {
    let t = Tmp::new("zombie");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("init").cmdline(&["init"]);
    w.process(2, 1).comm("defunct").zombie(3);
    let files = w.encode_files();
    assert!(files.contains_key("core-2.img"));
    for n in ["mm-2.img", "pagemap-2.img", "ids-2.img", "fs-2.img"] {
        assert!(!files.contains_key(n), "{n}");
    }
    w.write_dir(&t.join("d")).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    let z = ck.process(2).unwrap();
    assert_eq!(z.state, TaskState::Zombie);
    assert_eq!(z.exit_code, 3);
    assert!(z.mm.is_none());
    assert_eq!(z.comm, "defunct");
    assert_eq!(crate::render::cmdline::cmdline(z).unwrap(), b"");
}

/// CRIU records a zombie's thread id in pstree.img as whatever the kernel left there (2914136784
/// in checkpointctl's test images) and writes the zombie's state and name to `core-<pid>.img`.
#[test]
fn zombie_with_a_stray_thread_id_reads_core_of_its_pid() {
    let t = Tmp::new("zombie-tid");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("init").cmdline(&["init"]);
    w.process(6, 1)
        .comm("piggie-zombie")
        .threads(&[2_914_136_784])
        .zombie(0);
    let files = w.encode_files();
    assert!(files.contains_key("core-6.img"));
    assert!(!files.contains_key("core-2914136784.img"));
    w.write_dir(&t.join("d")).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    let z = ck.process(6).unwrap();
    assert_eq!(z.state, TaskState::Zombie);
    assert_eq!(z.comm, "piggie-zombie");
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
    // A live process whose thread's core is missing is still reported.
    let t2 = Tmp::new("zombie-tid-live");
    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("init").threads(&[1, 7]);
    w.remove_file("core-7.img");
    w.write_dir(&t2.join("d")).unwrap();
    let ck = open_load(&t2.join("d"), &t2.join("c"));
    assert!(
        ck.warnings
            .of(Kind::MissingImage)
            .any(|w| w.message.contains("thread 7 of PID 1")),
        "{:?}",
        ck.warnings
    );
}

/// A missing pages file is one warning (not one per pagemap entry), and its pages fail to read.
#[test]
fn missing_pages_file_is_one_warning() {
    let t = Tmp::new("nopages");
    let mut w = CheckpointWriter::new();
    let p = w.process(1, 0).comm("sh").cmdline(&["sh"]);
    for k in 0..4u64 {
        // Separate VMAs: one pagemap entry each.
        p.vma(Vma::anon(0x5000_0000_0000 + k * 0x10_0000, 4096).rw())
            .pages(0x5000_0000_0000 + k * 0x10_0000, b"x");
    }
    w.write_dir(&t.join("d")).unwrap();
    let pages: Vec<String> = std::fs::read_dir(t.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pages-"))
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    std::fs::remove_file(t.join("d").join(&pages[0])).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    let about: Vec<&Warning> = ck
        .warnings
        .iter()
        .filter(|w| w.message.contains(pages[0].as_str()))
        .collect();
    assert_eq!(about.len(), 1, "{:?}", ck.warnings);
    assert_eq!(about[0].kind, Kind::MissingImage, "{about:?}");
    let mut b = [0u8; 1];
    assert!(
        ck.process(1)
            .unwrap()
            .memory
            .read_at(0x5000_0000_0000, &mut b)
            .is_err()
    );
}

#[test]
fn shared_memory_classic_and_memfd() {
    let t = Tmp::new("shm");
    let s = 0x5ec1_0000_0000u64;
    let m = 0x5ec2_0000_0000u64;
    let mut w = CheckpointWriter::new();
    w.process(10, 0)
        .shared_anon(s, 0x10_0000, 109)
        .pages(s, b"SHM-PARENT")
        .vma(Vma::memfd(m, 0x10000, "/dev/zero", 110))
        .pages(m + 0x2000, b"DEVZERO-STYLE")
        .memfd(m + 0x10_0000, 0x10000, "my-memfd", 111)
        .pages(m + 0x10_0000, b"MEMFD");
    w.process(11, 10)
        .vma(Vma::shared_anon(s + 0x4000_0000, 0x10_0000, 109))
        .pages(s + 0x4000_0000 + 0x10000, b"SHM-CHILD")
        .memfd(m + 0x10_0000, 0x10000, "my-memfd", 111);
    let files = w.encode_files();
    for n in [
        "pagemap-shmem-109.img",
        "pagemap-shmem-110.img",
        "pagemap-shmem-111.img",
        "memfd.img",
    ] {
        assert!(files.contains_key(n), "{n}");
    }
    // shmem pages files come first
    let (id, _) = decode_pagemap("x", &files["pagemap-shmem-109.img"]).unwrap();
    assert_eq!(id, 1);
    let (id, _) = decode_pagemap("x", &files["pagemap-10.img"]).unwrap();
    assert_eq!(id, 4);
    w.write_dir(&t.join("d")).unwrap();
    let ck = open_load(&t.join("d"), &t.join("c"));
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
    for (pid, base) in [(10, s), (11, s + 0x4000_0000)] {
        assert_eq!(read(&ck, pid, base, 10), b"SHM-PARENT");
        assert_eq!(read(&ck, pid, base + 0x10000, 9), b"SHM-CHILD");
        assert_eq!(read(&ck, pid, m + 0x10_0000, 5), b"MEMFD");
    }
    assert_eq!(read(&ck, 10, m + 0x2000, 13), b"DEVZERO-STYLE");
    let p = ck.process(10).unwrap();
    let v = p.vma_at(s).unwrap();
    assert_eq!(v.perms(), "rw-s");
    assert_eq!(
        v.name,
        VmaName::File {
            path: "/dev/zero".into(),
            deleted: true
        }
    );
}

#[test]
fn low_level_encoders_and_raw_files() {
    let core = pb::CoreEntry {
        mtype: 1,
        ..Default::default()
    };
    let bytes = encode_image(magic::CORE, std::slice::from_ref(&core));
    assert_eq!(&bytes[..4], &magic::IMG_COMMON_MAGIC.to_le_bytes());
    assert_eq!(&bytes[4..8], &magic::CORE.to_le_bytes());
    let back: pb::CoreEntry = image::decode_one("core-1.img", &bytes, magic::CORE).unwrap();
    assert_eq!(back, core);
    let inv = encode_image(magic::INVENTORY, &[pb::InventoryEntry::default()]);
    assert_eq!(&inv[..4], &magic::INVENTORY.to_le_bytes());
    let st = encode_image(magic::STATS, &[pb::StatsEntry::default()]);
    assert_eq!(&st[..4], &magic::IMG_SERVICE_MAGIC.to_le_bytes());
    let junk = encode_frames(magic::CORE, &[&[0xffu8, 0xff, 0xff][..]]);
    assert!(image::decode_one::<pb::CoreEntry>("core-1.img", &junk, magic::CORE).is_err());
    let runs = [
        PageRun {
            vaddr: 0x1000,
            nr_pages: 3,
            flags: PE_PRESENT,
        },
        PageRun {
            vaddr: 0x8000,
            nr_pages: 1,
            flags: PE_PARENT,
        },
    ];
    for f in [PagemapFormat::New, PagemapFormat::Legacy] {
        let pm = encode_pagemap_with(7, &runs, f);
        assert_eq!(decode_pagemap("pm", &pm).unwrap(), (7, runs.to_vec()));
    }
    assert_eq!(
        encode_pagemap(7, &runs),
        encode_pagemap_with(7, &runs, PagemapFormat::New)
    );

    let mut w = CheckpointWriter::new();
    w.process(1, 0).comm("a");
    w.raw_file("core-1.img", b"garbage")
        .remove_file("stats-dump")
        .raw_file("extra", b"x");
    let files = w.encode_files();
    assert_eq!(files["core-1.img"], b"garbage");
    assert_eq!(files["extra"], b"x");
    assert!(!files.contains_key("stats-dump"));
}

#[test]
fn generated_pages_stream() {
    let t = Tmp::new("gen");
    let f: PageFn = Arc::new(|addr, buf: &mut [u8]| {
        for (i, w) in buf.chunks_mut(8).enumerate() {
            w.copy_from_slice(&(addr + i as u64 * 8).to_le_bytes());
        }
    });
    let mut w = CheckpointWriter::new();
    w.process(1, 0)
        .anon(A, 1024 * 4096)
        .pages_fn(A, 1024, f)
        .pages(A + 5 * 4096 + 3, b"OVER");
    let path = t.join("g.tar.zst");
    w.write_tar(&path, &Layout::Bare, Compression::Zstd)
        .unwrap();
    let ck = open_load(&path, &t.join("c"));
    let got = read(&ck, 1, A + 100 * 4096 + 16, 8);
    assert_eq!(got, (A + 100 * 4096 + 16).to_le_bytes());
    let got = read(&ck, 1, A + 5 * 4096, 8);
    let mut want = (A + 5 * 4096).to_le_bytes();
    want[3..7].copy_from_slice(b"OVER");
    assert_eq!(got, want);
    assert_eq!(ck.process(1).unwrap().memory.present_bytes(), 1024 * 4096);
}

/// CRIU 4.1-4.2 additions: guard regions (fake VMAs after the real ones), the uprobes area,
/// MAP_DROPPABLE, pidfds, inventory plugins and run id: decoded, shown, never warned about.
#[test]
fn criu_4_2_additions_decode_without_warnings() {
    const MAP_DROPPABLE: u32 = 0x08;
    const MAP_ANONYMOUS: u32 = 0x20;
    let t = Tmp::new("criu42");
    let mut w = CheckpointWriter::new();
    w.plugins(&["amdgpu_plugin"]);
    w.process(1, 0)
        .comm("app")
        .vma(Vma::anon(0x4b13_0000_0000, 16 * PAGE).rw())
        .pages(0x4b13_0000_0000, b"KITCHEN-ANON")
        .pages(0x4b13_0000_0000 + 12 * PAGE, b"PAGE-12")
        .guard(0x4b13_0000_0000 + 8 * PAGE, PAGE)
        .vma(
            Vma::anon(0x7fff_f000_0000, PAGE)
                .rx()
                .status(vma_status::UPROBES | vma_status::ANON_PRIVATE),
        )
        .vma(
            Vma::anon(0x6000_0000_0000, 4 * PAGE)
                .rw()
                .map_flags(MAP_DROPPABLE | MAP_ANONYMOUS),
        )
        .fd(7, File::Pidfd { nspid: 2 })
        .fd(8, File::Pidfd { nspid: -1 });
    let dir = t.join("ck");
    w.write_dir(&dir).unwrap();
    let ck = open_load(&dir, &t.join("cache"));
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
    let p = ck.process(1).unwrap();
    let anon: Vec<_> = p
        .vmas
        .iter()
        .filter(|v| v.start >= 0x4b13_0000_0000 && v.start < 0x4b14_0000_0000)
        .collect();
    assert_eq!(anon.len(), 1, "the real VMA once, unsplit");
    assert_eq!(anon[0].end, 0x4b13_0000_0000 + 16 * PAGE);
    assert!(p.vmas.iter().all(|v| v.status & vma_status::GUARD == 0));
    assert_eq!(
        p.guard_regions,
        vec![(0x4b13_0000_0000 + 8 * PAGE, 0x4b13_0000_0000 + 9 * PAGE)]
    );
    assert_eq!(read(&ck, 1, 0x4b13_0000_0000, 12), b"KITCHEN-ANON");
    assert_eq!(read(&ck, 1, 0x4b13_0000_0000 + 8 * PAGE, 4), [0; 4]);
    let maps = String::from_utf8(crate::render::maps::maps(p)).unwrap();
    assert_eq!(
        maps.matches("4b1300000000-4b1300010000 rw-p").count(),
        1,
        "{maps}"
    );
    assert!(!maps.contains("4b1300008000"), "{maps}");
    assert!(
        maps.contains(
            "7ffff0000000-7ffff0001000 r-xp 00000000 00:00 0                          [uprobes]\n"
        ),
        "{maps}"
    );
    assert!(maps.contains("600000000000-600000004000 rw-p"), "{maps}");
    use crate::render::pagemap::{PM_GUARD_REGION, PM_PRESENT, pagemap_entry};
    assert_eq!(
        pagemap_entry(p, &[], 0x4b13_0000_0000 + 8 * PAGE),
        PM_GUARD_REGION
    );
    assert_eq!(
        pagemap_entry(p, &[], 0x4b13_0000_0000 + 12 * PAGE),
        PM_PRESENT
    );
    let fd7 = p.fds.iter().find(|f| f.fd == 7).unwrap();
    assert_eq!(fd7.file.link_text(), "anon_inode:[pidfd]");
    assert!(matches!(fd7.file.kind, FileKind::Pidfd { nspid: 2, .. }));
    let info = String::from_utf8(crate::render::fdinfo::fdinfo(p, fd7)).unwrap();
    assert!(info.ends_with("Pid:\t2\nNSpid:\t2\n"), "{info}");
    assert_eq!(crate::views::fds::file_path(&fd7.file), "pidfd[2]");
    let fd8 = p.fds.iter().find(|f| f.fd == 8).unwrap();
    assert_eq!(crate::views::fds::file_path(&fd8.file), "pidfd[reaped]");
    let inv = ck.meta.inventory.as_ref().unwrap();
    assert_eq!(inv.plugins, ["amdgpu_plugin"]);
    assert_eq!(inv.criu_run_id.as_deref(), Some("ckptfs-writer"));
    let json: serde_json::Value =
        serde_json::from_slice(&crate::render::info::info_json(&ck)).unwrap();
    assert_eq!(json["inventory"]["plugins"][0], "amdgpu_plugin");
    assert_eq!(json["inventory"]["criu_run_id"], "ckptfs-writer");
    // The ELF core has no segment for the guard region: one PT_LOAD for the anonymous VMA.
    let core = crate::render::elfcore::CoreLayout::new(&ck, p);
    let phnum = u16::from_le_bytes([core.head()[56], core.head()[57]]);
    assert_eq!(
        usize::from(phnum),
        p.vmas.len() + 1,
        "PT_NOTE + one PT_LOAD per real VMA"
    );
}

/// containerd 2.x and CRI-O archives: detected as container archives, the engine and the names
/// taken from their annotations, the log found whatever its name, and rootfs-diff.tar read
/// whether it is a gzip OCI layer with whiteouts (containerd) or a plain tar + deleted.files.
#[test]
fn runtime_layouts_round_trip() {
    let t = Tmp::new("k8s");
    let w = sample();
    let lower = t.join("lower");
    std::fs::create_dir_all(lower.join("etc/conf.d")).unwrap();
    std::fs::write(lower.join("etc/passwd"), b"root:x:0:0").unwrap();
    std::fs::write(lower.join("etc/conf.d/old"), b"old").unwrap();
    std::fs::write(lower.join("keep"), b"keep").unwrap();
    let mut a = K8sArchive::new(K8sContainer::new("prod", "web-7d4b9", "nginx"));
    a.log = b"2026-11-28T10:04:59.000000001Z stdout F hello\n".to_vec();
    a.rootfs.files = vec![
        ("etc/conf.d/new".into(), b"NEW".to_vec()),
        ("tmp/dropped".into(), b"IOC".to_vec()),
    ];
    a.rootfs.deleted = vec!["etc/passwd".into()];
    let mut containerd = a.clone();
    containerd.rootfs.opaque_dirs = vec!["etc/conf.d".into()];
    for (crio, layout) in [
        (false, Layout::Containerd(containerd)),
        (true, Layout::Crio(a)),
    ] {
        let path = t.join(if crio { "crio.tar" } else { "containerd.tar" });
        w.write_tar(&path, &layout, Compression::None).unwrap();
        let mut ck = open_load(&path, &t.join("cache"));
        check_sample(&ck);
        assert_eq!(ck.source.layout, source::Layout::ContainerArchive);
        let m = &ck.meta;
        let engine = if crio { "CRI-O" } else { "containerd" };
        assert_eq!(m.engine.as_deref(), Some(engine));
        assert_eq!(m.container_name.as_deref(), Some("nginx"));
        assert_eq!(m.pod_name.as_deref(), Some("web-7d4b9"));
        assert_eq!(m.pod_namespace.as_deref(), Some("prod"));
        assert_eq!(
            m.checkpointed.as_deref(),
            Some("2026-11-28T10:05:00.123456789Z")
        );
        let (name, log) = ck.container_log().unwrap();
        assert_eq!(
            name,
            if crio {
                "io.kubernetes.cri-o.LogPath"
            } else {
                "container.log"
            }
        );
        assert!(log.bytes().ends_with(b"stdout F hello\n"));
        let raw = &ck.source.metadata["rootfs-diff.tar"];
        assert_eq!(raw.bytes().starts_with(&[0x1f, 0x8b]), !crio);
        crate::model::rootfs::attach(&mut ck, Some(&lower)).unwrap();
        assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);
        let r = &ck.container_fs.rootfs;
        let has = |p: &str| r.node(p).is_some();
        assert!(!has("etc/passwd"), "{engine}: deleted");
        assert!(has("keep") && has("etc/conf.d/new") && has("tmp/dropped"));
        // Only containerd's layer can say that etc/conf.d was replaced whole.
        assert_eq!(has("etc/conf.d/old"), crio, "{engine}");
    }
}
