//! The one HTTP client every verifier uses, safe by construction: HTTPS only (rustls, compiled-in web PKI
//! roots), no redirects, no proxy from the environment, connect and overall timeouts, a response-size cap, a
//! hostname check that refuses IP literals in any spelling, and a resolver that resolves each name once,
//! refuses the whole name if any address is private, loopback, link-local, CGNAT, ULA, metadata, reserved,
//! unspecified or multicast, and hands ureq only the addresses it checked — so DNS rebinding cannot slip
//! between check and dial (the address classes are `keysweep_model::net`'s). Knows nothing of providers or
//! findings.
//!
//! The only ways to point it elsewhere (pinned test addresses, a test DNS hook, an extra test CA) exist in
//! `cfg(test)` builds only; the release binary has no flag or variable for it.
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest response body read; the rest is discarded.
pub const DEFAULT_MAX_BODY: usize = 256 << 10;

/// One request a verifier wants sent. `scrub` lists every string that must never be printed (the secret and
/// anything derived from it); `display` redacts them.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: &'static str,
    /// Host name (no port, no scheme). Must be a DNS name; IP literals are refused.
    pub host: String,
    /// Path and query, starting with `/`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub scrub: Vec<String>,
}

impl HttpRequest {
    pub fn get(host: impl Into<String>, path: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET",
            host: host.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            scrub: Vec::new(),
        }
    }
    pub fn post(host: impl Into<String>, path: impl Into<String>, body: Vec<u8>) -> Self {
        HttpRequest {
            method: "POST",
            body: Some(body),
            ..HttpRequest::get(host, path)
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    /// Never print `s` (nor, when it is long enough to matter, any part of the request containing it).
    pub fn scrub(mut self, s: impl Into<String>) -> Self {
        let s = s.into();
        if !s.is_empty() {
            self.scrub.push(s);
        }
        self
    }

    /// The request as text with every scrubbed string redacted, for `--verify-dry-run`.
    pub fn display(&self) -> String {
        let mut s = format!("{} https://{}{}", self.method, self.host, self.path);
        for (k, v) in &self.headers {
            s.push_str(&format!("\n    {k}: {v}"));
        }
        if let Some(b) = &self.body {
            s.push_str(&format!("\n    body: {}", String::from_utf8_lossy(b)));
        }
        scrub_text(&s, &self.scrub)
    }
}

/// Replace each scrubbed string (longest first) by its redacted form.
pub fn scrub_text(text: &str, scrub: &[String]) -> String {
    let mut list: Vec<&String> = scrub.iter().collect();
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for s in list {
        out = out.replace(s.as_str(), &keysweep_model::redact(s));
    }
    out
}

/// A response, body capped.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
    /// `Retry-After` in seconds (delta form only; an HTTP date counts as unknown and gets the default wait).
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

/// Why a request was not answered.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// Refused before any packet was sent (bad host, forbidden address). Never retried.
    Blocked(String),
    Timeout,
    Tls(String),
    Other(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Blocked(m) => write!(f, "blocked: {m}"),
            HttpError::Timeout => f.write_str("timeout"),
            HttpError::Tls(m) => write!(f, "TLS: {m}"),
            HttpError::Other(m) => write!(f, "{m}"),
        }
    }
}

pub use keysweep_model::net::forbidden_ip;

/// Whether `host` is a DNS name a verifier may contact: ASCII labels of letters, digits and `-`, at least two
/// labels, a final label that is not all digits — so no IPv4 in dotted, decimal, octal or hex spelling and no
/// IPv6 literal gets through.
pub fn valid_hostname(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let ok_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !labels.iter().all(ok_label) {
        return false;
    }
    let last = labels[labels.len() - 1];
    // A final label of digits (or 0x-hex) would make the whole thing an IPv4 spelling to some parsers.
    !(last.bytes().all(|b| b.is_ascii_digit())
        || (last.len() > 2 && last[..2].eq_ignore_ascii_case("0x")))
}

/// Whether `host` equals `suffix` or is a subdomain of it (`suffix` given without a leading dot).
pub fn host_matches_suffix(host: &str, suffix: &str) -> bool {
    let host = host.to_ascii_lowercase();
    valid_hostname(&host)
        && (host == suffix
            || (host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'))
}

/// Test-only DNS hook: `(host, port)` → addresses. Each call is one "DNS answer".
#[cfg(test)]
pub type DnsHook = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// The resolver given to ureq: resolve once, check every address, return only checked addresses.
struct GuardedResolver {
    #[cfg(test)]
    test: TestNet,
}

/// Test-only network overrides.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct TestNet {
    /// Exact host → address of a local mock server (bypasses the address check: this is the mock provider).
    pub pins: std::collections::HashMap<String, SocketAddr>,
    /// Replaces the system resolver for every other host (its answers are still checked).
    pub dns: Option<DnsHook>,
    /// Extra trusted root (the test CA), DER.
    pub root_der: Option<Vec<u8>>,
}

impl GuardedResolver {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        #[cfg(test)]
        if let Some(hook) = &self.test.dns {
            return hook(host, port);
        }
        (host, port).to_socket_addrs().map(|i| i.collect())
    }
}

impl ureq::Resolver for GuardedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let denied = |m: String| io::Error::new(io::ErrorKind::PermissionDenied, m);
        let (host, port) = netloc
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| denied(format!("bad address {netloc:?}")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        #[cfg(test)]
        if let Some(a) = self.test.pins.get(host) {
            return Ok(vec![*a]);
        }
        if !valid_hostname(host) {
            return Err(denied(format!("{host:?} is not a DNS name")));
        }
        let addrs = self.lookup(host, port)?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host}: no address"),
            ));
        }
        // Refuse the whole name if any answer is forbidden: no falling back to the private one.
        for a in &addrs {
            if let Some(why) = forbidden_ip(a.ip()) {
                return Err(denied(format!("{host} resolves to a {why} address")));
            }
        }
        // Backstop of test builds: never dial anything but loopback from a test, even if the check above broke.
        #[cfg(test)]
        if addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(denied(format!(
                "test build refuses to dial public address for {host}"
            )));
        }
        Ok(addrs)
    }
}

/// Options of the client.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_body: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// The guarded HTTPS client.
pub struct Client {
    agent: ureq::Agent,
    max_body: usize,
    #[cfg(test)]
    port_override: Option<u16>,
}

fn agent_builder(opts: &ClientOptions, tls: Arc<rustls::ClientConfig>) -> ureq::AgentBuilder {
    ureq::AgentBuilder::new()
        .https_only(true)
        .redirects(0)
        .try_proxy_from_env(false)
        .timeout_connect(opts.connect_timeout)
        .timeout(opts.timeout)
        .user_agent(concat!("keysweep/", env!("CARGO_PKG_VERSION"), " (verify)"))
        .tls_config(tls)
}

fn tls_config(extra_root: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots_certs());
    if let Some(der) = extra_root {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
            .map_err(|e| format!("test root: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn webpki_roots_certs() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

impl Client {
    /// The release client.
    pub fn new(opts: ClientOptions) -> Result<Client, String> {
        let agent = agent_builder(&opts, tls_config(None)?)
            .resolver(GuardedResolver {
                #[cfg(test)]
                test: TestNet::default(),
            })
            .build();
        Ok(Client {
            agent,
            max_body: opts.max_body,
            #[cfg(test)]
            port_override: None,
        })
    }

    /// Test-only: a client with mock pins, a DNS hook, a test CA and every request sent to `port`.
    #[cfg(test)]
    pub fn for_tests(opts: ClientOptions, net: TestNet, port: Option<u16>) -> Client {
        let tls = tls_config(net.root_der.as_deref()).expect("test TLS config");
        let agent = agent_builder(&opts, tls)
            .resolver(GuardedResolver { test: net })
            .build();
        Client {
            agent,
            max_body: opts.max_body,
            port_override: port,
        }
    }

    /// Send one request. Status codes (including 4xx/5xx) are answers, not errors.
    pub fn send(&self, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
        if !valid_hostname(&req.host) {
            return Err(HttpError::Blocked(format!(
                "{:?} is not an allowed host name",
                req.host
            )));
        }
        if !req.path.starts_with('/') {
            return Err(HttpError::Blocked("path must start with /".into()));
        }
        #[allow(unused_mut)]
        let mut authority = req.host.clone();
        #[cfg(test)]
        if let Some(p) = self.port_override {
            authority = format!("{}:{p}", req.host);
        }
        let url = format!("https://{authority}{}", req.path);
        let mut r = self.agent.request(req.method, &url);
        for (k, v) in &req.headers {
            r = r.set(k, v);
        }
        let result = match &req.body {
            Some(b) => r.send_bytes(b),
            None => r.call(),
        };
        let resp = match result {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
            Err(ureq::Error::Transport(t)) => return Err(classify(&t, &req.scrub)),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let mut buf = Vec::new();
        let mut reader = resp.into_reader().take(self.max_body as u64);
        if let Err(e) = reader.read_to_end(&mut buf) {
            if is_timeout(&e) {
                return Err(HttpError::Timeout);
            }
            return Err(HttpError::Other(scrub_text(
                &format!("reading body: {e}"),
                &req.scrub,
            )));
        }
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&buf).into_owned(),
        })
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) || e.to_string().contains("timed out")
}

fn classify(t: &ureq::Transport, scrub: &[String]) -> HttpError {
    use std::error::Error as _;
    let mut chain = vec![t.to_string()];
    let mut src = t.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::PermissionDenied {
                return HttpError::Blocked(scrub_text(&io.to_string(), scrub));
            }
            if is_timeout(io) {
                return HttpError::Timeout;
            }
        }
        chain.push(s.to_string());
        src = s.source();
    }
    let text = scrub_text(&chain.join(": "), scrub);
    if text.contains("timed out") || text.contains("Timeout") {
        HttpError::Timeout
    } else if text.contains("certificate") || text.contains("TLS") || text.contains("tls") {
        HttpError::Tls(text)
    } else {
        HttpError::Other(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_refuse_ip_spellings() {
        for h in [
            "127.0.0.1",
            "2130706433",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0x7f000001",
            "[::1]",
            "::1",
            "localhost",
            "a..b",
            "-a.com",
            "a.com:80",
            "user@a.com",
            "",
        ] {
            assert!(!valid_hostname(h), "{h:?} must be refused");
        }
        assert!(valid_hostname("api.openai.com"));
        assert!(valid_hostname("my-res.openai.azure.com"));
    }

    #[test]
    fn suffix_matching_is_label_aligned() {
        assert!(host_matches_suffix(
            "x.openai.azure.com",
            "openai.azure.com"
        ));
        assert!(host_matches_suffix(
            "X.OpenAI.Azure.com",
            "openai.azure.com"
        ));
        assert!(!host_matches_suffix(
            "evilopenai.azure.com",
            "openai.azure.com"
        ));
        assert!(!host_matches_suffix(
            "openai.azure.com.evil.com",
            "openai.azure.com"
        ));
        assert!(!host_matches_suffix("127.0.0.1", "openai.azure.com"));
    }

    #[test]
    fn display_redacts_secret_and_derived_values() {
        let r = HttpRequest::get("api.example.com", "/v1/x?key=SECRETVALUE123456")
            .header("Authorization", "Bearer SECRETVALUE123456")
            .scrub("SECRETVALUE123456");
        let d = r.display();
        assert!(!d.contains("SECRETVALUE123456"), "{d}");
        assert!(d.contains("GET https://api.example.com/v1/x?key="));
    }
}
