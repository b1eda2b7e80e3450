//! Finding a project file (`.keysweep.toml`, `.keysweep-baseline.json`) from a scanned path upwards.
use std::path::{Path, PathBuf};

/// Find a file named `name` in `start` (or its folder, when `start` is a file) or its ancestors, stopping at
/// the repository root (the first folder holding `.git`).
pub fn find_upwards(start: &Path, name: &str) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(start).ok()?;
    let mut dir = if abs.is_dir() {
        abs
    } else {
        abs.parent()?.to_path_buf()
    };
    loop {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() || !dir.pop() {
            return None;
        }
    }
}
