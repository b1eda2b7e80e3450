//! On-disk cache of compiled engine databases, so start-up does not recompile an unchanged rule set. Owns
//! the cache folder (`$KEYSWEEP_CACHE_DIR`, else `$XDG_CACHE_HOME/keysweep`, else `~/.cache/keysweep`), the
//! file format and safe writes. Format: a magic line, a line holding the hex SHA-256 of everything the file
//! says — the magic, the entry's kind and key (so an entry renamed to another key is a miss), the JSON header
//! line and the payload — then that header line and the payload. Editing any byte, the header included, is a
//! miss. The folder is created `0700` (tightened to `0700` when it is ours and looser) and files are written
//! `0600` through `keysweep_model::fsutil::write_atomic`; a folder that is a symlink, not owned by the current
//! user, or writable by others is not used at all, and an entry file that is a symlink, not ours, or writable by
//! others is a miss. (The digest is not a secret-keyed MAC: whoever can write files as this user in a `0700`
//! folder of theirs can also forge entries; the ownership checks keep everyone else out.) Every failure is soft: a
//! missing, unreadable, foreign or corrupt entry is a miss (then rewritten), a failed write is ignored.
//! Disabled by `KEYSWEEP_NO_CACHE=1` or `disable()` (`--no-cache`). Knows nothing of what it stores.
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

const MAGIC: &[u8] = b"keysweep-cache 2\n";
/// Entries kept per kind; older ones are removed when a new one is written.
const KEEP: usize = 8;

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turn the cache off for this process.
pub fn disable() {
    DISABLED.store(true, Relaxed);
}

/// Whether the cache is in use.
pub fn enabled() -> bool {
    !DISABLED.load(Relaxed) && std::env::var_os("KEYSWEEP_NO_CACHE").is_none_or(|v| v.is_empty())
}

/// The cache folder, if one can be named.
pub fn dir() -> Option<PathBuf> {
    let nonempty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    nonempty("KEYSWEEP_CACHE_DIR")
        .or_else(|| nonempty("XDG_CACHE_HOME").map(|d| d.join("keysweep")))
        .or_else(|| nonempty("HOME").map(|d| d.join(".cache").join("keysweep")))
}

/// Hex SHA-256 of `parts`, each followed by a NUL: a cache key.
pub fn key(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<M> {
    meta: M,
}

fn path(dir: &Path, kind: &str, key: &str) -> PathBuf {
    dir.join(format!("{kind}-{key}.bin"))
}

/// The digest a file stores: over the magic, kind, key, header line and payload.
fn digest(kind: &str, key_: &str, header: &[u8], payload: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(MAGIC);
    for part in [kind.as_bytes(), key_.as_bytes()] {
        h.update(part);
        h.update([0]);
    }
    h.update(header);
    h.update(b"\n");
    h.update(payload);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `m` (from `symlink_metadata` or an open handle) is owned by the current user and not writable by
/// group or others.
#[cfg(unix)]
fn ours(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    m.uid() == uid && m.mode() & 0o022 == 0
}

#[cfg(not(unix))]
fn ours(_m: &std::fs::Metadata) -> bool {
    true
}

/// Whether the folder can be trusted: a real folder (not a symlink), ours, not writable by others.
fn trusted_dir(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir() && ours(&m))
}

/// Create the folder `0700` if missing; tighten it to `0700` if it is ours and looser. Whether it can be used.
fn prepare_dir(dir: &Path) -> bool {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    if b.create(dir).is_err() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        if let Ok(m) = std::fs::symlink_metadata(dir) {
            if m.file_type().is_dir() && m.uid() == uid && m.mode() & 0o777 != 0o700 {
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
    }
    trusted_dir(dir)
}

/// Read an entry: its metadata and payload, or `None` on any problem.
pub fn load<M: DeserializeOwned>(kind: &str, key: &str) -> Option<(M, Vec<u8>)> {
    if !enabled() {
        return None;
    }
    load_in(&dir()?, kind, key)
}

/// `load` from an explicit folder.
pub fn load_in<M: DeserializeOwned>(dir: &Path, kind: &str, key: &str) -> Option<(M, Vec<u8>)> {
    if !trusted_dir(dir) {
        return None;
    }
    let (file, meta) = keysweep_model::fsutil::open_regular(&path(dir, kind, key), false).ok()?;
    if !ours(&meta) {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len().try_into().unwrap_or(0));
    std::io::Read::read_to_end(&mut &file, &mut bytes).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let (stored, rest) = (&rest[..nl], &rest[nl + 1..]);
    let nl = memchr::memchr(b'\n', rest)?;
    let (header, payload) = (&rest[..nl], &rest[nl + 1..]);
    if stored != digest(kind, key, header, payload).as_bytes() {
        return None;
    }
    let header: Header<M> = serde_json::from_slice(header).ok()?;
    Some((header.meta, payload.to_vec()))
}

/// Write an entry atomically (`fsutil::write_atomic`, mode 0600). Failures are ignored: the cache is an
/// optimisation. Returns whether the entry was written.
pub fn store<M: Serialize>(kind: &str, key: &str, meta: &M, payload: &[u8]) -> bool {
    if !enabled() {
        return false;
    }
    dir().is_some_and(|d| store_in(&d, kind, key, meta, payload))
}

/// `store` into an explicit folder.
pub fn store_in<M: Serialize>(dir: &Path, kind: &str, key: &str, meta: &M, payload: &[u8]) -> bool {
    let Ok(json) = serde_json::to_vec(&Header { meta }) else {
        return false;
    };
    if !prepare_dir(dir) {
        return false;
    }
    let sum = digest(kind, key, &json, payload);
    let ok = keysweep_model::fsutil::write_atomic(&path(dir, kind, key), 0o600, |w| {
        w.write_all(MAGIC)?;
        w.write_all(sum.as_bytes())?;
        w.write_all(b"\n")?;
        w.write_all(&json)?;
        w.write_all(b"\n")?;
        w.write_all(payload)?;
        Ok(())
    })
    .is_ok();
    if ok {
        prune(dir, kind);
    }
    ok
}

/// Keep the `KEEP` most recently modified entries of `kind`.
fn prune(dir: &Path, kind: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{kind}-");
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && n.ends_with(".bin")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= KEEP {
        return;
    }
    files.sort();
    for (_, p) in &files[..files.len() - KEEP] {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_corruption_and_pruning() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let load = |k: &str| load_in::<Vec<u32>>(d, "t", k);
        let store = |k: &str, m: &Vec<u32>, p: &[u8]| store_in(d, "t", k, m, p);
        let k = key(&[b"rules", b"v1"]);
        assert!(load(&k).is_none());
        assert!(store(&k, &vec![1u32, 2], b"payload bytes"));
        let (meta, payload) = load(&k).expect("hit");
        assert_eq!(meta, vec![1, 2]);
        assert_eq!(payload, b"payload bytes");
        // A flipped payload byte is a miss, never garbage handed to the caller.
        let p = tmp.path().join(format!("t-{k}.bin"));
        let mut bytes = std::fs::read(&p).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).expect("write");
        assert!(load(&k).is_none());
        std::fs::write(&p, b"garbage").expect("write");
        assert!(load(&k).is_none());
        // The header is covered too: changing the metadata (same length, payload intact) is a miss.
        assert!(store(&k, &vec![1u32, 2], b"payload bytes"));
        let bytes = std::fs::read(&p).expect("read");
        let text = String::from_utf8_lossy(&bytes).replace("[1,2]", "[7,2]");
        std::fs::write(&p, text.as_bytes()).expect("write");
        assert!(load(&k).is_none());
        // An entry copied under another key's name is a miss (the digest binds kind and key).
        assert!(store(&k, &vec![1u32, 2], b"payload bytes"));
        let k2 = key(&[b"other rules"]);
        std::fs::copy(&p, d.join(format!("t-{k2}.bin"))).expect("copy");
        assert!(load(&k2).is_none());
        std::fs::remove_file(d.join(format!("t-{k2}.bin"))).expect("rm");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("m").permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o600);
            // A file others may write is not trusted.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).expect("chmod");
            assert!(load(&k).is_none());
        }
        // Rewritten after corruption.
        assert!(store(&k, &vec![3u32], b"again"));
        assert_eq!(load(&k).expect("hit").1, b"again");
        // Old entries are pruned; entries of another kind are left alone.
        assert!(store_in(d, "other", &k, &(), b"y"));
        for i in 0..KEEP + 3 {
            assert!(store(&key(&[&[i as u8]]), &vec![], b"x"));
        }
        let names: Vec<String> = std::fs::read_dir(d)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("t-")).count(), KEEP);
        assert_eq!(names.iter().filter(|n| n.starts_with("other-")).count(), 1);
        assert_eq!(names.len(), KEEP + 1, "no temporary files left: {names:?}");
    }
}
