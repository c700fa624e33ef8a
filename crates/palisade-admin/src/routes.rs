//! The admin plane's route table. Public: `/healthz`, `/readyz` (and `/metrics` when
//! `server.metrics_require_auth = false`). Everything else takes an admin token.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::handlers::{groups, keys, limits, policies, tokens, users};
use crate::state::AdminState;

pub fn router(state: Arc<AdminState>) -> Router {
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
        .route("/metrics", get(metrics))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .fallback(|| async { AdminError::NotFound("route".into()) })
        .with_state(state)
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
