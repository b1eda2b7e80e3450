//! The one rule catalogue of the integration tests, independent of the built-in rules: every rule a test uses is
//! written here once, and a test takes the set it needs (`STANDARD`, `DECODE`, `VERIFY`) as TOML text, as a
//! rules folder (`rules_dir`) or as a compiled `Scanner`.
use keysweep_detect::engine::EngineKind;
use keysweep_detect::Scanner;
use keysweep_rules::RuleSet;
use std::path::{Path, PathBuf};

/// Every test rule, once. Sets pick rules by id.
const CATALOGUE: &str = r#"
[[rule]]
id = "test.github"
name = "GitHub token"
provider = "GitHub"
category = "vcs"
confidence = "high"
pattern = '''\b(?P<secret>gh[pousr]_[0-9A-Za-z]{36})\b'''
checksum = "github-crc32"
verify = "github"
examples = ["t = 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"]
negative_examples = ["ghp_PersonalAccessToken01245678900000000"]

[[rule]]
id = "test.aws-key-id"
name = "AWS access key id"
provider = "AWS"
category = "cloud"
confidence = "high"
pattern = '''\b(?P<secret>(?:AKIA|ASIA)[A-Z2-7]{16})\b'''
verify = "aws"
examples = ["aws_access_key_id = AKIA4QXZ7RB2MNV5KD3Y"]
negative_examples = ["AKIAIOSFODNN7EXAMPLE"]

[[rule]]
id = "test.openai"
name = "OpenAI-like key"
provider = "OpenAI"
category = "ai"
confidence = "high"
pattern = '''\b(?P<secret>sk-(?:proj-)?[A-Za-z0-9_.-]{20,120})'''
examples = ["k = sk-proj-Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja5Ue"]
negative_examples = ["sk-short"]

[[rule]]
id = "test.password"
name = "Password assignment"
provider = "Generic"
category = "generic"
generic = true
pattern = '''(?i)\b(?:password|passwd)\b["']?\s{0,3}[:=]\s{0,3}["']?(?P<secret>[^\s"'`]{8,64})'''
examples = ["password = \"Xk9#mP2$vL8qRt4w\""]
negative_examples = ["password = \"getPasswordFromEnv\""]

[[rule]]
id = "test.assignment"
name = "Secret assignment"
provider = "Generic"
category = "generic"
confidence = "low"
generic = true
pattern = '''(?i)\b(?:password|passwd|api_key|token)\b["']?\s{0,3}[:=]\s{0,3}["']?(?P<secret>[^\s"'`]{8,64})'''
examples = ["password = \"Xk9#mP2$vL8qRt4w\""]
negative_examples = ["password = \"getPasswordFromEnv\""]

[[rule]]
id = "test.aws-secret"
name = "AWS secret key"
provider = "AWS"
category = "cloud"
confidence = "medium"
pattern = '''aws_secret_access_key\s{0,3}=\s{0,3}(?P<secret>[A-Za-z0-9/+]{40})\b'''
verify = "aws"
examples = ["aws_secret_access_key = x"]
negative_examples = ["aws_secret = x"]

[[rule]]
id = "test.azure-openai-key"
name = "Azure OpenAI key"
provider = "Azure"
category = "ai"
confidence = "medium"
pattern = '''AZURE_OPENAI_API_KEY\s{0,3}=\s{0,3}(?P<secret>[0-9a-f]{32})\b'''
verify = "azure-openai"
examples = ["AZURE_OPENAI_API_KEY=x"]
negative_examples = ["AZURE_KEY=x"]

[[rule]]
id = "test.azure-openai-endpoint"
name = "Azure OpenAI endpoint (companion)"
provider = "Azure"
category = "ai"
confidence = "low"
pattern = '''https://(?P<secret>[a-z0-9-]{2,64}\.openai\.azure\.com)\b'''
verify = "azure-openai:endpoint"
examples = ["https://x.openai.azure.com"]
negative_examples = ["https://x.example.com"]
"#;

/// The CLI, history and image tests' set: a checksum rule, a prefix rule, a long-key rule and a generic one.
pub const STANDARD: &[&str] = &[
    "test.github",
    "test.aws-key-id",
    "test.openai",
    "test.password",
];
/// The decoder tests' set: the generic rule also knows `api_key` and `token` assignments.
pub const DECODE: &[&str] = &[
    "test.github",
    "test.aws-key-id",
    "test.openai",
    "test.assignment",
];
/// The verification tests' set: every rule names a verifier, companions included.
pub const VERIFY: &[&str] = &[
    "test.github",
    "test.aws-key-id",
    "test.aws-secret",
    "test.azure-openai-key",
    "test.azure-openai-endpoint",
];

/// The catalogue's rules with these ids, as one rules file.
pub fn rules_toml(set: &[&str]) -> String {
    let mut out = String::new();
    for id in set {
        let block = CATALOGUE
            .split("[[rule]]")
            .find(|b| b.contains(&format!("\nid = \"{id}\"\n")))
            .unwrap_or_else(|| panic!("no test rule {id}"));
        out.push_str("[[rule]]");
        out.push_str(block);
    }
    out
}

/// Write the `STANDARD` set into `dir/rules/test.toml` and return the folder.
pub fn rules_dir(dir: &Path) -> PathBuf {
    rules_dir_with(dir, STANDARD)
}

/// Write a set of the catalogue into `dir/rules/test.toml` and return the folder.
pub fn rules_dir_with(dir: &Path, set: &[&str]) -> PathBuf {
    let d = dir.join("rules");
    std::fs::create_dir_all(&d).expect("mkdir rules");
    std::fs::write(d.join("test.toml"), rules_toml(set)).expect("write rules");
    d
}

/// A scanner over a set of the catalogue.
pub fn scanner(set: &[&str]) -> Scanner {
    let mut rules = RuleSet::default();
    rules.add_text("test.toml", &rules_toml(set));
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    Scanner::new(rules, EngineKind::Auto).expect("scanner")
}
