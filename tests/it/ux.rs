//! The paths a user walks (issue 20): the exit-code and error policy (missing paths, unreadable files, git
//! errors as sentences, closed pipes), bounded ref lists, `--version`, completions, the man page, `rules
//! list` filters, GitLab's secret-detection report, range and file wording, history baselines, and the `--ci`
//! fallback after a force-push, plus a dry run of the GitHub Action's scan step. Uses the test rules folder
//! (`common::rules_dir`) unless a test says otherwise.
use crate::common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// `keysweep ARGS` over the test rules, without a config (`common::run_isolated`).
fn ks(cwd: &Path, rules: &Path, args: &[&str]) -> std::process::Output {
    run_isolated(cwd, rules, args)
}

/// A repository with one commit holding `file` = `text`; returns the commit id.
fn commit_file(repo: &Path, file: &str, text: &str, msg: &str) -> String {
    fs::write(repo.join(file), text).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", msg]);
    git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn a_missing_path_is_an_error_naming_it_even_with_quiet_and_findings_elsewhere() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    fs::create_dir_all(t.path().join("w")).unwrap();
    fs::write(
        t.path().join("w/leak.sh"),
        format!("T={}\n", github_token(BODY)),
    )
    .unwrap();
    let o = ks(t.path(), &rules, &["scan", "-q", "w", "no-such-dir"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keysweep: error: no-such-dir: no such file or directory"),
        "{}",
        stderr(&o)
    );
    // Nothing was scanned: no report with half the answer.
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

/// Run keysweep as an unprivileged user when this test runs as root (root reads every file, whatever its
/// mode): `setpriv` to uid/gid 65534.
fn unprivileged(cwd: &Path, args: &[&str]) -> std::process::Output {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut c = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_keysweep"),
        ]);
        c
    } else {
        bin()
    };
    c.current_dir(cwd)
        .args(args)
        .env("HOME", cwd)
        .output()
        .expect("run keysweep (setpriv is needed when the tests run as root)")
}

#[test]
fn an_unreadable_file_is_a_counted_warning_and_a_clean_but_incomplete_scan_exits_2() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    fs::write(w.join("ok.txt"), "nothing here\n").unwrap();
    fs::write(w.join("locked.txt"), "nothing either\n").unwrap();
    fs::set_permissions(w.join("locked.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    for p in [t.path(), &w, &rules] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(rules.join("test.toml"), fs::Permissions::from_mode(0o644)).unwrap();
    let r = rules.to_str().unwrap();
    let base = [
        "scan",
        "w",
        "--no-builtin-rules",
        "--no-config",
        "--no-cache",
        "--rules",
        r,
    ];
    let o = unprivileged(t.path(), &base);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "keysweep: warning: w/locked.txt: skipped, cannot be read (permission denied)"
        ),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    assert!(
        err.contains("nothing found, but the scan is incomplete (1 unreadable file(s)"),
        "{err}"
    );
    assert!(stdout(&o).contains("1 unreadable"), "{}", stdout(&o));
    assert!(stdout(&o).contains("1 file(s)"), "{}", stdout(&o));
    // JSON counts it; --quiet hides the warning, never the reason for the exit code.
    let mut q = base.to_vec();
    q.extend(["-q", "-f", "json"]);
    let o = unprivileged(t.path(), &q);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["summary"]["stats"]["unreadable"], 1);
    assert!(!stderr(&o).contains("keysweep: warning"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the scan is incomplete"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn git_errors_read_as_sentences() {
    let t = tempfile::tempdir().unwrap();
    let o = run(t.path(), &["git", "--no-config", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "keysweep: error: nowhere: no such file or directory"
    );
    fs::create_dir_all(t.path().join("plain")).unwrap();
    let o = run(t.path(), &["git", "--no-config", "--no-baseline", "plain"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("keysweep: error: plain: not a git repository"),
        "{err}"
    );
    assert!(
        !err.contains("NotFound") && !err.contains("os error") && err.lines().count() == 1,
        "{err}"
    );
}

/// Spawn keysweep with its standard output a pipe whose reading end is closed at once.
fn closed_pipe(cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut child = bin()
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_the_output_quietly_and_keeps_the_exit_code() {
    let t = tempfile::tempdir().unwrap();
    let o = closed_pipe(t.path(), &["rules", "list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // A scan with findings: exit 1 still says so.
    let rules = rules_dir(t.path());
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let many: String = (0..3000)
        .map(|i| format!("line {i} T={}\n", github_token(BODY)))
        .collect();
    fs::write(w.join("leak.txt"), many).unwrap();
    let mut child = bin()
        .current_dir(t.path())
        .args(["scan", "w", "--no-builtin-rules", "--no-config", "--rules"])
        .arg(&rules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Broken pipe"), "{}", stderr(&o));
}

#[test]
fn refs_are_bounded_in_human_and_json_output() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    commit_file(
        &repo,
        "a.env",
        &format!("T={}\n", github_token(BODY)),
        "leak",
    );
    for i in 0..30 {
        git(&repo, &["branch", &format!("b{i:02}")]);
    }
    let o = ks(&repo, &rules, &["git", ".", "-f", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let loc = &json(&o)["findings"][0]["locations"][0];
    assert_eq!(loc["refs"].as_array().unwrap().len(), 20, "{loc}");
    assert_eq!(loc["refs_total"], 31, "{loc}");
    assert_eq!(loc["refs"][0], "refs/heads/b00");
    let o = ks(&repo, &rules, &["git", ".", "--color", "never"]);
    let out = stdout(&o);
    let at = out.lines().find(|l| l.contains("  at a.env")).unwrap();
    assert!(
        at.contains("refs=[refs/heads/b00, refs/heads/b01, refs/heads/b02, +28 more]"),
        "{at}"
    );
    assert!(at.len() < 600, "{}", at.len());
}

#[test]
fn version_completions_man_page_and_rules_list_filters() {
    let t = tempfile::tempdir().unwrap();
    let o = run(t.path(), &["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let v = stdout(&o);
    let listed = stdout(&run(t.path(), &["rules", "list"]));
    let total = listed.lines().last().unwrap().to_string();
    let n: usize = total.trim_end_matches(" rules").parse().unwrap();
    assert!(
        v.starts_with(&format!("keysweep {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains(&format!(", {n} built-in rules)")), "{v}");
    assert!(
        v.contains("engine Hyperscan ") || v.contains("engine portable"),
        "{v}"
    );
    assert!(
        !v.contains("commit unknown"),
        "built in a git checkout: {v}"
    );

    let o = run(t.path(), &["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("_keysweep()"), "{}", stdout(&o));
    assert!(stdout(&o).contains("completions"));
    let o = run(t.path(), &["completions", "zsh"]);
    assert!(
        stdout(&o).starts_with("#compdef keysweep"),
        "{}",
        stdout(&o)
    );

    let o = run(t.path(), &["man"]);
    assert_eq!(o.status.code(), Some(0));
    let man = stdout(&o);
    assert!(man.contains(".TH keysweep 1"), "{man}");
    assert!(
        man.contains("keysweep\\-scan(1)") || man.contains("scan"),
        "{man}"
    );
    let o = run(t.path(), &["man", "--dir", "pages"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let scan_page = fs::read_to_string(t.path().join("pages/keysweep-scan.1")).unwrap();
    assert!(scan_page.contains(".TH keysweep-scan 1"), "{scan_page}");
    assert!(scan_page.contains("max\\-file\\-size"), "{scan_page}");
    assert!(t.path().join("pages/keysweep.1").exists());

    // Sorted by id; filtered by provider and category (case-insensitively).
    let ids: Vec<&str> = listed
        .lines()
        .filter(|l| !l.ends_with(" rules"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let o = run(
        t.path(),
        &["rules", "list", "--format", "json", "--provider", "GITHUB"],
    );
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["provider"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("github")));
    let o = run(
        t.path(),
        &["rules", "list", "--category", "no-such-category"],
    );
    assert_eq!(stdout(&o).trim(), format!("0 of {n} rules"));
}

/// Validate a GitLab report against the vendored schema; every error, with its place.
fn gitlab_errors(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(include_str!(
        "fixtures/gitlab-secret-detection-report-format.json"
    ))
    .unwrap();
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

#[test]
fn gitlab_secret_detection_report_is_valid_and_redacted() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    let tok = github_token(BODY);
    let c1 = commit_file(&repo, "a.env", &format!("x\nT={tok}\n"), "add a key");
    let o = ks(&repo, &rules, &["git", ".", "-f", "gitlab"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains(&tok), "the secret is never written");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(gitlab_errors(&doc), Vec::<String>::new());
    assert_eq!(doc["scan"]["type"], "secret_detection");
    assert_eq!(doc["scan"]["status"], "success");
    let v = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(v.len(), 1, "{doc:#}");
    assert_eq!(v[0]["location"]["file"], "a.env");
    assert_eq!(v[0]["location"]["start_line"], 2);
    assert_eq!(v[0]["location"]["commit"]["sha"], c1.as_str());
    assert_eq!(v[0]["location"]["commit"]["message"], "add a key");
    assert_eq!(v[0]["identifiers"][0]["value"], "test.github");
    assert_eq!(v[0]["severity"], "High");
    // The same finding keeps its id in the next pipeline.
    let again: Value =
        serde_json::from_slice(&ks(&repo, &rules, &["git", ".", "-f", "gitlab"]).stdout).unwrap();
    assert_eq!(again["vulnerabilities"][0]["id"], v[0]["id"]);
    // Outside history: GitLab's placeholder commit; with --show-secrets still no secret.
    let o = ks(
        &repo,
        &rules,
        &["scan", ".", "-f", "gitlab", "--show-secrets"],
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(gitlab_errors(&doc), Vec::<String>::new());
    assert_eq!(
        doc["vulnerabilities"][0]["location"]["commit"]["sha"],
        "0000000"
    );
    assert!(!stdout(&o).contains(&tok));
    // The validator can fail: a report without its scan type is refused.
    let mut broken = doc.clone();
    broken["scan"]["type"] = "sast".into();
    broken["vulnerabilities"][0]["identifiers"] = Value::Array(vec![]);
    assert_eq!(
        gitlab_errors(&broken).len(),
        2,
        "{:?}",
        gitlab_errors(&broken)
    );
}

#[test]
fn range_findings_name_the_range_tip_and_files_are_counted_as_files() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    let base = commit_file(&repo, "readme", "hi\n", "start");
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    commit_file(
        &repo,
        "a.env",
        &format!("T={}\n", github_token(BODY)),
        "leak",
    );
    git(&repo, &["checkout", "-q", "main"]);
    let range = format!("{base}..feature");
    let o = ks(
        &repo,
        &rules,
        &["git", ".", "--range", &range, "-f", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        json(&o)["findings"][0]["locations"][0]["refs"],
        serde_json::json!(["feature"])
    );
    let o = ks(&repo, &rules, &["git", ".", "--since", &base, "-f", "json"]);
    assert_eq!(json(&o)["findings"].as_array().unwrap().len(), 0);
    let o = ks(&repo, &rules, &["scan", "readme", "--color", "never"]);
    assert!(
        stdout(&o).contains("1 file(s), 3 B scanned in "),
        "{}",
        stdout(&o)
    );
    let o = ks(&repo, &rules, &["scan", "readme", "-f", "html"]);
    assert!(stdout(&o).contains("in 1 file(s)"), "HTML says files too");
    let o = ks(&repo, &rules, &["git", ".", "--color", "never"]);
    assert!(stdout(&o).contains("blob(s)"), "{}", stdout(&o));
}

#[test]
fn detect_secrets_records_of_an_imported_line_are_not_reported_unmatched() {
    use sha1::{Digest, Sha1};
    let hex = |s: &str| -> String {
        Sha1::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let w = t.path().join("w");
    fs::create_dir_all(w.join(".git")).unwrap();
    let password = "Xk9#mP2$vL8qRt4w";
    fs::write(
        w.join("c.cfg"),
        format!("[db]\npassword = \"{password}\"\n"),
    )
    .unwrap();
    // Two plugins recorded the line, each hashing its own cut of it: the keyword's value, and the quoted
    // string with its quotes. Only the first is a string keysweep can recompute; both are accepted.
    let ds = serde_json::json!({"results": {"c.cfg": [
        {"type": "Secret Keyword", "hashed_secret": hex(password), "line_number": 2},
        {"type": "Quoted High Entropy String", "hashed_secret": hex(&format!("\"{password}\"")),
         "line_number": 2},
        {"type": "Secret Keyword", "hashed_secret": hex("gone"), "line_number": 9}
    ]}});
    let ext = t.path().join("ds.baseline");
    fs::write(&ext, ds.to_string()).unwrap();
    let o = ks(
        &w,
        &rules,
        &[
            "baseline",
            "import",
            ".",
            "--detect-secrets",
            ext.to_str().unwrap(),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("c.cfg:2"), "{err}");
    assert!(
        err.contains("c.cfg:9") && err.contains("1 record(s) unmatched"),
        "{err}"
    );
    assert!(err.contains("1 new entries"), "{err}");
}

#[test]
fn history_only_findings_can_be_baselined_with_git() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    let (old, new) = (github_token(BODY), github_token(BODY2));
    commit_file(&repo, "a.env", &format!("T={old}\n"), "leak");
    commit_file(&repo, "a.env", "T=from-the-vault\n", "remove it");
    // Only in history: the working tree scan finds nothing, `git` finds it.
    let o = ks(&repo, &rules, &["git", "."]);
    assert_eq!(o.status.code(), Some(1));
    let o = ks(&repo, &rules, &["baseline", "create", "--git", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("(1 entries)"), "{}", stderr(&o));
    let o = ks(&repo, &rules, &["git", "."]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // Update --git adds a new history finding and keeps the old one.
    commit_file(&repo, "b.env", &format!("T={new}\n"), "another");
    commit_file(&repo, "b.env", "T=none\n", "gone again");
    let o = ks(&repo, &rules, &["git", "."]);
    assert_eq!(o.status.code(), Some(1));
    let o = ks(&repo, &rules, &["baseline", "update", "--git", "."]);
    assert!(
        stderr(&o).contains("1 kept, 1 added, 0 pruned"),
        "{}",
        stderr(&o)
    );
    assert_eq!(ks(&repo, &rules, &["git", "."]).status.code(), Some(0));
    // Import --git: a gitleaks history report's record matches a history-only finding.
    fs::remove_file(repo.join(".keysweep-baseline.json")).unwrap();
    let report = serde_json::json!([{"RuleID": "github-pat", "File": "b.env", "StartLine": 1,
        "Secret": new, "Commit": "0".repeat(40)}]);
    let ext = t.path().join("gl.json");
    fs::write(&ext, report.to_string()).unwrap();
    let o = ks(
        &repo,
        &rules,
        &[
            "baseline",
            "import",
            "--git",
            ".",
            "--gitleaks",
            ext.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&o).contains("1 new entries, 0 record(s) unmatched"),
        "{}",
        stderr(&o)
    );
    let o = ks(&repo, &rules, &["git", ".", "-f", "json"]);
    let left: Vec<&str> = json(&o)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["locations"][0]["path"].as_str().unwrap().to_string())
        .map(|p| if p == "a.env" { "a.env" } else { "other" })
        .collect();
    assert_eq!(left, ["a.env"]);
}

/// `keysweep git --ci` as GitHub Actions runs it for a push event whose `before` is `before`.
fn ci_push(repo: &Path, rules: &Path, before: &str, extra: &[&str]) -> std::process::Output {
    let event = repo.join("../event.json");
    fs::write(
        &event,
        serde_json::json!({"before": before, "forced": true}).to_string(),
    )
    .unwrap();
    let mut args = vec![
        "git",
        "--ci",
        ".",
        "-f",
        "json",
        "--no-builtin-rules",
        "--no-config",
        "--rules",
    ];
    args.push(rules.to_str().unwrap());
    args.extend_from_slice(extra);
    bin()
        .current_dir(repo)
        .args(&args)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", &event)
        .env_remove("CI_MERGE_REQUEST_DIFF_BASE_SHA")
        .env_remove("CI_COMMIT_BEFORE_SHA")
        .output()
        .unwrap()
}

#[test]
fn ci_push_after_a_force_push_scans_what_the_push_introduced() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    let (old, new) = (github_token(BODY), github_token(BODY3));
    commit_file(&repo, "old.env", &format!("T={old}\n"), "old leak, on main");
    git(&repo, &["branch", "release"]);
    git(&repo, &["checkout", "-q", "-b", "topic"]);
    commit_file(&repo, "new.env", &format!("T={new}\n"), "the pushed commit");
    // The pushed branch's remote-tracking ref is at HEAD, as in a checkout of the push.
    git(&repo, &["update-ref", "refs/remotes/origin/topic", "HEAD"]);
    let gone = "1234567890abcdef1234567890abcdef12345678";
    let o = ci_push(&repo, &rules, gone, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--ci: the push's previous tip 1234567890ab (from GITHUB_EVENT_PATH before) is not in the repository (a force-push?)"),
        "{err}"
    );
    let found: Vec<String> = json(&o)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        found,
        std::slice::from_ref(&new),
        "only what the push introduced"
    );
    // --config-from-base after the fallback reads the remote's default branch, not the pushed checkout: a
    // force-push cannot exclude its own secret.
    git(&repo, &["update-ref", "refs/remotes/origin/main", "main"]);
    git(
        &repo,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
    commit_file(
        &repo,
        ".keysweep.toml",
        "exclude = [\"new.env\"]\n",
        "hide it",
    );
    git(&repo, &["update-ref", "refs/remotes/origin/topic", "HEAD"]);
    let event = t.path().join("event.json");
    let o = bin()
        .current_dir(&repo)
        .args([
            "git",
            "--ci",
            "--config-from-base",
            ".",
            "-f",
            "json",
            "--no-builtin-rules",
        ])
        .args(["--rules", rules.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", &event)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["findings"][0]["secret"], new.as_str());
    // A push whose base exists scans base..HEAD as before; a pull request's missing base stays an error.
    let base = git(&repo, &["rev-parse", "main"]).trim().to_string();
    let o = ci_push(&repo, &rules, &base, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("force-push"), "{}", stderr(&o));
    let event = t.path().join("pr.json");
    fs::write(
        &event,
        format!(r#"{{"pull_request":{{"base":{{"sha":"{gone}"}}}}}}"#),
    )
    .unwrap();
    let o = bin()
        .current_dir(&repo)
        .args([
            "git",
            "--ci",
            ".",
            "--no-config",
            "--no-builtin-rules",
            "--rules",
        ])
        .arg(&rules)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not available"), "{}", stderr(&o));
}

/// A dry run of the GitHub Action's scan step (`ci/github/scan.sh`, what action.yml runs): keysweep runs
/// once, and the outputs, the step summary and the log annotations come from its SARIF.
#[test]
fn github_action_scan_step_scans_once_and_summarises_from_the_sarif() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let repo = t.path().join("r");
    init_repo(&repo);
    let tok = github_token(BODY);
    let base = commit_file(&repo, "readme", "hi\n", "start");
    commit_file(&repo, "a.env", &format!("T={tok}\n"), "leak");
    let event = t.path().join("event.json");
    fs::write(&event, serde_json::json!({"before": base}).to_string()).unwrap();
    // A wrapper that counts keysweep runs.
    let calls = t.path().join("calls");
    let wrapper = t.path().join("keysweep-wrapper");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            env!("CARGO_BIN_EXE_keysweep")
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (output, summary) = (t.path().join("output"), t.path().join("summary.md"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/github/scan.sh");
    let o = Command::new("bash")
        .arg(&script)
        .current_dir(&repo)
        .env("KEYSWEEP_BIN", &wrapper)
        .env(
            "KEYSWEEP_ARGS",
            // (--config-from-base, which the action passes, reads the configuration from the base commit.)
            format!("--no-builtin-rules --rules {}", rules.display()),
        )
        .env("RUNNER_TEMP", t.path())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_EVENT_PATH", &event)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&calls).unwrap(), "run\n", "one scan");
    let out = fs::read_to_string(&output).unwrap();
    assert!(
        out.contains("exit-code=1\n") && out.contains("findings=1\n"),
        "{out}{}",
        stderr(&o)
    );
    let sarif_path = t.path().join("keysweep.sarif");
    assert!(
        out.contains(&format!("sarif={}", sarif_path.display())),
        "{out}"
    );
    let sum = fs::read_to_string(&summary).unwrap();
    assert!(
        sum.starts_with("### keysweep: 1 credential finding(s)"),
        "{sum}"
    );
    assert!(sum.contains("| `test.github` | `a.env:1` |"), "{sum}");
    let log = stdout(&o);
    assert!(
        log.contains("::error file=a.env,line=1,title=keysweep test.github::"),
        "{log}"
    );
    for text in [&sum, &log, &fs::read_to_string(&sarif_path).unwrap()] {
        assert!(!text.contains(&tok), "redacted: {text}");
    }
}
