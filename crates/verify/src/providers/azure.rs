//! Azure Storage account keys: `GET https://<account>.blob.core.windows.net/?comp=list` signed with the key
//! (SharedKey, HMAC-SHA256), a read-only container listing whose body is discarded. The account name comes
//! from a companion rule (`verify = "azure-storage:account"`, e.g. `AccountName=` in a connection string) and
//! is accepted only as 3–24 lowercase letters and digits; the host is built from it under the fixed suffix.
use super::{common_status, Plan, Provider};
use crate::http::{HttpRequest, HttpResponse};
use crate::Outcome;
use base64::Engine;

pub const BLOB_SUFFIX: &str = "blob.core.windows.net";
const VERSION: &str = "2019-12-12";

/// RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`) of a Unix time.
pub fn rfc1123(unix: u64) -> String {
    let d = super::time::iso8601_basic(unix); // YYYYMMDDTHHMMSSZ
    let (y, m, day) = (&d[0..4], &d[4..6], &d[6..8]);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months[m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((unix / 86400) % 7) as usize];
    format!(
        "{weekday}, {day} {month} {y} {}:{}:{} GMT",
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

fn valid_account(a: &str) -> bool {
    (3..=24).contains(&a.len())
        && a.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `SharedKey <account>:<signature>` for the container-list request.
pub fn shared_key(account: &str, key: &[u8], date: &str) -> String {
    let to_sign = format!(
        "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{VERSION}\n/{account}/\ncomp:list"
    );
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let sig =
        base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&k, to_sign.as_bytes()));
    format!("SharedKey {account}:{sig}")
}

/// The Azure Storage verifier.
pub struct AzureStorage;

impl Provider for AzureStorage {
    fn name(&self) -> &'static str {
        "azure-storage"
    }
    fn describe(&self) -> String {
        format!(
            "GET https://<account>.{BLOB_SUFFIX}/?comp=list (SharedKey signature; body discarded)"
        )
    }
    fn egress(&self) -> Vec<String> {
        vec![format!("*.{BLOB_SUFFIX}")]
    }
    fn companion_role(&self) -> Option<&'static str> {
        Some("account")
    }
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan {
        let Some(account) = companion.map(str::trim).filter(|a| valid_account(a)) else {
            return Plan::Done(Outcome::unknown(
                "storage account name is not 3-24 lowercase letters or digits; not contacted",
            ));
        };
        let Ok(key) = base64::engine::general_purpose::STANDARD.decode(secret) else {
            return Plan::Done(Outcome::unknown("account key is not base64"));
        };
        let date = rfc1123(super::time::now_unix());
        let auth = shared_key(account, &key, &date);
        let sig = auth.rsplit(':').next().unwrap_or("").to_string();
        Plan::Send(Box::new(
            HttpRequest::get(format!("{account}.{BLOB_SUFFIX}"), "/?comp=list")
                .header("x-ms-date", date)
                .header("x-ms-version", VERSION)
                .header("Authorization", auth)
                .scrub(secret)
                .scrub(sig),
        ))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        match resp.status {
            200 if resp.body.contains("<EnumerationResults") => Outcome::live(None),
            200 => Outcome::unknown("200 without the expected body marker"),
            403 if resp.body.contains("AuthenticationFailed") => {
                Outcome::dead("AuthenticationFailed")
            }
            403 if resp.body.contains("AuthorizationPermissionMismatch")
                || resp.body.contains("AuthorizationFailure") =>
            {
                Outcome::restricted("403: live but not allowed to list containers")
            }
            _ => common_status(resp),
        }
    }
}
