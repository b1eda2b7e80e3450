//! The report pipeline every scanning command ends in: take the scanner's findings, drop those the baseline
//! and the config's allow-list accept, verify (when asked), write the report, and compute the exit code.
use crate::config::Config;
use crate::{ColorChoice, CommonArgs, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use anyhow::{Context, Result};
use keysweep_detect::Scanner;
use keysweep_report::{self as report, ReportOptions, ScanSummary};
use std::io::IsTerminal;

/// Write the report and compute the exit code for a finished scan.
pub fn finish(
    scanner: &Scanner,
    common: &CommonArgs,
    config: &Config,
    input_failed: bool,
) -> Result<i32> {
    let (mut findings, warnings) = scanner.take_results();
    // An explicit --baseline wins; then a baseline read from the base commit (--config-from-base); then the
    // configured or discovered file.
    let baseline = match (&common.baseline, &config.base_baseline) {
        _ if common.no_baseline => None,
        (None, Some(b)) => Some(b.clone()),
        (explicit, _) => explicit
            .as_ref()
            .or(config.baseline.as_ref())
            .map(|f| keysweep_store::baseline::Baseline::load(f))
            .transpose()?,
    };
    if let Some(baseline) = baseline {
        let n = baseline.apply(&mut findings);
        scanner
            .stats
            .suppressed
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    if !config.allow_fingerprints.is_empty() {
        let before = findings.len();
        findings.retain(|f| !config.allow_fingerprints.contains(&f.fingerprint));
        scanner.stats.suppressed.fetch_add(
            (before - findings.len()) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let verify = common.verify.with_config(config.fail_on.as_deref());
    crate::verify::apply(scanner, common, &verify, &mut findings)?;
    if !common.quiet {
        for w in &warnings {
            eprintln!("keysweep: warning: {w}");
        }
    }
    let summary = ScanSummary {
        stats: scanner.stats.snapshot(),
        warnings,
        engine: scanner.engine_name().to_string(),
        rules: scanner.rules.rules.len(),
    };
    let to_tty = common.output.is_none() && std::io::stdout().is_terminal();
    let opts = ReportOptions {
        format: common.format.into(),
        show_secrets: common.show_secrets,
        redact: common.redact,
        color: match common.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_tty && std::env::var_os("NO_COLOR").is_none(),
        },
    };
    match &common.output {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            report::write(&mut w, &findings, &summary, &opts)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            report::write(&mut w, &findings, &summary, &opts)?;
        }
    }
    if common.verbose {
        let s = &summary.stats;
        eprintln!(
            "keysweep: {} engine, {} rules; scanned {} blob(s), {} bytes; {} finding(s)",
            summary.engine,
            summary.rules,
            s.blobs,
            s.bytes,
            findings.len()
        );
    }
    let fail_on_findings = config.fail_on.as_deref() != Some("none");
    Ok(
        if crate::verify::fails(&verify, &findings) && fail_on_findings {
            EXIT_FINDINGS
        } else if input_failed {
            EXIT_ERROR
        } else {
            EXIT_CLEAN
        },
    )
}
