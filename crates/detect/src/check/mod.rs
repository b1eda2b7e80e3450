//! Checks turn candidate matches into findings or drop them: placeholder and decoy rejection, per-rule reject
//! patterns, entropy floors, format checksums, provider context and the generic-value filter. Pure functions
//! over bytes; no I/O.
use crate::engine::RawMatch;
use keysweep_rules::Rule;
/// The context-window and test-result-line tests live with the rules (the engine uses them too); re-exported
/// for the checks.
pub use keysweep_rules::{contains_ignore_case, context_near, test_result_line};

pub mod checksum;
pub mod classify;
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

/// A candidate that passed every check: the secret's entropy and, for the catch-all keyword rules, the
/// classifier's features (the scanner scores them, knowing the file).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub entropy: f64,
    pub features: Option<classify::Features>,
}

impl Verdict {
    /// The classifier's score in a file of kind `file` (a test file lowers it; a source file rejects an
    /// unquoted expression); `None` for rules the classifier does not judge.
    pub fn score(&self, file: classify::FileKind) -> Option<f64> {
        self.features.as_ref().map(|f| classify::score(f, file))
    }
}

/// Run every check of `rule` on match `m` in `hay`.
pub fn check(rule: &Rule, hay: &[u8], m: &RawMatch) -> Result<Verdict, Reject> {
    let secret = &hay[m.secret_start..m.secret_end];
    // The catch-all rules' rejections by position come first: they are cheap, and they drop most candidates
    // of dense text (a test log's `PASS: …` lines: 98,000 in `/usr/share/doc`) before the placeholder
    // scans. Only a format rule's reason for a rejection is used (a fake of its format claims its span), so
    // the order changes no verdict.
    let classified = rule.is_classified();
    if classified
        && (inside_arn(hay, m.start)
            || in_image_url(hay, m.start)
            || test_result_line(hay, m.start))
    {
        return Err(Reject::Generic);
    }
    if placeholder::is_placeholder(secret) || on_placeholder_host(hay, m.secret_end) {
        return Err(Reject::Placeholder);
    }
    if rule.reject().iter().any(|r| r.is_match(secret)) || presigned_credential(hay, m.secret_start)
    {
        return Err(Reject::RuleReject);
    }
    let h = entropy::shannon(secret);
    if let Some(min) = rule.spec.min_entropy {
        if h < min {
            return Err(Reject::Entropy);
        }
    }
    if let Some(c) = &rule.spec.checksum {
        let head = &hay[m.start.min(m.secret_start)..m.secret_start];
        if !checksum::verify_after(c, secret, head) {
            return Err(Reject::Checksum);
        }
    }
    if !rule.context_lower.is_empty() && !has_context(rule, hay, m) {
        return Err(Reject::Context);
    }
    if classified {
        let key = key_text(hay, m);
        let mut features = classify::features(secret, key).map_err(|_| Reject::Generic)?;
        features.bare = bare_assignment(hay, m, key);
        return Ok(Verdict {
            entropy: h,
            features: Some(features),
        });
    }
    if rule.spec.generic
        && (!generic::looks_like_secret(secret)
            || generic::key_names_a_non_secret(key_around(hay, m.start))
            || inside_arn(hay, m.start))
    {
        return Err(Reject::Generic);
    }
    Ok(Verdict {
        entropy: h,
        features: None,
    })
}

/// Whether a private-key match is an encrypted key: a PEM `Proc-Type: 4,ENCRYPTED` header, an
/// `ENCRYPTED PRIVATE KEY` block, a PuTTY key whose `Encryption` is not `none`, or an OpenSSH key whose cipher is
/// not `none`. An encrypted key still leaks (its passphrase may be weak), so it is reported, marked, at low
/// confidence.
pub fn encrypted_private_key(rule: &Rule, hay: &[u8], m: &RawMatch) -> bool {
    if rule.spec.category != "private-key" {
        return false;
    }
    let head = &hay[m.start..m.secret_start];
    let has = |n: &[u8]| memchr::memmem::find(head, n).is_some();
    if has(b"ENCRYPTED") {
        return true;
    }
    if has(b"PuTTY-User-Key-File-") {
        return !has(b"Encryption: none");
    }
    if has(b"BEGIN OPENSSH PRIVATE KEY") {
        return openssh_cipher(&hay[m.secret_start..m.secret_end]).is_some_and(|c| c != b"none");
    }
    false
}

/// The cipher name of an OpenSSH private key body (`openssh-key-v1\0`, then a length-prefixed cipher name).
fn openssh_cipher(body: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    // A key written as a chain of string literals: only the literals' text is the body.
    let joined;
    let body = if body.iter().any(|b| b"\"'`".contains(b)) {
        joined = checksum::literal_contents(body);
        &joined[..]
    } else {
        body
    };
    let mut clean = Vec::with_capacity(128);
    let mut bytes = body.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            bytes.next(); // an escaped `\n` in a JSON or code string
        } else if b.is_ascii_alphanumeric() || b"+/".contains(&b) {
            clean.push(b);
            if clean.len() == 128 {
                break;
            }
        }
    }
    clean.truncate(clean.len() / 4 * 4);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .ok()?;
    let rest = raw.strip_prefix(b"openssh-key-v1\0")?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    rest.get(4..4 + len.min(64)).map(<[u8]>::to_vec)
}

/// The key text of a keyword match: the identifier run just before the match (at most 64 bytes: `DB_` of
/// `DB_PASSWORD`, `Next` of `NextToken`) and the match up to the secret (`PASSWORD = "`, `--token=`).
fn key_text<'h>(hay: &'h [u8], m: &RawMatch) -> &'h [u8] {
    let key = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    let at = m.start.min(hay.len());
    // Back over the name's characters, and over the `::` of a qualified name (`AWS::KMS::Key`).
    let mut from = at;
    while from > 0 && at - from < 64 {
        if key(hay[from - 1]) {
            from -= 1;
        } else if from >= 2 && hay[from - 1] == b':' && hay[from - 2] == b':' {
            from -= 2;
        } else {
            break;
        }
    }
    &hay[from..m.secret_start.clamp(at, hay.len())]
}

/// Whether the secret ends at the `@` of a URL whose host is local or reserved for documentation and tests
/// (`localhost`, loopback and unspecified addresses, `example.com`/`.org`/`.net`, `*.example`, `*.test`,
/// `*.invalid`, `*.localhost`): a credential on such a host is a sample, not a leak.
fn on_placeholder_host(hay: &[u8], secret_end: usize) -> bool {
    if hay.get(secret_end) != Some(&b'@') {
        return false;
    }
    // A Go SQL driver DSN names its host inside `tcp(…)`.
    let at = secret_end + 1;
    let at = at
        + [&b"tcp("[..], b"unix("]
            .iter()
            .find(|p| hay[at..].starts_with(p))
            .map_or(0, |p| p.len());
    let host: Vec<u8> = hay[at..]
        .iter()
        .take(256)
        .take_while(|b| b.is_ascii_alphanumeric() || b".-".contains(b))
        .map(u8::to_ascii_lowercase)
        .collect();
    let host = host.strip_suffix(b".").unwrap_or(&host);
    matches!(
        host,
        b"localhost" | b"127.0.0.1" | b"0.0.0.0" | b"host.docker.internal"
    ) || host.starts_with(b"127.")
        || [&b"example.com"[..], b"example.org", b"example.net"]
            .iter()
            .any(|d| host == *d || host.ends_with(&[b".", *d].concat()))
        || [&b".example"[..], b".test", b".invalid", b".localhost"]
            .iter()
            .any(|t| host.ends_with(t))
}

/// Whether the secret is the value of a presigned URL's `X-Amz-Credential=` parameter: an access key id in that
/// position identifies the signer; the URL holds no secret key.
fn presigned_credential(hay: &[u8], secret_start: usize) -> bool {
    const P: &[u8] = b"x-amz-credential=";
    secret_start >= P.len() && hay[secret_start - P.len()..secret_start].eq_ignore_ascii_case(P)
}

/// Whether a keyword assignment's value is written bare: no quote opens it, no string literal is open on its
/// line before the value (an odd number of `"`, `'` or `` ` ``, at most 512 bytes back), and the key text is an
/// assignment (`=`, `:`, `=>`, `:=`), not a URL. In a source file such a value is an expression (a variable,
/// an attribute path, a type, a call), never a literal secret: `key=delims.get`, `token: crate::Key`,
/// `pw_uid: __uid_t`; in .env, YAML, INI or shell it is the literal value (the scanner decides by the file).
fn bare_assignment(hay: &[u8], m: &RawMatch, key: &[u8]) -> bool {
    let opened = m.secret_start > 0
        && hay
            .get(m.secret_start - 1)
            .is_some_and(|b| b"\"'`".contains(b));
    let op = key
        .iter()
        .rev()
        .find(|b| !b" \t".contains(b))
        .is_some_and(|b| b"=:>".contains(b));
    if opened || !op || memchr::memmem::find(key, b"://").is_some() {
        return false;
    }
    // Up to the value: a quote inside the match opens a literal too (`"app:…@tcp(…)"`, a DSN's user).
    let at = m.secret_start.min(hay.len());
    let from = at.saturating_sub(512);
    let line = match memchr::memrchr(b'\n', &hay[from..at]) {
        Some(i) => &hay[from + i + 1..at],
        None => &hay[from..at],
    };
    if classify::comment_line(line) {
        // A comment's value is text a person wrote (`# token: …`), but a name is still code (`# key: _KT`).
        let v = &hay[m.secret_start.min(hay.len())..m.secret_end.min(hay.len())];
        return v.iter().all(|b| b.is_ascii_alphabetic() || *b == b'_');
    }
    let mut open = [false; 3];
    let mut escaped = false;
    for &b in line {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'"' => open[0] = !open[0],
            b'\'' => open[1] = !open[1],
            b'`' => open[2] = !open[2],
            _ => {}
        }
    }
    !open.iter().any(|&o| o)
}

/// Whether a keyword match is a query parameter of an image URL (`…/badge.svg?token=…`, `….png?key=…`, the
/// URL of an `<img>` or a Markdown image on the same line): a badge's read-only graph token, published in a
/// README by design.
fn in_image_url(hay: &[u8], at: usize) -> bool {
    let at = at.min(hay.len());
    let token = |b: &u8| !b.is_ascii_whitespace() && !b"\"'`()[]<>".contains(b);
    let back = hay[..at]
        .iter()
        .rev()
        .take(512)
        .take_while(|b| token(b))
        .count();
    let url = &hay[at - back..at];
    // The `src` of an HTML `<img>` or a Markdown image `![alt](…)` on the same line.
    let from = at.saturating_sub(512);
    let line = match memchr::memrchr(b'\n', &hay[from..at]) {
        Some(i) => &hay[from + i + 1..at],
        None => &hay[from..at],
    };
    if memchr::memmem::find(line, b"<img ").is_some() || memchr::memmem::find(line, b"![").is_some()
    {
        return memchr::memchr(b'?', url).is_some();
    }
    let Some(q) = memchr::memchr(b'?', url) else {
        return false;
    };
    let path = url[..q].to_ascii_lowercase();
    [&b".svg"[..], b".png", b".gif", b".jpg", b".jpeg", b".webp"]
        .iter()
        .any(|e| path.ends_with(e))
        || memchr::memmem::find(&path, b"badge").is_some()
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
