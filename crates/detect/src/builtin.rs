//! The built-in rule set through the on-disk cache (`engine::cache`, kind `rules`): loading the catalogue
//! parses every rule file and every pattern and extracts its literals and prefilter, about ten milliseconds
//! that dominated the pre-commit hook's warm start. The cache entry holds the loaded `RuleSet` (without
//! compiled regexes, which stay compiled on first use), keyed by keysweep's version, the digest of the code that
//! loads rules (`RuleSet::code_digest`) and the text of every embedded rule file, so any change to a rule
//! file or to that code is a miss. A missing, corrupt or
//! unreadable entry is a miss: the catalogue is loaded from its text and the entry rewritten. Owns nothing
//! else: the rule format is `keysweep_rules`, the file format and its safety rules are `engine::cache`.
use crate::engine::cache;
use keysweep_rules::RuleSet;

const CACHE_KIND: &str = "rules";
/// Bumped when what is stored changes shape.
const FORMAT: &[u8] = b"ruleset 2";

/// The cache key of the embedded catalogue.
fn key() -> String {
    key_for(RuleSet::code_digest())
}

/// The cache key of the embedded catalogue as loaded by the rules code of digest `code`: keysweep's version
/// alone does not change between builds, and the entry holds what that code derived (literals, prefilters,
/// format markers).
fn key_for(code: &str) -> String {
    let mut parts: Vec<&[u8]> = vec![
        FORMAT,
        env!("CARGO_PKG_VERSION").as_bytes(),
        code.as_bytes(),
    ];
    for (name, text) in RuleSet::embedded_sources() {
        parts.push(name.as_bytes());
        parts.push(text.as_bytes());
    }
    cache::key(&parts)
}

/// `RuleSet::embedded()`, from the cache when it holds this catalogue.
pub fn rules() -> RuleSet {
    if !cache::enabled() {
        return RuleSet::embedded();
    }
    let key = key();
    if let Some(((), bytes)) = cache::load::<()>(CACHE_KIND, &key) {
        if let Ok(rules) = serde_json::from_slice::<RuleSet>(&bytes) {
            return rules;
        }
    }
    let rules = RuleSet::embedded();
    if let Ok(bytes) = serde_json::to_vec(&rules) {
        cache::store(CACHE_KIND, &key, &(), &bytes);
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_catalogue_is_the_catalogue() {
        let fresh = RuleSet::embedded();
        let bytes = serde_json::to_vec(&fresh).expect("serialise");
        let back: RuleSet = serde_json::from_slice(&bytes).expect("deserialise");
        assert_eq!(back.rules.len(), fresh.rules.len());
        assert_eq!(back.errors, fresh.errors);
        // Everything a rule's behaviour depends on survives the round trip (the specs' digest covers
        // patterns, checks, thresholds, context and examples; the derived fields are compared one by one).
        assert_eq!(back.digest(), fresh.digest());
        for (a, b) in back.rules.iter().zip(&fresh.rules) {
            assert_eq!(format!("{:?}", a.spec), format!("{:?}", b.spec));
            assert_eq!(a.file, b.file);
            assert_eq!(a.max_len, b.max_len);
            assert_eq!(a.prefixes, b.prefixes);
            assert_eq!(a.required, b.required);
            assert_eq!(a.secret_prefixes, b.secret_prefixes);
            assert_eq!(a.prefilter, b.prefilter);
            assert_eq!(a.context_window, b.context_window);
            assert_eq!(a.context_lower, b.context_lower);
            assert_eq!(a.secret_group, b.secret_group);
        }
    }

    /// The same rule files loaded by other rules code are another entry: a build whose code derives other
    /// literals, prefilters or format markers from unchanged files must not read an older build's entry.
    #[test]
    fn the_cache_key_changes_with_the_code_that_loads_rules() {
        assert_eq!(key(), key_for(RuleSet::code_digest()));
        assert_ne!(key_for("0000000000000000"), key_for("0000000000000001"));
        assert_eq!(RuleSet::code_digest().len(), 16);
    }
}
