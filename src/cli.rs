//! Command-line interface (clap derive): argument definitions and dispatch to the library. Exit codes:
//! 0 = no findings, 1 = findings, 2 = usage or input error.
use crate::config::Config;
use crate::engine::EngineKind;
use crate::finding::Finding;
use crate::report::{self, Format, Redactor, ReportOptions, ScanSummary};
use crate::rules::RuleSet;
use crate::scan::Scanner;
use crate::source::{fs as fsrc, Origin};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

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
                  Exit codes: 0 = nothing found, 1 = findings, 2 = usage or input error."
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
    Git(crate::source::git::command::GitCmd),
    /// Scan the staged changes (index vs HEAD), for pre-commit hooks.
    Staged(crate::source::git::command::StagedCmd),
    /// Inspect and test detection rules.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Create, update or import a baseline of accepted findings (.keysweep-baseline.json).
    #[command(subcommand)]
    Baseline(crate::baseline::command::BaselineCmd),
    /// Install keysweep as this repository's git pre-commit (or pre-push) hook.
    InstallHook(crate::hook::InstallHookCmd),
    /// Live verification: list verifiers and the hosts keysweep may contact.
    Verify(crate::verify::cli::VerifyCmd),
    /// Scan container images: docker-save tarballs, OCI layouts (directory or tar), registry references.
    Image(ImageCmd),
}

#[derive(Args, Debug)]
pub struct ImageCmd {
    /// Images: a `docker save` tarball, an OCI layout directory or tar, or `host[:port]/repo[:tag|@sha256:…]`.
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// Platform to pick from multi-platform indexes, `os/arch[/variant]` (default: linux/<this machine>).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Allow plain HTTP and private/loopback addresses for this registry host (`HOST[:PORT]`, repeatable; without
    /// a port, any port of the host). Given without a value: the registry of each image reference.
    #[arg(long, value_name = "HOST[:PORT]", num_args = 0..=1, default_missing_value = "")]
    pub insecure_registry: Vec<String>,
    /// Stop reading a layer after this many decompressed bytes (decompression bomb guard).
    #[arg(long, default_value_t = 16 << 30, value_name = "BYTES")]
    pub max_layer_size: u64,
    /// Stop reading a layer whose decompressed/compressed ratio exceeds this (decompression bomb guard).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_ratio: u64,
    /// Skip files inside layers larger than this many bytes.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub max_file_size: u64,
    /// How many archives deep to open archives found inside layers (0 = none).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub max_archive_depth: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct ScanCmd {
    /// Files or directories to scan; `-` for standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Also scan files ignored by .gitignore (their findings are marked `ignored`).
    #[arg(long)]
    pub no_ignore: bool,
    /// Skip files (and standard input) larger than this many bytes.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub max_file_size: u64,
    /// Follow symlinks inside scanned folders, only to targets inside the scanned folder, each target once
    /// (default: symlinks inside folders are not followed; paths named on the command line always are).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Skip paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Maximum nesting depth of structured documents the decoders read; a deeper notebook is scanned as
    /// flat JSON text, with a warning.
    #[arg(long, default_value_t = 256, value_name = "LEVELS")]
    pub max_decode_depth: usize,
    /// Diagnostic: scan every file as raw text, without notebook/JSON/CI/Kubernetes/artefact decoders.
    #[arg(long, hide = true)]
    pub no_decode: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by every scanning command.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Add the rules in this folder (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Use only the rules given with --rules, not the built-in catalogue.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Disable a rule by id (repeatable).
    #[arg(long, value_name = "ID")]
    pub disable_rule: Vec<String>,
    /// Matching engine.
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    pub engine: EngineKind,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show secrets in human and SARIF output (redacted by default).
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
    pub verify: crate::verify::cli::VerifyArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// List the rules (built-in plus --rules folders).
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
        /// Add the rules in this folder (repeatable).
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
    /// Compile a rules folder with every engine and run each rule's examples and negative examples.
    Check {
        /// The folder of `*.toml` rule files.
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Human,
    Json,
}

/// Entry point: parse arguments, run, and map the outcome to an exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
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
        Err(e) => {
            eprintln!("keysweep: error: {e:#}");
            EXIT_ERROR
        }
    }
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Scan(cmd) => scan_cmd(cmd),
        Command::Git(cmd) => crate::source::git::command::git_cmd(cmd),
        Command::Staged(cmd) => crate::source::git::command::staged_cmd(cmd),
        Command::Rules(RulesCmd::List { format, rules }) => rules_list(format, &rules),
        Command::Rules(RulesCmd::Check { dir }) => rules_check(&dir),
        Command::Baseline(cmd) => crate::baseline::command::run(cmd),
        Command::InstallHook(cmd) => crate::hook::install_cmd(cmd),
        Command::Verify(cmd) => crate::verify::cli::run(&cmd),
        Command::Image(cmd) => crate::source::image::run(cmd),
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
        config.baseline = crate::baseline::discover(anchor);
    }
    Ok(config)
}

/// Build the rule set from the built-in catalogue, --rules folders and the config.
pub fn load_rules(common: &CommonArgs, config: &Config) -> Result<RuleSet> {
    let mut rules = if common.no_builtin_rules {
        RuleSet::default()
    } else {
        RuleSet::embedded()
    };
    for d in common.rules.iter().chain(&config.rules_dirs) {
        rules.add_dir(d)?;
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
    let rules = load_rules(common, config)?;
    for e in &rules.errors {
        if !common.quiet {
            eprintln!("keysweep: warning: rule refused: {e}");
        }
    }
    if common.no_cache {
        crate::engine::cache::disable();
    }
    let mut scanner = Scanner::new(rules, common.engine)?;
    scanner.inline_allow = !common.no_inline_allow;
    scanner.verbose = common.verbose;
    if common.threads > 0 {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(common.threads)
            .build_global();
    }
    Ok(scanner)
}

/// Write the report and compute the exit code for a finished scan.
pub fn finish(
    scanner: &Scanner,
    common: &CommonArgs,
    config: &Config,
    input_failed: bool,
) -> Result<i32> {
    let (mut findings, messages) = scanner.take_results_and_messages();
    let warnings: Vec<String> = messages.iter().map(|m| m.text.clone()).collect();
    // Built before any suppression: a baselined secret is still a secret wherever else it is printed.
    let redactor = if common.show_secrets && !common.redact {
        Redactor::default()
    } else {
        content_redactor(scanner, &findings, &warnings)
    };
    if let Some(file) = common
        .baseline
        .as_ref()
        .or(config.baseline.as_ref())
        .filter(|_| !common.no_baseline)
    {
        let n = crate::baseline::Baseline::load(file)?.apply(&mut findings);
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
    crate::verify::cli::apply(scanner, common, &mut findings)?;
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
    };
    let to_tty = common.output.is_none() && std::io::stdout().is_terminal();
    let opts = ReportOptions {
        format: common.format,
        show_secrets: common.show_secrets,
        redact: common.redact,
        color: match common.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_tty && std::env::var_os("NO_COLOR").is_none(),
        },
    };
    match &common.output {
        Some(p) => write_output(p, |w| {
            report::write(w, &findings, &summary, &opts, &redactor)
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            report::write(&mut w, &findings, &summary, &opts, &redactor)?;
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
        if crate::verify::cli::fails(&common.verify, &findings) && fail_on_findings {
            EXIT_FINDINGS
        } else if input_failed {
            EXIT_ERROR
        } else {
            EXIT_CLEAN
        },
    )
}

/// Every secret a run saw that a path, provenance string or warning may repeat: the findings' secrets
/// (before suppression) and what the rules find in those strings themselves (a file named after a token that
/// was only skipped, a label key, a commit summary).
pub fn content_redactor(scanner: &Scanner, findings: &[Finding], warnings: &[String]) -> Redactor {
    fn strings<'a>(v: &'a serde_json::Value, out: &mut std::collections::HashSet<&'a str>) {
        match v {
            serde_json::Value::String(s) => {
                out.insert(s);
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.insert(k);
                strings(v, out);
            }),
            _ => {}
        }
    }
    let mut texts: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in findings {
        for l in &f.locations {
            texts.insert(&*l.path);
            l.meta.values().for_each(|v| strings(v, &mut texts));
        }
        if let Some(v) = &f.verification {
            texts.extend(v.detail.as_deref());
            texts.extend(v.identity.as_deref());
        }
    }
    texts.extend(warnings.iter().map(String::as_str));
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

/// Print one `keysweep: <kind>: <text>` line on standard error, scrubbed and escaped like warnings.
pub fn print_message(kind: &str, text: &str, redactor: &Redactor, show_secrets: bool) {
    let text = if show_secrets {
        std::borrow::Cow::Borrowed(text)
    } else {
        redactor.scrub(text)
    };
    eprintln!("keysweep: {kind}: {}", report::human::terminal_safe(&text));
}

/// Write the report to the `-o` file. Policy (README, "Files keysweep writes"):
/// - a missing or regular file is replaced atomically (`fsutil::write_atomic`, mode 0600: reports can hold
///   secrets);
/// - a FIFO or device named directly (`/dev/null`, a named pipe) is written in place;
/// - a symlink is followed only to a stream — a FIFO, a character device or a socket, or any link under
///   `/dev` or `/proc` (`/dev/stdout`, `/dev/fd/N`, process substitution) — where there is nothing to
///   overwrite. A symlink to a file (or a dangling one) is refused: it may have been planted by the scanned tree
///   (`keysweep scan -o report.json` in a checkout carrying `report.json -> ~/.bashrc`); name its target.
///
/// Folders on the way are followed: they are part of the path the user named.
fn write_output(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
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
        return crate::fsutil::write_atomic(path, 0o600, write);
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

fn scan_cmd(cmd: ScanCmd) -> Result<i32> {
    let anchor = cmd
        .paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| ".".into());
    let config = load_config(&cmd.common, &anchor)?;
    let mut scanner = build_scanner(&cmd.common, &config)?;
    if cmd.no_decode {
        scanner.decoders = crate::decode::Registry::none();
    }
    scanner.decoders.limits.max_depth = cmd.max_decode_depth;
    let input_failed = scan_inputs(&cmd, &scanner, &config)?;
    finish(&scanner, &cmd.common, &config, input_failed)
}

/// Scan the paths of a `scan`-style command (files, folders, `-`). Returns whether an input failed.
pub fn scan_inputs(cmd: &ScanCmd, scanner: &Scanner, config: &Config) -> Result<bool> {
    // Exclusion globs from the config are relative to the config's folder; the walker matches them against
    // paths relative to each root, which is the same folder when scanning the repository root.
    let opts = fsrc::WalkOptions {
        no_ignore: cmd.no_ignore,
        max_file_size: cmd.max_file_size,
        exclude: config.exclude_set(&cmd.exclude)?,
        threads: cmd.common.threads,
        follow_symlinks: cmd.follow_symlinks,
    };
    let mut input_failed = false;
    for p in &cmd.paths {
        if p.as_os_str() == "-" {
            // At most one byte over the limit is read: enough to know the input is too large.
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(cmd.max_file_size.saturating_add(1))
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            if buf.len() as u64 > cmd.max_file_size {
                fsrc::skip_large(
                    scanner,
                    "-",
                    "more than ",
                    cmd.max_file_size,
                    cmd.max_file_size,
                );
            } else {
                scanner.scan_blob(&buf, &Origin::new("stdin", "-"));
            }
        } else if !p.exists() && std::fs::symlink_metadata(p).is_err() {
            scanner.error(format!("{}: no such file or directory", p.display()));
            input_failed = true;
        } else {
            fsrc::scan_path(scanner, p, &opts);
        }
    }
    Ok(input_failed)
}

fn rules_list(format: ListFormat, dirs: &[PathBuf]) -> Result<i32> {
    let mut rules = RuleSet::embedded();
    for d in dirs {
        rules.add_dir(d)?;
    }
    for e in &rules.errors {
        eprintln!("keysweep: warning: rule refused: {e}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Json => {
            let specs: Vec<serde_json::Value> = rules
                .rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.spec.id, "name": r.spec.name, "provider": r.spec.provider,
                        "category": r.spec.category, "confidence": r.spec.confidence,
                        "pattern": r.spec.pattern, "checksum": r.spec.checksum,
                        "min_entropy": r.spec.min_entropy, "context": r.spec.context,
                        "verify": r.spec.verify, "file": r.file,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &specs)?;
            writeln!(out)?;
        }
        ListFormat::Human => {
            for r in &rules.rules {
                writeln!(
                    out,
                    "{:<42} {:<18} {:<12} {:<7} {}",
                    r.spec.id, r.spec.provider, r.spec.category, r.spec.confidence, r.spec.name
                )?;
            }
            writeln!(out, "{} rules", rules.rules.len())?;
        }
    }
    Ok(EXIT_CLEAN)
}

fn rules_check(dir: &Path) -> Result<i32> {
    let mut rules = RuleSet::default();
    rules.add_dir(dir).map_err(|e| anyhow!("{e:#}"))?;
    for e in &rules.errors {
        println!("REFUSED {e}");
    }
    let failures = crate::rules::selftest::run(&rules)?;
    for f in &failures {
        println!("FAIL {f}");
    }
    let examples: usize = rules
        .rules
        .iter()
        .map(|r| r.spec.examples.len() + r.spec.negative_examples.len())
        .sum();
    println!(
        "{} rules loaded, {} refused; {examples} examples on {} engine(s); {} failure(s)",
        rules.rules.len(),
        rules.errors.len(),
        crate::rules::selftest::engines().len(),
        failures.len()
    );
    Ok(if rules.errors.is_empty() && failures.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    })
}
