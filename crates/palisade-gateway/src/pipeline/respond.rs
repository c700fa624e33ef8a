//! Stage 10 — respond. Builds the HTTP response: JSON body or error body, with
//! `x-request-id` and `x-palisade-overhead-ms` on every response, and OpenAI's
//! `x-ratelimit-*` headers whenever limits apply.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::context::RequestCtx;
use crate::error::GatewayError;
use palisade_protocol::request_id;

pub const OVERHEAD_HEADER: &str = "x-palisade-overhead-ms";

pub fn json<T: Serialize>(ctx: &RequestCtx, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            stamp(ctx, resp.headers_mut());
            resp
        }
        Err(_) => error(
            ctx,
            GatewayError::Upstream(palisade_upstream::UpstreamError::Protocol(
                "unserializable response".into(),
            )),
        ),
    }
}

pub fn error(ctx: &RequestCtx, err: GatewayError) -> Response {
    let mut resp = err.into_response();
    stamp(ctx, resp.headers_mut());
    resp
}

/// Adds the request id and the gateway's overhead so far.
pub fn stamp(ctx: &RequestCtx, headers: &mut HeaderMap) {
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert(request_id::HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format_ms(ctx.overhead())) {
        headers.insert(OVERHEAD_HEADER, v);
    }
    for (name, value) in ctx.ratelimit.iter().flat_map(|r| r.to_pairs()) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Milliseconds with microsecond precision, e.g. `0.042`.
pub fn format_ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}
