//! The Anthropic provider against a mock Messages API (`palisade_testkit::mock_anthropic`,
//! axum on 127.0.0.1:0): each test checks what the mock received (headers, translated body) and
//! what the provider made of the canned answer, streaming and not, errors included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::StreamExt;
use palisade_config::{AnthropicSettings, ProviderConfig, ProviderKind};
use palisade_protocol::openai::{ChatChunk, ChatRequest, EmbeddingsRequest, MessageContent, Usage};
use palisade_upstream::anthropic::AnthropicProvider;
use palisade_upstream::{Provider, UpstreamError};
use serde_json::{Value, json};

use palisade_testkit::mock_anthropic::start_mock;

fn provider(base_url: &str) -> AnthropicProvider {
    let settings = AnthropicSettings {
        version: "2023-06-01".into(),
        default_max_tokens: 1024,
    };
    let cfg = ProviderConfig {
        name: "anthropic".into(),
        kind: ProviderKind::Anthropic(settings.clone()),
        base_url: base_url.to_owned(),
        api_key: Some("sk-ant-test".into()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries: 2,
        retry_backoff: Duration::from_millis(5),
        max_idle_per_host: 4,
    };
    AnthropicProvider::new(&cfg, settings).unwrap()
}

fn request(model: &str) -> ChatRequest {
    serde_json::from_value(json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "Be helpful."},
            {"role": "user", "content": "What's the weather in Paris?"}
        ],
        "temperature": 0.3,
        "presence_penalty": 1.0
    }))
    .unwrap()
}

async fn collect(p: &AnthropicProvider, model: &str) -> Vec<Result<ChatChunk, UpstreamError>> {
    p.chat_stream(request(model)).await.unwrap().collect().await
}

fn text_of(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect()
}

#[tokio::test]
async fn non_streaming_text() {
    let (url, mock) = start_mock().await;
    let resp = provider(&url).chat(request("claude-text")).await.unwrap();
    assert_eq!(resp.id, "chatcmpl-msg_text");
    assert_eq!(resp.object, "chat.completion");
    assert_eq!(resp.model, "claude-real");
    assert!(resp.created > 0);
    let choice = &resp.choices[0];
    assert_eq!(choice.message.role, "assistant");
    assert_eq!(
        choice.message.content,
        Some(MessageContent::Text("Hello there.".into()))
    );
    assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
    // Cache reads are prompt tokens, and reported as cached.
    assert_eq!(
        resp.usage,
        Some(Usage::new(15, 6).with_cached_tokens(Some(3)))
    );

    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.path, "/v1/messages");
    assert_eq!(s.api_key.as_deref(), Some("sk-ant-test"));
    assert_eq!(s.version.as_deref(), Some("2023-06-01"));
    assert_eq!(s.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        s.body,
        json!({
            "model": "claude-text",
            "system": "Be helpful.",
            "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
            "max_tokens": 1024,
            "temperature": 0.3
        })
    );
}

#[tokio::test]
async fn non_streaming_tool_use() {
    let (url, mock) = start_mock().await;
    let mut req = request("claude-tool");
    req.tools = Some(vec![
        serde_json::from_value(json!({"type": "function", "function": {
            "name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}))
        .unwrap(),
    ]);
    req.tool_choice = Some(json!("required"));
    let resp = provider(&url).chat(req).await.unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "toolu_01");
    assert_eq!(calls[0].kind, "function");
    assert_eq!(calls[0].function.name, "get_weather");
    let args: Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
    assert_eq!(args, json!({"city": "Paris", "days": 2}));

    let body = &mock.seen()[0].body;
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
}

#[tokio::test]
async fn retries_a_500_then_succeeds() {
    let (url, mock) = start_mock().await;
    let resp = provider(&url).chat(request("claude-flaky")).await.unwrap();
    assert_eq!(
        resp.choices[0].message.content,
        Some(MessageContent::Text("recovered".into()))
    );
    assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("length"));
    assert_eq!(mock.seen().len(), 2);
}

#[tokio::test]
async fn client_error_message_is_surfaced_without_retry() {
    let (url, mock) = start_mock().await;
    let err = provider(&url)
        .chat(request("claude-bad"))
        .await
        .unwrap_err();
    match err {
        UpstreamError::Status {
            status, message, ..
        } => {
            assert_eq!(status, 400);
            assert_eq!(message.as_deref(), Some("messages.0: bad content"));
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert_eq!(mock.seen().len(), 1);
    // The stream path reports the same error before any chunk.
    let err = provider(&url)
        .chat_stream(request("claude-bad"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, UpstreamError::Status { status: 400, .. }));
}

#[tokio::test]
async fn streaming_text_with_usage() {
    let (url, mock) = start_mock().await;
    let out = collect(&provider(&url), "claude-stream-text").await;
    let chunks: Vec<ChatChunk> = out.into_iter().map(|r| r.unwrap()).collect();
    assert!(
        chunks
            .iter()
            .all(|c| c.id == "chatcmpl-msg_st" && c.model == "claude-real")
    );
    assert!(chunks.iter().all(|c| c.created == chunks[0].created));
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(text_of(&chunks), "Once upon a time.");
    assert_eq!(chunks.len(), 6, "{chunks:#?}");
    let finish = &chunks[4];
    assert_eq!(finish.choices[0].finish_reason.as_deref(), Some("stop"));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage, Some(Usage::new(25, 9)));

    let s = &mock.seen()[0];
    assert_eq!(s.body["stream"], json!(true));
    assert_eq!(s.api_key.as_deref(), Some("sk-ant-test"));
    assert_eq!(s.version.as_deref(), Some("2023-06-01"));
}

#[tokio::test]
async fn streaming_tool_use_arguments_concatenate() {
    let (url, _mock) = start_mock().await;
    let out = collect(&provider(&url), "claude-stream-tool").await;
    let chunks: Vec<ChatChunk> = out.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(text_of(&chunks), "Looking up.");
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for delta in chunks
        .iter()
        .flat_map(|c| &c.choices)
        .flat_map(|c| c.delta.tool_calls.iter().flatten())
    {
        let i = delta.index as usize;
        if i == calls.len() {
            assert_eq!(delta.kind.as_deref(), Some("function"));
            let name = delta
                .function
                .as_ref()
                .and_then(|f| f.name.clone())
                .unwrap();
            calls.push((delta.id.clone().unwrap(), name, String::new()));
        } else {
            assert!(delta.id.is_none());
        }
        calls[i].2.push_str(
            delta
                .function
                .as_ref()
                .and_then(|f| f.arguments.as_deref())
                .unwrap_or(""),
        );
    }
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].0.as_str(), calls[0].1.as_str()),
        ("toolu_a", "get_weather")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].2).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(
        (calls[1].0.as_str(), calls[1].1.as_str()),
        ("toolu_b", "get_time")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&calls[1].2).unwrap(),
        json!({"tz": "CET"})
    );
    let finishes: Vec<_> = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.finish_reason.as_deref())
        .collect();
    assert_eq!(finishes, ["tool_calls"]);
    assert_eq!(chunks.last().unwrap().usage, Some(Usage::new(25, 40)));
}

#[tokio::test]
async fn error_event_mid_stream_ends_with_err() {
    let (url, _mock) = start_mock().await;
    let out = collect(&provider(&url), "claude-stream-error").await;
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        out[1].as_ref().unwrap().choices[0].delta.content.as_deref(),
        Some("partial")
    );
    match &out[2] {
        Err(UpstreamError::StreamBroken(m)) => assert!(m.contains("overloaded_error"), "{m}"),
        other => panic!("expected StreamBroken, got {other:?}"),
    }
}

#[tokio::test]
async fn an_overload_before_any_content_is_retried() {
    // Anthropic may answer 200 and then report `overloaded_error` as the stream's first
    // events: nothing reached the client, so the request is sent again.
    let (url, mock) = start_mock().await;
    let out = collect(&provider(&url), "claude-stream-overloaded-once").await;
    let chunks: Vec<ChatChunk> = out.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(text_of(&chunks), "served");
    assert_eq!(mock.seen().len(), 2, "one retry");
}

#[tokio::test]
async fn stream_cut_before_message_stop_ends_with_err() {
    let (url, _mock) = start_mock().await;
    let out = collect(&provider(&url), "claude-stream-cut").await;
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        out[1].as_ref().unwrap().choices[0].delta.content.as_deref(),
        Some("and then")
    );
    assert!(matches!(
        out.last(),
        Some(Err(UpstreamError::StreamBroken(_)))
    ));
}

#[tokio::test]
async fn base_url_with_v1_and_no_api_key() {
    let (url, mock) = start_mock().await;
    let settings = AnthropicSettings {
        version: "2024-01-01".into(),
        default_max_tokens: 77,
    };
    let cfg = ProviderConfig {
        name: "a".into(),
        kind: ProviderKind::Anthropic(settings.clone()),
        base_url: format!("{url}/v1"),
        api_key: None,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries: 0,
        retry_backoff: Duration::from_millis(5),
        max_idle_per_host: 1,
    };
    let p = AnthropicProvider::new(&cfg, settings).unwrap();
    assert_eq!(p.kind(), "anthropic");
    p.chat(request("claude-text")).await.unwrap();
    let s = &mock.seen()[0];
    assert_eq!(s.api_key, None);
    assert_eq!(s.version.as_deref(), Some("2024-01-01"));
    assert_eq!(s.body["max_tokens"], 77);

    let emb: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "m", "input": "x"})).unwrap();
    assert!(matches!(
        p.embeddings(emb).await,
        Err(UpstreamError::Unsupported("embeddings"))
    ));
}

#[tokio::test]
async fn invalid_tool_arguments_fail_as_400_without_calling_upstream() {
    let (url, mock) = start_mock().await;
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "claude-text",
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1,"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"}
        ]
    }))
    .unwrap();
    let err = provider(&url).chat(req).await.unwrap_err();
    assert!(matches!(
        err,
        UpstreamError::Status {
            status: 400,
            message: Some(_),
            ..
        }
    ));
    assert!(mock.seen().is_empty());
}

#[tokio::test]
async fn the_cap_it_sends_when_the_request_has_none_is_known_to_limits() {
    let (url, mock) = start_mock().await;
    let p = provider(&url);
    assert_eq!(p.default_output_cap(), Some(1024));
    p.chat(request("claude-text")).await.unwrap();
    assert_eq!(mock.seen()[0].body["max_tokens"], 1024);
}
