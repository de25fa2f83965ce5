//! Threads and their task-wide state from `core-<tid>.img`: registers (x86_64, aarch64,
//! riscv64), FPU state, credentials, scheduling and pending signals.

use std::collections::HashMap;

use super::{Aarch64Regs, Arch, ArchRegs, Creds, Riscv64Regs, SigAction, Thread, X86Fpu, X86Regs};
use crate::image::{self, magic, pb};
use crate::model::load::lossy;
use crate::source::ImageDir;
use crate::warning::{Kind, Warnings};

/// A task's threads and the task-wide state its main thread's core image holds.
pub(in crate::model) struct Task {
    pub threads: Vec<Thread>,
    /// The task's name: the task core's, else the main thread's own.
    pub comm: String,
    /// The task-wide part of the core image (`tc`): the main thread's, else the first thread's
    /// that has one, else empty.
    pub core: pb::TaskCoreEntry,
    /// The main thread's seccomp mode, else the task core's older field.
    pub seccomp_mode: Option<u32>,
}

/// The threads of the task `entry` names, from their `core-<tid>.img`. A thread whose core
/// image is missing or broken is kept with no state, and a warning says so.
pub(in crate::model) fn load_task(
    dir: &ImageDir,
    entry: &pb::PstreeEntry,
    warnings: &mut Warnings,
) -> Task {
    let pid = entry.pid;
    let mut tids: Vec<u32> = entry.threads.clone();
    if tids.is_empty() {
        tids.push(pid);
    }
    // A zombie has one thread in pstree.img whose id CRIU does not fill in (whatever was in
    // memory); its state and name are in core-<pid>.img.
    if let [tid] = tids[..] {
        let core = |t: u32| dir.files.contains_key(&format!("core-{t}.img"));
        if tid != pid && !core(tid) && core(pid) {
            tids[0] = pid;
        }
    }
    // Thread cores. The main thread's core also has the task-wide part (tc).
    let mut threads = Vec::with_capacity(tids.len());
    let mut tc: Option<pb::TaskCoreEntry> = None;
    let mut seccomp: HashMap<u32, Option<u32>> = HashMap::new();
    for &tid in &tids {
        let name = format!("core-{tid}.img");
        let Some(b) = dir.files.get(&name) else {
            warnings.push(
                Kind::MissingImage,
                format!(
                    "{}/{name}: missing: thread {tid} of PID {pid} has no state",
                    dir.label
                ),
            );
            threads.push(Thread {
                tid,
                ..Thread::default()
            });
            continue;
        };
        let core: pb::CoreEntry = match image::decode_one(&name, b.bytes(), magic::CORE) {
            Ok(c) => c,
            Err(e) => {
                warnings.push(e.warning_kind(), format!("{}: {e}", dir.label));
                threads.push(Thread {
                    tid,
                    ..Thread::default()
                });
                continue;
            }
        };
        if tid == pid || tc.is_none() {
            if let Some(t) = core.tc.clone() {
                if tid == pid || tc.is_none() {
                    tc = Some(t);
                }
            }
        }
        seccomp.insert(
            tid,
            core.thread_core
                .as_ref()
                .and_then(|t| t.seccomp_mode)
                .map(|m| m as u32),
        );
        threads.push(thread_from_core(tid, &core));
    }
    let tc = tc.unwrap_or_default();
    let main_seccomp = seccomp.get(&pid).copied().flatten();
    let comm = if tc.comm.is_empty() {
        threads
            .iter()
            .find(|t| t.tid == pid)
            .map(|t| t.comm.clone())
            .unwrap_or_default()
    } else {
        lossy(&tc.comm)
    };
    for t in &mut threads {
        if t.comm.is_empty() {
            t.comm = comm.clone();
        }
    }
    let seccomp_mode = main_seccomp.or(tc.old_seccomp_mode.map(|m| m as u32));
    Task {
        threads,
        comm,
        core: tc,
        seccomp_mode,
    }
}

/// The task's resource limits, (soft, hard) per resource in the kernel's order.
pub(in crate::model) fn rlimits(tc: &pb::TaskCoreEntry) -> Vec<(u64, u64)> {
    tc.rlimits
        .as_ref()
        .map(|r| r.rlimits.iter().map(|l| (l.cur, l.max)).collect())
        .unwrap_or_default()
}

/// The task's signal handlers, numbered.
pub(in crate::model) fn sigactions(tc: &pb::TaskCoreEntry) -> Vec<SigAction> {
    tc.sigactions
        .iter()
        // CRIU writes one entry per signal from 1 up, skipping SIGKILL and SIGSTOP.
        .zip((1u32..).filter(|s| *s != 9 && *s != 19))
        .map(|(s, sig)| SigAction {
            sig,
            handler: s.sigaction,
            flags: s.flags,
            restorer: s.restorer,
            mask: s.mask,
        })
        .collect()
}

fn thread_from_core(tid: u32, core: &pb::CoreEntry) -> Thread {
    let tcore = core.thread_core.clone().unwrap_or_default();
    let regs = core
        .thread_info
        .as_ref()
        .map(|ti| &ti.gpregs)
        .map(|g| X86Regs {
            r15: g.r15,
            r14: g.r14,
            r13: g.r13,
            r12: g.r12,
            bp: g.bp,
            bx: g.bx,
            r11: g.r11,
            r10: g.r10,
            r9: g.r9,
            r8: g.r8,
            ax: g.ax,
            cx: g.cx,
            dx: g.dx,
            si: g.si,
            di: g.di,
            orig_ax: g.orig_ax,
            ip: g.ip,
            cs: g.cs,
            flags: g.flags,
            sp: g.sp,
            ss: g.ss,
            fs_base: g.fs_base,
            gs_base: g.gs_base,
            ds: g.ds,
            es: g.es,
            fs: g.fs,
            gs: g.gs,
        });
    let fpu = core.thread_info.as_ref().map(|ti| fpu_from(&ti.fpregs));
    let arch = Arch::from_criu(core.mtype);
    let arch_regs = match arch {
        Arch::Aarch64 => core.ti_aarch64.as_ref().map(|ti| {
            let g = &ti.gpregs;
            let mut x = [0u64; 31];
            for (d, s) in x.iter_mut().zip(&g.regs) {
                *d = *s;
            }
            ArchRegs::Aarch64(Aarch64Regs {
                x,
                sp: g.sp,
                pc: g.pc,
                pstate: g.pstate,
                tls: ti.tls,
                vregs: ti.fpsimd.vregs.iter().take(64).copied().collect(),
                fpsr: ti.fpsimd.fpsr,
                fpcr: ti.fpsimd.fpcr,
            })
        }),
        Arch::Riscv64 => core.ti_riscv64.as_ref().map(|ti| {
            let g = &ti.gpregs;
            ArchRegs::Riscv64(Riscv64Regs {
                regs: [
                    g.pc, g.ra, g.sp, g.gp, g.tp, g.t0, g.t1, g.t2, g.s0, g.s1, g.a0, g.a1, g.a2,
                    g.a3, g.a4, g.a5, g.a6, g.a7, g.s2, g.s3, g.s4, g.s5, g.s6, g.s7, g.s8, g.s9,
                    g.s10, g.s11, g.t3, g.t4, g.t5, g.t6,
                ],
                f: ti.fpsimd.f.iter().take(32).copied().collect(),
                fcsr: ti.fpsimd.fcsr,
            })
        }),
        _ => None,
    };
    // x86 state only in an x86_64 dump.
    let (regs, fpu) = if arch == Arch::X86_64 {
        (regs, fpu)
    } else {
        (None, None)
    };
    let blk = tcore
        .blk_sigset
        .or_else(|| core.tc.as_ref().map(|t| t.blk_sigset))
        .unwrap_or(0);
    Thread {
        tid,
        comm: tcore.comm.as_deref().map(lossy).unwrap_or_default(),
        creds: tcore.creds.as_ref().map(creds_from),
        arch,
        regs,
        fpu,
        arch_regs,
        blk_sigset: blk,
        sched_policy: tcore.sched_policy.unwrap_or(0),
        sched_prio: tcore.sched_prio.unwrap_or(0),
        sched_nice: tcore.sched_nice.unwrap_or(0),
        sig_pending: pending_mask(tcore.signals_p.as_ref()),
        rseq: tcore
            .rseq_entry
            .as_ref()
            .filter(|r| r.rseq_abi_pointer != 0)
            .map(|r| (r.rseq_abi_pointer, r.rseq_abi_size)),
    }
}

/// The pending-signal mask of a dumped signal queue: bit `signo - 1` for each queued
/// `siginfo_t` (`si_signo` is its first `int`, native-endian; x86_64, aarch64 and riscv64 are
/// little-endian). An entry too short to hold it or outside 1..=64 is skipped.
pub(in crate::model) fn pending_mask(q: Option<&pb::SignalQueueEntry>) -> u64 {
    let Some(q) = q else { return 0 };
    q.signals
        .iter()
        .filter_map(|e| e.siginfo.get(..4))
        .filter_map(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_le_bytes)
        .filter(|s| (1..=64).contains(s))
        .fold(0u64, |m, s| m | 1u64 << (s - 1))
}

fn caps(words: &[u32]) -> u64 {
    words
        .iter()
        .take(2)
        .enumerate()
        .fold(0u64, |acc, (i, w)| acc | (u64::from(*w) << (32 * i)))
}

fn creds_from(c: &pb::CredsEntry) -> Creds {
    Creds {
        uid: c.uid,
        gid: c.gid,
        euid: c.euid,
        egid: c.egid,
        suid: c.suid,
        sgid: c.sgid,
        fsuid: c.fsuid,
        fsgid: c.fsgid,
        cap_inh: caps(&c.cap_inh),
        cap_prm: caps(&c.cap_prm),
        cap_eff: caps(&c.cap_eff),
        cap_bnd: caps(&c.cap_bnd),
        cap_amb: caps(&c.cap_amb),
        secbits: c.secbits,
        groups: c.groups.clone(),
        no_new_privs: c.no_new_privs.unwrap_or(0) != 0,
    }
}

/// Rebuilds the 512-byte FXSAVE image (`user_i387_struct`) from the dumped fields.
fn fpu_from(f: &pb::UserX86FpregsEntry) -> X86Fpu {
    let mut b = vec![0u8; 512];
    let put16 =
        |b: &mut [u8], o: usize, v: u32| b[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes());
    put16(&mut b, 0, f.cwd);
    put16(&mut b, 2, f.swd);
    put16(&mut b, 4, f.twd);
    put16(&mut b, 6, f.fop);
    b[8..16].copy_from_slice(&f.rip.to_le_bytes());
    b[16..24].copy_from_slice(&f.rdp.to_le_bytes());
    b[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
    b[28..32].copy_from_slice(&f.mxcsr_mask.to_le_bytes());
    for (i, w) in f.st_space.iter().take(32).enumerate() {
        b[32 + 4 * i..36 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    for (i, w) in f.xmm_space.iter().take(64).enumerate() {
        b[160 + 4 * i..164 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    let xsave = f.xsave.as_ref().map(|x| {
        // xstate_bv followed by the AVX upper halves (ymmh), the part gdb reads.
        let mut v = x.xstate_bv.to_le_bytes().to_vec();
        for w in &x.ymmh_space {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    });
    X86Fpu { fxsave: b, xsave }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queued `siginfo_t`s become a mask of their signal numbers; short or bogus entries are
    /// skipped.
    #[test]
    fn pending_mask_from_queued_siginfos() {
        let info = |signo: i32| pb::SiginfoEntry {
            siginfo: [signo.to_le_bytes().as_slice(), &[0u8; 124]].concat(),
        };
        let q = pb::SignalQueueEntry {
            signals: vec![
                info(10),
                info(10),
                info(64),
                info(0),
                info(65),
                info(-1),
                pb::SiginfoEntry {
                    siginfo: vec![2, 0],
                },
            ],
        };
        assert_eq!(pending_mask(Some(&q)), 1 << 9 | 1 << 63);
        assert_eq!(pending_mask(None), 0);
    }
}
