//! Helpers shared by the CLI-level tests: a rules folder independent of the built-in catalogue, synthetic
//! checksum-valid tokens, and running the built binary.
#![allow(dead_code)]

pub mod gitd;
pub mod http;
pub mod pg;

use keysweep_detect::check::checksum::crc32_base62;
use std::path::Path;
use std::process::{Command, Output};

/// A small rules folder: GitHub classic PAT (checksum), an AWS key id, and a generic password rule.
pub const TEST_RULES: &str = r#"
[[rule]]
id = "test.github"
name = "GitHub token"
provider = "GitHub"
category = "vcs"
confidence = "high"
pattern = '''\b(?P<secret>gh[pousr]_[0-9A-Za-z]{36})\b'''
checksum = "github-crc32"
examples = ["t = 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"]
negative_examples = ["ghp_PersonalAccessToken01245678900000000"]

[[rule]]
id = "test.aws-key-id"
name = "AWS access key id"
provider = "AWS"
category = "cloud"
confidence = "high"
pattern = '''\b(?P<secret>(?:AKIA|ASIA)[A-Z2-7]{16})\b'''
examples = ["aws_access_key_id = AKIA4QXZ7RB2MNV5KD3Y"]
negative_examples = ["AKIAIOSFODNN7EXAMPLE"]

[[rule]]
id = "test.password"
name = "Password assignment"
provider = "Generic"
category = "generic"
generic = true
pattern = '''(?i)\b(?:password|passwd)\b["']?\s{0,3}[:=]\s{0,3}["']?(?P<secret>[^\s"'`]{8,64})'''
examples = ["password = \"Xk9#mP2$vL8qRt4w\""]
negative_examples = ["password = \"getPasswordFromEnv\""]
"#;

/// Write TEST_RULES into `dir/rules/test.toml` and return the folder.
pub fn rules_dir(dir: &Path) -> std::path::PathBuf {
    let d = dir.join("rules");
    std::fs::create_dir_all(&d).expect("mkdir rules");
    std::fs::write(d.join("test.toml"), TEST_RULES).expect("write rules");
    d
}

/// A checksum-valid GitHub classic token from a 30-char body.
pub fn github_token(body30: &str) -> String {
    assert_eq!(body30.len(), 30);
    format!("ghp_{body30}{}", crc32_base62(body30.as_bytes()))
}

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

/// Run `git` in `dir` with a fixed identity and no signing; panics when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
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
