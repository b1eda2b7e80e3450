//! The working-tree source: a parallel `ignore` walk honouring .gitignore (and `.ipynb_checkpoints/`),
//! optional inclusion of ignored files (marked `ignored`), exclusion globs, a size limit, and memory-mapped
//! reads of large files. Unreadable files and symlink loops become warnings; the walk goes on.
use super::Origin;
use crate::exclude::Excludes;
use ignore::{WalkBuilder, WalkState};
use keysweep_model::BlobSink;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Files at least this large are memory-mapped instead of read.
const MMAP_THRESHOLD: u64 = 1 << 20;

/// Options of a tree walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Also scan files ignored by .gitignore and friends; their findings say `ignored: true`.
    pub no_ignore: bool,
    /// Skip files larger than this many bytes (with a warning).
    pub max_file_size: u64,
    /// Paths never scanned (relative to the repository root or to the walk root).
    pub exclude: Excludes,
    /// Worker threads (0 = number of CPUs).
    pub threads: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            no_ignore: false,
            max_file_size: keysweep_model::limits::DEFAULT_MAX_FILE_SIZE,
            exclude: Excludes::default(),
            threads: 0,
        }
    }
}

fn builder(root: &Path, opts: &WalkOptions, respect_ignores: bool) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    b.hidden(false)
        .follow_links(true)
        .git_ignore(respect_ignores)
        .git_global(respect_ignores)
        .git_exclude(respect_ignores)
        .ignore(respect_ignores)
        .parents(respect_ignores)
        .require_git(false)
        .threads(opts.threads);
    b.filter_entry(move |e| {
        let name = e.file_name();
        name != ".git" && (!respect_ignores || name != ".ipynb_checkpoints")
    });
    b
}

/// Display form of a walked path: without a leading `./`.
fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Walk `root` (a directory or a file) and scan every file.
pub fn scan_path(scanner: &dyn BlobSink, root: &Path, opts: &WalkOptions) {
    if let Err(e) = std::fs::metadata(root) {
        scanner.error(format!("{}: {e}", root.display()));
        return;
    }
    // With --no-ignore, a first walk learns which files the ignore rules would keep.
    let kept: Option<HashSet<PathBuf>> = opts.no_ignore.then(|| {
        builder(root, opts, true)
            .build()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(|e| e.into_path())
            .collect()
    });
    // The walk root made absolute, to match exclusion globs relative to the repository root.
    let abs_root = (!opts.exclude.is_empty())
        .then(|| std::fs::canonicalize(root).ok())
        .flatten();
    let walker = builder(root, opts, !opts.no_ignore).build_parallel();
    walker.run(|| {
        let kept = &kept;
        let abs_root = abs_root.as_deref();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    scanner.warn(format!("walk: {e}"));
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(path);
            if opts.exclude.file(rel, path, abs_root) {
                return WalkState::Continue;
            }
            let mut origin = Origin::new("file", display(path));
            origin.ignored = kept.as_ref().is_some_and(|k| !k.contains(path));
            scan_file(scanner, path, origin, opts.max_file_size);
            WalkState::Continue
        })
    });
}

/// Read (or map) one file and scan it.
pub fn scan_file(scanner: &dyn BlobSink, path: &Path, origin: Origin, max_size: u64) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            scanner.error(format!("{}: {e}", path.display()));
            return;
        }
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => {
            scanner.error(format!("{}: {e}", path.display()));
            return;
        }
    };
    if len > max_size {
        scanner.skipped_large(&path.display().to_string(), len, max_size);
        return;
    }
    if len >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and dropped before returning; a file truncated concurrently can
        // raise SIGBUS, the accepted trade-off of every mmap-based scanner.
        match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => {
                scanner.scan_blob(&map, &origin);
                return;
            }
            Err(e) => scanner.warn(format!(
                "{}: mmap failed ({e}); reading instead",
                path.display()
            )),
        }
    }
    use std::io::Read;
    let mut buf = Vec::with_capacity(len as usize);
    match (&file).take(max_size + 1).read_to_end(&mut buf) {
        Ok(_) => scanner.scan_blob(&buf, &origin),
        Err(e) => scanner.error(format!("{}: {e}", path.display())),
    }
}
