//! The embedded datastore: one SQLite file (`keysweep.db`) in the datastore folder, through `rusqlite` with
//! its bundled SQLite (no system package). Owns the connection (one, behind a mutex: writes are batched per
//! repository, so contention is low), its settings (WAL journal so a killed process loses at most the open
//! transaction, `synchronous = NORMAL`, a busy timeout for a second process), the folder's permissions
//! (0700: the store holds locations and previews) and migrations from `schema`. Statements are `schema`'s.
//! The work queue works here too, for workers on one machine (SQLite's single writer makes a claim atomic);
//! many machines share a PostgreSQL datastore instead.
use super::schema;
use super::{
    now, Datastore, FindingFilter, QueueCounts, RepoOutcome, RepoRecord, StoreStats, StoredFinding,
};
use anyhow::{bail, Context, Result};
use keysweep_model::finding::redact;
use keysweep_model::{Finding, Location, Triage};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The database file inside a datastore folder.
pub const FILE_NAME: &str = "keysweep.db";

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (creating if needed) the datastore in `dir`, migrating it to the current schema.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the datastore folder {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::symlink_metadata(dir)
                .with_context(|| format!("reading {}", dir.display()))?;
            if meta.file_type().is_symlink() {
                bail!("{}: the datastore folder is a symbolic link", dir.display());
            }
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join(FILE_NAME);
        let conn = Connection::open(&path)
            .with_context(|| format!("opening the datastore {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| anyhow::anyhow!("the datastore connection was poisoned by a panic"))
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn()?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: i64 = conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .unwrap_or(0);
        if version > schema::VERSION {
            bail!(
                "{}: datastore schema version {version} is newer than this keysweep's ({}); upgrade keysweep",
                self.path.display(),
                schema::VERSION
            );
        }
        for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(m)
                .with_context(|| format!("migrating the datastore to version {}", i + 1))?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                params![i as i64 + 1],
            )?;
            tx.commit()?;
        }
        Ok(())
    }
}

fn random_id() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(now().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(t.to_le_bytes());
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Datastore for SqliteStore {
    fn begin_run(&self, rules_version: &str, command: &str) -> Result<String> {
        let id = random_id();
        self.conn()?.execute(
            schema::INSERT_RUN,
            params![id, now(), rules_version, env!("CARGO_PKG_VERSION"), command],
        )?;
        Ok(id)
    }

    fn finish_run(&self, run: &str) -> Result<()> {
        self.conn()?
            .execute(schema::FINISH_RUN, params![now(), run])?;
        Ok(())
    }

    fn upsert_repository(&self, r: &RepoRecord) -> Result<()> {
        self.conn()?.execute(
            schema::UPSERT_REPOSITORY,
            params![
                r.id,
                r.clone_url,
                r.platform,
                r.fork as i64,
                r.archived as i64,
                r.updated_at
            ],
        )?;
        Ok(())
    }

    fn set_repository_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
        refs_digest: Option<&str>,
    ) -> Result<()> {
        self.conn()?.execute(
            schema::SET_REPOSITORY_STATUS,
            params![status, error, refs_digest, now(), id],
        )?;
        Ok(())
    }

    fn repositories(&self) -> Result<Vec<RepoRecord>> {
        let conn = self.conn()?;
        let mut st = conn.prepare(schema::SELECT_REPOSITORIES)?;
        let rows = st.query_map([], repo_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn scanned_blobs(&self, blob_ids: &[String], rules_version: &str) -> Result<Vec<Option<bool>>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(schema::SCANNED_BLOB)?;
        let mut out = Vec::with_capacity(blob_ids.len());
        for id in blob_ids {
            let seen = st
                .query_row(params![id, rules_version], |r| r.get::<_, i64>(0))
                .optional()?;
            out.push(seen.map(|f| f != 0));
        }
        Ok(out)
    }

    fn mark_scanned(&self, blobs: &[(String, bool)], rules_version: &str) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        mark_scanned_in(&tx, blobs, rules_version)?;
        tx.commit()?;
        Ok(())
    }

    fn record_findings(&self, run: &str, repository: &str, findings: &[Finding]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        record_findings_in(&tx, run, repository, findings)?;
        tx.commit()?;
        Ok(())
    }

    fn complete_repository(&self, o: &RepoOutcome<'_>) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        record_findings_in(&tx, o.run, o.repository, o.findings)?;
        mark_scanned_in(&tx, o.scanned, o.rules_version)?;
        tx.execute(
            schema::COMPLETE_REPOSITORY,
            params![
                o.status,
                o.error,
                o.refs_digest,
                now(),
                o.run,
                o.scanned.len() as i64,
                o.findings.len() as i64,
                o.repository
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn triage(&self, fingerprint: &str, status: &str, note: Option<&str>) -> Result<bool> {
        super::valid_status(status)?;
        let conn = self.conn()?;
        let exists = conn
            .query_row(schema::FINDING_EXISTS, params![fingerprint], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Ok(false);
        }
        conn.execute(
            schema::UPSERT_TRIAGE,
            params![fingerprint, status, note, now()],
        )?;
        Ok(true)
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>> {
        let conn = self.conn()?;
        let mut locations: HashMap<String, Vec<(String, Location)>> = HashMap::new();
        {
            let mut st = conn.prepare(schema::SELECT_LOCATIONS)?;
            let rows = st.query_map([], |r| {
                let meta: String = r.get(8)?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    [r.get::<_, i64>(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                    r.get::<_, String>(7)?,
                    meta,
                ))
            })?;
            for row in rows {
                let (fp, repo, path, [bs, be, line, col], source, meta) = row?;
                let meta = super::meta_of_column(&meta);
                let loc = Location {
                    source,
                    path: path.as_str().into(),
                    line: line.max(0) as u64,
                    column: col.max(0) as u64,
                    byte_start: bs.max(0) as u64,
                    byte_end: be.max(0) as u64,
                    ignored: false,
                    meta,
                };
                locations.entry(fp).or_default().push((repo, loc));
            }
        }
        let mut st = conn.prepare(schema::SELECT_FINDINGS)?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                [
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
                r.get::<_, f64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                fingerprint,
                [rule_id, rule_name, provider, category, confidence, preview],
                entropy,
                first_seen,
                status,
                note,
            ) = row?;
            if filter.status.as_ref().is_some_and(|s| *s != status) {
                continue;
            }
            let locs = locations.remove(&fingerprint).unwrap_or_default();
            if filter
                .repository
                .as_ref()
                .is_some_and(|r| !locs.iter().any(|(repo, _)| repo == r))
            {
                continue;
            }
            let (repositories, mut locations): (Vec<String>, Vec<Location>) =
                locs.into_iter().unzip();
            // Each location names its repository, so a report over the store reads like one scan's.
            for (l, r) in locations.iter_mut().zip(&repositories) {
                l.meta.repository = Some(r.clone());
            }
            out.push(StoredFinding {
                finding: Finding {
                    rule_id,
                    rule_name,
                    provider,
                    category,
                    confidence,
                    score: None,
                    fingerprint,
                    secret: preview,
                    redacted: true,
                    entropy,
                    locations,
                    verification: None,
                    description: None,
                    rotation_url: None,
                    triage: Some(Triage {
                        status: status.clone(),
                        note: note.clone(),
                    }),
                },
                repositories,
                status,
                note,
                first_seen,
            });
        }
        Ok(out)
    }

    fn stats(&self) -> Result<StoreStats> {
        let conn = self.conn()?;
        Ok(conn.query_row(schema::STATS, [], |r| {
            Ok(StoreStats {
                repositories: r.get::<_, i64>(0)? as u64,
                failed_repositories: r.get::<_, i64>(1)? as u64,
                runs: r.get::<_, i64>(2)? as u64,
                scanned_blobs: r.get::<_, i64>(3)? as u64,
                findings: r.get::<_, i64>(4)? as u64,
                locations: r.get::<_, i64>(5)? as u64,
            })
        })?)
    }

    fn describe(&self) -> String {
        self.path
            .parent()
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }

    fn enqueue(&self, ids: &[String]) -> Result<u64> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached(schema::ENQUEUE)?;
            for id in ids {
                n += st.execute(params![now(), id])? as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn claim(&self, owner: &str, lease_secs: u64) -> Result<Option<RepoRecord>> {
        let t = now();
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                &schema::claim(false),
                params![owner, t.saturating_add(lease_secs as i64), t],
                repo_row,
            )
            .optional()?)
    }

    fn heartbeat(&self, id: &str, owner: &str, lease_secs: u64) -> Result<bool> {
        let until = now().saturating_add(lease_secs as i64);
        Ok(self
            .conn()?
            .execute(schema::HEARTBEAT, params![until, id, owner])?
            == 1)
    }

    fn requeue(&self, id: &str, error: &str, not_before: i64) -> Result<()> {
        self.conn()?
            .execute(schema::REQUEUE, params![not_before, error, now(), id])?;
        Ok(())
    }

    fn queue_counts(&self) -> Result<QueueCounts> {
        Ok(self
            .conn()?
            .query_row(schema::QUEUE_COUNTS, params![now()], |r| {
                Ok(QueueCounts {
                    ready: r.get::<_, i64>(0)?.max(0) as u64,
                    waiting: r.get::<_, i64>(1)?.max(0) as u64,
                    running: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?)
    }
}

fn repo_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RepoRecord> {
    Ok(RepoRecord {
        id: r.get(0)?,
        clone_url: r.get(1)?,
        platform: r.get(2)?,
        fork: r.get::<_, i64>(3)? != 0,
        archived: r.get::<_, i64>(4)? != 0,
        status: r.get(5)?,
        error: r.get(6)?,
        refs_digest: r.get(7)?,
        updated_at: r.get(8)?,
        last_run: r.get(9)?,
        blobs_scanned: r.get::<_, i64>(10)?.max(0) as u64,
        findings: r.get::<_, i64>(11)?.max(0) as u64,
        attempts: r.get::<_, i64>(12)?.max(0) as u64,
    })
}

fn mark_scanned_in(
    tx: &rusqlite::Transaction<'_>,
    blobs: &[(String, bool)],
    rules_version: &str,
) -> Result<()> {
    let mut st = tx.prepare_cached(schema::MARK_SCANNED)?;
    for (id, had) in blobs {
        st.execute(params![id, rules_version, *had as i64])?;
    }
    Ok(())
}

fn record_findings_in(
    tx: &rusqlite::Transaction<'_>,
    run: &str,
    repository: &str,
    findings: &[Finding],
) -> Result<()> {
    let mut fst = tx.prepare_cached(schema::INSERT_FINDING)?;
    let mut lst = tx.prepare_cached(schema::INSERT_LOCATION)?;
    for f in findings {
        // Never the secret: a finding that is not yet redacted is redacted here.
        let preview = if f.redacted {
            f.secret.clone()
        } else {
            redact(&f.secret)
        };
        fst.execute(params![
            f.fingerprint,
            f.rule_id,
            f.rule_name,
            f.provider,
            f.category,
            f.confidence,
            preview,
            f.entropy,
            run,
            now()
        ])?;
        for l in &f.locations {
            let meta = l.meta_json();
            lst.execute(params![
                f.fingerprint,
                repository,
                super::blob_id_of(l),
                &*l.path,
                l.byte_start as i64,
                l.byte_end as i64,
                l.line as i64,
                l.column as i64,
                l.source,
                meta,
                run
            ])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_and_reopening_migrates_nothing_twice() {
        let tmp = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(tmp.path()).unwrap());
        drop(SqliteStore::open(tmp.path()).unwrap());
        let conn = Connection::open(tmp.path().join(FILE_NAME)).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, schema::VERSION);
        conn.execute("INSERT INTO schema_version (version) VALUES (99)", [])
            .unwrap();
        drop(conn);
        let e = SqliteStore::open(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("newer"), "{e}");
    }

    #[test]
    fn a_version_1_datastore_is_migrated_with_its_data() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(tmp.path().join(FILE_NAME)).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version (version) VALUES (1);
                 INSERT INTO scanned_blobs (blob_id, rules_version) VALUES ('b1', 'v1');
                 INSERT INTO repositories (id, clone_url, platform, status, updated_at)
                 VALUES ('h/o/a', 'https://h/o/a.git', 'github', 'done', 1);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.scanned_blobs(&["b1".to_string()], "v1").unwrap(),
            [Some(false)]
        );
        let repo = &store.repositories().unwrap()[0];
        assert_eq!((repo.status.as_str(), repo.blobs_scanned), ("done", 0));
    }
}
