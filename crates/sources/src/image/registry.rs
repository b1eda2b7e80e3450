//! A small OCI distribution-API client (pull only) on blocking `ureq`: reference parsing, manifests and blobs
//! over `/v2/`, anonymous / bearer-token / basic auth with credentials from `~/.docker/config.json` (or
//! `$DOCKER_CONFIG/config.json`): `auths`, and the `credHelpers` / `credsStore` credential helpers, run only
//! when the registry asks for a login. Its agent is `keysweep_http`'s, the verifier's client's: rustls, no proxy
//! from the environment, no redirect followed by ureq, and a resolver that refuses, at dial time, loopback /
//! private / link-local / metadata addresses (`keysweep_model::net`) for every host but the registry the user
//! named and the `--insecure-registry` hosts (the `DialPolicy` here). On top of it: HTTPS only unless
//! `--insecure-registry` names the host; redirects followed by hand, each hop's scheme checked again and no
//! credentials sent off the registry's own host; a bearer `realm` must be HTTPS (or an insecure-named host) and
//! gets the Docker credentials only over HTTPS or on the registry's own host.
//! HTTP errors become messages naming the URL and status; nothing here scans.
use super::layout::BlobSource;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::Uri;

/// Media types asked for when fetching a manifest.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests and configs larger than this are refused.
pub const MAX_DOCUMENT: u64 = 16 << 20;

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// A `host[:port]` pattern from `--insecure-registry`; without a port it matches the host on any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    /// Parse `host`, `host:port`, `[v6]` or `[v6]:port`; anything with a scheme, path or user is refused.
    pub fn parse(s: &str) -> Result<HostPattern> {
        let bad = || {
            anyhow!(
                "--insecure-registry {s:?}: expected HOST or HOST:PORT (no scheme, path or image name)"
            )
        };
        if s.is_empty() || s.contains(['/', '@', '?', '#', ' ']) {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => return Err(bad()),
                None => (s, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
            None => None,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(HostPattern {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host
            .eq_ignore_ascii_case(host.trim_start_matches('[').trim_end_matches(']'))
            && self.port.is_none_or(|p| p == port)
    }
}

/// Scheme, host and port of an absolute `http(s)` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &str) -> Result<Origin> {
        let uri: Uri = url
            .parse()
            .map_err(|e| anyhow!("invalid URL {url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => bail!("{url:?} is not an http(s) URL"),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow!("{url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

/// Where the client may go: the registry the user named (any address; plain HTTP only if insecure-named) and
/// the `--insecure-registry` hosts (plain HTTP and any address). Every other host must be HTTPS on a public
/// address.
#[derive(Debug, Clone)]
struct Policy {
    /// `host:port` of the registry API.
    registry: (String, u16),
    insecure: Vec<HostPattern>,
}

impl Policy {
    fn insecure(&self, host: &str, port: u16) -> bool {
        self.insecure.iter().any(|p| p.matches(host, port))
    }

    /// Whether any address is allowed for this host (no address check at dial time).
    fn trusted(&self, host: &str, port: u16) -> bool {
        (self.registry.0.eq_ignore_ascii_case(host) && self.registry.1 == port)
            || self.insecure(host, port)
    }

    /// Refuse a URL whose scheme is plain HTTP on a host `--insecure-registry` does not name.
    fn check_scheme(&self, o: &Origin, url: &str) -> Result<()> {
        if !o.https && !self.insecure(&o.host, o.port) {
            bail!(
                "{url}: refusing plain HTTP to {}:{} (only hosts named by --insecure-registry may be reached \
                 without TLS)",
                o.host,
                o.port
            );
        }
        Ok(())
    }
}

/// The dial-time guard of the registry's agent (`keysweep_http`): the hosts the policy trusts may resolve to any
/// address; for every other host, every address the name resolves to must be public, and only the addresses
/// checked are dialled (no DNS rebinding between check and connect).
impl keysweep_http::DialPolicy for Policy {
    fn admit(&self, host: &str, port: u16) -> std::result::Result<keysweep_http::Dial, String> {
        Ok(if self.trusted(host, port) {
            keysweep_http::Dial::Exempt
        } else {
            keysweep_http::Dial::Check
        })
    }

    fn refusal(&self, host: &str, why: &str, ip: std::net::IpAddr) -> String {
        format!(
            "refused: {host} resolves to a {why} address ({ip}); only the registry named and hosts named by \
             --insecure-registry may be private"
        )
    }
}

/// Resolve a `Location` header against the URL it answered.
fn join_url(base: &str, location: &str) -> Result<String> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(location.to_string());
    }
    let scheme_end = base.find("://").ok_or_else(|| anyhow!("bad URL {base}"))? + 3;
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{}{rest}", &base[..scheme_end]));
    }
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        return Ok(format!("{}{location}", &base[..path_start]));
    }
    let path = base[path_start..].split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Ok(format!("{}{dir}{location}", &base[..path_start]))
}

/// A parsed image reference `host[:port]/repo[:tag][@sha256:…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry as written (`docker.io` for short names).
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let ok = d
                    .strip_prefix("sha256:")
                    .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                if !ok {
                    bail!("{s}: invalid digest {d:?} (expected sha256:<64 hex>)");
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, repo))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), repo.to_string())
            }
            Some(_) => ("docker.io".to_string(), name.to_string()),
            None => ("docker.io".to_string(), format!("library/{name}")),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
        if repository.is_empty() || !repository.chars().all(valid) {
            bail!("{s}: invalid repository name {repository:?}");
        }
        if let Some(t) = &tag {
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                bail!("{s}: invalid tag {t:?}");
            }
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag or digest to ask the registry for.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// Host the API is served on.
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

/// The Docker client configuration file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    Some(match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".docker")
            .join("config.json"),
    })
}

/// The keys a registry may be listed under in `auths` and `credHelpers`.
fn config_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == "docker.io" {
        keys.insert(0, "https://index.docker.io/v1/".to_string());
        keys.push("index.docker.io".to_string());
        keys.push("registry-1.docker.io".to_string());
    }
    keys
}

/// How long a credential helper may take to answer.
const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// What a helper prints when it holds nothing for the server (docker-credential-helpers'
/// `ErrCredentialsNotFound`).
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

/// Credentials for a registry, found as the Docker client finds them: the `credHelpers` entry for the
/// registry, else the `credsStore` helper, else (also when the helper holds nothing for the registry) the
/// config's `auths` (base64 `auth` of `user:password`, or `username` and `password`). A helper is the
/// program `docker-credential-<name>` on `PATH`, run as `get` with the server URL on standard input; it
/// answers `{"ServerURL","Username","Secret"}` (the docker-credential-helpers protocol). An identity token
/// (`Username` `<token>`) cannot answer a basic or token challenge here and counts as no credentials. A helper
/// that fails, hangs past `HELPER_TIMEOUT` or answers something else is an error naming the helper, never
/// quoting what it printed (it may hold the secret). No config file: no credentials.
pub fn docker_credentials(registry: &str) -> Result<Option<(String, String)>> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read(&path) else {
        return Ok(None);
    };
    let cfg: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|_| anyhow!("{}: not a JSON Docker configuration", path.display()))?;
    let keys = config_keys(registry);
    let helper = cfg
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| keys.iter().find_map(|k| h.get(k)?.as_str()))
        .or_else(|| cfg.get("credsStore").and_then(|s| s.as_str()))
        .filter(|name| !name.is_empty());
    if let Some(name) = helper {
        let server = if registry == "docker.io" {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        if let Some(found) = run_credential_helper(name, server)? {
            return Ok(Some(found));
        }
    }
    let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for k in keys {
        let Some(entry) = auths.get(&k) else { continue };
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                return Ok(Some((u.to_string(), p.to_string())));
            }
            continue;
        }
        let u = entry.get("username").and_then(|v| v.as_str());
        let p = entry.get("password").and_then(|v| v.as_str());
        if let (Some(u), Some(p)) = (u, p) {
            return Ok(Some((u.to_string(), p.to_string())));
        }
    }
    Ok(None)
}

/// Ask `docker-credential-<name>` for the credentials of `server` (see `docker_credentials`).
fn run_credential_helper(name: &str, server: &str) -> Result<Option<(String, String)>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("Docker config: credential helper {name:?} is not a plain program name");
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("running the Docker credential helper {program} (credHelpers/credsStore)")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // Closed when dropped: the helper reads the server URL to the end of its input.
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut out);
        }
        out
    });
    let deadline = std::time::Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {program}"))?
        {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{program} get for {server}: no answer within {} s",
                HELPER_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        if String::from_utf8_lossy(&out).trim() == HELPER_NOT_FOUND {
            return Ok(None);
        }
        bail!("{program} get for {server} failed ({status})");
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let answer: Answer = serde_json::from_slice(&out).map_err(|_| {
        anyhow!(
            "{program} get for {server}: the answer is not the credential helper protocol's JSON"
        )
    })?;
    if answer.username == "<token>" || answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some((answer.username, answer.secret)))
}

/// A pull client for one repository.
pub struct Registry {
    agent: ureq::Agent,
    base: String,
    /// Scheme, host and port of `base`: the only origin `Authorization` is sent to.
    origin: Origin,
    policy: Policy,
    pub reference: Reference,
    /// The Docker credentials for the registry, looked up (a credential helper run) at the first challenge.
    creds: std::sync::OnceLock<std::result::Result<Option<(String, String)>, String>>,
    /// The `Authorization` header value learned from a 401 challenge.
    auth: Mutex<Option<String>>,
}

impl Registry {
    /// A client for `reference`. `insecure` holds the `--insecure-registry` values: `HOST[:PORT]`, or empty for
    /// the registry of the reference itself (the flag given without a value).
    pub fn new(reference: Reference, insecure: &[String]) -> Result<Registry> {
        let api = reference.api_host().to_string();
        let mut patterns = Vec::new();
        for v in insecure {
            patterns.push(HostPattern::parse(if v.is_empty() { &api } else { v })?);
        }
        let probe = HostPattern::parse(&api)
            .with_context(|| format!("{}: invalid registry host", reference.registry))?;
        let insecure_self = patterns
            .iter()
            .any(|p| p.matches(&probe.host, probe.port.unwrap_or(80)));
        let scheme = if insecure_self { "http" } else { "https" };
        let base = format!("{scheme}://{api}");
        let origin = Origin::of(&base)?;
        let policy = Policy {
            registry: (origin.host.clone(), origin.port),
            insecure: patterns,
        };
        let agent = keysweep_http::agent(
            &keysweep_http::AgentOptions {
                user_agent: concat!("keysweep/", env!("CARGO_PKG_VERSION")),
                https_only: false,
                connect_timeout: Duration::from_secs(30),
                global_timeout: None,
                response_timeout: Some(Duration::from_secs(120)),
                read_timeout: Some(Duration::from_secs(120)),
                test_roots: None,
            },
            policy.clone(),
        );
        Ok(Registry {
            agent,
            base,
            origin,
            policy,
            reference,
            creds: std::sync::OnceLock::new(),
            auth: Mutex::new(None),
        })
    }

    /// The Docker credentials for the registry (see `docker_credentials`), looked up once.
    fn creds(&self) -> Result<Option<&(String, String)>> {
        self.creds
            .get_or_init(|| {
                docker_credentials(&self.reference.registry).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(|e| anyhow!("{}: {e}", self.reference.registry))
    }

    fn has_creds(&self) -> bool {
        self.creds().ok().flatten().is_some()
    }

    fn basic(&self) -> Result<Option<String>> {
        Ok(self.creds()?.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        }))
    }

    /// GET `/v2/<repo>/<path>`, answering one auth challenge and following redirects by hand (each hop checked
    /// again; credentials stay on the registry's origin). Non-2xx answers become errors.
    fn get(&self, path: &str, accept: Option<&str>) -> Result<ureq::Body> {
        let start = format!("{}/v2/{}/{path}", self.base, self.reference.repository);
        let mut url = start.clone();
        let mut challenged = false;
        let mut hops = 0;
        loop {
            let origin = Origin::of(&url)?;
            let home = origin == self.origin;
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            let auth = self.auth.lock().ok().and_then(|a| a.clone());
            if let (Some(a), true) = (&auth, home) {
                req = req.header("Authorization", a);
            }
            let resp = req.call().map_err(|e| {
                if url == start {
                    anyhow!("{url}: {e}")
                } else {
                    anyhow!("{start}: redirected to {url}: {e}")
                }
            })?;
            let status = resp.status().as_u16();
            if status == 401 && home && !challenged {
                challenged = true;
                let header = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let value = self.answer_challenge(&header, &url)?;
                if let Ok(mut a) = self.auth.lock() {
                    *a = Some(value);
                }
                continue;
            }
            if (200..300).contains(&status) {
                return Ok(resp.into_body());
            }
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| anyhow!("{url}: HTTP {status} redirect without a Location"))?;
                hops += 1;
                if hops > MAX_REDIRECTS {
                    bail!("{start}: more than {MAX_REDIRECTS} redirects");
                }
                let next = join_url(&url, location)?;
                let next_origin =
                    Origin::of(&next).with_context(|| format!("{start}: redirect refused"))?;
                self.policy
                    .check_scheme(&next_origin, &next)
                    .with_context(|| format!("{start}: redirect refused"))?;
                url = next;
                continue;
            }
            let detail = error_detail(resp.into_body());
            let hint = match status {
                401 | 403 if !self.has_creds() => {
                    format!(
                        " (no credentials for {} in the Docker config)",
                        self.reference.registry
                    )
                }
                401 | 403 => " (credentials refused)".to_string(),
                404 => " (not found)".to_string(),
                _ => String::new(),
            };
            bail!("{url}: HTTP {status}{hint}{detail}");
        }
    }

    /// Turn a `WWW-Authenticate` challenge into an `Authorization` header value.
    fn answer_challenge(&self, header: &str, url: &str) -> Result<String> {
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return self.basic()?.ok_or_else(|| {
                anyhow!(
                    "{url}: HTTP 401: the registry asks for a login and there are no credentials for {} in the Docker config",
                    self.reference.registry
                )
            });
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!("{url}: HTTP 401 with an unsupported authentication challenge {scheme:?}");
        }
        let params = parse_challenge(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("{url}: bearer challenge without realm"))?;
        let realm_origin = Origin::of(&realm)
            .with_context(|| format!("{url}: bearer challenge names an unusable token realm"))?;
        self.policy
            .check_scheme(&realm_origin, &realm)
            .with_context(|| format!("{url}: token realm refused"))?;
        // The Docker credentials go to the registry's own origin, or to a realm reached over HTTPS.
        let send_creds = realm_origin.https || realm_origin == self.origin;
        let mut req = self.agent.get(&realm);
        for (k, v) in &params {
            if k == "service" || k == "scope" {
                req = req.query(k, v);
            }
        }
        if !params.iter().any(|(k, _)| k == "scope") {
            req = req.query(
                "scope",
                format!("repository:{}:pull", self.reference.repository),
            );
        }
        if let (Some(b), true) = (self.basic()?, send_creds) {
            req = req.header("Authorization", b);
        }
        let resp = req
            .call()
            .map_err(|e| anyhow!("token endpoint {realm}: {e}"))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let hint = if !self.has_creds() {
                " (no credentials in the Docker config)"
            } else {
                " (credentials refused)"
            };
            bail!("token endpoint {realm}: HTTP {status}{hint}");
        }
        let mut text = Vec::new();
        resp.into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut text)
            .with_context(|| format!("token endpoint {realm}"))?;
        let v: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("token endpoint {realm}: answer is not JSON"))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| anyhow!("token endpoint {realm}: answer has no token"))?;
        Ok(format!("Bearer {token}"))
    }

    /// Fetch a manifest or index by tag or digest; returns its bytes and digest. When asked by digest, the
    /// content must match it.
    pub fn manifest(&self, reference: &str) -> Result<(Vec<u8>, String)> {
        let body = self.get(&format!("manifests/{reference}"), Some(MANIFEST_ACCEPT))?;
        let mut bytes = Vec::new();
        body.into_reader()
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading manifest {reference}"))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            bail!("manifest {reference} is larger than {MAX_DOCUMENT} bytes");
        }
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if reference.starts_with("sha256:") && reference != digest {
            bail!("manifest digest mismatch: asked for {reference}, content is {digest}");
        }
        Ok((bytes, digest))
    }
}

impl BlobSource for Registry {
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send + '_>> {
        let body = self.get(&format!("blobs/{key}"), None)?;
        Ok(Box::new(body.into_reader()))
    }
}

/// The registry's error document (`{"errors":[{"code","message"}]}`), shortened, as `: CODE message`.
fn error_detail(body: ureq::Body) -> String {
    let mut text = Vec::new();
    if body
        .into_reader()
        .take(64 << 10)
        .read_to_end(&mut text)
        .is_err()
    {
        return String::new();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return String::new();
    };
    let Some(e) = v.get("errors").and_then(|e| e.get(0)) else {
        return String::new();
    };
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    let s: String = format!(": {code} {msg}").chars().take(200).collect();
    s.trim_end().to_string()
}

/// Parse `realm="…",service="…",scope="…"`.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start_matches(',').trim();
        out.push((key.to_ascii_lowercase(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost/app@{d}")).unwrap();
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.reference(), d);
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.reference()),
            ("docker.io", "library/alpine", "latest")
        );
        let r = Reference::parse("bitnami/redis:7").unwrap();
        assert_eq!(r.repository, "bitnami/redis");
        assert!(Reference::parse("host.io/app@sha256:zz").is_err());
        assert!(Reference::parse("host.io/a b").is_err());
    }

    #[test]
    fn insecure_host_patterns() {
        let p = HostPattern::parse("127.0.0.1:5000").unwrap();
        assert!(p.matches("127.0.0.1", 5000));
        assert!(!p.matches("127.0.0.1", 5001));
        let any = HostPattern::parse("Registry.Local").unwrap();
        assert!(any.matches("registry.local", 443) && any.matches("registry.local", 5000));
        let v6 = HostPattern::parse("[::1]:5000").unwrap();
        assert!(v6.matches("[::1]", 5000) && v6.matches("::1", 5000));
        for bad in [
            "", "http://x", "x/app", "a:b:c", "x:port", "[::1", "user@x", ":5000",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn redirect_locations_join() {
        let base = "https://r.io/v2/app/blobs/sha256:ab?x=1";
        assert_eq!(
            join_url(base, "https://cdn.io/b").unwrap(),
            "https://cdn.io/b"
        );
        assert_eq!(join_url(base, "//cdn.io/b").unwrap(), "https://cdn.io/b");
        assert_eq!(
            join_url(base, "/v2/other").unwrap(),
            "https://r.io/v2/other"
        );
        assert_eq!(
            join_url(base, "c?d").unwrap(),
            "https://r.io/v2/app/blobs/c?d"
        );
        assert_eq!(join_url("http://h:1", "x").unwrap(), "http://h:1/x");
        let o = Origin::of("HTTP://Example.COM/x").unwrap();
        assert_eq!(
            (o.https, o.host.as_str(), o.port),
            (false, "example.com", 80)
        );
        assert!(Origin::of("file:///etc/passwd").is_err());
        assert!(Origin::of("ftp://x/").is_err());
    }

    #[test]
    fn policy_checks_scheme_and_trust() {
        let policy = Policy {
            registry: ("reg.io".into(), 443),
            insecure: vec![HostPattern::parse("127.0.0.1:5000").unwrap()],
        };
        let http_meta = Origin::of("http://169.254.169.254/").unwrap();
        assert!(policy.check_scheme(&http_meta, "u").is_err());
        let http_named = Origin::of("http://127.0.0.1:5000/").unwrap();
        assert!(policy.check_scheme(&http_named, "u").is_ok());
        let http_other_port = Origin::of("http://127.0.0.1:5001/").unwrap();
        assert!(policy.check_scheme(&http_other_port, "u").is_err());
        assert!(policy.trusted("reg.io", 443) && policy.trusted("127.0.0.1", 5000));
        assert!(!policy.trusted("127.0.0.1", 5001) && !policy.trusted("reg.io", 8443));
    }

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1].1, "registry.example");
        assert_eq!(p[2].1, "repository:a/b:pull");
    }
}
