//! The `baseline create|update|import` subcommands: scan like `keysweep scan` (same paths and flags, the
//! baseline itself not applied) — with `--git`, also the repository's whole history like `keysweep git`, so
//! secrets that live only in old commits can be accepted — then write the baseline file (`--baseline FILE`,
//! the config's `baseline`, or `.keysweep-baseline.json` at the repository root).
use crate::config::Config;
use crate::scan::scan_inputs;
use crate::{build_scanner, load_config, ScanCmd, EXIT_CLEAN};
use anyhow::{bail, Result};
use clap::Subcommand;
use keysweep_model::Finding;
use keysweep_sources::git::history::{scan_history, HistoryOptions, Selection};
use keysweep_store::baseline::import::{match_findings, parse_detect_secrets, parse_gitleaks};
use keysweep_store::baseline::{relative_to, update, Baseline, FILE_NAME};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum BaselineCmd {
    /// Scan and write a baseline accepting every current finding.
    Create {
        /// Replace an existing baseline file.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        history: HistoryArg,
        #[command(flatten)]
        scan: ScanCmd,
    },
    /// Rescan: drop entries whose secret is gone from the scanned paths and add new findings.
    Update {
        /// Only drop entries whose secret is gone; accept nothing new.
        #[arg(long)]
        prune_only: bool,
        #[command(flatten)]
        history: HistoryArg,
        #[command(flatten)]
        scan: ScanCmd,
    },
    /// Convert gitleaks or detect-secrets baselines, matched against a fresh scan of the paths, and add them.
    Import {
        /// A gitleaks JSON report or a `.gitleaksignore` (repeatable).
        #[arg(long, value_name = "FILE")]
        gitleaks: Vec<PathBuf>,
        /// A detect-secrets `.secrets.baseline` (repeatable).
        #[arg(long, value_name = "FILE")]
        detect_secrets: Vec<PathBuf>,
        #[command(flatten)]
        history: HistoryArg,
        #[command(flatten)]
        scan: ScanCmd,
    },
}

/// `--git`: the history too.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct HistoryArg {
    /// Also scan the repository's whole history (every blob reachable from any ref, as `keysweep git`
    /// does), so findings that exist only in old commits are covered too.
    #[arg(long)]
    pub git: bool,
}

/// The folder holding `.git` above `start`, else `start`'s folder.
fn repo_root(start: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let base = if abs.is_dir() {
        abs
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
    };
    let mut dir = base.clone();
    loop {
        if dir.join(".git").exists() {
            return dir;
        }
        if !dir.pop() {
            return base;
        }
    }
}

struct Scanned {
    findings: Vec<Finding>,
    target: PathBuf,
    roots: Vec<PathBuf>,
}

/// Scan the command's paths (and with `--git` the history of their repository) without applying any
/// baseline.
fn scan(cmd: &ScanCmd, history: HistoryArg) -> Result<Scanned> {
    let anchor = cmd
        .paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| ".".into());
    let config: Config = load_config(&cmd.common, &anchor)?;
    let target = cmd
        .common
        .baseline
        .clone()
        .or_else(|| config.baseline.clone())
        .unwrap_or_else(|| repo_root(&anchor).join(FILE_NAME));
    let scanner = build_scanner(&cmd.common, &config)?;
    let mut failed = scan_inputs(cmd, &scanner, &config)?;
    if history.git {
        let repo = keysweep_sources::git::open(&anchor)?;
        let opts = HistoryOptions {
            selection: Selection::AllRefs,
            unreachable: false,
            max_file_size: cmd.common.max_file_size,
            exclude: config.excludes(&cmd.exclude)?,
        };
        failed |= scan_history(&scanner, &repo, &opts)?.failed;
    }
    let (mut findings, warnings) = scanner.take_results();
    let notes = scanner.take_notes();
    if !cmd.common.quiet || !notes.is_empty() {
        let redactor = crate::pipeline::content_redactor(&scanner, &findings, &warnings, &notes);
        crate::pipeline::print_notes(&notes, &redactor, cmd.common.show_secrets);
        if !cmd.common.quiet {
            crate::pipeline::print_warnings(&warnings, &redactor, cmd.common.show_secrets);
        }
    }
    if failed {
        bail!(
            "some inputs could not be scanned; baseline {} not written",
            target.display()
        );
    }
    findings.retain(|f| !config.allow_fingerprints.contains(&f.fingerprint));
    let roots = cmd
        .paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    Ok(Scanned {
        findings,
        target,
        roots,
    })
}

pub fn run(cmd: BaselineCmd) -> Result<i32> {
    match cmd {
        BaselineCmd::Create {
            force,
            history,
            scan: sc,
        } => {
            let s = scan(&sc, history)?;
            if s.target.exists() && !force {
                bail!(
                    "{} exists; use `keysweep baseline update` or --force",
                    s.target.display()
                );
            }
            let mut b = Baseline::new(&s.target);
            let entries = b.entries_for(&s.findings);
            b.extend(entries);
            b.save(&s.target)?;
            eprintln!(
                "keysweep: wrote {} ({} entries)",
                s.target.display(),
                b.entries.len()
            );
        }
        BaselineCmd::Update {
            prune_only,
            history,
            scan: sc,
        } => {
            let s = scan(&sc, history)?;
            let mut b = if s.target.exists() {
                Baseline::load(&s.target)?
            } else {
                Baseline::new(&s.target)
            };
            let fresh = b.entries_for(&s.findings);
            // With --git every path of the repository was scanned (in some commit).
            let scanned: Vec<String> = if history.git {
                vec![String::new()]
            } else {
                s.roots.iter().map(|r| relative_to(&b.root, r)).collect()
            };
            let covered = |p: &str| {
                scanned.iter().any(|r| {
                    r.is_empty()
                        || p == r
                        || p.strip_prefix(r.as_str())
                            .is_some_and(|x| x.starts_with('/'))
                })
            };
            let st = update(&mut b, fresh, covered, prune_only);
            b.save(&s.target)?;
            eprintln!(
                "keysweep: updated {}: {} kept, {} added, {} pruned",
                s.target.display(),
                st.kept,
                st.added,
                st.pruned
            );
        }
        BaselineCmd::Import {
            gitleaks,
            detect_secrets,
            history,
            scan: sc,
        } => {
            if gitleaks.is_empty() && detect_secrets.is_empty() {
                bail!("nothing to import: give --gitleaks FILE or --detect-secrets FILE");
            }
            let s = scan(&sc, history)?;
            let mut b = if s.target.exists() {
                Baseline::load(&s.target)?
            } else {
                Baseline::new(&s.target)
            };
            let mut foreign = Vec::new();
            for f in &gitleaks {
                foreign.extend(parse_gitleaks(&b.root, f)?);
            }
            for f in &detect_secrets {
                foreign.extend(parse_detect_secrets(&b.root, f)?);
            }
            let (entries, unmatched) = match_findings(&b, &s.findings, &foreign);
            let before = b.entries.len();
            b.extend(entries);
            b.save(&s.target)?;
            for u in &unmatched {
                eprintln!(
                    "keysweep: warning: import: {} matches no current finding (secret gone or not detected by keysweep)",
                    u.describe()
                );
            }
            eprintln!(
                "keysweep: imported {} record(s) into {}: {} new entries, {} record(s) unmatched",
                foreign.len(),
                s.target.display(),
                b.entries.len() - before,
                unmatched.len()
            );
        }
    }
    Ok(EXIT_CLEAN)
}
