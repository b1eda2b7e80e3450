//! One datastore test suite, run against every backend: the embedded SQLite store and a PostgreSQL server
//! the test starts itself (`common::pg`). Each case takes a fresh datastore and only the `Datastore`
//! interface, so both backends must behave the same: idempotent results, no plaintext secret on disk,
//! scanned blobs keyed by rules version (batched lookups included), outcomes in one step, triage across
//! re-recordings, and the work queue (claims under leases, expiry, heartbeats, retries).
use crate::common::pg::PgServer;
use keysweep_model::finding::redact;
use keysweep_model::{Finding, Location};
use keysweep_store::datastore::{
    self, Datastore, FindingFilter, QueueCounts, RepoOutcome, RepoRecord,
};
use serde_json::Value;
use std::path::Path;

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

/// Whether any file under `dir` holds `needle`.
fn any_file_holds(dir: &Path, needle: &[u8]) -> Option<String> {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(hit) = any_file_holds(&p, needle) {
                return Some(hit);
            }
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Some(p.display().to_string());
            }
        }
    }
    None
}

fn results_recorded_twice_are_stored_once(store: &dyn Datastore) {
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
    assert_eq!(
        all[0].finding.locations[0].meta.repository.as_deref(),
        Some("github.com/o/a")
    );
}

fn scanned_blobs_are_keyed_by_rules_version(store: &dyn Datastore) {
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(store.scanned_blobs(&ids, "v1").unwrap(), [None, None, None]);
    let marks = [("a".to_string(), false), ("b".to_string(), true)];
    store.mark_scanned(&marks, "v1").unwrap();
    // Marked again as clean (another repository's scan): a blob once seen with findings keeps the flag.
    store
        .mark_scanned(&[("b".to_string(), false)], "v1")
        .unwrap();
    assert_eq!(
        store.scanned_blobs(&ids, "v1").unwrap(),
        [Some(false), Some(true), None]
    );
    assert_eq!(
        store.scanned_blobs(&ids, "v2").unwrap(),
        [None, None, None],
        "a new rule set re-scans"
    );
    assert_eq!(store.stats().unwrap().scanned_blobs, 2);
    // A large batch, with a duplicate inside one mark, answered in order.
    let many: Vec<(String, bool)> = (0..25_000)
        .map(|i| (format!("{i:040x}"), i % 7 == 0))
        .chain([("0".repeat(40), true)])
        .collect();
    store.mark_scanned(&many, "v1").unwrap();
    let mut ask: Vec<String> = (0..25_000).rev().map(|i| format!("{i:040x}")).collect();
    ask.push("not-there".into());
    let got = store.scanned_blobs(&ask, "v1").unwrap();
    assert_eq!(got.len(), ask.len());
    assert_eq!(got[0], Some(24_999 % 7 == 0));
    assert_eq!(
        got[24_999],
        Some(true),
        "blob 0 was marked with findings once"
    );
    assert_eq!(got[25_000], None);
    assert_eq!(store.stats().unwrap().scanned_blobs, 2 + 25_000);
}

fn a_repository_is_completed_in_one_step(store: &dyn Datastore) {
    let run = store.begin_run("v1", "org").unwrap();
    store
        .upsert_repository(&RepoRecord::pending("h/o/a", "https://h/o/a.git", "github"))
        .unwrap();
    let f = finding(SECRET, "fp1", &[("a.env", "b1")]);
    let scanned = [("b1".to_string(), true), ("b2".to_string(), false)];
    let outcome = RepoOutcome {
        run: &run,
        repository: "h/o/a",
        rules_version: "v1",
        findings: std::slice::from_ref(&f),
        scanned: &scanned,
        status: "done",
        error: None,
        refs_digest: Some("d1"),
    };
    store.complete_repository(&outcome).unwrap();
    store.complete_repository(&outcome).unwrap();
    let repo = &store.repositories().unwrap()[0];
    assert_eq!(
        (repo.status.as_str(), repo.refs_digest.as_deref()),
        ("done", Some("d1"))
    );
    assert_eq!((repo.blobs_scanned, repo.findings), (2, 1));
    assert_eq!(repo.last_run.as_deref(), Some(run.as_str()));
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.findings, stats.locations, stats.scanned_blobs),
        (1, 1, 2)
    );
    // A failure clears the digest: the next run scans the repository again.
    store
        .set_repository_status("h/o/a", "failed", Some("fetch failed"), None)
        .unwrap();
    assert_eq!(store.repositories().unwrap()[0].refs_digest, None);
}

fn triage_survives_re_recording_and_filters_reports(store: &dyn Datastore) {
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

fn repositories_keep_their_outcome_across_listings(store: &dyn Datastore) {
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

fn the_queue_leases_each_repository_to_one_worker(store: &dyn Datastore) {
    for (id, fork) in [("r/a", false), ("r/b", true), ("r/c", false)] {
        let mut r = RepoRecord::pending(id, &format!("https://{id}.git"), "direct");
        r.fork = fork;
        store.upsert_repository(&r).unwrap();
    }
    assert_eq!(
        store.claim("w0", 60).unwrap(),
        None,
        "nothing is queued yet"
    );
    let ids: Vec<String> = ["r/a", "r/b", "r/c"].map(String::from).to_vec();
    assert_eq!(store.enqueue(&ids).unwrap(), 3);
    assert_eq!(
        store.queue_counts().unwrap(),
        QueueCounts {
            ready: 3,
            waiting: 0,
            running: 0
        }
    );
    // Parents first, each to one worker; a fork waits while a parent may still be running.
    let a = store.claim("w1", 60).unwrap().unwrap();
    let c = store.claim("w2", 60).unwrap().unwrap();
    assert_eq!((a.id.as_str(), c.id.as_str()), ("r/a", "r/c"));
    assert_eq!((a.status.as_str(), a.attempts), ("running", 1));
    assert_eq!(store.claim("w3", 60).unwrap(), None, "the fork waits");
    assert!(store.heartbeat("r/a", "w1", 60).unwrap());
    assert!(!store.heartbeat("r/a", "w2", 60).unwrap(), "not w2's lease");
    // A finished repository leaves the queue and its lease.
    let run = store.begin_run("v1", "worker").unwrap();
    store
        .complete_repository(&RepoOutcome {
            run: &run,
            repository: "r/a",
            rules_version: "v1",
            findings: &[],
            scanned: &[],
            status: "done",
            error: None,
            refs_digest: Some("d"),
        })
        .unwrap();
    assert!(
        !store.heartbeat("r/a", "w1", 60).unwrap(),
        "recorded: no lease"
    );
    // A failed attempt waits for its backoff (and no longer holds the fork back).
    store.requeue("r/c", "clone failed", i64::MAX / 2).unwrap();
    let b = store.claim("w3", 60).unwrap().unwrap();
    assert_eq!((b.id.as_str(), b.attempts), ("r/b", 1));
    assert_eq!(store.claim("w2", 60).unwrap(), None);
    // Its backoff over, it is claimable again with its error kept.
    store.requeue("r/c", "clone failed", 0).unwrap();
    let again = store.claim("w2", 60).unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("r/c", 2));
    assert_eq!(again.error.as_deref(), Some("clone failed"));
    // A lease that expires (its worker died) is claimed by another worker.
    assert!(store.heartbeat("r/b", "w3", 0).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let counts = store.queue_counts().unwrap();
    assert_eq!((counts.ready, counts.running), (1, 1), "{counts:?}");
    store
        .set_repository_status("r/c", "done", None, Some("d"))
        .unwrap();
    let stolen = store.claim("w5", 60).unwrap().unwrap();
    assert_eq!((stolen.id.as_str(), stolen.attempts), ("r/b", 2));
    assert!(
        !store.heartbeat("r/b", "w3", 60).unwrap(),
        "w3 lost its lease"
    );
    // Queued again: claimable again, attempts counted afresh; a running one is left to its worker.
    assert_eq!(store.enqueue(&ids).unwrap(), 2, "r/a and r/c: r/b runs");
    let a2 = store.claim("w6", 60).unwrap().unwrap();
    assert_eq!((a2.id.as_str(), a2.attempts), ("r/a", 1));
}

/// A case of the suite.
type Case = fn(&dyn Datastore);

/// Every case, each on a fresh datastore from `fresh`.
fn suite(fresh: &dyn Fn() -> Box<dyn Datastore>) {
    let cases: &[(&str, Case)] = &[
        (
            "results_recorded_twice",
            results_recorded_twice_are_stored_once,
        ),
        ("scanned_blobs", scanned_blobs_are_keyed_by_rules_version),
        (
            "completed_in_one_step",
            a_repository_is_completed_in_one_step,
        ),
        ("triage", triage_survives_re_recording_and_filters_reports),
        (
            "repositories",
            repositories_keep_their_outcome_across_listings,
        ),
        ("queue", the_queue_leases_each_repository_to_one_worker),
    ];
    for (name, case) in cases {
        eprintln!("datastore case {name}");
        let store = fresh();
        case(store.as_ref());
    }
}

#[test]
fn sqlite_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    suite(&|| {
        n.set(n.get() + 1);
        let dir = tmp.path().join(format!("d{}", n.get()));
        datastore::open(&dir.display().to_string()).unwrap()
    });
    // No byte of any store (database and its write-ahead log) holds the secret.
    assert_eq!(any_file_holds(tmp.path(), SECRET.as_bytes()), None);
}

#[test]
fn postgres_backend() {
    let server = PgServer::start();
    suite(&|| datastore::open(&server.fresh_database()).unwrap());
    // Flushed to disk, no file of the cluster holds the secret.
    server.psql("postgres", "CHECKPOINT");
    assert_eq!(any_file_holds(&server.data_dir(), SECRET.as_bytes()), None);
}

#[test]
fn postgres_schema_is_migrated_once_and_a_newer_one_refused() {
    let server = PgServer::start();
    let url = server.fresh_database();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    // Workers starting together migrate once.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| drop(datastore::open(&url).unwrap()));
        }
    });
    assert_eq!(
        server
            .psql(db, "SELECT COUNT(*), MAX(version) FROM schema_version")
            .trim(),
        format!(
            "{}|{}",
            keysweep_store::datastore::schema::VERSION,
            keysweep_store::datastore::schema::VERSION
        )
    );
    server.psql(db, "INSERT INTO schema_version (version) VALUES (99)");
    let e = datastore::open(&url).err().unwrap().to_string();
    assert!(e.contains("newer"), "{e}");
}

#[test]
fn postgres_connections_use_tls_when_the_url_asks_and_verify_the_server() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let server = PgServer::start_tls(&leaf.pem(), &leaf_key.serialize_pem());
    let tmp = tempfile::tempdir().unwrap();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let url = server
        .fresh_database()
        .replace("sslmode=disable", "sslmode=require");
    // Trusted through PGSSLROOTCERT: the report runs, over TLS.
    let mut child = crate::common::bin()
        .args(["report", "--format", "json", "--datastore", &url])
        .env("PGSSLROOTCERT", &ca_file)
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(0), "{child:?}");
    // The server takes TCP clients over TLS only: without TLS, the same database is refused.
    child = crate::common::bin()
        .args(["report", "--format", "json", "--datastore"])
        .arg(url.replace("sslmode=require", "sslmode=disable"))
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(2), "{child:?}");
    // An untrusted server certificate is refused, not silently accepted; the error shows the database, never
    // the URL's password (given here through KEYSWEEP_DATASTORE, as the deployment files do).
    let with_password = url.replace("keysweep@", "keysweep:Pw-never-shown-42@");
    child = crate::common::bin()
        .args(["report", "--format", "json"])
        .env("KEYSWEEP_DATASTORE", &with_password)
        .env_remove("PGSSLROOTCERT")
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(2), "{child:?}");
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(err.contains("keysweep:***@127.0.0.1"), "{err}");
    assert!(!err.contains("Pw-never-shown-42"), "{err}");
    // A server without TLS is refused when the URL requires it.
    let plain = PgServer::start();
    let plain_url = plain
        .fresh_database()
        .replace("sslmode=disable", "sslmode=require");
    child = crate::common::bin()
        .args(["report", "--format", "json", "--datastore", &plain_url])
        .output()
        .unwrap();
    assert_eq!(child.status.code(), Some(2), "{child:?}");
}
