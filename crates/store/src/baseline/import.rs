//! Import of other scanners' accepted findings into a keysweep baseline. Neither tool's identity carries
//! over (gitleaks fingerprints are `[commit:]file:rule:line`, detect-secrets stores the SHA-1 of the secret),
//! so an import matches the foreign records against a fresh keysweep scan of the same tree and writes the
//! matching keysweep findings as baseline entries: gitleaks records by secret (JSON report) or by file and
//! line (`.gitleaksignore`, redacted reports), detect-secrets records by file and the SHA-1 of candidate
//! strings (the secret, and every token of its line). Records that match nothing are reported by file and
//! line, never with a secret.
use super::{relative_to, Baseline, Entry};
use anyhow::{anyhow, bail, Context, Result};
use keysweep_model::{Finding, Location};
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// One accepted finding of another tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Foreign {
    pub tool: &'static str,
    /// Path relative to the baseline's folder.
    pub path: String,
    pub line: Option<u64>,
    pub rule: String,
    /// The secret, when the report holds it unredacted (gitleaks JSON).
    pub secret: Option<String>,
    /// Hex SHA-1 of the secret (detect-secrets).
    pub sha1: Option<String>,
}

impl Foreign {
    /// `path:line (tool rule)`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{}:{} ({} {})",
            self.path,
            self.line
                .map(|l| l.to_string())
                .unwrap_or_else(|| "?".into()),
            self.tool,
            self.rule
        )
    }
}

/// A foreign path as a baseline path: relative ones are taken relative to the baseline's folder.
fn foreign_path(root: &Path, p: &str) -> String {
    let path = Path::new(p);
    if path.is_absolute() {
        relative_to(root, path)
    } else {
        p.strip_prefix("./").unwrap_or(p).replace('\\', "/")
    }
}

/// Parse a gitleaks JSON report or a `.gitleaksignore` (told apart by content).
pub fn parse_gitleaks(root: &Path, file: &Path) -> Result<Vec<Foreign>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{}: not a gitleaks JSON report: {e}", file.display()))?;
        let Some(items) = doc.as_array() else {
            bail!(
                "{}: not a gitleaks JSON report (expected an array of findings)",
                file.display()
            );
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let path = it
                .get("File")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("{}: finding {} has no \"File\"", file.display(), i + 1))?;
            let secret = it
                .get("Secret")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && *s != "REDACTED")
                .map(str::to_string);
            out.push(Foreign {
                tool: "gitleaks",
                path: foreign_path(root, path),
                line: it.get("StartLine").and_then(Value::as_u64),
                rule: it
                    .get("RuleID")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                secret,
                sha1: None,
            });
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `[commit:]file:rule:line`, the file may itself hold ':'.
        let mut parts = line.rsplitn(3, ':');
        let (Some(num), Some(rule), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            bail!(
                "{}:{}: expected [commit:]file:rule:line",
                file.display(),
                n + 1
            );
        };
        let num: u64 = num.parse().map_err(|_| {
            anyhow!(
                "{}:{}: expected [commit:]file:rule:line (line number {num:?})",
                file.display(),
                n + 1
            )
        })?;
        let path = match rest.split_once(':') {
            Some((commit, p))
                if (commit.len() == 40 || commit.len() == 64)
                    && commit.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                p
            }
            _ => rest,
        };
        out.push(Foreign {
            tool: "gitleaks",
            path: foreign_path(root, path),
            line: Some(num),
            rule: rule.to_string(),
            secret: None,
            sha1: None,
        });
    }
    Ok(out)
}

/// Parse a detect-secrets `.secrets.baseline`.
pub fn parse_detect_secrets(root: &Path, file: &Path) -> Result<Vec<Foreign>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}: not a detect-secrets baseline: {e}", file.display()))?;
    let Some(results) = doc.get("results").and_then(Value::as_object) else {
        bail!(
            "{}: not a detect-secrets baseline (no \"results\" object)",
            file.display()
        );
    };
    let mut out = Vec::new();
    for (path, items) in results {
        for it in items.as_array().into_iter().flatten() {
            let Some(h) = it.get("hashed_secret").and_then(Value::as_str) else {
                bail!(
                    "{}: a result for {path} has no \"hashed_secret\"",
                    file.display()
                );
            };
            out.push(Foreign {
                tool: "detect-secrets",
                path: foreign_path(root, path),
                line: it.get("line_number").and_then(Value::as_u64),
                rule: it
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                secret: None,
                sha1: Some(h.to_ascii_lowercase()),
            });
        }
    }
    Ok(out)
}

fn sha1_hex(s: &[u8]) -> String {
    Sha1::digest(s).iter().map(|b| format!("{b:02x}")).collect()
}

/// Strings detect-secrets may have hashed for a finding: the secret and every token of its line.
fn candidates(
    finding: &Finding,
    loc: &Location,
    files: &mut HashMap<String, Vec<u8>>,
) -> Vec<Vec<u8>> {
    let mut out = vec![finding.secret.as_bytes().to_vec()];
    if loc.source != "file" {
        return out;
    }
    let data = files
        .entry(loc.path.to_string())
        .or_insert_with(|| std::fs::read(&*loc.path).unwrap_or_default());
    let at = (loc.byte_start as usize).min(data.len());
    let start = memchr::memrchr(b'\n', &data[..at]).map_or(0, |i| i + 1);
    let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
    let line = &data[start..end];
    out.extend(
        line.split(|b| b.is_ascii_whitespace() || b"\"'`=:,;()[]{}<>".contains(b))
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_vec),
    );
    out
}

/// Whether a gitleaks secret and a keysweep secret name the same credential (rules draw boundaries
/// differently: one may hold the other).
fn same_secret(theirs: &str, ours: &str) -> bool {
    theirs == ours
        || (ours.len() >= 8 && theirs.contains(ours))
        || (theirs.len() >= 8 && ours.contains(theirs))
}

/// Match foreign records against keysweep findings. Returns the entries of the matched findings and the
/// records that matched nothing.
pub fn match_findings(
    baseline: &Baseline,
    findings: &[Finding],
    foreign: &[Foreign],
) -> (BTreeSet<Entry>, Vec<Foreign>) {
    let mut entries = BTreeSet::new();
    let mut unmatched = Vec::new();
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut hashes: HashMap<(String, u64), Vec<String>> = HashMap::new();
    for rec in foreign {
        let mut hit = false;
        for f in findings {
            for loc in &f.locations {
                if baseline.path_of(loc) != rec.path {
                    continue;
                }
                let matched = if let Some(h) = &rec.sha1 {
                    let key = (format!("{}\0{}", f.fingerprint, loc.path), loc.byte_start);
                    hashes
                        .entry(key)
                        .or_insert_with(|| {
                            candidates(f, loc, &mut files)
                                .iter()
                                .map(|c| sha1_hex(c))
                                .collect()
                        })
                        .contains(h)
                } else if let Some(s) = &rec.secret {
                    same_secret(s, &f.secret)
                } else {
                    rec.line == Some(loc.line)
                };
                if matched {
                    hit = true;
                    entries.insert(Entry {
                        path: rec.path.clone(),
                        fingerprint: f.fingerprint.clone(),
                        rule_id: f.rule_id.clone(),
                    });
                }
            }
        }
        if !hit {
            unmatched.push(rec.clone());
        }
    }
    // detect-secrets often records one line several times, each plugin hashing its own cut of the value
    // (a keyword's value, a quoted high-entropy string, a URL's password). A record whose line holds a
    // finding another record imported is covered by that entry: no "matches no current finding" for it.
    unmatched.retain(|rec| {
        let (Some(_), Some(line)) = (&rec.sha1, rec.line) else {
            return true;
        };
        !findings.iter().any(|f| {
            f.locations.iter().any(|loc| {
                loc.line == line
                    && baseline.path_of(loc) == rec.path
                    && entries
                        .iter()
                        .any(|e| e.path == rec.path && e.fingerprint == f.fingerprint)
            })
        })
    });
    (entries, unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitleaksignore_lines_with_and_without_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join(".gitleaksignore");
        let commit = "a".repeat(40);
        std::fs::write(
            &f,
            format!("# comment\n\n{commit}:src/a:b.py:generic-api-key:12\n./cfg/x.env:aws-access-token:3\n"),
        )
        .expect("w");
        let r = parse_gitleaks(dir.path(), &f).expect("parse");
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].path.as_str(), r[0].line), ("src/a:b.py", Some(12)));
        assert_eq!(r[0].rule, "generic-api-key");
        assert_eq!((r[1].path.as_str(), r[1].line), ("cfg/x.env", Some(3)));
        std::fs::write(&f, "src/a.py:rule:notanumber\n").expect("w");
        let e = parse_gitleaks(dir.path(), &f).expect_err("bad line");
        assert!(e.to_string().contains(":1:"), "{e}");
    }

    #[test]
    fn detect_secrets_hash_matching_uses_line_tokens() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert!(same_secret("token=ghp_abcdefgh", "ghp_abcdefgh"));
        assert!(!same_secret("abc", "abcd"));
    }
}
