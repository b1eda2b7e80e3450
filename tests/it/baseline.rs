//! Baselines at the CLI: `baseline create|update|import`, suppression with `--baseline` (and automatic
//! discovery of `.keysweep-baseline.json`), merge-friendliness across git branches, and imports of gitleaks and
//! detect-secrets baselines. Uses the test rules folder, never the built-in catalogue.
use crate::common;

use common::*;
use sha1::{Digest, Sha1};
use std::fs;
use std::path::Path;

const AWS: &str = "AKIA4QXZ7RB2MNV5KD3Y";

/// A work folder `w` (marked as a repository root) and the test rules beside it.
fn setup() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(w.join(".git")).unwrap();
    let rules = rules_dir(t.path()).display().to_string();
    (t, w, rules)
}

fn ks(w: &Path, rules: &str, args: &[&str]) -> std::process::Output {
    run_isolated(w, Path::new(rules), args)
}

/// `scan . -f json`: exit code, sorted secrets and the suppressed count.
fn scan(w: &Path, rules: &str, extra: &[&str]) -> (i32, Vec<String>, u64) {
    let mut a = vec!["scan", ".", "-f", "json"];
    a.extend_from_slice(extra);
    let o = ks(w, rules, &a);
    let doc = json(&o);
    let mut s: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let secret = f["secret"].as_str().unwrap().to_string();
            f["locations"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |l| format!("{}@{}", secret, l["path"].as_str().unwrap()))
        })
        .collect();
    s.sort();
    let sup = doc["summary"]["stats"]["suppressed"].as_u64().unwrap();
    (o.status.code().unwrap_or(-1), s, sup)
}

fn baseline_paths(w: &Path) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(w.join(".keysweep-baseline.json")).unwrap())
            .unwrap();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["path"].as_str().unwrap(),
                e["rule_id"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn create_suppresses_survives_moves_and_update_prunes() {
    let (_t, w, rules) = setup();
    let (t1, t2) = (github_token(BODY), github_token(BODY2));
    fs::write(w.join("a.txt"), format!("token = {t1}\n")).unwrap();
    fs::write(w.join("b.txt"), format!("aws = {AWS}\n")).unwrap();
    let o = ks(&w, &rules, &["baseline", "create", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(w.join(".keysweep-baseline.json")).unwrap();
    assert!(
        !text.contains(&t1) && !text.contains(AWS),
        "no secrets in the baseline"
    );
    assert!(
        !text.contains("\"line") && !text.contains("date") && !text.contains("time"),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        3 + 2 + 2,
        "one entry per line: {text}"
    );
    assert_eq!(
        baseline_paths(&w),
        ["a.txt:test.github", "b.txt:test.aws-key-id"]
    );

    // Found automatically; suppressed findings are counted; moving the secret down keeps it accepted.
    assert_eq!(scan(&w, &rules, &[]), (0, vec![], 2));
    fs::write(w.join("a.txt"), format!("# header\n\n\ntoken = {t1}\n")).unwrap();
    assert_eq!(scan(&w, &rules, &[]).0, 0);
    // A new secret, and a known secret at a new path, are reported.
    fs::write(w.join("c.txt"), format!("{t2}\n")).unwrap();
    fs::write(w.join("d.txt"), format!("copy {t1}\n")).unwrap();
    let (code, found, sup) = scan(&w, &rules, &[]);
    assert_eq!(code, 1);
    assert_eq!(found, [format!("{t2}@c.txt"), format!("{t1}@d.txt")]);
    assert_eq!(sup, 2);
    assert_eq!(scan(&w, &rules, &["--no-baseline"]).1.len(), 4);
    // --baseline FILE from another folder works the same (paths are relative to the baseline file).
    let o = ks(
        w.parent().unwrap(),
        &rules,
        &[
            "scan",
            "w",
            "-f",
            "json",
            "--baseline",
            "w/.keysweep-baseline.json",
        ],
    );
    assert_eq!(json(&o)["findings"].as_array().unwrap().len(), 2);

    // create refuses to overwrite; update prunes the AWS key (gone) and adds the new findings.
    let o = ks(&w, &rules, &["baseline", "create", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    fs::write(w.join("b.txt"), "aws = removed\n").unwrap();
    let o = ks(&w, &rules, &["baseline", "update", ".", "--prune-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 kept, 0 added, 1 pruned"),
        "{}",
        stderr(&o)
    );
    assert_eq!(baseline_paths(&w), ["a.txt:test.github"]);
    let o = ks(&w, &rules, &["baseline", "update", "."]);
    assert!(
        stderr(&o).contains("1 kept, 2 added, 0 pruned"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        baseline_paths(&w),
        [
            "a.txt:test.github",
            "c.txt:test.github",
            "d.txt:test.github"
        ]
    );
    assert_eq!(scan(&w, &rules, &[]).0, 0);
    // Updating from a sub-folder leaves entries elsewhere alone.
    fs::create_dir_all(w.join("sub")).unwrap();
    let o = ks(&w, &rules, &["baseline", "update", "sub"]);
    assert!(
        stderr(&o).contains("3 kept, 0 added, 0 pruned"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn corrupt_baseline_is_an_error_naming_it_and_config_can_point_elsewhere() {
    let (_t, w, rules) = setup();
    fs::write(w.join("a.txt"), format!("{}\n", github_token(BODY))).unwrap();
    fs::write(
        w.join(".keysweep-baseline.json"),
        "{ \"keysweep_baseline\": 1,\n  \"entries\": [ oops",
    )
    .unwrap();
    let o = ks(&w, &rules, &["scan", "."]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(".keysweep-baseline.json") && stderr(&o).contains("line 2"),
        "{}",
        stderr(&o)
    );
    fs::remove_file(w.join(".keysweep-baseline.json")).unwrap();
    // `baseline = "..."` in .keysweep.toml, relative to the config file.
    fs::create_dir_all(w.join("sec")).unwrap();
    fs::write(
        w.join(".keysweep.toml"),
        "baseline = \"sec/accepted.json\"\n",
    )
    .unwrap();
    let with_config = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--no-builtin-rules", "--rules", &rules]);
        run(&w, &a)
    };
    let o = with_config(&["baseline", "create", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(w.join("sec/accepted.json").is_file());
    assert!(!w.join(".keysweep-baseline.json").exists());
    let o = with_config(&["scan", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("suppressed"), "{}", stdout(&o));
}

#[test]
fn branches_that_each_accept_a_finding_merge_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("repo");
    fs::create_dir_all(&w).unwrap();
    let rules = rules_dir(t.path()).display().to_string();
    git(&w, &["init", "-q", "-b", "main"]);
    for (f, body) in [("b.txt", BODY), ("d.txt", BODY2), ("f.txt", BODY3)] {
        fs::write(w.join(f), format!("{}\n", github_token(body))).unwrap();
    }
    assert_eq!(
        ks(&w, &rules, &["baseline", "create", "."]).status.code(),
        Some(0)
    );
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-qm", "base"]);
    // Each branch adds a different secret and accepts it.
    git(&w, &["checkout", "-qb", "one"]);
    fs::write(
        w.join("a.txt"),
        format!("{}\n", github_token("Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0")),
    )
    .unwrap();
    assert_eq!(
        ks(&w, &rules, &["baseline", "update", "."]).status.code(),
        Some(0)
    );
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-qm", "one"]);
    git(&w, &["checkout", "-q", "main"]);
    git(&w, &["checkout", "-qb", "two"]);
    fs::write(w.join("e.txt"), format!("aws {AWS}\n")).unwrap();
    assert_eq!(
        ks(&w, &rules, &["baseline", "update", "."]).status.code(),
        Some(0)
    );
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-qm", "two"]);
    git(&w, &["merge", "-q", "--no-edit", "one"]);
    assert_eq!(
        baseline_paths(&w),
        [
            "a.txt:test.github",
            "b.txt:test.github",
            "d.txt:test.github",
            "e.txt:test.aws-key-id",
            "f.txt:test.github"
        ]
    );
    let (code, found, sup) = scan(&w, &rules, &[]);
    assert_eq!((code, found.len(), sup), (0, 0, 5));
}

fn sha1_hex(s: &str) -> String {
    Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn import_gitleaks_report_ignore_file_and_detect_secrets() {
    let (t, w, rules) = setup();
    // The foreign files sit outside the scanned tree (they hold secrets themselves).
    let ext = |name: &str| t.path().join(name).display().to_string();
    let (t1, t2) = (github_token(BODY), github_token(BODY2));
    let password = "Xk9#mP2$vL8qRt4w";
    fs::create_dir_all(w.join("src")).unwrap();
    fs::write(
        w.join("src/a.py"),
        format!("import os\n\nTOKEN = \"{t1}\"\n"),
    )
    .unwrap();
    fs::write(w.join("b.env"), format!("AWS_ACCESS_KEY_ID={AWS}\n")).unwrap();
    fs::write(
        w.join("c.cfg"),
        format!("[db]\npassword = \"{password}\"\n"),
    )
    .unwrap();
    fs::write(w.join("new.txt"), format!("{t2}\n")).unwrap();
    // gitleaks JSON report (holds the secret), with a record for a file that no longer exists.
    let report = serde_json::json!([
        {"RuleID": "github-pat", "File": "src/a.py", "StartLine": 3, "Secret": t1,
         "Fingerprint": format!("{}:src/a.py:github-pat:3", "a".repeat(40))},
        {"RuleID": "github-pat", "File": "gone.py", "StartLine": 1, "Secret": "REDACTED"}
    ]);
    fs::write(ext("gl.json"), report.to_string()).unwrap();
    fs::write(
        ext(".gitleaksignore"),
        format!("# accepted\n{}:b.env:aws-access-token:1\n", "b".repeat(40)),
    )
    .unwrap();
    let ds = serde_json::json!({
        "version": "1.5.0",
        "results": {"c.cfg": [{"type": "Secret Keyword", "filename": "c.cfg",
                               "hashed_secret": sha1_hex(password), "is_verified": false, "line_number": 2}]}
    });
    fs::write(ext(".secrets.baseline"), ds.to_string()).unwrap();
    let o = ks(
        &w,
        &rules,
        &[
            "baseline",
            "import",
            ".",
            "--gitleaks",
            &ext("gl.json"),
            "--gitleaks",
            &ext(".gitleaksignore"),
            "--detect-secrets",
            &ext(".secrets.baseline"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("gone.py:1") && err.contains("1 record(s) unmatched"),
        "{err}"
    );
    assert!(
        !err.contains(&t1) && !err.contains(password),
        "no secrets in messages: {err}"
    );
    assert_eq!(
        baseline_paths(&w),
        [
            "b.env:test.aws-key-id",
            "c.cfg:test.password",
            "src/a.py:test.github"
        ]
    );
    let (code, found, sup) = scan(&w, &rules, &[]);
    assert_eq!((code, found, sup), (1, vec![format!("{t2}@new.txt")], 3));
    // A wrong hash imports nothing.
    let bad = serde_json::json!({"results": {"c.cfg": [{"hashed_secret": sha1_hex("other"), "line_number": 2}]}});
    fs::write(ext("bad.baseline"), bad.to_string()).unwrap();
    fs::remove_file(w.join(".keysweep-baseline.json")).unwrap();
    let o = ks(
        &w,
        &rules,
        &[
            "baseline",
            "import",
            ".",
            "--detect-secrets",
            &ext("bad.baseline"),
        ],
    );
    assert!(stderr(&o).contains("0 new entries"), "{}", stderr(&o));
    // Malformed inputs are errors naming the file.
    fs::write(ext("broken.json"), "{\"results\": 3}").unwrap();
    let o = ks(
        &w,
        &rules,
        &[
            "baseline",
            "import",
            ".",
            "--detect-secrets",
            &ext("broken.json"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.json"), "{}", stderr(&o));
}
