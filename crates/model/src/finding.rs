//! The findings model shared by every source and report: `Finding` (one distinct secret of one rule, with
//! every place it was seen), `Location`, fingerprints and redaction. Knows nothing of how findings are made.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One place a secret was seen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    /// Source- and decoder-specific details: commit, layer, notebook cell, output index, line in cell, …
    #[serde(flatten)]
    pub meta: BTreeMap<String, Value>,
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
/// marker that ends in `_` or `-` (`ghp_`, `sk-proj-`, `xoxb-`: public format information) is kept when a
/// long random part follows it; of the rest at most one character in ten, and at most 4, is shown; a secret
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
        .filter(|&m| chars.len() - m >= MIN_SHOWN)
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
    }
}
