//! `keysweep report` and `keysweep triage`: reading and annotating what organisation sweeps recorded in a
//! datastore (`keysweep_store::datastore`). A report is the same finding shape as a single scan, each
//! location naming its repository, each finding its triage state; triage status and notes survive re-scans.
//! The store holds no secret, so reports show the stored preview whatever the format.
use crate::pipeline::write_output;
use crate::{ColorChoice, FormatArg, EXIT_CLEAN, EXIT_FINDINGS};
use anyhow::{bail, Result};
use clap::Args;
use keysweep_report::{self as report, Redactor, ReportOptions, ScanSummary};
use keysweep_store::datastore::{self, FindingFilter};
use std::io::IsTerminal;
use std::path::PathBuf;

/// The datastore folder when none is named.
pub const DEFAULT_DATASTORE: &str = "keysweep-datastore";

#[derive(Args, Debug)]
pub struct ReportCmd {
    /// The datastore: a folder (SQLite: `keysweep.db` inside) or a PostgreSQL URL
    /// (`postgres://user@host/db?sslmode=require`); also read from KEYSWEEP_DATASTORE.
    #[arg(long, value_name = "DIR|URL", env = "KEYSWEEP_DATASTORE", hide_env_values = true, default_value = DEFAULT_DATASTORE)]
    pub datastore: String,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only findings with this triage status (open, accepted, false-positive, revoked).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only findings seen in this repository (its identity, e.g. `github.com/org/repo`).
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct TriageCmd {
    /// The finding's fingerprint (as reports show it).
    pub fingerprint: String,
    /// The new status: open, accepted, false-positive or revoked.
    #[arg(long, value_name = "STATUS")]
    pub status: String,
    /// A note kept with the status (who decided, why).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// The datastore: a folder or a PostgreSQL URL; also read from KEYSWEEP_DATASTORE.
    #[arg(long, value_name = "DIR|URL", env = "KEYSWEEP_DATASTORE", hide_env_values = true, default_value = DEFAULT_DATASTORE)]
    pub datastore: String,
}

/// `keysweep report`: exit 1 when the (filtered) report holds findings, 0 when it holds none.
pub fn report_cmd(cmd: ReportCmd) -> Result<i32> {
    if let Some(s) = &cmd.status {
        datastore::valid_status(s)?;
    }
    let store = datastore::open_existing(&cmd.datastore)?;
    let stored = store.findings(&FindingFilter {
        status: cmd.status.clone(),
        repository: cmd.repo.clone(),
    })?;
    let findings: Vec<_> = stored.into_iter().map(|s| s.finding).collect();
    let stats = store.stats()?;
    let summary = ScanSummary {
        command: "report".into(),
        targets: vec![store.describe()],
        warnings: if stats.failed_repositories > 0 {
            vec![format!(
                "{} of {} repositories failed in their last sweep (see `keysweep report` on each, or the sweep's log)",
                stats.failed_repositories, stats.repositories
            )]
        } else {
            Vec::new()
        },
        ..ScanSummary::default()
    };
    let to_tty = cmd.output.is_none() && std::io::stdout().is_terminal();
    let opts = ReportOptions {
        format: cmd.format.into(),
        // The store keeps previews only: there is nothing more to show, and nothing to hide beyond them.
        show_secrets: false,
        redact: true,
        color: match cmd.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_tty && std::env::var_os("NO_COLOR").is_none(),
        },
    };
    let redactor = Redactor::default();
    match &cmd.output {
        Some(p) => write_output(p, |w| {
            report::write(w, &findings, &summary, &opts, &redactor)
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            report::write(&mut w, &findings, &summary, &opts, &redactor)?;
        }
    }
    Ok(if findings.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    })
}

/// `keysweep triage`.
pub fn triage_cmd(cmd: TriageCmd) -> Result<i32> {
    datastore::valid_status(&cmd.status)?;
    let store = datastore::open_existing(&cmd.datastore)?;
    if !store.triage(&cmd.fingerprint, &cmd.status, cmd.note.as_deref())? {
        bail!(
            "{}: no finding with this fingerprint in {}",
            cmd.fingerprint,
            store.describe()
        );
    }
    eprintln!("keysweep: {} is now {}", cmd.fingerprint, cmd.status);
    Ok(EXIT_CLEAN)
}
