//! The one construction of a guarded outbound HTTP agent, shared by the verifier's client
//! (`keysweep_verify::http`) and the image registry client (`keysweep_sources::image::registry`): ureq 3 with
//! rustls (ring, the compiled-in web PKI roots), no proxy from the environment, no redirect followed (a 3xx is
//! an answer, like every status code), explicit timeouts, and a resolver that resolves each name once, refuses
//! the whole name when any of its addresses is forbidden (`keysweep_model::net::forbidden_ip`: loopback,
//! private, link-local, metadata, CGNAT, …) and hands ureq only the addresses it checked, so DNS rebinding
//! cannot slip between check and dial. A caller says only what differs: its `AgentOptions` (timeouts, HTTPS
//! only, test roots) and its `DialPolicy` (names refused before any lookup, hosts exempt from the address
//! check, the wording of a refusal, a test resolver).
//!
//! Sits beside `model` at the bottom of the crate graph (depends on `model` only), so the crates above it that
//! dial out share one ureq version and one guard. Knows nothing of verifiers, registries, credentials or
//! findings; sends no request itself.
use keysweep_model::net::forbidden_ip;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
pub use ureq;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// What a caller may vary of the agent.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The `User-Agent` header.
    pub user_agent: &'static str,
    /// Refuse plain-HTTP URLs.
    pub https_only: bool,
    pub connect_timeout: Duration,
    /// The whole request, body read included.
    pub global_timeout: Option<Duration>,
    /// From the request sent to the response's headers.
    pub response_timeout: Option<Duration>,
    /// Each read of the body.
    pub read_timeout: Option<Duration>,
    /// Trust only these roots (DER) instead of the web PKI's: test servers only.
    pub test_roots: Option<Vec<Vec<u8>>>,
}

/// How the guard treats a host before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dial {
    /// Every address the name resolves to must be allowed.
    Check,
    /// The caller trusts this host on this port (a registry the user named): its addresses are not checked.
    Exempt,
}

/// What differs between the agents' guards.
pub trait DialPolicy: std::fmt::Debug + Send + Sync + 'static {
    /// Refuse `host` before any lookup (`Err` names why), or say whether its addresses are checked.
    fn admit(&self, host: &str, port: u16) -> Result<Dial, String>;

    /// The refusal of a name that resolves to a forbidden address.
    fn refusal(&self, host: &str, why: &str, ip: IpAddr) -> String {
        format!("refused: {host} resolves to a {why} address ({ip})")
    }

    /// A resolver replacing the system's (tests); `None`: the system resolver under the agent's timeouts.
    fn lookup(&self, _host: &str, _port: u16) -> Option<io::Result<Vec<SocketAddr>>> {
        None
    }
}

/// The resolver given to ureq: one lookup, every answer checked, only checked answers returned.
#[derive(Debug)]
struct Guard<P>(P);

fn denied(message: String) -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::PermissionDenied, message))
}

impl<P: DialPolicy> Resolver for Guard<P> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let dial = self.0.admit(host, port).map_err(denied)?;
        let found: Vec<SocketAddr> = match self.0.lookup(host, port) {
            Some(found) => found?,
            None => DefaultResolver::default()
                .resolve(uri, config, timeout)?
                .to_vec(),
        };
        if found.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        if dial == Dial::Check {
            // Refuse the whole name if any answer is forbidden: no falling back to the private one.
            for a in &found {
                if let Some(why) = forbidden_ip(a.ip()) {
                    return Err(denied(self.0.refusal(host, why, a.ip())));
                }
            }
        }
        let mut addrs = self.empty();
        for a in found {
            if addrs.try_push(a).is_err() {
                break;
            }
        }
        Ok(addrs)
    }
}

/// The guarded agent: status codes are answers, no redirect is followed, no proxy is used.
pub fn agent(opts: &AgentOptions, policy: impl DialPolicy) -> ureq::Agent {
    let mut tls = TlsConfig::builder();
    if let Some(roots) = &opts.test_roots {
        let certs: Vec<Certificate<'static>> = roots
            .iter()
            .map(|der| Certificate::from_der(der).to_owned())
            .collect();
        tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .https_only(opts.https_only)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_global(opts.global_timeout)
        .timeout_recv_response(opts.response_timeout)
        .timeout_per_read(opts.read_timeout)
        .user_agent(opts.user_agent)
        .tls_config(tls.build())
        .build();
    ureq::Agent::with_parts(config, DefaultConnector::default(), Guard(policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// A policy whose test resolver answers `answer` for every name.
    #[derive(Debug)]
    struct Fixed {
        dial: Dial,
        answer: Vec<SocketAddr>,
    }

    impl DialPolicy for Fixed {
        fn admit(&self, host: &str, _port: u16) -> Result<Dial, String> {
            if host == "refused.test" {
                return Err("refused before lookup".into());
            }
            Ok(self.dial)
        }
        fn lookup(&self, _host: &str, _port: u16) -> Option<io::Result<Vec<SocketAddr>>> {
            Some(Ok(self.answer.clone()))
        }
    }

    fn opts() -> AgentOptions {
        AgentOptions {
            user_agent: "keysweep-test",
            https_only: false,
            connect_timeout: Duration::from_secs(2),
            global_timeout: Some(Duration::from_secs(5)),
            response_timeout: None,
            read_timeout: None,
            test_roots: None,
        }
    }

    /// A loopback listener answering `204` to each connection, counting them.
    fn listener() -> (SocketAddr, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                h.fetch_add(1, Relaxed);
                let mut buf = [0u8; 4096];
                let _ = io::Read::read(&mut s, &mut buf);
                let _ = io::Write::write_all(
                    &mut s,
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
                );
            }
        });
        (addr, hits)
    }

    fn refusal(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> String {
        match r {
            Err(ureq::Error::Io(e)) if e.kind() == io::ErrorKind::PermissionDenied => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_answer_is_checked_even_past_the_dialled_ones() {
        let (addr, hits) = listener();
        // Sixteen public answers (more than ureq dials) and then the listener: the whole name is refused.
        let mut answer: Vec<SocketAddr> = (1..=16)
            .map(|i| SocketAddr::new(IpAddr::from([93, 184, 216, i]), addr.port()))
            .collect();
        answer.push(addr);
        let a = agent(
            &opts(),
            Fixed {
                dial: Dial::Check,
                answer,
            },
        );
        let m = refusal(a.get(&format!("http://name.test:{}/", addr.port())).call());
        assert!(
            m.contains("name.test resolves to a loopback address (127.0.0.1)"),
            "{m}"
        );
        let a = agent(
            &opts(),
            Fixed {
                dial: Dial::Check,
                answer: vec![addr],
            },
        );
        refusal(a.get(&format!("http://name.test:{}/", addr.port())).call());
        let a = agent(
            &opts(),
            Fixed {
                dial: Dial::Check,
                answer: vec![addr],
            },
        );
        let m = refusal(
            a.get(&format!("http://refused.test:{}/", addr.port()))
                .call(),
        );
        assert!(m.contains("refused before lookup"), "{m}");
        assert_eq!(hits.load(Relaxed), 0, "a refused name was dialled");
    }

    #[test]
    fn exempt_hosts_dial_any_address_and_status_codes_are_answers() {
        let (addr, hits) = listener();
        let a = agent(
            &opts(),
            Fixed {
                dial: Dial::Exempt,
                answer: vec![addr],
            },
        );
        let r = a
            .get(&format!("http://registry.test:{}/", addr.port()))
            .call()
            .expect("an exempt host is dialled");
        assert_eq!(r.status().as_u16(), 204);
        assert_eq!(hits.load(Relaxed), 1);
    }

    #[test]
    fn https_only_refuses_plain_http_before_dialling() {
        let (addr, hits) = listener();
        let o = AgentOptions {
            https_only: true,
            ..opts()
        };
        let a = agent(
            &o,
            Fixed {
                dial: Dial::Exempt,
                answer: vec![addr],
            },
        );
        assert!(a
            .get(&format!("http://registry.test:{}/", addr.port()))
            .call()
            .is_err());
        assert_eq!(hits.load(Relaxed), 0);
    }
}
