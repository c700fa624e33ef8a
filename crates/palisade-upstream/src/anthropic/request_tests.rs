//! Unit tests for the OpenAI → Anthropic request translation (`request.rs`).

use super::*;
use serde_json::json;

fn settings() -> AnthropicSettings {
    AnthropicSettings {
        version: "2023-06-01".into(),
        default_max_tokens: 4096,
    }
}

fn chat(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn translate(v: Value) -> Value {
    serde_json::to_value(to_messages(&chat(v), &settings()).unwrap()).unwrap()
}

fn translate_err(v: Value) -> String {
    match to_messages(&chat(v), &settings()) {
        Err(UpstreamError::Status {
            status: 400,
            message: Some(m),
            ..
        }) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn system_and_developer_merge_into_system_and_max_tokens_defaults() {
    let v = translate(json!({
        "model": "claude-x",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]}
        ],
        "frequency_penalty": 0.5,
        "logprobs": false
    }));
    assert_eq!(
        v,
        json!({
            "model": "claude-x",
            "system": "You are terse.\n\nAnswer in French.",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 4096
        })
    );
}

#[test]
fn parameters_map_and_unknown_extras_are_dropped() {
    let v = translate(json!({
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "max_completion_tokens": 70,
        "temperature": 1.7,
        "top_p": 0.9,
        "top_k": 40,
        "stop": "END",
        "user": "u-42",
        "seed": 7,
        "n": 1
    }));
    assert_eq!(v["max_tokens"], 70);
    assert_eq!(v["temperature"], 1.0);
    assert_eq!(v["top_p"], 0.9);
    assert_eq!(v["top_k"], 40);
    assert_eq!(v["stop_sequences"], json!(["END"]));
    assert_eq!(v["metadata"], json!({"user_id": "u-42"}));
    assert!(v.get("seed").is_none() && v.get("n").is_none());

    let v = translate(json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5, "temperature": -0.5, "stop": ["a", "\n", " ", "b"]
    }));
    assert_eq!(v["max_tokens"], 5);
    assert_eq!(v["temperature"], 0.0);
    // Anthropic refuses stop sequences of white space alone.
    assert_eq!(v["stop_sequences"], json!(["a", "b"]));
    let v = translate(json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "\n\n"
    }));
    assert!(v.get("stop_sequences").is_none(), "{v}");
}

#[test]
fn what_anthropic_cannot_give_is_refused() {
    let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for (key, value, word) in [
        ("n", json!(3), "`n`"),
        ("logprobs", json!(true), "logprobs"),
        (
            "functions",
            json!([{"name": "weather", "parameters": {"type": "object"}}]),
            "`tools`",
        ),
        ("function_call", json!("auto"), "`function_call`"),
        (
            "response_format",
            json!({"type": "json_object"}),
            "json_object",
        ),
        (
            "response_format",
            json!({"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}),
            "json_schema",
        ),
    ] {
        let mut req = base.clone();
        req[key] = value;
        let msg = translate_err(req);
        assert!(msg.contains(word), "{key}: {msg}");
    }
    let mut req = base.clone();
    req["response_format"] = json!({"type": "text"});
    req["n"] = json!(1);
    translate(req);
}

#[test]
fn tool_calls_and_results_translate_and_merge() {
    let v = translate(json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "weather", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
            {"role": "user", "content": "thanks"}
        ]
    }));
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
                {"type": "text", "text": "thanks"}
            ]}
        ])
    );
}

#[test]
fn consecutive_same_role_messages_merge_and_tool_results_lead() {
    let v = translate(json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "b", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]},
            {"role": "user", "content": "before"},
            {"role": "tool", "tool_call_id": "c", "content": ""}
        ]
    }));
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "one"}, {"type": "text", "text": "two"}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
                {"type": "tool_use", "id": "c", "name": "f", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "c"},
                {"type": "text", "text": "before"}
            ]}
        ])
    );
}

#[test]
fn invalid_tool_arguments_are_a_client_error() {
    let msg = translate_err(json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
            ]}
        ]
    }));
    assert!(msg.contains("call_9"), "{msg}");
    let msg = translate_err(json!({
        "model": "m",
        "messages": [{"role": "tool", "content": "orphan"}]
    }));
    assert!(msg.contains("tool_call_id"), "{msg}");
    let msg = translate_err(json!({
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]
    }));
    assert!(msg.contains("input_audio"), "{msg}");
}

#[test]
fn tools_and_tool_choice_translate() {
    let base = json!({
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"type": "function", "function": {"name": "get", "description": "Gets.",
             "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "ping"}}
        ]
    });
    let with = |choice: Value| {
        let mut req = base.clone();
        req["tool_choice"] = choice;
        translate(req)
    };
    let v = translate(base.clone());
    assert_eq!(
        v["tools"],
        json!([
            {"name": "get", "description": "Gets.",
             "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
            {"name": "ping", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
    assert!(v.get("tool_choice").is_none());
    assert_eq!(with(json!("auto"))["tool_choice"], json!({"type": "auto"}));
    assert_eq!(
        with(json!("required"))["tool_choice"],
        json!({"type": "any"})
    );
    assert_eq!(with(json!("none"))["tool_choice"], json!({"type": "none"}));
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "get"}}))["tool_choice"],
        json!({"type": "tool", "name": "get"})
    );
    let mut req = base.clone();
    req["parallel_tool_calls"] = json!(false);
    assert_eq!(
        translate(req)["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    let mut req = base.clone();
    req["tool_choice"] = json!({"type": "allowed_tools"});
    assert!(to_messages(&chat(req), &settings()).is_err());

    // tool_choice without tools is dropped rather than sent.
    let v = translate(json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"
    }));
    assert!(v.get("tool_choice").is_none() && v.get("tools").is_none());
}

#[test]
fn images_translate_to_base64_and_url_sources() {
    let v = translate(json!({
        "model": "m",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
        ]}]
    }));
    assert_eq!(
        v["messages"][0]["content"],
        json!([
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
        ])
    );
    for bad in [
        "data:image/png,rawbytes",
        "ftp://x/y.png",
        "data:;base64,AAAA",
    ] {
        let msg = translate_err(json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": bad}}
            ]}]
        }));
        assert!(msg.contains("image"), "{bad}: {msg}");
    }
}
