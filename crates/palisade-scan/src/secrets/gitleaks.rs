//! The gitleaks rule file format (TOML), as data: what a file says, before anything is
//! compiled. Supported keys:
//!
//! - top level: `title`, `[[rules]]`, the global `[allowlist]` (older form) and
//!   `[[allowlists]]` (with `targetRules`); `[extend]` is read but ignored (counted in
//!   the report; combine files with `SecretRules::extend` instead); `minVersion` ignored.
//! - `[[rules]]`: `id`, `description`, `regex`, `secretGroup`, `entropy`, `keywords`,
//!   `path`, `tags`, `[[rules.allowlists]]` and the older `[rules.allowlist]`.
//! - allowlists: `description`, `condition` (`OR` default, `AND`), `regexTarget`
//!   (`secret` default, `match`, `line`), `regexes`, `stopwords`; `paths` and `commits`
//!   are kept only to decide an `AND` condition (a prompt has neither, so such a check
//!   is false).
//!
//! Unknown keys are ignored, as gitleaks does.

use serde::Deserialize;

use super::report::RulesError;

/// One parsed rule file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitleaksFile {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub extend: Option<toml::Value>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// The older single global `[allowlist]`.
    #[serde(default)]
    pub allowlist: Option<AllowlistSpec>,
    /// The newer `[[allowlists]]`.
    #[serde(default)]
    pub allowlists: Vec<AllowlistSpec>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    /// Which capture group is the secret; 0 or absent means "the first non-empty group,
    /// else the whole match".
    #[serde(default)]
    pub secret_group: Option<usize>,
    /// Shannon entropy floor of the secret (a secret at or below it is not reported).
    #[serde(default)]
    pub entropy: Option<f64>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub allowlist: Option<AllowlistSpec>,
    #[serde(default)]
    pub allowlists: Vec<AllowlistSpec>,
}

impl RuleSpec {
    /// The rule's allowlists in both forms, older first.
    pub fn all_allowlists(&self) -> impl Iterator<Item = &AllowlistSpec> {
        self.allowlist.iter().chain(self.allowlists.iter())
    }
}

/// One allowlist table (per rule or global).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowlistSpec {
    #[serde(default)]
    pub description: Option<String>,
    /// `OR` (default) or `AND`.
    #[serde(default)]
    pub condition: Option<String>,
    /// `secret` (default), `match` or `line`.
    #[serde(default)]
    pub regex_target: Option<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub commits: Vec<String>,
    /// Global allowlists only: the rule ids it applies to (all rules when empty).
    #[serde(default)]
    pub target_rules: Vec<String>,
}

impl GitleaksFile {
    /// Parses a gitleaks TOML file.
    pub fn parse(text: &str) -> Result<GitleaksFile, RulesError> {
        Ok(toml::from_str(text)?)
    }

    /// The global allowlists in both forms, older first.
    pub fn global_allowlists(&self) -> impl Iterator<Item = &AllowlistSpec> {
        self.allowlist.iter().chain(self.allowlists.iter())
    }
}
