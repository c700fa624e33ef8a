//! The access log and the request metrics, written once per finished request. Fields are
//! identifiers and numbers only: the key's public id, never the key; never content.

use std::time::Duration;

use crate::context::RequestCtx;
use crate::state::GatewayState;
use crate::telemetry::metrics::{EndpointLabels, RequestLabels, TokenLabels};

/// Records metrics and one access-log line for a finished (or refused) request.
pub fn finish(state: &GatewayState, ctx: &RequestCtx, status: u16, code: &'static str) {
    let m = &state.metrics;
    let endpoint = ctx.endpoint.as_str();
    let model = ctx.model_label().to_owned();
    m.requests
        .get_or_create(&RequestLabels {
            endpoint,
            model: model.clone(),
            status,
            code,
        })
        .inc();
    let total = ctx.started.elapsed();
    let overhead = ctx.overhead();
    m.request_duration
        .get_or_create(&EndpointLabels { endpoint })
        .observe(total.as_secs_f64());
    m.overhead
        .get_or_create(&EndpointLabels { endpoint })
        .observe(overhead.as_secs_f64());
    if let Some(u) = &ctx.usage {
        m.tokens
            .get_or_create(&TokenLabels {
                model: model.clone(),
                kind: "prompt",
            })
            .inc_by(u.prompt_tokens);
        m.tokens
            .get_or_create(&TokenLabels {
                model: model.clone(),
                kind: "completion",
            })
            .inc_by(u.completion_tokens);
    }
    let key_id = ctx.principal.as_ref().map_or("-", |p| p.key_id.as_str());
    let user = ctx.principal.as_ref().map_or("-", |p| p.user_id.as_str());
    tracing::info!(
        target: "palisade::access",
        request_id = %ctx.request_id,
        endpoint,
        model = %model,
        stream = ctx.stream,
        key_id,
        user,
        client = %ctx.client_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        status,
        code,
        duration_ms = ms(total),
        overhead_ms = ms(overhead),
        upstream_ms = ms(ctx.upstream_time),
        prompt_tokens = ctx.usage.as_ref().map(|u| u.prompt_tokens),
        completion_tokens = ctx.usage.as_ref().map(|u| u.completion_tokens),
        "request finished"
    );
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
