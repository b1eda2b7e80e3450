//! Pre-commit scan: the index entries whose blob differs from HEAD's tree at the same path (added or
//! modified), each scanned whole, so lines are those of the staged content. Works before the first commit
//! (unborn HEAD: every entry is staged). An unreadable index is an error, never a silent pass. The index is
//! walked in place by `git::index` (a split index is decoded by gix instead).
use super::{read, Problems};
use crate::exclude::Excludes;
use anyhow::{anyhow, Result};
use gix::ObjectId;
use keysweep_model::{BlobId, BlobSink, Origin};
use std::collections::{HashMap, HashSet};
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
    // The lean reader walks the mapped file in place (`git::index`); a split index is left to gix. The index
    // checksum is not verified either way (the pre-commit hook's start-up is a hot path; git's own
    // `index.skipHash` does the same): truncation and malformed entries still fail the decode.
    let unreadable =
        |e: &dyn std::fmt::Display| anyhow!("cannot read the index {}: {e}", index_path.display());
    let lean =
        super::index::Index::open(&index_path, repo.object_hash()).map_err(|e| unreadable(&e))?;
    let full = match lean {
        Some(_) => None,
        None => Some(
            gix::index::File::at(&index_path, repo.object_hash(), true, Default::default())
                .map_err(|e| unreadable(&e))?,
        ),
    };
    let tree = match (&lean, &full) {
        (Some(l), _) => l.tree(),
        (None, Some(f)) => f.tree(),
        (None, None) => None,
    };

    // HEAD's blobs in the directories whose cached tree differs from HEAD's (unborn HEAD: none).
    let mut diff = HeadDiff::default();
    if let Ok(head) = repo.head_tree_id() {
        diff.walk(repo, head.detach(), tree, scanner, &problems);
    }
    // Index entries under a directory whose cached tree equals HEAD's are unchanged. The clean directories
    // never nest (the walk stops at one), so the only one that can hold a path is the greatest not above it.
    diff.clean_dirs.sort();
    let mut last_clean: Option<&[u8]> = None;
    let mut under_clean = |path: &[u8]| -> bool {
        if last_clean.is_some_and(|d| path.starts_with(d)) {
            return true;
        }
        let i = diff.clean_dirs.partition_point(|d| d.as_slice() <= path);
        let hit = i > 0 && path.starts_with(&diff.clean_dirs[i - 1]);
        if hit {
            last_clean = Some(&diff.clean_dirs[i - 1]);
        }
        hit
    };
    let mut to_scan: Vec<(ObjectId, String)> = Vec::new();
    // HEAD paths still in the index (any kind of entry): the others are staged deletions.
    let mut kept: HashSet<Vec<u8>> = HashSet::new();
    let mut visit = |path: &[u8], mode: u32, id: &[u8], intent_to_add: bool| {
        if under_clean(path) {
            return;
        }
        let head = diff.head.get(path);
        if head.is_some() && !kept.contains(path) {
            kept.insert(path.to_vec());
        }
        if intent_to_add || !(mode == 0o100644 || mode == 0o100755) {
            return;
        }
        if head.is_some_and(|h| h.as_slice() == id) {
            return;
        }
        let Ok(id) = gix::hash::oid::try_from_bytes(id) else {
            return;
        };
        let path = String::from_utf8_lossy(path).into_owned();
        if exclude.repo_path(&path) {
            stats.excluded += 1;
            return;
        }
        to_scan.push((id.to_owned(), path));
    };
    match (&lean, &full) {
        (Some(l), _) => l
            .for_each(|e| visit(e.path, e.mode, e.id, e.intent_to_add))
            .map_err(|e| unreadable(&e))?,
        (None, Some(f)) => {
            use gix::index::entry::Flags;
            for e in f.entries() {
                visit(
                    e.path(f),
                    e.mode.bits(),
                    e.id.as_slice(),
                    e.flags.contains(Flags::INTENT_TO_ADD),
                );
            }
        }
        (None, None) => {}
    }
    to_scan.sort();
    to_scan.dedup();
    stats.changed = to_scan.len();
    stats.deleted = diff.head.len().saturating_sub(kept.len());

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
        origin.meta.git_mut().staged = true;
        origin.meta.blob = BlobId::from_bytes(id.as_bytes());
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
