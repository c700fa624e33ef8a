//! Parsing and validating request bodies: a JSON nesting bound first, then the typed
//! shape, then the rules the OpenAI API enforces (a model, at least one message, known
//! roles). Errors name the offending parameter.

use palisade_protocol::check_json_depth;
use palisade_protocol::openai::{ChatMessage, ChatRequest, EmbeddingsRequest};
use serde::de::DeserializeOwned;

use crate::error::GatewayError;
use crate::state::GatewayState;

/// Most choices one chat request may ask for (`n`), as OpenAI allows.
const MAX_CHOICES: u64 = 128;

pub fn chat(state: &GatewayState, body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let req: ChatRequest = json(state, body)?;
    if req.model.trim().is_empty() {
        return Err(GatewayError::invalid(
            "`model` must not be empty.",
            Some("model"),
        ));
    }
    if req.messages.is_empty() {
        return Err(GatewayError::invalid(
            "`messages` must contain at least one message.",
            Some("messages"),
        ));
    }
    if req.messages.len() > state.server.max_messages {
        return Err(GatewayError::invalid(
            format!(
                "`messages` may hold at most {} messages.",
                state.server.max_messages
            ),
            Some("messages"),
        ));
    }
    // Each field on its own: an upstream may read either.
    for (param, cap) in [
        ("max_completion_tokens", req.max_completion_tokens),
        ("max_tokens", req.max_tokens),
    ] {
        if cap.is_none_or(|cap| cap <= state.server.max_output_tokens) {
            continue;
        }
        return Err(GatewayError::invalid(
            format!(
                "`{param}` may be at most {}.",
                state.server.max_output_tokens
            ),
            Some(param),
        ));
    }
    // OpenAI's own bound; it also keeps `n × max_tokens` (the reservation) finite.
    if let Some(n) = req.extra.get("n")
        && !n.is_null()
        && !n.as_u64().is_some_and(|n| (1..=MAX_CHOICES).contains(&n))
    {
        return Err(GatewayError::invalid(
            format!("`n` must be an integer from 1 to {MAX_CHOICES}."),
            Some("n"),
        ));
    }
    for (i, m) in req.messages.iter().enumerate() {
        if !ChatMessage::KNOWN_ROLES.contains(&m.role.as_str()) {
            return Err(GatewayError::invalid(
                format!(
                    "`messages[{i}].role` must be one of {}.",
                    ChatMessage::KNOWN_ROLES.join(", ")
                ),
                Some(&format!("messages[{i}].role")),
            ));
        }
    }
    if req.output_cap() == Some(0) {
        return Err(GatewayError::invalid(
            "`max_tokens` must be at least 1.",
            Some("max_tokens"),
        ));
    }
    Ok(req)
}

pub fn embeddings(state: &GatewayState, body: &[u8]) -> Result<EmbeddingsRequest, GatewayError> {
    let req: EmbeddingsRequest = json(state, body)?;
    if req.model.trim().is_empty() {
        return Err(GatewayError::invalid(
            "`model` must not be empty.",
            Some("model"),
        ));
    }
    if req.input.is_empty() {
        return Err(GatewayError::invalid(
            "`input` must not be empty.",
            Some("input"),
        ));
    }
    Ok(req)
}

fn json<T: DeserializeOwned>(state: &GatewayState, body: &[u8]) -> Result<T, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::invalid(
            "The request body is empty; a JSON object is expected.",
            None,
        ));
    }
    check_json_depth(body, state.server.max_json_depth)
        .map_err(|e| GatewayError::invalid(format!("The request body is rejected: {e}."), None))?;
    serde_json::from_slice(body).map_err(|e| {
        let param = missing_field(&e.to_string());
        let msg = if e.is_syntax() || e.is_eof() {
            format!("The request body is not valid JSON: {e}.")
        } else {
            format!("The request body does not match the API: {e}.")
        };
        GatewayError::InvalidRequest {
            message: msg,
            param,
        }
    })
}

/// `missing field `messages`` → `messages`.
fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}
