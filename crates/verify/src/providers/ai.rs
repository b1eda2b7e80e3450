//! AI model providers: one read-only "list models" or "who am I" request each (TOKEN_FORMATS.md §1b). Never
//! a completion, embedding or generation endpoint.
use super::{Auth, Marker, Simple};

const ANTHROPIC_VERSION: &[(&str, &str)] = &[("anthropic-version", "2023-06-01")];

/// The AI providers' verifiers.
pub fn simple() -> Vec<Simple> {
    vec![
        Simple {
            restricted_if_body: &["insufficient permissions", "missing scopes"],
            ..Simple::get(
                "openai",
                "api.openai.com",
                "/v1/models",
                Auth::Bearer,
                Marker::Eq("/object", "list"),
            )
        },
        Simple::get(
            "openai-admin",
            "api.openai.com",
            "/v1/organization/admin_api_keys?limit=1",
            Auth::Bearer,
            Marker::Eq("/object", "list"),
        ),
        Simple {
            headers: ANTHROPIC_VERSION,
            ..Simple::get(
                "anthropic",
                "api.anthropic.com",
                "/v1/models",
                Auth::Header("x-api-key", ""),
                Marker::Key("/data"),
            )
        },
        Simple {
            headers: ANTHROPIC_VERSION,
            identity: &["/name"],
            ..Simple::get(
                "anthropic-admin",
                "api.anthropic.com",
                "/v1/organizations/me",
                Auth::Header("x-api-key", ""),
                Marker::Eq("/type", "organization"),
            )
        },
        Simple {
            identity: &["/name"],
            ..Simple::get(
                "huggingface",
                "huggingface.co",
                "/api/whoami-v2",
                Auth::Bearer,
                Marker::Key("/name"),
            )
        },
        Simple {
            // 400 API_KEY_INVALID is dead; 403 (referrer/IP/app/service blocked, API disabled) is a live key
            // that may not use Gemini.
            dead: &[400, 401],
            restricted: &[403],
            ..Simple::get(
                "gemini",
                "generativelanguage.googleapis.com",
                "/v1beta/models?pageSize=1",
                Auth::Header("x-goog-api-key", ""),
                Marker::Key("/models"),
            )
        },
        Simple::get(
            "cohere",
            "api.cohere.com",
            "/v1/connectors",
            Auth::Bearer,
            Marker::Key("/connectors"),
        ),
        Simple::get(
            "mistral",
            "api.mistral.ai",
            "/v1/models",
            Auth::Bearer,
            Marker::Key("/data"),
        ),
        Simple::get(
            "groq",
            "api.groq.com",
            "/openai/v1/models",
            Auth::Bearer,
            Marker::Key("/data"),
        ),
        Simple {
            identity: &["/username"],
            ..Simple::get(
                "replicate",
                "api.replicate.com",
                "/v1/account",
                Auth::Bearer,
                Marker::Key("/username"),
            )
        },
        Simple::get(
            "together",
            "api.together.xyz",
            "/v1/models",
            Auth::Bearer,
            Marker::Array,
        ),
        Simple::get(
            "deepseek",
            "api.deepseek.com",
            "/models",
            Auth::Bearer,
            Marker::Eq("/object", "list"),
        ),
        Simple {
            dead: &[400, 401, 403],
            identity: &["/name"],
            ..Simple::get(
                "xai",
                "api.x.ai",
                "/v1/api-key",
                Auth::Bearer,
                Marker::Key("/api_key_id"),
            )
        },
        Simple::get(
            "openrouter",
            "openrouter.ai",
            "/api/v1/key",
            Auth::Bearer,
            Marker::Key("/data"),
        ),
        Simple::get(
            "fireworks",
            "api.fireworks.ai",
            "/inference/v1/models",
            Auth::Bearer,
            Marker::Key("/data"),
        ),
        Simple {
            dead: &[400, 401],
            restricted_if_body: &["missing_permissions"],
            ..Simple::get(
                "elevenlabs",
                "api.elevenlabs.io",
                "/v1/user",
                Auth::Header("xi-api-key", ""),
                Marker::Key("/subscription"),
            )
        },
        Simple {
            identity: &["/projects/0/name"],
            ..Simple::get(
                "deepgram",
                "api.deepgram.com",
                "/v1/projects",
                Auth::Header("Authorization", "Token "),
                Marker::Key("/projects"),
            )
        },
    ]
}
