//! The Anthropic Messages API shapes (`POST /v1/messages`), used by the Anthropic provider
//! to translate chat completions to and from Messages, streaming events included.
//!
//! Tolerance: structs ignore fields they do not model (requests and responses keep them in
//! `extra`), and enums tagged by `type` fall back to an `Unknown` variant for types added
//! after this was written, so a newer upstream never breaks deserialization. `Unknown`
//! variants cannot be serialized: Palisade never sends what it does not understand.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A Messages request. Palisade builds these itself and leaves `extra` empty: Anthropic
/// rejects fields it does not know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessagesRequest {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    pub messages: Vec<Message>,
    pub max_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The top-level system prompt: a string or a list of (text) blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation. Roles must alternate, starting with `user`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Content,
}

/// Message content: a plain string or a list of blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

/// A content block, in requests and responses alike.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// A block type this version does not model (thinking, server tools, …).
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    #[serde(other, skip_serializing)]
    Unknown,
}

/// What a tool returned: a string or a list of text/image blocks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

/// A client tool the model may call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A non-streaming Messages response; also the `message` of a `message_start` event
/// (with empty content and no stop reason yet).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessagesResponse {
    pub id: String,
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message_type() -> String {
    "message".to_owned()
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// Token counts. `input_tokens` excludes cached tokens, which are counted separately.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// Every input token the request consumed, cached or not.
    pub fn total_input_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
            .saturating_add(self.cache_read_input_tokens.unwrap_or(0))
    }
}

/// One event of a streamed response (the `data:` of each SSE event; its `type` repeats
/// the SSE event name).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        // Boxed: the response is large and the other events are small.
        message: Box<MessagesResponse>,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: DeltaUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorDetail,
    },
    #[serde(other, skip_serializing)]
    Unknown,
}

/// The change a `content_block_delta` carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    /// thinking, signature and citation deltas, and whatever comes next.
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// The cumulative usage a `message_delta` reports. Output tokens are always present;
/// newer API versions repeat the input counts too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeltaUsage {
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// An error answer body: `{"type":"error","error":{"type":...,"message":...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub error: ErrorDetail,
}

fn error_type() -> String {
    "error".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_round_trips_in_anthropic_shape() {
        let v = json!({
            "model": "claude",
            "system": [{"type": "text", "text": "be brief"}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "tu_1", "name": "f", "input": {"a": 1}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "tu_1", "content": "ok", "is_error": true},
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
                ]}
            ],
            "max_tokens": 10,
            "tool_choice": {"type": "tool", "name": "f"},
            "stream": true
        });
        let req: MessagesRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(req.messages[1].role, Role::Assistant);
        assert_eq!(
            req.tool_choice,
            Some(ToolChoice::Tool {
                name: "f".into(),
                disable_parallel_tool_use: None
            })
        );
        let Content::Blocks(blocks) = &req.messages[2].content else {
            panic!("blocks")
        };
        assert_eq!(
            blocks[0],
            ContentBlock::ToolResult {
                tool_use_id: "tu_1".into(),
                content: Some(ToolResultContent::Text("ok".into())),
                is_error: Some(true),
            }
        );
        assert_eq!(serde_json::to_value(&req).unwrap(), v);
        let none = serde_json::to_value(ToolChoice::None).unwrap();
        assert_eq!(none, json!({"type": "none"}));
    }

    #[test]
    fn response_tolerates_new_fields_and_block_types() {
        let v = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "hello", "citations": null},
                {"type": "tool_use", "id": "tu", "name": "f", "input": {}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 3,
                      "service_tier": "standard"},
            "container": null
        });
        let r: MessagesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(r.content[0], ContentBlock::Unknown);
        assert_eq!(r.content[1], ContentBlock::text("hello"));
        assert_eq!(r.usage.total_input_tokens(), 8);
        assert_eq!(r.usage.output_tokens, 7);
        assert!(r.extra.contains_key("container"));
        assert!(serde_json::to_value(ContentBlock::Unknown).is_err());
    }

    #[test]
    fn stream_events_decode() {
        let ev = |s: &str| serde_json::from_str::<StreamEvent>(s).unwrap();
        assert_eq!(
            ev(
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a"}}"#
            ),
            StreamEvent::ContentBlockDelta {
                index: 1,
                delta: BlockDelta::InputJsonDelta {
                    partial_json: "{\"a".into()
                }
            }
        );
        assert_eq!(ev(r#"{"type":"message_stop"}"#), StreamEvent::MessageStop);
        assert_eq!(ev(r#"{"type":"ping"}"#), StreamEvent::Ping);
        assert_eq!(
            ev(r#"{"type":"brand_new_event","x":1}"#),
            StreamEvent::Unknown
        );
        assert_eq!(
            ev(
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"x"}}"#
            ),
            StreamEvent::ContentBlockDelta {
                index: 0,
                delta: BlockDelta::Unknown
            }
        );
        let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#;
        let b: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(
            (b.kind.as_str(), b.error.message.as_str()),
            ("error", "bad")
        );
    }
}
