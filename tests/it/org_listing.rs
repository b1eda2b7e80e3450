//! Hosted listings against a loopback HTTP server speaking GitHub's, GitLab's and Hugging Face's JSON,
//! `Link` pagination and rate-limit answers, reached through the same base-URL switch a self-hosted user
//! sets. Asserts what was listed, what was skipped, which headers the server saw (the token goes only to
//! the API origin), and that errors never carry the token.
use crate::common::http::{answer, ok, serve, Answer};
use keysweep_sources::org::listing::{self, ListingOptions};
use keysweep_sources::org::{Platform, Token};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn github_repo(base: &str, name: &str, fork: bool, archived: bool) -> serde_json::Value {
    serde_json::json!({
        "id": 1, "name": name, "full_name": format!("acme/{name}"), "private": false,
        "fork": fork, "archived": archived, "size": 12,
        "clone_url": format!("{base}/acme/{name}.git"),
        "html_url": format!("{base}/acme/{name}"), "default_branch": "main"
    })
}

const TOKEN: &str = "tok_listing_test_value_0123456789";

fn options(base: &str) -> ListingOptions {
    let mut o = ListingOptions::new(base, Token::new(TOKEN));
    o.max_wait = Duration::from_secs(5);
    o.timeout = Duration::from_secs(10);
    o
}

#[test]
fn github_organisation_over_three_pages_with_forks_and_archived_skipped() {
    let placeholder = "BASE";
    let page = |names: &[(&str, bool, bool)]| {
        serde_json::to_string(
            &names
                .iter()
                .map(|(n, f, a)| github_repo(placeholder, n, *f, *a))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    };
    // The server's address is known only once it runs: bodies and links are written with BASE and
    // rewritten below.
    let mut script: HashMap<String, Vec<Answer>> = HashMap::new();
    let p1 = "/orgs/acme/repos?per_page=100&type=all";
    let p2 = "/organizations/7/repos?per_page=100&type=all&page=2";
    let p3 = "/organizations/7/repos?per_page=100&type=all&page=3";
    script.insert(
        p1.into(),
        vec![ok(
            page(&[("api", false, false), ("api-fork", true, false)]),
            &[(
                "Link",
                format!("<BASE{p2}>; rel=\"next\", <BASE{p3}>; rel=\"last\""),
            )],
        )],
    );
    script.insert(
        p2.into(),
        vec![ok(
            page(&[("old", false, true), ("ml", false, false)]),
            &[(
                "Link",
                format!("<BASE{p1}>; rel=\"prev\", <BASE{p3}>; rel=\"next\""),
            )],
        )],
    );
    script.insert(p3.into(), vec![ok(page(&[("web", false, false)]), &[])]);
    let server = serve(script);
    let mut opts = options(&server.base);
    opts.skip_forks = true;
    opts.skip_archived = true;
    let out = listing::github_org(&opts, "acme").expect("listing");
    let names: Vec<&str> = out.repos.iter().map(|r| r.id.as_str()).collect();
    let host = server.base.trim_start_matches("http://");
    assert_eq!(
        names,
        [
            format!("{host}/acme/api"),
            format!("{host}/acme/ml"),
            format!("{host}/acme/web")
        ]
    );
    assert_eq!((out.pages, out.skipped), (3, 2));
    assert!(out.repos.iter().all(|r| r.platform == Platform::GitHub));
    assert_eq!(out.repos[0].size, Some(12 * 1024));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(
            s.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            s.headers.get("x-github-api-version").map(String::as_str),
            Some("2022-11-28")
        );
    }
}

fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn rate_limits_are_waited_out_and_a_long_wait_is_an_error() {
    let path = "/users/dev/repos?per_page=100&type=owner";
    let body = format!("[{}]", github_repo("BASE", "tool", false, false));
    let mut script = HashMap::new();
    script.insert(
        path.to_string(),
        vec![
            // Primary limit: no request left until the reset time.
            answer(
                403,
                &[
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", (epoch() + 1).to_string()),
                ],
                r#"{"message":"API rate limit exceeded"}"#,
            ),
            // Secondary limit: Retry-After.
            answer(429, &[("retry-after", "1".into())], "{}"),
            ok(body, &[]),
        ],
    );
    let server = serve(script);
    let started = Instant::now();
    let out = listing::github_user(&options(&server.base), "dev").expect("listing");
    assert_eq!(out.repos.len(), 1);
    assert!(out.waited >= Duration::from_secs(2), "{:?}", out.waited);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        server.seen.lock().unwrap().len(),
        3,
        "one request per answer, no hammering"
    );

    // A reset an hour away is longer than the listing may wait: an error, not a sleep.
    let mut script = HashMap::new();
    script.insert(
        path.to_string(),
        vec![answer(
            403,
            &[
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", (epoch() + 3600).to_string()),
            ],
            "{}",
        )],
    );
    let server = serve(script);
    let e = format!(
        "{:#}",
        listing::github_user(&options(&server.base), "dev").unwrap_err()
    );
    assert!(e.contains("rate limited") && e.contains("resets in"), "{e}");
    assert!(!e.contains(TOKEN), "{e}");
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[test]
fn a_next_page_on_another_origin_is_not_followed_and_gets_no_token() {
    let other = serve(HashMap::new());
    let mut script = HashMap::new();
    script.insert(
        "/orgs/acme/repos?per_page=100&type=all".to_string(),
        vec![ok(
            format!("[{}]", github_repo("BASE", "a", false, false)),
            &[(
                "Link",
                format!("<{}/steal?page=2>; rel=\"next\"", other.base),
            )],
        )],
    );
    let server = serve(script);
    let e = format!(
        "{:#}",
        listing::github_org(&options(&server.base), "acme").unwrap_err()
    );
    assert!(e.contains("not followed"), "{e}");
    assert!(other.seen.lock().unwrap().is_empty());
}

#[test]
fn authentication_failures_name_the_variable_never_the_token() {
    let mut script = HashMap::new();
    script.insert(
        "/orgs/acme/repos?per_page=100&type=all".to_string(),
        vec![answer(401, &[], r#"{"message":"Bad credentials"}"#)],
    );
    let server = serve(script);
    let e = format!(
        "{:#}",
        listing::github_org(&options(&server.base), "acme").unwrap_err()
    );
    assert!(
        e.contains("401") && e.contains("KEYSWEEP_GITHUB_TOKEN"),
        "{e}"
    );
    assert!(!e.contains(TOKEN), "{e}");
    // An unknown organisation is a 404 naming the URL.
    let e = format!(
        "{:#}",
        listing::github_org(&options(&server.base), "nobody").unwrap_err()
    );
    assert!(e.contains("404") && e.contains("/orgs/nobody/"), "{e}");
}

#[test]
fn gitlab_group_with_subgroups_and_forks() {
    let project = |path: &str, fork: bool| {
        let mut p = serde_json::json!({
            "id": 3, "path_with_namespace": path, "archived": false,
            "http_url_to_repo": format!("BASE/{path}.git"),
        });
        if fork {
            p["forked_from_project"] = serde_json::json!({"id": 1});
        }
        p
    };
    let first = "/api/v4/groups/ml%2Fresearch/projects?include_subgroups=true&per_page=100&order_by=id&sort=asc";
    let second = "/api/v4/groups/9/projects?page=2";
    let mut script = HashMap::new();
    script.insert(
        first.to_string(),
        vec![ok(
            serde_json::to_string(&[
                project("ml/research/train", false),
                project("ml/research/sub/eval", false),
            ])
            .unwrap(),
            &[("Link", format!("<BASE{second}>; rel=\"next\""))],
        )],
    );
    script.insert(
        second.to_string(),
        vec![ok(
            serde_json::to_string(&[project("ml/research/train-fork", true)]).unwrap(),
            &[],
        )],
    );
    let server = serve(script);
    let out = listing::gitlab_group(&options(&server.base), "ml/research").expect("listing");
    let host = server.base.trim_start_matches("http://");
    let ids: Vec<(String, bool)> = out.repos.iter().map(|r| (r.id.clone(), r.fork)).collect();
    assert_eq!(
        ids,
        [
            (format!("{host}/ml/research/train"), false),
            (format!("{host}/ml/research/sub/eval"), false),
            (format!("{host}/ml/research/train-fork"), true),
        ]
    );
    for s in server.seen.lock().unwrap().iter() {
        assert_eq!(
            s.headers.get("private-token").map(String::as_str),
            Some(TOKEN)
        );
        assert!(!s.headers.contains_key("authorization"));
    }
}

#[test]
fn huggingface_models_datasets_and_spaces() {
    let ids = |list: &[&str]| {
        serde_json::to_string(
            &list
                .iter()
                .map(|i| serde_json::json!({"_id": "x", "id": i, "private": false}))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let mut script = HashMap::new();
    script.insert(
        "/api/models?author=lab&limit=100".to_string(),
        vec![ok(
            ids(&["lab/llm-7b"]),
            &[(
                "Link",
                "<BASE/api/models?author=lab&limit=100&cursor=abc>; rel=\"next\"".into(),
            )],
        )],
    );
    script.insert(
        "/api/models?author=lab&limit=100&cursor=abc".to_string(),
        vec![ok(ids(&["lab/llm-13b", "../../etc/passwd"]), &[])],
    );
    script.insert(
        "/api/datasets?author=lab&limit=100".to_string(),
        vec![ok(ids(&["lab/corpus"]), &[])],
    );
    script.insert(
        "/api/spaces?author=lab&limit=100".to_string(),
        vec![ok(ids(&["lab/demo"]), &[])],
    );
    let server = serve(script);
    let out = listing::huggingface(&options(&server.base), "lab").expect("listing");
    let got: Vec<(String, Option<&str>)> = out
        .repos
        .iter()
        .map(|r| (r.clone_url.clone(), r.kind))
        .collect();
    let b = &server.base;
    assert_eq!(
        got,
        [
            (format!("{b}/lab/llm-7b"), Some("model")),
            (format!("{b}/lab/llm-13b"), Some("model")),
            (format!("{b}/datasets/lab/corpus"), Some("dataset")),
            (format!("{b}/spaces/lab/demo"), Some("space")),
        ]
    );
    assert_eq!(out.pages, 4);
    for s in server.seen.lock().unwrap().iter() {
        assert_eq!(
            s.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{}",
            s.target
        );
    }
}
