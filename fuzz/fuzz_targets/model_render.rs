//! The model and the renderers: split fuzz bytes into a synthetic CRIU image directory (see
//! `common/mod.rs`; `parent/NAME` files form a parent dump), `model::load::load` it, then run
//! every `render::*` function on every process and thread, the ELF core layout, and every read of
//! the mount tree (`fs::Tree`, no FUSE). Any input: a checkpoint or an error, never a panic.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = common::split(data);
    let src = common::source(&files);
    match ckptfs::model::load::load(src) {
        Ok(ck) => {
            for w in &ck.warnings {
                assert!(!w.message.is_empty());
            }
            common::exercise(&ck);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
