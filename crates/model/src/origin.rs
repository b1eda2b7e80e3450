//! Blob provenance: where a blob came from (`Origin`), as every source describes it and every location of a
//! finding in that blob repeats it; and the binary sniff sources and decoders share. Knows nothing of how
//! blobs are read or scanned.
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a blob came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `file`, `stdin`, `git`, `image`, …
    pub source: &'static str,
    /// Display path, also used to choose a decoder by name.
    pub path: String,
    /// Ignored by .gitignore (scanned only with `--no-ignore`).
    pub ignored: bool,
    /// Provenance copied into every location found in this blob (commit, layer digest, …).
    pub meta: BTreeMap<String, Value>,
}

impl Origin {
    pub fn new(source: &'static str, path: impl Into<String>) -> Self {
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
