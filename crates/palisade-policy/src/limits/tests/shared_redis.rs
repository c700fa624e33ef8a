//! The Redis backend against a real `redis-server` (one per test, from the testkit
//! harness): every shared case, instances sharing one Redis, outages under each fail
//! mode, leases, and the keys it writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::cases;
use super::support::{Env, Who, admitted_eventually, alice, rpm, rule, secs};
use crate::limits::{
    BackendConfig, FailMode, LimitError, LimitRule, Limiter, LimiterOptions, RefusalCode, Scope,
    Usage,
};

#[tokio::test]
async fn limits_redis_requests_per_minute() {
    cases::requests_per_minute(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_tokens_per_minute_reconcile() {
    cases::tokens_per_minute_reconcile(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_daily_budget() {
    cases::daily_budget(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_monthly_budget() {
    cases::monthly_budget(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_cost_budget() {
    cases::cost_budget(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_concurrency() {
    cases::concurrency(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_all_rules_atomic() {
    cases::all_rules_atomic(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_matches_targets() {
    cases::matches_targets(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_tightest_allowance_and_headers() {
    cases::tightest_allowance_and_headers(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_request_rate_refusals_hold_for_the_key() {
    cases::request_rate_refusals_hold_for_the_key(Env::redis().await).await;
}

#[tokio::test]
async fn limits_redis_replace_rules() {
    cases::replace_rules(Env::redis().await).await;
}

/// Two instances, eight tasks each, one 100-requests rule, a fixed clock: together they
/// admit exactly 100, because each admission is one atomic script call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_redis_two_instances_admit_exactly_the_limit() {
    let env = Env::redis().await;
    let rules = vec![rpm(Scope::Global, 100)];
    let instances = [
        Arc::new(env.limiter(rules.clone()).await),
        Arc::new(env.limiter(rules).await),
    ];
    let mut tasks = Vec::new();
    for limiter in &instances {
        for task in 0..8 {
            let limiter = Arc::clone(limiter);
            tasks.push(tokio::spawn(async move {
                let who = Who::new(if task % 2 == 0 { "k1" } else { "k2" }, "u", &[]);
                let mut admitted = 0u32;
                for _ in 0..25 {
                    admitted += u32::from(who.admit(&limiter, 1).await.is_ok());
                }
                admitted
            }));
        }
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 100, "400 attempts against a limit of 100");
    assert_eq!(
        instances[0].backend_errors() + instances[1].backend_errors(),
        0
    );
}

/// A slot and tokens reserved through one instance are settled through it and seen by
/// the other at once.
#[tokio::test]
async fn limits_redis_instances_see_each_others_settlements() {
    let env = Env::redis().await;
    let rules = vec![LimitRule {
        concurrent: Some(1),
        tokens_per_minute: Some(100),
        ..rule(Scope::User)
    }];
    let (a, b) = (env.limiter(rules.clone()).await, env.limiter(rules).await);
    let who = alice();
    let held = who.admit(&a, 90).await.unwrap();
    let busy = who.admit(&b, 1).await.unwrap_err();
    assert_eq!(busy.code, RefusalCode::ConcurrencyExceeded);
    held.settle(Usage {
        tokens: 20,
        cost_micros: 0,
    })
    .await;
    let next = who.admit(&b, 80).await.unwrap();
    assert_eq!(next.token_allowance(), Some(80), "20 used of 100");
}

/// Admissions from four tasks while Redis is killed: every call returns within the
/// backend timeout, and the fail mode decides. Returns the limiter after the outage.
async fn through_outage(env: &mut Env, rules: Vec<LimitRule>, mode: FailMode) -> Arc<Limiter> {
    let limiter = Arc::new(env.limiter_with(rules, mode).await);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (limiter, stop) = (Arc::clone(&limiter), Arc::clone(&stop));
            tokio::spawn(async move {
                let who = Who::new("key-load", "load", &["ml"]);
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(admission) = who.admit(&limiter, 5).await {
                        admission.settle(Usage::default()).await;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    env.redis.as_mut().unwrap().kill();
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        tokio::time::timeout(secs(10), task)
            .await
            .expect("an admission hung during the outage")
            .expect("an admission panicked during the outage");
    }
    assert!(limiter.backend_errors() > 0);
    assert!(limiter.check_backend().await.is_err());
    limiter
}

fn outage_rules() -> Vec<LimitRule> {
    vec![
        rpm(Scope::Key, 3),
        LimitRule {
            concurrent: Some(2),
            ..rule(Scope::Global)
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_redis_outage_fails_closed_then_recovers() {
    let mut env = Env::redis().await;
    let limiter = through_outage(&mut env, outage_rules(), FailMode::Closed).await;
    let refusal = alice().admit(&limiter, 1).await.unwrap_err();
    assert_eq!(refusal.code, RefusalCode::BackendUnavailable);
    assert_eq!(refusal.code.as_str(), "limits_unavailable");
    assert_eq!(refusal.retry_after, secs(1));
    env.redis.as_mut().unwrap().restart().await.unwrap();
    let back = admitted_eventually(&alice(), &limiter, 1).await;
    assert!(back.is_limited());
    assert!(limiter.check_backend().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_redis_outage_fails_open() {
    let mut env = Env::redis().await;
    let limiter = through_outage(&mut env, outage_rules(), FailMode::Open).await;
    for _ in 0..5 {
        let admission = alice().admit(&limiter, 1).await.unwrap();
        assert!(!admission.is_limited() && admission.token_allowance().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_redis_outage_falls_back_to_local_limits() {
    let mut env = Env::redis().await;
    let limiter = through_outage(&mut env, outage_rules(), FailMode::Local).await;
    let who = Who::new("key-local", "local", &[]);
    let held: Vec<_> = [
        who.admit(&limiter, 1).await.unwrap(),
        who.admit(&limiter, 1).await.unwrap(),
    ]
    .into();
    let busy = who.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(
        busy.code,
        RefusalCode::ConcurrencyExceeded,
        "the global slots, in memory"
    );
    drop(held);
    who.admit(&limiter, 1).await.unwrap();
    let over = who.admit(&limiter, 1).await.unwrap_err();
    assert_eq!(
        over.code,
        RefusalCode::RateLimitExceeded,
        "3 per minute, in memory"
    );
}

/// A Redis that is down at startup does not fail startup; requests meet the fail mode.
/// After a failure the backend rests: requests skip it (uncounted) for the cooldown.
#[tokio::test]
async fn limits_redis_down_at_startup_is_not_fatal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = BackendConfig::Redis {
        url: format!("redis://127.0.0.1:{port}/"),
        key_prefix: "p:".into(),
    };
    let options = LimiterOptions {
        backend_cooldown: secs(3600),
        ..LimiterOptions::default()
    };
    let rules = vec![rpm(Scope::User, 5)];
    let limiter = Limiter::with_options(rules, backend, FailMode::Closed, options)
        .await
        .unwrap();
    assert!(matches!(
        limiter.check_backend().await,
        Err(LimitError::Unavailable(_))
    ));
    for _ in 0..3 {
        let refusal = alice().admit(&limiter, 1).await.unwrap_err();
        assert_eq!(refusal.code, RefusalCode::BackendUnavailable);
    }
    assert_eq!(
        limiter.backend_errors(),
        1,
        "one failed call, then the backend rests"
    );

    let bad = BackendConfig::Redis {
        url: "not a url".into(),
        key_prefix: "p:".into(),
    };
    let built = Limiter::new(Vec::new(), bad, FailMode::Open).await;
    assert!(matches!(built, Err(LimitError::RedisConfig(_))));
}

/// A settlement that fails (Redis paused for a moment after the request was admitted) is
/// counted, but does not rest the backend: the next admission goes to Redis again instead
/// of meeting the fail mode for the whole cooldown.
#[tokio::test]
async fn limits_redis_a_failed_settlement_does_not_rest_the_backend() {
    let env = Env::redis().await;
    let options = LimiterOptions {
        backend_cooldown: secs(3600),
        backend_timeout: Duration::from_millis(250),
        ..env.options()
    };
    let rules = vec![LimitRule {
        concurrent: Some(5),
        ..rule(Scope::User)
    }];
    let limiter = Limiter::with_options(rules, env.backend.clone(), FailMode::Closed, options)
        .await
        .unwrap();
    let admitted = alice().admit(&limiter, 1).await.unwrap();
    // Writes wait 600 ms: the release script outlasts the backend's 250 ms timeout.
    let url = env.redis.as_ref().unwrap().url();
    let mut admin = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    admitted.settle(Usage::default()).await;
    assert_eq!(limiter.backend_errors(), 1, "the failed release is counted");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let next = alice().admit(&limiter, 1).await.unwrap();
    assert!(next.is_limited(), "admitted through Redis, not refused");
    assert_eq!(limiter.backend_errors(), 1);
}

/// Slots held by an instance that died (its admissions never settled nor dropped) come
/// back when their leases expire; a renewed lease does not expire.
#[tokio::test]
async fn limits_redis_leases_expire_unless_renewed() {
    let env = Env::redis().await;
    let ttl = LimiterOptions::default().lease_ttl;
    let rules = vec![LimitRule {
        concurrent: Some(1),
        ..rule(Scope::User)
    }];
    let limiter = env.limiter(rules).await;
    let who = alice();
    std::mem::forget(who.admit(&limiter, 1).await.unwrap()); // the instance "crashed"
    assert!(who.admit(&limiter, 1).await.is_err());
    env.advance(ttl + secs(1));
    let renewed = who.admit(&limiter, 1).await.unwrap();
    env.advance(ttl - secs(60));
    renewed.renew().await;
    env.advance(secs(120)); // past the first expiry, not the renewed one
    assert_eq!(
        who.admit(&limiter, 1).await.unwrap_err().code,
        RefusalCode::ConcurrencyExceeded
    );
    renewed.settle(Usage::default()).await;
    who.admit(&limiter, 1).await.unwrap();
    assert_eq!(limiter.backend_errors(), 0);
}

/// An admission whose answer is lost to the timeout may still run in Redis and take a
/// slot: the limiter frees it rather than leave it taken for the lease TTL (15 minutes by
/// default) — three such hiccups used to lock a `concurrent = 3` user out.
#[tokio::test]
async fn limits_redis_a_lost_admission_gives_its_slot_back() {
    let env = Env::redis().await;
    let rules = vec![LimitRule {
        concurrent: Some(1),
        ..rule(Scope::User)
    }];
    let options = LimiterOptions {
        backend_timeout: Duration::from_millis(250),
        ..env.options()
    };
    let limiter = Limiter::with_options(rules, env.backend.clone(), FailMode::Closed, options)
        .await
        .unwrap();
    // The scripts are loaded (a first call that times out never gets past NOSCRIPT).
    alice()
        .admit(&limiter, 1)
        .await
        .unwrap()
        .settle(Usage::default())
        .await;
    let client = ::redis::Client::open(env.redis.as_ref().unwrap().url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Writes (scripts included) wait 600 ms: past the limiter's 250 ms timeout, after
    // which the admission script still runs.
    let paused = std::time::Instant::now();
    let _: () = ::redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    let refused = alice().admit(&limiter, 1).await.unwrap_err();
    assert_eq!(refused.code, RefusalCode::BackendUnavailable);
    // Reads pass the pause: look only once it is over and the admission has run (it
    // takes the slot), then until the slot is freed again.
    tokio::time::sleep_until((paused + Duration::from_millis(700)).into()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let held: u64 = ::redis::cmd("ZCARD")
            .arg("palisade:test:u:con:alice")
            .query_async(&mut conn)
            .await
            .unwrap();
        if held == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lost admission's slot is still taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keys are `{prefix}{scope}:{kind}[:{window}]:{subject}`, long names are hashed, and
/// every key has a TTL.
#[tokio::test]
async fn limits_redis_keys_are_bounded_and_expire() {
    let env = Env::redis().await;
    let rules = vec![LimitRule {
        requests_per_minute: Some(6),
        daily_tokens: Some(100),
        concurrent: Some(5),
        ..rule(Scope::User)
    }];
    let limiter = env.limiter(rules).await;
    let _held = alice().admit(&limiter, 10).await.unwrap();
    let long = Who::new("k", "a-very-long-user-name-".repeat(10).leak(), &[]);
    let _long = long.admit(&limiter, 10).await.unwrap();

    let url = env.redis.as_ref().unwrap().url();
    let client = ::redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    let alice_keys: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| k.ends_with("alice"))
        .collect();
    assert_eq!(
        alice_keys,
        [
            "palisade:test:u:con:alice",
            "palisade:test:u:rpm:alice",
            "palisade:test:u:td:2025-07-14:alice",
        ]
    );
    assert_eq!(keys.len(), 6);
    for key in &keys {
        assert!(key.len() <= 80, "{key}");
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no TTL");
    }
}
