//! The request pipeline, one stage per file, run in the order of the lifecycle diagram in
//! `ARCHITECTURE.md`. Each flow below reads top to bottom like that diagram; stages are
//! plain async functions over the per-request [`RequestCtx`].
//!
//! | stage | reads | may change | refuses with |
//! |---|---|---|---|
//! | [`authenticate`] | headers | `ctx.principal` | 401 `invalid_api_key` |
//! | [`admit::held`] | principal | `ctx.ratelimit` | 429 `rate_limit_exceeded` (the key's request rate was refused moments ago; before the body is read) |
//! | [`body`] / [`parse`] | body | — | 400, 413 |
//! | [`route`] | model name | `ctx.route` | 404 `model_not_found` |
//! | [`authorize`] | principal, route, context | — | 403 `access_denied` |
//! | [`admit`] | principal, route, token estimate | `ctx.ratelimit` | 429 `rate_limit_exceeded`, `budget_exceeded`, `concurrency_limit_exceeded`; 503 `limits_unavailable` |
//! | [`inspect`] | request / response | content, `ctx.scan` | 400 `content_policy_violation`; output: `finish_reason: "content_filter"` |
//! | [`forward`] | routed request | `ctx.upstream_time` | 502, 504, upstream 4xx |
//! | [`settle`] | usage | `ctx.usage` | — |
//! | [`record`] | everything | — | 503 `audit_unavailable` (strict durability; always runs, also on disconnect) |
//! | [`respond`] | result | headers | — |
//!
//! Token counting and scanning of large texts run on tokio's blocking pool instead of the
//! async worker ([`offload`]), so that one large body cannot stall other connections.

pub mod admit;
pub mod authenticate;
pub mod authorize;
pub mod body;
pub mod forward;
pub mod inspect;
pub mod offload;
pub mod parse;
pub mod record;
pub mod respond;
pub mod route;
pub mod settle;
pub mod stream;

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use palisade_protocol::openai::{ModelList, ModelObject, Usage};

use palisade_policy::authz::DataAction;

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;
use crate::tokens;

/// `POST /v1/chat/completions`.
pub async fn chat(
    state: Arc<GatewayState>,
    mut ctx: RequestCtx,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        record::ensure_available(&state)?;
        authenticate::run(&state, &mut ctx, &headers).await?;
        admit::held(&state, &mut ctx)?;
        let bytes = body::read(&state, &ctx, &headers, body).await?;
        let req = parse::chat(&state, &bytes)?;
        ctx.stream = req.is_stream();
        let route = route::run(&state, &mut ctx, &req.model)?;
        record::begin_capture(&state, &mut ctx, &route, &bytes, req.user.as_deref());
        let (req, prompt_tokens) = offload::read(bytes.len(), req, tokens::chat_prompt).await?;
        ctx.prompt_estimate = prompt_tokens;
        // Every one of `n` choices may run to the cap: the client's (the larger, if it
        // sent both fields), else the one the provider sends for it, else the
        // configured assumption.
        let output_cap = req
            .largest_output_cap()
            .or_else(|| route.provider.default_output_cap())
            .unwrap_or(state.server.default_output_tokens)
            .saturating_mul(req.choices());
        let estimate = ctx.prompt_estimate.saturating_add(output_cap);
        authorize::run(
            &state,
            &mut ctx,
            &route,
            &req.model,
            DataAction::Chat,
            estimate,
        )?;
        let admission = admit::run(&state, &mut ctx, &route, output_cap).await?;
        inspect::begin(&state, &mut ctx, &route);
        let mut req = inspect::input(&state, &mut ctx, req, bytes.len()).await?;
        record::capture_forwarded(&mut ctx, &req);
        let wants_usage = req.wants_stream_usage();
        let choices = req.choices();
        req.model = route.upstream_model.clone();
        if ctx.stream {
            let upstream = forward::chat_stream(&state, &mut ctx, &route, req).await?;
            return Ok(stream::relay(
                Arc::clone(&state),
                ctx_take(&mut ctx),
                upstream,
                wants_usage,
                choices,
                admission,
            ));
        }
        let resp = forward::chat(&state, &mut ctx, &route, req).await?;
        // An upstream that reports no usage (some self-hosted servers) is charged what
        // the gateway counts, not nothing (a long answer counted off the async workers).
        let (resp, usage) = match resp.usage.clone() {
            Some(usage) => (resp, usage),
            None => {
                let size = resp.text_len();
                let (resp, completion) = offload::read(size, resp, tokens::completion).await?;
                (resp, Usage::new(ctx.prompt_estimate, completion))
            }
        };
        let mut resp = inspect::output(&state, &mut ctx, resp).await?;
        settle::run(&state, &mut ctx, Some(usage), admission).await;
        ctx.model_version = Some(std::mem::replace(&mut resp.model, route.name.to_string()));
        record::capture_response(&mut ctx, &resp);
        Ok(respond::json(&ctx, &resp))
    }
    .await;
    finish(&state, ctx, result).await
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    state: Arc<GatewayState>,
    mut ctx: RequestCtx,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        record::ensure_available(&state)?;
        authenticate::run(&state, &mut ctx, &headers).await?;
        admit::held(&state, &mut ctx)?;
        let bytes = body::read(&state, &ctx, &headers, body).await?;
        let req = parse::embeddings(&state, &bytes)?;
        let route = route::run(&state, &mut ctx, &req.model)?;
        let end_user = req.extra.get("user").and_then(|u| u.as_str());
        record::begin_capture(&state, &mut ctx, &route, &bytes, end_user);
        let (req, input_tokens) = offload::read(bytes.len(), req, tokens::embeddings).await?;
        ctx.prompt_estimate = input_tokens;
        let estimate = ctx.prompt_estimate;
        authorize::run(
            &state,
            &mut ctx,
            &route,
            &req.model,
            DataAction::Embed,
            estimate,
        )?;
        let admission = admit::run(&state, &mut ctx, &route, 0).await?;
        inspect::begin(&state, &mut ctx, &route);
        let mut req = inspect::embeddings_input(&state, &mut ctx, req, bytes.len()).await?;
        record::capture_forwarded(&mut ctx, &req);
        req.model = route.upstream_model.clone();
        let mut resp = forward::embeddings(&state, &mut ctx, &route, req).await?;
        // A reported 0 for a non-empty input is a server that does not count: use ours.
        let prompt = match resp.usage.prompt_tokens {
            0 => ctx.prompt_estimate,
            n => n,
        };
        let usage = Usage::new(prompt, 0);
        settle::run(&state, &mut ctx, Some(usage), admission).await;
        ctx.model_version = Some(std::mem::replace(&mut resp.model, route.name.to_string()));
        record::capture_response(&mut ctx, &resp);
        Ok(respond::json(&ctx, &resp))
    }
    .await;
    finish(&state, ctx, result).await
}

/// `GET /v1/models` and `GET /v1/models/{id}`: the models the caller may use.
pub async fn models(
    state: Arc<GatewayState>,
    mut ctx: RequestCtx,
    headers: HeaderMap,
    id: Option<String>,
) -> Response {
    let result = async {
        record::ensure_available(&state)?;
        authenticate::run(&state, &mut ctx, &headers).await?;
        let visible = state
            .routes
            .canonical()
            .filter(|r| authorize::visible(&state, &ctx, r));
        let objects: Vec<ModelObject> = visible
            .map(|r| ModelObject::new(r.name.as_ref(), state.routes.created(), r.owned_by.clone()))
            .collect();
        match id {
            None => Ok(respond::json(&ctx, &ModelList::new(objects))),
            Some(id) => {
                let found = state
                    .routes
                    .get(&id)
                    .and_then(|r| objects.iter().find(|o| o.id == r.name.as_ref()));
                match found {
                    Some(obj) => Ok(respond::json(&ctx, obj)),
                    None => Err(GatewayError::ModelNotFound(route::bounded(&id))),
                }
            }
        }
    }
    .await;
    finish(&state, ctx, result).await
}

/// Refuses a request outright (unknown route or method): recorded and stamped like any
/// other answer.
pub async fn refuse(state: Arc<GatewayState>, ctx: RequestCtx, err: GatewayError) -> Response {
    finish(&state, ctx, Err(err)).await
}

/// Records the outcome of a non-streaming request (streams record when they end) and
/// turns an error into its response. A response whose record cannot be made durable is
/// replaced by 503 `audit_unavailable`.
async fn finish(
    state: &GatewayState,
    mut ctx: RequestCtx,
    result: Result<Response, GatewayError>,
) -> Response {
    match result {
        Ok(resp) => {
            if ctx.request_id.is_empty() {
                return resp;
            }
            // An answer filtered on output is a success for HTTP, a block for the record.
            let code = if ctx.scan.as_ref().is_some_and(|s| s.blocked_output) {
                "content_policy_violation"
            } else {
                "ok"
            };
            match record::run(state, &mut ctx, resp.status().as_u16(), code).await {
                Ok(()) => resp,
                Err(err) => respond::error(&ctx, err),
            }
        }
        Err(err) => {
            if let GatewayError::Upstream(e) = &err {
                tracing::warn!(request_id = %ctx.request_id, model = ctx.model_label(), error = %e, "upstream call failed");
            }
            let recorded = record::run(state, &mut ctx, err.status().as_u16(), err.record_code());
            let err = match recorded.await {
                Ok(()) => err,
                Err(audit) => audit,
            };
            respond::error(&ctx, err)
        }
    }
}

/// Moves the context into a stream; the husk left behind is marked (empty request id) so
/// `finish` does not record the request twice.
fn ctx_take(ctx: &mut RequestCtx) -> RequestCtx {
    let mut taken = RequestCtx::new(
        std::mem::take(&mut ctx.request_id),
        ctx.endpoint,
        ctx.client_addr,
    );
    taken.started = ctx.started;
    taken.principal = ctx.principal.take();
    taken.route = ctx.route.take();
    taken.stream = ctx.stream;
    taken.upstream_time = ctx.upstream_time;
    taken.in_flight = ctx.in_flight.take();
    taken.purpose = ctx.purpose.take();
    taken.prompt_estimate = ctx.prompt_estimate;
    taken.ratelimit = ctx.ratelimit.take();
    taken.started_unix_us = ctx.started_unix_us;
    taken.user_agent = ctx.user_agent.take();
    taken.policies = std::mem::take(&mut ctx.policies);
    taken.upstream_status = ctx.upstream_status;
    taken.model_version = ctx.model_version.take();
    taken.capture = ctx.capture.take();
    taken.scan = ctx.scan.take();
    taken
}
