//! The embedded datastore: one SQLite file (`keysweep.db`) in the datastore folder, through `rusqlite` with
//! its bundled SQLite (no system package). Owns the connection (one, behind a mutex: writes are batched per
//! repository, so contention is low), its settings (WAL journal so a killed process loses at most the open
//! transaction, `synchronous = NORMAL`, a busy timeout for a second process), the folder's permissions
//! (0700: the store holds locations and previews) and migrations from `schema`. Statements are `schema`'s.
use super::schema;
use super::{now, Datastore, FindingFilter, RepoRecord, StoreStats, StoredFinding};
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
        let rows = st.query_map([], |r| {
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
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn unscanned(&self, blob_ids: &[String], rules_version: &str) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached(schema::IS_SCANNED)?;
        let mut out = Vec::new();
        for id in blob_ids {
            let seen = st
                .query_row(params![id, rules_version], |_| Ok(()))
                .optional()?
                .is_some();
            if !seen {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    fn mark_scanned(&self, blob_ids: &[String], rules_version: &str) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached(schema::MARK_SCANNED)?;
            for id in blob_ids {
                st.execute(params![id, rules_version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn record_findings(&self, run: &str, repository: &str, findings: &[Finding]) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        {
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
                    let meta = serde_json::to_string(&l.meta)?;
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
        }
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
                let meta = serde_json::from_str(&meta).unwrap_or_default();
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
                l.meta
                    .insert("repository".into(), serde_json::Value::from(r.as_str()));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn finding(secret: &str, fp: &str, paths: &[(&str, &str)]) -> Finding {
        Finding {
            rule_id: "test.rule".into(),
            rule_name: "Test".into(),
            provider: "P".into(),
            category: "ai".into(),
            confidence: "high".into(),
            score: None,
            fingerprint: fp.into(),
            secret: secret.into(),
            redacted: false,
            entropy: 4.5,
            locations: paths
                .iter()
                .map(|(path, blob)| Location {
                    source: "git".into(),
                    path: (*path).into(),
                    line: 3,
                    column: 7,
                    byte_start: 40,
                    byte_end: 80,
                    ignored: false,
                    meta: [("blob".to_string(), Value::from(*blob))]
                        .into_iter()
                        .collect(),
                })
                .collect(),
            verification: None,
            description: None,
            rotation_url: None,
            triage: None,
        }
    }

    const SECRET: &str = "sk-test-0123456789abcdefghijklmnopqrstuv"; // keysweep:allow (synthetic)

    #[test]
    fn results_recorded_twice_are_stored_once_and_without_the_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let run = store.begin_run("rules-v1", "org a b").unwrap();
        let f = finding(SECRET, "fp1", &[("app.py", "b1"), ("cfg/.env", "b2")]);
        for _ in 0..2 {
            store
                .record_findings(&run, "github.com/o/a", std::slice::from_ref(&f))
                .unwrap();
        }
        // The same secret in a second repository: one finding, its locations in both.
        store
            .record_findings(
                &run,
                "github.com/o/fork",
                &[finding(SECRET, "fp1", &[("app.py", "b1")])],
            )
            .unwrap();
        store.finish_run(&run).unwrap();
        let st = store.stats().unwrap();
        assert_eq!((st.findings, st.locations, st.runs), (1, 3, 1));
        let all = store.findings(&FindingFilter::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].finding.secret, redact(SECRET));
        assert!(all[0].finding.redacted);
        assert_eq!(all[0].repositories.len(), 3);
        assert_eq!(all[0].status, "open");
        // No byte of the store (database and its write-ahead log) holds the secret.
        drop(store);
        for e in std::fs::read_dir(tmp.path()).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            assert!(memchr::memmem::find(&bytes, SECRET.as_bytes()).is_none());
        }
    }

    #[test]
    fn scanned_blobs_are_keyed_by_rules_version() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(store.unscanned(&ids, "v1").unwrap(), ids);
        store.mark_scanned(&ids[..2], "v1").unwrap();
        store.mark_scanned(&ids[..2], "v1").unwrap();
        assert_eq!(store.unscanned(&ids, "v1").unwrap(), vec!["c".to_string()]);
        assert_eq!(
            store.unscanned(&ids, "v2").unwrap(),
            ids,
            "a new rule set re-scans"
        );
        assert_eq!(store.stats().unwrap().scanned_blobs, 2);
    }

    #[test]
    fn triage_survives_re_recording_and_filters_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let run = store.begin_run("v1", "org").unwrap();
        store
            .record_findings(&run, "r1", &[finding(SECRET, "fp1", &[("a", "b1")])])
            .unwrap();
        store
            .record_findings(
                &run,
                "r2",
                &[finding(
                    "another-secret-value-123456",
                    "fp2",
                    &[("b", "b2")],
                )],
            )
            .unwrap();
        assert!(store
            .triage("fp1", "false-positive", Some("test fixture"))
            .unwrap());
        assert!(!store.triage("nope", "accepted", None).unwrap());
        assert!(store.triage("fp1", "bogus", None).is_err());
        let run2 = store.begin_run("v1", "org").unwrap();
        store
            .record_findings(&run2, "r1", &[finding(SECRET, "fp1", &[("a", "b1")])])
            .unwrap();
        let fp = store
            .findings(&FindingFilter {
                status: Some("false-positive".into()),
                repository: None,
            })
            .unwrap();
        assert_eq!(fp.len(), 1);
        assert_eq!(fp[0].note.as_deref(), Some("test fixture"));
        let r2 = store
            .findings(&FindingFilter {
                status: None,
                repository: Some("r2".into()),
            })
            .unwrap();
        assert_eq!(
            r2.iter()
                .map(|f| f.finding.fingerprint.as_str())
                .collect::<Vec<_>>(),
            ["fp2"]
        );
    }

    #[test]
    fn repositories_keep_their_outcome_across_listings() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        store
            .upsert_repository(&RepoRecord::pending("h/o/a", "https://h/o/a.git", "github"))
            .unwrap();
        store
            .set_repository_status("h/o/a", "failed", Some("git clone failed: not found"), None)
            .unwrap();
        let mut again = RepoRecord::pending("h/o/a", "https://h/o/a2.git", "github");
        again.fork = true;
        store.upsert_repository(&again).unwrap();
        let repos = store.repositories().unwrap();
        assert_eq!(repos.len(), 1);
        assert_eq!((repos[0].status.as_str(), repos[0].fork), ("failed", true));
        assert_eq!(repos[0].clone_url, "https://h/o/a2.git");
        assert_eq!(
            repos[0].error.as_deref(),
            Some("git clone failed: not found")
        );
        assert_eq!(store.stats().unwrap().failed_repositories, 1);
    }

    #[test]
    fn a_newer_schema_is_refused_and_reopening_migrates_nothing_twice() {
        let tmp = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(tmp.path()).unwrap());
        drop(SqliteStore::open(tmp.path()).unwrap());
        let conn = Connection::open(tmp.path().join(FILE_NAME)).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        conn.execute("INSERT INTO schema_version (version) VALUES (99)", [])
            .unwrap();
        drop(conn);
        let e = SqliteStore::open(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("newer"), "{e}");
    }
}
