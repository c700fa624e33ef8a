//! Stage 8 — settle. Takes the real usage reported by the upstream, accounts for it, and
//! reconciles the admission's reservation (refunding an over-estimate, charging an
//! under-estimate, freeing the concurrency slot).

use palisade_policy::limits;
use palisade_protocol::openai::Usage;

use super::admit::Admission;
use crate::context::RequestCtx;
use crate::state::GatewayState;

pub async fn run(
    _state: &GatewayState,
    ctx: &mut RequestCtx,
    usage: Option<Usage>,
    admission: Admission,
) {
    if usage.is_some() {
        ctx.usage = usage;
    }
    admission.settle(used(ctx)).await;
}

/// What the request consumed: the upstream's usage when it reported one, else the
/// prompt estimate (the upstream was charged for at least that).
pub fn used(ctx: &RequestCtx) -> limits::Usage {
    let (input, output) = match &ctx.usage {
        Some(u) => (u.prompt_tokens, u.completion_tokens),
        None => (ctx.prompt_estimate, 0),
    };
    let cost_micros = ctx
        .route
        .as_ref()
        .map_or(0, |r| r.cost_micros(input, output));
    limits::Usage {
        tokens: input.saturating_add(output),
        cost_micros,
    }
}
