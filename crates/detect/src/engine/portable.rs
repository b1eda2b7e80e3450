//! Portable matcher: an Aho-Corasick automaton over every rule's literal prefixes (extracted from the
//! pattern), so a hit marks a place where a match may start; rules with provider context are found through
//! their context words instead (window: context reach around the word). Rules without a usable literal are
//! searched over the whole haystack. Pure Rust; the differential-testing oracle for Hyperscan.
use super::{Candidate, Matcher};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use anyhow::{anyhow, Result};
use keysweep_rules::Rule;

pub struct PortableMatcher {
    ac: AhoCorasick,
    /// For each AC pattern, the rules it serves and the window around a hit's start: (rule, before, after).
    owners: Vec<Vec<(u32, usize, usize)>>,
    /// Rules with no literal prefix: searched everywhere.
    unanchored: Vec<u32>,
}

impl PortableMatcher {
    pub fn new(rules: &[Rule]) -> Result<Self> {
        let mut lits_all: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<(u32, usize, usize)>> = Vec::new();
        let mut index = std::collections::HashMap::<Vec<u8>, usize>::new();
        let mut unanchored = Vec::new();
        for (ri, r) in rules.iter().enumerate() {
            // Unprefixed rules with provider context are found through their context words (both engines).
            let lits: Option<Vec<(Vec<u8>, usize, usize)>> = if super::uses_context_prefilter(r) {
                Some(
                    r.context_lower
                        .iter()
                        .map(|w| {
                            let (b, a) = super::context_window_bounds(r, w.len());
                            (w.clone(), b, a)
                        })
                        .collect(),
                )
            } else {
                r.prefixes
                    .clone()
                    .map(|ps| ps.into_iter().map(|p| (p, 0, r.max_len)).collect())
            };
            match lits {
                Some(ps) => {
                    for (p, before, after) in ps {
                        let k = *index.entry(p.clone()).or_insert_with(|| {
                            lits_all.push(p);
                            owners.push(Vec::new());
                            lits_all.len() - 1
                        });
                        owners[k].push((ri as u32, before, after));
                    }
                }
                None => unanchored.push(ri as u32),
            }
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&lits_all)
            .map_err(|e| anyhow!("building literal automaton: {e}"))?;
        Ok(PortableMatcher {
            ac,
            owners,
            unanchored,
        })
    }
}

impl Matcher for PortableMatcher {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn candidates(&self, hay: &[u8], out: &mut Vec<Candidate>) -> Result<()> {
        for m in self.ac.find_overlapping_iter(hay) {
            let p = m.start();
            for &(r, before, after) in &self.owners[m.pattern().as_usize()] {
                out.push(Candidate {
                    rule: r,
                    start: p.saturating_sub(before),
                    end: p.saturating_add(after).min(hay.len()),
                });
            }
        }
        for &r in &self.unanchored {
            out.push(Candidate {
                rule: r,
                start: 0,
                end: hay.len(),
            });
        }
        Ok(())
    }
}
