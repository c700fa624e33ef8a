//! Anthropic stream events → OpenAI chat chunks. `message_start` opens the stream with the
//! assistant role, text and tool-input deltas become content and tool-call deltas (tool
//! calls numbered from 0 in the order their blocks start), `message_delta` carries the
//! finish reason, and `message_stop` ends it with a usage-only chunk. An `error` event,
//! or a body that ends before `message_stop`, ends the stream with an `Err` — except an
//! overload or server error before any content ([`until_content`]): nothing reached the
//! client yet, so it is an upstream status the caller may retry.

use std::collections::{HashMap, HashSet};

use futures::{Stream, StreamExt};
use palisade_protocol::anthropic::{BlockDelta, ContentBlock, StreamEvent};
use palisade_protocol::openai::{
    ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta, Usage,
};
use palisade_protocol::sse::SseEvent;
use serde_json::{Map, Value};

use super::response::{completion_id, finish_reason};
use crate::{ChunkStream, UpstreamError};

/// Most events read ahead of the first content ([`until_content`]).
const PEEK_EVENTS: usize = 8;

/// Decoded events, boxed.
pub(crate) type Events = futures::stream::BoxStream<'static, Result<SseEvent, UpstreamError>>;

/// Reads the events that come before any content (`message_start`, `ping`, a block's
/// start, at most [`PEEK_EVENTS`]): an `overloaded_error` or `api_error` among them is
/// answered as the status it stands for (529, 500), which the retry policy retries, since
/// the client has received nothing yet. Otherwise the events are handed back, unread.
pub(crate) async fn until_content(mut events: Events) -> Result<Events, UpstreamError> {
    let mut held = Vec::new();
    while held.len() < PEEK_EVENTS {
        let Some(next) = events.next().await else {
            break;
        };
        let Ok(ev) = next else {
            held.push(next);
            break;
        };
        match serde_json::from_str::<StreamEvent>(ev.data.trim()) {
            Ok(StreamEvent::Error { error }) => {
                let status = match error.kind.as_str() {
                    "overloaded_error" => 529,
                    "api_error" => 500,
                    _ => {
                        held.push(Ok(ev));
                        break;
                    }
                };
                return Err(UpstreamError::Status {
                    status,
                    message: None,
                    code: None,
                    param: None,
                    retry_after: None,
                });
            }
            Ok(
                StreamEvent::MessageStart { .. }
                | StreamEvent::Ping
                | StreamEvent::ContentBlockStart { .. },
            ) => held.push(Ok(ev)),
            _ => {
                held.push(Ok(ev));
                break;
            }
        }
    }
    Ok(futures::stream::iter(held).chain(events).boxed())
}

/// What one upstream event turns into.
enum Step {
    Skip,
    Chunk(ChatChunk),
    /// The last chunk: the stream ends after it.
    Last(ChatChunk),
    Fail(UpstreamError),
}

/// Translation state shared by every chunk of one stream.
struct Translator {
    id: String,
    model: String,
    created: i64,
    started: bool,
    /// Anthropic content-block index → OpenAI tool-call index.
    tools: HashMap<u32, u32>,
    /// Tool blocks that have had no argument text yet: a tool without parameters gets
    /// only an empty `input_json_delta`, and OpenAI clients parse `"{}"`, not `""`.
    argless: HashSet<u32>,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Prompt tokens read from Anthropic's prompt cache.
    cached_tokens: Option<u64>,
}

impl Translator {
    fn chunk(&self, delta: Delta, finish_reason: Option<String>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                extra: Map::new(),
            }],
            usage: None,
            extra: Map::new(),
        }
    }

    fn tool_chunk(&self, call: ToolCallDelta) -> ChatChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
        )
    }

    fn on_event(&mut self, ev: StreamEvent) -> Step {
        if !self.started && !matches!(ev, StreamEvent::MessageStart { .. }) {
            return match ev {
                StreamEvent::Ping | StreamEvent::Unknown => Step::Skip,
                StreamEvent::Error { error } => Step::Fail(broken(&error.kind, &error.message)),
                _ => Step::Fail(UpstreamError::Protocol(
                    "stream event before message_start".into(),
                )),
            };
        }
        match ev {
            StreamEvent::MessageStart { message } => {
                if self.started {
                    return Step::Fail(UpstreamError::Protocol("second message_start".into()));
                }
                self.started = true;
                self.id = completion_id(&message.id);
                self.model = message.model;
                self.prompt_tokens = message.usage.total_input_tokens();
                self.completion_tokens = message.usage.output_tokens;
                self.cached_tokens = message.usage.cache_read_input_tokens;
                let delta = Delta {
                    role: Some("assistant".to_owned()),
                    content: Some(String::new()),
                    ..Delta::default()
                };
                Step::Chunk(self.chunk(delta, None))
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                ContentBlock::ToolUse { id, name, input } => {
                    let k = self.tools.len() as u32;
                    self.tools.insert(index, k);
                    let arguments = match input {
                        Value::Null => String::new(),
                        Value::Object(m) if m.is_empty() => String::new(),
                        other => other.to_string(),
                    };
                    if arguments.is_empty() {
                        self.argless.insert(index);
                    }
                    Step::Chunk(self.tool_chunk(ToolCallDelta {
                        index: k,
                        id: Some(id),
                        kind: Some("function".to_owned()),
                        function: Some(FunctionCallDelta {
                            name: Some(name),
                            arguments: Some(arguments),
                        }),
                        extra: Map::new(),
                    }))
                }
                ContentBlock::Text { text } if !text.is_empty() => Step::Chunk(self.chunk(
                    Delta {
                        content: Some(text),
                        ..Delta::default()
                    },
                    None,
                )),
                _ => Step::Skip,
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => Step::Chunk(self.chunk(
                    Delta {
                        content: Some(text),
                        ..Delta::default()
                    },
                    None,
                )),
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    self.argless.remove(&index);
                    match self.tools.get(&index) {
                        Some(&k) => Step::Chunk(self.tool_chunk(ToolCallDelta {
                            index: k,
                            id: None,
                            kind: None,
                            function: Some(FunctionCallDelta {
                                name: None,
                                arguments: Some(partial_json),
                            }),
                            extra: Map::new(),
                        })),
                        None => Step::Fail(UpstreamError::Protocol(
                            "input_json_delta for a block that is not a tool_use".into(),
                        )),
                    }
                }
                _ => Step::Skip,
            },
            StreamEvent::MessageDelta { delta, usage } => {
                self.completion_tokens = usage.output_tokens;
                if let Some(input) = usage.input_tokens {
                    self.prompt_tokens = input
                        .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0))
                        .saturating_add(usage.cache_read_input_tokens.unwrap_or(0));
                    self.cached_tokens = usage.cache_read_input_tokens.or(self.cached_tokens);
                }
                let reason = finish_reason(delta.stop_reason.as_deref());
                Step::Chunk(self.chunk(Delta::default(), Some(reason)))
            }
            StreamEvent::MessageStop => {
                let mut last = self.chunk(Delta::default(), None);
                last.choices.clear();
                last.usage = Some(
                    Usage::new(self.prompt_tokens, self.completion_tokens)
                        .with_cached_tokens(self.cached_tokens),
                );
                Step::Last(last)
            }
            StreamEvent::Error { error } => Step::Fail(broken(&error.kind, &error.message)),
            StreamEvent::ContentBlockStop { index } => {
                match (self.argless.remove(&index), self.tools.get(&index)) {
                    (true, Some(&k)) => Step::Chunk(self.tool_chunk(ToolCallDelta {
                        index: k,
                        id: None,
                        kind: None,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some("{}".to_owned()),
                        }),
                        extra: Map::new(),
                    })),
                    _ => Step::Skip,
                }
            }
            StreamEvent::Ping | StreamEvent::Unknown => Step::Skip,
        }
    }
}

fn broken(kind: &str, message: &str) -> UpstreamError {
    let message: String = message.chars().take(500).collect();
    UpstreamError::StreamBroken(format!("upstream sent an error event: {kind}: {message}"))
}

/// Maps decoded SSE events to chunks; `created` is stamped on every chunk.
pub(crate) fn chunks_from_events<S>(events: S, created: i64) -> ChunkStream
where
    S: Stream<Item = Result<SseEvent, UpstreamError>> + Send + 'static,
{
    let tr = Translator {
        id: String::new(),
        model: String::new(),
        created,
        started: false,
        tools: HashMap::new(),
        argless: HashSet::new(),
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: None,
    };
    let stream = futures::stream::unfold(
        (events.boxed(), tr, false),
        |(mut events, mut tr, done)| async move {
            if done {
                return None;
            }
            loop {
                let ev = match events.next().await {
                    None => {
                        let err =
                            UpstreamError::StreamBroken("stream ended before message_stop".into());
                        return Some((Err(err), (events, tr, true)));
                    }
                    Some(Err(e)) => return Some((Err(e), (events, tr, true))),
                    Some(Ok(ev)) => ev,
                };
                let data = ev.data.trim();
                if data.is_empty() {
                    continue;
                }
                let parsed = match serde_json::from_str::<StreamEvent>(data) {
                    Ok(parsed) => parsed,
                    Err(e) => {
                        let err = UpstreamError::Protocol(format!("invalid stream event: {e}"));
                        return Some((Err(err), (events, tr, true)));
                    }
                };
                match tr.on_event(parsed) {
                    Step::Skip => continue,
                    Step::Chunk(c) => return Some((Ok(c), (events, tr, false))),
                    Step::Last(c) => return Some((Ok(c), (events, tr, true))),
                    Step::Fail(e) => return Some((Err(e), (events, tr, true))),
                }
            }
        },
    );
    Box::pin(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: Value) -> Result<SseEvent, UpstreamError> {
        let name = v["type"].as_str().map(str::to_owned);
        Ok(SseEvent {
            event: name,
            data: v.to_string(),
        })
    }

    fn start() -> Result<SseEvent, UpstreamError> {
        ev(json!({"type": "message_start", "message": {
            "id": "msg_9", "type": "message", "role": "assistant", "content": [], "model": "claude-x",
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 11, "output_tokens": 1, "cache_read_input_tokens": 4}
        }}))
    }

    async fn run(
        events: Vec<Result<SseEvent, UpstreamError>>,
    ) -> Vec<Result<ChatChunk, UpstreamError>> {
        chunks_from_events(futures::stream::iter(events), 42)
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_tool_without_arguments_streams_an_empty_object() {
        let out = run(vec![
            start(),
            ev(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}})),
            ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}})),
            ev(json!({"type": "content_block_stop", "index": 0})),
            ev(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 3}})),
            ev(json!({"type": "message_stop"})),
        ])
        .await;
        let arguments: String = out
            .into_iter()
            .map(Result::unwrap)
            .flat_map(|c| c.choices)
            .flat_map(|c| c.delta.tool_calls.unwrap_or_default())
            .filter_map(|t| t.function.and_then(|f| f.arguments))
            .collect();
        assert_eq!(arguments, "{}");
    }

    #[tokio::test]
    async fn tool_use_stream_translates() {
        let out = run(vec![
            start(),
            ev(json!({"type": "ping"})),
            ev(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}})),
            ev(json!({"type": "content_block_stop", "index": 0})),
            ev(json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}})),
            ev(json!({"type": "content_block_stop", "index": 1})),
            ev(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 30}})),
            ev(json!({"type": "message_stop"})),
            ev(json!({"type": "ping"})),
        ])
        .await;
        let chunks: Vec<ChatChunk> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 7);
        assert!(
            chunks
                .iter()
                .all(|c| c.id == "chatcmpl-msg_9" && c.created == 42 && c.model == "claude-x")
        );
        assert_eq!(
            chunks[0].choices[0].delta.role.as_deref(),
            Some("assistant")
        );
        assert_eq!(
            chunks[1].choices[0].delta.content.as_deref(),
            Some("Let me check.")
        );
        let call = &chunks[2].choices[0].delta.tool_calls.as_ref().unwrap()[0];
        assert_eq!(
            (call.index, call.id.as_deref(), call.kind.as_deref()),
            (0, Some("toolu_1"), Some("function"))
        );
        assert_eq!(
            call.function.as_ref().unwrap().name.as_deref(),
            Some("weather")
        );
        let args: String = chunks[2..5]
            .iter()
            .map(|c| {
                c.choices[0].delta.tool_calls.as_ref().unwrap()[0]
                    .function
                    .clone()
                    .unwrap()
                    .arguments
                    .unwrap()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "Paris"})
        );
        assert_eq!(
            chunks[5].choices[0].finish_reason.as_deref(),
            Some("tool_calls")
        );
        assert!(chunks[6].choices.is_empty());
        assert_eq!(
            chunks[6].usage,
            Some(Usage::new(15, 30).with_cached_tokens(Some(4)))
        );
    }

    #[tokio::test]
    async fn error_event_and_truncation_end_with_err() {
        let out = run(vec![
            start(),
            ev(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
            ev(json!({"type": "message_stop"})),
        ])
        .await;
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[1], Err(UpstreamError::StreamBroken(m)) if m.contains("overloaded_error"))
        );

        let out = run(vec![
            start(),
            ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}})),
        ])
        .await;
        assert_eq!(out.len(), 3);
        assert!(matches!(&out[2], Err(UpstreamError::StreamBroken(_))));

        let out = run(vec![ev(json!({"type": "content_block_stop", "index": 0}))]).await;
        assert!(matches!(out.as_slice(), [Err(UpstreamError::Protocol(_))]));

        let out = run(vec![
            start(),
            Ok(SseEvent {
                event: None,
                data: "{not json".into(),
            }),
        ])
        .await;
        assert!(matches!(&out[1], Err(UpstreamError::Protocol(_))));
    }

    #[tokio::test]
    async fn message_delta_input_tokens_override_start() {
        let out = run(vec![
            start(),
            ev(json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                      "usage": {"output_tokens": 5, "input_tokens": 20, "cache_creation_input_tokens": 2}})),
            ev(json!({"type": "message_stop"})),
        ])
        .await;
        let last = out.last().unwrap().as_ref().unwrap();
        assert_eq!(
            last.usage,
            Some(Usage::new(22, 5).with_cached_tokens(Some(4)))
        );
        assert_eq!(
            out[1].as_ref().unwrap().choices[0].finish_reason.as_deref(),
            Some("length")
        );
    }
}
