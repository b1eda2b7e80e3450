//! Where sources put what they read. A source walks its input (a tree, a history, an image) and hands each
//! blob to a `BlobSink`; it reports what it could not read through `Diagnostics`. The single-run CLI's sink
//! is the scanner (`keysweep_detect::Scanner`); a bulk run's sink can be a datastore writer; a test's sink
//! can collect. Sinks are called from many threads at once, so they are `Sync`. `set_blob_id` gives the
//! findings of a blob its content id, hashing the blob only when it has findings.
use crate::finding::Location;
use crate::origin::Origin;
use crate::provenance::BlobId;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one scan.
#[derive(Debug, Default)]
pub struct Stats {
    pub blobs: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped_binary: AtomicU64,
    pub skipped_large: AtomicU64,
    pub suppressed: AtomicU64,
    pub errors: AtomicU64,
    /// Files the operating system would not let the scan read (permission denied, vanished, I/O errors).
    pub unreadable: AtomicU64,
}

/// A plain copy of `Stats` for reports.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StatsSnapshot {
    pub blobs: u64,
    pub bytes: u64,
    pub skipped_binary: u64,
    pub skipped_large: u64,
    pub suppressed: u64,
    pub errors: u64,
    /// Files that could not be read (each named in a warning). A run with any is incomplete.
    #[serde(default)]
    pub unreadable: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            blobs: self.blobs.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            skipped_binary: self.skipped_binary.load(Relaxed),
            skipped_large: self.skipped_large.load(Relaxed),
            suppressed: self.suppressed.load(Relaxed),
            errors: self.errors.load(Relaxed),
            unreadable: self.unreadable.load(Relaxed),
        }
    }
}

/// A checked match in one blob, before aggregation into a `Finding`. `rule` indexes the sink's rule set.
#[derive(Debug, Clone)]
pub struct BlobFinding {
    pub rule: usize,
    pub secret: Vec<u8>,
    pub entropy: f64,
    /// The generic classifier's score, for the rules it judges.
    pub score: Option<f64>,
    pub location: Location,
}

/// Warnings and counters of a run: what sources (and the plumbing under them) report besides blobs.
pub trait Diagnostics: Sync {
    /// Record a warning (shown on stderr and in reports). Must never contain a secret.
    fn warn(&self, msg: String);
    /// Record an error about one input: a warning that also counts towards the error total.
    fn error(&self, msg: String);
    /// The run's counters (a source counts the blobs it skipped as too large here).
    fn stats(&self) -> &Stats;
    /// Count and report a blob skipped because it is over the `--max-file-size` limit (the one wording every
    /// source uses). `what` names the blob: a path, with the source's detail.
    fn skipped_large(&self, what: &str, size: u64, limit: u64) {
        self.stats().skipped_large.fetch_add(1, Relaxed);
        self.warn(format!(
            "{what}: skipped, {size} bytes is over the --max-file-size limit of {limit}"
        ));
    }
    /// Count and report a file the operating system would not let the scan read (the one wording every
    /// source uses): a warning naming it, counted in the summary; the run goes on, but it is incomplete
    /// (the command line exits 2 when it finds nothing else).
    fn unreadable(&self, what: &str, err: &std::io::Error) {
        self.stats().unreadable.fetch_add(1, Relaxed);
        self.warn(format!(
            "{what}: skipped, cannot be read ({})",
            crate::fsutil::io_reason(err)
        ));
    }
    /// The same for a stream read only up to one byte past the limit (standard input): its size is not
    /// known, only that it is over.
    fn skipped_large_stream(&self, what: &str, limit: u64) {
        self.stats().skipped_large.fetch_add(1, Relaxed);
        self.warn(format!(
            "{what}: skipped, more than {limit} bytes is over the --max-file-size limit of {limit}"
        ));
    }
}

/// What a source hands its blobs to.
///
/// Most sources call `scan_blob`: the blob's provenance is final. A source whose rich provenance is costly
/// (git history: commit metadata, the refs reaching a commit, presence in HEAD) or only known later (an image
/// layer shared by several images) calls `find_in_blob`, keeps the few blobs that had findings, completes
/// their locations' provenance, then hands them to `collect`.
pub trait BlobSink: Diagnostics {
    /// Scan one blob and return its findings without collecting them.
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding>;
    /// Add blob findings (provenance complete) to the run's findings.
    fn collect(&self, found: Vec<BlobFinding>);
    /// Scan one blob whose provenance is final and collect its findings (their locations get the blob's
    /// content id: `set_blob_id`).
    fn scan_blob(&self, data: &[u8], origin: &Origin) {
        let mut found = self.find_in_blob(data, origin);
        set_blob_id(data, &mut found);
        self.collect(found);
    }
}

/// Give the locations of `found` that have no content id yet the id of `data`, the blob they were found in.
/// Hashed only when there is a finding: most blobs have none, and a tree scan never hashes them.
pub fn set_blob_id(data: &[u8], found: &mut [BlobFinding]) {
    let mut id = None;
    for f in found.iter_mut().filter(|f| f.location.meta.blob.is_none()) {
        f.location.meta.blob = Some(*id.get_or_insert_with(|| BlobId::of_content(data)));
    }
}
