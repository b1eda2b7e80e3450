//! The matching engine: one multi-pattern pass over a segment finds candidate windows for every rule
//! (`Matcher`), then `confirm` runs each hit rule's own regex inside its windows to extract exact matches and
//! the `secret` capture. Two matchers must agree on every input: Hyperscan (fast path) and a portable pure-Rust
//! one; `subset` is Hyperscan compiled over only the rules a small input could match (the pre-commit hook's
//! start-up). The engine knows nothing of sources, decoders, checks or reports.
use aho_corasick::Input as AcInput;
use anyhow::Result;
use keysweep_rules::Rule;
use regex_automata::{Anchored, Input};

pub mod cache;
#[cfg(feature = "hyperscan")]
pub mod hyperscan;
pub mod portable;
#[cfg(feature = "hyperscan")]
pub mod subset;

/// A region of a haystack where a rule may match. `start` is where a match may begin; matches are searched
/// for in `start..end` (look-around sees the whole haystack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub rule: u32,
    pub start: usize,
    pub end: usize,
}

/// The match `caps` holds, as rule `rule`'s `RawMatch`: the secret is capture group `secret_group`, or the
/// whole match when that group did not take part.
fn raw_match(
    rule: usize,
    secret_group: usize,
    caps: &regex_automata::util::captures::Captures,
) -> Option<RawMatch> {
    let m = caps.get_match()?;
    let (secret_start, secret_end) = caps
        .get_group(secret_group)
        .map(|s| (s.start, s.end))
        .unwrap_or((m.start(), m.end()));
    Some(RawMatch {
        rule,
        start: m.start(),
        end: m.end(),
        secret_start,
        secret_end,
    })
}

/// Where the search for a rule's next match starts after `m`: its end, or one past an empty match.
fn resume_after(m: &RawMatch) -> usize {
    if m.end > m.start {
        m.end
    } else {
        m.end + 1
    }
}

/// An exact match of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawMatch {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    pub secret_start: usize,
    pub secret_end: usize,
}

/// Whether the engines find this rule through its context words rather than its pattern: rules with
/// provider context whose pattern has no literal prefix (unprefixed keys such as Mistral's), which would
/// otherwise be candidates at every run of key-like characters, or only weak ones: plain words or literals
/// of under four bytes (`key = …`, `token: …`, `sk…`, `re_…`). A few dozen rules start with the same
/// assignment keywords; as prefilters they fired on every `key`/`token` in source code, while their provider
/// words (`qdrant`, `cohere`) are rare. A three-byte prefix such as Resend's `re_` costs Hyperscan's literal
/// matcher about a tenth of its whole scan time (measured on generated source), and the rule needs its
/// provider word near the match anyway.
pub fn uses_context_prefilter(rule: &Rule) -> bool {
    !rule.context_lower.is_empty()
        && rule.prefixes.as_ref().is_none_or(|ps| {
            ps.iter()
                .any(|p| p.len() < 4 || p.iter().all(u8::is_ascii_alphabetic))
        })
}

/// For a rule with provider context: how far before a context word's start and after its start the window
/// reaches, so that it holds every match whose context check could see that word.
pub fn context_window_bounds(rule: &Rule, word_len: usize) -> (usize, usize) {
    let reach = rule.context_window + rule.max_len;
    (reach, word_len + reach)
}

/// A multi-pattern prefilter over all rules.
pub trait Matcher: Send + Sync {
    fn name(&self) -> &'static str;
    /// Push candidate windows for `hay` into `out` (any order, may overlap).
    fn candidates(&self, hay: &[u8], out: &mut Vec<Candidate>) -> Result<()>;
    /// Warnings about rules found since the last call, for a matcher that compiles as it scans
    /// (`subset::SubsetMatcher`); others give theirs when built.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Which engine to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Hyperscan when built with it, else portable.
    #[default]
    Auto,
    Hyperscan,
    Portable,
}

/// The engine `--engine auto` uses in this build, with its version (`Hyperscan 5.4.2`), or `portable`.
pub fn auto_description() -> String {
    #[cfg(feature = "hyperscan")]
    {
        let v = ::hyperscan::version_str().to_string_lossy().into_owned();
        format!("Hyperscan {}", v.split(' ').next().unwrap_or("?"))
    }
    #[cfg(not(feature = "hyperscan"))]
    {
        "portable (built without Hyperscan)".to_string()
    }
}

/// Build the requested matcher over `rules`. Also returns warnings (rules an engine had to handle slowly).
pub fn build(kind: EngineKind, rules: &[Rule]) -> Result<(Box<dyn Matcher>, Vec<String>)> {
    match kind {
        #[cfg(feature = "hyperscan")]
        EngineKind::Auto | EngineKind::Hyperscan => {
            let (m, w) = hyperscan::HyperscanMatcher::new(rules)?;
            Ok((Box::new(m), w))
        }
        #[cfg(not(feature = "hyperscan"))]
        EngineKind::Hyperscan => {
            anyhow::bail!("this keysweep was built without Hyperscan; use --engine portable")
        }
        _ => Ok((Box::new(portable::PortableMatcher::new(rules)?), vec![])),
    }
}

/// Like `build`, for small inputs: with Hyperscan, a `subset::SubsetMatcher`, which compiles only the rules
/// that could match what it is given (the pre-commit hook's start-up); the portable engine is cheap to build
/// and is built whole. Finds exactly what `build` finds.
pub fn build_for_small_input(
    kind: EngineKind,
    rules: &[Rule],
) -> Result<(Box<dyn Matcher>, Vec<String>)> {
    match kind {
        #[cfg(feature = "hyperscan")]
        EngineKind::Auto | EngineKind::Hyperscan => {
            Ok((Box::new(subset::SubsetMatcher::new(rules)?), vec![]))
        }
        _ => build(kind, rules),
    }
}

/// A rule with at most this many literal prefixes is confirmed by anchored searches at its prefixes (see
/// `confirm`): `generic.cli-credential-flag`'s 23 (its confirm time on `/usr/share/doc` 12.6 → 7.2 ms), not
/// `generic.url-credentials`' 49 schemes, whose unanchored search, led by `://`, was three times faster than
/// anchored ones at every URL.
const MAX_ANCHOR_PREFIXES: usize = 32;

/// Whether `confirm` searches this rule's windows anchored at its literal prefixes: the catch-all keyword
/// and shape rules (category `generic`) with a handful of prefixes, not found through context words. A
/// format rule's regex finds its own distinctive prefix fast, and an anchored search per prefix would only
/// add the prefix scan to that.
pub fn anchors_at_prefixes(rule: &Rule) -> bool {
    rule.spec.category == "generic"
        && !uses_context_prefilter(rule)
        && rule
            .prefixes
            .as_ref()
            .is_some_and(|ps| ps.len() <= MAX_ANCHOR_PREFIXES)
}

/// Whether `confirm` skips this rule's prefix occurrences on a test runner's result line
/// (`keysweep_rules::test_result_line`: `PASS: gdb.base/passwd.exp`): a rule confirmed at its prefixes whose
/// candidates the classifier judges (it rejects every match starting on such a line) and whose matches end on
/// their line or just after its newline, without context words. Skipping them changes no match that is
/// kept: a rejected match hides only starts inside it, which lie on its own line and are skipped too, and a
/// window's context test (the only use of a skipped match's end) is not made for these rules. A DejaGnu
/// log holds tens of thousands of such lines (98,000 in `/usr/share/doc`, each a `generic.password-assignment`
/// match).
pub fn skips_test_result_lines(rule: &Rule) -> bool {
    anchors_at_prefixes(rule)
        && rule.is_classified()
        && rule.single_line
        && rule.context_lower.is_empty()
}

/// The last line `confirm` looked at: its start, its end (its newline, or the haystack's end) and whether it
/// is a test result line. Starts are visited in increasing order, so each line is read once per rule.
#[derive(Default)]
struct LineCache {
    line: Option<(usize, usize, bool)>,
}

impl LineCache {
    /// Whether position `p` lies on a test result line, within `RESULT_LINE_REACH` of its start (as
    /// `keysweep_rules::test_result_line` judges).
    fn test_result(&mut self, hay: &[u8], p: usize) -> bool {
        let near = |s: usize| p - s <= keysweep_rules::RESULT_LINE_REACH;
        if let Some((s, e, t)) = self.line {
            if (s..=e).contains(&p) {
                return t && near(s);
            }
        }
        // The line's start is after the last line read (or the haystack's start) when `p` lies beyond it.
        let lo = match self.line {
            Some((_, e, _)) if e < p => e,
            _ => 0,
        };
        let s = memchr::memrchr(b'\n', &hay[lo..p]).map_or(lo, |i| lo + i + 1);
        let e = memchr::memchr(b'\n', &hay[p..]).map_or(hay.len(), |i| p + i);
        let t = keysweep_rules::line_is_test_result(&hay[s..]);
        self.line = Some((s, e, t));
        t && near(s)
    }
}

/// Turn candidate windows into exact matches, using each rule's regex. `cands` is consumed (sorted and
/// merged in place); matches are appended to `out` sorted by rule then position.
pub fn confirm(rules: &[Rule], hay: &[u8], cands: &mut [Candidate], out: &mut Vec<RawMatch>) {
    confirm_counted(rules, hay, cands, out);
}

/// `confirm`, returning how many regex searches it ran (for tests).
fn confirm_counted(
    rules: &[Rule],
    hay: &[u8],
    cands: &mut [Candidate],
    out: &mut Vec<RawMatch>,
) -> usize {
    let mut searches = 0usize;
    if cands.is_empty() {
        return searches;
    }
    cands.sort_unstable();
    let mut starts: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < cands.len() {
        let rule_idx = cands[i].rule as usize;
        let rule = &rules[rule_idx];
        let regex = rule.regex();
        let mut caps = regex.create_captures();
        // Anchored searches pay for keyword-led rules (a handful of prefixes such as `token`, `key`, `pass`),
        // whose unanchored search keeps a thread open at every keyword and value byte of a window; they
        // do not for a rule found through context words (its windows reach hundreds of bytes around each
        // word and hold many prefixes) or one with many prefixes (`generic.url-credentials`: every URL is a
        // start, and its unanchored search, led by `://`, is cheap).
        let prefix_finder = if !anchors_at_prefixes(rule) {
            None
        } else {
            rule.prefix_finder()
        };
        let skip_test_lines = prefix_finder.is_some() && skips_test_result_lines(rule);
        let mut lines = LineCache::default();
        // Merge this rule's overlapping windows, then search each merged window.
        let mut ws = cands[i].start;
        let mut we = cands[i].end;
        let mut last_end = 0usize;
        i += 1;
        loop {
            let next = cands.get(i).filter(|c| c.rule as usize == rule_idx);
            if let Some(c) = next {
                if c.start <= we {
                    we = we.max(c.end);
                    i += 1;
                    continue;
                }
            }
            let from = ws.max(last_end);
            let to = we.min(hay.len());
            // A window with no context word near it cannot yield a match that passes the context check.
            let context_ok =
                rule.context_lower.is_empty() || keysweep_rules::context_near(rule, hay, from, to);
            if let (true, Some(finder)) = (from < to && context_ok, prefix_finder) {
                // Every match starts at an occurrence of a literal prefix: search anchored at each one in
                // order, skipping those inside the last match. The first that matches is where the
                // unanchored search's leftmost match starts, and an anchored search there picks the same
                // match; the regex runs only where a match could start, not over every byte of the window.
                starts.clear();
                starts.extend(
                    finder
                        .find_overlapping_iter(AcInput::new(hay).range(from..to))
                        .map(|m| m.start()),
                );
                starts.sort_unstable();
                starts.dedup();
                let mut input = Input::new(hay).range(from..to).anchored(Anchored::Yes);
                let mut next_start = from;
                for &p in starts.iter() {
                    if p < next_start || (skip_test_lines && lines.test_result(hay, p)) {
                        continue;
                    }
                    input.set_start(p);
                    searches += 1;
                    regex.search_captures(&input, &mut caps);
                    let Some(m) = raw_match(rule_idx, rule.secret_group, &caps) else {
                        continue;
                    };
                    out.push(m);
                    last_end = m.end;
                    next_start = resume_after(&m);
                }
            } else if from < to && context_ok {
                let mut input = Input::new(hay).range(from..to);
                loop {
                    searches += 1;
                    regex.search_captures(&input, &mut caps);
                    let Some(m) = raw_match(rule_idx, rule.secret_group, &caps) else {
                        break;
                    };
                    out.push(m);
                    last_end = m.end;
                    let next_start = resume_after(&m);
                    if next_start >= to {
                        break;
                    }
                    input.set_start(next_start);
                }
            }
            match next {
                Some(c) => {
                    ws = c.start;
                    we = c.end;
                    i += 1;
                }
                None => break,
            }
        }
    }
    searches
}

/// Find every match of every rule in `hay` with `matcher` (candidates + confirm). Convenience for tests and
/// callers that do not reuse buffers.
pub fn find_all(matcher: &dyn Matcher, rules: &[Rule], hay: &[u8]) -> Result<Vec<RawMatch>> {
    let mut cands = Vec::new();
    matcher.candidates(hay, &mut cands)?;
    let mut out = Vec::new();
    confirm(rules, hay, &mut cands, &mut out);
    Ok(out)
}

/// The index of the rule `id` in a test rule set.
#[cfg(test)]
pub(crate) fn test_rule_index(rs: &keysweep_rules::RuleSet, id: &str) -> usize {
    rs.rules
        .iter()
        .position(|r| r.spec.id == id)
        .expect("a rule of the test set")
}

/// Two rules shared by the engines' unit tests (a prefixed key; one found through its context word), with
/// `extra` rules appended.
#[cfg(test)]
pub(crate) fn test_rules(extra: &str) -> keysweep_rules::RuleSet {
    const RULES: &str = r#"[[rule]]
id = "t.aws"
name = "AWS"
provider = "AWS"
category = "cloud"
pattern = '''\b(?P<secret>AKIA[0-9A-Z]{16})\b'''
examples = ["AKIA4QXZ7RB2MNV5KD3Y"] # keysweep:allow
negative_examples = ["AKIA"]

[[rule]]
id = "t.ctx"
name = "Context"
provider = "X"
category = "ai"
pattern = '''\b(?P<secret>[a-z0-9]{32})\b'''
context = ["mistral"]
examples = ["mistral 0123456789abcdefghijklmnopqrstuv"]
negative_examples = ["0123456789abcdefghijklmnopqrstuv"]
"#;
    let mut rs = keysweep_rules::RuleSet::default();
    rs.add_text("t.toml", &format!("{RULES}{extra}"));
    assert!(rs.errors.is_empty(), "{:?}", rs.errors);
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A keyword rule whose keywords overlap (`key` in `apikey`, `keys`) and may appear in its own value.
    fn keyword_rules() -> keysweep_rules::RuleSet {
        test_rules(
            r#"
[[rule]]
id = "t.kw"
name = "Keyword"
provider = "X"
category = "generic"
pattern = '''(?:(?i:token|apikey)[\w.-]{0,6}|(?i:key)[s0-9]?)["']?[ \t]{0,2}(?:=|:)[ \t]{0,2}["']?(?P<secret>[0-9.]{0,3}[A-Za-z0-9_=-][A-Za-z0-9_=.-]{3,40})(?:[^A-Za-z0-9_=.-]|$)'''
examples = ["token = abcd1234"]
negative_examples = ["token = ab"]
"#,
        )
    }

    /// What `confirm` found before anchored searches: the regex run over every byte of each merged window.
    fn unanchored(rule: &Rule, idx: usize, hay: &[u8], cands: &mut [Candidate]) -> Vec<RawMatch> {
        cands.sort_unstable();
        let regex = rule.regex();
        let mut caps = regex.create_captures();
        let mut out = Vec::new();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for c in cands.iter() {
            match merged.last_mut() {
                Some(w) if c.start <= w.1 => w.1 = w.1.max(c.end),
                _ => merged.push((c.start, c.end)),
            }
        }
        let mut last_end = 0;
        for (ws, we) in merged {
            let (from, to) = (ws.max(last_end), we.min(hay.len()));
            let mut at = from;
            while at < to {
                regex.search_captures(&Input::new(hay).range(at..to), &mut caps);
                let Some(m) = caps.get_match() else { break };
                let s = caps.get_group(1).expect("secret group");
                out.push(RawMatch {
                    rule: idx,
                    start: m.start(),
                    end: m.end(),
                    secret_start: s.start,
                    secret_end: s.end,
                });
                last_end = m.end();
                at = m.end().max(m.start() + 1);
            }
        }
        out
    }

    #[test]
    fn keyword_rules_are_confirmed_at_their_prefixes() {
        let rs = keyword_rules();
        let idx = test_rule_index(&rs, "t.kw");
        let rule = &rs.rules[idx];
        assert!(anchors_at_prefixes(rule));
        // A value holding the keyword, a match right after a match, keywords of either case, a value that
        // starts with digits and dots.
        let hay = b"x apikey=key=keyABCD tokens: 'KEYS:abcdefgh' key2=1.2.3.4"; // keysweep:allow (synthetic)
        let mut cands = vec![Candidate {
            rule: idx as u32,
            start: 0,
            end: hay.len(),
        }];
        let want = unanchored(rule, idx, hay, &mut cands.clone());
        let mut got = Vec::new();
        confirm(&rs.rules, hay, &mut cands, &mut got);
        assert_eq!(got, want);
        let secrets: Vec<&[u8]> = got
            .iter()
            .map(|m| &hay[m.secret_start..m.secret_end])
            .collect();
        assert_eq!(
            secrets,
            [&b"key=keyABCD"[..], b"KEYS", b"1.2.3.4"],
            "{got:?}"
        );
    }

    /// A classified password rule (category `generic`, `generic = true`) whose matches end on their line.
    fn password_rules() -> keysweep_rules::RuleSet {
        test_rules(
            r#"
[[rule]]
id = "t.pw"
name = "Password"
provider = "X"
category = "generic"
generic = true
pattern = '''(?:(?i:pass|pwd)[\w.-]{0,20}|(?i:_pw))["']?[ \t]{0,3}(?:=|:)[ \t]{0,5}["']?(?P<secret>[A-Za-z0-9./_-]{6,64})(?:[^\x21-\x7e]|$)'''
examples = ["password = Qw3rTy8uIoP"] # keysweep:allow (synthetic)
negative_examples = ["password = ab"]
"#,
        )
    }

    /// The matches of `t.pw` in `hay` (one window over all of it) and the regex searches run.
    fn password_matches(hay: &[u8]) -> (Vec<RawMatch>, usize) {
        let rs = password_rules();
        let idx = test_rule_index(&rs, "t.pw");
        let mut cands = vec![Candidate {
            rule: idx as u32,
            start: 0,
            end: hay.len(),
        }];
        let mut got = Vec::new();
        let searches = confirm_counted(&rs.rules, hay, &mut cands, &mut got);
        (got, searches)
    }

    /// On a result line longer than `RESULT_LINE_REACH`, starts further from the line's start are searched
    /// (the check judges them off the line, as it must: it reads no further back than the reach).
    #[test]
    fn the_skip_reaches_as_far_as_the_check() {
        let rs = password_rules();
        let idx = test_rule_index(&rs, "t.pw");
        let mut hay = b"PASS: run".to_vec();
        while hay.len() < 2 * keysweep_rules::RESULT_LINE_REACH {
            hay.extend_from_slice(b" pwd=Qw3rTy8uIoP"); // keysweep:allow (synthetic)
        }
        hay.extend_from_slice(b"\nPASS: pwd=Qw3rTy8uIoP\n"); // keysweep:allow (synthetic)
        let whole = Candidate {
            rule: idx as u32,
            start: 0,
            end: hay.len(),
        };
        let all = unanchored(&rs.rules[idx], idx, &hay, &mut [whole]);
        let want: Vec<RawMatch> = all
            .iter()
            .copied()
            .filter(|m| !keysweep_rules::test_result_line(&hay, m.start))
            .collect();
        let (got, _) = password_matches(&hay);
        assert!(
            !want.is_empty() && want.len() < all.len() - 1,
            "{} of {}",
            want.len(),
            all.len()
        );
        assert_eq!(got, want);
    }

    #[test]
    fn prefixes_on_test_result_lines_are_not_searched() {
        let rs = password_rules();
        let rule = &rs.rules[test_rule_index(&rs, "t.pw")];
        assert!(rule.single_line && skips_test_result_lines(rule));
        // A DejaGnu, Go and jtreg log whose result lines hold the keyword, and one real assignment.
        let mut log = String::new();
        for i in 0..500 {
            log.push_str(&format!("PASS: gdb.base/passwd{i}.exp: pass: checked\n"));
            log.push_str(&format!("  --- PASS: TestPasswd{i}=ok (0.00s)\n"));
            log.push_str(&format!("Passed: com/sun/jdi/Pass_word{i}:Test.java\n"));
        }
        log.push_str("db_password = Qw3rTy8uIoP\n"); // keysweep:allow (synthetic)
        let (got, searches) = password_matches(log.as_bytes());
        let secrets: Vec<&[u8]> = got
            .iter()
            .map(|m| &log.as_bytes()[m.secret_start..m.secret_end])
            .collect();
        assert_eq!(secrets, [&b"Qw3rTy8uIoP"[..]]);
        // One search: the 2,500 keywords on result lines are skipped (each was a search, and a match the
        // classifier rejected).
        assert_eq!(searches, 1);
        // A rule whose match may run over a newline is searched everywhere.
        let multi = test_rules(
            r#"
[[rule]]
id = "t.ml"
name = "Multi-line"
provider = "X"
category = "generic"
generic = true
pattern = '''(?i:pass)\w{0,20}\s{0,3}=\s{0,3}(?P<secret>\w{6,64})'''
examples = ["pass = Qw3rTy8uIoP"] # keysweep:allow (synthetic)
negative_examples = ["pass = ab"]
"#,
        );
        let ml = &multi.rules[test_rule_index(&multi, "t.ml")];
        assert!(anchors_at_prefixes(ml) && !ml.single_line && !skips_test_result_lines(ml));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Skipping the prefixes on test result lines finds exactly the matches of one pass of the regex over
        /// every byte that do not start on such a line (the classifier rejects those).
        #[test]
        fn skipping_test_result_lines_loses_no_other_match(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "PASS: ", "FAIL: ", " -- ", "pass", "Pwd", "_pw", "word", "=", ":", " ", "\t", "'", "\n",
                "abc", "Z9", ".", "-", "_", "x1y2z3",
            ]), 0..40),
        ) {
            let rs = password_rules();
            let idx = test_rule_index(&rs, "t.pw");
            let hay = parts.concat().into_bytes();
            let whole = Candidate { rule: idx as u32, start: 0, end: hay.len() };
            let want: Vec<RawMatch> = unanchored(&rs.rules[idx], idx, &hay, &mut [whole])
                .into_iter()
                .filter(|m| !keysweep_rules::test_result_line(&hay, m.start))
                .collect();
            let (got, _) = password_matches(&hay);
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Anchored searches at the prefixes find exactly what one pass of the regex over every byte of the
        /// windows finds, whatever the windows.
        #[test]
        fn anchored_confirm_finds_what_the_unanchored_search_finds(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "token", "TOKEN", "key", "Keys", "apikey", "key9", "=", ":", " ", "\t", "'", "\"", "\n",
                "abc", "Z9", "1.5", ".", "-", "_", "(", "tok", "ke",
            ]), 0..40),
            windows in proptest::collection::vec((0usize..200, 0usize..80), 1..4),
        ) {
            let rs = keyword_rules();
            let idx = test_rule_index(&rs, "t.kw");
            let hay = parts.concat().into_bytes();
            let mut cands: Vec<Candidate> = windows
                .iter()
                .map(|&(s, len)| {
                    let start = s.min(hay.len());
                    Candidate { rule: idx as u32, start, end: (start + len).min(hay.len()) }
                })
                .collect();
            let want = unanchored(&rs.rules[idx], idx, &hay, &mut cands.clone());
            let mut got = Vec::new();
            confirm(&rs.rules, &hay, &mut cands, &mut got);
            prop_assert_eq!(got, want);
        }
    }
}
