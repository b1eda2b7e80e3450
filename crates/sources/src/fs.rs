//! The working-tree source: a parallel `ignore` walk honouring .gitignore (and `.ipynb_checkpoints/`),
//! optional inclusion of ignored files (marked `ignored`), exclusion globs, a size limit, and memory-mapped
//! reads of large files. Unreadable files become warnings counted as `unreadable` (`Diagnostics::unreadable`),
//! symlink loops (when following links) warnings; the walk goes on.
//!
//! Symlinks inside the walked tree are not followed (like gitleaks and ripgrep); a path named on the command
//! line is. With `follow_symlinks` a link is followed only when its target lies inside the canonical walk root,
//! and every folder and file is visited once (by device and inode), so a fan-out of links costs linear time.
//! Only regular files are opened (`keysweep_model::fsutil::open_regular`: no FIFO, device, socket or procfs
//! file, never a blocking open); anything else is skipped with a warning naming it. A folder whose
//! `.gitignore`/`.ignore` is not a regular file is skipped with a warning, since the walker would have to read
//! it.
use super::Origin;
use crate::exclude::Excludes;
use ignore::{WalkBuilder, WalkState};
use keysweep_model::fsutil::{open_listed_regular, open_regular, OpenError};
use keysweep_model::BlobSink;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Follow symlinks inside the tree (only to targets inside the walk root, each target once).
    pub follow_symlinks: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            no_ignore: false,
            max_file_size: keysweep_model::limits::DEFAULT_MAX_FILE_SIZE,
            exclude: Excludes::default(),
            threads: 0,
            follow_symlinks: false,
        }
    }
}

/// The ignore files the walker reads in a folder it enters (`.git/info/exclude` when the folder holds `.git`).
const IGNORE_FILES: &[&str] = &[".gitignore", ".ignore", ".git/info/exclude"];

/// Why the walker must not enter `dir`: one of its ignore files exists but is not a regular file (a FIFO
/// would block the walk, a link could lead anywhere). `None` when the folder is fine.
fn bad_ignore_file(dir: &Path) -> Option<String> {
    for name in IGNORE_FILES {
        let p = dir.join(name);
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_file() {
            continue;
        }
        // A symlink to a regular file is acceptable, a link to anything else (or a special file) is not.
        match open_regular(&p, true) {
            Ok(_) => continue,
            Err(e) => {
                return Some(format!(
                    "{}: skipped, its {name} is {e}",
                    display(dir),
                    e = match e {
                        OpenError::NotRegular(what) => format!("not a regular file ({what})"),
                        other => format!("unreadable ({other})"),
                    }
                ))
            }
        }
    }
    None
}

/// What one walk shares between its threads' entry filter: the refusals to report, and when following links,
/// the canonical root and the identities already visited.
struct Guard {
    refused: Mutex<Vec<String>>,
    canonical_root: Option<PathBuf>,
    seen: Mutex<HashSet<(u64, u64)>>,
}

impl Guard {
    fn new(canonical_root: Option<PathBuf>) -> std::sync::Arc<Guard> {
        std::sync::Arc::new(Guard {
            refused: Mutex::new(Vec::new()),
            canonical_root,
            seen: Mutex::new(HashSet::new()),
        })
    }

    fn refuse(&self, why: String) -> bool {
        if let Ok(mut r) = self.refused.lock() {
            r.push(why);
        }
        false
    }

    /// Whether the walk may yield (and descend into) `e`.
    fn admits(&self, e: &ignore::DirEntry, respect_ignores: bool) -> bool {
        if let Some(croot) = &self.canonical_root {
            if e.path_is_symlink() {
                match std::fs::canonicalize(e.path()) {
                    Ok(target) if target.starts_with(croot) => {}
                    Ok(_) => {
                        return self.refuse(format!(
                            "{}: skipped, symbolic link to outside the scanned root",
                            display(e.path())
                        ))
                    }
                    Err(err) => {
                        return self.refuse(format!("{}: skipped, {err}", display(e.path())))
                    }
                }
            }
            // Each folder and file once, however many links lead to it.
            if let Some(id) = identity(e) {
                if self.seen.lock().is_ok_and(|mut s| !s.insert(id)) {
                    return false;
                }
            }
        }
        if respect_ignores && e.file_type().is_some_and(|t| t.is_dir()) {
            if let Some(why) = bad_ignore_file(e.path()) {
                return self.refuse(why);
            }
        }
        true
    }
}

fn builder(
    root: &Path,
    opts: &WalkOptions,
    respect_ignores: bool,
    guard: &std::sync::Arc<Guard>,
) -> WalkBuilder {
    let mut b = WalkBuilder::new(root);
    b.hidden(false)
        .follow_links(opts.follow_symlinks)
        .git_ignore(respect_ignores)
        .git_global(respect_ignores)
        .git_exclude(respect_ignores)
        .ignore(respect_ignores)
        .parents(respect_ignores)
        .require_git(false)
        .threads(opts.threads);
    let guard = guard.clone();
    // Applied to every entry below the root before it is yielded or descended (so before the walker reads a
    // folder's ignore files).
    b.filter_entry(move |e| {
        let name = e.file_name();
        name != ".git"
            && (!respect_ignores || name != ".ipynb_checkpoints")
            && guard.admits(e, respect_ignores)
    });
    b
}

/// Display form of a walked path: without a leading `./`.
fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// A visited folder's or file's identity, for visiting each once when following links.
#[cfg(unix)]
fn identity(entry: &ignore::DirEntry) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    entry.metadata().ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_entry: &ignore::DirEntry) -> Option<(u64, u64)> {
    None
}

/// With `--no-ignore`: the files the ignore rules would keep (the others are marked `ignored`).
enum Kept {
    /// Ignore rules were honoured: every file walked is kept.
    All,
    Paths(HashSet<PathBuf>),
    /// When following links, by identity: the parallel walk may reach a target by another path.
    Ids(HashSet<(u64, u64)>),
}

/// Walk `root` (a directory or a file) and scan every file.
pub fn scan_path(scanner: &dyn BlobSink, root: &Path, opts: &WalkOptions) {
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => {
            scanner.error(format!("{}: {e}", root.display()));
            return;
        }
    };
    // The walker reads the root's ignore files before anything else (also for --no-ignore's first walk).
    if meta.is_dir() {
        if let Some(why) = bad_ignore_file(root) {
            scanner.warn(why);
            return;
        }
    }
    // Following links: targets must stay under the canonical root.
    let canonical_root = if opts.follow_symlinks {
        match std::fs::canonicalize(root) {
            Ok(r) => Some(r),
            Err(e) => {
                scanner.error(format!("{}: {e}", root.display()));
                return;
            }
        }
    } else {
        None
    };
    // With --no-ignore, a first walk learns which files the ignore rules would keep: by path, or by identity
    // when following links (a target may be reached by another path in the parallel walk). Its refusals are
    // not reported: the second walk, which reads no ignore files, is the one that counts.
    let kept = if opts.no_ignore {
        let first = builder(root, opts, true, &Guard::new(canonical_root.clone()))
            .build()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()));
        if opts.follow_symlinks {
            Kept::Ids(first.filter_map(|e| identity(&e)).collect())
        } else {
            Kept::Paths(first.map(|e| e.into_path()).collect())
        }
    } else {
        Kept::All
    };
    // The walk root made absolute, to match exclusion globs relative to the repository root.
    let abs_root = (!opts.exclude.is_empty())
        .then(|| std::fs::canonicalize(root).ok())
        .flatten();
    let guard = Guard::new(canonical_root);
    let walker = builder(root, opts, !opts.no_ignore, &guard).build_parallel();
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
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            // Folders are descended; symlinks not followed are skipped silently (like ripgrep and gitleaks).
            if ft.is_dir() || ft.is_symlink() {
                return WalkState::Continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(path);
            if opts.exclude.file(rel, path, abs_root) {
                return WalkState::Continue;
            }
            let mut origin = Origin::new("file", display(path));
            origin.ignored = match kept {
                Kept::All => false,
                Kept::Paths(k) => !k.contains(path),
                Kept::Ids(k) => identity(&entry).is_none_or(|id| !k.contains(&id)),
            };
            // The root was named by the user: follow it. Below it, follow only when asked (the guard checked
            // where the link leads).
            let follow = entry.depth() == 0 || opts.follow_symlinks;
            if ft.is_file() {
                // The listing says regular: skip the type check before opening (the handle is checked).
                let opened = open_listed_regular(path, follow);
                scan_opened(scanner, path, opened, origin, opts.max_file_size);
            } else {
                // FIFOs, devices, sockets: refused with a warning, never opened.
                scan_file(scanner, path, origin, opts.max_file_size, follow);
            }
            WalkState::Continue
        })
    });
    let refused = guard.refused.lock().map(|r| r.clone()).unwrap_or_default();
    for w in refused {
        scanner.warn(w);
    }
}

/// Read (or map) one file and scan it. Only regular files are opened (see the module comment); `follow =
/// false` refuses a symlink at `path`.
pub fn scan_file(scanner: &dyn BlobSink, path: &Path, origin: Origin, max_size: u64, follow: bool) {
    scan_opened(scanner, path, open_regular(path, follow), origin, max_size);
}

/// Scan a file `open_regular` (or `open_listed_regular`) opened, or report why it was not.
fn scan_opened(
    scanner: &dyn BlobSink,
    path: &Path,
    opened: Result<(std::fs::File, std::fs::Metadata), OpenError>,
    origin: Origin,
    max_size: u64,
) {
    let (file, len) = match opened {
        Ok((f, m)) => (f, m.len()),
        Err(OpenError::Io(e)) => {
            scanner.unreadable(&path.display().to_string(), &e);
            return;
        }
        Err(e) => {
            scanner.warn(format!("{}: skipped, {e}", path.display()));
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
        Err(e) => scanner.unreadable(&path.display().to_string(), &e),
    }
}
