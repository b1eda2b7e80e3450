//! Streaming layer reader: one pass over a layer blob (uncompressed, gzip or zstd, sniffed by magic bytes, never
//! trusted from the media type), verifying its SHA-256 digest on the raw bytes, capping decompressed size and ratio
//! (bomb guard), and handing every regular file to `BlobSink::find_in_blob` (an entry with findings, a nested
//! archive's members' included, gets the entry's content id, `set_blob_id`). Tar headers are walked by `tarstream`
//! (paths cut to 4 KiB and oversized PAX headers skipped, each reported once per layer). Whiteout entries
//! (`.wh.NAME`, `.wh..wh..opq`) are recorded, not scanned. Nested tar / tar.gz / tar.zst archives inside a layer
//! are walked in memory to a bounded depth (paths `outer.tar.gz!inner/path`; one past the depth is reported, not
//! scanned); any other file, a zip included, goes to the sink, which may open it (`archive::ArchiveSink`). Nothing
//! is ever written to disk; `../` and absolute entry paths are reported and only scanned in memory. Knows nothing
//! of manifests, registries or reports.
use super::tarstream::{self, HeaderNote, TarInput, TarReader};
use keysweep_model::{set_blob_id, BlobFinding, BlobSink, Origin};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Limits applied while reading a layer.
#[derive(Debug, Clone, Copy)]
pub struct LayerLimits {
    /// Maximum decompressed bytes of one layer (and of one nested archive).
    pub max_layer_size: u64,
    /// Maximum ratio of decompressed to compressed bytes (checked once past `RATIO_SLACK` bytes).
    pub max_ratio: u64,
    /// Files in a layer larger than this are skipped with a warning (they would be held in memory).
    pub max_file_size: u64,
    /// How many archives deep to descend inside a layer (0 = do not open nested archives).
    pub max_archive_depth: usize,
}

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits {
            max_layer_size: 16 << 30,
            max_ratio: keysweep_model::limits::DEFAULT_MAX_RATIO,
            max_file_size: keysweep_model::limits::DEFAULT_MAX_FILE_SIZE,
            max_archive_depth: keysweep_model::limits::DEFAULT_MAX_ARCHIVE_DEPTH,
        }
    }
}

/// Decompressed bytes allowed before the ratio check starts.
const RATIO_SLACK: u64 = 1 << 20;

/// A deletion recorded by a whiteout entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whiteout {
    /// Normalised path: the deleted path (`.wh.NAME`) or the directory made opaque (`.wh..wh..opq`).
    pub path: String,
    pub opaque: bool,
}

impl Whiteout {
    /// Whether this whiteout (in a later layer) hides `path` of a lower layer.
    pub fn hides(&self, path: &str) -> bool {
        let path = normalize(path);
        if self.opaque {
            self.path.is_empty() || under(&path, &self.path)
        } else {
            path == self.path || under(&path, &self.path)
        }
    }
}

fn under(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Path inside a layer without `./`, leading `/` or trailing `/`.
pub fn normalize(path: &str) -> String {
    let mut p = path;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            break;
        }
    }
    p.trim_end_matches('/').to_string()
}

/// What one layer yielded. Findings carry only in-layer locations; the image source adds image provenance.
#[derive(Debug, Default)]
pub struct LayerResult {
    pub findings: Vec<BlobFinding>,
    pub whiteouts: Vec<Whiteout>,
    pub files: u64,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    /// The layer could not be read to its end (truncated, corrupt, capped).
    pub failed: bool,
}

/// Counts and hashes the raw (possibly compressed) bytes of a blob.
struct RawCounter<R> {
    inner: R,
    hash: Sha256,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for RawCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// The decompressor chosen by sniffing.
enum Decomp<R: BufRead> {
    Plain(R),
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Decomp<R> {
    fn new(mut r: R) -> io::Result<(Decomp<R>, &'static str)> {
        let (gzip, zstd) = {
            let head = r.fill_buf()?;
            (
                head.starts_with(&[0x1f, 0x8b]),
                head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
            )
        };
        Ok(if gzip {
            (
                Decomp::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(r))),
                "gzip",
            )
        } else if zstd {
            (
                Decomp::Zstd(zstd::stream::read::Decoder::with_buffer(r)?),
                "zstd",
            )
        } else {
            (Decomp::Plain(r), "none")
        })
    }
    fn into_inner(self) -> R {
        match self {
            Decomp::Plain(r) => r,
            Decomp::Gzip(d) => d.into_inner(),
            Decomp::Zstd(d) => d.finish(),
        }
    }
}

impl<R: BufRead> Read for Decomp<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decomp::Plain(r) => r.read(buf),
            Decomp::Gzip(d) => d.read(buf),
            Decomp::Zstd(d) => d.read(buf),
        }
    }
}

/// Caps decompressed output by size and by ratio to the compressed bytes read so far.
struct BombGuard<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    max_size: u64,
    max_ratio: Option<u64>,
}

impl<R: Read> TarInput for BombGuard<R> {}

impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.max_size {
            return Err(io::Error::other(format!(
                "decompression bomb guard: more than {} decompressed bytes (--max-layer-size)",
                self.max_size
            )));
        }
        if let Some(ratio) = self.max_ratio {
            let c = self.compressed.load(Relaxed).max(1);
            if self.out > RATIO_SLACK && self.out / c > ratio {
                return Err(io::Error::other(format!(
                    "decompression bomb guard: {} bytes from {c} compressed exceeds ratio {ratio} (--max-ratio)",
                    self.out
                )));
            }
        }
        Ok(n)
    }
}

/// Read one layer blob and scan it. `label` names the layer in warnings; `expected` is the digest of the raw
/// blob (`sha256:HEX`) when known.
pub fn scan_layer(
    scanner: &dyn BlobSink,
    raw: Box<dyn Read + Send + '_>,
    expected: Option<&str>,
    label: &str,
    limits: &LayerLimits,
) -> LayerResult {
    let count = Arc::new(AtomicU64::new(0));
    let counter = RawCounter {
        inner: raw,
        hash: Sha256::new(),
        count: count.clone(),
    };
    let mut res = LayerResult::default();
    let (decomp, kind) = match Decomp::new(BufReader::with_capacity(256 << 10, counter)) {
        Ok(d) => d,
        Err(e) => {
            scanner.error(format!("{label}: cannot read layer: {e}"));
            res.failed = true;
            return res;
        }
    };
    let guard = BombGuard {
        inner: decomp,
        out: 0,
        compressed: count.clone(),
        max_size: limits.max_layer_size,
        max_ratio: (kind != "none").then_some(limits.max_ratio),
    };
    let mut archive = TarReader::new(guard);
    let mut walker = Walker {
        scanner,
        limits,
        label,
        res: &mut res,
        long_paths: 0,
        first_long_path: None,
    };
    let walked = walker.walk(&mut archive, "", 0);
    walker.report_long_paths();
    let mut guard = archive.into_inner();
    // Read what follows the end-of-archive marker so the digest covers the whole blob.
    let drained = walked.and_then(|_| io::copy(&mut guard, &mut io::sink()).map(|_| ()));
    res.uncompressed_bytes = guard.out;
    let mut buffered = guard.inner.into_inner();
    let drained = drained.and_then(|_| io::copy(&mut buffered, &mut io::sink()).map(|_| ()));
    res.compressed_bytes = count.load(Relaxed);
    match drained {
        Err(e) => {
            res.failed = true;
            scanner.error(format!(
                "{label}: layer read stopped after {} compressed / {} decompressed bytes ({kind}): {e}; \
                 files before that point were scanned",
                res.compressed_bytes, res.uncompressed_bytes
            ));
        }
        Ok(()) => {
            let digest = format!("sha256:{:x}", buffered.into_inner().hash.finalize());
            if let Some(exp) = expected {
                if exp.starts_with("sha256:") && exp != digest {
                    scanner.warn(format!(
                        "{label}: digest mismatch: expected {exp}, content is {digest} (scanned anyway)"
                    ));
                }
            }
        }
    }
    res
}

/// Walks the entries of a tar stream (a layer or a nested archive).
struct Walker<'a, 'r> {
    scanner: &'a dyn BlobSink,
    limits: &'a LayerLimits,
    label: &'a str,
    res: &'r mut LayerResult,
    /// Entries whose path was cut to `MAX_PATH_LEN`, reported once per layer.
    long_paths: u64,
    first_long_path: Option<String>,
}

impl Walker<'_, '_> {
    fn walk<R: TarInput>(
        &mut self,
        archive: &mut TarReader<R>,
        prefix: &str,
        depth: usize,
    ) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::new();
        while let Some(entry) = archive.next_entry()? {
            let raw_path = entry.path;
            let kind = entry.kind;
            for note in &entry.notes {
                match note {
                    HeaderNote::PathCut { len } => {
                        self.long_paths += 1;
                        if self.first_long_path.is_none() {
                            let head: String = raw_path.chars().take(80).collect();
                            self.first_long_path = Some(format!(
                                "{prefix}{head}… ({len} bytes, at byte {} of the {})",
                                entry.header_offset,
                                if prefix.is_empty() { "layer" } else { "nested archive" }
                            ));
                        }
                    }
                    HeaderNote::PaxSkipped { size } => self.scanner.warn(format!(
                        "{}: {prefix}tar entry at byte {}: PAX header of {size} bytes is over the {} byte limit; \
                         skipped unread, the entry is read under its plain header name {raw_path:?}",
                        self.label,
                        entry.header_offset,
                        tarstream::MAX_EXTENSION_HEADER
                    )),
                }
            }
            if prefix.is_empty() {
                if let Some(w) = whiteout(&raw_path) {
                    self.res.whiteouts.push(w);
                    continue;
                }
            }
            if !(kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse()) {
                continue;
            }
            let display = format!("{prefix}{raw_path}");
            if raw_path.starts_with('/') || raw_path.split('/').any(|c| c == "..") {
                self.scanner.warn(format!(
                    "{}: tar entry {display:?} has an absolute or `..` path (scanned in memory, never extracted)",
                    self.label
                ));
            }
            let size = entry.size;
            if size > self.limits.max_file_size {
                self.scanner.skipped_large(
                    &format!("{}: {display}", self.label),
                    size,
                    self.limits.max_file_size,
                );
                continue;
            }
            archive.read_data(self.limits.max_file_size, &mut buf)?;
            self.res.files += 1;
            // The findings of this entry (a nested archive's members included) get the entry's content id,
            // hashed only when there are some.
            let first = self.res.findings.len();
            if let Some(kind) = nested_kind(&display, &buf) {
                if depth < self.limits.max_archive_depth {
                    let data = std::mem::take(&mut buf);
                    self.nested(&data, kind, &display, depth + 1);
                    buf = data;
                    if depth == 0 {
                        set_blob_id(&buf, &mut self.res.findings[first..]);
                    }
                    continue;
                }
                // Not handed on either: the sink may open archives itself (`archive::ArchiveSink`), which would
                // undo the limit; the raw bytes of an archive hold no readable text.
                self.scanner.warn(format!(
                    "{}: {display}: nested archive not opened, depth limit {} reached (--max-archive-depth)",
                    self.label, self.limits.max_archive_depth
                ));
                continue;
            }
            self.scan(&buf, display);
            if depth == 0 {
                set_blob_id(&buf, &mut self.res.findings[first..]);
            }
        }
        Ok(())
    }

    /// One warning for every path cut in this layer, naming the first.
    fn report_long_paths(&mut self) {
        if let Some(first) = self.first_long_path.take() {
            self.scanner.warn(format!(
                "{}: {} tar entr{} with a path longer than {} bytes (GNU long name or PAX path), \
                 reported under the path cut to that length; first: {first}",
                self.label,
                self.long_paths,
                if self.long_paths == 1 { "y" } else { "ies" },
                tarstream::MAX_PATH_LEN
            ));
        }
    }

    fn scan(&mut self, data: &[u8], path: String) {
        let origin = Origin::new("image", path);
        let found = self.scanner.find_in_blob(data, &origin);
        self.res.findings.extend(found);
    }

    /// Open an archive found inside the layer, in memory.
    fn nested(&mut self, data: &[u8], kind: Nested, path: &str, depth: usize) {
        let inner_prefix = format!("{path}!");
        let decompressed: Vec<u8>;
        let tar_bytes: &[u8] = match kind {
            Nested::Tar => data,
            Nested::Gzip | Nested::Zstd => {
                let r: Box<dyn Read + '_> = match kind {
                    Nested::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
                    _ => match zstd::stream::read::Decoder::new(data) {
                        Ok(d) => Box::new(d),
                        Err(e) => {
                            self.scanner
                                .warn(format!("{}: {path}: bad zstd data: {e}", self.label));
                            return self.scan(data, path.to_string());
                        }
                    },
                };
                let cap = self.limits.max_file_size.min(
                    (data.len() as u64)
                        .saturating_mul(self.limits.max_ratio)
                        .max(RATIO_SLACK),
                );
                let mut out = Vec::new();
                match r.take(cap + 1).read_to_end(&mut out) {
                    Ok(_) if out.len() as u64 > cap => {
                        self.scanner.warn(format!(
                            "{}: {path}: decompression bomb guard: nested data capped at {cap} bytes",
                            self.label
                        ));
                        out.truncate(cap as usize);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.scanner.warn(format!(
                            "{}: {path}: cannot decompress nested data: {e}",
                            self.label
                        ));
                        return self.scan(data, path.to_string());
                    }
                }
                decompressed = out;
                if !is_tar(&decompressed) {
                    let name = format!("{inner_prefix}{}", crate::archive::decompressed_name(path));
                    return self.scan(&decompressed, name);
                }
                &decompressed
            }
        };
        let mut archive = TarReader::new(tar_bytes);
        if let Err(e) = self.walk(&mut archive, &inner_prefix, depth) {
            self.scanner.warn(format!(
                "{}: {path}: nested archive is corrupt: {e}",
                self.label
            ));
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Nested {
    Tar,
    Gzip,
    Zstd,
}

fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && &data[257..262] == b"ustar"
}

/// Whether a file in a layer is an archive to open.
fn nested_kind(path: &str, data: &[u8]) -> Option<Nested> {
    if is_tar(data) {
        return Some(Nested::Tar);
    }
    let lower = path.to_ascii_lowercase();
    if data.starts_with(&[0x1f, 0x8b]) && (lower.ends_with(".gz") || lower.ends_with(".tgz")) {
        return Some(Nested::Gzip);
    }
    if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        && (lower.ends_with(".zst") || lower.ends_with(".tzst"))
    {
        return Some(Nested::Zstd);
    }
    None
}

/// The whiteout an entry path denotes, if any.
fn whiteout(path: &str) -> Option<Whiteout> {
    let norm = normalize(path);
    let (dir, name) = match norm.rfind('/') {
        Some(i) => (&norm[..i], &norm[i + 1..]),
        None => ("", norm.as_str()),
    };
    if name == ".wh..wh..opq" {
        return Some(Whiteout {
            path: dir.to_string(),
            opaque: true,
        });
    }
    let target = name.strip_prefix(".wh.")?;
    Some(Whiteout {
        path: if dir.is_empty() {
            target.to_string()
        } else {
            format!("{dir}/{target}")
        },
        opaque: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_are_parsed_and_applied() {
        let w = whiteout("./app/.wh..env").unwrap();
        assert_eq!(w.path, "app/.env");
        assert!(!w.opaque);
        assert!(w.hides("app/.env"));
        assert!(w.hides("/app/.env"));
        assert!(!w.hides("app/.envrc"));
        let d = whiteout("etc/.wh.secrets").unwrap();
        assert!(d.hides("etc/secrets/key.txt"));
        let o = whiteout("srv/.wh..wh..opq").unwrap();
        assert_eq!(o.path, "srv");
        assert!(o.opaque);
        assert!(o.hides("srv/a/b"));
        assert!(!o.hides("srv"));
        assert!(!o.hides("srvx/a"));
        assert!(whiteout("app/main.py").is_none());
        let root = whiteout(".wh..wh..opq").unwrap();
        assert!(root.hides("anything"));
    }

    #[test]
    fn normalize_strips_prefixes() {
        assert_eq!(normalize("./a/b/"), "a/b");
        assert_eq!(normalize("/a"), "a");
        assert_eq!(normalize("a"), "a");
    }
}
