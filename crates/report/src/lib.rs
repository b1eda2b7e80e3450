//! Report sinks over the shared `Finding` model: human (colour on a TTY, secrets redacted unless asked),
//! JSON, JSONL, SARIF 2.1.0, GitLab's secret-detection report and a standalone HTML report. Lists of refs
//! reaching a git location are bounded here for every format (`MAX_REFS`, `bound_refs`). Redaction policy lives here (`redacts`, and `redact`
//! for every string that came from scanned content); sinks never decide it themselves.
use anyhow::Result;
use keysweep_model::{Finding, StatsSnapshot};
use serde::Serialize;
use std::io::Write;

pub use redact::Redactor;

pub mod gitlab;
pub mod html;
pub mod human;
pub mod redact;
pub mod sarif;
pub mod units;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
    Jsonl,
    Sarif,
    Html,
    /// GitLab's secret-detection report (`gitlab`).
    Gitlab,
}

/// What a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub format: Format,
    /// Show secrets in human and SARIF output.
    pub show_secrets: bool,
    /// Redact secrets in JSON and JSONL output.
    pub redact: bool,
    pub color: bool,
}

/// Everything a report may show besides the findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanSummary {
    pub stats: StatsSnapshot,
    pub warnings: Vec<String>,
    pub engine: String,
    pub rules: usize,
    /// The command that ran (`scan`, `git`, `staged`, `image`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// What was scanned: paths, repositories, image references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// When the run started, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Wall time of the run up to the report, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Digest of the rule set (changes whenever a rule does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rules_version: String,
    /// When the run started, Unix seconds (for formats that write their own timestamps: GitLab's).
    #[serde(skip)]
    pub started_unix: Option<i64>,
}

/// At most this many names of the refs reaching a git location are written (history keeps no more either).
pub use keysweep_model::limits::MAX_REFS;

/// `findings` with every location's `refs` list bounded to `MAX_REFS` (and `refs_total` added where cut);
/// borrowed when nothing needs cutting.
pub fn bound_refs(findings: &[Finding]) -> std::borrow::Cow<'_, [Finding]> {
    let long = |l: &keysweep_model::Location| {
        l.meta
            .git()
            .and_then(|g| g.refs.as_ref())
            .is_some_and(|r| r.len() > MAX_REFS)
    };
    if !findings.iter().any(|f| f.locations.iter().any(long)) {
        return std::borrow::Cow::Borrowed(findings);
    }
    let mut out = findings.to_vec();
    for l in out.iter_mut().flat_map(|f| f.locations.iter_mut()) {
        if let keysweep_model::Provenance::Git(g) = &mut l.meta.provenance {
            if let Some(refs) = &mut g.refs {
                let total = refs.len();
                if total > MAX_REFS {
                    refs.truncate(MAX_REFS);
                    g.refs_total = Some(total as u64);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether secrets are redacted for this format under these options.
pub fn redacts(opts: &ReportOptions) -> bool {
    match opts.format {
        Format::Human | Format::Sarif | Format::Html | Format::Gitlab => !opts.show_secrets,
        Format::Json | Format::Jsonl => opts.redact,
    }
}

/// Write `findings` in the chosen format. When the format redacts, the `secret` fields are redacted and every
/// secret `redactor` knows is scrubbed from paths, provenance, verification details and warnings.
pub fn write(
    out: &mut dyn Write,
    findings: &[Finding],
    summary: &ScanSummary,
    opts: &ReportOptions,
    redactor: &Redactor,
) -> Result<()> {
    let bounded = bound_refs(findings);
    let findings = &bounded[..];
    let redacted: Vec<Finding>;
    let scrubbed: ScanSummary;
    let (findings, summary) = if redacts(opts) {
        redacted = findings.iter().map(|f| redactor.redacted(f)).collect();
        scrubbed = ScanSummary {
            warnings: summary
                .warnings
                .iter()
                .map(|w| redactor.scrub(w).into_owned())
                .collect(),
            targets: summary
                .targets
                .iter()
                .map(|t| redactor.scrub(t).into_owned())
                .collect(),
            ..summary.clone()
        };
        (&redacted[..], &scrubbed)
    } else {
        (findings, summary)
    };
    match opts.format {
        Format::Human => human::write(out, findings, summary, opts.color)?,
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                version: &'a str,
                findings: &'a [Finding],
                summary: &'a ScanSummary,
            }
            serde_json::to_writer_pretty(
                &mut *out,
                &Doc {
                    version: env!("CARGO_PKG_VERSION"),
                    findings,
                    summary,
                },
            )?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif::document(findings))?;
            writeln!(out)?;
        }
        Format::Gitlab => {
            let doc = gitlab::document(findings, summary, redacts(opts));
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        Format::Html => {
            let entries: Vec<html::Entry> = findings.iter().map(html::Entry::new).collect();
            html::write(out, &entries, summary)?;
        }
    }
    out.flush()?;
    Ok(())
}
