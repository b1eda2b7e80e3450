//! Hyperscan matcher: one block-mode database holds, for every rule, either its prefilter expression
//! (`rules::prefilter`: every match of the rule has a prefix matching it) or, for rules with provider
//! context, the context words (caseless literals). A report ending at `end` yields the window `end - before .. end + after` (see `Entry`), which holds every true match the
//! report stands for; windows of one rule that overlap are merged as they arrive, so a long run of reports
//! costs one candidate. Start-of-match tracking is not used: it made compilation ~10x slower and the confirm
//! step finds exact starts anyway. Rules Hyperscan cannot compile are searched over the whole haystack, with
//! a warning. Every database also holds a two-byte sentinel literal whose reports are ignored: it makes
//! Hyperscan's literal matcher read with a stride of one (`STRIDE_ONE_SENTINEL`). Scratch space is pooled.
use super::{context_window_bounds, Candidate, Matcher};
use anyhow::{anyhow, Result};
use hyperscan::prelude::*;
use hyperscan::{BlockMode, HsError, PatternFlags, SerializedDatabase};
use keysweep_rules::Rule;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// One database expression: which rule it serves and how far its window reaches around a report's end.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    rule: u32,
    expression: String,
    caseless: bool,
    before: usize,
    after: usize,
}

/// Cache entries of this engine's whole-rule-set databases are named `hs-<key>.bin`.
pub(super) const CACHE_KIND: &str = "hs";
/// Databases over a subset of the rules (`engine::subset`) are kept apart (`hs-subset-<key>.bin`), so
/// that they never prune the whole set's entry.
pub(super) const SUBSET_CACHE_KIND: &str = "hs-subset";

pub struct HyperscanMatcher {
    db: BlockDatabase,
    scratch: Mutex<Vec<Scratch>>,
    entries: Vec<Entry>,
    unanchored: Vec<u32>,
    /// Number of rules (candidate rule indexes are below it).
    rules: usize,
}

/// One two-byte literal compiled into every database, whose reports are ignored (its id has no entry).
/// Hyperscan's literal matcher (FDR) reads its input in strides derived from its shortest literal (for a few
/// hundred literals, one less than the shortest one's length: `fdr_engine_description.cpp`); with the
/// catalogue's three-byte caseless keywords (`key`, `pwd`, `auth`) that is a stride of two, and its hash table
/// then reported far more false candidates than with a stride of one, which a one- or two-byte literal forces.
/// Measured (interleaved runs, other work paused): Hyperscan's scan of 143 MB of site-packages text took
/// 117 → 84 ms of CPU, the same rules without the generic ones 65 → 55 ms; a two-byte literal did as well,
/// a three-byte one nothing. `C0 FF` never occurs in UTF-8 (0xC0 starts only overlong forms) and is rare in
/// binary data, so its reports, one ignored callback each, cost nothing measurable on real input. A one-byte
/// `0xFF` was tried first: binary padding (runs of 0xFF) then cost one callback per byte (100 MB of 0xFF:
/// 1.4 s instead of 0.03 s), and Hyperscan's `SINGLEMATCH` flag, which would report it once, also lost the
/// stride's gain. The worst input is now `C0 FF` repeated: about 0.6 s per 100 MB, still linear.
pub(super) const STRIDE_ONE_SENTINEL: &str = r"\xc0\xff";

/// A literal as a Hyperscan expression (every non-alphanumeric byte escaped).
fn literal(word: &[u8]) -> String {
    word.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

pub(super) fn entries_for(ri: usize, rule: &Rule) -> Vec<Entry> {
    if !super::uses_context_prefilter(rule) {
        let pf = &rule.prefilter;
        return vec![Entry {
            rule: ri as u32,
            expression: pf.expression.clone(),
            caseless: false,
            // A report ends the expression's match, which starts where the rule's match starts: at most the
            // expression's own longest match before the report (a keyword, an operator and a few bytes of
            // value, where the rule's bound counts a 200-byte value too).
            before: pf.max_len.map_or(rule.max_len, |m| m.min(rule.max_len)),
            // A cut expression reports before the match's end: the match ends at most the rule's bound after
            // its start, which lies at least the expression's shortest match before the report.
            after: if pf.truncated {
                rule.max_len.saturating_sub(pf.min_len)
            } else {
                0
            },
        }];
    }
    rule.context_lower
        .iter()
        .map(|w| {
            let (before_start, after_start) = context_window_bounds(rule, w.len());
            Entry {
                rule: ri as u32,
                expression: literal(w),
                caseless: true,
                // Reports give the word's end: the window starts `before_start` before the word's start.
                before: before_start + w.len(),
                after: after_start.saturating_sub(w.len()),
            }
        })
        .collect()
}

/// What a cached database needs besides its bytes: which of the rule set's entries it holds (compile
/// failures drop some) and the rules searched without prefilter. The warnings compiling produced are not
/// stored: a cache hit rebuilds them from the rule set, so no text from the cache file is ever printed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheMeta {
    kept: Vec<usize>,
    unanchored: Vec<u32>,
    #[serde(skip)]
    warnings: Vec<String>,
}

/// Cache key: everything the compiled database depends on (keysweep and Hyperscan versions, the target, every
/// expression with its flags and id), not merely the rule ids.
fn cache_key(entries: &[Entry], rules: usize) -> String {
    let mut text = format!(
        "{}|{}|{}|{}|{rules}|{STRIDE_ONE_SENTINEL}\n",
        env!("CARGO_PKG_VERSION"),
        hyperscan::version_str().to_string_lossy(),
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    for e in entries {
        text.push_str(&format!(
            "{}|{}|{}|{}|{}\n",
            e.rule, e.caseless, e.before, e.after, e.expression
        ));
    }
    super::cache::key(&[text.as_bytes()])
}

/// The database's patterns: the entries kept, their ids their positions in `kept`, then the stride sentinel,
/// whose id is past every entry's so that its reports are ignored (see `STRIDE_ONE_SENTINEL`; it also keeps
/// the database from being empty, which Hyperscan refuses).
fn database_patterns(all: &[Entry], kept: &[usize]) -> Vec<Pattern> {
    let mut pats: Vec<Pattern> = kept
        .iter()
        .map(|&i| &all[i])
        .enumerate()
        .map(|(id, e)| Pattern {
            expression: e.expression.clone(),
            flags: if e.caseless {
                PatternFlags::CASELESS
            } else {
                PatternFlags::empty()
            },
            id: Some(id),
            ext: Default::default(),
            som: None,
        })
        .collect();
    pats.push(Pattern {
        expression: STRIDE_ONE_SENTINEL.to_string(),
        flags: PatternFlags::empty(),
        id: Some(kept.len()),
        ext: Default::default(),
        som: None,
    });
    pats
}

/// The Hyperscan entries of every rule, in rule order.
fn all_entries(rules: &[Rule]) -> Vec<Entry> {
    rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| entries_for(i, r))
        .collect()
}

impl HyperscanMatcher {
    pub fn new(rules: &[Rule]) -> Result<(Self, Vec<String>)> {
        let all = all_entries(rules);
        let ids: Vec<&str> = rules.iter().map(|r| r.spec.id.as_str()).collect();
        Self::build(&all, &ids, CACHE_KIND)
    }

    /// A database over `all`, the entries of some or all of the rules (rule indexes into `ids`, the ids of
    /// the whole rule set), from the cache entries of `kind` when one fits, else compiled (and cached).
    pub(super) fn build(all: &[Entry], ids: &[&str], kind: &str) -> Result<(Self, Vec<String>)> {
        let key = cache_key(all, ids.len());
        if let Some((meta, bytes)) = super::cache::load::<CacheMeta>(kind, &key) {
            if let Some(m) = Self::from_cache(ids, all, meta, &bytes) {
                return Ok(m);
            }
        }
        let (db, meta) = Self::compile(ids, all)?;
        if super::cache::enabled() {
            if let Ok(bytes) = db.serialize() {
                super::cache::store(kind, &key, &meta, &bytes);
            }
        }
        Self::assemble(db, all, meta, ids.len())
    }

    /// Rebuild a matcher from a cache entry; `None` when the entry does not fit (then we recompile). The
    /// entries kept must be exactly those of the rules not searched unanchored, in order (what `compile`
    /// produces), and the warnings are rebuilt from the rule set.
    fn from_cache(
        ids: &[&str],
        all: &[Entry],
        mut meta: CacheMeta,
        bytes: &[u8],
    ) -> Option<(Self, Vec<String>)> {
        if meta.unanchored.iter().any(|&r| r as usize >= ids.len()) {
            return None;
        }
        let expected: Vec<usize> = (0..all.len())
            .filter(|&i| !meta.unanchored.contains(&all[i].rule))
            .collect();
        if meta.kept != expected {
            return None;
        }
        meta.warnings = meta
            .unanchored
            .iter()
            .map(|&r| {
                format!(
                    "rule {}: Hyperscan cannot compile it (the reason is shown when compiling with \
                     --no-cache); searched without prefilter",
                    ids[r as usize]
                )
            })
            .collect();
        let db: BlockDatabase = bytes.deserialize().ok()?;
        Self::assemble(db, all, meta, ids.len()).ok()
    }

    fn assemble(
        db: BlockDatabase,
        all: &[Entry],
        meta: CacheMeta,
        rules: usize,
    ) -> Result<(Self, Vec<String>)> {
        let entries = meta.kept.iter().map(|&i| all[i].clone()).collect();
        let scratch = db
            .alloc_scratch()
            .map_err(|e| anyhow!("hyperscan scratch: {e}"))?;
        Ok((
            HyperscanMatcher {
                db,
                scratch: Mutex::new(vec![scratch]),
                entries,
                unanchored: meta.unanchored,
                rules,
            },
            meta.warnings,
        ))
    }

    /// Compile the database over `all`, dropping (with a warning) rules Hyperscan refuses. Returns the
    /// indexes of the entries kept, in database-id order.
    fn compile(ids: &[&str], all: &[Entry]) -> Result<(BlockDatabase, CacheMeta)> {
        let mut warnings = Vec::new();
        let mut unanchored = Vec::new();
        let mut kept: Vec<usize> = (0..all.len()).collect();
        let db: BlockDatabase = loop {
            let pats = database_patterns(all, &kept);
            match Patterns(pats).build::<BlockMode>() {
                Ok(db) => break db,
                Err(hyperscan::Error::Hyperscan(HsError::CompileError(ce))) => {
                    let Some(i) = ce.expression().filter(|&i| i < kept.len()) else {
                        return Err(anyhow!("hyperscan: {}", ce.message()));
                    };
                    let ri = all[kept[i]].rule;
                    warnings.push(format!(
                        "rule {}: Hyperscan cannot compile it ({}); searched without prefilter",
                        ids[ri as usize],
                        ce.message()
                    ));
                    kept.retain(|&k| all[k].rule != ri);
                    unanchored.push(ri);
                }
                Err(e) => return Err(anyhow!("hyperscan: {e}")),
            }
        };
        Ok((
            db,
            CacheMeta {
                kept,
                unanchored,
                warnings,
            },
        ))
    }

    fn take_scratch(&self) -> Result<Scratch> {
        let mut pool = self
            .scratch
            .lock()
            .map_err(|_| anyhow!("scratch pool poisoned"))?;
        match pool.pop() {
            Some(s) => Ok(s),
            None => self
                .db
                .alloc_scratch()
                .map_err(|e| anyhow!("hyperscan scratch: {e}")),
        }
    }

    fn give_scratch(&self, s: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(s);
        }
    }
}

impl Matcher for HyperscanMatcher {
    fn name(&self) -> &'static str {
        "hyperscan"
    }

    fn candidates(&self, hay: &[u8], out: &mut Vec<Candidate>) -> Result<()> {
        // Hyperscan takes a u32 length: scan huge inputs in overlapping chunks.
        const CHUNK: usize = 1 << 30;
        const OVERLAP: usize = 2 * keysweep_rules::MAX_MATCH_LEN;
        let scratch = self.take_scratch()?;
        let mut last = vec![usize::MAX; self.rules];
        let mut base = 0usize;
        let res = loop {
            let end = (base + CHUNK).min(hay.len());
            let chunk = &hay[base..end];
            let r = self.db.scan(
                chunk,
                &scratch,
                |id: u32, _from: u64, to: u64, _flags: u32| {
                    let Some(e) = self.entries.get(id as usize) else {
                        return Matching::Continue;
                    };
                    let to = base + to as usize;
                    let (start, stop) = (
                        to.saturating_sub(e.before),
                        to.saturating_add(e.after).min(hay.len()),
                    );
                    // Extend this rule's last window when the new one overlaps it (reports arrive by end offset).
                    let slot = &mut last[e.rule as usize];
                    if let Some(c) = out
                        .get_mut(*slot)
                        .filter(|c| c.rule == e.rule && start <= c.end)
                    {
                        c.end = c.end.max(stop);
                        c.start = c.start.min(start);
                    } else {
                        *slot = out.len();
                        out.push(Candidate {
                            rule: e.rule,
                            start,
                            end: stop,
                        });
                    }
                    Matching::Continue
                },
            );
            if let Err(e) = r {
                break Err(anyhow!("hyperscan scan: {e}"));
            }
            if end == hay.len() {
                break Ok(());
            }
            base = end - OVERLAP;
        };
        self.give_scratch(scratch);
        for &r in &self.unanchored {
            out.push(Candidate {
                rule: r,
                start: 0,
                end: hay.len(),
            });
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(m: &HyperscanMatcher, hay: &[u8]) -> Vec<Candidate> {
        let mut out = Vec::new();
        m.candidates(hay, &mut out).expect("scan");
        out.sort();
        out
    }

    #[test]
    fn windows_reach_back_only_as_far_as_the_prefilter_matches() {
        let rs = crate::engine::test_rules(
            r#"
[[rule]]
id = "t.kw"
name = "Keyword"
provider = "X"
category = "generic"
pattern = '''(?i:token|key)[ \t]{0,3}=[ \t]{0,3}(?P<secret>[A-Za-z0-9]{10,220})'''
examples = ["token = 0123456789abcdef"]
negative_examples = ["token = short"]
"#,
        );
        let ri = crate::engine::test_rule_index(&rs, "t.kw");
        let rule = &rs.rules[ri];
        let e = &entries_for(ri, rule)[0];
        // The prefilter (keyword, operator, ten value bytes) matches at most 22 bytes: a match starts no
        // earlier than that before a report, though the rule's own bound is 230 bytes.
        assert_eq!(rule.max_len, 5 + 3 + 1 + 3 + 220);
        assert_eq!(e.before, 5 + 3 + 1 + 3 + 10);
        assert_eq!(e.after, rule.max_len - (3 + 1 + 10));
        // The window of a value far into a long line starts at the keyword, and the match is found whole.
        let value = "Q7wX9kL2vN4mB8zR".repeat(12); // keysweep:allow (synthetic)
        let hay = format!("{}  token = {value}\n", "y".repeat(400));
        let (m, _) = HyperscanMatcher::new(&rs.rules).expect("new");
        let c: Vec<Candidate> = candidates(&m, hay.as_bytes())
            .into_iter()
            .filter(|c| c.rule as usize == ri)
            .collect();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].start, 402 + 8 + 10 - e.before);
        let found = crate::engine::find_all(&m, &rs.rules, hay.as_bytes()).expect("find");
        let f: Vec<_> = found.iter().filter(|f| f.rule == ri).collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(&hay[f[0].secret_start..f[0].secret_end], value);
    }

    #[test]
    fn every_database_holds_a_two_byte_literal_whose_reports_are_no_candidates() {
        let rs = crate::engine::test_rules("");
        let all = all_entries(&rs.rules);
        // The shortest literal of every database is two bytes (so Hyperscan's literal matcher reads with a
        // stride of one), also a database over no entry at all, and it comes after every entry's id.
        for kept in [(0..all.len()).collect::<Vec<_>>(), vec![]] {
            let pats = database_patterns(&all, &kept);
            let last = pats.last().expect("sentinel");
            assert_eq!(last.id, Some(kept.len()));
            // C0 FF: never in UTF-8 text.
            assert_eq!(last.expression, r"\xc0\xff");
        }
        // Its reports are ignored: a haystack full of it next to a key yields the key's window only.
        let (m, _) = HyperscanMatcher::new(&rs.rules).expect("new");
        let mut hay = [0xc0u8, 0xff].repeat(150);
        hay.extend_from_slice(b" AKIA4QXZ7RB2MNV5KD3Y "); // keysweep:allow (synthetic)
        hay.extend([0xc0u8, 0xff].repeat(150));
        let c = candidates(&m, &hay);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(rs.rules[c[0].rule as usize].spec.id, "t.aws");
        let found = crate::engine::find_all(&m, &rs.rules, &hay).expect("find");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(candidates(&m, &[0xc0u8, 0xff].repeat(32)).is_empty());
        // Binary padding (a run of 0xFF) reports nothing at all (a one-byte 0xFF reported every byte).
        let scratch = m.take_scratch().expect("scratch");
        let mut reports = 0usize;
        m.db.scan(&[0xffu8; 4096][..], &scratch, |_, _, _, _| {
            reports += 1;
            Matching::Continue
        })
        .expect("scan");
        assert_eq!(reports, 0);
    }

    #[test]
    fn cached_database_matches_like_a_fresh_one_and_bad_bytes_are_refused() {
        let rs = crate::engine::test_rules("");
        let all = all_entries(&rs.rules);
        let ids: Vec<&str> = rs.rules.iter().map(|r| r.spec.id.as_str()).collect();
        let (db, meta) = HyperscanMatcher::compile(&ids, &all).expect("compile");
        let bytes = db.serialize().expect("serialize").to_vec();
        let (fresh, _) = HyperscanMatcher::new(&rs.rules).expect("new");
        let json = serde_json::to_vec(&meta).expect("meta");
        let meta2: CacheMeta = serde_json::from_slice(&json).expect("meta back");
        let (cached, _) =
            HyperscanMatcher::from_cache(&ids, &all, meta2, &bytes).expect("from cache");
        let hay = b"x AKIA4QXZ7RB2MNV5KD3Y y\nMISTRAL_KEY=0123456789abcdefghijklmnopqrstuv\n"; // keysweep:allow (synthetic)
        let c = candidates(&cached, hay);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c, candidates(&fresh, hay));
        // Garbage, truncated bytes, or indexes that do not fit the rule set: a miss, never a panic.
        let meta_of = || serde_json::from_slice::<CacheMeta>(&json).expect("meta");
        assert!(HyperscanMatcher::from_cache(&ids, &all, meta_of(), b"garbage").is_none());
        assert!(
            HyperscanMatcher::from_cache(&ids, &all, meta_of(), &bytes[..bytes.len() / 2])
                .is_none()
        );
        let mut bad = meta_of();
        bad.kept.push(all.len() + 5);
        assert!(HyperscanMatcher::from_cache(&ids, &all, bad, &bytes).is_none());
        // Kept entries that do not follow from the unanchored rules (the review's "keep nothing") are refused.
        let mut bad = meta_of();
        bad.kept.clear();
        assert!(HyperscanMatcher::from_cache(&ids, &all, bad, &bytes).is_none());
        // Warnings are rebuilt from the rule set; stored text is never read.
        let forged: CacheMeta = serde_json::from_str(
            r#"{"kept":[],"unanchored":[],"warnings":["x"]}"#,
        )
        .unwrap_or(CacheMeta {
            kept: vec![],
            unanchored: vec![],
            warnings: vec![],
        });
        assert!(forged.warnings.is_empty());
        let unanchored = CacheMeta {
            kept: (0..all.len()).filter(|&i| all[i].rule != 1).collect(),
            unanchored: vec![1],
            warnings: vec![],
        };
        let (_, warnings) =
            HyperscanMatcher::from_cache(&ids, &all, unanchored, &bytes).expect("fits");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("rule t.ctx: Hyperscan cannot compile it"),
            "{warnings:?}"
        );
        // The key changes with any expression, flag or window.
        let k = cache_key(&all, rs.rules.len());
        let mut changed = all.clone();
        changed[0].caseless = !changed[0].caseless;
        assert_ne!(k, cache_key(&changed, rs.rules.len()));
        assert_eq!(k, cache_key(&all, rs.rules.len()));
    }
}
