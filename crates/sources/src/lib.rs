//! Sources produce blobs with provenance, never findings: the working-tree walker (`fs`), git history and
//! staged changes (`git`), and container images (`image`); `org` is the enumeration corner of organisation
//! sweeps (targets and hosted repository listings turned into a list of repositories, and the clone cache of
//! bare mirrors; no blobs yet). A source hands each blob to a
//! `keysweep_model::BlobSink` and reports what it could not read through the sink's `Diagnostics`; it never
//! sees the scanner. The plumbing under the git source (pack reader, tree diff) sees only `Diagnostics`.
//! Standard input is read by the command line, which hands it to the sink itself.
pub mod archive;
pub mod exclude;
pub mod fs;
pub mod git;
pub mod image;
pub mod org;

pub use keysweep_model::{looks_binary, BlobSink, Diagnostics, Origin};
