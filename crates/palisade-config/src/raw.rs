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
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub scan: RawScan,
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
    pub idle_timeout_ms: Option<u64>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
    pub key_cache_ttl_ms: Option<u64>,
    pub metrics_require_auth: Option<bool>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub admin_trusted_proxies: Vec<String>,
    #[serde(default)]
    pub cors_origins: Vec<String>,
    pub tls: Option<RawTls>,
    pub max_output_tokens: Option<u64>,
    pub default_output_tokens: Option<u64>,
    pub max_messages: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub max_connections: Option<usize>,
    pub auth_failures_per_minute_per_ip: Option<u32>,
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
    /// OpenAI: the header the key goes in, `authorization` (bearer) or `api-key` (Azure).
    pub api_key_header: Option<String>,
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
    pub tier: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub status: Option<String>,
    pub price_input_per_million: Option<f64>,
    pub price_output_per_million: Option<f64>,
    pub token_encoding: Option<String>,
}

/// `[policy]`: where the Cedar policies live and how decisions are shown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub file: Option<String>,
    pub utc_offset_minutes: Option<i32>,
    pub explain_denials: Option<bool>,
}

/// `[limits]`: the backend and the rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub backend: Option<String>,
    pub redis_url: Option<String>,
    pub key_prefix: Option<String>,
    pub on_backend_error: Option<String>,
    pub backend_timeout_ms: Option<u64>,
    pub backend_cooldown_ms: Option<u64>,
    #[serde(default)]
    pub rules: Vec<RawLimitRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimitRule {
    pub scope: String,
    #[serde(rename = "match")]
    pub matches: Option<String>,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub concurrent: Option<u64>,
    pub daily_tokens: Option<u64>,
    pub monthly_tokens: Option<u64>,
    pub daily_cost: Option<f64>,
    pub monthly_cost: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub enabled: Option<bool>,
    pub durability: Option<String>,
    pub sync: Option<String>,
    pub origin: Option<String>,
    pub signing_key_file: Option<String>,
    pub master_key: Option<String>,
    pub master_key_file: Option<String>,
    #[serde(default)]
    pub previous_master_key_files: Vec<String>,
    pub capture: Option<String>,
    #[serde(default)]
    pub capture_rules: Vec<RawCaptureRule>,
    pub end_user_scope: Option<String>,
    pub checkpoint_every: Option<u64>,
    pub checkpoint_interval_ms: Option<u64>,
    pub batch_max: Option<usize>,
    pub commit_timeout_ms: Option<u64>,
    pub retention_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaptureRule {
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub capture: String,
}

/// `[scan]`: content scanning.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub enabled: Option<bool>,
    pub default_profile: Option<String>,
    pub builtin_secret_rules: Option<bool>,
    #[serde(default)]
    pub secret_rule_files: Vec<String>,
    pub classifier: Option<bool>,
    pub injection_threshold: Option<f32>,
    pub decode: Option<bool>,
    pub letter_spacing: Option<bool>,
    pub stream_holdback_bytes: Option<usize>,
    pub stream_max_hold_bytes: Option<usize>,
    #[serde(default)]
    pub profiles: Vec<RawScanProfile>,
    #[serde(default)]
    pub rules: Vec<RawScanRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanProfile {
    pub name: String,
    pub threshold: Option<f32>,
    pub scan_system: Option<bool>,
    pub scan_output: Option<bool>,
    /// Finding kind or category → action.
    #[serde(default)]
    pub actions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub banned_terms: Vec<String>,
    #[serde(default)]
    pub banned_topics: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanRule {
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub profile: String,
}
