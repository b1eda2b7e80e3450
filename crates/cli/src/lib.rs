//! The command line, all of it: every clap type lives in this crate, and each command converts its
//! arguments once into the plain option values the library crates define (`WalkOptions`, `HistoryOptions`,
//! `ImageOptions`, `ReportOptions`, …). One file per command (`scan`, `git` + `staged`, `image`, `rules`,
//! `baseline`, `hook` for install-hook, `verify`, `docs` for `--version`, completions and the man page),
//! `config` for `.keysweep.toml`, and `pipeline` for what every scanning command ends in (baseline,
//! allow-list, verification, report, exit code).
//! Exit codes: 0 = nothing found, every input scanned; 1 = findings; 2 = usage error, a missing path, or
//! nothing found but some inputs could not be read (the scan is incomplete).
use crate::config::Config;
use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use keysweep_detect::decode::DecodeLimits;
use keysweep_detect::engine::EngineKind;
use keysweep_detect::Scanner;
use keysweep_model::limits::{self, DEFAULT_MAX_FILE_SIZE};
use keysweep_report::Format;
use keysweep_rules::RuleSet;
use keysweep_sources::archive::ArchiveLimits;
use std::path::{Path, PathBuf};

pub mod baseline;
pub mod config;
pub mod datastore;
pub mod docs;
#[doc(hidden)]
pub mod fuzzing;
pub mod git;
pub mod hook;
pub mod image;
pub mod org;
pub mod pipeline;
pub mod progress;
pub mod rules;
pub mod scan;
pub mod verify;

pub use image::ImageCmd;
pub use rules::{ListFormat, RulesCmd};
pub use scan::ScanCmd;

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "keysweep",
    version,
    about = "Find leaked credentials in working trees, git history, notebooks, container images and CI files",
    long_about = "keysweep finds leaked credentials (AI provider keys, cloud tokens, private keys, …) with one \
                  multi-pattern pass over data-driven rules, offline checksums and decoy rejection.\n\n\
                  Exit codes: 0 = nothing found (every input scanned), 1 = findings, 2 = usage error, a \
                  missing path, or nothing found but some inputs could not be read (the scan is incomplete)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan files and directories (`-` reads standard input).
    Scan(ScanCmd),
    /// Scan git history: every blob reachable from any ref, once, with provenance.
    Git(git::GitCmd),
    /// Scan the staged changes (index vs HEAD), for pre-commit hooks.
    Staged(git::StagedCmd),
    /// Inspect and test detection rules.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Create, update or import a baseline of accepted findings (.keysweep-baseline.json).
    #[command(subcommand)]
    Baseline(baseline::BaselineCmd),
    /// Install keysweep as this repository's git pre-commit (or pre-push) hook.
    InstallHook(hook::InstallHookCmd),
    /// Live verification: list verifiers and the hosts keysweep may contact.
    Verify(verify::VerifyCmd),
    /// Scan container images: docker-save tarballs, OCI layouts (directory or tar), registry references.
    Image(ImageCmd),
    /// Sweep many repositories (URLs, local repositories and folders, GitHub organisations and users, GitLab
    /// groups, Hugging Face organisations) into a datastore: every blob scanned once, re-runs scan only
    /// what is new. Exit codes: 0 no open findings, 1 open findings, 2 error, 4 some repositories failed,
    /// 5 findings and failures.
    Org(org::OrgCmd),
    /// Sweep repositories queued in a shared datastore (`keysweep org --enqueue-only`): claim one under a
    /// lease, sweep it, repeat until the queue is empty (or keep polling with --follow). Run any number.
    Worker(org::worker::WorkerCmd),
    /// Show what organisation sweeps recorded in a datastore: every finding, every repository and place,
    /// with its triage status.
    Report(datastore::ReportCmd),
    /// Set a finding's triage status in a datastore (it survives re-scans and shows in every report).
    Triage(datastore::TriageCmd),
    /// Print a shell completion script (e.g. `keysweep completions bash > ~/.local/share/bash-completion/completions/keysweep`).
    Completions(docs::CompletionsCmd),
    /// Print the manual page `keysweep.1` (roff), or write it and one page per subcommand to a folder.
    Man(docs::ManCmd),
}

/// Options shared by every scanning command.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Add the rules in this folder (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Skip blobs (files, standard input, git blobs, files inside image layers) larger than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_SIZE, value_name = "BYTES")]
    pub max_file_size: u64,
    /// How many archives deep to open archives (zip, tar, gzip, zstd) found among the scanned files, blobs and
    /// layer files (0 = do not open archives).
    #[arg(long, default_value_t = limits::DEFAULT_MAX_ARCHIVE_DEPTH, value_name = "N")]
    pub max_archive_depth: usize,
    /// Stop reading an archive or image layer whose decompressed/compressed ratio exceeds this (decompression
    /// bomb guard).
    #[arg(long, default_value_t = limits::DEFAULT_MAX_RATIO, value_name = "N")]
    pub max_ratio: u64,
    /// Stop reading an archive after this many bytes decompressed or read out of it, nested archives included
    /// (decompression bomb guard).
    #[arg(long, default_value_t = limits::DEFAULT_MAX_ARCHIVE_SIZE, value_name = "BYTES")]
    pub max_archive_size: u64,
    /// Stop reading an archive after this many entries, nested archives included.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_ARCHIVE_ENTRIES, value_name = "N")]
    pub max_archive_entries: u64,
    /// Maximum nesting depth of structured documents the decoders read; a deeper notebook is scanned as
    /// flat JSON text, with a warning.
    #[arg(long, default_value_t = DecodeLimits::default().max_depth, value_name = "LEVELS")]
    pub max_decode_depth: usize,
    /// Diagnostic: scan every file as raw text, without notebook/JSON/CI/Kubernetes/artefact decoders.
    #[arg(long, hide = true)]
    pub no_decode: bool,
    /// Use only the rules given with --rules, not the built-in catalogue.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Disable a rule by id (repeatable).
    #[arg(long, value_name = "ID")]
    pub disable_rule: Vec<String>,
    /// Matching engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub engine: EngineArg,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show secrets in human, SARIF and HTML output (redacted by default).
    #[arg(long)]
    pub show_secrets: bool,
    /// Redact secrets in JSON and JSONL output too.
    #[arg(long)]
    pub redact: bool,
    /// Configuration file (default: .keysweep.toml found from the scanned path upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore any .keysweep.toml.
    #[arg(long)]
    pub no_config: bool,
    /// Suppress the findings this baseline lists (default: .keysweep-baseline.json at the repository root,
    /// or the config's `baseline`). For `baseline` commands: the file written.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Ignore any baseline.
    #[arg(long, conflicts_with = "baseline")]
    pub no_baseline: bool,
    /// Do not honour inline `keysweep:allow` comments.
    #[arg(long)]
    pub no_inline_allow: bool,
    /// Worker threads (0 = one per CPU).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print what was scanned (counts, engine) and name skipped binary files on standard error.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Do not print warnings on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Do not read or write the compiled-rules cache (also: KEYSWEEP_NO_CACHE=1; folder: KEYSWEEP_CACHE_DIR).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub verify: verify::VerifyArgs,
}

impl CommonArgs {
    /// The archive limits of these options (`keysweep_sources::archive`).
    pub fn archive_limits(&self) -> ArchiveLimits {
        ArchiveLimits {
            max_depth: self.max_archive_depth,
            max_size: self.max_archive_size,
            max_ratio: self.max_ratio,
            max_entries: self.max_archive_entries,
            max_file_size: self.max_file_size,
        }
    }
}

/// `--engine`: which matching engine (`keysweep_detect::engine::EngineKind`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EngineArg {
    /// Hyperscan when built with it, else portable.
    Auto,
    Hyperscan,
    Portable,
}

impl From<EngineArg> for EngineKind {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Auto => EngineKind::Auto,
            EngineArg::Hyperscan => EngineKind::Hyperscan,
            EngineArg::Portable => EngineKind::Portable,
        }
    }
}

/// `--format`: the report format (`keysweep_report::Format`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    Human,
    Json,
    Jsonl,
    Sarif,
    /// A standalone HTML report (one file, no network fetches; secrets redacted unless --show-secrets).
    Html,
    /// GitLab's secret-detection report (`artifacts: reports: secret_detection`). The secret itself is never
    /// written; descriptions show its redacted form (nothing with --show-secrets).
    Gitlab,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Html => Format::Html,
            FormatArg::Gitlab => Format::Gitlab,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Entry point: parse arguments, run, and map the outcome to an exit code.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    // The long version (commit, engine, rule count: the rules are parsed to count them) only when asked.
    let asked = std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--version" || a == "-V");
    let mut command = Cli::command();
    if asked {
        command = command.version(docs::long_version());
    }
    let parsed = command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        // Output to a reader that went away (`keysweep rules list | head`): nothing to say, nobody to say it to.
        Err(e) if is_broken_pipe(&e) => EXIT_CLEAN,
        Err(e) => {
            eprintln!("keysweep: error: {e:#}");
            EXIT_ERROR
        }
    }
}

/// Whether an error comes from writing to a closed pipe (the reader exited: `| head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}

pub fn run(cli: Cli) -> Result<i32> {
    let (name, targets): (&str, Vec<String>) = match &cli.command {
        Command::Scan(c) => (
            "scan",
            c.paths.iter().map(|p| p.display().to_string()).collect(),
        ),
        Command::Git(c) => ("git", vec![c.repo.display().to_string()]),
        Command::Staged(c) => ("staged", vec![c.repo.display().to_string()]),
        Command::Image(c) => ("image", c.refs.clone()),
        Command::Org(c) => ("org", c.targets.clone()),
        _ => ("", Vec::new()),
    };
    pipeline::record_run(name, targets);
    match cli.command {
        Command::Scan(cmd) => scan::scan_cmd(cmd),
        Command::Git(cmd) => git::git_cmd(cmd),
        Command::Staged(cmd) => git::staged_cmd(cmd),
        Command::Rules(RulesCmd::List {
            format,
            rules,
            filter,
        }) => rules::rules_list(format, &rules, &filter),
        Command::Rules(RulesCmd::Check { dir }) => rules::rules_check(&dir),
        Command::Baseline(cmd) => baseline::run(cmd),
        Command::InstallHook(cmd) => hook::install_cmd(cmd),
        Command::Verify(cmd) => verify::run(&cmd),
        Command::Image(cmd) => image::run(cmd),
        Command::Org(cmd) => org::org_cmd(cmd),
        Command::Worker(cmd) => org::worker::worker_cmd(cmd),
        Command::Report(cmd) => datastore::report_cmd(cmd),
        Command::Triage(cmd) => datastore::triage_cmd(cmd),
        Command::Completions(cmd) => docs::completions_cmd(cmd),
        Command::Man(cmd) => docs::man_cmd(cmd),
    }
}

/// Load the configuration that applies to `anchor` (explicit file, discovered file, or none).
pub fn load_config(common: &CommonArgs, anchor: &Path) -> Result<Config> {
    let mut config = if common.no_config {
        Config::default()
    } else {
        match &common.config {
            Some(p) => Config::load(p)?,
            None => match Config::discover(anchor) {
                Some(p) => Config::load(&p)?,
                None => Config::default(),
            },
        }
    };
    if config.baseline.is_none() {
        config.baseline = keysweep_store::baseline::discover(anchor);
    }
    Ok(config)
}

/// Build the rule set from the built-in catalogue, --rules folders and the config.
pub fn load_rules(common: &CommonArgs, config: &Config) -> Result<RuleSet> {
    let mut rules = if common.no_builtin_rules {
        RuleSet::default()
    } else {
        keysweep_detect::builtin::rules()
    };
    for d in common.rules.iter().chain(&config.rules_dirs) {
        rules.add_dir(d)?;
    }
    for (name, text) in &config.base_rules {
        rules.add_text(name, text);
    }
    // A disabled id must name a rule (loaded, or of the built-in catalogue): a typo disables nothing.
    let unknown = |id: &String| {
        !rules.rules.iter().any(|r| &r.spec.id == id)
            && !RuleSet::embedded().rules.iter().any(|r| &r.spec.id == id)
    };
    if let Some(id) = common.disable_rule.iter().find(|id| unknown(id)) {
        bail!("--disable-rule {id}: no rule has this id (see `keysweep rules list`)");
    }
    if let Some(id) = config.disable_rules.iter().find(|id| unknown(id)) {
        let file = config
            .path
            .as_deref()
            .unwrap_or(Path::new(config::FILE_NAME));
        bail!(
            "{}: disable_rules: no rule has the id {id} (see `keysweep rules list`)",
            file.display()
        );
    }
    let disabled: Vec<&String> = common
        .disable_rule
        .iter()
        .chain(&config.disable_rules)
        .collect();
    rules.retain(|r| !disabled.contains(&&r.spec.id));
    for r in &mut rules.rules {
        if let Some(&m) = config.min_entropy.get(&r.spec.id) {
            r.spec.min_entropy = Some(m);
        }
    }
    if rules.rules.is_empty() {
        bail!("no rules to scan with");
    }
    Ok(rules)
}

/// Build a scanner for a command, printing rule-load problems as warnings.
pub fn build_scanner(common: &CommonArgs, config: &Config) -> Result<Scanner> {
    configure_scanner(common, config, Scanner::new)
}

/// `build_scanner` for a scan of a few small blobs (`staged`): the engine compiles only the rules that could
/// match them (`Scanner::new_for_small_input`).
pub fn build_scanner_for_small_input(common: &CommonArgs, config: &Config) -> Result<Scanner> {
    configure_scanner(common, config, Scanner::new_for_small_input)
}

fn configure_scanner(
    common: &CommonArgs,
    config: &Config,
    new: fn(RuleSet, keysweep_detect::engine::EngineKind) -> Result<Scanner>,
) -> Result<Scanner> {
    if common.no_cache {
        keysweep_detect::engine::cache::disable();
    }
    let rules = load_rules(common, config)?;
    for e in &rules.errors {
        if !common.quiet {
            eprintln!("keysweep: warning: rule refused: {e}");
        }
    }
    let mut scanner = new(rules, common.engine.into())?;
    scanner.inline_allow = !common.no_inline_allow;
    scanner.verbose = common.verbose;
    if common.no_decode {
        scanner.decoders = keysweep_detect::decode::Registry::none();
    }
    scanner.decoders.limits.max_depth = common.max_decode_depth;
    if common.threads > 0 {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(common.threads)
            .build_global();
    }
    Ok(scanner)
}
