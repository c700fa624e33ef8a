//! The admin plane's route table. Public: `/healthz`, `/readyz` (and `/metrics` when
//! `server.metrics_require_auth = false`). Everything else takes an admin token. Every
//! call but the two probes passes the audit layer ([`crate::audit_layer`]).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};

use palisade_policy::authz::AdminAction;
use tokio::sync::watch;

use crate::audit_layer;
use crate::auth::Admin;
use crate::error::AdminError;
use crate::handlers::audit_tail::StreamShutdown;
use crate::handlers::{audit, audit_tail, groups, keys, limits, policies, subjects, tokens, users};
use crate::state::AdminState;

/// The admin router. Live audit tails (`/admin/v1/audit/stream`) end only when their
/// client leaves; use [`router_with_shutdown`] so they end when the server stops.
pub fn router(state: Arc<AdminState>) -> Router {
    routes(state)
}

/// The admin router, with live audit tails ending once `shutdown` turns `true` (or its
/// sender is dropped), so graceful shutdown does not wait the grace period for them.
pub fn router_with_shutdown(state: Arc<AdminState>, shutdown: watch::Receiver<bool>) -> Router {
    routes(state).layer(Extension(StreamShutdown(shutdown)))
}

fn routes(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/admin/v1/users", get(users::list).post(users::create))
        .route("/admin/v1/users/{id}", get(users::get))
        .route("/admin/v1/groups", get(groups::list).post(groups::create))
        .route("/admin/v1/keys", get(keys::list).post(keys::create))
        .route("/admin/v1/keys/{id}", get(keys::get).delete(keys::revoke))
        .route("/admin/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/v1/tokens/{id}", delete(tokens::revoke))
        .route("/admin/v1/policies", get(policies::get).put(policies::put))
        .route("/admin/v1/policies/explain", post(policies::explain))
        .route("/admin/v1/limits", get(limits::get).put(limits::put))
        .route("/admin/v1/audit", get(audit::search))
        .route("/admin/v1/audit/stream", get(audit_tail::stream))
        .route(
            "/admin/v1/audit/checkpoint",
            get(audit::checkpoint).post(audit::sign_checkpoint),
        )
        .route("/admin/v1/audit/public-key", get(audit::public_key))
        .route("/admin/v1/audit/proofs/inclusion", get(audit::inclusion))
        .route(
            "/admin/v1/audit/proofs/consistency",
            get(audit::consistency),
        )
        .route("/admin/v1/audit/rotate-keys", post(audit::rotate_keys))
        .route("/admin/v1/audit/{seq}", get(audit::get))
        .route("/admin/v1/audit/{seq}/content", get(audit::content))
        .route("/admin/v1/subjects/{id}", delete(subjects::erase))
        .route("/metrics", get(metrics))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .fallback(unknown_route)
        .layer(from_fn_with_state(Arc::clone(&state), audit_layer::audit))
        .with_state(state)
}

/// 404 for every path no route matches, naming what was asked (the path only, at most 128
/// characters: a query string may carry anything).
async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> AdminError {
    let path: String = uri.path().chars().take(128).collect();
    let method: String = method.as_str().chars().take(16).collect();
    AdminError::UnknownRoute(format!("{method} {path}"))
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    match state.identity.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(err) => AdminError::Store(err.to_string()).into_response(),
    }
}

async fn metrics(State(state): State<Arc<AdminState>>, req: Request) -> Response {
    if state.metrics_require_auth {
        let (mut parts, _) = req.into_parts();
        let admin = match Admin::from_request_parts(&mut parts, &state).await {
            Ok(admin) => admin,
            Err(err) => return err.into_response(),
        };
        if let Err(err) = admin.require(&state, AdminAction::ReadMetrics) {
            return err.into_response();
        }
    }
    let mut resp = (StatusCode::OK, (state.render_metrics)()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}
