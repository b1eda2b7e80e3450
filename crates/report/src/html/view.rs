//! What the template sees: every value precomputed as plain strings and numbers (the template escapes them).
use super::charts::{self, BarChart};
use super::{distinct, location_day, meta_text, ranked, source_kind, Entry};
use crate::ScanSummary;
use askama::Template;
use keysweep_model::provenance::keys;
use serde_json::Value;

/// One location of a finding, with its provenance as label/value pairs.
pub struct LocView {
    pub kind: &'static str,
    pub path: String,
    pub line: u64,
    pub column: u64,
    pub ignored: bool,
    /// A later image layer deleted the file (the secret is still in the image's history).
    pub deleted_in_layer: Option<String>,
    pub fields: Vec<(String, String)>,
}

pub struct Row {
    pub rule_id: String,
    pub rule_name: String,
    pub provider: String,
    pub category: String,
    pub confidence: String,
    pub conf_rank: u8,
    pub secret: String,
    pub redacted: bool,
    pub fingerprint: String,
    pub verification: String,
    pub verification_detail: String,
    pub status: String,
    /// The repositories holding it, for display (`a, b`).
    pub repository: String,
    /// `|repo|repo|` for the repository filter.
    pub repo_keys: String,
    /// The same, as a list.
    pub repo_list: Vec<String>,
    /// `|kind|kind|` for the source filter.
    pub kinds: String,
    pub kind_labels: Vec<&'static str>,
    pub where_path: String,
    pub where_line: u64,
    pub first_seen: String,
    pub description: String,
    /// Only `https://` links are kept (a rule from `--rules DIR` could carry any scheme).
    pub rotation_url: Option<String>,
    pub locations: Vec<LocView>,
}

pub struct Stat {
    pub label: String,
    pub count: usize,
    pub class: String,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct Page {
    pub version: &'static str,
    pub title: String,
    pub command: String,
    pub targets: Vec<String>,
    pub started_at: String,
    pub duration: String,
    pub bytes: String,
    pub blobs: u64,
    /// `file(s)` or `blob(s)` (`human::unit_noun`).
    pub unit: &'static str,
    pub engine: String,
    pub rules: usize,
    pub rules_version: String,
    pub total: usize,
    pub total_locations: usize,
    pub live: usize,
    pub high: usize,
    pub open: usize,
    pub by_confidence: Vec<Stat>,
    pub by_verification: Vec<Stat>,
    pub by_status: Vec<Stat>,
    pub by_kind: Vec<Stat>,
    pub by_category: Vec<Stat>,
    pub charts: Vec<BarChart>,
    pub providers: Vec<String>,
    pub statuses: Vec<String>,
    pub repositories: Vec<String>,
    pub kinds: Vec<String>,
    pub verifications: Vec<String>,
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
    pub suppressed: u64,
    /// Some secret is in the page in full (`--show-secrets`).
    pub secrets_shown: bool,
}

/// Friendly labels for known provenance keys, in display order; other keys follow under their own name.
const FIELDS: &[(&str, &str)] = &[
    (keys::COMMIT, "Commit"),
    (keys::AUTHOR, "Author"),
    (keys::DATE, "Date"),
    (keys::SUMMARY, "Message"),
    (keys::REFS, "Refs"),
    (keys::TAG, "Tag"),
    (keys::CELL, "Notebook cell"),
    (keys::OUTPUT, "Cell output"),
    (keys::LINE_IN_SEGMENT, "Line in cell"),
    (keys::IMAGE, "Image"),
    (keys::LAYER, "Layer"),
    (keys::LAYER_DIGEST, "Layer digest"),
    (keys::CI, "CI system"),
    (keys::JOB, "Job"),
    (keys::STEP, "Step"),
];

fn loc_view(l: &keysweep_model::Location) -> LocView {
    // As in human output, a git location names its blob; other sources' content ids are in the JSON formats.
    let entries: Vec<(&str, Value)> = l
        .meta
        .entries()
        .into_iter()
        .filter(|(k, _)| *k != keys::BLOB || l.source == "git")
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect();
    let get = |key: &str| entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    let mut fields = Vec::new();
    for (k, label) in FIELDS {
        if let Some(v) = get(k) {
            let t = meta_text(v);
            if !t.is_empty() {
                fields.push((label.to_string(), t));
            }
        }
    }
    for (k, v) in &entries {
        if *k == keys::DELETED_IN_LAYER || FIELDS.iter().any(|(f, _)| f == k) {
            continue;
        }
        fields.push((k.replace('_', " "), meta_text(v)));
    }
    LocView {
        kind: source_kind(l),
        path: l.path.to_string(),
        line: l.line,
        column: l.column,
        ignored: l.ignored,
        deleted_in_layer: get(keys::DELETED_IN_LAYER).map(meta_text),
        fields,
    }
}

fn conf_rank(c: &str) -> u8 {
    match c {
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

fn stats(v: Vec<(String, usize)>, class_prefix: &str) -> Vec<Stat> {
    v.into_iter()
        .map(|(label, count)| Stat {
            class: format!("{class_prefix}-{}", label.replace(' ', "-")),
            label,
            count,
        })
        .collect()
}

impl Page {
    pub fn build(entries: &[Entry], summary: &ScanSummary) -> Page {
        let rows: Vec<Row> = entries
            .iter()
            .map(|e| {
                let f = e.finding;
                let locations: Vec<LocView> = f.locations.iter().map(loc_view).collect();
                let kind_labels = distinct(locations.iter().map(|l| l.kind));
                let kind_labels: Vec<&'static str> =
                    ["tree", "history", "staged", "notebook", "image", "CI"]
                        .into_iter()
                        .filter(|k| kind_labels.iter().any(|x| x == k))
                        .collect();
                let first_seen = f
                    .locations
                    .iter()
                    .filter_map(location_day)
                    .min()
                    .unwrap_or_default()
                    .to_string();
                let (verification, verification_detail) = match &f.verification {
                    Some(v) => (
                        v.status.clone(),
                        [v.identity.as_deref(), v.detail.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" — "),
                    ),
                    None => ("not checked".to_string(), String::new()),
                };
                let first = f.locations.first();
                // The entry's repository, or (a datastore report) every repository its locations name.
                let repo_list: Vec<String> = match e.repository {
                    Some(r) => vec![r.to_string()],
                    None => distinct(
                        f.locations
                            .iter()
                            .filter_map(|l| l.meta.repository.as_deref()),
                    ),
                };
                Row {
                    rule_id: f.rule_id.clone(),
                    rule_name: f.rule_name.clone(),
                    provider: f.provider.clone(),
                    category: f.category.clone(),
                    conf_rank: conf_rank(&f.confidence),
                    confidence: f.confidence.clone(),
                    secret: f.secret.clone(),
                    redacted: f.redacted,
                    fingerprint: f.fingerprint.clone(),
                    verification,
                    verification_detail,
                    status: e.status.unwrap_or("open").to_string(),
                    repository: repo_list.join(", "),
                    repo_keys: format!("|{}|", repo_list.join("|")),
                    repo_list,
                    kinds: format!("|{}|", kind_labels.join("|")),
                    kind_labels,
                    where_path: first.map(|l| l.path.to_string()).unwrap_or_default(),
                    where_line: first.map(|l| l.line).unwrap_or(0),
                    first_seen,
                    description: f.description.clone().unwrap_or_default(),
                    rotation_url: f
                        .rotation_url
                        .as_ref()
                        .filter(|u| u.starts_with("https://"))
                        .cloned(),
                    locations,
                }
            })
            .collect();

        let by_provider = ranked(rows.iter().map(|r| r.provider.as_str()));
        let mut by_confidence = ranked(rows.iter().map(|r| r.confidence.as_str()));
        by_confidence.sort_by_key(|(c, _)| std::cmp::Reverse(conf_rank(c)));
        let by_verification = ranked(rows.iter().map(|r| r.verification.as_str()));
        let by_status = ranked(rows.iter().map(|r| r.status.as_str()));
        let by_kind = ranked(rows.iter().flat_map(|r| r.kind_labels.iter().copied()));
        let by_category = ranked(rows.iter().map(|r| r.category.as_str()));
        let days: Vec<&str> = rows
            .iter()
            .map(|r| r.first_seen.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        let mut charts = vec![charts::horizontal(
            "Findings by provider",
            "distinct secrets",
            &by_provider,
            9,
        )];
        let timeline = charts::timeline(&days);
        if timeline.is_empty() {
            charts.push(charts::horizontal(
                "Findings by category",
                "no commit dates in this scan",
                &by_category,
                9,
            ));
        } else {
            let unit = if timeline.first().is_some_and(|(l, _)| l.len() == 4) {
                "year"
            } else {
                "month"
            };
            charts.push(charts::columns(
                "First seen over time",
                &format!("findings by the {unit} of their earliest commit"),
                &timeline,
            ));
        }

        let live = rows
            .iter()
            .filter(|r| matches!(r.verification.as_str(), "live" | "restricted"))
            .count();
        let target = summary.targets.join(", ");
        Page {
            version: env!("CARGO_PKG_VERSION"),
            title: if target.is_empty() {
                "keysweep report".into()
            } else {
                format!("keysweep report: {target}")
            },
            command: summary.command.clone(),
            targets: summary.targets.clone(),
            started_at: summary.started_at.clone().unwrap_or_default(),
            duration: summary
                .duration_ms
                .map(|ms| crate::units::duration(std::time::Duration::from_millis(ms)))
                .unwrap_or_default(),
            bytes: crate::units::bytes(summary.stats.bytes),
            blobs: summary.stats.blobs,
            unit: crate::human::unit_noun(&summary.command),
            engine: summary.engine.clone(),
            rules: summary.rules,
            rules_version: summary.rules_version.chars().take(12).collect(),
            total: rows.len(),
            total_locations: rows.iter().map(|r| r.locations.len()).sum(),
            live,
            high: rows.iter().filter(|r| r.confidence == "high").count(),
            open: rows.iter().filter(|r| r.status == "open").count(),
            by_confidence: stats(by_confidence, "c"),
            by_verification: stats(by_verification, "v"),
            by_status: stats(by_status, "s"),
            by_kind: stats(by_kind, "k"),
            by_category: stats(by_category, "g"),
            charts,
            providers: distinct(rows.iter().map(|r| r.provider.as_str())),
            statuses: distinct(rows.iter().map(|r| r.status.as_str())),
            repositories: distinct(
                rows.iter()
                    .flat_map(|r| r.repo_list.iter().map(String::as_str))
                    .filter(|r| !r.is_empty()),
            ),
            kinds: distinct(rows.iter().flat_map(|r| r.kind_labels.iter().copied())),
            verifications: distinct(rows.iter().map(|r| r.verification.as_str())),
            warnings: summary.warnings.clone(),
            suppressed: summary.stats.suppressed,
            secrets_shown: rows.iter().any(|r| !r.redacted),
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keysweep_model::provenance::{Detail, Meta};

    /// Every friendly label names a key the model writes: a notebook location shows its cell, output and line in
    /// the cell under their labels, and no raw key name is left over.
    #[test]
    fn notebook_details_get_their_labels() {
        let l = keysweep_model::Location {
            source: "file".into(),
            path: "nb.ipynb".into(),
            line: 12,
            column: 3,
            byte_start: 0,
            byte_end: 1,
            ignored: false,
            meta: Meta {
                detail: Detail {
                    cell: Some(2),
                    output: Some(0),
                    line_in_segment: Some(4),
                    ..Detail::default()
                },
                ..Meta::default()
            },
        };
        let fields = loc_view(&l).fields;
        assert_eq!(
            fields,
            vec![
                ("Notebook cell".to_string(), "2".to_string()),
                ("Cell output".to_string(), "0".to_string()),
                ("Line in cell".to_string(), "4".to_string()),
            ]
        );
    }
}
