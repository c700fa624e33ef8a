//! Reading the request body under the configured size and time limits: a declared
//! `Content-Length` over the limit is refused before reading; otherwise reading stops at
//! the limit, and at the request's deadline (`server.request_timeout_ms` from arrival),
//! so a client trickling its body cannot hold a task and its buffer for ever.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::LengthLimitError;

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;

pub async fn read(
    state: &GatewayState,
    ctx: &RequestCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, GatewayError> {
    let limit = state.server.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(GatewayError::TooLarge { limit });
    }
    let left = state
        .server
        .request_timeout
        .saturating_sub(ctx.started.elapsed());
    let read = tokio::time::timeout(left, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| GatewayError::RequestTimeout)?;
    read.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|s| s.downcast_ref::<LengthLimitError>().is_some())
            || err.to_string().contains("length limit");
        if too_large {
            GatewayError::TooLarge { limit }
        } else {
            GatewayError::invalid("The request body could not be read.", None)
        }
    })
}
