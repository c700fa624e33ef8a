//! Limits against model denial of service: requests and tokens per minute, requests in
//! flight, and daily/monthly token and cost budgets, per API key, user, group, model or
//! globally. See `docs/limits.md` for the rules, algorithms and backends.
//!
//! The [`Limiter`] resolves the rules that apply to a request's [`Subject`], asks its
//! backend to admit the request against all of them at once (any refusal reserves
//! nothing), and hands back an [`Admission`] to settle with real usage, or a
//! [`Refusal`] saying why and when to retry.
//!
//! - `plan`: rules + subject → the buckets to check; admission → settlement operations.
//! - `memory` / `redis_backend`: the two backends, executing the same plan.
//! - `outcome`: a backend's verdict → headers, allowances or a refusal.
//! - `admission`: the [`Admission`] handle (settle, drop, renew).
//! - `hold`: request-rate refusals that hold for a whole key until their retry time
//!   ([`Limiter::held`], asked before a request's body is read).

mod admission;
mod clock;
mod hold;
mod memory;
mod outcome;
mod plan;
mod redis_backend;
mod rule;
mod types;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

pub use admission::Admission;
pub use clock::{Clock, ManualClock, SystemClock};
pub use rule::{LimitError, LimitRule, MAX_AMOUNT, Scope, validate_rules};
pub use types::{
    BackendConfig, Demand, FailMode, RateLimitHeaders, Refusal, RefusalCode, Subject, Usage,
    format_reset,
};

use admission::Source;
use hold::Holds;
use memory::MemoryBackend;
use redis_backend::{BackendError, RedisBackend};

/// Tunables beyond the rules; the defaults suit production.
#[derive(Clone)]
pub struct LimiterOptions {
    /// Where time comes from (tests inject a [`ManualClock`]).
    pub clock: Arc<dyn Clock>,
    /// The most one Redis call may take before it counts as a backend failure.
    pub backend_timeout: Duration,
    /// How long a Redis concurrency lease lives without [`Admission::renew`]: longer
    /// than the gateway's longest request, short enough that slots held by a crashed
    /// instance come back soon.
    pub lease_ttl: Duration,
    /// The `retry-after` hint of a concurrency refusal.
    pub concurrency_retry_after: Duration,
    /// Backend failures are logged at most once per this interval (all are counted).
    pub warn_interval: Duration,
    /// After a backend failure, admissions skip the backend for this long and go
    /// straight to the fail mode, so an unreachable Redis does not cost every request
    /// the full timeout. Zero: always try.
    pub backend_cooldown: Duration,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        LimiterOptions {
            clock: Arc::new(SystemClock),
            backend_timeout: Duration::from_millis(250),
            lease_ttl: Duration::from_secs(15 * 60),
            concurrency_retry_after: Duration::from_secs(1),
            warn_interval: Duration::from_secs(10),
            backend_cooldown: Duration::from_secs(1),
        }
    }
}

/// Enforces limit rules. `Send + Sync`; share it in an `Arc`.
pub struct Limiter {
    rules: ArcSwap<Vec<LimitRule>>,
    shared: Arc<Shared>,
    holds: Holds,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = if self.shared.redis.is_some() {
            "redis"
        } else {
            "memory"
        };
        f.debug_struct("Limiter")
            .field("rules", &self.rules.load().len())
            .field("backend", &backend)
            .field("fail_mode", &self.shared.fail_mode)
            .field("backend_errors", &self.backend_errors())
            .finish_non_exhaustive()
    }
}

/// What admissions need after the limiter call returns (settle, drop).
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) memory: MemoryBackend,
    pub(crate) redis: Option<RedisBackend>,
    fail_mode: FailMode,
    options: LimiterOptions,
    errors: AtomicU64,
    /// Milliseconds after `started` of the last warning, plus one (0: never warned).
    last_warn: AtomicU64,
    /// Milliseconds after `started` until which admissions skip the backend.
    resting_until: AtomicU64,
    started: Instant,
    instance: u64,
    leases: AtomicU64,
}

impl Limiter {
    /// A limiter with the default options. See [`Limiter::with_options`].
    pub async fn new(
        rules: Vec<LimitRule>,
        backend: BackendConfig,
        fail_mode: FailMode,
    ) -> Result<Limiter, LimitError> {
        Limiter::with_options(rules, backend, fail_mode, LimiterOptions::default()).await
    }

    /// Validates the rules and prepares the backend. A Redis backend connects lazily:
    /// a Redis that is down at startup does not fail startup in any fail mode; requests
    /// meet the fail mode until it answers (`Closed`: refused with 503). Use
    /// [`Limiter::check_backend`] for readiness. Only invalid rules or a malformed URL
    /// are errors.
    pub async fn with_options(
        rules: Vec<LimitRule>,
        backend: BackendConfig,
        fail_mode: FailMode,
        options: LimiterOptions,
    ) -> Result<Limiter, LimitError> {
        validate_rules(&rules)?;
        let redis = match &backend {
            BackendConfig::Memory => None,
            BackendConfig::Redis { url, key_prefix } => Some(RedisBackend::new(
                url,
                key_prefix,
                options.backend_timeout,
                options.lease_ttl,
            )?),
        };
        let shared = Shared {
            clock: Arc::clone(&options.clock),
            memory: MemoryBackend::default(),
            redis,
            fail_mode,
            errors: AtomicU64::new(0),
            last_warn: AtomicU64::new(0),
            resting_until: AtomicU64::new(0),
            started: Instant::now(),
            instance: rand::random(),
            leases: AtomicU64::new(0),
            options,
        };
        Ok(Limiter {
            rules: ArcSwap::from_pointee(rules),
            shared: Arc::new(shared),
            holds: Holds::default(),
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<LimitRule> {
        self.rules.load().as_ref().clone()
    }

    /// Validates and swaps in new rules at once; admissions already made keep the limits
    /// they were admitted under. Counts carry over: buckets are named by what they count.
    pub fn replace_rules(&self, rules: Vec<LimitRule>) -> Result<(), LimitError> {
        validate_rules(&rules)?;
        self.rules.store(Arc::new(rules));
        self.holds.clear();
        Ok(())
    }

    pub fn fail_mode(&self) -> FailMode {
        self.shared.fail_mode
    }

    /// How long a concurrency lease lives without renewal: a request that may run longer
    /// calls [`Admission::renew`] well within it.
    pub fn lease_ttl(&self) -> std::time::Duration {
        self.shared.options.lease_ttl
    }

    /// How many backend calls failed (errors and timeouts) since the limiter started.
    pub fn backend_errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Whether the backend answers now (always for memory): for readiness probes.
    pub async fn check_backend(&self) -> Result<(), LimitError> {
        match &self.shared.redis {
            None => Ok(()),
            Some(redis) => redis
                .ping()
                .await
                .map_err(|e| LimitError::Unavailable(e.to_string())),
        }
    }

    /// A refusal that still holds for every request of this API key (a request-rate
    /// limit not tied to a model refused one of them: see `hold`), answered without
    /// asking the backend; `None` when the key's requests must go through [`admit`].
    ///
    /// [`admit`]: Limiter::admit
    pub fn held(&self, key_id: &str) -> Option<Refusal> {
        self.holds.check(key_id, self.shared.clock.now_micros())
    }

    /// Admits a request against every applicable rule, reserving its demand, or refuses
    /// it reserving nothing.
    pub async fn admit(&self, subject: &Subject<'_>, demand: Demand) -> Result<Admission, Refusal> {
        let shared = &self.shared;
        let now = shared.clock.now_micros();
        // The rules guard is released before any await.
        let checks = plan::checks(&self.rules.load(), subject, demand, now);
        if checks.is_empty() {
            return Ok(Admission::unlimited());
        }
        let lease = shared.next_lease();
        let (source, verdict) = match &shared.redis {
            None => (Source::Memory, shared.memory.admit(&checks, now)),
            Some(redis) => {
                let answer = if shared.resting() {
                    None
                } else {
                    match redis.admit(&checks, now, &lease).await {
                        Ok(verdict) => Some(verdict),
                        Err(err) => {
                            shared.backend_failed(ADMIT, &err);
                            self.release_lost(&checks, &lease);
                            None
                        }
                    }
                };
                match (answer, shared.fail_mode) {
                    (Some(verdict), _) => (Source::Redis, verdict),
                    (None, FailMode::Closed) => {
                        let retry = shared.options.concurrency_retry_after;
                        return Err(outcome::unavailable(retry));
                    }
                    (None, FailMode::Open) => return Ok(Admission::unlimited()),
                    (None, FailMode::Local) => (Source::Memory, shared.memory.admit(&checks, now)),
                }
            }
        };
        if !verdict.admitted {
            let retry = shared.options.concurrency_retry_after;
            let refusal = outcome::refused(&checks, &verdict.states, now, retry);
            self.holds.record(subject.key_id, &refusal, now);
            return Err(refusal);
        }
        let granted = outcome::granted(&checks, &verdict.states);
        let shared = Arc::clone(&self.shared);
        Ok(Admission::held(
            shared, source, checks, demand, lease, granted,
        ))
    }
}

impl Limiter {
    /// After an admission whose answer was lost (a timeout, a dropped connection): the
    /// script may still have run and taken concurrency slots under `lease`, which would
    /// stay taken until the lease TTL. Frees them in the background; freeing a lease that
    /// was never taken changes nothing. (Rate and token charges cannot be told apart
    /// from ones that never happened, so they stay as they are.)
    fn release_lost(&self, checks: &[plan::Check], lease: &str) {
        let ops = plan::releases(checks);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if ops.is_empty() {
            return;
        }
        let (shared, lease) = (Arc::clone(&self.shared), lease.to_owned());
        runtime.spawn(async move {
            // A failure here is the same hiccup as the lost admission's, already
            // counted: logged, without resting the backend a second time.
            if let Some(redis) = &shared.redis
                && let Err(err) = redis.apply(&ops, shared.clock.now_micros(), &lease).await
            {
                tracing::debug!(error = %err, "releasing a lost admission's lease failed; it expires");
            }
        });
    }
}

/// What a failed admission is called in logs (and the one failure that rests the
/// backend).
const ADMIT: &str = "admit";

impl Shared {
    /// A lease id unique across instances: this instance's random id and a counter.
    fn next_lease(&self) -> String {
        let n = self.leases.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n}", self.instance)
    }

    /// Milliseconds since the limiter started, plus one (so 0 can mean "never").
    fn uptime_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        elapsed.saturating_add(1)
    }

    /// Whether admissions should skip the backend after a recent failure.
    fn resting(&self) -> bool {
        self.uptime_ms() < self.resting_until.load(Ordering::Relaxed)
    }

    /// Counts a backend failure and logs it, at most once per `warn_interval`. A failed
    /// admission also rests the backend for `backend_cooldown` (new admissions skip it
    /// and follow the fail mode); a failed settle, renewal or release does not: one slow
    /// answer after a request was served must not refuse everyone for the cooldown.
    pub(crate) fn backend_failed(&self, during: &'static str, err: &BackendError) {
        let total = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.uptime_ms();
        if during == ADMIT {
            let cooldown = u64::try_from(self.options.backend_cooldown.as_millis()).unwrap_or(0);
            self.resting_until
                .fetch_max(now.saturating_add(cooldown), Ordering::Relaxed);
        }
        let interval = u64::try_from(self.options.warn_interval.as_millis()).unwrap_or(0);
        let last = self.last_warn.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= interval;
        if due
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = %err,
                during,
                backend_errors = total,
                fail_mode = ?self.fail_mode,
                "limits backend failed"
            );
        }
    }
}
