//! Stage 1 — authenticate. Reads the bearer key from `Authorization: Bearer …` (or
//! `api-key`, as Azure OpenAI clients send it) and resolves it to a principal. Failed
//! attempts are counted per client IP: an address over its budget is refused before its
//! key is looked up in the store — only a key this instance verified in the last ten
//! minutes is still checked. The key itself is never logged; a failed key's public id goes to the audit
//! record.

use axum::http::{HeaderMap, header};
use palisade_policy::identity::{SecretKind, secret};

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;

pub async fn run(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
) -> Result<(), GatewayError> {
    let ip = ctx.client_addr.map(|a| a.ip());
    if ip.is_some_and(|ip| state.auth_failures.is_blocked(ip)) {
        // A key this instance verified lately is still checked: others' bad keys from a
        // shared address (a NAT, a proxy) must not lock its clients out. Any other is
        // refused unread.
        if let Some(Ok(principal)) = state
            .authenticator
            .authenticate_known(bearer(headers))
            .await
        {
            ctx.principal = Some(principal);
            return Ok(());
        }
        state.metrics.auth_failures.inc();
        return Err(GatewayError::TooManyAuthFailures);
    }
    match state.authenticator.authenticate(bearer(headers)).await {
        Ok(principal) => {
            ctx.principal = Some(principal);
            Ok(())
        }
        Err(err) => {
            state.metrics.auth_failures.inc();
            ctx.presented_key_id = bearer(headers)
                .and_then(|k| secret::parse(SecretKind::ApiKey, k))
                .map(|(id, _)| id.to_owned());
            if let (Some(ip), false) = (
                ip,
                matches!(err, palisade_policy::identity::AuthError::Store(_)),
            ) {
                state.auth_failures.record_failure(ip);
            }
            Err(err.into())
        }
    }
}

/// The presented secret, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(token.trim());
    }
    headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}
