fn main() {
    std::process::exit(ckptfs::cli::main())
}
