//! SARIF 2.1.0 output: one run, one reportingDescriptor per rule that produced findings, one result per
//! finding with every location, and the fingerprint as a partial fingerprint for de-duplication by consumers.
//! Built with serde_json (validated against the official schema in tests).
use keysweep_model::Finding;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn document(findings: &[Finding]) -> Value {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in findings {
        rules.entry(&f.rule_id).or_insert(f);
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
                "properties": {"tags": ["security", "secret", f.category.clone()], "provider": f.provider},
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
