//! `keysweep report` and `keysweep triage`: reading and annotating what organisation sweeps recorded in a
//! datastore (`keysweep_store::datastore`). A report is the same finding shape as a single scan, each
//! location naming its repository, each finding its triage state; triage status and notes survive re-scans.
//! The store holds no secret, so reports show the stored preview whatever the format.
use crate::pipeline::{use_color, write_report};
use crate::{ColorChoice, FormatArg, EXIT_CLEAN, EXIT_FINDINGS};
use anyhow::{bail, Result};
use clap::Args;
use keysweep_report::{Redactor, ReportOptions, ScanSummary};
use keysweep_store::datastore::{self, FindingFilter};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// Show the secrets: the datastore holds previews only, so each value is re-read from its blob in the
    /// clone cache (or the local repository) and checked against the fingerprint; a value that cannot be
    /// re-read stays a preview, with a warning.
    #[arg(long)]
    pub show_secrets: bool,
    /// The sweep's clone cache, for --show-secrets (default: `<datastore>/clones` for a folder datastore,
    /// `./keysweep-clones` for a PostgreSQL one, as `keysweep org`).
    #[arg(long, value_name = "DIR")]
    pub clone_cache: Option<PathBuf>,
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
    let mut unrecovered = 0usize;
    let findings: Vec<_> = if cmd.show_secrets {
        let clones = crate::org::clone_root(&cmd.datastore, cmd.clone_cache.as_deref());
        let mut repos: HashMap<String, Option<gix::Repository>> = HashMap::new();
        stored
            .into_iter()
            .map(|s| {
                let mut f = s.finding;
                match recover_secret(&f, &s.repositories, &clones, &mut repos) {
                    Some(secret) => {
                        f.secret = secret;
                        f.redacted = false;
                    }
                    None => unrecovered += 1,
                }
                f
            })
            .collect()
    } else {
        stored.into_iter().map(|s| s.finding).collect()
    };
    // Each failed repository with its recorded error (scrubbed of tokens before it was stored).
    let warnings: Vec<String> = store
        .repositories()?
        .into_iter()
        .filter(|r| r.status == datastore::STATUS_FAILED)
        .filter(|r| cmd.repo.as_ref().is_none_or(|want| *want == r.id))
        .map(|r| match r.error {
            Some(e) if e.starts_with(r.id.as_str()) => format!("failed: {e}"),
            Some(e) => format!("failed: {}: {e}", r.id),
            None => format!("failed: {}", r.id),
        })
        .collect();
    let mut warnings = warnings;
    if unrecovered > 0 {
        warnings.push(format!(
            "--show-secrets: {unrecovered} finding(s) could not be re-read from the clone cache (repository \
             gone, blob pruned, or a decoded value): shown as previews"
        ));
    }
    let summary = ScanSummary {
        command: "report".into(),
        targets: vec![store.describe()],
        warnings,
        ..ScanSummary::default()
    };
    let opts = ReportOptions {
        format: cmd.format.into(),
        // The store keeps previews only; values re-read for --show-secrets are shown in every format.
        show_secrets: cmd.show_secrets,
        redact: !cmd.show_secrets,
        color: use_color(cmd.color, cmd.output.as_deref()),
    };
    write_report(
        cmd.output.as_deref(),
        &findings,
        &summary,
        &opts,
        &Redactor::default(),
    )?;
    Ok(if findings.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    })
}

/// The secret of `f`, re-read from the blob of one of its locations (a git blob in the clone cache, or in a
/// local repository read in place) and accepted only if it hashes to the finding's fingerprint.
fn recover_secret(
    f: &keysweep_model::Finding,
    repositories: &[String],
    clones: &Path,
    opened: &mut HashMap<String, Option<gix::Repository>>,
) -> Option<String> {
    for (loc, repo_id) in f.locations.iter().zip(repositories) {
        let Some(blob) = loc.meta.blob else {
            continue;
        };
        let Ok(id) = gix::ObjectId::try_from(blob.as_bytes()) else {
            continue;
        };
        let repo = opened.entry(repo_id.clone()).or_insert_with(|| {
            let path = if Path::new(repo_id).is_absolute() {
                PathBuf::from(repo_id)
            } else {
                keysweep_sources::org::clone::mirror_path(clones, repo_id)
            };
            gix::open(path).ok()
        });
        let Some(repo) = repo.as_ref() else {
            continue;
        };
        let Ok(obj) = repo.find_object(id) else {
            continue;
        };
        let (start, end) = (loc.byte_start as usize, loc.byte_end as usize);
        let Some(bytes) = obj.data.get(start..end).filter(|b| !b.is_empty()) else {
            continue;
        };
        if keysweep_model::finding::fingerprint(&f.rule_id, bytes) == f.fingerprint {
            return Some(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    None
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
