//! The integration tests, one binary (the crate is linked once, not once per file): a module per
//! area, sharing `tests/common` (fixtures, `Mount`, tools run against the mount, skips).
//! Run one area with `cargo test --test it access::`, one test with its full name. A new area is
//! a new file here and its `mod` line below.

#![deny(clippy::undocumented_unsafe_blocks)]

#[path = "../common/mod.rs"]
mod common;

mod access;
mod archives;
mod bash_history;
mod bounded_reflexes;
mod cache_cmd;
mod concurrency;
mod core_gdb;
mod custody;
mod diff;
mod directory_mount;
mod fields;
mod fixtures_truth;
mod hostile;
mod image_forms;
mod kernel_objects;
mod lifecycle;
mod listing;
mod malformed;
mod mapped_memory;
mod metadata;
mod partial;
mod report;
mod report_browser;
mod rootfs_evidence;
mod runtimes;
mod scan;
mod synthetic;
mod timeline;
mod triage;
mod triage_secrets;
mod views;
mod whole_tree;
mod yara;
