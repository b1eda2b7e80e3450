//! Rules are data: this module owns the rule file format (`detectors/*.toml`), loading (embedded + user
//! folders), validation (a rule needs examples and negative examples, a `secret` group, a pattern both engines
//! accept) and the compiled form used by the engines and checks, with the two position tests both use (a
//! context word near a window, a test runner's result line). It does not scan.
use anyhow::{anyhow, bail, Context, Result};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::OnceLock;

pub mod prefilter;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// A rule as written in a TOML file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub category: String,
    #[serde(default = "default_confidence")]
    pub confidence: String,
    pub pattern: String,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub context: Vec<String>,
    #[serde(default)]
    pub context_window: Option<usize>,
    #[serde(default)]
    pub reject: Vec<String>,
    #[serde(default)]
    pub verify: Option<String>,
    #[serde(default)]
    pub generic: bool,
    /// Rules this one replaces where both report the same secret (a GCP service-account key over the
    /// PKCS#8 key inside it; an Azure identifiable key over the unclassified Azure key shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub negative_examples: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The provider's page for revoking and rotating this kind of credential (shown in the HTML report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_url: Option<String>,
}

fn default_confidence() -> String {
    "medium".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

pub const CATEGORIES: &[&str] = &[
    "ai",
    "ai-infra",
    "cloud",
    "vcs",
    "registry",
    "ci",
    "payment",
    "messaging",
    "database",
    "private-key",
    "generic",
    "platform",
];
pub const CHECKSUMS: &[&str] = &[
    "github-crc32",
    "npm-crc32",
    "github-fine-grained",
    "pypi-macaroon",
    "jwt",
    "jwt-supabase-service",
    "private-key",
    "azure-cask",
    "age-bech32",
    "github-stateless",
    "jwt-minimax",
    "basic-auth",
    "grafana-legacy",
    "nats-nkey",
    "private-key-literals",
];
/// Longest match any rule may produce; longer bounded patterns are refused.
pub const MAX_MATCH_LEN: usize = 16 * 1024;
const DEFAULT_CONTEXT_WINDOW: usize = 160;

/// A validated rule. Its regexes and context automaton are compiled on first use: a scan that never sees a
/// candidate for a rule never pays for compiling it (start-up of the pre-commit hook). Serialisable without
/// them, for the cache of the built-in rule set (`keysweep_detect::builtin`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub spec: RuleSpec,
    /// Where the rule came from (file name), for messages.
    pub file: String,
    #[serde(skip)]
    regex: OnceLock<Regex>,
    /// Index of the `secret` capture group (validated to be the only group, so always 1).
    pub secret_group: usize,
    #[serde(skip)]
    reject: OnceLock<Vec<Regex>>,
    /// Upper bound of a match's length.
    pub max_len: usize,
    /// Lowercased literal prefixes every match starts with, if the pattern has a usable set; none extends
    /// another (`pass`, not also `pass\t`).
    pub prefixes: Option<Vec<Vec<u8>>>,
    /// Lowercased literals one of which every match contains somewhere (not only at its start): the best
    /// set `required_literals` finds anywhere in the pattern (`\.atlasv1\.`, `JQQJ9`, `:AA` after a run of
    /// digits), or `None` when the pattern has none. What the pre-commit hook's subset engine tests a
    /// haystack for before it compiles the rule.
    pub required: Option<Vec<Vec<u8>>>,
    /// Case-preserving literal prefixes (≥ 3 bytes) that mark the secret's format (`gsk_`, `AKIA`,
    /// `sk-ant-api03-`…); empty when the secret starts with no such marker. A catch-all rule does not report
    /// a value that carries another rule's marker: that value is judged by its own format's rule.
    pub secret_prefixes: Vec<Vec<u8>>,
    /// The Hyperscan prefilter expression.
    pub prefilter: prefilter::Prefilter,
    pub context_window: usize,
    /// Lowercased context words.
    pub context_lower: Vec<Vec<u8>>,
    /// Whether a match holds a newline at most as its last byte (`single_line`): a match that starts on a
    /// line ends on it or right after its newline.
    pub single_line: bool,
    #[serde(skip)]
    context_finder: OnceLock<Option<aho_corasick::AhoCorasick>>,
    #[serde(skip)]
    prefix_finder: OnceLock<Option<aho_corasick::AhoCorasick>>,
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    /// Catch-all rules (category `generic` or `generic = true`) yield to format-specific rules.
    pub fn is_catch_all(&self) -> bool {
        self.spec.generic || self.spec.category == "generic"
    }
    /// The catch-all keyword and shape rules (category `generic` with `generic = true`), whose candidates
    /// the detector's classifier judges; it rejects those on a test runner's result line
    /// (`test_result_line`).
    pub fn is_classified(&self) -> bool {
        self.spec.generic && self.spec.category == "generic"
    }
    /// The rule's exact regex, compiled on first use. The pattern was parsed and validated at load, so
    /// compiling it cannot fail short of a size limit; should it, the rule matches nothing.
    pub fn regex(&self) -> &Regex {
        self.regex
            .get_or_init(|| compile_regex(&self.spec.pattern).unwrap_or_else(|_| never_regex()))
    }
    /// The rule's `reject` regexes, compiled on first use (each was validated at load).
    pub fn reject(&self) -> &[Regex] {
        self.reject.get_or_init(|| {
            self.spec
                .reject
                .iter()
                .filter_map(|r| compile_regex(r).ok())
                .collect()
        })
    }
    /// Case-insensitive automaton over the literal prefixes (None without a usable set), built on first use:
    /// every match starts at one of its matches, so the engine's confirm step can search anchored there
    /// instead of running the rule's regex over every byte of a window.
    pub fn prefix_finder(&self) -> Option<&aho_corasick::AhoCorasick> {
        self.prefix_finder
            .get_or_init(|| {
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(self.prefixes.as_ref()?)
                    .ok()
            })
            .as_ref()
    }
    /// Case-insensitive automaton over the context words (None without context), built on first use.
    pub fn context_finder(&self) -> Option<&aho_corasick::AhoCorasick> {
        self.context_finder
            .get_or_init(|| {
                if self.spec.context.is_empty() {
                    return None;
                }
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&self.spec.context)
                    .ok()
            })
            .as_ref()
    }
}

/// A regex that matches nothing (an empty byte class).
fn never_regex() -> Regex {
    compile_regex(r"[^\x00-\xFF]").expect("a constant empty class compiles")
}

/// Regex syntax used everywhere: bytes, ASCII, no UTF-8 requirement.
pub fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Compile a regex with the project's syntax.
pub fn compile_regex(p: &str) -> Result<Regex> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(Regex::config().utf8_empty(false))
        .build(p)
        .map_err(|e| anyhow!("{e}"))
}

/// Maximum match length of a pattern, if bounded.
pub fn max_len(p: &str) -> Result<Option<usize>> {
    Ok(parse_hir(p)?.properties().maximum_len())
}

impl Rule {
    /// Validate and compile one rule spec (every regex compiled now, so any error surfaces at load).
    pub fn compile(spec: RuleSpec, file: &str) -> Result<Rule> {
        Rule::load(spec, file, true)
    }

    /// Validate one rule spec. The pattern is parsed once, which checks its syntax, its single `secret`
    /// group and its bounded length, and yields its literal prefixes. With `eager`, the regexes and the
    /// context automaton are compiled now too (user rule folders: every error at load); otherwise on first
    /// use (the built-in catalogue, whose every rule `tests/it/engines.rs` compiles and runs).
    pub fn load(spec: RuleSpec, file: &str, eager: bool) -> Result<Rule> {
        let id = spec.id.clone();
        (|| -> Result<Rule> {
            if spec.id.is_empty()
                || !spec
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            {
                bail!("id must be lowercase letters, digits, '.', '_' or '-'");
            }
            if !CATEGORIES.contains(&spec.category.as_str()) {
                bail!(
                    "unknown category {:?} (one of {})",
                    spec.category,
                    CATEGORIES.join(", ")
                );
            }
            if !["high", "medium", "low"].contains(&spec.confidence.as_str()) {
                bail!("confidence must be high, medium or low");
            }
            if let Some(c) = &spec.checksum {
                if !CHECKSUMS.contains(&c.as_str()) {
                    bail!("unknown checksum {c:?} (one of {})", CHECKSUMS.join(", "));
                }
            }
            if spec.examples.is_empty() || spec.negative_examples.is_empty() {
                bail!("a rule needs at least one example and one negative example");
            }
            let hir = parse_hir(&spec.pattern).context("pattern")?;
            if hir.properties().explicit_captures_len() != 1 {
                bail!(
                    "pattern must have exactly one capture group, `secret`; use (?:...) for others"
                );
            }
            if !has_group_named(&hir, "secret") {
                bail!("pattern has no named group `secret`");
            }
            let max = hir
                .properties()
                .maximum_len()
                .filter(|&m| m <= MAX_MATCH_LEN)
                .ok_or_else(|| {
                    anyhow!("pattern must have a bounded match length ≤ {MAX_MATCH_LEN} bytes")
                })?;
            for r in &spec.reject {
                parse_hir(r).with_context(|| format!("reject pattern {r:?}"))?;
            }
            let prefixes = literal_prefixes_of(&hir);
            let rule = Rule {
                required: required_literals_of(&hir, prefixes.clone()),
                prefixes,
                secret_prefixes: secret_group(&hir)
                    .map(secret_prefixes_of)
                    .unwrap_or_default(),
                prefilter: prefilter::prefilter(&hir),
                single_line: single_line(&hir),
                context_finder: OnceLock::new(),
                prefix_finder: OnceLock::new(),
                context_window: spec.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                context_lower: spec
                    .context
                    .iter()
                    .map(|c| c.to_ascii_lowercase().into_bytes())
                    .collect(),
                spec,
                file: file.to_string(),
                regex: OnceLock::new(),
                secret_group: 1,
                reject: OnceLock::new(),
                max_len: max,
            };
            if eager {
                let regex = compile_regex(&rule.spec.pattern).context("pattern")?;
                let group = regex
                    .group_info()
                    .to_index(regex_automata::PatternID::ZERO, "secret");
                if group != Some(rule.secret_group) {
                    bail!("pattern has no named group `secret`");
                }
                let _ = rule.regex.set(regex);
                let reject = rule
                    .spec
                    .reject
                    .iter()
                    .map(|r| compile_regex(r).with_context(|| format!("reject pattern {r:?}")))
                    .collect::<Result<Vec<_>>>()?;
                let _ = rule.reject.set(reject);
                if !rule.spec.context.is_empty() {
                    let finder = aho_corasick::AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .build(&rule.spec.context)
                        .map_err(|e| anyhow!("context words: {e}"))?;
                    let _ = rule.context_finder.set(Some(finder));
                }
            }
            Ok(rule)
        })()
        .with_context(|| format!("{file}: rule {id:?}"))
    }
}

/// Parse a pattern with the project's syntax.
fn parse_hir(p: &str) -> Result<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(p)
        .map_err(|e| anyhow!("{e}"))
}

/// The sub-expression of the `secret` group.
fn secret_group(hir: &regex_syntax::hir::Hir) -> Option<&regex_syntax::hir::Hir> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) if c.name.as_deref() == Some("secret") => Some(&c.sub),
        HirKind::Capture(c) => secret_group(&c.sub),
        HirKind::Repetition(r) => secret_group(&r.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().find_map(secret_group),
        _ => None,
    }
}

/// Case-preserving literal prefixes of a secret that mark its format on their own (see
/// `Rule::secret_prefixes`, `is_distinctive_marker`). A secret whose other alternatives start less
/// distinctively keeps the markers it has: AWS's `AKIA`, `ASIA`, `ABIA`, `ACCA` beside `A3T[A-Z0-9]`.
fn secret_prefixes_of(hir: &regex_syntax::hir::Hir) -> Vec<Vec<u8>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix).limit_total(64);
    let seq = ex.extract(hir);
    let Some(lits) = seq.literals() else {
        return Vec::new();
    };
    let mut out: Vec<Vec<u8>> = lits
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .filter(|l| is_distinctive_marker(l))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a secret prefix marks a format on its own: punctuated (`gsk_`, `sk-`, `dp.pt.`) and not a bare URL
/// scheme, or at least 4 alphanumerics of 3 distinct bytes (`AKIA`, `dapi`). `cio`, `AAAA` (also the start of
/// Twitter bearer tokens) or `https://` say too little.
fn is_distinctive_marker(m: &[u8]) -> bool {
    if m.len() < 3 || matches!(m, b"http://" | b"https://") {
        return false;
    }
    if m.iter().all(u8::is_ascii_alphanumeric) {
        let mut distinct = m.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        return m.len() >= 4 && distinct.len() >= 3;
    }
    true
}

/// Whether the pattern has a capture group with this name.
fn has_group_named(hir: &regex_syntax::hir::Hir, name: &str) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => c.name.as_deref() == Some(name) || has_group_named(&c.sub, name),
        HirKind::Repetition(r) => has_group_named(&r.sub, name),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().any(|h| has_group_named(h, name))
        }
        _ => false,
    }
}

/// Lowercased literal prefixes every match of `pattern` starts with, none an extension of another, or None
/// if there is no usable set (no prefix, more than 512, or one shorter than 2 bytes).
pub fn literal_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    literal_prefixes_of(&parse_hir(pattern).ok()?)
}

fn literal_prefixes_of(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix).limit_total(512);
    let seq = ex.extract(hir);
    let lits = seq.literals()?;
    let mut out: Vec<Vec<u8>> = lits
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() || out.len() > 512 || out.iter().any(|l| l.len() < 2) {
        return None;
    }
    Some(shortest_prefixes(out))
}

/// `sorted` (sorted, deduplicated) without the literals that extend another one of the set: every match
/// starting with `pass\t` starts with `pass` too, so `pass` alone marks the same starts. The extraction
/// expands what follows a keyword (`_pw`, `_pw"`, `_pw"]`, … for an optional quote and bracket), which
/// made some keyword rules' sets too large for the engine's anchored confirm (`engine::anchors_at_prefixes`).
/// In sorted order a literal's extensions follow it, so each literal is compared with the last one kept.
fn shortest_prefixes(sorted: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(sorted.len());
    for l in sorted {
        if out.last().is_none_or(|k| !l.starts_with(k)) {
            out.push(l);
        }
    }
    out
}

/// Lowercased literals one of which every match of `pattern` contains, or `None` (see `Rule::required`).
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = parse_hir(pattern).ok()?;
    required_literals_of(&hir, literal_prefixes_of(&hir))
}

/// How good a required set is for a presence test: its shortest literal (longer ones occur less often by
/// chance; beyond four bytes the difference no longer matters), then fewer literals.
fn required_score(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(4), std::cmp::Reverse(set.len()))
}

/// The best set of literals one of which every match of `hir` contains. Every position of every concatenation
/// on a path the match must take is tried: the literal prefixes of what follows that position (regex-syntax's
/// prefix extraction, which crosses small classes and case-insensitive letters) are a set one of which every
/// match contains. Capture groups and repetitions of at least one are entered; an alternation has a set when
/// each branch has one (their union). Sets holding an empty or 1-byte literal, or more than 64, are not
/// offered. `prefixes` (the pattern's literal prefixes) competes too. Work: the pattern's size times its
/// nesting depth, plus the suffixes of concatenations of at most 32 parts.
fn required_literals_of(
    hir: &regex_syntax::hir::Hir,
    prefixes: Option<Vec<Vec<u8>>>,
) -> Option<Vec<Vec<u8>>> {
    const MAX_CONCAT_SUFFIXES: usize = 32;
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    use regex_syntax::hir::{Hir, HirKind};
    fn starts(hir: &Hir) -> Option<Vec<Vec<u8>>> {
        let mut ex = Extractor::new();
        ex.kind(ExtractKind::Prefix).limit_total(64);
        let seq = ex.extract(hir);
        let mut out: Vec<Vec<u8>> = seq
            .literals()?
            .iter()
            .map(|l| l.as_bytes().to_ascii_lowercase())
            .collect();
        out.sort();
        out.dedup();
        if out.is_empty() || out.len() > 64 || out.iter().any(|l| l.len() < 2) {
            return None;
        }
        Some(out)
    }
    fn best(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if required_score(&b) > required_score(&a) {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        }
    }
    fn walk(hir: &Hir) -> Option<Vec<Vec<u8>>> {
        let mut found = starts(hir);
        match hir.kind() {
            HirKind::Capture(c) => found = best(found, walk(&c.sub)),
            HirKind::Repetition(r) if r.min >= 1 => found = best(found, walk(&r.sub)),
            HirKind::Concat(hs) => {
                for i in 0..hs.len() {
                    found = best(found, walk(&hs[i]));
                    // Suffixes of long concatenations are not tried (quadratic; patterns are short).
                    if i > 0 && i + 1 < hs.len() && hs.len() <= MAX_CONCAT_SUFFIXES {
                        found = best(found, starts(&Hir::concat(hs[i..].to_vec())));
                    }
                }
            }
            HirKind::Alternation(hs) => {
                let union: Option<Vec<Vec<u8>>> = hs.iter().try_fold(Vec::new(), |mut u, h| {
                    u.extend(walk(h)?);
                    Some(u)
                });
                if let Some(mut union) = union {
                    union.sort();
                    union.dedup();
                    if union.len() <= 64 {
                        found = best(found, Some(union));
                    }
                }
            }
            _ => {}
        }
        found
    }
    // Prefixes of four bytes or more are as good as any inner literal (presence tests cut literals to four
    // bytes): the walk, which triples the catalogue's parse time, is only for the rest.
    if prefixes
        .as_deref()
        .is_some_and(|p| required_score(p).0 >= 4)
    {
        return prefixes;
    }
    best(prefixes, walk(hir))
}

/// The loaded rule set plus messages about rules that were refused.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub errors: Vec<String>,
}

impl RuleSet {
    /// Parse a TOML rule file's text, compiling each rule; refused rules become errors.
    pub fn add_text(&mut self, file: &str, text: &str) {
        self.add(file, text, true)
    }

    /// Parse a TOML rule file's text; `eager`: compile every regex now (see `Rule::load`).
    fn add(&mut self, file: &str, text: &str, eager: bool) {
        let parsed: RuleFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                self.errors.push(format!("{file}: {e}"));
                return;
            }
        };
        for spec in parsed.rule {
            if self.rules.iter().any(|r| r.spec.id == spec.id) {
                self.errors
                    .push(format!("{file}: duplicate rule id {:?}", spec.id));
                continue;
            }
            match Rule::load(spec, file, eager) {
                Ok(r) => self.rules.push(r),
                Err(e) => self.errors.push(format!("{e:#}")),
            }
        }
    }

    /// The rule files embedded in the binary: (file name, text), sorted by name.
    pub fn embedded_sources() -> &'static [(&'static str, &'static str)] {
        embedded::EMBEDDED
    }

    /// A digest of the code that loads rule files (this crate's sources and `Cargo.lock`): a cache of loaded
    /// rule sets must be keyed by it as well as by the files, or a new build reads what an old one derived.
    pub fn code_digest() -> &'static str {
        embedded::CODE_DIGEST
    }

    /// The rules embedded in the binary.
    pub fn embedded() -> RuleSet {
        let mut s = RuleSet::default();
        for (name, text) in embedded::EMBEDDED {
            s.add(name, text, false);
        }
        s
    }

    /// Add every `*.toml` in a folder (sorted by name).
    pub fn add_dir(&mut self, dir: &Path) -> Result<()> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading rules folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("rules folder {} holds no .toml files", dir.display());
        }
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(t) => self.add_text(&f.display().to_string(), &t),
                Err(e) => self.errors.push(format!("{}: {e}", f.display())),
            }
        }
        Ok(())
    }

    /// Keep only rules for which `keep` is true.
    pub fn retain(&mut self, keep: impl Fn(&Rule) -> bool) {
        self.rules.retain(|r| keep(r));
    }

    /// A hash of every rule's whole definition (pattern, checks, thresholds, context, examples), for what is
    /// keyed by the rule set: reports' `rules_version`, a sweep's record of blobs already scanned.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for r in &self.rules {
            // The spec's fields in declaration order (strings, numbers, lists: deterministic text).
            h.update(format!("{:?}", r.spec).as_bytes());
            h.update([0]);
        }
        h.finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Whether a pattern's matches hold a newline at most as their last byte: no part of it but a last item of
/// at most one byte (`(?:[^\x21-\x7e]|$)` after a value) can match `\n`.
fn single_line(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => single_line(&c.sub),
        HirKind::Concat(items) => match items.split_last() {
            Some((last, init)) => {
                !init.iter().any(matches_newline)
                    && (!matches_newline(last) || last.properties().maximum_len() == Some(1))
            }
            None => true,
        },
        _ => !matches_newline(hir),
    }
}

/// Whether some match of `hir` holds a `\n` byte.
fn matches_newline(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(l) => l.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| (r.start()..=r.end()).contains(&b'\n')),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| (r.start()..=r.end()).contains(&'\n')),
        HirKind::Repetition(r) => r.max != Some(0) && matches_newline(&r.sub),
        HirKind::Capture(c) => matches_newline(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(matches_newline),
    }
}

/// The outcomes that open a test runner's result line (DejaGnu, automake, Go's `--- PASS: TestName`, jtreg's
/// `Passed: com/sun/jdi/X.java`).
const TEST_OUTCOMES: [&[u8]; 9] = [
    b"PASS: ",
    b"Passed: ",
    b"FAIL: ",
    b"XPASS: ",
    b"XFAIL: ",
    b"KPASS: ",
    b"SKIP: ",
    b"UNSUPPORTED: ",
    b"UNRESOLVED: ",
];

/// Whether the line holding `at` is a test runner's result line (`PASS: name`, `XFAIL: name`, Go's
/// `--- PASS: TestName`, jtreg's `Passed: path/Test.java`): the word `PASS` there is a test outcome, not a
/// password key. Test logs (DejaGnu, automake, Go, jtreg) hold thousands of them. The classifier rejects a classified rule's match starting
/// on one; the engine skips such starts (`keysweep_detect::engine::confirm`).
///
/// Only the `RESULT_LINE_REACH` bytes before `at` are read: a position further from its line's start is not
/// on a result line (a test name is not kilobytes long), so a long line with a match every few bytes costs
/// linear work, not a look-back to its start per match (a 4 MB line of `pwd="…"` took 13 s).
pub fn test_result_line(hay: &[u8], at: usize) -> bool {
    let at = at.min(hay.len());
    // The line's start `s` may lie at `at - RESULT_LINE_REACH`: its newline one byte before that.
    let lo = at.saturating_sub(RESULT_LINE_REACH + 1);
    match memchr::memrchr(b'\n', &hay[lo..at]) {
        Some(i) => line_is_test_result(&hay[lo + i + 1..]),
        None => at <= RESULT_LINE_REACH && line_is_test_result(hay),
    }
}

/// How far from its line's start a position may lie and still be on a test result line
/// (`test_result_line`; the engine's skip uses the same reach, so the two agree).
pub const RESULT_LINE_REACH: usize = 4096;

/// Whether the text from a line's start (`line`, which may run on past the line) opens a test result line:
/// after spaces, tabs and dashes, an outcome of `TEST_OUTCOMES`.
pub fn line_is_test_result(line: &[u8]) -> bool {
    let line = line
        .iter()
        .position(|b| !b" \t-".contains(b))
        .map_or(&line[line.len()..], |i| &line[i..]);
    TEST_OUTCOMES.iter().any(|o| line.starts_with(o))
}

/// Whether one of the rule's context words lies within its context window around `start..end`. The engine
/// uses it on whole candidate windows to skip regex work that the context check would throw away.
pub fn context_near(rule: &Rule, hay: &[u8], start: usize, end: usize) -> bool {
    let from = start.saturating_sub(rule.context_window);
    let to = end.saturating_add(rule.context_window).min(hay.len());
    let window = &hay[from.min(to)..to];
    match rule.context_finder() {
        Some(f) => f.is_match(window),
        None => rule
            .context_lower
            .iter()
            .any(|w| contains_ignore_case(window, w)),
    }
}

/// ASCII case-insensitive substring search; `needle` must be lowercase.
pub fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.len() < needle.len() {
        return false;
    }
    let first = needle[0];
    let upper = first.to_ascii_uppercase();
    (0..=hay.len() - needle.len()).any(|i| {
        (hay[i] == first || hay[i] == upper)
            && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_keeps_the_format_markers_its_less_distinctive_alternatives_lack() {
        let rs = RuleSet::embedded();
        let aws = rs
            .rules
            .iter()
            .find(|r| r.id() == "aws.access-key-id")
            .expect("aws.access-key-id");
        for m in ["AKIA", "ASIA"] {
            assert!(aws.secret_prefixes.contains(&m.as_bytes().to_vec()), "{m}");
        }
        assert!(aws.secret_prefixes.iter().all(|m| m.len() >= 4));
    }

    use super::*;

    fn req(pattern: &str) -> Option<Vec<String>> {
        required_literals(pattern).map(|ls| {
            ls.iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect()
        })
    }

    #[test]
    fn a_result_line_reaches_a_bounded_distance_from_its_start() {
        let mut line = b"noise\nPASS: ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 2 * RESULT_LINE_REACH));
        assert!(test_result_line(&line, 6));
        assert!(test_result_line(&line, 6 + RESULT_LINE_REACH));
        // Further in, the line's start is not looked for: not a result line.
        assert!(!test_result_line(&line, 7 + RESULT_LINE_REACH));
        assert!(!test_result_line(&line, line.len()));
        // A first line is measured from the haystack's start.
        assert!(test_result_line(&line[6..], RESULT_LINE_REACH));
        assert!(!test_result_line(&line[6..], RESULT_LINE_REACH + 1));
    }

    #[test]
    fn literal_prefixes_keep_only_the_shortest_of_each_family() {
        // An optional quote and bracket after a keyword expand into `_pw`, `_pw"`, `_pw"]`, …: `_pw` marks
        // every one of those starts.
        let set = |ls: &[&str]| ls.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            shortest_prefixes(set(&[
                "\"pw\"", "\"pw\"]", "_pw", "_pw\"", "_pw\"]", "_px", "pass", "pass\t"
            ])),
            set(&["\"pw\"", "_pw", "_px", "pass"])
        );
        // The catalogue's password rule is confirmed anchored at a handful of prefixes (it had 77).
        let rs = RuleSet::embedded();
        let pw = rs
            .rules
            .iter()
            .find(|r| r.id() == "generic.password-assignment")
            .expect("generic.password-assignment");
        assert_eq!(
            pw.prefixes.as_ref().map(Vec::len),
            Some(7),
            "{:?}",
            pw.prefixes
        );
    }

    #[test]
    fn required_literals_are_found_inside_a_match_not_only_at_its_start() {
        // An inner literal after a run of key characters (Azure's identifiable keys).
        assert_eq!(
            req(r"(?:^|[^A-Za-z0-9+/])(?P<secret>[A-Za-z0-9+/]{76}\+ASt[A-Za-z0-9+/]{5}[AQgw]==)"),
            Some(vec!["+ast".into()])
        );
        // A small class before the literal is crossed; case-insensitive letters are lowercased.
        assert_eq!(
            req(r"\b(?P<secret>[a-z]{3}[0-9]Q~[a-z]{31})\b"),
            Some((0..10).map(|d| format!("{d}q~")).collect())
        );
        assert_eq!(
            req(r"(?:^|\W)(?i:exa)[_-]?key\s*=\s*(?P<secret>[0-9a-f]{32})"),
            Some(vec!["exa-key".into(), "exa_key".into(), "exakey".into()])
        );
        // An alternation offers the union of its branches; an optional part offers nothing.
        assert_eq!(
            req(r"\b(?P<secret>[a-z]{8}(?:\.atlas|_vault)[0-9]{8}(?:XYZW)?)"),
            Some(vec![".atlas".into(), "_vault".into()])
        );
        // A longer inner literal beats short prefixes (Telegram: digits, then `:AA`).
        assert_eq!(
            req(r"(?:\b|bot)(?P<secret>[0-9]{8,10}:AA[0-9A-Za-z_-]{33})"),
            Some(vec![":aa".into()])
        );
        // Nothing every match must contain.
        assert_eq!(req(r"\b(?P<secret>[0-9a-f]{40})\b"), None);
        assert_eq!(req(r"\b(?P<secret>(?:ab|[0-9a-z]{40}))\b"), None);
    }

    #[test]
    fn every_builtin_rules_examples_contain_one_of_its_required_literals() {
        let rs = RuleSet::embedded();
        let mut with_inner = 0;
        for r in &rs.rules {
            let Some(req) = &r.required else { continue };
            with_inner += usize::from(r.prefixes.is_none());
            for ex in &r.spec.examples {
                let mut input = regex_automata::Input::new(ex.as_bytes());
                let mut found = 0;
                while let Some(m) = r.regex().search(&input) {
                    let text = ex.as_bytes()[m.start()..m.end()].to_ascii_lowercase();
                    assert!(
                        req.iter()
                            .any(|l| text.windows(l.len()).any(|w| w == &l[..])),
                        "{}: match {:?} holds none of {req:?}",
                        r.spec.id,
                        String::from_utf8_lossy(&text)
                    );
                    found += 1;
                    if m.end() >= ex.len() {
                        break;
                    }
                    input.set_start(m.end().max(m.start() + 1));
                }
                assert!(found > 0, "{}: example {ex:?} does not match", r.spec.id);
            }
        }
        assert!(
            with_inner >= 20,
            "rules with no prefix but an inner literal: {with_inner}"
        );
    }
}
