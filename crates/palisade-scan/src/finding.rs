//! What a detector reports: the kind of thing found, where (a byte span of the scanned
//! text), how sure, and which detector said so. Never the matched text itself, so a
//! finding can be logged, audited and counted without leaking what it points at.

use std::borrow::Cow;

/// The families of findings. Profiles can set one action for a whole category and
/// override it per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Personal data: emails, phone numbers, card numbers, IBANs, national ids…
    Pii,
    /// Credentials: cloud keys, SaaS tokens, private keys, passwords in URLs…
    Secret,
    /// Prompt injection and jailbreak attempts.
    Injection,
    /// Text hidden from a human reader: zero-width, tag and bidi characters, encoded runs.
    Obfuscation,
    /// A term or topic the profile bans.
    Banned,
    /// The request's own system prompt repeated in the answer.
    Leak,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Pii,
        Category::Secret,
        Category::Injection,
        Category::Obfuscation,
        Category::Banned,
        Category::Leak,
    ];

    /// The stable lower-case name used in config, metrics and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Secret => "secret",
            Category::Injection => "injection",
            Category::Obfuscation => "obfuscation",
            Category::Banned => "banned",
            Category::Leak => "leak",
        }
    }

    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One thing a detector found. `start..end` is a byte range of the text that was passed
/// to the detector, always on `char` boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable snake_case kind, e.g. `email`, `credit_card`, `secret`, `prompt_injection`,
    /// `invisible_text`, `banned_term`. Redaction labels are its upper-case form
    /// (`[REDACTED_EMAIL]`).
    pub kind: Cow<'static, str>,
    pub category: Category,
    pub start: usize,
    pub end: usize,
    /// Confidence in `0.0..=1.0`.
    pub score: f32,
    /// Which detector (and rule) produced it, e.g. `pii.credit_card`,
    /// `gitleaks:aws-access-token`, `injection.classifier`.
    pub detector: Cow<'static, str>,
}

impl Finding {
    pub fn new(
        kind: impl Into<Cow<'static, str>>,
        category: Category,
        span: std::ops::Range<usize>,
        score: f32,
        detector: impl Into<Cow<'static, str>>,
    ) -> Finding {
        Finding {
            kind: kind.into(),
            category,
            start: span.start,
            end: span.end,
            score,
            detector: detector.into(),
        }
    }

    pub fn span(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    pub fn overlaps(&self, other: &Finding) -> bool {
        self.start < other.end && other.start < self.end
    }
}
