//! What keysweep says about itself: the long `--version` (version, the git commit it was built from, the
//! engine `--engine auto` uses and the number of built-in rules), shell completions (`clap_complete`) and
//! the manual pages (`clap_mangen`), all generated from the one clap definition in `lib.rs`.
use crate::{Cli, EXIT_CLEAN};
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::io::Write;
use std::path::PathBuf;

/// `0.1.0 (commit 1a2b3c4d5e6f, engine Hyperscan 5.4.2, 231 built-in rules)`.
pub fn long_version() -> String {
    format!(
        "{} (commit {}, engine {}, {} built-in rules)",
        env!("CARGO_PKG_VERSION"),
        env!("KEYSWEEP_GIT_COMMIT"),
        keysweep_detect::engine::auto_description(),
        keysweep_rules::RuleSet::embedded().rules.len()
    )
}

#[derive(Args, Debug)]
pub struct CompletionsCmd {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManCmd {
    /// Write `keysweep.1` and one page per subcommand (`keysweep-scan.1`, …) into this folder instead of
    /// printing `keysweep.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions_cmd(cmd: CompletionsCmd) -> Result<i32> {
    let mut command = Cli::command();
    // Generated into memory (clap_complete panics on a failed write), then written with `?`: a closed pipe
    // ends the command quietly.
    let mut script = Vec::new();
    clap_complete::generate(cmd.shell, &mut command, "keysweep", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(EXIT_CLEAN)
}

/// One page's roff.
fn render(page: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    Ok(buf)
}

pub fn man_cmd(cmd: ManCmd) -> Result<i32> {
    let mut command = Cli::command();
    command.build();
    let Some(dir) = cmd.dir else {
        let page = render(command)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&page)?;
        out.flush()?;
        return Ok(EXIT_CLEAN);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("keysweep.1".to_string(), render(command.clone())?)];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        // `keysweep-scan(1)`: the page of `keysweep scan`, named as git names its pages.
        let name = format!("keysweep-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        pages.push((format!("{name}.1"), render(page)?));
    }
    for (file, page) in &pages {
        let path = dir.join(file);
        keysweep_model::fsutil::write_atomic(&path, 0o644, |w| Ok(w.write_all(page)?))?;
    }
    eprintln!(
        "keysweep: wrote {} manual page(s) to {}",
        pages.len(),
        dir.display()
    );
    Ok(EXIT_CLEAN)
}
