//! The clone cache against a real `git daemon` on loopback: a first sync clones a bare mirror, a second one
//! fetches what is new into the same mirror (never a re-clone), an unfinished clone is replaced, and an
//! unreachable host or an oversized repository is an error naming the repository.
use crate::common::gitd::daemon;
use crate::common::{bare_repo, commit_files, git};
use keysweep_sources::org::clone::{mirror_path, sync, CloneOptions, Synced};
use keysweep_sources::org::{url_identity, RepoSpec};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A bare repository `base/<name>.git` with one commit, pushed from a scratch work tree.
fn upstream(base: &Path, name: &str) -> std::path::PathBuf {
    bare_repo(base, name, |w| {
        commit_files(w, &[("README", "hello\n")], "first")
    })
}

#[test]
fn first_sync_clones_later_syncs_fetch_into_the_same_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    std::fs::create_dir_all(&base).unwrap();
    let work = upstream(&base, "app");
    let (_d, port) = daemon(&base);
    let url = format!("git://127.0.0.1:{port}/app.git");
    let spec = RepoSpec::direct(url_identity(&url), url.clone());
    let opts = CloneOptions::new(tmp.path().join("cache"));

    let (path, how) = sync(&spec, &opts).expect("clone");
    assert_eq!(how, Synced::Cloned);
    assert_eq!(path, mirror_path(&opts.root, &spec.id));
    let first = git(&work, &["rev-parse", "HEAD"]);
    assert_eq!(git(&path, &["rev-parse", "refs/heads/main"]), first);
    let marker = std::fs::metadata(path.join("keysweep-mirror"))
        .unwrap()
        .ino();

    std::fs::write(work.join("app.py"), "x = 1\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "second"]);
    git(&work, &["push", "-q", "origin", "main", "--tags"]);
    let second = git(&work, &["rev-parse", "HEAD"]);
    let (path2, how) = sync(&spec, &opts).expect("fetch");
    assert_eq!((path2.as_path(), how), (path.as_path(), Synced::Fetched));
    assert_eq!(git(&path, &["rev-parse", "refs/heads/main"]), second);
    assert_eq!(
        std::fs::metadata(path.join("keysweep-mirror"))
            .unwrap()
            .ino(),
        marker,
        "the mirror was fetched into, not cloned again"
    );
    // The mirror's config holds no credential helper output or header (nothing was written to it).
    let config = std::fs::read_to_string(path.join("config")).unwrap();
    assert!(!config.contains("extraHeader"), "{config}");

    // A mirror left unfinished (killed mid-clone: no marker) is replaced by a fresh clone.
    std::fs::remove_file(path.join("keysweep-mirror")).unwrap();
    let (_, how) = sync(&spec, &opts).expect("re-clone");
    assert_eq!(how, Synced::Cloned);
    assert_eq!(git(&path, &["rev-parse", "refs/heads/main"]), second);

    // Over the size limit: an error naming the repository.
    let mut small = opts.clone();
    small.max_repo_size = Some(1);
    let e = sync(&spec, &small).unwrap_err().to_string();
    assert!(e.contains(&spec.id) && e.contains("--max-repo-size"), "{e}");
    let mut listed = spec.clone();
    listed.size = Some(10 << 30);
    let e = sync(&listed, &small).unwrap_err().to_string();
    assert!(e.contains("listed"), "{e}");
}

#[test]
fn unreachable_and_missing_repositories_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    std::fs::create_dir_all(&base).unwrap();
    let (_d, port) = daemon(&base);
    let opts = CloneOptions::new(tmp.path().join("cache"));
    for url in [
        format!("git://127.0.0.1:{port}/nothing-here.git"),
        "git://127.0.0.1:1/closed.git".to_string(),
    ] {
        let spec = RepoSpec::direct(url_identity(&url), url.clone());
        let e = sync(&spec, &opts).unwrap_err().to_string();
        assert!(
            e.starts_with(&spec.id) && e.contains("git clone failed"),
            "{e}"
        );
        assert!(!mirror_path(&opts.root, &spec.id).exists());
    }
}
