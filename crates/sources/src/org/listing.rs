//! Hosted repository listings over REST: GitHub (`/orgs/ORG/repos`, `/users/USER/repos`; GitHub Enterprise
//! Server through its `/api/v3` base), GitLab (`/api/v4/groups/GROUP/projects` with subgroups, any instance)
//! and the Hugging Face Hub (`/api/models|datasets|spaces?author=ORG`, any mirror). Owns pagination (`Link:
//! rel="next"`, followed only within the API origin the user named, bounded by `max_pages`), rate limits
//! (`Retry-After`, `x-ratelimit-remaining`/`-reset`, `RateLimit-Reset`: waited out, never hammered, and an
//! error when the wait would exceed `max_wait`), retries of transient failures with backoff, and the JSON
//! shapes of the three APIs. The token goes only into a request header to that origin; messages name URLs,
//! which never carry it. Knows nothing of cloning or scanning.
use super::{url_identity, Platform, RepoSpec, Token};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default API bases (each overridable for self-hosted instances and mirrors).
pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_URL: &str = "https://gitlab.com";
pub const HUGGINGFACE_URL: &str = "https://huggingface.co";

/// A listing page larger than this is refused.
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// How to talk to one listing API.
#[derive(Debug, Clone)]
pub struct ListingOptions {
    /// API base: `https://api.github.com`, `https://ghe.corp/api/v3`, `https://gitlab.com`,
    /// `https://huggingface.co`, or a loopback server in tests.
    pub base_url: String,
    pub token: Option<Token>,
    pub skip_forks: bool,
    pub skip_archived: bool,
    /// At most this many pages per listing.
    pub max_pages: usize,
    /// The longest single rate-limit wait accepted; a longer one is an error.
    pub max_wait: Duration,
    /// Retries of a transient failure (network error, 5xx, 429 without a reset time).
    pub max_retries: u32,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ListingOptions {
    pub fn new(base_url: impl Into<String>, token: Option<Token>) -> ListingOptions {
        ListingOptions {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token,
            skip_forks: false,
            skip_archived: false,
            max_pages: 10_000,
            max_wait: Duration::from_secs(15 * 60),
            max_retries: 4,
            timeout: Duration::from_secs(60),
        }
    }
}

/// What a listing produced.
#[derive(Debug, Default)]
pub struct ListingOutcome {
    pub repos: Vec<RepoSpec>,
    /// Pages fetched.
    pub pages: usize,
    /// Repositories left out by `skip_forks` / `skip_archived`.
    pub skipped: usize,
    /// Time spent waiting for rate limits and backoff.
    pub waited: Duration,
}

/// The repositories of a GitHub organisation.
pub fn github_org(opts: &ListingOptions, org: &str) -> Result<ListingOutcome> {
    let url = format!(
        "{}/orgs/{}/repos?per_page=100&type=all",
        opts.base_url,
        segment(org)?
    );
    list(opts, &url, "github", github_repo)
        .with_context(|| format!("listing the GitHub organisation {org}"))
}

/// The repositories a GitHub user owns.
pub fn github_user(opts: &ListingOptions, user: &str) -> Result<ListingOutcome> {
    let url = format!(
        "{}/users/{}/repos?per_page=100&type=owner",
        opts.base_url,
        segment(user)?
    );
    list(opts, &url, "github", github_repo)
        .with_context(|| format!("listing the GitHub user {user}"))
}

/// The projects of a GitLab group and all its subgroups (`group` is a path such as `a/b` or a numeric id).
pub fn gitlab_group(opts: &ListingOptions, group: &str) -> Result<ListingOutcome> {
    if group.is_empty() || group.split('/').any(|p| segment(p).is_err()) {
        bail!("{group:?}: not a GitLab group path");
    }
    let url = format!(
        "{}/api/v4/groups/{}/projects?include_subgroups=true&per_page=100&order_by=id&sort=asc",
        opts.base_url,
        group.replace('/', "%2F")
    );
    list(opts, &url, "gitlab", gitlab_project)
        .with_context(|| format!("listing the GitLab group {group}"))
}

/// The models, datasets and spaces of a Hugging Face organisation or user.
pub fn huggingface(opts: &ListingOptions, org: &str) -> Result<ListingOutcome> {
    let org_seg = segment(org)?;
    let mut all = ListingOutcome::default();
    for (kind, api, prefix) in [
        ("model", "models", ""),
        ("dataset", "datasets", "datasets/"),
        ("space", "spaces", "spaces/"),
    ] {
        let url = format!("{}/api/{api}?author={org_seg}&limit=100", opts.base_url);
        let base = opts.base_url.clone();
        let part = list(opts, &url, "huggingface", |v| {
            let id = v.get("id")?.as_str()?;
            // `org/name`: two plain segments, nothing that could climb out of the clone URL.
            let (o, n) = id.split_once('/')?;
            if segment(o).is_err() || segment(n).is_err() {
                return None;
            }
            let clone_url = format!("{base}/{prefix}{id}");
            Some(RepoSpec {
                id: url_identity(&clone_url),
                clone_url,
                platform: Platform::HuggingFace,
                fork: false,
                archived: false,
                size: None,
                kind: Some(kind),
            })
        })
        .with_context(|| format!("listing the Hugging Face {api} of {org}"))?;
        all.repos.extend(part.repos);
        all.pages += part.pages;
        all.skipped += part.skipped;
        all.waited += part.waited;
    }
    Ok(all)
}

/// A name used as one URL path segment: letters, digits, `-`, `_`, `.` (not `.`/`..`).
fn segment(s: &str) -> Result<&str> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(s)
    } else {
        Err(anyhow!(
            "{s:?}: not a valid organisation, user or group name"
        ))
    }
}

/// A listing's clone URL must be plain http(s) without credentials.
fn clone_url_ok(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    !authority.is_empty() && !authority.contains('@') && !url.chars().any(char::is_whitespace)
}

fn github_repo(v: &Value) -> Option<RepoSpec> {
    let clone_url = v.get("clone_url")?.as_str()?;
    if !clone_url_ok(clone_url) {
        return None;
    }
    Some(RepoSpec {
        id: url_identity(clone_url),
        clone_url: clone_url.to_string(),
        platform: Platform::GitHub,
        fork: v.get("fork").and_then(Value::as_bool).unwrap_or(false),
        archived: v.get("archived").and_then(Value::as_bool).unwrap_or(false),
        // GitHub reports kilobytes.
        size: v
            .get("size")
            .and_then(Value::as_u64)
            .map(|k| k.saturating_mul(1024)),
        kind: None,
    })
}

fn gitlab_project(v: &Value) -> Option<RepoSpec> {
    let clone_url = v.get("http_url_to_repo")?.as_str()?;
    if !clone_url_ok(clone_url) {
        return None;
    }
    Some(RepoSpec {
        id: url_identity(clone_url),
        clone_url: clone_url.to_string(),
        platform: Platform::GitLab,
        fork: v.get("forked_from_project").is_some_and(|f| !f.is_null()),
        archived: v.get("archived").and_then(Value::as_bool).unwrap_or(false),
        size: v
            .get("statistics")
            .and_then(|s| s.get("repository_size"))
            .and_then(Value::as_u64),
        kind: None,
    })
}

/// Scheme, host and port of a URL (`https://h:1`), for same-origin checks.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        let params = &rest[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &rest[params_end..];
    }
    None
}

/// Fetch every page of a listing starting at `first`, mapping each element of each page's JSON array.
fn list(
    opts: &ListingOptions,
    first: &str,
    api: &'static str,
    map: impl Fn(&Value) -> Option<RepoSpec>,
) -> Result<ListingOutcome> {
    let home = origin(&opts.base_url)
        .ok_or_else(|| anyhow!("{}: not an http(s) API URL", opts.base_url))?;
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(opts.timeout))
        .user_agent(concat!("keysweep/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut out = ListingOutcome::default();
    let mut url = Some(first.to_string());
    let mut seen = std::collections::HashSet::new();
    while let Some(u) = url.take() {
        if out.pages >= opts.max_pages {
            bail!("stopped after {} pages (the page limit)", opts.max_pages);
        }
        if !seen.insert(u.clone()) {
            bail!("{u}: the listing's next page points back to a page already read");
        }
        let (page, next) = fetch_page(&agent, opts, &u, api, &mut out.waited)?;
        out.pages += 1;
        let items = page
            .as_array()
            .ok_or_else(|| anyhow!("{u}: the answer is not a JSON array"))?;
        for item in items {
            let Some(spec) = map(item) else {
                continue;
            };
            if (opts.skip_forks && spec.fork) || (opts.skip_archived && spec.archived) {
                out.skipped += 1;
                continue;
            }
            out.repos.push(spec);
        }
        if let Some(n) = next {
            // The token goes with every request: a next page on another origin is refused, not followed.
            if origin(&n).as_deref() != Some(home.as_str()) {
                bail!("{u}: the next page {n} is not on {home}; not followed");
            }
            url = Some(n);
        }
    }
    Ok(out)
}

fn header<'a>(resp: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long the server asks us to wait, from `Retry-After` (seconds) or a reset time (epoch seconds) when
/// no request is left.
fn server_wait(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    if let Some(s) = header(resp, "retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(s));
    }
    let remaining = header(resp, "x-ratelimit-remaining")
        .or_else(|| header(resp, "ratelimit-remaining"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    if remaining == Some(0) {
        let reset = header(resp, "x-ratelimit-reset")
            .or_else(|| header(resp, "ratelimit-reset"))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        // GitHub and GitLab give an epoch time; a small number is a delta in seconds.
        let now = now_secs();
        let secs = if reset > 1_000_000_000 {
            reset.saturating_sub(now)
        } else {
            reset
        };
        return Some(Duration::from_secs(secs + 1));
    }
    None
}

fn token_hint(api: &str) -> &'static str {
    match api {
        "github" => "KEYSWEEP_GITHUB_TOKEN or GITHUB_TOKEN",
        "gitlab" => "KEYSWEEP_GITLAB_TOKEN",
        _ => "HF_TOKEN",
    }
}

/// One page: its JSON and its `next` link, waiting out rate limits and retrying transient failures.
fn fetch_page(
    agent: &ureq::Agent,
    opts: &ListingOptions,
    url: &str,
    api: &'static str,
    waited: &mut Duration,
) -> Result<(Value, Option<String>)> {
    let mut attempt = 0u32;
    loop {
        let mut req = agent.get(url);
        req = if api == "github" {
            req.header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
        } else {
            req.header("Accept", "application/json")
        };
        if let Some(t) = &opts.token {
            req = match api {
                "gitlab" => req.header("PRIVATE-TOKEN", t.expose()),
                _ => req.header("Authorization", format!("Bearer {}", t.expose())),
            };
        }
        let backoff = Duration::from_secs(1u64 << attempt.min(6));
        let resp = match req.call() {
            Ok(r) => r,
            Err(e) => {
                if attempt >= opts.max_retries {
                    bail!("{url}: {e}");
                }
                attempt += 1;
                std::thread::sleep(backoff);
                *waited += backoff;
                continue;
            }
        };
        let status = resp.status().as_u16();
        let limited = status == 429
            || (status == 403
                && (header(&resp, "retry-after").is_some()
                    || header(&resp, "x-ratelimit-remaining") == Some("0")));
        if limited || (500..600).contains(&status) {
            let wait = server_wait(&resp).unwrap_or(backoff);
            if wait > opts.max_wait {
                bail!(
                    "{url}: rate limited ({status}); the limit resets in {} s, longer than the {} s this \
                     listing may wait",
                    wait.as_secs(),
                    opts.max_wait.as_secs()
                );
            }
            if attempt >= opts.max_retries {
                bail!("{url}: HTTP {status} after {} attempts", attempt + 1);
            }
            attempt += 1;
            std::thread::sleep(wait);
            *waited += wait;
            continue;
        }
        match status {
            200 => {}
            301 | 302 | 307 | 308 => bail!(
                "{url}: redirected to {} (not followed: give the new address)",
                header(&resp, "location").unwrap_or("?")
            ),
            401 => bail!(
                "{url}: authentication failed (401){}",
                if opts.token.is_some() {
                    format!(": check {}", token_hint(api))
                } else {
                    format!(": set {}", token_hint(api))
                }
            ),
            403 => bail!("{url}: access denied (403)"),
            404 => bail!("{url}: not found (404)"),
            s => bail!("{url}: HTTP {s}"),
        }
        let next = header(&resp, "link").and_then(next_link);
        // Out of requests after this one: wait for the reset before the next page, not after a refusal.
        let pause = server_wait(&resp).filter(|_| next.is_some());
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_PAGE_BYTES + 1)
            .read_to_end(&mut body)
            .with_context(|| format!("{url}: reading the answer"))?;
        if body.len() as u64 > MAX_PAGE_BYTES {
            bail!("{url}: page larger than {MAX_PAGE_BYTES} bytes");
        }
        let json: Value = serde_json::from_slice(&body)
            .with_context(|| format!("{url}: the answer is not JSON"))?;
        if let Some(p) = pause {
            if p > opts.max_wait {
                bail!(
                    "{url}: rate limit exhausted; it resets in {} s, longer than the {} s this listing may wait",
                    p.as_secs(),
                    opts.max_wait.as_secs()
                );
            }
            std::thread::sleep(p);
            *waited += p;
        }
        return Ok((json, next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        let h = r#"<https://api.github.com/organizations/1/repos?page=2>; rel="next", <https://api.github.com/organizations/1/repos?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=2")
        );
        let h = r#"<https://h/x?page=1>; rel="prev", <https://h/x?page=3>; rel="next""#;
        assert_eq!(next_link(h).as_deref(), Some("https://h/x?page=3"));
        assert_eq!(next_link(r#"<https://h/x?page=1>; rel="first""#), None);
        assert_eq!(next_link("garbage <unterminated"), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://API.github.com/orgs/x"),
            Some("https://api.github.com".into())
        );
        assert_ne!(
            origin("http://127.0.0.1:1/x"),
            origin("http://127.0.0.1:2/x")
        );
        assert_eq!(origin("https://u:p@h/x"), None);
    }

    #[test]
    fn names_and_clone_urls_are_checked() {
        assert!(segment("my-org_1.x").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b", "a%2Fb"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
        assert!(clone_url_ok("https://github.com/o/r.git"));
        for bad in [
            "file:///etc",
            "ext::sh -c x",
            "https://u:p@h/r",
            "https:///r",
            "ssh://h/r",
        ] {
            assert!(!clone_url_ok(bad), "{bad}");
        }
    }
}
