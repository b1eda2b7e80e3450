//! Provider verifiers: the `Provider` trait, the declarative `Simple` verifier most providers are (one
//! read-only request, a compiled-in host or a host suffix for hosts taken from scanned text, a JSON body
//! marker required for `live`, status tables for dead and restricted), and the registry of every verifier.
//! Families live in submodules; AWS (SigV4) and GCP (RS256 JWT) have their own. No provider sends a request
//! that writes, spends money or runs a model.
use super::http::{host_matches_suffix, HttpRequest, HttpResponse};
use super::Outcome;
use base64::Engine;
use serde_json::Value;

pub mod ai;
pub mod aws;
pub mod azure;
pub mod gcp;
pub mod infra;
pub mod saas;
pub mod time;
pub mod vcs;

/// What a verifier decided to do for one credential.
#[derive(Debug)]
pub enum Plan {
    /// Decided offline (canary account, bad companion host, …): nothing is sent.
    Done(Outcome),
    Send(Box<HttpRequest>),
}

/// A verifier for one credential type.
pub trait Provider: Send + Sync {
    /// The name rules use in `verify = "…"`.
    fn name(&self) -> &'static str;
    /// The request, in words, for docs and `keysweep verify --list`.
    fn describe(&self) -> String;
    /// Hosts it may contact; `*.suffix` where the host comes from scanned text.
    fn egress(&self) -> Vec<String>;
    /// The role of the companion value it needs (`endpoint`, `host`, `username`, …), if any.
    fn companion_role(&self) -> Option<&'static str> {
        None
    }
    fn needs_companion(&self) -> bool {
        self.companion_role().is_some()
    }
    /// Whether another finding (its rule's `verify` value and its secret) is a companion of `secret`.
    fn accepts_companion(&self, _secret: &str, other_verify: &str, _other: &str) -> bool {
        match self.companion_role() {
            Some(role) => other_verify
                .split_once(':')
                .is_some_and(|(n, r)| n == self.name() && r == role),
            None => false,
        }
    }
    /// Whether the secret and its companion are two halves of one credential (AWS key ID and secret): both
    /// findings then share one check.
    fn symmetric_pair(&self) -> bool {
        false
    }
    /// Build the request (or decide offline).
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan;
    /// Judge the answer.
    fn judge(&self, resp: &HttpResponse) -> Outcome;
}

/// How the secret is presented.
#[derive(Debug, Clone, Copy)]
pub enum Auth {
    /// `Authorization: Bearer <k>`.
    Bearer,
    /// `<header>: <prefix><k>`.
    Header(&'static str, &'static str),
    /// `Authorization: Basic base64(<user>:<k>)`.
    Basic(&'static str),
}

/// Where the host comes from.
#[derive(Debug, Clone, Copy)]
pub enum Host {
    Fixed(&'static str),
    /// Taken from a companion value (role), accepted only under one of these suffixes.
    FromText(&'static str, &'static [&'static str]),
}

/// What a `live` body must hold.
#[derive(Debug, Clone, Copy)]
pub enum Marker {
    /// The JSON pointer exists and is not null.
    Key(&'static str),
    /// The JSON pointer equals this string.
    Eq(&'static str, &'static str),
    /// The JSON pointer is `true`.
    True(&'static str),
    /// The body is a JSON array.
    Array,
}

impl Marker {
    pub fn holds(&self, body: Option<&Value>) -> bool {
        let Some(v) = body else {
            return false;
        };
        match self {
            Marker::Key(p) => v.pointer(p).is_some_and(|x| !x.is_null()),
            Marker::Eq(p, want) => v.pointer(p).and_then(|x| x.as_str()) == Some(want),
            Marker::True(p) => v.pointer(p).and_then(|x| x.as_bool()) == Some(true),
            Marker::Array => v.is_array(),
        }
    }
}

/// A one-request verifier described by data.
#[derive(Debug, Clone)]
pub struct Simple {
    pub name: &'static str,
    pub host: Host,
    pub method: &'static str,
    pub path: &'static str,
    /// Body of a POST (never a write: a query, or the credential exchange).
    pub body: Option<&'static str>,
    pub auth: Auth,
    pub headers: &'static [(&'static str, &'static str)],
    pub marker: Marker,
    pub dead: &'static [u16],
    pub restricted: &'static [u16],
    /// Body substrings that turn an otherwise-dead status into `restricted` (missing scope or permission).
    pub restricted_if_body: &'static [&'static str],
    /// JSON pointers of a harmless identity (account, org or user name), first found wins.
    pub identity: &'static [&'static str],
}

impl Simple {
    pub const fn get(
        name: &'static str,
        host: &'static str,
        path: &'static str,
        auth: Auth,
        marker: Marker,
    ) -> Simple {
        Simple {
            name,
            host: Host::Fixed(host),
            method: "GET",
            path,
            body: None,
            auth,
            headers: &[],
            marker,
            dead: &[401, 403],
            restricted: &[],
            restricted_if_body: &[],
            identity: &[],
        }
    }
}

/// Outcome for the statuses every provider shares: 429, 5xx, 3xx and anything unexpected.
pub fn common_status(resp: &HttpResponse) -> Outcome {
    match resp.status {
        429 => Outcome {
            retry_after: Some(
                resp.retry_after()
                    .unwrap_or(std::time::Duration::from_secs(1)),
            ),
            ..Outcome::transient("rate limited (429)")
        },
        500..=599 => Outcome::transient(format!("server error {}", resp.status)),
        300..=399 => Outcome::unknown(format!("redirect {} not followed", resp.status)),
        s => Outcome::unknown(format!("unexpected status {s}")),
    }
}

/// First identity pointer that holds a short string or number.
pub fn identity(body: Option<&Value>, pointers: &[&str]) -> Option<String> {
    let v = body?;
    pointers.iter().find_map(|p| {
        let x = v.pointer(p)?;
        let s = match x {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(s.chars().take(120).collect())
    })
}

impl Provider for Simple {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> String {
        let host = match self.host {
            Host::Fixed(h) => h.to_string(),
            Host::FromText(role, _) => format!("<{role}>"),
        };
        let auth = match self.auth {
            Auth::Bearer => "Authorization: Bearer <key>".to_string(),
            Auth::Header(h, p) => format!("{h}: {p}<key>"),
            Auth::Basic(u) => format!("Authorization: Basic base64({u}:<key>)"),
        };
        let body = self.body.map(|b| format!(", body {b}")).unwrap_or_default();
        format!("{} https://{host}{} ({auth}{body})", self.method, self.path)
    }
    fn egress(&self) -> Vec<String> {
        match self.host {
            Host::Fixed(h) => vec![h.to_string()],
            Host::FromText(_, suffixes) => suffixes.iter().map(|s| format!("*.{s}")).collect(),
        }
    }
    fn companion_role(&self) -> Option<&'static str> {
        match self.host {
            Host::FromText(role, _) => Some(role),
            Host::Fixed(_) => None,
        }
    }
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan {
        if !header_safe(secret) {
            return not_header_safe();
        }
        let host = match self.host {
            Host::Fixed(h) => h.to_string(),
            Host::FromText(role, suffixes) => {
                let Some(h) = companion.map(normalize_host) else {
                    return Plan::Done(Outcome::unknown(format!("no {role} found")));
                };
                if !suffixes.iter().any(|s| host_matches_suffix(&h, s)) {
                    return Plan::Done(Outcome::unknown(format!(
                        "{role} {h:?} is not under an allowed domain ({}); not contacted",
                        suffixes.join(", ")
                    )));
                }
                h
            }
        };
        let mut req = HttpRequest {
            method: self.method,
            host,
            path: self.path.to_string(),
            headers: Vec::new(),
            body: self.body.map(|b| b.as_bytes().to_vec()),
            scrub: vec![secret.to_string()],
        };
        match self.auth {
            Auth::Bearer => req = req.header("Authorization", format!("Bearer {secret}")),
            Auth::Header(h, p) => req = req.header(h, format!("{p}{secret}")),
            Auth::Basic(u) => {
                let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{secret}"));
                req = req.header("Authorization", format!("Basic {b}")).scrub(b);
            }
        }
        for (k, v) in self.headers {
            req = req.header(k, *v);
        }
        Plan::Send(Box::new(req))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        let json = resp.json();
        match resp.status {
            200..=299 => {
                if self.marker.holds(json.as_ref()) {
                    Outcome::live(identity(json.as_ref(), self.identity))
                } else {
                    Outcome::unknown(format!("{} without the expected body marker", resp.status))
                }
            }
            s if self.restricted.contains(&s) => {
                Outcome::restricted(format!("{s}: live but lacking permission"))
            }
            s if self.dead.contains(&s) => {
                let lower = resp.body.to_ascii_lowercase();
                if self
                    .restricted_if_body
                    .iter()
                    .any(|m| lower.contains(&m.to_ascii_lowercase()))
                {
                    Outcome::restricted(format!("{s}: live but lacking permission"))
                } else {
                    Outcome::dead(format!("{s}"))
                }
            }
            _ => common_status(resp),
        }
    }
}

/// Whether a secret can be sent in a header: printable ASCII only (no CR/LF header injection, no control bytes).
pub fn header_safe(secret: &str) -> bool {
    !secret.is_empty() && secret.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// The offline outcome for a secret that cannot be sent in a header.
pub fn not_header_safe() -> Plan {
    Plan::Done(Outcome::unknown(
        "secret holds characters that cannot be sent in a header; not contacted",
    ))
}

/// A host value from scanned text: scheme, path, port and case removed.
pub fn normalize_host(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .unwrap_or(v);
    let v = v.split(['/', '?', '#']).next().unwrap_or("");
    v.trim_end_matches('.').to_ascii_lowercase()
}

/// Names rules may use for a verifier of another name.
pub const ALIASES: &[(&str, &str)] = &[("google-api-key", "gemini"), ("docker", "dockerhub")];

/// Verifier names rules use that keysweep deliberately does not verify online, with the reason.
pub const NOT_VERIFIED: &[(&str, &str)] = &[
    (
        "pypi",
        "PyPI has no read-only check (the only probe is an upload request, a write)",
    ),
    ("perplexity", "Perplexity has only a generation endpoint"),
    ("slack-webhook", "the only probe posts to the webhook"),
    ("azure-sas", "a GET on a SAS URL downloads data"),
    ("qdrant", "no confirmed read-only check for Qdrant Cloud"),
    ("comet", "no confirmed read-only check for Comet"),
    (
        "azure-entra",
        "Entra ID client-secret verification is not implemented yet",
    ),
];

/// The verifier that checks `secret` for a rule saying `verify = name`: aliases resolved, and key kinds
/// that need another endpoint routed to it (GitHub App installation tokens, OpenAI admin keys, LangSmith
/// service keys). `Err` says why the credential is not verified online.
pub fn route<'a>(name: &'a str, secret: &str) -> Result<&'a str, String> {
    if let Some((_, why)) = NOT_VERIFIED.iter().find(|(n, _)| *n == name) {
        return Err(why.to_string());
    }
    let name = ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, n)| *n)
        .unwrap_or(name);
    Ok(match name {
        "github" if secret.starts_with("ghs_") => "github-app",
        "github" if secret.starts_with("ghr_") => {
            return Err("GitHub refresh tokens are never exchanged to test them".into())
        }
        "openai" if secret.starts_with("sk-admin-") => "openai-admin",
        "langsmith" if secret.starts_with("lsv2_sk_") => "langsmith-service",
        n => n,
    })
}

/// A companion's `verify` value with its verifier alias resolved (`docker:username` → `dockerhub:username`).
pub fn canonical_companion(v: &str) -> std::borrow::Cow<'_, str> {
    match v.split_once(':') {
        Some((n, role)) => match ALIASES.iter().find(|(a, _)| *a == n) {
            Some((_, to)) => format!("{to}:{role}").into(),
            None => v.into(),
        },
        None => v.into(),
    }
}

/// Every verifier.
pub fn all() -> Vec<Box<dyn Provider>> {
    let mut v: Vec<Box<dyn Provider>> = Vec::new();
    for s in ai::simple()
        .into_iter()
        .chain(infra::simple())
        .chain(vcs::simple())
        .chain(saas::simple())
    {
        v.push(Box::new(s));
    }
    v.push(Box::new(saas::Slack));
    v.push(Box::new(vcs::DockerHub));
    v.push(Box::new(aws::Aws));
    v.push(Box::new(azure::AzureStorage));
    v.push(Box::new(gcp::GcpServiceAccount));
    v
}
