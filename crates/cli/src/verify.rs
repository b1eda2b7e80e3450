//! The command-line face of verification: the `--verify*` flags every scanning command shares (flattened into
//! `CommonArgs`), their application inside `pipeline::finish`, and `keysweep verify --egress-hosts | --list`.
use crate::{CommonArgs, EXIT_CLEAN};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use keysweep_detect::Scanner;
use keysweep_model::Finding;
use keysweep_verify::{is_companion, is_live, Verifier, VerifyOptions};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// Verification flags of every scanning command.
#[derive(Args, Debug, Clone, Default)]
pub struct VerifyArgs {
    /// Ask each provider, read-only, whether found credentials are live (sends the secret to its provider).
    #[arg(long)]
    pub verify: bool,
    /// Print the requests --verify would send (secrets redacted) on standard error, without sending them.
    #[arg(long)]
    pub verify_dry_run: bool,
    /// Report only credentials verified live or restricted (implies --verify).
    #[arg(long)]
    pub only_verified: bool,
    /// Exit 1 on any finding, or only on credentials verified live (implies --verify). Default: the
    /// config's `fail_on` when it says "live", else any.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub fail_on: Option<FailOn>,
    /// Verification requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub verify_concurrency: usize,
    /// Timeout of one verification request, in seconds.
    #[arg(long, default_value_t = 15, value_name = "SECS")]
    pub verify_timeout: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum FailOn {
    #[default]
    Any,
    Live,
}

impl VerifyArgs {
    /// Whether any flag asks for verification.
    pub fn wanted(&self) -> bool {
        self.verify
            || self.verify_dry_run
            || self.only_verified
            || self.fail_on == Some(FailOn::Live)
    }
    /// These flags with `--fail-on` settled: the command line's, else the config's `fail_on = "live"`, else
    /// any (the config's "none" is applied to the exit code by the pipeline).
    pub fn with_config(&self, config_fail_on: Option<&str>) -> VerifyArgs {
        let mut args = self.clone();
        if args.fail_on.is_none() {
            args.fail_on = Some(match config_fail_on {
                Some("live") => FailOn::Live,
                _ => FailOn::Any,
            });
        }
        args
    }
    pub fn options(&self) -> Result<VerifyOptions> {
        if self.verify_concurrency == 0 || self.verify_concurrency > 64 {
            bail!("--verify-concurrency must be between 1 and 64");
        }
        if self.verify_timeout == 0 || self.verify_timeout > 300 {
            bail!("--verify-timeout must be between 1 and 300 seconds");
        }
        let mut o = VerifyOptions {
            concurrency: self.verify_concurrency,
            dry_run: self.verify_dry_run,
            ..VerifyOptions::default()
        };
        o.client.timeout = Duration::from_secs(self.verify_timeout);
        o.client.connect_timeout = o.client.timeout.min(Duration::from_secs(5));
        Ok(o)
    }
}

/// Drop companion findings, then verify when asked and apply `--only-verified`. Called by `pipeline::finish`.
pub fn apply(
    scanner: &Scanner,
    common: &CommonArgs,
    args: &VerifyArgs,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let verify_of: HashMap<&str, &str> = scanner
        .rules
        .rules
        .iter()
        .filter_map(|r| r.spec.verify.as_deref().map(|v| (r.spec.id.as_str(), v)))
        .collect();
    if args.wanted() {
        let verifier = Verifier::new(args.options()?)?;
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        verifier.verify_all(
            findings,
            &|id: &str| verify_of.get(id).map(|v| v.to_string()),
            &mut err,
        );
        if common.verbose {
            let _ = writeln!(
                err,
                "keysweep: verify: {} ({} request(s) sent)",
                keysweep_verify::summary(findings),
                verifier.sent.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }
    findings.retain(|f| {
        !verify_of
            .get(f.rule_id.as_str())
            .is_some_and(|v| is_companion(v))
    });
    if args.only_verified {
        let before = findings.len();
        let unverifiable = findings
            .iter()
            .filter(|f| match verify_of.get(f.rule_id.as_str()) {
                None => true,
                Some(name) => keysweep_verify::providers::route(name, &f.secret).is_err(),
            })
            .count();
        findings.retain(is_live);
        if !common.quiet && before > findings.len() {
            eprintln!(
                "keysweep: --only-verified left out {} finding(s), {unverifiable} of them of kinds that cannot be verified online",
                before - findings.len()
            );
        }
    }
    Ok(())
}

/// Whether the findings make the scan fail (exit 1) under `--fail-on`.
pub fn fails(args: &VerifyArgs, findings: &[Finding]) -> bool {
    match args.fail_on.unwrap_or_default() {
        FailOn::Any => !findings.is_empty(),
        FailOn::Live => findings.iter().any(is_live),
    }
}

/// `keysweep verify`.
#[derive(Args, Debug)]
pub struct VerifyCmd {
    /// Print every host keysweep can contact (`*.suffix` where the host comes from scanned text).
    #[arg(long)]
    pub egress_hosts: bool,
    /// List the verifiers and the request each sends.
    #[arg(long)]
    pub list: bool,
}

pub fn run(cmd: &VerifyCmd) -> Result<i32> {
    if !cmd.egress_hosts && !cmd.list {
        bail!("say --egress-hosts or --list");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if cmd.egress_hosts {
        for h in keysweep_verify::egress_hosts() {
            writeln!(out, "{h}")?;
        }
    }
    if cmd.list {
        for p in keysweep_verify::providers::all() {
            writeln!(out, "{:<22} {}", p.name(), p.describe())?;
        }
        for (alias, to) in keysweep_verify::providers::ALIASES {
            writeln!(out, "{alias:<22} alias of {to}")?;
        }
        for (name, why) in keysweep_verify::providers::NOT_VERIFIED {
            writeln!(out, "{name:<22} not verified: {why}")?;
        }
    }
    Ok(EXIT_CLEAN)
}
