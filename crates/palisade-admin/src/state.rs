//! What admin handlers reach: the identity store, the admin-token authenticator, the
//! data plane's key authenticator (to evict revoked keys at once), the policy engine
//! (which also governs the admin plane itself), the limiter, the model catalogue (for
//! policy explanations) and the metrics renderer.

use std::path::PathBuf;
use std::sync::Arc;

use palisade_policy::authz::{ModelAttrs, PolicyEngine};
use palisade_policy::identity::{AdminAuthenticator, AuthFailures, Authenticator, IdentityStore};
use palisade_policy::limits::Limiter;

pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

pub struct AdminState {
    pub identity: Arc<dyn IdentityStore>,
    pub admin_auth: AdminAuthenticator,
    /// Failed admin authentications per client address (the data plane counts its own).
    pub auth_failures: Arc<AuthFailures>,
    pub key_auth: Arc<Authenticator>,
    pub render_metrics: MetricsRenderer,
    pub metrics_require_auth: bool,
    pub policy: Arc<PolicyEngine>,
    /// Where `PUT /admin/v1/policies` persists the set; `None`: the built-in default is in
    /// force and changes stay in memory.
    pub policy_file: Option<PathBuf>,
    pub limiter: Arc<Limiter>,
    pub models: Vec<ModelAttrs>,
    /// Each model alias → the model's name (explain accepts what clients send).
    pub model_aliases: std::collections::HashMap<String, String>,
    /// The audit ledger (`None` when `audit.enabled = false`).
    pub audit: Option<palisade_audit::Ledger>,
}
