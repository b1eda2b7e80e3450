//! The datastore schema, once, for every backend: numbered migrations in the SQL dialect SQLite (3.24+) and
//! PostgreSQL share (TEXT/BIGINT/DOUBLE PRECISION columns, composite primary keys, `ON CONFLICT`), and the
//! statements the backends run, with `$1…$n` parameters numbered in order of appearance (SQLite binds
//! `$N` names by first appearance, PostgreSQL by number, so one text serves both). Where the dialects truly
//! differ (row locks that skip locked rows, array parameters) the statement is built by one function with the
//! backend as its argument (`claim`), or a PostgreSQL-only batch form sits next to its portable row-by-row
//! form (`PG_*`). Owns no connection.

/// The schema version the code writes; a datastore with a newer version is refused.
pub const VERSION: i64 = 3;

/// Migrations: `MIGRATIONS[i]` takes a datastore from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE IF NOT EXISTS repositories (
        id TEXT PRIMARY KEY,
        clone_url TEXT NOT NULL,
        platform TEXT NOT NULL,
        fork BIGINT NOT NULL DEFAULT 0,
        archived BIGINT NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        refs_digest TEXT,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        rules_version TEXT NOT NULL,
        keysweep_version TEXT NOT NULL,
        command TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS scanned_blobs (
        blob_id TEXT NOT NULL,
        rules_version TEXT NOT NULL,
        PRIMARY KEY (blob_id, rules_version)
    );
    CREATE TABLE IF NOT EXISTS findings (
        fingerprint TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        rule_name TEXT NOT NULL,
        provider TEXT NOT NULL,
        category TEXT NOT NULL,
        confidence TEXT NOT NULL,
        preview TEXT NOT NULL,
        entropy DOUBLE PRECISION NOT NULL,
        first_run TEXT NOT NULL,
        first_seen BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS locations (
        fingerprint TEXT NOT NULL,
        repository TEXT NOT NULL,
        blob_id TEXT NOT NULL,
        path TEXT NOT NULL,
        byte_start BIGINT NOT NULL,
        byte_end BIGINT NOT NULL,
        line BIGINT NOT NULL,
        col BIGINT NOT NULL,
        source TEXT NOT NULL,
        meta TEXT NOT NULL,
        run TEXT NOT NULL,
        PRIMARY KEY (fingerprint, repository, blob_id, path, byte_start)
    );
    CREATE INDEX IF NOT EXISTS locations_by_repository ON locations (repository);
    CREATE TABLE IF NOT EXISTS triage (
        fingerprint TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        note TEXT,
        updated_at BIGINT NOT NULL
    );",
    // 2: whether a scanned blob had findings (a blob with findings is scanned again in every repository that
    // holds it, for that repository's locations), and what each repository's last scan covered.
    "ALTER TABLE scanned_blobs ADD COLUMN has_findings BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE repositories ADD COLUMN last_run TEXT;
    ALTER TABLE repositories ADD COLUMN blobs_scanned BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE repositories ADD COLUMN findings BIGINT NOT NULL DEFAULT 0;",
    // 3: the work queue of shared sweeps (`keysweep org --enqueue-only`, `keysweep worker`): a repository is
    // `queued` (claimable once `not_before` has passed), `running` under a lease (`lease_owner` until
    // `lease_until`, extended by the owner's heartbeat; an expired lease is claimable again), and `attempts`
    // counts its claims (a repository that keeps failing is parked as `failed` with its error).
    "ALTER TABLE repositories ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE repositories ADD COLUMN lease_owner TEXT;
    ALTER TABLE repositories ADD COLUMN lease_until BIGINT;
    ALTER TABLE repositories ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS repositories_by_status ON repositories (status, not_before);",
];

pub const INSERT_RUN: &str =
    "INSERT INTO runs (id, started_at, rules_version, keysweep_version, command) \
     VALUES ($1, $2, $3, $4, $5)";
pub const FINISH_RUN: &str = "UPDATE runs SET finished_at = $1 WHERE id = $2";
pub const UPSERT_REPOSITORY: &str =
    "INSERT INTO repositories (id, clone_url, platform, fork, archived, status, updated_at) \
     VALUES ($1, $2, $3, $4, $5, 'pending', $6) \
     ON CONFLICT (id) DO UPDATE SET clone_url = excluded.clone_url, platform = excluded.platform, \
     fork = excluded.fork, archived = excluded.archived";
/// A recorded state ends any lease on the repository.
pub const SET_REPOSITORY_STATUS: &str =
    "UPDATE repositories SET status = $1, error = $2, refs_digest = $3, updated_at = $4, \
     lease_owner = NULL, lease_until = NULL WHERE id = $5";
pub const COMPLETE_REPOSITORY: &str =
    "UPDATE repositories SET status = $1, error = $2, refs_digest = $3, updated_at = $4, last_run = $5, \
     blobs_scanned = $6, findings = $7, lease_owner = NULL, lease_until = NULL WHERE id = $8";
/// The columns of a `RepoRecord`, in its order.
const REPO_COLUMNS: &str = "id, clone_url, platform, fork, archived, status, error, refs_digest, \
     updated_at, last_run, blobs_scanned, findings, attempts";
pub const SELECT_REPOSITORIES: &str =
    "SELECT id, clone_url, platform, fork, archived, status, error, refs_digest, updated_at, last_run, \
     blobs_scanned, findings, attempts FROM repositories ORDER BY id";

// The work queue (migration 3).

/// Queue a repository: claimable at once, its attempts counted afresh. A repository running under a
/// lease is left to its worker.
pub const ENQUEUE: &str =
    "UPDATE repositories SET status = 'queued', attempts = 0, not_before = 0, \
     updated_at = $1 WHERE id = $2 AND status <> 'running'";
/// Claim the next repository: a queued one whose backoff has passed, or a running one whose lease expired.
/// A fork waits until no other repository is claimable or running (its parent's blobs are then recorded, and
/// only what the fork adds is read, on whichever machine). `$1` the owner, `$2` the lease's end, `$3` now.
/// PostgreSQL locks the chosen row and skips rows other workers are claiming (`FOR UPDATE SKIP LOCKED`);
/// SQLite has one writer at a time, so the statement is atomic as it stands.
pub fn claim(postgres: bool) -> String {
    format!(
        "UPDATE repositories SET status = 'running', lease_owner = $1, lease_until = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE id = (SELECT id FROM repositories \
         WHERE ((status = 'queued' AND not_before <= $3) OR (status = 'running' AND lease_until < $3)) \
         AND (fork = 0 OR NOT EXISTS (SELECT 1 FROM repositories p WHERE p.fork = 0 \
         AND ((p.status = 'queued' AND p.not_before <= $3) OR p.status = 'running'))) \
         ORDER BY fork, not_before, id LIMIT 1{}) RETURNING {REPO_COLUMNS}",
        if postgres { " FOR UPDATE SKIP LOCKED" } else { "" }
    )
}
/// Extend a lease: `$1` its new end, `$2` the repository, `$3` the owner. No row: the lease was lost.
pub const HEARTBEAT: &str = "UPDATE repositories SET lease_until = $1 \
     WHERE id = $2 AND lease_owner = $3 AND status = 'running'";
/// Put a repository back in the queue after a failed attempt, claimable from `$1`, with its error.
pub const REQUEUE: &str =
    "UPDATE repositories SET status = 'queued', not_before = $1, error = $2, \
     lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4";
/// `$1` now: repositories claimable now, waiting for their backoff, running under a live lease.
pub const QUEUE_COUNTS: &str = "SELECT \
     (SELECT COUNT(*) FROM repositories WHERE (status = 'queued' AND not_before <= $1) \
      OR (status = 'running' AND lease_until < $1)), \
     (SELECT COUNT(*) FROM repositories WHERE status = 'queued' AND not_before > $1), \
     (SELECT COUNT(*) FROM repositories WHERE status = 'running' AND lease_until >= $1)";
/// PostgreSQL: a batch of blob ids in one round trip (`$2` a text array).
pub const PG_SCANNED_BLOBS: &str = "SELECT blob_id, has_findings FROM scanned_blobs \
     WHERE rules_version = $1 AND blob_id = ANY($2)";
/// PostgreSQL: a batch of scanned blobs in one statement (ids unique within the batch).
pub const PG_MARK_SCANNED: &str =
    "INSERT INTO scanned_blobs (blob_id, rules_version, has_findings) \
     SELECT b, $1, f FROM UNNEST($2::text[], $3::bigint[]) AS t(b, f) \
     ON CONFLICT (blob_id, rules_version) DO UPDATE SET has_findings = \
     CASE WHEN excluded.has_findings > scanned_blobs.has_findings THEN excluded.has_findings \
     ELSE scanned_blobs.has_findings END";
pub const SCANNED_BLOB: &str =
    "SELECT has_findings FROM scanned_blobs WHERE blob_id = $1 AND rules_version = $2";
pub const MARK_SCANNED: &str =
    "INSERT INTO scanned_blobs (blob_id, rules_version, has_findings) VALUES ($1, $2, $3) \
     ON CONFLICT (blob_id, rules_version) DO UPDATE SET has_findings = \
     CASE WHEN excluded.has_findings > scanned_blobs.has_findings THEN excluded.has_findings \
     ELSE scanned_blobs.has_findings END";
pub const INSERT_FINDING: &str =
    "INSERT INTO findings (fingerprint, rule_id, rule_name, provider, \
     category, confidence, preview, entropy, first_run, first_seen) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
pub const INSERT_LOCATION: &str = "INSERT INTO locations (fingerprint, repository, blob_id, path, \
     byte_start, byte_end, line, col, source, meta, run) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
pub const UPSERT_TRIAGE: &str =
    "INSERT INTO triage (fingerprint, status, note, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (fingerprint) DO UPDATE SET status = excluded.status, note = excluded.note, \
     updated_at = excluded.updated_at";
pub const FINDING_EXISTS: &str = "SELECT 1 FROM findings WHERE fingerprint = $1";
pub const SELECT_FINDINGS: &str =
    "SELECT f.fingerprint, f.rule_id, f.rule_name, f.provider, f.category, \
     f.confidence, f.preview, f.entropy, f.first_seen, COALESCE(t.status, 'open'), t.note \
     FROM findings f LEFT JOIN triage t ON t.fingerprint = f.fingerprint ORDER BY f.fingerprint";
pub const SELECT_LOCATIONS: &str =
    "SELECT fingerprint, repository, path, byte_start, byte_end, line, \
     col, source, meta FROM locations ORDER BY fingerprint, repository, path, line, col, blob_id";
pub const STATS: &str = "SELECT \
     (SELECT COUNT(*) FROM repositories), \
     (SELECT COUNT(*) FROM repositories WHERE status = 'failed'), \
     (SELECT COUNT(*) FROM runs), \
     (SELECT COUNT(*) FROM scanned_blobs), \
     (SELECT COUNT(*) FROM findings), \
     (SELECT COUNT(*) FROM locations)";
