//! Human-readable report: one block per finding, colour when writing to a terminal, then a summary line.
//! Every string that came from scanned content (paths, provenance, secrets) or from rule files is written
//! with control characters escaped (`terminal_safe`), so a file or tar-entry name cannot drive the terminal.
use crate::ScanSummary;
use keysweep_model::provenance::keys;
use keysweep_model::{Finding, MetaValue};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// `text` with every control character (C0, DEL, C1: escape sequences, carriage returns, newlines) written as
/// a visible escape (`\x1b`, `\u{9b}`), so it prints as one inert line.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !c.is_control() {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

struct Paint(bool);

impl Paint {
    fn s(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn meta_text(v: &Value) -> String {
    match v {
        Value::String(s) => terminal_safe(s).into_owned(),
        other => terminal_safe(&other.to_string()).into_owned(),
    }
}

/// The refs shown per location in human output; the rest are counted (`+N more`; JSON lists up to
/// `crate::MAX_REFS` of them, with `refs_total`).
pub const HUMAN_REFS: usize = 3;

/// `[a, b, c, +N more]`: the first few refs of a location and how many others reach it.
fn refs_text(refs: &[String], l: &keysweep_model::Location) -> String {
    let total = l
        .meta
        .git()
        .and_then(|g| g.refs_total)
        .map_or(refs.len(), |t| t as usize)
        .max(refs.len());
    let mut shown: Vec<String> = refs
        .iter()
        .take(HUMAN_REFS)
        .map(|r| terminal_safe(r).into_owned())
        .collect();
    if total > shown.len() {
        shown.push(format!("+{} more", total - shown.len()));
    }
    format!("[{}]", shown.join(", "))
}

pub fn write(
    out: &mut dyn Write,
    findings: &[Finding],
    summary: &ScanSummary,
    color: bool,
) -> io::Result<()> {
    let p = Paint(color);
    for f in findings {
        writeln!(
            out,
            "{} {} [{}] {}",
            p.s("1;31", "●"),
            p.s("1", &terminal_safe(&f.rule_name)),
            terminal_safe(&f.rule_id),
            p.s("2", &format!("confidence: {}", f.confidence))
        )?;
        writeln!(
            out,
            "  secret:      {}",
            p.s("33", &terminal_safe(&f.secret))
        )?;
        writeln!(out, "  fingerprint: {}", f.fingerprint)?;
        if let Some(v) = &f.verification {
            writeln!(
                out,
                "  verified:    {}{}{}",
                v.status,
                v.identity
                    .as_deref()
                    .map(|i| format!(" ({})", terminal_safe(i)))
                    .unwrap_or_default(),
                v.detail
                    .as_deref()
                    .map(|d| format!(" — {}", terminal_safe(d)))
                    .unwrap_or_default()
            )?;
        }
        if let Some(t) = &f.triage {
            writeln!(
                out,
                "  triage:      {}{}",
                terminal_safe(&t.status),
                t.note
                    .as_deref()
                    .map(|n| format!(" — {}", terminal_safe(n)))
                    .unwrap_or_default()
            )?;
        }
        for l in &f.locations {
            // A git location names its blob; other sources' content ids are left to the JSON formats.
            let mut extra: Vec<String> = l
                .meta
                .entries()
                .into_iter()
                .filter(|(k, _)| *k != keys::REFS_TOTAL && (*k != keys::BLOB || l.source == "git"))
                .map(|(k, v)| match v {
                    MetaValue::Strs(refs) if k == keys::REFS => {
                        format!("refs={}", refs_text(refs, l))
                    }
                    _ => format!(
                        "{k}={}",
                        meta_text(&serde_json::to_value(v).unwrap_or_default())
                    ),
                })
                .collect();
            if l.ignored {
                extra.push("ignored".into());
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!("  ({})", extra.join(", "))
            };
            writeln!(
                out,
                "  at {}{}",
                p.s(
                    "36",
                    &format!("{}:{}:{}", terminal_safe(&l.path), l.line, l.column)
                ),
                p.s("2", &extra)
            )?;
        }
        writeln!(out)?;
    }
    let s = &summary.stats;
    let mut parts = vec![
        format!("{} finding(s)", findings.len()),
        match summary.duration_ms {
            Some(ms) => format!(
                "{} {}, {} scanned in {}",
                crate::units::count(s.blobs),
                unit_noun(&summary.command),
                crate::units::bytes(s.bytes),
                crate::units::duration(std::time::Duration::from_millis(ms))
            ),
            None => format!(
                "{} {}, {} scanned",
                crate::units::count(s.blobs),
                unit_noun(&summary.command),
                crate::units::bytes(s.bytes)
            ),
        },
    ];
    if s.suppressed > 0 {
        parts.push(format!(
            "{} suppressed by allow comments or baseline",
            s.suppressed
        ));
    }
    if s.skipped_binary > 0 {
        parts.push(format!("{} binary skipped", s.skipped_binary));
    }
    if s.skipped_large > 0 {
        parts.push(format!("{} too large skipped", s.skipped_large));
    }
    if s.unreadable > 0 {
        parts.push(format!("{} unreadable", s.unreadable));
    }
    if s.errors > 0 {
        parts.push(format!("{} error(s)", s.errors));
    }
    writeln!(out, "{}", p.s("1", &parts.join(" · ")))
}

/// What a command's scanned units are called: files for the working tree and the index, blobs for
/// history and image layers.
pub fn unit_noun(command: &str) -> &'static str {
    match command {
        "scan" | "staged" => "file(s)",
        _ => "blob(s)",
    }
}
