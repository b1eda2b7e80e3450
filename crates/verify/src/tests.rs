//! Tests of the verifier without the internet: a local HTTPS server (rustls, a test CA made here with rcgen)
//! stands in for the providers, reached only through `Client::for_tests` pins; an SSRF suite asserts that a
//! counting loopback listener is never contacted for findings pointing at private or loopback addresses.
use super::http::{Client, ClientOptions, HttpRequest, TestNet};
use super::providers::{aws, gcp, Plan};
use super::*;
use keysweep_model::{Finding, Location};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// One request the mock saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The mock's answer: status, extra headers, body, delay before answering.
struct Reply(u16, Vec<(&'static str, String)>, String, Duration);

fn reply(status: u16, body: &str) -> Reply {
    Reply(status, vec![], body.to_string(), Duration::ZERO)
}

type Handler = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A local HTTPS server with a certificate for `hosts`, signed by a CA made for this test.
struct Mock {
    addr: SocketAddr,
    ca_der: Vec<u8>,
    hosts: Vec<String>,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    fn start(hosts: &[&str], handler: Handler) -> Mock {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names.clone())
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let cfg = Arc::new(cfg);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (h2, s2) = (hits.clone(), seen.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let n = h2.fetch_add(1, Relaxed);
                let (cfg, seen, handler) = (cfg.clone(), s2.clone(), handler.clone());
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(cfg).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let Some(req) = read_request(&mut tls) else {
                        return;
                    };
                    seen.lock().unwrap().push(req.clone());
                    let Reply(status, headers, body, delay) = handler(&req, n);
                    std::thread::sleep(delay);
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = tls.write_all(out.as_bytes());
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        Mock {
            addr,
            ca_der: ca.der().to_vec(),
            hosts: names,
            hits,
            seen,
        }
    }

    fn client(&self, timeout: Duration) -> Client {
        let net = TestNet {
            pins: self.hosts.iter().map(|h| (h.clone(), self.addr)).collect(),
            dns: None,
            root_der: Some(self.ca_der.clone()),
        };
        let opts = ClientOptions {
            connect_timeout: timeout,
            timeout,
            ..ClientOptions::default()
        };
        Client::for_tests(opts, net, None)
    }

    fn hits(&self) -> usize {
        self.hits.load(Relaxed)
    }
}

fn read_request(s: &mut impl Read) -> Option<Seen> {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn fast_opts() -> VerifyOptions {
    VerifyOptions {
        concurrency: 4,
        retries: 2,
        max_wait: Duration::from_secs(5),
        min_interval: Duration::ZERO,
        backoff: Duration::from_millis(20),
        dry_run: false,
        client: ClientOptions::default(),
    }
}

fn finding(rule_id: &str, secret: &str, path: &str, line: u64) -> Finding {
    Finding {
        rule_id: rule_id.into(),
        rule_name: rule_id.into(),
        provider: "test".into(),
        category: "ai".into(),
        confidence: "high".into(),
        score: None,
        fingerprint: keysweep_model::fingerprint(rule_id, secret.as_bytes()),
        secret: secret.into(),
        redacted: false,
        entropy: 4.0,
        locations: vec![Location {
            source: "file".into(),
            path: path.into(),
            line,
            column: 1,
            byte_start: 0,
            byte_end: 1,
            ignored: false,
            meta: Default::default(),
        }],
        verification: None,
        description: None,
        rotation_url: None,
        triage: None,
    }
}

/// Rule id → verifier name for tests: the rule id *is* `verify.<name>` (or `verify.<name>:<role>`).
fn verify_of(id: &str) -> Option<String> {
    id.strip_prefix("verify.").map(str::to_string)
}

fn status(f: &Finding) -> &str {
    f.verification
        .as_ref()
        .map(|v| v.status.as_str())
        .unwrap_or("none")
}

fn detail(f: &Finding) -> String {
    f.verification
        .as_ref()
        .and_then(|v| v.detail.clone())
        .unwrap_or_default()
}

fn run(v: &Verifier, findings: &mut [Finding]) -> String {
    let mut dry = Vec::new();
    v.verify_all(findings, &verify_of, &mut dry);
    String::from_utf8(dry).unwrap()
}

/// OpenAI-like mock: the bearer token decides the answer.
fn openai_handler() -> Handler {
    Arc::new(|req: &Seen, _| {
        let auth = req.header("authorization").unwrap_or("");
        match auth.strip_prefix("Bearer ").unwrap_or("") {
            "sk-good-key-000000000000000000" => reply(200, r#"{"object":"list","data":[]}"#),
            "sk-bare-key-000000000000000000" => reply(200, r#"{"hello":"any string gets 200"}"#),
            "sk-html-key-000000000000000000" => reply(200, "<html>welcome</html>"),
            "sk-scope-key-00000000000000000" => reply(
                401,
                r#"{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: api.model.read"}}"#,
            ),
            _ => reply(401, r#"{"error":{"message":"Incorrect API key provided"}}"#),
        }
    })
}

#[test]
fn live_dead_restricted_and_body_marker_required() {
    let mock = Mock::start(&["api.openai.com", "api.stripe.com"], {
        let openai = openai_handler();
        Arc::new(move |req: &Seen, n| {
            if req.path == "/v1/account" {
                let auth = req.header("authorization").unwrap_or("");
                return if auth.ends_with("rk_live_restricted0000000") {
                    reply(403, r#"{"error":{"type":"permission_error"}}"#)
                } else {
                    reply(
                        200,
                        r#"{"object":"account","id":"acct_123","settings":{"dashboard":{"display_name":"Acme"}}}"#,
                    )
                };
            }
            openai(req, n)
        })
    });
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![
        finding("verify.openai", "sk-good-key-000000000000000000", "a.py", 1),
        finding("verify.openai", "sk-dead-key-000000000000000000", "a.py", 2),
        finding("verify.openai", "sk-bare-key-000000000000000000", "a.py", 3),
        finding("verify.openai", "sk-html-key-000000000000000000", "a.py", 4),
        finding("verify.openai", "sk-scope-key-00000000000000000", "a.py", 5),
        finding("verify.stripe", "rk_live_restricted0000000", "a.py", 6),
        finding("verify.stripe", "sk_live_fullaccess00000000", "a.py", 7),
        finding("no.verifier", "whatever", "a.py", 8),
        finding("verify.nonesuch", "whatever", "a.py", 9),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live");
    assert_eq!(status(&fs[1]), "dead");
    assert_eq!(status(&fs[2]), "unknown", "200 without marker is not live");
    assert!(detail(&fs[2]).contains("marker"));
    assert_eq!(status(&fs[3]), "unknown", "200 with HTML is not live");
    assert_eq!(status(&fs[4]), "restricted");
    assert_eq!(status(&fs[5]), "restricted");
    assert_eq!(status(&fs[6]), "live");
    assert_eq!(
        fs[6].verification.as_ref().unwrap().identity.as_deref(),
        Some("Acme")
    );
    assert!(fs[7].verification.is_none());
    assert_eq!(status(&fs[8]), "unknown");
    // Exactly one request per credential (live/dead/restricted are never retried).
    assert_eq!(mock.hits(), 7);
    // The request carried the provider's auth form and went to the right path.
    let seen = mock.seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|s| s.method == "GET" && (s.path == "/v1/models" || s.path == "/v1/account")));
}

#[test]
fn rate_limit_honours_retry_after_then_retries() {
    let mock = Mock::start(
        &["api.mistral.ai"],
        Arc::new(|_req: &Seen, n| {
            if n == 0 {
                Reply(
                    429,
                    vec![("Retry-After", "1".into())],
                    "{}".into(),
                    Duration::ZERO,
                )
            } else {
                reply(200, r#"{"object":"list","data":[]}"#)
            }
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![finding(
        "verify.mistral",
        "mistralkey0000000000000000000000",
        "m.py",
        1,
    )];
    let t = Instant::now();
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live");
    assert_eq!(mock.hits(), 2);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "Retry-After honoured"
    );
}

#[test]
fn retry_after_over_the_limit_leaves_unknown() {
    let mock = Mock::start(
        &["api.groq.com"],
        Arc::new(|_req: &Seen, _| {
            Reply(
                429,
                vec![("Retry-After", "3600".into())],
                "{}".into(),
                Duration::ZERO,
            )
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![finding("verify.groq", "gsk_x", "g.py", 1)];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "unknown");
    assert!(detail(&fs[0]).contains("429"), "{}", detail(&fs[0]));
    assert_eq!(mock.hits(), 1);
}

#[test]
fn server_errors_retry_then_unknown_and_timeouts_are_unknown() {
    let mock = Mock::start(
        &["api.cohere.com", "api.deepseek.com"],
        Arc::new(|req: &Seen, _| {
            if req.path == "/models" {
                Reply(200, vec![], "{}".into(), Duration::from_millis(1500))
            } else {
                reply(503, "unavailable")
            }
        }),
    );
    let mut opts = fast_opts();
    opts.retries = 1;
    let v = Verifier::for_tests(opts, mock.client(Duration::from_millis(400)));
    let mut fs = vec![
        finding("verify.cohere", "coherekey", "c.py", 1),
        finding("verify.deepseek", "sk-deepseek", "c.py", 2),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "unknown");
    assert!(detail(&fs[0]).contains("503"));
    assert_eq!(status(&fs[1]), "unknown");
    assert!(detail(&fs[1]).contains("timeout"), "{}", detail(&fs[1]));
    // 503: first try + one retry; timeout: first try + one retry.
    assert_eq!(mock.hits(), 4);
}

#[test]
fn redirects_are_not_followed() {
    let mock = Mock::start(
        &["huggingface.co"],
        Arc::new(|_req: &Seen, _| {
            Reply(
                302,
                vec![("Location", "https://127.0.0.1/latest/meta-data/".into())],
                String::new(),
                Duration::ZERO,
            )
        }),
    );
    let mut opts = fast_opts();
    opts.retries = 0;
    let v = Verifier::for_tests(opts, mock.client(Duration::from_secs(5)));
    let mut fs = vec![finding("verify.huggingface", "hf_abc", "h.py", 1)];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "unknown");
    assert!(detail(&fs[0]).contains("redirect"));
    assert_eq!(mock.hits(), 1);
}

#[test]
fn one_request_per_credential_per_run() {
    let mock = Mock::start(&["api.openai.com"], openai_handler());
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let good = "sk-good-key-000000000000000000";
    // The same key found by two rules (two fingerprints) and in two files.
    let mut fs = vec![
        finding("verify.openai", good, "a.py", 1),
        finding("verify.openai", good, "b.py", 9),
    ];
    fs[1].rule_id = "verify.openai".into();
    run(&v, &mut fs);
    assert_eq!(mock.hits(), 1);
    // A later batch in the same run hits the cache.
    let mut again = vec![finding("verify.openai", good, "c.py", 1)];
    run(&v, &mut again);
    assert_eq!(mock.hits(), 1);
    assert!(fs.iter().chain(&again).all(|f| status(f) == "live"));
}

#[test]
fn dry_run_prints_redacted_requests_and_sends_nothing() {
    let mock = Mock::start(&["api.openai.com", "api.github.com"], openai_handler());
    let mut opts = fast_opts();
    opts.dry_run = true;
    let v = Verifier::for_tests(opts, mock.client(Duration::from_secs(5)));
    let key = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij";
    let gh = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let mut fs = vec![
        finding("verify.openai", key, "a.py", 1),
        finding("verify.github", gh, "a.py", 2),
    ];
    let out = run(&v, &mut fs);
    assert_eq!(mock.hits(), 0);
    assert!(
        out.contains("GET https://api.openai.com/v1/models"),
        "{out}"
    );
    assert!(out.contains("GET https://api.github.com/user"), "{out}");
    assert!(!out.contains(key) && !out.contains(gh), "{out}");
    assert!(!out.contains("ABCDEFGHIJKLMNOP"), "{out}");
    assert!(out.contains("Bearer sk-proj-"), "{out}");
    assert!(out.contains("*****"), "{out}");
    assert!(fs.iter().all(|f| detail(f).contains("dry run")));
}

#[test]
fn companion_host_from_the_same_file_is_used_and_checked() {
    let mock = Mock::start(
        &["myres.openai.azure.com"],
        Arc::new(|req: &Seen, _| {
            if req.header("api-key") == Some("0123456789abcdef0123456789abcdef") {
                reply(200, r#"{"object":"list","data":[]}"#)
            } else {
                reply(401, "{}")
            }
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let key = "0123456789abcdef0123456789abcdef";
    let mut fs = vec![
        finding("verify.azure-openai", key, "app/.env", 3),
        finding(
            "verify.azure-openai:endpoint",
            "https://myres.openai.azure.com/",
            "app/.env",
            2,
        ),
        // Same key shape elsewhere with no endpoint in its file.
        finding(
            "verify.azure-openai",
            "fedcba9876543210fedcba9876543210",
            "other.env",
            1,
        ),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live");
    assert!(fs[1].verification.is_none(), "companions are not verified");
    assert_eq!(status(&fs[2]), "unknown");
    assert!(detail(&fs[2]).contains("endpoint"));
    assert_eq!(mock.hits(), 1);
    let seen = mock.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/openai/models?api-version=2024-10-21");
}

/// A plain TCP listener that counts connections: the SSRF target.
fn counting_listener(addr: &str) -> Option<(SocketAddr, Arc<AtomicUsize>)> {
    let l = TcpListener::bind(addr).ok()?;
    let a = l.local_addr().ok()?;
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            n2.fetch_add(1, Relaxed);
            drop(s);
        }
    });
    Some((a, n))
}

#[test]
fn ssrf_private_and_loopback_targets_are_never_contacted() {
    let (v4, count4) = counting_listener("127.0.0.1:0").unwrap();
    let v6 = counting_listener("[::1]:0");
    let port = v4.port();
    let v6_addr: SocketAddr = v6
        .as_ref()
        .map(|(a, _)| *a)
        .unwrap_or_else(|| format!("[::1]:{port}").parse().unwrap());
    let lookups = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let l2 = lookups.clone();
    let sock = move |ip: &str, p: u16| SocketAddr::new(ip.parse().unwrap(), p);
    // Test DNS: names under allowed suffixes that answer with forbidden addresses (on the listener's port,
    // so a broken check would show up as a connection).
    let dns: super::http::DnsHook = Arc::new(move |host: &str, p: u16| {
        let n = {
            let mut m = l2.lock().unwrap();
            let e = m.entry(host.to_string()).or_default();
            *e += 1;
            *e
        };
        let label = host.split('.').next().unwrap_or("");
        Ok(match label {
            "loop" => vec![sock("127.0.0.1", p)],
            "ten" => vec![sock("10.0.0.1", p)],
            "meta" => vec![sock("169.254.169.254", p)],
            "cgnat" => vec![sock("100.64.1.1", p)],
            "six" => vec![v6_addr],
            "ula" => vec![sock("fd00::1", p)],
            "mapped" => vec![sock("::ffff:127.0.0.1", p)],
            // Public first and private after: a resolver that checked and then resolved again to dial
            // would connect to the listener on the second answer.
            "rebind" if n == 1 => vec![sock("93.184.216.34", p)],
            "rebind" => vec![sock("127.0.0.1", p)],
            // Public and private in one answer: the private one must not be a fallback.
            "mixed" => vec![sock("127.0.0.1", p), sock("93.184.216.34", p)],
            _ => vec![],
        })
    });
    let net = TestNet {
        pins: HashMap::new(),
        dns: Some(dns),
        root_der: None,
    };
    let client = Client::for_tests(ClientOptions::default(), net, Some(port));
    let v = Verifier::for_tests(fast_opts(), client);
    let key = "0123456789abcdef0123456789abcdef";
    let mut fs = Vec::new();
    let endpoints = [
        // Hosts from scanned text that are not under the provider's suffix.
        "127.0.0.1",
        "https://127.0.0.1:8443/",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "[::1]",
        "10.0.0.1",
        "169.254.169.254",
        "localhost",
        "openai.azure.com.attacker.example",
        // Names under the suffix whose answers are forbidden.
        "loop.openai.azure.com",
        "ten.openai.azure.com",
        "meta.openai.azure.com",
        "cgnat.openai.azure.com",
        "six.openai.azure.com",
        "ula.openai.azure.com",
        "mapped.openai.azure.com",
        "rebind.openai.azure.com",
        "mixed.cognitiveservices.azure.com",
    ];
    for (i, e) in endpoints.iter().enumerate() {
        let path = format!("f{i}.env");
        fs.push(finding("verify.azure-openai", key, &path, 1));
        fs.push(finding("verify.azure-openai:endpoint", e, &path, 2));
    }
    // Databricks workspace host in an IP spelling.
    fs.push(finding(
        "verify.databricks",
        "dapi0123456789abcdef0123456789abcdef",
        "d.cfg",
        1,
    ));
    fs.push(finding("verify.databricks:host", "0177.0.0.1", "d.cfg", 2));
    run(&v, &mut fs);
    for f in fs.iter().filter(|f| !f.rule_id.contains(':')) {
        assert_eq!(
            status(f),
            "unknown",
            "{}: {}",
            f.locations[0].path,
            detail(f)
        );
        assert!(
            detail(f).contains("not contacted"),
            "{}: {}",
            f.locations[0].path,
            detail(f)
        );
    }
    assert_eq!(count4.load(Relaxed), 0, "loopback listener was contacted");
    if let Some((_, c6)) = &v6 {
        assert_eq!(c6.load(Relaxed), 0, "[::1] listener was contacted");
    }
    // The rebinding name was resolved exactly once: the answer checked is the answer dialled.
    assert_eq!(
        lookups.lock().unwrap().get("rebind.openai.azure.com"),
        Some(&1)
    );
    // Blocked requests are not retried.
    assert_eq!(
        lookups.lock().unwrap().get("loop.openai.azure.com"),
        Some(&1)
    );
    // The IP spellings never reached DNS at all.
    assert!(lookups
        .lock()
        .unwrap()
        .keys()
        .all(|h| h.ends_with(".azure.com")));
    // And the client itself refuses IP literals whatever a provider asks.
    for host in [
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "[::1]",
        "169.254.169.254",
    ] {
        let r = super::http::Client::for_tests(
            ClientOptions::default(),
            TestNet::default(),
            Some(port),
        )
        .send(&HttpRequest::get(host, "/"));
        assert!(matches!(r, Err(HttpError::Blocked(_))), "{host}: {r:?}");
    }
    assert_eq!(count4.load(Relaxed), 0);
}

#[test]
fn aws_account_decoding_canaries_and_pairing() {
    // Published example: this key ID belongs to account 609629065308.
    assert_eq!(
        aws::account_id("ASIAY34FZKBOKMUTVV7A").as_deref(), // keysweep:allow (AWS documentation sample id)
        Some("609629065308")
    );
    assert_eq!(aws::account_id("AKIAIOSFODNN7EXAMPLE"), None, "old format");
    // The older `A3T` + alnum prefix is a key ID too, with no decodable account.
    let a3t = "A3T9QLZ2MV4XRB7KDN5C"; // keysweep:allow (synthetic)
    assert!(aws::is_key_id(a3t));
    assert_eq!(aws::account_id(a3t), None);
    assert!(!aws::is_key_id("A3Tq5LZ2MV4XRB7KDN5C"));
    // A key ID of a Thinkst canary account, built here.
    let canary = key_id_for_account(717712589309);
    assert_eq!(aws::account_id(&canary).as_deref(), Some("717712589309"));
    let live_id = key_id_for_account(123456789012);
    let secret = "abcdEFGHijklMNOPqrstUVWXyz0123456789ABCD";
    let mock = Mock::start(
        &[aws::STS_HOST],
        Arc::new(|req: &Seen, _| {
            let auth = req.header("authorization").unwrap_or("");
            assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="), "{auth}");
            assert!(req.header("x-amz-date").is_some());
            reply(
                200,
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci</Arn><UserId>AIDAX</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>",
            )
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![
        finding("verify.aws", &live_id, "creds", 1),
        finding("verify.aws", secret, "creds", 2),
        finding("verify.aws", &canary, "canary/creds", 1),
        finding(
            "verify.aws",
            "zyxwVUTSrqpoNMLKjihgFEDCba9876543210abcd",
            "canary/creds",
            2,
        ),
        finding("verify.aws", &key_id_for_account(222222222222), "lonely", 1),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live");
    assert_eq!(
        fs[0].verification.as_ref().unwrap().identity.as_deref(),
        Some("arn:aws:iam::123456789012:user/ci")
    );
    assert_eq!(
        status(&fs[1]),
        "live",
        "the secret shares the pair's outcome"
    );
    assert_eq!(status(&fs[2]), "unknown");
    assert!(detail(&fs[2]).contains("canary"));
    assert_eq!(status(&fs[3]), "unknown");
    assert_eq!(status(&fs[4]), "unknown");
    assert_eq!(
        mock.hits(),
        1,
        "one request for the pair, none for the canary"
    );
}

/// Encode an account id into an AKIA key ID (the inverse of the offline decoding).
fn key_id_for_account(acct: u64) -> String {
    let first6 = (acct << 7) | (1 << 47) | 0x15;
    let bits: u128 = ((first6 as u128) << 32) | 0x1234_5678;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::from("AKIA");
    for i in (0..16).rev() {
        s.push(alphabet[((bits >> (i * 5)) & 31) as usize] as char);
    }
    s
}

#[test]
fn sigv4_matches_the_aws_test_suite() {
    // AWS SigV4 test suite, "get-vanilla" (documentation credentials, not a real key).
    let auth = aws::sigv4_authorization(
        "GET",
        "example.amazonaws.com",
        "/",
        "",
        b"",
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        "service",
        "20150830T123600Z",
    );
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    assert_eq!(aws::amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(aws::amz_date(0), "19700101T000000Z");
    assert_eq!(aws::amz_date(951_782_400), "20000229T000000Z");
}

/// A throwaway RSA key made at test time with the openssl CLI (ring cannot generate RSA keys).
fn test_rsa_pem() -> Option<String> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn gcp_service_account_signs_an_assertion_for_the_fixed_token_host() {
    let pem =
        test_rsa_pem().expect("openssl CLI is needed to make a test RSA key (scripts/setup.sh)");
    let email = "ci-bot@my-project.iam.gserviceaccount.com";
    let bare_body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(|l| format!("{l}\\n"))
        .collect();
    let key_file = serde_json::json!({
        "type": "service_account", "client_email": email, "private_key": pem,
        "token_uri": "https://127.0.0.1/token",
    })
    .to_string();
    let mock = Mock::start(
        &[gcp::TOKEN_HOST],
        Arc::new(move |req: &Seen, _| {
            let assertion = req
                .body
                .split('&')
                .find_map(|kv| kv.strip_prefix("assertion="))
                .unwrap_or("");
            let parts: Vec<&str> = assertion.split('.').collect();
            let claims = parts.get(1).and_then(|p| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
            });
            let claims: serde_json::Value = claims
                .and_then(|c| serde_json::from_slice(&c).ok())
                .unwrap_or_default();
            if req.path == "/token"
                && parts.len() == 3
                && claims["iss"] == "ci-bot@my-project.iam.gserviceaccount.com"
                && req
                    .body
                    .contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
            {
                reply(
                    200,
                    r#"{"access_token":"ya29.discarded","expires_in":3599}"#,
                )
            } else {
                reply(400, r#"{"error":"invalid_grant"}"#)
            }
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![
        finding("verify.gcp-service-account", &key_file, "sa.json", 1),
        // PEM alone, e-mail from a companion rule in the same file.
        finding(
            "verify.gcp-service-account",
            &pem.replace('\n', "\\n"),
            "nb.ipynb",
            5,
        ),
        finding(
            "verify.gcp-service-account:email",
            "other@my-project.iam.gserviceaccount.com",
            "nb.ipynb",
            4,
        ),
        // The bare PEM body as the catalogue's rule captures it (JSON-escaped newlines), e-mail companion.
        finding("verify.gcp-service-account", &bare_body, "key.json", 9),
        finding("verify.gcp-service-account:email", email, "key.json", 3),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live", "{}", detail(&fs[0]));
    assert_eq!(status(&fs[1]), "dead", "{}", detail(&fs[1]));
    assert_eq!(status(&fs[3]), "live", "{}", detail(&fs[3]));
    assert_eq!(mock.hits(), 3);
    // The token host is the fixed one even though the file names another.
    match GcpPlan::plan(&key_file) {
        Plan::Send(req) => {
            assert_eq!(req.host, gcp::TOKEN_HOST);
            assert!(!req.display().contains("BEGIN PRIVATE KEY"));
        }
        Plan::Done(o) => panic!("{o:?}"),
    }
}

struct GcpPlan;
impl GcpPlan {
    fn plan(secret: &str) -> Plan {
        use super::providers::Provider;
        gcp::GcpServiceAccount.plan(secret, None)
    }
}

#[test]
fn coverage_and_egress_hosts() {
    let all = providers::all();
    assert!(all.len() >= 30, "{} verifiers", all.len());
    let names: Vec<&str> = all.iter().map(|p| p.name()).collect();
    for n in [
        "openai",
        "anthropic",
        "huggingface",
        "cohere",
        "gemini",
        "mistral",
        "groq",
        "replicate",
        "together",
        "deepseek",
        "xai",
        "openrouter",
        "fireworks",
        "pinecone",
        "langsmith",
        "wandb",
        "elevenlabs",
        "deepgram",
        "azure-openai",
        "databricks",
        "aws",
        "gcp-service-account",
        "github",
        "gitlab",
        "slack",
        "stripe",
        "npm",
        "dockerhub",
    ] {
        assert!(names.contains(&n), "missing verifier {n}");
    }
    let mut uniq = names.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), names.len(), "verifier names are unique");
    let hosts = egress_hosts();
    for h in &hosts {
        let bare = h.strip_prefix("*.").unwrap_or(h);
        assert!(super::http::valid_hostname(bare), "{h}");
    }
    for h in [
        "api.openai.com",
        "sts.amazonaws.com",
        "*.openai.azure.com",
        "*.azuredatabricks.net",
    ] {
        assert!(hosts.iter().any(|x| x == h), "{h} missing from {hosts:?}");
    }
    // Nothing that writes, spends or generates.
    for p in &all {
        let d = p.describe();
        for bad in [
            "completions",
            "/messages",
            "embeddings",
            "predictions",
            "upload",
            "revoke",
        ] {
            assert!(!d.contains(bad), "{}: {d}", p.name());
        }
    }
}

#[test]
fn concurrency_is_bounded_and_provider_spacing_applies() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let (a, b) = (in_flight.clone(), max_seen.clone());
    let mock = Mock::start(
        &["api.groq.com"],
        Arc::new(move |_req: &Seen, _| {
            let now = a.fetch_add(1, Relaxed) + 1;
            b.fetch_max(now, Relaxed);
            std::thread::sleep(Duration::from_millis(150));
            a.fetch_sub(1, Relaxed);
            reply(200, r#"{"object":"list","data":[]}"#)
        }),
    );
    let mut opts = fast_opts();
    opts.concurrency = 2;
    opts.min_interval = Duration::from_millis(30);
    let v = Verifier::for_tests(opts, mock.client(Duration::from_secs(5)));
    let mut fs: Vec<Finding> = (0..6)
        .map(|i| finding("verify.groq", &format!("gsk_key{i}"), "g.py", i))
        .collect();
    let t = Instant::now();
    run(&v, &mut fs);
    assert!(fs.iter().all(|f| status(f) == "live"));
    assert_eq!(mock.hits(), 6);
    assert!(
        max_seen.load(Relaxed) <= 2,
        "max in flight {}",
        max_seen.load(Relaxed)
    );
    // 6 requests, 2 at a time, 150 ms each: at least 3 rounds.
    assert!(t.elapsed() >= Duration::from_millis(440));
}

#[test]
fn catalogue_names_are_routed_and_unverifiable_kinds_say_why() {
    use super::providers::route;
    assert_eq!(route("github", "ghp_x"), Ok("github"));
    assert_eq!(route("github", "ghs_x"), Ok("github-app"));
    assert!(route("github", "ghr_x").is_err());
    assert_eq!(route("openai", "sk-admin-x"), Ok("openai-admin"));
    assert_eq!(route("openai", "sk-proj-x"), Ok("openai"));
    assert_eq!(route("langsmith", "lsv2_sk_x"), Ok("langsmith-service"));
    assert_eq!(route("google-api-key", "AIza"), Ok("gemini"));
    assert_eq!(route("docker", "dckr_pat_x"), Ok("dockerhub"));
    assert!(route("pypi", "pypi-x").unwrap_err().contains("write"));
    let mock = Mock::start(
        &["hub.docker.com", "api.github.com"],
        Arc::new(|req: &Seen, _| {
            if req.path == "/v2/auth/token" {
                let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
                if body["identifier"] == "ci-user" && body["secret"] == "dckr_pat_abc" {
                    return reply(200, r#"{"access_token":"jwt.discarded"}"#);
                }
                return reply(401, "{}");
            }
            if req.path.starts_with("/installation/repositories") {
                return reply(200, r#"{"total_count":3,"repositories":[]}"#);
            }
            reply(401, "{}")
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![
        finding("verify.docker", "dckr_pat_abc", "ci.yml", 5),
        finding("verify.docker:username", "ci-user", "ci.yml", 4),
        finding("verify.github", "ghs_installation", "ci.yml", 6),
        finding("verify.github", "ghr_refresh", "ci.yml", 7),
        finding("verify.pypi", "pypi-AgEIcHlwaS5vcmc", "ci.yml", 8),
        finding(
            "verify.aws",
            "IQoJb3JpZ2luX2VjSessionTokenOnly",
            "ci.yml",
            9,
        ),
        finding(
            "verify.aws",
            &key_id_for_account(123456789012),
            "ci.yml",
            10,
        ),
        // Header injection through a permissive rule's capture.
        finding("verify.openai", "sk-x\r\nHost: evil.example", "ci.yml", 11),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[7]), "unknown");
    assert!(detail(&fs[7]).contains("header"), "{}", detail(&fs[7]));
    assert_eq!(status(&fs[0]), "live", "{}", detail(&fs[0]));
    assert_eq!(
        status(&fs[2]),
        "live",
        "ghs_ goes to the installation endpoint"
    );
    assert_eq!(status(&fs[3]), "unknown");
    assert_eq!(status(&fs[4]), "unknown");
    assert!(detail(&fs[4]).contains("read-only"));
    // A session token is neither half of a key pair: the key ID stays unpaired, nothing is sent for either.
    assert_eq!(status(&fs[5]), "unknown");
    assert_eq!(status(&fs[6]), "unknown");
    assert!(detail(&fs[6]).contains("secret key"), "{}", detail(&fs[6]));
    assert_eq!(mock.hits(), 2);
}

#[test]
fn azure_storage_shared_key_with_account_companion() {
    use super::providers::azure;
    assert_eq!(azure::rfc1123(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    let key_b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
    let mock = Mock::start(
        &["mystore.blob.core.windows.net"],
        Arc::new(|req: &Seen, _| {
            let auth = req.header("authorization").unwrap_or("");
            if req.path == "/?comp=list"
                && auth.starts_with("SharedKey mystore:")
                && req.header("x-ms-version").is_some()
                && req.header("x-ms-date").is_some_and(|d| d.ends_with(" GMT"))
            {
                reply(200, "<?xml version=\"1.0\"?><EnumerationResults ServiceEndpoint=\"x\"><Containers/></EnumerationResults>")
            } else {
                reply(403, "<Error><Code>AuthenticationFailed</Code></Error>")
            }
        }),
    );
    let v = Verifier::for_tests(fast_opts(), mock.client(Duration::from_secs(5)));
    let mut fs = vec![
        finding("verify.azure-storage", &key_b64, "conn.txt", 1),
        finding("verify.azure-storage:account", "mystore", "conn.txt", 1),
        finding("verify.azure-storage", &key_b64, "bad.txt", 1),
        finding(
            "verify.azure-storage:account",
            "My.Store/../x",
            "bad.txt",
            1,
        ),
    ];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "live", "{}", detail(&fs[0]));
    assert_eq!(status(&fs[2]), "unknown");
    assert!(detail(&fs[2]).contains("not contacted"));
    assert_eq!(mock.hits(), 1);
}

#[test]
fn tls_failures_and_oversized_bodies_are_unknown() {
    let big = format!(r#"{{"pad":"{}","data":[]}}"#, "x".repeat(8192));
    let mock = Mock::start(
        &["api.mistral.ai"],
        Arc::new(move |_req: &Seen, _| reply(200, &big)),
    );
    // A client that does not trust the test CA: the handshake fails, nothing is judged.
    let untrusting = Client::for_tests(
        ClientOptions::default(),
        TestNet {
            pins: [("api.mistral.ai".to_string(), mock.addr)]
                .into_iter()
                .collect(),
            dns: None,
            root_der: None,
        },
        None,
    );
    let v = Verifier::for_tests(fast_opts(), untrusting);
    let mut fs = vec![finding("verify.mistral", "mistral-key-1", "a", 1)];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "unknown");
    assert!(detail(&fs[0]).contains("TLS"), "{}", detail(&fs[0]));
    // A body over the cap is cut, so its marker is never seen: not live.
    let small = ClientOptions {
        max_body: 1024,
        ..ClientOptions::default()
    };
    let net = TestNet {
        pins: [("api.mistral.ai".to_string(), mock.addr)]
            .into_iter()
            .collect(),
        dns: None,
        root_der: Some(mock.ca_der.clone()),
    };
    let v = Verifier::for_tests(fast_opts(), Client::for_tests(small, net, None));
    let mut fs = vec![finding("verify.mistral", "mistral-key-2", "a", 1)];
    run(&v, &mut fs);
    assert_eq!(status(&fs[0]), "unknown");
    assert!(detail(&fs[0]).contains("marker"), "{}", detail(&fs[0]));
}
