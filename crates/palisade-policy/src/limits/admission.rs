//! An admitted request's hold on its limits: the headers and allowances to act on, and
//! the reservations to reconcile. Settling corrects token and cost reservations to real
//! usage and frees concurrency slots; dropping it unsettled (a client that disconnected,
//! an error path) frees the slots and keeps the reservation as charged.

use std::fmt;
use std::sync::Arc;

use super::Shared;
use super::outcome::Granted;
use super::plan::{self, Check, Op};
use super::types::{Demand, RateLimitHeaders, Usage};

/// Which backend holds an admission's reservations: settlement goes back to it, even
/// if the limiter fell back to memory (or recovered) in the meantime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Memory,
    Redis,
}

/// A request admitted by the limiter. Settle it with the real usage when the request
/// ends; a stream counts against concurrency until then.
pub struct Admission {
    granted: Granted,
    held: Option<Held>,
}

struct Held {
    shared: Arc<Shared>,
    source: Source,
    checks: Vec<Check>,
    demand: Demand,
    lease: String,
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("headers", &self.granted.headers)
            .field("token_allowance", &self.granted.token_allowance)
            .field("cost_allowance", &self.granted.cost_allowance)
            .field("source", &self.held.as_ref().map(|h| h.source))
            .finish()
    }
}

impl Admission {
    /// An admission that holds nothing: no rule applied, or the backend failed open.
    pub(crate) fn unlimited() -> Admission {
        Admission {
            granted: Granted::default(),
            held: None,
        }
    }

    pub(crate) fn held(
        shared: Arc<Shared>,
        source: Source,
        checks: Vec<Check>,
        demand: Demand,
        lease: String,
        granted: Granted,
    ) -> Admission {
        Admission {
            granted,
            held: Some(Held {
                shared,
                source,
                checks,
                demand,
                lease,
            }),
        }
    }

    /// The `x-ratelimit-*` headers for the response.
    pub fn headers(&self) -> &RateLimitHeaders {
        &self.granted.headers
    }

    /// Tokens this request may still consume under the applicable hard token budgets
    /// and per-minute token limits (None = unlimited) — the gateway cuts a stream that
    /// reaches it. It includes the request's own reservation.
    pub fn token_allowance(&self) -> Option<u64> {
        self.granted.token_allowance
    }

    /// Like [`Admission::token_allowance`], for cost budgets (millionths of a currency
    /// unit; None = no cost budget applies).
    pub fn cost_allowance_micros(&self) -> Option<u64> {
        self.granted.cost_allowance
    }

    /// Whether this admission holds reservations (false: unlimited or failed open).
    pub fn is_limited(&self) -> bool {
        self.held.is_some()
    }

    /// Extends the concurrency leases of a long-running request (Redis leases expire
    /// after the limiter's lease TTL so a crashed instance cannot hold slots forever).
    /// The gateway calls it periodically on streams that may outlive the TTL.
    pub async fn renew(&self) {
        if let Some(held) = &self.held {
            held.apply(plan::renewals(&held.checks), "renew").await;
        }
    }

    /// Reconciles the reservations with real usage and frees concurrency slots.
    pub async fn settle(mut self, used: Usage) {
        if let Some(held) = self.held.take() {
            let ops = plan::settlement(&held.checks, held.demand, used);
            held.apply(ops, "settle").await;
        }
    }
}

impl Drop for Admission {
    /// Frees concurrency slots of an unsettled admission; the reservation stays charged.
    /// Redis is called on the current runtime if there is one; without one the leases
    /// expire on their own.
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        let ops = plan::releases(&held.checks);
        if ops.is_empty() {
            return;
        }
        match held.source {
            Source::Memory => {
                let now = held.shared.clock.now_micros();
                held.shared.memory.apply(&ops, now);
            }
            Source::Redis => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { held.apply(ops, "release").await });
                }
                Err(_) => {
                    tracing::debug!("no runtime to release concurrency leases; they will expire");
                }
            },
        }
    }
}

impl Held {
    async fn apply(&self, ops: Vec<Op>, during: &'static str) {
        if ops.is_empty() {
            return;
        }
        let now = self.shared.clock.now_micros();
        match (self.source, &self.shared.redis) {
            (Source::Redis, Some(redis)) => {
                if let Err(err) = redis.apply(&ops, now, &self.lease).await {
                    self.shared.backend_failed(during, &err);
                }
            }
            _ => self.shared.memory.apply(&ops, now),
        }
    }
}
