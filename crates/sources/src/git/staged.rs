//! Pre-commit scan: the index entries whose blob differs from HEAD's tree at the same path (added or
//! modified), each scanned whole, so lines are those of the staged content. Works before the first commit
//! (unborn HEAD: every entry is staged). An unreadable index is an error, never a silent pass.
use super::{read, Problems};
use crate::exclude::Excludes;
use anyhow::{anyhow, Result};
use gix::ObjectId;
use keysweep_model::{BlobSink, Origin};
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
    /// Changed entries at excluded paths (not scanned, not counted in `changed`).
    pub excluded: usize,
    /// Blobs actually read and handed to the scanner.
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    pub missing: u64,
    pub corrupt: u64,
    /// The object database is corrupt (a damaged pack or index, an undecodable object): an error.
    pub failed: bool,
}

/// Scan the staged changes of `repo`.
pub fn scan_staged(
    scanner: &dyn BlobSink,
    repo: &gix::Repository,
    max_file_size: u64,
    exclude: &Excludes,
) -> Result<StagedStats> {
    let mut stats = StagedStats::default();
    let problems = Problems::default();
    let index_path = repo.index_path();
    if !index_path.exists() {
        // Nothing was ever staged.
        return Ok(stats);
    }
    // The index checksum is not verified (the pre-commit hook's start-up is a hot path; git's own
    // `index.skipHash` does the same): truncation and malformed entries still fail the decode.
    let index = gix::index::File::at(&index_path, repo.object_hash(), true, Default::default())
        .map_err(|e| anyhow!("cannot read the index {}: {e}", index_path.display()))?;

    // HEAD's blobs in the directories whose cached tree differs from HEAD's (unborn HEAD: none).
    let mut diff = HeadDiff::default();
    if let Ok(tree) = repo.head_tree_id() {
        diff.walk(repo, tree.detach(), index.tree(), scanner, &problems);
    }
    // Index entries under a directory whose cached tree equals HEAD's are unchanged.
    let mut unchanged = vec![false; index.entries().len()];
    for dir in &diff.clean_dirs {
        if let Some(range) = index.prefixed_entries_range(dir.as_slice().into()) {
            unchanged[range].fill(true);
        }
    }
    let mut to_scan: Vec<(ObjectId, String)> = Vec::new();
    for (i, entry) in index.entries().iter().enumerate() {
        if unchanged[i] {
            continue;
        }
        let path: &[u8] = entry.path(&index);
        use gix::index::entry::{Flags, Mode};
        if entry.flags.contains(Flags::INTENT_TO_ADD)
            || !(entry.mode == Mode::FILE || entry.mode == Mode::FILE_EXECUTABLE)
        {
            continue;
        }
        if diff.head.get(path) == Some(&entry.id) {
            continue;
        }
        let path = String::from_utf8_lossy(path).into_owned();
        if exclude.repo_path(&path) {
            stats.excluded += 1;
            continue;
        }
        to_scan.push((entry.id, path));
    }
    to_scan.sort();
    to_scan.dedup();
    stats.changed = to_scan.len();
    stats.deleted = diff
        .head
        .keys()
        .filter(|p| index.entry_by_path(p.as_slice().into()).is_none())
        .count();

    let mut buf = Vec::new();
    for (id, path) in &to_scan {
        let Some(data) = read(repo, id, &mut buf, scanner, &problems) else {
            continue;
        };
        if data.data.len() as u64 > max_file_size {
            scanner.skipped_large(
                &format!("{path} (staged)"),
                data.data.len() as u64,
                max_file_size,
            );
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
    stats.failed = problems.report(scanner, repo, stats.files_scanned as u64);
    Ok(stats)
}

/// HEAD's tree compared with the index's cached trees (the `TREE` extension git keeps up to date on commit
/// and invalidates along the paths `git add` touches): a directory whose cached tree id equals HEAD's has
/// identical entries and is not read at all, so a commit in a 50,000-file repository reads a handful of
/// tree objects. Without the extension every HEAD tree is read.
#[derive(Default)]
struct HeadDiff {
    /// Blobs of HEAD in directories that may differ, by full path.
    head: HashMap<Vec<u8>, ObjectId>,
    /// Directories (with a trailing `/`; empty for the root) whose index entries equal HEAD's.
    clean_dirs: Vec<Vec<u8>>,
}

impl HeadDiff {
    fn walk(
        &mut self,
        repo: &gix::Repository,
        root: ObjectId,
        cache: Option<&gix::index::extension::Tree>,
        scanner: &dyn BlobSink,
        problems: &Problems,
    ) {
        use gix::objs::tree::EntryKind;
        let mut stack = vec![(root, cache, Vec::new())];
        let mut buf = Vec::new();
        while let Some((tree, cache, prefix)) = stack.pop() {
            if cache.is_some_and(|c| c.num_entries.is_some() && c.id == tree) {
                self.clean_dirs.push(prefix);
                continue;
            }
            let Some(data) = read(repo, &tree, &mut buf, scanner, problems) else {
                continue;
            };
            if data.kind != gix::objs::Kind::Tree {
                problems.corrupt.fetch_add(1, Relaxed);
                continue;
            }
            for entry in gix::objs::TreeRefIter::from_bytes(data.data, repo.object_hash()) {
                let Ok(entry) = entry else {
                    problems.corrupt.fetch_add(1, Relaxed);
                    break;
                };
                let mut path = prefix.clone();
                path.extend_from_slice(entry.filename);
                match entry.mode.kind() {
                    EntryKind::Tree => {
                        let child = cache.and_then(|c| {
                            c.children
                                .iter()
                                .find(|t| t.name.as_slice() == entry.filename.as_ref() as &[u8])
                        });
                        path.push(b'/');
                        stack.push((entry.oid.to_owned(), child, path));
                    }
                    EntryKind::Blob | EntryKind::BlobExecutable => {
                        self.head.insert(path, entry.oid.to_owned());
                    }
                    EntryKind::Link | EntryKind::Commit => {}
                }
            }
        }
    }
}
