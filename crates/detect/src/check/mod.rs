//! Checks turn candidate matches into findings or drop them: placeholder and decoy rejection, per-rule reject
//! patterns, entropy floors, format checksums, provider context and the generic-value filter. Pure functions
//! over bytes; no I/O.
use crate::engine::RawMatch;
use keysweep_rules::Rule;
/// The context-window test lives with the rules (the engine uses it too); re-exported for the checks.
pub use keysweep_rules::{contains_ignore_case, context_near};

pub mod checksum;
pub mod entropy;
pub mod generic;
pub mod placeholder;

/// Why a candidate was dropped (counted in stats; useful when debugging rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Placeholder,
    RuleReject,
    Entropy,
    Checksum,
    Context,
    Generic,
}

/// Run every check of `rule` on match `m` in `hay`. Returns the secret's entropy when it passes.
pub fn check(rule: &Rule, hay: &[u8], m: &RawMatch) -> Result<f64, Reject> {
    let secret = &hay[m.secret_start..m.secret_end];
    if placeholder::is_placeholder(secret) {
        return Err(Reject::Placeholder);
    }
    if rule.reject().iter().any(|r| r.is_match(secret)) {
        return Err(Reject::RuleReject);
    }
    let h = entropy::shannon(secret);
    if let Some(min) = rule.spec.min_entropy {
        if h < min {
            return Err(Reject::Entropy);
        }
    }
    if let Some(c) = &rule.spec.checksum {
        if !checksum::verify(c, secret) {
            return Err(Reject::Checksum);
        }
    }
    if !rule.context_lower.is_empty() && !has_context(rule, hay, m) {
        return Err(Reject::Context);
    }
    if rule.spec.generic
        && (!generic::looks_like_secret(secret)
            || generic::key_names_a_non_secret(key_around(hay, m.start))
            || inside_arn(hay, m.start))
    {
        return Err(Reject::Generic);
    }
    Ok(h)
}

/// The key name around `at` (where a keyword-assignment match starts): the run of identifier bytes
/// (`[A-Za-z0-9_.-]`, at most 64 each way) that holds it, e.g. `NextToken` for a match starting at `Token`.
fn key_around(hay: &[u8], at: usize) -> &[u8] {
    let key = |b: &u8| b.is_ascii_alphanumeric() || b"_.-".contains(b);
    let at = at.min(hay.len());
    let before = hay[..at]
        .iter()
        .rev()
        .take(64)
        .take_while(|b| key(b))
        .count();
    let after = hay[at..].iter().take(64).take_while(|b| key(b)).count();
    &hay[at - before..at + after]
}

/// Whether `at` lies inside an AWS resource name (`arn:aws:secretsmanager:…:secret:MyDbSecret-a1b2c3`): the
/// token holding it (no whitespace, quotes or brackets, at most 256 bytes back) starts with `arn:`.
fn inside_arn(hay: &[u8], at: usize) -> bool {
    let at = at.min(hay.len());
    let token = |b: &u8| !b.is_ascii_whitespace() && !b"\"'`,;()[]{}<>".contains(b);
    let back = hay[..at]
        .iter()
        .rev()
        .take(256)
        .take_while(|b| token(b))
        .count();
    hay[at - back..].starts_with(b"arn:")
}

/// Whether one of the rule's context words sits within its window around the match (case-insensitive),
/// as a word of its own: an occurrence inside a random-looking token (`…ISAwsHq…` in another key) is noise.
fn has_context(rule: &Rule, hay: &[u8], m: &RawMatch) -> bool {
    let from = m.start.saturating_sub(rule.context_window);
    let to = m.end.saturating_add(rule.context_window).min(hay.len());
    let from = from.min(to);
    let window = &hay[from..to];
    let is_word = |s: usize, e: usize| !inside_random_token(hay, from + s, from + e);
    match rule.context_finder() {
        Some(f) => f
            .find_overlapping_iter(window)
            .any(|o| is_word(o.start(), o.end())),
        None => rule.context_lower.iter().any(|w| {
            window
                .windows(w.len().max(1))
                .enumerate()
                .any(|(i, x)| x.eq_ignore_ascii_case(w) && is_word(i, i + w.len()))
        }),
    }
}

/// Whether `start..end` lies inside (not at the start of) a run of 16 or more letters and digits that holds
/// a digit: a token such as a key or a hash, not a name. A token that starts with the word (`AKIA…` as the
/// context of an AWS secret) counts.
fn inside_random_token(hay: &[u8], start: usize, end: usize) -> bool {
    let alnum = |b: &&u8| b.is_ascii_alphanumeric();
    if !hay[start..end].iter().all(|b| alnum(&b)) {
        return false;
    }
    let before = hay[..start].iter().rev().take_while(alnum).count();
    let after = hay[end..].iter().take_while(alnum).count();
    let run = &hay[start - before..end + after];
    before > 0 && run.len() >= 16 && run.iter().any(u8::is_ascii_digit)
}
