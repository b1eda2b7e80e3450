//! Live verification (`--verify`): asks each credential's provider, read-only, whether it works, and fills
//! `Finding.verification` with `live`, `dead`, `restricted` (live, lacking permission) or `unknown` (with the
//! reason). This module owns the outcome model, the pairing of a finding with the second value some providers
//! need (found in the same blob), and the runner: bounded concurrency, per-provider rate limits honouring
//! `Retry-After`, retries only for `unknown`, and one request per distinct credential per run (an in-memory
//! cache keyed by a hash, never by the secret, and never written to disk). Providers live in `providers`,
//! the guarded HTTP client in `http`. It does not scan and does not write reports.
//!
//! Rules name their verifier with `verify = "<name>"`. A rule whose `verify` is `"<name>:<role>"` is a
//! *companion* rule: it captures a non-secret value a verifier needs (an Azure endpoint host, a Databricks
//! workspace host, a Docker Hub user name, a GCP client e-mail); its findings are used for pairing and never
//! reported.
pub mod http;
pub mod providers;

use http::{Client, ClientOptions, HttpError, HttpRequest};
use keysweep_model::{Finding, Location, Verification};
use providers::{Plan, Provider};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The four verification outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Live,
    Restricted,
    Unknown,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Live => "live",
            Status::Restricted => "restricted",
            Status::Unknown => "unknown",
            Status::Dead => "dead",
        }
    }
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub detail: Option<String>,
    pub identity: Option<String>,
    /// Wait this long before asking this provider again (from `Retry-After`).
    pub retry_after: Option<Duration>,
    /// A passing condition (429, 5xx, timeout, network error): worth retrying. Only `unknown` can be.
    pub transient: bool,
}

impl Outcome {
    pub fn new(status: Status, detail: Option<String>) -> Self {
        Outcome {
            status,
            detail,
            identity: None,
            retry_after: None,
            transient: false,
        }
    }
    /// An `unknown` worth retrying.
    pub fn transient(detail: impl Into<String>) -> Self {
        Outcome {
            transient: true,
            ..Outcome::unknown(detail)
        }
    }
    pub fn live(identity: Option<String>) -> Self {
        Outcome {
            identity,
            ..Outcome::new(Status::Live, None)
        }
    }
    pub fn dead(detail: impl Into<String>) -> Self {
        Outcome::new(Status::Dead, Some(detail.into()))
    }
    pub fn restricted(detail: impl Into<String>) -> Self {
        Outcome::new(Status::Restricted, Some(detail.into()))
    }
    pub fn unknown(detail: impl Into<String>) -> Self {
        Outcome::new(Status::Unknown, Some(detail.into()))
    }
    fn into_verification(self) -> Verification {
        Verification {
            status: self.status.as_str().to_string(),
            detail: self.detail,
            identity: self.identity,
        }
    }
}

/// Whether a finding's verification says the credential works.
pub fn is_live(f: &Finding) -> bool {
    f.verification
        .as_ref()
        .is_some_and(|v| v.status == "live" || v.status == "restricted")
}

/// Whether a rule's `verify` value names a companion (`name:role`) rather than a verifier.
pub fn is_companion(verify: &str) -> bool {
    verify.contains(':')
}

/// Runner options.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Extra attempts for an `unknown` answer (never for live, dead, restricted or a blocked request).
    pub retries: u32,
    /// Longest `Retry-After` honoured; a longer one leaves the credential `unknown`.
    pub max_wait: Duration,
    /// Minimum spacing of requests to one provider.
    pub min_interval: Duration,
    /// First retry backoff (doubles each time) when the provider gave no `Retry-After`.
    pub backoff: Duration,
    /// Print requests instead of sending them.
    pub dry_run: bool,
    pub client: ClientOptions,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            concurrency: 4,
            retries: 2,
            max_wait: Duration::from_secs(30),
            min_interval: Duration::from_millis(100),
            backoff: Duration::from_millis(500),
            dry_run: false,
            client: ClientOptions::default(),
        }
    }
}

/// One distinct check: a provider, the secret and (optionally) its companion value.
struct Job<'a> {
    key: String,
    provider: &'a dyn Provider,
    plan: Plan,
}

/// The verifier: build once per run.
pub struct Verifier {
    client: Option<Client>,
    providers: Vec<Box<dyn Provider>>,
    opts: VerifyOptions,
    next_slot: Mutex<HashMap<&'static str, Instant>>,
    cache: Mutex<HashMap<String, Outcome>>,
    /// Requests actually sent this run.
    pub sent: AtomicU64,
}

impl Verifier {
    pub fn new(opts: VerifyOptions) -> anyhow::Result<Verifier> {
        let client = if opts.dry_run {
            None
        } else {
            Some(Client::new(opts.client).map_err(|e| anyhow::anyhow!("verify client: {e}"))?)
        };
        Ok(Verifier::with_client(opts, client))
    }

    fn with_client(opts: VerifyOptions, client: Option<Client>) -> Verifier {
        Verifier {
            client,
            providers: providers::all(),
            opts,
            next_slot: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            sent: AtomicU64::new(0),
        }
    }

    /// Test-only: a verifier over a client pointed at mock servers.
    #[cfg(test)]
    pub fn for_tests(opts: VerifyOptions, client: Client) -> Verifier {
        Verifier::with_client(opts, Some(client))
    }

    pub fn provider(&self, name: &str) -> Option<&dyn Provider> {
        self.providers
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.as_ref())
    }

    /// Verify `findings` in place. `verify_of` maps a rule id to the rule's `verify` value. Findings of
    /// companion rules are used for pairing only. Dry-run requests are written to `dry`.
    pub fn verify_all(
        &self,
        findings: &mut [Finding],
        verify_of: &dyn Fn(&str) -> Option<String>,
        dry: &mut dyn Write,
    ) {
        let names: Vec<Option<String>> = findings.iter().map(|f| verify_of(&f.rule_id)).collect();
        // Per finding: the job keys whose outcomes decide it.
        let mut per_finding: Vec<Vec<String>> = vec![Vec::new(); findings.len()];
        let mut jobs: Vec<Job> = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut early: Vec<(usize, Outcome)> = Vec::new();
        for i in 0..findings.len() {
            let Some(name) = names[i].as_deref() else {
                continue;
            };
            if is_companion(name) {
                continue;
            }
            let secret = findings[i].secret.as_str();
            let routed = match providers::route(name, secret) {
                Ok(r) => r,
                Err(why) => {
                    early.push((i, Outcome::unknown(why)));
                    continue;
                }
            };
            let Some(p) = self.provider(routed) else {
                early.push((i, Outcome::unknown(format!("no verifier named {name:?}"))));
                continue;
            };
            let mut options: Vec<Option<String>> = if p.companion_role().is_some() {
                self.companions_for(i, p, findings, &names)
                    .into_iter()
                    .map(Some)
                    .collect()
            } else {
                Vec::new()
            };
            if options.is_empty() {
                if p.needs_companion() {
                    early.push((
                        i,
                        Outcome::unknown(format!(
                            "{} needs its {} from the same file; none found",
                            p.name(),
                            p.companion_role().unwrap_or("second value")
                        )),
                    ));
                    continue;
                }
                options.push(None);
            }
            for c in options {
                let key = job_key(p.name(), secret, c.as_deref(), p.symmetric_pair());
                per_finding[i].push(key.clone());
                if seen.insert(key.clone(), ()).is_some() {
                    continue;
                }
                let plan = p.plan(secret, c.as_deref());
                jobs.push(Job {
                    key,
                    provider: p,
                    plan,
                });
            }
        }
        for (i, o) in early {
            findings[i].verification = Some(o.into_verification());
        }
        self.run_jobs(jobs, dry);
        let cache = self.cache.lock().map(|c| c.clone()).unwrap_or_default();
        for (i, keys) in per_finding.iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            let best = keys
                .iter()
                .filter_map(|k| cache.get(k))
                .min_by_key(|o| o.status)
                .cloned()
                .unwrap_or_else(|| Outcome::unknown("not checked"));
            let mut v = best.into_verification();
            // An identity must never carry the secret, nor control characters from a remote answer.
            if let Some(id) = &v.identity {
                if id.contains(findings[i].secret.as_str()) || id.len() > 200 {
                    v.identity = None;
                }
            }
            v.identity = v.identity.map(|s| printable(&s));
            v.detail = v.detail.map(|s| printable(&s));
            findings[i].verification = Some(v);
        }
    }

    /// Companion values for finding `i`: values of other findings seen in the same blob that the provider
    /// accepts, nearest line first, at most 3.
    fn companions_for(
        &self,
        i: usize,
        p: &dyn Provider,
        findings: &[Finding],
        names: &[Option<String>],
    ) -> Vec<String> {
        let me = &findings[i];
        let mut found: Vec<(u64, String)> = Vec::new();
        for (j, other) in findings.iter().enumerate() {
            let Some(other_name) = names[j].as_deref() else {
                continue;
            };
            let other_name = providers::canonical_companion(other_name);
            if j == i || !p.accepts_companion(&me.secret, &other_name, &other.secret) {
                continue;
            }
            let dist = me
                .locations
                .iter()
                .flat_map(|a| other.locations.iter().map(move |b| (a, b)))
                .filter(|(a, b)| same_blob(a, b))
                .map(|(a, b)| a.line.abs_diff(b.line))
                .min();
            if let Some(d) = dist {
                if !found.iter().any(|(_, s)| *s == other.secret) {
                    found.push((d, other.secret.clone()));
                }
            }
        }
        found.sort();
        found.into_iter().take(3).map(|(_, s)| s).collect()
    }

    fn run_jobs(&self, jobs: Vec<Job>, dry: &mut dyn Write) {
        let mut to_send: Vec<(String, &dyn Provider, HttpRequest)> = Vec::new();
        for j in jobs {
            if self.cached(&j.key).is_some() {
                continue;
            }
            match j.plan {
                Plan::Done(o) => self.store(&j.key, o),
                Plan::Send(req) => {
                    if self.opts.dry_run || self.client.is_none() {
                        let _ = writeln!(
                            dry,
                            "keysweep: verify dry-run [{}] {}",
                            j.provider.name(),
                            req.display()
                        );
                        self.store(&j.key, Outcome::unknown("dry run: request not sent"));
                    } else {
                        to_send.push((j.key, j.provider, *req));
                    }
                }
            }
        }
        if to_send.is_empty() {
            return;
        }
        let next = AtomicUsize::new(0);
        let workers = self.opts.concurrency.clamp(1, 32).min(to_send.len());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Relaxed);
                    let Some((key, p, req)) = to_send.get(k) else {
                        break;
                    };
                    let o = self.check(*p, req);
                    self.store(key, o);
                });
            }
        });
    }

    fn cached(&self, key: &str) -> Option<Outcome> {
        self.cache.lock().ok().and_then(|c| c.get(key).cloned())
    }

    fn store(&self, key: &str, o: Outcome) {
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key.to_string(), o);
        }
    }

    /// Send one request with rate limiting and retries for `unknown`.
    fn check(&self, p: &dyn Provider, req: &HttpRequest) -> Outcome {
        let Some(client) = &self.client else {
            return Outcome::unknown("dry run: request not sent");
        };
        let mut attempt = 0;
        loop {
            self.wait_turn(p.name());
            self.sent.fetch_add(1, Relaxed);
            let o = match client.send(req) {
                Ok(resp) => p.judge(&resp),
                Err(HttpError::Blocked(m)) => {
                    return Outcome::unknown(format!("not contacted: {m}"))
                }
                Err(HttpError::Timeout) => Outcome::transient("timeout"),
                Err(HttpError::Tls(m)) => Outcome::unknown(format!("TLS error: {m}")),
                Err(HttpError::Other(m)) => Outcome::transient(format!("network error: {m}")),
            };
            if o.status != Status::Unknown || !o.transient || attempt >= self.opts.retries {
                return o;
            }
            attempt += 1;
            let wait = match o.retry_after {
                Some(ra) if ra > self.opts.max_wait => {
                    return Outcome {
                        detail: Some(format!(
                            "{}; Retry-After {}s is over the {}s limit",
                            o.detail.unwrap_or_default(),
                            ra.as_secs(),
                            self.opts.max_wait.as_secs()
                        )),
                        ..o
                    }
                }
                Some(ra) => ra,
                None => self.opts.backoff * (1 << (attempt - 1).min(6)),
            };
            self.push_back(p.name(), wait);
        }
    }

    /// Block until this provider may be asked again, and reserve the next slot.
    fn wait_turn(&self, provider: &'static str) {
        let wait = {
            let Ok(mut m) = self.next_slot.lock() else {
                return;
            };
            let now = Instant::now();
            let start = m.get(provider).copied().filter(|t| *t > now).unwrap_or(now);
            m.insert(provider, start + self.opts.min_interval);
            start - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Nobody asks this provider again before `wait` has passed.
    fn push_back(&self, provider: &'static str, wait: Duration) {
        if let Ok(mut m) = self.next_slot.lock() {
            let t = Instant::now() + wait;
            let e = m.entry(provider).or_insert(t);
            if *e < t {
                *e = t;
            }
        }
    }
}

/// Text from a remote answer made safe to print: no control characters, at most 300 chars.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// Cache key of one check: a hash of provider, secret and companion. The secret itself is never a key.
fn job_key(provider: &str, secret: &str, companion: Option<&str>, symmetric: bool) -> String {
    let (secret, companion) = match companion {
        Some(c) if symmetric && c < secret => (c, Some(secret)),
        _ => (secret, companion),
    };
    let mut h = Sha256::new();
    h.update(provider.as_bytes());
    h.update([0]);
    h.update(secret.as_bytes());
    h.update([0]);
    h.update(companion.unwrap_or("").as_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether two locations are in the same blob: same source and path, and the same commit/layer/blob id when
/// both record one.
pub fn same_blob(a: &Location, b: &Location) -> bool {
    fn agree<T: PartialEq>(x: Option<T>, y: Option<T>) -> bool {
        match (x, y) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }
    let (ia, ib) = (a.meta.image(), b.meta.image());
    a.source == b.source
        && a.path == b.path
        && agree(a.meta.commit(), b.meta.commit())
        && agree(a.meta.blob, b.meta.blob)
        && agree(ia.and_then(|i| i.layer), ib.and_then(|i| i.layer))
        && agree(
            ia.and_then(|i| i.image.as_deref()),
            ib.and_then(|i| i.image.as_deref()),
        )
}

/// Whether a rule's `verify` value names something keysweep knows: a verifier (or alias, or a routed kind), a
/// companion of one, or a kind deliberately not verified online.
pub fn known_verifier(verify: &str) -> bool {
    let base = verify.split_once(':').map(|(n, _)| n).unwrap_or(verify);
    if providers::NOT_VERIFIED.iter().any(|(n, _)| *n == base) {
        return !is_companion(verify);
    }
    let canonical = providers::ALIASES
        .iter()
        .find(|(a, _)| *a == base)
        .map(|(_, n)| *n)
        .unwrap_or(base);
    providers::all().iter().any(|p| p.name() == canonical)
}

/// Counts of outcomes, for `--verbose`.
pub fn summary(findings: &[Finding]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        if let Some(v) = &f.verification {
            *counts.entry(v.status.as_str()).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every host keysweep's verifiers can contact, sorted; `*.suffix` for hosts taken from scanned text.
pub fn egress_hosts() -> Vec<String> {
    let mut hosts: Vec<String> = providers::all().iter().flat_map(|p| p.egress()).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

#[cfg(test)]
mod tests;
