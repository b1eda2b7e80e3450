//! `keysweep report --datastore` and `keysweep triage` over a datastore that sweeps filled: the report is a
//! scan's finding shape with each location's repository and each finding's triage; triage survives a
//! re-recording of the same results; filters narrow; errors name what is missing.
use crate::common::{json, run, stderr, stdout};
use keysweep_model::{Finding, Location};
use keysweep_store::datastore::{sqlite::SqliteStore, Datastore};
use serde_json::Value;
use std::path::Path;

fn finding(fp: &str, secret: &str, paths: &[&str]) -> Finding {
    Finding {
        rule_id: "test.rule".into(),
        rule_name: "Test key".into(),
        provider: "Test".into(),
        category: "ai".into(),
        confidence: "high".into(),
        score: None,
        fingerprint: fp.into(),
        secret: secret.into(),
        redacted: false,
        entropy: 4.2,
        locations: paths
            .iter()
            .map(|p| Location {
                source: "git".into(),
                path: (*p).into(),
                line: 1,
                column: 5,
                byte_start: 4,
                byte_end: 44,
                ignored: false,
                meta: [("blob".to_string(), Value::from(format!("b-{p}")))]
                    .into_iter()
                    .collect(),
            })
            .collect(),
        verification: None,
        description: None,
        rotation_url: None,
        triage: None,
    }
}

const SECRET_A: &str = "tk-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; // keysweep:allow (synthetic)
const SECRET_B: &str = "tk-test-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; // keysweep:allow (synthetic)

fn record(dir: &Path) {
    let store = SqliteStore::open(dir).expect("open");
    let run = store.begin_run("v1", "org").expect("run");
    store
        .record_findings(
            &run,
            "git.example/acme/app",
            &[finding("fpA", SECRET_A, &["app.py"])],
        )
        .expect("record");
    store
        .record_findings(
            &run,
            "git.example/acme/app-fork",
            &[
                finding("fpA", SECRET_A, &["app.py"]),
                finding("fpB", SECRET_B, &["cfg/.env"]),
            ],
        )
        .expect("record");
    store.finish_run(&run).expect("finish");
}

fn report(cwd: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["report", "--datastore", "ds", "-f", "json"];
    args.extend_from_slice(extra);
    let o = run(cwd, &args);
    (o.status.code().unwrap_or(-1), json(&o))
}

#[test]
fn report_and_triage_over_a_datastore() {
    let t = tempfile::tempdir().unwrap();
    let ds = t.path().join("ds");
    // Reading commands never create a datastore.
    let o = run(t.path(), &["report", "--datastore", "ds"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no datastore"), "{}", stderr(&o));
    assert!(!ds.exists());

    record(&ds);
    let (code, doc) = report(t.path(), &[]);
    assert_eq!(code, 1);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{doc}");
    let a = findings.iter().find(|f| f["fingerprint"] == "fpA").unwrap();
    let repos: Vec<&str> = a["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["git.example/acme/app", "git.example/acme/app-fork"]);
    assert_eq!(a["triage"]["status"], "open");
    assert!(
        !doc.to_string().contains(SECRET_A),
        "the store keeps previews only"
    );

    let o = run(
        t.path(),
        &[
            "triage",
            "fpA",
            "--status",
            "false-positive",
            "--note",
            "test fixture",
            "--datastore",
            "ds",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A later sweep records the same results again: the triage stays.
    record(&ds);
    let (_, doc) = report(t.path(), &["--status", "false-positive"]);
    let f = doc["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["fingerprint"], "fpA");
    assert_eq!(f[0]["triage"]["note"], "test fixture");
    let (code, doc) = report(t.path(), &["--status", "open"]);
    assert_eq!((code, doc["findings"].as_array().unwrap().len()), (1, 1));
    let (_, doc) = report(t.path(), &["--repo", "git.example/acme/app"]);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    let (code, doc) = report(t.path(), &["--status", "revoked"]);
    assert_eq!((code, doc["findings"].as_array().unwrap().len()), (0, 0));

    // Human output shows the triage state.
    let o = run(
        t.path(),
        &["report", "--datastore", "ds", "--color", "never"],
    );
    assert!(
        stdout(&o).contains("triage:      false-positive — test fixture"),
        "{}",
        stdout(&o)
    );

    // Errors name what is wrong.
    let o = run(
        t.path(),
        &[
            "triage",
            "nope",
            "--status",
            "accepted",
            "--datastore",
            "ds",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope: no finding"), "{}", stderr(&o));
    let o = run(
        t.path(),
        &["triage", "fpA", "--status", "fixed", "--datastore", "ds"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a triage status"), "{}", stderr(&o));
}
