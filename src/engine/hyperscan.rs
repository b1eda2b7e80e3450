//! Hyperscan matcher: one block-mode database holds, for every rule, either its prefilter expression
//! (`Rule::hyperscan_expression`: the pattern with large repetition counts relaxed, a superset of its
//! matches) or, for rules with provider context, the context words (caseless literals). A report ending at
//! `end` yields the window `end - before .. end + after` (see `Entry`), which holds every true match the
//! report stands for; windows of one rule that overlap are merged as they arrive, so a long run of reports
//! costs one candidate. Start-of-match tracking is not used: it made compilation ~10x slower and the confirm
//! step finds exact starts anyway. Rules Hyperscan cannot compile are searched over the whole haystack, with
//! a warning. Scratch space is pooled.
use super::{context_window_bounds, Candidate, Matcher};
use crate::rules::Rule;
use anyhow::{anyhow, Result};
use hyperscan::prelude::*;
use hyperscan::{BlockMode, HsError, PatternFlags};
use std::sync::Mutex;

/// One database expression: which rule it serves and how far its window reaches around a report's end.
#[derive(Debug, Clone)]
struct Entry {
    rule: u32,
    expression: String,
    caseless: bool,
    before: usize,
    after: usize,
}

pub struct HyperscanMatcher {
    db: BlockDatabase,
    scratch: Mutex<Vec<Scratch>>,
    entries: Vec<Entry>,
    unanchored: Vec<u32>,
    /// Number of rules (candidate rule indexes are below it).
    rules: usize,
}

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

fn entries_for(ri: usize, rule: &Rule) -> Vec<Entry> {
    if !super::uses_context_prefilter(rule) {
        return vec![Entry {
            rule: ri as u32,
            expression: rule.hyperscan_expression(),
            caseless: false,
            before: rule.max_len,
            after: 0,
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

impl HyperscanMatcher {
    pub fn new(rules: &[Rule]) -> Result<(Self, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut entries: Vec<Entry> = rules
            .iter()
            .enumerate()
            .flat_map(|(i, r)| entries_for(i, r))
            .collect();
        let mut unanchored = Vec::new();
        let db: BlockDatabase = loop {
            let mut pats: Vec<Pattern> = entries
                .iter()
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
            if pats.is_empty() {
                // Hyperscan refuses an empty database: compile a pattern no real haystack holds.
                pats.push(
                    Pattern::with_flags(r"\x00keysweep-no-rules\x00", PatternFlags::empty())
                        .map_err(|e| anyhow!("{e}"))?,
                );
            }
            match Patterns(pats).build::<BlockMode>() {
                Ok(db) => break db,
                Err(hyperscan::Error::Hyperscan(HsError::CompileError(ce))) => {
                    let Some(i) = ce.expression().filter(|&i| i < entries.len()) else {
                        return Err(anyhow!("hyperscan: {}", ce.message()));
                    };
                    let ri = entries[i].rule;
                    warnings.push(format!(
                        "rule {}: Hyperscan cannot compile it ({}); searched without prefilter",
                        rules[ri as usize].spec.id,
                        ce.message()
                    ));
                    entries.retain(|e| e.rule != ri);
                    unanchored.push(ri);
                }
                Err(e) => return Err(anyhow!("hyperscan: {e}")),
            }
        };
        let scratch = db
            .alloc_scratch()
            .map_err(|e| anyhow!("hyperscan scratch: {e}"))?;
        Ok((
            HyperscanMatcher {
                db,
                scratch: Mutex::new(vec![scratch]),
                entries,
                unanchored,
                rules: rules.len(),
            },
            warnings,
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
        const OVERLAP: usize = 2 * crate::rules::MAX_MATCH_LEN;
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
