//! `keysweep org` end to end, with real parts: repositories served by a real `git daemon` on loopback, a
//! GitHub organisation listed by a loopback server speaking GitHub's JSON, `Link` pagination over three pages
//! and a rate-limit answer (reached through `--github-api-url`, as a GitHub Enterprise user would), and the
//! SQLite datastore read back through `keysweep report`. Cases: a fork sharing its parent's history (the
//! shared blobs are read once), one secret in two repositories (one finding, every location), an empty
//! repository, a corrupt one and an unreachable host among good ones (recorded, the sweep goes on, exit 5), a
//! re-run with nothing new (nothing read), a re-run after a push (only the new blobs read), triage surviving a
//! re-scan, tokens never written anywhere, and `kill -9` in the middle of a sweep followed by a resume that
//! neither loses nor duplicates a finding.
use crate::common::gitd::daemon;
use crate::common::http::{answer, ok, serve_with_git};
use crate::common::{bare_repo as served, bin, commit_files as commit, ghp, git, rules_dir};
use keysweep_store::datastore::sqlite::SqliteStore;
use keysweep_store::datastore::{Datastore, RepoRecord};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const API_TOKEN: &str = "tok_org_sweep_test_value_0123456789";

/// A served fork of the bare repository `parent`: a bare clone at `bare` holding the parent's whole history,
/// plus one commit of its own (made in the work tree `work`) that adds `notes.md` with `key`.
fn fork(parent: &Path, bare: &Path, work: &Path, key: &str) {
    let dir = bare.parent().expect("fork has a parent folder");
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            parent.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    git(
        dir,
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    commit(
        work,
        &[("notes.md", &format!("fork key {key}\n"))],
        "fork work",
    );
    git(work, &["push", "-q", "origin", "main"]);
}

fn sweep(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.current_dir(cwd).arg("org").args(args);
    c.env_remove("GITHUB_TOKEN")
        .env_remove("KEYSWEEP_GITHUB_TOKEN")
        .env_remove("HF_TOKEN")
        .env_remove("KEYSWEEP_GITLAB_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run keysweep org")
}

fn report(cwd: &Path, datastore: &Path) -> serde_json::Value {
    let o = bin()
        .current_dir(cwd)
        .args(["report", "--format", "json", "--datastore"])
        .arg(datastore)
        .output()
        .expect("run keysweep report");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("report json: {e}: {o:?}"))
}

/// `keysweep report --show-secrets --format json` over `datastore` (with `extra` arguments): its output, in
/// which the values re-read from the clone cache appear.
fn shown_secrets(cwd: &Path, datastore: &Path, extra: &[&str]) -> String {
    let o = bin()
        .current_dir(cwd)
        .args([
            "report",
            "--show-secrets",
            "--format",
            "json",
            "--datastore",
        ])
        .arg(datastore)
        .args(extra)
        .output()
        .expect("run keysweep report --show-secrets");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn repos(datastore: &Path) -> HashMap<String, RepoRecord> {
    SqliteStore::open(datastore)
        .unwrap()
        .repositories()
        .unwrap()
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect()
}

/// (fingerprint, repository, path) of every location in a report.
fn places(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for f in report["findings"].as_array().unwrap() {
        for l in f["locations"].as_array().unwrap() {
            out.push((
                f["fingerprint"].as_str().unwrap().to_string(),
                l["repository"].as_str().unwrap_or_default().to_string(),
                l["path"].as_str().unwrap().to_string(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn an_organisation_is_swept_once_per_blob_and_bad_repositories_do_not_stop_it() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let acme = base.join("acme");
    std::fs::create_dir_all(&acme).unwrap();
    let key = ghp(1);
    let fork_key = ghp(2);

    // app: the key committed, then "deleted" (it stays in history), with more files around it.
    let app = served(&acme, "app", |w| {
        commit(w, &[("README.md", "# app\n")], "init");
        commit(
            w,
            &[
                ("src/config.py", &format!("TOKEN = \"{key}\"\n")),
                ("src/main.py", "print('hi')\n"),
            ],
            "config",
        );
        for i in 0..5 {
            commit(
                w,
                &[(&format!("src/mod{i}.py"), &format!("VALUE = {i}\n"))],
                "more",
            );
        }
        std::fs::remove_file(w.join("src/config.py")).unwrap();
        commit(w, &[], "remove the key");
    });
    // app-fork: the whole history of app, plus one commit of its own with a key of its own.
    fork(
        &acme.join("app.git"),
        &acme.join("app-fork.git"),
        &base.join("work/app-fork"),
        &fork_key,
    );
    // lib: the same key as app, in another file: one finding, locations in both repositories.
    let lib = served(&acme, "lib", |w| {
        commit(w, &[("settings.env", &format!("GH={key}\n"))], "init");
    });
    // empty: no commits at all.
    git(&acme, &["init", "-q", "--bare", "empty.git"]);
    // broken: its only pack damaged in the middle.
    served(&acme, "broken", |w| {
        let big: String = (0..4000).map(|i| format!("line {i} of data\n")).collect();
        commit(w, &[("data.txt", &big)], "data");
    });
    let broken = acme.join("broken.git");
    git(&broken, &["repack", "-a", "-d", "-q"]);
    let pack = std::fs::read_dir(broken.join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .expect("a pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let mut perms = std::fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&pack, perms).unwrap();
    std::fs::write(&pack, bytes).unwrap();

    // The listing and the clones it names come from one loopback origin, as on a forge: the API answers
    // from a script, the repositories over smart HTTP through `git http-backend`.
    let url = |name: &str| format!("BASE/acme/{name}.git");
    let repo_json = |name: &str, fork: bool, archived: bool| {
        serde_json::json!({
            "name": name, "full_name": format!("acme/{name}"), "fork": fork, "archived": archived,
            "size": 1, "clone_url": url(name), "default_branch": "main"
        })
    };
    let page = |items: Vec<serde_json::Value>| serde_json::to_string(&items).unwrap();
    let p1 = "/orgs/acme/repos?per_page=100&type=all";
    let p2 = "/organizations/7/repos?per_page=100&type=all&page=2";
    let p3 = "/organizations/7/repos?per_page=100&type=all&page=3";
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut script = HashMap::new();
    script.insert(
        p1.to_string(),
        vec![ok(
            page(vec![
                repo_json("app", false, false),
                repo_json("lib", false, false),
            ]),
            &[("Link", format!("<BASE{p2}>; rel=\"next\""))],
        )],
    );
    script.insert(
        p2.to_string(),
        vec![
            // The primary rate limit, spent: waited out, then asked again.
            answer(
                403,
                &[
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", (epoch + 1).to_string()),
                ],
                r#"{"message":"API rate limit exceeded"}"#,
            ),
            ok(
                page(vec![
                    repo_json("app-fork", true, false),
                    repo_json("empty", false, false),
                ]),
                &[("Link", format!("<BASE{p3}>; rel=\"next\""))],
            ),
        ],
    );
    script.insert(
        p3.to_string(),
        vec![ok(
            page(vec![
                repo_json("broken", false, false),
                repo_json("old", false, true),
            ]),
            &[],
        )],
    );
    let api = serve_with_git(script, Some(base.clone()));
    let host = api.base.trim_start_matches("http://").to_string();
    let id = |name: &str| format!("{host}/acme/{name}");
    let rules = rules_dir(tmp.path());
    let ds = tmp.path().join("ds");
    let gone = "git://127.0.0.1:1/acme/gone.git";
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--github-org".into(),
            "acme".into(),
            "--github-api-url".into(),
            api.base.clone(),
            "--skip-archived".into(),
            gone.into(),
            "--datastore".into(),
            ds.display().to_string(),
            "--rules".into(),
            rules.display().to_string(),
            "--no-builtin-rules".into(),
            "--format".into(),
            "json".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let env = [("KEYSWEEP_GITHUB_TOKEN", API_TOKEN)];
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        sweep(tmp.path(), &a, &env)
    };

    let started = Instant::now();
    let first = run(&[]);
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(
        first.status.code(),
        Some(5),
        "findings and failed repositories: {err}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the rate limit was waited out"
    );
    let seen = api.seen.lock().unwrap().clone();
    let (listing, clones): (Vec<_>, Vec<_>) =
        seen.iter().partition(|s| !s.target.contains(".git/"));
    assert_eq!(
        listing
            .iter()
            .map(|s| s.target.as_str())
            .collect::<Vec<_>>(),
        [p1, p2, p2, p3],
        "three pages, the limited one asked again once"
    );
    for s in &listing {
        assert_eq!(
            s.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {API_TOKEN}").as_str()),
            "{}",
            s.target
        );
    }
    // Clones over smart HTTP carry the token to the forge's own origin, as git's Basic credentials.
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{API_TOKEN}"))
    );
    assert!(!clones.is_empty());
    for s in &clones {
        assert_eq!(s.headers.get("authorization"), Some(&basic), "{}", s.target);
    }

    // Every repository recorded, with its outcome.
    let recs = repos(&ds);
    let status = |name: &str| recs[&id(name)].status.clone();
    assert_eq!(status("app"), "done");
    assert_eq!(status("lib"), "done");
    assert_eq!(status("app-fork"), "done");
    assert!(recs[&id("app-fork")].fork);
    assert_eq!(status("empty"), "empty");
    assert_eq!(status("broken"), "failed", "{err}");
    assert_eq!(recs["127.0.0.1:1/acme/gone"].status, "failed");
    assert!(!recs.contains_key(&id("old")), "archived left out");
    let gone_error = recs["127.0.0.1:1/acme/gone"].error.clone().unwrap();
    assert!(gone_error.contains("127.0.0.1:1/acme/gone"), "{gone_error}");
    assert!(recs[&id("broken")].error.is_some());
    for name in ["broken", "gone"] {
        assert!(err.contains(&format!("acme/{name}")), "{name} named: {err}");
    }

    // The fork read only its own new blobs, plus the one blob with a finding (for its own location):
    // notes.md and src/config.py. Everything else was known from app.
    let app_blobs = recs[&id("app")].blobs_scanned;
    assert!(app_blobs >= 8, "app read its {app_blobs} blobs");
    assert_eq!(recs[&id("app-fork")].blobs_scanned, 2);

    // One finding for the shared key, located in app, app-fork and lib; the fork's own key in the fork.
    let r = report(tmp.path(), &ds);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{r:#}");
    let shared_places: BTreeSet<(String, String)> = places(&r)
        .into_iter()
        .filter(|(fp, _, _)| *fp != findings_fp(&r, "notes.md"))
        .map(|(_, repo, path)| (repo, path))
        .collect();
    assert_eq!(
        shared_places,
        BTreeSet::from([
            (id("app"), "src/config.py".to_string()),
            (id("app-fork"), "src/config.py".to_string()),
            (id("lib"), "settings.env".to_string()),
        ])
    );
    // Failed repositories are in the report too, each with its error.
    let report_warnings = r["summary"]["warnings"].to_string();
    for name in ["broken", "gone"] {
        assert!(
            report_warnings.contains(&format!("acme/{name}")),
            "{report_warnings}"
        );
    }
    // The JSON of `org` itself is the same report.
    let own: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(places(&own), places(&r));

    // No secret and no token anywhere: output, errors, datastore file, clone cache configuration.
    let mut written = String::from_utf8_lossy(&first.stdout).into_owned() + &err;
    written += &String::from_utf8_lossy(&std::fs::read(ds.join("keysweep.db")).unwrap());
    for entry in std::fs::read_dir(ds.join("clones")).unwrap().flatten() {
        if let Ok(c) = std::fs::read_to_string(entry.path().join("config")) {
            written += &c;
        }
    }
    for s in [key.as_str(), fork_key.as_str(), API_TOKEN] {
        assert!(!written.contains(s), "{s} leaked");
    }

    // --show-secrets re-reads the values from the clone cache, checked against their fingerprints.
    let shown = shown_secrets(tmp.path(), &ds, &[]);
    assert!(shown.contains(&key) && shown.contains(&fork_key), "{shown}");

    // Triage, then a re-run with nothing new: nothing read, the status kept.
    let fp = findings_fp(&r, "settings.env");
    let t = bin()
        .current_dir(tmp.path())
        .args(["triage", &fp, "--status", "revoked", "--note", "rotated"])
        .arg("--datastore")
        .arg(&ds)
        .output()
        .unwrap();
    assert!(t.status.success(), "{t:?}");
    let again = run(&[]);
    assert_eq!(again.status.code(), Some(5));
    let recs2 = repos(&ds);
    for name in ["app", "lib", "app-fork"] {
        assert_eq!(
            recs2[&id(name)].last_run,
            recs[&id(name)].last_run,
            "{name} unchanged: not scanned again"
        );
    }

    // A push to lib: the next run scans lib's new blob only; app's blobs are not read again.
    commit(&lib, &[("more.txt", "nothing here\n")], "more");
    git(&lib, &["push", "-q", "origin", "main"]);
    let third = run(&["--rescan"]);
    assert_eq!(third.status.code(), Some(5));
    let recs3 = repos(&ds);
    assert_eq!(
        recs3[&id("lib")].blobs_scanned,
        2,
        "more.txt and the key's blob"
    );
    assert_eq!(
        recs3[&id("app")].blobs_scanned,
        1,
        "--rescan of app: only the blob with a finding is read again"
    );
    let r3 = report(tmp.path(), &ds);
    let triaged = r3["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fingerprint"] == fp.as_str())
        .unwrap()
        .clone();
    assert_eq!(triaged["triage"]["status"], "revoked", "{triaged:#}");
    assert_eq!(triaged["triage"]["note"], "rotated");
    assert_eq!(places(&r3), places(&r), "no location lost or duplicated");
    let _ = app;
}

/// The fingerprint of the finding with a location at `path`.
fn findings_fp(report: &serde_json::Value, path: &str) -> String {
    places(report)
        .into_iter()
        .find(|(_, _, p)| p == path)
        .map(|(fp, _, _)| fp)
        .unwrap_or_else(|| panic!("no finding at {path}: {report:#}"))
}

/// A repository with `commits` commits written through `git fast-import` (fast), one key in the middle.
pub(crate) fn generated(dir: &Path, n: usize, commits: usize, key: &str) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "--bare"]);
    let mut stream = String::new();
    for c in 0..commits {
        let body = if c == commits / 2 {
            format!("repo {n} commit {c}\nKEY = \"{key}\"\n")
        } else {
            format!("repo {n} commit {c}\n{}\n", "x".repeat(200 + c))
        };
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{m}\ncommitter T <t@example.com> {t} +0000\ndata 2\nc\n",
            m = c + 1,
            t = 1_700_000_000 + c
        ));
        if c > 0 {
            stream.push_str(&format!("from :{c}\n"));
        }
        stream.push_str(&format!(
            "M 644 inline file{}.txt\ndata {}\n{body}\n",
            c % 7,
            body.len()
        ));
    }
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_sweep_killed_with_sigkill_resumes_without_losing_or_duplicating_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let n = 24;
    let mut keys = Vec::new();
    for i in 0..n {
        let key = ghp(100 + i as u64);
        generated(&base.join(format!("r{i:02}.git")), i, 120, &key);
        keys.push(key);
    }
    let (_daemon, port) = daemon(&base);
    let list = tmp.path().join("repos.txt");
    let urls: String = (0..n)
        .map(|i| format!("git://127.0.0.1:{port}/r{i:02}.git\n"))
        .collect();
    std::fs::write(&list, format!("# the sweep\n{urls}")).unwrap();
    let rules = rules_dir(tmp.path());
    let args = |ds: &Path| -> Vec<String> {
        [
            "org",
            "--repos-file",
            list.to_str().unwrap(),
            "--datastore",
            ds.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--summary-only",
            "-j",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // Start, wait until a few repositories are recorded, kill -9.
    let ds = tmp.path().join("ds");
    // Its stderr goes to a file, so that a sweep that ends early or hangs says why in the failure.
    let first_err = tmp.path().join("first.stderr");
    let mut child = bin()
        .current_dir(tmp.path())
        .args(args(&ds))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&first_err).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stderr_of_first = || std::fs::read_to_string(&first_err).unwrap_or_default();
    let mut store: Option<SqliteStore> = None;
    let done_before = loop {
        if started.elapsed() >= Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no 3 repositories finished in 120 s; the sweep's stderr:\n{}",
                stderr_of_first()
            );
        }
        // Opened once (opening migrates, a write): polling reads only, which never block the sweep's
        // writes in WAL mode.
        if store.is_none() && ds.join("keysweep.db").exists() {
            store = SqliteStore::open(&ds).ok();
        }
        if let Some(store) = &store {
            let done: Vec<RepoRecord> = store
                .repositories()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.status == "done")
                .collect();
            if done.len() >= 3 {
                break done;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the first sweep ended ({status}) before 3 repositories were done:\n{}",
                stderr_of_first()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(store);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        done_before.len() < n,
        "killed before the end ({} of {n} done)",
        done_before.len()
    );

    // The same command again: it finishes, and the repositories finished before were not scanned again.
    let resumed = bin()
        .current_dir(tmp.path())
        .args(args(&ds))
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(1), "{resumed:?}");
    let after = repos(&ds);
    assert_eq!(after.len(), n);
    assert!(after.values().all(|r| r.status == "done"));
    for r in &done_before {
        assert_eq!(after[&r.id].last_run, r.last_run, "{} re-scanned", r.id);
    }

    // Exactly what an uninterrupted sweep records: every key once, one location each.
    let clean = tmp.path().join("clean");
    let full = bin()
        .current_dir(tmp.path())
        .args(args(&clean))
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    let resumed_places = places(&report(tmp.path(), &ds));
    assert_eq!(resumed_places.len(), n, "{resumed_places:?}");
    assert_eq!(resumed_places, places(&report(tmp.path(), &clean)));
}

#[test]
fn gitlab_groups_and_hugging_face_organisations_are_swept_through_their_url_switches() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let key = ghp(3);
    // A GitLab project and a Hugging Face space (`spaces/acme/demo`, no `.git`), both served over smart HTTP.
    served(&base.join("acme"), "tool", |w| {
        commit(w, &[("ci.yml", &format!("token: {key}\n"))], "init");
    });
    served(&base.join("spaces/acme"), "demo", |w| {
        commit(w, &[("app.py", &format!("KEY = \"{key}\"\n"))], "init");
    });
    std::fs::rename(
        base.join("spaces/acme/demo.git"),
        base.join("spaces/acme/demo"),
    )
    .unwrap();
    let mut script = HashMap::new();
    script.insert(
        "/api/v4/groups/acme%2Fml/projects?include_subgroups=true&per_page=100&order_by=id&sort=asc"
            .to_string(),
        vec![ok(
            serde_json::json!([{
                "id": 1, "path_with_namespace": "acme/ml/tool", "archived": false,
                "http_url_to_repo": "BASE/acme/tool.git"
            }])
            .to_string(),
            &[],
        )],
    );
    for (kind, items) in [
        ("models", serde_json::json!([])),
        ("datasets", serde_json::json!([])),
        ("spaces", serde_json::json!([{"id": "acme/demo"}])),
    ] {
        script.insert(
            format!("/api/{kind}?author=acme&limit=100"),
            vec![ok(items.to_string(), &[])],
        );
    }
    let server = serve_with_git(script, Some(base.clone()));
    let host = server.base.trim_start_matches("http://").to_string();
    let ds = tmp.path().join("ds");
    let rules = rules_dir(tmp.path());
    let out = sweep(
        tmp.path(),
        &[
            "--gitlab-group",
            "acme/ml",
            "--gitlab-url",
            &server.base,
            "--huggingface",
            "acme",
            "--huggingface-url",
            &server.base,
            "--datastore",
            ds.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--format",
            "json",
        ],
        &[
            ("KEYSWEEP_GITLAB_TOKEN", "glpat-test-listing-value"),
            ("HF_TOKEN", "hf-test-listing-value"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        places(&r)
            .into_iter()
            .map(|(_, repo, path)| (repo, path))
            .collect::<Vec<_>>(),
        [
            (format!("{host}/acme/tool"), "ci.yml".to_string()),
            (format!("{host}/spaces/acme/demo"), "app.py".to_string()),
        ]
    );
    let recs = repos(&ds);
    assert_eq!(recs[&format!("{host}/acme/tool")].platform, "gitlab");
    assert_eq!(
        recs[&format!("{host}/spaces/acme/demo")].platform,
        "huggingface"
    );
    // Each platform's token went to its listing in its own header, and to its clones as Basic credentials.
    use base64::Engine as _;
    let basic = |user: &str, token: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
        )
    };
    for s in server.seen.lock().unwrap().iter() {
        let auth = s.headers.get("authorization").cloned();
        if s.target.starts_with("/api/v4/") {
            assert_eq!(
                s.headers.get("private-token").map(String::as_str),
                Some("glpat-test-listing-value")
            );
        } else if s.target.starts_with("/api/") {
            assert_eq!(auth.as_deref(), Some("Bearer hf-test-listing-value"));
        } else {
            // One origin serves both platforms here, so each clone carries the token of its platform's
            // switch; git sends the header configured for that URL prefix.
            assert!(
                auth == Some(basic("oauth2", "glpat-test-listing-value"))
                    || auth == Some(basic("user", "hf-test-listing-value")),
                "{}: {auth:?}",
                s.target
            );
        }
    }
}

/// The datastore holds no secret, not even where scanned content repeats one: a key in a folder name and in a
/// commit message is redacted in the stored path and provenance, so every `report` format read back from the
/// store is clean, while `--show-secrets` still recovers the value from the clone cache.
#[test]
fn the_datastore_and_its_reports_never_hold_a_secret_repeated_in_paths_or_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let key = ghp(4);
    let repo = tmp.path().join("repo");
    crate::common::init_repo(&repo);
    commit(
        &repo,
        &[(&format!("{key}/cfg.py"), &format!("T = \"{key}\"\n"))],
        &format!("add {key}"),
    );
    let rules = rules_dir(tmp.path());
    let ds = tmp.path().join("ds");
    let out = sweep(
        tmp.path(),
        &[
            "repo",
            "--datastore",
            ds.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--summary-only",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut written =
        String::from_utf8_lossy(&std::fs::read(ds.join("keysweep.db")).unwrap()).into_owned();
    for format in ["human", "json", "jsonl", "sarif", "html", "gitlab"] {
        let o = bin()
            .current_dir(tmp.path())
            .args(["report", "--format", format, "--datastore"])
            .arg(&ds)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{format}: {o:?}");
        written += &String::from_utf8_lossy(&o.stdout);
        written += &String::from_utf8_lossy(&o.stderr);
    }
    assert!(
        !written.contains(&key),
        "the secret is in the datastore or a report"
    );
    assert!(shown_secrets(tmp.path(), &ds, &[]).contains(&key));
}

/// The mirrors in a clone cache, by the repository name their folder starts with.
fn mirrors(ds: &Path) -> HashMap<String, std::path::PathBuf> {
    std::fs::read_dir(ds.join("clones"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "git"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // `127_0_0_1_PORT_rNN-<hash>.git`
            let stem = name.rsplit_once('-').unwrap().0;
            (stem.rsplit('_').next().unwrap().to_string(), p)
        })
        .collect()
}

#[test]
fn a_re_run_asks_each_remote_for_its_refs_and_fetches_and_scans_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let mut works = Vec::new();
    for i in 0..3 {
        let key = ghp(300 + i);
        works.push(served(&base, &format!("r{i}"), |w| {
            commit(w, &[("a.txt", &format!("repo {i}\n"))], "init");
            commit(w, &[("cfg.py", &format!("K = \"{key}\"\n"))], "key");
        }));
    }
    let (_daemon, port) = daemon(&base);
    let rules = rules_dir(tmp.path());
    let ds = tmp.path().join("ds");
    let urls: Vec<String> = (0..3)
        .map(|i| format!("git://127.0.0.1:{port}/r{i}.git"))
        .collect();
    let run = || {
        let mut a: Vec<&str> = urls.iter().map(String::as_str).collect();
        a.extend([
            "--datastore",
            ds.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--summary-only",
        ]);
        let o = sweep(tmp.path(), &a, &[]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let first = run();
    assert!(first.contains("3 scanned"), "{first}");
    let m = mirrors(&ds);
    assert_eq!(m.len(), 3, "{m:?}");
    // A clone writes no FETCH_HEAD; every `git fetch` does.
    let fetched = || -> BTreeSet<String> {
        m.iter()
            .filter(|(_, p)| p.join("FETCH_HEAD").exists())
            .map(|(n, _)| n.clone())
            .collect()
    };
    assert!(fetched().is_empty());
    let before = repos(&ds);

    // Nothing new: each remote is asked for its refs, none is fetched, none scanned.
    let second = run();
    assert!(fetched().is_empty(), "fetched: {:?}", fetched());
    assert!(
        second.contains("0 scanned, 3 unchanged (3 not fetched)"),
        "{second}"
    );
    let after = repos(&ds);
    for (id, r) in &before {
        assert_eq!(after[id].last_run, r.last_run, "{id} scanned again");
    }

    // A push to r1: r1 alone is fetched and scanned (its new blob only).
    commit(&works[1], &[("b.txt", "new\n")], "more");
    git(&works[1], &["push", "-q", "origin", "main"]);
    let third = run();
    assert_eq!(fetched(), BTreeSet::from(["r1".to_string()]));
    assert!(
        third.contains("1 scanned, 2 unchanged (2 not fetched)"),
        "{third}"
    );
    let third_recs = repos(&ds);
    let id = |i: usize| format!("127.0.0.1:{port}/r{i}");
    assert_ne!(third_recs[&id(1)].last_run, before[&id(1)].last_run);
    assert_eq!(
        third_recs[&id(1)].blobs_scanned,
        2,
        "b.txt and the key's blob"
    );
    for i in [0, 2] {
        assert_eq!(third_recs[&id(i)].last_run, before[&id(i)].last_run);
    }
    // And the run after that is quiet again.
    let fourth = run();
    assert!(fourth.contains("3 unchanged (3 not fetched)"), "{fourth}");
}

/// The objects a repository holds itself (loose and in its own packs), not counting borrowed ones.
fn own_objects(repo: &Path) -> u64 {
    let out = git(repo, &["count-objects", "-v"]);
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| *k == "count" || *k == "in-pack")
        .map(|(_, v)| v.trim().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn a_fork_after_its_parent_borrows_its_objects_skips_its_commits_and_still_lists_its_own_locations()
{
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let key = ghp(400);
    let fork_key = ghp(401);
    // app: forty commits, the key in the middle of its history, a release tag.
    let app = served(&base, "app", |w| {
        for i in 0..40 {
            let mut files = vec![(format!("src/f{}.py", i % 9), format!("V = {i}\n"))];
            if i == 20 {
                files.push(("cfg.py".into(), format!("TOKEN = \"{key}\"\n")));
            }
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            commit(w, &files, &format!("c{i}"));
        }
    });
    git(&app, &["tag", "v1"]);
    git(&app, &["push", "-q", "origin", "main", "v1"]);
    // fork: app's history and tag, plus a commit of its own.
    fork(
        &base.join("app.git"),
        &base.join("fork.git"),
        &base.join("work/fork"),
        &fork_key,
    );

    let (_daemon, port) = daemon(&base);
    let rules = rules_dir(tmp.path());
    let ds = tmp.path().join("ds");
    let url = |n: &str| format!("git://127.0.0.1:{port}/{n}.git");
    let id = |n: &str| format!("127.0.0.1:{port}/{n}");
    let run = |targets: &[String], extra: &[&str]| {
        let mut a: Vec<&str> = targets.iter().map(String::as_str).collect();
        a.extend([
            "--datastore",
            ds.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--format",
            "json",
            "-j",
            "1",
        ]);
        a.extend(extra);
        let o = sweep(tmp.path(), &a, &[]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        o
    };
    // Given directly (no listing says "fork"): the common tag makes them one network.
    run(&[url("app"), url("fork")], &[]);
    let m = mirrors(&ds);
    let (app_m, fork_m) = (m["app"].clone(), m["fork"].clone());

    // The fork's mirror borrows app's objects and holds only its own commit's (commit, tree, blob).
    let alternates = std::fs::read_to_string(fork_m.join("objects/info/alternates"))
        .expect("the fork's mirror borrows objects");
    assert!(
        alternates.contains(app_m.file_name().unwrap().to_str().unwrap()),
        "{alternates}"
    );
    assert!(own_objects(&app_m) > 100, "{}", own_objects(&app_m));
    // The lender never prunes an object its borrowers may need.
    assert_eq!(git(&app_m, &["config", "gc.pruneExpire"]).trim(), "never");
    assert!(own_objects(&fork_m) <= 4, "{}", own_objects(&fork_m));

    // Its scan read its own blob only: app's commits were not walked again.
    let recs = repos(&ds);
    assert_eq!(recs[&id("fork")].status, "done");
    assert_eq!(recs[&id("fork")].blobs_scanned, 1, "notes.md only");
    assert!(recs[&id("app")].blobs_scanned > 10);

    // The key in the shared history is one finding, located in app and in the fork; the fork's own key in
    // the fork.
    let r = report(tmp.path(), &ds);
    let shared = findings_fp(&r, "cfg.py");
    let mut at: Vec<(String, String)> = places(&r)
        .into_iter()
        .filter(|(fp, _, _)| *fp == shared)
        .map(|(_, repo, path)| (repo, path))
        .collect();
    at.sort();
    assert_eq!(
        at,
        vec![
            (id("app"), "cfg.py".to_string()),
            (id("fork"), "cfg.py".to_string())
        ]
    );
    let fork_fp = findings_fp(&r, "notes.md");
    assert!(places(&r)
        .iter()
        .any(|(fp, repo, _)| *fp == fork_fp && *repo == id("fork")));
    // The copied location is the shared commit's, as app recorded it.
    let loc = |repo: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fingerprint"] == shared.as_str())
            .unwrap()["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["repository"] == repo)
            .unwrap()
            .clone()
    };
    assert_eq!(loc(&id("fork"))["commit"], loc(&id("app"))["commit"]);

    // The lender disappears (app leaves the organisation, its mirror is deleted): the fork's mirror is
    // never left broken; it is cloned again in full and scanned, and its values still read back.
    std::fs::remove_dir_all(&app_m).unwrap();
    run(&[url("fork")], &["--rescan"]);
    assert!(!fork_m.join("objects/info/alternates").exists());
    assert!(own_objects(&fork_m) > 100);
    let recs = repos(&ds);
    assert_eq!(recs[&id("fork")].status, "done", "{:?}", recs[&id("fork")]);
    let shown = shown_secrets(tmp.path(), &ds, &["--repo", &id("fork")]);
    assert!(shown.contains(&key) && shown.contains(&fork_key), "{shown}");
}

#[test]
fn the_default_relative_datastore_clones_into_its_own_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("served");
    let key = ghp(500);
    served(&base, "app", |w| {
        commit(w, &[("cfg.py", &format!("K = \"{key}\"\n"))], "key");
    });
    let (_daemon, port) = daemon(&base);
    let rules = rules_dir(tmp.path());
    let url = format!("git://127.0.0.1:{port}/app.git");
    // No --datastore: `./keysweep-datastore`, a relative folder, with its clone cache inside.
    let o = sweep(
        tmp.path(),
        &[
            &url,
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin-rules",
            "--summary-only",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let ds = tmp.path().join("keysweep-datastore");
    assert_eq!(mirrors(&ds).len(), 1);
    assert_eq!(repos(&ds)[&format!("127.0.0.1:{port}/app")].status, "done");
}
