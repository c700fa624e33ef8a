//! Text a model writes outside `content` and tool calls, and output no text scanner can
//! read. Providers put more of the answer in a message (or a streamed delta) than the
//! typed fields hold: a `refusal`, reasoning (`reasoning_content` from DeepSeek and vLLM,
//! `reasoning` from OpenRouter and newer vLLM), a legacy `function_call`'s arguments, an
//! audio answer's `transcript`. They arrive in the `extra` map; [`TEXT_FIELDS`] names
//! them, so the gateway scans them like content and a guardrail cannot be walked around
//! by asking the model to answer in one of them.
//!
//! Fields with no name here are not trusted to be text-free: every string under them
//! ([`all_texts_mut`]: `reasoning_details[].text`, `thinking_blocks[].thinking`, a legacy
//! `function_call` whose `arguments` is an object, …) is model text too, except under
//! [`OPAQUE_KEYS`] (ids, tags, signatures, base64 media). A stream cannot hold such text
//! back piece by piece, so a scanned stream drops those fields ([`drop_unnamed_text`]).
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

/// The pre-`tools` function call of a message or delta: `{"name", "arguments"}`.
pub const LEGACY_CALL: &str = "function_call";

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
        key: LEGACY_CALL,
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

/// Keys whose values are identifiers, names, enum tags or opaque encodings (signatures,
/// encrypted reasoning, base64 media), never text to scan, wherever they appear.
pub const OPAQUE_KEYS: [&str; 12] = [
    "id",
    "type",
    "object",
    "name",
    "format",
    "signature",
    "thought_signature",
    "data",
    "encrypted_content",
    "file_data",
    "image_url",
    "input_audio",
];

/// Keys whose values are media (base64 images, audio, files), whatever their shape.
pub const MEDIA_KEYS: [&str; 4] = ["data", "file_data", "image_url", "input_audio"];

/// Whether the value under `key` is no text to scan: a string under one of
/// [`OPAQUE_KEYS`] (an identifier, a tag, a signature), or anything under
/// [`MEDIA_KEYS`]. An object or a list under an identifier key is read like any other: a
/// schema's property called `name` has a description.
pub fn is_opaque(key: &str, value: &Value) -> bool {
    MEDIA_KEYS.contains(&key) || (OPAQUE_KEYS.contains(&key) && value.is_string())
}

/// Every string under `v` but the opaque ones ([`is_opaque`]): the text of a JSON value
/// (a tool's parameter schema, a field with no name).
pub fn value_texts_mut<'a>(v: &'a mut Value, out: &mut Vec<&'a mut String>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter_mut().for_each(|x| value_texts_mut(x, out)),
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if !is_opaque(k, x) {
                    value_texts_mut(x, out);
                }
            }
        }
        _ => {}
    }
}

/// The client's own key-value map (OpenAI stores it with a stored completion).
const METADATA: &str = "metadata";

/// Every string of a request's fields Palisade has no type for (`extra`), by field,
/// leaving out the fields in `skip` and strings under [`OPAQUE_KEYS`]. `metadata` is the
/// client's own map: its values are text whatever their keys.
pub fn client_field_texts_mut<'a>(
    extra: &'a mut Map<String, Value>,
    skip: &[&str],
) -> Vec<(&'a str, &'a mut String)> {
    let mut out = Vec::new();
    for (key, value) in extra.iter_mut() {
        if skip.contains(&key.as_str()) || is_opaque(key, value) {
            continue;
        }
        let mut texts = Vec::new();
        if key == METADATA
            && let Value::Object(map) = value
        {
            for x in map.values_mut() {
                match x {
                    Value::String(s) => texts.push(s),
                    other => value_texts_mut(other, &mut texts),
                }
            }
        } else {
            value_texts_mut(value, &mut texts);
        }
        out.extend(texts.into_iter().map(|t| (key.as_str(), t)));
    }
    out
}

/// Every string under a `name` key in `v`, at any depth: the function a `tool_choice`
/// or a legacy `function_call` names, a legacy `functions` list's names. Scanned, never
/// rewritten (see [`super::ChatMessage::names_mut`]).
pub fn names<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| names(x, out)),
        Value::Object(map) => {
            for (k, x) in map {
                match x {
                    Value::String(s) if k == "name" => out.push(s),
                    _ => names(x, out),
                }
            }
        }
        _ => {}
    }
}

/// The names in a request's fields Palisade has no type for (`extra`), by field,
/// leaving out the fields in `skip`: the keys of the client's `metadata`, and every
/// string under an identifier key ([`OPAQUE_KEYS`]: `id`, `name`, `type`, a signature —
/// what [`client_field_texts_mut`] does not read as text goes upstream all the same),
/// media left out. Scanned as names, never rewritten.
pub fn client_field_names<'a>(
    extra: &'a Map<String, Value>,
    skip: &[&str],
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for (key, value) in extra {
        if skip.contains(&key.as_str()) || MEDIA_KEYS.contains(&key.as_str()) {
            continue;
        }
        let mut names = Vec::new();
        match value {
            Value::Object(map) if key == METADATA => names.extend(map.keys().map(String::as_str)),
            Value::String(s) if OPAQUE_KEYS.contains(&key.as_str()) => names.push(s.as_str()),
            value => opaque_strings(value, &mut names),
        }
        out.extend(names.into_iter().map(|n| (key.as_str(), n)));
    }
    out
}

/// The strings under identifier keys in `v` (media left out), at any depth.
fn opaque_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| opaque_strings(x, out)),
        Value::Object(map) => {
            for (k, x) in map {
                match x {
                    _ if MEDIA_KEYS.contains(&k.as_str()) => {}
                    Value::String(s) if OPAQUE_KEYS.contains(&k.as_str()) => out.push(s),
                    _ => opaque_strings(x, out),
                }
            }
        }
        _ => {}
    }
}

/// The name a legacy `function_call` of a message or delta gives, if any.
pub fn legacy_call_name_mut(extra: &mut Map<String, Value>) -> Option<&mut String> {
    match extra.get_mut(LEGACY_CALL)?.get_mut("name")? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The strings of one `extra` entry: a named field's text goes to `named` (skipped when
/// `None`), every other string not under an opaque key to `others`.
fn entry_strings<'a>(
    key: &str,
    value: &'a mut Value,
    mut named: Option<&mut Vec<(TextField, &'a mut String)>>,
    others: &mut Vec<&'a mut String>,
) {
    if is_opaque(key, value) {
        return;
    }
    let Some(field) = TEXT_FIELDS.iter().find(|f| f.key == key).copied() else {
        value_texts_mut(value, others);
        return;
    };
    match (field.inner, value) {
        (None, Value::String(text)) => {
            if let Some(n) = named {
                n.push((field, text));
            }
        }
        (Some(inner), Value::Object(map)) => {
            for (k, x) in map.iter_mut() {
                if k == inner && x.is_string() {
                    if let (Some(n), Value::String(text)) = (named.as_deref_mut(), x) {
                        n.push((field, text));
                    }
                } else if !is_opaque(k, x) {
                    value_texts_mut(x, others);
                }
            }
        }
        (_, value) => value_texts_mut(value, others),
    }
}

/// Appends every text of `extra` to `out`: the named fields' in [`TEXT_FIELDS`] order,
/// then the others.
pub fn all_texts_mut<'a>(extra: &'a mut Map<String, Value>, out: &mut Vec<&'a mut String>) {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for (key, value) in extra.iter_mut() {
        entry_strings(key, value, Some(&mut named), &mut others);
    }
    named.sort_by_key(|(f, _)| TEXT_FIELDS.iter().position(|x| x == f));
    out.extend(named.into_iter().map(|(_, t)| t));
    out.extend(others);
}

/// Removes the entries of `extra` that carry text other than a named field's (what
/// [`all_texts_mut`] hands out beyond the named fields). Returns how many went.
pub fn drop_unnamed_text(extra: &mut Map<String, Value>) -> usize {
    let before = extra.len();
    extra.retain(|key, value| {
        let mut found = Vec::new();
        entry_strings(key, value, None, &mut found);
        found.is_empty()
    });
    before - extra.len()
}

/// Removes the entries of `extra` that carry any text, named fields' included: for what
/// a stream has no guard for (a tool call's own fields). Entries with no text (a
/// signature, an id) stay. Returns how many went.
pub fn drop_all_text(extra: &mut Map<String, Value>) -> usize {
    let before = extra.len();
    extra.retain(|key, value| {
        let (mut named, mut others) = (Vec::new(), Vec::new());
        entry_strings(key, value, Some(&mut named), &mut others);
        named.is_empty() && others.is_empty()
    });
    before - extra.len()
}

/// Bytes of text in `extra` (what [`all_texts_mut`] hands out).
pub fn texts_len(extra: &Map<String, Value>) -> usize {
    if extra.is_empty() {
        return 0;
    }
    // The walk needs `&mut`; copying the (small) map beats a second walker that could
    // drift from the first.
    let mut copy = extra.clone();
    let mut texts = Vec::new();
    all_texts_mut(&mut copy, &mut texts);
    texts.iter().map(|t| t.len()).sum()
}

/// Empties every `top_logprobs` list of a choice's `logprobs`: the tokens the model did
/// not choose, which no scanner reads. The chosen tokens stay (they spell the scanned
/// answer). Returns whether anything was emptied.
pub fn withhold_alternatives(choice_extra: &mut Map<String, Value>) -> bool {
    let Some(Value::Object(logprobs)) = choice_extra.get_mut("logprobs") else {
        return false;
    };
    let mut dropped = false;
    for list in ["content", "refusal"] {
        let Some(Value::Array(items)) = logprobs.get_mut(list) else {
            continue;
        };
        for item in items {
            if let Some(Value::Array(top)) = item.get_mut("top_logprobs")
                && !top.is_empty()
            {
                top.clear();
                dropped = true;
            }
        }
    }
    dropped
}

/// Fields providers put beside every answer (and, streamed, in every chunk) that carry
/// no model text: an identifier, an enum, a moderation verdict (Azure's filter results).
/// Scanning them would cost a scan per field per chunk and find nothing.
pub const METADATA_KEYS: [&str; 7] = [
    "logprobs",
    "system_fingerprint",
    "service_tier",
    "content_filter_results",
    "prompt_filter_results",
    // OpenAI's random padding in every streamed chunk (against length side channels).
    "obfuscation",
    // vLLM's log-probabilities of the prompt's tokens: the client's own text, token by
    // token, already scanned as it went up.
    "prompt_logprobs",
];

/// The strings of a choice's or response's own fields beside the message (a provider's
/// citations, search results, annotations), by key: not [`METADATA_KEYS`] (the
/// `logprobs` have [`withhold_alternatives`]), nor [`OPAQUE_KEYS`].
pub fn beside_texts_mut(extra: &mut Map<String, Value>) -> Vec<(&str, Vec<&mut String>)> {
    let mut out = Vec::new();
    for (key, value) in extra.iter_mut() {
        if !read_beside(key) {
            continue;
        }
        let mut texts = Vec::new();
        value_texts_mut(value, &mut texts);
        if !texts.is_empty() {
            out.push((key.as_str(), texts));
        }
    }
    out
}

/// Whether [`beside_texts_mut`] reads the entry `key`.
fn read_beside(key: &str) -> bool {
    !METADATA_KEYS.contains(&key) && !OPAQUE_KEYS.contains(&key)
}

/// Bytes of text [`beside_texts_mut`] would hand out, without touching `extra`: only
/// the entries it reads are copied (none for the usual metadata-only maps).
pub fn beside_len(extra: &Map<String, Value>) -> usize {
    let mut read: Map<String, Value> = extra
        .iter()
        .filter(|(k, _)| read_beside(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if read.is_empty() {
        return 0;
    }
    beside_texts_mut(&mut read)
        .iter()
        .flat_map(|(_, texts)| texts.iter().map(|t| t.len()))
        .sum()
}

/// Removes every entry [`beside_texts_mut`] reads (a filtered choice keeps none of the
/// text a provider put beside its message, scanned or not).
pub fn drop_beside_texts(extra: &mut Map<String, Value>) {
    extra.retain(|key, value| {
        let mut texts = Vec::new();
        value_texts_mut(value, &mut texts);
        !read_beside(key) || texts.is_empty()
    });
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

    fn texts(extra: &mut Map<String, Value>) -> Vec<String> {
        let mut out = Vec::new();
        all_texts_mut(extra, &mut out);
        out.into_iter().map(|t| t.clone()).collect()
    }

    #[test]
    fn named_fields_come_first_in_order() {
        let mut extra = map(json!({
            "audio": {"id": "a1", "data": "AAAA", "transcript": "spoken"},
            "refusal": "no",
            "function_call": {"name": "f", "arguments": "{\"x\":1}"},
            "reasoning_content": "thinking",
            "reasoning": "more thinking"
        }));
        assert_eq!(
            texts(&mut extra),
            ["no", "thinking", "more thinking", "{\"x\":1}", "spoken"]
        );
        assert_eq!(texts_len(&extra), 2 + 8 + 13 + 7 + 6);
        let paths: Vec<String> = TEXT_FIELDS.iter().map(|f| f.path()).collect();
        assert_eq!(paths[3], "function_call.arguments");
        assert_eq!(paths[4], "audio.transcript");
    }

    #[test]
    fn rewrites_in_place() {
        let mut extra =
            map(json!({"refusal": "secret", "audio": {"transcript": "secret"}, "x": ["secret"]}));
        let mut out = Vec::new();
        all_texts_mut(&mut extra, &mut out);
        for text in out {
            *text = "[REDACTED]".into();
        }
        assert_eq!(
            Value::Object(extra),
            json!({"refusal": "[REDACTED]", "audio": {"transcript": "[REDACTED]"}, "x": ["[REDACTED]"]})
        );
    }

    #[test]
    fn null_fields_carry_no_text() {
        let mut extra = map(json!({"refusal": null, "audio": null}));
        assert!(texts(&mut extra).is_empty());
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
    fn unnamed_fields_are_text_unless_opaque() {
        let mut extra = map(json!({
            "reasoning_details": [
                {"type": "reasoning.text", "text": "thought", "signature": "c2ln", "format": "x"},
                {"type": "reasoning.encrypted", "data": "ZW5j", "id": "r1"}
            ],
            "thinking_blocks": [{"type": "thinking", "thinking": "pondered"}],
            "function_call": {"name": "f", "arguments": {"ssn": "123-45-6789"}},
            "reasoning": {"summary": "brief"},
            "refusal": "named",
            "audio": {"id": "a1", "data": "AAAA", "transcript": "named too", "expires_at": 1},
            "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x.test/", "title": "T"}}]
        }));
        let all = texts(&mut extra);
        assert_eq!(all[..2], ["named", "named too"], "named fields first");
        let mut others = all[2..].to_vec();
        others.sort();
        let want = [
            "123-45-6789",
            "T",
            "brief",
            "https://x.test/",
            "pondered",
            "thought",
        ];
        assert_eq!(others, want);
        assert_eq!(
            texts_len(&extra),
            all.iter().map(String::len).sum::<usize>()
        );
        assert_eq!(drop_unnamed_text(&mut extra), 5);
        let mut kept: Vec<&String> = extra.keys().collect();
        kept.sort();
        assert_eq!(kept, ["audio", "refusal"]);
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

    #[test]
    fn beside_the_message_model_text_is_read_and_metadata_is_not() {
        let mut extra = map(json!({
            "system_fingerprint": "fp_1",
            "service_tier": "default",
            "prompt_filter_results": [{"content_filter_results": {"hate": {"severity": "safe"}}}],
            "logprobs": {"content": [{"token": "a"}]},
            "id": "x",
            "citations": ["https://example.org/a", {"title": "A page", "url": "u"}],
        }));
        assert_eq!(
            beside_len(&extra),
            "https://example.org/a".len() + "A page".len() + 1
        );
        assert_eq!(beside_len(&map(json!({"logprobs": null, "id": "x"}))), 0);
        let found: Vec<(String, Vec<String>)> = beside_texts_mut(&mut extra)
            .into_iter()
            .map(|(k, t)| (k.to_owned(), t.into_iter().map(|s| s.clone()).collect()))
            .collect();
        assert_eq!(
            found,
            [(
                "citations".to_owned(),
                vec![
                    "https://example.org/a".to_owned(),
                    "A page".to_owned(),
                    "u".to_owned()
                ]
            )]
        );
    }

    #[test]
    fn only_the_alternatives_of_logprobs_are_withheld() {
        let mut choice = map(json!({"logprobs": {"content": [
            {"token": "a", "top_logprobs": [{"token": "b"}]},
            {"token": "c", "top_logprobs": []}
        ], "refusal": null}}));
        assert!(withhold_alternatives(&mut choice));
        assert_eq!(
            choice["logprobs"]["content"],
            json!([{"token": "a", "top_logprobs": []}, {"token": "c", "top_logprobs": []}])
        );
        assert!(!withhold_alternatives(&mut choice));
    }
}
