//! Facts several views print, derived once from the model: the kernel's VM accounting
//! (`total_vm`, `data_vm`, `stack_vm`, `exec_vm`, `locked_vm`, text / lib sizes), the state letter,
//! the signal masks and the comm as the kernel prints it.
//!
//! Everything here is x86_64-specific on purpose: the `MAP_*` values are the x86_64 ones
//! (never the analysis host's), and the page size is [`PAGE_SIZE`].

use crate::model::PAGE_SIZE;
use crate::model::process::{Process, TaskState, Thread, Vma, VmaName, vma_status};

/// x86_64 `MAP_SHARED`.
const MAP_SHARED: u32 = 0x01;
/// x86_64 `MAP_GROWSDOWN` (CRIU records `VM_GROWSDOWN`, the kernel's `VM_STACK`, this way).
const MAP_GROWSDOWN: u32 = 0x0100;
/// x86_64 `MAP_LOCKED` (CRIU records `VM_LOCKED`, smaps' `lo`, this way).
const MAP_LOCKED: u32 = 0x2000;
const PROT_WRITE: u32 = 0x2;
const PROT_EXEC: u32 = 0x4;

/// The kernel's `TASK_COMM_LEN`-independent cap of `proc_task_name` (`char tcomm[64]`).
const COMM_MAX: usize = 64;

/// Pages covering `bytes` (rounded up; VMAs and dumps are page-granular anyway).
pub(crate) fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE)
}

/// `PAGE_ALIGN(x)`, saturating instead of wrapping.
fn page_align(x: u64) -> u64 {
    x.checked_next_multiple_of(PAGE_SIZE)
        .unwrap_or(!(PAGE_SIZE - 1))
}

/// Length of a VMA in bytes, 0 for a malformed one (end < start).
pub(crate) fn vma_len(v: &Vma) -> u64 {
    v.end.saturating_sub(v.start)
}

/// The gate VMA: listed in maps but not part of the mm (not counted in `total_vm`).
fn is_gate(v: &Vma) -> bool {
    v.name == VmaName::Vsyscall || v.status & vma_status::VSYSCALL != 0
}

/// `VM_STACK` / `VM_SHADOW_STACK`: the kernel's `is_stack_mapping()`.
fn is_stack(v: &Vma) -> bool {
    v.flags & MAP_GROWSDOWN != 0
        || v.status & (vma_status::STACK | vma_status::SHSTK) != 0
        || v.name == VmaName::Stack
}

/// The mm counters the kernel keeps in `vm_stat_account()`, rebuilt from the VMAs, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VmCounters {
    /// `total_vm`: every VMA except the vsyscall gate.
    pub total: u64,
    /// `data_vm`: `VM_WRITE` without `VM_SHARED` or `VM_STACK`.
    pub data: u64,
    /// `stack_vm`: `VM_STACK` (grows-down) and shadow stacks.
    pub stack: u64,
    /// `exec_vm`: `VM_EXEC` without `VM_WRITE` or `VM_STACK`.
    pub exec: u64,
    /// `locked_vm`: `VM_LOCKED` VMAs.
    pub locked: u64,
    /// VmExe in bytes: `PAGE_ALIGN(end_code) - (start_code & PAGE_MASK)`, capped by `exec_vm`.
    pub text_bytes: u64,
    /// VmLib in bytes: `exec_vm` minus the text.
    pub lib_bytes: u64,
    /// statm's `text`, in pages: the code range, not capped (as `task_statm()` computes it).
    pub statm_text: u64,
}

/// The kernel's accounting for `p` (all zero without an mm).
pub(crate) fn vm_counters(p: &Process) -> VmCounters {
    let mut c = VmCounters::default();
    let Some(mm) = &p.mm else {
        return c;
    };
    for v in p.vmas.iter().filter(|v| !is_gate(v)) {
        let n = pages(vma_len(v));
        c.total = c.total.saturating_add(n);
        let write = v.prot & PROT_WRITE != 0;
        let exec = v.prot & PROT_EXEC != 0;
        let shared = v.flags & MAP_SHARED != 0;
        let stack = is_stack(v);
        if exec && !write && !stack {
            c.exec = c.exec.saturating_add(n);
        } else if stack {
            c.stack = c.stack.saturating_add(n);
        } else if write && !shared {
            c.data = c.data.saturating_add(n);
        }
        if v.flags & MAP_LOCKED != 0 {
            c.locked = c.locked.saturating_add(n);
        }
    }
    let code = page_align(mm.end_code).saturating_sub(mm.start_code & !(PAGE_SIZE - 1));
    let exec_bytes = c.exec.saturating_mul(PAGE_SIZE);
    c.text_bytes = code.min(exec_bytes);
    c.lib_bytes = exec_bytes - c.text_bytes;
    c.statm_text = code / PAGE_SIZE;
    c
}

/// The state as stat's one letter and status' `"T (stopped)"` text.
///
/// A checkpointed task was frozen by CRIU, so the kernel would have shown it as stopped or
/// sleeping at that moment; CRIU's `alive` becomes `S (sleeping)`, `stopped` (the task was in a
/// job-control stop of its own before the dump) `T (stopped)`.
pub(crate) fn state(s: TaskState) -> (char, &'static str) {
    match s {
        TaskState::Alive => ('S', "S (sleeping)"),
        TaskState::Stopped => ('T', "T (stopped)"),
        TaskState::Zombie => ('Z', "Z (zombie)"),
        TaskState::Dead => ('X', "X (dead)"),
        TaskState::Unknown(_) => ('?', "? (unknown)"),
    }
}

/// Bit of signal `sig` (1-based) in a 64-bit sigset, if it is one.
fn sig_bit(sig: u32) -> u64 {
    if (1..=64).contains(&sig) {
        1u64 << (sig - 1)
    } else {
        0
    }
}

/// `(ignored, caught)` as the kernel's `collect_sigign_sigcatch()`: `SIG_IGN` (1) ignores,
/// any other non-`SIG_DFL` handler catches.
pub(crate) fn sig_ign_cgt(p: &Process) -> (u64, u64) {
    let mut ign = 0u64;
    let mut cgt = 0u64;
    for sa in &p.sigactions {
        match sa.handler {
            0 => {}
            1 => ign |= sig_bit(sa.sig),
            _ => cgt |= sig_bit(sa.sig),
        }
    }
    (ign, cgt)
}

/// The comm bytes the kernel prints (up to a NUL, at most 64 bytes), unescaped.
pub(crate) fn comm_bytes(comm: &str) -> &[u8] {
    let b = comm.as_bytes();
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    &b[..b.len().min(COMM_MAX)]
}

/// The comm as status' `Name:` prints it: `seq_escape_str(.., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")`,
/// i.e. only newline and backslash are escaped.
pub(crate) fn escaped_comm(comm: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(comm.len());
    for &c in comm_bytes(comm) {
        match c {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            c => out.push(c),
        }
    }
    out
}

/// The name a thread's files show: its own comm, or the process's when the images carry no
/// per-thread comm.
pub(crate) fn thread_name<'a>(p: &'a Process, t: &'a Thread) -> &'a str {
    if t.comm.is_empty() { &p.comm } else { &t.comm }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::testutil::*;

    #[test]
    fn counters_follow_vm_stat_account() {
        let mut p = process_from_maps(1, PLAIN_8259_MAPS);
        let mm = p.mm.as_mut().unwrap();
        mm.start_code = 94776041889792;
        mm.end_code = 94776041893153;
        let c = vm_counters(&p);
        assert_eq!(c.total * 4, 22984);
        assert_eq!(c.data * 4, 20704);
        assert_eq!(c.stack * 4, 132);
        assert_eq!(c.text_bytes >> 10, 4);
        assert_eq!(c.lib_bytes >> 10, 1528);
    }

    #[test]
    fn malformed_inputs_do_not_panic() {
        let mut p = process(
            1,
            vec![vma(0x2000, 0x1000, "rwxp", 0, VmaName::Anon)],
            vec![],
        );
        {
            let mm = p.mm.as_mut().unwrap();
            mm.start_code = u64::MAX;
            mm.end_code = 0;
        }
        let c = vm_counters(&p);
        assert_eq!(c.total, 0);
        p.mm.as_mut().unwrap().end_code = u64::MAX;
        p.mm.as_mut().unwrap().start_code = 0;
        let _ = vm_counters(&p);
        assert_eq!(escaped_comm("a\nb\\c"), b"a\\nb\\\\c");
        assert_eq!(comm_bytes("ab\0cd"), b"ab");
        assert_eq!(sig_bit(0), 0);
        assert_eq!(sig_bit(65), 0);
        assert_eq!(sig_bit(64), 1 << 63);
    }
}
