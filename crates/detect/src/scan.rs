//! The scanner: ties rules, the engine, checks and decoders together. Sources hand it blobs
//! (`scan_blob`); it transcodes UTF-16/32 text, skips binary blobs, decodes them, runs one engine pass per
//! segment, checks each candidate, settles overlapping matches by rule tier, maps locations back to the raw
//! blob, applies inline allow comments, and collects findings deduplicated by fingerprint. Its work per blob
//! is linear in the matches (up to a log factor). Thread-safe: sources call it from many threads.
use crate::check;
use crate::decode::{self, Registry, Segment};
use crate::engine::{self, Candidate, EngineKind, Matcher, RawMatch};
use anyhow::Result;
use keysweep_model::{fingerprint, looks_binary, BlobSink, Diagnostics, Finding, Location, Origin};
pub use keysweep_model::{BlobFinding, Stats, StatsSnapshot};
use keysweep_rules::{Rule, RuleSet};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

/// Comments that suppress findings on their line.
pub const ALLOW_MARKERS: &[&[u8]] = &[
    b"keysweep:allow",
    b"gitleaks:allow",
    b"pragma: allowlist secret",
];

/// A warning or an error about an input, for standard error and the report's summary.
#[derive(Debug, Clone)]
pub struct Message {
    /// An error (printed as `error:`, counted in `Stats::errors`) rather than a warning.
    pub error: bool,
    pub text: String,
}

/// The scanner. Build once, share by reference across threads.
pub struct Scanner {
    pub rules: RuleSet,
    matcher: Box<dyn Matcher>,
    pub decoders: Registry,
    pub stats: Stats,
    /// Skip binary blobs (`keysweep_model::looks_binary`) unless a decoder accepts them; UTF-16/32 text is never
    /// binary.
    pub skip_binary: bool,
    /// Honour inline allow comments.
    pub inline_allow: bool,
    /// Record a note naming each skipped binary blob (`-v`; the command line prints the notes, see
    /// `take_notes`).
    pub verbose: bool,
    findings: Mutex<HashMap<String, Collected>>,
    messages: Mutex<Vec<Message>>,
    /// Informational lines for `-v` (never in reports): this crate does not print.
    notes: Mutex<Vec<String>>,
    /// For each rule, the rules that `supersedes` it (by id): few, usually none.
    superseded_by: Vec<Vec<usize>>,
    /// Hashes locations for `Collected::seen` (randomly keyed: crafted paths cannot make them collide).
    location_hasher: std::collections::hash_map::RandomState,
    /// Secret markers of the format rules (`Rule::secret_prefixes`), sorted: a catch-all rule never reports
    /// a value that starts with one.
    format_markers: Vec<Vec<u8>>,
}

impl Scanner {
    /// Build a scanner over `rules` with the chosen engine.
    pub fn new(rules: RuleSet, engine: EngineKind) -> Result<Scanner> {
        let built = engine::build(engine, &rules.rules)?;
        Ok(Self::with_matcher(rules, built))
    }

    /// A scanner for a few small blobs (the pre-commit hook): its engine compiles only the rules that could
    /// match what it scans (`engine::build_for_small_input`). Finds what `new` finds.
    pub fn new_for_small_input(rules: RuleSet, engine: EngineKind) -> Result<Scanner> {
        let built = engine::build_for_small_input(engine, &rules.rules)?;
        Ok(Self::with_matcher(rules, built))
    }

    /// A scanner over `rules` with a matcher built over them and the warnings building it gave.
    pub fn with_matcher(
        rules: RuleSet,
        (matcher, warnings): (Box<dyn Matcher>, Vec<String>),
    ) -> Scanner {
        let mut format_markers: Vec<Vec<u8>> = rules
            .rules
            .iter()
            .filter(|r| !r.is_catch_all())
            .flat_map(|r| r.secret_prefixes.iter().cloned())
            .collect();
        format_markers.sort();
        format_markers.dedup();
        let superseded_by = rules
            .rules
            .iter()
            .map(|r| {
                (0..rules.rules.len())
                    .filter(|&j| rules.rules[j].spec.supersedes.contains(&r.spec.id))
                    .collect()
            })
            .collect();
        Scanner {
            format_markers,
            superseded_by,
            location_hasher: Default::default(),
            rules,
            matcher,
            decoders: Registry::builtin(),
            stats: Stats::default(),
            skip_binary: true,
            inline_allow: true,
            verbose: false,
            findings: Mutex::new(HashMap::new()),
            messages: Mutex::new(
                warnings
                    .into_iter()
                    .map(|text| Message { error: false, text })
                    .collect(),
            ),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// Whether `secret` starts with a format rule's marker (`gsk_`, `AKIA`…): then only that format's rule
    /// may report it, and a near-miss of the format (wrong length, wrong checksum) is no generic secret.
    fn has_format_marker(&self, secret: &[u8]) -> bool {
        let i = self
            .format_markers
            .partition_point(|p| p.as_slice() <= secret);
        // The longest marker ≤ secret in sort order is the only candidate prefix among its neighbours; check
        // the few before it (markers that are prefixes of one another sort together).
        self.format_markers[..i]
            .iter()
            .rev()
            .take_while(|p| p.first() == secret.first())
            .any(|p| secret.starts_with(p))
    }

    pub fn engine_name(&self) -> &'static str {
        self.matcher.name()
    }

    /// Record a warning (shown on stderr and in reports). Must never contain a secret.
    pub fn warn(&self, msg: impl Into<String>) {
        self.message(false, msg.into());
    }

    /// Record an error about one input (shown on stderr as an error and in reports); it counts towards the
    /// error total. Must never contain a secret.
    pub fn error(&self, msg: impl Into<String>) {
        self.stats.errors.fetch_add(1, Relaxed);
        self.message(true, msg.into());
    }

    fn message(&self, error: bool, text: String) {
        if let Ok(mut m) = self.messages.lock() {
            m.push(Message { error, text });
        }
    }

    /// Scan one blob and collect its findings, their locations carrying the blob's content id.
    pub fn scan_blob(&self, data: &[u8], origin: &Origin) {
        let mut found = self.find_in_blob(data, origin);
        keysweep_model::set_blob_id(data, &mut found);
        self.collect(found);
    }

    /// Scan one blob and return its findings without collecting them.
    pub fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        self.stats.blobs.fetch_add(1, Relaxed);
        self.stats.bytes.fetch_add(data.len() as u64, Relaxed);
        // Text in UTF-16 or UTF-32 is scanned as UTF-8, every location mapped back to the raw bytes.
        let wide = decode::encoding::decode_wide(data);
        let text: &[u8] = wide.as_ref().map_or(data, |w| &w.text);
        if self.skip_binary
            && wide.is_none()
            && looks_binary(data)
            && !self.decoders.accepts_any(&origin.path, data)
        {
            self.stats.skipped_binary.fetch_add(1, Relaxed);
            if self.verbose {
                if let Ok(mut n) = self.notes.lock() {
                    n.push(format!("skipped binary file: {}", origin.path));
                }
            }
            return Vec::new();
        }
        let (segments, warning) = self.decoders.decode_blob(&origin.path, text);
        if let Some(w) = warning {
            self.warn(match &origin.context {
                Some(c) => format!("{w} (in {c})"),
                None => w,
            });
        }
        let mut out = Vec::new();
        let mut lines = LineIndex::default();
        for seg in &segments {
            self.scan_segment(seg, text, wide.as_ref(), origin, &mut lines, &mut out);
        }
        out
    }

    /// Scan one decoded segment of `raw` (the blob, or its UTF-8 transcoding `wide` of a UTF-16/32 blob:
    /// then locations are mapped on to the blob's bytes).
    fn scan_segment(
        &self,
        seg: &Segment,
        raw: &[u8],
        wide: Option<&decode::encoding::Transcoded>,
        origin: &Origin,
        lines: &mut LineIndex,
        out: &mut Vec<BlobFinding>,
    ) {
        let hay: &[u8] = &seg.text;
        let mut cands: Vec<Candidate> = Vec::new();
        let res = self.matcher.candidates(hay, &mut cands);
        for w in self.matcher.take_warnings() {
            self.warn(w);
        }
        if let Err(e) = res {
            self.error(format!("{}: {e}", origin.path));
            return;
        }
        if cands.is_empty() {
            return;
        }
        let mut matches: Vec<RawMatch> = Vec::new();
        engine::confirm(&self.rules.rules, hay, &mut cands, &mut matches);
        let mut seg_lines = LineIndex::default();
        // Check every match first: format rules' verdicts decide whether keyword rules may report.
        // The classifier's candidates are scored here, where the file is known: a test file lowers the score,
        // and in program source an unquoted value is an expression.
        // The file's kind is read from its path once, when a candidate is scored (most segments have none).
        let mut file: Option<check::classify::FileKind> = None;
        let verdicts: Vec<Result<(f64, Option<f64>), check::Reject>> = matches
            .iter()
            .map(|m| {
                let v = check::check(&self.rules.rules[m.rule], hay, m)?;
                if v.features.is_none() {
                    return Ok((v.entropy, None));
                }
                let file = *file.get_or_insert_with(|| check::classify::FileKind::of(&origin.path));
                match v.score(file) {
                    Some(s) if s < check::classify::THRESHOLD => Err(check::Reject::Generic),
                    score => Ok((v.entropy, score)),
                }
            })
            .collect();
        // Secret spans claimed by more specific rules. Format rules (tier 0) claim what they report and what
        // they recognise as a fake of their format (wrong checksum, placeholder, rule-specific decoy);
        // provider keyword rules (`generic = true`, tier 1) claim what they report. A rule never reports
        // inside a span claimed by a lower tier, and a format rule yields to one that `supersedes` it: one
        // secret, one finding, from the most specific rule.
        let mut claims = ClaimsBuilder::default();
        for (m, v) in matches.iter().zip(&verdicts) {
            let r = &self.rules.rules[m.rule];
            let tier = rule_tier(r);
            let claims_span = match (tier, v) {
                (_, Ok(_)) => true,
                (0, Err(check::Reject::Placeholder | check::Reject::RuleReject)) => true,
                // A failed integrity checksum marks a fake; a failed classifier (e.g. "is this JWT a
                // Supabase service key") says nothing about the value.
                (0, Err(check::Reject::Checksum)) => r
                    .spec
                    .checksum
                    .as_deref()
                    .is_some_and(check::checksum::is_integrity_check),
                _ => false,
            };
            if claims_span {
                // A fake of a format claims its span, but supersedes nothing.
                let supersedes = tier == 0 && v.is_ok() && !r.spec.supersedes.is_empty();
                claims.add(
                    m.secret_start,
                    m.secret_end,
                    tier,
                    supersedes.then_some(m.rule),
                );
            }
        }
        let claims = claims.build();
        // Catch-all rules that capture the same span (`--password=x` is a flag and an assignment): the first
        // rule in catalogue order reports it.
        let mut catch_all_spans: std::collections::HashSet<(usize, usize)> = Default::default();
        for (m, verdict) in matches.into_iter().zip(verdicts) {
            let rule = &self.rules.rules[m.rule];
            let Ok((entropy, score)) = verdict else {
                continue;
            };
            let tier = rule_tier(rule);
            let (s, e) = (m.secret_start, m.secret_end);
            let outranked = match tier {
                // Only a rule that supersedes this one, reporting an overlapping span, outranks a format rule.
                0 => self.superseded_by[m.rule]
                    .iter()
                    .any(|by| claims.by_rule.get(by).is_some_and(|c| c.overlaps(s, e))),
                1 => claims.tier0.overlaps(s, e),
                _ => claims.tier01.overlaps(s, e),
            };
            if outranked || (tier > 0 && self.has_format_marker(&hay[s..e])) {
                continue;
            }
            if tier == 2 && !catch_all_spans.insert((s, e)) {
                continue;
            }
            let raw_start = seg.map.to_raw(m.secret_start).min(raw.len());
            let raw_end = seg.map.to_raw(m.secret_end).clamp(raw_start, raw.len());
            if self.inline_allow
                && (lines.has_allow(raw, raw_start) || seg_lines.has_allow(hay, m.secret_start))
            {
                self.stats.suppressed.fetch_add(1, Relaxed);
                continue;
            }
            let (line, mut column) = lines.line_col(raw, raw_start);
            let (mut byte_start, mut byte_end) = (raw_start, raw_end);
            let mut meta = origin.meta.clone();
            meta.detail = seg.meta.clone();
            if let Some(w) = wide {
                // Lines are counted in the text; the column and span are in the blob's bytes.
                let line_start = w.map.to_raw(raw_start + 1 - column as usize);
                byte_start = w.map.to_raw(raw_start);
                byte_end = w.map.to_raw(raw_end);
                column = (byte_start - line_start) as u64 + 1;
                meta.detail.encoding = Some(w.encoding.name().to_string());
            }
            if check::encrypted_private_key(rule, hay, &m) {
                meta.detail.encrypted = true;
            }
            if seg.segment_lines {
                let (l, _) = seg_lines.line_col(hay, m.secret_start);
                meta.detail.line_in_segment = Some(l);
            }
            out.push(BlobFinding {
                rule: m.rule,
                secret: hay[m.secret_start..m.secret_end].to_vec(),
                entropy,
                score,
                location: Location {
                    source: origin.source.to_string(),
                    path: origin.path.clone(),
                    line,
                    column,
                    byte_start: byte_start as u64,
                    byte_end: byte_end as u64,
                    ignored: origin.ignored,
                    meta,
                },
            });
        }
    }

    /// The secrets the rules confirm in `text` read as raw text: no decoders, no allow comments, no
    /// statistics, no tiers (anything a rule accepts counts). For redacting strings that came from scanned
    /// content (paths, provenance, warnings), never for reporting.
    pub fn secrets_in_text(&self, text: &[u8]) -> Vec<Vec<u8>> {
        let mut cands: Vec<Candidate> = Vec::new();
        let res = self.matcher.candidates(text, &mut cands);
        for w in self.matcher.take_warnings() {
            self.warn(w);
        }
        if res.is_err() || cands.is_empty() {
            return Vec::new();
        }
        let mut matches: Vec<RawMatch> = Vec::new();
        engine::confirm(&self.rules.rules, text, &mut cands, &mut matches);
        matches
            .iter()
            .filter(|m| {
                check::check(&self.rules.rules[m.rule], text, m).is_ok_and(|v| {
                    v.score(check::classify::FileKind::default())
                        .is_none_or(|s| s >= check::classify::THRESHOLD)
                })
            })
            .map(|m| text[m.secret_start..m.secret_end].to_vec())
            .collect()
    }

    /// Add blob findings to the deduplicated collection.
    pub fn collect(&self, found: Vec<BlobFinding>) {
        if found.is_empty() {
            return;
        }
        let Ok(mut map) = self.findings.lock() else {
            return;
        };
        self.add_found(&mut map, found);
    }

    /// Blob findings as findings (deduplicated, locations and findings sorted as `take_results` sorts them),
    /// without touching the run's collection: for callers that keep one result per unit of work (each
    /// repository of a sweep).
    pub fn aggregate(&self, found: Vec<BlobFinding>) -> Vec<Finding> {
        let mut map = HashMap::new();
        self.add_found(&mut map, found);
        sorted_findings(map)
    }

    fn add_found(&self, map: &mut HashMap<String, Collected>, found: Vec<BlobFinding>) {
        for f in found {
            let rule = &self.rules.rules[f.rule];
            let fp = fingerprint(&rule.spec.id, &f.secret);
            let entry = map.entry(fp.clone()).or_insert_with(|| Collected {
                finding: Finding {
                    rule_id: rule.spec.id.clone(),
                    rule_name: rule.spec.name.clone(),
                    provider: rule.spec.provider.clone(),
                    category: rule.spec.category.clone(),
                    // An encrypted private key is reported at low confidence; a classified catch-all finding
                    // at the confidence of its score.
                    confidence: match f.score {
                        _ if f.location.meta.detail.encrypted => "low".into(),
                        Some(s) => crate::check::classify::confidence(s).to_string(),
                        None => rule.spec.confidence.clone(),
                    },
                    score: f.score.map(|s| (s * 1000.0).round() / 1000.0),
                    fingerprint: fp,
                    secret: String::from_utf8_lossy(&f.secret).into_owned(),
                    redacted: false,
                    entropy: (f.entropy * 1000.0).round() / 1000.0,
                    locations: Vec::new(),
                    verification: None,
                    description: rule.spec.description.clone(),
                    rotation_url: rule.spec.rotation_url.clone(),
                    triage: None,
                },
                seen: HashMap::new(),
            });
            // A secret seen in several places keeps its highest classifier score.
            if let (Some(new), Some(old)) = (f.score, entry.finding.score) {
                if new > old + 0.0005 {
                    entry.finding.score = Some((new * 1000.0).round() / 1000.0);
                    entry.finding.confidence = crate::check::classify::confidence(new).to_string();
                }
            }
            entry.add(f.location, &self.location_hasher);
        }
    }

    /// Take the collected findings (sorted) and messages, leaving the scanner empty.
    pub fn take_results_and_messages(&self) -> (Vec<Finding>, Vec<Message>) {
        let map = self
            .findings
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default();
        let findings = sorted_findings(map);
        let messages = self
            .messages
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default();
        (findings, messages)
    }

    /// Take the `-v` notes recorded so far (skipped binary blobs), in the order recorded. They may name
    /// content-derived paths: print them through the same redaction and escaping as warnings.
    pub fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// Take the collected findings (sorted) and every message's text (warnings and errors, in the order
    /// recorded), leaving the scanner empty.
    pub fn take_results(&self) -> (Vec<Finding>, Vec<String>) {
        let (findings, messages) = self.take_results_and_messages();
        (findings, messages.into_iter().map(|m| m.text).collect())
    }
}

/// The scanner is the single-run CLI's blob sink: sources hand it blobs, it collects their findings.
impl Diagnostics for Scanner {
    fn warn(&self, msg: String) {
        Scanner::warn(self, msg)
    }
    fn error(&self, msg: String) {
        Scanner::error(self, msg)
    }
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl BlobSink for Scanner {
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        Scanner::find_in_blob(self, data, origin)
    }
    fn collect(&self, found: Vec<BlobFinding>) {
        Scanner::collect(self, found)
    }
    fn scan_blob(&self, data: &[u8], origin: &Origin) {
        Scanner::scan_blob(self, data, origin)
    }
}

/// How specific a rule is: 0 for format rules, 1 for a provider's keyword rule (`generic = true`), 2 for the
/// catch-all keyword and URL rules (category `generic`).
fn rule_tier(rule: &Rule) -> u8 {
    if !rule.is_catch_all() {
        0
    } else if rule.spec.category != "generic" {
        1
    } else {
        2
    }
}

/// Whether `line` carries an allow comment.
fn line_has_allow(line: &[u8]) -> bool {
    ALLOW_MARKERS
        .iter()
        .any(|m| memchr::memmem::find(line, m).is_some())
}

/// The findings of a collection, sorted: locations by path and position, then (one path in several commits or
/// layers) by date and the rest of the metadata, whatever order parallel workers found them in; findings by
/// their sort key.
fn sorted_findings(map: HashMap<String, Collected>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = map.into_values().map(|c| c.finding).collect();
    let meta = |l: &Location| l.meta_json();
    for f in &mut findings {
        f.locations.sort_by(|a, b| {
            (&a.path, a.line, a.column)
                .cmp(&(&b.path, b.line, b.column))
                .then_with(|| a.meta.date().cmp(&b.meta.date()))
                .then_with(|| meta(a).cmp(&meta(b)))
        });
    }
    // One key per finding (the key clones its path): comparing fresh keys cost most of the time of a scan
    // with 320,000 findings.
    findings.sort_by_cached_key(|f| f.sort_key());
    findings
}

/// One finding being collected: the finding, and its locations indexed by hash (a location seen again, in
/// another segment or another commit of the same blob, is kept once). Checking a new location against the
/// whole list made one key in 40,000 files quadratic.
struct Collected {
    finding: Finding,
    /// Location hash → index of the first location with that hash.
    seen: HashMap<u64, usize>,
}

impl Collected {
    /// Add `loc` unless an equal location is already there.
    fn add(&mut self, loc: Location, hasher: &impl std::hash::BuildHasher) {
        let key = hasher.hash_one(&loc);
        let locations = &mut self.finding.locations;
        match self.seen.get(&key) {
            Some(&i) => {
                work::tick();
                // Equal hashes of unequal locations (a 64-bit collision) fall back to a full comparison.
                if locations[i] == loc || locations.contains(&loc) {
                    return;
                }
            }
            None => {
                self.seen.insert(key, locations.len());
            }
        }
        locations.push(loc);
    }
}

/// The secret spans claimed in one segment, gathered before `Claims` indexes them.
#[derive(Default)]
struct ClaimsBuilder {
    tier0: Vec<(usize, usize)>,
    tier01: Vec<(usize, usize)>,
    by_rule: HashMap<usize, Vec<(usize, usize)>>,
}

impl ClaimsBuilder {
    /// A span claimed at `tier`; `by` is the rule reporting it when that rule supersedes others.
    fn add(&mut self, start: usize, end: usize, tier: u8, by: Option<usize>) {
        if tier == 0 {
            self.tier0.push((start, end));
        }
        if tier <= 1 {
            self.tier01.push((start, end));
        }
        if let Some(rule) = by {
            self.by_rule.entry(rule).or_default().push((start, end));
        }
    }

    fn build(self) -> Claims {
        Claims {
            tier0: Spans::new(self.tier0),
            tier01: Spans::new(self.tier01),
            by_rule: self
                .by_rule
                .into_iter()
                .map(|(r, v)| (r, Spans::new(v)))
                .collect(),
        }
    }
}

/// The claimed spans of one segment, indexed so that each match asks whether it is outranked in
/// O(log claims). Asking every claim for every match was quadratic: 320,000 `password = …` lines took
/// minutes.
struct Claims {
    /// Spans claimed by format rules (tier 0).
    tier0: Spans,
    /// Spans claimed by format rules and provider keyword rules (tiers 0 and 1).
    tier01: Spans,
    /// Spans reported by each format rule that supersedes others.
    by_rule: HashMap<usize, Spans>,
}

/// A set of byte spans answering "does any overlap `start..end`" by binary search: spans sorted by start,
/// with the furthest end reached by any span up to each one.
struct Spans {
    starts: Vec<usize>,
    reach: Vec<usize>,
}

impl Spans {
    fn new(mut spans: Vec<(usize, usize)>) -> Spans {
        spans.sort_unstable();
        let mut furthest = 0;
        let (starts, reach) = spans
            .into_iter()
            .map(|(s, e)| {
                furthest = furthest.max(e);
                (s, furthest)
            })
            .unzip();
        Spans { starts, reach }
    }

    /// Whether a span `s..e` with `s < end && start < e` exists: among the spans starting before `end`,
    /// the furthest end passes `start`.
    fn overlaps(&self, start: usize, end: usize) -> bool {
        let i = self.starts.partition_point(|&s| {
            work::tick();
            s < end
        });
        i > 0 && self.reach[i - 1] > start
    }
}

/// Counts the steps of the per-match work (claim probes, location comparisons) in tests, so that a test can
/// assert the work grows linearly with the matches; a no-op otherwise.
mod work {
    #[cfg(test)]
    thread_local! {
        pub static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    #[inline(always)]
    pub fn tick() {
        #[cfg(test)]
        STEPS.with(|s| s.set(s.get() + 1));
    }
}

/// Newline offsets of a text, built on first use, and which lines carry an allow comment.
#[derive(Default)]
struct LineIndex {
    newlines: Option<Vec<usize>>,
    /// Whether the text holds an allow marker at all (searched once, on first use).
    any_allow: Option<bool>,
    /// Line number (0-based) → whether it carries an allow comment, for lines asked about.
    allow: HashMap<usize, bool>,
}

impl LineIndex {
    fn newlines(&mut self, text: &[u8]) -> &[usize] {
        self.newlines
            .get_or_insert_with(|| memchr::memchr_iter(b'\n', text).collect())
    }

    /// 1-based line and column (in bytes) of `offset` in `text`.
    fn line_col(&mut self, text: &[u8], offset: usize) -> (u64, u64) {
        let nl = self.newlines(text);
        let before = nl.partition_point(|&p| p < offset);
        let line_start = if before == 0 { 0 } else { nl[before - 1] + 1 };
        (before as u64 + 1, (offset - line_start) as u64 + 1)
    }

    /// Whether the line holding `offset` in `text` carries an allow comment. Each line is searched once,
    /// however many matches it holds (a minified file is one long line).
    fn has_allow(&mut self, text: &[u8], offset: usize) -> bool {
        if !*self.any_allow.get_or_insert_with(|| line_has_allow(text)) {
            return false;
        }
        let offset = offset.min(text.len());
        let nl = self.newlines(text);
        let line = nl.partition_point(|&p| p < offset);
        let start = if line == 0 { 0 } else { nl[line - 1] + 1 };
        let end = nl.get(line).copied().unwrap_or(text.len());
        *self
            .allow
            .entry(line)
            .or_insert_with(|| line_has_allow(&text[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format rule (tier 0), a format rule that supersedes it, and a catch-all keyword rule (tier 2).
    const RULES: &str = r#"
[[rule]]
id = "t.tok"
name = "tok"
provider = "T"
category = "ai"
confidence = "high"
pattern = '''\b(?P<secret>tok_[a-z0-9]{20})\b'''
examples = ["key = tok_q8w7e6r5t4y3u2i1o0pa"] # keysweep:allow (synthetic)
negative_examples = ["tok_short"]

[[rule]]
id = "t.tok-admin"
name = "tok admin"
provider = "T"
category = "ai"
confidence = "high"
pattern = '''admin:(?P<secret>tok_[a-z0-9]{20})\b'''
supersedes = ["t.tok"]
examples = ["admin:tok_q8w7e6r5t4y3u2i1o0pa"]
negative_examples = ["user:tok_q8w7e6r5t4y3u2i1o0pa"]

[[rule]]
id = "t.keyword"
name = "keyword"
provider = "Generic"
category = "generic"
generic = true
pattern = '''opaque\s{0,3}=\s{0,3}"(?P<secret>[^"\s]{8,64})"'''
examples = ['opaque = "Xk9mP2vL8qRt4w"']
negative_examples = ['opaque = "short"']
"#;

    fn scanner() -> Scanner {
        let mut rules = RuleSet::default();
        rules.add_text("t.toml", RULES);
        assert!(rules.errors.is_empty(), "{:?}", rules.errors);
        Scanner::new(rules, EngineKind::Portable).expect("scanner")
    }

    /// Deterministic pseudo-random lowercase alphanumerics.
    fn alnum(seed: &mut u64, n: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                A[(*seed % A.len() as u64) as usize] as char
            })
            .collect()
    }

    /// `n` lines, each with a distinct keyword value and a distinct format token: `n` tier-0 claims, `n`
    /// catch-all matches that each ask whether a claim overlaps them.
    fn many_lines(n: usize) -> Vec<u8> {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let mut text = String::new();
        for _ in 0..n {
            let p = format!("{}X{}9", alnum(&mut seed, 8), alnum(&mut seed, 7));
            let t = alnum(&mut seed, 20);
            text.push_str(&format!("opaque = \"{p}\" key = tok_{t}\n"));
        }
        text.into_bytes()
    }

    fn steps() -> u64 {
        work::STEPS.with(|s| s.replace(0))
    }

    /// The work of deciding which matches are outranked grows linearly (up to a log factor) with the
    /// matches of a blob: 10x the lines cost well under 20x the claim probes (quadratic work: 100x).
    #[test]
    fn claim_lookups_scale_linearly_with_matches() {
        let s = scanner();
        let origin = Origin::new("file", "a.env");
        let mut work = Vec::new();
        for n in [1_000, 10_000] {
            steps();
            let found = s.find_in_blob(&many_lines(n), &origin);
            work.push(steps());
            // Every token and (but for a few the generic filter drops) every keyword value reported.
            let tokens = found
                .iter()
                .filter(|f| f.secret.starts_with(b"tok_"))
                .count();
            assert_eq!(tokens, n);
            assert!(
                found.len() - tokens > n * 99 / 100,
                "{} keyword values",
                found.len() - tokens
            );
        }
        assert!(work[0] > 0, "the probes are counted");
        assert!(work[1] < 20 * work[0], "claim probes: {work:?}");
    }

    /// Collecting one secret seen at many locations, each twice, compares each new location with at
    /// most one earlier one (by hash): work linear in the locations (a list search: quadratic).
    #[test]
    fn location_dedup_scales_linearly_with_locations() {
        let mut seed = 7;
        let token = format!("tok_{}", alnum(&mut seed, 20));
        let text = format!("key = {token}\n");
        let mut work = Vec::new();
        for n in [500, 5_000] {
            let s = scanner();
            steps();
            for _ in 0..2 {
                for i in 0..n {
                    let origin = Origin::new("file", format!("d/f{i}.env"));
                    s.scan_blob(text.as_bytes(), &origin);
                }
            }
            work.push(steps());
            let (findings, _) = s.take_results();
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].locations.len(), n, "each location kept once");
        }
        assert!(
            work[1] <= 10 * work[0] + 10,
            "location comparisons: {work:?}"
        );
    }

    /// Tiers and `supersedes` as before: a catch-all never reports inside a format rule's span, and a
    /// superseded format rule yields to the rule that supersedes it.
    #[test]
    fn tiers_and_supersedes_still_decide() {
        let s = scanner();
        let mut seed = 11;
        let t = alnum(&mut seed, 20);
        let u = alnum(&mut seed, 20);
        let text = format!("opaque = \"tok_{t}\"\nadmin:tok_{u}\nkey = tok_{t}\n");
        let found = s.find_in_blob(text.as_bytes(), &Origin::new("file", "x"));
        let mut got: Vec<(String, String)> = found
            .iter()
            .map(|f| {
                (
                    s.rules.rules[f.rule].spec.id.clone(),
                    String::from_utf8_lossy(&f.secret).into_owned(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("t.tok".to_string(), format!("tok_{t}")),
                ("t.tok".to_string(), format!("tok_{t}")),
                ("t.tok-admin".to_string(), format!("tok_{u}")),
            ]
        );
    }

    /// The scanner over the embedded catalogue.
    fn catalogue() -> Scanner {
        Scanner::new(RuleSet::embedded(), EngineKind::Portable).expect("scanner")
    }

    fn findings(s: &Scanner, text: &str, path: &str) -> Vec<Finding> {
        s.scan_blob(text.as_bytes(), &Origin::new("file", path));
        s.take_results().0
    }

    /// Issue 21's bug: whitespace after `=` ran over the newline, so an empty `SECRET=` took the next line's
    /// `NAME=value` as its secret. The value of the next line's own key is still judged on its own.
    #[test]
    fn an_empty_assignment_takes_nothing_from_the_next_line() {
        let s = catalogue();
        let mut seed = 0x5eed;
        let v = alnum(&mut seed, 32);
        assert!(findings(&s, &format!("SECRET=\nBUILD_ID={v}\n"), ".env").is_empty());
        assert!(findings(&s, &format!("PASSWORD:\n  name: {v}\n"), "a.yaml").is_empty());
        let f = findings(&s, &format!("SECRET=\nAPI_KEY={v}X9\n"), ".env");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].secret, format!("{v}X9"));
    }

    /// In program source an unquoted value is an expression (`key=delims.get`, `token: crate::Key`); in
    /// configuration, or inside a string literal of the source, it is the value. A badge's token is none.
    #[test]
    fn a_bare_value_is_an_expression_only_in_program_source() {
        let s = catalogue();
        let mut seed = 0xba5e;
        let v = alnum(&mut seed, 24);
        let line = format!("token = {v}\n");
        assert!(findings(&s, &line, "app/client.py").is_empty());
        assert!(findings(&s, &line, "src/lib.rs").is_empty());
        assert_eq!(findings(&s, &line, "deploy/.env").len(), 1);
        assert_eq!(findings(&s, &line, "deploy/run.sh").len(), 1);
        let in_string = format!("url = \"https://api.internal/v1?token={v}\"\n");
        assert_eq!(findings(&s, &in_string, "app/client.py").len(), 1);
        let quoted = format!("token = \"{v}\"\n");
        assert_eq!(findings(&s, &quoted, "app/client.py").len(), 1);
        let badge =
            format!("[![cov](https://cov.a1.io/gh/o/r/badge.svg?token={v})](https://cov.a1.io)\n");
        assert!(findings(&s, &badge, "README.md").is_empty());
    }

    /// A catch-all finding carries the classifier's score and the confidence it maps to; a format rule's
    /// finding has no score. A test file lowers the score.
    #[test]
    fn classified_findings_carry_a_score() {
        let s = catalogue();
        let f = findings(
            &s,
            "DB_PASSWORD = \"mML7VaF64-XSD3Nw\"\n", // keysweep:allow (synthetic)
            "app/settings.py",
        );
        assert_eq!(f.len(), 1);
        let score = f[0].score.expect("a score");
        assert!(score >= check::classify::THRESHOLD, "{score}");
        assert_eq!(f[0].confidence, check::classify::confidence(score));
        let in_test = findings(
            &s,
            "DB_PASSWORD = \"mML7VaF64-XSD3Nw\"\n", // keysweep:allow (synthetic)
            "tests/test_settings.py",
        );
        assert!(in_test[0].score.expect("a score") < score);
        let pem = RuleSet::embedded()
            .rules
            .iter()
            .find(|r| r.id() == "private-key.rsa")
            .map(|r| r.spec.examples[0].clone())
            .expect("rsa rule");
        let f = findings(&s, &pem, "id_rsa");
        assert_eq!(f[0].score, None);
        assert_eq!(f[0].confidence, "high");
    }

    /// An encrypted private key is reported, at low confidence, its location marked `encrypted`: a PEM file and
    /// a key written as a chain of string literals alike.
    #[test]
    fn encrypted_private_keys_are_marked_and_low() {
        let s = catalogue();
        for (id, path) in [
            ("private-key.rsa", "id_rsa"),
            ("private-key.literal-chain", "keys.js"),
        ] {
            let rule = RuleSet::embedded()
                .rules
                .into_iter()
                .find(|r| r.id() == id)
                .expect("the rule");
            let encrypted = rule
                .spec
                .examples
                .iter()
                .find(|e| e.contains("Proc-Type: 4,ENCRYPTED"))
                .expect("an encrypted example");
            let f = findings(&s, encrypted, path);
            assert_eq!(f.len(), 1, "{id}");
            assert_eq!(f[0].rule_id, id);
            assert_eq!(f[0].confidence, "low", "{id}");
            assert!(f[0].locations[0].meta.detail.encrypted, "{id}");
            let plain = rule
                .spec
                .examples
                .iter()
                .find(|e| !e.contains("ENCRYPTED"))
                .expect("a plaintext example");
            let f = findings(&s, plain, path);
            assert_eq!(f[0].confidence, "high", "{id}");
            assert!(!f[0].locations[0].meta.detail.encrypted, "{id}");
        }
    }

    proptest::proptest! {
        /// `Spans::overlaps` answers exactly as a check of every span would.
        #[test]
        fn spans_overlap_like_a_linear_scan(
            spans in proptest::collection::vec((0usize..200, 0usize..40), 0..40),
            queries in proptest::collection::vec((0usize..220, 0usize..40), 1..40),
        ) {
            let spans: Vec<(usize, usize)> = spans.into_iter().map(|(s, l)| (s, s + l)).collect();
            let index = Spans::new(spans.clone());
            for (s, l) in queries {
                let e = s + l;
                let linear = spans.iter().any(|&(a, b)| a < e && s < b);
                proptest::prop_assert_eq!(index.overlaps(s, e), linear, "{}..{} in {:?}", s, e, spans);
            }
        }
    }
}
