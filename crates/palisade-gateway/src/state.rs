//! What every request can reach: limits from config, the model route table, the key
//! authenticator and the metrics. Built once at startup and shared behind an `Arc`.

use std::sync::Arc;

use palisade_config::ServerConfig;
use palisade_policy::identity::{Authenticator, IdentityStore};

use crate::routing::RouteTable;
use crate::telemetry::metrics::Metrics;

pub struct GatewayState {
    pub server: ServerConfig,
    pub routes: RouteTable,
    pub authenticator: Arc<Authenticator>,
    /// For readiness: the gateway is ready when its store answers.
    pub identity: Arc<dyn IdentityStore>,
    pub metrics: Arc<Metrics>,
}
