//! Stage 2 — route. Resolves the public model name (or an alias) to its route. Unknown
//! names are 404 `model_not_found`, as OpenAI answers.

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;

pub fn run(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    model: &str,
) -> Result<ModelRoute, GatewayError> {
    let route = state
        .routes
        .get(model)
        .cloned()
        .ok_or_else(|| GatewayError::ModelNotFound(bounded(model)))?;
    ctx.route = Some(route.clone());
    Ok(route)
}

/// Echoes at most 64 characters of a client-chosen name back.
pub(super) fn bounded(model: &str) -> String {
    model.chars().take(64).collect()
}
