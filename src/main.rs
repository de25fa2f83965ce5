#![deny(clippy::undocumented_unsafe_blocks)]

fn main() {
    std::process::exit(ckptfs::cli::main())
}
