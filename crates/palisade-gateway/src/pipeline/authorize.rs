//! Stage 3 — authorize. Asks the Cedar policy engine whether the principal may perform
//! the action on the routed model, given the request's context (estimated tokens, stream,
//! client IP, purpose, API key, time). Default deny; `forbid` wins; a denial names the
//! deciding policies unless `policy.explain_denials = false`.

use palisade_policy::authz::{DataAction, Decision, RequestFacts};
use palisade_policy::time::unix_now;

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;

/// `asked`: the model name the client used (an alias, maybe).
pub fn run(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    asked: &str,
    action: DataAction,
    estimated_tokens: u64,
) -> Result<(), GatewayError> {
    let decision = decide(state, ctx, route, action, estimated_tokens);
    ctx.policies = decision.deciding().to_vec();
    // Fail closed: any evaluation error denies (`Decision::permits`).
    if decision.permits() {
        return Ok(());
    }
    state.metrics.policy_denials.inc();
    if !decision.errors.is_empty() {
        tracing::warn!(request_id = %ctx.request_id, errors = ?decision.errors, "policy evaluation errors");
    }
    // With denials not explained, a model the caller may not even list is answered as
    // unknown: a 403 would confirm that it exists, under its canonical name.
    if !state.explain_denials && !visible(state, ctx, route) {
        return Err(GatewayError::ModelHidden {
            asked: super::route::bounded(asked),
        });
    }
    Err(GatewayError::AccessDenied {
        model: route.name.to_string(),
        policies: if state.explain_denials {
            decision.deciding().to_vec()
        } else {
            Vec::new()
        },
    })
}

/// Whether the model is visible in `GET /v1/models`: what `list_models` decides, as
/// docs/policies.md says and explain answers (a model refused for chat at night still
/// lists; a policy that should hide it refuses `list_models` too).
pub fn visible(state: &GatewayState, ctx: &RequestCtx, route: &ModelRoute) -> bool {
    decide(state, ctx, route, DataAction::ListModels, 0).permits()
}

fn decide(
    state: &GatewayState,
    ctx: &RequestCtx,
    route: &ModelRoute,
    action: DataAction,
    estimated_tokens: u64,
) -> Decision {
    let Some(principal) = &ctx.principal else {
        return Decision {
            allowed: false,
            policies: Vec::new(),
            errors: Vec::new(),
            failed: Vec::new(),
        };
    };
    let facts = RequestFacts {
        estimated_tokens,
        stream: ctx.stream,
        client_ip: ctx.client_addr.map(|a| a.ip()),
        purpose: ctx.purpose.clone(),
        api_key: principal.key_id.clone(),
        now_unix: unix_now(),
    };
    state.policy.authorize_data(
        &principal.user_name,
        &principal.groups,
        action,
        &route.attrs,
        &facts,
    )
}
