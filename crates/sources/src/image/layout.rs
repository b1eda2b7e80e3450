//! Local image stores: an OCI image layout directory, and tar archives (an OCI layout tar or a `docker save`
//! tarball, which may also hold an OCI layout). Blobs are opened for streaming by digest (`sha256:HEX`) or, for
//! legacy `docker save` files, by path inside the tar; a tar is indexed once (headers only, data skipped by
//! seeking) and every open reads its own file handle at the entry's offset. Digests from manifests are
//! validated before they become paths, so a hostile manifest cannot name a file outside the layout; a blob must
//! resolve (symlinks followed) to a path inside the layout directory and be a regular file, opened without
//! blocking (a FIFO cannot hang the scan).
use super::tarstream::TarReader;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Something blobs can be streamed from.
pub trait BlobSource: Sync {
    /// Open a blob by key: `sha256:HEX`, or a path inside a tar for legacy `docker save` files.
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send + '_>>;

    /// Read a small blob (manifest, config) whole, refusing more than `max` bytes.
    fn read_small(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open(key)?
            .take(max + 1)
            .read_to_end(&mut out)
            .with_context(|| format!("reading {key}"))?;
        if out.len() as u64 > max {
            bail!("{key} is larger than {max} bytes");
        }
        Ok(out)
    }
}

/// `sha256:HEX` → `blobs/sha256/HEX`, refusing anything that is not a plain algorithm and hex string.
pub fn blob_path(digest: &str) -> Result<String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| anyhow!("invalid digest {digest:?}"))?;
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let hex_ok = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !alg_ok || !hex_ok {
        bail!("invalid digest {digest:?}");
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

/// An OCI image layout directory.
pub struct OciDir {
    /// The layout directory, canonical: every blob must resolve to a path under it.
    root: PathBuf,
}

impl OciDir {
    pub fn is_layout(dir: &Path) -> bool {
        dir.join("index.json").is_file()
    }

    pub fn new(dir: &Path) -> Result<OciDir> {
        let root = dir
            .canonicalize()
            .with_context(|| format!("{}", dir.display()))?;
        Ok(OciDir { root })
    }
}

impl BlobSource for OciDir {
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send + '_>> {
        let rel = if key.contains(':') {
            blob_path(key)?
        } else {
            safe_rel(key)?
        };
        let p = self.root.join(&rel);
        // Symlinks are followed only while they stay inside the layout.
        let real = p
            .canonicalize()
            .with_context(|| format!("{}", p.display()))?;
        if !real.starts_with(&self.root) {
            bail!(
                "{}: refusing a blob that resolves outside the image layout (to {})",
                p.display(),
                real.display()
            );
        }
        Ok(Box::new(open_regular(&real, true)?))
    }
}

/// Open a file for reading only if it is a regular file (`keysweep_model::fsutil::open_regular`: the open cannot
/// block on a FIFO and, with `no_follow`, refuses a final symlink swapped in after a path was checked).
fn open_regular(path: &Path, no_follow: bool) -> Result<File> {
    use keysweep_model::fsutil::{self, OpenError};
    match fsutil::open_regular(path, !no_follow) {
        Ok((f, _)) => Ok(f),
        Err(e @ OpenError::NotRegular(_)) => {
            bail!("{}: {e}; refusing to read it", path.display())
        }
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

/// A path inside an archive or layout that stays inside it.
fn safe_rel(key: &str) -> Result<String> {
    let norm = super::layer::normalize(key);
    if key.starts_with('/') || norm.split('/').any(|c| c == ".." || c.is_empty()) {
        bail!("refusing path {key:?} outside the image archive");
    }
    Ok(norm)
}

/// A tar archive (docker save or OCI layout), indexed by entry path.
pub struct TarStore {
    pub path: PathBuf,
    entries: HashMap<String, (u64, u64)>,
}

impl TarStore {
    pub fn open(path: &Path) -> Result<TarStore> {
        let mut f = open_regular(path, false)?;
        let mut magic = [0u8; 4];
        let n = f.read(&mut magic)?;
        if n >= 2 && (magic[..2] == [0x1f, 0x8b] || magic == [0x28, 0xb5, 0x2f, 0xfd]) {
            bail!(
                "{}: compressed image archives are not supported; decompress it first (e.g. gunzip)",
                path.display()
            );
        }
        f.seek(SeekFrom::Start(0))?;
        // Headers only: data is seeked over, and long names and PAX headers are capped (`tarstream`).
        let mut archive = TarReader::new(f);
        let mut entries = HashMap::new();
        loop {
            let e = match archive.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) if entries.is_empty() => {
                    return Err(e).with_context(|| format!("{}: not a tar archive", path.display()))
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("{}: corrupt tar archive", path.display()))
                }
            };
            if !e.kind.is_file() {
                continue;
            }
            let name = super::layer::normalize(&e.path);
            entries.insert(name, (e.data_offset, e.size));
        }
        if entries.is_empty() {
            bail!("{}: empty or not a tar archive", path.display());
        }
        Ok(TarStore {
            path: path.to_path_buf(),
            entries,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }
}

impl BlobSource for TarStore {
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send + '_>> {
        let name = if key.contains(':') {
            blob_path(key)?
        } else {
            super::layer::normalize(key)
        };
        let &(offset, size) = self
            .entries
            .get(&name)
            .ok_or_else(|| anyhow!("{}: no entry {name}", self.path.display()))?;
        let mut f = open_regular(&self.path, false)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f.take(size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_digests_are_refused() {
        assert_eq!(
            blob_path("sha256:abc123").unwrap(),
            "blobs/sha256/abc123".to_string()
        );
        assert!(blob_path("sha256:../../etc/passwd").is_err());
        assert!(blob_path("../x:abc").is_err());
        assert!(blob_path("nocolon").is_err());
        assert!(safe_rel("../etc/passwd").is_err());
        assert!(safe_rel("/etc/passwd").is_err());
        assert_eq!(safe_rel("./abc/layer.tar").unwrap(), "abc/layer.tar");
    }
}
