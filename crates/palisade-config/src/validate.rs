//! Validation: raw config → runtime [`Config`]. Every error names the offending key
//! (`providers[1].kind`, `models[0].provider`, …).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::defaults as d;
use crate::env::{EnvError, expand};
use crate::raw::{RawConfig, RawModel, RawProvider};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Syntax(String),
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
}

pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The value `choices` pairs with the word `value`, else "`key`: `<value>` is not one of
/// <the words>".
pub(crate) fn one_of<T: Copy>(
    key: &str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    match choices.iter().find(|(word, _)| *word == value) {
        Some((_, choice)) => Ok(*choice),
        None => {
            let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
            Err(invalid(
                key,
                format!("`{value}` is not one of {}", words.join(", ")),
            ))
        }
    }
}

/// `value` if it lies in `range`, else "`key`: must be between <start> and <end>".
pub(crate) fn between<T>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            key,
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// The validated runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub policy: crate::access::PolicyConfig,
    pub limits: crate::access::LimitsConfig,
    pub audit: crate::audit::AuditConfig,
    pub scan: crate::scan::ScanConfig,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub log_level: String,
    pub log_format: LogFormat,
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub max_json_depth: usize,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no traffic for this long is closed.
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub key_cache_ttl: Duration,
    pub metrics_require_auth: bool,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client on the data
    /// plane; empty: the connection's peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The same for the admin plane, listed on their own: a host trusted to name data-plane
    /// clients could otherwise choose its address on the admin plane too (spreading admin
    /// token guesses over made-up addresses, passing `client_ip` conditions).
    pub admin_trusted_proxies: Vec<ipnet::IpNet>,
    /// Web origins whose pages may call the data plane from a browser (CORS), as browsers
    /// send them (`https://app.example.com`), or `["*"]` for any; empty: none.
    pub cors_origins: Vec<String>,
    /// When set, both listeners speak HTTPS only.
    pub tls: Option<TlsFiles>,
    /// Largest `max_tokens` a request may ask for.
    pub max_output_tokens: u64,
    /// Output tokens assumed (for limits and policy) when a request sets no `max_tokens`.
    pub default_output_tokens: u64,
    /// Most messages one chat request may carry.
    pub max_messages: usize,
    /// Most open connections from one client IP, per listener.
    pub max_connections_per_ip: usize,
    /// Open connections per listener, from all clients together.
    pub max_connections: usize,
    /// Failed authentications one client IP may make per minute before it is refused.
    pub auth_failures_per_minute_per_ip: u32,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub max_idle_per_host: usize,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    OpenAi(OpenAiSettings),
    Anthropic(AnthropicSettings),
    Simulated(SimulatedSettings),
}

impl ProviderKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::OpenAi(_) => "openai",
            ProviderKind::Anthropic(_) => "anthropic",
            ProviderKind::Simulated(_) => "simulated",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub key_header: KeyHeader,
}

/// How an OpenAI-kind upstream takes its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and most compatible servers).
    Bearer,
    /// `api-key: <key>` (Azure OpenAI, which refuses a request that has both).
    ApiKey,
}

#[derive(Debug, Clone)]
pub struct AnthropicSettings {
    pub version: String,
    pub default_max_tokens: u64,
}

#[derive(Debug, Clone)]
pub struct SimulatedSettings {
    pub reply: Option<String>,
    pub latency: Duration,
    pub chunk_interval: Duration,
    pub words_per_chunk: usize,
    pub embedding_dimensions: usize,
}

impl Default for SimulatedSettings {
    fn default() -> Self {
        SimulatedSettings {
            reply: None,
            latency: Duration::from_millis(d::SIMULATED_LATENCY_MS),
            chunk_interval: Duration::from_millis(d::SIMULATED_CHUNK_INTERVAL_MS),
            words_per_chunk: d::SIMULATED_WORDS_PER_CHUNK,
            embedding_dimensions: d::SIMULATED_EMBEDDING_DIMENSIONS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub name: String,
    pub provider: String,
    pub upstream_model: String,
    pub aliases: Vec<String>,
    pub owned_by: String,
    /// Policy attributes of the model (`resource.tier`, `resource.labels`, `resource.status`).
    pub tier: String,
    pub labels: Vec<String>,
    pub status: String,
    /// Price per million input / output tokens, for cost budgets.
    pub price_input_per_million: Option<f64>,
    pub price_output_per_million: Option<f64>,
    /// The tokenizer the model reads token-id input with, when the operator says so
    /// (token-id embeddings are then scanned as the text they spell).
    pub token_encoding: Option<TokenEncoding>,
}

/// A tiktoken vocabulary a model's token ids belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEncoding {
    Cl100kBase,
    O200kBase,
}

/// Reads and validates a config file, expanding `${ENV}` from the process environment.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    parse_str(&read(path)?, |name| std::env::var(name).ok())
}

/// The `[scan]` section of a config file, for `palisade scan --config`: the whole file
/// is checked for syntax and unknown keys, but only `[scan]` (its `${ENV}` references
/// included) and the models' names are read, so a CI job without the gateway's secrets
/// can scan with its profiles.
pub fn load_scan_section(path: &Path) -> Result<crate::ScanConfig, ConfigError> {
    let (raw, raw_scan) = load_section(path, "scan")?;
    let mut names = ModelNames::default();
    for m in raw.models {
        for n in m.aliases.iter().chain(std::iter::once(&m.name)) {
            names.0.insert(n.clone(), m.name.clone());
        }
    }
    crate::scan::scan(raw_scan, &names)
}

/// The `[store] url` of a config file, for `palisade audit verify --config`: the whole
/// file is checked for syntax and unknown keys, but only `[store]` is read (and its
/// `${ENV}` references expanded), so the verifier needs none of the gateway's secrets.
pub fn load_store_url(path: &Path) -> Result<String, ConfigError> {
    let (_, store): (_, crate::raw::RawStore) = load_section(path, "store")?;
    store_url(store.url)
}

/// `audit.origin` of the config file at `path` (or the default): the name the audit log's
/// checkpoints carry, which `palisade audit verify` holds them to.
pub fn load_audit_origin(path: &Path) -> Result<String, ConfigError> {
    let (_, audit): (_, crate::raw::RawAudit) = load_section(path, "audit")?;
    Ok(audit.origin.unwrap_or_else(|| d::AUDIT_ORIGIN.to_owned()))
}

/// One section of the config file at `path` (empty when absent) with its `${ENV}`
/// references expanded, and the file's raw form: the whole file is checked for syntax and
/// unknown keys, but only that section is expanded, so a command reading it needs none of
/// the other sections' secrets.
fn load_section<T: serde::de::DeserializeOwned>(
    path: &Path,
    name: &str,
) -> Result<(RawConfig, T), ConfigError> {
    let (raw, mut table) = checked_table(&read(path)?)?;
    let mut section = table
        .remove(name)
        .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
    expand_all(name, &mut section, &|var| std::env::var(var).ok())?;
    let section = section
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
    Ok((raw, section))
}

/// `store.url`, or the default; one of the backends Palisade speaks.
fn store_url(url: Option<String>) -> Result<String, ConfigError> {
    let url = url.unwrap_or_else(|| d::STORE_URL.to_owned());
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(invalid(
            "store.url",
            "must start with sqlite:, postgres:// or postgresql://",
        ));
    }
    Ok(url)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Parses and validates config text, resolving `${ENV}` references in every string value
/// with `env` (an unset variable is an error naming the key that referenced it).
pub fn parse_str(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let (_, mut table) = checked_table(text)?;
    master_key_is_a_reference(&table)?;
    for (key, value) in table.iter_mut() {
        expand_all(key, value, &env)?;
    }
    let raw: RawConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
    validate(raw)
}

/// The file as written, checked against the schema (errors with line numbers and key
/// names), and as a TOML table whose strings can then be expanded.
fn checked_table(text: &str) -> Result<(RawConfig, toml::Table), ConfigError> {
    let syntax = |e: toml::de::Error| ConfigError::Syntax(e.to_string());
    let raw: RawConfig = toml::from_str(text).map_err(syntax)?;
    let table: toml::Table = toml::from_str(text).map_err(syntax)?;
    Ok((raw, table))
}

/// `audit.master_key` holds the key itself once expanded: as written, it must be an
/// `${ENV}` reference, so the key never sits in the file.
fn master_key_is_a_reference(table: &toml::Table) -> Result<(), ConfigError> {
    let written = table
        .get("audit")
        .and_then(|a| a.get("master_key"))
        .and_then(toml::Value::as_str);
    match written {
        Some(text) if !text.trim_start().starts_with("${") => Err(invalid(
            "audit.master_key",
            "must be an ${ENV_VAR} reference: never write the key into the config file",
        )),
        _ => Ok(()),
    }
}

/// Expands `${NAME}` in every string under `value` (at `key`, which errors name).
fn expand_all(
    key: &str,
    value: &mut toml::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) => {
            *s = expand(s, env).map_err(|e: EnvError| invalid(key, e.to_string()))?
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_all(&format!("{key}[{i}]"), item, env)?;
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                expand_all(&format!("{key}.{k}"), v, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let s = raw.server;
    let server = ServerConfig {
        listen: addr("server.listen", s.listen.as_deref().unwrap_or(d::LISTEN))?,
        admin_listen: addr(
            "server.admin_listen",
            s.admin_listen.as_deref().unwrap_or(d::ADMIN_LISTEN),
        )?,
        max_body_bytes: positive(
            "server.max_body_bytes",
            s.max_body_bytes.unwrap_or(d::MAX_BODY_BYTES),
        )?,
        max_header_bytes: positive(
            "server.max_header_bytes",
            s.max_header_bytes.unwrap_or(d::MAX_HEADER_BYTES),
        )?,
        max_json_depth: positive(
            "server.max_json_depth",
            s.max_json_depth.unwrap_or(d::MAX_JSON_DEPTH),
        )?,
        header_read_timeout: ms(
            "server.header_read_timeout_ms",
            s.header_read_timeout_ms,
            d::HEADER_READ_TIMEOUT_MS,
        )?,
        idle_timeout: ms(
            "server.idle_timeout_ms",
            s.idle_timeout_ms,
            d::IDLE_TIMEOUT_MS,
        )?,
        request_timeout: ms(
            "server.request_timeout_ms",
            s.request_timeout_ms,
            d::REQUEST_TIMEOUT_MS,
        )?,
        shutdown_grace: Duration::from_millis(s.shutdown_grace_ms.unwrap_or(d::SHUTDOWN_GRACE_MS)),
        // A revocation reaches the other instances within it: at most an hour.
        key_cache_ttl: Duration::from_millis(between(
            "server.key_cache_ttl_ms",
            s.key_cache_ttl_ms.unwrap_or(d::KEY_CACHE_TTL_MS),
            0..=3_600_000,
        )?),
        metrics_require_auth: s.metrics_require_auth.unwrap_or(true),
        trusted_proxies: networks("server.trusted_proxies", &s.trusted_proxies)?,
        admin_trusted_proxies: networks("server.admin_trusted_proxies", &s.admin_trusted_proxies)?,
        cors_origins: origins("server.cors_origins", s.cors_origins)?,
        max_output_tokens: positive_u64(
            "server.max_output_tokens",
            s.max_output_tokens.unwrap_or(d::MAX_OUTPUT_TOKENS),
        )?,
        default_output_tokens: positive_u64(
            "server.default_output_tokens",
            s.default_output_tokens.unwrap_or(d::DEFAULT_OUTPUT_TOKENS),
        )?,
        max_messages: positive(
            "server.max_messages",
            s.max_messages.unwrap_or(d::MAX_MESSAGES),
        )?,
        max_connections_per_ip: positive(
            "server.max_connections_per_ip",
            s.max_connections_per_ip
                .unwrap_or(d::MAX_CONNECTIONS_PER_IP),
        )?,
        max_connections: between(
            "server.max_connections",
            s.max_connections.unwrap_or(d::MAX_CONNECTIONS),
            1..=1_000_000,
        )?,
        auth_failures_per_minute_per_ip: positive(
            "server.auth_failures_per_minute_per_ip",
            s.auth_failures_per_minute_per_ip
                .unwrap_or(d::AUTH_FAILURES_PER_MINUTE_PER_IP) as usize,
        )? as u32,
        tls: match s.tls {
            Some(t) => Some(TlsFiles {
                cert_file: t.cert_file.into(),
                key_file: t.key_file.into(),
            }),
            None => None,
        },
    };
    if server.listen == server.admin_listen && server.listen.port() != 0 {
        return Err(invalid(
            "server.admin_listen",
            "must differ from server.listen",
        ));
    }

    let url = store_url(raw.store.url)?;
    let store = StoreConfig {
        url,
        max_connections: positive(
            "store.max_connections",
            raw.store
                .max_connections
                .unwrap_or(d::STORE_MAX_CONNECTIONS) as usize,
        )? as u32,
    };

    let log_level = log_filter(raw.logging.level.unwrap_or_else(|| d::LOG_LEVEL.to_owned()))?;
    let log_format = one_of(
        "logging.format",
        raw.logging.format.as_deref().unwrap_or("json"),
        &[("json", LogFormat::Json), ("text", LogFormat::Text)],
    )?;

    let mut names = HashSet::new();
    let mut providers = Vec::with_capacity(raw.providers.len());
    for (i, p) in raw.providers.into_iter().enumerate() {
        let key = format!("providers[{i}]");
        if !names.insert(p.name.clone()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("duplicate provider `{}`", p.name),
            ));
        }
        providers.push(provider(&key, p)?);
    }

    let mut model_names = ModelNames::default();
    let mut models = Vec::with_capacity(raw.models.len());
    for (i, m) in raw.models.into_iter().enumerate() {
        let key = format!("models[{i}]");
        let model = model(&key, m, &names)?;
        for n in std::iter::once(&model.name).chain(&model.aliases) {
            if model_names
                .0
                .insert(n.clone(), model.name.clone())
                .is_some()
            {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("model name `{n}` is used twice"),
                ));
            }
        }
        models.push(model);
    }

    let policy = crate::access::policy(raw.policy)?;
    let limits = crate::access::limits(raw.limits, &model_names)?;
    cost_budgets_have_prices(&limits, &models)?;
    let audit = crate::audit::audit(raw.audit, &model_names)?;
    let scan = crate::scan::scan(raw.scan, &model_names)?;

    Ok(Config {
        server,
        store,
        log_level,
        log_format,
        providers,
        models,
        policy,
        limits,
        audit,
        scan,
    })
}

/// A `logging.level`: a level, or a filter of comma-separated `level` and `target=level`
/// directives. Anything else is an error: the log filter would read a misspelt level
/// (`"warning"`) as a target name and show nothing at all.
fn log_filter(filter: String) -> Result<String, ConfigError> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |l: &str| LEVELS.iter().any(|x| x.eq_ignore_ascii_case(l.trim()));
    let target = |t: &str| {
        let t = t.trim();
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c))
    };
    let ok = filter.split(',').all(|d| match d.split_once('=') {
        Some((t, l)) => target(t) && is_level(l),
        None => is_level(d),
    });
    if ok {
        Ok(filter)
    } else {
        Err(invalid(
            "logging.level",
            format!(
                "`{filter}` is not a level ({}) or a filter like \"palisade=debug,info\"",
                LEVELS.join(", ")
            ),
        ))
    }
}

/// A cost budget counts the prices of the models it covers: with none priced it would
/// never be reached, which is refused rather than left to look enforced.
fn cost_budgets_have_prices(
    limits: &crate::access::LimitsConfig,
    models: &[ModelConfig],
) -> Result<(), ConfigError> {
    let priced = |m: &ModelConfig| {
        m.price_input_per_million.is_some() || m.price_output_per_million.is_some()
    };
    for (i, r) in limits.rules.iter().enumerate() {
        if r.daily_cost_micros.is_none() && r.monthly_cost_micros.is_none() {
            continue;
        }
        let covered = |m: &&ModelConfig| match (r.scope.as_str(), &r.matches) {
            ("model", Some(name)) => &m.name == name,
            _ => true,
        };
        if !models.iter().filter(covered).any(priced) {
            return Err(invalid(
                format!("limits.rules[{i}]"),
                "a cost budget, but no model it covers has a price (models' price_input_per_million, price_output_per_million): it would never be reached",
            ));
        }
    }
    Ok(())
}

/// Every name a client may use for a model (its name and its aliases) → the model's
/// name. Rules elsewhere in the file (scanning, capture, limits) may name a model either
/// way; they are stored with the model's name, which is what requests are matched by.
#[derive(Default)]
pub(crate) struct ModelNames(HashMap<String, String>);

impl ModelNames {
    /// The model `name` stands for; an error at `key` when no model has that name.
    pub(crate) fn canonical(&self, key: &str, name: &str) -> Result<String, ConfigError> {
        self.0.get(name).cloned().ok_or_else(|| {
            invalid(
                key,
                format!("`{name}` is not a configured model name or alias"),
            )
        })
    }

    /// [`ModelNames::canonical`] of each of `names`, without repeats.
    pub(crate) fn canonical_all(
        &self,
        key: &str,
        names: Vec<String>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let c = self.canonical(key, &name)?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

fn provider(key: &str, p: RawProvider) -> Result<ProviderConfig, ConfigError> {
    if p.name.trim().is_empty() {
        return Err(invalid(format!("{key}.name"), "must not be empty"));
    }
    kind_keys_only(key, &p)?;
    let kind = match p.kind.as_str() {
        "openai" => ProviderKind::OpenAi(OpenAiSettings {
            key_header: match p.api_key_header.as_deref() {
                None | Some("authorization") => KeyHeader::Bearer,
                Some("api-key") => KeyHeader::ApiKey,
                Some(other) => {
                    return Err(invalid(
                        format!("{key}.api_key_header"),
                        format!("`{other}` is not one of authorization, api-key"),
                    ));
                }
            },
        }),
        "anthropic" => ProviderKind::Anthropic(AnthropicSettings {
            version: p
                .anthropic_version
                .clone()
                .unwrap_or_else(|| d::ANTHROPIC_VERSION.to_owned()),
            default_max_tokens: p
                .default_max_tokens
                .unwrap_or(d::ANTHROPIC_DEFAULT_MAX_TOKENS),
        }),
        "simulated" => ProviderKind::Simulated(SimulatedSettings {
            reply: p.reply.clone(),
            latency: Duration::from_millis(p.latency_ms.unwrap_or(d::SIMULATED_LATENCY_MS)),
            chunk_interval: Duration::from_millis(
                p.chunk_interval_ms
                    .unwrap_or(d::SIMULATED_CHUNK_INTERVAL_MS),
            ),
            words_per_chunk: positive(
                &format!("{key}.words_per_chunk"),
                p.words_per_chunk.unwrap_or(d::SIMULATED_WORDS_PER_CHUNK),
            )?,
            embedding_dimensions: positive(
                &format!("{key}.embedding_dimensions"),
                p.embedding_dimensions
                    .unwrap_or(d::SIMULATED_EMBEDDING_DIMENSIONS),
            )?,
        }),
        other => {
            return Err(invalid(
                format!("{key}.kind"),
                format!("`{other}` is not one of openai, anthropic, simulated"),
            ));
        }
    };
    let base_url = match (&kind, p.base_url.as_deref()) {
        (ProviderKind::Simulated(_), _) => String::new(),
        (ProviderKind::Anthropic(_), None) => d::ANTHROPIC_BASE_URL.to_owned(),
        (ProviderKind::OpenAi(_), None) => {
            return Err(invalid(
                format!("{key}.base_url"),
                "is required for kind = \"openai\"",
            ));
        }
        (_, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    format!("{key}.base_url"),
                    "must start with http:// or https://",
                ));
            }
            url.trim_end_matches('/').to_owned()
        }
    };
    let api_key = match p.api_key.as_deref() {
        Some(k) => Some(k.to_owned()).filter(|k| !k.is_empty()),
        None => None,
    };
    Ok(ProviderConfig {
        name: p.name,
        kind,
        base_url,
        api_key,
        timeout: ms(
            &format!("{key}.timeout_ms"),
            p.timeout_ms,
            d::PROVIDER_TIMEOUT_MS,
        )?,
        connect_timeout: ms(
            &format!("{key}.connect_timeout_ms"),
            p.connect_timeout_ms,
            d::PROVIDER_CONNECT_TIMEOUT_MS,
        )?,
        max_retries: match p.max_retries.unwrap_or(d::PROVIDER_MAX_RETRIES) {
            n @ 0..=10 => n,
            _ => return Err(invalid(format!("{key}.max_retries"), "must be at most 10")),
        },
        retry_backoff: Duration::from_millis(
            p.retry_backoff_ms.unwrap_or(d::PROVIDER_RETRY_BACKOFF_MS),
        ),
        max_idle_per_host: p.max_idle_per_host.unwrap_or(d::PROVIDER_MAX_IDLE_PER_HOST),
    })
}

/// Refuses a key that belongs to another provider kind: set on this one it would be
/// silently ignored (`default_max_tokens` on an OpenAI upstream caps nothing).
fn kind_keys_only(key: &str, p: &RawProvider) -> Result<(), ConfigError> {
    let set = [
        ("api_key_header", "openai", p.api_key_header.is_some()),
        (
            "anthropic_version",
            "anthropic",
            p.anthropic_version.is_some(),
        ),
        (
            "default_max_tokens",
            "anthropic",
            p.default_max_tokens.is_some(),
        ),
        ("reply", "simulated", p.reply.is_some()),
        ("latency_ms", "simulated", p.latency_ms.is_some()),
        (
            "chunk_interval_ms",
            "simulated",
            p.chunk_interval_ms.is_some(),
        ),
        ("words_per_chunk", "simulated", p.words_per_chunk.is_some()),
        (
            "embedding_dimensions",
            "simulated",
            p.embedding_dimensions.is_some(),
        ),
    ];
    match set
        .iter()
        .find(|(_, kind, present)| *present && *kind != p.kind)
    {
        Some((field, kind, _)) => Err(invalid(
            format!("{key}.{field}"),
            format!("applies to kind = \"{kind}\" only"),
        )),
        None => Ok(()),
    }
}

fn model(key: &str, m: RawModel, providers: &HashSet<String>) -> Result<ModelConfig, ConfigError> {
    if m.name.trim().is_empty() {
        return Err(invalid(format!("{key}.name"), "must not be empty"));
    }
    if !providers.contains(&m.provider) {
        return Err(invalid(
            format!("{key}.provider"),
            format!("no provider named `{}`", m.provider),
        ));
    }
    let status = m.status.unwrap_or_else(|| "active".to_owned());
    if !["active", "quarantined", "retired"].contains(&status.as_str()) {
        return Err(invalid(
            format!("{key}.status"),
            format!("`{status}` is not one of active, quarantined, retired"),
        ));
    }
    for (field, price) in [
        ("price_input_per_million", m.price_input_per_million),
        ("price_output_per_million", m.price_output_per_million),
    ] {
        if price.is_some_and(|p| !(p.is_finite() && p >= 0.0)) {
            return Err(invalid(
                format!("{key}.{field}"),
                "must be a non-negative number",
            ));
        }
    }
    let token_encoding = match m.token_encoding.as_deref() {
        None => None,
        Some(name) => Some(one_of(
            &format!("{key}.token_encoding"),
            name,
            &[
                ("cl100k_base", TokenEncoding::Cl100kBase),
                ("o200k_base", TokenEncoding::O200kBase),
            ],
        )?),
    };
    Ok(ModelConfig {
        token_encoding,
        upstream_model: m.upstream_model.unwrap_or_else(|| m.name.clone()),
        owned_by: m.owned_by.unwrap_or_else(|| m.provider.clone()),
        name: m.name,
        provider: m.provider,
        aliases: m.aliases,
        tier: m.tier.unwrap_or_else(|| "standard".to_owned()),
        labels: m.labels,
        status,
        price_input_per_million: m.price_input_per_million,
        price_output_per_million: m.price_output_per_million,
    })
}

fn addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        invalid(
            key,
            format!("`{value}` is not an address like 127.0.0.1:8080"),
        )
    })
}

fn positive_u64(key: &str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(value)
    }
}

fn positive(key: &str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(value)
    }
}

fn ms(key: &str, value: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if v == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(Duration::from_millis(v))
    }
}

/// A list of addresses or CIDR networks (a bare address is a network of one).
fn networks(key: &str, list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        format!("{key}[{i}]"),
                        format!("`{p}` is not an address or CIDR network"),
                    )
                })
        })
        .collect()
}

/// `*` alone, or origins exactly as browsers send them in `Origin`: `http` or `https`,
/// a lower-case host, a port only when not the scheme's default, and nothing after.
fn origins(key: &str, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    if list.iter().any(|o| o == "*") {
        return if list.len() == 1 {
            Ok(list)
        } else {
            Err(invalid(key, "`*` (any origin) stands alone"))
        };
    }
    for (i, origin) in list.iter().enumerate() {
        let rest = origin
            .strip_prefix("https://")
            .map(|r| (r, ":443"))
            .or_else(|| origin.strip_prefix("http://").map(|r| (r, ":80")));
        let ok = rest.is_some_and(|(host, default_port)| {
            !host.is_empty()
                && !host.ends_with(default_port)
                && host
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:[]".contains(&b))
        });
        if !ok {
            return Err(invalid(
                format!("{key}[{i}]"),
                format!(
                    "`{origin}` is not an origin as browsers send it (`https://app.example.com`, \
                     `http://localhost:3000`: lower case, no path, no default port)"
                ),
            ));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_config_is_valid() {
        let cfg = parse_str(d::DEFAULT_CONFIG_TOML, no_env).unwrap();
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.models[0].upstream_model, "gpt-4o-mini");
    }

    #[test]
    fn the_store_url_is_read_without_the_gateways_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("palisade.toml");
        let text = "[store]\nurl = \"sqlite://audit.db\"\n\n[[providers]]\nname = \"p\"\nkind = \"openai\"\napi_key = \"${PALISADE_TEST_UNSET_PROVIDER_KEY}\"\n";
        std::fs::write(&path, text).unwrap();
        assert!(load_file(&path).is_err(), "the provider key is unset");
        assert_eq!(load_store_url(&path).unwrap(), "sqlite://audit.db");
        std::fs::write(&path, "[store]\nurl = \"mysql://x\"\n").unwrap();
        assert!(load_store_url(&path).is_err());
        std::fs::write(&path, "[stor]\n").unwrap();
        assert!(
            load_store_url(&path).is_err(),
            "unknown keys are still errors"
        );
    }

    #[test]
    fn the_audit_origin_is_read_without_the_gateways_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("palisade.toml");
        let unset = "[[providers]]\nname = \"p\"\nkind = \"openai\"\napi_key = \"${PALISADE_TEST_UNSET_PROVIDER_KEY}\"\n";
        std::fs::write(
            &path,
            format!("[audit]\norigin = \"acme.example/audit\"\n{unset}"),
        )
        .unwrap();
        assert_eq!(load_audit_origin(&path).unwrap(), "acme.example/audit");
        std::fs::write(&path, unset).unwrap();
        assert_eq!(load_audit_origin(&path).unwrap(), d::AUDIT_ORIGIN);
        // Expanded like the gateway expands it: an unset variable is an error, not a name.
        std::fs::write(
            &path,
            "[audit]\norigin = \"${PALISADE_TEST_UNSET_ORIGIN}\"\n",
        )
        .unwrap();
        assert!(load_audit_origin(&path).is_err());
    }

    #[test]
    fn documented_default_matches_docs() {
        let docs = include_str!("../../../docs/config.md");
        assert!(
            docs.contains(d::DEFAULT_CONFIG_TOML),
            "docs/config.md must embed DEFAULT_CONFIG_TOML verbatim"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse_str(
            "[server]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n",
            no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }

    #[test]
    fn the_key_cache_lasts_at_most_an_hour() {
        let cfg = parse_str("[server]\nkey_cache_ttl_ms = 3600000\n", no_env).unwrap();
        assert_eq!(cfg.server.key_cache_ttl, Duration::from_secs(3600));
        let err = parse_str("[server]\nkey_cache_ttl_ms = 86400000\n", no_env).unwrap_err();
        assert!(err.to_string().contains("key_cache_ttl_ms"), "{err}");
    }

    #[test]
    fn bad_reference_is_named() {
        let text =
            "[[providers]]\nname='a'\nkind='simulated'\n[[models]]\nname='m'\nprovider='b'\n";
        let err = parse_str(text, no_env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`models[0].provider`: no provider named `b`"
        );
    }

    #[test]
    fn env_secrets_expand_and_missing_ones_fail() {
        let text =
            "[[providers]]\nname='a'\nkind='openai'\nbase_url='http://x/v1'\napi_key='${K}'\n";
        let cfg = parse_str(text, |n| (n == "K").then(|| "s3cret".into())).unwrap();
        assert_eq!(cfg.providers[0].api_key.as_deref(), Some("s3cret"));
        let err = parse_str(text, no_env).unwrap_err();
        assert!(err.to_string().contains("providers[0].api_key"), "{err}");
    }

    #[test]
    fn every_string_value_expands_once() {
        let text = "[[providers]]\nname='p'\nkind='simulated'\nreply='$${KEPT}'\n\
                    [[models]]\nname='m'\nprovider='p'\nupstream_model='${DEPLOYMENT}'\n\
                    [limits]\nbackend='redis'\nredis_url='redis://r:6379'\nkey_prefix='${TENANT}:'\n\
                    [audit]\nmaster_key='${MASTER}'\n";
        let env = |n: &str| match n {
            "DEPLOYMENT" => Some("gpt-4o-2024".to_owned()),
            "TENANT" => Some("acme".to_owned()),
            "MASTER" => Some("k".to_owned()),
            _ => None,
        };
        let cfg = parse_str(text, env).unwrap();
        assert_eq!(cfg.models[0].upstream_model, "gpt-4o-2024");
        assert!(
            matches!(&cfg.limits.backend, crate::LimitsBackend::Redis { key_prefix, .. } if key_prefix == "acme:"),
            "{:?}",
            cfg.limits.backend
        );
        match &cfg.providers[0].kind {
            ProviderKind::Simulated(s) => assert_eq!(s.reply.as_deref(), Some("${KEPT}")),
            other => panic!("{other:?}"),
        }
        let err = parse_str(text, |n| (n != "TENANT").then(|| env(n)).flatten()).unwrap_err();
        assert!(err.to_string().starts_with("`limits.key_prefix`"), "{err}");
        // The master key itself is never written in the file.
        let err = parse_str("[audit]\nmaster_key='c2VjcmV0'\n", env).unwrap_err();
        assert!(err.to_string().contains("${ENV_VAR}"), "{err}");
    }

    #[test]
    fn provider_keys_are_checked_against_the_kind() {
        let openai = "[[providers]]\nname='a'\nkind='openai'\nbase_url='http://x/v1'\n";
        let cfg = parse_str(&format!("{openai}api_key_header='api-key'\n"), no_env).unwrap();
        assert!(matches!(
            &cfg.providers[0].kind,
            ProviderKind::OpenAi(OpenAiSettings {
                key_header: KeyHeader::ApiKey
            })
        ));
        for (extra, key) in [
            ("api_key_header='x-key'", "providers[0].api_key_header"),
            ("default_max_tokens=100", "providers[0].default_max_tokens"),
            ("reply='hi'", "providers[0].reply"),
            ("max_retries=100", "providers[0].max_retries"),
        ] {
            let err = parse_str(&format!("{openai}{extra}\n"), no_env).unwrap_err();
            assert!(err.to_string().starts_with(&format!("`{key}`")), "{err}");
        }
        let err = parse_str(
            "[[providers]]\nname='a'\nkind='anthropic'\napi_key_header='api-key'\n",
            no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("api_key_header"), "{err}");
    }

    #[test]
    fn cors_origins_are_origins_as_browsers_send_them() {
        let ok = "[server]\ncors_origins = ['https://app.example.com', 'http://localhost:3000', \
                  'http://[::1]:8080']\n";
        assert_eq!(parse_str(ok, no_env).unwrap().server.cors_origins.len(), 3);
        let any = parse_str("[server]\ncors_origins = ['*']\n", no_env).unwrap();
        assert_eq!(any.server.cors_origins, ["*"]);
        assert!(
            parse_str("", no_env)
                .unwrap()
                .server
                .cors_origins
                .is_empty()
        );
        for bad in [
            "'https://app.example.com/'",
            "'https://App.example.com'",
            "'app.example.com'",
            "'https://app.example.com:443'",
            "'ftp://example.com'",
            "'https://'",
            "'*', 'https://a.example'",
        ] {
            let text = format!("[server]\ncors_origins = [{bad}]\n");
            let err = parse_str(&text, no_env).unwrap_err();
            assert!(
                err.to_string().starts_with("`server.cors_origins"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn end_users_belong_to_the_calling_user_unless_the_scope_is_global() {
        use crate::audit::EndUserScope;
        let cfg = parse_str("", no_env).unwrap();
        let scope = cfg.audit.end_user_scope;
        assert_eq!(scope, EndUserScope::User);
        assert_eq!(scope.subject("usr_a", Some("42")), "usr_a:42");
        assert_eq!(
            scope.subject("usr_a", Some("")),
            "usr_a",
            "empty: no end user"
        );
        assert_eq!(scope.subject("usr_a", None), "usr_a");
        let cfg = parse_str("[audit]\nend_user_scope = 'global'\n", no_env).unwrap();
        let scope = cfg.audit.end_user_scope;
        assert_eq!(scope.subject("usr_a", Some("42")), "42");
        assert_eq!(scope.subject("usr_a", None), "usr_a");
        let err = parse_str("[audit]\nend_user_scope = 'tenant'\n", no_env).unwrap_err();
        assert!(
            err.to_string().starts_with("`audit.end_user_scope`"),
            "{err}"
        );
    }

    #[test]
    fn rules_may_name_a_model_by_alias_and_keep_its_name() {
        // Requests are matched by the model's name: a rule kept with an alias would
        // never match, and a model meant to be scanned would not be.
        let text = "[[providers]]\nname='p'\nkind='simulated'\n\
                    [[models]]\nname='gpt-4o'\nprovider='p'\naliases=['gpt4']\n\
                    [scan]\ndefault_profile='none'\n\
                    [[scan.rules]]\nmodels=['gpt4', 'gpt-4o']\nprofile='default'\n\
                    [[audit.capture_rules]]\nmodels=['gpt4']\ncapture='none'\n\
                    [[limits.rules]]\nscope='model'\nmatch='gpt4'\nrequests_per_minute=5\n";
        let cfg = parse_str(text, no_env).unwrap();
        assert_eq!(cfg.scan.rules[0].models, ["gpt-4o"]);
        assert_eq!(cfg.audit.capture_rules[0].models, ["gpt-4o"]);
        assert_eq!(cfg.limits.rules[0].matches.as_deref(), Some("gpt-4o"));
        let err = parse_str(&text.replace("match='gpt4'", "match='gpt5'"), no_env).unwrap_err();
        assert!(
            err.to_string().starts_with("`limits.rules[0].match`"),
            "{err}"
        );
    }

    #[test]
    fn normalisation_steps_are_on_unless_turned_off() {
        let on = parse_str("", no_env).unwrap();
        assert!(on.scan.decode && on.scan.letter_spacing);
        let off = parse_str("[scan]\ndecode=false\nletter_spacing=false\n", no_env).unwrap();
        assert!(!off.scan.decode && !off.scan.letter_spacing);
    }

    #[test]
    fn the_default_profile_is_replaced_once() {
        let text = "[[scan.profiles]]\nname='default'\n[[scan.profiles]]\nname='default'\n";
        let err = parse_str(text, no_env).unwrap_err();
        assert!(err.to_string().contains("duplicate profile"), "{err}");
    }

    #[test]
    fn cost_budgets_need_priced_models() {
        let model = |price: &str| {
            format!(
                "[[providers]]\nname='s'\nkind='simulated'\n[[models]]\nname='m'\nprovider='s'\n{price}"
            )
        };
        let rule = "[[limits.rules]]\nscope='user'\ndaily_cost=5.0\n";
        let err = parse_str(&format!("{}{rule}", model("")), no_env).unwrap_err();
        assert!(err.to_string().starts_with("`limits.rules[0]`"), "{err}");
        let priced = model("price_input_per_million=0.15\n");
        assert!(parse_str(&format!("{priced}{rule}"), no_env).is_ok());
    }

    #[test]
    fn banned_terms_need_a_banned_action() {
        // Listed without a `banned` action, the terms would never be looked for.
        for terms in ["banned_terms = ['x']", "banned_topics = { t = ['x'] }"] {
            let text =
                format!("[[scan.profiles]]\nname='p'\nactions = {{ secret = 'block' }}\n{terms}\n");
            let err = parse_str(&text, no_env).unwrap_err().to_string();
            assert!(
                err.starts_with("`scan.profiles[0].actions`") && err.contains("banned"),
                "{err}"
            );
        }
        for action in ["banned = 'block'", "banned_term = 'flag'"] {
            let text = format!(
                "[[scan.profiles]]\nname='p'\nactions = {{ {action} }}\nbanned_terms = ['x']\n"
            );
            assert!(parse_str(&text, no_env).is_ok(), "{action}");
        }
    }

    #[test]
    fn a_misspelt_log_level_is_an_error() {
        for ok in [
            "info",
            "WARN",
            "palisade=debug,info",
            "palisade_gateway::server=trace",
        ] {
            let cfg = parse_str(&format!("[logging]\nlevel = '{ok}'\n"), no_env).unwrap();
            assert_eq!(cfg.log_level, ok);
        }
        for bad in ["warning", "inof", "palisade=loud", "info,", "a b=info"] {
            let err = parse_str(&format!("[logging]\nlevel = '{bad}'\n"), no_env).unwrap_err();
            assert!(
                err.to_string().starts_with("`logging.level`"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let err = parse_str("[[providers]]\nname='a'\nkind='bedrock'\n", no_env).unwrap_err();
        assert!(err.to_string().starts_with("`providers[0].kind`"), "{err}");
    }
}
