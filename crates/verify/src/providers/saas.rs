//! Messaging and payments: Slack (`auth.test`, judged by the body since the status is always 200) and Stripe
//! (`GET /v1/account`; 403 means a restricted key, which is live). Never a POST that posts, charges or pays.
use super::{common_status, Auth, Marker, Plan, Provider, Simple};
use crate::http::{HttpRequest, HttpResponse};
use crate::Outcome;

pub fn simple() -> Vec<Simple> {
    vec![Simple {
        dead: &[401],
        restricted: &[403],
        identity: &[
            "/settings/dashboard/display_name",
            "/business_profile/name",
            "/id",
        ],
        ..Simple::get(
            "stripe",
            "api.stripe.com",
            "/v1/account",
            Auth::Bearer,
            Marker::Eq("/object", "account"),
        )
    }]
}

/// Slack tokens: `POST https://slack.com/api/auth.test`, a read-only identity check.
pub struct Slack;

const SLACK_HOST: &str = "slack.com";
const SLACK_DEAD: &[&str] = &[
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_authed",
];

impl Provider for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }
    fn describe(&self) -> String {
        format!("POST https://{SLACK_HOST}/api/auth.test (Authorization: Bearer <token>)")
    }
    fn egress(&self) -> Vec<String> {
        vec![SLACK_HOST.into()]
    }
    fn plan(&self, secret: &str, _companion: Option<&str>) -> Plan {
        if !super::header_safe(secret) {
            return super::not_header_safe();
        }
        Plan::Send(Box::new(
            HttpRequest::post(SLACK_HOST, "/api/auth.test", Vec::new())
                .header("Authorization", format!("Bearer {secret}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .scrub(secret),
        ))
    }
    fn judge(&self, resp: &HttpResponse) -> Outcome {
        if resp.status != 200 {
            return common_status(resp);
        }
        let Some(v) = resp.json() else {
            return Outcome::unknown("200 without the expected body marker");
        };
        match v.get("ok").and_then(|o| o.as_bool()) {
            Some(true) => {
                let id = [v.get("team"), v.get("user")]
                    .iter()
                    .filter_map(|x| x.and_then(|x| x.as_str()))
                    .collect::<Vec<_>>()
                    .join("/");
                Outcome::live((!id.is_empty()).then_some(id))
            }
            Some(false) => {
                let err = v.get("error").and_then(|e| e.as_str()).unwrap_or("");
                if SLACK_DEAD.contains(&err) {
                    Outcome::dead(err.to_string())
                } else if err == "missing_scope" {
                    Outcome::restricted(err.to_string())
                } else {
                    Outcome::unknown(format!("slack error {err:?}"))
                }
            }
            None => Outcome::unknown("200 without the expected body marker"),
        }
    }
}
