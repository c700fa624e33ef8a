//! Text a model writes outside `content` and tool calls, and output no text scanner can
//! read. Providers put more of the answer in a message (or a streamed delta) than the
//! typed fields hold: a `refusal`, reasoning (`reasoning_content` from DeepSeek and vLLM,
//! `reasoning` from OpenRouter and newer vLLM), a legacy `function_call`'s arguments, an
//! audio answer's `transcript`. They arrive in the `extra` map; [`TEXT_FIELDS`] names
//! them, so the gateway scans them like content and a guardrail cannot be walked around
//! by asking the model to answer in one of them.
//!
//! Two more carry the answer in a form a text scanner cannot check: the per-token
//! `logprobs` of a choice (the chosen tokens spell the text out) and an audio answer's
//! `data`. The gateway withholds them ([`withhold_unscannable`]) whenever it changed or
//! held back the text they stand for.

use serde_json::{Map, Value};

/// A string field of a message or delta's `extra` map: `key`, or `key.inner` when the
/// text sits inside an object (`audio.transcript`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextField {
    pub key: &'static str,
    pub inner: Option<&'static str>,
}

/// Every model-text field Palisade knows, in the order a message is scanned.
pub const TEXT_FIELDS: [TextField; 5] = [
    TextField {
        key: "refusal",
        inner: None,
    },
    TextField {
        key: "reasoning_content",
        inner: None,
    },
    TextField {
        key: "reasoning",
        inner: None,
    },
    TextField {
        key: "function_call",
        inner: Some("arguments"),
    },
    TextField {
        key: "audio",
        inner: Some("transcript"),
    },
];

impl TextField {
    /// Where the field is, for findings: `reasoning_content`, `audio.transcript`.
    pub fn path(self) -> String {
        match self.inner {
            None => self.key.to_owned(),
            Some(inner) => format!("{}.{inner}", self.key),
        }
    }

    /// The field's text, if `extra` has it as a string.
    pub fn get(self, extra: &Map<String, Value>) -> Option<&str> {
        let v = extra.get(self.key)?;
        match self.inner {
            None => v.as_str(),
            Some(inner) => v.get(inner)?.as_str(),
        }
    }

    /// Removes the field's text from `extra` and returns it (an object left empty goes
    /// too). `None`, and `extra` untouched, when the field is absent or not a string.
    pub fn take(self, extra: &mut Map<String, Value>) -> Option<String> {
        self.get(extra)?;
        match self.inner {
            None => match extra.remove(self.key) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            Some(inner) => {
                let obj = extra.get_mut(self.key)?.as_object_mut()?;
                let text = match obj.remove(inner) {
                    Some(Value::String(s)) => s,
                    _ => return None,
                };
                if obj.is_empty() {
                    extra.remove(self.key);
                }
                Some(text)
            }
        }
    }

    /// Appends `text` to the field (creating it, and its object, when absent). Empty
    /// text changes nothing.
    pub fn append(self, extra: &mut Map<String, Value>, text: &str) {
        if text.is_empty() {
            return;
        }
        let slot = match self.inner {
            None => extra.entry(self.key),
            Some(inner) => {
                let outer = extra
                    .entry(self.key)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !outer.is_object() {
                    *outer = Value::Object(Map::new());
                }
                match outer.as_object_mut() {
                    Some(obj) => obj.entry(inner),
                    None => return,
                }
            }
        };
        let value = slot.or_insert_with(|| Value::String(String::new()));
        match value {
            Value::String(s) => s.push_str(text),
            other => *other = Value::String(text.to_owned()),
        }
    }
}

/// The model-text fields present in `extra`, each with its text, mutably.
pub fn texts_mut(extra: &mut Map<String, Value>) -> Vec<(TextField, &mut String)> {
    let mut out = Vec::new();
    for (key, value) in extra.iter_mut() {
        let Some(field) = TEXT_FIELDS.iter().find(|f| f.key == key.as_str()) else {
            continue;
        };
        let value = match field.inner {
            None => Some(value),
            Some(inner) => value.get_mut(inner),
        };
        if let Some(Value::String(text)) = value {
            out.push((*field, text));
        }
    }
    // The map's order is the JSON's; scan in the documented order instead.
    out.sort_by_key(|(f, _)| TEXT_FIELDS.iter().position(|x| x == f));
    out
}

/// Bytes of model text in `extra`'s text fields.
pub fn texts_len(extra: &Map<String, Value>) -> usize {
    TEXT_FIELDS
        .iter()
        .filter_map(|f| f.get(extra))
        .map(str::len)
        .sum()
}

/// Drops what carries a choice's answer in a form no scanner reads: the choice's
/// `logprobs` (set to `null`, as for a request that did not ask for them) and the
/// audio `data` of its message or delta (`message_extra`). Returns whether anything
/// was dropped.
pub fn withhold_unscannable(
    choice_extra: &mut Map<String, Value>,
    message_extra: &mut Map<String, Value>,
) -> bool {
    let mut dropped = false;
    if let Some(logprobs) = choice_extra.get_mut("logprobs")
        && !logprobs.is_null()
    {
        *logprobs = Value::Null;
        dropped = true;
    }
    if let Some(audio) = message_extra
        .get_mut("audio")
        .and_then(Value::as_object_mut)
    {
        dropped |= audio.remove("data").is_some();
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn finds_every_text_field_in_order() {
        let mut extra = map(json!({
            "audio": {"id": "a1", "data": "AAAA", "transcript": "spoken"},
            "refusal": "no",
            "function_call": {"name": "f", "arguments": "{\"x\":1}"},
            "reasoning_content": "thinking",
            "reasoning": "more thinking",
            "annotations": [],
            "other": "not model text"
        }));
        let found: Vec<(String, String)> = texts_mut(&mut extra)
            .into_iter()
            .map(|(f, t)| (f.path(), t.clone()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("refusal".into(), "no".into()),
                ("reasoning_content".into(), "thinking".into()),
                ("reasoning".into(), "more thinking".into()),
                ("function_call.arguments".into(), "{\"x\":1}".into()),
                ("audio.transcript".into(), "spoken".into()),
            ]
        );
        assert_eq!(texts_len(&extra), 2 + 8 + 13 + 7 + 6);
    }

    #[test]
    fn rewrites_in_place() {
        let mut extra = map(json!({"refusal": "secret", "audio": {"transcript": "secret"}}));
        for (_, text) in texts_mut(&mut extra) {
            *text = "[REDACTED]".into();
        }
        assert_eq!(
            Value::Object(extra),
            json!({"refusal": "[REDACTED]", "audio": {"transcript": "[REDACTED]"}})
        );
    }

    #[test]
    fn null_and_non_string_fields_are_not_text() {
        let mut extra =
            map(json!({"refusal": null, "reasoning": {"effort": "low"}, "audio": null}));
        assert!(texts_mut(&mut extra).is_empty());
        let refusal = TEXT_FIELDS[0];
        assert_eq!(refusal.take(&mut extra), None);
        assert!(extra.contains_key("refusal"));
    }

    #[test]
    fn take_and_append_round_trip() {
        let transcript = TEXT_FIELDS[4];
        let mut extra = map(json!({"audio": {"id": "a1", "transcript": "abc"}}));
        assert_eq!(transcript.take(&mut extra).as_deref(), Some("abc"));
        assert_eq!(Value::Object(extra.clone()), json!({"audio": {"id": "a1"}}));
        transcript.append(&mut extra, "de");
        transcript.append(&mut extra, "f");
        transcript.append(&mut extra, "");
        assert_eq!(transcript.get(&extra), Some("def"));

        let mut only = map(json!({"audio": {"transcript": "x"}}));
        assert_eq!(transcript.take(&mut only).as_deref(), Some("x"));
        assert!(only.is_empty(), "an object left empty is removed");

        let reasoning = TEXT_FIELDS[1];
        let mut delta = Map::new();
        reasoning.append(&mut delta, "");
        assert!(delta.is_empty(), "empty text adds no field");
        reasoning.append(&mut delta, "step");
        assert_eq!(Value::Object(delta), json!({"reasoning_content": "step"}));
    }

    #[test]
    fn withholds_logprobs_and_audio_data() {
        let mut choice = map(json!({"logprobs": {"content": [{"token": "AK"}]}}));
        let mut message = map(json!({"audio": {"id": "a1", "data": "UklGR", "transcript": "t"}}));
        assert!(withhold_unscannable(&mut choice, &mut message));
        assert_eq!(choice["logprobs"], Value::Null);
        assert_eq!(
            Value::Object(message),
            json!({"audio": {"id": "a1", "transcript": "t"}})
        );

        let mut choice = map(json!({"logprobs": null}));
        let mut message = Map::new();
        assert!(!withhold_unscannable(&mut choice, &mut message));
    }
}
