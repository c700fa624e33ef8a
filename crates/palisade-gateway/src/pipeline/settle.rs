//! Stage 8 — settle. Takes the real usage reported by the upstream, accounts for it, and
//! reconciles the admission's reservation.

use palisade_protocol::openai::Usage;

use super::admit::Admission;
use crate::context::RequestCtx;
use crate::state::GatewayState;

pub fn run(
    _state: &GatewayState,
    ctx: &mut RequestCtx,
    usage: Option<Usage>,
    admission: Admission,
) {
    if usage.is_some() {
        ctx.usage = usage;
    }
    admission.release();
}
