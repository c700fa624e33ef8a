//! Scanning profiles: what each kind of finding means for a request. A profile maps a
//! finding kind (`email`), or failing that its category (`pii`), to an [`Action`], sets
//! the score a finding needs before it counts, and says which message roles and which
//! directions (input, output) are scanned. Profiles are assigned to models and groups by
//! the gateway's config; this module only evaluates them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::banned::BannedTerms;
use crate::finding::{Category, Finding};

/// What happens to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Allow and record.
    Flag,
    /// Replace with a numbered placeholder (`[EMAIL_1]`); the real value is restored in
    /// the response to the client.
    Pseudonymize,
    /// Keep the last four letters or digits, star the others (`**** **** **** 1111`).
    Mask,
    /// Replace with `[REDACTED_<KIND>]`.
    Redact,
    /// Refuse the request (input) or end the answer with `content_filter` (output).
    Block,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Flag,
        Action::Pseudonymize,
        Action::Mask,
        Action::Redact,
        Action::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Flag => "flag",
            Action::Pseudonymize => "pseudonymize",
            Action::Mask => "mask",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Whether the action rewrites the text.
    pub fn rewrites(self) -> bool {
        matches!(self, Action::Pseudonymize | Action::Mask | Action::Redact)
    }
}

/// Which side of the model a scan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

/// A named set of actions and thresholds.
#[derive(Clone)]
pub struct Profile {
    pub name: String,
    kinds: HashMap<String, Action>,
    categories: HashMap<Category, Action>,
    /// Findings scoring below this are ignored.
    pub threshold: f32,
    /// Scan `system` and `developer` messages too (the application's own prompt).
    pub scan_system: bool,
    /// Scan the model's answer.
    pub scan_output: bool,
    /// Categories not run on output (by default injection: the model's own words are
    /// not an attack on it).
    pub output_skip: Vec<Category>,
    /// The profile's banned terms and topics, if any.
    pub banned: Option<Arc<BannedTerms>>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("categories", &self.categories)
            .field("threshold", &self.threshold)
            .field("banned", &self.banned.is_some())
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// A profile with no actions: everything is ignored until actions are set.
    pub fn new(name: impl Into<String>) -> Profile {
        Profile {
            name: name.into(),
            kinds: HashMap::new(),
            categories: HashMap::new(),
            threshold: 0.5,
            scan_system: false,
            scan_output: true,
            output_skip: vec![Category::Injection],
            banned: None,
        }
    }

    /// Palisade's default: injections, secrets, banned terms and system-prompt leaks
    /// blocked, personal data pseudonymized, obfuscation flagged.
    pub fn standard() -> Profile {
        Profile::new("default")
            .with_category(Category::Injection, Action::Block)
            .with_category(Category::Secret, Action::Block)
            .with_category(Category::Pii, Action::Pseudonymize)
            .with_category(Category::Obfuscation, Action::Flag)
            .with_category(Category::Banned, Action::Block)
            .with_category(Category::Leak, Action::Block)
    }

    pub fn with_category(mut self, category: Category, action: Action) -> Profile {
        self.categories.insert(category, action);
        self
    }

    pub fn with_kind(mut self, kind: impl Into<String>, action: Action) -> Profile {
        self.kinds.insert(kind.into(), action);
        self
    }

    pub fn with_banned(mut self, banned: BannedTerms) -> Profile {
        self.banned = Some(Arc::new(banned));
        self
    }

    /// The action for a finding, or `None` when the profile ignores it (no action set,
    /// or the score is under the threshold).
    pub fn action_for(&self, finding: &Finding) -> Option<Action> {
        if finding.score < self.threshold {
            return None;
        }
        self.kinds
            .get(finding.kind.as_ref())
            .or_else(|| self.categories.get(&finding.category))
            .copied()
    }

    /// Whether any finding of this category can have an effect, so the detector behind it
    /// is worth running.
    pub fn wants(&self, category: Category, direction: Direction) -> bool {
        if direction == Direction::Output && self.output_skip.contains(&category) {
            return false;
        }
        self.categories.contains_key(&category)
            || self
                .kinds
                .keys()
                .any(|k| kind_category(k) == Some(category))
    }
}

/// The category of a well-known kind, so a profile that names only `email` still runs
/// the PII detector.
pub fn kind_category(kind: &str) -> Option<Category> {
    match kind {
        "secret" => Some(Category::Secret),
        "prompt_injection" => Some(Category::Injection),
        "invisible_text" | "homoglyph" | "decode_budget_exceeded" | crate::UNSCANNED_MEDIA_KIND => {
            Some(Category::Obfuscation)
        }
        "banned_term" => Some(Category::Banned),
        crate::leak::LEAK_KIND => Some(Category::Leak),
        "" => None,
        _ => Some(Category::Pii),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: &'static str, category: Category, score: f32) -> Finding {
        Finding::new(kind, category, 0..1, score, "test")
    }

    #[test]
    fn kind_overrides_category_and_threshold_filters() {
        let p = Profile::new("p")
            .with_category(Category::Pii, Action::Redact)
            .with_kind("email", Action::Pseudonymize);
        assert_eq!(
            p.action_for(&finding("email", Category::Pii, 0.9)),
            Some(Action::Pseudonymize)
        );
        assert_eq!(
            p.action_for(&finding("phone", Category::Pii, 0.9)),
            Some(Action::Redact)
        );
        assert_eq!(p.action_for(&finding("phone", Category::Pii, 0.2)), None);
        assert_eq!(
            p.action_for(&finding("secret", Category::Secret, 0.9)),
            None
        );
    }

    #[test]
    fn unscanned_media_is_a_known_obfuscation_kind() {
        assert!(crate::known_kind(crate::UNSCANNED_MEDIA_KIND));
        assert_eq!(
            kind_category(crate::UNSCANNED_MEDIA_KIND),
            Some(Category::Obfuscation)
        );
        assert!(crate::known_kind("decode_budget_exceeded"));
        let p = Profile::standard().with_kind(crate::UNSCANNED_MEDIA_KIND, Action::Block);
        let media = finding(crate::UNSCANNED_MEDIA_KIND, Category::Obfuscation, 1.0);
        assert_eq!(p.action_for(&media), Some(Action::Block));
        assert_eq!(
            Profile::standard().action_for(&media),
            Some(Action::Flag),
            "the default profile flags obfuscation"
        );
    }

    #[test]
    fn output_skips_injection_by_default() {
        let p = Profile::standard();
        assert!(p.wants(Category::Injection, Direction::Input));
        assert!(!p.wants(Category::Injection, Direction::Output));
        assert!(p.wants(Category::Pii, Direction::Output));
        let only_email = Profile::new("e").with_kind("email", Action::Mask);
        assert!(only_email.wants(Category::Pii, Direction::Input));
        assert!(!only_email.wants(Category::Secret, Direction::Input));
    }

    #[test]
    fn actions_round_trip_their_names() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }
}
