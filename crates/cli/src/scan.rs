//! `keysweep scan`: files, folders and standard input, through the working-tree source; archives among them
//! are opened by `keysweep_sources::archive::ArchiveSink`.
use crate::config::Config;
use crate::CommonArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use keysweep_detect::Scanner;
use keysweep_model::{BlobSink, Diagnostics, Origin};
use keysweep_sources::archive::ArchiveSink;
use keysweep_sources::fs as fsrc;
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ScanCmd {
    /// Files or directories to scan; `-` for standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Also scan files ignored by .gitignore (their findings are marked `ignored`).
    #[arg(long)]
    pub no_ignore: bool,
    /// Follow symlinks inside scanned folders, only to targets inside the scanned folder, each target once
    /// (default: symlinks inside folders are not followed; paths named on the command line always are).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Skip paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn scan_cmd(cmd: ScanCmd) -> Result<i32> {
    let anchor = cmd
        .paths
        .iter()
        .find(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| ".".into());
    let config = crate::load_config(&cmd.common, &anchor)?;
    let scanner = crate::build_scanner(&cmd.common, &config)?;
    let input_failed = crate::progress::during(!cmd.common.quiet, "scan", &scanner.stats, || {
        scan_inputs(&cmd, &scanner, &config)
    })?;
    crate::pipeline::finish(&scanner, &cmd.common, &config, input_failed)
}

/// Scan the paths of a `scan`-style command (files, folders, `-`). Returns whether an input failed (an error,
/// or an unreadable file); a named path that does not exist is an error before anything is scanned.
pub fn scan_inputs(cmd: &ScanCmd, scanner: &Scanner, config: &Config) -> Result<bool> {
    // Exclusion globs from the config are relative to the config's folder (the repository root), wherever
    // the scan starts; the walker also matches them against paths relative to each root.
    let opts = fsrc::WalkOptions {
        no_ignore: cmd.no_ignore,
        max_file_size: cmd.common.max_file_size,
        exclude: config.excludes(&cmd.exclude)?,
        threads: cmd.common.threads,
        follow_symlinks: cmd.follow_symlinks,
    };
    // A path the command line names that is not there is a usage error, found before anything is scanned:
    // named (also under --quiet), exit 2.
    let missing: Vec<String> = cmd
        .paths
        .iter()
        .filter(|p| p.as_os_str() != "-" && std::fs::symlink_metadata(p).is_err())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!("{}: no such file or directory", missing.join(", "));
    }
    // Archives among the files (and on standard input) are opened, their members scanned.
    let sink = ArchiveSink::new(scanner, cmd.common.archive_limits());
    for p in &cmd.paths {
        if p.as_os_str() == "-" {
            // At most one byte over the limit is read: enough to know the input is too large.
            let max = cmd.common.max_file_size;
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .take(max.saturating_add(1))
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            if buf.len() as u64 > max {
                scanner.skipped_large_stream("-", max);
            } else {
                sink.scan_blob(&buf, &Origin::new("stdin", "-"));
            }
        } else {
            fsrc::scan_path(&sink, p, &opts);
        }
    }
    let stats = scanner.stats.snapshot();
    Ok(stats.errors > 0 || stats.unreadable > 0)
}
