//! The findings model shared by every source and report: `Finding` (one distinct secret of one rule, with
//! every place it was seen), `Location` (with its typed provenance, `provenance::Meta`, written flat: the
//! JSON shape reports have always had), fingerprints and redaction. Knows nothing of how findings are made.
use crate::provenance::{Meta, MetaView};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One place a secret was seen. In JSON its provenance is flattened into it (`commit`, `blob`, `layer`,
/// `cell`, …, keys sorted after the fixed fields), and read back from that shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// `file`, `stdin`, `git`, `image`, …
    pub source: String,
    /// Display path of the blob (file path, path inside a commit or a layer). Shared by every location found in
    /// one blob, never copied per location.
    pub path: Arc<str>,
    /// 1-based line and column in the raw blob.
    pub line: u64,
    pub column: u64,
    /// Byte span of the secret in the raw blob.
    pub byte_start: u64,
    pub byte_end: u64,
    /// True when the file is ignored by .gitignore (only scanned with `--no-ignore`).
    pub ignored: bool,
    /// The blob's content id, where it came from (commit, layer, …) and the decoder's details (notebook
    /// cell, CI job, …).
    pub meta: Meta,
}

impl Location {
    /// The provenance as one JSON object, keys sorted (what a datastore stores; a sort's tie-break).
    pub fn meta_json(&self) -> String {
        serde_json::to_string(&MetaView(&self.meta)).unwrap_or_default()
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.meta.entries();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("source", &self.source)?;
        m.serialize_entry("path", &*self.path)?;
        m.serialize_entry("line", &self.line)?;
        m.serialize_entry("column", &self.column)?;
        m.serialize_entry("byte_start", &self.byte_start)?;
        m.serialize_entry("byte_end", &self.byte_end)?;
        if self.ignored {
            m.serialize_entry("ignored", &true)?;
        }
        for (k, v) in entries {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// The JSON shape of a location: fixed fields, and the rest as flat keys.
#[derive(Deserialize)]
struct FlatLocation {
    source: String,
    path: Arc<str>,
    line: u64,
    column: u64,
    byte_start: u64,
    byte_end: u64,
    #[serde(default)]
    ignored: bool,
    #[serde(flatten)]
    meta: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FlatLocation::deserialize(d)?;
        Ok(Location {
            source: f.source,
            path: f.path,
            line: f.line,
            column: f.column,
            byte_start: f.byte_start,
            byte_end: f.byte_end,
            ignored: f.ignored,
            meta: Meta::from_map(f.meta),
        })
    }
}

/// Result of asking the provider whether a credential is live (see `verify`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verification {
    /// `live`, `dead`, `restricted` or `unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// A finding's triage state, as a datastore remembers it across runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Triage {
    /// `open`, `accepted`, `false-positive` or `revoked`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One distinct secret found by one rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub provider: String,
    pub category: String,
    pub confidence: String,
    /// The generic classifier's score (0..1) of a catch-all keyword rule's finding; its `confidence` follows
    /// from it (docs/RULES.md, "The generic classifier"). Absent for format rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// `rule_id` + SHA-256 of the secret: stable identity for baselines and datastores.
    pub fingerprint: String,
    /// The secret itself, or its redacted form when the report redacts.
    pub secret: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// Shannon entropy of the secret, bits per byte.
    pub entropy: f64,
    pub locations: Vec<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The rule's description, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The provider's page for revoking and rotating this kind of credential, when the rule knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_url: Option<String>,
    /// Triage state from a datastore (`keysweep triage`); absent in single-run reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
}

/// Fingerprint of a secret under a rule: `<hex sha256(rule_id \0 secret)>`, first 32 hex chars.
pub fn fingerprint(rule_id: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0u8]);
    h.update(secret);
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Redacted display form of a secret: enough to tell keys apart, too little to help guess one. A leading
/// marker that ends in `_` or `-` (`ghp_`, `sk-proj-`, `xoxb-`: public format information; see `is_marker`)
/// is kept when a long random part follows it; of the rest at most one character in ten, and at most 4, is shown; a secret
/// under 16 characters (a password, typically) shows nothing. With the unsalted fingerprint beside it, every
/// shown character narrows an offline guess of a weak secret, hence so few (see README, "Fingerprints").
pub fn redact(secret: &str) -> String {
    const MIN_SHOWN: usize = 16;
    let chars: Vec<char> = secret.chars().collect();
    let marker = chars
        .iter()
        .take(12)
        .rposition(|&c| c == '_' || c == '-')
        .map(|i| i + 1)
        .filter(|&m| chars.len() - m >= MIN_SHOWN && is_marker(&chars[..m]))
        .unwrap_or(0);
    let rest = chars.len() - marker;
    let keep = if rest >= MIN_SHOWN {
        marker + (rest / 10).min(4)
    } else {
        0
    };
    let mut s: String = chars[..keep].iter().collect();
    s.push_str("*****");
    s
}

/// Whether `prefix` (ending in `_` or `-`) reads as a vendor marker (`ghp_`, `sk-proj-`, `sk-ant-api03-`,
/// `github_pat_`, `xoxb-`): short lower-case words and digits between the separators. A random base64url
/// part that happens to hold a `_` or `-` early (`1//0Spg2Xj8_…`, `AbC9-…`) is no marker and is not shown.
fn is_marker(prefix: &[char]) -> bool {
    prefix[..prefix.len() - 1]
        .split(|&c| c == '_' || c == '-')
        .all(|w| {
            (1..=8).contains(&w.len())
                && w.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

impl Finding {
    /// Replace the secret by its redacted form.
    pub fn redact_in_place(&mut self) {
        if !self.redacted {
            self.secret = redact(&self.secret);
            self.redacted = true;
        }
    }

    /// Sort key used by every report: first location's path and line.
    pub fn sort_key(&self) -> (Arc<str>, u64, u64, String) {
        let l = self.locations.first();
        (
            l.map(|l| l.path.clone()).unwrap_or_default(),
            l.map(|l| l.line).unwrap_or(0),
            l.map(|l| l.column).unwrap_or(0),
            self.rule_id.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_rule_and_secret() {
        let a = fingerprint("a", b"s");
        assert_eq!(a.len(), 32);
        assert_ne!(a, fingerprint("b", b"s"));
        assert_ne!(a, fingerprint("a", b"t"));
        assert_eq!(a, fingerprint("a", b"s"));
    }

    /// `score` is written only when set: reports of format rules keep their shape.
    #[test]
    fn score_is_serialized_only_when_set() {
        let mut f = Finding {
            rule_id: "r".into(),
            rule_name: "R".into(),
            provider: "P".into(),
            category: "generic".into(),
            confidence: "low".into(),
            score: None,
            fingerprint: fingerprint("r", b"s"),
            secret: "s".into(),
            redacted: false,
            entropy: 1.0,
            locations: Vec::new(),
            verification: None,
            description: None,
            rotation_url: None,
            triage: None,
        };
        let json = serde_json::to_value(&f).expect("json");
        assert!(json.get("score").is_none());
        f.score = Some(0.734);
        let json = serde_json::to_value(&f).expect("json");
        assert_eq!(json["score"], serde_json::json!(0.734));
        let back: Finding = serde_json::from_value(json).expect("read back");
        assert_eq!(back.score, Some(0.734));
    }

    /// A location written by a build before typed provenance: fixed fields and flat keys, as reports,
    /// baselines and datastores hold it.
    const OLD_GIT_LOCATION: &str = r#"{"source":"git","path":"app/a.py","line":2,"column":9,"byte_start":20,"byte_end":60,"author":"A <a@example.test>","blob":"ce013625030ba8dba906f756967f9e9ca394464a","commit":"0123456789012345678901234567890123456789","date":"2023-11-14T22:13:20+00:00","live_in_head":true,"refs":["refs/heads/main","refs/tags/v1"],"refs_total":5,"summary":"add config"}"#;

    #[test]
    fn old_flat_location_reads_into_typed_fields_and_writes_back_byte_for_byte() {
        let l: Location = serde_json::from_str(OLD_GIT_LOCATION).expect("old shape");
        let g = l.meta.git().expect("git provenance");
        assert_eq!(
            g.commit.as_deref(),
            Some("0123456789012345678901234567890123456789")
        );
        assert_eq!(g.author.as_deref(), Some("A <a@example.test>"));
        assert_eq!(g.summary.as_deref(), Some("add config"));
        assert_eq!(g.refs.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            (g.refs_total, g.live_in_head, g.staged),
            (Some(5), Some(true), false)
        );
        assert_eq!(
            l.meta.blob.map(|b| b.to_string()).as_deref(),
            Some("ce013625030ba8dba906f756967f9e9ca394464a")
        );
        assert!(l.meta.detail.extra.is_empty());
        assert_eq!(serde_json::to_string(&l).expect("json"), OLD_GIT_LOCATION);
    }

    #[test]
    fn location_round_trips_every_typed_field() {
        use crate::provenance::{BlobId, Detail, ImageEntry, Meta, Provenance};
        let mut detail = Detail {
            cell: Some(3),
            output: Some(1),
            field: Some("outputs.text".into()),
            line_in_segment: Some(7),
            encoding: Some("utf-16le".into()),
            encrypted: true,
            ..Detail::default()
        };
        detail.set(crate::provenance::keys::CI, "github");
        let l = Location {
            source: "image".into(),
            path: "app/nb.ipynb".into(),
            line: 4,
            column: 2,
            byte_start: 10,
            byte_end: 50,
            ignored: true,
            meta: Meta {
                blob: Some(BlobId::of_content(b"content")),
                repository: Some("github.com/o/r".into()),
                provenance: Provenance::Image(Box::new(ImageEntry {
                    image: Some("alpine:3".into()),
                    manifest_digest: Some("sha256:m".into()),
                    config_digest: Some("sha256:c".into()),
                    layer: Some(2),
                    layer_digest: Some("sha256:l".into()),
                    deleted_in_layer: Some(3),
                })),
                detail,
            },
        };
        let json = serde_json::to_value(&l).expect("json");
        assert_eq!(json["blob"], BlobId::of_content(b"content").to_string());
        assert_eq!(
            (json["layer"].as_u64(), json["cell"].as_u64()),
            (Some(2), Some(3))
        );
        assert_eq!(json["ci"], "github");
        assert_eq!(json["ignored"], true);
        let back: Location = serde_json::from_value(json).expect("read back");
        assert_eq!(back, l);
        // A plain file location has no provenance keys but its blob id.
        let plain = Location {
            source: "file".into(),
            ignored: false,
            meta: Meta {
                blob: l.meta.blob,
                ..Meta::default()
            },
            ..l
        };
        let json = serde_json::to_value(&plain).expect("json");
        assert_eq!(
            json.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(
                [
                    "blob",
                    "byte_end",
                    "byte_start",
                    "column",
                    "line",
                    "path",
                    "source"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(
            serde_json::from_value::<Location>(json).expect("back"),
            plain
        );
    }

    #[test]
    fn redaction_never_shows_most_of_the_secret() {
        let r = redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(r, "ghp_abc*****");
        assert_eq!(
            redact("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"),
            "sk-proj-abcd*****"
        );
        assert_eq!(redact("AKIAQWERTYUIOPASDFGH"), "AK*****"); // keysweep:allow (synthetic)
                                                               // Short values (passwords) show nothing; a separator in a short value is no marker.
        assert_eq!(redact("abc"), "*****");
        assert_eq!(redact("hunter2-hunter2"), "*****");
        assert_eq!(redact("my_pass-0123456789ab"), "my*****");
        // A `_` or `-` inside the random part is no marker: a Google refresh token shows what any long
        // secret shows, not its first 12 random characters.
        assert_eq!(
            redact("1//0Spg2Xj8_ShHvAbCdEfGhIjKlMnOpQrStUvWx"),
            "1//0*****"
        );
        assert_eq!(redact("AbC9xYz-0123456789abcdefghij"), "Ab*****");
        assert_eq!(
            redact("github_pat_11ABCDEFG0123456789abcdefghijklmnop"),
            "github_pat_11A*****"
        );
    }
}
