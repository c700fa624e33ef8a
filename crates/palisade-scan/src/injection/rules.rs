//! The rule layer: [`InjectionRules`] folds the text once, runs one literal pass over
//! every rule's anchors, and runs only the regexes whose anchors occurred, and only in
//! windows around those occurrences (every match of a rule holds one of its anchors: a
//! test checks it from the regexes; see `prefilter::window` for how far a window
//! reaches). Matches map back to spans of the original text on `char` boundaries.

use std::collections::BTreeMap;

use regex::Regex;

use super::fold::Folded;
use super::patterns::rule_specs;
use crate::finding::{Category, Finding};
use crate::prefilter::literals::Literals;
use crate::prefilter::shape::Keywords;
use crate::prefilter::window::{self, KeywordWindow};

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

    /// The family's place in [`Family::ALL`].
    fn index(self) -> usize {
        self as usize
    }

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
    /// Where around an anchor occurrence a match can lie (always, for the built-in
    /// rules: their anchors are checked to be required).
    window: Option<KeywordWindow>,
}

/// The compiled rule set. Build once, share everywhere.
#[derive(Debug)]
pub struct InjectionRules {
    rules: Vec<Compiled>,
    anchors: Literals,
    /// Anchor pattern id → rule index.
    anchor_rule: Vec<usize>,
    /// Every rule runs, whatever the anchors (tests' reference only).
    #[cfg(test)]
    every_rule: bool,
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
            let anchors: Vec<String> = spec.anchors.iter().map(|a| a.to_string()).collect();
            rules.push(Compiled {
                family: spec.family,
                name: spec.name,
                score: spec.score,
                window: window::plan(
                    &spec.pattern,
                    &Keywords {
                        words: &anchors,
                        any_space: true,
                    },
                ),
                regex,
            });
        }
        // Anchors are folded text already: no case folding; a space in one matches any
        // run of whitespace, as the rules' `\s+` do.
        let anchors = Literals::spaced(&anchor_words);
        Ok(InjectionRules {
            rules,
            anchors,
            anchor_rule,
            #[cfg(test)]
            every_rule: false,
        })
    }

    /// The same rules, each regex searched over the whole text, anchors or not (the
    /// reference the anchors and windows are tested against).
    #[cfg(test)]
    pub(crate) fn without_anchors(mut self) -> InjectionRules {
        for rule in &mut self.rules {
            rule.window = None;
        }
        self.every_rule = true;
        self
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
        // Per family, the spans kept so far (disjoint), by start: a match clashes with
        // one iff the last starting before its end reaches past its start.
        let mut kept: [BTreeMap<usize, usize>; 4] = Default::default();
        let mut armed = vec![false; self.rules.len()];
        // (rule, start, end) of every anchor occurrence, by end.
        let mut occurrences: Vec<(usize, usize, usize)> = Vec::new();
        self.anchors
            .for_each(folded.text.as_bytes(), |p, start, end| {
                if let Some(&rule) = self.anchor_rule.get(p)
                    && let Some(slot) = armed.get_mut(rule)
                {
                    *slot = true;
                    occurrences.push((rule, start, end));
                }
            });
        #[cfg(test)]
        if self.every_rule {
            armed.fill(true);
        }
        if !armed.contains(&true) {
            return out;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if !armed.get(i).copied().unwrap_or(false) {
                continue;
            }
            let found = |ms: usize, me: usize| {
                let (start, end) = folded.original_span(text, ms, me);
                if start == end {
                    return;
                }
                let Some(spans) = kept.get_mut(rule.family.index()) else {
                    return;
                };
                let clash = spans
                    .range(..end)
                    .next_back()
                    .is_some_and(|(_, &e)| e > start);
                if !clash {
                    spans.insert(start, end);
                    out.push(RuleMatch {
                        family: rule.family,
                        rule: rule.name,
                        start,
                        end,
                        score: rule.score,
                    });
                }
            };
            let mine = occurrences
                .iter()
                .filter(|o| o.0 == i)
                .map(|&(_, start, end)| (start, end));
            window::find_matches(
                &rule.regex,
                rule.window.as_ref(),
                None,
                &folded.text,
                mine,
                found,
            );
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
