//! `PID/stat`, `task/TID/stat` and `PID/statm`.
//!
//! `stat` is the kernel's 52 space-separated fields (`do_task_stat()` of fs/proc/array.c, Linux
//! 6.x), positional, so a field the images do not know is printed as 0 (as the kernel does for
//! obsolete fields). Known and printed: pid (TID for a thread), comm (unescaped, in parentheses),
//! state, ppid, pgrp, session, flags (`task_flags`), priority and nice (from the scheduling
//! policy, nice and RT priority), num_threads, vsize (bytes, from the VMAs), rsslim
//! (`RLIMIT_RSS` soft), startcode, endcode, startstack, signal / blocked / sigignore / sigcatch
//! (masked with `0x7fffffff` like the kernel), exit_signal (17 = SIGCHLD for a process and its
//! main thread, -1 for other threads), rt_priority, policy, the mm's data / brk / arg / env
//! addresses, exit_code.
//!
//! Not known, printed as 0: the fault counters, CPU times, itrealvalue, starttime, kstkesp /
//! kstkeip (the kernel prints 0 for them too unless the task is dumping core), wchan, nswap,
//! processor, delayacct_blkio_ticks, guest times, and `rss`: the images do not record the
//! resident set (the dumped pages are neither a subset nor a superset of it: clean file pages
//! are resident but not dumped, swapped pages are dumped but not resident). tty_nr / tpgid are
//! the session's terminal as tty-info.img records it (its device and foreground process group,
//! for a session one of whose terminals the checkpoint holds), else `0 -1`, the kernel's "no
//! controlling terminal".
//!
//! `statm`: `size` from the VMAs; `resident` and `shared` (resident pages again) are not
//! recorded, printed as 0; `text` and `data` follow `task_statm()` (`data` = `data_vm +
//! stack_vm`); `lib` and `dt` are always 0, as in the kernel.
//!
//! Which field is read, derived or a placeholder is listed in [`super::fields`] (served as
//! `checkpoint/fields.json`).
//!
//! `exit_code` is the one the images record (0 for a live task): a group-stopped task that nobody
//! traced has exit code 0 in the kernel too. (The fixtures' recorded stat says 19 because it was
//! read after CRIU had ptrace-stopped the task.)

use std::fmt::Write;

use crate::model::Checkpoint;
use crate::model::process::{Process, Thread};
use crate::render::task::{comm_bytes, sig_ign_cgt, state, thread_name, vm_counters};

/// `SIGCHLD`, the exit signal of a process (threads have -1).
const SIGCHLD: i64 = 17;
/// `RLIMIT_RSS`.
const RLIMIT_RSS: usize = 5;
/// `SCHED_RESET_ON_FORK`, or-ed into the policy by sched_getscheduler().
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

/// The text of `PID/stat`.
pub fn stat(_ck: &Checkpoint, p: &Process) -> Vec<u8> {
    render(p, p.main_thread(), p.pid, &p.comm, SIGCHLD)
}

/// The text of `task/TID/stat`.
pub fn thread_stat(_ck: &Checkpoint, p: &Process, t: &Thread) -> Vec<u8> {
    let exit_signal = if t.tid == p.pid { SIGCHLD } else { -1 };
    render(p, Some(t), t.tid, thread_name(p, t), exit_signal)
}

/// `(priority, rt_priority, policy)` as the kernel prints them from the scheduling parameters.
fn sched(t: Option<&Thread>) -> (i64, u64, u64) {
    let Some(t) = t else {
        return (20, 0, 0);
    };
    let policy = t.sched_policy & !SCHED_RESET_ON_FORK;
    match policy {
        // SCHED_FIFO, SCHED_RR: prio = MAX_RT_PRIO - 1 - rt_priority, printed minus MAX_RT_PRIO.
        1 | 2 => {
            let rt = t.sched_prio.min(99);
            (-1 - i64::from(rt), u64::from(rt), u64::from(policy))
        }
        // SCHED_DEADLINE: prio = MAX_DL_PRIO - 1 = -1.
        6 => (-101, 0, u64::from(policy)),
        // SCHED_OTHER, SCHED_BATCH, SCHED_IDLE: static priority from nice.
        _ => (
            20 + i64::from(t.sched_nice.clamp(-20, 19)),
            0,
            u64::from(policy),
        ),
    }
}

/// Stat line of task `tid` of `p`.
pub(crate) fn render(
    p: &Process,
    t: Option<&Thread>,
    tid: u32,
    name: &str,
    exit_signal: i64,
) -> Vec<u8> {
    let mut out = format!("{tid} (").into_bytes();
    out.extend_from_slice(comm_bytes(name));
    out.extend_from_slice(b") ");
    let mut s = String::with_capacity(256);
    s.push(state(p.state).0);
    let (priority, rt_priority, policy) = sched(t);
    let nice = t.map_or(0, |t| i64::from(t.sched_nice.clamp(-20, 19)));
    let c = vm_counters(p);
    let (ign, cgt) = sig_ign_cgt(p);
    let pending = t.map_or(0, |t| t.sig_pending);
    let blocked = t.map_or(0, |t| t.blk_sigset);
    let rsslim = p.rlimits.get(RLIMIT_RSS).map_or(u64::MAX, |r| r.0);
    let mm = p.mm.as_ref();
    const OLD: u64 = 0x7fff_ffff;
    // No controlling terminal: the kernel's 0 and -1.
    let (tty_nr, tpgid) = p.ctty.map_or((0, -1), |(dev, pgrp)| (dev, i64::from(pgrp)));
    let _ = write!(
        s,
        " {} {} {} {} {} {} 0 0 0 0 0 0 0 0 {} {} {} 0 0 {} 0 {} {} {} {} 0 0 {} {} {} {} 0 0 0 {} 0 {} {} 0 0 0",
        p.ppid,
        p.pgid,
        p.sid,
        tty_nr,
        tpgid,
        p.task_flags,
        priority,
        nice,
        p.threads.len(),
        c.total.saturating_mul(4096),
        rsslim,
        mm.map_or(0, |m| m.start_code),
        mm.map_or(0, |m| m.end_code),
        mm.map_or(0, |m| m.start_stack),
        pending & OLD,
        blocked & OLD,
        ign & OLD,
        cgt & OLD,
        exit_signal,
        rt_priority,
        policy,
    );
    match mm {
        Some(m) => {
            let _ = write!(
                s,
                " {} {} {} {} {} {} {}",
                m.start_data,
                m.end_data,
                m.start_brk,
                m.arg_start,
                m.arg_end,
                m.env_start,
                m.env_end
            );
        }
        None => s.push_str(" 0 0 0 0 0 0 0"),
    }
    let _ = writeln!(s, " {}", p.exit_code as i32);
    out.extend_from_slice(s.as_bytes());
    out
}

/// The text of `PID/statm`: `size resident shared text lib data dt`, in pages.
pub fn statm(p: &Process) -> Vec<u8> {
    if p.mm.is_none() {
        return b"0 0 0 0 0 0 0\n".to_vec();
    }
    let c = vm_counters(p);
    format!(
        "{} 0 0 {} 0 {} 0\n",
        c.total,
        c.statm_text,
        c.data.saturating_add(c.stack)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::{MmInfo, TaskState, VmaName};
    use crate::render::testutil::*;

    fn fields(line: &str) -> Vec<String> {
        // comm may contain spaces: split around the parentheses like procps does.
        let open = line.find('(').unwrap();
        let close = line.rfind(')').unwrap();
        let mut v = vec![line[..open - 1].to_string(), line[open..=close].to_string()];
        v.extend(
            line[close + 2..]
                .split(' ')
                .map(|s| s.trim_end().to_string()),
        );
        v
    }

    #[test]
    fn golden_secretd_plain() {
        let p = secretd_plain_8259();
        let ours = String::from_utf8(render(&p, p.main_thread(), p.pid, &p.comm, SIGCHLD)).unwrap();
        assert!(ours.ends_with('\n'));
        let o = fields(&ours);
        let t = fields(PLAIN_8259_STAT);
        assert_eq!(o.len(), 52);
        assert_eq!(t.len(), 52);
        // 1-based field numbers (man 5 proc) whose values the images know.
        let known = [
            1, 2, 3, 4, 5, 6, 7, 8, 9, 18, 19, 20, 23, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 36,
            37, 38, 40, 41, 45, 46, 47, 48, 49, 50, 51,
        ];
        for n in known {
            assert_eq!(o[n - 1], t[n - 1], "field {n}");
        }
        // rss: not recorded, 0, although a page is dumped (the argv/environ strings) and the
        // truth's resident set is larger.
        assert_ne!(t[23], "0");
        assert_eq!(o[23], "0");
        // exit_code: the image's 0 (the truth's 19 comes from CRIU's ptrace stop).
        assert_eq!(o[51], "0");
    }

    #[test]
    fn threads_and_scheduling() {
        let mut p = secretd_plain_8259();
        p.threads[1].sched_policy = 2 | SCHED_RESET_ON_FORK;
        p.threads[1].sched_prio = 10;
        p.threads[2].sched_nice = -5;
        p.threads[2].comm = "worker".into();
        let f1 = fields(
            std::str::from_utf8(&render(&p, Some(&p.threads[1]), 8263, "secretd", -1)).unwrap(),
        );
        assert_eq!(f1[0], "8263");
        assert_eq!(
            (f1[17].as_str(), f1[39].as_str(), f1[40].as_str()),
            ("-11", "10", "2")
        );
        assert_eq!(f1[37], "-1");
        let t2 = p.threads[2].clone();
        let f2 = fields(
            std::str::from_utf8(&render(&p, Some(&t2), 8264, thread_name(&p, &t2), -1)).unwrap(),
        );
        assert_eq!(f2[1], "(worker)");
        assert_eq!((f2[17].as_str(), f2[18].as_str()), ("15", "-5"));
    }

    /// A session whose terminal the images record: tty_nr and tpgid as podman-implant's bash
    /// (under `script`, /dev/pts/0) had them; others keep the kernel's `0 -1`.
    #[test]
    fn controlling_terminal() {
        let mut p = secretd_plain_8259();
        let f = fields(
            std::str::from_utf8(&render(&p, p.main_thread(), p.pid, &p.comm, SIGCHLD)).unwrap(),
        );
        assert_eq!((f[6].as_str(), f[7].as_str()), ("0", "-1"));
        p.ctty = Some((136 << 8, 17));
        let f = fields(
            std::str::from_utf8(&render(&p, p.main_thread(), p.pid, &p.comm, SIGCHLD)).unwrap(),
        );
        assert_eq!((f[6].as_str(), f[7].as_str()), ("34816", "17"));
        assert_eq!(f.len(), 52);
    }

    #[test]
    fn zombie_and_garbage() {
        let mut p = process(
            3,
            vec![vma(0x2000, 0x1000, "rw-p", 0, VmaName::Anon)],
            vec![],
        );
        p.mm = None;
        p.state = TaskState::Zombie;
        p.exit_code = 0x100;
        p.comm = "a b) (c".into();
        p.threads.clear();
        let s = String::from_utf8(render(&p, p.main_thread(), 3, &p.comm, SIGCHLD)).unwrap();
        assert!(s.starts_with("3 (a b) (c) Z 0 3 3 0 -1 "), "{s}");
        assert!(s.ends_with(" 0 0 0 0 0 0 0 256\n"));
        assert_eq!(fields(&s).len(), 52);
        assert_eq!(statm(&p), b"0 0 0 0 0 0 0\n");
    }

    #[test]
    fn statm_like_task_statm() {
        let mut p = process_from_maps(8259, PLAIN_8259_MAPS);
        p.mm = Some(MmInfo {
            start_code: 94776041889792,
            end_code: 94776041893153,
            ..MmInfo::default()
        });
        // Two dumped pages, one of them in a shared VMA: not the resident set, which is not
        // recorded (resident and shared 0).
        p.vmas.push(vma(
            0x5ec100000000,
            0x5ec100100000,
            "rw-s",
            0,
            file("/dev/zero", true),
        ));
        p.vmas.sort_by_key(|v| v.start);
        p.memory = memory(vec![
            (0x5ec000000000, vec![1; 4096]),
            (0x5ec100000000, vec![2; 4096]),
        ]);
        // 22984 kB of VMAs + 1 MiB shared; data 20704 kB + stack 132 kB; one page of code.
        assert_eq!(
            String::from_utf8(statm(&p)).unwrap(),
            "6002 0 0 1 0 5209 0\n"
        );
    }
}
