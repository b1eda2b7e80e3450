//! Many machines, proven on one: 40 repositories served by a real `git daemon`, queued in a real PostgreSQL
//! server the test starts (`common::pg`) by `keysweep org --enqueue-only`, swept by 4 `keysweep worker`
//! processes (each with its own clone cache, as on separate machines), one of them killed with SIGKILL while
//! it holds a repository. At the end every repository is done; the findings (fingerprint, repository, path,
//! line) equal those of a single-machine SQLite `keysweep org` run over the same repositories exactly; every
//! repository was claimed once, except the ones the killed worker held (claimed twice: its lease expired
//! and another worker swept it); and the blobs the workers read add up to the blobs recorded, so no blob was
//! read twice by workers that finished their repository.
use crate::common::gitd::daemon;
use crate::common::pg::PgServer;
use crate::common::{bin, ghp, rules_dir};
use crate::org::generated;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// (fingerprint, repository, path, line) of every location in a JSON report.
fn places(report: &serde_json::Value) -> BTreeSet<(String, String, String, u64)> {
    let mut out = BTreeSet::new();
    for f in report["findings"].as_array().expect("findings") {
        for l in f["locations"].as_array().unwrap() {
            out.insert((
                f["fingerprint"].as_str().unwrap().to_string(),
                l["repository"].as_str().unwrap_or_default().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
            ));
        }
    }
    out
}

fn report(cwd: &Path, datastore: &str) -> serde_json::Value {
    let o = bin()
        .current_dir(cwd)
        .args(["report", "--format", "json", "--datastore", datastore])
        .output()
        .expect("run keysweep report");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("report json: {e}: {o:?}"))
}

/// The blobs a worker's log says it read in the repositories it finished.
fn blobs_read(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split(": done: ").nth(1))
        .map(|rest| {
            rest.split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .expect("blob count")
        })
        .sum()
}

#[test]
fn four_workers_one_killed_sweep_forty_repositories_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let n = 40;
    for i in 0..n {
        let key = ghp(500 + i as u64);
        generated(&base.join(format!("r{i:02}.git")), i, 400, &key);
    }
    let (_daemon, port) = daemon(&base);
    let list = tmp.path().join("repos.txt");
    let urls: String = (0..n)
        .map(|i| format!("git://127.0.0.1:{port}/r{i:02}.git\n"))
        .collect();
    std::fs::write(&list, urls).unwrap();
    let rules = rules_dir(tmp.path());
    let rules = rules.to_str().unwrap();
    let list = list.to_str().unwrap();

    // The reference: one machine, SQLite.
    let sqlite = tmp.path().join("single").display().to_string();
    let o = bin()
        .current_dir(tmp.path())
        .args(["org", "--repos-file", list, "--datastore", &sqlite])
        .args([
            "--rules",
            rules,
            "--no-builtin-rules",
            "--summary-only",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let expected = places(&report(tmp.path(), &sqlite));
    assert_eq!(expected.len(), n, "one key per repository");

    // Many machines: PostgreSQL, a queue, 4 workers.
    let server = PgServer::start();
    let url = server.fresh_database();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "org",
            "--repos-file",
            list,
            "--datastore",
            &url,
            "--enqueue-only",
        ])
        .args(["--rules", rules, "--no-builtin-rules"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        server
            .psql(
                db,
                "SELECT status, COUNT(*) FROM repositories GROUP BY status"
            )
            .trim(),
        format!("queued|{n}")
    );
    let spawn = |k: usize| -> Child {
        let log = std::fs::File::create(tmp.path().join(format!("worker{k}.log"))).unwrap();
        bin()
            .current_dir(tmp.path())
            .args(["worker", "--datastore", &url, "-j", "1"])
            .args(["--lease", "3", "--poll-interval", "1", "--clone-cache"])
            .arg(tmp.path().join(format!("cache{k}")))
            .args(["--rules", rules, "--no-builtin-rules"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    };
    let mut workers: Vec<Child> = (0..4).map(spawn).collect();
    // Kill worker 0 while it holds a repository.
    let victim = format!(":{}:", workers[0].id());
    let held = |pattern: &str| {
        server.psql(
            db,
            &format!(
                "SELECT id FROM repositories WHERE status = 'running' AND lease_owner LIKE '%{pattern}%' ORDER BY id"
            ),
        )
    };
    let started = Instant::now();
    while held(&victim).trim().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "worker 0 never held a repository"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    workers[0].kill().unwrap(); // SIGKILL
    workers[0].wait().unwrap();
    let orphaned: BTreeSet<String> = held(&victim).lines().map(str::to_string).collect();
    assert!(!orphaned.is_empty(), "the killed worker held no repository");
    for (k, w) in workers.iter_mut().enumerate().skip(1) {
        let status = w.wait().unwrap();
        let log = std::fs::read_to_string(tmp.path().join(format!("worker{k}.log"))).unwrap();
        assert_eq!(status.code(), Some(0), "worker {k}: {log}");
    }

    // Every repository done, claimed once, except the killed worker's (claimed again after its lease).
    let rows = server.psql(
        db,
        "SELECT id, status, attempts FROM repositories ORDER BY id",
    );
    assert_eq!(rows.lines().count(), n);
    for row in rows.lines() {
        let cols: Vec<&str> = row.split('|').collect();
        let want = if orphaned.contains(cols[0]) { "2" } else { "1" };
        assert_eq!((cols[1], cols[2]), ("done", want), "{row}");
    }
    // The same findings, exactly, as the single machine's.
    assert_eq!(places(&report(tmp.path(), &url)), expected);
    // Blobs read by the repositories' finishing workers add up to the blobs recorded: none read twice.
    let read: u64 = (0..4)
        .map(|k| {
            blobs_read(&std::fs::read_to_string(tmp.path().join(format!("worker{k}.log"))).unwrap())
        })
        .sum();
    let recorded: u64 = server
        .psql(db, "SELECT COUNT(*) FROM scanned_blobs")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(read, recorded);
    assert_eq!(recorded, (n * 400) as u64, "every commit adds one blob");
}
