//! Hyperscan matcher: every rule compiled into one block-mode database (SOM_LEFTMOST, so each report gives
//! the leftmost start). Rules Hyperscan cannot compile with start-of-match tracking fall back to end-only
//! reports (window = end - max_len .. end); rules it cannot compile at all are searched over the whole
//! haystack, with a warning. Scratch space is pooled per thread.
use super::{Candidate, Matcher};
use crate::rules::Rule;
use anyhow::{anyhow, Result};
use hyperscan::prelude::*;
use hyperscan::{BlockMode, HsError, PatternFlags};
use std::sync::Mutex;

pub struct HyperscanMatcher {
    db: BlockDatabase,
    scratch: Mutex<Vec<Scratch>>,
    /// Per database id: (rule index, has start-of-match, max match length).
    ids: Vec<(u32, bool, usize)>,
    unanchored: Vec<u32>,
}

impl HyperscanMatcher {
    pub fn new(rules: &[Rule]) -> Result<(Self, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut entries: Vec<(u32, bool, usize)> = (0..rules.len())
            .map(|i| (i as u32, true, rules[i].max_len))
            .collect();
        let mut unanchored = Vec::new();
        let db: BlockDatabase = loop {
            let pats = Patterns(
                entries
                    .iter()
                    .enumerate()
                    .map(|(id, &(ri, som, _))| {
                        let mut flags = PatternFlags::empty();
                        if som {
                            flags |= PatternFlags::SOM_LEFTMOST;
                        }
                        Pattern {
                            expression: rules[ri as usize].hyperscan_expression(),
                            flags,
                            id: Some(id),
                            ext: Default::default(),
                            som: None,
                        }
                    })
                    .collect(),
            );
            if pats.0.is_empty() {
                // Hyperscan refuses an empty database: compile a pattern that cannot match a real haystack.
                let p = Pattern::with_flags(r"\x00keysweep-no-rules\x00", PatternFlags::empty())
                    .map_err(|e| anyhow!("{e}"))?;
                break Patterns(vec![p])
                    .build()
                    .map_err(|e| anyhow!("hyperscan: {e}"))?;
            }
            match pats.build::<BlockMode>() {
                Ok(db) => break db,
                Err(hyperscan::Error::Hyperscan(HsError::CompileError(ce))) => {
                    let Some(i) = ce.expression() else {
                        return Err(anyhow!("hyperscan: {}", ce.message()));
                    };
                    let (ri, som, _) = entries[i];
                    let id = &rules[ri as usize].spec.id;
                    if som {
                        entries[i].1 = false;
                    } else {
                        warnings.push(format!(
                            "rule {id}: Hyperscan cannot compile it ({}); searched without prefilter",
                            ce.message()
                        ));
                        entries.remove(i);
                        unanchored.push(ri);
                    }
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
                ids: entries,
                unanchored,
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
        const OVERLAP: usize = crate::rules::MAX_MATCH_LEN;
        let scratch = self.take_scratch()?;
        let mut base = 0usize;
        let res = loop {
            let end = (base + CHUNK).min(hay.len());
            let chunk = &hay[base..end];
            let r = self.db.scan(
                chunk,
                &scratch,
                |id: u32, from: u64, to: u64, _flags: u32| {
                    let (rule, som, max_len) = self.ids[id as usize];
                    let to = base + to as usize;
                    let start = if som {
                        base + from as usize
                    } else {
                        to.saturating_sub(max_len)
                    };
                    out.push(Candidate {
                        rule,
                        start,
                        end: to,
                    });
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
