//! Sources produce blobs with provenance, never findings: the filesystem walker (`fs`), standard input, and
//! (elsewhere) git history and container images. A source hands each blob to a `BlobSink`.
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub mod fs;
pub mod git;
pub mod image;

/// Where a blob came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `file`, `stdin`, `git`, `image`, …
    pub source: &'static str,
    /// Display path, also used to choose a decoder by name; shared (not copied) by the locations found in the blob.
    pub path: Arc<str>,
    /// Ignored by .gitignore (scanned only with `--no-ignore`).
    pub ignored: bool,
    /// Provenance copied into every location found in this blob (commit, layer digest, …).
    pub meta: BTreeMap<String, Value>,
}

impl Origin {
    pub fn new(source: &'static str, path: impl Into<Arc<str>>) -> Self {
        Origin {
            source,
            path: path.into(),
            ..Default::default()
        }
    }
}

/// Heuristic binary sniff: a NUL byte in the first 8 KiB.
pub fn looks_binary(data: &[u8]) -> bool {
    memchr::memchr(0, &data[..data.len().min(8192)]).is_some()
}
