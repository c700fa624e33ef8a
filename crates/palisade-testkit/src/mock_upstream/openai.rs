//! The mock's OpenAI endpoints, written against raw JSON (not Palisade's own types), so
//! tests catch disagreements between Palisade and the real API shapes.

use base64::Engine as _;
use futures::StreamExt as _;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::behavior::Behavior;
use super::{Recorded, Shared};

pub const REPLY: &str = "Hello from the mock upstream, one word at a time.";

fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A 400 as OpenAI words a prompt too long for the model: a code and a param that
    // clients match on.
    let (kind, error_code, param) = match status {
        400 => (
            "invalid_request_error",
            "context_length_exceeded",
            json!("messages"),
        ),
        _ => ("mock_error", "mock", Value::Null),
    };
    let body =
        json!({"error": {"message": message, "type": kind, "code": error_code, "param": param}});
    let mut resp = (code, Json(body)).into_response();
    if status == 429 {
        // As OpenAI does: when to come back.
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}

/// Applies the scenario before answering; `Some` is the answer to send instead.
async fn prelude(shared: &Shared, model: &str) -> Option<Response> {
    match Behavior::for_model(model) {
        // Naming the model, as OpenAI's "The model `…` does not exist" does.
        Behavior::Error(status) => {
            Some(error(status, &format!("mock failure for model `{model}`")))
        }
        Behavior::Flaky(n) if shared.count(model) < n => Some(error(503, "mock is warming up")),
        Behavior::Slow(d) => {
            tokio::time::sleep(d).await;
            None
        }
        _ => None,
    }
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: &Value) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.remember(Recorded {
        path: path.to_owned(),
        authorization,
        body: body.clone(),
    });
}

/// The tool call the mock makes when the request offers tools (or legacy functions:
/// [`legacy_call`]) and the user spoke last. Its arguments are `{"city":"Paris"}`, or
/// for `echo-<n>`/`rot13-<n>` the reply text as `{"text": …}` (so tests can make a model
/// put a value in tool-call arguments).
fn tool_call(req: &Value, behavior: Behavior) -> Option<Value> {
    let last_role = req["messages"].as_array()?.last()?["role"].as_str()?;
    if last_role != "user" {
        return None;
    }
    let name = match req["tools"].as_array() {
        Some(tools) => tools.first()?["function"]["name"].as_str()?,
        None => req["functions"].as_array()?.first()?["name"].as_str()?,
    };
    let arguments = match behavior {
        Behavior::Echo(_) | Behavior::Rot13(_) => {
            json!({"text": reply_text(req, behavior)}).to_string()
        }
        _ => "{\"city\":\"Paris\"}".to_owned(),
    };
    let mut call = json!({"id": "call_mock_1", "type": "function", "function": {"name": name, "arguments": arguments}});
    if gemini(req) {
        call["extra_content"] = json!({"google": {"thought_signature": GEMINI_SIGNATURE}});
    }
    Some(call)
}

/// The signature `mock_gemini` puts on its tool calls, as Gemini's OpenAI endpoint does.
const GEMINI_SIGNATURE: &str = "c2lnbmF0dXJlLW9mLXRoZS1jYWxs";

/// Whether the request asks the mock to answer as Gemini's OpenAI endpoint does
/// (`mock_gemini: true`): a `thought_signature` on each tool call, and streamed chunks
/// without `id` or `created` whose tool-call fragments have no `index`.
fn gemini(req: &Value) -> bool {
    req["mock_gemini"] == true
}

/// Whether the request offers legacy `functions` (and no tools): the call is answered as
/// a legacy `function_call`, finishing with `function_call`.
fn legacy_call(req: &Value) -> bool {
    req["tools"].is_null() && req["functions"].is_array()
}

fn reply_text(req: &Value, behavior: Behavior) -> String {
    let last = req["messages"].as_array().and_then(|m| m.last());
    let last_text = || {
        last.and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    match behavior {
        Behavior::Echo(_) => return last_text(),
        Behavior::Rot13(_) => return rot13(&last_text()),
        _ => {}
    }
    match last {
        Some(m) if m["role"] == "tool" => {
            format!("Tool said: {}", m["content"].as_str().unwrap_or(""))
        }
        _ => REPLY.to_owned(),
    }
}

/// The answer of a model asked to reason (`reasoning_effort` in the request): the reply
/// goes to `reasoning_content`, as DeepSeek and vLLM send it, and this to `content`.
const REASONED: &str = "Done thinking.";

fn reasons(req: &Value) -> bool {
    req.get("reasoning_effort").is_some_and(|v| !v.is_null())
}

fn wants_logprobs(req: &Value) -> bool {
    req["logprobs"].as_bool() == Some(true)
}

/// Where `mock_beside` in the request asks for the reply text to go again, beside the
/// message: `choice` (a choice-level `refusal` in a stream, a choice-level `note`
/// otherwise) or `response` (a top-level `citations` list).
fn beside(req: &Value) -> Option<&str> {
    req["mock_beside"].as_str()
}

/// OpenAI's `logprobs` object for tokens `tokens` (made-up probabilities).
fn logprobs(tokens: &[&str]) -> Value {
    let content: Vec<Value> = tokens
        .iter()
        .map(|t| {
            // The token the model did not choose: the same one, upper-cased.
            let alt = t.to_uppercase();
            json!({"token": t, "logprob": -0.25, "bytes": t.as_bytes(),
                   "top_logprobs": [{"token": alt, "logprob": -2.5, "bytes": alt.as_bytes()}]})
        })
        .collect();
    json!({"content": content, "refusal": null})
}

fn rot13(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a' + 13) % 26) + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A' + 13) % 26) + b'A') as char,
            '0'..='9' => (((c as u8 - b'0' + 5) % 10) + b'0') as char,
            _ => c,
        })
        .collect()
}

/// `text` in pieces of about `n` bytes, on char boundaries.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let mut j = (i + n).min(text.len());
        while !text.is_char_boundary(j) {
            j += 1;
        }
        out.push(&text[i..j]);
        i = j;
    }
    out
}

pub async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "invalid JSON");
    };
    record(&shared, "/v1/chat/completions", &headers, &req);
    let model = req["model"].as_str().unwrap_or("").to_owned();
    if let Some(resp) = prelude(&shared, &model).await {
        return resp;
    }
    let behavior = Behavior::for_model(&model);
    if req["mock_reject"] == true {
        // A provider's client error quoting the request, as validation errors do.
        let quoted = format!("Invalid prompt: {}", reply_text(&req, behavior));
        return error(400, &quoted);
    }
    let usage = json!({"prompt_tokens": 11, "completion_tokens": 10, "total_tokens": 21});
    let call = tool_call(&req, behavior);
    if req["stream"].as_bool() == Some(true) {
        return stream(&req, &model, behavior, call, usage);
    }
    let reasons = reasons(&req);
    let message = match &call {
        Some(c) if legacy_call(&req) => {
            json!({"role": "assistant", "content": null, "function_call": c["function"]})
        }
        Some(c) => json!({"role": "assistant", "content": null, "tool_calls": [c]}),
        None if reasons => {
            let text = reply_text(&req, behavior);
            json!({"role": "assistant", "content": REASONED, "reasoning_content": text,
                   "reasoning_details": [{"type": "reasoning.text", "text": text, "format": "unknown"}]})
        }
        None => json!({"role": "assistant", "content": reply_text(&req, behavior)}),
    };
    let logprobs = match (&call, wants_logprobs(&req)) {
        (None, true) => {
            let text = message["content"].as_str().unwrap_or_default().to_owned();
            logprobs(&pieces(&text, 3))
        }
        _ => Value::Null,
    };
    let finish = match &call {
        Some(_) if legacy_call(&req) => "function_call",
        Some(_) => "tool_calls",
        None => "stop",
    };
    let mut resp = json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}],
        "usage": usage,
    });
    match beside(&req) {
        Some("choice") => resp["choices"][0]["note"] = json!(reply_text(&req, behavior)),
        Some("response") => resp["citations"] = json!([reply_text(&req, behavior)]),
        _ => {}
    }
    if let Behavior::Break(_) = behavior {
        let text = resp.to_string();
        let cut = text.len() / 2;
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            text[..cut].to_owned(),
        )
            .into_response();
    }
    Json(resp).into_response()
}

fn stream(
    req: &Value,
    model: &str,
    behavior: Behavior,
    call: Option<Value>,
    usage: Value,
) -> Response {
    let chunk_of = |index: u64, delta: Value, finish: Value| {
        let mut chunk = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
               "choices": [{"index": index, "delta": delta, "finish_reason": finish}]});
        if let (true, Some(fields)) = (gemini(req), chunk.as_object_mut()) {
            fields.remove("id");
            fields.remove("created");
        }
        chunk
    };
    let chunk = |delta: Value, finish: Value| chunk_of(0, delta, finish);
    // With `n`, the other choices say `ok ` as often as the first one speaks.
    let n = req["n"].as_u64().unwrap_or(1).clamp(1, 8);
    let mut events: Vec<Value> = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    match call {
        Some(c) => {
            let args = c["function"]["arguments"]
                .as_str()
                .unwrap_or("{}")
                .to_owned();
            let legacy = legacy_call(req);
            let name = &c["function"]["name"];
            events.push(chunk(
                match legacy {
                    true => json!({"function_call": {"name": name, "arguments": ""}}),
                    false if gemini(req) => json!({"tool_calls": [{"id": c["id"], "type": "function",
                        "function": {"name": name, "arguments": ""}, "extra_content": c["extra_content"]}]}),
                    false => json!({"tool_calls": [{"index": 0, "id": c["id"], "type": "function",
                                                   "function": {"name": name, "arguments": ""}}]}),
                },
                Value::Null,
            ));
            let parts: Vec<&str> = match behavior.chunk_bytes() {
                Some(n) => pieces(&args, n),
                None => {
                    let (a, b) = args.split_at(args.len() / 2);
                    vec![a, b]
                }
            };
            for part in parts {
                events.push(chunk(
                    match legacy {
                        true => json!({"function_call": {"arguments": part}}),
                        false if gemini(req) => {
                            json!({"tool_calls": [{"function": {"arguments": part}}]})
                        }
                        false => {
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
                        }
                    },
                    Value::Null,
                ));
            }
            let finish = if legacy {
                "function_call"
            } else {
                "tool_calls"
            };
            events.push(chunk(json!({}), json!(finish)));
        }
        None => {
            let text = reply_text(req, behavior);
            let parts: Vec<&str> = match behavior.chunk_bytes() {
                Some(n) => pieces(&text, n),
                None => text.split_inclusive(' ').collect(),
            };
            let (field, with_logprobs) = if reasons(req) {
                ("reasoning_content", false)
            } else {
                ("content", wants_logprobs(req))
            };
            for part in parts {
                let mut event = chunk(json!({ field: part }), Value::Null);
                if field != "content" {
                    // As OpenRouter streams it: the same text again, in a field of its own.
                    event["choices"][0]["delta"]["reasoning_details"] =
                        json!([{"type": "reasoning.text", "text": part}]);
                }
                if with_logprobs {
                    event["choices"][0]["logprobs"] = logprobs(&[part]);
                }
                events.push(event);
                for i in 1..n {
                    events.push(chunk_of(i, json!({ field: "ok " }), Value::Null));
                }
            }
            if field != "content" {
                events.push(chunk(json!({"content": REASONED}), Value::Null));
            }
            match beside(req) {
                Some("choice") => {
                    let mut event = chunk(json!({}), Value::Null);
                    event["choices"][0]["refusal"] = json!(text);
                    events.push(event);
                }
                Some("response") => {
                    let mut event = chunk(json!({}), Value::Null);
                    event["citations"] = json!([text]);
                    events.push(event);
                }
                _ => {}
            }
            for i in 0..n {
                events.push(chunk_of(i, json!({}), json!("stop")));
            }
        }
    }
    let include_usage = req["stream_options"]["include_usage"].as_bool() == Some(true);
    if include_usage {
        events.push(json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage}));
    }
    let mut frames: Vec<Result<Bytes, std::io::Error>> = events
        .iter()
        .map(|e| Ok(Bytes::from(format!("data: {e}\n\n"))))
        .collect();
    match behavior {
        Behavior::Break(n) => {
            frames.truncate(n);
            frames.push(Err(std::io::Error::other("mock breaks the stream")));
        }
        Behavior::NoDone => {
            // Cut before the last choice's finish (and the usage after it): with `n` > 1
            // the other choices did finish.
            let last_finish = events
                .iter()
                .rposition(|e| e["choices"][0]["finish_reason"].is_string());
            frames.truncate(last_finish.unwrap_or(frames.len()).max(1));
        }
        _ => frames.push(Ok(Bytes::from_static(b"data: [DONE]\n\n"))),
    }
    // Paced frames, so what came before a break is flushed to the client first.
    let paced = matches!(behavior, Behavior::Break(_));
    let body = Body::from_stream(futures::stream::iter(frames).then(move |frame| async move {
        if paced {
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
        frame
    }));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream")],
        body,
    )
        .into_response()
}

pub async fn embeddings(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "invalid JSON");
    };
    record(&shared, "/v1/embeddings", &headers, &req);
    let model = req["model"].as_str().unwrap_or("").to_owned();
    if let Some(resp) = prelude(&shared, &model).await {
        return resp;
    }
    let n = match &req["input"] {
        Value::Array(items) if items.iter().all(Value::is_string) => items.len(),
        _ => 1,
    };
    let base64 = req["encoding_format"] == "base64";
    let vector = [0.6f32, 0.8, 0.0];
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Json(json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 4, "total_tokens": 4}})).into_response()
}

pub async fn models() -> Response {
    Json(json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]})).into_response()
}

pub async fn recorded(State(shared): State<Arc<Shared>>) -> Response {
    let requests: Vec<super::Recorded> = shared
        .requests
        .lock()
        .map(|q| q.iter().cloned().collect())
        .unwrap_or_default();
    Json(json!({"requests": requests})).into_response()
}
