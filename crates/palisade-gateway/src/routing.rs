//! The model route table: which public model names (and aliases) exist, and for each the
//! provider and upstream model that serve it. Built from config; lookups are one hash-map
//! read.

use std::collections::HashMap;
use std::sync::Arc;

use palisade_config::{Config, ModelConfig, ProviderConfig, ProviderKind, TokenEncoding};
use palisade_policy::authz::ModelAttrs;
use palisade_upstream::{Provider, UpstreamError, build_provider};

/// Where one public model goes.
#[derive(Clone)]
pub struct ModelRoute {
    /// The name clients see (the canonical name, also for requests made by alias).
    pub name: Arc<str>,
    pub upstream_model: String,
    pub provider_name: Arc<str>,
    pub provider: Arc<dyn Provider>,
    pub owned_by: String,
    /// What policies see of the model (`resource.tier`, `.labels`, `.status`, …).
    pub attrs: Arc<ModelAttrs>,
    /// Price per million input and output tokens, for cost budgets.
    pub prices: Option<(f64, f64)>,
    /// The vocabulary of the model's token ids, where known: the model's
    /// `token_encoding`, or `cl100k_base` for OpenAI's own `text-embedding-…` models
    /// served by OpenAI or Azure OpenAI.
    pub token_encoding: Option<TokenEncoding>,
}

impl ModelRoute {
    /// The cost of `input` and `output` tokens in millionths of the price unit.
    pub fn cost_micros(&self, input: u64, output: u64) -> u64 {
        self.prices.map_or(0, |(pi, po)| {
            (input as f64 * pi + output as f64 * po).round() as u64
        })
    }
}

/// `cl100k_base` for OpenAI's embedding models (`text-embedding-…`) at OpenAI itself or
/// Azure OpenAI, whose tokenizer is documented; elsewhere the same name may be an alias
/// for a local model that reads ids with another vocabulary.
fn openai_embedding_encoding(
    provider: &ProviderConfig,
    model: &ModelConfig,
) -> Option<TokenEncoding> {
    let ProviderKind::OpenAi(_) = provider.kind else {
        return None;
    };
    // `https://user@host:443/v1` → `host`.
    let rest = provider
        .base_url
        .split_once("://")
        .map_or(provider.base_url.as_str(), |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let openai = host == "api.openai.com" || host.ends_with(".openai.azure.com");
    (openai && model.upstream_model.starts_with("text-embedding-"))
        .then_some(TokenEncoding::Cl100kBase)
}

#[derive(Clone, Default)]
pub struct RouteTable {
    by_name: HashMap<String, ModelRoute>,
    /// Canonical names in config order, for `GET /v1/models`.
    ordered: Vec<Arc<str>>,
    /// When this table was built (Unix seconds): the `created` time `GET /v1/models`
    /// gives, since the gateway does not know when a provider made its model.
    created: i64,
}

impl RouteTable {
    /// Builds every provider and route described by `config`.
    pub fn from_config(config: &Config) -> Result<Self, UpstreamError> {
        let mut providers: HashMap<&str, Arc<dyn Provider>> = HashMap::new();
        for p in &config.providers {
            providers.insert(p.name.as_str(), build_provider(p)?);
        }
        let mut table = RouteTable {
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            ..RouteTable::default()
        };
        for m in &config.models {
            let Some(provider) = providers.get(m.provider.as_str()) else {
                continue;
            };
            let provider_config = config.providers.iter().find(|p| p.name == m.provider);
            let route = ModelRoute {
                name: Arc::from(m.name.as_str()),
                upstream_model: m.upstream_model.clone(),
                provider_name: Arc::from(m.provider.as_str()),
                provider: Arc::clone(provider),
                owned_by: m.owned_by.clone(),
                attrs: Arc::new(ModelAttrs {
                    name: m.name.clone(),
                    provider: m.provider.clone(),
                    tier: m.tier.clone(),
                    labels: m.labels.clone(),
                    status: m.status.clone(),
                }),
                prices: match (m.price_input_per_million, m.price_output_per_million) {
                    (None, None) => None,
                    (i, o) => Some((i.unwrap_or(0.0), o.unwrap_or(0.0))),
                },
                token_encoding: m
                    .token_encoding
                    .or_else(|| provider_config.and_then(|p| openai_embedding_encoding(p, m))),
            };
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                table.by_name.insert(n.clone(), route.clone());
            }
            table.ordered.push(Arc::clone(&route.name));
        }
        Ok(table)
    }

    pub fn get(&self, name: &str) -> Option<&ModelRoute> {
        self.by_name.get(name)
    }

    /// When the table was built, in Unix seconds (`created` in the model list).
    pub fn created(&self) -> i64 {
        self.created
    }

    /// Canonical routes in config order.
    pub fn canonical(&self) -> impl Iterator<Item = &ModelRoute> {
        self.ordered
            .iter()
            .filter_map(|n| self.by_name.get(n.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(base_url: &str, upstream: &str, declared: &str) -> RouteTable {
        let text = format!(
            "[[providers]]\nname='p'\nkind='openai'\nbase_url='{base_url}'\n\
             [[models]]\nname='m'\nprovider='p'\nupstream_model='{upstream}'\n{declared}"
        );
        let config = palisade_config::parse_str(&text, |_| None).unwrap_or_else(|e| panic!("{e}"));
        RouteTable::from_config(&config).unwrap_or_else(|e| panic!("{e}"))
    }

    fn encoding(t: &RouteTable) -> Option<TokenEncoding> {
        t.get("m").and_then(|r| r.token_encoding)
    }

    #[test]
    fn token_ids_are_read_only_where_their_vocabulary_is_known() {
        let cl100k = Some(TokenEncoding::Cl100kBase);
        // OpenAI's embedding models at OpenAI or Azure OpenAI.
        for url in [
            "https://api.openai.com/v1",
            "https://acme.openai.azure.com/openai/deployments/x",
        ] {
            assert_eq!(
                encoding(&table(url, "text-embedding-3-small", "")),
                cl100k,
                "{url}"
            );
        }
        // The same name elsewhere may be a local model's alias; other models are unknown.
        assert_eq!(
            encoding(&table(
                "http://127.0.0.1:8000/v1",
                "text-embedding-3-small",
                ""
            )),
            None
        );
        assert_eq!(
            encoding(&table(
                "https://api.openai.com.evil.example/v1",
                "text-embedding-3-small",
                ""
            )),
            None
        );
        assert_eq!(
            encoding(&table("https://api.openai.com/v1", "gpt-4o", "")),
            None
        );
        // Unless the operator declares it.
        let declared = "token_encoding = 'o200k_base'\n";
        assert_eq!(
            encoding(&table("http://127.0.0.1:8000/v1", "e5", declared)),
            Some(TokenEncoding::O200kBase)
        );
    }
}
