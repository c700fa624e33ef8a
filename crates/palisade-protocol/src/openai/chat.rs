//! `POST /v1/chat/completions`: request, response and streaming chunk types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model_text;

/// The legacy (pre-`tools`) list of function definitions.
const FUNCTIONS: &str = "functions";

/// A chat completion request. Fields Palisade reads are typed; every other field is kept
/// in `extra` and forwarded untouched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the client asked for a final usage chunk on a stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The output-token cap the client asked for, whichever field it used.
    pub fn output_cap(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// The developer's definitions the model reads beside the system prompt, by field:
    /// a `response_format`'s JSON schema (its descriptions, titles, enum values) and a
    /// legacy `functions` list. Tool definitions are [`Tool::texts_mut`]. Strings under
    /// [`model_text::OPAQUE_KEYS`] (names, types) are left out.
    pub fn definition_texts_mut(&mut self) -> Vec<(&'static str, &mut String)> {
        let mut out = Vec::new();
        if let Some(format) = &mut self.response_format {
            let mut texts = Vec::new();
            model_text::value_texts_mut(format, &mut texts);
            out.extend(texts.into_iter().map(|t| ("response_format", t)));
        }
        if let Some(functions) = self.extra.get_mut(FUNCTIONS) {
            let mut texts = Vec::new();
            model_text::value_texts_mut(functions, &mut texts);
            out.extend(texts.into_iter().map(|t| (FUNCTIONS, t)));
        }
        out
    }

    /// The client's other texts, by field: its `stop` sequences, and every string of the
    /// fields Palisade has no type for (a stream option's too) — what the client sends
    /// beside the messages reaches the provider and often the model: a `prediction`'s
    /// content, a provider's `documents` or template arguments, `metadata`
    /// ([`model_text::client_field_texts_mut`]). Legacy `functions`
    /// are [`ChatRequest::definition_texts_mut`]'s, names [`ChatRequest::names`]'.
    pub fn other_texts_mut(&mut self) -> Vec<(&str, &mut String)> {
        let mut out: Vec<(&str, &mut String)> = match &mut self.stop {
            Some(Stop::One(s)) => vec![("stop", s)],
            Some(Stop::Many(v)) => v.iter_mut().map(|s| ("stop", s)).collect(),
            None => Vec::new(),
        };
        for option in self
            .stream_options
            .iter_mut()
            .flat_map(|o| o.extra.values_mut())
        {
            let mut texts = Vec::new();
            model_text::value_texts_mut(option, &mut texts);
            out.extend(texts.into_iter().map(|t| ("stream_options", t)));
        }
        out.extend(model_text::client_field_texts_mut(
            &mut self.extra,
            &[FUNCTIONS],
        ));
        out
    }

    /// The names the request gives, by field: the function a `tool_choice` or a legacy
    /// `function_call` names, and those of the fields Palisade has no type for
    /// ([`model_text::client_field_names`]: `metadata` keys, ids, signatures). Scanned
    /// like a message's names, never rewritten. Tools' and legacy functions' own names
    /// are [`ChatRequest::definition_names`].
    pub fn names(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        if let Some(choice) = &self.tool_choice {
            let mut names = Vec::new();
            model_text::names(choice, &mut names);
            out.extend(names.into_iter().map(|n| ("tool_choice", n)));
        }
        if let Some(call) = self.extra.get(model_text::LEGACY_CALL) {
            let mut names = Vec::new();
            model_text::names(call, &mut names);
            out.extend(names.into_iter().map(|n| (model_text::LEGACY_CALL, n)));
        }
        out.extend(model_text::client_field_names(
            &self.extra,
            &[FUNCTIONS, model_text::LEGACY_CALL],
        ));
        out
    }

    /// The names of the developer's definitions, by field: each tool's function and
    /// each legacy function (the model reads them beside their descriptions).
    pub fn definition_names(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for tool in self.tools.iter().flatten() {
            out.extend(tool.function.as_ref().map(|f| ("tools", f.name.as_str())));
        }
        if let Some(functions) = self.extra.get(FUNCTIONS) {
            let mut names = Vec::new();
            model_text::names(functions, &mut names);
            out.extend(names.into_iter().map(|n| (FUNCTIONS, n)));
        }
        out
    }

    /// The largest output cap the request carries: an upstream may honour either field,
    /// and a request may send both, differently — estimates and limits take the larger.
    pub fn largest_output_cap(&self) -> Option<u64> {
        match (self.max_tokens, self.max_completion_tokens) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many choices the client asked for (`n`, default 1): each one is generated,
    /// and billed, up to the output cap.
    pub fn choices(&self) -> u64 {
        self.extra
            .get("n")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

/// One message of the conversation. `role` is validated by the gateway against
/// [`ChatMessage::KNOWN_ROLES`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatMessage {
    pub const KNOWN_ROLES: &'static [&'static str] = &[
        "system",
        "developer",
        "user",
        "assistant",
        "tool",
        "function",
    ];

    pub fn text(role: &str, text: impl Into<String>) -> Self {
        ChatMessage {
            role: role.to_owned(),
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Map::new(),
        }
    }

    /// Bytes of text the message carries: what [`ChatMessage::texts_mut`] hands out,
    /// without copying it.
    pub fn text_len(&self) -> usize {
        let content = match &self.content {
            None => 0,
            Some(MessageContent::Text(t)) => t.len(),
            Some(MessageContent::Parts(parts)) => parts
                .iter()
                .map(|p| p.text.as_ref().map_or(0, String::len) + model_text::texts_len(&p.extra))
                .sum(),
        };
        let arguments: usize = self
            .tool_calls
            .iter()
            .flatten()
            .map(|c| c.function.arguments.len() + model_text::texts_len(&c.extra))
            .sum();
        content + arguments + model_text::texts_len(&self.extra)
    }

    /// Every text the message carries, for scanners to read and rewrite: its content
    /// (a string, or its parts' text and refusals), its tool calls' arguments, then the
    /// model-text fields of [`model_text::TEXT_FIELDS`] (refusal, reasoning, a legacy
    /// function call's arguments, an audio transcript) and any other string of its
    /// extra fields ([`model_text::other_texts_mut`]). Names are [`ChatMessage::names_mut`]'s.
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut out: Vec<&mut String> = Vec::new();
        match &mut self.content {
            Some(MessageContent::Text(t)) => out.push(t),
            Some(MessageContent::Parts(parts)) => {
                for part in parts {
                    out.extend(part.text.as_mut());
                    // A `{"type": "refusal", "refusal": …}` part of an assistant turn, a
                    // `{"type": "thinking", "thinking": [{"text": …}]}` part of an answer.
                    model_text::all_texts_mut(&mut part.extra, &mut out);
                }
            }
            None => {}
        }
        for call in self.tool_calls.iter_mut().flatten() {
            out.push(&mut call.function.arguments);
            model_text::all_texts_mut(&mut call.extra, &mut out);
        }
        model_text::all_texts_mut(&mut self.extra, &mut out);
        out
    }

    /// The names the message carries: its participant `name`, its tool calls' names and
    /// a legacy `function_call`'s (a model whose server reads tool calls from its text
    /// chooses those too). Scanned, but never rewritten: a redacted name is no valid name
    /// (`^[a-zA-Z0-9_-]+$`) and a tool call under it cannot be dispatched.
    pub fn names_mut(&mut self) -> Vec<&mut String> {
        let mut out: Vec<&mut String> = self.name.iter_mut().collect();
        for call in self.tool_calls.iter_mut().flatten() {
            out.push(&mut call.function.name);
        }
        out.extend(model_text::legacy_call_name_mut(&mut self.extra));
        out
    }

    /// Whether the content has parts of kinds no text scanner reads: images, audio,
    /// files, video.
    pub fn has_media(&self) -> bool {
        const MEDIA: [&str; 9] = [
            "image_url",
            "input_image",
            "image",
            "input_audio",
            "audio",
            "file",
            "input_file",
            "video_url",
            "video",
        ];
        match &self.content {
            Some(MessageContent::Parts(parts)) => {
                parts.iter().any(|p| MEDIA.contains(&p.kind.as_str()))
            }
            _ => false,
        }
    }

    /// The text of the message: a string content, or its text parts joined by newlines.
    pub fn text_content(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(MessageContent::Text(t)) => t.clone(),
            Some(MessageContent::Parts(parts)) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Message content: a plain string or a list of typed parts (text, image_url, …).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDef>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// The tool definition's text, as the model reads it: the function's description,
    /// every string of its parameter schema (descriptions, enum values, titles) and of
    /// its other fields, skipping names, types and formats ([`model_text::OPAQUE_KEYS`]).
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut out = Vec::new();
        if let Some(f) = &mut self.function {
            out.extend(f.description.as_mut());
            if let Some(parameters) = &mut f.parameters {
                model_text::value_texts_mut(parameters, &mut out);
            }
            model_text::all_texts_mut(&mut f.extra, &mut out);
        }
        model_text::all_texts_mut(&mut self.extra, &mut out);
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
    /// What a provider adds to a call, kept both ways: Gemini's
    /// `extra_content.google.thought_signature` must come back with the call in the next
    /// turn. Scanned like a message's other fields ([`model_text::all_texts_mut`]).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A non-streaming chat completion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    #[serde(default = "chat_completion_object")]
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatResponse {
    /// Bytes of text the answer carries, over all its choices ([`ChatMessage::text_len`]):
    /// what decides whether counting or scanning it runs off the async workers.
    pub fn text_len(&self) -> usize {
        self.choices
            .iter()
            .map(|c| c.message.text_len() + model_text::beside_len(&c.extra))
            .sum::<usize>()
            + model_text::beside_len(&self.extra)
    }
}

fn chat_completion_object() -> String {
    "chat.completion".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    pub index: u32,
    #[serde(serialize_with = "serialize_answer")]
    pub message: ChatMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token counts of a completion, with the breakdowns OpenAI reports beside them (cached
/// prompt tokens, reasoning tokens…) and any other field a provider adds (a cost, a
/// provider's own counts), passed through to the client as the upstream sent them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PromptTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompletionTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u64>,
}

impl Usage {
    /// Counts with no breakdown; the total saturates (the counts may come from an
    /// upstream, and a wrapped total would charge nothing against a budget).
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            prompt_tokens_details: None,
            completion_tokens_details: None,
            extra: Map::new(),
        }
    }

    /// With how many of the prompt tokens were read from the provider's cache.
    pub fn with_cached_tokens(mut self, cached: Option<u64>) -> Self {
        if let Some(cached) = cached {
            self.prompt_tokens_details
                .get_or_insert_with(PromptTokensDetails::default)
                .cached_tokens = Some(cached);
        }
        self
    }
}

/// One `data:` event of a streamed chat completion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatChunk {
    /// Left out by some servers (Gemini's): empty then.
    #[serde(default)]
    pub id: String,
    #[serde(default = "chat_chunk_object")]
    pub object: String,
    #[serde(default)]
    pub created: i64,
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Present (possibly `null`) when the client asked for `include_usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An answer's message always has `content`, `null` when there is none (an answer that
/// only calls tools), as OpenAI sends it: clients test `content !== null`. (A request's
/// messages leave it out when the client did.)
fn serialize_answer<S: serde::Serializer>(m: &ChatMessage, s: S) -> Result<S::Ok, S::Error> {
    let mut v = serde_json::to_value(m).map_err(serde::ser::Error::custom)?;
    if let Some(obj) = v.as_object_mut() {
        obj.entry("content").or_insert(Value::Null);
    }
    v.serialize(s)
}

fn chat_chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkChoice {
    pub index: u32,
    /// Absent in some providers' chunks (Azure's asynchronous content-filter results
    /// come as choices with no delta): empty then.
    #[serde(default)]
    pub delta: Delta,
    /// Some servers send `""` while a choice goes on: read as none.
    #[serde(default, deserialize_with = "non_empty")]
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A fragment of a tool call inside a streamed delta; fragments with the same `index`
/// concatenate. Some servers (Gemini's, older Ollama) leave `index` out: it reads as
/// [`ToolCallDelta::UNNUMBERED`] until the stream numbers the call
/// ([`ToolCallNumbering`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ToolCallDelta {
    #[serde(default = "unnumbered")]
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
    /// As [`ToolCall::extra`].
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolCallDelta {
    /// The `index` of a fragment that came without one.
    pub const UNNUMBERED: u32 = u32::MAX;
}

fn unnumbered() -> u32 {
    ToolCallDelta::UNNUMBERED
}

/// Numbers the tool-call fragments of one stream that came without an `index`, per
/// choice: a fragment with an id seen before goes on with that call; one with a new id,
/// a function name, or a second one in the same chunk starts the next call (after every
/// index seen, given or numbered); any other goes on with the last call. Numbered
/// fragments are left as they are.
#[derive(Debug, Default)]
pub struct ToolCallNumbering {
    choices: std::collections::HashMap<u32, CallsSeen>,
}

/// The calls of one choice so far.
#[derive(Debug, Default)]
struct CallsSeen {
    /// The index each call id has (at most [`MAX_NUMBERED_IDS`] remembered).
    ids: std::collections::HashMap<String, u32>,
    /// One more than the largest index seen.
    next: u32,
    /// The index of the last fragment.
    last: Option<u32>,
}

/// Most call ids remembered per choice (a choice has at most a few dozen calls).
const MAX_NUMBERED_IDS: usize = 256;

impl ToolCallNumbering {
    pub fn number(&mut self, chunk: &mut ChatChunk) {
        for choice in &mut chunk.choices {
            // Most chunks carry text only: no bookkeeping for them.
            let Some(calls) = choice.delta.tool_calls.as_mut() else {
                continue;
            };
            let seen = self.choices.entry(choice.index).or_default();
            let mut numbered_here = false;
            for call in calls {
                // An empty id is none (some servers send `""` on every fragment).
                if call.id.as_deref() == Some("") {
                    call.id = None;
                }
                if call.index != ToolCallDelta::UNNUMBERED {
                    seen.next = seen.next.max(call.index.saturating_add(1));
                    seen.remember(call.id.as_deref(), call.index);
                    continue;
                }
                let known = call.id.as_deref().and_then(|id| seen.ids.get(id)).copied();
                let named = call.function.as_ref().is_some_and(|f| f.name.is_some());
                call.index = match (known, seen.last) {
                    (Some(index), _) => index,
                    (None, Some(last)) if call.id.is_none() && !named && !numbered_here => last,
                    _ => {
                        let index = seen.next;
                        seen.next = seen.next.saturating_add(1);
                        index
                    }
                };
                seen.remember(call.id.as_deref(), call.index);
                numbered_here = true;
            }
        }
    }
}

impl CallsSeen {
    fn remember(&mut self, id: Option<&str>, index: u32) {
        self.last = Some(index);
        if let Some(id) = id
            && self.ids.len() < MAX_NUMBERED_IDS
        {
            self.ids.entry(id.to_owned()).or_insert(index);
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_breakdowns_pass_through() {
        let sent = json!({
            "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        });
        let usage: Usage = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(usage).unwrap(), sent);
        // A provider's own fields (a cost, its own counts) pass through too.
        let with_cost = json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
            "cost": 0.00042, "is_byok": false});
        let usage: Usage = serde_json::from_value(with_cost.clone()).unwrap();
        assert_eq!(serde_json::to_value(usage).unwrap(), with_cost);
        let plain = json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3});
        let usage: Usage = serde_json::from_value(plain.clone()).unwrap();
        assert_eq!(serde_json::to_value(usage).unwrap(), plain);
        assert_eq!(Usage::new(u64::MAX, 5).total_tokens, u64::MAX);
    }

    #[test]
    fn a_chunk_choice_without_a_delta_parses() {
        // Azure's asynchronous content filter sends its results in such choices.
        let chunk: ChatChunk = serde_json::from_value(json!({
            "id": "", "object": "chat.completion.chunk", "created": 0, "model": "",
            "choices": [{"index": 0, "finish_reason": null,
                "content_filter_offsets": {"check_offset": 35, "start_offset": 35, "end_offset": 62},
                "content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}}]
        }))
        .unwrap();
        assert_eq!(chunk.choices[0].delta, Delta::default());
        assert!(
            chunk.choices[0]
                .extra
                .contains_key("content_filter_results")
        );
    }

    #[test]
    fn every_text_of_a_message_is_reachable() {
        let mut msg: ChatMessage = serde_json::from_value(json!({
            "role": "assistant",
            "content": [
                {"type": "text", "text": "part"},
                {"type": "refusal", "refusal": "no"},
                {"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}
            ],
            "name": "helper",
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "f", "arguments": "{}"}}],
            "reasoning_content": "why",
            "audio": {"id": "a1", "data": "AAAA", "transcript": "said"}
        }))
        .unwrap();
        let texts: Vec<String> = msg.texts_mut().into_iter().map(|t| t.clone()).collect();
        assert_eq!(texts, ["part", "no", "{}", "why", "said"]);
        let names: Vec<String> = msg.names_mut().into_iter().map(|t| t.clone()).collect();
        assert_eq!(names, ["helper", "f"]);
        assert_eq!(msg.text_len(), texts.iter().map(String::len).sum::<usize>());
        for t in msg.texts_mut() {
            t.make_ascii_uppercase();
        }
        let v = serde_json::to_value(&msg).unwrap();
        assert_eq!(v["content"][1]["refusal"], "NO");
        assert_eq!(v["reasoning_content"], "WHY");
        assert_eq!(v["audio"]["data"], "AAAA", "audio data is not text");
    }

    #[test]
    fn a_legacy_function_calls_name_is_a_name() {
        let mut msg: ChatMessage = serde_json::from_value(json!({
            "role": "assistant",
            "function_call": {"name": "lookup", "arguments": "{}"}
        }))
        .unwrap();
        let names: Vec<String> = msg.names_mut().into_iter().map(|t| t.clone()).collect();
        assert_eq!(names, ["lookup"]);
        let texts: Vec<String> = msg.texts_mut().into_iter().map(|t| t.clone()).collect();
        assert_eq!(texts, ["{}"]);
    }

    #[test]
    fn every_other_text_and_name_of_a_request_is_reachable() {
        let mut req: ChatRequest = serde_json::from_value(json!({
            "model": "m",
            "messages": [],
            "stop": ["END", "Bye"],
            "stream_options": {"include_usage": true, "note": "aside"},
            "metadata": {"id": "ticket 7", "name": "Ada", "type": "kind"},
            "prediction": {"type": "content", "content": "draft"},
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto",
                            "tools": [{"type": "function", "function": {"name": "a"}}]}},
            "function_call": {"name": "b"},
            "functions": [{"name": "b", "description": "Does b."}]
        }))
        .unwrap();
        let mut texts: Vec<(String, String)> = req
            .other_texts_mut()
            .into_iter()
            .map(|(f, t)| (f.to_owned(), t.clone()))
            .collect();
        texts.sort();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            texts,
            pairs(&[
                ("metadata", "Ada"),
                ("metadata", "kind"),
                ("metadata", "ticket 7"),
                ("prediction", "draft"),
                ("stop", "Bye"),
                ("stop", "END"),
                ("stream_options", "aside"),
            ])
        );
        let names: Vec<(String, String)> = req
            .names()
            .into_iter()
            .map(|(f, t)| (f.to_owned(), t.to_owned()))
            .collect();
        assert_eq!(
            names,
            pairs(&[
                ("tool_choice", "a"),
                ("function_call", "b"),
                ("metadata", "id"),
                ("metadata", "name"),
                ("metadata", "type"),
                ("prediction", "content"),
            ])
        );
        let names: Vec<&str> = req.definition_names().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["b"]);
        // A single stop sequence, and tool-choice words that name nothing.
        let mut req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [], "stop": "END", "tool_choice": "auto"
        }))
        .unwrap();
        assert_eq!(req.other_texts_mut().len(), 1);
        assert!(req.names().is_empty());
    }

    #[test]
    fn tool_calls_keep_what_a_provider_adds_and_unnumbered_ones_are_numbered() {
        // Gemini's OpenAI endpoint: a signature on each call, no index, no chunk id.
        let call = json!({"id": "c1", "type": "function",
                          "function": {"name": "f", "arguments": "{}"},
                          "extra_content": {"google": {"thought_signature": "c2lnbmF0dXJl"}}});
        let mut msg: ChatMessage =
            serde_json::from_value(json!({"role": "assistant", "tool_calls": [call.clone()]}))
                .unwrap();
        assert_eq!(serde_json::to_value(&msg).unwrap()["tool_calls"][0], call);
        let texts: Vec<String> = msg.texts_mut().into_iter().map(|t| t.clone()).collect();
        assert_eq!(texts, ["{}"], "a signature is no text");
        let chunk = |calls: Value| -> ChatChunk {
            serde_json::from_value(json!({"model": "m", "choices": [
                {"index": 0, "delta": {"tool_calls": calls}}]}))
            .unwrap()
        };
        let mut numbering = ToolCallNumbering::default();
        let mut indices = Vec::new();
        for calls in [
            json!([{"id": "a", "function": {"name": "f", "arguments": "{\"x\":"}}]),
            json!([{"function": {"arguments": "1}"}}]),
            json!([{"id": "b", "function": {"name": "g", "arguments": "{}"}},
                   {"id": "c", "function": {"name": "h", "arguments": "{}"}}]),
            json!([{"index": 7, "id": "d", "function": {"name": "i"}}]),
            // After a given index, a new call goes after it; a known id goes on.
            json!([{"id": "e", "function": {"name": "j", "arguments": "{"}}]),
            json!([{"id": "a", "function": {"arguments": ""}}]),
            json!([{"function": {"arguments": "{}"}}, {"function": {"arguments": "{}"}}]),
        ] {
            let mut c = chunk(calls);
            numbering.number(&mut c);
            let calls = c.choices[0].delta.tool_calls.as_ref().unwrap();
            indices.extend(calls.iter().map(|t| t.index));
        }
        assert_eq!(indices, [0, 0, 1, 2, 7, 8, 0, 0, 9]);
    }

    #[test]
    fn an_empty_finish_reason_is_none() {
        let chunk: ChatChunk = serde_json::from_value(json!({"model": "m", "choices": [
            {"index": 0, "delta": {"content": "a"}, "finish_reason": ""},
            {"index": 1, "delta": {}, "finish_reason": "stop"}]}))
        .unwrap();
        assert_eq!(chunk.choices[0].finish_reason, None);
        assert_eq!(chunk.choices[1].finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn a_tool_definition_reads_like_a_prompt() {
        let mut tool: Tool = serde_json::from_value(json!({
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a customer up.",
                "parameters": {"type": "object", "properties": {
                    "tier": {"type": "string", "enum": ["gold", "silver"], "description": "Their tier."},
                    "email": {"type": "string", "format": "email"},
                    "name": {"type": "string", "description": "Their name."}
                }},
                "strict": true
            }
        }))
        .unwrap();
        let mut texts: Vec<String> = tool.texts_mut().into_iter().map(|t| t.clone()).collect();
        texts.sort();
        assert_eq!(
            texts,
            [
                "Look a customer up.",
                "Their name.",
                "Their tier.",
                "gold",
                "silver"
            ]
        );
    }
}
