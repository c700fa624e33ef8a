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
/// Most tools one chat request may offer, as OpenAI allows (each is scanned, and
/// translated for providers of another shape).
const MAX_TOOLS: usize = 128;

pub fn chat(state: &GatewayState, body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let mut req: ChatRequest = json(state, body)?;
    // A streamed call's `index`, which clients that rebuilt a call from a stream send back
    // (LangChain): no field of a call, and strict providers refuse it. What else a
    // provider put on a call (Gemini's signature) goes back to it.
    for call in req
        .messages
        .iter_mut()
        .flat_map(|m| m.tool_calls.iter_mut().flatten())
    {
        call.extra.remove("index");
    }
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
    let functions = req.extra.get("functions").and_then(|f| f.as_array());
    for (param, count) in [
        ("tools", req.tools.as_ref().map(Vec::len)),
        ("functions", functions.map(Vec::len)),
    ] {
        if count.is_some_and(|n| n > MAX_TOOLS) {
            return Err(GatewayError::invalid(
                format!("`{param}` may hold at most {MAX_TOOLS} entries."),
                Some(param),
            ));
        }
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

/// Most inputs one embeddings request may carry (OpenAI's own limit): each is counted,
/// scanned and embedded on its own.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

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
    if req.input.len() > MAX_EMBEDDING_INPUTS {
        return Err(GatewayError::invalid(
            format!("`input` may hold at most {MAX_EMBEDDING_INPUTS} items."),
            Some("input"),
        ));
    }
    // The end user's id names the data subject of what is recorded: one that is not a
    // string would silently file it under the caller instead.
    if req.extra.get("user").is_some_and(|u| !u.is_string()) {
        return Err(GatewayError::invalid(
            "`user` must be a string.",
            Some("user"),
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
    let mut de = serde_json::Deserializer::from_slice(body);
    // The path of the field that failed (`temperature`, `messages[0].role`); trailing
    // bytes after the object are an error of the whole body.
    let parsed = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => de.end().map(|()| v).map_err(|e| (".".to_owned(), e)),
        Err(e) => Err((e.path().to_string(), e.into_inner())),
    };
    parsed.map_err(|(path, e)| {
        let detail = plain(&e.to_string());
        if e.is_syntax() || e.is_eof() {
            return GatewayError::invalid(
                format!("The request body is not valid JSON: {detail}."),
                None,
            );
        }
        // A missing field is named inside the object that lacks it (`messages[0].role`).
        let param = match missing_field(&detail) {
            Some(field) if path != "." => Some(format!("{path}.{field}")),
            Some(field) => Some(field),
            None => (path != ".").then_some(path),
        };
        let message = match &param {
            Some(p) => format!("Invalid value for `{p}`: {detail}."),
            None => format!("The request body does not match the API: {detail}."),
        };
        GatewayError::InvalidRequest { message, param }
    })
}

/// serde's message in the API's words: no line and column (the body is one JSON
/// document, the field is named), JSON type names instead of Rust's, and never the value
/// itself (`invalid type: string "<a whole prompt>"`: the error would hand the prompt, or
/// a secret in it, back unscanned to whatever logs the client's exceptions).
fn plain(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg,
    };
    let mut out = msg.to_owned();
    for quoted in ["invalid type: string \"", "invalid value: string \""] {
        if out.starts_with(quoted)
            && let Some(end) = out.rfind("\", expected ")
        {
            out.replace_range(quoted.len() - "string \"".len()..end + 1, "a string");
        }
    }
    for (rust, json) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u16", "expected a non-negative integer"),
        ("expected i64", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
    ] {
        if let Some(rest) = out.strip_suffix(rust) {
            out = format!("{rest}{json}");
        }
    }
    if let Some(i) = out.rfind("expected struct ") {
        out.replace_range(i.., "expected an object");
    }
    out
}

/// `missing field `messages`` → `messages`.
fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_types_and_never_quote_the_value() {
        assert_eq!(
            plain("invalid type: string \"hot\", expected f64 at line 1 column 35"),
            "invalid type: a string, expected a number"
        );
        let secret =
            "invalid type: string \"my key is sk-live-abc, expected it\", expected a sequence";
        assert_eq!(plain(secret), "invalid type: a string, expected an array");
        assert_eq!(
            plain("invalid type: map, expected struct ChatRequest"),
            "invalid type: map, expected an object"
        );
        assert_eq!(
            missing_field("missing field `role`"),
            Some("role".to_owned())
        );
    }
}
