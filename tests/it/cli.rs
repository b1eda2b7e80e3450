//! CLI-level behaviour of `keysweep scan` and `keysweep rules`: exit codes, inputs (files, folders, stdin,
//! ignored, binary, oversized, invalid UTF-8, huge single lines), redaction per format, SARIF validity,
//! deduplication, allow comments, configuration and rule-file errors. Uses a test rules folder so the
//! assertions do not depend on the built-in catalogue.
use crate::common;

use common::*;
use std::fs;

fn secrets(doc: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["secret"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn exit_codes_and_exact_findings() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("w");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("clean.py"), "print('hello')\n").unwrap();
    let (code, doc, _) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 0);
    assert!(secrets(&doc).is_empty());

    let tok = github_token(BODY);
    fs::write(
        work.join("leak.sh"),
        format!("export GITHUB_TOKEN={tok}\n# decoy: ghp_PersonalAccessToken01245678900000000\n"),
    )
    .unwrap();
    let (code, doc, _) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&doc), vec![tok.clone()]);
    let loc = &doc["findings"][0]["locations"][0];
    assert_eq!(loc["path"], "w/leak.sh");
    assert_eq!(loc["line"], 1);
    assert_eq!(loc["column"], 21);
    assert_eq!(loc["byte_start"], 20);
    assert_eq!(doc["findings"][0]["rule_id"], "test.github");

    let o = run(t.path(), &["scan", "--no-config", "does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does-not-exist"), "{}", stderr(&o));
    let o = run(t.path(), &["scan", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn stdin_is_scanned() {
    let t = tempfile::tempdir().unwrap();
    let rules = rules_dir(t.path());
    let tok = github_token(BODY);
    let mut child = bin()
        .current_dir(t.path())
        .args([
            "scan",
            "-",
            "--no-builtin-rules",
            "--no-config",
            "--rules",
            rules.to_str().unwrap(),
            "-f",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("x {tok} y\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let doc = json(&o);
    assert_eq!(secrets(&doc), vec![tok]);
    assert_eq!(doc["findings"][0]["locations"][0]["source"], "stdin");
}

#[test]
fn gitignored_files_only_with_no_ignore_and_marked() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(w.join(".git")).unwrap();
    fs::write(w.join(".gitignore"), "secrets.env\n").unwrap();
    let tok = github_token(BODY);
    fs::write(w.join("secrets.env"), format!("T={tok}\n")).unwrap();
    fs::write(
        w.join(".git/config"),
        format!("T={}\n", github_token(BODY2)),
    )
    .unwrap();
    let (code, doc, _) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 0, "{doc}");
    let (code, doc, _) = scan_json(t.path(), &["w", "--no-ignore"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&doc), vec![tok], ".git/ itself is never walked");
    assert_eq!(doc["findings"][0]["locations"][0]["ignored"], true);
}

#[test]
fn binary_oversized_and_hostile_files() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let tok = github_token(BODY);
    let tok2 = github_token(BODY2);
    // Binary (NUL in the first 8 KiB): skipped.
    let mut bin_data = vec![0u8, 1, 2, 3];
    bin_data.extend_from_slice(tok2.as_bytes());
    fs::write(w.join("blob.bin"), &bin_data).unwrap();
    // Invalid UTF-8 around a key, and a NUL after the first 8 KiB: still text, key found.
    let mut bad = vec![0xffu8, 0xfe, b' '];
    bad.extend_from_slice(tok.as_bytes());
    bad.extend_from_slice(&[b' ', 0xc3, 0x28]);
    bad.extend(std::iter::repeat_n(b'a', 9000));
    bad.push(0);
    fs::write(w.join("latin.txt"), &bad).unwrap();
    // Oversized: skipped with a warning naming it.
    fs::write(w.join("big.txt"), format!("{}{tok2}", "x ".repeat(10_000))).unwrap();
    // A symlink loop: not followed (symlinks inside a folder never are by default); the walk goes on.
    std::os::unix::fs::symlink(".", w.join("loop")).unwrap();
    let (code, doc, err) = scan_json(t.path(), &["w", "--max-file-size", "15000"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&doc), vec![tok]);
    assert!(
        err.contains("big.txt") && err.contains("max-file-size"),
        "{err}"
    );
    assert_eq!(doc["summary"]["stats"]["skipped_binary"], 1);
    assert_eq!(doc["summary"]["stats"]["skipped_large"], 1);
    assert!(!err.contains(&tok2), "warnings never carry secrets");
}

#[test]
fn hundred_megabyte_single_line() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let tok = github_token(BODY);
    let mut data = Vec::with_capacity(100 << 20);
    while data.len() < (100 << 20) {
        data.extend_from_slice(b"lorem-ipsum_dolor+sit/amet;");
    }
    let at = data.len();
    data.extend_from_slice(b" ");
    data.extend_from_slice(tok.as_bytes());
    fs::write(w.join("huge.min.js"), &data).unwrap();
    let (code, doc, _) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&doc), vec![tok]);
    assert_eq!(doc["findings"][0]["locations"][0]["line"], 1);
    assert_eq!(
        doc["findings"][0]["locations"][0]["byte_start"],
        at as u64 + 1
    );
}

#[test]
fn dedup_by_fingerprint_keeps_every_location() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let tok = github_token(BODY);
    fs::write(w.join("a.txt"), format!("{tok}\n")).unwrap();
    fs::write(w.join("b.txt"), format!("\n\nx={tok}\n{tok}\n")).unwrap();
    let (_, doc, _) = scan_json(t.path(), &["w"]);
    let f = doc["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1);
    let locs: Vec<(String, u64)> = f[0]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        locs,
        vec![
            ("w/a.txt".into(), 1),
            ("w/b.txt".into(), 3),
            ("w/b.txt".into(), 4)
        ]
    );
    assert_eq!(f[0]["fingerprint"].as_str().unwrap().len(), 32);
}

#[test]
fn redaction_per_format_and_valid_sarif() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let tok = github_token(BODY);
    fs::write(w.join("leak.txt"), format!("token {tok}\n")).unwrap();
    let rules = rules_dir(t.path());
    let base = [
        "scan",
        "w",
        "--no-builtin-rules",
        "--no-config",
        "--rules",
        rules.to_str().unwrap(),
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        run(t.path(), &a)
    };
    let human = stdout(&with(&[]));
    assert!(
        human.contains("ghp_") && !human.contains(&tok),
        "human output redacts: {human}"
    );
    assert!(stdout(&with(&["--show-secrets"])).contains(&tok));
    assert!(
        stdout(&with(&["-f", "json"])).contains(&tok),
        "JSON carries the secret for machines"
    );
    assert!(!stdout(&with(&["-f", "json", "--redact"])).contains(&tok));
    let jsonl = stdout(&with(&["-f", "jsonl"]));
    assert_eq!(jsonl.lines().count(), 1);
    assert!(serde_json::from_str::<serde_json::Value>(jsonl.trim()).is_ok());

    let out = t.path().join("report.sarif");
    let o = with(&["-f", "sarif", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let sarif_text = fs::read_to_string(&out).unwrap();
    assert!(!sarif_text.contains(&tok), "SARIF redacts by default");
    let sarif: serde_json::Value = serde_json::from_str(&sarif_text).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/sarif-schema-2.1.0.json"))
            .expect("schema parses");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid: {errors:#?}");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "test.github");
    // GitHub code scanning's severity and precision, from the rule's confidence (high).
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["properties"]["security-severity"], "8.0", "{rule}");
    assert_eq!(rule["properties"]["precision"], "high", "{rule}");
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["security-severity"],
        "8.0"
    );
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    // A broken SARIF document must fail the same validator (the check can fail).
    let mut broken = sarif.clone();
    broken["version"] = serde_json::json!("9.9");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn inline_allow_comments_are_counted() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    fs::write(
        w.join("fixtures.py"),
        format!(
            "A = '{}'  # keysweep:allow\nB = '{}'  # gitleaks:allow\nC = '{}'\n",
            github_token(BODY),
            github_token(BODY2),
            github_token("Zr5wP1kQ8sLm3Vx7Ty2Nb9Jc4Hd6Ge")
        ),
    )
    .unwrap();
    let (code, doc, _) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 1);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    assert_eq!(doc["summary"]["stats"]["suppressed"], 2);
    let (_, doc, _) = scan_json(t.path(), &["w", "--no-inline-allow"]);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
}

#[test]
fn config_excludes_and_rejects_unknown_keys() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(w.join("fixtures")).unwrap();
    fs::create_dir_all(w.join(".git")).unwrap();
    let tok = github_token(BODY);
    fs::write(w.join("fixtures/keys.txt"), format!("{tok}\n")).unwrap();
    fs::write(w.join("app.txt"), format!("{}\n", github_token(BODY2))).unwrap();
    fs::write(w.join(".keysweep.toml"), "exclude = [\"fixtures\"]\n").unwrap();
    let rules = rules_dir(t.path());
    let o = run_with_rules(&w, &rules, &["scan", ".", "-f", "json"]);
    assert_eq!(secrets(&json(&o)), vec![github_token(BODY2)]);
    fs::write(
        w.join(".keysweep.toml"),
        "# comment\nexclude = []\nexclud = [\"x\"]\n",
    )
    .unwrap();
    let o = run_with_rules(&w, &rules, &["scan", "."]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(".keysweep.toml") && err.contains("line 3") && err.contains("exclud"),
        "{err}"
    );
}

#[test]
fn broken_rules_are_refused_by_name_and_the_scan_goes_on() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    fs::create_dir_all(&w).unwrap();
    let rules = rules_dir(t.path());
    fs::write(
        rules.join("broken.toml"),
        "[[rule]]\nid = \"bad.regex\"\nname = \"x\"\nprovider = \"x\"\ncategory = \"generic\"\npattern = '''(?P<secret>[a-z'''\nexamples = [\"a\"]\nnegative_examples = [\"b\"]\n\n\
         [[rule]]\nid = \"bad.noneg\"\nname = \"x\"\nprovider = \"x\"\ncategory = \"generic\"\npattern = '''(?P<secret>zz[0-9]{8})'''\nexamples = [\"zz12345678\"]\n",
    )
    .unwrap();
    let tok = github_token(BODY);
    fs::write(w.join("a.txt"), format!("{tok}\n")).unwrap();
    let (code, doc, err) = scan_json(t.path(), &["w"]);
    assert_eq!(code, 1);
    assert_eq!(secrets(&doc), vec![tok]);
    assert!(
        err.contains("broken.toml") && err.contains("bad.regex"),
        "{err}"
    );
    assert!(
        err.contains("bad.noneg") && err.contains("negative example"),
        "{err}"
    );
    let o = run(t.path(), &["rules", "check", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("REFUSED"), "{}", stdout(&o));
}

#[test]
fn rules_check_reports_failing_examples() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("r");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("x.toml"),
        "[[rule]]\nid = \"x.key\"\nname = \"X\"\nprovider = \"X\"\ncategory = \"generic\"\npattern = '''\\b(?P<secret>xk_[0-9a-f]{16})\\b'''\n\
         examples = [\"k = xk_0a1b2c3d4e5f6a7b\", \"xk_0a1b2c3d\"]\nnegative_examples = [\"xk_0a1b2c3d4e5f6a7b8\"]\n",
    )
    .unwrap();
    let o = run(t.path(), &["rules", "check", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("FAIL") && out.contains("xk_0a1b2c3d") && out.contains("is not found"),
        "{out}"
    );
    assert!(out.contains("1 rules loaded"), "{out}");
}

#[test]
fn version_and_help() {
    let o = bin().arg("--version").output().unwrap();
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));
    let o = bin().args(["scan", "--help"]).output().unwrap();
    let h = stdout(&o);
    assert!(
        h.contains("--no-ignore") && h.contains("--engine") && h.contains("--format"),
        "{h}"
    );
}
