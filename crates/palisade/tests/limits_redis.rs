//! Limits shared through Redis: two gateway instances under concurrent load admit, in
//! total, what one limit allows (within 2%); when Redis dies mid-load the configured
//! fail mode applies — never a crash or a hang.

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Gateway, say_hi};
use palisade_testkit::redis::RedisHarness;
use serde_json::Value;

const MODELS: &str = "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n[[models]]\nname = \"sim\"\nprovider = \"sim\"\n";

/// Limits on `redis`, with a Redis timeout of 1 s (the default 250 ms can pass on a loaded
/// test machine, and fail closed would then refuse for the cooldown's second).
fn limits(redis: &str, mode: &str, rpm: u64) -> String {
    format!(
        "{MODELS}[limits]\nbackend = \"redis\"\nredis_url = \"{redis}\"\non_backend_error = \"{mode}\"\n\
         backend_timeout_ms = 1000\n[[limits.rules]]\nscope = \"global\"\nrequests_per_minute = {rpm}\n"
    )
}

#[tokio::test]
async fn two_instances_share_one_limit_within_two_percent() {
    let redis = RedisHarness::start().await.unwrap();
    const RPM: u64 = 300;
    let a = Arc::new(Gateway::start("", &limits(&redis.url(), "fail_closed", RPM)).await);
    let b = Arc::new(Gateway::start("", &limits(&redis.url(), "fail_closed", RPM)).await);
    let key = a.api_key().await;
    // Both instances share the store? No: each has its own SQLite, so mint a key on each.
    let key_b = b.api_key().await;
    let admitted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (gw, key) = if i % 2 == 0 {
            (Arc::clone(&a), key.clone())
        } else {
            (Arc::clone(&b), key_b.clone())
        };
        let (admitted, refused) = (Arc::clone(&admitted), Arc::clone(&refused));
        tasks.push(tokio::spawn(async move {
            for _ in 0..40 {
                let resp = gw.chat(&key, say_hi("sim")).send().await.unwrap();
                match resp.status().as_u16() {
                    200 => admitted.fetch_add(1, Ordering::SeqCst),
                    429 => refused.fetch_add(1, Ordering::SeqCst),
                    other => panic!("unexpected status {other}"),
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let admitted = admitted.load(Ordering::SeqCst) as f64;
    // GCRA: a full minute's burst, plus what refilled while the load ran.
    let allowed = RPM as f64 + RPM as f64 * elapsed / 60.0;
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "the load must exceed the limit"
    );
    assert!(
        admitted <= allowed * 1.02,
        "admitted {admitted} > allowed {allowed:.1} (+2%)"
    );
    assert!(
        admitted >= RPM as f64 * 0.98,
        "admitted {admitted} < limit {RPM} (-2%)"
    );
}

#[tokio::test]
async fn redis_outage_applies_the_configured_fail_mode() {
    let mut redis = RedisHarness::start().await.unwrap();
    let closed = Gateway::start("", &limits(&redis.url(), "fail_closed", 1000)).await;
    let open = Gateway::start("", &limits(&redis.url(), "fail_open", 1000)).await;
    let (kc, ko) = (closed.api_key().await, open.api_key().await);
    let body = say_hi("sim");
    assert_eq!(
        closed
            .chat(&kc, body.clone())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    redis.kill();
    let started = Instant::now();
    let resp = closed.chat(&kc, body.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "limits_unavailable"
    );
    assert_eq!(
        open.chat(&ko, body.clone()).send().await.unwrap().status(),
        200,
        "fail_open admits"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an outage must not hang requests"
    );
    let metrics = closed.metrics().await;
    assert!(
        metrics.contains("palisade_limit_refusals_total{code=\"limits_unavailable\"}"),
        "{metrics}"
    );
    assert!(
        closed.logs().contains("limits backend"),
        "the outage is logged"
    );
}

#[tokio::test]
async fn a_redis_behind_tls_is_reached_with_rediss() {
    // The password and the limit keys (user and group names) need not cross the network
    // in clear: `rediss://` speaks TLS, checking the server against the trust store
    // (`SSL_CERT_FILE` here: the test's self-signed certificate).
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = common::localhost_cert(dir.path(), "redis");
    let redis = RedisHarness::start_tls(cert.clone(), key).await.unwrap();
    let url = redis.tls_url().unwrap();
    let gw_dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", gw_dir.path().join("palisade.db").display());
    // The first TLS connection may take longer than the default 250 ms backend timeout
    // on a loaded machine (then fail closed answers 503 for the cooldown's second): a
    // deployment reaching Redis over TLS raises the timeout, as this one does.
    let config = limits(&url, "fail_closed", 2)
        .replace("backend_timeout_ms = 1000", "backend_timeout_ms = 5000");
    let gw = Gateway::start_with_env(
        gw_dir,
        &store,
        "",
        &config,
        "http",
        reqwest::Client::new(),
        &[("SSL_CERT_FILE", cert.to_str().unwrap())],
    )
    .await;
    let key = gw.api_key().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = gw.chat(&key, say_hi("sim")).send().await.unwrap();
        statuses.push(resp.status().as_u16());
    }
    // Fail closed: an unreachable Redis would be 503s, not a limit at work.
    assert_eq!(statuses, [200, 200, 429], "{}", gw.logs());
}

#[tokio::test]
async fn a_redis_that_never_answers_fails_closed_and_rests_as_configured() {
    // A "Redis" that accepts connections and never says a word: each backend call ends at
    // `backend_timeout_ms` (fail closed: 503). With `backend_cooldown_ms = 0` every
    // request tries again (each one a counted backend error); with a long cooldown only
    // the first does, the others go straight to the fail mode.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            open.push(socket);
        }
    });
    let config = |cooldown_ms: u64| {
        limits(&url, "fail_closed", 1000).replace(
            "backend_timeout_ms = 1000",
            &format!("backend_timeout_ms = 50\nbackend_cooldown_ms = {cooldown_ms}"),
        )
    };
    for (cooldown_ms, expected_errors) in [(0, 3), (60_000, 1)] {
        let gw = Gateway::start("", &config(cooldown_ms)).await;
        let key = gw.api_key().await;
        for _ in 0..3 {
            let resp = gw.chat(&key, say_hi("sim")).send().await.unwrap();
            assert_eq!(resp.status(), 503, "{}", gw.logs());
            assert_eq!(
                resp.json::<Value>().await.unwrap()["error"]["code"],
                "limits_unavailable"
            );
        }
        let metrics = gw.metrics().await;
        let errors = metrics
            .lines()
            .find_map(|l| l.strip_prefix("palisade_limits_backend_errors_total "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        assert_eq!(
            errors,
            Some(f64::from(expected_errors)),
            "cooldown {cooldown_ms} ms: {metrics}"
        );
    }
    held.abort();
}
