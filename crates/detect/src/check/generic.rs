//! The filter for keyword-assignment ("generic") rules, whose values have no format: accept only values that
//! look machine-made, and reject identifiers, paths, URLs, calls, hashes, UUIDs, version strings, numbers
//! and natural-language words.
use super::entropy::shannon;

/// Whether a keyword-assigned value looks like a real secret.
pub fn looks_like_secret(v: &[u8]) -> bool {
    if v.len() < 8 {
        return false;
    }
    let has = |f: fn(&u8) -> bool| v.iter().any(f);
    let (lower, upper, digit) = (
        has(u8::is_ascii_lowercase),
        has(u8::is_ascii_uppercase),
        has(u8::is_ascii_digit),
    );
    let symbol = has(|b| b.is_ascii_punctuation());
    let classes = [lower, upper, digit, symbol].iter().filter(|&&x| x).count();
    if classes < 2 || shannon(v) < 3.0 {
        return false;
    }
    if v.iter().all(|b| b.is_ascii_digit() || b"._-:".contains(b)) {
        return false; // numbers, dates, versions
    }
    if v.iter()
        .all(|b| b.is_ascii_digit() || b"._-:TZ+".contains(b))
    {
        return false; // timestamps: 2016-09-08T21:47:36Z
    }
    if v.starts_with(b"=") || v.starts_with(b"arn:") {
        return false; // the second `=` of a comparison (`a==b`), AWS resource names
    }
    if is_version(v) {
        return false; // 1.2.3-beta, v2.0.1+build.5
    }
    if is_hex(v) && matches!(v.len(), 32 | 40 | 64) {
        return false; // md5/sha1/sha256 digests, git object ids
    }
    if is_uuid(v) {
        return false;
    }
    let s = String::from_utf8_lossy(v);
    if s.contains("://")
        || s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("~/")
        || s.contains('(')
    {
        return false; // URLs, paths, calls
    }
    if s.matches('/').count() >= 2 && !s.ends_with('=') {
        return false; // path-like
    }
    if [
        ".json", ".yaml", ".yml", ".txt", ".pem", ".key", ".py", ".env", ".toml",
    ]
    .iter()
    .any(|e| s.to_ascii_lowercase().ends_with(e))
    {
        return false; // file names
    }
    if is_identifier_path(&s) {
        return false; // identifier paths: resource/AllowRotationLambdaArn
    }
    if names_a_secret(v) {
        return false; // MyPassword, SomeKindOfPassword123!@#
    }
    if s.starts_with("eyJ") {
        return false; // JWT-shaped: the JWT rule decides (it decodes the header)
    }
    if s.starts_with("sha256-") || s.starts_with("sha512-") || s.starts_with("sha1-") {
        return false; // lockfile integrity hashes
    }
    !looks_like_identifier(v)
}

/// The shape checks of the classifier (`classify`): whether `v` could be a secret at all, not being a number,
/// date, version, AWS resource name, URL, path, call, file name, lockfile hash, JWT (its own rule decides) or
/// words naming a secret (`MyPassword`).
pub fn plausible_shape(v: &[u8]) -> bool {
    if v.iter()
        .all(|b| b.is_ascii_digit() || b"._-:TZ+".contains(b))
    {
        return false; // numbers, dates, versions, timestamps
    }
    if v.starts_with(b"=") || v.starts_with(b":") || v.starts_with(b"arn:") || is_version(v) {
        return false; // comparisons (`a==b`), paths (`Reject::Generic`), AWS resource names, versions
    }
    let digits = |ok: fn(&u8) -> bool| v[2..].iter().all(|b| ok(b) || *b == b'_');
    if v.len() > 2
        && v[0] == b'0'
        && match v[1] {
            b'x' | b'X' => digits(u8::is_ascii_hexdigit),
            b'o' => digits(|b| (b'0'..=b'7').contains(b)),
            b'b' => digits(|b| *b == b'0' || *b == b'1'),
            _ => false,
        }
    {
        return false; // numeric literals: 0x2545_f491
    }
    let s = String::from_utf8_lossy(v);
    if s.contains("://") || s.starts_with("./") || s.starts_with("~/") || is_call(v) {
        return false; // URLs, relative paths, calls
    }
    if let Some((scheme, rest)) = s.split_once(":/") {
        if !scheme.is_empty()
            && scheme.bytes().all(|b| b.is_ascii_lowercase())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-/".contains(&b))
        {
            return false; // a scheme and a path: `fifo:/run/jobserver`, `file:/etc/x`
        }
    }
    let pathy = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
            || looks_like_identifier(p.as_bytes())
    };
    if s.starts_with('/') && s.split('/').all(pathy) {
        return false; // absolute paths (base64 may start with `/` too: `/a0Ts…+oAS…=`)
    }
    // A path: two or more slashes between name-like parts, each lower-case (2+ characters) or an identifier;
    // random base64 has mixed-case, digit-bearing parts and empty ones (`1//0…` refresh tokens).
    if s.matches('/').count() >= 2 && s.split('/').all(|p| p.len() >= 2 && pathy(p)) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if [
        ".json", ".yaml", ".yml", ".txt", ".pem", ".key", ".py", ".env", ".toml", ".js", ".ts",
        ".cfg", ".ini",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
    {
        return false; // file names
    }
    if is_identifier_path(&s) {
        return false; // identifier paths: resource/AllowRotationLambdaArn
    }
    !(names_a_secret(v)
        || s.starts_with("eyJ")
        || s.starts_with("sha256-")
        || s.starts_with("sha512-")
        || s.starts_with("sha1-"))
}

/// Identifiers joined by slashes (`resource/AllowRotationLambdaArn`), which base64 (with `+` or `=`, or
/// parts no identifier has) is not.
fn is_identifier_path(s: &str) -> bool {
    s.contains('/')
        && !s.contains('+')
        && !s.ends_with('=')
        && s.split('/')
            .all(|p| !p.is_empty() && looks_like_identifier(p.as_bytes()))
}

/// Words that name a secret instead of being one: `MyPassword`, `SomeKindOfPassword123!@#` (CamelCase words,
/// one of them a secret word, then at most digits and symbols).
fn names_a_secret(v: &[u8]) -> bool {
    let end = v.len()
        - v.iter()
            .rev()
            .take_while(|b| b.is_ascii_digit() || b.is_ascii_punctuation())
            .count();
    let word = &v[..end];
    let capitals = word.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = word.to_ascii_lowercase();
    word.len() >= 6
        && word.iter().all(u8::is_ascii_alphabetic)
        && capitals >= 2
        && word.first().is_some_and(u8::is_ascii_uppercase)
        && ["password", "passwd", "secret", "token"]
            .iter()
            .any(|w| lower.windows(w.len()).any(|x| x == w.as_bytes()))
}

/// Key names that hold no secret although they contain a secret keyword: pagination, resumption, work-unit and
/// idempotency tokens (`--work-unit-token`, `--client-token`),
/// names and ids *of* secrets, timestamps and policies about passwords, token counts and types. `key` is the
/// whole key around the keyword the rule matched (`NextToken`, `PasswordLastUsed`, `secret_arn`).
pub fn key_names_a_non_secret(key: &[u8]) -> bool {
    if names_a_file(key) {
        return true;
    }
    let k: Vec<u8> = key
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    const NON_SECRET: &[&str] = &[
        "nexttoken",
        "continuationtoken",
        "pagetoken",
        "paginationtoken",
        "startingtoken",
        "changetoken",
        "synctoken",
        "importtoken",
        "exporttoken",
        "resumetoken",
        "unittoken",
        "clienttoken",
        "idempotency",
        "subjectfrom",
        "secretarn",
        "secretname",
        "secretid",
        "tokentype",
        "tokenid",
        "keyid",
        "clientid",
        "tokenurl",
        "tokenendpoint",
        "maxtokens",
        "tokenizer",
        "lastused",
        "expir",
        "policy",
        "length",
    ];
    NON_SECRET
        .iter()
        .any(|w| k.windows(w.len()).any(|x| x == w.as_bytes()))
}

/// `v?N(.N)+` optionally followed by `-`/`+` and a suffix.
fn is_version(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"v").unwrap_or(v);
    let core_end = v
        .iter()
        .position(|b| *b == b'-' || *b == b'+')
        .unwrap_or(v.len());
    let core = &v[..core_end];
    let parts: Vec<&[u8]> = core.split(|b| *b == b'.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
}

fn is_hex(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_hexdigit)
}

pub fn is_uuid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// snake_case, kebab-case, dotted.names, camelCase or CONSTANT_CASE made of word-like parts (no digits
/// beyond a trailing version number), e.g. `getApiKeyFromEnv`, `settings.api_key`, `OPENAI_API_KEY`.
pub fn looks_like_identifier(v: &[u8]) -> bool {
    // Identifiers are made of letters, digits and `_ - .`; any other symbol means a password-like value.
    if !v
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b))
    {
        return false;
    }
    let digits = v.iter().filter(|b| b.is_ascii_digit()).count();
    let trailing_digits = v.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits > trailing_digits && digits > 1 {
        return false;
    }
    // split into parts on separators and lower→upper transitions
    let mut parts: Vec<usize> = Vec::new();
    let mut cur = 0usize;
    let mut prev: u8 = 0;
    for &b in v {
        if !b.is_ascii_alphanumeric() {
            if cur > 0 {
                parts.push(cur);
            }
            cur = 0;
        } else if b.is_ascii_uppercase() && prev.is_ascii_lowercase() {
            if cur > 0 {
                parts.push(cur);
            }
            cur = 1;
        } else {
            cur += 1;
        }
        prev = b;
    }
    if cur > 0 {
        parts.push(cur);
    }
    // Word-like: every part at least 2 letters, few short fragments, and vowels present (words, not noise).
    let vowels = v.iter().filter(|b| b"aeiouAEIOU".contains(b)).count();
    let letters = v.iter().filter(|b| b.is_ascii_alphabetic()).count().max(1);
    let avg = parts.iter().sum::<usize>() / parts.len().max(1);
    parts.iter().all(|&p| p >= 2) && avg >= 3 && vowels * 100 / letters >= 25
}

/// Whether a key is a source or document file's name (`ChallengePassStringFmt.java: PKCS#9 …`, `auth.py: 12`):
/// the `path: message` of a compiler, a linter, a test report or `grep`, not an assignment.
fn names_a_file(key: &[u8]) -> bool {
    const EXTENSIONS: &[&str] = &[
        "java", "kt", "scala", "py", "rb", "go", "rs", "c", "h", "cc", "cpp", "hpp", "cs", "js",
        "ts", "jsx", "tsx", "php", "swift", "m", "sh", "html", "md", "rst", "txt",
    ];
    let end = key
        .iter()
        .rposition(|b| b.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    let name = &key[..end];
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let ext = &name[dot + 1..];
    dot > 0
        && name[dot - 1].is_ascii_alphanumeric()
        && EXTENSIONS
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(ext))
}

/// Whether a value holding `(` is a call or an expression (`get_key(x)`, `$(cat f)`): anything with a `(`
/// but a long generated value dense in symbols (a WordPress salt, `f]Z6(_C%JAqS~8^…`: a quarter or more of
/// its 32+ characters are symbols), which only a quoted argument's grammar lets through.
fn is_call(v: &[u8]) -> bool {
    let symbols = v.iter().filter(|b| b.is_ascii_punctuation()).count();
    v.contains(&b'(') && !(v.len() >= 32 && symbols * 4 >= v.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_noise_are_not_secrets() {
        for v in [
            "getApiKeyFromEnv",
            "OPENAI_API_KEY",
            "settings.api_key",
            "1.2.3-beta",
            "d41d8cd98f00b204e9800998ecf8427e",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "123e4567-e89b-12d3-a456-426614174000",
            "https://example.com/path",
            "config/secrets.yaml",
            "sha512-Aa0bB1cC2dD3eE4fF5",
            "password",
            "hunter",
            "=XPathLexer.WILDCARD",
            "2016-09-08T21:47:36Z",
            "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestDatabaseSecret1-d4e5f6",
            "resource/AllowRotationLambdaArn",
            "MyPassword",
            "SomeKindOfPassword123!@#",
        ] {
            assert!(!looks_like_secret(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn keys_that_hold_no_secret() {
        for k in [
            "NextToken",
            "NextContinuationToken",
            "ChangeToken",
            "next_page_token",
            "PasswordLastUsed",
            "SubjectFromWebIdentityToken",
            "secret_arn",
            "--work-unit-token ",
            "--client-token ",
            "ResumeToken",
        ] {
            assert!(key_names_a_non_secret(k.as_bytes()), "{k}");
        }
        for k in [
            "API_TOKEN",
            "client_secret",
            "NewPassword",
            "x-api-key",
            "--hf-token ",
        ] {
            assert!(!key_names_a_non_secret(k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn machine_made_values_are_secrets() {
        for v in [
            "Xk9#mP2$vL8qRt4w",
            "a8Fk2LmQ9vTz4NwY",
            "q7W!e9R@t1Y#u3I$",
            "zkOlliM1W*wqUeQy",
            "k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=",
            "h]6EszR}vJ*m",
            "Password1Xk9#mP2",
        ] {
            assert!(looks_like_secret(v.as_bytes()), "{v}");
        }
    }
}
