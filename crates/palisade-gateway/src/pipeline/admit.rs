//! Stage 4 — admit. Reserves capacity (requests, tokens, concurrency) before the upstream
//! is called and hands back an [`Admission`] that [`super::settle`] reconciles. Limits
//! (issue: access policy and limits) plug in here; today every request is admitted.

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;

/// What was reserved for one request; released or reconciled when it settles (or is
/// dropped, when the client goes away).
#[derive(Debug, Default)]
pub struct Admission {
    _private: (),
}

impl Admission {
    /// Gives back what was reserved and not used.
    pub fn release(self) {}
}

pub fn run(
    _state: &GatewayState,
    _ctx: &RequestCtx,
    _route: &ModelRoute,
) -> Result<Admission, GatewayError> {
    Ok(Admission::default())
}
