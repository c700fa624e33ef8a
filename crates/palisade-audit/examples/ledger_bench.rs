//! Durable audit throughput and verification speed, for `bench/audit.sh`.
//!
//! Appends records through the real ledger (strict durability: every `record` call waits
//! for its group commit) from many concurrent producers, like a busy gateway, into
//! SQLite (`sync` full and normal) and PostgreSQL (started on loopback when
//! `initdb` is installed: once without disk syncs, once durable), then times `verify` over a log of `VERIFY_RECORDS` records.
//! Prints one JSON object per measurement on stdout.
//!
//! `cargo run --release -p palisade-audit --example ledger_bench -- [RECORDS] [VERIFY_RECORDS]`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_audit::checkpoint::NoteSigner;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::verify::verify;
use palisade_audit::{Capture, Decision, Entry, Event, Ledger, LedgerConfig, Plane, TokenUsage};
use palisade_store::{AuditSync, Store, StoreOptions};

/// Concurrent producers (`LEDGER_BENCH_PRODUCERS`; 1 measures one record's round trip).
fn producers() -> u64 {
    std::env::var("LEDGER_BENCH_PRODUCERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn entry(n: u64) -> Entry {
    let mut e = Event::new(Plane::Data, format!("01JD{n:022}"), "chat.completions");
    e.actor.key_id = Some(format!("key_{:08}", n % 500));
    e.actor.user = Some(format!("user{}", n % 50));
    e.actor.user_id = Some(format!("usr_{:020}", n % 50));
    e.actor.groups = vec!["engineering".into(), "staff".into()];
    e.client_ip = Some("10.1.2.3".into());
    e.user_agent = Some("OpenAI/Python 1.54.0".into());
    e.model = Some("gpt-4o-mini".into());
    e.model_version = Some("gpt-4o-mini-2024-07-18".into());
    e.decision = if n.is_multiple_of(20) {
        Decision::Limit
    } else {
        Decision::Allow
    };
    e.policies = vec!["data.users-use-models".into()];
    e.upstream_status = Some(200);
    e.usage = Some(TokenUsage {
        prompt_tokens: 42,
        completion_tokens: 128,
        total_tokens: 170,
    });
    e.latency_ms = 231.517;
    e.overhead_ms = 0.183;
    // One request in four has its content captured (and encrypted).
    let capture = n.is_multiple_of(4).then(|| Capture {
        subject: format!("end-user-{}", n % 1000),
        content: format!(
            r#"{{"request":{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"Summarise ticket {n} for the weekly report, please."}}]}},"response":{{"choices":[{{"message":{{"role":"assistant","content":"Ticket {n}: the customer reported a login issue, fixed by a password reset."}}}}]}}}}"#
        )
        .into_bytes(),
    });
    Entry { event: e, capture }
}

async fn open(store: &Store, checkpoint_every: u64) -> Ledger {
    let (master, _) = MasterKey::generate();
    let keys = AuditKeys::load(store.audit.as_ref(), Keyring::new(master, vec![]))
        .await
        .unwrap();
    Ledger::open(
        Arc::clone(&store.audit),
        keys,
        NoteSigner::generate("bench/audit").unwrap(),
        LedgerConfig {
            origin: "bench/audit".into(),
            checkpoint_every,
            checkpoint_interval: Duration::from_secs(10),
            ..LedgerConfig::default()
        },
    )
    .await
    .unwrap()
}

/// Appends `records` from [`producers`] concurrent producers; returns records/s.
async fn append(ledger: &Ledger, from: u64, records: u64) -> f64 {
    let started = Instant::now();
    let producers = producers();
    let per = records / producers;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                ledger.record(entry(from + p * per + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (per * producers) as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(name: &str, url: &str, sync: AuditSync, records: u64) {
    let store = palisade_store::connect_with(
        url,
        StoreOptions {
            max_connections: 4,
            audit_sync: sync,
        },
    )
    .await
    .unwrap();
    let ledger = open(&store, 1000).await;
    let _ = append(&ledger, 0, 2048).await; // warm-up
    let rate = append(&ledger, 2048, records).await;
    let commits = ledger
        .stats()
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    let appended = ledger
        .stats()
        .appended
        .load(std::sync::atomic::Ordering::Relaxed);
    let commit_us = ledger
        .stats()
        .commit_us
        .load(std::sync::atomic::Ordering::Relaxed);
    ledger.close().await;
    println!(
        "{{\"measure\":\"durable_append\",\"backend\":\"{name}\",\"records\":{records},\"producers\":{},\"records_per_s\":{rate:.0},\"mean_batch\":{:.1},\"store_commit_share\":{:.2}}}",
        producers(),
        appended as f64 / commits.max(1) as f64,
        commit_us as f64 / 1e6 / (records as f64 / rate)
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = args.first().copied().unwrap_or(200_000);
    let verify_records = args.get(1).copied().unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();

    for (name, sync) in [
        ("sqlite-sync-full", AuditSync::Full),
        ("sqlite-sync-normal", AuditSync::Normal),
    ] {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        );
        throughput(name, &url, sync, records).await;
    }
    match palisade_testkit::postgres::PgHarness::start().await {
        Ok(pg) => throughput("postgres-fsync-off", &pg.url(), AuditSync::Full, records).await,
        Err(e) => eprintln!("postgres skipped: {e}"),
    }
    // Durable: every commit waits for the server's WAL flush, as in production.
    match palisade_testkit::postgres::PgHarness::start_durable().await {
        Ok(pg) => throughput("postgres-durable", &pg.url(), AuditSync::Full, records).await,
        Err(e) => eprintln!("durable postgres skipped: {e}"),
    }

    // Verification: a log of `verify_records` records, then the full check. The database
    // is kept when `LEDGER_BENCH_KEEP` names a directory (for profiling `verify` alone).
    let keep = std::env::var("LEDGER_BENCH_KEEP").ok();
    let verify_db = keep.as_deref().map_or_else(
        || dir.path().join("verify.db"),
        |d| std::path::Path::new(d).join("verify.db"),
    );
    let url = format!("sqlite://{}", verify_db.display());
    let store = palisade_store::connect_with(
        &url,
        StoreOptions {
            max_connections: 4,
            audit_sync: AuditSync::Normal,
        },
    )
    .await
    .unwrap();
    // With `LEDGER_BENCH_KEEP`, a log kept by an earlier run (and its key) is verified
    // again without being rebuilt.
    let key_file = keep
        .as_deref()
        .map(|d| std::path::Path::new(d).join("verify.pub"));
    let kept_key = key_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok());
    let verifier = match kept_key {
        Some(key) => palisade_audit::checkpoint::NoteVerifier::parse(key.trim()).unwrap(),
        None => {
            let ledger = open(&store, 10_000).await;
            let key = ledger.verifier_key();
            append(&ledger, 0, verify_records).await;
            ledger.close().await;
            if let Some(f) = &key_file {
                std::fs::write(f, &key).unwrap();
            }
            palisade_audit::checkpoint::NoteVerifier::parse(&key).unwrap()
        }
    };
    let started = Instant::now();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(report.ok, "{report:?}");
    println!(
        "{{\"measure\":\"verify\",\"backend\":\"sqlite\",\"records\":{},\"checkpoints\":{},\"seconds\":{secs:.2},\"records_per_s\":{:.0}}}",
        report.records,
        report.checkpoints_verified,
        report.records as f64 / secs
    );
    store.close().await;
}
