//! What the simulated model says: a fixed reply if configured; otherwise a tool call when
//! tools are offered and the last message is the user's, a summary when the last message
//! is a tool result, and a deterministic sentence about the prompt.

use palisade_protocol::openai::{ChatRequest, FunctionCall, ToolCall};
use serde_json::{Map, Value};

pub enum Reply {
    Text(String),
    ToolCall(ToolCall),
}

pub fn plan_reply(req: &ChatRequest, fixed: Option<&str>) -> Reply {
    if let Some(text) = fixed {
        return Reply::Text(text.to_owned());
    }
    let last = req.messages.last();
    let last_role = last.map(|m| m.role.as_str()).unwrap_or("");
    if last_role == "tool" || last_role == "function" {
        let result = last.map(|m| m.text_content()).unwrap_or_default();
        let shown: String = result.chars().take(200).collect();
        return Reply::Text(format!("The tool returned: {shown}"));
    }
    let tool_choice_none = req.tool_choice.as_ref().and_then(Value::as_str) == Some("none");
    let offered = req.tools.iter().flatten().find_map(|t| t.function.as_ref());
    if let (true, Some(func)) = (last_role == "user" && !tool_choice_none, offered) {
        let args = example_arguments(func.parameters.as_ref());
        return Reply::ToolCall(ToolCall {
            id: format!("call_sim_{}", func.name.len()),
            kind: "function".into(),
            function: FunctionCall {
                name: func.name.clone(),
                arguments: args.to_string(),
            },
            extra: Map::new(),
        });
    }
    let user_text = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.text_content())
        .unwrap_or_default();
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    Reply::Text(format!(
        "This is a simulated reply from Palisade. Your message had {} and the conversation {}. Simulated models answer deterministically.",
        count(user_text.split_whitespace().count(), "word", "words"),
        count(req.messages.len(), "message", "messages")
    ))
}

/// Arguments shaped by a JSON schema: each property gets an example of its type.
fn example_arguments(schema: Option<&Value>) -> Value {
    let mut args = Map::new();
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for (name, prop) in props.into_iter().flatten() {
        let example = match prop.get("type").and_then(Value::as_str) {
            Some("integer") | Some("number") => Value::from(1),
            Some("boolean") => Value::Bool(true),
            Some("array") => Value::Array(Vec::new()),
            Some("object") => Value::Object(Map::new()),
            _ => match prop
                .get("enum")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
            {
                Some(first) => first.clone(),
                None => Value::String("example".into()),
            },
        };
        args.insert(name.clone(), example);
    }
    Value::Object(args)
}
