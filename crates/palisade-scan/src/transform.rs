//! From findings to a verdict and rewritten text. [`decide`] keeps the findings a profile
//! acts on, with their action; [`rewrite`] applies the rewriting actions (redact, mask,
//! pseudonymize) to the text, merging overlapping spans so that the strongest action
//! wins (redact > mask > pseudonymize) and no byte of a covered span survives.

use crate::finding::Finding;
use crate::profile::{Action, Direction, Profile};
use crate::vault::{Vault, label};

/// A finding the profile acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub finding: Finding,
    pub action: Action,
}

/// Pairs each finding with the profile's action, dropping those it ignores. Sorted by
/// position.
pub fn decide(findings: Vec<Finding>, profile: &Profile) -> Vec<Applied> {
    let mut applied: Vec<Applied> = findings
        .into_iter()
        .filter_map(|finding| {
            let action = profile.action_for(&finding)?;
            Some(Applied { finding, action })
        })
        .collect();
    applied.sort_by_key(|a| (a.finding.start, std::cmp::Reverse(a.finding.end)));
    applied
}

/// The distinct kinds that block, in order of first appearance: what a refusal names.
pub fn blocking_kinds(applied: &[Applied]) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for a in applied.iter().filter(|a| a.action == Action::Block) {
        if !kinds.iter().any(|k| k == a.finding.kind.as_ref()) {
            kinds.push(a.finding.kind.to_string());
        }
    }
    kinds
}

/// Applies redact, mask and pseudonymize to `text` (whose byte offsets the findings
/// use). Returns `None` when nothing changes. Pseudonyms issued on input are
/// restorable; on output they are not (the model's own leak stays hidden).
pub fn rewrite(
    text: &str,
    applied: &[Applied],
    vault: &mut Vault,
    direction: Direction,
) -> Option<String> {
    let spans = merged_spans(text, applied);
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for span in spans {
        out.push_str(&text[copied..span.start]);
        let value = &text[span.start..span.end];
        match span.action {
            Action::Mask => mask_into(value, &mut out),
            Action::Pseudonymize => {
                match vault.pseudonym(span.kind, value, direction == Direction::Input) {
                    Some(p) => out.push_str(&p),
                    None => redact_into(span.kind, &mut out),
                }
            }
            _ => redact_into(span.kind, &mut out),
        }
        copied = span.end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

struct Span<'a> {
    start: usize,
    end: usize,
    action: Action,
    kind: &'a str,
}

/// Rewriting spans, overlaps merged, strongest action kept, clamped to `text` and to
/// char boundaries.
fn merged_spans<'a>(text: &str, applied: &'a [Applied]) -> Vec<Span<'a>> {
    let mut spans: Vec<Span<'a>> = Vec::new();
    for a in applied.iter().filter(|a| a.action.rewrites()) {
        let (start, end) = (
            a.finding.start.min(text.len()),
            a.finding.end.min(text.len()),
        );
        if start >= end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        match spans.last_mut() {
            Some(last) if start < last.end => {
                last.end = last.end.max(end);
                if strength(a.action) > strength(last.action) {
                    last.action = a.action;
                    last.kind = a.finding.kind.as_ref();
                }
            }
            _ => spans.push(Span {
                start,
                end,
                action: a.action,
                kind: a.finding.kind.as_ref(),
            }),
        }
    }
    spans
}

fn strength(action: Action) -> u8 {
    match action {
        Action::Redact => 3,
        Action::Mask => 2,
        Action::Pseudonymize => 1,
        Action::Flag | Action::Block => 0,
    }
}

fn redact_into(kind: &str, out: &mut String) {
    out.push_str("[REDACTED_");
    out.push_str(&label(kind));
    out.push(']');
}

/// Keeps the last four letters or digits — never more than half of them, so a short
/// value (`1/2/90`, `abc`) is not left readable — and the separators; stars the rest.
fn mask_into(value: &str, out: &mut String) {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = (alnum / 2).min(4);
    let mut seen = 0;
    for c in value.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if seen + keep > alnum { c } else { '*' });
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::finding::Category;

    fn at(text: &str, needle: &str, kind: &'static str, category: Category) -> Finding {
        let start = text.find(needle).unwrap();
        Finding::new(kind, category, start..start + needle.len(), 0.9, "test")
    }

    #[test]
    fn each_action_rewrites_as_documented() {
        let text = "mail ada@example.com, card 4111 1111 1111 1111, key AKIAABCDEFGHIJKLMNOP";
        let findings = vec![
            at(text, "ada@example.com", "email", Category::Pii),
            at(text, "4111 1111 1111 1111", "credit_card", Category::Pii),
            at(text, "AKIAABCDEFGHIJKLMNOP", "secret", Category::Secret),
        ];
        let profile = Profile::new("t")
            .with_kind("email", Action::Pseudonymize)
            .with_kind("credit_card", Action::Mask)
            .with_category(Category::Secret, Action::Redact);
        let applied = decide(findings, &profile);
        let mut vault = Vault::new();
        let out = rewrite(text, &applied, &mut vault, Direction::Input).unwrap();
        assert_eq!(
            out,
            "mail [EMAIL_1], card **** **** **** 1111, key [REDACTED_SECRET]"
        );
        assert_eq!(vault.restore("hi [EMAIL_1]").unwrap(), "hi ada@example.com");
    }

    #[test]
    fn overlaps_merge_and_the_strongest_action_wins() {
        let text = "x postgres://u:hunter2@db.example.com/app y";
        let url = at(
            text,
            "postgres://u:hunter2@db.example.com/app",
            "secret",
            Category::Secret,
        );
        let email = at(text, "hunter2@db.example.com", "email", Category::Pii);
        let profile = Profile::new("t")
            .with_kind("email", Action::Pseudonymize)
            .with_kind("secret", Action::Redact);
        let applied = decide(vec![email, url], &profile);
        let mut vault = Vault::new();
        let out = rewrite(text, &applied, &mut vault, Direction::Input).unwrap();
        assert_eq!(out, "x [REDACTED_SECRET] y");
        assert!(vault.is_empty());
    }

    #[test]
    fn flag_and_block_do_not_rewrite_and_blocks_are_named_once() {
        let text = "a b c";
        let f = |k: &'static str| Finding::new(k, Category::Injection, 0..5, 0.99, "t");
        let profile = Profile::new("t")
            .with_kind("prompt_injection", Action::Block)
            .with_kind("homoglyph", Action::Flag);
        let applied = decide(
            vec![f("prompt_injection"), f("homoglyph"), f("prompt_injection")],
            &profile,
        );
        assert_eq!(
            rewrite(text, &applied, &mut Vault::new(), Direction::Input),
            None
        );
        assert_eq!(
            blocking_kinds(&applied),
            vec!["prompt_injection".to_owned()]
        );
    }

    #[test]
    fn mask_keeps_last_four_and_separators() {
        let mut s = String::new();
        mask_into("+44 20 7946 0958", &mut s);
        assert_eq!(s, "+** ** **** 0958");
        // Short values keep at most half of their characters.
        for (value, masked) in [
            ("abc", "**c"),
            ("1/2/90", "*/*/90"),
            ("10.0.0.1", "**.*.0.1"),
        ] {
            let mut s = String::new();
            mask_into(value, &mut s);
            assert_eq!(s, masked);
        }
    }

    #[test]
    fn output_pseudonyms_stay_hidden() {
        let text = "contact leak@example.com";
        let profile = Profile::new("t").with_kind("email", Action::Pseudonymize);
        let applied = decide(
            vec![at(text, "leak@example.com", "email", Category::Pii)],
            &profile,
        );
        let mut vault = Vault::new();
        let out = rewrite(text, &applied, &mut vault, Direction::Output).unwrap();
        assert_eq!(out, "contact [EMAIL_1]");
        assert_eq!(vault.restore(&out), None);
    }
}
