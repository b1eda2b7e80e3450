//! `keysweep org`: sweep many repositories into a datastore. Turns the command line into a list of
//! repositories (clone URLs, local repositories, folders of repositories, a repos file, GitHub
//! organisations and users, GitLab groups, Hugging Face organisations), records them, runs a bounded pool
//! of workers (each clones or fetches one repository, then scans its history; clones of some overlap the
//! scans of others) with every blob read once across the sweep (`dedup`), and ends with a summary, the
//! report of the swept repositories' findings and an exit code. Owns the sweep's options, the tokens'
//! environment variables, the options a sweep shares with `keysweep worker` (`SweepArgs`: datastore, clone
//! cache's place — `<datastore>/clones`, `./keysweep-clones` for PostgreSQL, or `--clone-cache` — and fetch
//! limits), `--enqueue-only` (record the repositories as queued for workers and return), the progress line and the exit
//! codes: 0 nothing open, 1 open findings, 2 the sweep could not run, 4 some repositories (or listings)
//! failed, 5 both findings and failures. One repository's failure never stops the others.
use crate::datastore::DEFAULT_DATASTORE;
use crate::pipeline::{print_message, use_color, write_report};
use crate::progress::{self, Progress};
use crate::{build_scanner, CommonArgs, EXIT_CLEAN, EXIT_FINDINGS};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use keysweep_report::{ReportOptions, ScanSummary};
use keysweep_sources::git::history::HistoryOptions;
use keysweep_sources::org::clone::CloneOptions;
use keysweep_sources::org::listing::{self, ListingOptions};
use keysweep_sources::org::{self as org, Platform, RepoSpec, Target, Token};
use keysweep_store::datastore::{self, FindingFilter, RepoRecord};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod dedup;
pub mod network;
pub mod repo;
pub mod worker;

/// Exit code bit: some repositories or listings failed.
pub const EXIT_REPOS_FAILED: i32 = 4;

/// How deep a folder target is searched for repositories.
const FOLDER_DEPTH: usize = 4;

#[derive(Args, Debug)]
pub struct OrgCmd {
    /// Repositories to sweep: clone URLs (https://, ssh://, git://, scp-style user@host:path), local
    /// repositories, or folders holding repositories.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Read targets from this file, one per line (blank lines and `#` comments ignored).
    #[arg(long, value_name = "FILE")]
    pub repos_file: Option<PathBuf>,
    /// Every repository of this GitHub organisation (token: KEYSWEEP_GITHUB_TOKEN or GITHUB_TOKEN).
    #[arg(long, value_name = "ORG")]
    pub github_org: Vec<String>,
    /// Every repository this GitHub user owns.
    #[arg(long, value_name = "USER")]
    pub github_user: Vec<String>,
    /// Every project of this GitLab group and its subgroups (token: KEYSWEEP_GITLAB_TOKEN).
    #[arg(long, value_name = "GROUP")]
    pub gitlab_group: Vec<String>,
    /// Every model, dataset and space of this Hugging Face organisation or user (token: HF_TOKEN).
    #[arg(long, value_name = "ORG")]
    pub huggingface: Vec<String>,
    /// Leave out repositories the listing marks as forks.
    #[arg(long)]
    pub skip_forks: bool,
    /// Leave out archived repositories.
    #[arg(long)]
    pub skip_archived: bool,
    /// Report only a summary, not the findings.
    #[arg(long)]
    pub summary_only: bool,
    /// Record the repositories as queued in the datastore and return: `keysweep worker` processes, on any
    /// number of machines, sweep them (a PostgreSQL datastore; a SQLite one serves workers on this machine).
    #[arg(long)]
    pub enqueue_only: bool,
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The options `keysweep org` and `keysweep worker` share: where results and clones go, and how
/// repositories are fetched.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The datastore: a folder (SQLite `keysweep.db`, and the clone cache in `clones/`) or a PostgreSQL URL
    /// (`postgres://user:password@host/db?sslmode=require`; the password is never shown). Also read from
    /// KEYSWEEP_DATASTORE, which keeps a password out of the process's command line.
    #[arg(long, value_name = "DIR|URL", env = "KEYSWEEP_DATASTORE", hide_env_values = true, default_value = DEFAULT_DATASTORE)]
    pub datastore: String,
    /// The clone cache (mirrors fetched again on later runs). Default: `<datastore>/clones` for a folder
    /// datastore, `./keysweep-clones` for a PostgreSQL one.
    #[arg(long, value_name = "DIR")]
    pub clone_cache: Option<PathBuf>,
    /// GitHub API base, for GitHub Enterprise Server (`https://HOST/api/v3`).
    #[arg(long, value_name = "URL", default_value = listing::GITHUB_API)]
    pub github_api_url: String,
    /// GitLab instance, for self-managed GitLab.
    #[arg(long, value_name = "URL", default_value = listing::GITLAB_URL)]
    pub gitlab_url: String,
    /// Hugging Face Hub base, for a mirror.
    #[arg(long, value_name = "URL", default_value = listing::HUGGINGFACE_URL)]
    pub huggingface_url: String,
    /// Refuse a repository larger than this (listed size, or its mirror on disk): recorded as its error.
    /// Units: B, K/KB, M/MB, G/GB (powers of 1024).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_repo_size: Option<u64>,
    /// Give up a clone or fetch that takes longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub clone_timeout: u64,
    /// Scan repositories whose refs did not change since their last scan too (blobs already read under the
    /// same rules are still skipped).
    #[arg(long)]
    pub rescan: bool,
}

impl SweepArgs {
    /// The clone cache's folder.
    pub fn clone_root(&self) -> PathBuf {
        clone_root(&self.datastore, self.clone_cache.as_deref())
    }
}

/// The clone cache of a sweep: `explicit` (`--clone-cache`), else `<datastore>/clones` for a folder datastore
/// and `./keysweep-clones` for a PostgreSQL one. `report --show-secrets` reads values back from the same place.
pub fn clone_root(datastore: &str, explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None if datastore::is_postgres_url(datastore) => PathBuf::from(DEFAULT_CLONE_CACHE),
        None => Path::new(datastore).join("clones"),
    }
}

/// The clone cache of a PostgreSQL datastore when none is named.
pub const DEFAULT_CLONE_CACHE: &str = "keysweep-clones";

/// `--max-repo-size`: a byte count with an optional binary unit.
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(digits);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a size such as 500M or 2G"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (B, K, M, G, T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// `scheme://host[:port]/` of a URL (the listing's origin, as git's `http.<url>.*` keys name a host).
fn origin(url: &str) -> Option<String> {
    listing::origin(url).map(|o| o + "/")
}

/// Clone options for one platform: the token goes to that platform's clone host only.
fn clone_options(
    root: &Path,
    cmd: &SweepArgs,
    token: Option<Token>,
    token_host: Option<String>,
    user: &str,
) -> CloneOptions {
    let mut o = CloneOptions::new(root);
    o.timeout = Duration::from_secs(cmd.clone_timeout.max(1));
    o.max_repo_size = cmd.max_repo_size;
    o.token = token;
    o.token_host = token_host;
    o.token_user = user.to_string();
    o
}

/// Clone options for each platform.
pub(crate) struct CloneSet {
    direct: CloneOptions,
    github: CloneOptions,
    gitlab: CloneOptions,
    hf: CloneOptions,
}

impl CloneSet {
    fn new(sweep: &SweepArgs, tokens: &Tokens) -> CloneSet {
        let clones = sweep.clone_root();
        CloneSet {
            direct: clone_options(&clones, sweep, None, None, "x-access-token"),
            github: clone_options(
                &clones,
                sweep,
                tokens.github.clone(),
                github_clone_host(&sweep.github_api_url),
                "x-access-token",
            ),
            gitlab: clone_options(
                &clones,
                sweep,
                tokens.gitlab.clone(),
                origin(&sweep.gitlab_url),
                "oauth2",
            ),
            hf: clone_options(
                &clones,
                sweep,
                tokens.huggingface.clone(),
                origin(&sweep.huggingface_url),
                "user",
            ),
        }
    }

    fn for_platform(&self, p: Platform) -> &CloneOptions {
        match p {
            Platform::GitHub => &self.github,
            Platform::GitLab => &self.gitlab,
            Platform::HuggingFace => &self.hf,
            Platform::Direct => &self.direct,
        }
    }
}

/// What the command line names, as repositories; problems that stop no other target are returned as
/// messages.
fn enumerate(
    cmd: &OrgCmd,
    tokens: &Tokens,
    say: &dyn Fn(&str),
) -> Result<(Vec<RepoSpec>, Vec<String>)> {
    let mut specs: Vec<RepoSpec> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut targets: Vec<(String, String)> =
        cmd.targets.iter().map(|t| (t.clone(), t.clone())).collect();
    if let Some(file) = &cmd.repos_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--repos-file {}", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            targets.push((
                line.to_string(),
                format!("{}:{}: {line}", file.display(), n + 1),
            ));
        }
    }
    for (t, named) in &targets {
        match org::classify(t) {
            Ok(Target::Url(url)) => specs.push(RepoSpec::direct(org::url_identity(&url), url)),
            Ok(Target::LocalRepo(p)) => specs.push(local_spec(&p)?),
            Ok(Target::Folder(dir)) => {
                let found = org::discover_repositories(&dir, FOLDER_DEPTH);
                if found.is_empty() {
                    failures.push(format!(
                        "{}: no git repositories in this folder (searched {FOLDER_DEPTH} levels down)",
                        dir.display()
                    ));
                }
                for p in found {
                    specs.push(local_spec(&p)?);
                }
            }
            Err(e) if named != t => failures.push(format!("{named}: {e}")),
            Err(e) => bail!("{e}"),
        }
    }
    let listing_opts = |base: &str, token: &Option<Token>| {
        let mut o = ListingOptions::new(base, token.clone());
        o.skip_forks = cmd.skip_forks;
        o.skip_archived = cmd.skip_archived;
        o
    };
    let mut list = |what: String, r: Result<listing::ListingOutcome>| match r {
        Ok(out) => {
            say(&format!(
                "{what}: {} repositories{}",
                out.repos.len(),
                if out.skipped > 0 {
                    format!(" ({} forks or archived left out)", out.skipped)
                } else {
                    String::new()
                }
            ));
            specs.extend(out.repos);
        }
        Err(e) => failures.push(format!("{e:#}")),
    };
    for o in &cmd.github_org {
        let opts = listing_opts(&cmd.sweep.github_api_url, &tokens.github);
        list(
            format!("GitHub organisation {o}"),
            listing::github_org(&opts, o),
        );
    }
    for u in &cmd.github_user {
        let opts = listing_opts(&cmd.sweep.github_api_url, &tokens.github);
        list(format!("GitHub user {u}"), listing::github_user(&opts, u));
    }
    for g in &cmd.gitlab_group {
        let opts = listing_opts(&cmd.sweep.gitlab_url, &tokens.gitlab);
        list(format!("GitLab group {g}"), listing::gitlab_group(&opts, g));
    }
    for h in &cmd.huggingface {
        let opts = listing_opts(&cmd.sweep.huggingface_url, &tokens.huggingface);
        list(format!("Hugging Face {h}"), listing::huggingface(&opts, h));
    }
    // One entry per identity (the first listing's facts win).
    let mut seen = HashSet::new();
    specs.retain(|s| seen.insert(s.id.clone()));
    if cmd.skip_forks || cmd.skip_archived {
        specs.retain(|s| !(cmd.skip_forks && s.fork || cmd.skip_archived && s.archived));
    }
    Ok((specs, failures))
}

/// A local repository, read in place: its identity is its canonical path.
fn local_spec(path: &Path) -> Result<RepoSpec> {
    let canon = path
        .canonicalize()
        .with_context(|| format!("{}", path.display()))?;
    let s = canon.display().to_string();
    Ok(RepoSpec::direct(s.clone(), s))
}

pub(crate) struct Tokens {
    github: Option<Token>,
    gitlab: Option<Token>,
    huggingface: Option<Token>,
}

impl Tokens {
    fn from_env() -> Tokens {
        let env = |k: &str| std::env::var(k).ok();
        Tokens {
            github: Token::from_env(&["KEYSWEEP_GITHUB_TOKEN", "GITHUB_TOKEN"], &env),
            gitlab: Token::from_env(&["KEYSWEEP_GITLAB_TOKEN"], &env),
            huggingface: Token::from_env(&["HF_TOKEN"], &env),
        }
    }
}

/// The clone host a GitHub API base serves: `api.github.com` → `github.com`; GitHub Enterprise Server's
/// `https://HOST/api/v3` → `https://HOST/`.
fn github_clone_host(api: &str) -> Option<String> {
    let o = origin(api)?;
    Some(if o == "https://api.github.com/" {
        "https://github.com/".to_string()
    } else {
        o
    })
}

/// The key of "already scanned" records: the rule set, keysweep's version and the options that change what
/// a blob scan finds.
fn rules_version(scanner: &keysweep_detect::Scanner, common: &CommonArgs) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(scanner.rules.digest().as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(
        format!(
            "|{}|{}|{}|{}|{}|{}|{}|{}",
            common.max_file_size,
            common.max_decode_depth,
            common.no_decode,
            !common.no_inline_allow,
            common.max_archive_depth,
            common.max_archive_size,
            common.max_archive_entries,
            common.max_ratio
        )
        .as_bytes(),
    );
    h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Counters of the sweep, for the progress line and the summary.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    scanned: AtomicU64,
    unchanged: AtomicU64,
    /// Unchanged by their remote's ref advertisement: not fetched.
    not_fetched: AtomicU64,
    empty: AtomicU64,
    failed: AtomicU64,
    blobs_read: AtomicU64,
    blobs_skipped: AtomicU64,
    findings: AtomicU64,
}

/// Options no sweep accepts (`org` and `worker` alike).
fn check_sweep_options(common: &CommonArgs, command: &str) -> Result<()> {
    if common.verify.verify || common.verify.verify_dry_run || common.verify.only_verified {
        bail!("keysweep {command} does not verify: the datastore holds no secrets; verify a single repository with `keysweep git --verify`");
    }
    if common.baseline.is_some() {
        bail!(
            "keysweep {command} does not read baselines: record decisions with `keysweep triage` instead"
        );
    }
    if common.show_secrets {
        bail!("keysweep {command} reports from the datastore, which holds redacted previews only (--show-secrets has nothing to show)");
    }
    Ok(())
}

/// The scanner of a sweep and its rules version.
fn sweep_scanner(common: &CommonArgs) -> Result<(keysweep_detect::Scanner, String)> {
    // Repositories' own `.keysweep.toml` files are not read (a repository must not silence its own
    // sweep): only a configuration named with --config applies.
    let config = match (&common.config, common.no_config) {
        (Some(p), false) => crate::config::Config::load(p)?,
        _ => crate::config::Config::default(),
    };
    let scanner = build_scanner(common, &config)?;
    let rules_version = rules_version(&scanner, common);
    Ok((scanner, rules_version))
}

pub fn org_cmd(cmd: OrgCmd) -> Result<i32> {
    let common = &cmd.common;
    check_sweep_options(common, "org")?;
    if cmd.targets.is_empty()
        && cmd.repos_file.is_none()
        && cmd.github_org.is_empty()
        && cmd.github_user.is_empty()
        && cmd.gitlab_group.is_empty()
        && cmd.huggingface.is_empty()
    {
        bail!("nothing to sweep: name TARGETs, --repos-file, --github-org, --github-user, --gitlab-group or --huggingface");
    }
    let started = Instant::now();
    let quiet = common.quiet;
    let say = |line: &str| {
        if !quiet {
            crate::pipeline::print_line(line, &keysweep_report::Redactor::default());
        }
    };
    let tokens = Tokens::from_env();
    let (scanner, rules_version) = sweep_scanner(common)?;
    let store = datastore::open(&cmd.sweep.datastore)?;
    let store = store.as_ref();
    let (mut specs, listing_failures) = enumerate(&cmd, &tokens, &say)?;
    let run = store.begin_run(&rules_version, "org")?;
    let previous: HashMap<String, RepoRecord> = store
        .repositories()?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for s in &specs {
        let mut rec = RepoRecord::pending(&s.id, &s.clone_url, platform_name(s.platform));
        rec.fork = s.fork;
        rec.archived = s.archived;
        store.upsert_repository(&rec)?;
    }
    if cmd.enqueue_only {
        let ids: Vec<String> = specs.iter().map(|s| s.id.clone()).collect();
        let queued = store.enqueue(&ids)?;
        store.finish_run(&run)?;
        for f in &listing_failures {
            if !quiet {
                print_message("error", f, &keysweep_report::Redactor::default(), false);
            }
        }
        say(&format!(
            "queued {queued} of {} repositories in {} (the others are being swept now); sweep them with \
             `keysweep worker --datastore …`",
            ids.len(),
            store.describe()
        ));
        return Ok(if listing_failures.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_REPOS_FAILED
        });
    }
    // Forks last: their parents' blobs are then known, and only what the fork adds is read.
    specs.sort_by_key(|s| s.fork);

    let clones = CloneSet::new(&cmd.sweep, &tokens);
    let history = HistoryOptions {
        max_file_size: common.max_file_size,
        ..HistoryOptions::default()
    };
    let claims = dedup::Claims::default();
    let networks = network::Networks::default();
    let ctx = repo::Context {
        store,
        scanner: &scanner,
        claims: &claims,
        networks: &networks,
        run: &run,
        rules_version: &rules_version,
        history: &history,
        archives: common.archive_limits(),
        rescan: cmd.sweep.rescan,
    };
    let total = specs.len();
    let workers = match common.threads {
        // Clones and fetches wait on the network far more than they compute: four per core keeps the
        // cores busy with scans while others wait (200 unchanged repositories over git daemon: -j 4 4.2 s,
        // -j 8 2.9 s, -j 16 2.8 s on 2 cores).
        0 => std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .saturating_mul(4)
            .clamp(4, 16),
        n => n,
    }
    .min(total.max(1));
    let progress = Progress::new(!quiet, total as u64);
    let tally = Tally::default();
    let failures: Mutex<Vec<String>> = Mutex::new(listing_failures);
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let secrets: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Non-forks first, then forks, each group through the pool: a fork starts once every parent is done.
    let (parents, forks): (Vec<_>, Vec<_>) = specs.iter().enumerate().partition(|(_, s)| !s.fork);
    // The progress line's rates.
    let t0 = Instant::now();
    let message = || {
        let s = scanner.stats.snapshot();
        let secs = t0.elapsed().as_secs_f64().max(0.001);
        format!(
            "repositories · {} blobs/s · {}/s · {} findings · {} failed",
            progress::count((s.blobs as f64 / secs) as u64),
            progress::bytes((s.bytes as f64 / secs) as u64),
            progress::count(tally.findings.load(Relaxed)),
            tally.failed.load(Relaxed),
        )
    };
    progress.while_running(message, || {
        for group in [parents, forks] {
            let queue: Mutex<VecDeque<(usize, &RepoSpec)>> =
                Mutex::new(group.into_iter().collect());
            std::thread::scope(|pool| {
                for _ in 0..workers {
                    pool.spawn(|| loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some((i, spec)) = next else { break };
                        let clone = clones.for_platform(spec.platform);
                        let (outcome, warns) =
                            repo::sweep(&ctx, spec, clone, previous.get(&spec.id), i as u64);
                        if let Ok(mut w) = warnings.lock() {
                            w.extend(warns);
                        }
                        match outcome {
                            repo::Outcome::Scanned {
                                blobs_read,
                                blobs_skipped,
                                findings,
                            } => {
                                tally.scanned.fetch_add(1, Relaxed);
                                tally.blobs_read.fetch_add(blobs_read, Relaxed);
                                tally.blobs_skipped.fetch_add(blobs_skipped, Relaxed);
                                tally.findings.fetch_add(findings.len() as u64, Relaxed);
                                if let Ok(mut s) = secrets.lock() {
                                    s.extend(findings.into_iter().map(|f| f.secret));
                                }
                            }
                            repo::Outcome::Unchanged { fetched } => {
                                tally.unchanged.fetch_add(1, Relaxed);
                                if !fetched {
                                    tally.not_fetched.fetch_add(1, Relaxed);
                                }
                            }
                            repo::Outcome::Empty => {
                                tally.empty.fetch_add(1, Relaxed);
                            }
                            repo::Outcome::Failed(msg) => {
                                tally.failed.fetch_add(1, Relaxed);
                                if let Ok(mut f) = failures.lock() {
                                    f.push(msg);
                                }
                            }
                        }
                        tally.done.fetch_add(1, Relaxed);
                        progress.inc();
                    });
                }
            });
        }
    });
    progress.finish();
    store.finish_run(&run)?;

    // Messages and the report, every secret this run saw scrubbed from them.
    let failures = failures.into_inner().unwrap_or_default();
    let mut warnings = warnings.into_inner().unwrap_or_default();
    let (_, scanner_messages) = scanner.take_results_and_messages();
    warnings.extend(scanner_messages.into_iter().map(|m| m.text));
    let secrets = secrets.into_inner().unwrap_or_default();
    let redactor = {
        let mut all = secrets;
        for t in warnings.iter().chain(&failures) {
            for s in scanner.secrets_in_text(t.as_bytes()) {
                all.push(String::from_utf8_lossy(&s).into_owned());
            }
        }
        keysweep_report::Redactor::new(all)
    };
    if !quiet {
        for w in &warnings {
            print_message("warning", w, &redactor, false);
        }
        for f in &failures {
            print_message("error", f, &redactor, false);
        }
    }
    let swept: HashSet<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    let stored = store.findings(&FindingFilter::default())?;
    let mine: Vec<_> = stored
        .into_iter()
        .filter(|s| s.repositories.iter().any(|r| swept.contains(r.as_str())))
        .collect();
    let open = mine.iter().filter(|s| s.status == "open").count();
    let stats = scanner.stats.snapshot();
    let g = |a: &AtomicU64| a.load(Relaxed);
    say(&format!(
        "swept {} repositories in {}: {} scanned, {} unchanged ({} not fetched), {} empty, {} failed; {} blobs \
         read ({}), {} already known skipped; {} findings ({} open) in these repositories; datastore {}",
        progress::count(total as u64),
        progress::duration(started.elapsed()),
        g(&tally.scanned),
        g(&tally.unchanged),
        g(&tally.not_fetched),
        g(&tally.empty),
        g(&tally.failed),
        progress::count(g(&tally.blobs_read)),
        progress::bytes(stats.bytes),
        progress::count(g(&tally.blobs_skipped)),
        progress::count(mine.len() as u64),
        open,
        store.describe(),
    ));
    if !cmd.summary_only {
        let findings: Vec<_> = mine.into_iter().map(|s| s.finding).collect();
        let summary = ScanSummary {
            stats,
            warnings: failures
                .iter()
                .map(|f| redactor.scrub(f).into_owned())
                .collect(),
            engine: scanner.engine_name().to_string(),
            rules: scanner.rules.rules.len(),
            command: "org".into(),
            targets: specs.iter().map(|s| s.id.clone()).collect(),
            rules_version: rules_version.clone(),
            duration_ms: Some(started.elapsed().as_millis() as u64),
            ..ScanSummary::default()
        };
        let opts = ReportOptions {
            format: common.format.into(),
            show_secrets: false,
            redact: true,
            color: use_color(common.color, common.output.as_deref()),
        };
        write_report(
            common.output.as_deref(),
            &findings,
            &summary,
            &opts,
            &redactor,
        )?;
    }
    let mut code = if open > 0 { EXIT_FINDINGS } else { EXIT_CLEAN };
    if !failures.is_empty() {
        code |= EXIT_REPOS_FAILED;
    }
    Ok(code)
}

fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::GitHub => "github",
        Platform::GitLab => "gitlab",
        Platform::HuggingFace => "huggingface",
        Platform::Direct => "direct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("500"), Ok(500));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("2GB"), Ok(2 << 30));
        assert!(parse_size("2X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn tokens_go_to_the_clone_host_of_their_api() {
        assert_eq!(
            github_clone_host("https://api.github.com").as_deref(),
            Some("https://github.com/")
        );
        assert_eq!(
            github_clone_host("https://ghe.corp/api/v3").as_deref(),
            Some("https://ghe.corp/")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/x").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
    }
}
