#![no_main]
//! cargo-fuzz target: `keysweep_cli::fuzzing::archive` on arbitrary bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = keysweep_cli::fuzzing::archive(data);
});
