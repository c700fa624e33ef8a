//! The content-scanning runtime of the data plane: one shared [`Scanner`] (detectors
//! compiled once), the profiles built from `[scan]`, and which profile a request gets.
//! The per-request work — scanning messages, applying actions, the stream guard —
//! is in `pipeline/inspect.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use palisade_config::{ScanConfig, ScanProfileConfig};
use palisade_scan::banned::{BannedError, BannedTerms};
use palisade_scan::engine::Scanner;
use palisade_scan::injection::InjectionError;
use palisade_scan::normalize::NormalizeOptions;
use palisade_scan::profile::Profile;
use palisade_scan::secrets::SecretRules;
use palisade_scan::stream::HoldBack;

/// Why scanning could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ScanSetupError {
    #[error("banned terms: {0}")]
    Banned(#[from] BannedError),
    #[error("injection classifier: {0}")]
    Injection(#[from] InjectionError),
}

pub struct Scanning {
    scanner: Arc<Scanner>,
    profiles: HashMap<String, Arc<Profile>>,
    config: ScanConfig,
    pub hold: HoldBack,
}

impl std::fmt::Debug for Scanning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanning")
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Scanning {
    /// Builds the scanner and profiles. `extra_rules` are the user's secret-rule files,
    /// already read and parsed by the caller (this crate does no file I/O for it).
    pub fn build(
        config: &ScanConfig,
        extra_rules: Vec<SecretRules>,
    ) -> Result<Scanning, ScanSetupError> {
        let mut builder = Scanner::builder()
            .builtin_secrets(config.builtin_secret_rules)
            .classifier(config.classifier)
            .normalize(Some(NormalizeOptions {
                decode: config.decode,
                letter_spacing: config.letter_spacing,
                ..NormalizeOptions::default()
            }));
        if let Some(t) = config.injection_threshold {
            builder = builder.injection_threshold(t);
        }
        for rules in extra_rules {
            builder = builder.secret_rules(rules);
        }
        let mut profiles = HashMap::new();
        for p in &config.profiles {
            profiles.insert(p.name.clone(), Arc::new(profile(p)?));
        }
        Ok(Scanning {
            scanner: Arc::new(builder.build()?),
            profiles,
            config: config.clone(),
            hold: HoldBack {
                tail: config.stream_holdback_bytes,
                max: config.stream_max_hold_bytes,
                ..HoldBack::default()
            },
        })
    }

    pub fn scanner(&self) -> &Arc<Scanner> {
        &self.scanner
    }

    /// A profile by name.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.profiles.get(name).map(|p| Profile::clone(p))
    }

    /// The profile for a request to `model` by a member of `groups`; `None`: not scanned.
    pub fn profile_for(&self, model: &str, groups: &[String]) -> Option<Arc<Profile>> {
        let name = self.config.profile_for(model, groups)?;
        self.profiles.get(name).cloned()
    }
}

fn profile(cfg: &ScanProfileConfig) -> Result<Profile, BannedError> {
    let mut p = Profile::new(cfg.name.clone());
    for (category, action) in &cfg.categories {
        p = p.with_category(*category, *action);
    }
    for (kind, action) in &cfg.kinds {
        p = p.with_kind(kind.clone(), *action);
    }
    p.threshold = cfg.threshold;
    p.scan_system = cfg.scan_system;
    p.scan_output = cfg.scan_output;
    let mut topics = cfg.banned_topics.clone();
    if !cfg.banned_terms.is_empty() {
        topics.push(("terms".to_owned(), cfg.banned_terms.clone()));
    }
    if !topics.is_empty() {
        p = p.with_banned(BannedTerms::with_topics(&topics)?);
    }
    Ok(p)
}
