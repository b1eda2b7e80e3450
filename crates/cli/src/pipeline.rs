//! The report pipeline every scanning command ends in: take the scanner's findings, drop those the baseline
//! and the config's allow-list accept, verify (when asked), write the report, and compute the exit code.
use crate::config::Config;
use crate::{ColorChoice, CommonArgs, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use anyhow::{Context, Result};
use keysweep_detect::Scanner;
use keysweep_report::{self as report, ReportOptions, ScanSummary};
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What this process runs, for the report's metadata: command, targets, start (wall clock and monotonic).
struct RunInfo {
    command: &'static str,
    targets: Vec<String>,
    started: SystemTime,
    clock: Instant,
}

static RUN: OnceLock<RunInfo> = OnceLock::new();

/// Record the command and its targets as the run starts (once per process).
pub fn record_run(command: &'static str, targets: Vec<String>) {
    let _ = RUN.set(RunInfo {
        command,
        targets,
        started: SystemTime::now(),
        clock: Instant::now(),
    });
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a system time (UTC; civil-from-days, no calendar dependency).
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Write the report and compute the exit code for a finished scan.
pub fn finish(
    scanner: &Scanner,
    common: &CommonArgs,
    config: &Config,
    input_failed: bool,
) -> Result<i32> {
    let (mut findings, warnings) = scanner.take_results();
    if let Some(file) = common
        .baseline
        .as_ref()
        .or(config.baseline.as_ref())
        .filter(|_| !common.no_baseline)
    {
        let n = keysweep_store::baseline::Baseline::load(file)?.apply(&mut findings);
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
        command: RUN.get().map(|r| r.command.to_string()).unwrap_or_default(),
        targets: RUN.get().map(|r| r.targets.clone()).unwrap_or_default(),
        started_at: RUN.get().map(|r| rfc3339(r.started)),
        duration_ms: RUN.get().map(|r| r.clock.elapsed().as_millis() as u64),
        rules_version: scanner.rules.digest(),
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

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_164_800 + 3_723); // 2024-02-29 01:02:03
        assert_eq!(rfc3339(t), "2024-02-29T01:02:03Z");
    }
}
