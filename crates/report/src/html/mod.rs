//! The standalone HTML report: one self-contained file (styles, script and charts inline; no network fetch),
//! rendered by an askama template (`templates/report.html`, HTML-escaped by default) from plain data: the
//! findings, each with an optional triage status and repository, and the run's `ScanSummary`. A scanning
//! command passes its findings through `crate::write`; a datastore report builds `Entry`s itself.
//!
//! Callers redact before calling `write` (as `crate::write` does unless `--show-secrets`).
use crate::ScanSummary;
use anyhow::Result;
use askama::Template;
use keysweep_model::provenance::keys;
use keysweep_model::{Finding, Location};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

mod charts;
mod view;

pub use charts::{Bar, BarChart};

/// One finding as the report shows it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub finding: &'a Finding,
    /// Triage status from a datastore (`open`, `false-positive`, `rotated`, …); shown as `open` when unknown.
    pub status: Option<&'a str>,
    /// The repository the finding belongs to, for reports over several repositories.
    pub repository: Option<&'a str>,
}

impl<'a> Entry<'a> {
    pub fn new(finding: &'a Finding) -> Self {
        Entry {
            finding,
            status: finding.triage.as_ref().map(|t| t.status.as_str()),
            repository: None,
        }
    }
}

/// Write the report for `entries` (already redacted as the caller's policy demands).
pub fn write(out: &mut dyn Write, entries: &[Entry], summary: &ScanSummary) -> Result<()> {
    let page = view::Page::build(entries, summary);
    let html = page.render()?;
    out.write_all(html.as_bytes())?;
    Ok(())
}

/// The kind of source a location came from, as the report groups them.
pub fn source_kind(l: &Location) -> &'static str {
    let git = l.meta.git();
    if l.meta.detail.extra.contains_key(keys::CI) {
        "CI"
    } else if l.meta.detail.cell.is_some() {
        "notebook"
    } else if l.source == "image" || l.meta.image().is_some_and(|i| i.layer.is_some()) {
        "image"
    } else if git.is_some_and(|g| g.staged) {
        "staged"
    } else if l.source == "git" || git.is_some_and(|g| g.commit.is_some()) {
        "history"
    } else {
        "tree"
    }
}

/// `YYYY-MM-DD` of a location's date (git commit date), when it has one.
fn location_day(l: &Location) -> Option<&str> {
    let d = l.meta.date()?;
    let day = d.get(..10)?;
    let b = day.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    ok.then_some(day)
}

fn meta_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(meta_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Count values, most frequent first (ties by name).
fn ranked<'s>(values: impl Iterator<Item = &'s str>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *m.entry(v).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Distinct values in first-seen order.
fn distinct<'s>(values: impl Iterator<Item = &'s str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for v in values {
        if seen.insert(v) {
            out.push(v.to_string());
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
