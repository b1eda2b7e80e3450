//! The git source: reads a repository's object database directly with `gix` (no `git` process). It owns
//! opening repositories, reading objects with a count of what could not be read (missing in shallow or
//! partial clones, or corrupt; then every pack and index checksum is verified so a damaged file is named),
//! walking trees, and commit provenance. `history` scans every blob reachable from any ref (or a commit
//! range) once; `staged` scans the index entries that differ from HEAD; `ci` finds the base of a pull/merge
//! request (the `git` and `staged` commands live in the cli crate). Blobs go to a `BlobSink` (the scanner, in
//! a single run), so decoders apply to history exactly as to the working tree; object reads report problems
//! through `Diagnostics`.
use anyhow::{Context, Result};
use gix::objs::Find;
use keysweep_model::Diagnostics;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub mod ci;
mod claims;
pub mod delta;
pub mod diff_walk;
pub mod history;
mod index;
mod lanes;
pub mod packs;
pub mod staged;

/// How many corrupt-object errors are reported one by one before only the total is given.
const MAX_CORRUPT_MESSAGES: u64 = 10;

/// Open the repository at or around `path` (work tree or bare).
pub fn open(path: &Path) -> Result<gix::Repository> {
    // Errors are one sentence naming the path: gix's own chain ends in Rust names (`NotFound`).
    if let Err(e) = std::fs::metadata(path) {
        anyhow::bail!(
            "{}: {}",
            path.display(),
            keysweep_model::fsutil::io_reason(&e)
        );
    }
    let mut repo = gix::discover(path).map_err(|e| {
        let why = if e.is_not_found() {
            "not a git repository (no .git here or in any folder above it)".to_string()
        } else if e.is_permission_denied() {
            format!("the git repository is not trusted or not readable ({e})")
        } else {
            format!("cannot be opened as a git repository ({e})")
        };
        anyhow::anyhow!("{}: {why}", path.display())
    })?;
    // Objects are read once each: a small object cache, the pack delta cache does the real work.
    repo.object_cache_size_if_unset(4 << 20);
    Ok(repo)
}

/// Counts of objects that could not be read during a scan.
#[derive(Debug, Default)]
pub struct Problems {
    /// Objects absent from the object database (shallow or partial clone, deleted object files).
    pub missing: AtomicU64,
    /// Objects present but undecodable (corrupt pack or loose object).
    pub corrupt: AtomicU64,
}

impl Problems {
    /// Turn the counts into warnings and errors on the diagnostics; `blobs_scanned` says how many blobs were
    /// read and scanned. Returns true when the object database is corrupt (an error: exit code 2).
    ///
    /// When any object could not be read, every pack and pack index is checked (`corrupt_files`): a pack
    /// ends with the SHA-1 of its content, an index with its pack's checksum and its own. A damaged file is
    /// named as corrupt, and objects missing beside it are blamed on it, never on a partial or shallow clone.
    pub fn report(
        &self,
        scanner: &dyn Diagnostics,
        repo: &gix::Repository,
        blobs_scanned: u64,
    ) -> bool {
        let repo_name = repo_name(repo);
        let missing = self.missing.load(Relaxed);
        let corrupt = self.corrupt.load(Relaxed);
        if missing == 0 && corrupt == 0 {
            return false;
        }
        let damaged = corrupt_files(repo);
        for (file, why) in &damaged {
            scanner.error(format!("{}: {why}", file.display()));
        }
        // What was scanned, said as it is: an unreadable commit or tree hides everything below it.
        let scanned = match blobs_scanned {
            0 => "nothing was scanned".to_string(),
            n => {
                format!("{n} blob(s) were scanned; what an unreadable commit or tree holds was not")
            }
        };
        if missing > 0 && damaged.is_empty() {
            scanner.warn(format!(
                "{repo_name}: {missing} object(s) could not be read (missing from the object database: \
                 partial clone, shallow clone or deleted objects); {scanned}"
            ));
        } else if missing > 0 {
            scanner.error(format!(
                "{repo_name}: {missing} object(s) could not be found: the object database is corrupt \
                 (see above; run `git fsck`); {scanned}"
            ));
        }
        if corrupt > 0 {
            scanner.error(format!(
                "{repo_name}: {corrupt} object(s) could not be decoded: the object database is corrupt \
                 (run `git fsck`); {scanned}"
            ));
        }
        corrupt > 0 || !damaged.is_empty()
    }
}

/// Pack files and pack indexes of `repo` that are damaged, with the reason: a file that does not open as
/// a pack or an index (bad header, truncated), a trailing checksum that does not match the content, an
/// index whose pack is gone or whose recorded pack checksum is not its pack's.
fn corrupt_files(repo: &gix::Repository) -> Vec<(std::path::PathBuf, String)> {
    use gix::odb::pack;
    let dir = repo.objects.store_ref().path().join("pack");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<std::path::PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let interrupt = std::sync::atomic::AtomicBool::new(false);
    let hash = repo.object_hash();
    let mut out = Vec::new();
    for path in files {
        match path.extension().and_then(|x| x.to_str()) {
            Some("pack") => {
                let verdict = pack::data::File::at(&path, hash)
                    .map_err(|e| format!("corrupt pack: cannot be opened: {e}"))
                    .and_then(|f| {
                        f.verify_checksum(&mut gix::progress::Discard, &interrupt)
                            .map(|_| ())
                            .map_err(|e| {
                                format!(
                                    "corrupt pack: its checksum does not match its content ({e})"
                                )
                            })
                    });
                if let Err(why) = verdict {
                    out.push((path, why));
                }
            }
            Some("idx") => {
                let index = match pack::index::File::at(&path, hash) {
                    Ok(i) => i,
                    Err(e) => {
                        out.push((path, format!("corrupt pack index: cannot be opened: {e}")));
                        continue;
                    }
                };
                if let Err(e) = index.verify_checksum(&mut gix::progress::Discard, &interrupt) {
                    out.push((
                        path,
                        format!(
                            "corrupt pack index: its checksum does not match its content ({e})"
                        ),
                    ));
                    continue;
                }
                let pack_path = path.with_extension("pack");
                if !pack_path.exists() {
                    out.push((path, "corrupt pack index: its pack file is missing".into()));
                    continue;
                }
                // The pack's own damage is reported above; here only whether the two belong together.
                if let Ok(p) = pack::data::File::at(&pack_path, hash) {
                    if p.checksum() != index.pack_checksum() {
                        out.push((
                            path,
                            format!(
                                "corrupt pack index: it is for pack {}, not for {}",
                                index.pack_checksum(),
                                p.checksum()
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Read an object. `None` when it is missing or corrupt (counted in `problems`, corrupt ones also reported).
pub fn read<'a>(
    repo: &gix::Repository,
    id: &gix::oid,
    buf: &'a mut Vec<u8>,
    scanner: &dyn Diagnostics,
    problems: &Problems,
) -> Option<gix::objs::Data<'a>> {
    counted(repo.objects.try_find(id, buf), repo, id, scanner, problems)
}

/// The object a read of `id` returned; a missing or corrupt one is counted in `problems` (corrupt ones also
/// reported) and gives `None`.
pub fn counted<'a>(
    read: gix::Result<Option<gix::objs::Data<'a>>>,
    repo: &gix::Repository,
    id: &gix::oid,
    scanner: &dyn Diagnostics,
    problems: &Problems,
) -> Option<gix::objs::Data<'a>> {
    match read {
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            problems.missing.fetch_add(1, Relaxed);
            None
        }
        Err(e) => {
            let n = problems.corrupt.fetch_add(1, Relaxed);
            if n < MAX_CORRUPT_MESSAGES {
                scanner.error(format!(
                    "{}: object {id} cannot be read: {e}",
                    repo.git_dir().display()
                ));
            }
            None
        }
    }
}

/// What a tree walk found at one entry.
pub enum TreeItem<'p> {
    /// A blob (regular or executable file) at a path.
    Blob(&'p gix::oid, EntryPath<'p>),
}

/// The path of a tree entry, built only when asked for: a walk over history meets each blob id in every
/// tree version that holds it, and almost all of those are already seen.
#[derive(Clone, Copy)]
pub struct EntryPath<'p> {
    pub prefix: &'p [u8],
    pub name: &'p [u8],
}

impl EntryPath<'_> {
    /// The full path, `/`-separated (lossy on invalid UTF-8).
    pub fn to_string_lossy(&self) -> String {
        let mut path = Vec::with_capacity(self.prefix.len() + 1 + self.name.len());
        self.write_to(&mut path);
        String::from_utf8_lossy(&path).into_owned()
    }

    /// Write the full path into `out` (cleared first).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.prefix);
        if !self.prefix.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(self.name);
    }
}

/// Provenance of one commit, as stored in finding locations.
#[derive(Debug, Clone)]
pub struct CommitMeta {
    pub sha: String,
    pub author: String,
    pub date: String,
    pub summary: String,
}

impl CommitMeta {
    /// Read a commit's author, date and summary. Missing or undecodable commits give what is known.
    pub fn load(
        repo: &gix::Repository,
        id: &gix::oid,
        scanner: &dyn Diagnostics,
        problems: &Problems,
    ) -> Self {
        let mut meta = CommitMeta {
            sha: id.to_string(),
            author: String::new(),
            date: String::new(),
            summary: String::new(),
        };
        let mut buf = Vec::new();
        let Some(data) = read(repo, id, &mut buf, scanner, problems) else {
            return meta;
        };
        let Ok(c) = gix::objs::CommitRef::from_bytes(data.data, repo.object_hash()) else {
            return meta;
        };
        if let Ok(a) = c.author() {
            meta.author = format!("{} <{}>", a.name, a.email);
            if let Ok(t) = a.time() {
                meta.date = t
                    .format(gix::date::time::format::ISO8601_STRICT)
                    .unwrap_or_default();
            }
        }
        meta.summary = c.message().summary().to_string();
        meta
    }

    /// Set `commit`, `author`, `date`, `summary` in a location's git provenance.
    pub fn insert_into(&self, meta: &mut keysweep_model::Meta) {
        let git = meta.git_mut();
        git.commit = Some(self.sha.clone());
        git.author = Some(self.author.clone());
        git.date = Some(self.date.clone());
        git.summary = Some(self.summary.clone());
    }
}

/// A display name for the repository in messages.
pub fn repo_name(repo: &gix::Repository) -> String {
    repo.workdir()
        .unwrap_or_else(|| repo.git_dir())
        .display()
        .to_string()
}

/// The refs of `repo` (every name and the object it points at) as a count and a digest: equal digests mean
/// nothing new to scan. A sweep keys a repository's last scan by it. An unreadable ref is an error.
pub fn refs_digest(repo: &gix::Repository) -> Result<(usize, String)> {
    let platform = repo
        .references()
        .with_context(|| format!("{}: cannot list refs", repo_name(repo)))?;
    let mut refs: Vec<(String, String)> = Vec::new();
    for r in platform
        .all()
        .with_context(|| format!("{}: cannot list refs", repo_name(repo)))?
    {
        let r = r.map_err(|e| anyhow::anyhow!("{}: unreadable ref: {e}", repo_name(repo)))?;
        let target = match r.target() {
            gix::refs::TargetRef::Object(id) => id.to_string(),
            gix::refs::TargetRef::Symbolic(name) => format!("-> {}", name.as_bstr()),
        };
        refs.push((r.name().as_bstr().to_string(), target));
    }
    let n = refs.len();
    Ok((n, digest_refs(refs)))
}

/// The digest `refs_digest` computes, of (name, target) pairs in any order: a target is an object id in
/// lowercase hex, or `-> name` for a symbolic ref. A remote's ref advertisement digested the same way equals
/// the digest of a mirror fetched from it (`org::clone::advertised_digest`).
pub fn digest_refs(mut refs: Vec<(String, String)>) -> String {
    use sha2::{Digest, Sha256};
    refs.sort();
    let mut h = Sha256::new();
    for (name, target) in &refs {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(target.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of the file at `path` (relative to the repository root, `/`-separated) in `commit`'s tree;
/// `None` when there is no such blob. For configuration read from a base commit (`--config-from-base`).
pub fn file_at(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    path: &str,
) -> Result<Option<Vec<u8>>> {
    let tree = repo
        .find_commit(commit)
        .with_context(|| format!("{commit}: not a commit in {}", repo_name(repo)))?
        .tree()
        .with_context(|| format!("reading the tree of {commit}"))?;
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .with_context(|| format!("looking up {path} in {commit}"))?
    else {
        return Ok(None);
    };
    if !entry.mode().is_blob() {
        return Ok(None);
    }
    let object = entry
        .object()
        .with_context(|| format!("reading {path} in {commit}"))?;
    Ok(Some(object.data.to_vec()))
}

/// The `*.toml` files directly inside folder `dir` of `commit`'s tree, as (path, bytes), sorted by path.
pub fn toml_files_at(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    dir: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let tree = repo
        .find_commit(commit)
        .with_context(|| format!("{commit}: not a commit in {}", repo_name(repo)))?
        .tree()
        .with_context(|| format!("reading the tree of {commit}"))?;
    let dir = dir.trim_matches('/');
    let folder = if dir.is_empty() {
        tree
    } else {
        let Some(entry) = tree
            .lookup_entry_by_path(dir)
            .with_context(|| format!("looking up {dir} in {commit}"))?
        else {
            return Ok(Vec::new());
        };
        if !entry.mode().is_tree() {
            return Ok(Vec::new());
        }
        entry
            .object()
            .with_context(|| format!("reading {dir} in {commit}"))?
            .into_tree()
    };
    let mut out = Vec::new();
    for e in folder.iter() {
        let e = e.with_context(|| format!("reading {dir} in {commit}"))?;
        let name = e.filename().to_string();
        if !e.mode().is_blob() || !name.ends_with(".toml") {
            continue;
        }
        let data = repo
            .find_object(e.oid())
            .with_context(|| format!("reading {dir}/{name} in {commit}"))?
            .data
            .to_vec();
        let path = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        out.push((path, data));
    }
    out.sort();
    Ok(out)
}
