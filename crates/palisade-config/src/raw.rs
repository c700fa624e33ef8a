//! The config file as written: every table rejects unknown keys, every field is optional
//! where a default exists. Nothing here is trusted until [`crate::validate`] has run.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub logging: RawLogging,
    #[serde(default)]
    pub providers: Vec<RawProvider>,
    #[serde(default)]
    pub models: Vec<RawModel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_json_depth: Option<usize>,
    pub header_read_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
    pub key_cache_ttl_ms: Option<u64>,
    pub metrics_require_auth: Option<bool>,
    pub tls: Option<RawTls>,
}

/// TLS for both listeners: PEM certificate chain and private key files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub name: String,
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
    pub max_idle_per_host: Option<usize>,
    /// Anthropic: the `anthropic-version` header.
    pub anthropic_version: Option<String>,
    /// Anthropic: `max_tokens` to send when the client gave none (the API requires one).
    pub default_max_tokens: Option<u64>,
    /// Simulated: fixed reply text (default: a deterministic sentence about the prompt).
    pub reply: Option<String>,
    /// Simulated: delay before the first token.
    pub latency_ms: Option<u64>,
    /// Simulated: delay between streamed chunks.
    pub chunk_interval_ms: Option<u64>,
    /// Simulated: words per streamed chunk.
    pub words_per_chunk: Option<usize>,
    /// Simulated: embedding dimensions.
    pub embedding_dimensions: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: String,
    pub provider: String,
    pub upstream_model: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub owned_by: Option<String>,
}
