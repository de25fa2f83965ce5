//! Compiles our CRIU schema subset (`proto/*.proto`) into Rust with prost.
//!
//! protox parses the `.proto` files in pure Rust, so no system `protoc` is needed.
//! The generated module is `OUT_DIR/criu.rs` (protobuf package `criu`), included by
//! `src/image/pb.rs`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");

    let mut files: Vec<PathBuf> = std::fs::read_dir("proto")
        .expect("read proto/")
        .map(|e| e.expect("read proto/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    let fds = match protox::compile(&files, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("compiling proto/*.proto: {e:?}"),
    };
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("generating Rust from proto/*.proto");
}
