//! The `git` and `staged` subcommands: argument definitions and the glue from command line to
//! `history::scan_history` / `staged::scan_staged`, ending in `pipeline::finish` like every scanning command.
use crate::config::Config;
use crate::pipeline::finish;
use crate::{build_scanner, load_config, CommonArgs, EXIT_ERROR};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use gix::ObjectId;
use keysweep_sources::archive::ArchiveSink;
use keysweep_sources::git::history::{scan_history, HistoryOptions, Selection};
use keysweep_sources::git::staged::scan_staged;
use std::path::{Path, PathBuf};

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
    /// Read `.keysweep.toml`, its rule folders and the baseline from the base commit of the range (the
    /// pull/merge request's target: `--ci`, `--range A..B`, `--since REF`), not from the checkout, so a change
    /// cannot silence its own scan by editing them.
    #[arg(long, conflicts_with_all = ["config", "no_config"])]
    pub config_from_base: bool,
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

/// The configuration, its rule folders and the baseline as they are in `base` (files absent there are
/// absent: nothing is read from the checkout). Paths resolve against `root`, the repository's folder.
fn config_from_commit(repo: &gix::Repository, base: ObjectId, root: &Path) -> Result<Config> {
    use keysweep_sources::git::{file_at, toml_files_at};
    let short = base.to_hex_with_len(12).to_string();
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    let cfg_path = root.join(crate::config::FILE_NAME);
    let mut config = match file_at(repo, base, crate::config::FILE_NAME)? {
        Some(b) => Config::parse(
            &text(b),
            &cfg_path,
            &format!("{short}:{}", crate::config::FILE_NAME),
        )?,
        None => Config::default(),
    };
    config.path = Some(cfg_path);
    let relative = |p: &Path, what: &str| -> Result<String> {
        let rel = p.strip_prefix(root).map_err(|_| {
            anyhow!(
                "{short}:{}: {what} {} is outside the repository (not readable from the base commit)",
                crate::config::FILE_NAME,
                p.display()
            )
        })?;
        Ok(rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"))
    };
    for dir in std::mem::take(&mut config.rules_dirs) {
        let rel = relative(&dir, "rules_dirs entry")?;
        for (path, bytes) in toml_files_at(repo, base, &rel)? {
            config
                .base_rules
                .push((format!("{short}:{path}"), text(bytes)));
        }
    }
    let baseline_path = config
        .baseline
        .take()
        .unwrap_or_else(|| root.join(keysweep_store::baseline::FILE_NAME));
    let rel = relative(&baseline_path, "baseline")?;
    if let Some(bytes) = file_at(repo, base, &rel)? {
        config.base_baseline = Some(keysweep_store::baseline::Baseline::parse(
            &text(bytes),
            &baseline_path,
            &format!("{short}:{rel}"),
        )?);
    }
    Ok(config)
}

pub fn git_cmd(cmd: GitCmd) -> Result<i32> {
    let repo = keysweep_sources::git::open(&cmd.repo)?;
    let anchor = repo
        .workdir()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| cmd.repo.clone());
    let mut deferred_warnings: Vec<&str> = Vec::new();
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
                deferred_warnings
                    .push("--ci: no pull/merge request base in the environment; scanning the whole history");
                Selection::AllRefs
            }
        }
    } else {
        Selection::AllRefs
    };
    let base = match &selection {
        Selection::Range { exclude, .. } => exclude.first().copied(),
        _ => None,
    };
    let config = match (cmd.config_from_base, base) {
        (true, Some(base)) => config_from_commit(&repo, base, &anchor)?,
        // `--ci` outside a pull/merge request (a first push) scans everything: there is no base to trust.
        (true, None) if cmd.ci => {
            deferred_warnings.push(
                "--config-from-base: no base commit in the environment; configuration and baseline read \
                 from the checkout",
            );
            load_config(&cmd.common, &anchor)?
        }
        (true, None) => bail!(
            "--config-from-base needs a base commit: --ci in a pull/merge request, --range A..B or --since \
             REF"
        ),
        (false, _) => load_config(&cmd.common, &anchor)?,
    };
    let scanner = build_scanner(&cmd.common, &config)?;
    for w in deferred_warnings {
        scanner.warn(w);
    }
    let opts = HistoryOptions {
        selection,
        unreachable: cmd.unreachable,
        max_file_size: cmd.common.max_file_size,
        exclude: config.excludes(&[])?,
    };
    let started = std::time::Instant::now();
    let sink = ArchiveSink::new(&scanner, cmd.common.archive_limits());
    let stats = scan_history(&sink, &repo, &opts)?;
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
        &ArchiveSink::new(&scanner, cmd.common.archive_limits()),
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
