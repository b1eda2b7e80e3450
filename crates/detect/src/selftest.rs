//! Rule self-test: every example must yield a finding of its rule and no negative example may, on every
//! engine this build has, and the engines must report identical findings. Used by `keysweep rules check`
//! and by the test suite over the embedded catalogue.
use crate::engine::EngineKind;
use crate::scan::Scanner;
use anyhow::Result;
use keysweep_model::Origin;
use keysweep_rules::RuleSet;
use std::collections::BTreeSet;

/// The engines compiled into this build.
pub fn engines() -> Vec<EngineKind> {
    let mut v = Vec::new();
    if cfg!(feature = "hyperscan") {
        v.push(EngineKind::Hyperscan);
    }
    v.push(EngineKind::Portable);
    v
}

/// Findings of one text as a sorted set of (rule id, secret).
pub fn findings_of(scanner: &Scanner, text: &str) -> BTreeSet<(String, String)> {
    let origin = Origin::new("example", "example.txt");
    scanner
        .find_in_blob(text.as_bytes(), &origin)
        .into_iter()
        .map(|f| {
            (
                scanner.rules.rules[f.rule].spec.id.clone(),
                String::from_utf8_lossy(&f.secret).into_owned(),
            )
        })
        .collect()
}

fn excerpt(s: &str) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() > 70 {
        format!("{}…", one_line.chars().take(70).collect::<String>())
    } else {
        one_line
    }
}

/// Run every example of every rule in `rules`; returns one message per failure.
pub fn run(rules: &RuleSet) -> Result<Vec<String>> {
    let mut scanners = Vec::new();
    for e in engines() {
        let mut s = Scanner::new(rules.clone(), e)?;
        s.inline_allow = false;
        scanners.push(s);
    }
    let mut failures = Vec::new();
    for rule in &rules.rules {
        let id = &rule.spec.id;
        let cases = rule
            .spec
            .examples
            .iter()
            .map(|x| (x, true))
            .chain(rule.spec.negative_examples.iter().map(|x| (x, false)));
        for (text, positive) in cases {
            let mut per_engine = Vec::new();
            for s in &scanners {
                let found = findings_of(s, text);
                let hit = found.iter().any(|(r, _)| r == id);
                if hit != positive {
                    failures.push(format!(
                        "{}: rule {id}: {} {:?} {} on the {} engine",
                        rule.file,
                        if positive {
                            "example"
                        } else {
                            "negative example"
                        },
                        excerpt(text),
                        if positive {
                            "is not found"
                        } else {
                            "is reported"
                        },
                        s.engine_name()
                    ));
                }
                per_engine.push(found);
            }
            if per_engine.windows(2).any(|w| w[0] != w[1]) {
                failures.push(format!(
                    "{}: rule {id}: engines disagree on {:?}: {per_engine:?}",
                    rule.file,
                    excerpt(text)
                ));
            }
        }
    }
    Ok(failures)
}
