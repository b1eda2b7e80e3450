//! Offline format checks: checksums (GitHub/npm CRC32 in base62, GitHub fine-grained SHA-256/base32, age
//! bech32, NATS nkey CRC-16), PyPI macaroon headers, JWT structure (plain, GitHub stateless `ghs_`, MiniMax),
//! PEM bodies (also written as a chain of string literals) and Azure CASK markers. Each `verify` answers whether a token's
//! own structure is consistent; the helpers that compute checksums are public so tests and the corpus
//! generator can make valid tokens.
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Run the named check on a secret. Unknown names fail closed.
pub fn verify(name: &str, secret: &[u8]) -> bool {
    verify_after(name, secret, b"")
}

/// `verify`, knowing the match's text before the secret (`head`): a private key chain whose header literals
/// say `Proc-Type: 4,ENCRYPTED` holds cipher text, not DER (`private-key-literals`).
pub fn verify_after(name: &str, secret: &[u8], head: &[u8]) -> bool {
    match name {
        "private-key-literals"
            if memchr::memmem::find(head, b"Proc-Type: 4,ENCRYPTED").is_some() =>
        {
            encrypted_key_literals_ok(secret)
        }
        "github-crc32" | "npm-crc32" => crc32_token_ok(secret),
        "github-fine-grained" => github_fine_grained_ok(secret),
        "pypi-macaroon" => pypi_macaroon_ok(secret),
        "jwt" => jwt_parts(secret).is_some(),
        "jwt-supabase-service" => jwt_parts(secret)
            .is_some_and(|(_, p)| p.get("role").and_then(|r| r.as_str()) == Some("service_role")),
        "private-key" => private_key_ok(secret),
        "azure-cask" => azure_cask_ok(secret),
        "age-bech32" => age_secret_key_ok(secret),
        "github-stateless" => github_stateless_ok(secret),
        "jwt-minimax" => jwt_parts(secret)
            .is_some_and(|(_, p)| p.get("iss").and_then(|r| r.as_str()) == Some("minimax")),
        "basic-auth" => basic_auth_ok(secret),
        "grafana-legacy" => grafana_legacy_ok(secret),
        "nats-nkey" => nats_seed_ok(secret),
        "private-key-literals" => private_key_literals_ok(secret),
        _ => false,
    }
}

/// Whether a failed check means the value is a fake of the format (integrity checks), as opposed to a
/// classifier that only says the value is not this particular kind (`jwt-supabase-service`).
pub fn is_integrity_check(name: &str) -> bool {
    !matches!(name, "jwt-supabase-service" | "jwt-minimax")
}

/// `basic-auth`: the value base64-decodes to printable ASCII `user:password` with a non-empty user and a
/// password of at least 4 characters (an HTTP Basic credential, not a word that happens to be base64).
fn basic_auth_ok(secret: &[u8]) -> bool {
    use base64::Engine as _;
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(secret) else {
        return false;
    };
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0 && raw.len() - colon > 4 && raw.iter().all(|b| (0x20..0x7f).contains(b))
}

/// `grafana-legacy`: the value base64-decodes to a JSON object whose `k` is a key of 16+ letters and digits,
/// with a string `n` (the key's name) and a numeric `id`.
fn grafana_legacy_ok(secret: &[u8]) -> bool {
    use base64::Engine as _;
    let body = secret
        .strip_suffix(b"==")
        .or_else(|| secret.strip_suffix(b"="))
        .unwrap_or(secret);
    let Ok(raw) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(body) else {
        return false;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        return false;
    };
    v.get("k")
        .and_then(|k| k.as_str())
        .is_some_and(|k| k.len() >= 16 && k.bytes().all(|b| b.is_ascii_alphanumeric()))
        && v.get("n").is_some_and(serde_json::Value::is_string)
        && v.get("id").is_some_and(serde_json::Value::is_number)
}

/// CRC32 (IEEE) of `body` in base62 (digits, upper, lower), left-padded with `0` to 6 characters.
pub fn crc32_base62(body: &[u8]) -> String {
    let mut n = crc32fast::hash(body) as u64;
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `prefix_` + 30-char body + 6-char CRC32 checksum (GitHub `ghp_`… and npm `npm_` tokens).
fn crc32_token_ok(secret: &[u8]) -> bool {
    let Some(us) = secret.iter().position(|&b| b == b'_') else {
        return false;
    };
    let body = &secret[us + 1..];
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    crc32_base62(&body[..30]).as_bytes() == &body[30..]
}

/// RFC 4648 base32 (A-Z2-7), no padding.
pub fn base32(data: &[u8]) -> String {
    const ALPHA: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHA[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHA[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// RFC 4648 base32 (A-Z2-7, no padding) decoded; `None` on any other character or non-zero trailing bits.
pub fn base32_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
        buf &= (1 << bits) - 1;
    }
    (buf == 0).then_some(out)
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum of NATS nkeys.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A NATS nkey seed: 58 base32 characters of 36 bytes — the seed prefix (`18 << 3`) and a public key type
/// (operator, account, server, cluster, user, curve) packed in two bytes, the 32-byte Ed25519 seed, and the
/// CRC-16/XMODEM of those 34 bytes, little-endian.
fn nats_seed_ok(secret: &[u8]) -> bool {
    if secret.len() != 58 {
        return false;
    }
    let Some(raw) = base32_decode(secret) else {
        return false;
    };
    if raw.len() != 36 || raw[0] & 0xf8 != 18 << 3 {
        return false;
    }
    let kind = ((raw[0] & 7) << 5) | (raw[1] >> 3);
    // Operator, account, server, cluster, user and curve (xkey) types.
    matches!(kind, 112 | 0 | 104 | 16 | 160 | 184)
        && raw[1] & 7 == 0
        && crc16_xmodem(&raw[..34]).to_le_bytes() == raw[34..36]
}

/// The characters of a chain of string literals: the text of every literal (the chain starts and ends inside
/// one), without the quotes, the operators and blanks between literals, or the `\n`/`\r` escapes.
pub fn literal_contents(secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(secret.len());
    let mut inside = true;
    let mut bytes = secret.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'"' | b'\'' | b'`' => inside = !inside,
            b'\\' if inside => {
                bytes.next();
            }
            _ if inside => out.push(b),
            _ => {}
        }
    }
    out
}

/// A private key written as a chain of string literals (`"MIIE…\n" + "…"`): the literals' text is base64 of
/// 48+ bytes that starts as a DER `SEQUENCE` (every PEM private key) or as `openssh-key-v1`.
fn private_key_literals_ok(secret: &[u8]) -> bool {
    let body = literal_contents(secret);
    if body.len() < 64
        || !body
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    {
        return false;
    }
    let trimmed = body.split(|&b| b == b'=').next().unwrap_or(&body);
    let usable = &trimmed[..trimmed.len() - trimmed.len() % 4];
    STANDARD
        .decode(usable)
        .is_ok_and(|d| d.len() >= 48 && (d[0] == 0x30 || d.starts_with(b"openssh-key-v1\0")))
}

/// The literals of a legacy encrypted PEM key (after `Proc-Type: 4,ENCRYPTED` and `DEK-Info:`): base64 of
/// cipher text in whole blocks of 8 (DES, 3DES) or 16 (AES) bytes, padded correctly, and 128 bytes or more (the
/// smallest such key, a P-256 EC key, is 121 bytes of DER: 128 once padded to whole AES blocks).
fn encrypted_key_literals_ok(secret: &[u8]) -> bool {
    let body = literal_contents(secret);
    body.iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        && STANDARD
            .decode(&body)
            .is_ok_and(|d| d.len() >= 128 && d.len() % 8 == 0)
}

/// The 8-char checksum of a fine-grained PAT whose first 66 body characters are `body66`.
pub fn github_fine_grained_checksum(body66: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"github_pat_");
    h.update(body66);
    base32(&h.finalize())[..8].to_string()
}

fn github_fine_grained_ok(secret: &[u8]) -> bool {
    let Some(body) = secret.strip_prefix(b"github_pat_") else {
        return false;
    };
    if body.len() != 82 {
        return false;
    }
    github_fine_grained_checksum(&body[..66]).as_bytes() == &body[66..74]
}

/// The macaroon after `pypi-` must carry the location `pypi.org` or `test.pypi.org`.
fn pypi_macaroon_ok(secret: &[u8]) -> bool {
    let Some(b64) = secret.strip_prefix(b"pypi-") else {
        return false;
    };
    let usable = &b64[..b64.len() - b64.len() % 4];
    let Ok(raw) = URL_SAFE_NO_PAD.decode(usable) else {
        return false;
    };
    raw.len() >= 40
        && (raw.starts_with(b"\x02\x01\x08pypi.org")
            || raw.starts_with(b"\x02\x01\x0dtest.pypi.org"))
}

/// Decode a JWT's header and payload; `None` unless both are JSON objects and the header names an `alg`.
pub fn jwt_parts(secret: &[u8]) -> Option<(serde_json::Value, serde_json::Value)> {
    let s = std::str::from_utf8(secret).ok()?;
    let mut parts = s.split('.');
    let (h, p) = (parts.next()?, parts.next()?);
    let dec = |x: &str| -> Option<serde_json::Value> {
        let raw = URL_SAFE_NO_PAD.decode(x.trim_end_matches('=')).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
        v.is_object().then_some(v)
    };
    let header = dec(h)?;
    header.get("alg")?.as_str()?;
    Some((header, dec(p)?))
}

/// A PEM or OpenSSH private key block whose body is real base64 of plausible size (≥ 48 bytes) and not
/// a run of one character. JSON-escaped newlines (`\n`) are accepted.
fn private_key_ok(secret: &[u8]) -> bool {
    let text = String::from_utf8_lossy(secret)
        .replace("\\r", "\n")
        .replace("\\n", "\n");
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if body.len() < 64 {
        return false;
    }
    let first = body.as_bytes()[0];
    if body.bytes().all(|b| b == first || b == b'=') {
        return false;
    }
    // PGP armour carries a `=XXXX` CRC line after the body; drop anything after the first '=' run.
    let trimmed = body.split_once('=').map(|(a, _)| a).unwrap_or(&body);
    let usable = &trimmed[..trimmed.len() - trimmed.len() % 4];
    STANDARD
        .decode(usable)
        .map(|d| d.len() >= 48)
        .unwrap_or(false)
}

/// Microsoft CASK keys: 84 chars, `JQQJ9` at offset 52, version char, a date letter and a tag letter.
fn azure_cask_ok(s: &[u8]) -> bool {
    if s.len() != 84 && s.len() != 88 {
        return false;
    }
    s[..52].iter().all(u8::is_ascii_alphanumeric)
        && &s[52..57] == b"JQQJ9"
        && matches!(s[57], b'9' | b'D' | b'H')
        && s[58].is_ascii_alphanumeric()
        && (b'A'..=b'L').contains(&s[59])
        && s[60..76].iter().all(u8::is_ascii_alphanumeric)
        && s[76].is_ascii_alphabetic()
        && s[77..84].iter().all(u8::is_ascii_alphanumeric)
}

/// The bech32 alphabet (BIP 173): the 5-bit value of a character is its index.
const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// BIP 173 checksum polynomial over the HRP expansion and the 5-bit values.
fn bech32_polymod(hrp: &[u8], data: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
        .chain(data.iter().copied());
    let mut chk: u32 = 1;
    for v in expanded {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Decode a bech32 string (original BIP 173 constant, not bech32m) into its lowercase HRP and its 5-bit data
/// values without the 6-value checksum. `None` on mixed case, a bad character or a wrong checksum.
pub fn bech32_decode(s: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let has_lower = s.iter().any(u8::is_ascii_lowercase);
    let has_upper = s.iter().any(u8::is_ascii_uppercase);
    if has_lower && has_upper {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let sep = lower.iter().rposition(|&b| b == b'1')?;
    if sep == 0 || lower.len() - sep - 1 < 6 {
        return None;
    }
    let hrp = &lower[..sep];
    if !hrp.iter().all(|b| (33..=126).contains(b)) {
        return None;
    }
    let data = lower[sep + 1..]
        .iter()
        .map(|c| BECH32.iter().position(|a| a == c).map(|v| v as u8))
        .collect::<Option<Vec<u8>>>()?;
    if bech32_polymod(hrp, &data) != 1 {
        return None;
    }
    Some((hrp.to_vec(), data[..data.len() - 6].to_vec()))
}

/// Encode bytes as bech32 with this (lowercase) HRP: the tests and the corpus generator use it to make
/// valid synthetic keys.
pub fn bech32_encode(hrp: &str, bytes: &[u8]) -> String {
    let mut data = Vec::with_capacity(bytes.len() * 8 / 5 + 7);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut padded = data.clone();
    padded.extend([0u8; 6]);
    let pm = bech32_polymod(hrp.as_bytes(), &padded) ^ 1;
    data.extend((0..6).map(|i| ((pm >> (5 * (5 - i))) & 31) as u8));
    let mut out = String::with_capacity(hrp.len() + 1 + data.len());
    out.push_str(hrp);
    out.push('1');
    out.extend(data.iter().map(|&v| BECH32[v as usize] as char));
    out
}

/// An age X25519 identity: `AGE-SECRET-KEY-1` + bech32 of 32 bytes (upper case), valid checksum and zero
/// padding bits.
fn age_secret_key_ok(secret: &[u8]) -> bool {
    if secret.len() != 74 || !secret.starts_with(b"AGE-SECRET-KEY-1") {
        return false;
    }
    let Some((hrp, data)) = bech32_decode(secret) else {
        return false;
    };
    // 52 values carry 260 bits: 256 key bits and 4 padding bits that must be zero.
    hrp == b"age-secret-key-" && data.len() == 52 && data[51] & 0b1111 == 0
}

/// GitHub's stateless installation token, `ghs_<app id>_<JWT>`: the app id is digits and the rest a JWT whose
/// header and payload decode to JSON objects.
fn github_stateless_ok(secret: &[u8]) -> bool {
    let Some(rest) = secret.strip_prefix(b"ghs_") else {
        return false;
    };
    let Some(us) = rest.iter().position(|&b| b == b'_') else {
        return false;
    };
    let (app, jwt) = (&rest[..us], &rest[us + 1..]);
    !app.is_empty()
        && app.iter().all(u8::is_ascii_digit)
        && jwt.iter().filter(|&&b| b == b'.').count() == 2
        && jwt_parts(jwt).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_decoy_fails_crc() {
        // The octokit README placeholder: right shape, wrong checksum (TOKEN_FORMATS.md section 7).
        assert!(!verify(
            "github-crc32",
            b"ghp_PersonalAccessToken01245678900000000"
        ));
        assert_eq!(crc32_base62(b"PersonalAccessToken01245678900"), "4VHidW");
        assert!(verify(
            "github-crc32",
            b"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" // keysweep:allow (synthetic)
        ));
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn jwt_structure() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"role":"service_role"}"#);
        let t = format!("{h}.{p}.c2lnbmF0dXJl");
        assert!(verify("jwt", t.as_bytes()));
        assert!(verify("jwt-supabase-service", t.as_bytes()));
        assert!(!verify("jwt", b"eyJub3QiOiJqc29u.eyJ4IjoxfQ.sig"));
    }

    #[test]
    fn pypi_prefix() {
        let mut raw = b"\x02\x01\x08pypi.org".to_vec();
        raw.extend(std::iter::repeat_n(7u8, 60));
        let t = format!("pypi-{}", URL_SAFE_NO_PAD.encode(&raw));
        assert!(t.starts_with("pypi-AgEIcHlwaS5vcmc"));
        assert!(verify("pypi-macaroon", t.as_bytes()));
        assert!(!verify("pypi-macaroon", b"pypi-AgEIcHlwaS5vcmcXXXX"));
    }

    #[test]
    fn bech32_bip173_vectors() {
        // Valid and invalid strings from BIP 173's test vectors.
        for ok in [
            "A12UEL5L",
            "a12uel5l",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "?1ezyfcl",
        ] {
            assert!(bech32_decode(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e2w",
            "A12UEL5l",
            "a12uel5",
            "1pzry9x0s0muk",
            "x1b4n0q5v",
        ] {
            assert!(bech32_decode(bad.as_bytes()).is_none(), "{bad}");
        }
        let enc = bech32_encode(
            "abcdef",
            &[
                0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56,
                0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf,
            ],
        );
        assert_eq!(enc, "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
    }

    #[test]
    fn age_keys() {
        let bytes: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(151).wrapping_add(89))
            .collect();
        let key = bech32_encode("age-secret-key-", &bytes).to_ascii_uppercase();
        assert_eq!(key.len(), 74);
        assert!(verify("age-bech32", key.as_bytes()));
        // One changed character breaks the checksum.
        let mut bad = key.clone().into_bytes();
        bad[40] = if bad[40] == b'Q' { b'P' } else { b'Q' };
        assert!(!verify("age-bech32", &bad));
        // Mixed case and a wrong HRP are refused.
        assert!(!verify(
            "age-bech32",
            key.replacen("AGE", "age", 1).as_bytes()
        ));
        let other = bech32_encode("age-public-key-", &bytes).to_ascii_uppercase();
        assert!(!verify("age-bech32", other.as_bytes()));
    }

    #[test]
    fn github_stateless_tokens() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"iss":"github","exp":2000000000}"#);
        let t = format!("ghs_123456_{h}.{p}.c2lnbmF0dXJlc2lnbmF0dXJl");
        assert!(verify("github-stateless", t.as_bytes()));
        assert!(!verify(
            "github-stateless",
            t.replace("123456", "12a456").as_bytes()
        ));
        let garbled = format!("ghs_123456_{h}.eyJub3QganNvbg.c2ln");
        assert!(!verify("github-stateless", garbled.as_bytes()));
    }

    #[test]
    fn nats_seeds() {
        // A user seed (`SU…`) built as nkeys builds one: prefix bytes, 32 seed bytes, CRC-16 little-endian.
        let mut raw = vec![0x90 | (160 >> 5), (160 & 31) << 3];
        raw.extend((0u8..32).map(|i| i.wrapping_mul(73).wrapping_add(11)));
        let crc = crc16_xmodem(&raw);
        raw.extend(crc.to_le_bytes());
        let seed = base32(&raw);
        assert_eq!(seed.len(), 58);
        assert!(seed.starts_with("SUA"), "{seed}");
        assert!(verify("nats-nkey", seed.as_bytes()));
        assert_eq!(base32_decode(seed.as_bytes()).as_deref(), Some(&raw[..]));
        // One changed character breaks the CRC; a public key (one prefix byte, 56 chars) is no seed.
        let mut bad = seed.clone().into_bytes();
        bad[20] = if bad[20] == b'Q' { b'R' } else { b'Q' };
        assert!(!verify("nats-nkey", &bad));
        let mut public = vec![160u8];
        public.extend(&raw[2..34]);
        let c = crc16_xmodem(&public);
        public.extend(c.to_le_bytes());
        assert!(!verify("nats-nkey", base32(&public).as_bytes()));
        // CRC-16/XMODEM check value.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
    }

    /// After `Proc-Type: 4,ENCRYPTED` header literals, a chain holds cipher text: whole 8-byte blocks, not DER.
    #[test]
    fn encrypted_private_key_literal_chains() {
        let head =
            b"-----BEGIN RSA PRIVATE KEY-----\\n\" +\n  \"Proc-Type: 4,ENCRYPTED\\n\" +\n  \"";
        let cipher: Vec<u8> = (0u8..144).map(|i| i.wrapping_mul(151) ^ 0x5a).collect();
        let b64 = STANDARD.encode(&cipher);
        let chain = format!("{}\\n\" +\n  \"{}\\n", &b64[..64], &b64[64..]);
        assert!(verify_after("private-key-literals", chain.as_bytes(), head));
        // Without the header, cipher text is no key; nor is a partial block, or text that is no base64.
        assert!(!verify("private-key-literals", chain.as_bytes()));
        let partial = STANDARD.encode(&cipher[..141]);
        let chain = format!("{}\" + \"{}", &partial[..64], &partial[64..]);
        assert!(!verify_after(
            "private-key-literals",
            chain.as_bytes(),
            head
        ));
        // Too short for any key: two literals of random base64 (48 bytes).
        let short = STANDARD.encode(&cipher[..48]);
        let chain = format!("{}\" + \"{}", &short[..32], &short[32..]);
        assert!(!verify_after(
            "private-key-literals",
            chain.as_bytes(),
            head
        ));
        let chain = "this is not a key\" + \"and more words of it";
        assert!(!verify_after(
            "private-key-literals",
            chain.as_bytes(),
            head
        ));
    }

    #[test]
    fn private_key_literal_chains() {
        let der: Vec<u8> = [0x30, 0x82, 0x04, 0xbd]
            .into_iter()
            .chain((0u8..96).map(|i| i.wrapping_mul(37)))
            .collect();
        let b64 = STANDARD.encode(&der);
        let chain = format!("{}\\n\" +\n  \"{}\\n", &b64[..64], &b64[64..]);
        assert!(verify("private-key-literals", chain.as_bytes()));
        assert_eq!(literal_contents(chain.as_bytes()), b64.as_bytes());
        // Not a DER structure: a concatenated string that is not a key.
        let text = STANDARD.encode([b'x'; 96]);
        let chain = format!("{}\" + \"{}", &text[..64], &text[64..]);
        assert!(!verify("private-key-literals", chain.as_bytes()));
    }

    #[test]
    fn minimax_jwt_classifier() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"GroupID":"1","iss":"minimax"}"#);
        assert!(verify("jwt-minimax", format!("{h}.{p}.c2ln").as_bytes()));
        let q = URL_SAFE_NO_PAD.encode(br#"{"iss":"auth.example"}"#);
        assert!(!verify("jwt-minimax", format!("{h}.{q}.c2ln").as_bytes()));
        assert!(!is_integrity_check("jwt-minimax"));
    }
}
