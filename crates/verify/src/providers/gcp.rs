//! GCP service-account keys: a JWT assertion signed with the key (RS256, via `ring`, already in the build for
//! rustls) exchanged at the fixed Google token host — never the `token_uri` from the file. The access token
//! returned is discarded and nothing is called with it. The finding's secret is either the whole key file
//! (JSON with `private_key` and `client_email`) or the PEM, with the e-mail from a companion rule
//! (`verify = "gcp-service-account:email"`).
use super::{common_status, Plan, Provider};
use crate::http::{HttpRequest, HttpResponse};
use crate::Outcome;
use base64::Engine;

pub const TOKEN_HOST: &str = "oauth2.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// DER of a PEM private key, or of a bare PEM body as rules capture it (literal `\n` sequences, as in JSON,
/// are accepted).
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let pem = pem.replace("\\n", "\n");
    let body = match pem.find("-----BEGIN") {
        Some(b) => {
            let start = b + pem[b..].find('\n')?;
            let end = pem[start..].find("-----END").map(|e| e + start)?;
            &pem[start..end]
        }
        None => pem.as_str(),
    };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn valid_sa_email(e: &str) -> bool {
    e.len() <= 200
        && e.ends_with(".gserviceaccount.com")
        && e.split_once('@').is_some_and(|(u, d)| {
            !u.is_empty()
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
        })
}

/// A signed RS256 assertion for the service account.
pub fn assertion(der: &[u8], email: &str, now: u64) -> Result<String, String> {
    let key =
        ring::signature::RsaKeyPair::from_pkcs8(der).map_err(|e| format!("private key: {e}"))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": email, "scope": SCOPE, "aud": format!("https://{TOKEN_HOST}/token"),
        "iat": now, "exp": now + 600,
    });
    let payload = b64.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing failed".to_string())?;
    Ok(format!("{signing_input}.{}", b64.encode(sig)))
}

/// The GCP service-account verifier.
pub struct GcpServiceAccount;

impl Provider for GcpServiceAccount {
    fn name(&self) -> &'static str {
        "gcp-service-account"
    }
    fn describe(&self) -> String {
        format!("POST https://{TOKEN_HOST}/token (jwt-bearer grant with an RS256 assertion signed by the key; the access token is discarded)")
    }
    fn egress(&self) -> Vec<String> {
        vec![TOKEN_HOST.into()]
    }
    fn companion_role(&self) -> Option<&'static str> {
        Some("email")
    }
    fn needs_companion(&self) -> bool {
        false
    }
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan {
        let (pem, email) = match serde_json::from_str::<serde_json::Value>(secret) {
            Ok(v) => (
                v.get("private_key")
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
                v.get("client_email")
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
            ),
            Err(_) => (Some(secret.to_string()), companion.map(str::to_string)),
        };
        let (Some(pem), Some(email)) = (pem, email) else {
            return Plan::Done(Outcome::unknown("service-account key without client_email"));
        };
        if !valid_sa_email(&email) {
            return Plan::Done(Outcome::unknown(
                "client_email is not a service-account address",
            ));
        }
        let Some(der) = pem_to_der(&pem) else {
            return Plan::Done(Outcome::unknown("private key is not a PEM RSA key"));
        };
        let jwt = match assertion(&der, &email, super::time::now_unix()) {
            Ok(j) => j,
            Err(e) => return Plan::Done(Outcome::unknown(e)),
        };
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
        );
        Plan::Send(Box::new(
            HttpRequest::post(TOKEN_HOST, "/token", body.into_bytes())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .scrub(secret)
                .scrub(jwt),
        ))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        let json = resp.json();
        let err = json
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(|e| e.as_str())
            .unwrap_or("");
        match resp.status {
            200 if json
                .as_ref()
                .is_some_and(|v| v.get("access_token").is_some()) =>
            {
                Outcome::live(None)
            }
            200 => Outcome::unknown("200 without the expected body marker"),
            400 | 401
                if err == "invalid_grant"
                    || err == "invalid_client"
                    || err == "unauthorized_client" =>
            {
                Outcome::dead(err.to_string())
            }
            _ => common_status(resp),
        }
    }
}
