//! One compiled rule: the translated regex, which group is the secret, the entropy floor,
//! keywords, allowlists and score; and how a rule file's entries become compiled rules
//! (or path-only skips, or reported failures).
//!
//! Scores: a finding's score says how sure the rule is, not how bad the leak would be.
//! - `0.9`: the secret itself carries a distinctive prefix, i.e. one of the rule's
//!   keywords occurs inside the secret (`AKIA…`, `ghp_…`, `xoxb-…`, `sk_live_…`, PEM
//!   headers);
//! - `0.7`: a provider-specific rule whose keyword is only in the context
//!   (`adafruit_key = …`);
//! - `0.5`: generic rules (id starting with `generic`, or Palisade's password rules),
//!   which rely on an assignment shape and an entropy floor.

use std::borrow::Cow;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::allowlist::Allowlist;
use super::gitleaks::{GitleaksFile, RuleSpec};
use super::report::{RuleFailure, RulesReport};
use super::translate::go_to_rust;
use crate::prefilter::shape::Keywords;
use crate::prefilter::starts::MatchStarts;
use crate::prefilter::window::{self, KeywordWindow};

/// Where a rule came from; decides the `detector` prefix of its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSource {
    /// A gitleaks file (the embedded reference or a user's): `gitleaks:<id>`.
    Gitleaks,
    /// Palisade's own rules: `palisade:<id>`.
    Palisade,
}

impl RuleSource {
    fn prefix(self) -> &'static str {
        match self {
            RuleSource::Gitleaks => "gitleaks",
            RuleSource::Palisade => "palisade",
        }
    }
}

/// A compiled, active rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    /// `gitleaks:<id>` / `palisade:<id>`, shared by all its findings.
    pub detector: Cow<'static, str>,
    pub description: String,
    pub tags: Vec<String>,
    pub regex: Regex,
    /// 0: the first non-empty capture group, else the whole match.
    pub secret_group: usize,
    /// Entropy floor (0: none).
    pub entropy: f64,
    /// Lower-case keywords; empty: the rule has none (a derived prefilter is used).
    pub keywords: Vec<String>,
    pub allowlists: Vec<Allowlist>,
    /// The allowlists global to the file the rule came from.
    pub globals: Arc<[Allowlist]>,
    /// Generic rules yield to a specific rule's finding over the same secret.
    pub generic: bool,
    /// Set when the regex only needs to run around keyword occurrences.
    pub window: Option<KeywordWindow>,
    /// The literals every match starts with, if few: a keyword window without one of them
    /// is not searched.
    pub starts: Option<MatchStarts>,
}

impl CompiledRule {
    /// The score of a finding whose secret is `secret` (see the module doc).
    pub fn score(&self, secret: &str) -> f32 {
        if self.generic {
            return 0.5;
        }
        let strong = self.keywords.iter().any(|k| {
            secret
                .as_bytes()
                .windows(k.len().max(1))
                .any(|w| w.eq_ignore_ascii_case(k.as_bytes()))
        });
        if strong { 0.9 } else { 0.7 }
    }
}

/// Compiles the regex of a rule, translated from Go syntax.
pub fn compile_regex(go_pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&go_to_rust(go_pattern))
        .size_limit(1 << 26)
        .dfa_size_limit(1 << 22)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            // Keep the reason to its last, most specific line.
            msg.lines().last().unwrap_or(&msg).trim().to_string()
        })
}

/// Compiles every rule of a file, accounting for each in the returned report.
pub fn compile_file(file: &GitleaksFile, source: RuleSource) -> (Vec<CompiledRule>, RulesReport) {
    let mut report = RulesReport {
        titles: vec![file.title.clone().unwrap_or_else(|| "untitled".into())],
        extend_ignored: usize::from(file.extend.is_some()),
        ..RulesReport::default()
    };
    let mut globals = Vec::new();
    for spec in file.global_allowlists() {
        match Allowlist::compile(spec) {
            Ok(a) => globals.push(a),
            Err(reason) => report.failed.push(RuleFailure {
                rule: format!("allowlist:{}", report.titles[0]),
                reason,
            }),
        }
    }
    let globals: Arc<[Allowlist]> = globals.into();
    let mut rules = Vec::with_capacity(file.rules.len());
    for spec in &file.rules {
        let name = format!("{}:{}", source.prefix(), spec.id);
        match compile_rule(spec, source, &globals) {
            Ok(Some(rule)) => {
                if spec.path.is_some() {
                    report.path_ignored.push(name);
                }
                rules.push(rule);
                report.loaded += 1;
            }
            Ok(None) => report.path_only.push(name),
            Err(reason) => report.failed.push(RuleFailure { rule: name, reason }),
        }
    }
    (rules, report)
}

/// `Ok(None)`: a path-only rule (nothing to match in prompt text).
fn compile_rule(
    spec: &RuleSpec,
    source: RuleSource,
    globals: &Arc<[Allowlist]>,
) -> Result<Option<CompiledRule>, String> {
    if spec.id.trim().is_empty() {
        return Err("rule has no id".into());
    }
    let Some(pattern) = spec.regex.as_deref() else {
        return if spec.path.is_some() {
            Ok(None)
        } else {
            Err("rule has neither regex nor path".into())
        };
    };
    let regex = compile_regex(pattern)?;
    let secret_group = spec.secret_group.unwrap_or(0);
    let groups = regex.captures_len() - 1;
    if secret_group > groups {
        return Err(format!(
            "secretGroup {secret_group} but the regex has {groups} groups"
        ));
    }
    let allowlists = spec
        .all_allowlists()
        .map(Allowlist::compile)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(Allowlist::is_effective)
        .collect();
    let keywords: Vec<String> = spec
        .keywords
        .iter()
        .map(|k| k.to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    let window = window::plan(
        regex.as_str(),
        &Keywords {
            words: &keywords,
            any_space: false,
        },
    );
    let starts = window
        .as_ref()
        .and_then(|_| MatchStarts::of(regex.as_str()));
    let generic = spec.id.starts_with("generic")
        || spec.tags.iter().any(|t| t.eq_ignore_ascii_case("generic"));
    Ok(Some(CompiledRule {
        detector: Cow::Owned(format!("{}:{}", source.prefix(), spec.id)),
        id: spec.id.clone(),
        description: spec.description.clone().unwrap_or_default(),
        tags: spec.tags.clone(),
        regex,
        secret_group,
        entropy: spec.entropy.unwrap_or(0.0),
        keywords,
        allowlists,
        globals: Arc::clone(globals),
        generic,
        window,
        starts,
    }))
}
