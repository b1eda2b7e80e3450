//! The shared test kit of every integration test: the rule catalogue (`rules`: rule sets as TOML, a rules
//! folder, a scanner), synthetic checksum-valid credentials (`tokens`), running the built binary, one `git`
//! helper (fixed identity, no signing), archive fixtures (`archive`), temporary repositories (`init_repo`,
//! `bare_repo`, `commit_files`, and `repo::Repo` for history tests that need fixed dates), the decoder tests'
//! library-level scan (`decode`), a loopback `git daemon` (`gitd`), a scripted loopback HTTP server (`http`)
//! and a PostgreSQL server (`pg`).
#![allow(dead_code)]

pub mod archive;
pub mod decode;
pub mod gitd;
pub mod http;
pub mod pg;
pub mod repo;
pub mod rules;
pub mod tokens;

pub use rules::{rules_dir, rules_dir_with, STANDARD, VERIFY};
pub use tokens::*;

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keysweep"))
}

/// Run `keysweep` with args in `cwd`, with no config discovery surprises.
pub fn run(cwd: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run keysweep")
}

/// Run `keysweep ARGS --no-builtin-rules --rules RULES` in `cwd`: over a test rules folder only.
pub fn run_with_rules(cwd: &Path, rules: &Path, args: &[&str]) -> Output {
    let rules = rules.to_str().expect("utf-8 path");
    run(
        cwd,
        &[args, &["--no-builtin-rules", "--rules", rules]].concat(),
    )
}

/// Run `keysweep ARGS --no-builtin-rules --no-config --rules RULES` in `cwd`: test rules, no config file.
pub fn run_isolated(cwd: &Path, rules: &Path, args: &[&str]) -> Output {
    run_with_rules(cwd, rules, &[args, &["--no-config"]].concat())
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse `--format json` output.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad json ({e}): {}", stdout(o)))
}

/// The warnings of a JSON report (`summary.warnings`).
pub fn report_warnings(doc: &serde_json::Value) -> Vec<String> {
    doc["summary"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect()
}

/// `keysweep scan` in `dir` over the `STANDARD` rules (written to `dir/rules`), without the built-in rules or a
/// config, JSON out, then `extra`: (exit code, report, stderr).
pub fn scan_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let rules = rules_dir(dir);
    let mut args = vec![
        "scan",
        "--no-builtin-rules",
        "--no-config",
        "--rules",
        rules.to_str().expect("utf-8 path"),
        "-f",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    (o.status.code().unwrap_or(-1), json(&o), stderr(&o))
}

/// `git` in `dir` with a fixed identity and no signing, to add arguments or environment to.
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir).args([
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
    ]);
    c
}

/// Run `git` in `dir` (see `git_cmd`) whatever its outcome.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    git_cmd(dir).args(args).output().expect("run git")
}

/// Run `git` in `dir` (see `git_cmd`); panics when git fails, else its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = git_output(dir, args);
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh git repository (branch `main`) in `dir`.
pub fn init_repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir repo");
    git(dir, &["init", "-q", "-b", "main"]);
}

/// A bare repository `base/<name>.git` made from a scratch work tree (`base/work/<name>`, branch `main`) that
/// `build` fills with commits; the work tree is returned with the bare repository as its `origin`, so later
/// commits can be pushed to it.
pub fn bare_repo(base: &Path, name: &str, build: impl FnOnce(&Path)) -> std::path::PathBuf {
    let work = base.join("work").join(name);
    init_repo(&work);
    build(&work);
    let bare = base.join(format!("{name}.git"));
    std::fs::create_dir_all(bare.parent().expect("a parent")).expect("mkdir");
    let (w, b) = (work.to_str().expect("utf-8"), bare.to_str().expect("utf-8"));
    git(base, &["clone", "-q", "--bare", w, b]);
    git(&work, &["remote", "add", "origin", b]);
    work
}

/// Write `files` (path, text) into the work tree `work` and commit them all.
pub fn commit_files(work: &Path, files: &[(&str, &str)], message: &str) {
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", message]);
}
