//! The admin plane's audit layer: one ledger record for every admin-plane call — reads,
//! refusals (a failed admin authentication included) and unknown routes — except the
//! `/healthz` and `/readyz` probes. An SSE stream is recorded once, when it starts.
//!
//! The layer mints or keeps the request id (echoed as `x-request-id`), puts an
//! [`AuditSlot`] in the request for the [`Admin`](crate::auth::Admin) extractor to fill
//! (token id, role, deciding policies), runs the handler, and builds the
//! [`Event`]: action `METHOD /matched/route/{param}`, status, decision and reason (from
//! the [`ErrorInfo`] an error response carries), latency, and the [`Change`] a mutating
//! handler attached to its response. With strict durability the response waits for the
//! record; if it cannot be made durable the caller gets `503 audit_unavailable` instead
//! of the handler's answer, and mutations are refused up front while the ledger is known
//! to be failing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use palisade_audit::{Actor, Change, Decision, Durability, Event, Plane};
use palisade_policy::identity::AdminPrincipal;
use palisade_protocol::request_id;

use crate::error::{AdminError, ErrorInfo};
use crate::state::AdminState;

/// The request id header, read and echoed.
pub const REQUEST_ID: &str = request_id::HEADER;
/// User agents are cut to this many characters.
const MAX_USER_AGENT: usize = 256;

/// What the request's handlers learn about the caller, for its record.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<SlotInner>>);

#[derive(Debug, Default)]
struct SlotInner {
    actor: Option<Actor>,
    policies: Vec<String>,
}

impl AuditSlot {
    pub(crate) fn set_actor(&self, principal: &AdminPrincipal) {
        if let Ok(mut inner) = self.0.lock() {
            inner.actor = Some(Actor {
                token_id: Some(principal.token_id.clone()),
                role: Some(principal.role.as_str().to_owned()),
                ..Actor::default()
            });
        }
    }

    /// Adds the policies that decided one authorization: a call checked for several
    /// actions (creating a user in a new group) records the policies behind each.
    pub(crate) fn add_policies(&self, policies: &[String]) {
        if let Ok(mut inner) = self.0.lock() {
            for p in policies {
                if !inner.policies.contains(p) {
                    inner.policies.push(p.clone());
                }
            }
        }
    }

    fn take(&self) -> (Actor, Vec<String>) {
        match self.0.lock() {
            Ok(mut inner) => (
                inner.actor.take().unwrap_or_default(),
                std::mem::take(&mut inner.policies),
            ),
            Err(_) => (Actor::default(), Vec::new()),
        }
    }
}

/// The middleware (see the module docs). Install with
/// `axum::middleware::from_fn_with_state(state, audit)`.
pub async fn audit(State(state): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    // Detached, like the data plane's flows: a caller that hangs up mid-call cannot cancel
    // the record of a change that was made.
    match tokio::spawn(record(state, req, next)).await {
        Ok(resp) => resp,
        Err(err) => {
            tracing::error!(error = %err, "admin request task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn record(state: Arc<AdminState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(req).await;
    }
    let request_id =
        request_id::accept_or_mint(req.headers().get(REQUEST_ID).map(|v| v.as_bytes()));
    let Some(ledger) = state.audit.clone() else {
        let mut resp = next.run(req).await;
        set_request_id(&mut resp, &request_id);
        return resp;
    };
    let started = Instant::now();
    let mut event = Event::new(Plane::Admin, request_id.clone(), action(&req));
    event.client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string());
    event.user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| truncate(&String::from_utf8_lossy(v.as_bytes()), MAX_USER_AGENT));
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let strict = ledger.durability() == Durability::Strict;
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());

    let mut resp = if strict && mutating && !ledger.is_available() {
        // The ledger's last commit failed: refuse the change rather than make one whose
        // record may be lost. Reads still go through and probe the store.
        AdminError::AuditUnavailable("the last audit commit failed".into()).into_response()
    } else {
        next.run(req).await
    };

    let (actor, allowed_by) = slot.take();
    let status = resp.status();
    let info = resp.extensions_mut().remove::<ErrorInfo>();
    event.actor = actor;
    event.status = status.as_u16();
    event.decision = decision(status);
    event.reason = match &info {
        Some(info) => info.code.to_owned(),
        None => reason(status).to_owned(),
    };
    event.policies = match info {
        Some(info) if !info.policies.is_empty() => info.policies,
        _ => allowed_by,
    };
    event.change = resp.extensions_mut().remove::<Change>();
    // Microsecond precision, like data-plane records; the admin plane has no upstream, so
    // all of it is the gateway's own time.
    event.latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    event.overhead_ms = event.latency_ms;
    if mutating {
        tracing::info!(
            target: "palisade::admin",
            request_id = %event.request_id,
            actor = event.actor.primary(),
            action = %event.action,
            target_id = event.change.as_ref().map(|c| c.target.as_str()),
            status = event.status,
            "admin action"
        );
    }
    let applied = mutating && status.is_success();
    match ledger.record(event.into()).await {
        Ok(_) => {}
        Err(err) if strict && applied => {
            // Too late to refuse: the change is made. Say so, so that nobody repeats it
            // (a second key minted, a policy set twice) believing it failed.
            tracing::error!(error = %err, request_id = %request_id, "admin change applied but not recorded");
            resp = AdminError::ChangeUnrecorded(err.to_string()).into_response();
        }
        Err(err) if strict => {
            resp = AdminError::AuditUnavailable(err.to_string()).into_response();
        }
        Err(err) => {
            tracing::warn!(error = %err, request_id = %request_id, "admin call not recorded");
        }
    }
    set_request_id(&mut resp, &request_id);
    resp
}

/// `METHOD /matched/route/{param}`, or `METHOD unmatched` for unknown routes: a path
/// that matched no route may still carry an id (`/admin/v1/subjects/alice@example.org/`),
/// and the log keeps records for ever, so it records the route template or nothing of it.
fn action(req: &Request) -> String {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str());
    format!("{} {route}", req.method())
}

fn set_request_id(resp: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
}

fn decision(status: StatusCode) -> Decision {
    match status.as_u16() {
        200..=399 => Decision::Allow,
        401 | 403 => Decision::Deny,
        429 => Decision::Limit,
        _ => Decision::Error,
    }
}

/// The reason when the response carries no [`ErrorInfo`] (successes, and rejections by
/// axum's extractors such as a malformed JSON body).
fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=399 => "ok",
        400 | 422 => "invalid_request_error",
        401 => "invalid_admin_token",
        403 => "access_denied",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "request_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limit_exceeded",
        500..=599 => "server_error",
        _ => "client_error",
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn statuses_map_to_decisions() {
        assert_eq!(decision(StatusCode::CREATED), Decision::Allow);
        assert_eq!(decision(StatusCode::NO_CONTENT), Decision::Allow);
        assert_eq!(decision(StatusCode::UNAUTHORIZED), Decision::Deny);
        assert_eq!(decision(StatusCode::FORBIDDEN), Decision::Deny);
        assert_eq!(decision(StatusCode::TOO_MANY_REQUESTS), Decision::Limit);
        assert_eq!(decision(StatusCode::NOT_FOUND), Decision::Error);
        assert_eq!(decision(StatusCode::SERVICE_UNAVAILABLE), Decision::Error);
        assert_eq!(
            reason(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            "unsupported_media_type"
        );
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate(&"x".repeat(300), MAX_USER_AGENT).len(), 256);
    }
}
