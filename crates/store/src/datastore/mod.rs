//! The datastore of organisation sweeps: what every run learned, kept across runs and machines. Owns the
//! schema (one definition, `schema`, written in the SQL that SQLite and PostgreSQL share, with numbered
//! migrations), the record types, and the `Datastore` interface every backend implements: repositories and
//! their last outcome, runs, the blob ids scanned under each rules version (so a blob is scanned once across
//! all repositories and runs), findings keyed by fingerprint, their locations keyed by (fingerprint,
//! repository, blob, path, offset) so writing the same result twice is harmless, and triage status that
//! survives re-scans. Holds no plaintext secret: a finding keeps its fingerprint and the redacted preview
//! (`keysweep_model::finding::redact`); whoever needs the value re-reads the blob from the clone cache.
//! The same model is also a work queue (`enqueue`, `claim` under a lease, `heartbeat`, `requeue`) shared by
//! workers on many machines. Knows nothing of scanning, cloning or printing. The embedded default backend is
//! `sqlite`; `postgres` serves many machines; `open` picks one from the `--datastore` text.
use anyhow::Result;
use keysweep_model::{Finding, Location};
use serde::{Deserialize, Serialize};

pub mod postgres;
pub mod schema;
pub mod sqlite;

/// Whether a `--datastore` value names a PostgreSQL database (`postgres://…`, `postgresql://…`).
pub fn is_postgres_url(spec: &str) -> bool {
    let lower = spec.get(..13).unwrap_or(spec).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Open a datastore from its `--datastore` text: a PostgreSQL URL, else a folder (SQLite, created if
/// needed). Errors never show a password the URL holds.
pub fn open(spec: &str) -> Result<Box<dyn Datastore>> {
    if is_postgres_url(spec) {
        Ok(Box::new(postgres::PgStore::connect(spec)?))
    } else {
        Ok(Box::new(sqlite::SqliteStore::open(std::path::Path::new(
            spec,
        ))?))
    }
}

/// Open a datastore that must already exist (reading commands never create one): a folder must hold the
/// SQLite file; a PostgreSQL database must hold the schema.
pub fn open_existing(spec: &str) -> Result<Box<dyn Datastore>> {
    if !is_postgres_url(spec) && !std::path::Path::new(spec).join(sqlite::FILE_NAME).is_file() {
        anyhow::bail!("{spec}: no datastore here (run `keysweep org --datastore {spec}` first)");
    }
    open(spec)
}

/// Triage states of a finding.
pub const TRIAGE_STATUSES: &[&str] = &["open", "accepted", "false-positive", "revoked"];

/// A repository as the datastore knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRecord {
    /// Identity without credentials (`github.com/org/repo`).
    pub id: String,
    pub clone_url: String,
    /// `github`, `gitlab`, `huggingface`, `direct`.
    pub platform: String,
    pub fork: bool,
    pub archived: bool,
    /// `pending`, `done`, `failed`.
    pub status: String,
    /// The last run's error for this repository (never a token: messages are scrubbed before they get here).
    pub error: Option<String>,
    /// A digest of the refs last scanned (unchanged refs: nothing new to scan).
    pub refs_digest: Option<String>,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// The run that last scanned it.
    pub last_run: Option<String>,
    /// Blobs that scan read (the others were known from earlier scans of any repository).
    pub blobs_scanned: u64,
    /// Distinct findings that scan saw in it.
    pub findings: u64,
    /// Claims by workers since it was last queued (`claim`).
    pub attempts: u64,
}

impl RepoRecord {
    pub fn pending(id: &str, clone_url: &str, platform: &str) -> RepoRecord {
        RepoRecord {
            id: id.to_string(),
            clone_url: clone_url.to_string(),
            platform: platform.to_string(),
            fork: false,
            archived: false,
            status: "pending".into(),
            error: None,
            refs_digest: None,
            updated_at: now(),
            last_run: None,
            blobs_scanned: 0,
            findings: 0,
            attempts: 0,
        }
    }
}

/// Repository states.
pub const STATUS_PENDING: &str = "pending";
pub const STATUS_DONE: &str = "done";
pub const STATUS_FAILED: &str = "failed";
/// A repository with no refs: nothing to scan (not a failure).
pub const STATUS_EMPTY: &str = "empty";
/// In the work queue, waiting for a worker.
pub const STATUS_QUEUED: &str = "queued";
/// Claimed by a worker, under a lease.
pub const STATUS_RUNNING: &str = "running";

/// How much work the queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    /// Claimable now (queued, or running under an expired lease).
    pub ready: u64,
    /// Queued, waiting for their retry backoff.
    pub waiting: u64,
    /// Running under a live lease.
    pub running: u64,
}

/// What one repository's scan produced, written in one transaction (`Datastore::complete_repository`): a
/// process killed before it leaves the repository pending, never half-recorded.
#[derive(Debug, Clone, Copy)]
pub struct RepoOutcome<'a> {
    pub run: &'a str,
    pub repository: &'a str,
    pub rules_version: &'a str,
    /// Its findings (the secret is never written: previews only).
    pub findings: &'a [Finding],
    /// Blob ids the scan read, and whether each had findings.
    pub scanned: &'a [(String, bool)],
    /// `done`, `failed` (a partial scan: what was read is recorded) or `empty`.
    pub status: &'a str,
    pub error: Option<&'a str>,
    /// Refs digest to remember (`None` for a failed scan, so the next run scans again).
    pub refs_digest: Option<&'a str>,
}

/// A finding as stored: the report shape plus its triage and first sighting. `finding.secret` is the
/// redacted preview and `finding.redacted` is true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// Each location's repository, parallel to `finding.locations`.
    pub repositories: Vec<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Unix seconds when the finding was first recorded.
    pub first_seen: i64,
}

/// Which findings a report wants.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only this triage status.
    pub status: Option<String>,
    /// Only findings with a location in this repository.
    pub repository: Option<String>,
}

/// Counts of what a datastore holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub repositories: u64,
    pub failed_repositories: u64,
    pub runs: u64,
    pub scanned_blobs: u64,
    pub findings: u64,
    pub locations: u64,
}

/// What every backend offers. Writes are idempotent: recording the same finding, location or scanned blob
/// again changes nothing, so a repository finished twice (a killed worker's repository re-run) never
/// duplicates a result.
pub trait Datastore: Send + Sync {
    /// Start a run; returns its id.
    fn begin_run(&self, rules_version: &str, command: &str) -> Result<String>;
    fn finish_run(&self, run: &str) -> Result<()>;
    /// Insert a repository, or update its URL and listing facts (status, error and refs digest kept).
    fn upsert_repository(&self, repo: &RepoRecord) -> Result<()>;
    /// Record a repository's state without a scan (pending again, or failed before scanning). The refs
    /// digest is replaced (a failure clears it, so the next run scans).
    fn set_repository_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
        refs_digest: Option<&str>,
    ) -> Result<()>;
    fn repositories(&self) -> Result<Vec<RepoRecord>>;
    /// For each blob id, in order: `None` if it was never scanned under `rules_version`, else whether that
    /// scan found something in it.
    fn scanned_blobs(&self, blob_ids: &[String], rules_version: &str) -> Result<Vec<Option<bool>>>;
    /// Record blobs as scanned under `rules_version` (with whether each had findings).
    fn mark_scanned(&self, blobs: &[(String, bool)], rules_version: &str) -> Result<()>;
    /// Record findings seen in `repository` in `run` (previews only: the secret is never written).
    fn record_findings(&self, run: &str, repository: &str, findings: &[Finding]) -> Result<()>;
    /// Record a repository's scan: findings, locations, scanned blobs and its state, in one transaction.
    fn complete_repository(&self, outcome: &RepoOutcome<'_>) -> Result<()>;
    /// Set a finding's triage status and note; false when no such finding is stored.
    fn triage(&self, fingerprint: &str, status: &str, note: Option<&str>) -> Result<bool>;
    fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>>;
    fn stats(&self) -> Result<StoreStats>;
    /// Where the datastore is, for messages (a URL's password replaced by `***`).
    fn describe(&self) -> String;

    // The work queue.

    /// Queue these (already recorded) repositories for workers; returns how many were queued.
    fn enqueue(&self, ids: &[String]) -> Result<u64>;
    /// Claim the next repository for `owner` until `now + lease_secs`, counting the attempt; `None` when
    /// nothing is claimable now. The claim is committed before this returns: it is a lease, not a lock
    /// held by the connection.
    fn claim(&self, owner: &str, lease_secs: u64) -> Result<Option<RepoRecord>>;
    /// Extend `owner`'s lease on `id` to `now + lease_secs`; false when the lease was lost (expired and
    /// claimed by another worker, or the repository recorded).
    fn heartbeat(&self, id: &str, owner: &str, lease_secs: u64) -> Result<bool>;
    /// Put a repository back in the queue after a failed attempt, claimable from `not_before`.
    fn requeue(&self, id: &str, error: &str, not_before: i64) -> Result<()>;
    fn queue_counts(&self) -> Result<QueueCounts>;
}

/// A location's provenance from its `meta` column: the flat JSON object `Location::meta_json` writes (and
/// every earlier version wrote); unreadable text gives none.
pub fn meta_of_column(text: &str) -> keysweep_model::Meta {
    keysweep_model::Meta::from_map(serde_json::from_str(text).unwrap_or_default())
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A location's blob id: its content id (`Location::meta.blob`: the git object id, or the same id computed
/// for a file or image entry with findings), else a hash of source and path (a location that has none: a
/// commit message).
pub fn blob_id_of(loc: &Location) -> String {
    loc.meta.blob.map(|b| b.to_string()).unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(loc.source.as_bytes());
        h.update([0]);
        h.update(loc.path.as_bytes());
        let d = h.finalize();
        format!(
            "path:{}",
            d.iter()
                .take(10)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    })
}

/// Check a triage status.
pub fn valid_status(status: &str) -> Result<()> {
    if TRIAGE_STATUSES.contains(&status) {
        Ok(())
    } else {
        anyhow::bail!(
            "{status:?}: not a triage status (one of {})",
            TRIAGE_STATUSES.join(", ")
        )
    }
}
