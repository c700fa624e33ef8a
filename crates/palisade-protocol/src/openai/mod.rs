//! The OpenAI API shapes Palisade accepts from clients and sends to OpenAI-compatible
//! upstreams. Field names and optionality follow the public API reference.

pub mod chat;
pub mod embeddings;
pub mod error;
pub mod model_text;
pub mod models;

pub use chat::*;
pub use embeddings::*;
pub use error::*;
pub use models::*;
