//! An Anthropic model behind the gateway, end to end: the client speaks chat completions
//! to `palisade serve`, which translates to a mock Messages API and back — answers,
//! streams, scanning of the streamed answer, usage, and the refusals Anthropic implies
//! (no embeddings, no `n > 1`).

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Gateway, say_hi, user_message};
use palisade_testkit::mock_anthropic::start_mock;
use serde_json::{Value, json};

fn config(base_url: &str) -> String {
    format!(
        "[[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"{base_url}\"\napi_key = \"sk-ant-gateway-test\"\n\
         [[models]]\nname = \"claude\"\nprovider = \"claude\"\nupstream_model = \"claude-text\"\n\
         [[models]]\nname = \"claude-stream\"\nprovider = \"claude\"\nupstream_model = \"claude-stream-text\"\n\
         [[models]]\nname = \"claude-email\"\nprovider = \"claude\"\nupstream_model = \"claude-stream-email\"\n\
         [[scan.profiles]]\nname = \"default\"\nactions = {{ email = \"redact\" }}\n"
    )
}

/// The whole body of a streamed chat request.
async fn streamed_body(gw: &Gateway, key: &str, body: Value) -> String {
    gw.chat(key, body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The text and finish reason of an SSE chat stream, and its last usage.
fn stream_text(body: &str) -> (String, Option<String>, Value) {
    let (mut text, mut finish, mut usage) = (String::new(), None, Value::Null);
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            break;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        for choice in chunk["choices"].as_array().unwrap() {
            text.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
            if let Some(f) = choice["finish_reason"].as_str() {
                finish = Some(f.to_owned());
            }
        }
        if !chunk["usage"].is_null() {
            usage = chunk["usage"].clone();
        }
    }
    (text, finish, usage)
}

#[tokio::test]
async fn an_anthropic_model_answers_chat_completions_through_the_gateway() {
    let (url, mock) = start_mock().await;
    let gw = Gateway::start("", &config(&url)).await;
    let key = gw.api_key().await;

    let resp = gw.chat(&key, say_hi("claude")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "claude", "the name the client asked for");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there.");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 15);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    let seen = mock.seen();
    assert_eq!(seen[0].path, "/v1/messages");
    assert_eq!(seen[0].api_key.as_deref(), Some("sk-ant-gateway-test"));
    assert_eq!(seen[0].body["model"], "claude-text");

    let text = streamed_body(
        &gw,
        &key,
        json!({"model": "claude-stream", "stream": true, "stream_options": {"include_usage": true},
               "messages": user_message("hi")}),
    )
    .await;
    let (streamed, finish, usage) = stream_text(&text);
    assert_eq!(streamed, "Once upon a time.");
    assert_eq!(finish.as_deref(), Some("stop"));
    assert_eq!(usage["completion_tokens"], 9, "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}

#[tokio::test]
async fn the_streamed_answer_of_an_anthropic_model_is_scanned() {
    let (url, _mock) = start_mock().await;
    let gw = Gateway::start("", &config(&url)).await;
    let key = gw.api_key().await;
    let text = streamed_body(
        &gw,
        &key,
        json!({"model": "claude-email", "stream": true, "messages": user_message("hi")}),
    )
    .await;
    let (streamed, finish, _) = stream_text(&text);
    assert_eq!(streamed, "Write to [REDACTED_EMAIL] today.", "{text}");
    assert_eq!(finish.as_deref(), Some("stop"));
}

#[tokio::test]
async fn what_anthropic_cannot_do_is_a_clear_400() {
    let (url, mock) = start_mock().await;
    let gw = Gateway::start("", &config(&url)).await;
    let key = gw.api_key().await;
    let resp = gw
        .http
        .post(format!("{}/v1/embeddings", gw.base))
        .bearer_auth(&key)
        .json(&json!({"model": "claude", "input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_for_model", "{body}");

    let resp = gw
        .chat(
            &key,
            json!({"model": "claude", "n": 2, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_rejected_request", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("`n`"),
        "{body}"
    );
    assert!(mock.seen().is_empty(), "nothing reached Anthropic");
}
