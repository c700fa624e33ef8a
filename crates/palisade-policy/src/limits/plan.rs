//! From rules and a subject to the checks one admission makes, and from an admission to
//! the operations that settle it. Both backends execute exactly these, so they count
//! the same way.
//!
//! A bucket is named by what it counts, not by the rule that limits it:
//! `{scope}:{kind}[:{window}]:{subject}`, e.g. `u:rpm:alice`, `g:td:2025-07-14:ml`,
//! `a:con:*`. Two rules limiting the same bucket (a rule for every user and one for
//! `alice`) share it and the smaller limit wins, reordering rules or changing an amount
//! keeps the counts, and a refusal by one can never leave the other half-charged.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::clock::{MICROS_PER_SEC, Window};
use super::rule::{LimitRule, MAX_AMOUNT, Scope};
use super::types::{Demand, Subject, Usage};

/// The per-minute limits' period, in microseconds.
pub(crate) const PERIOD_MICROS: f64 = 60_000_000.0;
/// A rate bucket never holds more than a day of its limit, however much is charged late.
pub(crate) const MAX_LEVEL_MINUTES: f64 = 1440.0;
/// Budget counters outlive their window by this long, for settlements that end late.
pub(crate) const WINDOW_GRACE_MICROS: u64 = 3600 * MICROS_PER_SEC;
/// Subject names longer than this, or with other characters than these, are hashed.
const MAX_PLAIN_NAME: usize = 64;

/// What a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Requests per minute (GCRA, continuous-state form).
    Requests,
    /// Tokens per minute (GCRA, continuous-state form).
    Tokens,
    /// Requests in flight.
    Concurrent,
    /// Tokens or cost in a UTC calendar window.
    Budget { cost: bool, window: Window },
}

/// One bucket an admission must pass, with what it would reserve there.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// The bucket's name, without the backend's prefix.
    pub key: String,
    pub kind: Kind,
    pub limit: u64,
    /// Units reserved by this admission: 1 request or slot, or the demanded tokens/cost.
    pub amount: u64,
    /// For budgets, when the window ends (unix µs); 0 otherwise.
    pub window_end: u64,
    /// Whom the bucket counts, for messages: "per user", "for group `ml`".
    pub label: String,
    /// The bucket counts one model's requests (a `model` rule), not the key's.
    pub per_model: bool,
}

impl Check {
    /// For rate buckets: how much must fit for admission (a zero demand still needs room).
    pub fn needed(&self) -> f64 {
        self.amount.max(1) as f64
    }
}

/// A change applied at settlement, renewal or release.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Adds `delta` units to a rate bucket (negative: a refund, never below empty).
    Rate { key: String, limit: u64, delta: i64 },
    /// Adds `delta` to a budget counter (negative: a refund, never below zero).
    Counter {
        key: String,
        delta: i64,
        window_end: u64,
    },
    /// Frees this admission's concurrency slot.
    Release { key: String },
    /// Extends this admission's concurrency lease.
    Renew { key: String },
}

/// The level of a rate bucket at `now`, given its level at `t`: it drains `limit` units
/// per minute. Lua computes the same expression in the same order.
pub(crate) fn leaked(level: f64, t: u64, now: u64, limit: u64) -> f64 {
    if now <= t {
        return level;
    }
    (level - (now - t) as f64 * limit as f64 / PERIOD_MICROS).max(0.0)
}

/// Every check the rules make of this request, merged per bucket (smallest limit).
pub(crate) fn checks(
    rules: &[LimitRule],
    subject: &Subject<'_>,
    demand: Demand,
    now: u64,
) -> Vec<Check> {
    let tokens = demand.tokens.min(MAX_AMOUNT);
    let cost = demand.cost_micros.min(MAX_AMOUNT);
    let mut out: Vec<Check> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut add = |key: String,
                   kind: Kind,
                   limit: u64,
                   amount: u64,
                   window_end: u64,
                   label: &str,
                   per_model: bool| match seen.get(&key) {
        Some(&i) => out[i].limit = out[i].limit.min(limit),
        None => {
            seen.insert(key.clone(), out.len());
            out.push(Check {
                key,
                kind,
                limit,
                amount,
                window_end,
                label: label.to_owned(),
                per_model,
            });
        }
    };
    for rule in rules {
        for (letter, name, label) in targets(rule, subject) {
            let per_model = letter == 'm';
            let name = bucket_name(name);
            let simple = [
                ("rpm", Kind::Requests, rule.requests_per_minute, 1),
                ("tpm", Kind::Tokens, rule.tokens_per_minute, tokens),
                ("con", Kind::Concurrent, rule.concurrent, 1),
            ];
            for (tag, kind, limit, amount) in simple {
                if let Some(limit) = limit {
                    add(
                        format!("{letter}:{tag}:{name}"),
                        kind,
                        limit,
                        amount,
                        0,
                        &label,
                        per_model,
                    );
                }
            }
            let budgets = [
                ("td", false, Window::Day, rule.daily_tokens, tokens),
                ("tm", false, Window::Month, rule.monthly_tokens, tokens),
                ("cd", true, Window::Day, rule.daily_cost_micros, cost),
                ("cm", true, Window::Month, rule.monthly_cost_micros, cost),
            ];
            for (tag, is_cost, window, limit, amount) in budgets {
                if let Some(limit) = limit {
                    let (window_name, end) = window.containing(now);
                    let kind = Kind::Budget {
                        cost: is_cost,
                        window,
                    };
                    let key = format!("{letter}:{tag}:{window_name}:{name}");
                    add(key, kind, limit, amount, end, &label, per_model);
                }
            }
        }
    }
    out
}

/// The subjects a rule counts for this request: (scope letter, name, label).
fn targets<'a>(rule: &LimitRule, subject: &Subject<'a>) -> Vec<(char, &'a str, String)> {
    let wanted = |name: &str| rule.matches.as_deref().is_none_or(|m| m == name);
    match rule.scope {
        Scope::Key if wanted(subject.key_id) => {
            vec![('k', subject.key_id, "per API key".to_owned())]
        }
        Scope::User if wanted(subject.user) => vec![('u', subject.user, "per user".to_owned())],
        Scope::Group => subject
            .groups
            .iter()
            .filter(|g| wanted(g))
            .map(|g| ('g', g.as_str(), format!("for group `{g}`")))
            .collect(),
        Scope::Model if wanted(subject.model) => {
            let label = format!("for model `{}`", subject.model);
            vec![('m', subject.model, label)]
        }
        Scope::Global => vec![('a', "*", "across all callers".to_owned())],
        Scope::Key | Scope::User | Scope::Model => Vec::new(),
    }
}

/// A subject's name as it appears in a bucket key: as is when short and plain, else a
/// hash, so keys stay bounded and unambiguous (`h:` cannot start a plain name).
pub(crate) fn bucket_name(name: &str) -> String {
    let plain = name.len() <= MAX_PLAIN_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'*'));
    if plain {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("h:{hex}")
}

/// What settling an admission changes: token and cost reservations are corrected to the
/// real usage, and concurrency slots are freed.
pub(crate) fn settlement(checks: &[Check], demand: Demand, used: Usage) -> Vec<Op> {
    let token_delta = signed_delta(used.tokens, demand.tokens);
    let cost_delta = signed_delta(used.cost_micros, demand.cost_micros);
    checks
        .iter()
        .filter_map(|c| match c.kind {
            Kind::Requests => None,
            Kind::Tokens => (token_delta != 0).then(|| Op::Rate {
                key: c.key.clone(),
                limit: c.limit,
                delta: token_delta,
            }),
            Kind::Budget { cost, .. } => {
                let delta = if cost { cost_delta } else { token_delta };
                (delta != 0).then(|| Op::Counter {
                    key: c.key.clone(),
                    delta,
                    window_end: c.window_end,
                })
            }
            Kind::Concurrent => Some(Op::Release { key: c.key.clone() }),
        })
        .collect()
}

/// Frees the concurrency slots of an admission that is dropped unsettled.
pub(crate) fn releases(checks: &[Check]) -> Vec<Op> {
    concurrency(checks, |key| Op::Release { key })
}

/// Extends the concurrency leases of a live admission.
pub(crate) fn renewals(checks: &[Check]) -> Vec<Op> {
    concurrency(checks, |key| Op::Renew { key })
}

fn concurrency(checks: &[Check], op: impl Fn(String) -> Op) -> Vec<Op> {
    checks
        .iter()
        .filter(|c| c.kind == Kind::Concurrent)
        .map(|c| op(c.key.clone()))
        .collect()
}

fn signed_delta(used: u64, reserved: u64) -> i64 {
    let (used, reserved) = (used.min(MAX_AMOUNT), reserved.min(MAX_AMOUNT));
    // Both are at most 10^15, so the difference fits.
    used as i64 - reserved as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::clock::{Clock, ManualClock};

    #[test]
    fn limits_plan_merges_shared_buckets_and_targets_matches() {
        let groups = vec!["ml".to_owned(), "eng".to_owned()];
        let subject = Subject {
            key_id: "k1",
            user: "alice",
            groups: &groups,
            model: "gpt-4o",
        };
        let every_user = LimitRule {
            requests_per_minute: Some(100),
            ..LimitRule::new(Scope::User)
        };
        let alice = LimitRule {
            matches: Some("alice".into()),
            requests_per_minute: Some(10),
            daily_tokens: Some(1000),
            ..LimitRule::new(Scope::User)
        };
        let bob = LimitRule {
            matches: Some("bob".into()),
            ..alice.clone()
        };
        let ml = LimitRule {
            matches: Some("ml".into()),
            concurrent: Some(2),
            ..LimitRule::new(Scope::Group)
        };
        let groups_rule = LimitRule {
            tokens_per_minute: Some(500),
            ..LimitRule::new(Scope::Group)
        };
        let now = ManualClock::at_utc(2025, 7, 14, 12, 0, 0).now_micros();
        let demand = Demand {
            tokens: 40,
            cost_micros: 0,
        };
        let rules = [every_user, alice, bob, ml, groups_rule];
        let checks = checks(&rules, &subject, demand, now);
        let keys: Vec<(&str, u64, u64)> = checks
            .iter()
            .map(|c| (c.key.as_str(), c.limit, c.amount))
            .collect();
        assert_eq!(
            keys,
            [
                ("u:rpm:alice", 10, 1),
                ("u:td:2025-07-14:alice", 1000, 40),
                ("g:con:ml", 2, 1),
                ("g:tpm:ml", 500, 40),
                ("g:tpm:eng", 500, 40),
            ]
        );
    }

    #[test]
    fn limits_bucket_names_stay_bounded() {
        assert_eq!(bucket_name("alice@example.com"), "alice@example.com");
        let odd = bucket_name("a:b");
        assert!(odd.starts_with("h:") && odd.len() == 34, "{odd}");
        assert_eq!(bucket_name(&"x".repeat(500)).len(), 34);
        assert_ne!(bucket_name("a:b"), bucket_name("a:c"));
    }

    #[test]
    fn limits_rate_buckets_drain_at_the_limit() {
        assert_eq!(leaked(60.0, 0, 30_000_000, 60), 30.0);
        assert_eq!(leaked(60.0, 0, 90_000_000, 60), 0.0);
        assert_eq!(leaked(5.0, 100, 50, 60), 5.0);
    }
}
