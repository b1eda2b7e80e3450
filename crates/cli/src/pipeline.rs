//! The report pipeline every scanning command ends in: take the scanner's findings, drop those the baseline
//! and the config's allow-list accept, verify (when asked), write the report, and compute the exit code.
//! Also owns what reaches standard error or a file from a run: the content redactor (`content_redactor`:
//! every secret the run saw, so paths, provenance and warnings are scrubbed too), warning, error and `-v`
//! note lines (`print_message`: scrubbed, control characters escaped), and the `-o` write policy
//! (`write_output`).
use crate::config::Config;
use crate::{ColorChoice, CommonArgs, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use anyhow::{bail, Context, Result};
use keysweep_detect::Scanner;
use keysweep_model::Finding;
use keysweep_report::{self as report, Redactor, ReportOptions, ScanSummary};
use std::io::{IsTerminal, Write};
use std::path::Path;
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
    let (y, m, d, hh, mm, ss) = keysweep_model::time::civil_from_unix(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Write the report and compute the exit code for a finished scan.
pub fn finish(
    scanner: &Scanner,
    common: &CommonArgs,
    config: &Config,
    input_failed: bool,
) -> Result<i32> {
    let (mut findings, messages) = scanner.take_results_and_messages();
    let notes = scanner.take_notes();
    let warnings: Vec<String> = messages.iter().map(|m| m.text.clone()).collect();
    // Built before any suppression: a baselined secret is still a secret wherever else it is printed.
    let redactor = if common.show_secrets && !common.redact {
        Redactor::default()
    } else {
        content_redactor(scanner, &findings, &warnings, &notes)
    };
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
    print_notes(&notes, &redactor, common.show_secrets);
    // Errors are printed even with --quiet.
    for m in &messages {
        if m.error {
            print_message("error", &m.text, &redactor, common.show_secrets);
        } else if !common.quiet {
            print_message("warning", &m.text, &redactor, common.show_secrets);
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
        // The human report does not show it, and hashing every rule's definition is a tenth of the pre-commit
        // hook's warm start.
        rules_version: if matches!(common.format, crate::FormatArg::Human) {
            String::new()
        } else {
            scanner.rules.digest()
        },
        started_unix: RUN.get().and_then(|r| {
            r.started
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs() as i64)
        }),
    };
    let opts = ReportOptions {
        format: common.format.into(),
        show_secrets: common.show_secrets,
        redact: common.redact,
        color: use_color(common.color, common.output.as_deref()),
    };
    write_report(
        common.output.as_deref(),
        &findings,
        &summary,
        &opts,
        &redactor,
    )?;
    if common.verbose {
        let s = &summary.stats;
        eprintln!(
            "keysweep: {} engine, {} rules; scanned {} {}, {} bytes; {} finding(s)",
            summary.engine,
            summary.rules,
            s.blobs,
            report::human::unit_noun(&summary.command),
            s.bytes,
            findings.len()
        );
    }
    let fail_on_findings = config.fail_on.as_deref() != Some("none");
    if crate::verify::fails(&verify, &findings) && fail_on_findings {
        return Ok(EXIT_FINDINGS);
    }
    // Exit-code policy (README, "Exit codes"): findings win; a run that found nothing but could not read
    // some of its inputs is not "clean": exit 2, with one line saying so even under --quiet (the warnings
    // that named each input may have been silenced).
    let s = &summary.stats;
    if input_failed || s.errors > 0 || s.unreadable > 0 {
        let mut what = Vec::new();
        if s.unreadable > 0 {
            what.push(format!("{} unreadable file(s)", s.unreadable));
        }
        if s.errors > 0 {
            what.push(format!("{} error(s)", s.errors));
        }
        if what.is_empty() {
            what.push("some inputs failed".to_string());
        }
        eprintln!(
            "keysweep: error: nothing found, but the scan is incomplete ({}; named above{})",
            what.join(", "),
            if common.quiet {
                ", warnings hidden by --quiet"
            } else {
                ""
            }
        );
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_CLEAN)
}

/// Whether the human report is coloured: `--color`, and for `auto` a terminal on standard output (no `-o`)
/// without `NO_COLOR`.
pub fn use_color(choice: ColorChoice, output: Option<&Path>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// Write a report to the `-o` file (`write_output`'s policy) or standard output. A reader that stopped
/// reading (`| head`) is not an error: the exit code still says what was found.
pub fn write_report(
    output: Option<&Path>,
    findings: &[Finding],
    summary: &ScanSummary,
    opts: &ReportOptions,
    redactor: &Redactor,
) -> Result<()> {
    match output {
        Some(p) => write_output(p, |w| report::write(w, findings, summary, opts, redactor)),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            match report::write(&mut w, findings, summary, opts, redactor) {
                Err(e) if !crate::is_broken_pipe(&e) => Err(e),
                _ => Ok(()),
            }
        }
    }
}

/// Every secret a run saw that a path, provenance string, warning or `-v` note may repeat: the findings'
/// secrets (before suppression) and what the rules find in those strings themselves (a file named after a
/// token that was only skipped, a label key, a commit summary).
pub fn content_redactor(
    scanner: &Scanner,
    findings: &[Finding],
    warnings: &[String],
    notes: &[String],
) -> Redactor {
    let mut texts: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in findings {
        for l in &f.locations {
            texts.insert(&*l.path);
            l.meta.for_each_string(|s| {
                texts.insert(s);
            });
        }
        if let Some(v) = &f.verification {
            texts.extend(v.detail.as_deref());
            texts.extend(v.identity.as_deref());
        }
    }
    texts.extend(warnings.iter().map(String::as_str));
    texts.extend(notes.iter().map(String::as_str));
    let mut secrets: Vec<String> = findings.iter().map(|f| f.secret.clone()).collect();
    for t in texts {
        for s in scanner.secrets_in_text(t.as_bytes()) {
            secrets.push(String::from_utf8_lossy(&s).into_owned());
        }
    }
    Redactor::new(secrets)
}

/// Print warnings on standard error: secrets scrubbed unless `--show-secrets`, control characters escaped.
pub fn print_warnings(warnings: &[String], redactor: &Redactor, show_secrets: bool) {
    for w in warnings {
        print_message("warning", w, redactor, show_secrets);
    }
}

/// Print the scanner's `-v` notes (`keysweep: skipped binary file: PATH`), scrubbed and escaped like
/// warnings. The scanner records notes only with `-v`.
pub fn print_notes(notes: &[String], redactor: &Redactor, show_secrets: bool) {
    for n in notes {
        eprintln!("keysweep: {}", shown(n, redactor, show_secrets));
    }
}

/// Print one `keysweep: <kind>: <text>` line on standard error, scrubbed and escaped like warnings.
pub fn print_message(kind: &str, text: &str, redactor: &Redactor, show_secrets: bool) {
    eprintln!("keysweep: {kind}: {}", shown(text, redactor, show_secrets));
}

/// Print one `keysweep: <text>` progress or status line on standard error, scrubbed and escaped like warnings
/// (it may carry a repository's name or a remote's error text).
pub fn print_line(text: &str, redactor: &Redactor) {
    eprintln!("keysweep: {}", shown(text, redactor, false));
}

/// `text` as standard error may show it: secrets scrubbed unless `show_secrets`, control characters escaped.
fn shown(text: &str, redactor: &Redactor, show_secrets: bool) -> String {
    let text = if show_secrets {
        std::borrow::Cow::Borrowed(text)
    } else {
        redactor.scrub(text)
    };
    report::human::terminal_safe(&text).into_owned()
}

/// Write the report to the `-o` file. Policy (README, "Files keysweep writes"):
/// - a missing or regular file is replaced atomically (`keysweep_model::fsutil::write_atomic`, mode 0600:
///   reports can hold secrets);
/// - a FIFO or device named directly (`/dev/null`, a named pipe) is written in place;
/// - a symlink is followed only to a stream — a FIFO, a character device or a socket, or any link under
///   `/dev` or `/proc` (`/dev/stdout`, `/dev/fd/N`, process substitution) — where there is nothing to
///   overwrite. A symlink to a file (or a dangling one) is refused: it may have been planted by the scanned tree
///   (`keysweep scan -o report.json` in a checkout carrying `report.json -> ~/.bashrc`); name its target.
///
/// Folders on the way are followed: they are part of the path the user named.
pub fn write_output(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let special = |m: &std::fs::Metadata| {
        let t = m.file_type();
        !t.is_file() && !t.is_dir() && !t.is_symlink()
    };
    #[cfg(unix)]
    let stream = |m: &std::fs::Metadata| {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        t.is_fifo() || t.is_char_device() || t.is_socket()
    };
    #[cfg(not(unix))]
    let stream = |_: &std::fs::Metadata| false;
    let in_place = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let system = path.starts_with("/dev") || path.starts_with("/proc");
            if !system && !std::fs::metadata(path).is_ok_and(|t| stream(&t)) {
                bail!(
                    "{}: is a symbolic link; keysweep does not write reports through symlinks to files (a \
                     scanned tree could have planted it): name its target, or remove the link",
                    path.display()
                );
            }
            true
        }
        Ok(m) => special(&m),
        Err(_) => false,
    };
    if !in_place {
        return keysweep_model::fsutil::write_atomic(path, 0o600, write);
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    write(&mut w)?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
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
