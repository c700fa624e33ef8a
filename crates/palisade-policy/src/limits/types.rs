//! The limiter's vocabulary at its boundary: who asks ([`Subject`]), how much
//! ([`Demand`], [`Usage`]), the answer when it is no ([`Refusal`]), and the OpenAI-style
//! rate-limit headers sent either way ([`RateLimitHeaders`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The caller of one request, as the limiter counts it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The API key's public id.
    pub key_id: &'a str,
    pub user: &'a str,
    pub groups: &'a [String],
    /// The public model name asked for.
    pub model: &'a str,
}

/// What a request is expected to cost, reserved at admission: prompt tokens plus the
/// output cap, and its cost at that size in millionths of a currency unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub tokens: u64,
    pub cost_micros: u64,
}

/// What a request really cost, reconciled against its [`Demand`] at settlement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub tokens: u64,
    pub cost_micros: u64,
}

/// What to do when the shared backend cannot answer (error or timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Refuse the request (`limits_unavailable`, HTTP 503).
    Closed,
    /// Admit it without limits.
    Open,
    /// Enforce the same rules in this process' memory until the backend answers again.
    Local,
}

/// Where limit state lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BackendConfig {
    /// In this process: exact, but each instance counts alone.
    Memory,
    /// Shared by every instance using the same Redis and prefix.
    Redis { url: String, key_prefix: String },
}

/// Why a request was refused; `as_str` is the stable error code sent to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    RateLimitExceeded,
    BudgetExceeded,
    ConcurrencyExceeded,
    BackendUnavailable,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::RateLimitExceeded => "rate_limit_exceeded",
            RefusalCode::BudgetExceeded => "budget_exceeded",
            RefusalCode::ConcurrencyExceeded => "concurrency_limit_exceeded",
            RefusalCode::BackendUnavailable => "limits_unavailable",
        }
    }
}

/// A refused request: what to tell the client, and when to try again (`retry-after`).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
    pub retry_after: Duration,
    pub headers: RateLimitHeaders,
    /// Set when every request of the same API key is refused for at least this long,
    /// whatever its model or size: a requests-per-minute rule not tied to a model refused
    /// it (see `limits::hold`).
    pub holds_key_for: Option<Duration>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Refusal {}

/// The `x-ratelimit-*` headers, from the tightest applicable requests-per-minute and
/// tokens-per-minute rules (the one with the least remaining). `None` fields are left out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub reset_requests: Option<Duration>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_tokens: Option<Duration>,
}

impl RateLimitHeaders {
    /// Header names and values, as OpenAI sends them (resets like `1s`, `6m0s`, `120ms`).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::with_capacity(6);
        let numbers = [
            ("x-ratelimit-limit-requests", self.limit_requests),
            ("x-ratelimit-remaining-requests", self.remaining_requests),
        ];
        pairs.extend(
            numbers
                .into_iter()
                .filter_map(|(n, v)| Some((n, v?.to_string()))),
        );
        if let Some(reset) = self.reset_requests {
            pairs.push(("x-ratelimit-reset-requests", format_reset(reset)));
        }
        let numbers = [
            ("x-ratelimit-limit-tokens", self.limit_tokens),
            ("x-ratelimit-remaining-tokens", self.remaining_tokens),
        ];
        pairs.extend(
            numbers
                .into_iter()
                .filter_map(|(n, v)| Some((n, v?.to_string()))),
        );
        if let Some(reset) = self.reset_tokens {
            pairs.push(("x-ratelimit-reset-tokens", format_reset(reset)));
        }
        pairs
    }

    pub fn is_empty(&self) -> bool {
        *self == RateLimitHeaders::default()
    }
}

/// A duration as OpenAI writes resets: `0s`, `120ms` below a second, else Go-style
/// `1s`, `8.64s`, `6m0s`, `1h2m3s`, rounded up to the millisecond.
pub fn format_reset(d: Duration) -> String {
    let ms = d.as_micros().div_ceil(1000);
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (secs, millis) = (rest / 1000, rest % 1000);
    let mut seconds = secs.to_string();
    if millis > 0 {
        let frac = format!("{millis:03}");
        seconds.push('.');
        seconds.push_str(frac.trim_end_matches('0'));
    }
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_resets_format_like_openai() {
        let ms = Duration::from_millis;
        assert_eq!(format_reset(Duration::ZERO), "0s");
        assert_eq!(format_reset(Duration::from_micros(1)), "1ms");
        assert_eq!(format_reset(ms(120)), "120ms");
        assert_eq!(format_reset(ms(1000)), "1s");
        assert_eq!(format_reset(ms(8640)), "8.64s");
        assert_eq!(format_reset(ms(360_000)), "6m0s");
        assert_eq!(format_reset(ms(3_723_500)), "1h2m3.5s");
    }

    #[test]
    fn limits_headers_pair_up_in_order() {
        let headers = RateLimitHeaders {
            limit_requests: Some(60),
            remaining_requests: Some(59),
            reset_requests: Some(Duration::from_secs(1)),
            limit_tokens: None,
            remaining_tokens: None,
            reset_tokens: None,
        };
        assert_eq!(
            headers.to_pairs(),
            vec![
                ("x-ratelimit-limit-requests", "60".to_owned()),
                ("x-ratelimit-remaining-requests", "59".to_owned()),
                ("x-ratelimit-reset-requests", "1s".to_owned()),
            ]
        );
        assert!(RateLimitHeaders::default().to_pairs().is_empty());
        assert_eq!(
            RefusalCode::ConcurrencyExceeded.as_str(),
            "concurrency_limit_exceeded"
        );
    }
}
