//! Audit append throughput. Appends N records (the first argument, default 200,000) with
//! ~400-byte headers in batches of 256 through [`AuditStore::append`] to a fresh SQLite
//! file, once with `AuditSync::Full` and once with `AuditSync::Normal`, and, when
//! `PALISADE_BENCH_PG_URL` is set, to that PostgreSQL database (after its current last
//! record). Prints one JSON line per run; exits when done.
//!
//! `cargo run --release -p palisade-store --example audit_append -- 50000`

// A command-line benchmark: its output is the point.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::{Duration, Instant};

use palisade_audit::merkle::leaf_hash;
use palisade_audit::record::{IndexFields, StoredRecord};
use palisade_store::{AuditStore, AuditSync, StoreOptions, connect_with};

const BATCH: u64 = 256;
const HEADER_BYTES: usize = 400;

/// A record shaped like a real one: varied index fields, a ~400-byte header, and
/// encrypted-looking content on every fourth record.
fn record(seq: u64) -> StoredRecord {
    let index = IndexFields {
        time_us: 1_700_000_000_000_000 + seq as i64 * 1_000,
        plane: "data".into(),
        request_id: format!("req-{seq:016x}"),
        actor: format!("key-{:04}", seq % 97),
        user_id: format!("user-{:03}", seq % 31),
        model: ["gpt-4o", "claude-sonnet", "llama-3"][(seq % 3) as usize].into(),
        decision: if seq.is_multiple_of(17) {
            "deny"
        } else {
            "allow"
        }
        .into(),
        subject: if seq.is_multiple_of(4) {
            format!("subj-{:05}", seq % 1009)
        } else {
            String::new()
        },
    };
    let mut header = format!(
        "{{\"v\":1,\"seq\":{seq},\"prev\":\"{:064x}\",\"event\":{{\"time_us\":{},\"request_id\":\"{}\",\"actor\":\"{}\",\"model\":\"{}\"}}",
        seq.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        index.time_us,
        index.request_id,
        index.actor,
        index.model
    )
    .into_bytes();
    header.resize(HEADER_BYTES - 1, b' ');
    header.push(b'}');
    StoredRecord {
        seq,
        leaf_hash: leaf_hash(&header),
        content: seq.is_multiple_of(4).then(|| vec![(seq % 251) as u8; 256]),
        index,
        header,
    }
}

/// Appends `n` records after the store's last one; returns the time spent in `append`.
async fn run(store: &dyn AuditStore, n: u64) -> Result<Duration, Box<dyn Error>> {
    let start = store.size().await?;
    let mut spent = Duration::ZERO;
    let mut seq = start;
    while seq < start + n {
        let end = (seq + BATCH).min(start + n);
        let batch: Vec<StoredRecord> = (seq..end).map(record).collect();
        let t = Instant::now();
        store.append(&batch, None).await?;
        spent += t.elapsed();
        seq = end;
    }
    Ok(spent)
}

fn report(backend: &str, sync: &str, n: u64, spent: Duration) {
    let secs = spent.as_secs_f64();
    println!(
        "{{\"backend\":\"{backend}\",\"sync\":\"{sync}\",\"records\":{n},\"batch\":{BATCH},\
         \"header_bytes\":{HEADER_BYTES},\"seconds\":{secs:.3},\"records_per_s\":{:.0}}}",
        n as f64 / secs.max(1e-9)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 200_000,
    };

    for (sync, name) in [(AuditSync::Full, "full"), (AuditSync::Normal, "normal")] {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        let options = StoreOptions {
            audit_sync: sync,
            ..StoreOptions::default()
        };
        let store = connect_with(&url, options).await?;
        let spent = run(store.audit.as_ref(), n).await?;
        store.close().await;
        report("sqlite", name, n, spent);
    }

    if let Ok(url) = std::env::var("PALISADE_BENCH_PG_URL") {
        let store = connect_with(&url, StoreOptions::default()).await?;
        let spent = run(store.audit.as_ref(), n).await?;
        store.close().await;
        report("postgres", "synchronous_commit", n, spent);
    }
    Ok(())
}
