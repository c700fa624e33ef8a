//! What admin handlers reach: the identity store, the admin-token authenticator, the
//! data plane's key authenticator (to evict revoked keys at once) and the metrics
//! renderer.

use std::sync::Arc;

use palisade_policy::identity::{AdminAuthenticator, Authenticator, IdentityStore};

pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

pub struct AdminState {
    pub identity: Arc<dyn IdentityStore>,
    pub admin_auth: AdminAuthenticator,
    pub key_auth: Arc<Authenticator>,
    pub render_metrics: MetricsRenderer,
    pub metrics_require_auth: bool,
}
