//! The shared datastore: one PostgreSQL database that workers on many machines sweep into, through the
//! synchronous `postgres` client (rust-postgres) with TLS by rustls (ring provider, the Mozilla roots of
//! `webpki-roots`, plus the PEM file named by `PGSSLROOTCERT` for a private CA). The URL's `sslmode` decides:
//! `disable`, `prefer` (the client's default: TLS when the server offers it) or `require`; any TLS connection
//! verifies the server's certificate. Owns the connections (a small pool: one per thread in use, opened on
//! demand, a broken one dropped), migrations from `schema` under an advisory lock (workers starting at once
//! migrate once), the batched forms of blob lookups and marks (`= ANY($1)`, `UNNEST`), and the scrubbing of
//! the URL's password from every message: errors name the database as `describe` shows it. Statements are
//! `schema`'s.
use super::schema;
use super::{
    now, Datastore, FindingFilter, QueueCounts, RepoOutcome, RepoRecord, StoreStats, StoredFinding,
};
use anyhow::{bail, Result};
use keysweep_model::finding::redact;
use keysweep_model::{Finding, Location, Triage};
use postgres::{Client, Config, GenericClient, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Key of the advisory lock migrations hold (any constant: "keys" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b65_7973;

pub struct PgStore {
    config: Config,
    tls: MakeRustlsConnect,
    /// The URL with its password replaced, for messages.
    display: String,
    /// Texts to scrub from messages: the password as written in the URL and as decoded.
    secrets: Vec<String>,
    idle: Mutex<Vec<Client>>,
}

/// `url` with any password (`user:PASSWORD@`, `password=` parameter) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                out = format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[scheme_end + 3 + at..]
                );
            }
        }
    }
    // A `password=` query parameter.
    let lower = out.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

/// The password texts a URL holds (as written, and percent-decoded).
fn passwords_in(url: &str, config: Option<&Config>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = config.and_then(|c| c.get_password()) {
        out.push(String::from_utf8_lossy(p).into_owned());
    }
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, pw)) = userinfo.split_once(':') {
                out.push(pw.to_string());
            }
        }
    }
    let lower = url.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = url[start..].find('&').map_or(url.len(), |e| start + e);
        out.push(url[start..end].to_string());
    }
    out.retain(|p| !p.is_empty());
    out.sort();
    out.dedup();
    // Longest first, so a password containing another is scrubbed whole.
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out
}

/// An error's message with its causes, each password replaced by `***`.
fn scrubbed(err: &dyn std::error::Error, secrets: &[String]) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    for p in secrets {
        msg = msg.replace(p.as_str(), "***");
    }
    msg
}

fn tls_config() -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os("PGSSLROOTCERT") {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let shown = std::path::Path::new(&path).display().to_string();
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| anyhow::anyhow!("PGSSLROOTCERT {shown}: {e}"))?;
        for c in certs {
            let c = c.map_err(|e| anyhow::anyhow!("PGSSLROOTCERT {shown}: {e}"))?;
            roots
                .add(c)
                .map_err(|e| anyhow::anyhow!("PGSSLROOTCERT {shown}: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl PgStore {
    /// Connect to the database `url` names (`postgres://user:password@host:port/db?sslmode=…`), migrating
    /// it to the current schema.
    pub fn connect(url: &str) -> Result<PgStore> {
        let display = redact_url(url);
        let early = passwords_in(url, None);
        let mut config: Config = url.parse().map_err(|e: postgres::Error| {
            anyhow::anyhow!("datastore {display}: {}", scrubbed(&e, &early))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(15));
        }
        if config.get_application_name().is_none() {
            config.application_name("keysweep");
        }
        let store = PgStore {
            secrets: passwords_in(url, Some(&config)),
            config,
            tls: MakeRustlsConnect::new(tls_config()?),
            display,
            idle: Mutex::new(Vec::new()),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, e: postgres::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "datastore {}: {}",
            self.display,
            scrubbed(&e, &self.secrets)
        )
    }

    /// Run `f` with a connection of the pool (opened if none is idle). A connection that broke is dropped.
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>) -> Result<T> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => self
                .config
                .connect(self.tls.clone())
                .map_err(|e| self.err(e))?,
        };
        let r = f(&mut client);
        if !client.is_closed() {
            if let Ok(mut v) = self.idle.lock() {
                v.push(client);
            }
        }
        r.map_err(|e| self.err(e))
    }

    fn migrate(&self) -> Result<()> {
        let version = self.with(|c| {
            let mut tx = c.transaction()?;
            // Workers starting together: one migrates, the others wait here and then find nothing to do.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
            )?;
            let version: Option<i64> = tx
                .query_one("SELECT MAX(version) FROM schema_version", &[])?
                .get(0);
            let version = version.unwrap_or(0);
            if version > schema::VERSION {
                return Ok(Err(version));
            }
            for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.batch_execute(m)?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&(i as i64 + 1)],
                )?;
            }
            tx.commit()?;
            Ok(Ok(version))
        })?;
        if let Err(v) = version {
            bail!(
                "datastore {}: schema version {v} is newer than this keysweep's ({}); upgrade keysweep",
                self.display,
                schema::VERSION
            );
        }
        Ok(())
    }
}

fn random_id() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(t.to_le_bytes());
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn repo_row(r: &Row) -> RepoRecord {
    RepoRecord {
        id: r.get(0),
        clone_url: r.get(1),
        platform: r.get(2),
        fork: r.get::<_, i64>(3) != 0,
        archived: r.get::<_, i64>(4) != 0,
        status: r.get(5),
        error: r.get(6),
        refs_digest: r.get(7),
        updated_at: r.get(8),
        last_run: r.get(9),
        blobs_scanned: r.get::<_, i64>(10).max(0) as u64,
        findings: r.get::<_, i64>(11).max(0) as u64,
        attempts: r.get::<_, i64>(12).max(0) as u64,
    }
}

fn count(r: &Row, i: usize) -> u64 {
    r.get::<_, i64>(i).max(0) as u64
}

/// Blobs marked in one statement, each id once (the strongest "had findings" of its duplicates).
fn mark_scanned_in(
    c: &mut impl GenericClient,
    blobs: &[(String, bool)],
    rules_version: &str,
) -> Result<(), postgres::Error> {
    let mut unique: HashMap<&str, bool> = HashMap::with_capacity(blobs.len());
    for (id, had) in blobs {
        *unique.entry(id.as_str()).or_insert(false) |= *had;
    }
    let mut ids: Vec<&str> = unique.keys().copied().collect();
    ids.sort_unstable();
    for chunk in ids.chunks(10_000) {
        let flags: Vec<i64> = chunk.iter().map(|id| unique[id] as i64).collect();
        c.execute(schema::PG_MARK_SCANNED, &[&rules_version, &chunk, &flags])?;
    }
    Ok(())
}

fn record_findings_in(
    c: &mut impl GenericClient,
    run: &str,
    repository: &str,
    findings: &[Finding],
) -> Result<(), postgres::Error> {
    if findings.is_empty() {
        return Ok(());
    }
    let fst = c.prepare(schema::INSERT_FINDING)?;
    let lst = c.prepare(schema::INSERT_LOCATION)?;
    for f in findings {
        // Never the secret: a finding that is not yet redacted is redacted here.
        let preview = if f.redacted {
            f.secret.clone()
        } else {
            redact(&f.secret)
        };
        c.execute(
            &fst,
            &[
                &f.fingerprint,
                &f.rule_id,
                &f.rule_name,
                &f.provider,
                &f.category,
                &f.confidence,
                &preview,
                &f.entropy,
                &run,
                &now(),
            ],
        )?;
        for l in &f.locations {
            let meta = l.meta_json();
            c.execute(
                &lst,
                &[
                    &f.fingerprint,
                    &repository,
                    &super::blob_id_of(l),
                    &&*l.path,
                    &(l.byte_start as i64),
                    &(l.byte_end as i64),
                    &(l.line as i64),
                    &(l.column as i64),
                    &l.source,
                    &meta,
                    &run,
                ],
            )?;
        }
    }
    Ok(())
}

impl Datastore for PgStore {
    fn begin_run(&self, rules_version: &str, command: &str) -> Result<String> {
        let id = random_id();
        self.with(|c| {
            c.execute(
                schema::INSERT_RUN,
                &[
                    &id,
                    &now(),
                    &rules_version,
                    &env!("CARGO_PKG_VERSION"),
                    &command,
                ],
            )
        })?;
        Ok(id)
    }

    fn finish_run(&self, run: &str) -> Result<()> {
        self.with(|c| c.execute(schema::FINISH_RUN, &[&now(), &run]))?;
        Ok(())
    }

    fn upsert_repository(&self, r: &RepoRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                schema::UPSERT_REPOSITORY,
                &[
                    &r.id,
                    &r.clone_url,
                    &r.platform,
                    &(r.fork as i64),
                    &(r.archived as i64),
                    &r.updated_at,
                ],
            )
        })?;
        Ok(())
    }

    fn set_repository_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
        refs_digest: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                schema::SET_REPOSITORY_STATUS,
                &[&status, &error, &refs_digest, &now(), &id],
            )
        })?;
        Ok(())
    }

    fn repositories(&self) -> Result<Vec<RepoRecord>> {
        let rows = self.with(|c| c.query(schema::SELECT_REPOSITORIES, &[]))?;
        Ok(rows.iter().map(repo_row).collect())
    }

    fn scanned_blobs(&self, blob_ids: &[String], rules_version: &str) -> Result<Vec<Option<bool>>> {
        let mut known: HashMap<String, bool> = HashMap::new();
        for chunk in blob_ids.chunks(10_000) {
            let rows =
                self.with(|c| c.query(schema::PG_SCANNED_BLOBS, &[&rules_version, &chunk]))?;
            for r in rows {
                known.insert(r.get(0), r.get::<_, i64>(1) != 0);
            }
        }
        Ok(blob_ids.iter().map(|id| known.get(id).copied()).collect())
    }

    fn mark_scanned(&self, blobs: &[(String, bool)], rules_version: &str) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            mark_scanned_in(&mut tx, blobs, rules_version)?;
            tx.commit()
        })
    }

    fn record_findings(&self, run: &str, repository: &str, findings: &[Finding]) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            record_findings_in(&mut tx, run, repository, findings)?;
            tx.commit()
        })
    }

    fn complete_repository(&self, o: &RepoOutcome<'_>) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            record_findings_in(&mut tx, o.run, o.repository, o.findings)?;
            mark_scanned_in(&mut tx, o.scanned, o.rules_version)?;
            tx.execute(
                schema::COMPLETE_REPOSITORY,
                &[
                    &o.status,
                    &o.error,
                    &o.refs_digest,
                    &now(),
                    &o.run,
                    &(o.scanned.len() as i64),
                    &(o.findings.len() as i64),
                    &o.repository,
                ],
            )?;
            tx.commit()
        })
    }

    fn triage(&self, fingerprint: &str, status: &str, note: Option<&str>) -> Result<bool> {
        super::valid_status(status)?;
        self.with(|c| {
            if c.query_opt(schema::FINDING_EXISTS, &[&fingerprint])?
                .is_none()
            {
                return Ok(false);
            }
            c.execute(
                schema::UPSERT_TRIAGE,
                &[&fingerprint, &status, &note, &now()],
            )?;
            Ok(true)
        })
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>> {
        let (location_rows, finding_rows) = self.with(|c| {
            let mut tx = c.build_transaction().read_only(true).start()?;
            let l = tx.query(schema::SELECT_LOCATIONS, &[])?;
            let f = tx.query(schema::SELECT_FINDINGS, &[])?;
            tx.commit()?;
            Ok((l, f))
        })?;
        let mut locations: HashMap<String, Vec<(String, Location)>> = HashMap::new();
        for r in &location_rows {
            let meta: String = r.get(8);
            let loc = Location {
                source: r.get(7),
                path: r.get::<_, &str>(2).into(),
                line: r.get::<_, i64>(5).max(0) as u64,
                column: r.get::<_, i64>(6).max(0) as u64,
                byte_start: r.get::<_, i64>(3).max(0) as u64,
                byte_end: r.get::<_, i64>(4).max(0) as u64,
                ignored: false,
                meta: super::meta_of_column(&meta),
            };
            locations.entry(r.get(0)).or_default().push((r.get(1), loc));
        }
        let mut out = Vec::new();
        for r in &finding_rows {
            let fingerprint: String = r.get(0);
            let status: String = r.get(9);
            let note: Option<String> = r.get(10);
            if filter.status.as_ref().is_some_and(|s| *s != status) {
                continue;
            }
            let locs = locations.remove(&fingerprint).unwrap_or_default();
            if filter
                .repository
                .as_ref()
                .is_some_and(|want| !locs.iter().any(|(repo, _)| repo == want))
            {
                continue;
            }
            let (repositories, mut locs): (Vec<String>, Vec<Location>) = locs.into_iter().unzip();
            for (l, repo) in locs.iter_mut().zip(&repositories) {
                l.meta.repository = Some(repo.clone());
            }
            out.push(StoredFinding {
                finding: Finding {
                    rule_id: r.get(1),
                    rule_name: r.get(2),
                    provider: r.get(3),
                    category: r.get(4),
                    confidence: r.get(5),
                    score: None,
                    fingerprint,
                    secret: r.get(6),
                    redacted: true,
                    entropy: r.get(7),
                    locations: locs,
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
                first_seen: r.get(8),
            });
        }
        Ok(out)
    }

    fn stats(&self) -> Result<StoreStats> {
        let r = self.with(|c| c.query_one(schema::STATS, &[]))?;
        Ok(StoreStats {
            repositories: count(&r, 0),
            failed_repositories: count(&r, 1),
            runs: count(&r, 2),
            scanned_blobs: count(&r, 3),
            findings: count(&r, 4),
            locations: count(&r, 5),
        })
    }

    fn describe(&self) -> String {
        self.display.clone()
    }

    fn enqueue(&self, ids: &[String]) -> Result<u64> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let st = tx.prepare(schema::ENQUEUE)?;
            let mut n = 0;
            for id in ids {
                n += tx.execute(&st, &[&now(), id])?;
            }
            tx.commit()?;
            Ok(n)
        })
    }

    fn claim(&self, owner: &str, lease_secs: u64) -> Result<Option<RepoRecord>> {
        let t = now();
        let until = t.saturating_add(lease_secs as i64);
        // One statement, committed on return (autocommit): the lease outlives this connection.
        let row = self.with(|c| c.query_opt(&schema::claim(true), &[&owner, &until, &t]))?;
        Ok(row.as_ref().map(repo_row))
    }

    fn heartbeat(&self, id: &str, owner: &str, lease_secs: u64) -> Result<bool> {
        let until = now().saturating_add(lease_secs as i64);
        Ok(self.with(|c| c.execute(schema::HEARTBEAT, &[&until, &id, &owner]))? == 1)
    }

    fn requeue(&self, id: &str, error: &str, not_before: i64) -> Result<()> {
        self.with(|c| c.execute(schema::REQUEUE, &[&not_before, &error, &now(), &id]))?;
        Ok(())
    }

    fn queue_counts(&self) -> Result<QueueCounts> {
        let r = self.with(|c| c.query_one(schema::QUEUE_COUNTS, &[&now()]))?;
        Ok(QueueCounts {
            ready: count(&r, 0),
            waiting: count(&r, 1),
            running: count(&r, 2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        let url = "postgres://keysweep:s3cr%40t-pw@db.internal:5432/sweeps?sslmode=require"; // keysweep:allow (synthetic)
        let shown = redact_url(url);
        assert_eq!(
            shown,
            "postgres://keysweep:***@db.internal:5432/sweeps?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u@h/db?password=hunter2&sslmode=disable"),
            "postgresql://u@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        // A refused connection (nothing listens on port 1) names the database without its password.
        let e = PgStore::connect(
            "postgres://keysweep:s3cr%40t-pw@127.0.0.1:1/sweeps?connect_timeout=2", // keysweep:allow (synthetic)
        )
        .err()
        .expect("nothing listens on port 1");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("postgres://keysweep:***@127.0.0.1:1/sweeps"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr"), "{msg}");
        // A URL the client cannot parse: the message still holds no password.
        let e = PgStore::connect("postgres://u:hunter2@h/db?bogus_option=1")
            .err()
            .expect("an unknown option is refused");
        assert!(!format!("{e:#}").contains("hunter2"), "{e:#}");
    }
}
