//! The data plane's route table — and nothing else. Every route authenticates in its
//! pipeline, except the short public list: `/healthz` and `/readyz` (and CORS preflights,
//! answered by [`crate::cors`] when origins are listed).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use tokio_util::task::TaskTracker;

use crate::context::{Endpoint, RequestCtx};
use crate::error::GatewayError;
use crate::pipeline;
use crate::state::GatewayState;
use crate::telemetry::metrics::InFlight;
use palisade_protocol::request_id;

/// The connecting peer's address, set by the listener on every request.
type ClientAddr = ConnectInfo<SocketAddr>;

pub fn router(state: Arc<GatewayState>) -> Router {
    let cors = crate::cors::layer(&state.server.cors_origins);
    let router = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(list_models))
        // A wildcard: model names may hold `/` (`meta-llama/Llama-3.1-8B`).
        .route("/v1/models/{*id}", get(get_model))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

fn ctx(
    state: &GatewayState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    addr: Option<Extension<ClientAddr>>,
) -> RequestCtx {
    let client = addr.map(|Extension(ConnectInfo(a))| a);
    let mut ctx = RequestCtx::new(
        request_id::accept_or_mint(headers.get(request_id::HEADER).map(|v| v.as_bytes())),
        endpoint,
        client,
    );
    ctx.in_flight = Some(InFlight::enter(&state.metrics));
    ctx.user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect());
    ctx.purpose = headers
        .get("x-palisade-purpose")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(128).collect::<String>())
        .filter(|v| !v.is_empty());
    ctx
}

async fn chat_completions(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = ctx(&state, Endpoint::ChatCompletions, &headers, addr);
    detached(
        state.requests.clone(),
        pipeline::chat(state, ctx, headers, body),
    )
    .await
}

async fn embeddings(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = ctx(&state, Endpoint::Embeddings, &headers, addr);
    detached(
        state.requests.clone(),
        pipeline::embeddings(state, ctx, headers, body),
    )
    .await
}

async fn list_models(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    let ctx = ctx(&state, Endpoint::Models, &headers, addr);
    detached(
        state.requests.clone(),
        pipeline::models(state, ctx, headers, None),
    )
    .await
}

async fn get_model(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    uri: axum::http::Uri,
) -> Response {
    // An id that does not decode (not UTF-8) names no model: authenticated, recorded and
    // answered `model_not_found` like any other unknown name, not axum's plain text.
    // (Kept as sent, percent-encoded.)
    let id = id.map_or_else(
        |_| {
            let raw = uri.path().strip_prefix("/v1/models/").unwrap_or_default();
            raw.to_owned()
        },
        |Path(id)| id,
    );
    let ctx = ctx(&state, Endpoint::Models, &headers, addr);
    detached(
        state.requests.clone(),
        pipeline::models(state, ctx, headers, Some(id)),
    )
    .await
}

async fn not_found(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = ctx(&state, Endpoint::Unmatched, &headers, addr);
    // The path only (a query string may carry anything), at most 128 characters; an
    // extension method at most 16.
    let path: String = uri.path().chars().take(128).collect();
    let method: String = method.as_str().chars().take(16).collect();
    let what = format!("{method} {path}");
    detached(
        state.requests.clone(),
        pipeline::refuse(state, ctx, GatewayError::RouteNotFound { what }),
    )
    .await
}

async fn method_not_allowed(
    State(state): State<Arc<GatewayState>>,
    addr: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
) -> Response {
    let ctx = ctx(&state, Endpoint::Unmatched, &headers, addr);
    detached(
        state.requests.clone(),
        pipeline::refuse(state, ctx, GatewayError::MethodNotAllowed),
    )
    .await
}

/// Runs a pipeline flow in its own task, so that a client going away mid-request does
/// not cancel it half-way: settlement, the failed-authentication count and the record
/// still happen (every data-plane route goes through here), and shutdown waits for it
/// (`tasks`). A panic in the flow becomes a 500 instead of a dropped connection.
async fn detached(
    tasks: TaskTracker,
    flow: impl Future<Output = Response> + Send + 'static,
) -> Response {
    match tasks.spawn(flow).await {
        Ok(resp) => resp,
        Err(err) => {
            // Not `err` itself: a panic's message can quote the request's text.
            tracing::error!(panicked = err.is_panic(), "request task failed");
            GatewayError::Internal.into_response()
        }
    }
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Ready when the store answers: without it no key can be checked and every request
/// would fail closed.
async fn readyz(State(state): State<Arc<GatewayState>>) -> Response {
    match state.identity.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: store unavailable");
            let body = serde_json::json!({"status": "unavailable", "reason": "store"});
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
