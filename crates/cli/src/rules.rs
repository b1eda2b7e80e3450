//! `keysweep rules list | check`.
use crate::{EXIT_CLEAN, EXIT_FINDINGS};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand, ValueEnum};
use keysweep_rules::RuleSet;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// List the rules (built-in plus --rules folders).
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
        /// Add the rules in this folder (repeatable).
        #[arg(long, value_name = "DIR")]
        rules: Vec<PathBuf>,
        #[command(flatten)]
        filter: ListFilter,
    },
    /// Compile a rules folder with every engine and run each rule's examples and negative examples.
    Check {
        /// The folder of `*.toml` rule files.
        dir: PathBuf,
    },
}

/// Which rules `rules list` shows (all by default); values match case-insensitively.
#[derive(Args, Debug, Default, Clone)]
pub struct ListFilter {
    /// Only rules of this provider (e.g. `openai`; repeatable).
    #[arg(long, value_name = "NAME")]
    pub provider: Vec<String>,
    /// Only rules of this category (e.g. `ai`, `cloud`; repeatable).
    #[arg(long, value_name = "NAME")]
    pub category: Vec<String>,
}

impl ListFilter {
    fn admits(&self, provider: &str, category: &str) -> bool {
        let any = |wanted: &[String], v: &str| {
            wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(v))
        };
        any(&self.provider, provider) && any(&self.category, category)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Human,
    Json,
}

/// List the rules sorted by id (then file), filtered by provider and category.
pub fn rules_list(format: ListFormat, dirs: &[PathBuf], filter: &ListFilter) -> Result<i32> {
    let mut rules = RuleSet::embedded();
    for d in dirs {
        rules.add_dir(d)?;
    }
    for e in &rules.errors {
        eprintln!("keysweep: warning: rule refused: {e}");
    }
    let mut shown: Vec<_> = rules
        .rules
        .iter()
        .filter(|r| filter.admits(&r.spec.provider, &r.spec.category))
        .collect();
    shown.sort_by(|a, b| (&a.spec.id, &a.file).cmp(&(&b.spec.id, &b.file)));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Json => {
            let specs: Vec<serde_json::Value> = shown
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
            for r in &shown {
                writeln!(
                    out,
                    "{:<42} {:<18} {:<12} {:<7} {}",
                    r.spec.id, r.spec.provider, r.spec.category, r.spec.confidence, r.spec.name
                )?;
            }
            if shown.len() == rules.rules.len() {
                writeln!(out, "{} rules", shown.len())?;
            } else {
                writeln!(out, "{} of {} rules", shown.len(), rules.rules.len())?;
            }
        }
    }
    out.flush()?;
    Ok(EXIT_CLEAN)
}

pub fn rules_check(dir: &Path) -> Result<i32> {
    let mut rules = RuleSet::default();
    rules.add_dir(dir).map_err(|e| anyhow!("{e:#}"))?;
    // Written through `?`, not println!: a closed pipe (`| head`) ends the command quietly.
    let mut out = std::io::stdout().lock();
    for e in &rules.errors {
        writeln!(out, "REFUSED {e}")?;
    }
    let failures = keysweep_detect::selftest::run(&rules)?;
    for f in &failures {
        writeln!(out, "FAIL {f}")?;
    }
    let examples: usize = rules
        .rules
        .iter()
        .map(|r| r.spec.examples.len() + r.spec.negative_examples.len())
        .sum();
    writeln!(
        out,
        "{} rules loaded, {} refused; {examples} examples on {} engine(s); {} failure(s)",
        rules.rules.len(),
        rules.errors.len(),
        keysweep_detect::selftest::engines().len(),
        failures.len()
    )?;
    out.flush()?;
    Ok(if rules.errors.is_empty() && failures.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    })
}
