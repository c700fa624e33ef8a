//! Validation of the access sections: `[policy]` (where the Cedar policies live) and
//! `[limits]` (backend, fail mode, rules). Rules are checked here for shape; the limits
//! engine checks them again when it installs them.

use std::path::PathBuf;
use std::time::Duration;

use crate::defaults as d;
use crate::raw::{RawLimitRule, RawLimits, RawPolicy};
use crate::validate::{ConfigError, ModelNames, between, invalid, one_of};

#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// The Cedar policy file; `None` uses the built-in default set.
    pub file: Option<PathBuf>,
    pub utc_offset_minutes: i32,
    /// Whether 403 bodies name the deciding policies.
    pub explain_denials: bool,
}

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub backend: LimitsBackend,
    pub on_backend_error: FailMode,
    /// The most one backend call may take before it counts as a failure.
    pub backend_timeout: Duration,
    /// How long admissions skip the backend after a failure (straight to the fail mode).
    pub backend_cooldown: Duration,
    pub rules: Vec<LimitRuleConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsBackend {
    Memory,
    Redis { url: String, key_prefix: String },
}

/// What to do when the shared limits backend cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    Closed,
    Open,
    Local,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LimitRuleConfig {
    /// `key`, `user`, `group`, `model` or `global`.
    pub scope: String,
    pub matches: Option<String>,
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub concurrent: Option<u64>,
    pub daily_tokens: Option<u64>,
    pub monthly_tokens: Option<u64>,
    /// Cost budgets in millionths of the price unit.
    pub daily_cost_micros: Option<u64>,
    pub monthly_cost_micros: Option<u64>,
}

pub(crate) fn policy(raw: RawPolicy) -> Result<PolicyConfig, ConfigError> {
    let offset = raw.utc_offset_minutes.unwrap_or(0);
    if !(-14 * 60..=14 * 60).contains(&offset) {
        return Err(invalid(
            "policy.utc_offset_minutes",
            "must be between -840 and 840",
        ));
    }
    Ok(PolicyConfig {
        file: raw.file.map(PathBuf::from),
        utc_offset_minutes: offset,
        explain_denials: raw.explain_denials.unwrap_or(true),
    })
}

pub(crate) fn limits(raw: RawLimits, models: &ModelNames) -> Result<LimitsConfig, ConfigError> {
    let backend = match raw.backend.as_deref().unwrap_or("memory") {
        "memory" => LimitsBackend::Memory,
        "redis" => {
            let url = raw.redis_url.ok_or_else(|| {
                invalid("limits.redis_url", "is required when backend = \"redis\"")
            })?;
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    "limits.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
            LimitsBackend::Redis {
                url,
                key_prefix: raw
                    .key_prefix
                    .unwrap_or_else(|| d::LIMITS_KEY_PREFIX.to_owned()),
            }
        }
        other => {
            return Err(invalid(
                "limits.backend",
                format!("`{other}` is not one of memory, redis"),
            ));
        }
    };
    let on_backend_error = one_of(
        "limits.on_backend_error",
        raw.on_backend_error.as_deref().unwrap_or("fail_closed"),
        &[
            ("fail_closed", FailMode::Closed),
            ("fail_open", FailMode::Open),
            ("local", FailMode::Local),
        ],
    )?;
    let backend_timeout = between(
        "limits.backend_timeout_ms",
        raw.backend_timeout_ms
            .unwrap_or(d::LIMITS_BACKEND_TIMEOUT_MS),
        10..=10_000,
    )?;
    let backend_cooldown = between(
        "limits.backend_cooldown_ms",
        raw.backend_cooldown_ms
            .unwrap_or(d::LIMITS_BACKEND_COOLDOWN_MS),
        0..=60_000,
    )?;
    let rules = raw
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| rule(&format!("limits.rules[{i}]"), r, models))
        .collect::<Result<_, _>>()?;
    Ok(LimitsConfig {
        backend,
        on_backend_error,
        backend_timeout: Duration::from_millis(backend_timeout),
        backend_cooldown: Duration::from_millis(backend_cooldown),
        rules,
    })
}

fn rule(key: &str, r: RawLimitRule, models: &ModelNames) -> Result<LimitRuleConfig, ConfigError> {
    if !["key", "user", "group", "model", "global"].contains(&r.scope.as_str()) {
        return Err(invalid(
            format!("{key}.scope"),
            format!(
                "`{}` is not one of key, user, group, model, global",
                r.scope
            ),
        ));
    }
    if r.scope == "global" && r.matches.is_some() {
        return Err(invalid(
            format!("{key}.match"),
            "a global rule has nothing to match",
        ));
    }
    let matches = match (r.matches, r.scope.as_str()) {
        (Some(m), "model") => Some(models.canonical(&format!("{key}.match"), &m)?),
        (m, _) => m,
    };
    let amounts = [
        r.requests_per_minute,
        r.tokens_per_minute,
        r.concurrent,
        r.daily_tokens,
        r.monthly_tokens,
    ];
    if amounts.contains(&Some(0)) {
        return Err(invalid(key, "limits must be greater than 0"));
    }
    let micros = |field: &str, v: Option<f64>| -> Result<Option<u64>, ConfigError> {
        match v {
            None => Ok(None),
            Some(c) if c.is_finite() && c > 0.0 => Ok(Some((c * 1_000_000.0).round() as u64)),
            Some(_) => Err(invalid(
                format!("{key}.{field}"),
                "must be a positive number",
            )),
        }
    };
    let daily_cost_micros = micros("daily_cost", r.daily_cost)?;
    let monthly_cost_micros = micros("monthly_cost", r.monthly_cost)?;
    if amounts.iter().all(Option::is_none)
        && daily_cost_micros.is_none()
        && monthly_cost_micros.is_none()
    {
        return Err(invalid(key, "sets no limit"));
    }
    Ok(LimitRuleConfig {
        scope: r.scope,
        matches,
        requests_per_minute: r.requests_per_minute,
        tokens_per_minute: r.tokens_per_minute,
        concurrent: r.concurrent,
        daily_tokens: r.daily_tokens,
        monthly_tokens: r.monthly_tokens,
        daily_cost_micros,
        monthly_cost_micros,
    })
}

#[cfg(test)]
mod tests {
    use crate::parse_str;
    use std::time::Duration;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const MODELS: &str =
        "[[providers]]\nname='s'\nkind='simulated'\n[[models]]\nname='m'\nprovider='s'\n";

    #[test]
    fn limit_rules_parse_with_costs_in_micros() {
        let text = format!(
            "{MODELS}price_input_per_million=1.0\n[limits]\nbackend='memory'\n[[limits.rules]]\nscope='user'\nrequests_per_minute=5\ndaily_cost=1.5\n"
        );
        let cfg = parse_str(&text, no_env).unwrap();
        assert_eq!(cfg.limits.rules[0].daily_cost_micros, Some(1_500_000));
        assert_eq!(cfg.limits.rules[0].requests_per_minute, Some(5));
    }

    #[test]
    fn bad_rules_are_named() {
        for (rule, key) in [
            (
                "scope='team'\nrequests_per_minute=1",
                "limits.rules[0].scope",
            ),
            (
                "scope='global'\nmatch='x'\nrequests_per_minute=1",
                "limits.rules[0].match",
            ),
            (
                "scope='model'\nmatch='nope'\nrequests_per_minute=1",
                "limits.rules[0].match",
            ),
            ("scope='user'", "limits.rules[0]"),
            ("scope='user'\nconcurrent=0", "limits.rules[0]"),
        ] {
            let text = format!("{MODELS}[[limits.rules]]\n{rule}\n");
            let err = parse_str(&text, no_env).unwrap_err().to_string();
            assert!(err.starts_with(&format!("`{key}`")), "{rule}: {err}");
        }
    }

    #[test]
    fn redis_backend_needs_a_url() {
        let err = parse_str("[limits]\nbackend='redis'\n", no_env)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`limits.redis_url`"), "{err}");
        let cfg = parse_str("[limits]\nbackend='redis'\nredis_url='redis://127.0.0.1:1'\non_backend_error='local'\n", no_env).unwrap();
        assert_eq!(cfg.limits.on_backend_error, super::FailMode::Local);
    }

    #[test]
    fn backend_timing_has_defaults_and_bounds() {
        let cfg = parse_str("", no_env).unwrap();
        assert_eq!(cfg.limits.backend_timeout, Duration::from_millis(250));
        assert_eq!(cfg.limits.backend_cooldown, Duration::from_secs(1));
        let cfg = parse_str(
            "[limits]\nbackend_timeout_ms = 2000\nbackend_cooldown_ms = 0\n",
            no_env,
        )
        .unwrap();
        assert_eq!(cfg.limits.backend_timeout, Duration::from_secs(2));
        assert_eq!(cfg.limits.backend_cooldown, Duration::ZERO);
        for (text, key) in [
            ("backend_timeout_ms = 0", "limits.backend_timeout_ms"),
            ("backend_timeout_ms = 60000", "limits.backend_timeout_ms"),
            (
                "backend_cooldown_ms = 3600000",
                "limits.backend_cooldown_ms",
            ),
        ] {
            let err = parse_str(&format!("[limits]\n{text}\n"), no_env)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("`{key}`")), "{text}: {err}");
        }
    }
}
