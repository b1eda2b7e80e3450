//! The scanner: ties rules, the engine, checks and decoders together. Sources hand it blobs
//! (`scan_blob`); it decodes them, runs one engine pass per segment, checks each candidate, maps locations
//! back to the raw blob, applies inline allow comments, and collects findings deduplicated by fingerprint.
//! Thread-safe: sources call it from many threads.
use crate::check;
use crate::decode::{Registry, Segment};
use crate::engine::{self, Candidate, EngineKind, Matcher, RawMatch};
use anyhow::Result;
use keysweep_model::{fingerprint, looks_binary, BlobSink, Diagnostics, Finding, Location, Origin};
pub use keysweep_model::{BlobFinding, Stats, StatsSnapshot};
use keysweep_rules::{Rule, RuleSet};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

/// Comments that suppress findings on their line.
pub const ALLOW_MARKERS: &[&[u8]] = &[
    b"keysweep:allow",
    b"gitleaks:allow",
    b"pragma: allowlist secret",
];

/// The scanner. Build once, share by reference across threads.
pub struct Scanner {
    pub rules: RuleSet,
    matcher: Box<dyn Matcher>,
    pub decoders: Registry,
    pub stats: Stats,
    /// Skip binary blobs (NUL in the first 8 KiB) unless a decoder accepts them.
    pub skip_binary: bool,
    /// Honour inline allow comments.
    pub inline_allow: bool,
    findings: Mutex<HashMap<String, Finding>>,
    warnings: Mutex<Vec<String>>,
    /// Secret markers of the format rules (`Rule::secret_prefixes`), sorted: a catch-all rule never reports
    /// a value that starts with one.
    format_markers: Vec<Vec<u8>>,
}

impl Scanner {
    /// Build a scanner over `rules` with the chosen engine.
    pub fn new(rules: RuleSet, engine: EngineKind) -> Result<Scanner> {
        let (matcher, warnings) = engine::build(engine, &rules.rules)?;
        let mut format_markers: Vec<Vec<u8>> = rules
            .rules
            .iter()
            .filter(|r| !r.is_catch_all())
            .flat_map(|r| r.secret_prefixes.iter().cloned())
            .collect();
        format_markers.sort();
        format_markers.dedup();
        Ok(Scanner {
            format_markers,
            rules,
            matcher,
            decoders: Registry::builtin(),
            stats: Stats::default(),
            skip_binary: true,
            inline_allow: true,
            findings: Mutex::new(HashMap::new()),
            warnings: Mutex::new(warnings),
        })
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
        if let Ok(mut w) = self.warnings.lock() {
            w.push(msg.into());
        }
    }

    /// Record an error about one input: a warning that also counts towards the error total.
    pub fn error(&self, msg: impl Into<String>) {
        self.stats.errors.fetch_add(1, Relaxed);
        self.warn(msg);
    }

    /// Scan one blob and collect its findings.
    pub fn scan_blob(&self, data: &[u8], origin: &Origin) {
        let found = self.find_in_blob(data, origin);
        self.collect(found);
    }

    /// Scan one blob and return its findings without collecting them.
    pub fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        self.stats.blobs.fetch_add(1, Relaxed);
        self.stats.bytes.fetch_add(data.len() as u64, Relaxed);
        if self.skip_binary && looks_binary(data) && !self.decoders.accepts_any(&origin.path, data)
        {
            self.stats.skipped_binary.fetch_add(1, Relaxed);
            return Vec::new();
        }
        let (segments, warning) = self.decoders.decode_blob(&origin.path, data);
        if let Some(w) = warning {
            self.warn(w);
        }
        let mut out = Vec::new();
        let mut lines = LineIndex::default();
        for seg in &segments {
            self.scan_segment(seg, data, origin, &mut lines, &mut out);
        }
        out
    }

    /// Scan one decoded segment of `raw`.
    fn scan_segment(
        &self,
        seg: &Segment,
        raw: &[u8],
        origin: &Origin,
        lines: &mut LineIndex,
        out: &mut Vec<BlobFinding>,
    ) {
        let hay: &[u8] = &seg.text;
        let mut cands: Vec<Candidate> = Vec::new();
        if let Err(e) = self.matcher.candidates(hay, &mut cands) {
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
        let verdicts: Vec<Result<f64, check::Reject>> = matches
            .iter()
            .map(|m| check::check(&self.rules.rules[m.rule], hay, m))
            .collect();
        // Secret spans claimed by more specific rules. Format rules (tier 0) claim what they report and what
        // they recognise as a fake of their format (wrong checksum, placeholder, rule-specific decoy);
        // provider keyword rules (`generic = true`, tier 1) claim what they report. A rule never reports
        // inside a span claimed by a lower tier, and a format rule yields to one that `supersedes` it: one
        // secret, one finding, from the most specific rule.
        let claimed: Vec<(usize, usize, u8, usize)> = matches
            .iter()
            .zip(&verdicts)
            .filter(|(m, v)| {
                let r = &self.rules.rules[m.rule];
                match (rule_tier(r), v) {
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
                }
            })
            .map(|(m, v)| {
                let r = &self.rules.rules[m.rule];
                // A fake of a format claims its span, but supersedes nothing.
                let by = if v.is_ok() { m.rule } else { usize::MAX };
                (m.secret_start, m.secret_end, rule_tier(r), by)
            })
            .collect();
        for (m, verdict) in matches.into_iter().zip(verdicts) {
            let rule = &self.rules.rules[m.rule];
            let Ok(entropy) = verdict else {
                continue;
            };
            let tier = rule_tier(rule);
            let overlaps = |s: usize, e: usize| s < m.secret_end && m.secret_start < e;
            let outranked = claimed.iter().any(|&(s, e, t, by)| {
                overlaps(s, e)
                    && (t < tier
                        || (t == 0
                            && tier == 0
                            && by != usize::MAX
                            && self.rules.rules[by].spec.supersedes.contains(&rule.spec.id)))
            });
            if outranked || (tier > 0 && self.has_format_marker(&hay[m.secret_start..m.secret_end]))
            {
                continue;
            }
            let raw_start = seg.map.to_raw(m.secret_start).min(raw.len());
            let raw_end = seg.map.to_raw(m.secret_end).clamp(raw_start, raw.len());
            if self.inline_allow
                && (line_has_allow(raw, raw_start) || line_has_allow(hay, m.secret_start))
            {
                self.stats.suppressed.fetch_add(1, Relaxed);
                continue;
            }
            let (line, column) = lines.line_col(raw, raw_start);
            let mut meta = origin.meta.clone();
            for (k, v) in &seg.meta {
                meta.insert(k.clone(), v.clone());
            }
            if seg.segment_lines {
                let (l, _) = seg_lines.line_col(hay, m.secret_start);
                meta.insert("line_in_segment".into(), Value::from(l));
            }
            out.push(BlobFinding {
                rule: m.rule,
                secret: hay[m.secret_start..m.secret_end].to_vec(),
                entropy,
                location: Location {
                    source: origin.source.to_string(),
                    path: origin.path.clone(),
                    line,
                    column,
                    byte_start: raw_start as u64,
                    byte_end: raw_end as u64,
                    ignored: origin.ignored,
                    meta,
                },
            });
        }
    }

    /// Add blob findings to the deduplicated collection.
    pub fn collect(&self, found: Vec<BlobFinding>) {
        if found.is_empty() {
            return;
        }
        let Ok(mut map) = self.findings.lock() else {
            return;
        };
        for f in found {
            let rule = &self.rules.rules[f.rule];
            let fp = fingerprint(&rule.spec.id, &f.secret);
            let entry = map.entry(fp.clone()).or_insert_with(|| Finding {
                rule_id: rule.spec.id.clone(),
                rule_name: rule.spec.name.clone(),
                provider: rule.spec.provider.clone(),
                category: rule.spec.category.clone(),
                confidence: rule.spec.confidence.clone(),
                fingerprint: fp,
                secret: String::from_utf8_lossy(&f.secret).into_owned(),
                redacted: false,
                entropy: (f.entropy * 1000.0).round() / 1000.0,
                locations: Vec::new(),
                verification: None,
                description: rule.spec.description.clone(),
                rotation_url: rule.spec.rotation_url.clone(),
            });
            if !entry.locations.contains(&f.location) {
                entry.locations.push(f.location);
            }
        }
    }

    /// Take the collected findings (sorted) and warnings, leaving the scanner empty.
    pub fn take_results(&self) -> (Vec<Finding>, Vec<String>) {
        let mut findings: Vec<Finding> = self
            .findings
            .lock()
            .map(|mut m| m.drain().map(|(_, f)| f).collect())
            .unwrap_or_default();
        // Locations in a stable order: by path and position, then (one path in several commits or
        // layers) by date and the rest of the metadata, whatever order parallel workers found them in.
        let meta = |l: &Location| serde_json::to_string(&l.meta).unwrap_or_default();
        for f in &mut findings {
            f.locations.sort_by(|a, b| {
                (&a.path, a.line, a.column)
                    .cmp(&(&b.path, b.line, b.column))
                    .then_with(|| {
                        a.meta
                            .get("date")
                            .map(|d| d.to_string())
                            .cmp(&b.meta.get("date").map(|d| d.to_string()))
                    })
                    .then_with(|| meta(a).cmp(&meta(b)))
            });
        }
        findings.sort_by_key(|f| f.sort_key());
        let warnings = self
            .warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        (findings, warnings)
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

/// Whether the line holding `offset` carries an allow comment.
fn line_has_allow(text: &[u8], offset: usize) -> bool {
    let offset = offset.min(text.len());
    let start = memchr::memrchr(b'\n', &text[..offset])
        .map(|i| i + 1)
        .unwrap_or(0);
    let end = memchr::memchr(b'\n', &text[offset..])
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let line = &text[start..end];
    ALLOW_MARKERS
        .iter()
        .any(|m| memchr::memmem::find(line, m).is_some())
}

/// Newline offsets of a text, built on first use.
#[derive(Default)]
struct LineIndex {
    newlines: Option<Vec<usize>>,
}

impl LineIndex {
    /// 1-based line and column (in bytes) of `offset` in `text`.
    fn line_col(&mut self, text: &[u8], offset: usize) -> (u64, u64) {
        let nl = self
            .newlines
            .get_or_insert_with(|| memchr::memchr_iter(b'\n', text).collect());
        let before = nl.partition_point(|&p| p < offset);
        let line_start = if before == 0 { 0 } else { nl[before - 1] + 1 };
        (before as u64 + 1, (offset - line_start) as u64 + 1)
    }
}
