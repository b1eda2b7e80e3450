//! CLI-level tests of verification that need no network: `keysweep verify --egress-hosts | --list`, and
//! `scan --verify-dry-run` (redacted requests on stderr, nothing sent), `--only-verified`, `--fail-on live`,
//! and companion findings (endpoint hosts) kept out of reports.
use crate::common::{aws_key_id_for_account, bin, ghp, rules_dir_with, VERIFY};
use std::path::Path;
use std::process::Output;

struct Fixture {
    dir: tempfile::TempDir,
    gh: String,
    aws_secret: String,
    azure_key: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    rules_dir_with(dir.path(), VERIFY);
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let gh = ghp(7);
    let aws_secret = "q9Xr2Lk8Vt4Hs7Np1Zm5Bc3Df6Gj0Wy8Ua2Ie4Ro".to_string();
    let azure_key = "3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c2e".to_string();
    std::fs::write(
        src.join("settings.py"),
        format!(
            "GITHUB_TOKEN = \"{gh}\"\n\
             aws_access_key_id = {}\n\
             aws_secret_access_key = {aws_secret}\n\
             AZURE_OPENAI_ENDPOINT = https://contoso-ai.openai.azure.com/\n\
             AZURE_OPENAI_API_KEY = {azure_key}\n",
            aws_key_id_for_account(123456789012)
        ),
    )
    .unwrap();
    // A key of a Thinkst canary account: must never be sent.
    std::fs::write(
        src.join("canary.ini"),
        format!(
            "aws_access_key_id = {}\naws_secret_access_key = Zp4Wq8Er2Ty6Ui0Op3As7Df1Gh5Jk9Lz2Xc6Vb0N\n",
            aws_key_id_for_account(717712589309)
        ),
    )
    .unwrap();
    Fixture {
        dir,
        gh,
        aws_secret,
        azure_key,
    }
}

fn keysweep(args: &[&str], cwd: &Path) -> Output {
    bin().args(args).current_dir(cwd).output().unwrap()
}

fn scan(fx: &Fixture, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec![
        "scan",
        "src",
        "--no-builtin-rules",
        "--rules",
        "rules",
        "--no-config",
        "-f",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = keysweep(&args, fx.dir.path());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rule_ids(json: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn egress_hosts_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = keysweep(&["verify", "--egress-hosts"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let hosts: Vec<&str> = text.lines().collect();
    for h in [
        "api.openai.com",
        "api.anthropic.com",
        "sts.amazonaws.com",
        "oauth2.googleapis.com",
        "*.openai.azure.com",
        "*.cloud.databricks.com",
        "api.github.com",
    ] {
        assert!(hosts.contains(&h), "{h} missing:\n{text}");
    }
    assert!(hosts.len() >= 25, "{text}");
    let out = keysweep(&["verify", "--list"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().lines().count() >= 30);
    // No mode given: a usage error.
    assert_eq!(keysweep(&["verify"], dir.path()).status.code(), Some(2));
}

#[test]
fn dry_run_prints_redacted_requests_and_marks_findings() {
    let fx = fixture();
    let (code, json, stderr) = scan(&fx, &["--verify-dry-run"]);
    assert_eq!(code, 1, "{stderr}");
    // Companion (endpoint) findings are used for pairing, never reported.
    assert_eq!(
        rule_ids(&json),
        [
            "test.aws-key-id",
            "test.aws-key-id",
            "test.aws-secret",
            "test.aws-secret",
            "test.azure-openai-key",
            "test.github"
        ]
    );
    for f in json["findings"].as_array().unwrap() {
        assert_eq!(f["verification"]["status"], "unknown", "{f}");
        let detail = f["verification"]["detail"].as_str().unwrap();
        let canary = f["locations"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("canary.ini");
        if canary {
            assert!(
                detail.contains("canary") && detail.contains("717712589309"),
                "{f}"
            );
        } else {
            assert!(detail.contains("dry run"), "{f}");
        }
    }
    assert!(
        stderr.contains("verify dry-run [github] GET https://api.github.com/user"),
        "{stderr}"
    );
    assert!(
        stderr.contains("GET https://contoso-ai.openai.azure.com/openai/models"),
        "{stderr}"
    );
    assert!(
        stderr.contains("GET https://sts.amazonaws.com/?Action=GetCallerIdentity"),
        "{stderr}"
    );
    // The AWS key pair shares one request; the canary pair gets none.
    assert_eq!(stderr.matches("[aws]").count(), 1, "{stderr}");
    for secret in [&fx.gh, &fx.aws_secret, &fx.azure_key] {
        assert!(
            !stderr.contains(secret.as_str()),
            "secret in dry-run output"
        );
        assert!(
            !stderr.contains(&secret[secret.len() - 12..]),
            "secret tail printed"
        );
    }
}

#[test]
fn only_verified_and_fail_on_live() {
    let fx = fixture();
    // Nothing is verified live in a dry run: --only-verified reports nothing and exits 0.
    let (code, json, stderr) = scan(&fx, &["--verify-dry-run", "--only-verified"]);
    assert_eq!(code, 0);
    assert!(rule_ids(&json).is_empty());
    // Never silently: the user is told how many findings the filter left out.
    assert!(
        stderr.contains("--only-verified left out 6 finding(s)"),
        "{stderr}"
    );
    // --fail-on live keeps the findings in the report but does not fail on unverified ones.
    let (code, json, _) = scan(&fx, &["--verify-dry-run", "--fail-on", "live"]);
    assert_eq!(code, 0);
    assert_eq!(rule_ids(&json).len(), 6);
    // Without verification flags: no verification field, exit 1, companions still not reported.
    let (code, json, stderr) = scan(&fx, &[]);
    assert_eq!(code, 1);
    assert!(!stderr.contains("dry-run"));
    assert_eq!(rule_ids(&json).len(), 6);
    assert!(json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("verification").is_none()));
}

/// End to end on the built-in catalogue: every `verify` name it uses is known to the verifier, and a dry run
/// over a GitHub token and an AWS key pair prints the requests (redacted) for both.
#[test]
fn builtin_catalogue_names_known_and_dry_run_end_to_end() {
    let rules = keysweep_rules::RuleSet::embedded();
    for r in &rules.rules {
        if let Some(v) = &r.spec.verify {
            assert!(
                keysweep_verify::known_verifier(v),
                "rule {} names unknown verifier {v:?}",
                r.spec.id
            );
        }
    }
    if !rules.rules.iter().any(|r| r.spec.verify.is_some()) {
        eprintln!("built-in catalogue has no verify names yet: end-to-end part not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gh = ghp(11);
    let secret = "q9Xr2Lk8Vt4Hs7Np1Zm5Bc3Df6Gj0Wy8Ua2Ie4Ro";
    std::fs::write(
        dir.path().join("app.py"),
        format!(
            "GITHUB_TOKEN = \"{gh}\"\naws_access_key_id = \"{}\"\naws_secret_access_key = \"{secret}\"\n",
            aws_key_id_for_account(123456789012)
        ),
    )
    .unwrap();
    let out = keysweep(
        &[
            "scan",
            "app.py",
            "--no-config",
            "--verify-dry-run",
            "-f",
            "json",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("[github] GET https://api.github.com/user"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[aws] GET https://sts.amazonaws.com/?Action=GetCallerIdentity"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&gh) && !stderr.contains(secret),
        "{stderr}"
    );
}
