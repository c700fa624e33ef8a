//! Stages 5 and 7 — inspect input and output with the request's scanning profile.
//!
//! - **Input**: every message whose text the client controls (user, tool and function
//!   results, assistant turns of the history and their tool-call arguments; system and
//!   developer messages, tool definitions and a response schema when the profile says
//!   so), `stop` sequences, every string of the request's other top-level fields (a
//!   `prediction`, a provider's `documents`, `metadata`), the names it gives (the
//!   function a `tool_choice` or `function_call` names, `metadata` keys, and with
//!   `scan_system` the tools' names: block only, never rewritten), and embeddings input
//!   and the strings and names of its other fields. A `block` refuses with 400 `content_policy_violation` naming the
//!   finding kinds, never the text; redact, mask and pseudonymize rewrite the text
//!   before it goes upstream.
//! - **Output**: the model's answer — content, tool-call arguments and the other
//!   model-text fields (refusal, reasoning, audio transcript: [`model_text`]) — is
//!   scanned and rewritten the same way, then the request's pseudonyms are restored. A
//!   `block` on output empties the answer and sets `finish_reason: "content_filter"`.
//!   When a choice's text was changed or blocked, its token `logprobs` and audio data
//!   are withheld: they would still spell out what the model wrote. Streams go through
//!   [`palisade_scan::stream`]'s guard, one per choice and per streamed text: see
//!   [`StreamInspector`].
//! - **Upstream errors**: the message of a provider's client error, which the client
//!   reads, is scanned like an answer's text ([`upstream_message`]).
//! - **System-prompt leaks**: the request's system and developer prompts (as forwarded)
//!   are kept as word-run hashes, and an answer repeating a stretch of them is a
//!   `system_prompt_leak` finding ([`palisade_scan::leak`]).
//! - Findings (kind, detector, score, span offsets, action — never the text) go to the
//!   request context for the audit record and metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_protocol::openai::model_text::{self, TextField};
use palisade_protocol::openai::{
    ChatMessage, ChatRequest, ChatResponse, EmbeddingInput, EmbeddingsRequest, MessageContent,
};
use palisade_scan::engine::Scanner;
use palisade_scan::leak::PromptLeak;
use palisade_scan::profile::{Action, Direction, Profile};
use palisade_scan::stream::{ScanFn, Step, StreamGuard};
use palisade_scan::transform::{Applied, blocking_kinds, decide, rewrite};
use palisade_scan::vault::Vault;
use palisade_scan::{Category, Finding, UNSCANNED_MEDIA_KIND};

use super::offload;
use crate::context::RequestCtx;
use crate::error::GatewayError;
use crate::routing::ModelRoute;
use crate::state::GatewayState;
use crate::tokens;

/// Most findings kept per request for the audit record.
const MAX_RECORDED_FINDINGS: usize = 256;

/// The scanning state of one request.
#[derive(Debug)]
pub struct ScanState {
    pub profile: Arc<Profile>,
    pub vault: Vault,
    pub findings: Vec<palisade_audit::Finding>,
    /// The request's system and developer prompts, to recognise them in the answer.
    pub leak: Option<Arc<PromptLeak>>,
    /// A `block` on output filtered a (non-streamed) answer: the request is recorded as
    /// blocked although the client gets a 200 with `finish_reason: "content_filter"`.
    pub blocked_output: bool,
    /// The calling user's id, for the pseudonym of an end-user id that must not go
    /// upstream as sent ([`inspect_user`]).
    pub caller: String,
}

/// Chooses the request's profile (by model and the caller's groups).
pub fn begin(state: &GatewayState, ctx: &mut RequestCtx, route: &ModelRoute) {
    let (Some(scanning), Some(principal)) = (&state.scanning, &ctx.principal) else {
        return;
    };
    if let Some(profile) = scanning.profile_for(&route.name, &principal.groups) {
        ctx.scan = Some(ScanState {
            profile,
            vault: Vault::new(),
            findings: Vec::new(),
            leak: None,
            blocked_output: false,
            caller: principal.user_id.clone(),
        });
    }
}

/// Scans a chat request's input; returns it as it goes upstream. Texts of
/// [`offload::OFFLOAD_BYTES`] or more (`size`: the body's) are scanned off the async
/// workers.
pub async fn input(
    state: &Arc<GatewayState>,
    ctx: &mut RequestCtx,
    req: ChatRequest,
    size: usize,
) -> Result<ChatRequest, GatewayError> {
    with_scan_state(state, ctx, req, size, scan_request).await
}

/// Runs one inspection `step` over `item` with the request's scanning state, in place or
/// on the blocking pool ([`offload::run`]); without a profile, `item` passes unchanged.
async fn with_scan_state<T: Send + 'static>(
    state: &Arc<GatewayState>,
    ctx: &mut RequestCtx,
    item: T,
    size: usize,
    step: fn(&GatewayState, &mut ScanState, &mut T) -> Result<(), GatewayError>,
) -> Result<T, GatewayError> {
    let Some(scan) = ctx.scan.take() else {
        return Ok(item);
    };
    let state = Arc::clone(state);
    let (item, scan, verdict) = offload::run(size, (item, scan), move |(mut item, mut scan)| {
        let verdict = step(&state, &mut scan, &mut item);
        (item, scan, verdict)
    })
    .await?;
    ctx.scan = Some(scan);
    verdict.map(|()| item)
}

fn scan_request(
    state: &GatewayState,
    scan: &mut ScanState,
    req: &mut ChatRequest,
) -> Result<(), GatewayError> {
    let Some(scanning) = &state.scanning else {
        return Ok(());
    };
    let started = Instant::now();
    let mut blocked = Vec::new();
    for (i, msg) in req.messages.iter_mut().enumerate() {
        if !scanned_role(msg, &scan.profile) {
            continue;
        }
        let location = || format!("input.messages[{i}]");
        for text in msg.texts_mut() {
            blocked.extend(inspect_text(scanning.scanner(), scan, text, &location));
        }
        for name in msg.names_mut() {
            blocked.extend(inspect_name(scanning.scanner(), scan, name, &location));
        }
        if msg.has_media() {
            let media = Finding::new(
                UNSCANNED_MEDIA_KIND,
                Category::Obfuscation,
                0..0,
                1.0,
                "media",
            );
            // Nothing to rewrite: such an action only flags (block it by kind or category).
            blocked.extend(unrewritable(scan, vec![media], &location, Action::Flag));
        }
    }
    if scan.profile.scan_system {
        // Tool definitions and a response schema are the developer's words to the model,
        // like a system prompt.
        for (i, tool) in req.tools.iter_mut().flatten().enumerate() {
            let location = || format!("input.tools[{i}]");
            for text in tool.texts_mut() {
                blocked.extend(inspect_text(scanning.scanner(), scan, text, &location));
            }
        }
        let scanner = scanning.scanner();
        blocked.extend(inspect_fields(scanner, scan, req.definition_texts_mut()));
        blocked.extend(inspect_names(scanner, scan, req.definition_names()));
    }
    // The client's other top-level fields go upstream as sent, and may reach the model:
    // scanned like a user message.
    blocked.extend(inspect_fields(
        scanning.scanner(),
        scan,
        req.other_texts_mut(),
    ));
    blocked.extend(inspect_names(scanning.scanner(), scan, req.names()));
    blocked.extend(inspect_user(state, scanning.scanner(), scan, &mut req.user));
    if scan.profile.scan_output && scan.profile.wants(Category::Leak, Direction::Output) {
        // What the model was told (after the input actions), to recognise in its answer.
        let prompts = req
            .messages
            .iter()
            .filter(|m| matches!(m.role.as_str(), "system" | "developer"))
            .flat_map(|m| match &m.content {
                Some(MessageContent::Text(t)) => vec![t.as_str()],
                Some(MessageContent::Parts(parts)) => {
                    parts.iter().filter_map(|p| p.text.as_deref()).collect()
                }
                None => Vec::new(),
            });
        scan.leak = PromptLeak::new(prompts).map(Arc::new);
    }
    state.metrics.scan_time("input", started.elapsed());
    finish_input(state, scan, blocked, "messages")
}

/// Most texts a stream remembers having checked whole ([`StreamInspector::check`]).
const MAX_CHECKED_TEXTS: usize = 1024;

/// Output findings of one text: the profile's detectors, and the request's system prompt
/// repeated in it.
fn scan_output(
    scanner: &Scanner,
    profile: &Profile,
    leak: Option<&PromptLeak>,
    text: &str,
) -> Vec<Finding> {
    let mut findings = scanner.scan_for(text, profile, Direction::Output);
    if let Some(leak) = leak {
        let leaks = leak.find(text);
        if !leaks.is_empty() {
            findings.extend(leaks);
            findings.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        }
    }
    findings
}

/// Scans an embeddings request's input, like [`input`]. Token ids are scanned as the
/// text they spell where the model's vocabulary is known (`ModelRoute::token_encoding`,
/// [`tokens::spelled_embedding_input`]); they go upstream unchanged unless an action
/// rewrote that text, then the rewritten text goes instead.
pub async fn embeddings_input(
    state: &Arc<GatewayState>,
    ctx: &mut RequestCtx,
    req: EmbeddingsRequest,
    size: usize,
) -> Result<EmbeddingsRequest, GatewayError> {
    let spelled = ctx
        .scan
        .as_ref()
        .and(ctx.route.as_ref())
        .and_then(|r| r.token_encoding)
        .and_then(|encoding| tokens::spelled_embedding_input(encoding, &req.input));
    let Some(texts) = spelled else {
        return with_scan_state(state, ctx, req, size, scan_embeddings).await;
    };
    let as_text = EmbeddingsRequest {
        input: EmbeddingInput::Many(texts.clone()),
        ..req.clone()
    };
    let mut scanned = with_scan_state(state, ctx, as_text, size, scan_embeddings).await?;
    // Everything else as scanned (a rewritten `user` or field too); the ids as sent
    // unless their text was rewritten.
    if matches!(&scanned.input, EmbeddingInput::Many(after) if *after == texts) {
        scanned.input = req.input;
    }
    Ok(scanned)
}

fn scan_embeddings(
    state: &GatewayState,
    scan: &mut ScanState,
    req: &mut EmbeddingsRequest,
) -> Result<(), GatewayError> {
    let Some(scanning) = &state.scanning else {
        return Ok(());
    };
    let texts: Vec<&mut String> = match &mut req.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v.iter_mut().collect(),
        // Token ids could spell out anything, in a tokenizer only the model knows.
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenBatches(_) => {
            if Category::ALL
                .iter()
                .any(|c| scan.profile.wants(*c, Direction::Input))
            {
                return Err(GatewayError::Unscannable {
                    what: "token-id input",
                    param: "input",
                });
            }
            Vec::new()
        }
    };
    let started = Instant::now();
    let mut blocked = Vec::new();
    for (i, text) in texts.into_iter().enumerate() {
        let location = || format!("input.input[{i}]");
        blocked.extend(inspect_text(scanning.scanner(), scan, text, &location));
    }
    blocked.extend(inspect_fields(
        scanning.scanner(),
        scan,
        req.other_texts_mut(),
    ));
    blocked.extend(inspect_names(scanning.scanner(), scan, req.names()));
    // The end-user id, as for chats (a string: `parse::embeddings` checked).
    let mut user = req
        .extra
        .get("user")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    if user.is_some() {
        blocked.extend(inspect_user(state, scanning.scanner(), scan, &mut user));
        match user {
            Some(id) => req.extra.insert("user".into(), id.into()),
            None => req.extra.remove("user"),
        };
    }
    state.metrics.scan_time("input", started.elapsed());
    finish_input(state, scan, blocked, "input")
}

/// Scans and rewrites a (non-streamed) answer, then restores the request's pseudonyms;
/// large answers off the async workers, like [`input`].
pub async fn output(
    state: &Arc<GatewayState>,
    ctx: &mut RequestCtx,
    resp: ChatResponse,
) -> Result<ChatResponse, GatewayError> {
    if ctx.scan.is_none() {
        return Ok(resp);
    }
    let size = resp.text_len();
    with_scan_state(state, ctx, resp, size, scan_answer).await
}

/// Never refuses: a `block` on output empties the choice instead (a field beside the
/// choices that blocks is dropped).
fn scan_answer(
    state: &GatewayState,
    scan: &mut ScanState,
    resp: &mut ChatResponse,
) -> Result<(), GatewayError> {
    let Some(scanning) = &state.scanning else {
        return Ok(());
    };
    if !scan.profile.scan_output {
        restore_all(scan, resp);
        return Ok(());
    }
    let started = Instant::now();
    let scanner = scanning.scanner();
    for choice in &mut resp.choices {
        let index = choice.index;
        let location = move || format!("output.choices[{index}]");
        let mut blocked = false;
        let mut changed = false;
        for text in choice.message.texts_mut() {
            match answer_text(scanner, scan, text, &location) {
                Some(c) => changed |= c,
                None => {
                    blocked = true;
                    break;
                }
            }
        }
        if !blocked {
            for name in choice.message.names_mut() {
                let findings = scan_output(scanner, &scan.profile, None, name);
                if !unrewritable(scan, findings, &location, Action::Block).is_empty() {
                    blocked = true;
                    break;
                }
            }
        }
        // What the provider put beside the message in the choice.
        if !blocked {
            'beside: for (key, texts) in model_text::beside_texts_mut(&mut choice.extra) {
                let location = || format!("{}.{}", location(), field_label(key));
                for text in texts {
                    match answer_text(scanner, scan, text, &location) {
                        Some(c) => changed |= c,
                        None => {
                            blocked = true;
                            break 'beside;
                        }
                    }
                }
            }
        }
        if blocked {
            state.metrics.scan_blocked("output");
            scan.blocked_output = true;
            let message = &mut choice.message;
            message.content = Some(MessageContent::Text(String::new()));
            message.tool_calls = None;
            // Every other field may carry the answer too (reasoning, audio, …).
            message.extra.clear();
            model_text::drop_beside_texts(&mut choice.extra);
            choice.finish_reason = Some("content_filter".into());
        }
        if blocked || changed {
            // Token log-probabilities and audio would still carry the text as the model
            // wrote it.
            model_text::withhold_unscannable(&mut choice.extra, &mut choice.message.extra);
        } else {
            // The chosen tokens spell the scanned answer; the alternatives were never read.
            model_text::withhold_alternatives(&mut choice.extra);
        }
    }
    // Fields beside the choices (a provider's citations or search results).
    let mut dropped = Vec::new();
    for (key, texts) in model_text::beside_texts_mut(&mut resp.extra) {
        let location = || format!("output.{}", field_label(key));
        for text in texts {
            if answer_text(scanner, scan, text, &location).is_none() {
                dropped.push(key.to_owned());
                break;
            }
        }
    }
    for key in dropped {
        state.metrics.scan_blocked("output");
        scan.blocked_output = true;
        resp.extra.remove(&key);
    }
    state.metrics.scan_time("output", started.elapsed());
    count(state, scan, "output");
    Ok(())
}

/// Scans the message of an upstream's client error (400, 404, 413, 422), which the
/// client reads: the provider may quote the request, or its own words, there. Acted on
/// like an answer's text (findings at `output.error`); a finding that blocks drops the
/// message, and the client is told only that the provider rejected the request.
pub fn upstream_message(state: &GatewayState, ctx: &mut RequestCtx, message: &mut Option<String>) {
    let (Some(scanning), Some(scan), Some(text)) =
        (&state.scanning, &mut ctx.scan, message.as_mut())
    else {
        return;
    };
    if !scan.profile.scan_output {
        if let Some(restored) = scan.vault.restore(text) {
            *text = restored;
        }
        return;
    }
    let started = Instant::now();
    if answer_text(scanning.scanner(), scan, text, &|| {
        "output.error".to_owned()
    })
    .is_none()
    {
        state.metrics.scan_blocked("output");
        *message = None;
    }
    state.metrics.scan_time("output", started.elapsed());
    count(state, scan, "output");
}

/// Scans one text of an answer and applies the profile's actions to it in place
/// (pseudonyms restored after): `None` when a finding blocks it, else whether it changed.
fn answer_text(
    scanner: &Scanner,
    scan: &mut ScanState,
    text: &mut String,
    location: &dyn Fn() -> String,
) -> Option<bool> {
    let findings = scan_output(scanner, &scan.profile, scan.leak.as_deref(), text);
    let applied = decide(findings, &scan.profile);
    if !applied.is_empty() {
        record_findings(scan, &applied, &location());
    }
    if !blocking_kinds(&applied).is_empty() {
        return None;
    }
    let mut changed = false;
    if let Some(new) = rewrite(text, &applied, &mut scan.vault, Direction::Output) {
        *text = new;
        changed = true;
    }
    if let Some(restored) = scan.vault.restore(text) {
        *text = restored;
        changed = true;
    }
    Some(changed)
}

/// Restores pseudonyms in an answer the profile does not scan.
fn restore_all(scan: &mut ScanState, resp: &mut ChatResponse) {
    for choice in &mut resp.choices {
        let mut changed = false;
        for text in choice.message.texts_mut() {
            if let Some(restored) = scan.vault.restore(text) {
                *text = restored;
                changed = true;
            }
        }
        if changed {
            model_text::withhold_unscannable(&mut choice.extra, &mut choice.message.extra);
        }
    }
}

/// Scans one text in place; returns the kinds that block.
fn inspect_text(
    scanner: &palisade_scan::engine::Scanner,
    scan: &mut ScanState,
    text: &mut String,
    location: &dyn Fn() -> String,
) -> Vec<String> {
    let findings = scanner.scan_for(text, &scan.profile, Direction::Input);
    if findings.is_empty() {
        return Vec::new();
    }
    let applied = decide(findings, &scan.profile);
    record_findings(scan, &applied, &location());
    let blocked = blocking_kinds(&applied);
    if blocked.is_empty()
        && let Some(new) = rewrite(text, &applied, &mut scan.vault, Direction::Input)
    {
        *text = new;
    }
    blocked
}

/// Scans the texts of a request's fields, by field name ([`inspect_text`]; findings at
/// `input.<field>`). Returns the kinds that block.
fn inspect_fields(
    scanner: &Scanner,
    scan: &mut ScanState,
    fields: Vec<(&str, &mut String)>,
) -> Vec<String> {
    let mut blocked = Vec::new();
    for (field, text) in fields {
        let location = || format!("input.{}", field_label(field));
        blocked.extend(inspect_text(scanner, scan, text, &location));
    }
    blocked
}

/// Scans the names a request gives, by field name ([`inspect_name`]). Returns the kinds
/// that block.
fn inspect_names(scanner: &Scanner, scan: &mut ScanState, names: Vec<(&str, &str)>) -> Vec<String> {
    let mut blocked = Vec::new();
    for (field, name) in names {
        let location = || format!("input.{}", field_label(field));
        blocked.extend(inspect_name(scanner, scan, name, &location));
    }
    blocked
}

/// Scans a name the client sends (a participant's, a function's): never rewritten
/// ([`unrewritable`]). Returns the kinds that block.
fn inspect_name(
    scanner: &Scanner,
    scan: &mut ScanState,
    name: &str,
    location: &dyn Fn() -> String,
) -> Vec<String> {
    let findings = scanner.scan_for(name, &scan.profile, Direction::Input);
    unrewritable(scan, findings, location, Action::Block)
}

/// Findings in what cannot be rewritten — a name (a message's participant, a tool
/// call's), content no text scanner reads (images, audio or files in a message: an
/// `unscanned_media` finding of the `obfuscation` category) — decided by the profile,
/// where an action that would rewrite becomes `instead` ([`unrewritten`]). Returns the
/// kinds that block.
fn unrewritable(
    scan: &mut ScanState,
    findings: Vec<Finding>,
    location: &dyn Fn() -> String,
    instead: Action,
) -> Vec<String> {
    if findings.is_empty() {
        return Vec::new();
    }
    let applied: Vec<Applied> = decide(findings, &scan.profile)
        .into_iter()
        .map(|a| unrewritten(a, instead))
        .collect();
    record_findings(scan, &applied, &location());
    blocking_kinds(&applied)
}

/// The action on a finding in what cannot be rewritten: one that would rewrite becomes
/// `instead` (`Block` for a name: a redacted name is no valid name; `Flag` for media,
/// where there is nothing to rewrite).
fn unrewritten(mut a: Applied, instead: Action) -> Applied {
    if a.action.rewrites() {
        a.action = instead;
    }
    a
}

/// The end-user id (`user`): it goes to the provider (OpenAI's abuse monitoring,
/// Anthropic's `metadata.user_id`), so personal data or a secret in it must not, and one
/// id must stay one user there. A finding that blocks refuses the request; one that
/// would rewrite replaces the whole id with the audit log's pseudonymous reference of
/// the subject (`s_…`: stable, one per end user and application) or, without an audit
/// log, removes it. Returns the kinds that block.
fn inspect_user(
    state: &GatewayState,
    scanner: &Scanner,
    scan: &mut ScanState,
    user: &mut Option<String>,
) -> Vec<String> {
    let Some(id) = user.as_deref() else {
        return Vec::new();
    };
    let findings = scanner.scan_for(id, &scan.profile, Direction::Input);
    if findings.is_empty() {
        return Vec::new();
    }
    let applied = decide(findings, &scan.profile);
    record_findings(scan, &applied, "input.user");
    let blocked = blocking_kinds(&applied);
    if blocked.is_empty() && applied.iter().any(|a| a.action.rewrites()) {
        let pseudonym = state.audit.as_ref().map(|ledger| {
            let subject = state
                .audit_config
                .end_user_scope
                .subject(&scan.caller, Some(id));
            ledger.keys().subject_ref(&subject)
        });
        *user = pseudonym;
    }
    blocked
}

/// Counts the input findings and refuses when any blocks.
fn finish_input(
    state: &GatewayState,
    scan: &ScanState,
    mut kinds: Vec<String>,
    param: &'static str,
) -> Result<(), GatewayError> {
    count(state, scan, "input");
    if kinds.is_empty() {
        return Ok(());
    }
    kinds.sort();
    kinds.dedup();
    state.metrics.scan_blocked("input");
    Err(GatewayError::ContentBlocked { kinds, param })
}

/// Whether a message's text is scanned on input.
fn scanned_role(msg: &ChatMessage, profile: &Profile) -> bool {
    match msg.role.as_str() {
        "system" | "developer" => profile.scan_system,
        _ => true,
    }
}

/// A field name the client chose, as it may appear in a finding's location (which the
/// audit record keeps for ever, in clear): at most [`MAX_FIELD_LABEL`] characters of
/// `[A-Za-z0-9_-]`, else `extra`.
pub fn field_label(field: &str) -> &str {
    let plain = field
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain && (1..=MAX_FIELD_LABEL).contains(&field.len()) {
        field
    } else {
        "extra"
    }
}

/// Longest client-chosen field name kept in a finding's location.
const MAX_FIELD_LABEL: usize = 64;

fn record_findings(scan: &mut ScanState, applied: &[Applied], location: &str) {
    for a in applied {
        if scan.findings.len() >= MAX_RECORDED_FINDINGS {
            return;
        }
        scan.findings.push(palisade_audit::Finding {
            kind: a.finding.kind.to_string(),
            detector: a.finding.detector.to_string(),
            score: a.finding.score,
            location: location.to_owned(),
            start: u32::try_from(a.finding.start).unwrap_or(u32::MAX),
            end: u32::try_from(a.finding.end).unwrap_or(u32::MAX),
            action: a.action.as_str().to_owned(),
        });
    }
}

/// Counts the request's findings of one direction in metrics.
fn count(state: &GatewayState, scan: &ScanState, direction: &'static str) {
    for f in scan
        .findings
        .iter()
        .filter(|f| f.location.starts_with(direction))
    {
        state.metrics.scan_finding(direction, &f.kind, &f.action);
    }
}

/// Output inspection for a stream: one guard per [`StreamPart`] — each choice's text,
/// each of its tool calls' arguments and each of its model-text fields. Deltas go through their part's guard; what it
/// releases replaces the delta.
pub struct StreamInspector {
    scan_fn: ScanFn,
    /// The request's system prompt, for each guard to catch it repeated.
    leak: Option<Arc<PromptLeak>>,
    profile: Arc<Profile>,
    hold: palisade_scan::stream::HoldBack,
    guards: Vec<(StreamPart, StreamGuard)>,
    /// Where each part's guard is in `guards` (an upstream decides how many parts there
    /// are, up to `n` choices × 128 tool calls: no linear search per delta).
    positions: HashMap<StreamPart, usize>,
    /// The request's pseudonyms (one copy for the whole response, every part's guard
    /// restores from it and issues output placeholders into it).
    vault: Vault,
    /// Time spent in the guards so far.
    spent: Duration,
    /// Findings acted on in texts checked whole ([`StreamInspector::check`]), by location.
    checked: Vec<(String, Vec<Applied>)>,
    /// Texts checked whole that passed, by a hash of place and text: what each became.
    checked_texts: HashMap<u64, Option<String>>,
}

/// One independently streamed text of a response: a choice's content, the arguments of
/// one of its tool calls (fragments with the same index concatenate), or one of its
/// model-text fields ([`model_text::TEXT_FIELDS`]: reasoning, refusal, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamPart {
    Content { choice: u32 },
    Arguments { choice: u32, call: u32 },
    Field { choice: u32, field: TextField },
}

impl StreamPart {
    pub fn choice(self) -> u32 {
        match self {
            StreamPart::Content { choice }
            | StreamPart::Arguments { choice, .. }
            | StreamPart::Field { choice, .. } => choice,
        }
    }

    fn location(self) -> String {
        match self {
            StreamPart::Content { choice } => format!("output.choices[{choice}]"),
            StreamPart::Arguments { choice, call } => {
                format!("output.choices[{choice}].tool_calls[{call}]")
            }
            StreamPart::Field { choice, field } => {
                format!("output.choices[{choice}].{}", field.path())
            }
        }
    }

    /// Release order within a choice: content, tool calls, then the other fields.
    fn rank(self) -> u8 {
        match self {
            StreamPart::Content { .. } => 0,
            StreamPart::Arguments { .. } => 1,
            StreamPart::Field { .. } => 2,
        }
    }
}

impl std::fmt::Debug for StreamInspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInspector")
            .field("choices", &self.guards.len())
            .finish_non_exhaustive()
    }
}

/// What the relay does with a chunk's text for one choice.
pub enum StreamVerdict {
    /// Send this text (may be empty).
    Emit(String),
    /// End the stream with `content_filter`.
    Blocked,
}

impl StreamInspector {
    /// `None` when the request has no profile (then text passes unchanged).
    pub fn new(state: &GatewayState, ctx: &mut RequestCtx) -> Option<StreamInspector> {
        let scanning = state.scanning.as_ref()?;
        let scan = ctx.scan.as_mut()?;
        let profile = Arc::clone(&scan.profile);
        let scanner = Arc::clone(scanning.scanner());
        let for_fn = Arc::clone(&profile);
        // The repeated prompt is each guard's own: it reads it across what was released.
        let scan_fn: ScanFn = Arc::new(move |text: &str| {
            if for_fn.scan_output {
                scan_output(&scanner, &for_fn, None, text)
            } else {
                Vec::new()
            }
        });
        Some(StreamInspector {
            scan_fn,
            leak: scan.leak.clone().filter(|_| profile.scan_output),
            profile,
            hold: scanning.hold,
            guards: Vec::new(),
            positions: HashMap::new(),
            vault: scan.vault.clone(),
            spent: Duration::ZERO,
            checked: Vec::new(),
            checked_texts: HashMap::new(),
        })
    }

    /// The index of `part`'s guard, made on its first delta.
    fn guard(&mut self, part: StreamPart) -> usize {
        match self.positions.get(&part) {
            Some(&pos) => pos,
            None => {
                let mut guard = StreamGuard::new(
                    Arc::clone(&self.scan_fn),
                    Arc::clone(&self.profile),
                    self.hold,
                );
                if let Some(leak) = &self.leak {
                    guard = guard.with_leak(Arc::clone(leak));
                }
                self.guards.push((part, guard));
                self.positions.insert(part, self.guards.len() - 1);
                self.guards.len() - 1
            }
        }
    }

    /// Passes a delta of one part through its guard.
    pub fn push(&mut self, part: StreamPart, delta: &str) -> StreamVerdict {
        let started = Instant::now();
        let at = self.guard(part);
        let step = self.guards[at].1.push(delta, &mut self.vault);
        self.spent += started.elapsed();
        verdict(step)
    }

    /// The part ended (its choice, or the stream did): releases what is held.
    pub fn finish(&mut self, part: StreamPart) -> StreamVerdict {
        let started = Instant::now();
        let at = self.guard(part);
        let step = self.guards[at].1.finish(&mut self.vault);
        self.spent += started.elapsed();
        verdict(step)
    }

    /// Checks a short text that arrives whole in one chunk (a tool call's name, a field a
    /// provider adds beside the choices) with the profile's detectors, rewriting it in
    /// place — unless `rewritable` is false (a name): then an action that would rewrite
    /// blocks. `false` when a finding blocks it. Nothing is held: a text split over
    /// chunks is checked piece by piece. A text seen before at the same place (a
    /// provider repeating its citations in every chunk) is not scanned or recorded again:
    /// it gets the first answer.
    pub fn check(&mut self, location: &str, text: &mut String, rewritable: bool) -> bool {
        let started = Instant::now();
        let seen = {
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&(location, text.as_str()), &mut h);
            std::hash::Hasher::finish(&h)
        };
        if let Some(answer) = self.checked_texts.get(&seen) {
            if let Some(rewritten) = answer {
                text.clone_from(rewritten);
            }
            return true;
        }
        let mut findings = (self.scan_fn)(text);
        if let Some(leak) = &self.leak {
            findings.extend(leak.find(text));
        }
        let mut applied = decide(findings, &self.profile);
        if !rewritable {
            applied = applied
                .into_iter()
                .map(|a| unrewritten(a, Action::Block))
                .collect();
        }
        let ok = blocking_kinds(&applied).is_empty();
        let mut rewritten = None;
        if ok {
            let mut out = rewrite(text, &applied, &mut self.vault, Direction::Output);
            // A name stays as the model wrote it, as in a plain answer.
            if rewritable && let Some(restored) = self.vault.restore(out.as_deref().unwrap_or(text))
            {
                out = Some(restored);
            }
            if let Some(out) = out {
                *text = out;
                rewritten = Some(text.clone());
            }
            if self.checked_texts.len() < MAX_CHECKED_TEXTS {
                self.checked_texts.insert(seen, rewritten);
            }
        }
        if !applied.is_empty() {
            self.checked.push((location.to_owned(), applied));
        }
        self.spent += started.elapsed();
        ok
    }

    /// The parts of `choice` seen so far: its content first, then its tool calls, then
    /// its other fields.
    pub fn parts_of(&self, choice: u32) -> Vec<StreamPart> {
        let mut parts: Vec<StreamPart> = self
            .guards
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.choice() == choice)
            .collect();
        parts.sort_by_key(|p| p.rank());
        parts
    }

    /// Parts with text still held, for the end of the stream.
    pub fn open_parts(&self) -> Vec<StreamPart> {
        self.guards
            .iter()
            .filter(|(_, g)| g.held() > 0)
            .map(|(p, _)| *p)
            .collect()
    }

    /// Moves the findings into the request context for the record.
    pub fn settle(&mut self, state: &GatewayState, ctx: &mut RequestCtx) {
        let Some(scan) = ctx.scan.as_mut() else {
            return;
        };
        for (part, guard) in &self.guards {
            record_findings(scan, guard.findings(), &part.location());
        }
        for (location, applied) in self.checked.drain(..) {
            record_findings(scan, &applied, &location);
        }
        if !self.guards.is_empty() || !self.spent.is_zero() {
            state.metrics.scan_time("output", self.spent);
        }
        self.guards.clear();
        self.positions.clear();
        count(state, scan, "output");
    }
}

fn verdict(step: Step) -> StreamVerdict {
    match step {
        Step::Emit(text) => StreamVerdict::Emit(text),
        Step::Blocked(_) => StreamVerdict::Blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::field_label;

    #[test]
    fn client_field_names_are_bounded_in_locations() {
        assert_eq!(field_label("prediction"), "prediction");
        assert_eq!(field_label("chat_template-kwargs"), "chat_template-kwargs");
        for odd in ["", "a b", "x\ny", "é", &"k".repeat(65)] {
            assert_eq!(field_label(odd), "extra", "{odd:?}");
        }
    }
}
