//! A small OCI distribution-API client (pull only) on blocking `ureq` with rustls: reference parsing,
//! manifests and blobs over `/v2/`, anonymous / bearer-token / basic auth with credentials from
//! `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`), plain HTTP only with `--insecure-registry`.
//! HTTP errors become messages naming the URL and status; nothing here scans.
use super::layout::BlobSource;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Media types asked for when fetching a manifest.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests and configs larger than this are refused.
pub const MAX_DOCUMENT: u64 = 16 << 20;

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

/// Credentials for a registry from the Docker client configuration.
pub fn docker_credentials(registry: &str) -> Option<(String, String)> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".docker")
            .join("config.json"),
    };
    let text = std::fs::read(&path).ok()?;
    let cfg: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let auths = cfg.get("auths")?.as_object()?;
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
    for k in keys {
        let Some(entry) = auths.get(&k) else { continue };
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (u, p) = decoded.split_once(':')?;
            return Some((u.to_string(), p.to_string()));
        }
        let u = entry.get("username").and_then(|v| v.as_str());
        let p = entry.get("password").and_then(|v| v.as_str());
        if let (Some(u), Some(p)) = (u, p) {
            return Some((u.to_string(), p.to_string()));
        }
    }
    None
}

/// A pull client for one repository.
pub struct Registry {
    agent: ureq3::Agent,
    base: String,
    pub reference: Reference,
    creds: Option<(String, String)>,
    /// The `Authorization` header value learned from a 401 challenge.
    auth: Mutex<Option<String>>,
}

impl Registry {
    pub fn new(reference: Reference, insecure: bool) -> Registry {
        let config = ureq3::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .user_agent(concat!("keysweep/", env!("CARGO_PKG_VERSION")))
            .build();
        let scheme = if insecure { "http" } else { "https" };
        let base = format!("{scheme}://{}", reference.api_host());
        let creds = docker_credentials(&reference.registry);
        Registry {
            agent: ureq3::Agent::new_with_config(config),
            base,
            reference,
            creds,
            auth: Mutex::new(None),
        }
    }

    fn basic(&self) -> Option<String> {
        self.creds.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    /// GET `/v2/<repo>/<path>`, answering one auth challenge. Non-2xx answers become errors.
    fn get(&self, path: &str, accept: Option<&str>) -> Result<ureq3::Body> {
        let url = format!("{}/v2/{}/{path}", self.base, self.reference.repository);
        let mut challenged = false;
        loop {
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            let auth = self.auth.lock().ok().and_then(|a| a.clone());
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            let resp = req.call().map_err(|e| anyhow!("{url}: {e}"))?;
            let status = resp.status().as_u16();
            if status == 401 && !challenged {
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
            let detail = error_detail(resp.into_body());
            let hint = match status {
                401 | 403 if self.creds.is_none() => {
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
            return self.basic().ok_or_else(|| {
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
        if let Some(b) = self.basic() {
            req = req.header("Authorization", b);
        }
        let resp = req
            .call()
            .map_err(|e| anyhow!("token endpoint {realm}: {e}"))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let hint = if self.creds.is_none() {
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
fn error_detail(body: ureq3::Body) -> String {
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
    fn challenges_parse() {
        let p = parse_challenge(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1].1, "registry.example");
        assert_eq!(p[2].1, "repository:a/b:pull");
    }
}
