//! Processes, threads, address-space layout and credentials, as the images describe them.

pub(super) mod mm;
pub(super) mod threads;

use super::files::FileRef;
use super::memory::Memory;

/// Task state as CRIU records it (`TaskCoreEntry.task_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Alive,
    Dead,
    Stopped,
    Zombie,
    Unknown(u32),
}

impl TaskState {
    pub fn from_criu(v: u32) -> TaskState {
        match v {
            1 => TaskState::Alive,
            2 => TaskState::Dead,
            3 => TaskState::Stopped,
            6 => TaskState::Zombie,
            o => TaskState::Unknown(o),
        }
    }
}

/// Credentials (`CredsEntry`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    pub cap_bnd: u64,
    pub cap_amb: u64,
    pub secbits: u32,
    pub groups: Vec<u32>,
    pub no_new_privs: bool,
}

/// x86_64 general registers, in the kernel's `user_regs_struct` order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X86Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub bp: u64,
    pub bx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub ax: u64,
    pub cx: u64,
    pub dx: u64,
    pub si: u64,
    pub di: u64,
    pub orig_ax: u64,
    pub ip: u64,
    pub cs: u64,
    pub flags: u64,
    pub sp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl X86Regs {
    /// The registers in `user_regs_struct` order (27 words), as NT_PRSTATUS wants them.
    pub fn to_array(&self) -> [u64; 27] {
        [
            self.r15,
            self.r14,
            self.r13,
            self.r12,
            self.bp,
            self.bx,
            self.r11,
            self.r10,
            self.r9,
            self.r8,
            self.ax,
            self.cx,
            self.dx,
            self.si,
            self.di,
            self.orig_ax,
            self.ip,
            self.cs,
            self.flags,
            self.sp,
            self.ss,
            self.fs_base,
            self.gs_base,
            self.ds,
            self.es,
            self.fs,
            self.gs,
        ]
    }

    /// Name/value pairs, for text views.
    pub fn named(&self) -> [(&'static str, u64); 27] {
        const NAMES: [&str; 27] = [
            "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
            "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
            "gs_base", "ds", "es", "fs", "gs",
        ];
        let v = self.to_array();
        std::array::from_fn(|i| (NAMES[i], v[i]))
    }
}

/// The CPU architecture of a dump (`CoreEntry.mtype`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arch {
    #[default]
    X86_64,
    Aarch64,
    Riscv64,
    /// Another CRIU `march` (arm, ppc64, s390, mips, loongarch64): named, registers not modelled.
    Other(i32),
}

impl Arch {
    pub fn from_criu(mtype: i32) -> Arch {
        match mtype {
            1 => Arch::X86_64,
            3 => Arch::Aarch64,
            8 => Arch::Riscv64,
            o => Arch::Other(o),
        }
    }

    /// The name `uname -m` gives.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
            Arch::Other(2) => "armv7l",
            Arch::Other(4) => "ppc64le",
            Arch::Other(5) => "s390x",
            Arch::Other(6) => "mips64",
            Arch::Other(7) => "loongarch64",
            Arch::Other(_) => "unknown",
        }
    }
}

/// aarch64 registers (`ti_aarch64`): `user_pt_regs`, the FP/SIMD state and the TLS pointer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aarch64Regs {
    /// x0..x30.
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    /// `tpidr_el0`.
    pub tls: u64,
    /// v0..v31, two words (low, high) each: 64 words (fewer when the image has fewer).
    pub vregs: Vec<u64>,
    pub fpsr: u32,
    pub fpcr: u32,
}

/// riscv64 registers (`ti_riscv64`): `user_regs_struct` and the D extension's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Riscv64Regs {
    /// In `user_regs_struct` order: pc, ra, sp, gp, tp, t0-t2, s0, s1, a0-a7, s2-s11, t3-t6.
    pub regs: [u64; 32],
    /// f0..f31.
    pub f: Vec<u64>,
    pub fcsr: u32,
}

impl Riscv64Regs {
    /// The names of [`Riscv64Regs::regs`], in order.
    pub const NAMES: [&'static str; 32] = [
        "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
        "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
        "t5", "t6",
    ];
}

/// Registers of a thread of another architecture than x86_64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchRegs {
    Aarch64(Aarch64Regs),
    Riscv64(Riscv64Regs),
}

/// x86 FPU state as dumped (the legacy FXSAVE area fields plus the raw XSAVE extension, if any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct X86Fpu {
    /// The 512-byte FXSAVE image (`user_i387_struct`), rebuilt from the dumped fields.
    pub fxsave: Vec<u8>,
    /// The XSAVE header's `xstate_bv` and the extended components' raw bytes, when dumped.
    pub xsave: Option<Vec<u8>>,
}

/// One signal's disposition (`SaEntry`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub sig: u32,
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A thread (CRIU: a task with its own `core-<tid>.img`).
#[derive(Clone, Debug, Default)]
pub struct Thread {
    pub tid: u32,
    /// The thread's name (`comm` of its core image).
    pub comm: String,
    pub creds: Option<Creds>,
    /// The dump's architecture, from this thread's core image.
    pub arch: Arch,
    /// x86_64 registers (`thread_info`).
    pub regs: Option<X86Regs>,
    pub fpu: Option<X86Fpu>,
    /// aarch64 / riscv64 registers (`ti_aarch64` / `ti_riscv64`).
    pub arch_regs: Option<ArchRegs>,
    /// Blocked signal mask.
    pub blk_sigset: u64,
    pub sched_policy: u32,
    pub sched_prio: u32,
    pub sched_nice: i32,
    /// Pending signals of this thread, if dumped.
    pub sig_pending: u64,
    /// Where the thread's `struct rseq` is (`rseq_abi_pointer`, `rseq_abi_size` of its core
    /// image), when it registered one: the kernel writes there at every preemption.
    pub rseq: Option<(u64, u32)>,
}

/// Address-space layout of a process (`MmEntry`, without the VMAs).
#[derive(Clone, Debug, Default)]
pub struct MmInfo {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_stack: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub exe_file_id: u32,
    /// `mm_saved_auxv`, as pairs of words (the kernel's saved auxv, AT_NULL-terminated).
    pub auxv: Vec<u64>,
    pub dumpable: Option<u32>,
    /// `prctl(PR_SET_THP_DISABLE)` was set (`MmEntry.thp_disabled`), when recorded.
    pub thp_disabled: Option<bool>,
}

/// What a VMA maps, resolved from its status bits and files.img, for the `maps` path column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaName {
    /// Anonymous private memory (no name).
    Anon,
    Heap,
    Stack,
    Vdso,
    Vvar,
    VvarVclock,
    Vsyscall,
    /// The uprobes XOL area (`VMA_AREA_UPROBES`), shown as `[uprobes]`.
    Uprobes,
    /// A file mapping; `deleted` when the kernel would print " (deleted)".
    File {
        path: String,
        deleted: bool,
    },
    /// An unresolved file mapping (the files.img entry is missing): the id is kept for messages.
    Unknown {
        file_id: u64,
    },
}

/// One VMA (`VmaEntry`) plus its resolved name.
#[derive(Clone, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub pgoff: u64,
    pub shmid: u64,
    pub prot: u32,
    pub flags: u32,
    pub status: u32,
    pub fd: i64,
    pub madv: u64,
    pub fdflags: u32,
    pub name: VmaName,
    /// Set for a file VMA: the file it maps, as files.img names it.
    pub file: Option<FileRef>,
}

/// The object behind a `MAP_SHARED` mapping, the same for every process that maps it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SharedObject {
    /// Shared anonymous memory or a SysV segment, by shmem id.
    Shmem(u64),
    /// A memfd, by its shmem id (its inode).
    Memfd(u64),
    /// A file, by path.
    File(String),
}

impl Vma {
    /// The shared object this `MAP_SHARED` mapping maps (None for a private mapping or an
    /// unresolved file).
    pub fn shared_object(&self) -> Option<SharedObject> {
        use super::files::FileKind;
        if !self.shared() {
            return None;
        }
        Some(match self.file.as_ref().map(|f| &f.kind) {
            Some(FileKind::Memfd {
                shmid, inode_id, ..
            }) => SharedObject::Memfd(shmid.unwrap_or(u64::from(*inode_id))),
            Some(FileKind::Reg { path, .. }) => SharedObject::File(path.clone()),
            Some(_) => return None,
            None => SharedObject::Shmem(self.shmid),
        })
    }
}

/// VMA status bits (CRIU `VMA_AREA_*`).
pub mod vma_status {
    pub const REGULAR: u32 = 1 << 0;
    pub const STACK: u32 = 1 << 1;
    pub const VSYSCALL: u32 = 1 << 2;
    pub const VDSO: u32 = 1 << 3;
    pub const HEAP: u32 = 1 << 5;
    pub const FILE_PRIVATE: u32 = 1 << 6;
    pub const FILE_SHARED: u32 = 1 << 7;
    pub const ANON_SHARED: u32 = 1 << 8;
    pub const ANON_PRIVATE: u32 = 1 << 9;
    pub const SYSVIPC: u32 = 1 << 10;
    pub const SOCKET: u32 = 1 << 11;
    pub const VVAR: u32 = 1 << 12;
    pub const AIORING: u32 = 1 << 13;
    pub const MEMFD: u32 = 1 << 14;
    pub const SHSTK: u32 = 1 << 15;
    pub const GUARD: u32 = 1 << 16;
    pub const UPROBES: u32 = 1 << 17;
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    pub fn readable(&self) -> bool {
        self.prot & libc::PROT_READ as u32 != 0
    }
    pub fn writable(&self) -> bool {
        self.prot & libc::PROT_WRITE as u32 != 0
    }
    pub fn executable(&self) -> bool {
        self.prot & libc::PROT_EXEC as u32 != 0
    }
    pub fn shared(&self) -> bool {
        self.flags & libc::MAP_SHARED as u32 != 0
    }
    /// `rwxp` / `rw-s` as in maps.
    pub fn perms(&self) -> String {
        let mut s = String::with_capacity(4);
        s.push(if self.readable() { 'r' } else { '-' });
        s.push(if self.writable() { 'w' } else { '-' });
        s.push(if self.executable() { 'x' } else { '-' });
        s.push(if self.shared() { 's' } else { 'p' });
        s
    }
    /// File offset in bytes (pgoff is in bytes in CRIU images).
    pub fn offset(&self) -> u64 {
        self.pgoff
    }
}

/// An open file descriptor.
#[derive(Clone, Debug)]
pub struct Fd {
    pub fd: u32,
    /// `FdinfoEntry.flags` (O_CLOEXEC as FD_CLOEXEC).
    pub fd_flags: u32,
    pub file: FileRef,
}

/// A process (thread group).
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub state: TaskState,
    pub exit_code: u32,
    pub stop_signo: Option<u32>,
    pub personality: u32,
    pub task_flags: u32,
    /// The process name (main thread's comm).
    pub comm: String,
    /// Threads in pstree order; the first is the main thread (tid == pid) when present.
    pub threads: Vec<Thread>,
    pub rlimits: Vec<(u64, u64)>,
    pub sigactions: Vec<SigAction>,
    pub loginuid: Option<u32>,
    pub oom_score_adj: Option<i32>,
    pub seccomp_mode: Option<u32>,
    /// Signals pending for the whole thread group (`ShdPnd`), from `tc.signals_s`.
    pub shd_pending: u64,
    /// The session's controlling terminal, when a terminal of the checkpoint records this
    /// session (tty-info.img `sid`): its device as `stat`'s `tty_nr` prints it (tty-info.img
    /// `rdev`) and its foreground process group (`pgrp`, `tpgid`).
    pub ctty: Option<(u32, u32)>,
    /// None for zombie / dead tasks (no mm image).
    pub mm: Option<MmInfo>,
    pub vmas: Vec<Vma>,
    /// Guard regions (`MADV_GUARD_INSTALL`, CRIU 4.2 `VMA_AREA_GUARD`), sorted, merged: ranges
    /// inside real VMAs that fault on access. Not VMAs: maps, memory/ and core leave them out
    /// (their pages read as zeros); pagemap sets bit 58 on them, as the kernel does.
    pub guard_regions: Vec<(u64, u64)>,
    pub memory: Memory,
    pub fds: Vec<Fd>,
    pub cwd: Option<FileRef>,
    pub root: Option<FileRef>,
    pub exe: Option<FileRef>,
    pub umask: Option<u32>,
}

impl Process {
    pub fn main_thread(&self) -> Option<&Thread> {
        self.threads
            .iter()
            .find(|t| t.tid == self.pid)
            .or(self.threads.first())
    }
    pub fn creds(&self) -> Option<&Creds> {
        self.main_thread().and_then(|t| t.creds.as_ref())
    }
    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        let i = self.vmas.partition_point(|v| v.end <= addr);
        self.vmas.get(i).filter(|v| v.start <= addr)
    }
    /// Size of the `mem` file: the end of the user address space (47-bit, or 56-bit when a VMA
    /// lies above), never taken from the analysis host.
    pub fn mem_size(&self) -> u64 {
        const TASK_SIZE_47: u64 = 0x7fff_ffff_f000;
        const TASK_SIZE_56: u64 = 0x00ff_ffff_ffff_f000;
        let top = self
            .vmas
            .iter()
            .filter(|v| v.name != VmaName::Vsyscall && v.end <= TASK_SIZE_56)
            .map(|v| v.end)
            .max()
            .unwrap_or(0)
            .max(self.memory.extents().last().map(|e| e.end()).unwrap_or(0));
        if top <= TASK_SIZE_47 {
            TASK_SIZE_47
        } else {
            TASK_SIZE_56
        }
    }
}
