//! Turning a [`CheckpointWriter`] into image files: the plan (file name -> content) and the
//! low-level image encoders.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;

use super::{
    CheckpointWriter, DEFAULT_STACK_END, DEFAULT_STACK_LEN, File, PAGE, PAGE_USIZE, PE_LAZY,
    PE_PARENT, PE_PRESENT, PageData, PageRun, PagemapFormat, ProcessBuilder, Slot, Vma, VmaKind,
    X86Regs, prot, task_state, write_into,
};
use crate::image::magic::{self, Header};
use crate::image::pb;
use crate::model::process::{Aarch64Regs, Arch, ArchRegs, Riscv64Regs};

// ---------------------------------------------------------------------------------------------
// Low-level encoders

fn header(magic: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    match Header::for_magic(magic) {
        Header::Bare => {}
        Header::Common => out.extend_from_slice(&magic::IMG_COMMON_MAGIC.to_le_bytes()),
        Header::Service => out.extend_from_slice(&magic::IMG_SERVICE_MAGIC.to_le_bytes()),
    }
    out.extend_from_slice(&magic.to_le_bytes());
    out
}

fn push_frame(out: &mut Vec<u8>, body: &[u8]) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
}

/// An image with per-image magic `magic` (its header shape chosen as CRIU does: `inventory.img`
/// bare, `stats-*` / `irmap-cache` with the service magic, everything else with
/// `IMG_COMMON_MAGIC`), holding `entries`, each as `u32` LE length + message.
pub fn encode_image<M: Message>(magic: u32, entries: &[M]) -> Vec<u8> {
    let mut out = header(magic);
    for e in entries {
        push_frame(&mut out, &e.encode_to_vec());
    }
    out
}

/// Like [`encode_image`] with entries given as raw bytes (for corrupt-protobuf tests).
pub fn encode_frames<B: AsRef<[u8]>>(magic: u32, entries: &[B]) -> Vec<u8> {
    let mut out = header(magic);
    for e in entries {
        push_frame(&mut out, e.as_ref());
    }
    out
}

fn pagemap_entry(run: &PageRun, format: PagemapFormat) -> pb::PagemapEntry {
    let compat = u32::try_from(run.nr_pages).unwrap_or(u32::MAX);
    let mut e = pb::PagemapEntry {
        vaddr: run.vaddr,
        compat_nr_pages: 0,
        in_parent: None,
        flags: Some(run.flags),
        nr_pages: None,
    };
    match format {
        PagemapFormat::New => e.nr_pages = Some(run.nr_pages),
        PagemapFormat::Compat => e.compat_nr_pages = compat,
        PagemapFormat::Both => {
            e.compat_nr_pages = compat;
            e.nr_pages = Some(run.nr_pages);
        }
        PagemapFormat::Legacy => {
            e.compat_nr_pages = compat;
            if run.flags & PE_LAZY == 0 {
                e.flags = None;
                if run.flags & PE_PARENT != 0 {
                    e.in_parent = Some(true);
                }
            }
        }
    }
    e
}

/// A pagemap image (`PagemapHead{pages_id}` then one entry per run) in [`PagemapFormat::New`].
pub fn encode_pagemap(pages_id: u32, runs: &[PageRun]) -> Vec<u8> {
    encode_pagemap_with(pages_id, runs, PagemapFormat::New)
}

/// A pagemap image in the given format.
pub fn encode_pagemap_with(pages_id: u32, runs: &[PageRun], format: PagemapFormat) -> Vec<u8> {
    let mut out = header(magic::PAGEMAP);
    push_frame(&mut out, &pb::PagemapHead { pages_id }.encode_to_vec());
    for r in runs {
        push_frame(&mut out, &pagemap_entry(r, format).encode_to_vec());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The plan

/// A file's content: bytes, or pages streamed when written.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    Bytes(Vec<u8>),
    Pages(Vec<PageData>),
}

impl Content {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Pages(p) => p.len() as u64 * PAGE,
        }
    }

    pub(crate) fn to_vec(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.clone(),
            Content::Pages(p) => {
                let mut v = vec![0u8; p.len() * PAGE_USIZE];
                for (d, chunk) in p.iter().zip(v.chunks_mut(PAGE_USIZE)) {
                    d.fill(chunk);
                }
                v
            }
        }
    }
}

/// A page with its effective flags.
struct FinalPage {
    data: Option<PageData>,
    flags: u32,
}

/// Pagemap runs and the data of their PRESENT pages, in entry order.
fn build_runs(
    pages: &BTreeMap<u64, FinalPage>,
    vmas: &[Vma],
    max_batch: u64,
    merge_across_vmas: bool,
) -> (Vec<PageRun>, Vec<PageData>) {
    let zero: PageData = PageData::Bytes(Arc::new([0u8; PAGE_USIZE]));
    let mut runs: Vec<PageRun> = Vec::new();
    let mut data = Vec::new();
    let mut run_vma: Option<usize> = None;
    for (&addr, p) in pages {
        let vi = vma_index(vmas, addr);
        let extend = runs.last().is_some_and(|r| {
            r.end() == addr
                && r.flags == p.flags
                && r.nr_pages < max_batch
                && (merge_across_vmas || run_vma == vi)
        });
        if extend {
            if let Some(r) = runs.last_mut() {
                r.nr_pages += 1;
            }
        } else {
            runs.push(PageRun {
                vaddr: addr,
                nr_pages: 1,
                flags: p.flags,
            });
            run_vma = vi;
        }
        if p.flags & PE_PRESENT != 0 && p.flags & PE_PARENT == 0 {
            data.push(p.data.clone().unwrap_or_else(|| zero.clone()));
        }
    }
    (runs, data)
}

/// The index of the VMA holding `addr` in `vmas` (sorted by start).
fn vma_index(vmas: &[Vma], addr: u64) -> Option<usize> {
    let i = vmas.partition_point(|v| v.start <= addr);
    let i = i.checked_sub(1)?;
    (addr < vmas[i].end()).then_some(i)
}

/// Where execve's strings and tables went.
struct StackLayout {
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    start_stack: u64,
    auxv: Vec<(u64, u64)>,
}

const AT_NULL: u64 = 0;
const AT_PAGESZ: u64 = 6;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_EXECFN: u64 = 31;

/// Lays out argv / envp as `execve` does, below `stack_end`, writing into `pages`.
#[allow(clippy::too_many_arguments)]
fn layout_stack(
    pages: &mut BTreeMap<u64, Slot>,
    stack_end: u64,
    args: &[Vec<u8>],
    env: &[Vec<u8>],
    filename: &[u8],
    base_auxv: &[(u64, u64)],
) -> StackLayout {
    let strings_len = |v: &[Vec<u8>]| v.iter().map(|s| s.len() as u64 + 1).sum::<u64>();
    let cstr = |s: &[u8]| {
        let mut v = s.to_vec();
        v.push(0);
        v
    };
    // 8 zero bytes at the very top (the kernel's end marker), the file name below them.
    let top = stack_end - 8;
    write_into(pages, top, &[0u8; 8], None);
    let execfn = top - (filename.len() as u64 + 1);
    write_into(pages, execfn, &cstr(filename), None);
    let env_end = execfn;
    let env_start = env_end - strings_len(env);
    let arg_end = env_start;
    let arg_start = arg_end - strings_len(args);
    let mut at = arg_start;
    let mut argv = Vec::with_capacity(args.len());
    for s in args {
        argv.push(at);
        write_into(pages, at, &cstr(s), None);
        at += s.len() as u64 + 1;
    }
    let mut envp = Vec::with_capacity(env.len());
    for s in env {
        envp.push(at);
        write_into(pages, at, &cstr(s), None);
        at += s.len() as u64 + 1;
    }
    // Platform string and AT_RANDOM bytes, 16-byte aligned below the strings.
    let platform = (arg_start - 7) & !15;
    write_into(pages, platform, b"x86_64\0", None);
    let random = platform - 16;
    let rnd: Vec<u8> = (0..16u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    write_into(pages, random, &rnd, None);

    let mut auxv: Vec<(u64, u64)> = base_auxv
        .iter()
        .copied()
        .filter(|(t, _)| !matches!(*t, AT_NULL | AT_RANDOM | AT_EXECFN | AT_PLATFORM))
        .collect();
    auxv.push((AT_RANDOM, random));
    auxv.push((AT_EXECFN, execfn));
    auxv.push((AT_PLATFORM, platform));
    // argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL pair.
    let words = 1 + (argv.len() + 1) + (envp.len() + 1) + 2 * (auxv.len() + 1);
    let sp = (random - words as u64 * 8) & !15;
    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(args.len() as u64);
    table.extend(&argv);
    table.push(0);
    table.extend(&envp);
    table.push(0);
    for (t, v) in &auxv {
        table.push(*t);
        table.push(*v);
    }
    table.push(AT_NULL);
    table.push(0);
    let bytes: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
    write_into(pages, sp, &bytes, None);
    StackLayout {
        arg_start,
        arg_end,
        env_start,
        env_end,
        start_stack: sp,
        auxv,
    }
}

/// files.img under construction.
#[derive(Default)]
struct FileTable {
    entries: Vec<pb::FileEntry>,
    reg_by_path: HashMap<(String, u32), u32>,
    memfd_by_shmid: HashMap<u64, u32>,
    memfd_inodes: BTreeMap<u64, pb::MemfdInodeEntry>,
    next_ino: u32,
}

fn fown() -> pb::FownEntry {
    pb::FownEntry::default()
}

fn sk_opts() -> pb::SkOptsEntry {
    pb::SkOptsEntry {
        so_sndbuf: 16384,
        so_rcvbuf: 131072,
        reuseaddr: Some(true),
        so_priority: Some(0),
        so_rcvlowat: Some(1),
        ..Default::default()
    }
}

fn addr_words(a: &[u8]) -> Vec<u32> {
    a.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

impl FileTable {
    fn next_id(&self) -> u32 {
        self.entries.len() as u32 + 1
    }

    fn ino(&mut self, given: u32) -> u32 {
        if given != 0 {
            return given;
        }
        self.next_ino += 1;
        80_000 + self.next_ino
    }

    /// A regular-file entry for `path` with `mode`, shared by every user of the same path
    /// (mappings, exe, cwd).
    fn reg_shared(&mut self, path: &str, mode: u32) -> u32 {
        if let Some(&id) = self.reg_by_path.get(&(path.to_string(), mode)) {
            return id;
        }
        let id = self.add(&File::Reg {
            path: path.to_string(),
            flags: 0,
            pos: 0,
            size: 0,
            mode,
        });
        // The writer does not know the file's size: not recorded (as by older CRIU), rather
        // than a size of 0 that no real file of the layer would match.
        if let Some(r) = self.entries.last_mut().and_then(|e| e.reg.as_mut()) {
            r.size = None;
        }
        self.reg_by_path.insert((path.to_string(), mode), id);
        id
    }

    /// A memfd file entry (and its inode) for shmem `shmid`.
    fn memfd(&mut self, name: &str, shmid: u64, size: u64) -> u32 {
        if let Some(&id) = self.memfd_by_shmid.get(&shmid) {
            if let Some(ino) = self.memfd_inodes.get_mut(&shmid) {
                ino.size = ino.size.max(size);
            }
            return id;
        }
        let inode_id = self.memfd_inodes.len() as u64 + 1;
        self.memfd_inodes.insert(
            shmid,
            pb::MemfdInodeEntry {
                name: name.as_bytes().to_vec(),
                uid: 0,
                gid: 0,
                size,
                shmid: u32::try_from(shmid).unwrap_or(u32::MAX),
                seals: 1,
                inode_id,
                hugetlb_flag: None,
                mode: Some(0o100777),
            },
        );
        let id = self.next_id();
        self.entries.push(pb::FileEntry {
            r#type: pb::FdTypes::Memfd as i32,
            id,
            memfd: Some(pb::MemfdFileEntry {
                id,
                flags: 2,
                pos: 0,
                fown: fown(),
                inode_id: inode_id as u32,
            }),
            ..Default::default()
        });
        self.memfd_by_shmid.insert(shmid, id);
        id
    }

    /// A new entry for `f`; returns its id.
    fn add(&mut self, f: &File) -> u32 {
        let id = self.next_id();
        let mut e = pb::FileEntry {
            id,
            ..Default::default()
        };
        match f {
            File::Reg {
                path,
                flags,
                pos,
                size,
                mode,
            } => {
                e.r#type = pb::FdTypes::Reg as i32;
                e.reg = Some(pb::RegFileEntry {
                    id,
                    flags: *flags,
                    pos: *pos,
                    fown: fown(),
                    name: path.clone().into_bytes(),
                    mnt_id: None,
                    size: (*mode & 0o170000 == 0o100000).then_some(*size),
                    mode: Some(*mode),
                    ..Default::default()
                });
            }
            File::Inet {
                family,
                sock_type,
                proto,
                state,
                src,
                src_port,
                dst,
                dst_port,
                backlog,
                ino,
            } => {
                e.r#type = pb::FdTypes::Inetsk as i32;
                let ino = self.ino(*ino);
                e.isk = Some(pb::InetSkEntry {
                    id,
                    ino,
                    family: *family,
                    r#type: *sock_type,
                    proto: *proto,
                    state: *state,
                    src_port: u32::from(*src_port),
                    dst_port: u32::from(*dst_port),
                    flags: 2,
                    backlog: *backlog,
                    src_addr: addr_words(src),
                    dst_addr: addr_words(dst),
                    fown: fown(),
                    opts: sk_opts(),
                    v6only: (*family == libc::AF_INET6 as u32).then_some(false),
                    ip_opts: Some(pb::IpOptsEntry { freebind: None }),
                    ifname: None,
                    ns_id: Some(2),
                    tcp_opts: None,
                });
            }
            File::Unix {
                sock_type,
                state,
                name,
                peer,
                ino,
            } => {
                e.r#type = pb::FdTypes::Unixsk as i32;
                let ino = self.ino(*ino);
                e.usk = Some(pb::UnixSkEntry {
                    id,
                    ino,
                    r#type: *sock_type,
                    state: *state,
                    flags: 2,
                    uflags: 0,
                    backlog: 0,
                    peer: *peer,
                    fown: fown(),
                    opts: sk_opts(),
                    name: name.clone(),
                    ..Default::default()
                });
            }
            File::Pipe { pipe_id, write } => {
                e.r#type = pb::FdTypes::Pipe as i32;
                e.pipe = Some(pb::PipeEntry {
                    id,
                    pipe_id: *pipe_id,
                    flags: u32::from(*write),
                    fown: fown(),
                });
            }
            File::Pidfd { nspid } => {
                e.r#type = pb::FdTypes::Pidfd as i32;
                e.pidfd = Some(pb::PidfdEntry {
                    id,
                    ino: 4_000_000 + u64::from(id),
                    flags: 2,
                    nspid: *nspid,
                    fown: fown(),
                });
            }
            File::Eventfd { counter } => {
                e.r#type = pb::FdTypes::Eventfd as i32;
                e.efd = Some(pb::EventfdFileEntry {
                    id,
                    flags: 2,
                    fown: fown(),
                    counter: *counter,
                });
            }
        }
        self.entries.push(e);
        id
    }
}

fn default_rlimits() -> Vec<(u64, u64)> {
    let inf = u64::MAX;
    let mut v = vec![(inf, inf); 16];
    v[3] = (8 << 20, inf); // STACK
    v[4] = (0, inf); // CORE
    v[6] = (63_304, 63_304); // NPROC
    v[7] = (1024, 1_048_576); // NOFILE
    v[8] = (8 << 20, 8 << 20); // MEMLOCK
    v[11] = (63_304, 63_304); // SIGPENDING
    v[12] = (819_200, 819_200); // MSGQUEUE
    v[13] = (0, 0); // NICE
    v[14] = (0, 0); // RTPRIO
    v
}

fn gpregs(r: &X86Regs) -> pb::UserX86RegsEntry {
    pb::UserX86RegsEntry {
        r15: r.r15,
        r14: r.r14,
        r13: r.r13,
        r12: r.r12,
        bp: r.bp,
        bx: r.bx,
        r11: r.r11,
        r10: r.r10,
        r9: r.r9,
        r8: r.r8,
        ax: r.ax,
        cx: r.cx,
        dx: r.dx,
        si: r.si,
        di: r.di,
        orig_ax: r.orig_ax,
        ip: r.ip,
        cs: r.cs,
        flags: r.flags,
        sp: r.sp,
        ss: r.ss,
        fs_base: r.fs_base,
        gs_base: r.gs_base,
        ds: r.ds,
        es: r.es,
        fs: r.fs,
        gs: r.gs,
        mode: Some(pb::UserX86RegsMode::Native as i32),
    }
}

fn march(a: Arch) -> i32 {
    match a {
        Arch::X86_64 => 1,
        Arch::Aarch64 => 3,
        Arch::Riscv64 => 8,
        Arch::Other(n) => n,
    }
}

/// Registers of a fresh thread of `arch` (pc in the usual text address, sp at the stack).
fn default_arch_regs(arch: Arch, sp: u64) -> ArchRegs {
    match arch {
        Arch::Riscv64 => {
            let mut regs = [0u64; 32];
            regs[0] = 0x1_0000;
            regs[2] = sp;
            ArchRegs::Riscv64(Riscv64Regs {
                regs,
                f: vec![0; 32],
                fcsr: 0,
            })
        }
        _ => ArchRegs::Aarch64(Aarch64Regs {
            pc: 0x40_0000,
            sp,
            pstate: 0x6000_0000,
            vregs: vec![0; 64],
            ..Aarch64Regs::default()
        }),
    }
}

fn ti_aarch64(r: &Aarch64Regs) -> pb::ThreadInfoAarch64 {
    pb::ThreadInfoAarch64 {
        clear_tid_addr: 0,
        tls: r.tls,
        gpregs: pb::UserAarch64RegsEntry {
            regs: r.x.to_vec(),
            sp: r.sp,
            pc: r.pc,
            pstate: r.pstate,
        },
        fpsimd: pb::UserAarch64FpsimdContextEntry {
            vregs: r.vregs.clone(),
            fpsr: r.fpsr,
            fpcr: r.fpcr,
        },
    }
}

fn ti_riscv64(r: &Riscv64Regs) -> pb::ThreadInfoRiscv64 {
    let g = &r.regs;
    pb::ThreadInfoRiscv64 {
        clear_tid_addr: 0,
        tls: g[4],
        gpregs: pb::UserRiscv64RegsEntry {
            pc: g[0],
            ra: g[1],
            sp: g[2],
            gp: g[3],
            tp: g[4],
            t0: g[5],
            t1: g[6],
            t2: g[7],
            s0: g[8],
            s1: g[9],
            a0: g[10],
            a1: g[11],
            a2: g[12],
            a3: g[13],
            a4: g[14],
            a5: g[15],
            a6: g[16],
            a7: g[17],
            s2: g[18],
            s3: g[19],
            s4: g[20],
            s5: g[21],
            s6: g[22],
            s7: g[23],
            s8: g[24],
            s9: g[25],
            s10: g[26],
            s11: g[27],
            t3: g[28],
            t4: g[29],
            t5: g[30],
            t6: g[31],
        },
        fpsimd: pb::UserRiscv64DExtEntry {
            f: r.f.clone(),
            fcsr: r.fcsr,
        },
    }
}

fn default_regs(sp: u64) -> X86Regs {
    X86Regs {
        cs: 0x33,
        ss: 0x2b,
        flags: 0x246,
        sp,
        orig_ax: u64::MAX,
        ..X86Regs::default()
    }
}

fn fpregs() -> pb::UserX86FpregsEntry {
    pb::UserX86FpregsEntry {
        cwd: 0x37f,
        mxcsr: 0x1f80,
        mxcsr_mask: 0xffff,
        st_space: vec![0; 32],
        xmm_space: vec![0; 64],
        ..Default::default()
    }
}

fn creds(uid: u32, gid: u32) -> pb::CredsEntry {
    let caps = if uid == 0 {
        vec![0xffff_ffff, 0x1ff]
    } else {
        vec![0, 0]
    };
    pb::CredsEntry {
        uid,
        gid,
        euid: uid,
        egid: gid,
        suid: uid,
        sgid: gid,
        fsuid: uid,
        fsgid: gid,
        cap_inh: vec![0, 0],
        cap_prm: caps.clone(),
        cap_eff: caps,
        cap_bnd: vec![0xffff_ffff, 0x1ff],
        secbits: 0,
        groups: vec![],
        cap_amb: vec![0, 0],
        ..Default::default()
    }
}

fn mnt_entry(id: u32, parent: u32, dev: u32, source: &str, fstype: u32, mp: &str) -> pb::MntEntry {
    pb::MntEntry {
        fstype,
        mnt_id: id,
        root_dev: dev,
        parent_mnt_id: parent,
        flags: 0,
        root: "/".into(),
        mountpoint: mp.into(),
        source: source.into(),
        options: String::new(),
        ..Default::default()
    }
}

fn kobj_ids(n: u32) -> pb::TaskKobjIdsEntry {
    pb::TaskKobjIdsEntry {
        vm_id: n,
        files_id: n,
        fs_id: n,
        sighand_id: n,
        pid_ns_id: Some(1),
        net_ns_id: Some(2),
        ipc_ns_id: Some(3),
        uts_ns_id: Some(4),
        mnt_ns_id: Some(6),
        user_ns_id: Some(7),
        cgroup_ns_id: Some(8),
        time_ns_id: Some(5),
    }
}

/// A live process's memory, prepared: sorted VMAs, mm fields, final private pages.
struct PreparedMm {
    vmas: Vec<Vma>,
    mm: pb::MmEntry,
    private: BTreeMap<u64, FinalPage>,
    start_stack: u64,
}

fn is_live(p: &ProcessBuilder) -> bool {
    !matches!(p.state, task_state::ZOMBIE | task_state::DEAD)
}

/// Sorts VMAs, lays out the stack, routes pages to the private pagemap or to shmem objects.
fn prepare_mm(
    p: &ProcessBuilder,
    shmem: &mut BTreeMap<u64, BTreeMap<u64, FinalPage>>,
    with_layout: bool,
) -> PreparedMm {
    let mut vmas = p.vmas.clone();
    let mut pages = p.pages.clone();
    let want_layout = with_layout && (p.cmdline.is_some() || p.environ.is_some());
    if want_layout && !vmas.iter().any(|v| v.kind == VmaKind::Stack) {
        vmas.push(Vma::stack(
            DEFAULT_STACK_END - DEFAULT_STACK_LEN,
            DEFAULT_STACK_LEN,
        ));
    }
    vmas.sort_by_key(|v| v.start);
    let stack_end = vmas
        .iter()
        .find(|v| v.kind == VmaKind::Stack)
        .map(|v| v.end());
    let heap = vmas.iter().find(|v| v.kind == VmaKind::Heap);
    let exe_vmas: Vec<&Vma> = match &p.exe {
        Some(exe) => vmas
            .iter()
            .filter(|v| matches!(&v.kind, VmaKind::File { path, .. } if path == exe))
            .collect(),
        None => Vec::new(),
    };
    let code = exe_vmas.iter().find(|v| v.prot & prot::EXEC != 0);
    let data = exe_vmas.iter().find(|v| v.prot & prot::WRITE != 0);
    let (uid, gid) = p.creds.unwrap_or((0, 0));
    let mut auxv = p.auxv.clone().unwrap_or_else(|| {
        vec![
            (AT_PAGESZ, PAGE),
            (AT_CLKTCK, 100),
            (AT_ENTRY, code.map_or(0, |v| v.start)),
            (AT_UID, u64::from(uid)),
            (AT_EUID, u64::from(uid)),
            (AT_GID, u64::from(gid)),
            (AT_EGID, u64::from(gid)),
            (AT_SECURE, 0),
        ]
    });

    let mut args = [0u64; 4];
    let mut start_stack = stack_end.map_or(0, |e| e - 0x1000 + 0x40);
    if want_layout {
        let end = stack_end.unwrap_or(DEFAULT_STACK_END);
        let argv = p.cmdline.clone().unwrap_or_default();
        let env = p.environ.clone().unwrap_or_default();
        let filename: Vec<u8> = match (&p.exe, argv.first()) {
            (Some(e), _) => e.as_bytes().to_vec(),
            (None, Some(a0)) => a0.clone(),
            (None, None) => Vec::new(),
        };
        let l = layout_stack(&mut pages, end, &argv, &env, &filename, &auxv);
        args = [l.arg_start, l.arg_end, l.env_start, l.env_end];
        start_stack = l.start_stack;
        auxv = l.auxv;
    }
    let mut saved_auxv: Vec<u64> = auxv.iter().flat_map(|(t, v)| [*t, *v]).collect();
    saved_auxv.extend([AT_NULL, 0]);

    let mut private = BTreeMap::new();
    for (addr, slot) in pages {
        let vma = vma_index(&vmas, addr).map(|i| &vmas[i]);
        match vma.and_then(|v| v.shmem().map(|id| (v, id))) {
            Some((v, shmid)) => {
                if slot.data.is_none() {
                    continue;
                }
                let off = v.pgoff + (addr - v.start);
                shmem.entry(shmid).or_default().insert(
                    off,
                    FinalPage {
                        data: slot.data,
                        flags: slot.flags.unwrap_or(PE_PRESENT),
                    },
                );
            }
            None => {
                let flags = slot
                    .flags
                    .unwrap_or_else(|| vma.map_or(PE_PRESENT, Vma::default_page_flags));
                private.insert(
                    addr,
                    FinalPage {
                        data: slot.data,
                        flags,
                    },
                );
            }
        }
    }
    let mm = pb::MmEntry {
        mm_start_code: code.map_or(0, |v| v.start),
        mm_end_code: code.map_or(0, |v| v.end()),
        mm_start_data: data.map_or(0, |v| v.start),
        mm_end_data: data.map_or(0, |v| v.end()),
        mm_start_stack: start_stack,
        mm_start_brk: heap.map_or(0, |v| v.start),
        mm_brk: heap.map_or(0, |v| v.end()),
        mm_arg_start: args[0],
        mm_arg_end: args[1],
        mm_env_start: args[2],
        mm_env_end: args[3],
        exe_file_id: 0,
        mm_saved_auxv: saved_auxv,
        vmas: Vec::new(),
        dumpable: Some(1),
        aios: Vec::new(),
        thp_disabled: None,
    };
    PreparedMm {
        vmas,
        mm,
        private,
        start_stack,
    }
}

fn vma_entry(v: &Vma, files: &mut FileTable) -> pb::VmaEntry {
    let (shmid, fdflags) = match &v.kind {
        VmaKind::File { path, shared } => {
            let id = files.reg_shared(path, 0o100644);
            (u64::from(id), Some(if *shared { 2 } else { 0 }))
        }
        VmaKind::SharedAnon { shmid } => (*shmid, None),
        VmaKind::Memfd { name, shmid } => {
            let id = files.memfd(name, *shmid, v.pgoff + v.len);
            let shared = v.implied_map_flags() & libc::MAP_SHARED as u32 != 0;
            (u64::from(id), Some(if shared { 2 } else { 0 }))
        }
        _ => (0, None),
    };
    pb::VmaEntry {
        start: v.start,
        end: v.end(),
        pgoff: v.pgoff,
        shmid,
        prot: v.prot,
        flags: v.implied_map_flags(),
        status: v.implied_status(),
        fd: -1,
        madv: v.madv,
        fdflags,
    }
}

impl CheckpointWriter {
    /// The image directory's files (this dump only, not the parent), raw overrides applied.
    pub(crate) fn plan(&self) -> BTreeMap<String, Content> {
        let mut out: BTreeMap<String, Content> = BTreeMap::new();
        let mut put = |name: String, bytes: Vec<u8>| {
            out.insert(name, Content::Bytes(bytes));
        };
        let mut files = FileTable::default();
        let mut shmem: BTreeMap<u64, BTreeMap<u64, FinalPage>> = BTreeMap::new();
        let mut prepared: Vec<Option<PreparedMm>> = Vec::with_capacity(self.procs.len());
        for p in &self.procs {
            prepared.push(is_live(p).then(|| prepare_mm(p, &mut shmem, !self.pre_dump)));
        }

        // pages ids: shared memory first, then processes (as CRIU numbers them).
        let mut next_pages_id = 1u32;
        let mut stats = pb::DumpStatsEntry::default();
        let mut shm_written = 0u64;
        let mut pages_files: Vec<(String, Content)> = Vec::new();
        for (shmid, pages) in &shmem {
            let (runs, data) = build_runs(pages, &[], self.max_batch, true);
            shm_written += data.len() as u64;
            put(
                format!("pagemap-shmem-{shmid}.img"),
                encode_pagemap_with(next_pages_id, &runs, self.format),
            );
            pages_files.push((format!("pages-{next_pages_id}.img"), Content::Pages(data)));
            next_pages_id += 1;
        }
        let mut pagemaps: Vec<Option<(u32, Vec<u8>)>> = Vec::with_capacity(self.procs.len());
        for (p, prep) in self.procs.iter().zip(&prepared) {
            let Some(prep) = prep else {
                pagemaps.push(None);
                continue;
            };
            let (runs, data) = build_runs(
                &prep.private,
                &prep.vmas,
                self.max_batch,
                self.merge_across_vmas,
            );
            for r in &runs {
                stats.pages_scanned += r.nr_pages;
                if r.flags & PE_PARENT != 0 {
                    stats.pages_skipped_parent += r.nr_pages;
                } else if r.flags & PE_PRESENT != 0 {
                    stats.pages_written += r.nr_pages;
                } else if r.flags & PE_LAZY != 0 {
                    stats.pages_lazy += r.nr_pages;
                }
            }
            let format = p.pagemap_format.unwrap_or(self.format);
            pagemaps.push(Some((
                next_pages_id,
                encode_pagemap_with(next_pages_id, &runs, format),
            )));
            pages_files.push((format!("pages-{next_pages_id}.img"), Content::Pages(data)));
            next_pages_id += 1;
        }

        let inventory = pb::InventoryEntry {
            img_version: 2,
            fdinfo_per_id: Some(true),
            root_ids: Some(kobj_ids(1)),
            ns_per_id: Some(true),
            root_cg_set: Some(1),
            lsmtype: Some(pb::Lsmtype::NoLsm as i32),
            dump_uptime: Some(123_456_789),
            pre_dump_mode: self.pre_dump.then_some(1),
            tcp_close: None,
            network_lock_method: Some(0),
            dump_criu_run_id: Some("ckptfs-writer".into()),
            plugins: (!self.plugins.is_empty()).then(|| pb::PluginsEntry {
                plugins: self.plugins.clone(),
            }),
        };
        put(
            "inventory.img".into(),
            encode_image(magic::INVENTORY, &[inventory]),
        );
        for (p, pm) in self.procs.iter().zip(pagemaps) {
            if let Some((_, bytes)) = pm {
                put(format!("pagemap-{}.img", p.pid), bytes);
            }
        }
        stats.shpages_scanned = Some(shm_written);
        stats.shpages_written = Some(shm_written);
        stats.shpages_skipped_parent = Some(0);
        let s = pb::StatsEntry {
            dump: Some(stats),
            restore: None,
        };
        put("stats-dump".into(), encode_image(magic::STATS, &[s]));

        if !self.pre_dump {
            let mut pstree = Vec::with_capacity(self.procs.len());
            for (i, (p, prep)) in self.procs.iter().zip(prepared).enumerate() {
                pstree.push(pb::PstreeEntry {
                    pid: p.pid,
                    ppid: p.ppid,
                    pgid: p.pid,
                    sid: p.pid,
                    threads: p.threads.clone(),
                });
                let n = i as u32 + 2;
                self.process_images(p, prep, n, &mut files, &mut put);
            }
            put("pstree.img".into(), encode_image(magic::PSTREE, &pstree));
            put(
                "files.img".into(),
                encode_image(magic::FILES, &files.entries),
            );
            if !files.memfd_inodes.is_empty() {
                let inodes: Vec<_> = files.memfd_inodes.values().cloned().collect();
                put(
                    "memfd.img".into(),
                    encode_image(magic::MEMFD_INODE, &inodes),
                );
            }
        }
        for (name, c) in pages_files {
            out.insert(name, c);
        }
        if let Some((uids, gids)) = &self.userns {
            let ext = |v: &[(u32, u32, u32)]| {
                v.iter()
                    .map(|&(first, lower_first, count)| pb::UidGidExtent {
                        first,
                        lower_first,
                        count,
                    })
                    .collect()
            };
            let e = pb::UsernsEntry {
                uid_map: ext(uids),
                gid_map: ext(gids),
            };
            out.insert(
                "userns-7.img".into(),
                Content::Bytes(encode_image(magic::USERNS, &[e])),
            );
        }
        if !self.tmpfs.is_empty() {
            // CRIU writes the mounts in the reverse order of mountinfo (children first).
            let mut mounts = vec![mnt_entry(1, 1, 1, "overlay", 17, "/")];
            for (i, (mp, dev, tar)) in self.tmpfs.iter().enumerate() {
                let id = 2 + i as u32;
                mounts.push(mnt_entry(id, 1, *dev, "tmpfs", 5, mp));
                out.insert(
                    format!("tmpfs-dev-{dev}.tar.gz.img"),
                    Content::Bytes(tar.clone()),
                );
            }
            mounts.reverse();
            out.insert(
                "mountpoints-6.img".into(),
                Content::Bytes(encode_image(magic::MNTS, &mounts)),
            );
        }
        for (name, raw) in &self.raw {
            match raw {
                Some(b) => {
                    out.insert(name.clone(), Content::Bytes(b.clone()));
                }
                None => {
                    out.remove(name);
                }
            }
        }
        out
    }

    /// core, mm, ids, fs and fdinfo images of one process.
    fn process_images(
        &self,
        p: &ProcessBuilder,
        prep: Option<PreparedMm>,
        n: u32,
        files: &mut FileTable,
        put: &mut impl FnMut(String, Vec<u8>),
    ) {
        let comm = p.comm.clone();
        let sp = prep.as_ref().map_or(0, |m| m.start_stack);
        let rlimits = default_rlimits();
        let tc = pb::TaskCoreEntry {
            task_state: p.state,
            exit_code: p.exit_code,
            personality: 0,
            flags: 0,
            blk_sigset: 0,
            comm: comm.clone().into_bytes(),
            rlimits: Some(pb::TaskRlimitsEntry {
                rlimits: rlimits
                    .iter()
                    .map(|&(cur, max)| pb::RlimitEntry { cur, max })
                    .collect(),
            }),
            loginuid: Some(u32::MAX),
            oom_score_adj: Some(0),
            stop_signo: p.stop_signo,
            ..Default::default()
        };
        let Some(prep) = prep else {
            // Zombie / dead: a core with the task part only.
            let core = pb::CoreEntry {
                mtype: march(self.arch),
                tc: Some(tc),
                ..Default::default()
            };
            put(
                format!("core-{}.img", p.pid),
                encode_image(magic::CORE, &[core]),
            );
            return;
        };
        let (uid, gid) = p.creds.unwrap_or((0, 0));
        let main_tid = if p.threads.contains(&p.pid) {
            p.pid
        } else {
            p.threads.first().copied().unwrap_or(p.pid)
        };
        for &tid in &p.threads {
            let regs = p
                .regs
                .get(&tid)
                .cloned()
                .unwrap_or_else(|| default_regs(sp));
            let x86 = self.arch == Arch::X86_64;
            let other = (!x86).then(|| {
                p.arch_regs
                    .get(&tid)
                    .cloned()
                    .unwrap_or_else(|| default_arch_regs(self.arch, sp))
            });
            let core = pb::CoreEntry {
                mtype: march(self.arch),
                thread_info: x86.then(|| pb::ThreadInfoX86 {
                    clear_tid_addr: 0,
                    gpregs: gpregs(&regs),
                    fpregs: fpregs(),
                    tls: vec![],
                }),
                ti_aarch64: match &other {
                    Some(ArchRegs::Aarch64(r)) => Some(ti_aarch64(r)),
                    _ => None,
                },
                ti_riscv64: match &other {
                    Some(ArchRegs::Riscv64(r)) => Some(ti_riscv64(r)),
                    _ => None,
                },
                tc: (tid == main_tid).then(|| tc.clone()),
                ids: None,
                thread_core: Some(pb::ThreadCoreEntry {
                    futex_rla: 0,
                    futex_rla_len: 24,
                    sched_nice: Some(0),
                    sched_policy: Some(0),
                    sched_prio: Some(0),
                    blk_sigset: Some(0),
                    creds: Some(creds(uid, gid)),
                    comm: Some(
                        p.thread_comms
                            .get(&tid)
                            .cloned()
                            .unwrap_or(comm.clone())
                            .into_bytes(),
                    ),
                    ..Default::default()
                }),
            };
            put(
                format!("core-{tid}.img"),
                encode_image(magic::CORE, &[core]),
            );
        }

        let mut mm = prep.mm;
        if let Some(exe) = &p.exe {
            mm.exe_file_id = files.reg_shared(exe, 0o100755);
        }
        mm.vmas = prep.vmas.iter().map(|v| vma_entry(v, files)).collect();
        // CRIU 4.2 appends guard regions as fake VMAs after the real ones (prot/flags 0).
        mm.vmas
            .extend(p.guards.iter().map(|&(start, end)| pb::VmaEntry {
                start,
                end,
                pgoff: 0,
                shmid: 0,
                prot: 0,
                flags: 0,
                status: super::vma_status::GUARD,
                fd: -1,
                madv: None,
                fdflags: None,
            }));
        put(format!("mm-{}.img", p.pid), encode_image(magic::MM, &[mm]));

        put(
            format!("ids-{}.img", p.pid),
            encode_image(magic::IDS, &[kobj_ids(n)]),
        );
        let fdinfo: Vec<pb::FdinfoEntry> = p
            .fds
            .iter()
            .map(|(&fd, f)| {
                let id = files.add(f);
                let r#type = files
                    .entries
                    .last()
                    .map_or(pb::FdTypes::Und as i32, |e| e.r#type);
                pb::FdinfoEntry {
                    id,
                    flags: 0,
                    r#type,
                    fd,
                    xattr_security_selinux: None,
                }
            })
            .collect();
        put(
            format!("fdinfo-{n}.img"),
            encode_image(magic::FDINFO, &fdinfo),
        );
        let cwd = files.add(&File::dir(&p.cwd));
        let root = files.add(&File::dir("/"));
        put(
            format!("fs-{}.img", p.pid),
            encode_image(
                magic::FS,
                &[pb::FsEntry {
                    cwd_id: cwd,
                    root_id: root,
                    umask: Some(0o022),
                }],
            ),
        );
    }

    /// Every file of this dump's image directory, as bytes (raw overrides applied; the parent
    /// dump is not included). Start here to make a malformed variant of a generated image.
    pub fn encode_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.plan()
            .into_iter()
            .map(|(k, v)| (k, v.to_vec()))
            .collect()
    }
}
