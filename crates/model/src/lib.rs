//! keysweep's shared model, the bottom of the crate graph: what every other crate speaks.
//!
//! - `finding`: `Finding` (one distinct secret of one rule, every place it was seen), `Location`,
//!   `Verification`, fingerprints and redaction.
//! - `origin`: a blob's provenance (`Origin`) and the binary sniff.
//! - `sink`: the traits that connect sources to whatever consumes their blobs (`BlobSink`, with
//!   `Diagnostics` for warnings and counters), a blob's unaggregated findings (`BlobFinding`), and a run's
//!   counters (`Stats`, `StatsSnapshot`).
//! - `limits`: option defaults declared once.
//!
//! Owns no I/O beyond `paths::find_upwards`, no scanning, no parsing of command lines.
pub mod finding;
pub mod limits;
pub mod origin;
pub mod paths;
pub mod sink;

pub use finding::{fingerprint, redact, Finding, Location, Verification};
pub use origin::{looks_binary, Origin};
pub use sink::{BlobFinding, BlobSink, Diagnostics, Stats, StatsSnapshot};
