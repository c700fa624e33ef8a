//! Turns a backend's verdict into what the caller sees: headers and allowances for an
//! admission, or a refusal with its code, message and `retry-after`. Backends report
//! one number per check (a rate bucket's level, a budget's spend, a slot count) after
//! the admission, or before it when refused; everything else is computed here, once,
//! for both backends.

use std::time::Duration;

use super::clock::Window;
use super::plan::{Check, Kind, PERIOD_MICROS};
use super::types::{RateLimitHeaders, Refusal, RefusalCode};

/// A backend's answer: admitted or not, and each check's state (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub admitted: bool,
    pub states: Vec<f64>,
}

/// What an admission tells its caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Granted {
    pub headers: RateLimitHeaders,
    pub token_allowance: Option<u64>,
    pub cost_allowance: Option<u64>,
}

/// Headers and allowances after an admission; `states` are the levels after it.
pub(crate) fn granted(checks: &[Check], states: &[f64]) -> Granted {
    let mut granted = Granted {
        headers: headers(checks, states),
        ..Granted::default()
    };
    for (check, &state) in checks.iter().zip(states) {
        // What was there before this admission reserved its own amount.
        let before = (state - check.amount as f64).max(0.0);
        let room = (check.limit as f64 - before).max(0.0).floor() as u64;
        let slot = match check.kind {
            Kind::Tokens | Kind::Budget { cost: false, .. } => &mut granted.token_allowance,
            Kind::Budget { cost: true, .. } => &mut granted.cost_allowance,
            Kind::Requests | Kind::Concurrent => continue,
        };
        *slot = Some(slot.map_or(room, |r| r.min(room)));
    }
    granted
}

/// The refusal for checks in these states (before admission). The binding check is the
/// one that frees last: the request can pass only when all of them would.
pub(crate) fn refused(
    checks: &[Check],
    states: &[f64],
    now: u64,
    concurrency_retry: Duration,
) -> Refusal {
    let mut worst: Option<(RefusalCode, Duration, String)> = None;
    let mut holds_key_for: Option<Duration> = None;
    for (check, &state) in checks.iter().zip(states) {
        let Some(reason) = refusal_of(check, state, now, concurrency_retry) else {
            continue;
        };
        // A request bucket refuses every request until it refills (nothing refunds it);
        // one of a model's refuses only that model's.
        if check.kind == Kind::Requests && !check.per_model {
            holds_key_for = holds_key_for.max(Some(reason.1));
        }
        if worst.as_ref().is_none_or(|w| reason.1 > w.1) {
            worst = Some(reason);
        }
    }
    // A backend that refused for a reason not found here (it should not happen): still a
    // refusal, with a short hint.
    let (code, retry_after, message) = worst.unwrap_or_else(|| {
        let message = "rate limit exceeded".to_owned();
        (
            RefusalCode::RateLimitExceeded,
            Duration::from_secs(1),
            message,
        )
    });
    Refusal {
        code,
        message,
        retry_after,
        headers: headers(checks, states),
        holds_key_for,
    }
}

/// The refusal when the backend could not be asked and the fail mode is closed.
pub(crate) fn unavailable(retry_after: Duration) -> Refusal {
    Refusal {
        code: RefusalCode::BackendUnavailable,
        message: "limits could not be checked; try again shortly".to_owned(),
        retry_after,
        headers: RateLimitHeaders::default(),
        holds_key_for: None,
    }
}

fn refusal_of(
    check: &Check,
    state: f64,
    now: u64,
    concurrency_retry: Duration,
) -> Option<(RefusalCode, Duration, String)> {
    let (limit, label) = (check.limit, &check.label);
    match check.kind {
        Kind::Requests | Kind::Tokens => {
            let needed = check.needed();
            let over = state + needed - limit as f64;
            if over <= 0.0 {
                return None;
            }
            let micros = round_up(over * PERIOD_MICROS / limit as f64);
            let retry = Duration::from_micros(micros);
            let unit = if check.kind == Kind::Requests {
                "requests"
            } else {
                "tokens"
            };
            let message = if needed > limit as f64 {
                format!(
                    "this request needs {needed} tokens, more than the limit of {limit} tokens \
                     per minute {label}"
                )
            } else {
                format!(
                    "rate limit reached: {limit} {unit} per minute {label}; retry in {}",
                    super::types::format_reset(retry)
                )
            };
            Some((RefusalCode::RateLimitExceeded, retry, message))
        }
        Kind::Budget { cost, window } => {
            let spent = state as u64;
            if spent < limit && spent.saturating_add(check.amount) <= limit {
                return None;
            }
            let what = if cost { "cost" } else { "token" };
            let period = window.as_str();
            let resets = match window {
                Window::Day => "at 00:00 UTC",
                Window::Month => "on the 1st at 00:00 UTC",
            };
            let message = if spent >= limit {
                format!("the {period} {what} budget {label} is used up; it resets {resets}")
            } else {
                format!(
                    "this request needs more than the {} left of the {period} {what} budget \
                     {label}; it resets {resets}",
                    limit - spent
                )
            };
            let retry = Duration::from_micros(check.window_end.saturating_sub(now));
            Some((RefusalCode::BudgetExceeded, retry, message))
        }
        Kind::Concurrent => {
            if (state as u64) < limit {
                return None;
            }
            let message = format!("too many requests in flight: the limit is {limit} {label}");
            Some((RefusalCode::ConcurrencyExceeded, concurrency_retry, message))
        }
    }
}

/// The `x-ratelimit-*` values of the tightest requests and tokens buckets.
fn headers(checks: &[Check], states: &[f64]) -> RateLimitHeaders {
    let mut headers = RateLimitHeaders::default();
    for (check, &level) in checks.iter().zip(states) {
        let (limit_slot, remaining_slot, reset_slot) = match check.kind {
            Kind::Requests => (
                &mut headers.limit_requests,
                &mut headers.remaining_requests,
                &mut headers.reset_requests,
            ),
            Kind::Tokens => (
                &mut headers.limit_tokens,
                &mut headers.remaining_tokens,
                &mut headers.reset_tokens,
            ),
            Kind::Concurrent | Kind::Budget { .. } => continue,
        };
        let limit = check.limit as f64;
        let remaining = (limit - level).clamp(0.0, limit).floor() as u64;
        if remaining_slot.is_some_and(|r| r <= remaining) {
            continue;
        }
        let reset = round_up(level.max(0.0) * PERIOD_MICROS / limit);
        *limit_slot = Some(check.limit);
        *remaining_slot = Some(remaining);
        *reset_slot = Some(Duration::from_micros(reset));
    }
    headers
}

/// Whole microseconds, rounded up, ignoring float noise below a nanosecond (so 20 s
/// computed as 19.999999999999996 s stays 20 s).
fn round_up(micros: f64) -> u64 {
    (micros - 1e-3).ceil().max(0.0) as u64
}
