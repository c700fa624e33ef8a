//! Admin-plane failures and their one mapping to status + OpenAI-style error body. The
//! mapping also leaves an [`ErrorInfo`] in the response's extensions so the audit layer
//! records the stable code (and any deciding policies) without parsing the body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palisade_policy::identity::{AuthError, StoreError};
use palisade_protocol::openai::ErrorBody;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("admin authentication failed: {0}")]
    Unauthenticated(AuthError),
    /// The caller's address failed authentication too often this minute.
    #[error("too many failed admin authentications from this address")]
    TooManyAuthFailures,
    #[error("role `{have}` may not {action}")]
    Forbidden {
        have: &'static str,
        action: &'static str,
        policies: Vec<String>,
    },
    #[error("{0}")]
    InvalidPolicy(String),
    #[error("{0}")]
    Invalid(String),
    /// A request body over the admin plane's size limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0} not found")]
    NotFound(String),
    /// No admin route matches (`METHOD /path`).
    #[error("Unknown admin route ({0}). The admin API is under /admin/v1/.{hint}", hint = data_plane_hint(.0))]
    UnknownRoute(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("store unavailable: {0}")]
    Store(String),
    /// The audit record of this call could not be made durable (strict durability).
    #[error("audit ledger unavailable: {0}")]
    AuditUnavailable(String),
    /// A change was made, then its audit record could not be made durable.
    #[error("change applied, audit record lost: {0}")]
    ChangeUnrecorded(String),
    /// An audit endpoint was called while `audit.enabled = false`.
    #[error("the audit ledger is disabled")]
    AuditDisabled,
}

/// What the audit layer reads from an error response: the body's stable `code` and the
/// policies that decided a refusal.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub policies: Vec<String>,
}

/// For an unknown admin route that looks meant for the data plane (`/v1/...`): where it is
/// served. The usual port mix-up.
fn data_plane_hint(what: &str) -> &'static str {
    match what.split_once(' ') {
        Some((_, path)) if path == "/v1" || path.starts_with("/v1/") => {
            " The OpenAI-compatible API is served on the data listener (`server.listen`), \
             not on this one."
        }
        _ => "",
    }
}

impl From<palisade_audit::AuditError> for AdminError {
    fn from(err: palisade_audit::AuditError) -> Self {
        AdminError::AuditUnavailable(err.to_string())
    }
}

impl From<palisade_audit::store::AuditStoreError> for AdminError {
    fn from(err: palisade_audit::store::AuditStoreError) -> Self {
        AdminError::AuditUnavailable(err.to_string())
    }
}

impl From<palisade_audit::keys::KeysError> for AdminError {
    fn from(err: palisade_audit::keys::KeysError) -> Self {
        AdminError::AuditUnavailable(err.to_string())
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => AdminError::Conflict(what),
            StoreError::NotFound(what) => AdminError::NotFound(what),
            StoreError::Backend(msg) => AdminError::Store(msg),
            StoreError::InvalidCursor => {
                AdminError::Invalid("`cursor` is not a cursor this list returned".into())
            }
        }
    }
}

/// A proof over sizes that make none is the caller's mistake; a short read, the store's.
impl From<palisade_audit::proofs::ProofsError> for AdminError {
    fn from(err: palisade_audit::proofs::ProofsError) -> Self {
        match err {
            palisade_audit::proofs::ProofsError::Proof(e) => AdminError::Invalid(e.to_string()),
            other => AdminError::AuditUnavailable(other.to_string()),
        }
    }
}

impl From<AuthError> for AdminError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => AdminError::Store(e.to_string()),
            other => AdminError::Unauthenticated(other),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, kind, code, message) = match &self {
            AdminError::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_admin_token",
                "A valid admin token is required: `Authorization: Bearer <token>`.".to_owned(),
            ),
            AdminError::TooManyAuthFailures => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "too_many_auth_failures",
                "Too many failed authentications from this address. Retry in a minute.".to_owned(),
            ),
            AdminError::Forbidden {
                have,
                action,
                policies,
            } => (
                StatusCode::FORBIDDEN,
                "permission_error",
                "access_denied",
                if policies.is_empty() {
                    format!("Role `{have}` may not perform `{action}`: no policy permits it.")
                } else {
                    format!(
                        "Role `{have}` may not perform `{action}`: denied by {}.",
                        policies.join(", ")
                    )
                },
            ),
            AdminError::InvalidPolicy(m) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_policy",
                m.clone(),
            ),
            AdminError::Invalid(m) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
                m.clone(),
            ),
            AdminError::TooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                m.clone(),
            ),
            AdminError::NotFound(_) | AdminError::UnknownRoute(_) => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "not_found",
                self.to_string(),
            ),
            AdminError::Conflict(_) => (
                StatusCode::CONFLICT,
                "invalid_request_error",
                "already_exists",
                self.to_string(),
            ),
            AdminError::Store(msg) => {
                tracing::error!(error = %msg, "admin store operation failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "service_unavailable",
                    "The store is unavailable.".to_owned(),
                )
            }
            AdminError::AuditUnavailable(msg) => {
                tracing::error!(error = %msg, "audit ledger operation failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "audit_unavailable",
                    "The audit ledger is unavailable: the call could not be recorded durably."
                        .to_owned(),
                )
            }
            AdminError::ChangeUnrecorded(msg) => {
                tracing::error!(error = %msg, "audit ledger failed after an admin change");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "audit_unavailable",
                    "The change WAS applied, but its audit record could not be made durable: \
                     check its effect before repeating it."
                        .to_owned(),
                )
            }
            AdminError::AuditDisabled => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "audit_disabled",
                "The audit ledger is disabled (audit.enabled = false).".to_owned(),
            ),
        };
        let policies = match self {
            AdminError::Forbidden { policies, .. } => policies,
            _ => Vec::new(),
        };
        let mut resp = (status, Json(ErrorBody::new(message, kind, code, None))).into_response();
        resp.extensions_mut().insert(ErrorInfo { code, policies });
        resp
    }
}
