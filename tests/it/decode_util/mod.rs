//! Helpers shared by the decoder tests: a small rule set independent of the built-in catalogue, synthetic
//! checksum-valid tokens, and a library-level scan that returns flat (rule, secret, location) rows.
#![allow(dead_code)]

use keysweep_detect::check::checksum::crc32_base62;
use keysweep_detect::engine::EngineKind;
use keysweep_detect::Scanner;
use keysweep_model::Location;
use keysweep_model::Origin;
use keysweep_rules::RuleSet;

pub const RULES: &str = r#"
[[rule]]
id = "t.github"
name = "GitHub token"
provider = "GitHub"
category = "vcs"
confidence = "high"
pattern = '''\b(?P<secret>gh[pousr]_[0-9A-Za-z]{36})\b'''
checksum = "github-crc32"
examples = ["t = 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"]
negative_examples = ["ghp_PersonalAccessToken01245678900000000"]

[[rule]]
id = "t.aws"
name = "AWS access key id"
provider = "AWS"
category = "cloud"
confidence = "high"
pattern = '''\b(?P<secret>(?:AKIA|ASIA)[A-Z2-7]{16})\b'''
examples = ["aws_access_key_id = AKIA4QXZ7RB2MNV5KD3Y"]
negative_examples = ["AKIAIOSFODNN7EXAMPLE"]

[[rule]]
id = "t.openai"
name = "OpenAI-like key"
provider = "OpenAI"
category = "ai"
confidence = "high"
pattern = '''\b(?P<secret>sk-(?:proj-)?[A-Za-z0-9_.-]{20,120})'''
examples = ["k = sk-proj-Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja5Ue"]
negative_examples = ["sk-short"]

[[rule]]
id = "t.password"
name = "Password assignment"
provider = "Generic"
category = "generic"
confidence = "low"
generic = true
pattern = '''(?i)\b(?:password|passwd|api_key|token)\b["']?\s{0,3}[:=]\s{0,3}["']?(?P<secret>[^\s"'`]{8,64})'''
examples = ["password = \"Xk9#mP2$vL8qRt4w\""]
negative_examples = ["password = \"getPasswordFromEnv\""]
"#;

/// A checksum-valid GitHub classic token; `seed` varies the 30-char body.
pub fn github_token(seed: &str) -> String {
    let mut body: String = format!("{seed}Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja5UeRt");
    body.truncate(30);
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{body}");
    format!("ghp_{body}{}", crc32_base62(body.as_bytes()))
}

/// A synthetic OpenAI-like project key; `seed` makes it distinct.
pub fn openai_key(seed: &str) -> String {
    format!("sk-proj-{seed}Zq8Lm2Vx7Rt4Ns9Kw3Hb6Jd1Pf5Gc0Ya")
}

pub fn scanner() -> Scanner {
    let mut rules = RuleSet::default();
    rules.add_text("test.toml", RULES);
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    Scanner::new(rules, EngineKind::Auto).expect("scanner")
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
