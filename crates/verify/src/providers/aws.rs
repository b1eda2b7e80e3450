//! AWS access key pairs: STS `GetCallerIdentity` signed with SigV4 (region us-east-1, service sts), a call
//! that needs no IAM permission and changes nothing. The key ID and the secret key are two findings of the
//! same blob (both rules say `verify = "aws"`); they are paired here. Before any request the account ID is
//! decoded offline from the key ID, and keys of known canary (honeytoken) accounts are never sent.
/// SigV4 dates are ISO 8601 basic UTC (`YYYYMMDDTHHMMSSZ`).
pub use super::time::iso8601_basic as amz_date;
use super::time::now_unix;
use super::{common_status, Plan, Provider};
use crate::http::{HttpRequest, HttpResponse};
use crate::Outcome;
use sha2::{Digest, Sha256};

pub const STS_HOST: &str = "sts.amazonaws.com";
const QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// Accounts of canary-token services (TOKEN_FORMATS.md §7): using such a key fires its owner's alert.
pub const CANARY_ACCOUNTS: &[&str] = &[
    // Thinkst Canary
    "052310077262",
    "171436882533",
    "534261010715",
    "595918472158",
    "717712589309",
    "819147034852",
    "992382622183",
    "730335385048",
    "266735846894",
    "893192397702",
    // other canary services
    "044858866125",
    "251535659677",
    "344043088457",
    "351906852752",
    "390477818340",
    "426127672474",
    "427150556519",
    "439872796651",
    "445142720921",
    "465867158099",
    "637958123769",
    "693412236332",
    "732624840810",
    "735421457923",
    "959235150393",
    "982842642351",
];

/// Whether `s` looks like an access key ID: a 4-char prefix (`AKIA`, `ASIA`, `ABIA`, `ACCA`, or the older
/// `A3T` + one alnum) and 16 base32 characters.
pub fn is_key_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && (["AKIA", "ASIA", "ABIA", "ACCA"]
            .iter()
            .any(|p| s.starts_with(p))
            || (s.starts_with("A3T") && (b[3].is_ascii_uppercase() || b[3].is_ascii_digit())))
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c))
}

/// Whether `s` looks like a secret access key (40 chars of base64 alphabet).
pub fn is_secret_key(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
}

/// The account ID encoded in a key ID, or `None` for the old formats (5th char `I` or `J`, or the `A3T` prefix)
/// or a bad ID.
pub fn account_id(key_id: &str) -> Option<String> {
    let body = key_id.get(4..20)?;
    if body.starts_with(['I', 'J']) || key_id.starts_with("A3T") {
        return None;
    }
    let mut bits: u128 = 0;
    for b in body.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | v as u128;
    }
    // 80 bits = 10 bytes; the first 6 bytes are a 48-bit big-endian integer.
    let first6 = (bits >> 32) as u64 & 0xFFFF_FFFF_FFFF;
    Some(format!("{:012}", (first6 & 0x7FFF_FFFF_FFFF) >> 7))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, msg.as_bytes()).as_ref().to_vec()
}

/// SigV4 `Authorization` header for a request signing `host` and `x-amz-date` only.
#[allow(clippy::too_many_arguments)]
pub fn sigv4_authorization(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    payload: &[u8],
    key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let date = &amz_date[..8.min(amz_date.len())];
    let canonical = format!(
        "{method}\n{path}\n{query}\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{}",
        hex(&Sha256::digest(payload))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let sig = hex(&hmac(&k_signing, &to_sign));
    format!("AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}")
}

fn xml_field<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(&body[start..end])
}

/// The AWS verifier.
pub struct Aws;

impl Provider for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }
    fn describe(&self) -> String {
        format!("GET https://{STS_HOST}/?{QUERY} (SigV4, us-east-1/sts); canary accounts are never contacted")
    }
    fn egress(&self) -> Vec<String> {
        vec![STS_HOST.into()]
    }
    fn companion_role(&self) -> Option<&'static str> {
        Some("key ID and secret key")
    }
    fn symmetric_pair(&self) -> bool {
        true
    }
    fn accepts_companion(&self, secret: &str, other_verify: &str, other: &str) -> bool {
        other_verify == "aws"
            && ((is_key_id(secret) && is_secret_key(other))
                || (is_secret_key(secret) && is_key_id(other)))
    }
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan {
        let Some(other) = companion else {
            return Plan::Done(Outcome::unknown(
                "no AWS key ID/secret pair in the same file",
            ));
        };
        let (id, sk) = if is_key_id(secret) {
            (secret, other)
        } else {
            (other, secret)
        };
        if id.ends_with("EXAMPLE") || sk.contains("EXAMPLEKEY") {
            return Plan::Done(Outcome::dead("AWS documentation example key"));
        }
        if let Some(acct) = account_id(id) {
            if CANARY_ACCOUNTS.contains(&acct.as_str()) {
                return Plan::Done(Outcome::unknown(format!(
                    "likely canary token (account {acct}); not contacted"
                )));
            }
        }
        if !id.starts_with("AKIA") {
            return Plan::Done(Outcome::unknown(
                "only long-term AKIA keys are verified (temporary keys need their session token)",
            ));
        }
        let date = amz_date(now_unix());
        let auth = sigv4_authorization(
            "GET",
            STS_HOST,
            "/",
            QUERY,
            b"",
            id,
            sk,
            "us-east-1",
            "sts",
            &date,
        );
        let sig = auth.rsplit('=').next().unwrap_or("").to_string();
        Plan::Send(Box::new(
            HttpRequest::get(STS_HOST, format!("/?{QUERY}"))
                .header("X-Amz-Date", date)
                .header("Authorization", auth)
                .scrub(id)
                .scrub(sk)
                .scrub(sig),
        ))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        let body = &resp.body;
        let code = xml_field(body, "Code").unwrap_or("");
        match resp.status {
            200 if body.contains("<GetCallerIdentityResult>") => {
                Outcome::live(xml_field(body, "Arn").map(str::to_string))
            }
            200 => Outcome::unknown("200 without the expected body marker"),
            400 | 403 => match code {
                "InvalidClientTokenId" | "ExpiredToken" | "InvalidAccessKeyId" => {
                    Outcome::dead(code.to_string())
                }
                // The ID exists but the secret did not sign: wrong pair, or STS's throttle of
                // different secrets for one ID within seconds. Retried after a pause.
                "SignatureDoesNotMatch" => Outcome {
                    retry_after: Some(std::time::Duration::from_secs(5)),
                    ..Outcome::transient("SignatureDoesNotMatch (secret does not match the key ID)")
                },
                "AccessDenied" => Outcome::restricted("AccessDenied"),
                _ => common_status(resp),
            },
            _ => common_status(resp),
        }
    }
}
