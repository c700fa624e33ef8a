//! Admin authentication and role checks. A handler receives an [`Admin`] extractor only
//! after the bearer token was verified; it then asks for the capability it needs.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use palisade_policy::identity::{AdminPrincipal, AdminRole};

use crate::error::AdminError;
use crate::state::AdminState;

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub struct Admin(pub AdminPrincipal);

impl Admin {
    /// Requires a role that may change state.
    pub fn require_write(&self, action: &'static str) -> Result<(), AdminError> {
        if self.0.role.can_write() {
            Ok(())
        } else {
            Err(AdminError::Forbidden {
                have: self.0.role.as_str(),
                action,
            })
        }
    }

    /// Requires the `admin` role.
    pub fn require_admin(&self, action: &'static str) -> Result<(), AdminError> {
        if self.0.role == AdminRole::Admin {
            Ok(())
        } else {
            Err(AdminError::Forbidden {
                have: self.0.role.as_str(),
                action,
            })
        }
    }

    pub fn actor(&self) -> &str {
        &self.0.token_id
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
        let principal = state.admin_auth.authenticate(presented).await?;
        Ok(Admin(principal))
    }
}
