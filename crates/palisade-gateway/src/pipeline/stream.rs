//! Streaming responses. Relays upstream chunks to the client as SSE, one chunk at a time:
//! each is rewritten to the public model name, inspected before its bytes leave, and its
//! usage taken for settlement. The stream ends with `[DONE]`, or with an OpenAI-style
//! error event when the upstream breaks or the request deadline passes — never a hang.
//! Settlement and the record happen when the stream ends, and also when the client goes
//! away mid-stream (the relay's `Drop`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use palisade_protocol::sse;
use palisade_upstream::{ChunkStream, UpstreamError};
use tokio::time::Instant;

use super::admit::Admission;
use super::{inspect, record, respond, settle};
use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;

struct Relay {
    state: Arc<GatewayState>,
    ctx: Option<RequestCtx>,
    admission: Option<Admission>,
    upstream: ChunkStream,
    wants_usage: bool,
    model: String,
    deadline: Instant,
    done: bool,
}

impl Relay {
    /// Settles and records once, with the outcome code.
    fn finish(&mut self, code: &'static str) {
        if let Some(mut ctx) = self.ctx.take() {
            let usage = ctx.usage;
            settle::run(
                &self.state,
                &mut ctx,
                usage,
                self.admission.take().unwrap_or_default(),
            );
            record::run(&self.state, &ctx, 200, code);
        }
    }

    fn error_event(&mut self, err: GatewayError) -> Bytes {
        let code = err.code();
        if let (Some(ctx), GatewayError::Upstream(e)) = (&self.ctx, &err) {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "upstream stream failed");
        }
        self.finish(code);
        self.done = true;
        let body = serde_json::to_string(&err.body()).unwrap_or_default();
        Bytes::from(sse::encode_data(&body))
    }

    async fn next_bytes(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        loop {
            let waiting = std::time::Instant::now();
            let next = tokio::time::timeout_at(self.deadline, self.upstream.next()).await;
            if let Some(ctx) = self.ctx.as_mut() {
                ctx.upstream_time += waiting.elapsed();
            }
            match next {
                Err(_) => return Some(self.error_event(GatewayError::RequestTimeout)),
                Ok(None) => {
                    self.finish("ok");
                    self.done = true;
                    return Some(Bytes::from_static(sse::DONE.as_bytes()));
                }
                Ok(Some(Err(e))) => return Some(self.error_event(GatewayError::Upstream(e))),
                Ok(Some(Ok(mut chunk))) => {
                    let ctx = self.ctx.as_mut()?;
                    if let Some(usage) = chunk.usage {
                        ctx.usage = Some(usage);
                        if !self.wants_usage {
                            if chunk.choices.is_empty() {
                                continue;
                            }
                            chunk.usage = None;
                        }
                    }
                    chunk.model.clone_from(&self.model);
                    if let Err(err) = inspect::output_chunk(&self.state, ctx, &mut chunk) {
                        return Some(self.error_event(err));
                    }
                    match serde_json::to_string(&chunk) {
                        Ok(json) => return Some(Bytes::from(sse::encode_data(&json))),
                        Err(e) => {
                            let err = UpstreamError::Protocol(format!("unserializable chunk: {e}"));
                            return Some(self.error_event(GatewayError::Upstream(err)));
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The client went away before the stream ended.
        self.finish("client_disconnected");
    }
}

/// Builds the SSE response for an opened upstream stream.
pub fn relay(
    state: Arc<GatewayState>,
    ctx: RequestCtx,
    upstream: ChunkStream,
    wants_usage: bool,
    admission: Admission,
) -> Response {
    let model = ctx
        .route
        .as_ref()
        .map(|r| r.name.to_string())
        .unwrap_or_default();
    let remaining = state
        .server
        .request_timeout
        .saturating_sub(ctx.started.elapsed());
    let deadline = Instant::now() + remaining.max(Duration::from_millis(1));
    let mut headers = axum::http::HeaderMap::new();
    respond::stamp(&ctx, &mut headers);
    let relay = Relay {
        state,
        ctx: Some(ctx),
        admission: Some(admission),
        upstream,
        wants_usage,
        model,
        deadline,
        done: false,
    };
    let body = futures::stream::unfold(relay, |mut relay| async move {
        let bytes = relay.next_bytes().await?;
        Some((Ok::<_, Infallible>(bytes), relay))
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.extend(headers);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
