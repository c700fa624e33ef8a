//! Fixtures: an environment (backend + manual clock), subjects, rules and polling.

use std::sync::Arc;
use std::time::Duration;

use palisade_testkit::redis::RedisHarness;

use crate::limits::{
    Admission, BackendConfig, Demand, FailMode, LimitRule, Limiter, LimiterOptions, ManualClock,
    Refusal, Scope, Subject,
};

/// A backend to run cases against, with the clock its limiters read.
pub struct Env {
    pub clock: Arc<ManualClock>,
    pub backend: BackendConfig,
    pub redis: Option<RedisHarness>,
}

impl Env {
    /// Noon UTC on 2025-07-14, a Monday in the middle of a month.
    pub fn noon() -> Arc<ManualClock> {
        Arc::new(ManualClock::at_utc(2025, 7, 14, 12, 0, 0))
    }

    pub fn memory() -> Env {
        Env {
            clock: Env::noon(),
            backend: BackendConfig::Memory,
            redis: None,
        }
    }

    pub async fn redis() -> Env {
        let harness = RedisHarness::start().await.unwrap();
        Env {
            clock: Env::noon(),
            backend: BackendConfig::Redis {
                url: harness.url(),
                key_prefix: "palisade:test:".to_owned(),
            },
            redis: Some(harness),
        }
    }

    /// The limiter's options: this environment's clock, and a Redis timeout generous
    /// enough for a loaded test machine (the default 250 ms is tested where it matters).
    pub fn options(&self) -> LimiterOptions {
        LimiterOptions {
            clock: self.clock.clone(),
            backend_timeout: secs(5),
            ..LimiterOptions::default()
        }
    }

    pub async fn limiter(&self, rules: Vec<LimitRule>) -> Limiter {
        self.limiter_with(rules, FailMode::Closed).await
    }

    pub async fn limiter_with(&self, rules: Vec<LimitRule>, fail_mode: FailMode) -> Limiter {
        Limiter::with_options(rules, self.backend.clone(), fail_mode, self.options())
            .await
            .unwrap()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A caller: key, user, groups, model.
pub struct Who {
    pub key: &'static str,
    pub user: &'static str,
    pub groups: Vec<String>,
    pub model: &'static str,
}

impl Who {
    pub fn new(key: &'static str, user: &'static str, groups: &[&str]) -> Who {
        Who {
            key,
            user,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            model: "gpt-4o",
        }
    }

    pub fn on(mut self, model: &'static str) -> Who {
        self.model = model;
        self
    }

    pub fn subject(&self) -> Subject<'_> {
        Subject {
            key_id: self.key,
            user: self.user,
            groups: &self.groups,
            model: self.model,
        }
    }

    pub async fn admit(&self, limiter: &Limiter, tokens: u64) -> Result<Admission, Refusal> {
        limiter.admit(&self.subject(), tokens_of(tokens)).await
    }
}

pub fn alice() -> Who {
    Who::new("key-a", "alice", &["ml"])
}

pub fn tokens_of(tokens: u64) -> Demand {
    Demand {
        tokens,
        cost_micros: 0,
    }
}

pub fn rule(scope: Scope) -> LimitRule {
    LimitRule::new(scope)
}

pub fn rpm(scope: Scope, n: u64) -> LimitRule {
    LimitRule {
        requests_per_minute: Some(n),
        ..rule(scope)
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Retries an admission until it passes: a dropped admission releases its Redis slot in
/// a spawned task. Bounded, so a slot that never comes back fails the test.
pub async fn admitted_eventually(who: &Who, limiter: &Limiter, tokens: u64) -> Admission {
    for _ in 0..250 {
        if let Ok(admission) = who.admit(limiter, tokens).await {
            return admission;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never admitted");
}
