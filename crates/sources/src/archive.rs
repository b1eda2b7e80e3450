//! Archives opened in memory: zip, tar, gzip and zstd (so tar.gz, tar.zst, and a plain `.gz`/`.zst` file),
//! recognised by their first bytes, never by name, and nested to a bounded depth. `ArchiveSink` wraps the
//! sink a source hands its blobs to: a blob that is an archive is not handed on whole, each member is, with
//! the outer blob's provenance (its content id included: a member's findings carry the id of the blob the
//! source read) and the path `outer!member` (nested: `a.zip!inner.tar.gz!x/.env`; a plain
//! gzip file's one member is its name without `.gz`: `notes.txt.gz!notes.txt`). Any source can be wrapped
//! (the working tree, git history, staged changes); image layers open their nested tars themselves
//! (`image::layer`), and a zip inside a layer reaches this wrapper as a layer file.
//!
//! Hostile archives: every outermost archive has one budget, shared by its nested archives: bytes
//! decompressed or read out of members (`max_size`), their ratio to the outermost archive's size
//! (`max_ratio`, checked past `RATIO_SLACK` bytes, the image layers' bomb guard) and entries
//! (`max_entries`; a zip's entry count is bounded before its central directory is parsed). When the budget
//! runs out the rest of the archive is not read, with one warning naming it; members read before keep their
//! findings. Members over `max_file_size` are skipped with the usual warning. Nothing is written to disk:
//! link entries are never followed (skipped, counted in one warning per archive), absolute and `..` names
//! are scanned in memory only (one warning per archive). A truncated or corrupt archive gets a warning and
//! the members read before the damage are scanned; a zip whose directory cannot be read is handed on whole
//! (it is then just a binary blob). Tar headers are walked by `image::tarstream` (bounded long names and PAX
//! headers). Work is linear: each byte of a member is produced once per level and counted in the budget.
use crate::image::tarstream::{TarInput, TarReader};
use keysweep_model::limits;
use keysweep_model::{BlobFinding, BlobSink, Diagnostics, Origin, Stats};
use std::cell::{Cell, RefCell};
use std::io::{self, Read};

/// Bytes produced before the ratio check starts (as for image layers).
pub const RATIO_SLACK: u64 = 1 << 20;

/// Limits of archive opening (see the module comment).
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// How many archives deep to open: 1 opens archives but not archives inside them; 0 opens none.
    pub max_depth: usize,
    /// Most bytes decompressed or read out of one outermost archive, nested archives included.
    pub max_size: u64,
    /// Most bytes produced per byte of the outermost archive (once past `RATIO_SLACK`).
    pub max_ratio: u64,
    /// Most entries read from one outermost archive, nested archives included.
    pub max_entries: u64,
    /// Members larger than this are skipped with a warning (they would be held in memory).
    pub max_file_size: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: limits::DEFAULT_MAX_ARCHIVE_DEPTH,
            max_size: limits::DEFAULT_MAX_ARCHIVE_SIZE,
            max_ratio: limits::DEFAULT_MAX_RATIO,
            max_entries: limits::DEFAULT_MAX_ARCHIVE_ENTRIES,
            max_file_size: limits::DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// A `BlobSink` that opens archives and hands their members to the sink it wraps.
pub struct ArchiveSink<'a> {
    inner: &'a dyn BlobSink,
    limits: ArchiveLimits,
}

impl<'a> ArchiveSink<'a> {
    pub fn new(inner: &'a dyn BlobSink, limits: ArchiveLimits) -> Self {
        ArchiveSink { inner, limits }
    }
}

impl Diagnostics for ArchiveSink<'_> {
    fn warn(&self, msg: String) {
        self.inner.warn(msg)
    }
    fn error(&self, msg: String) {
        self.inner.error(msg)
    }
    fn stats(&self) -> &Stats {
        self.inner.stats()
    }
    fn skipped_large(&self, what: &str, size: u64, limit: u64) {
        self.inner.skipped_large(what, size, limit)
    }
    fn skipped_large_stream(&self, what: &str, limit: u64) {
        self.inner.skipped_large_stream(what, limit)
    }
}

impl BlobSink for ArchiveSink<'_> {
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        let Some(kind) = kind(data).filter(|_| self.limits.max_depth > 0) else {
            return self.inner.find_in_blob(data, origin);
        };
        let budget = Budget {
            limits: self.limits,
            outer_len: data.len() as u64,
            produced: Cell::new(0),
            entries: Cell::new(0),
            stopped: RefCell::new(None),
        };
        let mut run = Run {
            sink: self.inner,
            budget: &budget,
            out: Vec::new(),
        };
        run.open(kind, data, origin, 1);
        if let Some(why) = budget.stopped.take() {
            self.inner.warn(format!(
                "{}: archive not read to its end: {why}; members before that point were scanned",
                origin.path
            ));
        }
        run.out
    }
    fn collect(&self, found: Vec<BlobFinding>) {
        self.inner.collect(found)
    }
}

/// What an archive is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zip,
    Tar,
    Gzip,
    Zstd,
}

fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && &data[257..262] == b"ustar"
}

fn kind(data: &[u8]) -> Option<Kind> {
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Some(Kind::Zip)
    } else if is_tar(data) {
        Some(Kind::Tar)
    } else if data.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Kind::Gzip)
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Kind::Zstd)
    } else {
        None
    }
}

/// The budget of one outermost archive (single-threaded: one archive is read by one thread).
struct Budget {
    limits: ArchiveLimits,
    outer_len: u64,
    produced: Cell<u64>,
    entries: Cell<u64>,
    /// Why reading stopped, once a limit was reached.
    stopped: RefCell<Option<String>>,
}

impl Budget {
    fn stopped(&self) -> bool {
        self.stopped.borrow().is_some()
    }

    fn stop(&self, why: String) {
        let mut s = self.stopped.borrow_mut();
        if s.is_none() {
            *s = Some(why);
        }
    }

    /// Count `n` produced bytes; `false` (and stopped) when a limit is passed.
    fn produce(&self, n: u64) -> bool {
        let total = self.produced.get() + n;
        self.produced.set(total);
        let l = &self.limits;
        if total > l.max_size {
            self.stop(format!(
                "decompression bomb guard: more than {} bytes expanded (--max-archive-size)",
                l.max_size
            ));
            return false;
        }
        let c = self.outer_len.max(1);
        if total > RATIO_SLACK && total / c > l.max_ratio {
            self.stop(format!(
                "decompression bomb guard: {total} bytes expanded from {c} exceeds ratio {} (--max-ratio)",
                l.max_ratio
            ));
            return false;
        }
        true
    }

    /// Count one entry; `false` (and stopped) past the limit.
    fn entry(&self) -> bool {
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.limits.max_entries {
            self.stop(format!(
                "more than {} entries (--max-archive-entries)",
                self.limits.max_entries
            ));
            return false;
        }
        true
    }
}

/// A reader whose output is counted in the budget; fails once a limit is passed.
struct Metered<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.stopped() {
            return Err(io::Error::other("archive budget exhausted"));
        }
        let n = self.inner.read(buf)?;
        if !self.budget.produce(n as u64) {
            return Err(io::Error::other("archive budget exhausted"));
        }
        Ok(n)
    }
}

impl<R: Read> TarInput for Metered<'_, R> {}

/// Unusual entries of one archive, reported in one warning each when it is done.
#[derive(Default)]
struct Notes {
    links: u64,
    outside: u64,
    first_outside: Option<String>,
    unreadable: u64,
    first_unreadable: Option<String>,
}

impl Notes {
    fn outside(&mut self, name: &str) {
        self.outside += 1;
        self.first_outside.get_or_insert_with(|| name.to_string());
    }
    fn unreadable(&mut self, what: String) {
        self.unreadable += 1;
        self.first_unreadable.get_or_insert(what);
    }
    fn report(self, sink: &dyn BlobSink, archive: &str) {
        let s = |n: u64| if n == 1 { "y" } else { "ies" };
        if self.links > 0 {
            sink.warn(format!(
                "{archive}: {} link entr{} not followed (archives are read in memory, never extracted)",
                self.links,
                s(self.links)
            ));
        }
        if let Some(first) = self.first_outside {
            sink.warn(format!(
                "{archive}: {} entr{} with an absolute or `..` path, first {first:?} (scanned in memory, never \
                 extracted)",
                self.outside,
                s(self.outside)
            ));
        }
        if let Some(first) = self.first_unreadable {
            sink.warn(format!(
                "{archive}: {} entr{} could not be read, first: {first}",
                self.unreadable,
                s(self.unreadable)
            ));
        }
    }
}

/// Whether an entry name leaves the folder it would be extracted to.
fn escapes(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || (name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && name.get(1..2) == Some(":"))
        || name.split(['/', '\\']).any(|c| c == "..")
}

/// The origin of a member `name` of the archive at `origin`.
fn member_origin(origin: &Origin, name: &str) -> Origin {
    Origin {
        source: origin.source,
        path: format!("{}!{name}", origin.path).into(),
        ignored: origin.ignored,
        meta: origin.meta.clone(),
        context: origin.context.clone(),
    }
}

/// One outermost archive being read.
struct Run<'a> {
    sink: &'a dyn BlobSink,
    budget: &'a Budget,
    out: Vec<BlobFinding>,
}

impl Run<'_> {
    fn limits(&self) -> &ArchiveLimits {
        &self.budget.limits
    }

    /// Open the archive `data` (of `kind`) at nesting `depth` (1 for the outermost).
    fn open(&mut self, kind: Kind, data: &[u8], origin: &Origin, depth: usize) {
        match kind {
            Kind::Zip => self.zip(data, origin, depth),
            Kind::Tar => self.tar(TarReader::new(data), origin, depth),
            Kind::Gzip | Kind::Zstd => self.stream(kind, data, origin, depth),
        }
    }

    /// A member's data: opened when it is an archive and the depth allows, else handed to the sink.
    fn member(&mut self, data: &[u8], origin: &Origin, depth: usize) {
        if let Some(kind) = kind(data) {
            if depth < self.limits().max_depth {
                return self.open(kind, data, origin, depth + 1);
            }
            self.sink.warn(format!(
                "{}: nested archive not opened, depth limit {} reached (--max-archive-depth)",
                origin.path,
                self.limits().max_depth
            ));
        }
        let found = self.sink.find_in_blob(data, origin);
        self.out.extend(found);
    }

    fn zip(&mut self, data: &[u8], origin: &Origin, depth: usize) {
        let archive = &*origin.path;
        // Every entry has a central directory record with this signature: counting them (linear, no
        // allocation) bounds the entries before the zip reader allocates one record per entry.
        let room = self
            .limits()
            .max_entries
            .saturating_sub(self.budget.entries.get());
        let records = memchr::memmem::find_iter(data, b"PK\x01\x02")
            .take(
                usize::try_from(room)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            )
            .count() as u64;
        if records > room {
            self.budget.stop(format!(
                "more than {} entries (--max-archive-entries)",
                self.limits().max_entries
            ));
            return;
        }
        // The sniffed zip starts at offset 0: saying so spares the reader's search for an archive offset
        // (a scan of the data per end-of-directory candidate, quadratic on a crafted file).
        let config = zip::read::Config {
            archive_offset: zip::read::ArchiveOffset::Known(0),
        };
        let mut zip = match zip::ZipArchive::with_config(config, io::Cursor::new(data)) {
            Ok(z) => z,
            Err(e) => {
                self.sink.warn(format!(
                    "{archive}: not a readable zip archive ({e}); scanned as a plain file"
                ));
                let found = self.sink.find_in_blob(data, origin);
                self.out.extend(found);
                return;
            }
        };
        let max = self.limits().max_file_size;
        let mut notes = Notes::default();
        let mut buf = Vec::new();
        for i in 0..zip.len() {
            if !self.budget.entry() {
                break;
            }
            let name = zip.name_for_index(i).unwrap_or("?").to_string();
            let mut file = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    notes.unreadable(format!("{name:?}: {e}"));
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            if file.is_symlink() {
                notes.links += 1;
                continue;
            }
            if escapes(&name) {
                notes.outside(&name);
            }
            let inner = member_origin(origin, &name);
            if file.size() > max {
                self.sink.skipped_large(&inner.path, file.size(), max);
                continue;
            }
            buf.clear();
            let read = Metered {
                inner: &mut file,
                budget: self.budget,
            }
            .take(max + 1)
            .read_to_end(&mut buf);
            drop(file);
            if self.budget.stopped() {
                break;
            }
            match read {
                Err(e) => notes.unreadable(format!("{name:?}: {e}")),
                Ok(_) if buf.len() as u64 > max => self.sink.skipped_large_stream(&inner.path, max),
                Ok(_) => self.member(&buf, &inner, depth),
            }
            if self.budget.stopped() {
                break;
            }
        }
        notes.report(self.sink, archive);
    }

    fn tar<R: TarInput>(&mut self, mut tar: TarReader<R>, origin: &Origin, depth: usize) {
        let archive = &*origin.path;
        let max = self.limits().max_file_size;
        let mut notes = Notes::default();
        let mut buf = Vec::new();
        loop {
            let entry = match tar.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    if !self.budget.stopped() {
                        self.sink.warn(format!(
                            "{archive}: tar archive is truncated or corrupt ({e}); entries before that point were \
                             scanned"
                        ));
                    }
                    break;
                }
            };
            if !self.budget.entry() {
                break;
            }
            let kind = entry.kind;
            if matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link) {
                notes.links += 1;
                continue;
            }
            if !(kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse()) {
                continue;
            }
            if escapes(&entry.path) {
                notes.outside(&entry.path);
            }
            let inner = member_origin(origin, &entry.path);
            if entry.size > max {
                self.sink.skipped_large(&inner.path, entry.size, max);
                continue;
            }
            if let Err(e) = tar.read_data(max, &mut buf) {
                if !self.budget.stopped() {
                    self.sink.warn(format!(
                        "{archive}: tar archive is truncated or corrupt ({e}); entries before that point were \
                         scanned"
                    ));
                }
                break;
            }
            self.member(&buf, &inner, depth);
            if self.budget.stopped() {
                break;
            }
        }
        notes.report(self.sink, archive);
    }

    /// A gzip or zstd stream: a compressed tar is walked as it is decompressed; anything else is one member,
    /// named after the archive without its `.gz`/`.zst`.
    fn stream(&mut self, kind: Kind, data: &[u8], origin: &Origin, depth: usize) {
        let archive = &*origin.path;
        let decoder: Box<dyn Read + '_> = match kind {
            Kind::Zstd => match zstd::stream::read::Decoder::with_buffer(data) {
                Ok(d) => Box::new(d),
                Err(e) => {
                    self.sink
                        .warn(format!("{archive}: cannot read zstd data ({e})"));
                    return;
                }
            },
            _ => Box::new(flate2::read::MultiGzDecoder::new(data)),
        };
        let mut input = Metered {
            inner: decoder,
            budget: self.budget,
        };
        let mut head = Vec::with_capacity(512);
        if let Err(e) = (&mut input).take(512).read_to_end(&mut head) {
            if !self.budget.stopped() {
                self.sink
                    .warn(format!("{archive}: cannot decompress ({e}); not scanned"));
            }
            return;
        }
        if is_tar(&head) {
            let joined = Joined(io::Cursor::new(head).chain(input));
            return self.tar(TarReader::new(joined), origin, depth);
        }
        let inner = member_origin(origin, decompressed_name(archive));
        let max = self.limits().max_file_size;
        let mut whole = head;
        let read = (&mut input)
            .take((max + 1).saturating_sub(whole.len() as u64))
            .read_to_end(&mut whole);
        if self.budget.stopped() {
            return;
        }
        match read {
            Err(e) => self
                .sink
                .warn(format!("{archive}: cannot decompress ({e}); not scanned")),
            Ok(_) if whole.len() as u64 > max => self.sink.skipped_large_stream(&inner.path, max),
            Ok(_) => self.member(&whole, &inner, depth),
        }
    }
}

/// The name of the one member of a compressed file that is not a tar: the file's name without `.gz`, `.gzip`,
/// `.zst` or `.zstd` (`notes.txt.gz` → `notes.txt`), so decoders chosen by name still apply.
pub fn decompressed_name(path: &str) -> &str {
    let name = path.rsplit(['/', '!']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let inner = [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(name, |s| &name[..name.len() - s.len()]);
    if inner.is_empty() {
        "data"
    } else {
        inner
    }
}

/// The head of a decompressed stream (read to sniff it) and the rest, as one tar input.
struct Joined<R>(R);

impl<R: Read> Read for Joined<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> TarInput for Joined<R> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_leaving_the_extraction_folder_and_decompressed_names() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "\\\\host\\x",
            "C:\\x",
            "c:x",
        ] {
            assert!(escapes(bad), "{bad}");
        }
        for ok in ["a/b", "..a/b", "a..b", "1:x"] {
            assert!(!escapes(ok), "{ok}");
        }
        assert_eq!(decompressed_name("dir/notes.txt.gz"), "notes.txt");
        assert_eq!(decompressed_name("a.zip!x/data.JSON.ZST"), "data.JSON");
        assert_eq!(decompressed_name("blob"), "blob");
        assert_eq!(decompressed_name("x/.gz"), "data");
    }
}
