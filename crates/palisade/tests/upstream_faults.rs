//! Upstream failures reach the client as documented errors — 502 `upstream_error`, 504
//! `upstream_timeout`, the upstream's own 4xx message, or a terminated SSE stream with an
//! error event — never a hang or a crash. Retries happen before any byte was sent.
// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, free_port, openai_provider, say_hi, user_message};
use palisade_testkit::mock_upstream::MockUpstream;
use serde_json::{Value, json};

async fn setup(provider_extra: &str) -> (MockUpstream, Gateway, String) {
    let mock = MockUpstream::start().await.expect("mock");
    let models = [
        ("ok", "gpt-4o-mini"),
        ("e500", "error-500"),
        ("e400", "error-400"),
        ("e429", "error-429"),
        ("e401", "error-401"),
        ("slow", "slow-3000"),
        ("broken", "break-3"),
        ("nodone", "nodone"),
        ("flaky", "flaky-2"),
    ];
    let upstreams = openai_provider("mock", &mock.base_url(), provider_extra, &models)
        + &openai_provider(
            "dead",
            &format!("http://127.0.0.1:{}/v1", free_port()),
            "max_retries = 1\nretry_backoff_ms = 10",
            &[("refused", "x")],
        );
    let gw = Gateway::start("", &upstreams).await;
    let key = gw.api_key().await;
    (mock, gw, key)
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().contains_key("x-request-id"));
    (status, resp.json().await.expect("error body"))
}

#[tokio::test]
async fn connection_refused_is_502_upstream_error() {
    let (_mock, gw, key) = setup("").await;
    let (status, body) = call(&gw, &key, "refused").await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_error");
    assert_eq!(body["error"]["type"], "server_error");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "internal addresses must not leak"
    );
}

/// The provider refusing the gateway's own key is the operator's problem, and says so
/// (not the generic "failed to answer", which reads like an outage).
#[tokio::test]
async fn upstream_401_is_502_upstream_auth_failed() {
    let (_mock, gw, key) = setup("").await;
    let (status, body) = call(&gw, &key, "e401").await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_auth_failed");
    assert_eq!(body["error"]["type"], "server_error");
}

#[tokio::test]
async fn upstream_500_is_retried_then_reported_as_502() {
    let (mock, gw, key) = setup("max_retries = 2\nretry_backoff_ms = 5").await;
    let (status, body) = call(&gw, &key, "e500").await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_error");
    let calls = mock
        .requests()
        .iter()
        .filter(|r| r.body["model"] == "error-500")
        .count();
    assert_eq!(calls, 3, "one try and two retries");
}

#[tokio::test]
async fn flaky_upstream_succeeds_after_retries() {
    let (_mock, gw, key) = setup("max_retries = 2\nretry_backoff_ms = 5").await;
    let resp = gw.chat(&key, say_hi("flaky")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "flaky");
}

#[tokio::test]
async fn upstream_client_errors_keep_their_status_and_message() {
    let (mock, gw, key) = setup("max_retries = 2\nretry_backoff_ms = 5").await;
    let (status, body) = call(&gw, &key, "e400").await;
    assert_eq!(status, 400);
    // The provider's code and param, which clients match on (`context_length_exceeded`).
    assert_eq!(body["error"]["code"], "context_length_exceeded", "{body}");
    assert_eq!(body["error"]["param"], "messages", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mock failure"), "{message}");
    // The model behind the name the client used stays private.
    assert!(
        message.contains("`e400`") && !message.contains("error-400"),
        "{message}"
    );
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.body["model"] == "error-400")
            .count(),
        1,
        "4xx is not retried"
    );
    let resp = gw.chat(&key, say_hi("e429")).send().await.unwrap();
    // The provider's `Retry-After` reaches the client (after the gateway's own retries,
    // which waited for it).
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(
        resp.headers()["retry-after-ms"],
        "1000",
        "and in the form the OpenAI SDKs read first"
    );
    let (status, body) = error_of(resp).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "upstream_rate_limited");
}

#[tokio::test]
async fn slow_upstream_is_504_upstream_timeout() {
    let (_mock, gw, key) = setup("timeout_ms = 300\nmax_retries = 0").await;
    let started = Instant::now();
    let (status, body) = call(&gw, &key, "slow").await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the timeout, not the upstream, ended the call"
    );
    let (status, _) = error_of(
        gw.chat(
            &key,
            json!({"model": "slow", "stream": true, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 504, "a stream that never opens times out too");
}

/// A non-streaming chat for `model`, answered with an error.
async fn call(gw: &Gateway, key: &str, model: &str) -> (u16, Value) {
    let body = json!({"model": model, "messages": user_message("hi")});
    error_of(gw.chat(key, body).send().await.unwrap()).await
}

/// Reads a whole SSE body and returns its `data:` payloads.
async fn sse_data(resp: reqwest::Response) -> Vec<String> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .expect("stream must end")
        .expect("body");
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn stream_that_breaks_midway_ends_with_an_error_event() {
    let (_mock, gw, key) = setup("max_retries = 0").await;
    let data = sse_data(
        gw.chat(
            &key,
            json!({"model": "broken", "stream": true, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error", "{data:?}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    // The text before the break is delivered (output scanning may merge held deltas).
    let chunks = &data[..data.len() - 1];
    let text: String = chunks
        .iter()
        .filter_map(|c| serde_json::from_str::<Value>(c).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        text, "Hello from ",
        "the text before the break is delivered: {data:?}"
    );
    for c in chunks {
        let v: Value = serde_json::from_str(c).unwrap();
        assert_eq!(v["model"], "broken");
    }
}

#[tokio::test]
async fn stream_without_done_is_reported_not_silently_truncated() {
    let (_mock, gw, key) = setup("max_retries = 0").await;
    let data = sse_data(
        gw.chat(
            &key,
            json!({"model": "nodone", "stream": true, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error");
    // With two choices, one finished does not make the other's cut-off complete.
    let data = sse_data(
        gw.chat(
            &key,
            json!({"model": "nodone", "stream": true, "n": 2, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let finished = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["choices"][0]["finish_reason"].is_string())
        .count();
    assert_eq!(finished, 1, "{data:?}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error", "{data:?}");
}

#[tokio::test]
async fn truncated_non_streaming_body_is_502() {
    let (_mock, gw, key) = setup("max_retries = 0").await;
    let (status, body) = call(&gw, &key, "broken").await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_error");
}

#[tokio::test]
async fn healthy_stream_ends_with_done_and_routes_the_upstream_model() {
    let (mock, gw, key) = setup("").await;
    let data = sse_data(gw.chat(&key, json!({"model": "ok", "stream": true, "messages": user_message("hi"), "palisade_unknown": {"a": 1}})).send().await.unwrap()).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let text: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello from the mock upstream, one word at a time.");
    assert!(
        data.iter().all(|d| !d.contains("\"usage\"")),
        "usage only when the client asked for it"
    );
    let forwarded = mock.requests().last().unwrap().body.clone();
    assert_eq!(forwarded["model"], "gpt-4o-mini");
    assert_eq!(
        forwarded["palisade_unknown"],
        json!({"a": 1}),
        "unknown fields pass through"
    );
    assert_eq!(
        forwarded["stream_options"]["include_usage"], true,
        "the gateway always asks for usage"
    );
}
