//! Validation of the `[scan]` section: the scanning profiles (an action per finding kind
//! or category, thresholds, banned terms), which profile applies to which models and
//! groups, extra secret-rule files and the stream hold-back bounds.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use palisade_scan::profile::Action;
use palisade_scan::stream::MIN_HOLDBACK;
use palisade_scan::{Category, known_kind};

use crate::defaults as d;
use crate::raw::{RawScan, RawScanProfile, RawScanRule};
use crate::validate::{ConfigError, ModelNames, invalid};

/// The profile name that turns scanning off for the requests it is assigned to.
pub const NO_SCAN: &str = "none";

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub enabled: bool,
    /// The profile for requests no rule matches (`none`: not scanned).
    pub default_profile: String,
    /// Every profile by name, the built-in `default` included unless redefined.
    pub profiles: Vec<ScanProfileConfig>,
    /// First match wins.
    pub rules: Vec<ScanRule>,
    pub builtin_secret_rules: bool,
    /// Extra secret rules in gitleaks TOML format.
    pub secret_rule_files: Vec<PathBuf>,
    pub classifier: bool,
    /// Overrides the classifier's tuned threshold.
    pub injection_threshold: Option<f32>,
    /// Decode base64 / hex / URL-encoded runs and scan what they hide.
    pub decode: bool,
    /// Read letter-spaced words (`i g n o r e`, `R-E-V-E-A-L`) as words.
    pub letter_spacing: bool,
    pub stream_holdback_bytes: usize,
    pub stream_max_hold_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanProfileConfig {
    pub name: String,
    pub threshold: f32,
    pub scan_system: bool,
    pub scan_output: bool,
    /// Per category.
    pub categories: Vec<(Category, Action)>,
    /// Per kind (overrides the category).
    pub kinds: Vec<(String, Action)>,
    pub banned_terms: Vec<String>,
    pub banned_topics: Vec<(String, Vec<String>)>,
}

impl ScanProfileConfig {
    /// Palisade's default profile: injections, secrets, banned terms and system-prompt
    /// leaks blocked, personal data pseudonymized, obfuscation flagged.
    pub fn builtin_default() -> ScanProfileConfig {
        ScanProfileConfig {
            name: "default".into(),
            threshold: d::SCAN_THRESHOLD,
            scan_system: false,
            scan_output: true,
            categories: vec![
                (Category::Injection, Action::Block),
                (Category::Secret, Action::Block),
                (Category::Pii, Action::Pseudonymize),
                (Category::Obfuscation, Action::Flag),
                (Category::Banned, Action::Block),
                (Category::Leak, Action::Block),
            ],
            kinds: Vec::new(),
            banned_terms: Vec::new(),
            banned_topics: Vec::new(),
        }
    }
}

/// Assigns a profile to requests for some models or from some groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRule {
    /// Empty: any model.
    pub models: Vec<String>,
    /// Empty: any group.
    pub groups: Vec<String>,
    pub profile: String,
}

impl ScanConfig {
    /// `[scan]` with every default (for tools that run without a config file).
    pub fn builtin() -> Result<ScanConfig, ConfigError> {
        scan(RawScan::default(), &ModelNames::default())
    }

    /// The profile name for a request to `model` by a member of `groups`; `None` when the
    /// request is not scanned.
    pub fn profile_for(&self, model: &str, groups: &[String]) -> Option<&str> {
        if !self.enabled {
            return None;
        }
        let name = self
            .rules
            .iter()
            .find(|r| {
                (r.models.is_empty() || r.models.iter().any(|m| m == model))
                    && (r.groups.is_empty() || groups.iter().any(|g| r.groups.contains(g)))
            })
            .map_or(self.default_profile.as_str(), |r| r.profile.as_str());
        (name != NO_SCAN).then_some(name)
    }
}

pub(crate) fn scan(raw: RawScan, models: &ModelNames) -> Result<ScanConfig, ConfigError> {
    let mut profiles = vec![ScanProfileConfig::builtin_default()];
    let mut default_replaced = false;
    for (i, p) in raw.profiles.into_iter().enumerate() {
        let p = profile(&format!("scan.profiles[{i}]"), p)?;
        if p.name == NO_SCAN {
            return Err(invalid(
                format!("scan.profiles[{i}].name"),
                "`none` is reserved: it means no scanning",
            ));
        }
        match profiles.iter().position(|q| q.name == p.name) {
            // The built-in `default` may be replaced once.
            Some(0) if p.name == "default" && !default_replaced => {
                default_replaced = true;
                profiles[0] = p;
            }
            Some(_) => {
                return Err(invalid(
                    format!("scan.profiles[{i}].name"),
                    format!("duplicate profile `{}`", p.name),
                ));
            }
            None => profiles.push(p),
        }
    }
    let names: HashSet<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    let known = |key: &str, name: &str| -> Result<(), ConfigError> {
        if name == NO_SCAN || names.contains(name) {
            Ok(())
        } else {
            Err(invalid(
                key,
                format!("`{name}` is not a defined profile (or `none`)"),
            ))
        }
    };
    let default_profile = raw.default_profile.unwrap_or_else(|| "default".into());
    known("scan.default_profile", &default_profile)?;
    let mut rules = Vec::new();
    for (i, r) in raw.rules.into_iter().enumerate() {
        let key = format!("scan.rules[{i}]");
        rules.push(rule(&key, r, models)?);
        known(&format!("{key}.profile"), &rules[i].profile)?;
    }
    let mut secret_rule_files = Vec::new();
    for f in &raw.secret_rule_files {
        secret_rule_files.push(f.into());
    }
    if let Some(t) = raw.injection_threshold
        && !(t > 0.0 && t < 1.0)
    {
        return Err(invalid(
            "scan.injection_threshold",
            "must be between 0 and 1",
        ));
    }
    let holdback = raw
        .stream_holdback_bytes
        .unwrap_or(d::SCAN_STREAM_HOLDBACK_BYTES);
    if !(MIN_HOLDBACK..=65_536).contains(&holdback) {
        return Err(invalid(
            "scan.stream_holdback_bytes",
            format!(
                "must be between {MIN_HOLDBACK} (the longest spaced value a detector knows, an IBAN, must fit) and 65536"
            ),
        ));
    }
    let max_hold = raw
        .stream_max_hold_bytes
        .unwrap_or(d::SCAN_STREAM_MAX_HOLD_BYTES);
    if max_hold < holdback || max_hold > 1024 * 1024 {
        return Err(invalid(
            "scan.stream_max_hold_bytes",
            "must be at least stream_holdback_bytes and at most 1048576",
        ));
    }
    Ok(ScanConfig {
        enabled: raw.enabled.unwrap_or(true),
        default_profile,
        profiles,
        rules,
        builtin_secret_rules: raw.builtin_secret_rules.unwrap_or(true),
        secret_rule_files,
        classifier: raw.classifier.unwrap_or(true),
        injection_threshold: raw.injection_threshold,
        decode: raw.decode.unwrap_or(true),
        letter_spacing: raw.letter_spacing.unwrap_or(true),
        stream_holdback_bytes: holdback,
        stream_max_hold_bytes: max_hold,
    })
}

fn profile(key: &str, raw: RawScanProfile) -> Result<ScanProfileConfig, ConfigError> {
    if raw.name.trim().is_empty() {
        return Err(invalid(format!("{key}.name"), "must not be empty"));
    }
    let threshold = raw.threshold.unwrap_or(d::SCAN_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(invalid(
            format!("{key}.threshold"),
            "must be between 0 and 1",
        ));
    }
    let mut categories = Vec::new();
    let mut kinds = Vec::new();
    for (name, action) in raw.actions {
        let akey = format!("{key}.actions.{name}");
        let Some(action) = Action::parse(&action) else {
            return Err(invalid(
                akey,
                format!("`{action}` is not one of block, redact, mask, pseudonymize, flag"),
            ));
        };
        if let Some(c) = Category::parse(&name) {
            categories.push((c, action));
        } else if known_kind(&name) {
            kinds.push((name, action));
        } else {
            return Err(invalid(
                akey,
                format!(
                    "`{name}` is neither a category (pii, secret, injection, obfuscation, banned, leak) nor a known finding kind"
                ),
            ));
        }
    }
    let topics: BTreeMap<String, Vec<String>> = raw.banned_topics;
    if let Some((t, _)) = topics
        .iter()
        .find(|(_, terms)| terms.iter().any(|x| x.trim().is_empty()))
    {
        return Err(invalid(
            format!("{key}.banned_topics.{t}"),
            "terms must not be empty",
        ));
    }
    if raw.banned_terms.iter().any(|x| x.trim().is_empty()) {
        return Err(invalid(
            format!("{key}.banned_terms"),
            "terms must not be empty",
        ));
    }
    // A profile runs only the detectors its actions name: terms without a `banned` action
    // would be listed and never looked for.
    let has_terms = !raw.banned_terms.is_empty() || !topics.is_empty();
    let acts_on_banned = categories.iter().any(|(c, _)| *c == Category::Banned)
        || kinds.iter().any(|(k, _)| k == "banned_term");
    if has_terms && !acts_on_banned {
        return Err(invalid(
            format!("{key}.actions"),
            "the profile lists banned terms but no `banned` action, so they would never be looked for: add banned = \"block\" (or \"redact\", \"flag\")",
        ));
    }
    Ok(ScanProfileConfig {
        name: raw.name,
        threshold,
        scan_system: raw.scan_system.unwrap_or(false),
        scan_output: raw.scan_output.unwrap_or(true),
        categories,
        kinds,
        banned_terms: raw.banned_terms,
        banned_topics: topics.into_iter().collect(),
    })
}

fn rule(key: &str, raw: RawScanRule, models: &ModelNames) -> Result<ScanRule, ConfigError> {
    let model_names = models.canonical_all(&format!("{key}.models"), raw.models)?;
    Ok(ScanRule {
        models: model_names,
        groups: raw.groups,
        profile: raw.profile,
    })
}
