//! `PID/status` and `task/TID/status`.
//!
//! The kernel's field names, order and formats (`proc_pid_status()` of fs/proc/array.c, Linux 6.x),
//! printing only the fields the images know or that have one possible value for a checkpointed
//! task. A field the checkpoint cannot know is left out rather than invented (tools read status
//! by field name, so a missing line is honest where a made-up number is not).
//!
//! Printed, in this order:
//! `Name` (escaped like the kernel: newline as `\n`, backslash as `\\`), `Umask` (`%04o`, when
//! fs-PID.img has it), `State`, `Tgid`, `Pid`, `PPid`, `TracerPid` (0: CRIU cannot seize a task
//! another tracer holds, so a dumped task had none), `Uid` / `Gid` (real, effective, saved, fs),
//! `Groups` (with the kernel's trailing space), `NStgid` / `NSpid` / `NSpgid` / `NSsid` (one level:
//! the PIDs inside the container, as a reader in the container's PID namespace sees them),
//! `Kthread` (0: kernel threads are never dumped); with an mm: `VmSize`, `VmLck`, `VmData`,
//! `VmStk`, `VmExe`, `VmLib`, computed from the VMAs exactly as the kernel's `vm_stat_account()`
//! and `task_mem()` do; `THP_enabled` (when mm-PID.img records `thp_disabled`: 0 when the
//! process disabled transparent huge pages, else 1, as on a kernel built with them); `Threads`, `SigPnd` (the signals queued for the thread,
//! `thread_core.signals_p`), `ShdPnd` (queued for the process, `tc.signals_s`), `SigBlk`,
//! `SigIgn`, `SigCgt` (from the sigactions: handler 1 = `SIG_IGN`, other non-zero = caught),
//! `CapInh` / `CapPrm` / `CapEff` / `CapBnd` / `CapAmb`, `NoNewPrivs`, `Seccomp`.
//!
//! `FDSize` is the smallest table the kernel would have for the highest open descriptor (a table
//! never shrinks, so the live value can be larger).
//!
//! Left out, because the images do not record them: `Ngid` (NUMA), `VmPeak`, `VmHWM`, `VmRSS`, `RssAnon`, `RssFile`, `RssShmem`
//! (resident memory is not recorded: dumped pages are neither a subset nor a superset of it —
//! clean file pages and untouched pages are resident but not dumped), `VmPin`, `VmPTE`,
//! `VmSwap`, `HugetlbPages`, `CoreDumping`, `untag_mask`, `SigQ` (the user's
//! queue length), `Seccomp_filters` (the model keeps no filter count), `Speculation_*`,
//! `Cpus_allowed*`, `Mems_allowed*`, the context-switch counters and the x86 feature lines.
//! [`super::fields`] lists every line with its source.
//!
//! A process's status is its main thread's (the kernel shows the thread-group leader's), with the
//! process name. A thread's status has `Pid:` = TID, `Tgid:` = PID, and the thread's name, blocked
//! and pending signals and credentials.

use std::fmt::Write;

use crate::model::Checkpoint;
use crate::model::process::{Process, Thread};
use crate::render::task::{escaped_comm, sig_ign_cgt, state, thread_name, vm_counters};

/// `FDSize`: the capacity of the smallest fd table that holds the highest open descriptor, as
/// the kernel grows it (`alloc_fdtable()`: 64 slots, then 128 x a power of two). The kernel never
/// shrinks a table, so a process that once had a higher descriptor open shows more; None for a
/// process without descriptors (a zombie has no table).
fn fd_size(p: &Process) -> Option<u64> {
    let max = p.fds.iter().map(|f| u64::from(f.fd)).max()?;
    if max < 64 {
        return Some(64);
    }
    Some(((max / 128) + 1).next_power_of_two() * 128)
}

/// The text of `PID/status`.
pub fn status(_ck: &Checkpoint, p: &Process) -> Vec<u8> {
    render(p, p.main_thread(), p.pid, &p.comm)
}

/// The text of `task/TID/status`.
pub fn thread_status(_ck: &Checkpoint, p: &Process, t: &Thread) -> Vec<u8> {
    render(p, Some(t), t.tid, thread_name(p, t))
}

/// Status of task `tid` of `p`; `t` gives the per-thread fields (None: unknown).
pub(crate) fn render(p: &Process, t: Option<&Thread>, tid: u32, name: &str) -> Vec<u8> {
    let mut out = b"Name:\t".to_vec();
    out.extend_from_slice(&escaped_comm(name));
    out.push(b'\n');
    let mut s = String::with_capacity(1024);
    if let Some(umask) = p.umask {
        let _ = writeln!(s, "Umask:\t{:04o}", umask);
    }
    let _ = writeln!(s, "State:\t{}", state(p.state).1);
    let _ = writeln!(s, "Tgid:\t{}", p.pid);
    let _ = writeln!(s, "Pid:\t{tid}");
    let _ = writeln!(s, "PPid:\t{}", p.ppid);
    let _ = writeln!(s, "TracerPid:\t0");
    let creds = t.and_then(|t| t.creds.as_ref()).or_else(|| p.creds());
    if let Some(c) = creds {
        let _ = writeln!(s, "Uid:\t{}\t{}\t{}\t{}", c.uid, c.euid, c.suid, c.fsuid);
        let _ = writeln!(s, "Gid:\t{}\t{}\t{}\t{}", c.gid, c.egid, c.sgid, c.fsgid);
        if let Some(n) = fd_size(p) {
            let _ = writeln!(s, "FDSize:\t{n}");
        }
        s.push_str("Groups:\t");
        for (i, g) in c.groups.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{g}");
        }
        s.push_str(" \n");
    }
    let _ = writeln!(s, "NStgid:\t{}", p.pid);
    let _ = writeln!(s, "NSpid:\t{tid}");
    let _ = writeln!(s, "NSpgid:\t{}", p.pgid);
    let _ = writeln!(s, "NSsid:\t{}", p.sid);
    let _ = writeln!(s, "Kthread:\t0");
    if p.mm.is_some() {
        let c = vm_counters(p);
        let kb = |pages: u64| pages.saturating_mul(4);
        let _ = writeln!(s, "VmSize:\t{:8} kB", kb(c.total));
        let _ = writeln!(s, "VmLck:\t{:8} kB", kb(c.locked));
        let _ = writeln!(s, "VmData:\t{:8} kB", kb(c.data));
        let _ = writeln!(s, "VmStk:\t{:8} kB", kb(c.stack));
        let _ = writeln!(s, "VmExe:\t{:8} kB", c.text_bytes >> 10);
        let _ = writeln!(s, "VmLib:\t{:8} kB", c.lib_bytes >> 10);
        if let Some(off) = p.mm.as_ref().and_then(|m| m.thp_disabled) {
            let _ = writeln!(s, "THP_enabled:\t{}", u8::from(!off));
        }
    }
    let _ = writeln!(s, "Threads:\t{}", p.threads.len());
    let (ign, cgt) = sig_ign_cgt(p);
    if let Some(t) = t {
        let _ = writeln!(s, "SigPnd:\t{:016x}", t.sig_pending);
    }
    let _ = writeln!(s, "ShdPnd:\t{:016x}", p.shd_pending);
    if let Some(t) = t {
        let _ = writeln!(s, "SigBlk:\t{:016x}", t.blk_sigset);
    }
    let _ = writeln!(s, "SigIgn:\t{ign:016x}");
    let _ = writeln!(s, "SigCgt:\t{cgt:016x}");
    if let Some(c) = creds {
        let _ = writeln!(s, "CapInh:\t{:016x}", c.cap_inh);
        let _ = writeln!(s, "CapPrm:\t{:016x}", c.cap_prm);
        let _ = writeln!(s, "CapEff:\t{:016x}", c.cap_eff);
        let _ = writeln!(s, "CapBnd:\t{:016x}", c.cap_bnd);
        let _ = writeln!(s, "CapAmb:\t{:016x}", c.cap_amb);
        let _ = writeln!(s, "NoNewPrivs:\t{}", u8::from(c.no_new_privs));
    }
    if let Some(mode) = p.seccomp_mode {
        let _ = writeln!(s, "Seccomp:\t{mode}");
    }
    out.extend_from_slice(s.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::TaskState;
    use crate::render::testutil::*;

    /// `(name, value)` of each line.
    fn fields(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .map(|l| l.split_once(":\t").unwrap_or((l, "")))
            .collect()
    }

    /// Our fields appear in the truth in the same order, and those listed have the same value.
    fn assert_matches_truth(ours: &str, truth: &str, same_value: &[&str]) {
        let t = fields(truth);
        let o = fields(ours);
        let mut pos = 0;
        for (name, _) in &o {
            let i = t[pos..]
                .iter()
                .position(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{name} missing or out of order in the truth"));
            pos += i + 1;
        }
        for name in same_value {
            let ov = o.iter().find(|(n, _)| n == name).map(|x| x.1);
            let tv = t.iter().find(|(n, _)| n == name).map(|x| x.1);
            assert!(ov.is_some(), "we do not print {name}");
            assert_eq!(ov, tv, "{name}");
        }
    }

    const KNOWN: &[&str] = &[
        "Name",
        "Umask",
        "State",
        "Tgid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "Groups",
        "NStgid",
        "NSpid",
        "NSpgid",
        "NSsid",
        "Kthread",
        "VmSize",
        "VmLck",
        "VmData",
        "VmStk",
        "VmExe",
        "VmLib",
        "Threads",
        "SigPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];

    #[test]
    fn golden_secretd_plain_process() {
        let p = secretd_plain_8259();
        let ours = String::from_utf8(render(&p, p.main_thread(), p.pid, &p.comm)).unwrap();
        assert_matches_truth(&ours, PLAIN_8259_STATUS, KNOWN);
        assert!(ours.contains("Groups:\t \n"));
        assert!(ours.ends_with("Seccomp:\t0\n"));
    }

    #[test]
    fn golden_secretd_plain_thread() {
        let p = secretd_plain_8259();
        let t = &p.threads[1];
        let ours = String::from_utf8(render(&p, Some(t), t.tid, thread_name(&p, t))).unwrap();
        assert_matches_truth(&ours, PLAIN_8263_STATUS, KNOWN);
        assert!(ours.contains("\nPid:\t8263\n"));
        assert!(ours.contains("\nTgid:\t8259\n"));
    }

    #[test]
    fn states_groups_escaping_and_zombies() {
        let mut p = process(7, vec![], vec![]);
        p.comm = "we\\ird\nname".into();
        p.threads[0].creds.as_mut().unwrap().groups = vec![1, 10, 1000];
        p.mm = None;
        p.state = TaskState::Zombie;
        let s = String::from_utf8(render(&p, p.main_thread(), 7, &p.comm)).unwrap();
        assert!(
            s.starts_with("Name:\twe\\\\ird\\nname\nState:\tZ (zombie)\n"),
            "{s}"
        );
        assert!(s.contains("Groups:\t1 10 1000 \n"));
        assert!(!s.contains("VmSize"), "no mm, no Vm lines");
        for (st, txt) in [
            (TaskState::Alive, "S (sleeping)"),
            (TaskState::Stopped, "T (stopped)"),
            (TaskState::Dead, "X (dead)"),
        ] {
            p.state = st;
            let s = String::from_utf8(render(&p, None, 7, "x")).unwrap();
            assert!(s.contains(&format!("State:\t{txt}\n")));
        }
        // No threads, no creds: still well-formed.
        p.threads.clear();
        let s = String::from_utf8(render(&p, p.main_thread(), 7, "")).unwrap();
        assert!(s.contains("Threads:\t0\n"));
        assert!(!s.contains("Uid"));
    }

    /// `THP_enabled` where mm-PID.img records `thp_disabled`, between the Vm lines and
    /// `Threads` as the kernel prints it; left out when not recorded.
    #[test]
    fn thp_enabled_when_recorded() {
        let mut p = secretd_plain_8259();
        let text =
            |p: &Process| String::from_utf8(render(p, p.main_thread(), p.pid, &p.comm)).unwrap();
        assert!(!text(&p).contains("THP_enabled"));
        p.mm.as_mut().unwrap().thp_disabled = Some(false);
        let ours = text(&p);
        assert!(ours.contains("THP_enabled:\t1\nThreads:"), "{ours}");
        assert_matches_truth(&ours, PLAIN_8259_STATUS, &["THP_enabled"]);
        p.mm.as_mut().unwrap().thp_disabled = Some(true);
        assert!(text(&p).contains("THP_enabled:\t0\n"));
    }

    #[test]
    fn sigsets_from_sigactions() {
        let mut p = process(1, vec![], vec![]);
        p.sigactions = vec![
            crate::model::process::SigAction {
                sig: 1,
                handler: 1,
                ..Default::default()
            },
            crate::model::process::SigAction {
                sig: 2,
                handler: 0x4000,
                ..Default::default()
            },
            crate::model::process::SigAction {
                sig: 64,
                handler: 0x4000,
                ..Default::default()
            },
            crate::model::process::SigAction {
                sig: 0,
                handler: 0x4000,
                ..Default::default()
            },
            crate::model::process::SigAction {
                sig: 99,
                handler: 1,
                ..Default::default()
            },
        ];
        p.threads[0].blk_sigset = 1 << 9;
        p.threads[0].sig_pending = 1 << 14;
        p.shd_pending = 1 << 9 | 1;
        let s = String::from_utf8(render(&p, p.main_thread(), 1, "a")).unwrap();
        assert!(
            s.contains("SigPnd:\t0000000000004000\nShdPnd:\t0000000000000201\nSigBlk:"),
            "{s}"
        );
        assert!(s.contains("SigBlk:\t0000000000000200\n"));
        assert!(s.contains("SigIgn:\t0000000000000001\n"));
        assert!(s.contains("SigCgt:\t8000000000000002\n"));
    }
}
