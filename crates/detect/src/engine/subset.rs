//! Subset matcher, for small inputs where compiling (or loading) the whole Hyperscan database costs more than
//! scanning (the pre-commit hook: `keysweep staged`). Each rule has presence literals that every match of it
//! must contain: the literals its pattern requires somewhere in a match (`Rule::required`: a prefix, or an
//! inner literal such as `JQQJ9` or `.atlasv1.` after a run of key characters), or, for rules found through
//! provider context, its context words (the confirm step and the context check reject a match with no context
//! word near it). One case-insensitive
//! Aho-Corasick pass over a haystack tells which rules could match there; Hyperscan is compiled over those
//! rules only (plus the rules with no presence literal, always in), and grows by recompiling over the union
//! when a later haystack needs more. A rule left out is one that cannot match the haystack, and the database
//! reports for a rule exactly what the whole database would (a rule's windows depend on its own expressions
//! only), so findings are those of `HyperscanMatcher` over every rule. After `MAX_REBUILDS` recompiles, or
//! once half the rules are needed, the whole rule set's database is used (through the cache, like
//! `HyperscanMatcher::new`). Subset databases are cached under their own kind (`hs-subset`), keyed by the
//! expressions they hold. Knows nothing of sources or of what the haystacks are.
use super::hyperscan::{entries_for, Entry, HyperscanMatcher, SUBSET_CACHE_KIND};
use super::{Candidate, Matcher};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use anyhow::{anyhow, Result};
use keysweep_rules::Rule;
use std::sync::{Arc, Mutex};

/// Recompiles over a growing subset before the whole rule set's database is used instead.
pub const MAX_REBUILDS: usize = 3;

pub struct SubsetMatcher {
    /// Every rule's database entries, by rule index.
    entries: Vec<Vec<Entry>>,
    ids: Vec<String>,
    /// Every presence literal (lowercased; matched ignoring ASCII case).
    literals: AhoCorasick,
    /// For each literal, the rules it stands for.
    owners: Vec<Vec<u32>>,
    /// Rules with no presence literal: always compiled in.
    always: Vec<u32>,
    /// Whether to switch to the whole rule set (after `MAX_REBUILDS`, or at half the rules).
    bounded: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Rules the current database holds.
    built: Vec<bool>,
    matcher: Option<Arc<HyperscanMatcher>>,
    /// Databases compiled or loaded so far.
    builds: usize,
    /// The current database holds every rule: presence is no longer tested.
    full: bool,
    /// Warnings of the builds not yet taken, and the ones already given (each is given once).
    warnings: Vec<String>,
    warned: std::collections::HashSet<String>,
}

/// Presence literals are cut to this many bytes: a cut literal still occurs wherever the whole one does, and
/// the catalogue's 1,300 prefixes become about 330 short ones, which build an automaton in a fifth of the
/// time (start-up is what this matcher saves).
const LITERAL_CUT: usize = 4;

/// Literals (lowercased) one of which every match of `rule` contains, or `None` when the rule has none to
/// offer: the literals its pattern requires anywhere in a match (`Rule::required`, else its literal
/// prefixes), or its context words when the engines find it through them.
pub fn presence_literals(rule: &Rule) -> Option<Vec<Vec<u8>>> {
    let lits = if super::uses_context_prefilter(rule) {
        &rule.context_lower
    } else {
        rule.required.as_ref().or(rule.prefixes.as_ref())?
    };
    if lits.is_empty() || lits.iter().any(|l| l.is_empty()) {
        return None;
    }
    let mut cut: Vec<Vec<u8>> = lits
        .iter()
        .map(|l| l[..l.len().min(LITERAL_CUT)].to_vec())
        .collect();
    cut.sort();
    cut.dedup();
    Some(cut)
}

impl SubsetMatcher {
    pub fn new(rules: &[Rule]) -> Result<Self> {
        Self::build(rules, true)
    }

    /// A subset matcher that never switches to the whole rule set, however many rebuilds its haystacks take:
    /// for tests, so that every haystack is served by a subset database.
    pub fn unbounded(rules: &[Rule]) -> Result<Self> {
        Self::build(rules, false)
    }

    fn build(rules: &[Rule], bounded: bool) -> Result<Self> {
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut index = std::collections::HashMap::<Vec<u8>, usize>::new();
        let mut always = Vec::new();
        for (ri, r) in rules.iter().enumerate() {
            match presence_literals(r) {
                Some(ls) => {
                    for l in ls {
                        let k = *index.entry(l.clone()).or_insert_with(|| {
                            lits.push(l);
                            owners.push(Vec::new());
                            lits.len() - 1
                        });
                        if owners[k].last() != Some(&(ri as u32)) {
                            owners[k].push(ri as u32);
                        }
                    }
                }
                None => always.push(ri as u32),
            }
        }
        // A contiguous NFA: built in a fraction of the time a DFA takes, and the haystacks are small.
        let literals = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&lits)
            .map_err(|e| anyhow!("building the presence automaton: {e}"))?;
        Ok(SubsetMatcher {
            entries: rules
                .iter()
                .enumerate()
                .map(|(i, r)| entries_for(i, r))
                .collect(),
            ids: rules.iter().map(|r| r.spec.id.clone()).collect(),
            literals,
            owners,
            always,
            bounded,
            state: Mutex::new(State {
                built: vec![false; rules.len()],
                ..Default::default()
            }),
        })
    }

    /// The rules that could match in `hay` (by rule index): those with a presence literal in it, and those
    /// without any.
    pub fn needed(&self, hay: &[u8]) -> Vec<bool> {
        let mut need = vec![false; self.entries.len()];
        for &r in &self.always {
            need[r as usize] = true;
        }
        for m in self.literals.find_overlapping_iter(hay) {
            for &r in &self.owners[m.pattern().as_usize()] {
                need[r as usize] = true;
            }
        }
        need
    }

    /// How many databases were built (compiled or loaded) so far, and whether the last holds every rule.
    pub fn builds(&self) -> (usize, bool) {
        self.state
            .lock()
            .map(|s| (s.builds, s.full))
            .unwrap_or((0, false))
    }

    /// The database to scan `hay` with (`None`: no rule can match it), rebuilt when `hay` needs rules the
    /// current one lacks.
    fn matcher_for(&self, hay: &[u8]) -> Result<Option<Arc<HyperscanMatcher>>> {
        let full = self
            .state
            .lock()
            .map_err(|_| anyhow!("subset matcher poisoned"))?
            .full;
        // The presence pass runs outside the lock; once the whole set is built it is skipped.
        let need = if full { None } else { Some(self.needed(hay)) };
        let mut st = self
            .state
            .lock()
            .map_err(|_| anyhow!("subset matcher poisoned"))?;
        let Some(need) = need.filter(|_| !st.full) else {
            return Ok(st.matcher.clone());
        };
        let missing = need.iter().zip(&st.built).any(|(&n, &b)| n && !b);
        if !missing {
            return Ok(st.matcher.clone());
        }
        let mut want: Vec<bool> = need.iter().zip(&st.built).map(|(&n, &b)| n || b).collect();
        let count = want.iter().filter(|&&w| w).count();
        if self.bounded && (st.builds > MAX_REBUILDS || 2 * count >= want.len()) {
            want.fill(true);
        }
        let all_rules = want.iter().all(|&w| w);
        let entries: Vec<Entry> = want
            .iter()
            .enumerate()
            .filter(|(_, &w)| w)
            .flat_map(|(i, _)| self.entries[i].iter().cloned())
            .collect();
        let ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        let kind = if all_rules {
            super::hyperscan::CACHE_KIND
        } else {
            SUBSET_CACHE_KIND
        };
        let (m, warnings) = HyperscanMatcher::build(&entries, &ids, kind)?;
        st.builds += 1;
        st.full = all_rules;
        st.built = want;
        for w in warnings {
            if st.warned.insert(w.clone()) {
                st.warnings.push(w);
            }
        }
        st.matcher = Some(Arc::new(m));
        Ok(st.matcher.clone())
    }
}

impl Matcher for SubsetMatcher {
    fn name(&self) -> &'static str {
        "hyperscan"
    }

    fn candidates(&self, hay: &[u8], out: &mut Vec<Candidate>) -> Result<()> {
        match self.matcher_for(hay)? {
            Some(m) => m.candidates(hay, out),
            None => Ok(()),
        }
    }

    fn take_warnings(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|mut s| std::mem::take(&mut s.warnings))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{find_all, hyperscan::HyperscanMatcher};
    use keysweep_rules::RuleSet;

    // With `engine::test_rules`' two (a prefixed key, one found through its context word): a rule with no
    // literal (always in) and a second prefixed key.
    const EXTRA: &str = r#"
[[rule]]
id = "t.hex"
name = "Hex"
provider = "Y"
category = "cloud"
pattern = '''\b(?P<secret>[0-9a-f]{40})\b'''
examples = ["0123456789abcdef0123456789abcdef01234567"]
negative_examples = ["0123"]

[[rule]]
id = "t.gh"
name = "GitHub"
provider = "GitHub"
category = "vcs"
pattern = '''\b(?P<secret>ghp_[0-9A-Za-z]{36})\b'''
examples = ["ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"]
negative_examples = ["ghp_x"]
"#;

    fn rules() -> RuleSet {
        crate::engine::test_rules(EXTRA)
    }

    fn built(m: &SubsetMatcher) -> Vec<bool> {
        m.state.lock().expect("state").built.clone()
    }

    #[test]
    fn compiles_only_the_rules_a_haystack_can_match_and_finds_what_the_whole_set_finds() {
        let rs = rules();
        let (whole, _) = HyperscanMatcher::new(&rs.rules).expect("whole");
        let m = SubsetMatcher::new(&rs.rules).expect("subset");
        assert_eq!(m.always, vec![2], "the hex rule has no literal");
        assert_eq!(m.builds(), (0, false));
        let hays: [&[u8]; 5] = [
            b"plain text, nothing to see",
            // Mixed case: presence ignores ASCII case like the prefilters do.
            b"x aKiA4QXZ7RB2MNV5KD3Y AKIA4QXZ7RB2MNV5KD3Y 0123456789abcdef0123456789abcdef01234567", // keysweep:allow (synthetic)
            b"MISTRAL_KEY=0123456789abcdefghijklmnopqrstuv", // keysweep:allow (synthetic)
            b"AKIA4QXZ7RB2MNV5KD3Y again",                   // keysweep:allow (synthetic)
            b"t = ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", // keysweep:allow (synthetic)
        ];
        let mut found = 0;
        for hay in hays {
            let got = find_all(&m, &rs.rules, hay).expect("subset");
            let want = find_all(&whole, &rs.rules, hay).expect("whole");
            assert_eq!(got, want, "{}", String::from_utf8_lossy(hay));
            found += got.len();
        }
        assert!(found >= 4, "the haystacks hold matches: {found}");
        // The first haystack needed only the rule without literal; the second added AWS, which made half the
        // rules: the whole set from then on.
        assert_eq!(m.builds(), (2, true));
    }

    #[test]
    fn grows_by_union_and_a_haystack_needing_nothing_new_rebuilds_nothing() {
        let rs = rules();
        let m = SubsetMatcher::unbounded(&rs.rules).expect("subset");
        let mut out = Vec::new();
        m.candidates(b"AKIA only", &mut out).expect("scan");
        assert_eq!(built(&m), vec![true, false, true, false]);
        m.candidates(b"akia and hex again", &mut out).expect("scan");
        assert_eq!(m.builds(), (1, false));
        m.candidates(b"ghp_ here", &mut out).expect("scan");
        assert_eq!(built(&m), vec![true, false, true, true]);
        assert_eq!(m.builds(), (2, false));
        // No early switch to the whole set: it is reached rule by rule.
        m.candidates(b"mistral", &mut out).expect("scan");
        assert_eq!(m.builds(), (3, true));
        assert_eq!(built(&m), vec![true; 4]);
    }

    #[test]
    fn switches_to_the_whole_set_after_max_rebuilds() {
        // Many prefixed rules, each needed by its own haystack.
        let mut text = String::new();
        let n = 4 * MAX_REBUILDS + 8;
        for i in 0..n {
            text.push_str(&format!(
                "[[rule]]\nid = \"t.r{i}\"\nname = \"R\"\nprovider = \"P\"\ncategory = \"cloud\"\n\
                 pattern = '''\\b(?P<secret>q{i:02}z_[0-9A-Z]{{16}})\\b'''\n\
                 examples = [\"q{i:02}z_ABCDEFGHIJKLMNOP\"]\nnegative_examples = [\"q{i:02}z_\"]\n\n"
            ));
        }
        let mut rs = RuleSet::default();
        rs.add_text("t.toml", &text);
        assert!(rs.errors.is_empty(), "{:?}", rs.errors);
        let m = SubsetMatcher::new(&rs.rules).expect("subset");
        let mut out = Vec::new();
        for i in 0..=MAX_REBUILDS {
            m.candidates(format!("q{i:02}z_").as_bytes(), &mut out)
                .expect("scan");
            assert_eq!(m.builds(), (i + 1, false));
        }
        m.candidates(b"q09z_", &mut out).expect("scan");
        assert_eq!(m.builds(), (MAX_REBUILDS + 2, true));
        assert!(built(&m).iter().all(|&b| b));
        // From then on, nothing is rebuilt.
        m.candidates(b"q11z_ q12z_", &mut out).expect("scan");
        assert_eq!(m.builds(), (MAX_REBUILDS + 2, true));
    }

    /// Every built-in rule has presence literals (a prefix, an inner literal or its context words), so a
    /// typical commit of source code compiles no database at all; and every rule is needed by each of its
    /// own examples (a rule left out where its example matches would lose findings).
    #[test]
    fn the_catalogue_needs_no_rule_for_ordinary_code_and_each_rule_for_its_examples() {
        let rs = RuleSet::embedded();
        let m = SubsetMatcher::new(&rs.rules).expect("subset");
        let always: Vec<&str> = m
            .always
            .iter()
            .map(|&r| m.ids[r as usize].as_str())
            .collect();
        assert!(
            always.is_empty(),
            "rules compiled for every haystack: {always:?}"
        );
        let mut code = String::new();
        for j in 1..=40 {
            code.push_str(&format!(
                "    result_{j} = compute(config['setting_{j}'], retries={j})  # step {j}\n"
            ));
        }
        code.push_str("def handler_620(event, context):\n    return {'ok': True, 'value': 620}\n");
        let mut out = Vec::new();
        m.candidates(code.as_bytes(), &mut out).expect("scan");
        assert!(out.is_empty());
        assert_eq!(m.builds(), (0, false), "no database was built");
        for (i, r) in rs.rules.iter().enumerate() {
            for ex in &r.spec.examples {
                assert!(m.needed(ex.as_bytes())[i], "{}: example {ex:?}", r.spec.id);
            }
        }
    }
}
