//! Stage 6 — forward. Calls the routed provider (which retries connect errors, 429 and
//! 5xx itself), bounded by the gateway's request timeout, and accounts the wait as
//! upstream time so the gateway's own overhead can be measured. An upstream's client
//! error message goes through the output scanners before the client reads it.

use std::future::Future;
use std::time::Instant;

use palisade_protocol::openai::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};
use palisade_upstream::{ChunkStream, UpstreamError, retry};

use super::inspect;
use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;
use crate::telemetry::metrics::{ProviderLabels, UpstreamErrorLabels};

pub async fn chat(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    req: ChatRequest,
) -> Result<ChatResponse, GatewayError> {
    timed(state, ctx, route, route.provider.chat(req)).await
}

pub async fn chat_stream(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    req: ChatRequest,
) -> Result<ChunkStream, GatewayError> {
    timed(state, ctx, route, route.provider.chat_stream(req)).await
}

pub async fn embeddings(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    req: EmbeddingsRequest,
) -> Result<EmbeddingsResponse, GatewayError> {
    timed(state, ctx, route, route.provider.embeddings(req))
        .await
        .map_err(|e| match e {
            GatewayError::Upstream(UpstreamError::Unsupported(what)) => GatewayError::Unsupported {
                model: route.name.to_string(),
                what,
            },
            other => other,
        })
}

async fn timed<T>(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    call: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, GatewayError> {
    let remaining = state
        .server
        .request_timeout
        .saturating_sub(ctx.started.elapsed());
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + remaining;
    let result = tokio::time::timeout(remaining, retry::with_deadline(deadline, call)).await;
    let waited = start.elapsed();
    ctx.upstream_time += waited;
    let provider = route.provider_name.to_string();
    state
        .metrics
        .upstream_duration
        .get_or_create(&ProviderLabels {
            provider: provider.clone(),
        })
        .observe(waited.as_secs_f64());
    match result {
        Err(_) => {
            state
                .metrics
                .upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    provider,
                    kind: "timeout",
                })
                .inc();
            Err(GatewayError::RequestTimeout)
        }
        Ok(Err(mut err)) => {
            if let UpstreamError::Status {
                status, message, ..
            } = &mut err
            {
                ctx.upstream_status = Some(*status);
                // The provider's message is shown to the client: it must name the model
                // the client asked for, not the deployment behind it (a name of one or
                // two characters would match inside words, and tells little).
                if let Some(m) = message.as_mut()
                    && route.upstream_model.len() > 2
                    && route.upstream_model.as_str() != &*route.name
                    && m.contains(route.upstream_model.as_str())
                {
                    *m = m.replace(route.upstream_model.as_str(), &route.name);
                }
                inspect::upstream_message(state, ctx, message);
            }
            state
                .metrics
                .upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    provider,
                    kind: err.label(),
                })
                .inc();
            Err(GatewayError::Upstream(err))
        }
        Ok(Ok(v)) => {
            ctx.upstream_status = Some(200);
            Ok(v)
        }
    }
}
