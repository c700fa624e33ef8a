//! Limit rules as configured: a scope, an optional target within it, and the amounts it
//! caps. Validation happens once, when rules are loaded or replaced, so the hot path can
//! trust every amount it reads.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The largest amount a rule may name (10^15). Counters stay exact in Redis' Lua numbers
/// (doubles) well past this, and no real budget comes near it.
pub const MAX_AMOUNT: u64 = 1_000_000_000_000_000;

/// Whom a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Per API key (its public id).
    Key,
    /// Per user, across all of the user's keys.
    User,
    /// Per group of the caller: a user in two groups is counted in both.
    Group,
    /// Per public model name.
    Model,
    /// One bucket for every request.
    Global,
}

impl Scope {
    /// The scope as it appears in keys and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::User => "user",
            Scope::Group => "group",
            Scope::Model => "model",
            Scope::Global => "global",
        }
    }
}

/// One limit rule. Every amount that is set is enforced; a request must pass all the
/// rules that apply to it. Costs are in millionths of a currency unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    pub scope: Scope,
    /// `None`: the rule applies to each subject of its scope separately. `Some(name)`:
    /// only to that key id, user, group or model. Not allowed with `Scope::Global`.
    /// Written `match` (as in the config file); `matches` is accepted too.
    #[serde(default, rename = "match", alias = "matches")]
    pub matches: Option<String>,
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    #[serde(default)]
    pub concurrent: Option<u64>,
    #[serde(default)]
    pub daily_tokens: Option<u64>,
    #[serde(default)]
    pub monthly_tokens: Option<u64>,
    #[serde(default)]
    pub daily_cost_micros: Option<u64>,
    #[serde(default)]
    pub monthly_cost_micros: Option<u64>,
}

impl LimitRule {
    /// A rule of `scope` for every subject, with no amounts yet (set the fields).
    pub fn new(scope: Scope) -> LimitRule {
        LimitRule {
            scope,
            matches: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            concurrent: None,
            daily_tokens: None,
            monthly_tokens: None,
            daily_cost_micros: None,
            monthly_cost_micros: None,
        }
    }

    /// The amounts by name, in a fixed order, for validation and messages.
    pub(crate) fn amounts(&self) -> [(&'static str, Option<u64>); 7] {
        [
            ("requests_per_minute", self.requests_per_minute),
            ("tokens_per_minute", self.tokens_per_minute),
            ("concurrent", self.concurrent),
            ("daily_tokens", self.daily_tokens),
            ("monthly_tokens", self.monthly_tokens),
            ("daily_cost_micros", self.daily_cost_micros),
            ("monthly_cost_micros", self.monthly_cost_micros),
        ]
    }
}

/// Why a limiter could not be built or its rules replaced.
#[derive(Debug, Error)]
pub enum LimitError {
    #[error("limit rule {index} ({scope}): {reason}")]
    InvalidRule {
        index: usize,
        scope: &'static str,
        reason: String,
    },
    #[error("invalid Redis configuration: {0}")]
    RedisConfig(String),
    #[error("the limits backend is unavailable: {0}")]
    Unavailable(String),
}

/// Checks every rule; the first problem is reported with the rule's position.
pub fn validate_rules(rules: &[LimitRule]) -> Result<(), LimitError> {
    for (index, rule) in rules.iter().enumerate() {
        validate_rule(rule).map_err(|reason| LimitError::InvalidRule {
            index,
            scope: rule.scope.as_str(),
            reason,
        })?;
    }
    Ok(())
}

fn validate_rule(rule: &LimitRule) -> Result<(), String> {
    match (&rule.matches, rule.scope) {
        (Some(_), Scope::Global) => {
            return Err("`matches` makes no sense for the global scope".to_owned());
        }
        (Some(name), _) if name.trim().is_empty() => {
            return Err("`matches` must name a subject (it is empty)".to_owned());
        }
        _ => {}
    }
    let mut any = false;
    for (name, amount) in rule.amounts() {
        match amount {
            None => {}
            Some(0) => {
                return Err(format!(
                    "{name} must be positive (to block a subject, use an authorization policy)"
                ));
            }
            Some(n) if n > MAX_AMOUNT => {
                return Err(format!("{name} must be at most {MAX_AMOUNT}"));
            }
            Some(_) => any = true,
        }
    }
    if !any {
        return Err("the rule sets no limit".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpm(scope: Scope, n: u64) -> LimitRule {
        LimitRule {
            requests_per_minute: Some(n),
            ..LimitRule::new(scope)
        }
    }

    #[test]
    fn limits_rules_validate() {
        assert!(validate_rules(&[rpm(Scope::Key, 10), rpm(Scope::Global, 5)]).is_ok());
        let zero = validate_rules(&[rpm(Scope::Key, 10), rpm(Scope::User, 0)]);
        assert!(
            matches!(&zero, Err(LimitError::InvalidRule { index: 1, .. })),
            "{zero:?}"
        );
        let global = LimitRule {
            matches: Some("x".into()),
            ..rpm(Scope::Global, 1)
        };
        assert!(validate_rules(&[global]).is_err());
        let empty = LimitRule {
            matches: Some(" ".into()),
            ..rpm(Scope::User, 1)
        };
        assert!(validate_rules(&[empty]).is_err());
        assert!(validate_rules(&[LimitRule::new(Scope::Model)]).is_err());
        assert!(validate_rules(&[rpm(Scope::Model, MAX_AMOUNT + 1)]).is_err());
    }

    #[test]
    fn limits_rules_deserialize_strictly() {
        let rule: LimitRule =
            serde_json::from_str(r#"{"scope":"group","matches":"ml","daily_tokens":500}"#).unwrap();
        assert_eq!(rule.scope, Scope::Group);
        assert_eq!(rule.daily_tokens, Some(500));
        assert_eq!(rule.requests_per_minute, None);
        assert!(serde_json::from_str::<LimitRule>(r#"{"scope":"user","rpm":5}"#).is_err());
    }
}
