//! AI infrastructure: vector databases, tracing, experiment tracking, MLOps and Azure OpenAI
//! (TOKEN_FORMATS.md §2b, §3f). Azure OpenAI and Databricks take their host from the scanned file (a companion
//! value), accepted only under the provider's domain suffixes.
use super::{Auth, Host, Marker, Simple};

/// The Azure OpenAI hosts a key may be sent to.
pub const AZURE_OPENAI_SUFFIXES: &[&str] = &["openai.azure.com", "cognitiveservices.azure.com"];
/// The Databricks workspace hosts a token may be sent to.
pub const DATABRICKS_SUFFIXES: &[&str] = &[
    "cloud.databricks.com",
    "gcp.databricks.com",
    "azuredatabricks.net",
];

/// The Weaviate Cloud hosts a key may be sent to.
pub const WEAVIATE_SUFFIXES: &[&str] = &["weaviate.cloud", "weaviate.network"];

pub fn simple() -> Vec<Simple> {
    vec![
        Simple {
            host: Host::FromText("host", WEAVIATE_SUFFIXES),
            dead: &[401],
            restricted: &[403],
            ..Simple::get(
                "weaviate",
                "",
                "/v1/meta",
                Auth::Bearer,
                Marker::Key("/version"),
            )
        },
        Simple {
            headers: &[
                ("X-Pinecone-Api-Version", "2025-10"),
                ("Accept", "application/json"),
            ],
            dead: &[401],
            restricted: &[403],
            ..Simple::get(
                "pinecone",
                "api.pinecone.io",
                "/indexes",
                Auth::Header("Api-Key", ""),
                Marker::Key("/indexes"),
            )
        },
        Simple::get(
            "langsmith",
            "api.smith.langchain.com",
            "/api/v1/api-key/current",
            Auth::Header("X-API-Key", ""),
            Marker::Key("/id"),
        ),
        Simple {
            identity: &["/display_name"],
            ..Simple::get(
                "langsmith-service",
                "api.smith.langchain.com",
                "/api/v1/orgs/current",
                Auth::Header("X-API-Key", ""),
                Marker::Key("/id"),
            )
        },
        Simple {
            // A GraphQL query (read-only, no mutation) for the viewer's user name.
            method: "POST",
            body: Some(r#"{"query":"query Viewer { viewer { username } }"}"#),
            headers: &[("Content-Type", "application/json")],
            identity: &["/data/viewer/username"],
            ..Simple::get(
                "wandb",
                "api.wandb.ai",
                "/graphql",
                Auth::Basic("api"),
                Marker::Key("/data/viewer/username"),
            )
        },
        Simple {
            host: Host::FromText("endpoint", AZURE_OPENAI_SUFFIXES),
            dead: &[401],
            ..Simple::get(
                "azure-openai",
                "",
                "/openai/models?api-version=2024-10-21",
                Auth::Header("api-key", ""),
                Marker::Eq("/object", "list"),
            )
        },
        Simple {
            host: Host::FromText("host", DATABRICKS_SUFFIXES),
            identity: &["/userName"],
            ..Simple::get(
                "databricks",
                "",
                "/api/2.0/preview/scim/v2/Me",
                Auth::Bearer,
                Marker::Key("/userName"),
            )
        },
    ]
}
