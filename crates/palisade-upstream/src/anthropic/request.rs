//! OpenAI chat request → Anthropic Messages request. System and developer messages become
//! the top-level `system`; tool results become `tool_result` blocks in user turns; turns of
//! the same role merge so roles alternate; parameters map one to one where Anthropic has
//! them. OpenAI fields with no Anthropic counterpart are dropped, never forwarded.
//! A request Anthropic cannot express is the client's fault: it fails as a 400.

use palisade_config::AnthropicSettings;
use palisade_protocol::anthropic::{
    Content, ContentBlock, ImageSource, Message, MessagesRequest, Metadata, Role, System,
    ToolChoice, ToolDef, ToolResultContent,
};
use palisade_protocol::openai::{ChatMessage, ChatRequest, ContentPart, MessageContent, ToolCall};
use serde_json::{Map, Value, json};

use crate::UpstreamError;

/// A 400 the gateway shows to the client as its own mistake.
pub(crate) fn bad_request(message: impl Into<String>) -> UpstreamError {
    UpstreamError::Status {
        status: 400,
        message: Some(message.into()),
        code: None,
        param: None,
        retry_after: None,
    }
}

/// Translates a chat request (already routed: `model` is the upstream's name).
pub(crate) fn to_messages(
    req: &ChatRequest,
    settings: &AnthropicSettings,
) -> Result<MessagesRequest, UpstreamError> {
    refuse_inexpressible(req)?;
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(Role, Vec<ContentBlock>)> = Vec::new();
    for (i, msg) in req.messages.iter().enumerate() {
        let (role, blocks) = match msg.role.as_str() {
            "system" | "developer" => {
                let text = msg.text_content();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => (Role::User, content_blocks(msg.content.as_ref(), i)?),
            "assistant" => (Role::Assistant, assistant_blocks(msg, i)?),
            "tool" => (Role::User, vec![tool_result(msg, i)?]),
            other => {
                return Err(bad_request(format!(
                    "messages[{i}]: role `{other}` is not supported by this model; use tools"
                )));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, prev)) if *last == role => prev.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }

    let tools = match &req.tools {
        Some(tools) if !tools.is_empty() => Some(
            tools
                .iter()
                .enumerate()
                .map(|(i, t)| match (&t.kind[..], &t.function) {
                    ("function", Some(f)) => Ok(ToolDef {
                        name: f.name.clone(),
                        description: f.description.clone(),
                        input_schema: f
                            .parameters
                            .clone()
                            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                        extra: Map::new(),
                    }),
                    _ => Err(bad_request(format!(
                        "tools[{i}]: only function tools are supported by this model"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    let parallel = req
        .extra
        .get("parallel_tool_calls")
        .and_then(Value::as_bool);
    let tool_choice = match &tools {
        Some(_) => tool_choice(req.tool_choice.as_ref(), parallel)?,
        None => None,
    };

    let stop_sequences = req
        .stop
        .as_ref()
        .map(|s| {
            s.to_vec()
                .into_iter()
                // Anthropic refuses a stop sequence of white space alone (`"\n"`, common
                // in OpenAI requests) with a 400 for the whole request.
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty());

    Ok(MessagesRequest {
        model: req.model.clone(),
        system: (!system.is_empty()).then(|| System::Text(system.join("\n\n"))),
        messages: turns
            .into_iter()
            .map(|(role, blocks)| message(role, blocks))
            .collect(),
        max_tokens: req.output_cap().unwrap_or(settings.default_max_tokens),
        stop_sequences,
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        top_k: req.extra.get("top_k").and_then(Value::as_u64),
        tools,
        tool_choice,
        stream: None,
        metadata: req.user.as_ref().map(|u| Metadata {
            user_id: Some(u.clone()),
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
}

/// Refuses what the client asked for that Anthropic cannot give, rather than answer
/// something else: several choices (`n`), token log probabilities, a JSON response
/// format (the answer would come as free text), legacy `functions` (the model would
/// answer without them, and a client waiting for `function_call` would never get one).
fn refuse_inexpressible(req: &ChatRequest) -> Result<(), UpstreamError> {
    if req.choices() > 1 {
        return Err(bad_request(
            "`n` greater than 1 is not supported by this model",
        ));
    }
    let asked = |key: &str| {
        req.extra
            .get(key)
            .is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)))
    };
    if asked("logprobs") {
        return Err(bad_request("`logprobs` is not supported by this model"));
    }
    if asked("functions") || asked("function_call") {
        return Err(bad_request(
            "legacy `functions` and `function_call` are not supported by this model; use `tools` and `tool_choice`",
        ));
    }
    let format = req
        .response_format
        .as_ref()
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str);
    if let Some(kind @ ("json_object" | "json_schema")) = format {
        return Err(bad_request(format!(
            "response_format `{kind}` is not supported by this model; describe the JSON in the prompt or use a tool"
        )));
    }
    Ok(())
}

/// Builds one turn. Tool results go first in a user turn (Anthropic requires it); a lone
/// text block is sent as a plain string.
fn message(role: Role, mut blocks: Vec<ContentBlock>) -> Message {
    if role == Role::User {
        let (mut results, rest): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .partition(|b| matches!(b, ContentBlock::ToolResult { .. }));
        results.extend(rest);
        blocks = results;
    }
    let content = match blocks.as_slice() {
        [ContentBlock::Text { text }] => Content::Text(text.clone()),
        _ => Content::Blocks(blocks),
    };
    Message { role, content }
}

/// Text and image content. Empty text is dropped (Anthropic rejects empty text blocks).
fn content_blocks(
    content: Option<&MessageContent>,
    i: usize,
) -> Result<Vec<ContentBlock>, UpstreamError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) if t.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(vec![ContentBlock::text(t.clone())]),
        Some(MessageContent::Parts(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for part in parts {
                if let Some(block) = part_block(part, i)? {
                    out.push(block);
                }
            }
            Ok(out)
        }
    }
}

fn part_block(part: &ContentPart, i: usize) -> Result<Option<ContentBlock>, UpstreamError> {
    match part.kind.as_str() {
        "text" => Ok(part
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .map(ContentBlock::text)),
        "refusal" => Ok(part
            .extra
            .get("refusal")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(ContentBlock::text)),
        "image_url" => {
            let url = match part.extra.get("image_url") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(v) => v.get("url").and_then(Value::as_str),
                None => None,
            };
            let url = url.ok_or_else(|| {
                bad_request(format!("messages[{i}]: image_url part without a url"))
            })?;
            Ok(Some(ContentBlock::Image {
                source: image_source(url, i)?,
            }))
        }
        other => Err(bad_request(format!(
            "messages[{i}]: content part type `{other}` is not supported by this model"
        ))),
    }
}

/// `data:image/png;base64,...` → a base64 source; `http(s)://` → a URL source.
fn image_source(url: &str, i: usize) -> Result<ImageSource, UpstreamError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').unwrap_or((rest, ""));
        let media_type = meta
            .strip_suffix(";base64")
            .filter(|m| !m.is_empty() && !data.is_empty());
        return match media_type {
            Some(media_type) => Ok(ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            }),
            None => Err(bad_request(format!(
                "messages[{i}]: image data URLs must look like data:<media type>;base64,<data>"
            ))),
        };
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url {
            url: url.to_owned(),
        });
    }
    Err(bad_request(format!(
        "messages[{i}]: image URLs must be http(s) or base64 data URLs"
    )))
}

fn assistant_blocks(msg: &ChatMessage, i: usize) -> Result<Vec<ContentBlock>, UpstreamError> {
    let mut blocks = content_blocks(msg.content.as_ref(), i)?;
    for call in msg.tool_calls.iter().flatten() {
        blocks.push(tool_use(call, i)?);
    }
    Ok(blocks)
}

fn tool_use(call: &ToolCall, i: usize) -> Result<ContentBlock, UpstreamError> {
    let args = call.function.arguments.trim();
    let input = if args.is_empty() {
        Value::Object(Map::new())
    } else {
        match serde_json::from_str::<Value>(args) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Err(bad_request(format!(
                    "messages[{i}]: arguments of tool call `{}` are not a JSON object",
                    call.id
                )));
            }
        }
    };
    Ok(ContentBlock::ToolUse {
        id: call.id.clone(),
        name: call.function.name.clone(),
        input,
    })
}

fn tool_result(msg: &ChatMessage, i: usize) -> Result<ContentBlock, UpstreamError> {
    let id = msg
        .tool_call_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad_request(format!("messages[{i}]: tool message without tool_call_id")))?;
    let blocks = content_blocks(msg.content.as_ref(), i)?;
    let content = match blocks.as_slice() {
        [] => None,
        [ContentBlock::Text { text }] => Some(ToolResultContent::Text(text.clone())),
        _ => Some(ToolResultContent::Blocks(blocks)),
    };
    Ok(ContentBlock::ToolResult {
        tool_use_id: id,
        content,
        is_error: None,
    })
}

/// OpenAI `tool_choice` (and `parallel_tool_calls: false`) → Anthropic `tool_choice`.
fn tool_choice(
    choice: Option<&Value>,
    parallel: Option<bool>,
) -> Result<Option<ToolChoice>, UpstreamError> {
    let disable = (parallel == Some(false)).then_some(true);
    let choice = match choice {
        None | Some(Value::Null) => {
            return Ok(disable.map(|d| ToolChoice::Auto {
                disable_parallel_tool_use: Some(d),
            }));
        }
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto {
                disable_parallel_tool_use: disable,
            },
            "required" => ToolChoice::Any {
                disable_parallel_tool_use: disable,
            },
            "none" => ToolChoice::None,
            other => {
                return Err(bad_request(format!(
                    "tool_choice `{other}` is not supported"
                )));
            }
        },
        Some(v) => {
            let name = v
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| v.get("type").and_then(Value::as_str) == Some("function"));
            match name {
                Some(name) => ToolChoice::Tool {
                    name: name.to_owned(),
                    disable_parallel_tool_use: disable,
                },
                None => return Err(bad_request("tool_choice must name a function tool")),
            }
        }
    };
    Ok(Some(choice))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
