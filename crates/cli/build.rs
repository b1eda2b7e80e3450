//! Records the git commit keysweep is built from (`KEYSWEEP_GIT_COMMIT`, shown by `keysweep --version`):
//! `KEYSWEEP_GIT_COMMIT` from the environment when set (release builds from a tarball), else
//! `git rev-parse` of the source checkout, else `unknown`. Reruns when HEAD moves.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=KEYSWEEP_GIT_COMMIT");
    let commit = std::env::var("KEYSWEEP_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // HEAD (a symbolic ref), the branch it names and packed-refs: a new commit changes one of them. (A path
    // that does not exist would make every build rerun this script: only existing ones are watched.)
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for what in &watched {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", what]) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    println!("cargo:rustc-env=KEYSWEEP_GIT_COMMIT={commit}");
}
