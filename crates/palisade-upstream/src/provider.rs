//! The provider contract. Requests arrive already routed: `model` holds the upstream's
//! own model name. Streams yield OpenAI chunks; a provider asks its upstream for usage
//! when it can, and yields it as a final chunk with no choices (the gateway decides
//! whether the client sees it).

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;
use palisade_protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse,
};

use crate::UpstreamError;

/// A stream of chat chunks from an upstream. An `Err` item ends the stream.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, UpstreamError>> + Send>>;

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// `openai`, `anthropic` or `simulated`: a bounded label for metrics and logs.
    fn kind(&self) -> &'static str;

    /// The output cap this provider sends upstream when the request sets none (Anthropic
    /// requires one); `None` when the upstream decides. Limits reserve it, so a request
    /// without `max_tokens` is reserved what it may really use.
    fn default_output_cap(&self) -> Option<u64> {
        None
    }

    /// A non-streaming chat completion.
    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse, UpstreamError>;

    /// A streaming chat completion. Resolves once the upstream accepted the request (so
    /// errors before the first byte can still be retried or reported with a status).
    async fn chat_stream(&self, req: ChatRequest) -> Result<ChunkStream, UpstreamError>;

    /// Embeddings. Providers without an embeddings API return
    /// [`UpstreamError::Unsupported`].
    async fn embeddings(&self, req: EmbeddingsRequest)
    -> Result<EmbeddingsResponse, UpstreamError>;
}
