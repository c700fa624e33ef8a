//! What every request can reach: limits from config, the model route table, the key
//! authenticator, the policy engine, the limiter and the metrics. Built once at startup
//! and shared behind an `Arc`; the policy set and limit rules swap atomically inside.

use std::sync::Arc;

use palisade_config::ServerConfig;
use palisade_policy::authz::PolicyEngine;
use palisade_policy::identity::{AuthFailures, Authenticator, IdentityStore};
use palisade_policy::limits::Limiter;

use crate::routing::RouteTable;
use crate::telemetry::metrics::Metrics;

pub struct GatewayState {
    pub server: ServerConfig,
    pub routes: RouteTable,
    pub authenticator: Arc<Authenticator>,
    /// For readiness: the gateway is ready when its store answers.
    pub identity: Arc<dyn IdentityStore>,
    pub metrics: Arc<Metrics>,
    pub policy: Arc<PolicyEngine>,
    /// Whether 403 bodies name the deciding policies.
    pub explain_denials: bool,
    pub limiter: Arc<Limiter>,
    pub auth_failures: Arc<AuthFailures>,
    /// The audit ledger; `None` when `audit.enabled = false`.
    pub audit: Option<palisade_audit::Ledger>,
    /// Content-capture rules.
    pub audit_config: palisade_config::AuditConfig,
    /// Content scanning; `None` when `scan.enabled = false`.
    pub scanning: Option<crate::scanning::Scanning>,
    /// Request flows and the records they leave behind (a stream's, written when it is
    /// dropped): shutdown waits for them before it closes the audit ledger.
    pub requests: tokio_util::task::TaskTracker,
}
