//! The one HTTP client every verifier uses, safe by construction: HTTPS only, on `keysweep_http`'s guarded agent
//! (rustls with the compiled-in web PKI roots, no redirects, no proxy from the environment, a resolver that
//! resolves each name once, refuses the whole name if any address is private, loopback, link-local, CGNAT, ULA,
//! metadata, reserved, unspecified or multicast, and hands ureq only the addresses it checked — so DNS rebinding
//! cannot slip between check and dial; the address classes are `keysweep_model::net`'s), with connect and
//! overall timeouts, a response-size cap and a hostname check that refuses IP literals in any spelling (this
//! module's `DialPolicy`). Knows nothing of providers or findings.
//!
//! The only ways to point it elsewhere (pinned test addresses, a test DNS hook, a test CA) exist in
//! `cfg(test)` builds only; the release binary has no flag or variable for it.
use keysweep_http::ureq;
use keysweep_http::{Dial, DialPolicy};
use std::io::{self, Read};
#[cfg(test)]
use std::net::{SocketAddr, ToSocketAddrs};
#[cfg(test)]
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

/// The verifier's dial-time guard, given to `keysweep_http::agent`: only DNS names, every address checked.
#[derive(Debug)]
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
    /// The trusted root instead of the web PKI's (the test CA), DER.
    pub root_der: Option<Vec<u8>>,
}

#[cfg(test)]
impl std::fmt::Debug for TestNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNet")
            .field("pins", &self.pins)
            .field("dns", &self.dns.is_some())
            .finish_non_exhaustive()
    }
}

impl DialPolicy for GuardedResolver {
    fn admit(&self, host: &str, _port: u16) -> Result<Dial, String> {
        #[cfg(test)]
        if self.test.pins.contains_key(host) {
            return Ok(Dial::Exempt);
        }
        if !valid_hostname(host) {
            return Err(format!("{host:?} is not a DNS name"));
        }
        Ok(Dial::Check)
    }

    fn refusal(&self, host: &str, why: &str, _ip: std::net::IpAddr) -> String {
        format!("{host} resolves to a {why} address")
    }

    /// Test builds: the pins, the DNS hook (or the system resolver), and a backstop that never lets a test dial
    /// anything but loopback, even if the address check broke.
    #[cfg(test)]
    fn lookup(&self, host: &str, port: u16) -> Option<io::Result<Vec<SocketAddr>>> {
        if let Some(a) = self.test.pins.get(host) {
            return Some(Ok(vec![*a]));
        }
        let addrs = match &self.test.dns {
            Some(hook) => hook(host, port),
            None => (host, port).to_socket_addrs().map(|i| i.collect()),
        };
        Some(addrs.and_then(|addrs| {
            // A forbidden answer is refused by the guard with its own reason; what the guard would let through
            // is refused here unless it is loopback.
            if addrs.iter().all(|a| forbidden_ip(a.ip()).is_none())
                && addrs.iter().any(|a| !a.ip().is_loopback())
            {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("test build refuses to dial public address for {host}"),
                ));
            }
            Ok(addrs)
        }))
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

fn agent_options(opts: &ClientOptions, test_root: Option<Vec<u8>>) -> keysweep_http::AgentOptions {
    keysweep_http::AgentOptions {
        user_agent: concat!("keysweep/", env!("CARGO_PKG_VERSION"), " (verify)"),
        https_only: true,
        connect_timeout: opts.connect_timeout,
        global_timeout: Some(opts.timeout),
        response_timeout: None,
        read_timeout: None,
        test_roots: test_root.map(|der| vec![der]),
    }
}

impl Client {
    /// The release client.
    pub fn new(opts: ClientOptions) -> Result<Client, String> {
        let agent = keysweep_http::agent(
            &agent_options(&opts, None),
            GuardedResolver {
                #[cfg(test)]
                test: TestNet::default(),
            },
        );
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
        let agent = keysweep_http::agent(
            &agent_options(&opts, net.root_der.clone()),
            GuardedResolver { test: net },
        );
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
        let mut r = ureq::http::Request::builder().method(req.method).uri(&url);
        for (k, v) in &req.headers {
            r = r.header(k.as_str(), v.as_str());
        }
        let result = match &req.body {
            Some(b) => r
                .body(b.as_slice())
                .map_err(|e| bad_request(&e, &req.scrub))
                .and_then(|r| self.agent.run(r).map_err(|e| classify(e, &req.scrub))),
            None => r
                .body(())
                .map_err(|e| bad_request(&e, &req.scrub))
                .and_then(|r| self.agent.run(r).map_err(|e| classify(e, &req.scrub))),
        };
        let resp = result?;
        let status = resp.status().as_u16();
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in resp.headers() {
            // One value per name, the first, as the header lookup reads it.
            if !headers.iter().any(|(k, _)| k == name.as_str()) {
                if let Ok(v) = value.to_str() {
                    headers.push((name.as_str().to_string(), v.to_string()));
                }
            }
        }
        let mut buf = Vec::new();
        let mut reader = resp.into_body().into_reader().take(self.max_body as u64);
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

/// A request the HTTP types refuse (a header value with a line break, …): nothing was sent.
fn bad_request(e: &ureq::http::Error, scrub: &[String]) -> HttpError {
    HttpError::Other(scrub_text(&format!("invalid request: {e}"), scrub))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) || e.to_string().contains("timed out")
        || e.get_ref()
            .and_then(|i| i.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}

fn classify(e: ureq::Error, scrub: &[String]) -> HttpError {
    use std::error::Error as _;
    match &e {
        ureq::Error::Timeout(_) => return HttpError::Timeout,
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => {
            return HttpError::Blocked(scrub_text(&io.to_string(), scrub))
        }
        ureq::Error::Io(io) if is_timeout(io) => return HttpError::Timeout,
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => {
            return HttpError::Tls(scrub_text(&e.to_string(), scrub))
        }
        _ => {}
    }
    let mut chain = vec![e.to_string()];
    let mut src = e.source();
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
    if text.contains("timed out") || text.contains("Timeout") || text.contains("timeout") {
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
