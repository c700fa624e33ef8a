//! Stage 9 — record. Every request, allowed or refused (failed authentication included),
//! leaves a record: today the access log and metrics; the tamper-evident audit ledger
//! (issue: audit) is written from here too.

use crate::context::RequestCtx;
use crate::state::GatewayState;
use crate::telemetry::access_log;

pub fn run(state: &GatewayState, ctx: &RequestCtx, status: u16, code: &'static str) {
    access_log::finish(state, ctx, status, code);
}
