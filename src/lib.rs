//! keysweep: a secrets-sprawl detector for AI pipelines.
//!
//! Data flow: a source produces blobs with provenance → `decode` turns each into segments of readable text
//! → `engine` finds candidates for every rule in one pass → `check` confirms them → `scan` collects
//! deduplicated `Finding`s → `report` writes them. The CLI in `cli` is a thin layer over this library.
pub mod baseline;
pub mod check;
pub mod cli;
pub mod config;
pub mod decode;
pub mod engine;
pub mod finding;
pub mod fsutil;
pub mod hook;
pub mod net;
pub mod org;
pub mod report;
pub mod rules;
pub mod scan;
pub mod source;
pub mod verify;

pub use finding::{Finding, Location};
pub use rules::RuleSet;
pub use scan::Scanner;
