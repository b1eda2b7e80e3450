//! The `git` and `staged` subcommands: argument definitions and the glue from command line to
//! `history::scan_history` / `staged::scan_staged`, ending in `pipeline::finish` like every scanning command.
use crate::pipeline::finish;
use crate::{build_scanner, load_config, CommonArgs, EXIT_ERROR};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use gix::ObjectId;
use keysweep_sources::git::history::{scan_history, HistoryOptions, Selection};
use keysweep_sources::git::staged::scan_staged;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GitCmd {
    /// The repository (work tree or bare); default: the one around the current directory.
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Also scan objects no ref reaches (dangling commits and blobs).
    #[arg(long)]
    pub unreachable: bool,
    /// Scan only what the commits of this range introduced (`A..B`; `A..` means `A..HEAD`).
    #[arg(long, value_name = "A..B", conflicts_with_all = ["since", "ci"])]
    pub range: Option<String>,
    /// Scan only what the commits after REF (up to HEAD) introduced.
    #[arg(long, value_name = "REF", conflicts_with = "ci")]
    pub since: Option<String>,
    /// Scan what the pull/merge request introduced, its base found from GitHub Actions or GitLab CI
    /// environment variables (the whole history when none is set).
    #[arg(long)]
    pub ci: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct StagedCmd {
    /// The repository; default: the one around the current directory.
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Resolve a revision to a commit id.
fn commit_of(repo: &gix::Repository, spec: &str) -> Result<ObjectId> {
    let peeled = format!("{spec}^{{commit}}");
    repo.rev_parse_single(peeled.as_str())
        .map(|id| id.detach())
        .map_err(|e| {
            anyhow!(
                "{spec}: not a commit in {}: {e}",
                keysweep_sources::git::repo_name(repo)
            )
        })
}

/// `A..B` (either side may be empty: HEAD).
fn parse_range(repo: &gix::Repository, spec: &str) -> Result<Selection> {
    if spec.contains("...") {
        bail!("--range {spec}: symmetric ranges (A...B) are not supported; use A..B");
    }
    let Some((a, b)) = spec.split_once("..") else {
        bail!("--range {spec}: expected A..B");
    };
    let side = |s: &str| if s.is_empty() { "HEAD" } else { s }.to_string();
    Ok(Selection::Range {
        include: vec![commit_of(repo, &side(b))?],
        exclude: vec![commit_of(repo, &side(a))?],
    })
}

pub fn git_cmd(cmd: GitCmd) -> Result<i32> {
    let repo = keysweep_sources::git::open(&cmd.repo)?;
    let anchor = repo
        .workdir()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| cmd.repo.clone());
    let config = load_config(&cmd.common, &anchor)?;
    let scanner = build_scanner(&cmd.common, &config)?;
    let selection = if let Some(r) = &cmd.range {
        parse_range(&repo, r)?
    } else if let Some(since) = &cmd.since {
        Selection::Range {
            include: vec![commit_of(&repo, "HEAD")?],
            exclude: vec![commit_of(&repo, since)?],
        }
    } else if cmd.ci {
        match keysweep_sources::git::ci::detect(&|k| std::env::var(k).ok()) {
            Some(base) => {
                let exclude = commit_of(&repo, &base.base).map_err(|e| {
                    anyhow!(
                        "--ci: base {} (from {}) is not available: {e}; fetch the base (e.g. fetch-depth: 0)",
                        base.base,
                        base.from
                    )
                })?;
                if cmd.common.verbose {
                    eprintln!(
                        "keysweep: --ci: scanning {}..HEAD (base from {})",
                        base.base, base.from
                    );
                }
                Selection::Range {
                    include: vec![commit_of(&repo, "HEAD")?],
                    exclude: vec![exclude],
                }
            }
            None => {
                scanner.warn(
                    "--ci: no pull/merge request base in the environment; scanning the whole history",
                );
                Selection::AllRefs
            }
        }
    } else {
        Selection::AllRefs
    };
    let opts = HistoryOptions {
        selection,
        unreachable: cmd.unreachable,
        max_file_size: cmd.common.max_file_size,
        exclude: config.excludes(&[])?,
    };
    let started = std::time::Instant::now();
    let stats = scan_history(&scanner, &repo, &opts)?;
    if cmd.common.verbose {
        eprintln!(
            "keysweep: git: {} ref tip(s), {} commit(s), {} unique blob(s), {} blob bytes in {:.2?}; \
             {} missing, {} corrupt object(s); phases: commits {:.2}s, trees {:.2}s, blobs {:.2}s",
            stats.refs,
            stats.commits,
            stats.blobs,
            stats.blob_bytes,
            started.elapsed(),
            stats.missing,
            stats.corrupt,
            stats.phase_secs[0],
            stats.phase_secs[1],
            stats.phase_secs[2]
        );
    }
    finish(&scanner, &cmd.common, &config, stats.failed)
}

pub fn staged_cmd(cmd: StagedCmd) -> Result<i32> {
    let repo = keysweep_sources::git::open(&cmd.repo)?;
    let anchor = repo
        .workdir()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| cmd.repo.clone());
    let config = load_config(&cmd.common, &anchor)?;
    let scanner = build_scanner(&cmd.common, &config)?;
    let stats = scan_staged(
        &scanner,
        &repo,
        cmd.common.max_file_size,
        &config.excludes(&[])?,
    )?;
    if cmd.common.verbose {
        eprintln!(
            "keysweep: staged: {} file(s), {} bytes scanned ({} added or modified, {} deleted)",
            stats.files_scanned, stats.bytes_scanned, stats.changed, stats.deleted
        );
    }
    let code = finish(&scanner, &cmd.common, &config, stats.failed)?;
    if stats.changed > 0 && stats.files_scanned == 0 {
        eprintln!(
            "keysweep: error: {} staged change(s) but no staged file could be scanned ({} missing, {} corrupt \
             object(s))",
            stats.changed, stats.missing, stats.corrupt
        );
        return Ok(EXIT_ERROR);
    }
    Ok(code)
}
