//! Detection: turns a blob into findings. `decode` turns a blob into segments of readable text
//! (`decode::encoding` transcodes UTF-16/32 first), `engine` finds candidates for every rule in one pass,
//! `check` confirms them, and `scan::Scanner` ties these together, collecting deduplicated findings; it is
//! the blob sink (`keysweep_model::BlobSink`) of a single run. `selftest` runs every rule's examples on every
//! engine; `builtin` loads the built-in rule set through the cache. Reads no files but the compiled-rules
//! cache (`engine::cache`) and prints nothing (warnings, errors
//! and `-v` notes are recorded for the command line); knows nothing of sources, verification, reports or the
//! command line.
pub mod builtin;
pub mod check;
pub mod decode;
pub mod engine;
pub mod scan;
pub mod selftest;

pub use scan::Scanner;
