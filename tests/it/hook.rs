//! `keysweep install-hook` against real repositories: the hook lands where git looks (`core.hooksPath`
//! respected), foreign hooks are never replaced without `--force`, and the installed hook refuses a commit
//! that adds a key while a clean commit passes.
use crate::common;

use common::*;
use std::fs;
use std::path::Path;

#[test]
fn install_respects_hooks_path_and_refuses_to_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    fs::create_dir_all(r.join("sub")).unwrap();
    git(&r, &["init", "-q"]);
    git(&r, &["config", "core.hooksPath", ".githooks"]);
    // From a sub-folder: the hooks folder is still resolved against the work tree.
    let o = run(&r.join("sub"), &["install-hook", "--pre-push"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let hook = fs::read_to_string(r.join(".githooks/pre-commit")).unwrap();
    assert!(hook.contains("staged"));
    let exe = fs::canonicalize(env!("CARGO_BIN_EXE_keysweep")).unwrap();
    assert!(
        hook.contains(&exe.display().to_string()),
        "hook calls this binary"
    );
    assert!(r.join(".githooks/pre-push").is_file());
    assert!(!r.join(".git/hooks/pre-commit").exists());
    // Re-running is harmless.
    assert_eq!(run(&r, &["install-hook"]).status.code(), Some(0));
    // A foreign hook is refused without --force, kept as a backup with it.
    git(&r, &["config", "--unset", "core.hooksPath"]);
    fs::create_dir_all(r.join(".git/hooks")).unwrap();
    fs::write(r.join(".git/hooks/pre-commit"), "#!/bin/sh\nmake lint\n").unwrap();
    let o = run(&r, &["install-hook"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(r.join(".git/hooks/pre-commit")).unwrap(),
        "#!/bin/sh\nmake lint\n"
    );
    assert_eq!(run(&r, &["install-hook", "--force"]).status.code(), Some(0));
    assert!(fs::read_to_string(r.join(".git/hooks/pre-commit"))
        .unwrap()
        .contains("keysweep"));
    assert_eq!(
        fs::read_to_string(r.join(".git/hooks/pre-commit.keysweep-backup")).unwrap(),
        "#!/bin/sh\nmake lint\n"
    );
    // Not a repository: a clear error.
    let o = run(t.path(), &["install-hook"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a git repository"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hook_without_keysweep_refuses_instead_of_passing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q"]);
    fs::create_dir_all(r.join(".git/hooks")).unwrap();
    // The hook as `install-hook` writes it for a binary that does not exist (no quote in the path to escape).
    let script = include_str!("../../pre-commit-hook/pre-commit")
        .replace("@KEYSWEEP@", "/nonexistent/keysweep");
    fs::write(r.join(".git/hooks/pre-commit"), script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            r.join(".git/hooks/pre-commit"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    fs::write(r.join("a.txt"), "hello\n").unwrap();
    git(&r, &["add", "a.txt"]);
    let o = git_cmd(&r)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("KEYSWEEP")
        .args(["commit", "-qm", "x"])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "commit must be refused when keysweep is missing"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("keysweep: not found"));
}

/// `git commit` through the installed hook (built-in catalogue, isolated rules cache).
fn commit(r: &Path, cache: &Path, msg: &str) -> std::process::Output {
    git_cmd(r)
        .env("KEYSWEEP_CACHE_DIR", cache)
        .env_remove("KEYSWEEP")
        .args(["commit", "-qm", msg])
        .output()
        .unwrap()
}

#[test]
fn installed_hook_refuses_a_key_and_passes_a_clean_commit() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    let cache = t.path().join("cache");
    fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q"]);
    let o = run(&r, &["install-hook"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A clean commit passes.
    fs::write(r.join("app.py"), "print('hello')\n").unwrap();
    git(&r, &["add", "app.py"]);
    let o = commit(&r, &cache, "clean");
    assert!(
        o.status.success(),
        "clean commit refused: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A commit adding a (synthetic, checksum-valid) GitHub token is refused; the secret is not printed whole.
    let tok = github_token("R8xk2LmQ9vTz4NwYp7BcJd1Hf6GsKa");
    fs::write(r.join("settings.py"), format!("GITHUB_TOKEN = \"{tok}\"\n")).unwrap();
    git(&r, &["add", "settings.py"]);
    let o = commit(&r, &cache, "leak");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "commit with a key passed: {out}");
    assert!(
        out.contains("settings.py") && out.contains("commit refused"),
        "{out}"
    );
    assert!(!out.contains(&tok), "secret shown whole: {out}");
    assert_eq!(
        git(&r, &["log", "--oneline"]).lines().count(),
        1,
        "nothing committed"
    );
    // The compiled rules were cached for the next commit.
    assert!(fs::read_dir(&cache).unwrap().count() >= 1);

    // Marked as a fixture inline, the same line is accepted.
    fs::write(
        r.join("settings.py"),
        format!("GITHUB_TOKEN = \"{tok}\"  # keysweep:allow test fixture\n"),
    )
    .unwrap();
    git(&r, &["add", "settings.py"]);
    let o = commit(&r, &cache, "fixture");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn pre_push_hook_refuses_pushing_a_commit_with_a_key() {
    let t = tempfile::tempdir().unwrap();
    let (r, remote, cache) = (
        t.path().join("repo"),
        t.path().join("remote.git"),
        t.path().join("cache"),
    );
    fs::create_dir_all(&r).unwrap();
    git(
        t.path(),
        &["init", "-q", "--bare", remote.to_str().unwrap()],
    );
    git(&r, &["init", "-q", "-b", "main"]);
    git(&r, &["remote", "add", "origin", remote.to_str().unwrap()]);
    fs::write(r.join("a.txt"), "clean\n").unwrap();
    git(&r, &["add", "a.txt"]);
    git(&r, &["commit", "-qm", "clean"]);
    assert_eq!(
        run(&r, &["install-hook", "--pre-push"]).status.code(),
        Some(0)
    );
    let push = |args: &[&str]| {
        git_cmd(&r)
            .env("KEYSWEEP_CACHE_DIR", &cache)
            .args(["push", "-q"])
            .args(args)
            .output()
            .unwrap()
    };
    // A new branch with clean history: pushed.
    let o = push(&["-u", "origin", "main"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A key committed without the pre-commit hook is stopped at push time.
    fs::remove_file(r.join(".git/hooks/pre-commit")).unwrap();
    let tok = github_token("Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja");
    fs::write(r.join("b.txt"), format!("token {tok}\n")).unwrap();
    git(&r, &["add", "b.txt"]);
    git(&r, &["commit", "-qm", "leak"]);
    let o = push(&["origin", "main"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "push with a key passed: {err}");
    assert!(err.contains("push refused"), "{err}");
}

/// The script the pre-commit framework writes as `.git/hooks/pre-commit` (its first lines, as `pre-commit
/// install` writes them).
const FRAMEWORK_HOOK: &str = "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n\
# ID: 138fd403232d2ddd5efb44317e38bf03\n\nexec pre-commit hook-impl --hook-type=pre-commit -- \"$@\"\n";

#[test]
fn pre_push_installs_beside_the_pre_commit_frameworks_hook() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    fs::create_dir_all(r.join(".git/hooks")).unwrap();
    git(&r, &["init", "-q"]);
    let hooks = r.join(".git/hooks");
    fs::write(hooks.join("pre-commit"), FRAMEWORK_HOOK).unwrap();
    // Plain install-hook would replace the framework's hook: refused, naming the ways out.
    let o = run(&r, &["install-hook"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pre-commit framework") && stderr(&o).contains("--pre-push-only"),
        "{}",
        stderr(&o)
    );
    // --pre-push installs the pre-push hook and leaves the framework's pre-commit hook as it is.
    let o = run(&r, &["install-hook", "--pre-push"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("left as it is"), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        FRAMEWORK_HOOK
    );
    assert!(fs::read_to_string(hooks.join("pre-push"))
        .unwrap()
        .contains("keysweep pre-push hook"));
    assert!(!hooks.join("pre-commit.keysweep-backup").exists());
}

#[test]
fn pre_push_only_never_touches_the_pre_commit_hook() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    fs::create_dir_all(r.join(".git/hooks")).unwrap();
    git(&r, &["init", "-q"]);
    let hooks = r.join(".git/hooks");
    // A foreign pre-commit hook (not the framework's) stays, and no pre-commit hook is created either.
    fs::write(hooks.join("pre-commit"), "#!/bin/sh\nmake lint\n").unwrap();
    let o = run(&r, &["install-hook", "--pre-push-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\nmake lint\n"
    );
    assert!(hooks.join("pre-push").is_file());
    fs::remove_file(hooks.join("pre-commit")).unwrap();
    fs::remove_file(hooks.join("pre-push")).unwrap();
    assert_eq!(
        run(&r, &["install-hook", "--pre-push-only"]).status.code(),
        Some(0)
    );
    assert!(hooks.join("pre-push").is_file());
    assert!(!hooks.join("pre-commit").exists());
}

/// The README says the hook runs `$KEYSWEEP` when it is set, before the binary that installed it.
#[cfg(unix)]
#[test]
fn hook_prefers_the_keysweep_variable_over_the_installing_binary() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("repo");
    fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q"]);
    assert_eq!(run(&r, &["install-hook"]).status.code(), Some(0));
    let fake = t.path().join("fake-keysweep");
    let marker = t.path().join("ran");
    fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" > '{}'\nexit 0\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(r.join("a.txt"), "hello\n").unwrap();
    git(&r, &["add", "a.txt"]);
    let o = git_cmd(&r)
        .env("KEYSWEEP", &fake)
        .args(["commit", "-qm", "x"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read_to_string(&marker).unwrap().trim(), "staged");
}
