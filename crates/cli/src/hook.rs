//! `keysweep install-hook`: installs the plain git hooks of `pre-commit-hook/` (embedded at build time) into
//! the repository's hooks folder as git itself resolves it (`core.hooksPath` respected), refusing to replace a
//! hook it did not write unless `--force` (the old one is then kept as `<hook>.keysweep-backup`). The
//! installed script calls this very binary by absolute path, then `$KEYSWEEP`, then `keysweep` on PATH, and
//! refuses the commit when none exists: a hook that scans nothing never passes silently. Hooks are written with
//! `keysweep_model::fsutil::write_atomic`: a symlink at the hook's path is replaced, never written through.
use crate::EXIT_CLEAN;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// The plain hook scripts; `@KEYSWEEP@` is replaced by the installing binary's path.
pub const PRE_COMMIT: &str = include_str!("../../../pre-commit-hook/pre-commit");
pub const PRE_PUSH: &str = include_str!("../../../pre-commit-hook/pre-push");
/// A line every keysweep hook holds: how an existing hook is recognised as ours.
const MARKER: &str = "# keysweep ";

#[derive(Args, Debug)]
pub struct InstallHookCmd {
    /// The repository (any folder inside its work tree).
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Replace an existing hook that keysweep did not write (kept as <hook>.keysweep-backup).
    #[arg(long)]
    pub force: bool,
    /// Also install the pre-push hook (scans the commits being pushed).
    #[arg(long)]
    pub pre_push: bool,
}

/// The hooks folder git uses for `repo` (honours `core.hooksPath`), as an absolute path.
pub fn hooks_dir(repo: &Path) -> Result<PathBuf> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "{}: not a git repository ({})",
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let p =
        String::from_utf8(out.stdout).map_err(|_| anyhow!("git printed a non-UTF-8 hooks path"))?;
    let p = PathBuf::from(p.trim_end_matches(['\n', '\r']));
    Ok(if p.is_absolute() { p } else { repo.join(p) })
}

/// The hook text for a binary at `exe`.
pub fn script(template: &str, exe: &Path) -> String {
    // Single-quoted in the script: escape embedded single quotes.
    let quoted = exe.display().to_string().replace('\'', "'\\''");
    template.replace("@KEYSWEEP@", &quoted)
}

/// Install one hook. Returns a message for the user.
pub fn install(dir: &Path, name: &str, text: &str, force: bool) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let mut note = String::new();
    // Read the existing hook only if it is a regular file (not through a symlink, never blocking on a FIFO).
    let existing = keysweep_model::fsutil::open_regular(&path, false)
        .ok()
        .and_then(|(f, _)| std::io::read_to_string(f).ok());
    if let Some(existing) = existing {
        if existing == text {
            return Ok(format!("{} is already installed", path.display()));
        }
        if !existing.contains(MARKER) || !existing.contains("keysweep") {
            if !force {
                bail!(
                    "{} exists and was not written by keysweep; use --force to replace it (it will be kept as {name}.keysweep-backup)",
                    path.display()
                );
            }
            let backup = dir.join(format!("{name}.keysweep-backup"));
            std::fs::rename(&path, &backup)
                .with_context(|| format!("moving {} aside", path.display()))?;
            note = format!(" (previous hook kept as {})", backup.display());
        }
    } else if path.symlink_metadata().is_ok() {
        if !force {
            bail!(
                "{} exists and is not a readable regular file (a symlink, a FIFO, …); use --force to replace it",
                path.display()
            );
        }
        let backup = dir.join(format!("{name}.keysweep-backup"));
        std::fs::rename(&path, &backup)
            .with_context(|| format!("moving {} aside", path.display()))?;
        note = format!(" (previous hook kept as {})", backup.display());
    }
    // Atomic and executable from the start; a symlink at the hook path (hooks folders can be tracked
    // folders via core.hooksPath) is replaced, never written through.
    keysweep_model::fsutil::write_atomic(&path, 0o755, |w| Ok(w.write_all(text.as_bytes())?))?;
    Ok(format!("installed {}{note}", path.display()))
}

pub fn install_cmd(cmd: InstallHookCmd) -> Result<i32> {
    let dir = hooks_dir(&cmd.repo)?;
    let exe = std::env::current_exe().context("locating the keysweep binary")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let mut hooks = vec![("pre-commit", PRE_COMMIT)];
    if cmd.pre_push {
        hooks.push(("pre-push", PRE_PUSH));
    }
    for (name, template) in hooks {
        let msg = install(&dir, name, &script(template, &exe), cmd.force)?;
        eprintln!("keysweep: {msg}");
    }
    Ok(EXIT_CLEAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_hooks_without_force_and_updates_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let text = script(PRE_COMMIT, Path::new("/opt/it's/keysweep"));
        assert!(text.contains("KEYSWEEP_INSTALLED='/opt/it'\\''s/keysweep'"));
        assert!(install(d, "pre-commit", &text, false)
            .expect("fresh")
            .starts_with("installed"));
        assert!(install(d, "pre-commit", &text, false)
            .expect("again")
            .contains("already"));
        // Our own hook from another binary path is replaced without --force.
        let other = script(PRE_COMMIT, Path::new("/usr/bin/keysweep"));
        install(d, "pre-commit", &other, false).expect("update own hook");
        assert_eq!(
            std::fs::read_to_string(d.join("pre-commit")).expect("r"),
            other
        );
        // A foreign hook is kept unless --force, then backed up.
        std::fs::write(d.join("pre-push"), "#!/bin/sh\nrun-my-linter\n").expect("w");
        let e = install(d, "pre-push", PRE_PUSH, false).expect_err("foreign");
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push")).expect("r"),
            "#!/bin/sh\nrun-my-linter\n"
        );
        install(d, "pre-push", PRE_PUSH, true).expect("forced");
        assert_eq!(
            std::fs::read_to_string(d.join("pre-push.keysweep-backup")).expect("r"),
            "#!/bin/sh\nrun-my-linter\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join("pre-push"))
                .expect("m")
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_hook_is_replaced_never_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hooks = dir.path().join("hooks");
        std::fs::create_dir(&hooks).expect("mkdir");
        // A file elsewhere that looks like one of our hooks (so no --force is needed), linked as the hook.
        let outside = dir.path().join("outside");
        let old = script(PRE_COMMIT, Path::new("/old/keysweep"));
        std::fs::write(&outside, &old).expect("w");
        std::os::unix::fs::symlink(&outside, hooks.join("pre-commit")).expect("symlink");
        let text = script(PRE_COMMIT, Path::new("/usr/bin/keysweep"));
        // Not followed even for reading: a link is "not a regular file", replaced only with --force.
        let e = install(&hooks, "pre-commit", &text, false).expect_err("link");
        assert!(e.to_string().contains("--force"), "{e}");
        install(&hooks, "pre-commit", &text, true).expect("forced");
        assert_eq!(std::fs::read_to_string(&outside).expect("r"), old);
        let m = std::fs::symlink_metadata(hooks.join("pre-commit")).expect("m");
        assert!(m.file_type().is_file());
        assert!(
            std::fs::symlink_metadata(hooks.join("pre-commit.keysweep-backup"))
                .expect("backup")
                .file_type()
                .is_symlink()
        );
    }
}
