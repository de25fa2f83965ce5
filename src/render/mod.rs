//! Render: pure functions from the model to the bytes of every generated file of the tree.
//! No FUSE, no I/O; each function takes model values and returns the whole file.
//!
//! Where each view is produced (one file per family):
//!
//! | file of the mount | function | source file |
//! |---|---|---|
//! | `PID/maps`, names of `PID/memory/*` | [`maps()`], [`vma_range_name()`] | `maps.rs` |
//! | `PID/cmdline`, `PID/environ`, `PID/comm`, `task/TID/comm` | [`cmdline()`], [`environ()`], [`comm()`], [`thread_comm()`] | `cmdline.rs` |
//! | `PID/status`, `task/TID/status` | [`status()`], [`thread_status()`] | `status.rs` |
//! | `PID/stat`, `task/TID/stat`, `PID/statm` | [`stat()`], [`thread_stat()`], [`statm()`] | `stat.rs` |
//! | `PID/auxv` | [`auxv()`] | `auxv.rs` |
//! | `PID/limits` | [`limits()`] | `limits.rs` |
//! | `task/TID/regs` | [`regs()`] | `regs.rs` |
//! | `PID/fdinfo/N` | [`fdinfo()`] | `fdinfo.rs` |
//! | `pstree` | [`pstree()`] | `pstree.rs` |
//! | `checkpoint/info.json` | [`info_json()`] | `info.rs` |
//! | `checkpoint/summary` (and the CLI's `show` table) | [`summary()`], [`show_table()`], [`human_size()`] | `summary.rs` |
//!
//! `task.rs` holds what several views share: the kernel's VM accounting rebuilt from the VMAs,
//! the state letter, the signal masks, the comm as the kernel prints it.
//!
//! Principles:
//! - **The kernel's formats** (man 5 proc; fs/proc/*.c of Linux 6.x), checked against the
//!   fixtures' recorded `/proc` (`/work/shared/fixtures/*/ground-truth.json`), so existing parsers
//!   and habits work.
//! - **Nothing invented**: a named field the images do not record is left out (status); a
//!   positional field (stat, statm) is 0, or the kernel's own "none" value. Each file's docs say
//!   which fields are printed and which are not.
//! - **Resident memory**: the images do not record RSS. Positional RSS fields (stat `rss`, statm
//!   `resident`) give the *dumped* pages; status leaves `VmRSS`/`Rss*` out.
//! - **State**: CRIU's `alive` is shown as `S (sleeping)` (the task was frozen by CRIU, not
//!   running), `stopped` as `T (stopped)`, `zombie` as `Z (zombie)`, `dead` as `X (dead)`.
//! - **Never panic**, whatever the model holds (end < start, reversed or huge ranges, no mm, no
//!   threads, corrupt trees): handlers run these on FUSE threads, where a panic kills the mount.
//!   Memory reads are bounded ([`cmdline::MAX_RANGE`]).

pub mod auxv;
pub mod cmdline;
pub mod fdinfo;
pub mod info;
pub mod limits;
pub mod maps;
pub mod pstree;
pub mod regs;
pub mod stat;
pub mod status;
pub mod summary;
mod task;
#[cfg(test)]
pub(crate) mod testutil;

pub use auxv::auxv;
pub use cmdline::{cmdline, comm, environ, thread_comm};
pub use fdinfo::fdinfo;
pub use info::info_json;
pub use limits::limits;
pub use maps::{maps, vma_name, vma_range_name};
pub use pstree::pstree;
pub use regs::regs;
pub use stat::{stat, statm, thread_stat};
pub use status::{status, thread_status};
pub use summary::{CheckpointSizes, checkpoint_sizes, human_size, show_table, summary, table};
