//! A temporary repository for tests that read history: the git CLI with a fixed author (Ada Tester) and
//! commit dates one minute apart, no global or system git config, the `STANDARD` rules folder beside it, and
//! `keysweep` run over it with `--format json` (`Scan`, the parsed report).
use super::{git_cmd, rules_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// A scratch repository driven by the git CLI, with fixed identity and dates.
pub struct Repo {
    _tmp: TempDir,
    pub root: PathBuf,
    pub dir: PathBuf,
    pub rules: PathBuf,
    tick: u64,
}

impl Repo {
    pub fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let dir = root.join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        let rules = rules_dir(&root);
        let mut r = Repo {
            _tmp: tmp,
            root,
            dir,
            rules,
            tick: 0,
        };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    pub fn git_in(&mut self, dir: &Path, args: &[&str]) -> String {
        self.tick += 1;
        let date = format!("{} +0000", 1_700_000_000 + self.tick * 60);
        let out = git_cmd(dir)
            .args(args)
            .env("HOME", &self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.test")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.test")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_EDITOR", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn git(&mut self, args: &[&str]) -> String {
        let dir = self.dir.clone();
        self.git_in(&dir, args)
    }

    pub fn write(&self, path: &str, content: &str) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Write files, stage everything, commit; returns the commit sha.
    pub fn commit(&mut self, msg: &str, files: &[(&str, &str)]) -> String {
        for (p, c) in files {
            self.write(p, c);
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The repository's (first) pack file with extension `ext` (`pack` or `idx`).
    pub fn pack_file(&self, ext: &str) -> PathBuf {
        std::fs::read_dir(self.dir.join(".git/objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .unwrap_or_else(|| panic!("no .{ext} file: not packed"))
    }

    /// `keysweep ARGS` in `dir` over the test rules, JSON out, with no CI variable but those of `env`.
    pub fn keysweep_env(&self, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
        let mut cmd = super::bin();
        cmd.args(args)
            .args(["--no-builtin-rules", "--rules"])
            .arg(&self.rules)
            .args(["--no-config", "--format", "json", "--engine", "portable"])
            .current_dir(dir);
        for k in [
            "GITHUB_ACTIONS",
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_BASE_REF",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA",
            "CI_COMMIT_BEFORE_SHA",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        cmd.output().expect("run keysweep")
    }

    pub fn keysweep(&self, args: &[&str], dir: &Path) -> Output {
        self.keysweep_env(args, dir, &[])
    }

    pub fn scan(&self, args: &[&str]) -> Scan {
        Scan::of(self.keysweep(args, &self.dir))
    }
}

/// A parsed JSON report.
pub struct Scan {
    pub code: i32,
    pub stderr: String,
    pub doc: Value,
}

impl Scan {
    pub fn of(out: Output) -> Scan {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1 || code == 2, "exit {code}: {stderr}");
        let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        Scan { code, stderr, doc }
    }

    pub fn findings(&self) -> &Vec<Value> {
        self.doc["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no JSON report; stderr: {}", self.stderr))
    }

    pub fn secrets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .findings()
            .iter()
            .map(|f| f["secret"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }

    /// The single location of the finding whose secret is `secret`.
    pub fn location(&self, secret: &str) -> &Value {
        let f = self
            .findings()
            .iter()
            .find(|f| f["secret"] == secret)
            .unwrap_or_else(|| panic!("{secret} not found; stderr: {}", self.stderr));
        let locs = f["locations"].as_array().unwrap();
        assert_eq!(locs.len(), 1, "one location expected: {locs:#?}");
        &locs[0]
    }
}
