//! The in-process backend: every shared case, plus what only it has.

use std::sync::Arc;

use super::cases;
use super::support::{Env, alice, rpm, secs};
use crate::limits::{BackendConfig, FailMode, LimitError, Limiter, Scope};

#[tokio::test]
async fn limits_memory_requests_per_minute() {
    cases::requests_per_minute(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_tokens_per_minute_reconcile() {
    cases::tokens_per_minute_reconcile(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_daily_budget() {
    cases::daily_budget(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_monthly_budget() {
    cases::monthly_budget(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_cost_budget() {
    cases::cost_budget(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_concurrency() {
    cases::concurrency(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_all_rules_atomic() {
    cases::all_rules_atomic(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_matches_targets() {
    cases::matches_targets(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_tightest_allowance_and_headers() {
    cases::tightest_allowance_and_headers(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_request_rate_refusals_hold_for_the_key() {
    cases::request_rate_refusals_hold_for_the_key(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_replace_rules() {
    cases::replace_rules(Env::memory()).await;
}

#[tokio::test]
async fn limits_memory_rejects_invalid_rules_at_start() {
    let built = Limiter::new(
        vec![rpm(Scope::Global, 0)],
        BackendConfig::Memory,
        FailMode::Closed,
    )
    .await;
    assert!(matches!(
        built,
        Err(LimitError::InvalidRule { index: 0, .. })
    ));
}

#[test]
fn limits_limiter_is_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Limiter>();
    shareable::<crate::limits::Admission>();
}

/// Many tasks on a multi-threaded runtime admit exactly the limit: the lock makes each
/// admission one step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_memory_is_exact_under_contention() {
    let env = Env::memory();
    let limiter = Arc::new(env.limiter(vec![rpm(Scope::Global, 100)]).await);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                let who = alice();
                let mut admitted = 0;
                for _ in 0..20 {
                    admitted += u32::from(who.admit(&limiter, 1).await.is_ok());
                }
                admitted
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 100);
}

/// Drained buckets and ended windows do not accumulate.
#[tokio::test]
async fn limits_memory_sweeps_idle_buckets() {
    let env = Env::memory();
    let limiter = env.limiter(vec![rpm(Scope::Key, 5)]).await;
    let shared = Arc::clone(&limiter.shared);
    for i in 0..4095u32 {
        let key = format!("key-{i}");
        let groups = Vec::new();
        let subject = crate::limits::Subject {
            key_id: &key,
            user: "u",
            groups: &groups,
            model: "m",
        };
        limiter.admit(&subject, Default::default()).await.unwrap();
    }
    assert_eq!(shared.memory.len(), 4095);
    env.advance(secs(60));
    alice().admit(&limiter, 1).await.unwrap(); // the 4096th admission sweeps
    assert_eq!(shared.memory.len(), 1);
}
