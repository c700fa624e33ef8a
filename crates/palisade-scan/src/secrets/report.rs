//! What loading a rule file produced: the typed error for a file that cannot be read at
//! all, and the [`RulesReport`] that accounts for every rule (loaded, skipped as path-only,
//! or failed with the reason). Nothing is dropped silently.

use std::fmt;

/// A rule file that could not be used at all. One bad rule is not an error: it is listed
/// in [`RulesReport::failed`] and the other rules still load.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The text is not valid TOML or does not have the gitleaks shape.
    #[error("invalid gitleaks rule file: {0}")]
    Toml(#[from] toml::de::Error),
}

/// Why one rule was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    /// `gitleaks:<id>` or `palisade:<id>`.
    pub rule: String,
    pub reason: String,
}

/// The account of a load: every `[[rules]]` entry ends up in exactly one of `loaded`,
/// `path_only` or `failed`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulesReport {
    /// Titles of the files loaded, in order.
    pub titles: Vec<String>,
    /// Rules compiled and active.
    pub loaded: usize,
    /// Rules with only a `path` (they match file names, never prompt text): skipped.
    pub path_only: Vec<String>,
    /// Rules with both `path` and `regex`: loaded, the path condition ignored (a prompt
    /// has no file path).
    pub path_ignored: Vec<String>,
    /// Rules that did not compile, with the reason. A global allowlist regex that does
    /// not compile is listed here too (as `allowlist:<file title>`); it is dropped, which
    /// can only add findings, never hide one.
    pub failed: Vec<RuleFailure>,
    /// `[extend]` sections seen (not supported: extend with [`super::SecretRules::extend`]).
    pub extend_ignored: usize,
}

impl RulesReport {
    /// Every rule entry seen, whatever happened to it.
    pub fn total(&self) -> usize {
        self.loaded + self.path_only.len() + self.failed.len()
    }

    pub(crate) fn merge(&mut self, other: RulesReport) {
        self.titles.extend(other.titles);
        self.loaded += other.loaded;
        self.path_only.extend(other.path_only);
        self.path_ignored.extend(other.path_ignored);
        self.failed.extend(other.failed);
        self.extend_ignored += other.extend_ignored;
    }
}

impl fmt::Display for RulesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rules: {} loaded, {} path-only skipped, {} failed",
            self.total(),
            self.loaded,
            self.path_only.len(),
            self.failed.len()
        )?;
        for failure in &self.failed {
            write!(f, "\n  {}: {}", failure.rule, failure.reason)?;
        }
        Ok(())
    }
}
