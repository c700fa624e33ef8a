//! A store that goes away under a running gateway (PostgreSQL refusing its connections):
//! nothing is served unrecorded — a request whose record cannot be committed gets 503
//! `audit_unavailable`, a key that must be looked up gets 503 `service_unavailable`
//! (never a 401, which would count against the caller) — and service resumes with the
//! store; the log then verifies (read only, on PostgreSQL). A store that hangs rather
//! than refuses (another replica frozen while it holds the audit tail lock) is bounded
//! the same way: 503s after `audit.commit_timeout_ms`, never a hang.

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, user_message};
use palisade_testkit::postgres::PgHarness;
use serde_json::{Value, json};

const SIM: &str = "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n[[models]]\nname = \"sim\"\nprovider = \"sim\"\n";

async fn chat(gw: &Gateway, key: &str, stream: bool) -> (u16, Value) {
    let resp = gw
        .chat(
            key,
            json!({"model": "sim", "stream": stream, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits (bounded) until `key` is served again, every answer meanwhile a 503.
async fn served_again(gw: &Gateway, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = chat(gw, key, false).await;
        if status == 200 {
            return;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "service did not resume: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the gateway and checks what it recorded verifies, read through sessions that
/// cannot write.
fn stopped_and_verified(mut gw: Gateway, pg: &PgHarness) {
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    let dir = gw.into_dir();
    let (code, out) =
        common::audit_verify_cli(&pg.url(), &dir.path().join("palisade-audit.key.pub"));
    assert_eq!(code, Some(0), "palisade audit verify:\n{out}");
}

#[tokio::test]
async fn a_store_outage_refuses_rather_than_serves_unrecorded() {
    let pg = PgHarness::start().await.unwrap();
    // Keys stay trusted for 10 minutes once verified: the outage reaches the audit
    // ledger first, not authentication.
    let gw = Gateway::start_on_store(
        tempfile::tempdir().unwrap(),
        &pg.url(),
        "key_cache_ttl_ms = 600000",
        SIM,
        "http",
        reqwest::Client::new(),
    )
    .await;
    let key = gw.api_key().await;
    let fresh = gw.key_for("not-yet-used", &[]).await;
    assert_eq!(chat(&gw, &key, false).await.0, 200);

    // No new connection to the database, and the gateway's sessions ended.
    pg.execute(
        "postgres",
        "ALTER DATABASE palisade ALLOW_CONNECTIONS false",
    )
    .await
    .unwrap();
    pg.execute(
        "postgres",
        // With a timeout, the call waits until each session has ended (PostgreSQL 14+).
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = 'palisade'",
    )
    .await
    .unwrap();

    let (status, body) = chat(&gw, &key, false).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
    let (status, body) = chat(&gw, &key, true).await;
    assert_eq!(status, 503, "a stream is refused too: {body}");
    assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
    // A key not in the cache cannot be checked: the store's fault, not the caller's.
    let (status, body) = chat(&gw, &fresh, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        ["service_unavailable", "audit_unavailable"]
            .contains(&body["error"]["code"].as_str().unwrap()),
        "{body}"
    );

    pg.execute("postgres", "ALTER DATABASE palisade ALLOW_CONNECTIONS true")
        .await
        .unwrap();
    served_again(&gw, &key).await;
    assert_eq!(chat(&gw, &fresh, false).await.0, 200);

    // What was recorded verifies, read through sessions that cannot write.
    stopped_and_verified(gw, &pg);
}

#[tokio::test]
async fn a_stuck_tail_lock_holder_gets_503s_not_a_hang() {
    let pg = PgHarness::start().await.unwrap();
    let gw = Gateway::start_on_store(
        tempfile::tempdir().unwrap(),
        &pg.url(),
        "key_cache_ttl_ms = 600000",
        &format!("[audit]\ncommit_timeout_ms = 1000\n{SIM}"),
        "http",
        reqwest::Client::new(),
    )
    .await;
    let key = gw.api_key().await;
    assert_eq!(chat(&gw, &key, false).await.0, 200);

    // Another "replica" takes the audit tail lock and sits on it for 10 seconds (the
    // lock key is the store's: "palisade" + "audit", see postgres/audit.rs).
    let holder = {
        let sql = "BEGIN; SELECT pg_advisory_xact_lock(8097872805151990133); \
                   SELECT pg_sleep(10); COMMIT;";
        pg.execute("palisade", sql)
    };
    let (held, outcome) = tokio::join!(holder, async {
        // Once the lock is taken (psql and its session take a moment to start):
        // (The holder's lock, not the gateway's own, taken for a moment at each commit.)
        let taken = "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_locks l \
                     JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' \
                     AND l.granted AND a.query LIKE '%pg_sleep(10)%') \
                     THEN RAISE 'not yet'; END IF; END$$";
        let deadline = Instant::now() + Duration::from_secs(8);
        while pg.execute("palisade", taken).await.is_err() {
            assert!(Instant::now() < deadline, "the holder never took the lock");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let started = Instant::now();
        let answer = chat(&gw, &key, false).await;
        (answer, started.elapsed())
    });
    held.unwrap();
    let ((status, body), took) = outcome;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
    assert!(
        took < Duration::from_secs(5),
        "refused after the commit timeout, not when the lock was let go: {took:?}"
    );

    // The lock is free again: service resumes, and the log verifies.
    served_again(&gw, &key).await;
    stopped_and_verified(gw, &pg);
}
