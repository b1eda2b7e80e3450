//! Placeholder and decoy rejection shared by every rule: documented example keys, masked or templated values
//! (`xxxx`, `****`, `${VAR}`, `{{ x }}`, `<your-key>`), tutorial words (`your-key-here`), and sequences.
//! Judges only the secret's own bytes, so it stays cheap and rule-independent.

/// Documented example credentials copied into countless docs (TOKEN_FORMATS.md, section 7).
const KNOWN_DECOYS: &[&[u8]] = &[
    b"AKIAIOSFODNN7EXAMPLE",
    b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    b"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    b"ghp_PersonalAccessToken01245678900000000",
    b"ghp_A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0u",
    // Published Google sample `AIza` keys (TOKEN_FORMATS.md section 7): the `apiKey` of the example Firebase web
    // config object (Firebase setup documentation), copied into countless READMEs and tutorials.
    b"AIzaSyDOCAbC123dEf456GhI789jKl01-MnO",
];

/// Substrings that mark a value as illustrative wherever they appear (case-insensitive).
const MARKERS: &[&[u8]] = &[
    b"example",
    b"placeholder",
    b"changeme",
    b"change_me",
    b"redacted",
    b"your_api",
    b"your-api",
    b"yourapi",
    b"your_key",
    b"your-key",
    b"yourkey",
    b"your_token",
    b"your-token",
    b"your_secret",
    b"your-secret",
    b"insert_",
    b"insert-",
    b"replace_me",
    b"replace-me",
    b"replaceme",
    b"put_your",
    b"votre_cle",
    b"votre-cle",
    b"os.environ",
    b"process.env",
    b"getenv",
    b"secrets.",
    b"${",
    b"{{",
    b"}}",
    b"$(",
    b"((",
    b"%(",
    b"<%",
    b"...",
    b"***",
    b"0123456789",
    b"123456789",
    b"abcdefghij",
    // GitHub's documented password for a token given as the user name (`https://TOKEN:x-oauth-basic@…`,
    // `.netrc` `password x-oauth-basic`): a fixed literal, not a credential.
    b"x-oauth-basic",
];

/// Words that, standing alone between separators, mark a value as illustrative (`sk-your-key-here`).
const WORDS: &[&str] = &[
    "your", "here", "xxx", "xxxx", "dummy", "fake", "sample", "todo", "fixme", "mykey", "mytoken",
    "yourkey",
];

/// One automaton over `MARKERS`, built once: a `memmem::find` per marker built a searcher per marker on every
/// candidate (~112 ms of a `/usr/share/doc` scan, whose test logs give 98,000 candidates).
fn markers() -> &'static aho_corasick::AhoCorasick {
    static AC: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        // The patterns are a fixed list of short literals: building cannot fail on them.
        aho_corasick::AhoCorasick::new(MARKERS).expect("MARKERS are plain literals")
    })
}

/// Whether `s` is a placeholder or a documented decoy rather than a credential.
pub fn is_placeholder(s: &[u8]) -> bool {
    if KNOWN_DECOYS.contains(&s) || is_variable_reference(s) {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if markers().is_match(&lower) {
        return true;
    }
    if lower.contains(&b'<') && lower.contains(&b'>') && super::classify::bracketed_name(&lower) {
        return true;
    }
    // Runs of one character mark masks (`XXXXXXXX`, `00000000`) in tokens; long values such as key bodies
    // and session tokens legitimately hold runs (`AAAAAAAAAAAB`, `//////////`), so only short values count.
    if s.len() <= 200 && longest_alnum_run(s) >= 8 {
        return true;
    }
    if body_is_masked(&lower) {
        return true;
    }
    placeholder_words(&lower)
}

/// `$NAME`, `$env:NAME`, `%NAME%`, and the passphrase source `env:NAME` of OpenSSL, keytool and apksigner
/// (`-passin env:KS_PASS`, `--ks-pass env:KS_PASS`): a reference to a variable, not a value.
fn is_variable_reference(s: &[u8]) -> bool {
    let ident = |x: &[u8]| {
        !x.is_empty()
            && !x[0].is_ascii_digit()
            && x.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    if let Some(rest) = s.strip_prefix(b"$") {
        let rest = rest.strip_prefix(b"env:").unwrap_or(rest);
        return ident(rest);
    }
    if let Some(rest) = s.strip_prefix(b"env:") {
        return ident(rest);
    }
    s.len() > 2 && s[0] == b'%' && s[s.len() - 1] == b'%' && ident(&s[1..s.len() - 1])
}

/// Longest run of one alphanumeric character (case-sensitive).
fn longest_alnum_run(s: &[u8]) -> usize {
    let (mut best, mut cur, mut prev) = (0usize, 0usize, None);
    for &b in s {
        if !b.is_ascii_alphanumeric() {
            prev = None;
            cur = 0;
            continue;
        }
        if Some(b) == prev {
            cur += 1;
        } else {
            cur = 1;
            prev = Some(b);
        }
        best = best.max(cur);
    }
    best
}

/// The value after its prefix is made only of masking characters (`x`, `*`, `.`, `0`, `#`, `-`, `_`).
fn body_is_masked(lower: &[u8]) -> bool {
    let body_start = lower
        .iter()
        .rposition(|&b| b == b'_' || b == b'-')
        .map(|i| i + 1)
        .unwrap_or(0);
    let body = &lower[body_start.min(lower.len())..];
    body.len() >= 4 && body.iter().all(|b| b"x*.0#".contains(b))
}

/// Tokens split on separators; a value containing two or more placeholder words, or made only of
/// prefix words and one placeholder word, is a placeholder. A long random token is one "word" and never hits.
fn placeholder_words(lower: &[u8]) -> bool {
    let words: Vec<&[u8]> = lower
        .split(|b| !b.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() < 2 {
        return false;
    }
    let hits = words
        .iter()
        .filter(|w| WORDS.iter().any(|p| p.as_bytes() == **w))
        .count();
    let long_random = words.iter().any(|w| w.len() >= 16);
    hits >= 2 || (hits >= 1 && !long_random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rejected() {
        for p in [
            "AKIAIOSFODNN7EXAMPLE",
            "sk-proj-your-key-here",
            "sk-...your-key-here",
            "sk-or-v1-VOTRE_CLE",
            "xxxxxxxxxxxxxxxxxxxx",
            "sk_live_************************",
            "${OPENAI_API_KEY}",
            "{{ .Values.token }}",
            "<your-api-key>",
            "ghp_000000000000000000000000000000000000",
            "sk-ant-api03-XXXXXXXX",
            "AKIAXXXXXXXXXXXXXXXX",
            "sk-proj-your-api-key-here",
            "os.environ[\"KEY\"]",
            "$API_TOKEN_VALUE",
            "$env:OPENAI_API_KEY",
            "%DB_PASSWORD%",
            "env:KS_PASS",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn random_tokens_pass() {
        for t in [
            "ghp_R8xk2LmQ9vTz4NwYp7BcJd1Hf6GsKa3Ue0Vb",
            "sk-proj-Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja5Ue",
            "hf_QmvTzLkXwRbNcYdHpGsJaUeFiOlPnMtKcVqD",
            "AKIA4QXZ7RB2MNV5KD3Y", // keysweep:allow (synthetic)
            "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS7L0S5",
            "postgres://test_user:Qm3vT8zLk2Xw9Rb4@demo-db.internal:5432", // keysweep:allow (synthetic)
            "xoxb-7302958164023-4918273650192-Rk4TmWq9ZpLx2VnB7cYs3HdJ", // keysweep:allow (synthetic)
        ] {
            assert!(!is_placeholder(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn published_google_sample_keys_are_decoys() {
        assert!(is_placeholder(b"AIzaSyDOCAbC123dEf456GhI789jKl01-MnO"));
        // A key of the same shape that is not the published sample still passes.
        assert!(!is_placeholder(b"AIzaSyDOCAbC123dEf456GhI789jKl01-MnP")); // keysweep:allow (synthetic)
    }

    #[test]
    fn random_age_keys_pass() {
        // Every byte pattern, not one hand-picked key: the filter must not judge bech32 bodies as masks.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..32)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let key = crate::check::checksum::bech32_encode("age-secret-key-", &bytes)
                .to_ascii_uppercase();
            assert!(!is_placeholder(key.as_bytes()), "{key}");
        }
    }
}
