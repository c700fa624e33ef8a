//! Admin authentication and authorization. A handler receives an [`Admin`] extractor
//! only after the bearer token was verified; it then asks the Cedar policy engine for the
//! action it performs (`manage_keys`, `read_identities`, …), so the admin plane is
//! governed by the same policies as the data plane. Both steps report to the request's
//! [`AuditSlot`] (who called, which policies decided) for the audit layer. Failed
//! authentications count against the caller's address as on the data plane (a count of
//! their own), and an address over its budget gets 429 `too_many_auth_failures`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use palisade_policy::authz::AdminAction;
use palisade_policy::identity::{AdminPrincipal, AuthError};
use palisade_policy::time::unix_now;

use crate::audit_layer::AuditSlot;
use crate::error::AdminError;
use crate::state::AdminState;

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub struct Admin {
    pub principal: AdminPrincipal,
    pub client_ip: Option<IpAddr>,
    slot: Option<AuditSlot>,
}

impl Admin {
    /// Asks the policy engine whether this caller may perform `action`.
    pub fn require(&self, state: &AdminState, action: AdminAction) -> Result<(), AdminError> {
        let role = self.principal.role.as_str();
        let decision = state.policy.authorize_admin(
            &self.principal.token_id,
            role,
            action,
            self.client_ip,
            unix_now(),
        );
        if let Some(slot) = &self.slot {
            slot.add_policies(decision.deciding());
        }
        // Fail closed on evaluation errors, as the data plane does.
        if decision.permits() {
            Ok(())
        } else {
            Err(AdminError::Forbidden {
                have: role,
                action: action.as_str(),
                policies: decision.deciding().to_vec(),
            })
        }
    }

    /// The same caller without the request's audit slot: for checks made after the
    /// response started (a long-lived stream re-checking its caller).
    pub fn detached(&self) -> Admin {
        Admin {
            principal: self.principal.clone(),
            client_ip: self.client_ip,
            slot: None,
        }
    }

    /// Whether the caller's token is still valid and still allowed `action`.
    pub async fn still_allowed(&self, state: &AdminState, action: AdminAction) -> bool {
        matches!(
            state.admin_auth.still_valid(&self.principal).await,
            Ok(true)
        ) && self.require(state, action).is_ok()
    }

    pub fn actor(&self) -> &str {
        &self.principal.token_id
    }
}

impl FromRequestParts<Arc<AdminState>> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim);
        let client_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        // An address over its budget of failures is refused before its token is looked
        // at, as on the data plane (which keeps its own count).
        if client_ip.is_some_and(|ip| state.auth_failures.is_blocked(ip)) {
            return Err(AdminError::TooManyAuthFailures);
        }
        let principal = match state.admin_auth.authenticate(presented).await {
            Ok(p) => p,
            Err(err) => {
                if let (Some(ip), false) = (client_ip, matches!(err, AuthError::Store(_))) {
                    state.auth_failures.record_failure(ip);
                }
                return Err(err.into());
            }
        };
        let slot = parts.extensions.get::<AuditSlot>().cloned();
        if let Some(slot) = &slot {
            slot.set_actor(&principal);
        }
        Ok(Admin {
            principal,
            client_ip,
            slot,
        })
    }
}
