//! Stages 5 and 7 — inspect input and output. Content scanners (injection, PII, secrets)
//! and their actions (block, redact, pseudonymize) plug in here; today content passes
//! unchanged. Streamed output is inspected per chunk in [`super::stream`].

use palisade_protocol::openai::{ChatChunk, ChatRequest, ChatResponse};

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;

pub fn input(
    _state: &GatewayState,
    _ctx: &RequestCtx,
    _req: &mut ChatRequest,
) -> Result<(), GatewayError> {
    Ok(())
}

pub fn output(
    _state: &GatewayState,
    _ctx: &RequestCtx,
    _resp: &mut ChatResponse,
) -> Result<(), GatewayError> {
    Ok(())
}

pub fn output_chunk(
    _state: &GatewayState,
    _ctx: &RequestCtx,
    _chunk: &mut ChatChunk,
) -> Result<(), GatewayError> {
    Ok(())
}
