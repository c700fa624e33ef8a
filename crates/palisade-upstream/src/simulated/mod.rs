//! The built-in simulated model: deterministic answers with configurable latency and
//! streaming pace, for `palisade demo`, tests and benchmarks. It answers tool calls (the
//! first offered function, with arguments shaped by its JSON schema), replies to tool
//! results, honours `n` and the output cap (`finish_reason: "length"` when it cuts), and
//! produces unit-length embeddings derived from the input's hash. Each completion gets
//! its own id, as a real provider's does.

mod reply;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use palisade_config::SimulatedSettings;
use palisade_protocol::openai::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Embedding,
    EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage, FunctionCallDelta, ToolCallDelta,
    Usage,
};
use serde_json::Map;
use sha2::{Digest, Sha256};

use crate::{ChunkStream, Provider, UpstreamError};
use reply::{Reply, plan_reply};

pub struct SimulatedProvider {
    settings: SimulatedSettings,
}

impl SimulatedProvider {
    pub fn new(settings: SimulatedSettings) -> Self {
        SimulatedProvider { settings }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A rough token count (4 characters a token), the same for prompt and completion.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

fn prompt_tokens(req: &ChatRequest) -> u64 {
    req.messages
        .iter()
        .map(|m| estimate_tokens(&m.text_content()) + 3)
        .sum()
}

/// Most choices one simulated request returns: the gateway's own bound on `n`.
const MAX_CHOICES: u64 = 128;

/// A completion id of its own for every call: the messages' hash, a process-wide counter
/// and the clock (two identical requests are still two completions).
fn completion_id(req: &ChatRequest) -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    for m in &req.messages {
        h.update(m.role.as_bytes());
        h.update(m.text_content().as_bytes());
    }
    h.update(CALLS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("chatcmpl-sim{hex}")
}

#[async_trait]
impl Provider for SimulatedProvider {
    fn kind(&self) -> &'static str {
        "simulated"
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse, UpstreamError> {
        if !self.settings.latency.is_zero() {
            tokio::time::sleep(self.settings.latency).await;
        }
        let reply = plan_reply(&req, self.settings.reply.as_deref());
        let prompt = prompt_tokens(&req);
        let (message, completion, finish) = match &reply {
            Reply::Text(text) => {
                let (text, cut) = truncate_words(text, req.output_cap());
                (
                    ChatMessage::text("assistant", text.clone()),
                    estimate_tokens(&text),
                    if cut { "length" } else { "stop" },
                )
            }
            Reply::ToolCall(call) => {
                let mut m = ChatMessage::text("assistant", "");
                m.content = None;
                m.tool_calls = Some(vec![call.clone()]);
                (
                    m,
                    estimate_tokens(&call.function.arguments) + 5,
                    "tool_calls",
                )
            }
        };
        let n = req.choices().min(MAX_CHOICES);
        Ok(ChatResponse {
            id: completion_id(&req),
            object: "chat.completion".into(),
            created: now(),
            model: req.model.clone(),
            choices: (0..n)
                .map(|i| Choice {
                    index: i as u32,
                    message: message.clone(),
                    finish_reason: Some(finish.into()),
                    extra: Map::new(),
                })
                .collect(),
            usage: Some(Usage::new(prompt, completion.saturating_mul(n))),
            extra: Map::new(),
        })
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChunkStream, UpstreamError> {
        let reply = plan_reply(&req, self.settings.reply.as_deref());
        let id = completion_id(&req);
        let created = now();
        let model = req.model.clone();
        let prompt = prompt_tokens(&req);
        let chunk =
            move |index: u32, delta: Delta, finish: Option<&str>, usage: Option<Usage>| ChatChunk {
                id: id.clone(),
                object: "chat.completion.chunk".into(),
                created,
                model: model.clone(),
                choices: if usage.is_some() {
                    Vec::new()
                } else {
                    vec![ChunkChoice {
                        index,
                        delta,
                        finish_reason: finish.map(Into::into),
                        extra: Map::new(),
                    }]
                },
                usage,
                extra: Map::new(),
            };
        // Choice after choice (clients gather the chunks by `index`).
        let n = req.choices().min(MAX_CHOICES) as u32;
        // A text answer, cut to the output cap once for every choice.
        let (text, cut) = match &reply {
            Reply::Text(text) => truncate_words(text, req.output_cap()),
            Reply::ToolCall(_) => (String::new(), false),
        };
        let mut chunks = Vec::new();
        let mut completion = 0u64;
        for index in 0..n {
            chunks.push(chunk(
                index,
                Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Delta::default()
                },
                None,
                None,
            ));
            match &reply {
                Reply::Text(_) => {
                    completion += estimate_tokens(&text);
                    for piece in split_pieces(&text, self.settings.words_per_chunk) {
                        let delta = Delta {
                            content: Some(piece),
                            ..Delta::default()
                        };
                        chunks.push(chunk(index, delta, None, None));
                    }
                    let finish = if cut { "length" } else { "stop" };
                    chunks.push(chunk(index, Delta::default(), Some(finish), None));
                }
                Reply::ToolCall(call) => {
                    completion += estimate_tokens(&call.function.arguments) + 5;
                    chunks.push(chunk(
                        index,
                        Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: 0,
                                id: Some(call.id.clone()),
                                kind: Some("function".into()),
                                function: Some(FunctionCallDelta {
                                    name: Some(call.function.name.clone()),
                                    arguments: Some(String::new()),
                                }),
                                extra: Map::new(),
                            }]),
                            ..Delta::default()
                        },
                        None,
                        None,
                    ));
                    for piece in split_pieces(&call.function.arguments, 1) {
                        chunks.push(chunk(
                            index,
                            Delta {
                                tool_calls: Some(vec![ToolCallDelta {
                                    index: 0,
                                    function: Some(FunctionCallDelta {
                                        name: None,
                                        arguments: Some(piece),
                                    }),
                                    ..ToolCallDelta::default()
                                }]),
                                ..Delta::default()
                            },
                            None,
                            None,
                        ));
                    }
                    chunks.push(chunk(index, Delta::default(), Some("tool_calls"), None));
                }
            }
        }
        chunks.push(chunk(
            0,
            Delta::default(),
            None,
            Some(Usage::new(prompt, completion)),
        ));

        let first = self.settings.latency;
        let interval = self.settings.chunk_interval;
        let stream = futures::stream::unfold(
            (chunks.into_iter(), true),
            move |(mut it, is_first)| async move {
                let next = it.next()?;
                let wait = if is_first { first } else { interval };
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Some((Ok(next), (it, false)))
            },
        );
        Ok(Box::pin(stream))
    }

    async fn embeddings(
        &self,
        req: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, UpstreamError> {
        if !self.settings.latency.is_zero() {
            tokio::time::sleep(self.settings.latency).await;
        }
        let dims = req
            .dimensions
            .map(|d| d as usize)
            .unwrap_or(self.settings.embedding_dimensions)
            .clamp(1, 8192);
        let base64 = req.encoding_format.as_deref() == Some("base64");
        let inputs: Vec<String> = match &req.input {
            palisade_protocol::openai::EmbeddingInput::Tokens(t) => vec![format!("{t:?}")],
            palisade_protocol::openai::EmbeddingInput::TokenBatches(b) => {
                b.iter().map(|t| format!("{t:?}")).collect()
            }
            other => other.texts().into_iter().map(str::to_owned).collect(),
        };
        let mut tokens = 0;
        let data = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                tokens += estimate_tokens(text);
                let v = embed(text, dims);
                let embedding = if base64 {
                    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                    serde_json::Value::String(
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                    )
                } else {
                    serde_json::Value::from(v)
                };
                Embedding {
                    object: "embedding".into(),
                    index: i as u32,
                    embedding,
                }
            })
            .collect();
        Ok(EmbeddingsResponse {
            object: "list".into(),
            data,
            model: req.model.clone(),
            usage: EmbeddingsUsage {
                prompt_tokens: tokens,
                total_tokens: tokens,
            },
            extra: Map::new(),
        })
    }
}

/// A deterministic unit vector of `dims` floats derived from SHA-256 of the text.
fn embed(text: &str, dims: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(dims);
    let mut counter = 0u32;
    while out.len() < dims {
        let mut h = Sha256::new();
        h.update(text.as_bytes());
        h.update(counter.to_le_bytes());
        for pair in h.finalize().chunks(2) {
            if out.len() == dims {
                break;
            }
            let n = u16::from_le_bytes([pair[0], pair[1]]);
            out.push(f32::from(n) / 32767.5 - 1.0);
        }
        counter += 1;
    }
    let norm = out
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    out.iter_mut().for_each(|x| *x /= norm);
    out
}

/// Keeps at most `cap` tokens' worth of words (approximately), as `max_tokens` would.
/// The text cut to whole words within `cap` tokens, and whether it was cut.
fn truncate_words(text: &str, cap: Option<u64>) -> (String, bool) {
    match cap {
        Some(cap) if estimate_tokens(text) > cap => {
            let max_chars = (cap as usize).saturating_mul(4);
            let mut out = String::new();
            for word in text.split_inclusive(' ') {
                if out.len() + word.len() > max_chars {
                    break;
                }
                out.push_str(word);
            }
            (out.trim_end().to_owned(), true)
        }
        _ => (text.to_owned(), false),
    }
}

/// Splits text into pieces of `words` words, keeping the spaces so pieces concatenate
/// back to the text.
fn split_pieces(text: &str, words: usize) -> Vec<String> {
    let parts: Vec<&str> = text.split_inclusive(' ').collect();
    parts.chunks(words.max(1)).map(|c| c.concat()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rejoin_to_the_text() {
        let t = "one two three four five";
        assert_eq!(split_pieces(t, 2).concat(), t);
        assert_eq!(split_pieces(t, 2).len(), 3);
    }

    #[test]
    fn embeddings_are_unit_length_and_deterministic() {
        let a = embed("hello", 64);
        assert_eq!(a, embed("hello", 64));
        assert_ne!(a, embed("hellp", 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn truncation_respects_the_cap_and_says_so() {
        let long = "word ".repeat(100);
        let (cut, was_cut) = truncate_words(&long, Some(5));
        assert!(estimate_tokens(&cut) <= 5 && was_cut);
        assert_eq!(
            truncate_words("short", Some(5)),
            ("short".to_owned(), false)
        );
    }

    fn request(body: serde_json::Value) -> ChatRequest {
        serde_json::from_value(body).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[tokio::test]
    async fn a_cut_answer_ends_with_length_n_choices_and_ids_of_their_own() {
        let p = SimulatedProvider::new(SimulatedSettings::default());
        let body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 2, "n": 3});
        let a = p
            .chat(request(body.clone()))
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(a.choices.len(), 3);
        for (i, c) in a.choices.iter().enumerate() {
            assert_eq!(c.index as usize, i);
            assert_eq!(c.finish_reason.as_deref(), Some("length"));
        }
        let b = p
            .chat(request(body.clone()))
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_ne!(a.id, b.id, "two completions, two ids");
        let chunks: Vec<ChatChunk> = futures::StreamExt::collect::<Vec<_>>(
            p.chat_stream(request(body))
                .await
                .unwrap_or_else(|e| unreachable!("{e}")),
        )
        .await
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| unreachable!("{e}")))
        .collect();
        let finishes: Vec<(u32, String)> = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| Some((c.index, c.finish_reason.clone()?)))
            .collect();
        assert_eq!(
            finishes,
            (0..3).map(|i| (i, "length".to_owned())).collect::<Vec<_>>()
        );
    }
}
