//! Project configuration: `.keysweep.toml` at the repository root (found by walking up from the scanned path)
//! or `--config FILE`. Owns parsing and validation only; unknown keys are errors that name the line.
use anyhow::{anyhow, Context, Result};
use keysweep_sources::exclude::Excludes;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use keysweep_model::paths::find_upwards;

pub const FILE_NAME: &str = ".keysweep.toml";

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Globs (relative to the repository root) of paths never scanned.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Rule ids to disable.
    #[serde(default)]
    pub disable_rules: Vec<String>,
    /// Extra rule folders (relative to the config file).
    #[serde(default)]
    pub rules_dirs: Vec<PathBuf>,
    /// Fingerprints of accepted findings (never reported).
    #[serde(default)]
    pub allow_fingerprints: Vec<String>,
    /// Per-rule entropy floors overriding the rule's own.
    #[serde(default)]
    pub min_entropy: BTreeMap<String, f64>,
    /// Baseline file (relative to the config file); default: `.keysweep-baseline.json` at the repository root.
    #[serde(default)]
    pub baseline: Option<PathBuf>,
    /// Exit-code policy: `any` (default), `live` (only credentials verified live, as `--fail-on live`; implies
    /// verification) or `none`.
    #[serde(default)]
    pub fail_on: Option<String>,
    /// Where the file was read from (not a key).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// With `--config-from-base`: the baseline read from the base commit, used instead of any file.
    #[serde(skip)]
    pub base_baseline: Option<keysweep_store::baseline::Baseline>,
    /// With `--config-from-base`: rule files (name, text) read from the base commit's `rules_dirs`.
    #[serde(skip)]
    pub base_rules: Vec<(String, String)>,
}

impl Config {
    /// Parse a config file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Config::parse(&text, path, &path.display().to_string())
    }

    /// A config from its text, as if read from `path` (relative paths resolve against its folder); `name`
    /// names the text in errors (the file, or `<commit>:.keysweep.toml`).
    pub fn parse(text: &str, path: &Path, name: &str) -> Result<Config> {
        let mut c: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            anyhow!("{name}{line}: {}", e.message())
        })?;
        if let Some(f) = &c.fail_on {
            if !["any", "none", "live"].contains(&f.as_str()) {
                return Err(anyhow!(
                    "{name}: fail_on must be \"any\", \"live\" or \"none\""
                ));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        c.rules_dirs = c.rules_dirs.iter().map(|d| base.join(d)).collect();
        c.baseline = c.baseline.map(|b| base.join(b));
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// Find `.keysweep.toml` in `start` or its ancestors.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        find_upwards(start, FILE_NAME)
    }

    /// The exclusion globs compiled, plus `extra` globs from the command line: relative to the
    /// configuration's folder (the repository root), for every source.
    pub fn excludes(&self, extra: &[String]) -> Result<Excludes> {
        let root = self.path.as_deref().and_then(Path::parent);
        let root = root.map(|r| {
            if r.as_os_str().is_empty() {
                Path::new(".")
            } else {
                r
            }
        });
        Excludes::new(self.exclude.iter().chain(extra), root)
            .map_err(|e| anyhow!("exclude glob: {e}"))
    }
}
