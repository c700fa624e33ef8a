//! The model route table: which public model names (and aliases) exist, and for each the
//! provider and upstream model that serve it. Built from config; lookups are one hash-map
//! read.

use std::collections::HashMap;
use std::sync::Arc;

use palisade_config::Config;
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
}

#[derive(Clone, Default)]
pub struct RouteTable {
    by_name: HashMap<String, ModelRoute>,
    /// Canonical names in config order, for `GET /v1/models`.
    ordered: Vec<Arc<str>>,
}

impl RouteTable {
    /// Builds every provider and route described by `config`.
    pub fn from_config(config: &Config) -> Result<Self, UpstreamError> {
        let mut providers: HashMap<&str, Arc<dyn Provider>> = HashMap::new();
        for p in &config.providers {
            providers.insert(p.name.as_str(), build_provider(p)?);
        }
        let mut table = RouteTable::default();
        for m in &config.models {
            let Some(provider) = providers.get(m.provider.as_str()) else {
                continue;
            };
            let route = ModelRoute {
                name: Arc::from(m.name.as_str()),
                upstream_model: m.upstream_model.clone(),
                provider_name: Arc::from(m.provider.as_str()),
                provider: Arc::clone(provider),
                owned_by: m.owned_by.clone(),
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

    /// Canonical routes in config order.
    pub fn canonical(&self) -> impl Iterator<Item = &ModelRoute> {
        self.ordered
            .iter()
            .filter_map(|n| self.by_name.get(n.as_ref()))
    }
}
