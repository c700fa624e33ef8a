//! The secret detector: gitleaks rule files (the gitleaks v8 TOML format) compiled into
//! one [`Detector`]. Owns the public API ([`SecretRules`]); the pieces live beside it:
//!
//! - [`gitleaks`]: the file format, as data;
//! - `translate`: Go RE2 → Rust `regex` pattern translation;
//! - `rule`: compiled rules, scores, per-file accounting;
//! - `allowlist`: allowlist semantics (regexTarget, stopwords, OR/AND);
//! - `entropy`: the Shannon entropy floor;
//! - `engine`: the keyword prefilter and the scan itself (the literal pass and the
//!   keyword windows it runs on live in [`crate::prefilter`], shared with the injection
//!   rules).
//!
//! Every finding is `kind = "secret"`, [`Category::Secret`], `detector =
//! "gitleaks:<rule-id>"` (rules from a gitleaks file) or `"palisade:<rule-id>"` (Palisade's
//! own `rules/palisade-extra.toml`), span = the secret (the rule's `secretGroup`, else the
//! first non-empty capture group, else the whole match). Scores are explained in `rule`:
//! 0.9 when the secret carries the rule's distinctive prefix, 0.7 for a provider rule
//! keyed on context, 0.5 for generic rules.
//!
//! [`SecretRules::builtin`] embeds the gitleaks v8.30.1 default rules (MIT, see
//! `rules/gitleaks/LICENSE`) and Palisade's extra rules. It never fails: a rule that does
//! not compile is listed in [`SecretRules::report`] and left out.
//!
//! Differences from gitleaks, on purpose (prompt text is not a file in git):
//! - rules with only a `path` are skipped (counted); rules with `path` and `regex` run
//!   with the path condition ignored; allowlist `paths`/`commits` never match;
//! - `[extend]` is ignored (counted); combine files with [`SecretRules::extend`];
//! - the `gitleaks:allow` line comment is not honoured (a prompt's author could use it
//!   to smuggle a secret past the gateway);
//! - no decoding passes (base64/hex/percent): the normalizer decodes before detectors;
//! - a file's global allowlists apply to that file's rules only.

mod allowlist;
mod engine;
mod entropy;
pub mod gitleaks;
mod report;
mod rule;
mod translate;

#[cfg(test)]
mod tests_loader;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_providers;

use crate::detector::Detector;
use crate::finding::{Category, Finding};

pub use entropy::shannon_entropy;
pub use report::{RuleFailure, RulesError, RulesReport};
pub use rule::RuleSource;

use engine::Prefilter;
use gitleaks::GitleaksFile;
use rule::CompiledRule;

/// The gitleaks v8.30.1 default configuration, unmodified.
pub const GITLEAKS_TOML: &str = include_str!("../../rules/gitleaks/gitleaks.toml");
/// Palisade's extra rules (same format).
pub const PALISADE_EXTRA_TOML: &str = include_str!("../../rules/palisade-extra.toml");

/// A compiled set of secret rules; implements [`Detector`] (name `"secrets"`).
#[derive(Debug, Clone)]
pub struct SecretRules {
    rules: Vec<CompiledRule>,
    prefilter: Prefilter,
    report: RulesReport,
}

/// A read-only view of one loaded rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo<'a> {
    pub id: &'a str,
    /// The `detector` value of its findings.
    pub detector: &'a str,
    pub description: &'a str,
    pub keywords: &'a [String],
    pub entropy: f64,
    pub secret_group: usize,
    pub tags: &'a [String],
    /// The compiled (translated) regex, as Rust `regex` syntax.
    pub regex: &'a str,
}

impl SecretRules {
    /// The embedded gitleaks rules plus Palisade's extra rules. Never fails: what does
    /// not compile is in [`SecretRules::report`].
    pub fn builtin() -> SecretRules {
        let mut rules = SecretRules::from_source(GITLEAKS_TOML, RuleSource::Gitleaks)
            .unwrap_or_else(|e| SecretRules::broken_file("gitleaks", e));
        let extra = SecretRules::from_source(PALISADE_EXTRA_TOML, RuleSource::Palisade)
            .unwrap_or_else(|e| SecretRules::broken_file("palisade-extra", e));
        rules.extend(extra);
        rules
    }

    /// Only the embedded gitleaks reference rules (no Palisade extras).
    pub fn gitleaks_reference() -> SecretRules {
        SecretRules::from_source(GITLEAKS_TOML, RuleSource::Gitleaks)
            .unwrap_or_else(|e| SecretRules::broken_file("gitleaks", e))
    }

    /// Compiles a gitleaks-format file (e.g. a user's own). Findings are
    /// `gitleaks:<id>`. Fails only if the file is not TOML of the gitleaks shape; bad
    /// rules are reported in [`SecretRules::report`].
    pub fn from_toml(text: &str) -> Result<SecretRules, RulesError> {
        SecretRules::from_source(text, RuleSource::Gitleaks)
    }

    /// Like [`SecretRules::from_toml`] with the detector prefix chosen.
    pub fn from_source(text: &str, source: RuleSource) -> Result<SecretRules, RulesError> {
        let file = GitleaksFile::parse(text)?;
        let (rules, report) = rule::compile_file(&file, source);
        let prefilter = Prefilter::build(&rules);
        Ok(SecretRules {
            rules,
            prefilter,
            report,
        })
    }

    /// An empty set: no rules.
    pub fn empty() -> SecretRules {
        SecretRules {
            rules: Vec::new(),
            prefilter: Prefilter::build(&[]),
            report: RulesReport::default(),
        }
    }

    fn broken_file(name: &str, e: RulesError) -> SecretRules {
        let mut rules = SecretRules::empty();
        rules.report.failed.push(RuleFailure {
            rule: format!("file:{name}"),
            reason: e.to_string(),
        });
        rules
    }

    /// Adds another set's rules (and its report). A rule whose detector name is already
    /// present is replaced, so a user file can override a builtin rule by id.
    pub fn extend(&mut self, other: SecretRules) {
        for rule in other.rules {
            self.rules.retain(|r| r.detector != rule.detector);
            self.rules.push(rule);
        }
        self.report.merge(other.report);
        self.report.loaded = self.rules.len();
        self.prefilter = Prefilter::build(&self.rules);
    }

    /// What was loaded, skipped and failed.
    pub fn report(&self) -> &RulesReport {
        &self.report
    }

    /// Number of active rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rules whose regex runs only in windows around their keywords.
    pub fn windowed_rules(&self) -> usize {
        self.rules.iter().filter(|r| r.window.is_some()).count()
    }

    /// Rules that run on every text because they have no keyword and no literal prefix.
    pub fn unfiltered_rules(&self) -> usize {
        self.prefilter.unfiltered()
    }

    /// The detector names of the rules the keyword prefilter selects for `text`, i.e. the
    /// rules whose regex would run (diagnostics and tuning; allocates).
    pub fn candidate_rules(&self, text: &str) -> Vec<&str> {
        self.prefilter
            .selected(text, self.rules.len())
            .into_iter()
            .filter_map(|i| self.rules.get(i).map(|r| &*r.detector))
            .collect()
    }

    /// The active rules, in load order.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            id: &r.id,
            detector: &r.detector,
            description: &r.description,
            keywords: &r.keywords,
            entropy: r.entropy,
            secret_group: r.secret_group,
            tags: &r.tags,
            regex: r.regex.as_str(),
        })
    }
}

impl Default for SecretRules {
    fn default() -> SecretRules {
        SecretRules::builtin()
    }
}

impl Detector for SecretRules {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        engine::scan(&self.rules, &self.prefilter, text, out);
        debug_assert!(out.iter().all(|f| f.category != Category::Secret
            || (text.is_char_boundary(f.start) && text.is_char_boundary(f.end))));
    }
}
