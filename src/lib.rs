//! ckptfs: mount a CRIU / Podman / CRI-O container checkpoint read-only as a `/proc`-like tree.
//!
//! Layers, data flowing one way (see `docs/architecture.md`; the CRIU facts relied on: `docs/criu-format.md`):
//! 1. [`source`]: open the input (image dir, `.tar`, `.tar.gz`, `.tar.zst`) and give named, immutable byte blobs.
//! 2. [`image`]: CRIU image decoding (magic, framing, protobuf messages from `proto/`).
//! 3. [`model`]: the checkpoint as Rust types; the per-process page index (`model::memory`).
//! 4. [`render`]: pure functions model -> bytes for every text file of the tree.
//! 5. [`fs`]: the inode tree and the thin FUSE adapter.
//! 6. [`cli`]: command-line front end.
//!
//! Beside them: [`views`] (checkpointctl's subcommands: model -> text, between `render` and `cli`)
//! and, under every layer, [`format`] (values as text: times, sizes, addresses, escaping).

// The few `unsafe` blocks left (fork, close_range, a pre_exec hook, mmap, madvise) each say why
// they are sound; system calls with a safe wrapper go through `rustix`.
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cli;
pub mod format;
pub mod fs;
pub mod image;
pub mod model;
pub mod render;
pub mod source;
pub mod views;
/// Synthetic checkpoints for tests, benches and examples (the `writer` feature; not in the
/// shipped binary).
#[cfg(any(test, feature = "writer"))]
pub mod writer;
