//! Validation of the `[audit]` section: durability, where the signing and master keys
//! come from, checkpoint cadence, retention and the content-capture rules.

use std::path::PathBuf;
use std::time::Duration;

use crate::defaults as d;
use crate::raw::{RawAudit, RawCaptureRule};
use crate::validate::{ConfigError, ModelNames, between, invalid, one_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditDurability {
    /// A response completes only after its record is committed.
    Strict,
    /// Records are queued; a full queue or a store outage loses records.
    BestEffort,
}

/// How SQLite commits audit records: `Full` fsyncs every group commit (survives power
/// loss), `Normal` survives a crash of Palisade but not of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSync {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMode {
    None,
    /// What the scanners' redaction leaves (until scanning exists: nothing).
    Redacted,
    /// Everything, encrypted.
    Full,
}

impl CaptureMode {
    fn parse(key: &str, value: &str) -> Result<CaptureMode, ConfigError> {
        one_of(
            key,
            value,
            &[
                ("none", CaptureMode::None),
                ("redacted", CaptureMode::Redacted),
                ("full", CaptureMode::Full),
            ],
        )
    }
}

/// Whose end user the OpenAI `user` field names, for the data subject the content captured
/// for a request belongs to (sealed under, erased and searched by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndUserScope {
    /// An end user of the calling user (the application the API key belongs to): two
    /// applications' end users `"42"` are two subjects, `<user id>:42`.
    User,
    /// The same person in every application: for deployments where all of them send one
    /// kind of id (an SSO subject, an employee number), so one erasure or access request
    /// covers the person everywhere.
    Global,
}

impl EndUserScope {
    /// The data subject of a request by `user_id` that named `end_user` (if any): the
    /// calling user themself without an end user.
    pub fn subject(self, user_id: &str, end_user: Option<&str>) -> String {
        match end_user.filter(|u| !u.is_empty()) {
            None => user_id.to_owned(),
            Some(u) => match self {
                EndUserScope::User => format!("{user_id}:{u}"),
                EndUserScope::Global => u.to_owned(),
            },
        }
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// The key text itself (from an `${ENV}` reference).
    Inline(String),
    /// A file holding the key; created (mode 0600) if missing.
    File(PathBuf),
}

/// Capture for requests to some models or from some groups; the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRule {
    /// Empty: any model.
    pub models: Vec<String>,
    /// Empty: any group.
    pub groups: Vec<String>,
    pub capture: CaptureMode,
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub enabled: bool,
    pub durability: AuditDurability,
    pub sync: AuditSync,
    pub origin: String,
    pub signing_key_file: PathBuf,
    pub master_key: MasterKeySource,
    pub previous_master_key_files: Vec<PathBuf>,
    pub capture: CaptureMode,
    pub capture_rules: Vec<CaptureRule>,
    pub end_user_scope: EndUserScope,
    pub checkpoint_every: u64,
    pub checkpoint_interval: Duration,
    pub batch_max: usize,
    /// Longest a group commit (or re-reading the log's tail) may take before its requests
    /// are refused with `audit_unavailable`.
    pub commit_timeout: Duration,
    pub retention_days: u32,
}

impl AuditConfig {
    /// The capture mode for a request to `model` by a member of `groups`.
    pub fn capture_for(&self, model: &str, groups: &[String]) -> CaptureMode {
        self.capture_rules
            .iter()
            .find(|r| {
                (r.models.is_empty() || r.models.iter().any(|m| m == model))
                    && (r.groups.is_empty() || groups.iter().any(|g| r.groups.contains(g)))
            })
            .map_or(self.capture, |r| r.capture)
    }
}

pub(crate) fn audit(raw: RawAudit, models: &ModelNames) -> Result<AuditConfig, ConfigError> {
    let durability = one_of(
        "audit.durability",
        raw.durability.as_deref().unwrap_or("strict"),
        &[
            ("strict", AuditDurability::Strict),
            ("best_effort", AuditDurability::BestEffort),
        ],
    )?;
    let sync = one_of(
        "audit.sync",
        raw.sync.as_deref().unwrap_or("full"),
        &[("full", AuditSync::Full), ("normal", AuditSync::Normal)],
    )?;
    let origin = raw.origin.unwrap_or_else(|| d::AUDIT_ORIGIN.to_owned());
    if origin.is_empty() || origin.contains('+') || origin.chars().any(char::is_whitespace) {
        return Err(invalid(
            "audit.origin",
            "must be non-empty, without spaces or '+'",
        ));
    }
    let master_key = match (raw.master_key, raw.master_key_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "audit.master_key",
                "set master_key or master_key_file, not both",
            ));
        }
        // (That it was an `${ENV}` reference is checked before expansion:
        // `validate::master_key_is_a_reference`.)
        (Some(text), None) => MasterKeySource::Inline(text),
        (None, file) => {
            MasterKeySource::File(file.as_deref().unwrap_or(d::AUDIT_MASTER_KEY_FILE).into())
        }
    };
    let mut previous = Vec::new();
    for f in &raw.previous_master_key_files {
        previous.push(f.into());
    }
    let capture = CaptureMode::parse("audit.capture", raw.capture.as_deref().unwrap_or("none"))?;
    let mut capture_rules = Vec::new();
    for (i, r) in raw.capture_rules.into_iter().enumerate() {
        capture_rules.push(rule(&format!("audit.capture_rules[{i}]"), r, models)?);
    }
    let end_user_scope = one_of(
        "audit.end_user_scope",
        raw.end_user_scope.as_deref().unwrap_or("user"),
        &[
            ("user", EndUserScope::User),
            ("global", EndUserScope::Global),
        ],
    )?;
    let checkpoint_every = raw.checkpoint_every.unwrap_or(d::AUDIT_CHECKPOINT_EVERY);
    if checkpoint_every == 0 {
        return Err(invalid("audit.checkpoint_every", "must be greater than 0"));
    }
    let interval = raw
        .checkpoint_interval_ms
        .unwrap_or(d::AUDIT_CHECKPOINT_INTERVAL_MS);
    if interval == 0 {
        return Err(invalid(
            "audit.checkpoint_interval_ms",
            "must be greater than 0",
        ));
    }
    let batch_max = between(
        "audit.batch_max",
        raw.batch_max.unwrap_or(d::AUDIT_BATCH_MAX),
        1..=10_000,
    )?;
    let commit_timeout = between(
        "audit.commit_timeout_ms",
        raw.commit_timeout_ms.unwrap_or(d::AUDIT_COMMIT_TIMEOUT_MS),
        100..=600_000,
    )?;
    let retention_days = raw.retention_days.unwrap_or(d::AUDIT_RETENTION_DAYS);
    if retention_days == 0 {
        return Err(invalid("audit.retention_days", "must be at least 1"));
    }
    Ok(AuditConfig {
        enabled: raw.enabled.unwrap_or(true),
        durability,
        sync,
        origin,
        signing_key_file: raw
            .signing_key_file
            .as_deref()
            .unwrap_or(d::AUDIT_SIGNING_KEY_FILE)
            .into(),
        master_key,
        previous_master_key_files: previous,
        capture,
        capture_rules,
        end_user_scope,
        checkpoint_every,
        checkpoint_interval: Duration::from_millis(interval),
        batch_max,
        commit_timeout: Duration::from_millis(commit_timeout),
        retention_days,
    })
}

fn rule(key: &str, raw: RawCaptureRule, models: &ModelNames) -> Result<CaptureRule, ConfigError> {
    let model_names = models.canonical_all(&format!("{key}.models"), raw.models)?;
    Ok(CaptureRule {
        models: model_names,
        groups: raw.groups,
        capture: CaptureMode::parse(&format!("{key}.capture"), &raw.capture)?,
    })
}
