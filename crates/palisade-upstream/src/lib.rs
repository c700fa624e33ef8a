//! Model providers. Every upstream speaks to the gateway through one trait,
//! [`Provider`], in OpenAI's chat-completions shapes; adapters translate when the upstream
//! speaks something else. [`build_provider`] turns a validated provider config into one.
//!
//! - [`openai`]: any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama, …)
//! - [`anthropic`]: Anthropic's Messages API, translated both ways, streaming included
//! - [`simulated`]: a deterministic built-in model for demos, tests and benchmarks
//!
//! Shared plumbing: [`retry`] (backoff on connect errors, 429 and 5xx before any byte
//! reached the client), [`http`] (the pooled HTTP client), [`stream`] (SSE → chunks).

pub mod anthropic;
pub mod error;
pub mod http;
pub mod openai;
pub mod provider;
pub mod retry;
pub mod simulated;
pub mod stream;

use std::sync::Arc;

use palisade_config::{ProviderConfig, ProviderKind};

pub use error::UpstreamError;
pub use provider::{ChunkStream, Provider};

/// Builds the provider a config entry describes.
pub fn build_provider(cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, UpstreamError> {
    Ok(match &cfg.kind {
        ProviderKind::OpenAi(settings) => Arc::new(openai::OpenAiProvider::new(cfg, settings)?),
        ProviderKind::Anthropic(settings) => {
            Arc::new(anthropic::AnthropicProvider::new(cfg, settings.clone())?)
        }
        ProviderKind::Simulated(settings) => {
            Arc::new(simulated::SimulatedProvider::new(settings.clone()))
        }
    })
}
