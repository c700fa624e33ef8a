//! A mock Anthropic Messages API (`POST /v1/messages`): an axum server on 127.0.0.1:0
//! that records every request (path, headers, body) and answers with canned responses
//! and event streams chosen by the request's model name (`claude-text`, `claude-tool`,
//! `claude-stream-…`, `claude-flaky`, … in `messages`). Used by the Anthropic
//! provider's tests and by the gateway's.

// A harness: a mock that cannot bind or lock should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the mock saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub api_key: Option<String>,
    pub version: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct Mock {
    seen: Arc<Mutex<Vec<Seen>>>,
    calls: Arc<Mutex<HashMap<String, u32>>>,
}

impl Mock {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn message(id: &str, model: &str, content: Value, stop: &str, usage: Value) -> Value {
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage
    })
}

fn sse(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {}\n\n", e["type"].as_str().unwrap(), e))
        .collect()
}

fn stream_start(id: &str) -> Value {
    let mut msg = message(
        id,
        "claude-real",
        json!([]),
        "",
        json!({"input_tokens": 25, "output_tokens": 1}),
    );
    msg["stop_reason"] = Value::Null;
    json!({"type": "message_start", "message": msg})
}

fn text_delta(index: u32, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

fn json_delta(index: u32, part: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": part}})
}

fn event_stream(body: String) -> Response {
    // Deliver the body in small pieces so events straddle reads.
    let pieces: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(13)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let body = Body::from_stream(futures::stream::iter(pieces));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream")],
        body,
    )
        .into_response()
}

async fn messages(State(mock): State<Mock>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    mock.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        api_key: header_str(&headers, "x-api-key"),
        version: header_str(&headers, "anthropic-version"),
        content_type: header_str(&headers, "content-type"),
        body,
    });
    let call = {
        let mut calls = mock.calls.lock().unwrap();
        let n = calls.entry(model.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let usage = json!({"input_tokens": 12, "output_tokens": 6, "cache_read_input_tokens": 3});
    match model.as_str() {
        "claude-text" => axum::Json(message(
            "msg_text",
            "claude-real",
            json!([{"type": "text", "text": "Hello "}, {"type": "text", "text": "there."}]),
            "end_turn",
            usage,
        ))
        .into_response(),
        "claude-tool" => axum::Json(message(
            "msg_tool",
            "claude-real",
            json!([{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris", "days": 2}}]),
            "tool_use",
            usage,
        ))
        .into_response(),
        "claude-flaky" if call == 1 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"type": "error", "error": {"type": "api_error", "message": "boom"}})),
        )
            .into_response(),
        "claude-flaky" => axum::Json(message(
            "msg_flaky",
            "claude-real",
            json!([{"type": "text", "text": "recovered"}]),
            "max_tokens",
            usage,
        ))
        .into_response(),
        "claude-bad" => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages.0: bad content"}})),
        )
            .into_response(),
        "claude-stream-text" => event_stream(sse(&[
            stream_start("msg_st"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            text_delta(0, "Once"),
            text_delta(0, " upon"),
            text_delta(0, " a time."),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ])),
        "claude-stream-tool" => event_stream(sse(&[
            stream_start("msg_tt"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            text_delta(0, "Looking up."),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}}),
            json_delta(1, ""),
            json_delta(1, "{\"ci"),
            json_delta(1, "ty\": \"Par"),
            json_delta(1, "is\"}"),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}}),
            json_delta(2, "{\"tz\":"),
            json_delta(2, "\"CET\"}"),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 40}}),
            json!({"type": "message_stop"}),
        ])),
        "claude-stream-error" => event_stream(sse(&[
            stream_start("msg_se"),
            text_delta(0, "partial"),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ])),
        // Overloaded on the first call, in the stream (after a 200); fine on the next.
        "claude-stream-overloaded-once" if call == 1 => event_stream(sse(&[
            stream_start("msg_so"),
            json!({"type": "ping"}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ])),
        "claude-stream-overloaded-once" => event_stream(sse(&[
            stream_start("msg_so2"),
            text_delta(0, "served"),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 1}}),
            json!({"type": "message_stop"}),
        ])),
        // An address split over several deltas, for scanning through the gateway.
        "claude-stream-email" => event_stream(sse(&[
            stream_start("msg_sm"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            text_delta(0, "Write to ada.love"),
            text_delta(0, "lace@exam"),
            text_delta(0, "ple.org today."),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ])),
        "claude-stream-cut" => event_stream(sse(&[
            stream_start("msg_sc"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            text_delta(0, "and then"),
        ])),
        _ => (StatusCode::NOT_FOUND, "unknown model").into_response(),
    }
}

pub async fn start_mock() -> (String, Mock) {
    let mock = Mock::default();
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), mock)
}
