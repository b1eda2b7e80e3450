//! The keysweep command line: parsing and dispatch live in `keysweep::cli`.
fn main() {
    std::process::exit(keysweep::cli::main());
}
