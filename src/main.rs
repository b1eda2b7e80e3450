//! The keysweep command line: parsing and dispatch live in the `keysweep-cli` crate.
fn main() {
    std::process::exit(keysweep_cli::main());
}
