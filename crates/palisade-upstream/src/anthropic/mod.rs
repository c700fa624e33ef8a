//! Anthropic's Messages API (`POST {base_url}/v1/messages`) behind the chat-completions
//! contract. `request` translates the OpenAI request, `response` the answer, and
//! `stream` the event stream; this module owns the HTTP exchange: headers
//! (`x-api-key`, `anthropic-version`), timeouts and retries (connect errors, 429, 5xx,
//! and an overload reported in the stream before any content). Anthropic has no
//! embeddings API.

mod request;
mod response;
mod stream;

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use palisade_config::{AnthropicSettings, ProviderConfig};
use palisade_protocol::anthropic::MessagesResponse;
use palisade_protocol::openai::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};

use crate::http::{self, HttpUpstream};
use crate::stream::sse_events;
use crate::{ChunkStream, Provider, UpstreamError};

pub struct AnthropicProvider {
    http: HttpUpstream,
    api_key: Option<String>,
    settings: AnthropicSettings,
    url: String,
}

impl AnthropicProvider {
    pub fn new(cfg: &ProviderConfig, settings: AnthropicSettings) -> Result<Self, UpstreamError> {
        let http = HttpUpstream::new(cfg)?;
        // The documented base URL has no `/v1`; accept one that does.
        let base = http.base_url.trim_end_matches('/');
        let url = match base.strip_suffix("/v1") {
            Some(root) => format!("{root}/v1/messages"),
            None => format!("{base}/v1/messages"),
        };
        Ok(AnthropicProvider {
            http,
            api_key: cfg.api_key.clone(),
            settings,
            url,
        })
    }

    /// Translates and serializes a request body.
    fn body(&self, req: &ChatRequest, stream: bool) -> Result<Vec<u8>, UpstreamError> {
        let mut msg = request::to_messages(req, &self.settings)?;
        msg.stream = stream.then_some(true);
        serde_json::to_vec(&msg).map_err(|e| UpstreamError::Protocol(e.to_string()))
    }

    fn post(&self, body: Vec<u8>) -> reqwest::RequestBuilder {
        let req = self
            .http
            .client
            .post(&self.url)
            .header("anthropic-version", &self.settings.version)
            .header("content-type", "application/json")
            .body(body);
        match &self.api_key {
            Some(key) => req.header("x-api-key", key),
            None => req,
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn default_output_cap(&self) -> Option<u64> {
        Some(self.settings.default_max_tokens)
    }

    async fn chat(&self, req: ChatRequest) -> Result<ChatResponse, UpstreamError> {
        let body = self.body(&req, false)?;
        let resp = self
            .http
            .retry
            .run(|| async {
                let resp = http::send(self.post(body.clone()).timeout(self.http.timeout)).await?;
                http::read_json::<MessagesResponse>(resp).await
            })
            .await?;
        Ok(response::to_chat_response(resp, now()))
    }

    async fn chat_stream(&self, req: ChatRequest) -> Result<ChunkStream, UpstreamError> {
        let body = self.body(&req, true)?;
        let events = self
            .http
            .retry
            .run(|| async {
                let send = http::send(
                    self.post(body.clone())
                        .header("accept", "text/event-stream"),
                );
                let resp = tokio::time::timeout(self.http.timeout, send)
                    .await
                    .map_err(|_| UpstreamError::Timeout)??;
                // An overload reported in the stream, before any content, is retried
                // like a 529 status.
                stream::until_content(sse_events(resp, self.http.timeout).boxed()).await
            })
            .await?;
        Ok(stream::chunks_from_events(events, now()))
    }

    async fn embeddings(
        &self,
        _req: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, UpstreamError> {
        Err(UpstreamError::Unsupported("embeddings"))
    }
}
