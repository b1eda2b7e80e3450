//! SARIF 2.1.0 output: one run, one reportingDescriptor per rule that produced findings, one result per
//! finding with every location, and the fingerprint as a partial fingerprint for de-duplication by consumers.
//! Severity for GitHub code scanning (`security-severity`, `precision`) comes from the rule's confidence and
//! the verification outcome (`severity`, `precision`). Built with serde_json (validated against the official
//! schema in tests).
use keysweep_model::Finding;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn document(findings: &[Finding]) -> Value {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    // A rule's severity is that of its most severe finding: code scanning reads it from the rule only.
    let mut rule_severity: BTreeMap<&str, f64> = BTreeMap::new();
    for f in findings {
        rules.entry(&f.rule_id).or_insert(f);
        let s = rule_severity.entry(&f.rule_id).or_insert(0.0);
        *s = s.max(severity(f));
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let descriptors: Vec<Value> = rules
        .values()
        .map(|f| {
            json!({
                "id": f.rule_id,
                "name": f.rule_id.replace(['.', '-'], "_"),
                "shortDescription": {"text": f.rule_name},
                "fullDescription": {"text": format!("{} ({}, {} credential)", f.rule_name, f.provider, f.category)},
                "defaultConfiguration": {"level": level(&f.confidence)},
                "properties": {
                    "tags": ["security", "secret", f.category.clone()],
                    "provider": f.provider,
                    "security-severity": format!("{:.1}", rule_severity[f.rule_id.as_str()]),
                    "precision": precision(f),
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let locations: Vec<Value> = f
                .locations
                .iter()
                .map(|l| {
                    json!({
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri(&l.path)},
                            "region": {
                                "startLine": l.line.max(1),
                                "startColumn": l.column.max(1),
                                "byteOffset": l.byte_start,
                                "byteLength": l.byte_end.saturating_sub(l.byte_start),
                            }
                        }
                    })
                })
                .collect();
            json!({
                "ruleId": f.rule_id,
                "ruleIndex": rule_index[f.rule_id.as_str()],
                "level": level(&f.confidence),
                "message": {"text": format!("{} found: {}", f.rule_name, f.secret)},
                "locations": locations,
                "partialFingerprints": {"keysweep/v1": f.fingerprint},
                "properties": {
                    "security-severity": format!("{:.1}", severity(f)),
                    "confidence": f.confidence,
                    "verification": f.verification.as_ref().map(|v| v.status.as_str()),
                    "triage": f.triage.as_ref().map(|t| t.status.as_str()),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keysweep",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }},
            "results": results,
        }]
    })
}

/// GitHub's `security-severity` scale (0–10: ≥ 9 critical, ≥ 7 high, ≥ 4 medium, else low): a credential
/// the provider accepted is critical; one it rejected is low (a leak, but no longer a key); otherwise the
/// rule's confidence decides.
pub fn severity(f: &Finding) -> f64 {
    match f.verification.as_ref().map(|v| v.status.as_str()) {
        Some("live") => 9.8,
        Some("restricted") => 9.1,
        Some("dead") => 2.0,
        _ => match f.confidence.as_str() {
            "high" => 8.0,
            "medium" => 6.0,
            _ => 3.5,
        },
    }
}

/// SARIF `precision` (how often such a result is a true positive): very high once a provider confirmed it.
pub fn precision(f: &Finding) -> &'static str {
    match f.verification.as_ref().map(|v| v.status.as_str()) {
        Some("live" | "restricted") => "very-high",
        _ => match f.confidence.as_str() {
            "high" => "high",
            "medium" => "medium",
            _ => "low",
        },
    }
}

fn level(confidence: &str) -> &'static str {
    match confidence {
        "high" => "error",
        "medium" => "warning",
        _ => "note",
    }
}

/// Relative paths as URI references; characters outside the unreserved set are percent-encoded.
fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use keysweep_model::Verification;

    fn finding(confidence: &str, status: Option<&str>) -> Finding {
        Finding {
            rule_id: "r".into(),
            rule_name: "R".into(),
            provider: "P".into(),
            category: "ai".into(),
            confidence: confidence.into(),
            score: None,
            fingerprint: "f".into(),
            secret: "s".into(),
            redacted: false,
            entropy: 4.0,
            locations: vec![],
            verification: status.map(|s| Verification {
                status: s.into(),
                detail: None,
                identity: None,
            }),
            description: None,
            rotation_url: None,
            triage: None,
        }
    }

    #[test]
    fn severity_and_precision_follow_confidence_and_verification() {
        assert_eq!(severity(&finding("high", None)), 8.0);
        assert_eq!(severity(&finding("low", Some("unknown"))), 3.5);
        assert_eq!(severity(&finding("low", Some("live"))), 9.8);
        assert_eq!(severity(&finding("high", Some("dead"))), 2.0);
        assert_eq!(precision(&finding("medium", None)), "medium");
        assert_eq!(precision(&finding("low", Some("restricted"))), "very-high");
        // The rule takes its most severe finding's severity.
        let doc = document(&[finding("high", Some("dead")), finding("high", Some("live"))]);
        assert_eq!(
            doc["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
            "9.8"
        );
    }
}
