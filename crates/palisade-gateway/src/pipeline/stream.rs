//! Streaming responses. Relays upstream chunks to the client as SSE, one chunk at a time:
//! each is rewritten to the public model name, its text, tool-call arguments and other
//! model-text fields (reasoning, refusal, …) passed through the request's stream
//! inspector (held back, rewritten, pseudonyms restored; token log-probabilities and
//! audio data withheld; a `block` ends the stream with `finish_reason: "content_filter"`
//! before any blocked byte is sent), counted
//! against the request's token and cost allowances, and its usage taken for settlement. The stream
//! ends with `[DONE]`; with a final `finish_reason: "length"` chunk and an error event
//! when a hard token limit is reached; or with an OpenAI-style error event when the
//! upstream breaks or the request deadline passes — never a hang. Settlement and the
//! record happen when the stream ends, and also when the client goes away mid-stream
//! (the relay's `Drop`).
//!
//! The relay runs in a task of its own ([`pump`]) and hands its output to the response
//! body through a one-chunk channel: a client that takes nothing for the idle timeout
//! ends it, which no timer inside the body could do — hyper only polls a body when the
//! client can take bytes, and an HTTP/2 client that stops granting flow-control window
//! never even blocks a socket write.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use palisade_policy::limits::{Refusal, RefusalCode};
use palisade_protocol::openai::model_text;
use palisade_protocol::openai::{
    ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta, Usage,
};
use palisade_protocol::sse;
use palisade_upstream::{ChunkStream, UpstreamError};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::admit::Admission;
use super::inspect::{self, StreamInspector, StreamPart, StreamVerdict};
use super::{record, respond, settle};
use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::state::GatewayState;
use crate::tokens;

struct Relay {
    state: Arc<GatewayState>,
    ctx: Option<RequestCtx>,
    admission: Option<Admission>,
    upstream: ChunkStream,
    wants_usage: bool,
    /// Whether a usage chunk went out (the upstream's, relayed).
    usage_sent: bool,
    model: String,
    deadline: Instant,
    /// Total tokens (prompt + completion) the request may use; `None` = unlimited.
    allowance: Option<u64>,
    /// Cost (micros) the request may run up under a cost budget; `None` = unlimited.
    cost_allowance: Option<u64>,
    /// When the concurrency leases were last extended.
    renewed: Instant,
    completion_tokens: u64,
    /// A template for gateway-made chunks (id, created).
    last_chunk: Option<(String, i64)>,
    /// Output scanning; `None` when the request is not scanned.
    inspector: Option<StreamInspector>,
    /// How many choices the request asked for (`n`): the upstream may not send others.
    choices: u64,
    /// Choices the upstream has sent, and those it has finished (`finish_reason`).
    seen: BTreeSet<u32>,
    ended: BTreeSet<u32>,
    done: bool,
}

impl Relay {
    /// Settles and records once, with the outcome code. `false` when the audit record
    /// could not be made durable (strict durability): the stream must not end as a
    /// success then.
    async fn finish(&mut self, code: &'static str) -> bool {
        let Some(mut ctx) = self.ctx.take() else {
            return true;
        };
        if ctx.usage.is_none() && self.completion_tokens > 0 {
            ctx.usage = Some(Usage::new(ctx.prompt_estimate, self.completion_tokens));
        }
        let usage = ctx.usage.clone();
        if let Some(inspector) = self.inspector.as_mut() {
            inspector.settle(&self.state, &mut ctx);
        }
        // In a task of its own: the relay may be dropped while this waits (the client
        // went away), and the context is already taken, so the settlement and the
        // record must not depend on this future running to its end.
        let state = Arc::clone(&self.state);
        let admission = self.admission.take();
        let done = self.state.requests.spawn(async move {
            if let Some(admission) = admission {
                settle::run(&state, &mut ctx, usage, admission).await;
            }
            record::run(&state, &mut ctx, 200, code).await.is_ok()
        });
        done.await.unwrap_or(false)
    }

    /// A gateway-made chunk for choice `index`: a delta, or the end with `reason`.
    fn own_chunk(&self, index: u32, delta: Delta, reason: Option<&str>) -> String {
        let choice = ChunkChoice {
            index,
            delta,
            finish_reason: reason.map(str::to_owned),
            extra: Default::default(),
        };
        self.encode_chunk(vec![choice], None)
    }

    /// A gateway-made chunk (the upstream's id and time, the public model name), as an
    /// SSE event.
    fn encode_chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> String {
        let (id, created) = self.last_chunk.clone().unwrap_or_default();
        let chunk = ChatChunk {
            id,
            object: "chat.completion.chunk".into(),
            created,
            model: self.model.clone(),
            choices,
            usage,
            extra: Default::default(),
        };
        sse::encode_data(&serde_json::to_string(&chunk).unwrap_or_default())
    }

    /// Choices sent and not yet finished: those a gateway-made end must finish.
    fn open_choices(&self) -> BTreeSet<u32> {
        self.seen.difference(&self.ended).copied().collect()
    }

    /// The usage chunk a client that asked for `include_usage` is owed when the stream
    /// ends without the upstream's (it sent none, or the gateway ended the stream first):
    /// no choices, the request's usage (the upstream's figures, or the gateway's count).
    fn owed_usage_chunk(&mut self) -> String {
        let Some(ctx) = self
            .ctx
            .as_ref()
            .filter(|_| self.wants_usage && !self.usage_sent)
        else {
            return String::new();
        };
        self.usage_sent = true;
        let usage = ctx
            .usage
            .clone()
            .unwrap_or_else(|| Usage::new(ctx.prompt_estimate, self.completion_tokens));
        self.encode_chunk(Vec::new(), Some(usage))
    }

    /// A gateway-made chunk ending choice `index` with `reason`.
    fn final_chunk(&self, index: u32, reason: &str) -> String {
        self.own_chunk(index, Delta::default(), Some(reason))
    }

    /// A `block` on output: `content_filter` for the blocked choice and every other one
    /// still open (the stream ends for all of them), recorded as a block, then `[DONE]`.
    async fn content_filter(&mut self, index: u32) -> Bytes {
        let mut open = self.open_choices();
        open.insert(index);
        let mut out: String = open
            .into_iter()
            .map(|i| self.final_chunk(i, "content_filter"))
            .collect();
        if let Some(ctx) = &self.ctx {
            self.state.metrics.scan_blocked("output");
            tracing::info!(request_id = %ctx.request_id, "stream ended by a content block");
        }
        out.push_str(&self.owed_usage_chunk());
        let recorded = self.finish("content_policy_violation").await;
        self.done = true;
        if !recorded {
            let body = GatewayError::AuditUnavailable.body();
            out.push_str(&sse::encode_data(
                &serde_json::to_string(&body).unwrap_or_default(),
            ));
        } else {
            out.push_str(sse::DONE);
        }
        Bytes::from(out)
    }

    /// Passes the chunk's texts (content, tool-call arguments, model-text fields) through
    /// the inspector and withholds its log-probabilities and audio data. `Err(index)`
    /// when a choice is blocked; `Ok(false)` when nothing is left worth sending.
    fn inspect(&mut self, chunk: &mut ChatChunk) -> Result<bool, u32> {
        let Some(inspector) = self.inspector.as_mut() else {
            return Ok(true);
        };
        let mut worth_sending = chunk.usage.is_some();
        // Fields a provider adds beside the choices arrive whole in their chunk.
        for (key, texts) in model_text::beside_texts_mut(&mut chunk.extra) {
            let location = format!("output.{}", inspect::field_label(key));
            for text in texts {
                if !inspector.check(&location, text, true) {
                    return Err(chunk.choices.first().map_or(0, |c| c.index));
                }
            }
        }
        for choice in &mut chunk.choices {
            let index = choice.index;
            let mut text = match choice.delta.content.take() {
                Some(delta) => {
                    match inspector.push(StreamPart::Content { choice: index }, &delta) {
                        StreamVerdict::Emit(t) => t,
                        StreamVerdict::Blocked => return Err(index),
                    }
                }
                None => String::new(),
            };
            for call in choice.delta.tool_calls.iter_mut().flatten() {
                // What a provider adds to a call passes when it holds no text (a
                // signature); text there has no guard to go through.
                model_text::drop_all_text(&mut call.extra);
                // The name the model gave the call (written as text by some servers'
                // tool parsers): checked whole, it arrives in one delta.
                if let Some(name) = call.function.as_mut().and_then(|f| f.name.as_mut()) {
                    let location = format!("output.choices[{index}].tool_calls[{}]", call.index);
                    if !inspector.check(&location, name, false) {
                        return Err(index);
                    }
                }
                let part = StreamPart::Arguments {
                    choice: index,
                    call: call.index,
                };
                if let Some(args) = call.function.as_mut().and_then(|f| f.arguments.as_mut()) {
                    match inspector.push(part, args) {
                        StreamVerdict::Emit(t) => *args = t,
                        StreamVerdict::Blocked => return Err(index),
                    }
                }
            }
            // A legacy function call's name, like a tool call's.
            for extra in [&mut choice.delta.extra, &mut choice.extra] {
                if let Some(name) = model_text::legacy_call_name_mut(extra) {
                    let location = format!("output.choices[{index}].function_call");
                    if !inspector.check(&location, name, false) {
                        return Err(index);
                    }
                }
            }
            // Text in fields with no name here cannot be held back piece by piece.
            model_text::drop_unnamed_text(&mut choice.delta.extra);
            model_text::drop_unnamed_text(&mut choice.extra);
            for field in model_text::TEXT_FIELDS {
                // A named field sent at the choice's level instead of in its delta goes
                // through the delta's guard like any other, after the delta's text.
                let misplaced = field.take(&mut choice.extra).filter(|t| !t.is_empty());
                let delta = match (field.take(&mut choice.delta.extra), misplaced) {
                    (Some(mut delta), Some(misplaced)) => {
                        delta.push_str(&misplaced);
                        delta
                    }
                    (Some(text), None) | (None, Some(text)) => text,
                    (None, None) => continue,
                };
                match inspector.push(
                    StreamPart::Field {
                        choice: index,
                        field,
                    },
                    &delta,
                ) {
                    StreamVerdict::Emit(t) => field.append(&mut choice.delta.extra, &t),
                    StreamVerdict::Blocked => return Err(index),
                }
            }
            // Text is held back and re-cut here: per-token log-probabilities and audio
            // would reveal it before the scan has seen it.
            model_text::withhold_unscannable(&mut choice.extra, &mut choice.delta.extra);
            if choice.finish_reason.is_some() {
                for part in inspector.parts_of(index) {
                    let released = match inspector.finish(part) {
                        StreamVerdict::Emit(t) => t,
                        StreamVerdict::Blocked => return Err(index),
                    };
                    match part {
                        StreamPart::Content { .. } => text.push_str(&released),
                        StreamPart::Arguments { call, .. } if !released.is_empty() => {
                            append_arguments(&mut choice.delta, call, &released);
                        }
                        StreamPart::Arguments { .. } => {}
                        StreamPart::Field { field, .. } => {
                            field.append(&mut choice.delta.extra, &released);
                        }
                    }
                }
            }
            worth_sending |= !text.is_empty()
                || choice.finish_reason.is_some()
                || choice.delta.role.is_some()
                || choice.delta.tool_calls.is_some()
                || !choice.delta.extra.is_empty();
            if !text.is_empty() {
                choice.delta.content = Some(text);
            }
        }
        Ok(worth_sending)
    }

    /// The upstream ended without finishing some choices: releases their held text and
    /// arguments.
    fn flush(&mut self) -> Result<String, u32> {
        let Some(inspector) = self.inspector.as_mut() else {
            return Ok(String::new());
        };
        let mut released = Vec::new();
        for part in inspector.open_parts() {
            match inspector.finish(part) {
                StreamVerdict::Emit(text) if !text.is_empty() => released.push((part, text)),
                StreamVerdict::Emit(_) => {}
                StreamVerdict::Blocked => return Err(part.choice()),
            }
        }
        Ok(released
            .into_iter()
            .map(|(part, text)| {
                let mut delta = Delta::default();
                match part {
                    StreamPart::Content { .. } => delta.content = Some(text),
                    StreamPart::Arguments { call, .. } => {
                        append_arguments(&mut delta, call, &text);
                    }
                    StreamPart::Field { field, .. } => field.append(&mut delta.extra, &text),
                }
                self.own_chunk(part.choice(), delta, None)
            })
            .collect())
    }

    async fn error_event(&mut self, err: GatewayError) -> Bytes {
        let code = err.code();
        if let (Some(ctx), GatewayError::Upstream(e)) = (&self.ctx, &err) {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "upstream stream failed");
        }
        // Text the inspector still holds goes out first if it passes the scan; a block
        // there ends the stream as a block (recorded so), not with this error.
        let mut out = match self.flush() {
            Ok(text) => text,
            Err(index) => return self.content_filter(index).await,
        };
        // The stream ends with this error whether or not the record could be written.
        let _ = self.finish(code).await;
        self.done = true;
        let body = serde_json::to_string(&err.body()).unwrap_or_default();
        out.push_str(&sse::encode_data(&body));
        Bytes::from(out)
    }

    /// Ends the stream at the token or cost allowance: a `length` finish, then the error
    /// event.
    async fn cut(&mut self) -> Bytes {
        // Held text that passes the scan was produced within the allowance: send it first
        // (a block there ends the stream as a block).
        let mut out = match self.flush() {
            Ok(text) => text,
            Err(index) => return self.content_filter(index).await,
        };
        let mut open = self.open_choices();
        if self.seen.is_empty() {
            // Cut before any choice showed up: the one a client expects.
            open.insert(0);
        }
        for i in open {
            out.push_str(&self.final_chunk(i, "length"));
        }
        let refusal = Refusal {
            code: RefusalCode::BudgetExceeded,
            message: "The stream reached a token limit and was ended.".into(),
            retry_after: Duration::ZERO,
            headers: Default::default(),
            holds_key_for: None,
        };
        out.push_str(&String::from_utf8_lossy(
            &self
                .error_event(GatewayError::Limited(Box::new(refusal)))
                .await,
        ));
        Bytes::from(out)
    }

    /// Extends the request's concurrency leases at a third of their lifetime, so a
    /// stream that outlives them keeps its slot (and the limit holds).
    async fn renew_if_due(&mut self) {
        if self.renewed.elapsed() < self.state.limiter.lease_ttl() / 3 {
            return;
        }
        self.renewed = Instant::now();
        if let Some(admission) = &self.admission {
            admission.renew().await;
        }
    }

    async fn next_bytes(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        loop {
            // Checked before the upstream is polled: with chunks already buffered, the
            // poll below is ready at once and its timeout never looks at the clock, so a
            // client reading slowly would keep the stream past its deadline.
            if Instant::now() >= self.deadline {
                return Some(self.error_event(GatewayError::RequestTimeout).await);
            }
            let waiting = std::time::Instant::now();
            let next = tokio::time::timeout_at(self.deadline, self.upstream.next()).await;
            if let Some(ctx) = self.ctx.as_mut() {
                ctx.upstream_time += waiting.elapsed();
            }
            match next {
                Err(_) => return Some(self.error_event(GatewayError::RequestTimeout).await),
                Ok(None) => {
                    let mut out = match self.flush() {
                        Ok(text) => text,
                        Err(index) => return Some(self.content_filter(index).await),
                    };
                    out.push_str(&self.owed_usage_chunk());
                    let recorded = self.finish("ok").await;
                    self.done = true;
                    if !recorded {
                        let body = GatewayError::AuditUnavailable.body();
                        let json = serde_json::to_string(&body).unwrap_or_default();
                        out.push_str(&sse::encode_data(&json));
                    } else {
                        out.push_str(sse::DONE);
                    }
                    return Some(Bytes::from(out));
                }
                Ok(Some(Err(e))) => return Some(self.error_event(GatewayError::Upstream(e)).await),
                Ok(Some(Ok(mut chunk))) => {
                    if let Err(e) = within_bounds(&chunk, self.choices) {
                        return Some(self.error_event(GatewayError::Upstream(e)).await);
                    }
                    let ctx = self.ctx.as_mut()?;
                    if let Some(usage) = &chunk.usage {
                        ctx.usage = Some(usage.clone());
                        self.usage_sent |= self.wants_usage;
                        if !self.wants_usage {
                            if chunk.choices.is_empty() {
                                continue;
                            }
                            chunk.usage = None;
                        }
                    }
                    if ctx.model_version.is_none() && !chunk.model.is_empty() {
                        ctx.model_version = Some(std::mem::take(&mut chunk.model));
                    }
                    chunk.model.clone_from(&self.model);
                    self.last_chunk = Some((chunk.id.clone(), chunk.created));
                    // Choices this chunk finishes count as ended only once it is sent:
                    // a block or a cut that drops it must still finish them.
                    let finishing: Vec<u32> = chunk
                        .choices
                        .iter()
                        .filter(|c| c.finish_reason.is_some())
                        .map(|c| c.index)
                        .collect();
                    self.seen.extend(chunk.choices.iter().map(|c| c.index));
                    self.completion_tokens += chunk_tokens(&chunk);
                    let worth_sending = match self.inspect(&mut chunk) {
                        Ok(worth) => worth,
                        Err(index) => return Some(self.content_filter(index).await),
                    };
                    let ctx = self.ctx.as_mut()?;
                    if ctx.capture.is_some() {
                        for c in &chunk.choices {
                            if let Some(text) = c.delta.content.as_deref() {
                                record::capture_stream_text(ctx, text);
                            }
                            for args in c.delta.tool_calls.iter().flatten().filter_map(|t| {
                                t.function.as_ref().and_then(|f| f.arguments.as_deref())
                            }) {
                                record::capture_stream_text(ctx, args);
                            }
                            for field in model_text::TEXT_FIELDS {
                                if let Some(text) = field.get(&c.delta.extra) {
                                    record::capture_stream_text(ctx, text);
                                }
                            }
                        }
                    }
                    let over_tokens = self.allowance.is_some_and(|a| {
                        ctx.prompt_estimate.saturating_add(self.completion_tokens) > a
                    });
                    let over_cost = self.cost_allowance.is_some_and(|a| {
                        ctx.route.as_ref().is_some_and(|r| {
                            r.cost_micros(ctx.prompt_estimate, self.completion_tokens) > a
                        })
                    });
                    if over_tokens || over_cost {
                        return Some(self.cut().await);
                    }
                    self.renew_if_due().await;
                    self.ended.extend(finishing);
                    if !worth_sending {
                        continue;
                    }
                    match serde_json::to_string(&chunk) {
                        Ok(json) => return Some(Bytes::from(sse::encode_data(&json))),
                        Err(e) => {
                            let err = UpstreamError::Protocol(format!("unserializable chunk: {e}"));
                            return Some(self.error_event(GatewayError::Upstream(err)).await);
                        }
                    }
                }
            }
        }
    }
}

/// Most tool calls one choice of a stream may make (by index), and the longest chunk id
/// relayed: what the relay keeps per choice and call, and repeats in the chunks it makes
/// itself, stays bounded whatever an upstream sends.
const MAX_STREAM_TOOL_CALLS: u32 = 128;
const MAX_CHUNK_ID_BYTES: usize = 1024;

/// An upstream chunk the relay may keep state for: choices the request asked for
/// (`index < n`), a bounded number of tool calls, an id of reasonable length.
fn within_bounds(chunk: &ChatChunk, choices: u64) -> Result<(), UpstreamError> {
    if chunk.id.len() > MAX_CHUNK_ID_BYTES {
        return Err(UpstreamError::Protocol(format!(
            "a stream chunk id longer than {MAX_CHUNK_ID_BYTES} bytes"
        )));
    }
    for choice in &chunk.choices {
        if u64::from(choice.index) >= choices {
            return Err(UpstreamError::Protocol(format!(
                "a stream choice index {} for a request of {choices} choices",
                choice.index
            )));
        }
        if choice
            .delta
            .tool_calls
            .iter()
            .flatten()
            .any(|call| call.index >= MAX_STREAM_TOOL_CALLS)
        {
            return Err(UpstreamError::Protocol(format!(
                "a stream tool call index of {MAX_STREAM_TOOL_CALLS} or more"
            )));
        }
    }
    Ok(())
}

/// Adds released argument text to tool call `call` of a delta: to its last fragment with
/// that index (fragments with the same index concatenate in order, so the text released
/// after them goes after the last), or a new fragment when the delta has none.
fn append_arguments(delta: &mut Delta, call: u32, text: &str) {
    let calls = delta.tool_calls.get_or_insert_with(Vec::new);
    let pos = match calls.iter().rposition(|c| c.index == call) {
        Some(pos) => pos,
        None => {
            calls.push(ToolCallDelta {
                index: call,
                ..ToolCallDelta::default()
            });
            calls.len() - 1
        }
    };
    let function = calls[pos]
        .function
        .get_or_insert_with(FunctionCallDelta::default);
    function
        .arguments
        .get_or_insert_with(String::new)
        .push_str(text);
}

/// Completion tokens in one chunk's deltas (text, tool-call arguments and the other
/// model-text fields, reasoning included).
fn chunk_tokens(chunk: &ChatChunk) -> u64 {
    chunk
        .choices
        .iter()
        .map(|c| {
            let text = c.delta.content.as_deref().map_or(0, tokens::count);
            let args: u64 = c
                .delta
                .tool_calls
                .iter()
                .flatten()
                .filter_map(|t| t.function.as_ref()?.arguments.as_deref())
                .map(tokens::count)
                .sum();
            let fields: u64 = model_text::TEXT_FIELDS
                .iter()
                .filter_map(|f| f.get(&c.delta.extra))
                .map(tokens::count)
                .sum();
            text + args + fields
        })
        .sum()
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The client went away before the stream ended: settle and record anyway.
        let (Some(mut ctx), admission) = (self.ctx.take(), self.admission.take()) else {
            return;
        };
        if ctx.usage.is_none() {
            ctx.usage = Some(Usage::new(ctx.prompt_estimate, self.completion_tokens));
        }
        if let Some(inspector) = self.inspector.as_mut() {
            inspector.settle(&self.state, &mut ctx);
        }
        let state = Arc::clone(&self.state);
        let finish = async move {
            let usage = ctx.usage.clone();
            if let Some(admission) = admission {
                settle::run(&state, &mut ctx, usage, admission).await;
            }
            let _ = record::run(&state, &mut ctx, 200, "client_disconnected").await;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            self.state.requests.spawn(finish);
        }
    }
}

/// Runs `relay` and hands each piece of its output to the response body. Ends when the
/// relay does, when the body is dropped (the client went away: at once, even while the
/// upstream is silent), or when the client has taken nothing for `stall` (it stopped
/// reading); the relay is then dropped, which settles and records the request.
async fn pump(
    mut relay: Relay,
    tx: mpsc::Sender<Bytes>,
    stall: Duration,
    stalled: Arc<AtomicBool>,
) {
    loop {
        let next = tokio::select! {
            () = tx.closed() => return,
            next = relay.next_bytes() => next,
        };
        let Some(bytes) = next else {
            return;
        };
        match tokio::time::timeout(stall, tx.send(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                stalled.store(true, Ordering::Release);
                tracing::info!(
                    stall_ms = u64::try_from(stall.as_millis()).unwrap_or(u64::MAX),
                    "stream ended: the client took nothing for the idle timeout"
                );
                return;
            }
        }
    }
}

/// Builds the SSE response for an opened upstream stream.
pub fn relay(
    state: Arc<GatewayState>,
    mut ctx: RequestCtx,
    upstream: ChunkStream,
    wants_usage: bool,
    choices: u64,
    admission: Admission,
) -> Response {
    let model = ctx
        .route
        .as_ref()
        .map(|r| r.name.to_string())
        .unwrap_or_default();
    let remaining = state
        .server
        .request_timeout
        .saturating_sub(ctx.started.elapsed());
    let deadline = Instant::now() + remaining.max(Duration::from_millis(1));
    let (tasks, stall) = (state.requests.clone(), state.server.idle_timeout);
    let mut headers = axum::http::HeaderMap::new();
    respond::stamp(&ctx, &mut headers);
    let allowance = admission.token_allowance();
    let cost_allowance = admission.cost_allowance_micros();
    let inspector = StreamInspector::new(&state, &mut ctx);
    let relay = Relay {
        state,
        ctx: Some(ctx),
        admission: Some(admission),
        upstream,
        wants_usage,
        usage_sent: false,
        model,
        deadline,
        allowance,
        cost_allowance,
        renewed: Instant::now(),
        completion_tokens: 0,
        last_chunk: None,
        inspector,
        choices,
        seen: BTreeSet::new(),
        ended: BTreeSet::new(),
        done: false,
    };
    let (tx, rx) = mpsc::channel(1);
    let stalled = Arc::new(AtomicBool::new(false));
    tasks.spawn(pump(relay, tx, stall, Arc::clone(&stalled)));
    // After a stall the body ends with an error, not a clean end: hyper then resets the
    // HTTP/2 stream or closes the HTTP/1 connection without the final chunk, so a client
    // (or a proxy) that resumes reading sees a broken stream, not a complete one.
    let body = futures::stream::unfold(Some(rx), move |rx| {
        let stalled = Arc::clone(&stalled);
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(bytes) => Some((Ok(bytes), Some(rx))),
                None if stalled.load(Ordering::Acquire) => Some((
                    Err(std::io::Error::other("the client stopped reading")),
                    None,
                )),
                None => None,
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.extend(headers);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn chunk(value: serde_json::Value) -> ChatChunk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn upstream_chunks_beyond_the_request_are_refused() {
        let choice = |index: u32, call: u32| json!({"index": index, "delta": {"tool_calls": [{"index": call, "function": {"arguments": "{"}}]}});
        let ok = chunk(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [choice(0, 0), choice(1, 127)]}),
        );
        assert!(within_bounds(&ok, 2).is_ok());
        assert!(
            within_bounds(&ok, 1).is_err(),
            "index 1 of a request for one choice"
        );
        let calls = chunk(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [choice(0, MAX_STREAM_TOOL_CALLS)]}),
        );
        assert!(within_bounds(&calls, 1).is_err());
        let long_id = chunk(
            json!({"id": "x".repeat(MAX_CHUNK_ID_BYTES + 1), "object": "chat.completion.chunk",
            "created": 1, "model": "m", "choices": []}),
        );
        assert!(within_bounds(&long_id, 1).is_err());
    }

    #[test]
    fn text_released_at_the_end_goes_after_every_fragment_of_its_call() {
        // Two fragments of call 0 in one delta: the client joins them in order, so the
        // held text released at `finish_reason` must follow the second, not the first.
        let mut c = chunk(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1,
            "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": "A"}},
                {"index": 1, "function": {"arguments": "x"}},
                {"index": 0, "function": {"arguments": "B"}}]}}]}),
        );
        append_arguments(&mut c.choices[0].delta, 0, "C");
        append_arguments(&mut c.choices[0].delta, 2, "new");
        let joined = |call: u32| {
            c.choices[0]
                .delta
                .tool_calls
                .iter()
                .flatten()
                .filter(|t| t.index == call)
                .filter_map(|t| t.function.as_ref()?.arguments.clone())
                .collect::<String>()
        };
        assert_eq!(joined(0), "ABC");
        assert_eq!(joined(1), "x");
        assert_eq!(joined(2), "new");
    }
}
