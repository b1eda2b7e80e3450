//! On-disk cache of compiled engine databases, so start-up does not recompile an unchanged rule set. Owns
//! the cache folder (`$KEYSWEEP_CACHE_DIR`, else `$XDG_CACHE_HOME/keysweep`, else `~/.cache/keysweep`), the
//! file format (magic line, JSON header line, payload; the header holds the payload's SHA-256) and atomic
//! writes. Every failure is soft: a missing, unreadable or corrupt entry is a miss, a failed write is ignored.
//! Disabled by `KEYSWEEP_NO_CACHE=1` or `disable()` (`--no-cache`). Knows nothing of what it stores.
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

const MAGIC: &[u8] = b"keysweep-cache 1\n";
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
struct Header<M> {
    payload_sha256: String,
    meta: M,
}

fn path(dir: &Path, kind: &str, key: &str) -> PathBuf {
    dir.join(format!("{kind}-{key}.bin"))
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
    let bytes = std::fs::read(path(dir, kind, key)).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let header: Header<M> = serde_json::from_slice(&rest[..nl]).ok()?;
    let payload = &rest[nl + 1..];
    if key_of_payload(payload) != header.payload_sha256 {
        return None;
    }
    Some((header.meta, payload.to_vec()))
}

fn key_of_payload(payload: &[u8]) -> String {
    key(&[payload])
}

/// Write an entry atomically (temporary file, then rename). Failures are ignored: the cache is an
/// optimisation. Returns whether the entry was written.
pub fn store<M: Serialize>(kind: &str, key: &str, meta: &M, payload: &[u8]) -> bool {
    if !enabled() {
        return false;
    }
    dir().is_some_and(|d| store_in(&d, kind, key, meta, payload))
}

/// `store` into an explicit folder.
pub fn store_in<M: Serialize>(dir: &Path, kind: &str, key: &str, meta: &M, payload: &[u8]) -> bool {
    let dest = path(dir, kind, key);
    let header = Header {
        payload_sha256: key_of_payload(payload),
        meta,
    };
    let Ok(json) = serde_json::to_vec(&header) else {
        return false;
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile_in(dir)?;
        use std::io::Write;
        tmp.1.write_all(MAGIC)?;
        tmp.1.write_all(&json)?;
        tmp.1.write_all(b"\n")?;
        tmp.1.write_all(payload)?;
        tmp.1.sync_all()?;
        drop(tmp.1);
        std::fs::rename(&tmp.0, &dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp.0);
        })
    };
    let ok = write().is_ok();
    if ok {
        prune(dir, kind);
    }
    ok
}

/// A new temporary file in `dir` (unique per process and call).
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let p = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)?;
    Ok((p, f))
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
