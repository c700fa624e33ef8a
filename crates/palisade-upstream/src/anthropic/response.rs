//! Anthropic Messages response → OpenAI chat completion: text blocks join into the
//! message content, `tool_use` blocks become tool calls, the stop reason becomes a finish
//! reason, and usage counts every input token (cached ones included) as prompt tokens.

use palisade_protocol::anthropic::{self, ContentBlock, MessagesResponse};
use palisade_protocol::openai::{
    ChatMessage, ChatResponse, Choice, FunctionCall, MessageContent, ToolCall, Usage,
};
use serde_json::Map;

/// The OpenAI id for an Anthropic message id.
pub(crate) fn completion_id(message_id: &str) -> String {
    format!("chatcmpl-{message_id}")
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> String {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
    .to_owned()
}

/// Anthropic's counts as OpenAI's: every input token is a prompt token, and those read
/// from the prompt cache are `prompt_tokens_details.cached_tokens`.
pub(crate) fn usage(u: &anthropic::Usage) -> Usage {
    Usage::new(u.total_input_tokens(), u.output_tokens)
        .with_cached_tokens(u.cache_read_input_tokens)
}

/// Translates a complete response; `created` is the Unix time the gateway stamps on it.
pub(crate) fn to_chat_response(resp: MessagesResponse, created: i64) -> ChatResponse {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in resp.content {
        match block {
            ContentBlock::Text { text: t } => text.push_str(&t),
            ContentBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    // No input reads as no arguments, as in a stream.
                    arguments: match input {
                        serde_json::Value::Null => "{}".to_owned(),
                        input => input.to_string(),
                    },
                },
                extra: Map::new(),
            }),
            _ => {}
        }
    }
    let content = if text.is_empty() && !calls.is_empty() {
        None
    } else {
        Some(MessageContent::Text(text))
    };
    let message = ChatMessage {
        role: "assistant".to_owned(),
        content,
        name: None,
        tool_calls: (!calls.is_empty()).then_some(calls),
        tool_call_id: None,
        extra: Map::new(),
    };
    ChatResponse {
        id: completion_id(&resp.id),
        object: "chat.completion".to_owned(),
        created,
        model: resp.model,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish_reason(resp.stop_reason.as_deref())),
            extra: Map::new(),
        }],
        usage: Some(usage(&resp.usage)),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn translate(v: Value) -> Value {
        let resp: MessagesResponse = serde_json::from_value(v).unwrap();
        serde_json::to_value(to_chat_response(resp, 1_700_000_000)).unwrap()
    }

    #[test]
    fn text_response_translates() {
        let v = translate(json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": ", world"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 3,
                      "cache_creation_input_tokens": 4, "cache_read_input_tokens": 6}
        }));
        assert_eq!(
            v,
            json!({
                "id": "chatcmpl-msg_01",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "claude-x",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello, world"},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23,
                          "prompt_tokens_details": {"cached_tokens": 6}}
            })
        );
    }

    #[test]
    fn tool_use_response_translates() {
        let v = translate(json!({
            "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "...", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 8, "output_tokens": 12}
        }));
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null, "present, null");
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": "toolu_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(v["usage"]["prompt_tokens"], 8);
        // A call without input has no arguments, as a streamed one does.
        let v = translate(json!({
            "id": "msg_03", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "tool_use", "id": "toolu_2", "name": "now"}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}
        }));
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(Some("refusal")), "content_filter");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn empty_response_has_empty_text_content() {
        let v = translate(json!({
            "id": "m", "model": "x", "content": [], "stop_reason": "max_tokens",
            "usage": {"input_tokens": 1, "output_tokens": 0}
        }));
        assert_eq!(v["choices"][0]["message"]["content"], "");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
    }
}
