//! Any OpenAI-compatible upstream: OpenAI, Azure OpenAI (with a deployment base URL, its
//! `api-version` query and `api_key_header = "api-key"`), vLLM, Ollama, llama.cpp
//! server, LM Studio. Requests are forwarded as they came, with the routed model name;
//! streams ask for usage so the gateway can account for tokens. The key goes in the one
//! header the provider is configured for, never in both.

use async_trait::async_trait;
use futures::StreamExt;
use palisade_config::{KeyHeader, OpenAiSettings, ProviderConfig};
use palisade_protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, StreamOptions,
    ToolCallNumbering,
};
use serde_json::Map;

use crate::http::{self, HttpUpstream};
use crate::stream::sse_events;
use crate::{ChunkStream, Provider, UpstreamError};

pub struct OpenAiProvider {
    http: HttpUpstream,
    api_key: Option<String>,
    key_header: KeyHeader,
    /// Endpoint URLs, parsed once (not on every request).
    chat_url: reqwest::Url,
    embeddings_url: reqwest::Url,
}

impl OpenAiProvider {
    pub fn new(cfg: &ProviderConfig, settings: &OpenAiSettings) -> Result<Self, UpstreamError> {
        let http = HttpUpstream::new(cfg)?;
        Ok(OpenAiProvider {
            chat_url: http.endpoint("/chat/completions")?,
            embeddings_url: http.endpoint("/embeddings")?,
            http,
            api_key: cfg.api_key.clone(),
            key_header: settings.key_header,
        })
    }

    fn post(&self, url: &reqwest::Url) -> reqwest::RequestBuilder {
        let req = self.http.client.post(url.clone());
        match (&self.api_key, self.key_header) {
            (Some(key), KeyHeader::Bearer) => req.bearer_auth(key),
            (Some(key), KeyHeader::ApiKey) => req.header("api-key", key),
            (None, _) => req,
        }
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn kind(&self) -> &'static str {
        "openai"
    }

    async fn chat(&self, mut req: ChatRequest) -> Result<ChatResponse, UpstreamError> {
        req.stream = None;
        req.stream_options = None;
        let body = serde_json::to_vec(&req).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        self.http
            .retry
            .run(|| async {
                let resp = http::send(
                    self.post(&self.chat_url)
                        .timeout(self.http.timeout)
                        .header("content-type", "application/json")
                        .body(body.clone()),
                )
                .await?;
                http::read_json::<ChatResponse>(resp).await
            })
            .await
    }

    async fn chat_stream(&self, mut req: ChatRequest) -> Result<ChunkStream, UpstreamError> {
        req.stream = Some(true);
        let opts = req.stream_options.get_or_insert(StreamOptions {
            include_usage: None,
            extra: Map::new(),
        });
        opts.include_usage = Some(true);
        let body = serde_json::to_vec(&req).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let resp = self
            .http
            .retry
            .run(|| async {
                let send = http::send(
                    self.post(&self.chat_url)
                        .header("content-type", "application/json")
                        .header("accept", "text/event-stream")
                        .body(body.clone()),
                );
                tokio::time::timeout(self.http.timeout, send)
                    .await
                    .map_err(|_| UpstreamError::Timeout)?
            })
            .await?;
        Ok(chunks_from_sse(resp, self.http.timeout))
    }

    async fn embeddings(
        &self,
        req: EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, UpstreamError> {
        let body = serde_json::to_vec(&req).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        self.http
            .retry
            .run(|| async {
                let resp = http::send(
                    self.post(&self.embeddings_url)
                        .timeout(self.http.timeout)
                        .header("content-type", "application/json")
                        .body(body.clone()),
                )
                .await?;
                http::read_json::<EmbeddingsResponse>(resp).await
            })
            .await
    }
}

/// Most choices a stream's end is tracked for (a request asks for at most a few; the
/// gateway refuses chunks of choices it did not ask for).
const MAX_TRACKED_CHOICES: usize = 128;

/// Which choices of a stream have started and which have finished.
#[derive(Debug, Default)]
struct ChoiceEnds {
    open: std::collections::BTreeSet<u32>,
    finished: std::collections::BTreeSet<u32>,
}

impl ChoiceEnds {
    fn note(&mut self, chunk: &ChatChunk) {
        for choice in &chunk.choices {
            if choice.finish_reason.is_some() {
                self.open.remove(&choice.index);
                if self.finished.len() < MAX_TRACKED_CHOICES {
                    self.finished.insert(choice.index);
                }
            } else if !self.finished.contains(&choice.index)
                && self.open.len() < MAX_TRACKED_CHOICES
            {
                self.open.insert(choice.index);
            }
        }
    }

    /// Whether some choice finished and none is still open: a stream without `[DONE]`
    /// may end there.
    fn all_finished(&self) -> bool {
        !self.finished.is_empty() && self.open.is_empty()
    }
}

/// Maps an OpenAI SSE body to chunks. The stream must end with `[DONE]` (or at least a
/// `finish_reason` for every choice it started: with `n` > 1, one finished choice does not
/// make a stream cut off in another complete); one that simply stops is reported as
/// broken.
fn chunks_from_sse(resp: reqwest::Response, idle: std::time::Duration) -> ChunkStream {
    struct St {
        choices: ChoiceEnds,
        done: bool,
        numbering: ToolCallNumbering,
    }
    let events = sse_events(resp, idle).boxed();
    let stream = futures::stream::unfold(
        (
            events,
            St {
                choices: ChoiceEnds::default(),
                done: false,
                numbering: ToolCallNumbering::default(),
            },
        ),
        |(mut events, mut st)| async move {
            if st.done {
                return None;
            }
            loop {
                match events.next().await {
                    None => {
                        st.done = true;
                        if st.choices.all_finished() {
                            return None;
                        }
                        let err = UpstreamError::StreamBroken("stream ended before [DONE]".into());
                        return Some((Err(err), (events, st)));
                    }
                    Some(Err(e)) => {
                        st.done = true;
                        return Some((Err(e), (events, st)));
                    }
                    Some(Ok(ev)) => {
                        let data = ev.data.trim();
                        if data == "[DONE]" {
                            return None;
                        }
                        if data.is_empty() {
                            continue;
                        }
                        match serde_json::from_str::<ChatChunk>(data) {
                            Ok(mut chunk) => {
                                st.numbering.number(&mut chunk);
                                st.choices.note(&chunk);
                                return Some((Ok(chunk), (events, st)));
                            }
                            Err(_) => {
                                st.done = true;
                                let err = if data.contains("\"error\"") {
                                    UpstreamError::StreamBroken(
                                        "upstream sent an error event".into(),
                                    )
                                } else {
                                    UpstreamError::Protocol("invalid chunk in stream".into())
                                };
                                return Some((Err(err), (events, st)));
                            }
                        }
                    }
                }
            }
        },
    );
    Box::pin(stream)
}
