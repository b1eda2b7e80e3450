//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by scripts/setup.sh)
//! loads a `keysweep git --format html` report and the test checks the rendered DOM: one row per finding of
//! the JSON report, a filter from the URL fragment narrows them, an injected path and commit message stay
//! text, and no unredacted secret is in the page. A screenshot is saved as a test artifact.
use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|name| {
            let ok = Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then(|| PathBuf::from(name))
        })
}

/// Run headless Chromium on `url` with extra args; returns stdout.
fn headless(chrome: &Path, profile: &Path, url: &str, extra: &[&str]) -> String {
    let o = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Finding rows (`<tbody class="f" …>`) in a dumped DOM, and how many of them are not hidden.
fn rows(dom: &str) -> (usize, usize) {
    let tags: Vec<&str> = dom
        .split("<tbody class=\"f")
        .skip(1)
        .map(|s| s.split('>').next().unwrap_or(""))
        .collect();
    let visible = tags.iter().filter(|t| !t.contains(" hidden")).count();
    (tags.len(), visible)
}

#[test]
fn html_report_renders_filters_and_escapes_in_chromium() {
    let t = tempfile::tempdir().expect("tempdir");
    let rules = rules_dir(t.path());
    let repo = t.path().join("repo");
    init_repo(&repo);
    let tokens: Vec<String> = [
        "Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y",
        "Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae",
        "CN6Zj4a3dDVhYRnKTbxTNJFoBinF5a",
        "JXVuLkSIc47WQAmL9xVQ2zg4mZaouq",
    ]
    .into_iter()
    .map(github_token)
    .collect();
    std::fs::write(repo.join("app.py"), format!("TOKEN = \"{}\"\n", tokens[0])).expect("write");
    std::fs::write(
        repo.join("deploy.sh"),
        "export AWS_ACCESS_KEY_ID=AKIA4QXZ7RB2MNV5KD3Y\n",
    )
    .expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "first"]);
    // A path and a commit message that would be markup if they reached the page raw.
    let evil_dir = repo.join("<script>alert(1)<");
    std::fs::create_dir_all(&evil_dir).expect("mkdir");
    std::fs::write(evil_dir.join("script>.env"), format!("T={}\n", tokens[1])).expect("write");
    std::fs::write(
        repo.join("\"><img src=x onerror=alert(2)>.txt"),
        format!("t: {}\n", tokens[2]),
    )
    .expect("write");
    std::fs::write(repo.join("b.py"), format!("K = \"{}\"\n", tokens[3])).expect("write");
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "commit",
            "-qm",
            "\"><img src=x onerror=alert(3)> <script>alert(4)</script>",
        ],
    );

    let rules = rules.to_str().expect("utf-8 path");
    let json_out = run(&repo, &["git", ".", "--rules", rules, "--format", "json"]);
    let doc = json(&json_out);
    let findings = doc["findings"].as_array().expect("findings").clone();
    // 4 GitHub tokens and an AWS key id, each reported by the test rules and the built-in ones.
    assert!(findings.len() >= 5, "{findings:?}");
    let aws = findings.iter().filter(|f| f["provider"] == "AWS").count();
    assert!(aws > 0);

    let report = t.path().join("report.html");
    let o = bin()
        .current_dir(&repo)
        .args(["git", ".", "--rules", rules, "--format", "html", "-o"])
        .arg(&report)
        .output()
        .expect("run keysweep");
    assert_eq!(o.status.code(), Some(1), "findings: exit 1; {}", stderr(&o));
    let html = std::fs::read_to_string(&report).expect("report written");
    for s in &tokens {
        assert!(!html.contains(s.as_str()), "unredacted secret in the file");
    }

    let Some(chrome) = chromium() else {
        eprintln!(
            "SKIP html_report: no chromium on this machine (scripts/setup.sh installs it); \
             the browser checks did not run"
        );
        return;
    };
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}", report.display());

    let dom = headless(&chrome, profile.path(), &url, &["--dump-dom"]);
    assert!(dom.contains("data-ready-ms"), "the report's script ran");
    assert_eq!(rows(&dom), (findings.len(), findings.len()));
    assert!(dom.contains(&format!("data-visible=\"{}\"", findings.len())));
    // Injected path and commit message are text, not elements.
    assert!(!dom.contains("<script>alert"), "injected script element");
    assert!(!dom.contains("<img src=\"x\""), "injected img element");
    assert!(
        !dom.contains("onerror=\"alert"),
        "injected handler attribute"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;.env"),
        "path shown as text"
    );
    assert!(
        dom.contains("\"&gt;&lt;img src=x onerror=alert(3)&gt;"),
        "commit message shown as text"
    );
    for s in &tokens {
        assert!(!dom.contains(s.as_str()), "unredacted secret in the page");
    }
    let preview = keysweep_model::finding::redact(&tokens[0]);
    assert!(dom.contains(&preview), "redacted form {preview} shown");

    // A filter from the URL fragment narrows the rows.
    let filtered = headless(
        &chrome,
        profile.path(),
        &format!("{url}#provider=AWS"),
        &["--dump-dom"],
    );
    assert_eq!(rows(&filtered), (findings.len(), aws));
    assert!(aws < findings.len());
    let searched = headless(
        &chrome,
        profile.path(),
        &format!("{url}#q=alert(2)"),
        &["--dump-dom"],
    );
    let with_path = findings
        .iter()
        .filter(|f| f["locations"].to_string().contains("alert(2)"))
        .count();
    assert!(with_path > 0 && with_path < findings.len());
    assert_eq!(
        rows(&searched).1,
        with_path,
        "search matches the injected path's findings"
    );

    // Screenshot artifact.
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html_report.png");
    let _ = std::fs::remove_file(&png);
    headless(
        &chrome,
        profile.path(),
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,1000",
        ],
    );
    let meta = std::fs::metadata(&png).expect("screenshot written");
    assert!(meta.len() > 10_000, "screenshot looks empty");
    eprintln!("html_report: screenshot at {}", png.display());
}

/// A sweep's datastore as HTML: a repository column and filter, triage status, and the filter narrowing the
/// rows to one repository's findings in Chromium.
#[test]
fn datastore_html_report_filters_by_repository_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let keys: Vec<String> = [
        "Qm7Lx2Vd9Rk4Tz8Wc3Hb6Nf1Js5Yp0",
        "Gt5Xw8Cq2Lm7Vb4Zr9Kd1Hs6Np3Fj0",
        "Wd3Zk8Rt1Fx6Lq9Vm2Hc7Bn4Sj5Gp0",
    ]
    .iter()
    .map(|b| github_token(b))
    .collect();
    // alpha holds keys 0 and 2, beta holds keys 1 and 2 (the shared one is one finding in both).
    for (name, ks) in [("alpha", [0, 2]), ("beta", [1, 2])] {
        let repo = tmp.path().join("repos").join(name);
        init_repo(&repo);
        let files: Vec<(String, String)> = ks
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("k{i}.env"), format!("T={}\n", keys[*k])))
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        commit_files(&repo, &files, "keys");
    }
    let ds = tmp.path().join("ds");
    let rules = rules_dir(tmp.path());
    let o = run_with_rules(
        tmp.path(),
        &rules,
        &[
            "org",
            "repos",
            "--datastore",
            ds.to_str().unwrap(),
            "--summary-only",
            "-q",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let report = tmp.path().join("sweep.html");
    let o = run(
        tmp.path(),
        &[
            "report",
            "--datastore",
            ds.to_str().unwrap(),
            "--format",
            "html",
            "-o",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let html = std::fs::read_to_string(&report).unwrap();
    let alpha = tmp.path().join("repos/alpha").canonicalize().unwrap();
    assert!(html.contains("All repositories"), "a repository filter");
    assert!(html.contains(alpha.to_str().unwrap()));
    for k in &keys {
        assert!(!html.contains(k.as_str()), "unredacted secret in the file");
    }
    let Some(chrome) = chromium() else {
        eprintln!(
            "SKIP datastore html: no chromium on this machine (scripts/setup.sh installs it)"
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", report.display());
    assert_eq!(
        rows(&headless(&chrome, profile.path(), &url, &["--dump-dom"])),
        (3, 3)
    );
    // Fragment values are URL-encoded by the page's own URLSearchParams reader.
    let only_alpha = format!("{url}#repo={}", alpha.to_str().unwrap().replace('/', "%2F"));
    assert_eq!(
        rows(&headless(
            &chrome,
            profile.path(),
            &only_alpha,
            &["--dump-dom"]
        )),
        (3, 2),
        "alpha's own key and the shared one"
    );
}
