//! The rule layer: [`InjectionRules`] folds the text once, runs one Aho-Corasick pass
//! over every rule's anchor literals, and runs only the regexes whose anchors occurred.
//! Matches map back to spans of the original text on `char` boundaries.

use regex::Regex;

use super::fold::Folded;
use super::patterns::rule_specs;
use crate::finding::{Category, Finding};
use crate::secrets::literals::Literals;

/// The rule families, each reported as its own detector name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// "ignore all previous instructions", "new instructions:".
    Override,
    /// "you are now DAN", "act as an unrestricted AI", "developer mode enabled".
    Persona,
    /// "reveal your system prompt", "repeat the text above".
    Extraction,
    /// Fake chat-template tokens, `### System:`, `[INST]`, `"role": "system"`.
    Delimiter,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Override,
        Family::Persona,
        Family::Extraction,
        Family::Delimiter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Override => "override",
            Family::Persona => "persona",
            Family::Extraction => "extraction",
            Family::Delimiter => "delimiter",
        }
    }

    /// The `Finding::detector` value for this family.
    pub fn detector(self) -> &'static str {
        match self {
            Family::Override => "injection.rules:override",
            Family::Persona => "injection.rules:persona",
            Family::Extraction => "injection.rules:extraction",
            Family::Delimiter => "injection.rules:delimiter",
        }
    }
}

/// Why the rule set failed to build (only possible if the rule table itself is wrong).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("injection rule `{name}` does not compile: {source}")]
    Regex {
        name: &'static str,
        source: Box<regex::Error>,
    },
}

/// One rule match, with its span in the original text.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch {
    pub family: Family,
    pub rule: &'static str,
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

#[derive(Debug)]
struct Compiled {
    family: Family,
    name: &'static str,
    score: f32,
    regex: Regex,
}

/// The compiled rule set. Build once, share everywhere.
#[derive(Debug)]
pub struct InjectionRules {
    rules: Vec<Compiled>,
    anchors: Literals,
    /// Anchor pattern id → rule index.
    anchor_rule: Vec<usize>,
}

impl InjectionRules {
    pub fn new() -> Result<InjectionRules, RulesError> {
        let specs = rule_specs();
        let mut rules = Vec::with_capacity(specs.len());
        let mut anchor_words = Vec::new();
        let mut anchor_rule = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let regex = Regex::new(&spec.pattern).map_err(|e| RulesError::Regex {
                name: spec.name,
                source: Box::new(e),
            })?;
            for a in spec.anchors {
                anchor_words.push(*a);
                anchor_rule.push(i);
            }
            rules.push(Compiled {
                family: spec.family,
                name: spec.name,
                score: spec.score,
                regex,
            });
        }
        // Anchors are folded text already: no case folding.
        let anchors = Literals::new(&anchor_words, false);
        Ok(InjectionRules {
            rules,
            anchors,
            anchor_rule,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules whose anchors occur in `text`: the regexes a scan of it runs
    /// (diagnostics; allocates).
    pub fn armed_rules(&self, text: &str) -> Vec<&'static str> {
        let mut armed = vec![false; self.rules.len()];
        self.anchors
            .for_each(Folded::new(text).text.as_bytes(), |p, _, _| {
                if let Some(slot) = self.anchor_rule.get(p).and_then(|&r| armed.get_mut(r)) {
                    *slot = true;
                }
            });
        self.rules
            .iter()
            .zip(armed)
            .filter(|(_, a)| *a)
            .map(|(r, _)| r.name)
            .collect()
    }

    /// Every rule match in `text`; matches of one family never overlap each other.
    pub fn find(&self, text: &str) -> Vec<RuleMatch> {
        self.find_folded(text, &Folded::new(text))
    }

    /// [`InjectionRules::find`] with `text` already folded (by the classifier).
    pub(crate) fn find_folded(&self, text: &str, folded: &Folded) -> Vec<RuleMatch> {
        let mut out = Vec::new();
        let mut armed = vec![false; self.rules.len()];
        let mut any = false;
        self.anchors.for_each(folded.text.as_bytes(), |p, _, _| {
            let rule = self.anchor_rule.get(p).copied();
            if let Some(slot) = rule.and_then(|r| armed.get_mut(r)) {
                *slot = true;
                any = true;
            }
        });
        if !any {
            return out;
        }
        for (rule, _) in self.rules.iter().zip(&armed).filter(|(_, a)| **a) {
            for m in rule.regex.find_iter(&folded.text) {
                let (start, end) = folded.original_span(text, m.start(), m.end());
                if start == end {
                    continue;
                }
                let clash = out
                    .iter()
                    .any(|o: &RuleMatch| o.family == rule.family && o.start < end && start < o.end);
                if !clash {
                    out.push(RuleMatch {
                        family: rule.family,
                        rule: rule.name,
                        start,
                        end,
                        score: rule.score,
                    });
                }
            }
        }
        out
    }

    /// Appends one `prompt_injection` finding per match.
    pub fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        self.detect_folded(text, &Folded::new(text), out);
    }

    /// [`InjectionRules::detect`] with `text` already folded.
    pub(crate) fn detect_folded(&self, text: &str, folded: &Folded, out: &mut Vec<Finding>) {
        for m in self.find_folded(text, folded) {
            out.push(Finding::new(
                "prompt_injection",
                Category::Injection,
                m.start..m.end,
                m.score,
                m.family.detector(),
            ));
        }
    }
}
