//! Stage 9 — record. Every request, allowed or refused (failed authentication included),
//! leaves an access-log line, metrics, and one record in the audit ledger. In `strict`
//! durability the record is committed before the response is completed: when the ledger
//! cannot commit, the client gets 503 `audit_unavailable` instead of an unrecorded
//! answer. Content capture (`audit.capture`, per model and group) keeps the request and
//! response bodies for the record; the ledger encrypts them under the subject's key.
//! `full` keeps the bodies as the client sent and received them; `redacted` keeps what
//! the scanners' actions produced: the request as forwarded upstream and the answer
//! with the request's pseudonyms in place of the real values (unscanned requests keep
//! nothing).

use axum::body::Bytes;
use palisade_audit::{Capture, Decision, Entry, Event, Plane, TokenUsage};
use palisade_config::CaptureMode;
use palisade_scan::vault::Vault;
use serde::Serialize;

use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;
use crate::telemetry::access_log;

/// Longest upstream model name an audit record keeps (`model_version`).
const MAX_MODEL_VERSION: usize = 256;

/// Most output text kept from one stream for the record.
const MAX_STREAM_CAPTURE: usize = 4 * 1024 * 1024;

/// Content being captured for one request.
#[derive(Debug)]
pub struct Captured {
    /// The data subject: the end-user id the client sent (`user`), scoped to the calling
    /// user unless `audit.end_user_scope = "global"`; else the calling user's id.
    subject: String,
    /// `redacted` capture: the request is taken after inspection, outputs are concealed.
    redacted: bool,
    request: Bytes,
    response: Option<Vec<u8>>,
    stream_text: String,
}

/// Refuses early, before any upstream call, when the ledger is known to be failing and
/// durability is strict: the request could not be recorded anyway.
pub fn ensure_available(state: &GatewayState) -> Result<(), GatewayError> {
    match &state.audit {
        Some(ledger)
            if ledger.durability() == palisade_audit::Durability::Strict
                && !ledger.is_available() =>
        {
            Err(GatewayError::AuditUnavailable)
        }
        _ => Ok(()),
    }
}

/// Starts capturing this request's content if the capture rules say so.
pub fn begin_capture(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    route: &ModelRoute,
    body: &Bytes,
    end_user: Option<&str>,
) {
    if state.audit.is_none() {
        return;
    }
    let Some(principal) = &ctx.principal else {
        return;
    };
    let redacted = match state
        .audit_config
        .capture_for(&route.name, &principal.groups)
    {
        CaptureMode::None => return,
        CaptureMode::Redacted => true,
        CaptureMode::Full => false,
    };
    // The end user as sent, scoped to the caller by default: the ledger reads a subject
    // by its first characters (`subject_ref`).
    let subject = state
        .audit_config
        .end_user_scope
        .subject(&principal.user_id, end_user);
    ctx.capture = Some(Captured {
        subject,
        redacted,
        request: if redacted { Bytes::new() } else { body.clone() },
        response: None,
        stream_text: String::new(),
    });
}

/// `redacted` capture: keeps the request as it goes upstream, after the scanners'
/// actions. Without a scanning profile nothing is kept.
pub fn capture_forwarded<T: Serialize>(ctx: &mut RequestCtx, req: &T) {
    if let Some(c) = ctx.capture.as_mut()
        && c.redacted
        && ctx.scan.is_some()
    {
        c.request = serde_json::to_vec(req).map(Bytes::from).unwrap_or_default();
    }
}

/// Keeps the response body for the record (non-streaming).
pub fn capture_response<T: Serialize>(ctx: &mut RequestCtx, resp: &T) {
    if let Some(c) = ctx.capture.as_mut() {
        c.response = serde_json::to_vec(resp).ok();
    }
}

/// Appends streamed output text for the record (bounded).
pub fn capture_stream_text(ctx: &mut RequestCtx, text: &str) {
    if let Some(c) = ctx.capture.as_mut()
        && c.stream_text.len() + text.len() <= MAX_STREAM_CAPTURE
    {
        c.stream_text.push_str(text);
    }
}

/// Writes the access log, metrics and the audit record. `Err` only when the audit record
/// could not be made durable in strict mode.
pub async fn run(
    state: &GatewayState,
    ctx: &mut RequestCtx,
    status: u16,
    code: &'static str,
) -> Result<(), GatewayError> {
    access_log::finish(state, ctx, status, code);
    let Some(ledger) = &state.audit else {
        return Ok(());
    };
    let vault = ctx.scan.as_ref().map(|s| &s.vault);
    let capture = ctx
        .capture
        .take()
        .and_then(|c| content(c, ctx.stream, vault));
    let entry = Entry {
        event: event(ctx, status, code),
        capture,
    };
    match ledger.record(entry).await {
        Ok(_) => Ok(()),
        Err(err) => {
            state.metrics.audit_failures.inc();
            tracing::error!(request_id = %ctx.request_id, error = %err, "audit record not written");
            Err(GatewayError::AuditUnavailable)
        }
    }
}

/// `{"request": <body as sent>, "response": <body as returned>}`, or for a stream
/// `{"request": …, "stream_text": "<the output text>"}`. The request body already parsed
/// as JSON, so it is spliced in as is. `redacted` capture conceals the request's
/// pseudonymized values in the output again; it keeps nothing for a request that was
/// refused before inspection.
fn content(c: Captured, stream: bool, vault: Option<&Vault>) -> Option<Capture> {
    if c.request.is_empty() {
        return None;
    }
    let conceal = |bytes: Vec<u8>| match (c.redacted, vault) {
        (true, Some(v)) => match String::from_utf8(bytes) {
            Ok(text) => v.conceal(&text).into_bytes(),
            Err(e) => e.into_bytes(),
        },
        _ => bytes,
    };
    let mut out = Vec::with_capacity(c.request.len() + 64);
    out.extend_from_slice(b"{\"request\":");
    out.extend_from_slice(&c.request);
    if stream {
        out.extend_from_slice(b",\"stream_text\":");
        out.extend(conceal(
            serde_json::to_vec(&c.stream_text).unwrap_or_default(),
        ));
    } else if let Some(resp) = c.response.clone() {
        out.extend_from_slice(b",\"response\":");
        out.extend(conceal(resp));
    }
    out.push(b'}');
    Some(Capture {
        subject: c.subject,
        content: out,
    })
}

/// The audit event for a finished request.
fn event(ctx: &RequestCtx, status: u16, code: &'static str) -> Event {
    let mut e = Event::new(Plane::Data, ctx.request_id.clone(), ctx.endpoint.action());
    e.time_us = ctx.started_unix_us;
    if let Some(p) = &ctx.principal {
        e.actor.key_id = Some(p.key_id.clone());
        e.actor.user = Some(p.user_name.clone());
        e.actor.user_id = Some(p.user_id.clone());
        e.actor.groups = p.groups.clone();
    } else {
        e.actor.attempted_key_id = ctx.presented_key_id.clone();
    }
    e.client_ip = ctx.client_addr.map(|a| a.ip().to_string());
    e.user_agent = ctx.user_agent.clone();
    e.model = ctx.route.as_ref().map(|r| r.name.to_string());
    // The model the upstream says answered, if it reads as a model name (it is the
    // upstream's word, stored in every record): else the deployment the route names.
    e.model_version = ctx
        .model_version
        .clone()
        .filter(|v| v.len() <= MAX_MODEL_VERSION && !v.chars().any(char::is_control))
        .or_else(|| ctx.route.as_ref().map(|r| r.upstream_model.clone()));
    e.decision = decision(status, code);
    e.reason = code.to_owned();
    e.status = status;
    e.policies = ctx.policies.clone();
    if let Some(scan) = &ctx.scan {
        e.findings = scan.findings.clone();
    }
    e.upstream_status = ctx.upstream_status;
    e.usage = ctx.usage.as_ref().map(|u| TokenUsage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
    });
    e.stream = ctx.stream;
    e.latency_ms = ms(ctx.started.elapsed());
    e.overhead_ms = ms(ctx.overhead());
    e
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The decision category of an outcome code.
fn decision(status: u16, code: &str) -> Decision {
    match code {
        "ok" | "client_disconnected" if status < 400 => Decision::Allow,
        "invalid_api_key" | "access_denied" => Decision::Deny,
        "rate_limit_exceeded"
        | "budget_exceeded"
        | "concurrency_limit_exceeded"
        | "too_many_auth_failures" => Decision::Limit,
        "content_policy_violation" | "unscannable_input" => Decision::Block,
        _ => Decision::Error,
    }
}
