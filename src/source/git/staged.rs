//! Pre-commit scan: the index entries whose blob differs from HEAD's tree at the same path (added or
//! modified), each scanned whole, so lines are those of the staged content. Works before the first commit
//! (unborn HEAD: every entry is staged). An unreadable index is an error, never a silent pass.
use super::{read, walk_tree, Problems, TreeItem};
use crate::scan::Scanner;
use crate::source::Origin;
use anyhow::{anyhow, Result};
use gix::ObjectId;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

/// What a staged scan covered.
#[derive(Debug, Default, Clone)]
pub struct StagedStats {
    /// Index entries added or modified relative to HEAD (blobs to scan).
    pub changed: usize,
    /// Staged deletions (nothing to scan).
    pub deleted: usize,
    /// Blobs actually read and handed to the scanner.
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    pub missing: u64,
    pub corrupt: u64,
}

/// Scan the staged changes of `repo`.
pub fn scan_staged(
    scanner: &Scanner,
    repo: &gix::Repository,
    max_blob_size: u64,
) -> Result<StagedStats> {
    let mut stats = StagedStats::default();
    let problems = Problems::default();
    let index_path = repo.index_path();
    if !index_path.exists() {
        // Nothing was ever staged.
        return Ok(stats);
    }
    let index = repo
        .open_index()
        .map_err(|e| anyhow!("cannot read the index {}: {e}", index_path.display()))?;

    // HEAD's tree as path -> blob id (unborn HEAD: empty).
    let mut head: HashMap<Vec<u8>, ObjectId> = HashMap::new();
    if let Ok(tree) = repo.head_tree_id() {
        walk_tree(
            repo,
            tree.detach(),
            scanner,
            &problems,
            &mut |_| true,
            &mut |TreeItem::Blob(id, path)| {
                head.insert(path.to_vec(), id);
            },
        );
    }
    let mut in_index: std::collections::HashSet<&[u8]> = Default::default();
    let mut to_scan: Vec<(ObjectId, String)> = Vec::new();
    for entry in index.entries() {
        let path: &[u8] = entry.path(&index);
        in_index.insert(path);
        use gix::index::entry::{Flags, Mode};
        if entry.flags.contains(Flags::INTENT_TO_ADD)
            || !(entry.mode == Mode::FILE || entry.mode == Mode::FILE_EXECUTABLE)
        {
            continue;
        }
        if head.get(path) == Some(&entry.id) {
            continue;
        }
        to_scan.push((entry.id, String::from_utf8_lossy(path).into_owned()));
    }
    to_scan.sort();
    to_scan.dedup();
    stats.changed = to_scan.len();
    stats.deleted = head
        .keys()
        .filter(|p| !in_index.contains(p.as_slice()))
        .count();

    let mut buf = Vec::new();
    for (id, path) in &to_scan {
        let Some(data) = read(repo, id, &mut buf, scanner, &problems) else {
            continue;
        };
        if data.data.len() as u64 > max_blob_size {
            scanner.stats.skipped_large.fetch_add(1, Relaxed);
            scanner.warn(format!(
                "{path} (staged): skipped, {} bytes is over the --max-file-size limit of {max_blob_size}",
                data.data.len()
            ));
            continue;
        }
        stats.files_scanned += 1;
        stats.bytes_scanned += data.data.len() as u64;
        let mut origin = Origin::new("git", path.clone());
        origin.meta.insert("staged".into(), Value::from(true));
        origin
            .meta
            .insert("blob".into(), Value::from(id.to_string()));
        scanner.scan_blob(data.data, &origin);
    }
    stats.missing = problems.missing.load(Relaxed);
    stats.corrupt = problems.corrupt.load(Relaxed);
    problems.report(scanner, repo);
    Ok(stats)
}
