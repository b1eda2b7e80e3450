//! Baselines: the accepted, known findings of a repository (`.keysweep-baseline.json`), and the import of
//! other scanners' baselines (gitleaks JSON reports and `.gitleaksignore`, detect-secrets
//! `.secrets.baseline`). An entry is keyed by fingerprint and path only — no line numbers, no timestamps,
//! no secrets — and the file is written sorted, one entry per line, so branches that each accept a finding
//! merge without conflicts and moving code around never invalidates an entry. Owns the file format, path
//! normalisation, suppression (`apply`) and the create/update/import logic; the subcommands live in the
//! command-line crate. Knows nothing of how findings are made.
use anyhow::{anyhow, bail, Context, Result};
use keysweep_model::{Finding, Location};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

pub mod import;

/// The default file name, looked for at the repository root.
pub const FILE_NAME: &str = ".keysweep-baseline.json";
const FORMAT_VERSION: u32 = 1;

/// One accepted finding at one path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Path relative to the baseline's folder (file sources), or the path inside a commit/image.
    pub path: String,
    pub fingerprint: String,
    pub rule_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    keysweep_baseline: u32,
    entries: Vec<Entry>,
}

/// A loaded (or new) baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Folder paths are relative to (the baseline file's folder).
    pub root: PathBuf,
    pub entries: BTreeSet<Entry>,
    /// `(path, fingerprint)` of every entry, for lookups.
    keys: HashSet<(String, String)>,
}

impl Baseline {
    /// An empty baseline for a file at `file`.
    pub fn new(file: &Path) -> Baseline {
        Baseline {
            root: root_of(file),
            entries: BTreeSet::new(),
            keys: HashSet::new(),
        }
    }

    /// Read a baseline file. Errors name the file (and the line, for syntax errors).
    pub fn load(file: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading baseline {}", file.display()))?;
        Baseline::parse(&text, file, &file.display().to_string())
    }

    /// A baseline from its text, as if read from `file` (paths are relative to its folder); `name` names the
    /// text in errors (a file, or `<commit>:<path>` for one read from a base commit).
    pub fn parse(text: &str, file: &Path, name: &str) -> Result<Baseline> {
        let doc: Doc = serde_json::from_str(text)
            .map_err(|e| anyhow!("{name}: not a keysweep baseline (line {}: {e})", e.line()))?;
        if doc.keysweep_baseline != FORMAT_VERSION {
            bail!(
                "{name}: baseline format version {} is not supported (expected {FORMAT_VERSION})",
                doc.keysweep_baseline
            );
        }
        let mut b = Baseline::new(file);
        b.extend(doc.entries);
        Ok(b)
    }

    pub fn extend(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for e in entries {
            self.keys.insert((e.path.clone(), e.fingerprint.clone()));
            self.entries.insert(e);
        }
    }

    pub fn contains(&self, path: &str, fingerprint: &str) -> bool {
        self.keys
            .contains(&(path.to_string(), fingerprint.to_string()))
    }

    /// The file text: sorted, one entry per line, stable across runs.
    pub fn to_text(&self) -> String {
        let mut s = format!("{{\n  \"keysweep_baseline\": {FORMAT_VERSION},\n  \"entries\": [\n");
        let n = self.entries.len();
        for (i, e) in self.entries.iter().enumerate() {
            s.push_str("    ");
            // Serialising a struct of strings cannot fail.
            s.push_str(&serde_json::to_string(e).unwrap_or_default());
            s.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        s.push_str("  ]\n}\n");
        s
    }

    /// Write the file atomically (`fsutil::write_atomic`, mode 0644): a symlink at `file` — which a scanned
    /// repository may carry — is replaced, never followed, and no predictable temporary name is used.
    pub fn save(&self, file: &Path) -> Result<()> {
        let text = self.to_text();
        keysweep_model::fsutil::write_atomic(file, 0o644, |w| Ok(w.write_all(text.as_bytes())?))
    }

    /// The baseline path of a location: file paths relative to the baseline's folder (with `/`), other
    /// sources' paths (inside a commit, a layer) as they are.
    pub fn path_of(&self, loc: &Location) -> String {
        if loc.source == "file" {
            relative_to(&self.root, Path::new(&*loc.path))
        } else {
            loc.path.to_string()
        }
    }

    /// The entries for a list of findings (one per finding and path).
    pub fn entries_for(&self, findings: &[Finding]) -> BTreeSet<Entry> {
        findings
            .iter()
            .flat_map(|f| {
                f.locations.iter().map(|l| Entry {
                    path: self.path_of(l),
                    fingerprint: f.fingerprint.clone(),
                    rule_id: f.rule_id.clone(),
                })
            })
            .collect()
    }

    /// Remove every location the baseline lists; findings left without locations are dropped. Returns the
    /// number of locations suppressed. A known secret seen at a new path is still reported.
    pub fn apply(&self, findings: &mut Vec<Finding>) -> u64 {
        let mut suppressed = 0u64;
        for f in findings.iter_mut() {
            let before = f.locations.len();
            f.locations
                .retain(|l| !self.contains(&self.path_of(l), &f.fingerprint));
            suppressed += (before - f.locations.len()) as u64;
        }
        findings.retain(|f| !f.locations.is_empty());
        suppressed
    }
}

/// The folder a baseline file's paths are relative to, canonical when possible.
fn root_of(file: &Path) -> PathBuf {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&parent)
        .or_else(|_| std::path::absolute(&parent))
        .unwrap_or(parent)
}

/// `path` relative to `root` with `/` separators; `path` unchanged (minus `./`) when outside `root`.
pub fn relative_to(root: &Path, path: &Path) -> String {
    let abs = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    match abs.strip_prefix(root) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => {
            let s = path.to_string_lossy();
            s.strip_prefix("./").unwrap_or(&s).to_string()
        }
    }
}

/// Find `.keysweep-baseline.json` in `start` or its ancestors, up to the repository root.
pub fn discover(start: &Path) -> Option<PathBuf> {
    keysweep_model::paths::find_upwards(start, FILE_NAME)
}

/// Result of `update`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpdateStats {
    pub kept: usize,
    pub added: usize,
    pub pruned: usize,
}

/// Update `old` from a fresh scan's entries: entries whose secret is gone from a scanned path are pruned,
/// entries outside the scanned paths (`covered` false) are kept untouched, and (unless `prune_only`) new
/// findings are added.
pub fn update(
    old: &mut Baseline,
    fresh: BTreeSet<Entry>,
    covered: impl Fn(&str) -> bool,
    prune_only: bool,
) -> UpdateStats {
    let fresh_keys: HashSet<(&str, &str)> = fresh
        .iter()
        .map(|e| (e.path.as_str(), e.fingerprint.as_str()))
        .collect();
    let mut stats = UpdateStats::default();
    let mut next: BTreeSet<Entry> = BTreeSet::new();
    for e in &old.entries {
        if !covered(&e.path) || fresh_keys.contains(&(e.path.as_str(), e.fingerprint.as_str())) {
            stats.kept += 1;
            next.insert(e.clone());
        } else {
            stats.pruned += 1;
        }
    }
    if !prune_only {
        for e in fresh {
            if !old.contains(&e.path, &e.fingerprint) {
                stats.added += 1;
                next.insert(e);
            }
        }
    }
    old.entries.clear();
    old.keys.clear();
    old.extend(next);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, fp: &str) -> Entry {
        Entry {
            path: path.into(),
            fingerprint: fp.into(),
            rule_id: "r".into(),
        }
    }

    fn finding(fp: &str, paths: &[(&str, &str)]) -> Finding {
        Finding {
            rule_id: "r".into(),
            rule_name: "R".into(),
            provider: "P".into(),
            category: "cloud".into(),
            confidence: "high".into(),
            score: None,
            fingerprint: fp.into(),
            secret: "s".into(),
            redacted: false,
            entropy: 4.0,
            locations: paths
                .iter()
                .map(|(src, p)| Location {
                    source: src.to_string(),
                    path: (*p).into(),
                    line: 1,
                    column: 1,
                    byte_start: 0,
                    byte_end: 1,
                    ignored: false,
                    meta: Default::default(),
                })
                .collect(),
            verification: None,
            description: None,
            rotation_url: None,
            triage: None,
        }
    }

    #[test]
    fn text_is_sorted_one_entry_per_line_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(FILE_NAME);
        let mut b = Baseline::new(&file);
        b.extend([
            entry("z.txt", "02"),
            entry("a.txt", "ff"),
            entry("a.txt", "01"),
        ]);
        let text = b.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3 + 3 + 2, "{text}");
        assert!(lines[3].contains("\"a.txt\"") && lines[3].contains("\"01\""));
        assert!(lines[4].contains("\"ff\""));
        assert!(lines[5].contains("z.txt") && !lines[5].ends_with(','));
        assert!(!text.contains("\"line") && !text.contains("time") && !text.contains("date"));
        b.save(&file).expect("save");
        let back = Baseline::load(&file).expect("load");
        assert_eq!(back.entries, b.entries);
        assert_eq!(back.to_text(), text);
        std::fs::write(
            &file,
            "{\"keysweep_baseline\": 1,\n \"entries\": [ {\"path\": 3} ]}",
        )
        .expect("w");
        let e = Baseline::load(&file).expect_err("bad entry");
        assert!(
            e.to_string().contains(FILE_NAME) && e.to_string().contains("line 2"),
            "{e}"
        );
        std::fs::write(&file, "{\"keysweep_baseline\": 9, \"entries\": []}").expect("w");
        assert!(Baseline::load(&file).is_err());
    }

    #[test]
    fn apply_suppresses_listed_paths_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(FILE_NAME);
        std::fs::write(dir.path().join("a.txt"), "x").expect("w");
        std::fs::write(dir.path().join("b.txt"), "x").expect("w");
        let mut b = Baseline::new(&file);
        b.extend([entry("a.txt", "f1"), entry("src/c.py", "f2")]);
        let a = dir.path().join("a.txt").display().to_string();
        let bb = dir.path().join("b.txt").display().to_string();
        let mut fs = vec![
            finding("f1", &[("file", &a), ("file", &bb)]),
            finding("f2", &[("git", "src/c.py")]),
            finding("f3", &[("file", &a)]),
        ];
        assert_eq!(b.apply(&mut fs), 2);
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].fingerprint, "f1");
        assert_eq!(fs[0].locations.len(), 1);
        assert!(fs[0].locations[0].path.ends_with("b.txt"));
        assert_eq!(fs[1].fingerprint, "f3");
    }

    #[test]
    fn update_prunes_gone_secrets_in_scanned_paths_only() {
        let mut b = Baseline::new(Path::new("x/.keysweep-baseline.json"));
        b.extend([
            entry("a.txt", "gone"),
            entry("a.txt", "kept"),
            entry("other/z.txt", "unscanned"),
        ]);
        let fresh: BTreeSet<Entry> = [entry("a.txt", "kept"), entry("b.txt", "new")].into();
        let mut pruned_only = b.clone();
        let s = update(&mut b, fresh.clone(), |p| !p.starts_with("other/"), false);
        assert_eq!(
            s,
            UpdateStats {
                kept: 2,
                added: 1,
                pruned: 1
            }
        );
        let fps: Vec<&str> = b.entries.iter().map(|e| e.fingerprint.as_str()).collect();
        assert_eq!(fps, ["kept", "new", "unscanned"]);
        let s = update(&mut pruned_only, fresh, |_| true, true);
        assert_eq!((s.added, s.pruned, s.kept), (0, 2, 1));
    }
}
