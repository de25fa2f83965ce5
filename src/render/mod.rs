//! Render: pure functions from the model to the bytes of every generated file of the tree.
//! No FUSE, no I/O; each function takes model values and returns the whole file.
//!
//! Every file of the tree, with its path pattern and what it holds, is one row of [`files::FILES`]
//! (docs/views.md prints it); a rendered row calls its function, and the fs layer builds and
//! renders the files through the rows (the row of `report.html` alone reads something besides
//! the model: the mount's command line and the clock, which the page quotes). Where each
//! generated file is produced (one source file per family):
//!
//! | file of the mount | function | source file |
//! |---|---|---|
//! | `PID/maps`, names of `PID/memory/*` | [`maps()`], [`vma_range_name()`] | `maps.rs` |
//! | `PID/cmdline`, `PID/environ`, `PID/comm`, `PID/task/TID/comm` | [`cmdline()`], [`environ()`], [`comm()`], [`thread_comm()`] | `cmdline.rs` |
//! | `PID/status`, `PID/task/TID/status` | [`status()`], [`thread_status()`] | `status.rs` |
//! | `PID/stat`, `PID/task/TID/stat`, `PID/statm` | [`stat()`], [`thread_stat()`], [`statm()`] | `stat.rs` |
//! | `PID/auxv` | [`auxv()`] | `auxv.rs` |
//! | `PID/limits` | [`limits()`] | `limits.rs` |
//! | `PID/task/TID/regs` | [`regs()`] | `regs.rs` |
//! | `PID/task/TID/syscall` | [`syscall::syscall()`] | `syscall.rs` |
//! | `PID/fdinfo/N` | [`fdinfo()`] | `fdinfo.rs` |
//! | `PID/net/tcp`, `PID/net/tcp6`, `PID/net/udp`, `PID/net/udp6`, `PID/net/unix` | [`net_of()`] | `net.rs` |
//! | `PID/mountinfo` | [`mountinfo()`] | `mountinfo.rs` |
//! | `PID/uid_map`, `PID/gid_map` | [`crate::model::userns::render_map()`] | `model/userns.rs` |
//! | `PID/pagemap` (the target of the link) | [`pagemap_size()`], [`pagemap_read()`] | `pagemap.rs` |
//! | `PID/core` (the target of the link) | [`elfcore::CoreLayout`] | `elfcore.rs` |
//! | `PID/bash_history` | [`bash_history()`] | `mod.rs`, over `model/bash_history.rs` |
//! | `pstree` | [`pstree()`] | `pstree.rs` |
//! | `sockets` | [`sockets::sockets()`] | `sockets.rs` |
//! | `sysvipc/shm` | [`sysvipc::shm()`] | `sysvipc.rs` |
//! | `timeline` | [`timeline::timeline()`] | `timeline.rs` |
//! | `report.html` (and `ckptfs report`'s page) | [`report::single()`], [`report::page()`] | `report/` (one file per section) |
//! | `checkpoint/info.json`, `checkpoint/manifest.sha256` | [`info_json()`], [`info::manifest_sha256()`] | `info.rs` |
//! | `checkpoint/fields.json`, docs/views.md's field table | [`fields::fields_json()`], [`fields::markdown()`] | `fields/` (the table in `fields/rows.rs`) |
//! | `checkpoint/summary` (and the CLI's `show` table) | [`summary()`], [`show_table()`], [`summary::show_row()`] | `summary.rs` |
//! | the summary's pod / network / CRIU lines | [`container::details()`] | `container.rs` |
//! | `triage` | [`triage::triage()`] (one pure function per rule) | `triage/` |
//!
//! `task.rs` holds what several views share: the kernel's VM accounting rebuilt from the VMAs,
//! the state letter, the signal masks, the comm as the kernel prints it.
//!
//! Principles:
//! - **The kernel's formats** (man 5 proc; fs/proc/*.c of Linux 6.x), checked against the
//!   fixtures' recorded `/proc` (`../shared/fixtures/*/ground-truth.json`), so existing parsers
//!   and habits work.
//! - **Nothing invented**: every field is read from the images, derived by a stated rule, or not
//!   recorded. A named field the images do not record is left out (status); a positional one
//!   (stat, statm, sysvipc/shm, maps) is 0, or the kernel's own "none" value. [`fields`] lists,
//!   for every file and field, which of these it is: one table, served as
//!   `checkpoint/fields.json` and printed in docs/views.md.
//! - **Resident memory**: the images do not record RSS, and the dumped pages are not it. stat
//!   `rss`, statm `resident` / `shared` and sysvipc/shm `rss` are 0; status leaves `VmRSS` /
//!   `Rss*` out. The dumped bytes are in `checkpoint/info.json` and `memparse`.
//! - **State**: CRIU's `alive` is shown as `S (sleeping)` (the task was frozen by CRIU, not
//!   running), `stopped` as `T (stopped)`, `zombie` as `Z (zombie)`, `dead` as `X (dead)`.
//! - **Never panic**, whatever the model holds (end < start, reversed or huge ranges, no mm, no
//!   threads, corrupt trees): handlers run these on FUSE threads, where a panic kills the mount.
//!   Memory reads are bounded ([`cmdline::MAX_RANGE`]).

pub mod auxv;
pub mod catalog;
pub mod cmdline;
pub mod container;
pub mod elfcore;
pub mod fdinfo;
pub mod fields;
pub mod files;
pub mod info;
pub mod limits;
pub mod maps;
pub mod pstree;
pub mod regs;
pub mod report;
pub mod sockets;
pub mod stat;
pub mod status;
pub mod summary;
pub mod syscall;
pub mod sysvipc;
mod task;
// PID/net/*, PID/pagemap, PID/mountinfo
pub mod mountinfo;
pub mod net;
pub mod pagemap;
#[cfg(test)]
pub(crate) mod testutil;
pub mod timeline;
pub mod triage;

pub use auxv::auxv;

/// `PID/bash_history`: the history bash kept in memory, in HISTFILE format (see
/// [`crate::model::bash_history`]).
pub fn bash_history(p: &crate::model::process::Process) -> Vec<u8> {
    use crate::model::bash_history as bh;
    bh::histfile(&bh::recover(p))
}
pub use cmdline::{cmdline, comm, environ, thread_comm};
pub use fdinfo::fdinfo;
pub use info::info_json;
pub use limits::limits;
pub use maps::{maps, vma_name, vma_range_name};
pub use mountinfo::mountinfo;
pub use net::{NetFile, net, net_of};
pub use pagemap::{pagemap_read, pagemap_size};
pub use pstree::pstree;
pub use regs::regs;
pub use stat::{stat, statm, thread_stat};
pub use status::{status, thread_status};
pub use summary::{CheckpointSizes, checkpoint_sizes, show_table, summary};

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use crate::model::memory::{Extent, ExtentData, Memory};
    use crate::model::process::{MmInfo, SigAction, TaskState, VmaName, X86Regs};

    /// Every renderer on hostile model values: no panic, and the text views stay text.
    #[test]
    fn all_renderers_survive_garbage() {
        let mut procs = Vec::new();
        for (i, state) in [
            TaskState::Alive,
            TaskState::Unknown(99),
            TaskState::Zombie,
            TaskState::Dead,
        ]
        .into_iter()
        .enumerate()
        {
            let mut p = process(
                i as u32 + 1,
                vec![
                    vma(u64::MAX - 0xfff, 0x1000, "rwxs", u64::MAX, VmaName::Stack),
                    vma(
                        0x5000,
                        0x4000,
                        "rw-p",
                        0,
                        VmaName::Unknown { file_id: u64::MAX },
                    ),
                    vma(0, u64::MAX, "r-xp", 0, file("", true)),
                ],
                vec![(0x1000, vec![0xff; 64])],
            );
            p.ppid = 4 - i as u32; // a cycle through the whole list
            p.state = state;
            p.comm = "\0\n\\\u{7f}é".repeat(30);
            p.exit_code = u32::MAX;
            p.rlimits = vec![(u64::MAX, 0); 40];
            p.sigactions = vec![
                SigAction {
                    sig: u32::MAX,
                    handler: u64::MAX,
                    ..SigAction::default()
                },
                SigAction {
                    sig: 0,
                    handler: 1,
                    ..SigAction::default()
                },
            ];
            p.umask = Some(u32::MAX);
            p.seccomp_mode = Some(u32::MAX);
            p.threads[0].sched_policy = u32::MAX;
            p.threads[0].sched_prio = u32::MAX;
            p.threads[0].sched_nice = i32::MIN;
            p.threads[0].regs = Some(X86Regs::default());
            p.mm = match i {
                0 => Some(MmInfo {
                    start_code: u64::MAX,
                    end_code: u64::MAX,
                    arg_start: 0x1000,
                    arg_end: 0x1040,
                    env_start: 0x1040,
                    env_end: u64::MAX,
                    auxv: vec![u64::MAX; 7],
                    ..MmInfo::default()
                }),
                1 => Some(MmInfo {
                    arg_start: u64::MAX,
                    arg_end: u64::MAX,
                    env_start: u64::MAX - 1,
                    env_end: u64::MAX,
                    ..MmInfo::default()
                }),
                _ => None,
            };
            if i == 1 {
                p.threads.clear();
                p.memory = Memory::from_extents(vec![Extent {
                    start: u64::MAX - 0x1000,
                    len: 0x1000,
                    data: ExtentData::Broken("broken".into()),
                }])
                .0;
            }
            procs.push(p);
        }
        let ck = checkpoint(procs);
        for p in &ck.processes {
            let _ = super::cmdline(p);
            let _ = super::environ(p);
            let _ = super::comm(p);
            let _ = super::auxv(p);
            for text in [
                super::status(&ck, p),
                super::stat(&ck, p),
                super::statm(p),
                super::maps(p),
                super::limits(p),
            ] {
                assert!(text.is_empty() || text.ends_with(b"\n"));
            }
            for t in &p.threads {
                let _ = super::thread_comm(t);
                let _ = super::thread_status(&ck, p, t);
                let _ = super::thread_stat(&ck, p, t);
                let _ = super::regs(t);
            }
            for v in &p.vmas {
                let _ = super::vma_range_name(v);
            }
        }
        let tree = String::from_utf8(super::pstree(&ck)).unwrap();
        assert_eq!(
            tree.lines().count(),
            4,
            "one line per task, names escaped: {tree}"
        );
        let _ = super::summary(&ck);
        let _ = super::info_json(&ck);
    }
}
