//! The table of [`super::ROWS`]: one row per field (or run of positional fields) of every
//! generated file, grouped by file, each saying where its value comes from.

use super::{Row, Source, n, r};
use Source::{Derived, Image, Omitted, Placeholder};

const STAT: &[&str] = &["PID/stat", "PID/task/TID/stat"];
const STATM: &[&str] = &["PID/statm"];
const STATUS: &[&str] = &["PID/status", "PID/task/TID/status"];
const MAPS: &[&str] = &["PID/maps"];
const SHM: &[&str] = &["sysvipc/shm"];
const LIMITS: &[&str] = &["PID/limits"];
const MOUNTINFO: &[&str] = &["PID/mountinfo"];
const TCP: &[&str] = &["PID/net/tcp", "PID/net/tcp6"];
const UDP: &[&str] = &["PID/net/udp", "PID/net/udp6"];
const UNIX: &[&str] = &["PID/net/unix"];
const SOCKETS: &[&str] = &["sockets"];
const FDINFO: &[&str] = &["PID/fdinfo/N"];
const PAGEMAP: &[&str] = &["PID/pagemap"];
const CORE: &[&str] = &["PID/core"];
const INFO: &[&str] = &["checkpoint/info.json"];

/// Every field of every generated file (the `rootfs/`, `memory/`, `buffers/` and
/// `checkpoint/images/` files are bytes of the checkpoint, not fields).
pub const ROWS: &[Row] = &[
    // PID/stat, PID/task/TID/stat: do_task_stat() of fs/proc/array.c.
    n(
        STAT,
        1,
        &["pid"],
        Image("pstree.img `pid` (a thread: `threads[]`)"),
        "the PID inside the container",
    ),
    r(
        STAT,
        2,
        &["comm"],
        Image("core-PID.img `tc.comm` (a thread: `thread_core.comm`)"),
    ),
    r(
        STAT,
        3,
        &["state"],
        Derived(
            "core-PID.img `tc.task_state`: alive `S` (frozen by CRIU), stopped `T`, zombie `Z`, dead `X`",
        ),
    ),
    r(
        STAT,
        4,
        &["ppid", "pgrp", "session"],
        Image("pstree.img `ppid`, `pgid`, `sid`"),
    ),
    r(
        STAT,
        7,
        &["tty_nr", "tpgid"],
        Derived(
            "the terminal of tty-info.img whose `sid` is the process's session (a pty pair: the slave): its `rdev` and `pgrp`; `0 -1` (no controlling terminal) when the checkpoint holds none",
        ),
    ),
    r(STAT, 9, &["flags"], Image("core-PID.img `tc.flags`")),
    r(
        STAT,
        10,
        &["minflt", "cminflt", "majflt", "cmajflt"],
        Placeholder("0"),
    ),
    r(
        STAT,
        14,
        &["utime", "stime", "cutime", "cstime"],
        Placeholder("0"),
    ),
    r(
        STAT,
        18,
        &["priority"],
        Derived(
            "the kernel's formula from core-PID.img `thread_core.sched_policy`, `sched_prio`, `sched_nice`",
        ),
    ),
    r(
        STAT,
        19,
        &["nice"],
        Image("core-PID.img `thread_core.sched_nice`"),
    ),
    r(
        STAT,
        20,
        &["num_threads"],
        Derived("the number of threads in pstree.img"),
    ),
    r(
        STAT,
        21,
        &["itrealvalue"],
        Derived("0, as the kernel prints for every task"),
    ),
    n(
        STAT,
        22,
        &["starttime"],
        Placeholder("0"),
        "CRIU reserves a field for it but does not write it",
    ),
    r(
        STAT,
        23,
        &["vsize"],
        Derived("bytes of the VMAs of mm-PID.img but the vsyscall page (`total_vm`)"),
    ),
    n(
        STAT,
        24,
        &["rss"],
        Placeholder("0"),
        "the dumped pages are not the resident set",
    ),
    n(
        STAT,
        25,
        &["rsslim"],
        Image("core-PID.img `tc.rlimits[RLIMIT_RSS].cur`"),
        "unlimited when the image has no limits",
    ),
    r(
        STAT,
        26,
        &["startcode", "endcode", "startstack"],
        Image("mm-PID.img `mm_start_code`, `mm_end_code`, `mm_start_stack` (0 without mm-PID.img)"),
    ),
    r(
        STAT,
        29,
        &["kstkesp", "kstkeip"],
        Derived(
            "0, as the kernel prints for a task that is not dumping core (the saved registers are in `task/TID/regs`)",
        ),
    ),
    r(
        STAT,
        31,
        &["signal"],
        Image("core-PID.img `thread_core.signals_p` (the signal numbers queued for the thread)"),
    ),
    r(
        STAT,
        32,
        &["blocked"],
        Image("core-PID.img `thread_core.blk_sigset`"),
    ),
    r(
        STAT,
        33,
        &["sigignore", "sigcatch"],
        Derived(
            "core-PID.img `tc.sigactions`: handler 1 (`SIG_IGN`) ignored, other non-zero caught",
        ),
    ),
    r(STAT, 35, &["wchan"], Placeholder("0")),
    r(
        STAT,
        36,
        &["nswap", "cnswap"],
        Derived("0, as the kernel prints for every task"),
    ),
    n(
        STAT,
        38,
        &["exit_signal"],
        Derived("17 (`SIGCHLD`) for a process and its main thread, -1 for other threads"),
        "CRIU does not record it; it restores every process with `SIGCHLD`",
    ),
    r(STAT, 39, &["processor"], Placeholder("0")),
    r(
        STAT,
        40,
        &["rt_priority", "policy"],
        Image("core-PID.img `thread_core.sched_prio`, `sched_policy`"),
    ),
    r(
        STAT,
        42,
        &["delayacct_blkio_ticks", "guest_time", "cguest_time"],
        Placeholder("0"),
    ),
    r(
        STAT,
        45,
        &[
            "start_data",
            "end_data",
            "start_brk",
            "arg_start",
            "arg_end",
            "env_start",
            "env_end",
        ],
        Image("mm-PID.img `mm_start_data` .. `mm_env_end` (0 without mm-PID.img)"),
    ),
    r(
        STAT,
        52,
        &["exit_code"],
        Image("core-PID.img `tc.exit_code`"),
    ),
    // PID/statm: task_statm().
    r(
        STATM,
        1,
        &["size"],
        Derived("pages of the VMAs of mm-PID.img but the vsyscall page (`total_vm`)"),
    ),
    n(
        STATM,
        2,
        &["resident", "shared"],
        Placeholder("0"),
        "the dumped pages are not the resident set",
    ),
    r(
        STATM,
        4,
        &["text"],
        Derived("pages from mm-PID.img `mm_start_code` to `mm_end_code`, as task_statm()"),
    ),
    r(
        STATM,
        5,
        &["lib"],
        Derived("0, as the kernel prints for every task"),
    ),
    r(
        STATM,
        6,
        &["data"],
        Derived("pages of the writable private and the stack VMAs (`data_vm + stack_vm`)"),
    ),
    r(
        STATM,
        7,
        &["dt"],
        Derived("0, as the kernel prints for every task"),
    ),
    // PID/status, PID/task/TID/status: proc_pid_status(), by name.
    r(
        STATUS,
        0,
        &["Name"],
        Image("core-PID.img `tc.comm` (a thread: `thread_core.comm`)"),
    ),
    r(
        STATUS,
        0,
        &["Umask"],
        Image("fs-PID.img `umask` (line left out without it)"),
    ),
    r(
        STATUS,
        0,
        &["State"],
        Derived("as stat's `state`, with its name"),
    ),
    r(
        STATUS,
        0,
        &["Tgid", "Pid", "PPid"],
        Image("pstree.img `pid`, the thread's id, `ppid`"),
    ),
    r(
        STATUS,
        0,
        &["TracerPid"],
        Derived("0: CRIU cannot seize a traced task, so a dumped task had no tracer"),
    ),
    r(
        STATUS,
        0,
        &["Uid", "Gid"],
        Image(
            "core-PID.img `thread_core.creds` `uid euid suid fsuid`, `gid egid sgid fsgid` (lines left out without creds)",
        ),
    ),
    n(
        STATUS,
        0,
        &["FDSize"],
        Derived(
            "the smallest fd table the kernel grows for the highest fd of fdinfo-N.img (64, then 128 x a power of two)",
        ),
        "the live table may be larger: the kernel never shrinks it",
    ),
    r(
        STATUS,
        0,
        &["Groups"],
        Image("core-PID.img `thread_core.creds.groups`"),
    ),
    n(
        STATUS,
        0,
        &["NStgid", "NSpid", "NSpgid", "NSsid"],
        Derived("pstree.img's ids, one level: the PIDs inside the container"),
        "the host's PIDs are not recorded",
    ),
    r(
        STATUS,
        0,
        &["Kthread"],
        Derived("0: kernel threads are never dumped"),
    ),
    r(
        STATUS,
        0,
        &["VmSize", "VmLck", "VmData", "VmStk", "VmExe", "VmLib"],
        Derived(
            "the VMAs of mm-PID.img, as the kernel's vm_stat_account() and task_mem() count them",
        ),
    ),
    n(
        STATUS,
        0,
        &["THP_enabled"],
        Derived("mm-PID.img `thp_disabled`: 0 when set, else 1 (line left out when not recorded)"),
        "1 assumes the dumping kernel had transparent huge pages, as every fixture's did",
    ),
    r(
        STATUS,
        0,
        &["Threads"],
        Derived("the number of threads in pstree.img"),
    ),
    r(
        STATUS,
        0,
        &["SigPnd"],
        Image("core-PID.img `thread_core.signals_p`"),
    ),
    r(STATUS, 0, &["ShdPnd"], Image("core-PID.img `tc.signals_s`")),
    r(
        STATUS,
        0,
        &["SigBlk"],
        Image("core-PID.img `thread_core.blk_sigset`"),
    ),
    r(
        STATUS,
        0,
        &["SigIgn", "SigCgt"],
        Derived(
            "core-PID.img `tc.sigactions`: handler 1 (`SIG_IGN`) ignored, other non-zero caught",
        ),
    ),
    r(
        STATUS,
        0,
        &[
            "CapInh",
            "CapPrm",
            "CapEff",
            "CapBnd",
            "CapAmb",
            "NoNewPrivs",
        ],
        Image("core-PID.img `thread_core.creds` `cap_inh` .. `cap_amb`, `no_new_privs`"),
    ),
    r(
        STATUS,
        0,
        &["Seccomp"],
        Image("core-PID.img `thread_core.seccomp_mode` (old images: `tc.old_seccomp_mode`)"),
    ),
    n(
        STATUS,
        0,
        &[
            "VmPeak",
            "VmHWM",
            "VmRSS",
            "RssAnon",
            "RssFile",
            "RssShmem",
            "VmPin",
            "VmPTE",
            "VmSwap",
            "HugetlbPages",
        ],
        Omitted,
        "the resident set and page tables are not recorded",
    ),
    r(
        STATUS,
        0,
        &[
            "Ngid",
            "CoreDumping",
            "untag_mask",
            "SigQ",
            "Seccomp_filters",
            "Speculation_Store_Bypass",
            "SpeculationIndirectBranch",
            "Cpus_allowed",
            "Cpus_allowed_list",
            "Mems_allowed",
            "Mems_allowed_list",
            "voluntary_ctxt_switches",
            "nonvoluntary_ctxt_switches",
            "x86_Thread_features",
            "x86_Thread_features_locked",
        ],
        Omitted,
    ),
    // PID/maps: show_map_vma().
    r(
        MAPS,
        1,
        &["address"],
        Image("mm-PID.img `vmas[].start`, `end`"),
    ),
    r(
        MAPS,
        2,
        &["perms"],
        Image("mm-PID.img `vmas[].prot`, `flags` (`MAP_SHARED`: `s`)"),
    ),
    r(MAPS, 3, &["offset"], Image("mm-PID.img `vmas[].pgoff`")),
    n(
        MAPS,
        4,
        &["dev"],
        Placeholder("00:00"),
        "read from the images for a deleted file CRIU saved (ghost-file-N.img `dev`); else not recorded: for a file of an overlay layer the kernel shows the layer's filesystem, not the mount's (mountpoints-N.img `root_dev`)",
    ),
    n(
        MAPS,
        5,
        &["inode"],
        Placeholder("0"),
        "read from the images, as the kernel shows it, for a deleted file CRIU saved (ghost-file-N.img `ino`) and for shared memory: a SysV segment's id and a shared anonymous mapping's shmem inode (mm-PID.img `vmas[].shmid`), a memfd's inode (memfd.img `shmid`)",
    ),
    r(
        MAPS,
        6,
        &["pathname"],
        Image(
            "files.img / reg-files.img `name` of the mapped file (`(deleted)`: unlinked), else the VMA's kind in mm-PID.img `vmas[].status` (`[heap]`, `[stack]`, `[vdso]`, ...)",
        ),
    ),
    // sysvipc/shm: sysvipc_shm_proc_show().
    r(
        SHM,
        1,
        &["key", "shmid", "perms"],
        Image("ipcns-shm-N.img `desc.key`, `desc.id`, `desc.mode`"),
    ),
    r(SHM, 4, &["size"], Image("ipcns-shm-N.img `size`")),
    r(SHM, 5, &["cpid", "lpid"], Placeholder("0")),
    n(
        SHM,
        7,
        &["nattch"],
        Derived("the checkpointed processes that map the segment (mm-PID.img `vmas[].shmid`)"),
        "a process outside the checkpoint may have attached it too",
    ),
    r(
        SHM,
        8,
        &["uid", "gid", "cuid", "cgid"],
        Image("ipcns-shm-N.img `desc.uid`, `desc.gid`, `desc.cuid`, `desc.cgid`"),
    ),
    r(SHM, 12, &["atime", "dtime", "ctime"], Placeholder("0")),
    n(
        SHM,
        15,
        &["rss", "swap"],
        Placeholder("0"),
        "the segment's dumped bytes (pagemap-shmem-N.img) are in `sysvipc/shm-<id>`",
    ),
    // PID/limits: proc_pid_limits().
    r(
        LIMITS,
        0,
        &["Limit", "Units"],
        Derived("the kernel's names and units, in RLIMIT order"),
    ),
    r(
        LIMITS,
        0,
        &["Soft Limit", "Hard Limit"],
        Image("core-PID.img `tc.rlimits[].cur`, `max` (rows the image has)"),
    ),
    // PID/auxv, cmdline, environ, comm.
    n(
        &["PID/auxv"],
        0,
        &["auxv"],
        Image("mm-PID.img `mm_saved_auxv`"),
        "an `AT_NULL` pair is added when the image's vector has none",
    ),
    r(
        &["PID/cmdline", "PID/environ"],
        0,
        &["bytes"],
        Derived(
            "the dumped memory (pages-N.img) at mm-PID.img `mm_arg_start`..`mm_arg_end` / `mm_env_start`..`mm_env_end`, by the kernel's rules (`setproctitle()` included)",
        ),
    ),
    r(
        &["PID/comm", "PID/task/TID/comm"],
        0,
        &["comm"],
        Image("core-PID.img `tc.comm` (a thread: `thread_core.comm`)"),
    ),
    r(
        &["PID/uid_map", "PID/gid_map"],
        0,
        &["inside", "outside", "count"],
        Image("userns-N.img `uid_map[]` / `gid_map[]` `first`, `lower_first`, `count`"),
    ),
    // task/TID/regs, syscall.
    r(
        &["PID/task/TID/regs"],
        0,
        &["registers"],
        Image("core-PID.img / core-TID.img `thread_info.gpregs` (`ti_aarch64`, `ti_riscv64`)"),
    ),
    r(
        &["PID/task/TID/syscall"],
        0,
        &["nr", "args", "sp", "pc"],
        Derived("the saved registers: `orig_rax`, `rdi rsi rdx r10 r8 r9`, `rsp`, `rip`"),
    ),
    // PID/uid_map, PID/gid_map: proc_id_map_show(), only with the tree's own user namespace.
    r(
        &["PID/uid_map", "PID/gid_map"],
        1,
        &["first", "lower_first", "count"],
        Image("userns-N.img `uid_map` / `gid_map` extents, as CRIU read them from the host"),
    ),
    // PID/mountinfo: show_mountinfo().
    r(
        MOUNTINFO,
        1,
        &[
            "mount_id",
            "parent_id",
            "major:minor",
            "root",
            "mount_point",
        ],
        Image("mountpoints-N.img `mnt_id`, `parent_mnt_id`, `root_dev`, `root`, `mountpoint`"),
    ),
    r(
        MOUNTINFO,
        6,
        &["mount_options"],
        Derived("mountpoints-N.img `flags` as the kernel names them"),
    ),
    n(
        MOUNTINFO,
        7,
        &["optional_fields"],
        Image("mountpoints-N.img `shared_id`, `master_id`"),
        "`propagate_from` and `unbindable` are not recorded: left out",
    ),
    r(
        MOUNTINFO,
        0,
        &["fstype", "source", "super_options"],
        Image("mountpoints-N.img `fstype`, `source`, `sb_flags` and `options`"),
    ),
    // PID/net/tcp, tcp6: tcp4_seq_show().
    r(TCP, 1, &["sl"], Derived("the line number")),
    r(
        TCP,
        2,
        &["local_address", "rem_address", "st"],
        Image("inetsk.img `src_addr`, `src_port`, `dst_addr`, `dst_port`, `state`"),
    ),
    n(
        TCP,
        5,
        &["tx_queue:rx_queue"],
        Image("tcp-stream-INO.img `unsq_len` + `outq_len`, `inq_len`"),
        "0:0 without the image (not `--tcp-established`)",
    ),
    r(TCP, 6, &["tr:tm->when"], Placeholder("00:00000000")),
    r(TCP, 7, &["retrnsmt"], Placeholder("00000000")),
    n(
        TCP,
        8,
        &["uid"],
        Derived("the fsuid of the first process holding the socket"),
        "the socket's owner is not recorded",
    ),
    r(TCP, 9, &["timeout"], Placeholder("0")),
    r(TCP, 10, &["inode"], Image("inetsk.img `ino`")),
    r(TCP, 11, &["refcnt"], Placeholder("1")),
    r(
        TCP,
        12,
        &["pointer"],
        Derived("zeros, as the kernel prints for an unprivileged reader"),
    ),
    r(TCP, 13, &["rto", "ato", "quick", "cwnd"], Placeholder("0")),
    r(TCP, 17, &["ssthresh"], Placeholder("0 (listening), -1")),
    // PID/net/udp, udp6.
    r(
        UDP,
        1,
        &["sl"],
        Derived("the line number (the kernel prints the hash bucket)"),
    ),
    r(
        UDP,
        2,
        &["local_address", "rem_address", "st"],
        Image("inetsk.img `src_addr`, `src_port`, `dst_addr`, `dst_port`, `state`"),
    ),
    r(
        UDP,
        5,
        &["tx_queue:rx_queue"],
        Placeholder("00000000:00000000"),
    ),
    r(UDP, 6, &["tr:tm->when"], Placeholder("00:00000000")),
    r(UDP, 7, &["retrnsmt"], Placeholder("00000000")),
    r(
        UDP,
        8,
        &["uid"],
        Derived("the fsuid of the first process holding the socket"),
    ),
    r(UDP, 9, &["timeout"], Placeholder("0")),
    r(UDP, 10, &["inode"], Image("inetsk.img `ino`")),
    r(UDP, 11, &["ref"], Placeholder("1")),
    r(
        UDP,
        12,
        &["pointer"],
        Derived("zeros, as the kernel prints for an unprivileged reader"),
    ),
    r(UDP, 13, &["drops"], Placeholder("0")),
    // PID/net/unix: unix_seq_show().
    r(
        UNIX,
        1,
        &["Num"],
        Derived("zeros, as the kernel prints for an unprivileged reader"),
    ),
    r(UNIX, 2, &["RefCount"], Placeholder("00000001")),
    r(
        UNIX,
        3,
        &["Protocol"],
        Derived("0, as the kernel prints for every unix socket"),
    ),
    r(
        UNIX,
        4,
        &["Flags"],
        Derived("`__SO_ACCEPTCON` for a listening socket (unixsk.img `state`)"),
    ),
    r(UNIX, 5, &["Type"], Image("unixsk.img `type`")),
    r(
        UNIX,
        6,
        &["St"],
        Derived("unixsk.img `state`: established `03` (connected), else `01`"),
    ),
    r(
        UNIX,
        7,
        &["Inode", "Path"],
        Image("unixsk.img `ino`, `name`"),
    ),
    // sockets (ss -tuanxp).
    r(
        SOCKETS,
        0,
        &["Netid", "State", "Local Address:Port", "Peer Address:Port"],
        Image("inetsk.img / unixsk.img type, state, addresses, ports, inode and peer"),
    ),
    n(
        SOCKETS,
        0,
        &["Recv-Q", "Send-Q"],
        Image(
            "tcp-stream-INO.img (established TCP), sk-queues.img (unix), the backlog (listening)",
        ),
        "0 where none of these is recorded",
    ),
    r(
        SOCKETS,
        0,
        &["Process"],
        Derived("every fd of fdinfo-N.img holding the socket, with its process's comm and PID"),
    ),
    // PID/fdinfo/N: seq_show() and the kinds' show_fdinfo().
    r(
        FDINFO,
        0,
        &["pos", "flags", "mnt_id", "ino"],
        Image(
            "the file's image (reg-files.img, pipes.img, fifo.img, memfd.img, tty.img, inetsk.img, unixsk.img, ...): `pos`, `flags` (with `O_CLOEXEC` from fdinfo-N.img), `mnt_id`, the object's inode; a line is left out when its image has no value",
        ),
    ),
    r(
        FDINFO,
        0,
        &["kind lines"],
        Image(
            "eventfd.img `counter`, eventpoll-tfd.img, signalfd.img `sigmask`, timerfd.img, inotify-wd.img, pidfd.img, tty-info.img `pty.index` (`tty-index`, on a pty master): byte for byte",
        ),
    ),
    r(
        FDINFO,
        0,
        &[
            "inode numbers of regular files and terminals",
            "internal mount ids",
            "eventfd-id",
            "eventfd-semaphore",
            "scm_fds",
        ],
        Omitted,
    ),
    // PID/pagemap.
    r(
        PAGEMAP,
        0,
        &["bit 63 present"],
        Derived("the page is dumped (pagemap-PID.img, pages-N.img)"),
    ),
    r(
        PAGEMAP,
        0,
        &["bit 61 file-page / shared-anon"],
        Derived(
            "a dumped page of a shared mapping, or a page of a file mapping filled from `rootfs/`",
        ),
    ),
    r(
        PAGEMAP,
        0,
        &["bit 58 guard region"],
        Image("mm-PID.img guard VMAs (`VMA_AREA_GUARD`)"),
    ),
    r(PAGEMAP, 0, &["bits 55-57, 62", "PFN"], Placeholder("0")),
    // PID/core.
    r(
        CORE,
        0,
        &[
            "PT_LOAD",
            "NT_PRSTATUS registers",
            "NT_FPREGSET",
            "NT_X86_XSTATE",
            "NT_AUXV",
            "NT_FILE",
        ],
        Image(
            "mm-PID.img VMAs, pages-N.img, core-TID.img `thread_info`, `mm_saved_auxv`, files.img",
        ),
    ),
    r(
        CORE,
        0,
        &["NT_PRSTATUS pr_cursig", "NT_PRPSINFO", "NT_SIGINFO"],
        Derived(
            "the stop signal of a stopped task, else 0; the ids, state, comm and command line as stat and cmdline",
        ),
    ),
    r(
        CORE,
        0,
        &["NT_PRSTATUS pr_utime pr_stime pr_cutime pr_cstime"],
        Placeholder("0"),
    ),
    // checkpoint/info.json.
    r(
        INFO,
        0,
        &[
            "engine",
            "checkpoint_image",
            "container_name",
            "container_id",
            "image",
            "image_id",
            "runtime",
            "created",
            "checkpointed",
            "pod",
            "namespace",
            "network",
        ],
        Image(
            "config.dump, spec.dump (annotations), network.status of the archive, the OCI image it came wrapped in; null when absent (`checkpoint_image`: left out)",
        ),
    ),
    r(
        INFO,
        0,
        &["criu_image_version", "dump_uptime_us", "inventory", "arch"],
        Image("inventory.img, core-PID.img `mtype`"),
    ),
    r(
        INFO,
        0,
        &["criu_version", "kernel", "dump_stats"],
        Image("dump.log's first lines, stats-dump"),
    ),
    r(
        INFO,
        0,
        &["images_written"],
        Image("the modification time of inventory.img (archive header or directory)"),
    ),
    r(
        INFO,
        0,
        &[
            "source",
            "checkpoint_size",
            "processes",
            "threads",
            "memory",
            "warnings",
        ],
        Derived(
            "computed by ckptfs from the input: its path, kind, size, SHA-256 and manifest; the images' sizes; counts; the dumped bytes, each page once",
        ),
    ),
    r(
        &["checkpoint/manifest.sha256"],
        0,
        &["sha256", "path"],
        Derived(
            "computed by ckptfs: the SHA-256 of every file of an image-directory input (an archive: `info.json` `source.sha256`)",
        ),
    ),
    r(
        &["PID/bash_history"],
        0,
        &["#<seconds>", "entry"],
        Derived(
            "bash's history list found in its dumped private anonymous memory (pages-N.img), timestamps as bash recorded them",
        ),
    ),
    r(
        &["checkpoint/summary", "pstree"],
        0,
        &["every column"],
        Derived("the same facts as info.json, stat (`state`) and cmdline"),
    ),
];
