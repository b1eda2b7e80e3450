//! Redaction covers every string that comes from scanned content: a key planted in a commit message, a path,
//! an image label key, a notebook output and a warning is never printed whole by a redacting format (human,
//! `--format json --redact`, `jsonl --redact`, SARIF, HTML), on stdout or stderr. Control characters in names
//! never reach the terminal raw.
use crate::common;

use common::{git, run, stderr, stdout, tagged_token as token};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The redacting ways to run a scan.
const REDACTING: &[&[&str]] = &[
    &[],
    &["--format", "json", "--redact"],
    &["--format", "jsonl", "--redact"],
    &["--format", "sarif"],
    &["--format", "html"],
];

/// Run `args` + each redacting format; no output may hold any of `secrets`, and each run must report
/// `expect_findings` findings or more (so the test cannot pass on an empty report).
fn assert_never_printed(cwd: &Path, args: &[&str], secrets: &[&str], expect_findings: usize) {
    for extra in REDACTING {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(extra);
        all.extend_from_slice(&["--color", "never"]);
        let o = run(cwd, &all);
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{all:?}: {out}\n{err}");
        for s in secrets {
            assert!(
                !out.contains(s) && !err.contains(s),
                "{all:?} printed {s} whole:\n--- stdout\n{out}\n--- stderr\n{err}"
            );
        }
        let reported = if extra.is_empty() {
            out.matches("fingerprint:").count()
        } else if extra[1] == "html" {
            out.matches("<tbody class=\"f\"").count()
        } else if extra[1] == "jsonl" {
            out.lines().count()
        } else if extra[1] == "json" {
            common::json(&o)["findings"].as_array().map_or(0, Vec::len)
        } else {
            common::json(&o)["runs"][0]["results"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert!(
            reported >= expect_findings,
            "{all:?}: {reported} findings\n{out}"
        );
    }
}

#[test]
fn commit_message_path_and_warning_secrets_are_redacted_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let (in_file, in_message, in_path, in_named_file) = (
        token("in-file"),
        token("in-message"),
        token("in-path"),
        token("in-named-file"),
    );
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.py"), format!("TOKEN = '{in_file}'\n")).unwrap();
    std::fs::write(
        repo.join(format!("{in_path}.txt")),
        format!("t = {in_named_file}\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    // The commit that adds app.py carries a token in its message: every location of that commit has the
    // message's summary in its provenance.
    git(
        &repo,
        &["commit", "-q", "-m", &format!("rotate to {in_message}")],
    );
    let secrets = [
        in_file.as_str(),
        in_message.as_str(),
        in_path.as_str(),
        in_named_file.as_str(),
    ];
    // History: the commit message's token is a finding and also every location's `summary`.
    assert_never_printed(&repo, &["git", "."], &secrets, 3);
    // Sanity: without redaction the summary does carry the token, so the check above is not vacuous.
    let o = run(&repo, &["git", ".", "--format", "json"]);
    assert!(stdout(&o).contains(&format!("rotate to {in_message}")));

    // A warning naming a file whose name is a token that is never a finding (it is skipped as too large).
    let in_warning = token("in-warning");
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("ok.py"), format!("T = '{in_file}'\n")).unwrap();
    std::fs::write(tree.join(format!("{in_warning}.bin")), vec![b'a'; 4096]).unwrap();
    assert_never_printed(
        &tree,
        &["scan", ".", "--max-file-size", "1000"],
        &[&in_file, &in_warning],
        1,
    );
    let o = run(
        &tree,
        &["scan", ".", "--max-file-size", "1000", "--show-secrets"],
    );
    assert!(
        stderr(&o).contains(&in_warning),
        "the warning is shown whole only with --show-secrets: {}",
        stderr(&o)
    );
}

#[test]
fn notebook_output_secret_is_redacted_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let key = token("notebook-output");
    let nb = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{
            "cell_type": "code", "execution_count": 1, "metadata": {}, "id": "c1",
            "source": ["import os\n", "print(os.environ['GH'])"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [format!("{key}\n")]}]
        }]
    });
    std::fs::write(
        tmp.path().join("leak.ipynb"),
        serde_json::to_vec_pretty(&nb).unwrap(),
    )
    .unwrap();
    assert_never_printed(tmp.path(), &["scan", "."], &[&key], 1);
}

#[test]
fn image_label_key_secret_is_redacted_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let in_label_key = token("label-key");
    let in_layer = token("layer");
    let sha = |d: &[u8]| format!("sha256:{:x}", Sha256::digest(d));
    let mut b = tar::Builder::new(Vec::new());
    let body = format!("GH={in_layer}\n");
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "app/.env", body.as_bytes()).unwrap();
    let layer = b.into_inner().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {in_label_key.clone(): "x"}},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let dir = tmp.path().join("layout");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for data in [&layer, &config, &manifest] {
        let d = sha(data);
        std::fs::write(blobs.join(&d["sha256:".len()..]), data).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha(&manifest), "size": manifest.len()}]}))
        .unwrap(),
    )
    .unwrap();
    assert_never_printed(
        tmp.path(),
        &["image", "layout"],
        &[&in_label_key, &in_layer],
        2,
    );
}

#[test]
fn control_characters_in_names_are_escaped_in_human_output() {
    let tmp = tempfile::tempdir().unwrap();
    let key = token("escape");
    let name = "evil\x1b[2J\x1b]0;owned\x07\rname.py";
    std::fs::write(tmp.path().join(name), format!("T = '{key}'\n")).unwrap();
    let o = run(tmp.path(), &["scan", ".", "--color", "never"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        !out.contains('\x1b') && !out.contains('\x07') && !out.contains('\r'),
        "{out:?}"
    );
    assert!(out.contains("evil\\x1b[2J"), "{out}");
}
