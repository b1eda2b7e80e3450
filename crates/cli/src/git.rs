//! The `git` and `staged` subcommands: argument definitions and the glue from command line to
//! `history::scan_history` / `staged::scan_staged`, ending in `pipeline::finish` like every scanning command.
//! Owns the choice of what a `--ci`, `--range` or `--since` run scans, including the fallback when a push's
//! previous tip is gone (a force-push: the commits of HEAD no other ref reaches), and names a range's tip in
//! its findings' `refs` (`RangeTipSink`).
use crate::config::Config;
use crate::pipeline::finish;
use crate::{build_scanner, build_scanner_for_small_input, load_config, CommonArgs, EXIT_ERROR};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use gix::ObjectId;
use keysweep_detect::Scanner;
use keysweep_model::{BlobFinding, BlobSink, Diagnostics, Origin};
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
    let mut deferred_warnings: Vec<String> = Vec::new();
    // The commit the configuration is read from with --config-from-base (the range's base).
    let mut config_base: Option<ObjectId> = None;
    // The name of the range's tip, shown as the `refs` of range findings.
    let mut range_tip = "HEAD".to_string();
    // Whether --ci fell back from a push's vanished previous tip.
    let mut fallback = false;
    let selection = if let Some(r) = &cmd.range {
        range_tip = r
            .split_once("..")
            .map(|(_, b)| b)
            .filter(|b| !b.is_empty())
            .unwrap_or("HEAD")
            .to_string();
        parse_range(&repo, r)?
    } else if let Some(since) = &cmd.since {
        Selection::Range {
            include: vec![commit_of(&repo, "HEAD")?],
            exclude: vec![commit_of(&repo, since)?],
        }
    } else if cmd.ci {
        match keysweep_sources::git::ci::detect(&|k| std::env::var(k).ok()) {
            Some(base) => {
                let head = commit_of(&repo, "HEAD")?;
                match commit_of(&repo, &base.base) {
                    Ok(exclude) => {
                        if cmd.common.verbose {
                            eprintln!(
                                "keysweep: --ci: scanning {}..HEAD (base from {})",
                                base.base, base.from
                            );
                        }
                        Selection::Range {
                            include: vec![head],
                            exclude: vec![exclude],
                        }
                    }
                    // A push whose previous tip is gone (a force-push rewrote the branch): scan what the
                    // push introduced, the commits of HEAD that no other branch or tag reaches.
                    Err(_) if base.push => {
                        let (others, default_branch) = other_tips(&repo, head);
                        let what = if others.is_empty() {
                            "HEAD's whole history (no other branch or tag to compare with)"
                                .to_string()
                        } else {
                            format!(
                                "the commits of HEAD that none of the other {} ref(s) reaches",
                                others.len()
                            )
                        };
                        deferred_warnings.push(format!(
                            "--ci: the push's previous tip {} (from {}) is not in the repository (a \
                             force-push?); scanning {what}",
                            short(&base.base),
                            base.from,
                        ));
                        fallback = true;
                        config_base = default_branch;
                        Selection::Range {
                            include: vec![head],
                            exclude: others,
                        }
                    }
                    Err(e) => bail!(
                        "--ci: base {} (from {}) is not available: {e}; fetch the base (e.g. \
                         fetch-depth: 0)",
                        base.base,
                        base.from
                    ),
                }
            }
            None => {
                deferred_warnings.push(
                    "--ci: no pull/merge request base in the environment; scanning the whole history"
                        .into(),
                );
                Selection::AllRefs
            }
        }
    } else {
        Selection::AllRefs
    };
    let range = matches!(selection, Selection::Range { .. });
    if let Selection::Range { exclude, .. } = &selection {
        if !fallback && config_base.is_none() && exclude.len() == 1 {
            config_base = exclude.first().copied();
        }
    }
    let config = match (cmd.config_from_base, config_base) {
        (true, Some(base)) => config_from_commit(&repo, base, &anchor)?,
        // `--ci` outside a pull/merge request (a first push) scans everything: there is no base to trust.
        (true, None) if cmd.ci => {
            deferred_warnings.push(if fallback {
                "--config-from-base: no base commit to read them from (the push's previous tip is gone and \
                 there is no origin/HEAD); configuration and baseline read from the checkout"
                    .into()
            } else {
                "--config-from-base: no base commit in the environment; configuration and baseline read \
                 from the checkout"
                    .into()
            });
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
    // History names a range's tip "range"; findings show the revision the user gave (`HEAD`, `B` of
    // `A..B`). Archives inside blobs are opened under either.
    let tip_sink = RangeTipSink {
        inner: &scanner,
        name: &range_tip,
    };
    let inner: &dyn BlobSink = if range { &tip_sink } else { &scanner };
    let sink = ArchiveSink::new(inner, cmd.common.archive_limits());
    let stats = crate::progress::during(!cmd.common.quiet, "git", &scanner.stats, || {
        scan_history(&sink, &repo, &opts)
    })?;
    if cmd.common.verbose {
        eprintln!(
            "keysweep: git: {} ref tip(s), {} commit(s), {} unique blob(s), {} blob bytes in {:.2?}; \
             {} missing, {} corrupt object(s); phases: commits {:.2}s, trees {:.2}s, blobs {:.2}s, \
             provenance {:.2}s (tree pass: {} range(s), {} tree(s) walked twice, {} blob record(s) moved; \
             blob reads: {} delta(s) applied, {} bytes built through deltas, {} bytes inflated, {} batch(es) \
             stolen; tree reads: {} delta(s) applied, {} bytes built through deltas, {} bytes inflated)",
            stats.refs,
            stats.commits,
            stats.blobs,
            stats.blob_bytes,
            started.elapsed(),
            stats.missing,
            stats.corrupt,
            stats.phase_secs[0],
            stats.phase_secs[1],
            stats.phase_secs[2],
            stats.phase_secs[3],
            stats.tree_chunks,
            stats.trees_rewalked,
            stats.blobs_moved,
            stats.blob_reads.deltas,
            stats.blob_reads.built,
            stats.blob_reads.inflated,
            stats.batches_stolen,
            stats.tree_reads.deltas,
            stats.tree_reads.built,
            stats.tree_reads.inflated
        );
    }
    finish(&scanner, &cmd.common, &config, stats.failed)
}

/// The first 12 characters of a revision that looks like an object id, else the revision.
fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..12]
    } else {
        rev
    }
}

/// The commits every ref but those at `head` points to (branches, remote-tracking branches, tags), and the
/// remote's default branch (`refs/remotes/origin/HEAD`) when it is one of them: what a push that rewrote
/// its branch is scanned against, and where its configuration is read from.
pub fn other_tips(repo: &gix::Repository, head: ObjectId) -> (Vec<ObjectId>, Option<ObjectId>) {
    let mut out: Vec<ObjectId> = Vec::new();
    let Ok(platform) = repo.references() else {
        return (out, None);
    };
    let Ok(all) = platform.all() else {
        return (out, None);
    };
    for r in all.flatten() {
        let name = r.name().as_bstr().to_string();
        if name == "refs/stash" || name.starts_with("refs/notes/") {
            continue;
        }
        if let Ok(id) = commit_of(repo, &name) {
            if id != head && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    let default_branch = commit_of(repo, "refs/remotes/origin/HEAD")
        .ok()
        .filter(|id| out.contains(id));
    (out, default_branch)
}

/// A sink that renames the `range` tip of a range scan's findings (`refs=["range"]`) to the revision the
/// user named; everything else goes to `inner` unchanged.
struct RangeTipSink<'a> {
    inner: &'a Scanner,
    name: &'a str,
}

impl Diagnostics for RangeTipSink<'_> {
    fn warn(&self, msg: String) {
        self.inner.warn(msg);
    }
    fn error(&self, msg: String) {
        self.inner.error(msg);
    }
    fn stats(&self) -> &keysweep_model::Stats {
        &self.inner.stats
    }
}

impl BlobSink for RangeTipSink<'_> {
    fn find_in_blob(&self, data: &[u8], origin: &Origin) -> Vec<BlobFinding> {
        self.inner.find_in_blob(data, origin)
    }
    fn collect(&self, mut found: Vec<BlobFinding>) {
        for f in &mut found {
            if let keysweep_model::Provenance::Git(g) = &mut f.location.meta.provenance {
                for r in g.refs.iter_mut().flatten().filter(|r| *r == "range") {
                    *r = self.name.into();
                }
            }
        }
        self.inner.collect(found);
    }
}

pub fn staged_cmd(cmd: StagedCmd) -> Result<i32> {
    let repo = keysweep_sources::git::open(&cmd.repo)?;
    let anchor = repo
        .workdir()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| cmd.repo.clone());
    let config = load_config(&cmd.common, &anchor)?;
    let scanner = build_scanner_for_small_input(&cmd.common, &config)?;
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
