//! Human-readable report: one block per finding, colour when writing to a terminal, then a summary line.
use crate::ScanSummary;
use keysweep_model::Finding;
use serde_json::Value;
use std::io::{self, Write};

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
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
            p.s("1", &f.rule_name),
            f.rule_id,
            p.s("2", &format!("confidence: {}", f.confidence))
        )?;
        writeln!(out, "  secret:      {}", p.s("33", &f.secret))?;
        writeln!(out, "  fingerprint: {}", f.fingerprint)?;
        if let Some(v) = &f.verification {
            writeln!(
                out,
                "  verified:    {}{}{}",
                v.status,
                v.identity
                    .as_deref()
                    .map(|i| format!(" ({i})"))
                    .unwrap_or_default(),
                v.detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            )?;
        }
        for l in &f.locations {
            let mut extra: Vec<String> = l
                .meta
                .iter()
                .map(|(k, v)| format!("{k}={}", meta_text(v)))
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
                p.s("36", &format!("{}:{}:{}", l.path, l.line, l.column)),
                p.s("2", &extra)
            )?;
        }
        writeln!(out)?;
    }
    let s = &summary.stats;
    let mut parts = vec![
        format!("{} finding(s)", findings.len()),
        format!("{} blob(s), {} bytes scanned", s.blobs, s.bytes),
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
    if s.errors > 0 {
        parts.push(format!("{} error(s)", s.errors));
    }
    writeln!(out, "{}", p.s("1", &parts.join(" · ")))
}
