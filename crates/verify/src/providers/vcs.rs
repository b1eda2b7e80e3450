//! Source hosting and package registries: GitHub, GitLab (gitlab.com only), npm (registry.npmjs.org only),
//! Docker Hub (needs the user name as a companion value). PyPI has no read-only check: its tokens are not
//! verified online (the only known probe is an upload request, a write).
use super::{common_status, Auth, Marker, Plan, Provider, Simple};
use crate::http::{HttpRequest, HttpResponse};
use crate::Outcome;

const GITHUB_HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", "2022-11-28"),
];

pub fn simple() -> Vec<Simple> {
    vec![
        Simple {
            headers: GITHUB_HEADERS,
            // GitHub answers 403 for rate limits as well as for blocked tokens: not a verdict.
            dead: &[401],
            identity: &["/login"],
            ..Simple::get(
                "github",
                "api.github.com",
                "/user",
                Auth::Header("Authorization", "token "),
                Marker::Key("/login"),
            )
        },
        Simple {
            headers: GITHUB_HEADERS,
            dead: &[401],
            ..Simple::get(
                "github-app",
                "api.github.com",
                "/installation/repositories?per_page=1",
                Auth::Header("Authorization", "token "),
                Marker::Key("/total_count"),
            )
        },
        Simple {
            restricted_if_body: &["insufficient_scope"],
            identity: &["/name"],
            ..Simple::get(
                "gitlab",
                "gitlab.com",
                "/api/v4/personal_access_tokens/self",
                Auth::Header("PRIVATE-TOKEN", ""),
                Marker::Key("/scopes"),
            )
        },
        Simple {
            dead: &[401],
            identity: &["/username"],
            ..Simple::get(
                "npm",
                "registry.npmjs.org",
                "/-/whoami",
                Auth::Bearer,
                Marker::Key("/username"),
            )
        },
    ]
}

/// Docker Hub access tokens: exchanged, with the user name found in the same file, for a short-lived JWT that
/// is discarded (`POST https://hub.docker.com/v2/auth/token`). A credential exchange; nothing is written.
pub struct DockerHub;

const DOCKER_HOST: &str = "hub.docker.com";

impl Provider for DockerHub {
    fn name(&self) -> &'static str {
        "dockerhub"
    }
    fn describe(&self) -> String {
        format!("POST https://{DOCKER_HOST}/v2/auth/token (JSON identifier=<username>, secret=<token>; the returned JWT is discarded)")
    }
    fn egress(&self) -> Vec<String> {
        vec![DOCKER_HOST.into()]
    }
    fn companion_role(&self) -> Option<&'static str> {
        Some("username")
    }
    fn plan(&self, secret: &str, companion: Option<&str>) -> Plan {
        let Some(user) = companion.map(str::trim).filter(|u| {
            !u.is_empty()
                && u.len() <= 64
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        }) else {
            return Plan::Done(Outcome::unknown("no valid Docker Hub user name found"));
        };
        let body = serde_json::json!({"identifier": user, "secret": secret}).to_string();
        Plan::Send(Box::new(
            HttpRequest::post(DOCKER_HOST, "/v2/auth/token", body.into_bytes())
                .header("Content-Type", "application/json")
                .scrub(secret),
        ))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        match resp.status {
            200 if resp
                .json()
                .is_some_and(|v| v.get("access_token").is_some() || v.get("token").is_some()) =>
            {
                Outcome::live(None)
            }
            200 => Outcome::unknown("200 without the expected body marker"),
            401 | 403 => Outcome::dead(resp.status.to_string()),
            _ => common_status(resp),
        }
    }
}
