//! CI range detection: the base commit of a GitHub Actions pull request or a GitLab merge request (or the
//! previous tip of a push, marked `push`: after a force-push it may be gone), from the environment variables
//! those systems set. Pure: takes a lookup function,
//! so it is tested without touching the process environment.
use std::path::Path;

/// The all-zero sha CI systems use for "no previous commit".
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// A detected base: the revision to exclude, and where it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiBase {
    pub base: String,
    pub from: &'static str,
    /// The base is the branch's previous tip from a push event (not a pull/merge request's target): a
    /// force-push can have made it unreachable, and the caller may fall back to what the push introduced.
    pub push: bool,
}

/// Find the base of the change being tested. `env` looks up an environment variable.
pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Option<CiBase> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    // GitLab merge request pipelines.
    if let Some(sha) = get("CI_MERGE_REQUEST_DIFF_BASE_SHA") {
        return Some(CiBase {
            base: sha,
            from: "CI_MERGE_REQUEST_DIFF_BASE_SHA",
            push: false,
        });
    }
    // GitHub Actions: the event payload has the exact base sha of a pull request, or `before` of a push.
    if get("GITHUB_ACTIONS").is_some() || get("GITHUB_EVENT_NAME").is_some() {
        let event = get("GITHUB_EVENT_NAME").unwrap_or_default();
        let payload: Option<serde_json::Value> = get("GITHUB_EVENT_PATH")
            .and_then(|p| std::fs::read(Path::new(&p)).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        if event.starts_with("pull_request") {
            if let Some(sha) = payload
                .as_ref()
                .and_then(|p| p.pointer("/pull_request/base/sha"))
                .and_then(|v| v.as_str())
            {
                return Some(CiBase {
                    base: sha.to_string(),
                    from: "GITHUB_EVENT_PATH pull_request.base.sha",
                    push: false,
                });
            }
            if let Some(r) = get("GITHUB_BASE_REF") {
                return Some(CiBase {
                    base: format!("origin/{r}"),
                    from: "GITHUB_BASE_REF",
                    push: false,
                });
            }
        }
        if event == "push" {
            if let Some(sha) = payload
                .as_ref()
                .and_then(|p| p.get("before"))
                .and_then(|v| v.as_str())
                .filter(|s| *s != ZERO_SHA)
            {
                return Some(CiBase {
                    base: sha.to_string(),
                    from: "GITHUB_EVENT_PATH before",
                    push: true,
                });
            }
        }
    }
    // GitLab branch pipelines: the previous tip of the branch.
    if let Some(sha) = get("CI_COMMIT_BEFORE_SHA").filter(|s| s != ZERO_SHA) {
        return Some(CiBase {
            base: sha,
            from: "CI_COMMIT_BEFORE_SHA",
            push: true,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn github_pull_request_base_sha_from_event_payload() {
        let dir = tempfile::tempdir().unwrap();
        let ev = dir.path().join("event.json");
        std::fs::write(
            &ev,
            r#"{"pull_request":{"base":{"sha":"1111111111111111111111111111111111111111","ref":"main"}}}"#,
        )
        .unwrap();
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_EVENT_PATH", ev.to_str().unwrap()),
        ]);
        let b = detect(&env).unwrap();
        assert_eq!(b.base, "1111111111111111111111111111111111111111");
    }

    #[test]
    fn github_base_ref_when_payload_missing() {
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request_target"),
            ("GITHUB_BASE_REF", "develop"),
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
        ]);
        assert_eq!(detect(&env).unwrap().base, "origin/develop");
    }

    #[test]
    fn gitlab_merge_request_then_before_sha() {
        let env = env_of(&[
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "abc123"),
            ("CI_COMMIT_BEFORE_SHA", "def456"),
        ]);
        assert_eq!(detect(&env).unwrap().base, "abc123");
        let env = env_of(&[("CI_COMMIT_BEFORE_SHA", "def456")]);
        assert_eq!(detect(&env).unwrap().from, "CI_COMMIT_BEFORE_SHA");
        let env = env_of(&[("CI_COMMIT_BEFORE_SHA", ZERO_SHA)]);
        assert_eq!(detect(&env), None);
        assert_eq!(detect(&env_of(&[])), None);
    }
}
