//! The datastore schema, once, for every backend: numbered migrations in the SQL dialect SQLite (3.24+) and
//! PostgreSQL share (TEXT/BIGINT/DOUBLE PRECISION columns, composite primary keys, `ON CONFLICT`), and the
//! statements the backends run, with `$1…$n` parameters numbered in order of appearance (SQLite binds
//! `$N` names by first appearance, PostgreSQL by number, so one text serves both). Owns no connection.

/// The schema version the code writes; a datastore with a newer version is refused.
pub const VERSION: i64 = 2;

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
pub const SET_REPOSITORY_STATUS: &str =
    "UPDATE repositories SET status = $1, error = $2, refs_digest = $3, updated_at = $4 WHERE id = $5";
pub const COMPLETE_REPOSITORY: &str =
    "UPDATE repositories SET status = $1, error = $2, refs_digest = $3, updated_at = $4, last_run = $5, \
     blobs_scanned = $6, findings = $7 WHERE id = $8";
pub const SELECT_REPOSITORIES: &str =
    "SELECT id, clone_url, platform, fork, archived, status, error, refs_digest, updated_at, last_run, \
     blobs_scanned, findings FROM repositories ORDER BY id";
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
