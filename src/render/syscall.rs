//! `PID/task/TID/syscall` from the saved registers, in the kernel's format
//! (`proc_pid_syscall()` of fs/proc/base.c): `nr arg1 .. arg6 sp pc`, or `-1 sp pc` when the
//! thread was not in a system call; and x86_64 system call names, for `inspect`.
//!
//! x86_64: the number is `orig_rax` (the kernel's `syscall_get_nr()`), the arguments `rdi rsi rdx
//! r10 r8 r9`. CRIU saves the registers of a thread stopped in a system call as the kernel
//! holds them, so the line is the one `/proc` showed while the task was frozen.

use crate::model::Thread;

/// The text of `task/TID/syscall` (empty when the thread's registers were not dumped).
pub fn syscall(t: &Thread) -> Vec<u8> {
    let Some(r) = &t.regs else {
        return Vec::new();
    };
    let nr = r.orig_ax as i64;
    let line = if nr < 0 {
        format!("{nr} 0x{:x} 0x{:x}\n", r.sp, r.ip)
    } else {
        format!(
            "{nr} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x} 0x{:x}\n",
            r.di, r.si, r.dx, r.r10, r.r8, r.r9, r.sp, r.ip
        )
    };
    line.into_bytes()
}

/// The x86_64 name of system call `nr` (`pause`, `read`, ...), if it has one.
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    let n = usize::try_from(nr).ok()?;
    SYSCALLS.get(n).copied().filter(|s| !s.is_empty())
}

/// The thread's system call at the dump (`orig_rax`), as `name (nr)`, or None when it was not
/// in one or its registers are unknown.
pub fn thread_syscall(t: &Thread) -> Option<String> {
    let nr = t.regs.as_ref()?.orig_ax as i64;
    if nr < 0 {
        return None;
    }
    Some(match syscall_name(nr) {
        Some(n) => format!("{n} ({nr})"),
        None => format!("syscall {nr}"),
    })
}

/// x86_64 system call names by number (`arch/x86/entry/syscalls/syscall_64.tbl`, common and
/// 64-bit entries); unused numbers are empty.
#[rustfmt::skip]
static SYSCALLS: [&str; 451] = [
    "read", "write", "open", "close", "stat", "fstat",
    "lstat", "poll", "lseek", "mmap", "mprotect", "munmap",
    "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "pread64",
    "pwrite64", "readv", "writev", "access", "pipe", "select",
    "sched_yield", "mremap", "msync", "mincore", "madvise", "shmget",
    "shmat", "shmctl", "dup", "dup2", "pause", "nanosleep",
    "getitimer", "alarm", "setitimer", "getpid", "sendfile", "socket",
    "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "shutdown", "bind", "listen", "getsockname", "getpeername", "socketpair",
    "setsockopt", "getsockopt", "clone", "fork", "vfork", "execve",
    "exit", "wait4", "kill", "uname", "semget", "semop",
    "semctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate",
    "getdents", "getcwd", "chdir", "fchdir", "rename", "mkdir",
    "rmdir", "creat", "link", "unlink", "symlink", "readlink",
    "chmod", "fchmod", "chown", "fchown", "lchown", "umask",
    "gettimeofday", "getrlimit", "getrusage", "sysinfo", "times", "ptrace",
    "getuid", "syslog", "getgid", "setuid", "setgid", "geteuid",
    "getegid", "setpgid", "getppid", "getpgrp", "setsid", "setreuid",
    "setregid", "getgroups", "setgroups", "setresuid", "getresuid", "setresgid",
    "getresgid", "getpgid", "setfsuid", "setfsgid", "getsid", "capget",
    "capset", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "sigaltstack",
    "utime", "mknod", "uselib", "personality", "ustat", "statfs",
    "fstatfs", "sysfs", "getpriority", "setpriority", "sched_setparam", "sched_getparam",
    "sched_setscheduler", "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "mlock",
    "munlock", "mlockall", "munlockall", "vhangup", "modify_ldt", "pivot_root",
    "_sysctl", "prctl", "arch_prctl", "adjtimex", "setrlimit", "chroot",
    "sync", "acct", "settimeofday", "mount", "umount2", "swapon",
    "swapoff", "reboot", "sethostname", "setdomainname", "iopl", "ioperm",
    "create_module", "init_module", "delete_module", "get_kernel_syms", "query_module", "quotactl",
    "nfsservctl", "getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security",
    "gettid", "readahead", "setxattr", "lsetxattr", "fsetxattr", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
    "lremovexattr", "fremovexattr", "tkill", "time", "futex", "sched_setaffinity",
    "sched_getaffinity", "set_thread_area", "io_setup", "io_destroy", "io_getevents", "io_submit",
    "io_cancel", "get_thread_area", "lookup_dcookie", "epoll_create", "epoll_ctl_old", "epoll_wait_old",
    "remap_file_pages", "getdents64", "set_tid_address", "restart_syscall", "semtimedop", "fadvise64",
    "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "clock_settime",
    "clock_gettime", "clock_getres", "clock_nanosleep", "exit_group", "epoll_wait", "epoll_ctl",
    "tgkill", "utimes", "vserver", "mbind", "set_mempolicy", "get_mempolicy",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "kexec_load", "waitid", "add_key", "request_key", "keyctl", "ioprio_set",
    "ioprio_get", "inotify_init", "inotify_add_watch", "inotify_rm_watch", "migrate_pages", "openat",
    "mkdirat", "mknodat", "fchownat", "futimesat", "newfstatat", "unlinkat",
    "renameat", "linkat", "symlinkat", "readlinkat", "fchmodat", "faccessat",
    "pselect6", "ppoll", "unshare", "set_robust_list", "get_robust_list", "splice",
    "tee", "sync_file_range", "vmsplice", "move_pages", "utimensat", "epoll_pwait",
    "signalfd", "timerfd_create", "eventfd", "fallocate", "timerfd_settime", "timerfd_gettime",
    "accept4", "signalfd4", "eventfd2", "epoll_create1", "dup3", "pipe2",
    "inotify_init1", "preadv", "pwritev", "rt_tgsigqueueinfo", "perf_event_open", "recvmmsg",
    "fanotify_init", "fanotify_mark", "prlimit64", "name_to_handle_at", "open_by_handle_at", "clock_adjtime",
    "syncfs", "sendmmsg", "setns", "getcpu", "process_vm_readv", "process_vm_writev",
    "kcmp", "finit_module", "sched_setattr", "sched_getattr", "renameat2", "seccomp",
    "getrandom", "memfd_create", "kexec_file_load", "bpf", "execveat", "userfaultfd",
    "membarrier", "mlock2", "copy_file_range", "preadv2", "pwritev2", "pkey_mprotect",
    "pkey_alloc", "pkey_free", "statx", "io_pgetevents", "rseq", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "", "",
    "", "", "", "", "pidfd_send_signal", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "pidfd_open", "clone3", "close_range", "openat2",
    "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2", "mount_setattr", "quotactl_fd",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "memfd_secret", "process_mrelease", "futex_waitv",
    "set_mempolicy_home_node",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::process::X86Regs;

    fn thread(regs: X86Regs) -> Thread {
        Thread {
            tid: 8,
            regs: Some(regs),
            ..Thread::default()
        }
    }

    /// podman-kitchen's reader thread, blocked in read(2) (its recorded /proc line).
    #[test]
    fn kernel_format() {
        let t = thread(X86Regs {
            orig_ax: 0,
            di: 0x11,
            si: 0x7fd0_f24f_924f,
            dx: 1,
            sp: 0x7fd0_f24f_9210,
            ip: 0x43_dc1a,
            ..X86Regs::default()
        });
        assert_eq!(
            syscall(&t),
            b"0 0x11 0x7fd0f24f924f 0x1 0x0 0x0 0x0 0x7fd0f24f9210 0x43dc1a\n"
        );
        assert_eq!(thread_syscall(&t).as_deref(), Some("read (0)"));
        let t = thread(X86Regs {
            orig_ax: u64::MAX,
            sp: 0x10,
            ip: 0x20,
            ..X86Regs::default()
        });
        assert_eq!(syscall(&t), b"-1 0x10 0x20\n");
        assert_eq!(thread_syscall(&t), None);
        assert_eq!(syscall_name(34), Some("pause"));
        assert_eq!(syscall_name(230), Some("clock_nanosleep"));
        assert_eq!(syscall(&Thread::default()), b"");
    }
}
