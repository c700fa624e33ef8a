//! Stage 3 — authorize. Decides whether the principal may use the routed model.
//! Today every authenticated principal may use every configured model; the Cedar policy
//! engine (issue: access policy) takes this place, with default deny and explanations.

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;

pub fn run(
    _state: &GatewayState,
    _ctx: &RequestCtx,
    _route: &ModelRoute,
) -> Result<(), GatewayError> {
    Ok(())
}
