//! Identity rules: what a process calls itself against what it runs (`exe-mismatch`,
//! `kthread-name`), and shells.

use super::{Finding, Strength, argv};
use crate::model::process::Process;
use crate::model::{Checkpoint, FileKind};

/// Multi-call binaries: one executable, many program names (argv\[0\] picks the applet).
const MULTICALL: [&str; 4] = ["busybox", "toybox", "coreutils", "rescue"];

/// Shell program names.
pub const SHELLS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "pdksh", "csh", "tcsh", "fish", "rbash",
];

pub(super) fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The program name argv\[0\] gives: up to the first `:` or blank (setproctitle titles such as
/// `postgres: checkpointer` or `nginx: worker process`), basename, without a login shell's `-`.
pub(super) fn argv0_name(argv0: &str) -> &str {
    let head = argv0
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or(argv0);
    basename(head).trim_start_matches('-')
}

/// `python3.11` → `python3`; `bash5` stays: strips a trailing `.N[.N...]` or `-N...` version.
fn unversioned(name: &str) -> &str {
    let cut = name
        .char_indices()
        .find(|&(i, c)| {
            (c == '.' || c == '-')
                && name[i + 1..].starts_with(|d: char| d.is_ascii_digit())
                && name[i + 1..]
                    .chars()
                    .all(|d| d.is_ascii_digit() || d == '.' || d == '-')
        })
        .map_or(name.len(), |(i, _)| i);
    &name[..cut]
}

/// Whether `exe_name` (basename of the executable) and `arg_name` (program name from argv\[0\])
/// plausibly name the same program. Benign, not reported:
/// - equal names, or equal after dropping a version suffix (`python3` / `python3.11`);
/// - one name is a prefix of the other longer than 2 characters (`postgres` / `postmaster` is not,
///   but `php-fpm8.2` / `php-fpm` is; comm-style truncation `systemd-journal` / `systemd-journald`);
/// - a multi-call binary (`busybox`, `toybox`, `coreutils`): argv\[0\] names the applet;
/// - both are shells (`/bin/sh` → `dash` or `bash`): the shell link, and scripts run by an
///   interpreter named in a `#!` line (argv\[0\] is then the interpreter path as the `#!` line
///   spells it, which may be a link to the real shell);
/// - an empty argv\[0\] (nothing to compare).
///
/// Anything else (`exe` `/usr/bin/nc` but argv\[0\] `[kworker/0:1]`, a renamed binary) is reported.
pub fn same_program(exe_name: &str, arg_name: &str) -> bool {
    if arg_name.is_empty() || exe_name.is_empty() {
        return true;
    }
    let (e, a) = (unversioned(exe_name), unversioned(arg_name));
    if e == a || exe_name == arg_name {
        return true;
    }
    let (short, long) = if e.len() <= a.len() { (e, a) } else { (a, e) };
    if short.len() > 2 && long.starts_with(short) {
        return true;
    }
    if MULTICALL.contains(&e) {
        return true;
    }
    SHELLS.contains(&e) && SHELLS.contains(&a)
}

/// The file an argv\[0\] names in the container's files: its path when it has a `/` (an absolute
/// one; a relative one is left alone), else the first `PATH` entry (the process's own `PATH`,
/// else the usual one) that holds a file of that name, following links. None when the tree
/// does not hold it.
fn argv0_file(ck: &Checkpoint, p: &Process, a0: &str) -> Option<String> {
    let rootfs = &ck.container_fs.rootfs;
    let head = a0
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or(a0)
        .trim_start_matches('-');
    if head.is_empty() {
        return None;
    }
    let is_file = |path: &str| {
        rootfs
            .file(path)
            .is_some()
            .then(|| rootfs.resolve(path, true))
            .flatten()
    };
    if head.contains('/') {
        return if head.starts_with('/') {
            is_file(head)
        } else {
            None
        };
    }
    let env = super::super::cmdline::environ(p).unwrap_or_default();
    let path_var = env
        .split(|&b| b == 0)
        .find_map(|s| s.strip_prefix(b"PATH="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    path_var
        .split(':')
        .filter(|d| d.starts_with('/'))
        .find_map(|d| is_file(&format!("{d}/{head}")))
}

/// **`exe` differs from `argv[0]`** (masquerading: a process renamed itself, or a binary was
/// started under another name): compares the basename of `exe` with the program name of argv\[0\]
/// by [`same_program`]'s rules. Processes without an exe or a readable argv are skipped. Tag
/// `exe-mismatch`; its strength is what the tree can tell:
/// - strong when the exe is deleted or a memfd, or when argv\[0\] names a file of the container's
///   files (looked up as the shell would, in `PATH`) other than the exe, with other bytes;
/// - not reported when that file is the exe (a link such as Debian's
///   `redis-server -> redis-check-rdb`) or has the exe's bytes;
/// - weak otherwise: the tree cannot tell a link that lives in the image (not in the checkpoint;
///   `--rootfs` gives it) from a process that rewrote its own title.
pub fn exe_mismatch(ck: &Checkpoint, p: &Process) -> Vec<Finding> {
    let Some(exe) = &p.exe else { return Vec::new() };
    let (exe_path, fileless) = match &exe.kind {
        FileKind::Reg { path, deleted, .. } => (
            path.trim_end_matches(" (deleted)").to_string(),
            *deleted || path.ends_with(" (deleted)"),
        ),
        FileKind::Memfd { name, .. } => (format!("/memfd:{name}"), true),
        _ => return Vec::new(),
    };
    let Some(args) = argv(p) else {
        return Vec::new();
    };
    let a0 = args.first().map(String::as_str).unwrap_or("");
    let exe_name = basename(&exe_path);
    if same_program(exe_name, argv0_name(a0)) {
        return Vec::new();
    }
    let what = format!("exe is {exe_path} but argv[0] is {a0:?}");
    if fileless {
        return vec![Finding::new(
            p.pid,
            "-",
            "exe-mismatch",
            Strength::Strong,
            format!(
                "{what}; the exe is {}",
                if exe_path.starts_with("/memfd:") {
                    "a memfd"
                } else {
                    "deleted"
                }
            ),
        )];
    }
    let rootfs = &ck.container_fs.rootfs;
    let exe_at = rootfs.resolve(&exe_path, true);
    match argv0_file(ck, p, a0) {
        Some(f) if Some(&f) == exe_at.as_ref() => Vec::new(),
        Some(f) => {
            let bytes = |path: &str| rootfs.file(path).and_then(|d| d.blob().ok());
            let same = match (bytes(&f), bytes(&exe_path)) {
                (Some(a), Some(b)) => a.bytes() == b.bytes(),
                _ => false,
            };
            if same {
                return Vec::new();
            }
            vec![Finding::new(
                p.pid,
                "-",
                "exe-mismatch",
                Strength::Strong,
                format!("{what}; argv[0] is /{f} in the container's files, another program"),
            )]
        }
        None => vec![Finding::new(
            p.pid,
            "-",
            "exe-mismatch",
            Strength::Weak,
            format!(
                "{what}; the tree cannot tell a link in the image (--rootfs can) from a rewritten process title"
            ),
        )],
    }
}

/// Names of kernel threads ([`kthread_like`] says how they match).
const KTHREAD_NAMES: [&str; 32] = [
    "kworker/",
    "ksoftirqd/",
    "kthreadd",
    "migration/",
    "rcu_",
    "rcuc/",
    "rcuog/",
    "rcuop/",
    "kswapd",
    "watchdog/",
    "watchdogd",
    "cpuhp/",
    "irq/",
    "jbd2/",
    "kcompactd",
    "khugepaged",
    "kauditd",
    "oom_reaper",
    "kdevtmpfs",
    "kblockd",
    "writeback",
    "ksmd",
    "khungtaskd",
    "kintegrityd",
    "scsi_eh_",
    "kthrotld",
    "xfsaild/",
    "idle_inject/",
    "netns",
    "mm_percpu_wq",
    "kpsmoused",
    "ipv6_addrconf",
];

/// Whether `name` is a kernel thread's name: a `KTHREAD_NAMES` entry ending in `/` or `_` starts
/// it; any other entry is the whole name, or followed by a number (`kswapd0`) or a `/` / `:` part.
fn kthread_like(name: &str) -> bool {
    let n = name.trim_start_matches('[').trim_end_matches(']');
    KTHREAD_NAMES.iter().any(|k| {
        if k.ends_with('/') || k.ends_with('_') {
            return n.starts_with(k);
        }
        n.strip_prefix(k).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with(['/', ':'])
                || rest.chars().all(|c| c.is_ascii_digit())
        })
    })
}

/// **A kernel thread's name on a process** (spoofing): argv\[0\] in brackets (`[kworker/0:1]`, as
/// `ps` shows kernel threads), or a comm or argv\[0\] that is a kernel thread's name
/// (`kworker/0:1`, `ksoftirqd/0`, `kthreadd`, `kswapd0`, ...; not `netns-helper`). Kernel threads have no memory of their own and
/// are never in a checkpoint: every process here is a user-space process. Tag `kthread-name`
/// (strong).
pub fn kernel_thread_name(p: &Process) -> Vec<Finding> {
    let args = argv(p).unwrap_or_default();
    let a0 = args.first().map(String::as_str).unwrap_or("");
    let bracketed = a0.len() > 2 && a0.starts_with('[') && a0.ends_with(']');
    if !bracketed && !kthread_like(&p.comm) && !kthread_like(a0) {
        return Vec::new();
    }
    let exe = p
        .exe
        .as_ref()
        .map(|e| e.link_text())
        .unwrap_or_else(|| "unknown".into());
    vec![Finding::new(
        p.pid,
        "-",
        "kthread-name",
        Strength::Strong,
        format!(
            "user-space process named like a kernel thread: comm {:?}, argv[0] {a0:?}, exe {exe} (kernel threads are never in a checkpoint)",
            p.comm
        ),
    )]
}

/// **Shells** (an interactive or scripted shell in a service container is worth a look): the
/// process's comm, exe basename or argv\[0\] program name is a shell ([`SHELLS`]), or argv\[0\] names
/// a shell applet of a multi-call binary (`busybox sh`). Tag `shell`.
pub fn shells(p: &Process) -> Vec<Finding> {
    let args = argv(p).unwrap_or_default();
    let a0 = args.first().map(String::as_str).unwrap_or("");
    let mut names = vec![p.comm.as_str(), argv0_name(a0)];
    let exe_name = p
        .exe
        .as_ref()
        .and_then(|e| e.path())
        .map(basename)
        .unwrap_or("");
    names.push(exe_name);
    if MULTICALL.contains(&exe_name) || MULTICALL.contains(&argv0_name(a0)) {
        // `busybox sh -c ...`: the applet is argv\[1\].
        if let Some(a1) = args.get(1) {
            names.push(argv0_name(a1));
        }
    }
    let Some(which) = names.iter().find(|n| SHELLS.contains(&unversioned(n))) else {
        return Vec::new();
    };
    let cmd = if args.is_empty() {
        format!("[{}]", p.comm)
    } else {
        args.join(" ")
    };
    vec![Finding::new(
        p.pid,
        "-",
        "shell",
        Strength::Weak,
        format!("{which} is a shell: {cmd}"),
    )]
}
