//! Redaction of everything a report or a warning shows that came from scanned content. A secret does not only
//! sit in a finding's `secret` field: it can be part of a path (a file named after a token, an image label
//! key), of provenance (a commit message summary, a notebook field) or of a warning (a skipped file's name).
//! A `Redactor` knows every secret the run saw — the findings' secrets, including those later suppressed,
//! plus the secrets the scanner finds in those strings themselves — and replaces each occurrence, in every
//! string, by the same redacted form `keysweep_model::finding::redact` gives the `secret` field. Owns the
//! scrubbing only: which formats redact is decided in `redacts` (this crate's root); which secrets exist is
//! the caller's input.
use aho_corasick::{AhoCorasick, MatchKind};
use keysweep_model::{redact, Finding};
use serde_json::Value;
use std::borrow::Cow;

/// Secrets shorter than this are not scrubbed from other strings: a short value (a 4-character password
/// found by a keyword rule) would blank out ordinary words of paths and messages. The `secret` field itself
/// is always redacted.
const MIN_SCRUB_LEN: usize = 6;

/// Replaces known secrets in text by their redacted form.
#[derive(Debug, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    replacements: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets (duplicates and short values are dropped).
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .filter(|s| s.len() >= MIN_SCRUB_LEN)
            .collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            return Redactor::default();
        }
        // Leftmost-longest: of two secrets that overlap at one place, the longer one is replaced whole.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&list)
            .ok();
        let replacements = list.iter().map(|s| redact(s)).collect();
        Redactor {
            matcher,
            replacements,
        }
    }

    /// Whether this redactor replaces nothing.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret replaced by its redacted form.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(m) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        if !m.is_match(text) {
            return Cow::Borrowed(text);
        }
        Cow::Owned(m.replace_all(text, &self.replacements))
    }

    fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(s) = self.scrub(text) {
            *text = s;
        }
    }

    fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => self.scrub_in_place(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub_value(i)),
            Value::Object(map) => {
                // Keys can come from scanned content too (a label, a JSON field name): rebuild the map only
                // when one needs scrubbing.
                if map.keys().any(|k| matches!(self.scrub(k), Cow::Owned(_))) {
                    let old = std::mem::take(map);
                    for (k, mut val) in old {
                        self.scrub_value(&mut val);
                        map.insert(self.scrub(&k).into_owned(), val);
                    }
                } else {
                    map.values_mut().for_each(|val| self.scrub_value(val));
                }
            }
            _ => {}
        }
    }

    /// `f` with its secret redacted (`Finding::redact_in_place`) and every string from scanned content
    /// scrubbed (`scrub_finding`): what a redacting report writes and what the datastore keeps.
    pub fn redacted(&self, f: &Finding) -> Finding {
        let mut f = f.clone();
        f.redact_in_place();
        self.scrub_finding(&mut f);
        f
    }

    /// Scrub every string of a finding that came from scanned content: location paths and provenance, and
    /// the verifier's detail and identity. The `secret` field is left to `Finding::redact_in_place`.
    pub fn scrub_finding(&self, f: &mut Finding) {
        if self.is_empty() {
            return;
        }
        for l in &mut f.locations {
            if let Cow::Owned(p) = self.scrub(&l.path) {
                l.path = p.into();
            }
            // Provenance keys are fixed names chosen by keysweep; values may come from content.
            l.meta.map_strings(|s| self.scrub_in_place(s));
            l.meta
                .detail
                .extra
                .values_mut()
                .for_each(|v| self.scrub_value(v));
        }
        if let Some(v) = &mut f.verification {
            if let Some(d) = &mut v.detail {
                self.scrub_in_place(d);
            }
            if let Some(i) = &mut v.identity {
                self.scrub_in_place(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_replaced_by_the_redacted_form() {
        let r = Redactor::new(["abcdefghijklmnop", "abcdefghijklmnopqrstuvwx"]);
        let s = r.scrub("x abcdefghijklmnopqrstuvwx y abcdefghijklmnop z");
        assert_eq!(
            s,
            format!(
                "x {} y {} z",
                redact("abcdefghijklmnopqrstuvwx"),
                redact("abcdefghijklmnop")
            )
        );
        assert!(!s.contains("mnop"));
    }

    #[test]
    fn text_without_secrets_is_borrowed_and_short_values_are_not_scrubbed() {
        let r = Redactor::new(["abc", "secretvalue1"]);
        assert!(matches!(r.scrub("abc def"), Cow::Borrowed(_)));
        assert!(Redactor::new(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn nested_values_and_keys_are_scrubbed() {
        let r = Redactor::new(["TOPSECRETVALUE"]);
        let mut v = serde_json::json!({"a": ["x TOPSECRETVALUE"], "TOPSECRETVALUE": 1});
        r.scrub_value(&mut v);
        assert!(!v.to_string().contains("TOPSECRETVALUE"), "{v}");
    }
}
