//! GitLab's secret-detection report (`gl-secret-detection-report.json`, the `reports: secret_detection`
//! artifact), so findings show in GitLab's merge-request widget and security tab. Schema version
//! `SCHEMA_VERSION` of GitLab's security report schemas: `scan` (analyzer, scanner, type
//! `secret_detection`, start and end time without zone, status) and one vulnerability per place a secret
//! was seen, with a stable id, the rule as primary identifier, a severity (from `sarif::severity`: the rule's
//! confidence and the verification outcome), and a location (`file`, `start_line`, `end_line`, `commit.sha`;
//! `0000000` outside git history, as GitLab's own analyzer writes). The secret itself is never written: only
//! the redacted form, in the description, when the report redacts. Warnings become `scan.messages`.
use crate::ScanSummary;
use keysweep_model::{Finding, Location};
use serde_json::{json, Value};

/// The security report schema version the report declares (and is validated against in tests).
pub const SCHEMA_VERSION: &str = "15.2.1";

/// The commit sha GitLab's analyzer writes for findings outside git history.
const NO_COMMIT: &str = "0000000";

/// GitLab's severity scale from keysweep's 0–10 severity.
fn severity(f: &Finding) -> &'static str {
    match crate::sarif::severity(f) {
        s if s >= 9.0 => "Critical",
        s if s >= 7.0 => "High",
        s if s >= 4.0 => "Medium",
        _ => "Low",
    }
}

/// A UUID-shaped id that stays the same for the same secret at the same place across pipelines (GitLab
/// tracks vulnerabilities by it).
fn vulnerability_id(f: &Finding, l: &Location, sha: &str) -> String {
    let key = format!("{}\0{}\0{}\0{}", f.fingerprint, l.path, l.line, sha);
    let h = keysweep_model::fingerprint("gitlab-secret-detection", key.as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone: the schema's pattern) of a Unix time.
fn gitlab_time(unix: i64) -> String {
    let (y, m, d, hh, mm, ss) = keysweep_model::time::civil_from_unix(unix);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")
}

/// The report document. `redacted` says whether `findings` hold redacted secrets (the description then
/// shows the redacted form; otherwise no secret is written at all).
pub fn document(findings: &[Finding], summary: &ScanSummary, redacted: bool) -> Value {
    let tool = || {
        json!({
            "id": "keysweep",
            "name": "keysweep",
            "version": env!("CARGO_PKG_VERSION"),
            "vendor": {"name": "keysweep"},
        })
    };
    let started = summary.started_unix.unwrap_or(0);
    let ended = started + (summary.duration_ms.unwrap_or(0) / 1000) as i64;
    let mut vulnerabilities = Vec::new();
    for f in findings {
        for l in &f.locations {
            let sha = l
                .meta
                .commit()
                .filter(|s| !s.is_empty())
                .unwrap_or(NO_COMMIT);
            let mut description = format!(
                "{} ({} {} credential) found by keysweep rule {}; fingerprint {}.",
                f.rule_name, f.provider, f.category, f.rule_id, f.fingerprint
            );
            if redacted {
                description.push_str(&format!(" Secret (redacted): {}.", f.secret));
            }
            if let Some(v) = &f.verification {
                description.push_str(&format!(" Verification: {}.", v.status));
            }
            let mut commit = json!({"sha": sha});
            if let Some(g) = l.meta.git() {
                for (from, to) in [
                    (&g.author, "author"),
                    (&g.date, "date"),
                    (&g.summary, "message"),
                ] {
                    if let Some(v) = from {
                        commit[to] = v.as_str().into();
                    }
                }
            }
            let mut v = json!({
                "id": vulnerability_id(f, l, sha),
                "category": "secret_detection",
                "name": f.rule_name.chars().take(255).collect::<String>(),
                "description": description,
                "severity": severity(f),
                "identifiers": [{
                    "type": "keysweep_rule_id",
                    "name": format!("keysweep rule {}", f.rule_id).chars().take(255).collect::<String>(),
                    "value": f.rule_id,
                }],
                "location": {
                    "file": &*l.path,
                    "start_line": l.line.max(1),
                    "end_line": l.line.max(1),
                    "commit": commit,
                },
            });
            if let Some(url) = &f.rotation_url {
                v["solution"] =
                    format!("Revoke and rotate this credential (see {url}), then remove it.")
                        .into();
                v["links"] = json!([{"url": url}]);
            } else {
                v["solution"] =
                    "Revoke and rotate this credential with its provider, then remove it.".into();
            }
            vulnerabilities.push(v);
        }
    }
    let messages: Vec<Value> = summary
        .warnings
        .iter()
        .map(|w| json!({"level": "warn", "value": w}))
        .collect();
    let failed = summary.stats.errors > 0 || summary.stats.unreadable > 0;
    json!({
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": tool(),
            "scanner": tool(),
            "type": "secret_detection",
            "start_time": gitlab_time(started),
            "end_time": gitlab_time(ended),
            "status": if failed { "failure" } else { "success" },
            "messages": messages,
        },
        "vulnerabilities": vulnerabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_no_zone_and_ids_are_uuid_shaped_and_stable() {
        assert_eq!(gitlab_time(0), "1970-01-01T00:00:00");
        let f = Finding {
            rule_id: "r".into(),
            rule_name: "R".into(),
            provider: "p".into(),
            category: "c".into(),
            confidence: "high".into(),
            score: None,
            fingerprint: "f".into(),
            secret: "s".into(),
            redacted: false,
            entropy: 0.0,
            locations: Vec::new(),
            verification: None,
            description: None,
            rotation_url: None,
            triage: None,
        };
        let l: Location = serde_json::from_value(json!({"source": "file", "path": "a", "line": 1,
            "column": 1, "byte_start": 0, "byte_end": 1}))
        .expect("location");
        let id = vulnerability_id(&f, &l, NO_COMMIT);
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(id, vulnerability_id(&f, &l, NO_COMMIT));
        assert_ne!(id, vulnerability_id(&f, &l, "abc"));
        assert_eq!(severity(&f), "High");
    }
}
