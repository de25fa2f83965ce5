//! Test helpers: hand-built processes, threads and checkpoints, and excerpts of the fixtures'
//! ground truth (`../shared/fixtures/secretd-plain/ground-truth.json`, PID 8259 and its
//! thread 8263), embedded so the tests need no files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::model::Checkpoint;
use crate::model::memory::{Extent, ExtentData, Memory};
use crate::model::metadata::{DumpStats, Metadata};
use crate::model::process::{
    Creds, MmInfo, Process, SigAction, TaskState, Thread, Vma, VmaName, vma_status,
};
use crate::source::{Blob, InputInfo, InputKind, Layout, Source};
use crate::warning::{Kind, Warning, Warnings};

const PROT_READ: u32 = 0x1;
const PROT_WRITE: u32 = 0x2;
const PROT_EXEC: u32 = 0x4;
const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x0100;

/// A file VMA name.
pub(crate) fn file(path: &str, deleted: bool) -> VmaName {
    VmaName::File {
        path: path.to_string(),
        deleted,
    }
}

/// A VMA with maps-style `perms` (`rw-p`), flags and CRIU status bits derived as CRIU would.
pub(crate) fn vma(start: u64, end: u64, perms: &str, pgoff: u64, name: VmaName) -> Vma {
    let b = perms.as_bytes();
    let mut prot = 0;
    if b.first() == Some(&b'r') {
        prot |= PROT_READ;
    }
    if b.get(1) == Some(&b'w') {
        prot |= PROT_WRITE;
    }
    if b.get(2) == Some(&b'x') {
        prot |= PROT_EXEC;
    }
    let shared = b.get(3) == Some(&b's');
    let mut flags = if shared { MAP_SHARED } else { MAP_PRIVATE };
    let mut status = vma_status::REGULAR;
    match &name {
        VmaName::Anon => {
            flags |= MAP_ANONYMOUS;
            status |= if shared {
                vma_status::ANON_SHARED
            } else {
                vma_status::ANON_PRIVATE
            };
        }
        VmaName::Heap => {
            flags |= MAP_ANONYMOUS;
            status |= vma_status::HEAP | vma_status::ANON_PRIVATE;
        }
        VmaName::Stack => {
            flags |= MAP_ANONYMOUS | MAP_GROWSDOWN;
            status |= vma_status::STACK | vma_status::ANON_PRIVATE;
        }
        VmaName::Vdso => {
            flags |= MAP_ANONYMOUS;
            status |= vma_status::VDSO | vma_status::ANON_PRIVATE;
        }
        VmaName::Vvar | VmaName::VvarVclock => {
            flags |= MAP_ANONYMOUS;
            status |= vma_status::VVAR | vma_status::ANON_PRIVATE;
        }
        VmaName::Vsyscall => status = vma_status::VSYSCALL,
        VmaName::Uprobes => {
            flags |= MAP_ANONYMOUS;
            status |= vma_status::UPROBES | vma_status::ANON_PRIVATE;
        }
        VmaName::File { .. } | VmaName::Unknown { .. } => {
            status |= if shared {
                vma_status::FILE_SHARED
            } else {
                vma_status::FILE_PRIVATE
            };
        }
    }
    Vma {
        start,
        end,
        pgoff,
        shmid: 0,
        prot,
        flags,
        status,
        fd: -1,
        madv: 0,
        fdflags: 0,
        name,
        file: None,
    }
}

/// A thread with default credentials.
pub(crate) fn thread(tid: u32, comm: &str) -> Thread {
    Thread {
        tid,
        comm: comm.to_string(),
        creds: Some(Creds::default()),
        ..Thread::default()
    }
}

/// Memory holding `chunks` (address, bytes).
pub(crate) fn memory(chunks: Vec<(u64, Vec<u8>)>) -> Memory {
    let extents = chunks
        .into_iter()
        .map(|(start, bytes)| Extent {
            start,
            len: bytes.len() as u64,
            data: ExtentData::Bytes(Blob::from_vec(bytes)),
        })
        .collect();
    Memory::from_extents(extents).0
}

/// A live process `pid` (its own parent, group and session) with one thread, an empty mm, the given
/// VMAs and memory.
pub(crate) fn process(pid: u32, vmas: Vec<Vma>, mem: Vec<(u64, Vec<u8>)>) -> Process {
    Process {
        pid,
        ppid: 0,
        pgid: pid,
        sid: pid,
        state: TaskState::Alive,
        exit_code: 0,
        stop_signo: None,
        personality: 0,
        task_flags: 0,
        comm: "proc".to_string(),
        threads: vec![thread(pid, "proc")],
        rlimits: Vec::new(),
        sigactions: Vec::new(),
        loginuid: None,
        oom_score_adj: None,
        seccomp_mode: None,
        shd_pending: 0,
        ctty: None,
        mm: Some(MmInfo::default()),
        vmas,
        guard_regions: Vec::new(),
        memory: memory(mem),
        fds: Vec::new(),
        cwd: None,
        root: None,
        exe: None,
        umask: None,
    }
}

/// A plain anonymous private `rw-p` VMA (CRIU's flags), no name.
pub(crate) fn anon_vma(start: u64, end: u64) -> Vma {
    Vma {
        start,
        end,
        pgoff: 0,
        shmid: 0,
        prot: 3,
        flags: 0x22,
        status: 0,
        fd: -1,
        madv: 0,
        fdflags: 0,
        name: VmaName::Anon,
        file: None,
    }
}

/// Memory whose extents are the given blobs themselves (no copy: tests can compare pointers).
pub(crate) fn blob_memory(extents: &[(u64, &Blob)]) -> Memory {
    Memory::from_extents(
        extents
            .iter()
            .map(|(start, b)| Extent {
                start: *start,
                len: b.len() as u64,
                data: ExtentData::Bytes((*b).clone()),
            })
            .collect(),
    )
    .0
}

/// [`process`] as the tree and FUSE tests want it: comm `p<pid>`, no mm, threads `pid`,
/// `pid + 2`, `pid + 10`, fds 10 (a pipe), 3 (`/tmp/x/open.log`) and 0 (a tty), cwd `/tmp/x`,
/// root `/`, exe `/bin/busybox`, and `memory`.
pub(crate) fn process_with_files(pid: u32, vmas: Vec<Vma>, memory: Memory) -> Process {
    use std::sync::Arc;

    use crate::model::files::{FileKind, FileObject};
    use crate::model::process::Fd;
    let reg = FileObject::reg;
    let mut p = process(pid, vmas, Vec::new());
    p.memory = memory;
    p.comm = format!("p{pid}");
    p.mm = None;
    p.threads = [(pid, "main"), (pid + 2, "worker"), (pid + 10, "worker2")]
        .into_iter()
        .map(|(tid, comm)| Thread {
            tid,
            comm: comm.into(),
            ..Default::default()
        })
        .collect();
    p.fds = vec![
        Fd {
            fd: 10,
            fd_flags: 0,
            file: Arc::new(FileObject {
                id: 9,
                kind: FileKind::Pipe {
                    pipe_id: 77,
                    flags: 0,
                },
            }),
        },
        Fd {
            fd: 3,
            fd_flags: 0,
            file: reg(1, "/tmp/x/open.log"),
        },
        Fd {
            fd: 0,
            fd_flags: 0,
            file: Arc::new(FileObject {
                id: 2,
                kind: FileKind::Tty {
                    index: 0,
                    master: false,
                    path: None,
                    flags: 2,
                    mnt_id: None,
                },
            }),
        },
    ];
    p.cwd = Some(reg(3, "/tmp/x"));
    p.root = Some(reg(4, "/"));
    p.exe = Some(reg(5, "/bin/busybox"));
    p
}

/// Parses maps text (the kernel's) into VMAs with CRIU-like flags.
pub(crate) fn vmas_from_maps(text: &str) -> Vec<Vma> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (s, e) = f[0].split_once('-').unwrap();
            let name = l.get(73..).unwrap_or("");
            let name = match name {
                "" => VmaName::Anon,
                "[heap]" => VmaName::Heap,
                "[stack]" => VmaName::Stack,
                "[vdso]" => VmaName::Vdso,
                "[vvar]" => VmaName::Vvar,
                "[vvar_vclock]" => VmaName::VvarVclock,
                "[vsyscall]" => VmaName::Vsyscall,
                "[uprobes]" => VmaName::Uprobes,
                n => match n.strip_suffix(" (deleted)") {
                    Some(p) => file(p, true),
                    None => file(n, false),
                },
            };
            vma(
                u64::from_str_radix(s, 16).unwrap(),
                u64::from_str_radix(e, 16).unwrap(),
                f[1],
                u64::from_str_radix(f[2], 16).unwrap(),
                name,
            )
        })
        .collect()
}

/// A process whose VMAs are those of `maps` (and an mm without code range).
pub(crate) fn process_from_maps(pid: u32, maps: &str) -> Process {
    process(pid, vmas_from_maps(maps), vec![])
}

/// secretd-plain's parent process 8259 as the images describe it: state stopped, 3 threads, root
/// with the full capability set, one caught signal (33, glibc's SIGSETXID), the mm of its stat line.
/// The argument and environment strings are in memory.
pub(crate) fn secretd_plain_8259() -> Process {
    let mut p = process_from_maps(8259, PLAIN_8259_MAPS);
    p.ppid = 1;
    p.state = TaskState::Stopped;
    p.stop_signo = Some(19);
    p.task_flags = 4194304;
    p.comm = "secretd".into();
    p.umask = Some(0o022);
    p.seccomp_mode = Some(0);
    let creds = Creds {
        cap_prm: 0x1fffeffffff,
        cap_eff: 0x1fffeffffff,
        cap_bnd: 0x1fffeffffff,
        ..Creds::default()
    };
    p.threads = [8259, 8263, 8264]
        .into_iter()
        .map(|tid| Thread {
            creds: Some(creds.clone()),
            ..thread(tid, "secretd")
        })
        .collect();
    p.sigactions = (1..=64u32)
        .filter(|&s| s != 9 && s != 19)
        .map(|sig| SigAction {
            sig,
            handler: if sig == 33 { 0x7f9d8372b220 } else { 0 },
            ..SigAction::default()
        })
        .collect();
    let mut rl = vec![(u64::MAX, u64::MAX); 16];
    rl[3] = (8 << 20, u64::MAX);
    rl[4] = (0, u64::MAX);
    rl[6] = (385460, 385460);
    rl[7] = (1024, 524288);
    rl[8] = (8 << 20, 8 << 20);
    rl[11] = (385460, 385460);
    rl[12] = (819200, 819200);
    rl[13] = (0, 0);
    rl[14] = (0, 0);
    p.rlimits = rl;
    let args: &[u8] = b"./secretd\0A1\0/tmp/criu-fixture-work/secretd-plain/mapped.dat\0/tmp/criu-fixture-work/secretd-plain/open.log\0";
    let env: &[u8] = b"PATH=/usr/local/bin:/usr/bin:/bin\0HOME=/root\0LANG=C.UTF-8\0SECRET_TOKEN=tok-plain-7f3a9c21\0SECRETD_CASE=secretd-plain\0";
    let arg_start = 140735281569550;
    let env_start = arg_start + args.len() as u64;
    let mut strings = args.to_vec();
    strings.extend_from_slice(env);
    p.memory = memory(vec![(arg_start, strings)]);
    p.mm = Some(MmInfo {
        start_code: 94776041889792,
        end_code: 94776041893153,
        start_data: 94776041901520,
        end_data: 94776041902464,
        start_stack: 140735281568224,
        start_brk: 94776815783936,
        brk: 94776815783936 + 0x21000,
        arg_start,
        arg_end: env_start,
        env_start,
        env_end: env_start + env.len() as u64,
        exe_file_id: 1,
        auxv: vec![33, 0x7f9d838af000, 6, 4096, 0, 0],
        dumpable: Some(1),
        thp_disabled: None,
    });
    p
}
/// A checkpoint of `processes` from a plain image directory with no files and no metadata.
pub(crate) fn checkpoint(processes: Vec<Process>) -> Checkpoint {
    let source = Source::in_memory("/evidence/images", "/evidence/images", BTreeMap::new());
    Checkpoint {
        source,
        meta: Metadata::default(),
        processes,
        files: BTreeMap::new(),
        time: SystemTime::UNIX_EPOCH,
        warnings: Warnings::new(),
        container_fs: Default::default(),
        objects: Default::default(),
    }
}

/// A process with `args` (NUL-separated) in memory as its argument block.
pub(crate) fn process_with_args(pid: u32, ppid: u32, comm: &str, args: &[u8]) -> Process {
    let base = 0x7ffd_0000_0000u64;
    let mut p = process(pid, vec![], vec![(base, args.to_vec())]);
    p.ppid = ppid;
    p.comm = comm.into();
    p.threads[0].comm = comm.into();
    let mm = p.mm.as_mut().unwrap();
    mm.arg_start = base;
    mm.arg_end = base + args.len() as u64;
    p
}

/// podman-busybox's checkpoint as far as the `show` table goes (metadata and sizes of
/// `../shared/fixtures/podman-busybox`), with two processes.
pub(crate) fn busybox_checkpoint() -> Checkpoint {
    let mut ck = checkpoint(vec![
        process_with_args(1, 0, "sh", b"/bin/sh\0-c\0"),
        process_with_args(6, 1, "httpd", b"httpd\0-f\0"),
    ]);
    ck.source.input = InputInfo {
        path: PathBuf::from("/evidence/checkpoint.tar.gz"),
        kind: InputKind::TarGz,
        size: 100_000,
        cache_path: Some(PathBuf::from("/cache/x.tar")),
    };
    ck.source.layout = Layout::ContainerArchive;
    ck.source.images.files = BTreeMap::from([
        ("pages-1.img".to_string(), Blob::from_vec(vec![0; 204800])),
        (
            "core-1.img".to_string(),
            Blob::from_vec(vec![0; 252279 - 204800]),
        ),
    ]);
    ck.source.metadata =
        BTreeMap::from([("rootfs-diff.tar".to_string(), Blob::from_vec(vec![0; 2048]))]);
    ck.source.warnings = [
        Warning::new(Kind::MissingImage, "source warning"),
        Warning::new(Kind::LazyPages, "model warning"),
    ]
    .into_iter()
    .collect();
    ck.warnings = [Warning::new(Kind::LazyPages, "model warning")]
        .into_iter()
        .collect();
    ck.meta = Metadata {
        engine: Some("Podman".into()),
        container_name: Some("fx-busybox".into()),
        container_id: Some(
            "2a5c15b736f04ac9ce5122fcae32ecd6ca063d55526bb05ae9b1c8d620be6fc6".into(),
        ),
        image: Some("localhost/fixture-busybox:latest".into()),
        image_id: Some("df49bf5274d7aa0d0e2e2f271c3b17035cefdccd60e5ad6f21fdbabf042d5dbc".into()),
        runtime: Some("runc".into()),
        created: Some("2026-11-28T14:47:37.419807618Z".into()),
        started: None,
        checkpointed: None,
        criu_image_version: Some(2),
        dump_stats: Some(DumpStats {
            freezing_time: 601,
            frozen_time: 150370,
            memdump_time: 1711,
            memwrite_time: 266,
            pages_scanned: 71,
            pages_written: 50,
            ..DumpStats::default()
        }),
        ..Metadata::default()
    };
    ck
}

pub(crate) const PLAIN_8259_MAPS: &str = r#"5632c44f5000-5632c44f6000 r--p 00000000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd
5632c44f6000-5632c44f7000 r-xp 00001000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd
5632c44f7000-5632c44f8000 r--p 00002000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd
5632c44f8000-5632c44f9000 r--p 00002000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd
5632c44f9000-5632c44fa000 rw-p 00003000 fe:00 10159163                   /tmp/criu-fixture-work/secretd-plain/secretd
5632f2701000-5632f2722000 rw-p 00000000 00:00 0                          [heap]
5ec000000000-5ec000400000 rw-p 00000000 00:00 0 
5ec300000000-5ec300004000 ---p 00000000 00:00 0 
7f9d826b7000-7f9d826b8000 ---p 00000000 00:00 0 
7f9d826b8000-7f9d82eb8000 rw-p 00000000 00:00 0 
7f9d82eb8000-7f9d82eb9000 ---p 00000000 00:00 0 
7f9d82eb9000-7f9d836b9000 rw-p 00000000 00:00 0 
7f9d836b9000-7f9d836bc000 rw-p 00000000 00:00 0 
7f9d836bc000-7f9d836e2000 r--p 00000000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f9d836e2000-7f9d83838000 r-xp 00026000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f9d83838000-7f9d8388b000 r--p 0017c000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f9d8388b000-7f9d8388f000 r--p 001cf000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f9d8388f000-7f9d83891000 rw-p 001d3000 fe:00 326279                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f9d83891000-7f9d8389e000 rw-p 00000000 00:00 0 
7f9d838a6000-7f9d838a7000 r--p 00000000 fe:00 10159162                   /tmp/criu-fixture-work/secretd-plain/mapped.dat
7f9d838a7000-7f9d838a9000 rw-p 00000000 00:00 0 
7f9d838a9000-7f9d838ad000 r--p 00000000 00:00 0                          [vvar]
7f9d838ad000-7f9d838af000 r--p 00000000 00:00 0                          [vvar_vclock]
7f9d838af000-7f9d838b1000 r-xp 00000000 00:00 0                          [vdso]
7f9d838b1000-7f9d838b2000 r--p 00000000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f9d838b2000-7f9d838d8000 r-xp 00001000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f9d838d8000-7f9d838e2000 r--p 00027000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f9d838e2000-7f9d838e4000 r--p 00031000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f9d838e4000-7f9d838e6000 rw-p 00033000 fe:00 325843                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7fff7c751000-7fff7c772000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"#;

pub(crate) const PLAIN_8259_STATUS: &str = r#"Name:	secretd
Umask:	0022
State:	T (stopped)
Tgid:	8259
Ngid:	0
Pid:	8259
PPid:	1
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	256
Groups:	 
NStgid:	8259
NSpid:	8259
NSpgid:	8259
NSsid:	8259
Kthread:	0
VmPeak:	   23152 kB
VmSize:	   22984 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    5664 kB
VmRSS:	    5664 kB
RssAnon:	    4216 kB
RssFile:	    1448 kB
RssShmem:	       0 kB
VmData:	   20704 kB
VmStk:	     132 kB
VmExe:	       4 kB
VmLib:	    1528 kB
VmPTE:	      72 kB
VmSwap:	       0 kB
HugetlbPages:	       0 kB
CoreDumping:	0
THP_enabled:	1
untag_mask:	0xffffffffffffffff
Threads:	3
SigQ:	2/96365
SigPnd:	0000000000000000
ShdPnd:	0000000000040000
SigBlk:	0000000000000000
SigIgn:	0000000000000000
SigCgt:	0000000100000000
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	000001fffeffffff
CapBnd:	000001fffeffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	vulnerable
SpeculationIndirectBranch:	always enabled
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:	0
voluntary_ctxt_switches:	47
nonvoluntary_ctxt_switches:	6
"#;

pub(crate) const PLAIN_8259_STAT: &str = r#"8259 (secretd) T 1 8259 8259 0 -1 4194304 1335 0 0 0 0 0 0 0 20 0 3 0 224949 23535616 1370 18446744073709551615 94776041889792 94776041893153 140735281568224 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94776041901520 94776041902464 94776815783936 140735281569550 140735281569657 140735281569657 140735281569774 19
"#;

pub(crate) const PLAIN_8263_STATUS: &str = r#"Name:	secretd
Umask:	0022
State:	T (stopped)
Tgid:	8259
Ngid:	0
Pid:	8263
PPid:	1
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	256
Groups:	 
NStgid:	8259
NSpid:	8263
NSpgid:	8259
NSsid:	8259
Kthread:	0
VmPeak:	   23152 kB
VmSize:	   22984 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    5664 kB
VmRSS:	    5664 kB
RssAnon:	    4216 kB
RssFile:	    1448 kB
RssShmem:	       0 kB
VmData:	   20704 kB
VmStk:	     132 kB
VmExe:	       4 kB
VmLib:	    1528 kB
VmPTE:	      72 kB
VmSwap:	       0 kB
HugetlbPages:	       0 kB
CoreDumping:	0
THP_enabled:	1
untag_mask:	0xffffffffffffffff
Threads:	3
SigQ:	2/96365
SigPnd:	0000000000000000
ShdPnd:	0000000000040000
SigBlk:	0000000000000000
SigIgn:	0000000000000000
SigCgt:	0000000100000000
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	000001fffeffffff
CapBnd:	000001fffeffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	vulnerable
SpeculationIndirectBranch:	always enabled
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:	0
voluntary_ctxt_switches:	6
nonvoluntary_ctxt_switches:	0
"#;
