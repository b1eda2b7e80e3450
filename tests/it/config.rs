//! `.keysweep.toml` honoured by every command (issue 16): `exclude` in every source (working tree, staged
//! changes, history) and relative to the repository root wherever keysweep runs from; `fail_on = "live"`;
//! and `--disable-rule` naming a rule that does not exist.
use crate::common;

use common::*;
use std::fs;
use std::path::Path;

/// Run a scanning command with the test rules only (config discovered as usual), JSON out.
fn ks(cwd: &Path, rules: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = run_with_rules(cwd, rules, &[args, &["-f", "json"]].concat());
    (o.status.code().unwrap_or(-1), json(&o), stderr(&o))
}

fn paths(doc: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().clone())
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A repository whose config excludes `fixtures`, with a key there and one in `app.py`.
fn repo_with_excluded_fixture(t: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let rules = rules_dir(t);
    let r = t.join("repo");
    init_repo(&r);
    fs::write(r.join(".keysweep.toml"), "exclude = [\"fixtures\"]\n").unwrap();
    fs::create_dir_all(r.join("fixtures")).unwrap();
    fs::write(
        r.join("fixtures/key.txt"),
        format!("token = {}\n", github_token(BODY)),
    )
    .unwrap();
    (r, rules)
}

#[test]
fn staged_honours_config_exclude() {
    let t = tempfile::tempdir().unwrap();
    let (r, rules) = repo_with_excluded_fixture(t.path());
    git(&r, &["add", "."]);
    let (code, doc, err) = ks(&r, &rules, &["staged"]);
    assert_eq!(paths(&doc), Vec::<String>::new(), "{err}");
    assert_eq!(code, 0, "{err}");
    // A key outside the excluded folder still blocks the commit.
    fs::write(r.join("app.py"), format!("T = '{}'\n", github_token(BODY2))).unwrap();
    git(&r, &["add", "app.py"]);
    let (code, doc, err) = ks(&r, &rules, &["staged"]);
    assert_eq!(paths(&doc), vec!["app.py".to_string()], "{err}");
    assert_eq!(code, 1);
}

#[test]
fn git_history_honours_config_exclude() {
    let t = tempfile::tempdir().unwrap();
    let (r, rules) = repo_with_excluded_fixture(t.path());
    fs::write(r.join("app.py"), format!("T = '{}'\n", github_token(BODY2))).unwrap();
    git(&r, &["add", "."]);
    git(&r, &["commit", "-q", "-m", "fixture and app"]);
    let (code, doc, err) = ks(&r, &rules, &["git", "."]);
    assert_eq!(paths(&doc), vec!["app.py".to_string()], "{err}");
    assert_eq!(code, 1);
}

#[test]
fn config_exclude_is_relative_to_the_repository_root_from_a_subfolder() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let r = t.path().join("repo");
    init_repo(&r);
    fs::write(r.join(".keysweep.toml"), "exclude = [\"sub/deep\"]\n").unwrap();
    fs::create_dir_all(r.join("sub/deep")).unwrap();
    fs::write(
        r.join("sub/deep/k.txt"),
        format!("token = {}\n", github_token(BODY)),
    )
    .unwrap();
    fs::write(
        r.join("sub/other.txt"),
        format!("token = {}\n", github_token(BODY2)),
    )
    .unwrap();
    // From the root and from `sub/`: the excluded folder is skipped, the rest found.
    let (_, doc, err) = ks(&r, &rules, &["scan", "."]);
    assert_eq!(paths(&doc), vec!["sub/other.txt".to_string()], "{err}");
    let (code, doc, err) = ks(&r.join("sub"), &rules, &["scan", "."]);
    assert_eq!(paths(&doc), vec!["other.txt".to_string()], "{err}");
    assert_eq!(code, 1);
}

#[test]
fn fail_on_live_in_config_does_not_fail_on_unverified_findings() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    fs::write(w.join("leak.sh"), format!("T={}\n", github_token(BODY))).unwrap();
    // The test rules name no verifier: the finding stays unverified, so it is reported but not live.
    let (code, doc, err) = ks(&w, &rules, &["scan", "."]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(paths(&doc), vec!["leak.sh".to_string()]);
    fs::write(w.join(".keysweep.toml"), "fail_on = \"live\"\n").unwrap();
    let (code, doc, err) = ks(&w, &rules, &["scan", "."]);
    assert_eq!(paths(&doc), vec!["leak.sh".to_string()], "{err}");
    assert_eq!(code, 0, "{err}");
    // The command line still decides when it says so.
    let (code, _, err) = ks(&w, &rules, &["scan", ".", "--fail-on", "any"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn disabling_an_unknown_rule_is_an_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    fs::write(w.join("leak.sh"), format!("T={}\n", github_token(BODY))).unwrap();
    let o = run_with_rules(
        &w,
        &rules,
        &["scan", ".", "--no-config", "--disable-rule", "no.such.rule"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no.such.rule"), "{}", stderr(&o));
    // A known id (a test rule, or one of the built-in catalogue) is accepted.
    let o = run_with_rules(
        &w,
        &rules,
        &[
            "scan",
            ".",
            "--no-config",
            "--disable-rule",
            "test.github",
            "-f",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(paths(&json(&o)), Vec::<String>::new());
}

/// `--config-from-base` (issue 23 item 16): a change that adds an `exclude`, `fail_on = "none"` and a baseline
/// entry for its own leak cannot silence its own range scan; the base commit's baseline still applies.
#[test]
fn config_from_base_ignores_what_the_change_does_to_config_and_baseline() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let r = t.path().join("repo");
    init_repo(&r);
    // The base: a config with no excludes, and a baseline that accepts an old fixture's key.
    let old = github_token(BODY);
    fs::write(r.join("old.txt"), format!("token = {old}\n")).unwrap();
    fs::write(r.join(".keysweep.toml"), "disable_rules = []\n").unwrap();
    git(&r, &["add", "."]);
    git(&r, &["commit", "-q", "-m", "base"]);
    let o = run_with_rules(&r, &rules, &["baseline", "create"]);
    assert!(o.status.success(), "{}", stderr(&o));
    git(&r, &["add", "."]);
    git(&r, &["commit", "-q", "-m", "accept the old fixture"]);
    let base = git(&r, &["rev-parse", "HEAD"]).trim().to_string();
    // The change: a new leak, touched old fixture, and config + baseline edits that would hide the leak.
    let new = github_token(BODY2);
    fs::write(r.join("leak.txt"), format!("token = {new}\n")).unwrap();
    fs::write(r.join("old.txt"), format!("token = {old}\n# touched\n")).unwrap();
    fs::write(
        r.join(".keysweep.toml"),
        "exclude = [\"leak.txt\"]\nfail_on = \"none\"\n",
    )
    .unwrap();
    git(&r, &["add", "."]);
    git(&r, &["commit", "-q", "-m", "sneak"]);
    let range = format!("{base}..HEAD");
    // Trusting the checkout, the change silences itself.
    let (code, doc, _) = ks(&r, &rules, &["git", ".", "--range", &range]);
    assert_eq!(code, 0);
    assert!(paths(&doc).is_empty(), "{doc}");
    // Reading config and baseline from the base commit: the leak is reported, the old key stays accepted.
    let (code, doc, err) = ks(
        &r,
        &rules,
        &["git", ".", "--range", &range, "--config-from-base"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(paths(&doc), ["leak.txt"], "{doc}");
    // Without a base there is nothing to read from: an error, not a silent fallback.
    let o = run(&r, &["git", ".", "--config-from-base"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--config-from-base needs a base"),
        "{}",
        stderr(&o)
    );
}
