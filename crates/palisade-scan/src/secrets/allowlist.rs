//! Compiled allowlists and the gitleaks decision of whether one allows a finding.
//!
//! Semantics (gitleaks v8 `checkFindingAllowed`):
//! - the regexes are tested against the `regexTarget`: the secret (default), the whole
//!   rule match, or the line(s) holding the match; stopwords are always tested against
//!   the secret, case-insensitively, as substrings;
//! - `OR` (default): allowed if any regex matches or any stopword is contained;
//! - `AND`: allowed if every configured check passes. `paths`/`commits` checks are part
//!   of the conjunction and are always false for a prompt (it has no path or commit),
//!   so an `AND` allowlist with paths never allows anything here.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{RegexSet, RegexSetBuilder};

use super::gitleaks::AllowlistSpec;
use super::translate::go_to_rust;

/// What an allowlist's regexes are tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexTarget {
    Secret,
    Match,
    Line,
}

/// The texts an allowlist may look at for one candidate finding.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub secret: &'a str,
    pub matched: &'a str,
    pub line: &'a str,
}

/// One compiled allowlist.
#[derive(Debug, Clone)]
pub struct Allowlist {
    target: RegexTarget,
    and: bool,
    regexes: Option<RegexSet>,
    stopwords: Option<AhoCorasick>,
    /// `paths` or `commits` configured: a check that is false for prompt text.
    has_path_or_commit: bool,
    /// Rule ids this (global) allowlist is limited to; empty: all rules.
    pub target_rules: Vec<String>,
}

impl Allowlist {
    /// Compiles one allowlist table. Errors name the regex that failed.
    pub fn compile(spec: &AllowlistSpec) -> Result<Allowlist, String> {
        let target = match spec.regex_target.as_deref().map(str::to_ascii_lowercase) {
            None => RegexTarget::Secret,
            Some(t) if t.is_empty() || t == "secret" => RegexTarget::Secret,
            Some(t) if t == "match" => RegexTarget::Match,
            Some(t) if t == "line" => RegexTarget::Line,
            Some(t) => return Err(format!("unknown allowlist regexTarget {t:?}")),
        };
        let and = match spec.condition.as_deref().map(str::to_ascii_uppercase) {
            None => false,
            Some(c) if c.is_empty() || c == "OR" => false,
            Some(c) if c == "AND" => true,
            Some(c) => return Err(format!("unknown allowlist condition {c:?}")),
        };
        let regexes = if spec.regexes.is_empty() {
            None
        } else {
            let translated: Vec<String> = spec.regexes.iter().map(|r| go_to_rust(r)).collect();
            let set = RegexSetBuilder::new(&translated)
                .size_limit(1 << 24)
                .build()
                .map_err(|e| format!("allowlist regex does not compile: {e}"))?;
            Some(set)
        };
        let stopwords = if spec.stopwords.is_empty() {
            None
        } else {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostFirst)
                .build(&spec.stopwords)
                .map_err(|e| format!("stopwords do not build: {e}"))?;
            Some(ac)
        };
        Ok(Allowlist {
            target,
            and,
            regexes,
            stopwords,
            has_path_or_commit: !spec.paths.is_empty() || !spec.commits.is_empty(),
            target_rules: spec.target_rules.clone(),
        })
    }

    /// Whether this allowlist has anything that can apply to prompt text at all.
    pub fn is_effective(&self) -> bool {
        let has_content_check = self.regexes.is_some() || self.stopwords.is_some();
        has_content_check && !(self.and && self.has_path_or_commit)
    }

    /// Whether this allowlist applies to the rule `id` (global allowlists may target rules).
    pub fn targets(&self, id: &str) -> bool {
        self.target_rules.is_empty() || self.target_rules.iter().any(|t| t == id)
    }

    /// Whether the candidate is allowed (i.e. not a finding).
    pub fn allows(&self, c: &Candidate<'_>) -> bool {
        let target = match self.target {
            RegexTarget::Secret => c.secret,
            RegexTarget::Match => c.matched,
            RegexTarget::Line => c.line,
        };
        let regex_ok = self.regexes.as_ref().is_some_and(|s| s.is_match(target));
        let stop_ok = self
            .stopwords
            .as_ref()
            .is_some_and(|ac| ac.is_match(c.secret));
        if self.and {
            if self.has_path_or_commit {
                return false;
            }
            let mut any_check = false;
            if self.regexes.is_some() {
                any_check = true;
                if !regex_ok {
                    return false;
                }
            }
            if self.stopwords.is_some() {
                any_check = true;
                if !stop_ok {
                    return false;
                }
            }
            any_check
        } else {
            regex_ok || stop_ok
        }
    }
}
