//! Synthetic credentials for every test, generated at test time (never real ones, nothing committed): GitHub
//! classic tokens with a valid CRC32 checksum and their wrong-checksum decoys, AWS key ids (also one encoding a
//! chosen account), OpenAI-like project keys. Deterministic: the same seed gives the same key.
use keysweep_detect::check::checksum::crc32_base62;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// Fixed 30-character token bodies, for tests that name their keys.
pub const BODY: &str = "R8xk2LmQ9vTz4NwYp7BcJd1Hf6GsKa";
pub const BODY2: &str = "Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja";
pub const BODY3: &str = "Zr5wP1kQ8sLm3Vx7Ty2Nb9Jc4Hd6Ge";

pub const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The alphabet of AWS key ids after the prefix (base32).
pub const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `n` pseudo-random characters of `alphabet`, from `seed` (xorshift).
pub fn chars(seed: u64, n: usize, alphabet: &[u8]) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

/// `n` pseudo-random alphanumerics (upper case and digits only when `upper_only`).
pub fn alnum(seed: u64, n: usize, upper_only: bool) -> String {
    chars(seed, n, if upper_only { &ALNUM[..36] } else { ALNUM })
}

/// A fresh seed for tests that want distinct keys without naming seeds.
pub fn next_seed() -> u64 {
    static SEED: AtomicU64 = AtomicU64::new(0x5EED_0000);
    SEED.fetch_add(1, Ordering::Relaxed)
}

/// A checksum-valid GitHub classic token. `body` is its 30-character body; a shorter one is a seed, padded
/// with fixed characters (a longer one is cut).
pub fn github_token(body: &str) -> String {
    let mut body = format!("{body}Qm3vT8zLk2Xw9Rb4Nc7Yd1Hp6Gs0Ja5UeRt");
    body.truncate(30);
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{body}");
    format!("ghp_{body}{}", crc32_base62(body.as_bytes()))
}

/// A checksum-valid GitHub token with a pseudo-random body from `seed`.
pub fn ghp(seed: u64) -> String {
    github_token(&alnum(seed, 30, false))
}

/// A GitHub-looking token whose checksum is wrong (a decoy no checksum rule may report).
pub fn ghp_decoy(seed: u64) -> String {
    let body = alnum(seed, 30, false);
    let bad: String = crc32_base62(body.as_bytes())
        .chars()
        .map(|c| if c == 'z' { 'y' } else { 'z' })
        .collect();
    format!("ghp_{body}{bad}")
}

/// A checksum-valid GitHub token whose body is derived from `tag` (high entropy, distinct per tag).
pub fn tagged_token(tag: &str) -> String {
    let digest = Sha256::digest(tag.as_bytes());
    let body: String = digest[..30]
        .iter()
        .map(|b| ALNUM[*b as usize % 62] as char)
        .collect();
    github_token(&body)
}

/// An AWS access key id (`AKIA` and 16 base32 characters).
pub fn aws(seed: u64) -> String {
    format!("AKIA{}", chars(seed, 16, BASE32))
}

/// An AKIA key id whose offline-decoded account is `acct`.
pub fn aws_key_id_for_account(acct: u64) -> String {
    let first6 = (acct << 7) | (1 << 47) | 0x2b;
    let bits: u128 = ((first6 as u128) << 32) | 0x9e37_79b9;
    let mut s = String::from("AKIA");
    for i in (0..16).rev() {
        s.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
    }
    s
}

/// A synthetic OpenAI-like project key (`sk-proj-` and 48 alphanumerics).
pub fn openai(seed: u64) -> String {
    format!("sk-proj-{}", alnum(seed, 48, false))
}

/// A synthetic OpenAI-like project key with a readable `seed` prefix.
pub fn openai_key(seed: &str) -> String {
    format!("sk-proj-{seed}Zq8Lm2Vx7Rt4Ns9Kw3Hb6Jd1Pf5Gc0Ya")
}
