//! Accuracy on the generated, labelled corpus: every planted secret is found by exactly the expected rule,
//! in the expected file, and nothing else (no decoy) is reported, on every engine.
#[path = "../../corpus/gen.rs"]
mod gen;

use keysweep_detect::engine::EngineKind;
use keysweep_detect::selftest::engines;
use keysweep_detect::Scanner;
use keysweep_rules::RuleSet;
use keysweep_sources::fs::{scan_path, WalkOptions};
use std::collections::BTreeSet;

fn scan(dir: &std::path::Path, engine: EngineKind) -> BTreeSet<(String, String, String)> {
    let rules = RuleSet::embedded();
    assert!(
        rules.errors.is_empty(),
        "embedded rules refused: {:#?}",
        rules.errors
    );
    let scanner = Scanner::new(rules, engine).expect("scanner");
    scan_path(&scanner, dir, &WalkOptions::default());
    let (findings, _) = scanner.take_results();
    let mut out = BTreeSet::new();
    let companions = companion_rules(&scanner.rules);
    for f in findings
        .into_iter()
        .filter(|f| !companions.contains(&f.rule_id))
    {
        for l in &f.locations {
            let rel = std::path::Path::new(&*l.path)
                .strip_prefix(dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| l.path.to_string());
            out.insert((f.rule_id.clone(), f.secret.clone(), rel));
        }
    }
    out
}

#[test]
fn corpus_exact_findings_on_every_engine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Another seed plants other values: `KEYSWEEP_CORPUS_SEED=7 cargo test --test corpus`.
    let seed = std::env::var("KEYSWEEP_CORPUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    let planted = gen::generate(tmp.path(), seed).expect("generate corpus");
    // Every rule the CLI reports has its provider in the corpus, and every rule's near-misses are decoys.
    let rules = RuleSet::embedded();
    let planted_rules: BTreeSet<&str> = planted.iter().map(|p| p.rule.as_str()).collect();
    let uncovered: Vec<&str> = rules
        .rules
        .iter()
        .filter(|r| {
            !r.spec
                .verify
                .as_deref()
                .is_some_and(keysweep_verify::is_companion)
        })
        .map(|r| r.id())
        .filter(|id| !planted_rules.contains(id))
        .collect();
    assert!(
        uncovered.is_empty(),
        "rules with nothing planted: {uncovered:?}"
    );
    let negatives: usize = rules
        .rules
        .iter()
        .map(|r| r.spec.negative_examples.len())
        .sum();
    let decoy_files = walkdir_count(&tmp.path().join("decoys"));
    assert_eq!(
        decoy_files, negatives,
        "one decoy file per negative example"
    );
    let expected: BTreeSet<(String, String, String)> = planted
        .iter()
        .map(|p| (p.rule.clone(), p.secret.clone(), p.path.clone()))
        .collect();
    for engine in engines() {
        let got = scan(tmp.path(), engine);
        let missed: Vec<_> = expected.difference(&got).collect();
        let extra: Vec<_> = got.difference(&expected).collect();
        assert!(
            missed.is_empty() && extra.is_empty(),
            "{engine:?}: missed {} of {} planted: {missed:#?}\nreported but not planted (decoys or wrong rule): {extra:#?}",
            missed.len(),
            expected.len()
        );
    }
}

fn walkdir_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walkdir_count(&p)
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Precision, recall and F1 of one list of generic-secret cases: a finding is a true positive when its secret
/// and file are labelled (whatever the rule), a false positive otherwise; a label nobody reports is a miss.
fn generic_scores(cases: &[gen::generic::Case], seed: u64, name: &str) -> (usize, usize, usize) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let planted = gen::generate_generic(tmp.path(), seed, cases).expect("generate");
    // `KEYSWEEP_GENERIC_DUMP=DIR` also writes the list and its labels to DIR, for scoring a keysweep binary
    // (an older one, another scanner) on the same files: `benches/generic_pr.py`.
    if let Some(dir) = std::env::var_os("KEYSWEEP_GENERIC_DUMP") {
        let out = std::path::Path::new(&dir).join(format!("{name}-{seed}"));
        let planted2 = gen::generate_generic(&out, seed, cases).expect("dump");
        let labels: String = planted2
            .iter()
            // The secret as a JSON string: a key body spans lines.
            .map(|p| format!("{}\t{}\t{}\n", p.rule, p.path, serde_json::json!(p.secret)))
            .collect();
        std::fs::write(out.with_extension("tsv"), labels).expect("labels");
    }
    let expected: BTreeSet<(String, String)> = planted
        .iter()
        .map(|p| (p.secret.clone(), p.path.clone()))
        .collect();
    let got: BTreeSet<(String, String)> = scan(tmp.path(), EngineKind::Portable)
        .into_iter()
        .map(|(_, s, p)| (s, p))
        .collect();
    let tp = got.intersection(&expected).count();
    let fp = got.len() - tp;
    let fn_ = expected.len() - tp;
    for (s, p) in got.difference(&expected) {
        eprintln!("  extra: {p}: {}…", s.chars().take(6).collect::<String>());
    }
    for (_, p) in expected.difference(&got) {
        eprintln!("  missed: {p}");
    }
    (tp, fp, fn_)
}

/// The generic-secrets lists scored on their own, over several seeds: `DEV` (also held exactly by the
/// corpus test), `GAPS` (known misses: recall only), `HOLDOUT` (never tuned on), `HOLDOUT2`, `HOLDOUT3`,
/// `HOLDOUT4` and `HOLDOUT5` (each measured once before any fix, then fixed: held at their counts). Run with `--nocapture`
/// to read the table; the floors below are what the classifier must keep.
#[test]
fn generic_secrets_precision_recall() {
    use gen::generic::{DEV, GAPS, HOLDOUT, HOLDOUT2, HOLDOUT3, HOLDOUT4, HOLDOUT5};
    let mut table = Vec::new();
    for (name, cases) in [
        ("dev", DEV),
        ("gaps", GAPS),
        ("holdout", HOLDOUT),
        ("holdout2", HOLDOUT2),
        ("holdout3", HOLDOUT3),
        ("holdout4", HOLDOUT4),
        ("holdout5", HOLDOUT5),
    ] {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for seed in [42, 7, 1234] {
            eprintln!("{name} seed {seed}:");
            let (a, b, c) = generic_scores(cases, seed, name);
            (tp, fp, fn_) = (tp + a, fp + b, fn_ + c);
        }
        let p = tp as f64 / (tp + fp).max(1) as f64;
        let r = tp as f64 / (tp + fn_).max(1) as f64;
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        eprintln!("{name}: tp {tp} fp {fp} fn {fn_}  P {p:.3} R {r:.3} F1 {f1:.3}");
        table.push((name, tp, fp, fn_));
    }
    // Every labelled value of the dev and holdout lists is found and nothing else is; the gaps list holds the
    // shapes no rule covers yet: none of them may turn into a false positive. `HOLDOUT2` (written before
    // keysweep was run on it, first measured at tp 257 fp 3 fn 40 — the 3 a labelling error, a second secret in
    // one case —, then its misses' mechanisms fixed: no longer held out) is held at its counts exactly. Of its
    // last 10 misses, a call whose first argument names the credential (`define('DB_PASSWORD', '…')`,
    // `setRequestProperty("X-Api-Key", "…")`) and a password with a dot taken for an attribute path
    // (`XJ58.VXuOohrq5`) are found since `HOLDOUT3`'s fixes; `pw = …` first on an INI line is still missed (a
    // `\npw` alternative cost the tree scan 4%). `HOLDOUT3` (lines shaped like public repositories', written before
    // keysweep was run on it) was first measured at tp 223 fp 0 fn 59 (R 0.791), then fixed: no longer held
    // out either. Its 12 misses: a Docker `config.json` `auth` (the decoder reads the base64 as `user:password`,
    // which no rule reports), a WordPress `wp_options` row and an `INSERT` whose column list names the key (the
    // name is in another tuple), and a `.pgpass` line (`host:port:db:user:password`, no keyword at all); since
    // `HOLDOUT4`'s fixes the Docker `auth` (labelled by the password it encodes), the `wp_options` row and the
    // `.pgpass` line are found: 279/0/3, the `INSERT` whose column list names the key still missed. `HOLDOUT4`
    // (languages and files the first three cover thinly, written before keysweep was run on it) was first
    // measured at tp 249 fp 9 fn 138 (P 0.965 R 0.643 F1 0.772), then fixed: no longer held out. Its 27 misses
    // (9 lines × 3 seeds): an `INSERT` column list naming the credential (2), a notebook `execute_result`
    // printing a token as a quoted repr, a Markdown table row, a UUID under `SNYK_TOKEN`, a Facebook
    // `client_token` (32 hex, under a name AWS uses for idempotency tokens), `net use … /user:`, `GITHUB_PAT`,
    // and Go's `jwtSecret = []byte("…")` (led by its keyword, that shape cost several percent of a tree scan).
    // Since `HOLDOUT5`'s fixes `net use` and `GITHUB_PAT` are found: 366/0/21. `HOLDOUT5` (the long tail of
    // public repositories: documentation, test helpers, long-tail keywords, next-line values, infrastructure
    // code, less common languages; written before keysweep was run on it) was first measured at tp 299 fp 6
    // fn 100 (P 0.980 R 0.749 F1 0.849), then fixed: no longer held out. Its 76 misses (25 lines × 3 seeds, and
    // one seed's `machineKey` whose random hex reads as a digest): values on the line after their key (6),
    // `b"…"`, `[]byte("…")`, R's `<-`, Clojure's `:password "…"`, Markdown and HTML table rows (3), Cypress
    // `get('#password').type('…')` (the rules written for these, each led by its keyword, cost 27% of the 1 GB
    // tree scan together, and were dropped), prose without quotes (`password is …`, an RST ``literal``),
    // `Token: **…**` (emphasis kept in the value: rejected), a pytest fixture returning a token,
    // `KEY_SENDGRID=`, `erlangCookie`, space-separated `client_secret …` and msmtp `password …`, a Chef
    // attribute path with a key after the keyword, two `INSERT`s whose column list names the credential, and
    // `pw = …` first on an INI line.
    for (name, tp, fp, fn_) in table {
        match name {
            "holdout2" => assert_eq!(
                (tp, fp, fn_),
                (294, 0, 3),
                "holdout2: (found, false, missed)"
            ),
            "holdout3" => assert_eq!(
                (tp, fp, fn_),
                (279, 0, 3),
                "holdout3: (found, false, missed)"
            ),
            "holdout4" => assert_eq!(
                (tp, fp, fn_),
                (366, 0, 21),
                "holdout4: (found, false, missed)"
            ),
            "holdout5" => assert_eq!(
                (tp, fp, fn_),
                (323, 0, 76),
                "holdout5: (found, false, missed)"
            ),
            _ => {
                assert_eq!(fp, 0, "{name}: {fp} false positive(s)");
                if name != "gaps" {
                    assert_eq!(fn_, 0, "{name}: {fn_} missed of {}", tp + fn_);
                }
            }
        }
    }
}

/// The pre-commit hook's engine (`engine::subset`, compiling only the rules whose literals occur in what it
/// scans) finds exactly what the whole Hyperscan engine finds, through the staged path: the corpus is staged
/// in a fresh repository and scanned by `scan_staged` (1) with `Scanner::new_for_small_input`, as `keysweep
/// staged` does, and (2) with the whole database's candidates kept only for the rules the subset matcher says
/// each haystack needs (`SubsetMatcher::needed`, the choice every subset database is built from, here made
/// afresh for every decoded segment rather than grown across files). A rule the presence test leaves out
/// although it matches would be missing from (2). Besides the corpus, every rule's examples are staged, one
/// file per rule.
#[cfg(feature = "hyperscan")]
#[test]
fn staged_subset_engine_finds_what_the_whole_engine_finds() {
    use keysweep_detect::engine::{self, subset::SubsetMatcher, Candidate, Matcher};
    use keysweep_sources::exclude::Excludes;
    use keysweep_sources::git::staged::scan_staged;

    /// The whole database, its candidates kept for the rules `presence` says the haystack needs.
    struct Needed {
        whole: Box<dyn Matcher>,
        presence: SubsetMatcher,
    }
    impl Matcher for Needed {
        fn name(&self) -> &'static str {
            "needed"
        }
        fn candidates(&self, hay: &[u8], out: &mut Vec<Candidate>) -> anyhow::Result<()> {
            let need = self.presence.needed(hay);
            let mut all = Vec::new();
            self.whole.candidates(hay, &mut all)?;
            out.extend(all.into_iter().filter(|c| need[c.rule as usize]));
            Ok(())
        }
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let planted = gen::generate(tmp.path(), 42).expect("generate corpus");
    // Every rule's own examples, one file per rule (the corpus plants only some formats; the subset engine
    // leaves a rule out on its inner literals too, `Rule::required`).
    let examples = tmp.path().join("rule_examples");
    std::fs::create_dir_all(&examples).expect("mkdir");
    for r in &RuleSet::embedded().rules {
        let text: String = r.spec.examples.iter().map(|e| format!("{e}\n\n")).collect();
        std::fs::write(examples.join(format!("{}.txt", r.spec.id)), text).expect("write");
    }
    crate::common::init_repo(tmp.path());
    crate::common::git(tmp.path(), &["add", "-A"]);
    let repo = keysweep_sources::git::open(tmp.path()).expect("open");
    let run = |scanner: Scanner| {
        let stats = scan_staged(&scanner, &repo, u64::MAX, &Excludes::default()).expect("staged");
        assert!(stats.files_scanned > 100, "{stats:?}");
        let (findings, messages) = scanner.take_results();
        assert!(messages.is_empty(), "{messages:?}");
        serde_json::to_value(&findings).expect("json")
    };
    let rules = RuleSet::embedded();
    let whole = run(Scanner::new(rules.clone(), EngineKind::Hyperscan).expect("scanner"));
    assert!(
        whole.as_array().map_or(0, Vec::len) >= planted.len() / 2,
        "{whole:#}"
    );
    let small =
        run(Scanner::new_for_small_input(rules.clone(), EngineKind::Auto).expect("scanner"));
    assert_eq!(
        small, whole,
        "the subset engine's findings differ from the whole engine's"
    );
    let needed = Needed {
        whole: engine::build(EngineKind::Hyperscan, &rules.rules)
            .expect("engine")
            .0,
        presence: SubsetMatcher::new(&rules.rules).expect("subset"),
    };
    let filtered = run(Scanner::with_matcher(rules, (Box::new(needed), Vec::new())));
    assert_eq!(filtered, whole, "a rule the presence test left out matches");
}

/// Companion rules (`verify = "name:role"`) capture values verifiers pair with a secret; the CLI never
/// reports them.
fn companion_rules(rules: &RuleSet) -> BTreeSet<String> {
    rules
        .rules
        .iter()
        .filter(|r| {
            r.spec
                .verify
                .as_deref()
                .is_some_and(keysweep_verify::is_companion)
        })
        .map(|r| r.spec.id.clone())
        .collect()
}

/// One secret span, one finding: every rule's examples (one file each) scanned with the whole catalogue, no
/// secret span of a file is reported by two rules. A Twilio auth token next to its account SID is the pair
/// rule's alone (`twilio.auth-token-with-sid` supersedes the `twilio` keyword rule `twilio.auth-token`), and
/// before the SID likewise.
#[test]
fn one_finding_per_secret_span() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = RuleSet::embedded();
    let companions = companion_rules(&rules);
    for r in &rules.rules {
        for (i, e) in r.spec.examples.iter().enumerate() {
            let dir = tmp.path().join(&r.spec.id);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(format!("{i}.txt")), e).expect("write");
        }
    }
    // A Twilio `.env`, where the provider's name lets the keyword rule `twilio.auth-token` see the token too.
    let hex = |seed| crate::common::tokens::chars(seed, 32, b"0123456789abcdef");
    let (sid, token) = (format!("AC{}", hex(21)), hex(22));
    let env = tmp.path().join("twilio");
    std::fs::create_dir_all(&env).expect("mkdir");
    std::fs::write(
        env.join("sid-first.env"),
        format!("TWILIO_ACCOUNT_SID={sid}\nTWILIO_AUTH_TOKEN={token}\n"),
    )
    .expect("write");
    std::fs::write(
        env.join("token-first.env"),
        format!("TWILIO_AUTH_TOKEN={token}\nTWILIO_ACCOUNT_SID={sid}\n"),
    )
    .expect("write");
    let scanner = Scanner::new(rules.clone(), EngineKind::Portable).expect("scanner");
    scan_path(&scanner, tmp.path(), &WalkOptions::default());
    let (findings, _) = scanner.take_results();
    let mut by_span: std::collections::BTreeMap<(String, u64, u64), BTreeSet<String>> =
        Default::default();
    for f in findings
        .iter()
        .filter(|f| !companions.contains(f.rule_id.as_str()))
    {
        for l in &f.locations {
            by_span
                .entry((l.path.to_string(), l.byte_start, l.byte_end))
                .or_default()
                .insert(f.rule_id.clone());
        }
    }
    let twice: Vec<_> = by_span.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "spans reported by several rules: {twice:#?}"
    );
    // The Twilio pair is found, once, by the pair rule, the SID before the token or after it.
    for (file, rule) in [
        ("sid-first.env", "twilio.auth-token-with-sid"),
        ("token-first.env", "twilio.auth-token-before-sid"),
    ] {
        let found: Vec<_> = by_span
            .iter()
            .filter(|((p, _, _), _)| p.ends_with(file))
            .collect();
        assert_eq!(found.len(), 1, "{file}: {found:#?}");
        assert!(found[0].1.iter().eq([rule]), "{file}: {found:#?}");
    }
}
