//! The prost types generated from our CRIU schema subset (`proto/*.proto`, protobuf package
//! `criu`) by `build.rs`.
//!
//! Names are prost's renderings of CRIU's message names: `core_entry` → [`CoreEntry`],
//! `pagemap_entry` → [`PagemapEntry`], nested `core_entry.march` → [`core_entry::March`],
//! enum `fd_types` → [`FdTypes`]. Fields CRIU marks `required` are plain values (`u32`,
//! `String`, ...; a missing one decodes as its default, prost does not check presence);
//! `optional` scalars are `Option<T>` with an accessor of the same name returning the
//! value or its default; message fields are always `Option<M>`. Enum-typed fields are
//! stored as `i32` (unknown numbers survive) with an accessor returning the enum
//! (e.g. [`FdinfoEntry::r#type`]).
//!
//! CRIU `string` fields decode as UTF-8 (an entry whose string is not valid UTF-8 is a decode
//! error naming that entry), except the names a hostile or odd process controls, which are
//! `bytes` here (wire-compatible): `reg_file_entry.name`, `memfd_inode_entry.name`,
//! `task_core_entry.comm`, `thread_core_entry.comm`; the model converts them lossily.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all,
    unreachable_pub
)]

include!(concat!(env!("OUT_DIR"), "/criu.rs"));
