//! Helpers of the decoder tests: a library-level scan over the catalogue's `DECODE` rules that returns flat
//! (rule, secret, location) rows, and byte-offset helpers. Tokens and rules are `common`'s.
pub use super::rules::DECODE;
pub use super::tokens::{github_token, openai_key};
use keysweep_detect::Scanner;
use keysweep_model::Location;
use keysweep_model::Origin;

/// A scanner over the catalogue's `DECODE` set.
pub fn scanner() -> Scanner {
    super::rules::scanner(super::rules::DECODE)
}

/// One reported (rule, secret, location).
#[derive(Debug, Clone)]
pub struct Row {
    pub rule: String,
    pub secret: String,
    pub loc: Location,
    /// The location as JSON reports write it.
    pub json: serde_json::Value,
}

impl Row {
    /// A key of the location's JSON (its provenance is flattened into it).
    pub fn meta(&self, k: &str) -> Option<&serde_json::Value> {
        self.json.get(k)
    }
}

/// Scan blobs (path, bytes) with the given scanner; return every location and the warnings.
pub fn scan_with(s: &Scanner, blobs: &[(&str, &[u8])]) -> (Vec<Row>, Vec<String>) {
    for (path, data) in blobs {
        s.scan_blob(data, &Origin::new("file", *path));
    }
    let (findings, warnings) = s.take_results();
    let mut rows = Vec::new();
    for f in findings {
        for l in f.locations {
            rows.push(Row {
                rule: f.rule_id.clone(),
                secret: f.secret.clone(),
                json: serde_json::to_value(&l).expect("location as JSON"),
                loc: l,
            });
        }
    }
    rows.sort_by_key(|r| r.loc.byte_start);
    (rows, warnings)
}

pub fn scan(path: &str, data: &[u8]) -> (Vec<Row>, Vec<String>) {
    scan_with(&scanner(), &[(path, data)])
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &[u8], at: usize) -> u64 {
    text[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Byte offset of the only occurrence of `needle` in `hay`.
pub fn only_pos(hay: &[u8], needle: &str) -> usize {
    let n = needle.as_bytes();
    let hits: Vec<usize> = hay
        .windows(n.len())
        .enumerate()
        .filter(|(_, w)| *w == n)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:?} must occur exactly once");
    hits[0]
}
