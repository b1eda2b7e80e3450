//! keysweep's shared model, the bottom of the crate graph: what every other crate speaks.
//!
//! - `finding`: `Finding` (one distinct secret of one rule, every place it was seen), `Location`,
//!   `Verification`, fingerprints and redaction.
//! - `provenance`: typed provenance: a blob's content id (`BlobId`), where it came from (`Provenance`: plain
//!   file, git blob, image entry), decoder details (`Detail`, with the one escape hatch), all of a
//!   location's as `Meta`, and the flat JSON shape reports write and read back.
//! - `origin`: a blob as a source hands it over (`Origin`) and the binary sniff.
//! - `sink`: the traits that connect sources to whatever consumes their blobs (`BlobSink`, with
//!   `Diagnostics` for warnings and counters), a blob's unaggregated findings (`BlobFinding`), and a run's
//!   counters (`Stats`, `StatsSnapshot`).
//! - `limits`: option defaults declared once.
//! - `fsutil`: safe file access for every crate that writes a file or opens one a scanned tree supplies
//!   (atomic writes that replace a symlink instead of following it, regular-file-only opens).
//! - `net`: address classification shared by every outbound HTTP client (the verifier's, the image registry
//!   client's): which IP addresses a request may not reach.
//!
//! Owns no I/O beyond `paths::find_upwards` and `fsutil`'s checked opens and writes, no scanning, no parsing
//! of command lines.
pub mod finding;
pub mod fsutil;
pub mod limits;
pub mod net;
pub mod origin;
pub mod paths;
pub mod provenance;
pub mod sink;
pub mod time;

pub use finding::{fingerprint, redact, Finding, Location, Triage, Verification};
pub use origin::{looks_binary, Origin};
pub use provenance::{BlobId, Detail, GitBlob, ImageEntry, Meta, MetaValue, Provenance};
pub use sink::{set_blob_id, BlobFinding, BlobSink, Diagnostics, Stats, StatsSnapshot};
