//! Stage 4 — admit. Reserves capacity before the upstream is called: requests, the
//! token estimate (prompt tokens counted with a real tokenizer plus the output cap),
//! its cost, and a concurrency slot, against every limit rule that applies to the key,
//! user, groups, model and the whole gateway. The [`Admission`] it returns is reconciled
//! with real usage by [`super::settle`]; dropped unsettled (client gone), it frees its
//! concurrency slot and keeps the reservation charged. Right after authentication,
//! [`held`] refuses a key whose requests are all refused for now, before its body is read.

use palisade_policy::limits::{self, Demand, Refusal, Subject};

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;

/// What was reserved for one request.
pub struct Admission {
    inner: Option<limits::Admission>,
}

impl Admission {
    /// Tokens the request may consume in all before a hard limit cuts it (streams).
    pub fn token_allowance(&self) -> Option<u64> {
        self.inner
            .as_ref()
            .and_then(limits::Admission::token_allowance)
    }

    /// Cost (millionths of a currency unit) the request may run up before a cost budget
    /// cuts it (streams).
    pub fn cost_allowance_micros(&self) -> Option<u64> {
        self.inner
            .as_ref()
            .and_then(limits::Admission::cost_allowance_micros)
    }

    /// Extends the concurrency leases of a request that outlives them (long streams).
    pub async fn renew(&self) {
        if let Some(inner) = &self.inner {
            inner.renew().await;
        }
    }

    /// Reconciles the reservation with real usage and frees the concurrency slot.
    pub async fn settle(self, used: limits::Usage) {
        if let Some(inner) = self.inner {
            inner.settle(used).await;
        }
    }
}

/// Before the body is read: refuses at once a key whose requests are all refused for
/// now (a request-rate limit not tied to a model refused one of them and its retry time
/// has not come: [`palisade_policy::limits::Limiter::held`]), so a key over its rate
/// does not cost the gateway reading, parsing and counting each refused body.
pub fn held(state: &GatewayState, ctx: &mut RequestCtx) -> Result<(), GatewayError> {
    let Some(principal) = &ctx.principal else {
        return Ok(());
    };
    match state.limiter.held(&principal.key_id) {
        None => Ok(()),
        Some(refusal) => Err(refused(state, ctx, refusal)),
    }
}

/// Counts a refusal and turns it into the client's error.
fn refused(state: &GatewayState, ctx: &mut RequestCtx, refusal: Refusal) -> GatewayError {
    state
        .metrics
        .limit_refusals
        .get_or_create(&crate::telemetry::metrics::RefusalLabels {
            code: refusal.code.as_str(),
        })
        .inc();
    ctx.ratelimit = Some(refusal.headers.clone());
    GatewayError::Limited(Box::new(refusal))
}

pub async fn run(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    output_cap: u64,
) -> Result<Admission, GatewayError> {
    let Some(principal) = &ctx.principal else {
        return Ok(Admission { inner: None });
    };
    let subject = Subject {
        key_id: &principal.key_id,
        user: &principal.user_name,
        groups: &principal.groups,
        model: &route.name,
    };
    let demand = Demand {
        tokens: ctx.prompt_estimate.saturating_add(output_cap),
        cost_micros: route.cost_micros(ctx.prompt_estimate, output_cap),
    };
    match state.limiter.admit(&subject, demand).await {
        Ok(admission) => {
            ctx.ratelimit = Some(admission.headers().clone());
            Ok(Admission {
                inner: Some(admission),
            })
        }
        Err(refusal) => Err(refused(state, ctx, refusal)),
    }
}
