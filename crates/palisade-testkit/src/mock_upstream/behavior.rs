//! Scenario selection by upstream model name:
//!
//! | model name | behaviour |
//! |---|---|
//! | `error-<status>` | always answers `<status>` with an OpenAI error body (a 429 with `Retry-After: 1`) |
//! | `flaky-<n>` | the first `n` calls answer 503, later ones succeed |
//! | `slow-<ms>` | waits `<ms>` before answering |
//! | `break-<n>` | streams `n` chunks, then drops the connection (non-streaming: a truncated body) |
//! | `nodone` | a stream that ends without `[DONE]` before its last choice's finish reason (with `n` > 1 the others finish) |
//! | `echo-<n>` | answers the last user message verbatim; streams it in chunks of `n` bytes |
//! | `rot13-<n>` | answers the last user message ROT13-decoded, digits turned by five (`0`↔`5`), so a test can make the model "say" what the gateway would refuse as input, card numbers included; chunks of `n` bytes |
//! | with `tools` | `echo-<n>` and `rot13-<n>` call the first tool with their answer as the arguments `{"text": …}`, streamed in chunks of `n` bytes; other models call it with `{"city":"Paris"}` |
//! | anything else | a normal answer |
//!
//! Request fields change any model's answer: with `reasoning_effort`, the reply goes to
//! `reasoning_content` and again to `reasoning_details[].text` (streamed as reasoning
//! deltas) and `content` is a short fixed text; with `logprobs: true`, the answer's content comes with per-token `logprobs`
//! (tokens of a few bytes; in a stream, one entry per chunk); a streamed text answer with
//! `n` > 1 (at most 8) has choices 1.. saying `ok ` once per chunk of choice 0; with
//! `mock_beside: "choice"` or `"response"`, the reply goes again beside the message (a
//! choice-level field, a top-level `citations` list), as some providers add fields; with
//! `mock_reject: true`, a 400 whose message quotes the reply (`Invalid prompt: …`); with
//! `mock_gemini: true`, tool calls as Gemini's OpenAI endpoint sends them (a
//! `thought_signature` on each; streamed without chunk `id`, `created` or call `index`).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Normal,
    Error(u16),
    Flaky(u64),
    Slow(Duration),
    Break(usize),
    NoDone,
    Echo(usize),
    Rot13(usize),
}

impl Behavior {
    /// How a streamed answer is cut: `None` = word by word.
    pub fn chunk_bytes(self) -> Option<usize> {
        match self {
            Behavior::Echo(n) | Behavior::Rot13(n) => Some(n),
            _ => None,
        }
    }

    pub fn for_model(model: &str) -> Behavior {
        let num = |prefix: &str| {
            model
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u64>().ok())
        };
        if let Some(status) = num("error-").and_then(|s| u16::try_from(s).ok()) {
            Behavior::Error(status)
        } else if let Some(n) = num("flaky-") {
            Behavior::Flaky(n)
        } else if let Some(ms) = num("slow-") {
            Behavior::Slow(Duration::from_millis(ms))
        } else if let Some(n) = num("break-") {
            Behavior::Break(n as usize)
        } else if let Some(n) = num("echo-").filter(|n| *n > 0) {
            Behavior::Echo(n as usize)
        } else if let Some(n) = num("rot13-").filter(|n| *n > 0) {
            Behavior::Rot13(n as usize)
        } else if model == "nodone" {
            Behavior::NoDone
        } else {
            Behavior::Normal
        }
    }
}
