//! `skiff shim` stand-in for this crate's tests: `skiff-runtime-test-shim shim <mode> ...`.

use clap::Parser;

fn main() {
    // argv[1] is "shim", as in `skiff shim`; clap takes the first item as the program name.
    let args = skiff_runtime::ShimArgs::parse_from(std::env::args_os().skip(1));
    std::process::exit(skiff_runtime::shim_main(args));
}
