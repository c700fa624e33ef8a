//! Wire types spoken by Palisade, with no I/O: the OpenAI API (chat completions, streaming
//! chunks, embeddings, models, errors), the Anthropic Messages API, the SSE framing both
//! use, the JSON guards applied before any body is parsed, and request ids.
//!
//! Types keep every field they do not model in an `extra` map, so a request or response
//! passes through Palisade without losing fields that a newer client or upstream added.

pub mod anthropic;
pub mod json_guard;
pub mod openai;
pub mod request_id;
pub mod sse;

pub use json_guard::{JsonGuardError, check_json_depth};
