//! Paths never scanned: the `.keysweep.toml` `exclude` globs and `--exclude`, one set for every source.
//! A glob matches a path relative to the repository root (the folder of the configuration file), so
//! `exclude = ["sub/deep"]` holds whether keysweep runs from the root or from `sub/`, in the working tree,
//! in history and in the staged changes alike. A directory glob also excludes what is inside it.
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Compiled exclusion globs and the folder they are relative to.
#[derive(Debug, Clone)]
pub struct Excludes {
    set: GlobSet,
    /// The repository root (canonical): walked files are matched relative to it too.
    root: Option<PathBuf>,
}

impl Default for Excludes {
    fn default() -> Self {
        Excludes {
            set: GlobSet::empty(),
            root: None,
        }
    }
}

impl Excludes {
    /// Compile `globs`, relative to `root` (the configuration's folder; `None`: relative to each walk root).
    pub fn new<'a>(
        globs: impl IntoIterator<Item = &'a String>,
        root: Option<&Path>,
    ) -> Result<Self, globset::Error> {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            b.add(Glob::new(g)?);
            if !g.ends_with("/**") {
                b.add(Glob::new(&format!("{}/**", g.trim_end_matches('/')))?);
            }
        }
        Ok(Excludes {
            set: b.build()?,
            root: root.and_then(|r| std::fs::canonicalize(r).ok()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Whether a repository path (`/`-separated, relative to the repository root: a git tree or index path)
    /// is excluded.
    pub fn repo_path(&self, path: &str) -> bool {
        !self.set.is_empty() && self.set.is_match(path)
    }

    /// Whether a walked file is excluded: `rel` is its path relative to the walk root, `path` as walked, and
    /// `abs_root` the walk root made absolute (to match relative to the repository root).
    pub fn file(&self, rel: &Path, path: &Path, abs_root: Option<&Path>) -> bool {
        if self.set.is_empty() {
            return false;
        }
        if self.set.is_match(rel) || self.set.is_match(path) {
            return true;
        }
        match (&self.root, abs_root) {
            (Some(root), Some(abs_root)) => abs_root
                .join(rel)
                .strip_prefix(root)
                .is_ok_and(|r| self.set.is_match(r)),
            _ => false,
        }
    }
}
