//! The pseudonym vault of one request: each distinct value found gets a numbered
//! placeholder per kind (`[EMAIL_1]`, `[EMAIL_2]`, `[PHONE_1]`), the same value always
//! gets the same placeholder, and [`Vault::restore`] puts the real values back into the
//! model's answer. Only placeholders issued for the client's own input are restorable:
//! a value the model produced and the profile pseudonymized on output stays hidden.
//! The vault lives as long as its request and is bounded.

use std::collections::HashMap;

/// The most distinct values one request may pseudonymize; past it, values are redacted.
pub const MAX_ENTRIES: usize = 4096;
/// Longest placeholder the vault issues (`[` + kind + `_` + number + `]`), so a stream
/// knows how much to hold back to restore one split across chunks.
pub const MAX_PLACEHOLDER_LEN: usize = 48;

#[derive(Debug, Default, Clone)]
pub struct Vault {
    by_value: HashMap<(String, String), usize>,
    by_placeholder: HashMap<String, usize>,
    entries: Vec<Entry>,
    counters: HashMap<String, u32>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    placeholder: String,
    restorable: bool,
}

impl Vault {
    pub fn new() -> Vault {
        Vault::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The placeholder for `value` of `kind`, issuing a new one when the value is new.
    /// `None` (the value is then redacted) when the vault is full, or when the value
    /// holds a character JSON would escape (a quote, a backslash, a line break: a private
    /// key, a quoted password): restored verbatim inside a tool call's JSON arguments it
    /// would break them, or add fields of its own.
    pub fn pseudonym(&mut self, kind: &str, value: &str, restorable: bool) -> Option<String> {
        if value
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return None;
        }
        let key = (kind.to_owned(), value.to_owned());
        if let Some(&i) = self.by_value.get(&key) {
            if restorable {
                self.entries[i].restorable = true;
            }
            return Some(self.entries[i].placeholder.clone());
        }
        if self.entries.len() >= MAX_ENTRIES {
            return None;
        }
        let label = label(kind);
        let n = self.counters.entry(label.clone()).or_insert(0);
        *n += 1;
        let placeholder = format!("[{label}_{n}]");
        if placeholder.len() > MAX_PLACEHOLDER_LEN {
            return None;
        }
        let i = self.entries.len();
        self.entries.push(Entry {
            value: value.to_owned(),
            placeholder: placeholder.clone(),
            restorable,
        });
        self.by_value.insert(key, i);
        self.by_placeholder.insert(placeholder.clone(), i);
        Some(placeholder)
    }

    /// Replaces every restorable placeholder in `text` by its value. Returns `None` when
    /// nothing was replaced.
    pub fn restore(&self, text: &str) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        let mut out = String::new();
        let mut copied = 0;
        let bytes = text.as_bytes();
        for open in memchr::memchr_iter(b'[', bytes) {
            if open < copied {
                continue;
            }
            let Some(close) = placeholder_end(&bytes[open..]) else {
                continue;
            };
            let candidate = &text[open..open + close];
            let Some(&i) = self.by_placeholder.get(candidate) else {
                continue;
            };
            let entry = &self.entries[i];
            if !entry.restorable {
                continue;
            }
            out.push_str(&text[copied..open]);
            out.push_str(&entry.value);
            copied = open + close;
        }
        if copied == 0 {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

impl Vault {
    /// The reverse of [`Vault::restore`]: every restorable value in `text` replaced by
    /// its placeholder (for records that must not hold the real values; `text` is a JSON
    /// value there). JSON-escaped
    /// text is handled as long as the values need no escaping, which is the case for
    /// the kinds Palisade pseudonymizes.
    ///
    /// One pass over the text whatever the vault's size (a request may hold thousands of
    /// values and its answer megabytes), leftmost-longest: `jim.bob@example.com` is
    /// replaced whole, not around `bob@example.com`.
    pub fn conceal(&self, text: &str) -> String {
        let entries: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.restorable && !e.value.is_empty())
            .collect();
        if entries.is_empty() {
            return text.to_owned();
        }
        let Ok(matcher) = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(entries.iter().map(|e| e.value.as_str()))
        else {
            // Only a matcher too large to build fails (the vault is bounded far below);
            // then nothing is kept rather than the real values: `null` (the text is a
            // JSON value where records use it).
            return "null".to_owned();
        };
        let placeholders: Vec<&str> = entries.iter().map(|e| e.placeholder.as_str()).collect();
        matcher.replace_all(text, &placeholders)
    }
}

/// The label of a kind in placeholders and redaction markers: `credit_card` → `CREDIT_CARD`.
pub fn label(kind: &str) -> String {
    kind.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Length of a placeholder-shaped token (`[A-Z0-9_]+_[0-9]+]`) at the start of `bytes`.
fn placeholder_end(bytes: &[u8]) -> Option<usize> {
    let limit = bytes.len().min(MAX_PLACEHOLDER_LEN);
    let close = bytes[..limit].iter().position(|&b| b == b']')?;
    let inner = &bytes[1..close];
    let valid = !inner.is_empty()
        && inner
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    valid.then_some(close + 1)
}

/// Where a placeholder that may still be completing starts in `text`: an unclosed `[`
/// within the last [`MAX_PLACEHOLDER_LEN`] bytes. Streams hold text back from there.
pub fn open_placeholder(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let from = bytes.len().saturating_sub(MAX_PLACEHOLDER_LEN);
    let open = memchr::memrchr(b'[', &bytes[from..])? + from;
    let rest = &bytes[open + 1..];
    let shaped = rest
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    shaped.then_some(open)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn same_value_same_placeholder_and_restore() {
        let mut v = Vault::new();
        let a = v.pseudonym("email", "ada@example.com", true).unwrap();
        let b = v.pseudonym("email", "bob@example.com", true).unwrap();
        let a2 = v.pseudonym("email", "ada@example.com", true).unwrap();
        let p = v.pseudonym("phone", "+44 20 7946 0958", true).unwrap();
        assert_eq!(a, "[EMAIL_1]");
        assert_eq!(b, "[EMAIL_2]");
        assert_eq!(a2, a);
        assert_eq!(p, "[PHONE_1]");
        let restored = v
            .restore("Write to [EMAIL_1] or [EMAIL_2], call [PHONE_1]. [EMAIL_9] [x]")
            .unwrap();
        assert_eq!(
            restored,
            "Write to ada@example.com or bob@example.com, call +44 20 7946 0958. [EMAIL_9] [x]"
        );
        assert_eq!(v.restore("nothing here"), None);
    }

    #[test]
    fn conceal_replaces_a_value_inside_a_longer_one_last() {
        let mut v = Vault::new();
        v.pseudonym("email", "bob@example.com", true).unwrap();
        v.pseudonym("email", "jim.bob@example.com", true).unwrap();
        assert_eq!(
            v.conceal("to jim.bob@example.com and bob@example.com"),
            "to [EMAIL_2] and [EMAIL_1]"
        );
    }

    #[test]
    fn a_full_vault_conceals_every_value_in_one_pass() {
        let mut v = Vault::new();
        let values: Vec<String> = (0..MAX_ENTRIES)
            .map(|i| format!("user{i}@example.com"))
            .collect();
        for value in &values {
            v.pseudonym("email", value, true).unwrap();
        }
        let text = values.iter().rev().cloned().collect::<Vec<_>>().join(", ");
        let concealed = v.conceal(&text);
        assert!(
            !concealed.contains('@'),
            "a value stayed: {}",
            &concealed[..200]
        );
        assert!(concealed.starts_with("[EMAIL_4096], [EMAIL_4095]"));
    }

    #[test]
    fn output_pseudonyms_are_not_restored() {
        let mut v = Vault::new();
        let p = v.pseudonym("email", "leak@example.com", false).unwrap();
        assert_eq!(v.restore(&format!("see {p}")), None);
    }

    #[test]
    fn open_placeholder_finds_a_split_token() {
        assert_eq!(open_placeholder("call [EMA"), Some(5));
        assert_eq!(open_placeholder("call [EMAIL_1]"), None);
        assert_eq!(open_placeholder("a [b c"), None);
        assert_eq!(open_placeholder("end ["), Some(4));
    }

    #[test]
    fn values_json_would_escape_get_no_pseudonym() {
        // Restored inside a tool call's JSON arguments, they would break or extend them.
        let mut v = Vault::new();
        for value in [
            "\"a\"@example.com",
            "pa\\ss",
            "-----BEGIN PRIVATE KEY-----\nMII",
            "x\u{7f}",
        ] {
            assert_eq!(v.pseudonym("secret", value, true), None, "{value:?}");
        }
        assert!(v.is_empty());
        assert!(v.pseudonym("secret", "plain-Value_1 é", true).is_some());
    }

    #[test]
    fn vault_is_bounded() {
        let mut v = Vault::new();
        for i in 0..MAX_ENTRIES {
            assert!(v.pseudonym("email", &format!("u{i}@x.io"), true).is_some());
        }
        assert!(v.pseudonym("email", "one-more@x.io", true).is_none());
    }
}
