#![no_main]
//! cargo-fuzz target: `keysweep_cli::fuzzing::json` on arbitrary bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = keysweep_cli::fuzzing::json(data);
});
