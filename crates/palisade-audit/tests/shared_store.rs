//! Several gateway instances share one store (PostgreSQL, or one SQLite file): each runs
//! its own ledger writer. Their appends race for the same positions; the loser catches up
//! with the winner's records and re-seals its batch. Every record must land exactly once,
//! in one linked log that verifies, with every captured content still readable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use palisade_audit::checkpoint::NoteSigner;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::{AuditKeys, ContentView};
use palisade_audit::record::Header;
use palisade_audit::verify::verify;
use palisade_audit::{Capture, Entry, Event, Ledger, LedgerConfig, Plane};

const INSTANCES: usize = 3;
const PER_INSTANCE: usize = 400;

async fn instances_share(url: &str) {
    let signer_text = NoteSigner::generate("shared.test/audit").unwrap().to_text();
    let (_, master_text) = MasterKey::generate();
    let mut ledgers = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..INSTANCES {
        let (ledger, store) = open_ledger(url, &signer_text, &master_text, 100).await;
        ledgers.push(ledger);
        stores.push(store);
    }
    let mut tasks = Vec::new();
    for (i, ledger) in ledgers.iter().enumerate() {
        for t in 0..8 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..PER_INSTANCE / 8 {
                    let id = format!("i{i}-t{t}-n{n}");
                    let capture = (n % 2 == 0).then(|| Capture {
                        subject: format!("subject-{t}"),
                        content: format!(r#"{{"request":"{id}"}}"#).into_bytes(),
                    });
                    let event = Event::new(Plane::Data, id, "chat.completions");
                    ledger.record(Entry { event, capture }).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for ledger in &ledgers {
        ledger.close().await;
    }

    let store = &stores[0];
    let verifier = NoteSigner::parse(&signer_text).unwrap().verifier();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, (INSTANCES * PER_INSTANCE) as u64);
    let records = store.audit.records(0, 10_000).await.unwrap();
    let ids: HashSet<String> = records
        .iter()
        .map(|r| Header::from_bytes(&r.header).unwrap().event.request_id)
        .collect();
    assert_eq!(
        ids.len(),
        INSTANCES * PER_INSTANCE,
        "every record exactly once"
    );
    let keyring = Keyring::new(MasterKey::from_text(&master_text).unwrap(), vec![]);
    let keys = AuditKeys::load(store.audit.as_ref(), keyring)
        .await
        .unwrap();
    for r in records.iter().filter(|r| r.content.is_some()) {
        let id = Header::from_bytes(&r.header).unwrap().event.request_id;
        match keys.open_content(store.audit.as_ref(), r).await.unwrap() {
            ContentView::Plain { content } => assert_eq!(content["request"], id),
            other => panic!("record {} content: {other:?}", r.seq),
        }
    }
    for s in stores {
        s.close().await;
    }
}

/// Opens a ledger over `url` with the given keys (texts), signing a checkpoint every
/// `checkpoint_every` records (and when asked).
async fn open_ledger(
    url: &str,
    signer_text: &str,
    master_text: &str,
    checkpoint_every: u64,
) -> (Ledger, palisade_store::Store) {
    let store = palisade_store::connect(url, 4).await.unwrap();
    let keyring = Keyring::new(MasterKey::from_text(master_text).unwrap(), vec![]);
    let keys = AuditKeys::load(store.audit.as_ref(), keyring)
        .await
        .unwrap();
    let ledger = Ledger::open(
        Arc::clone(&store.audit),
        keys,
        NoteSigner::parse(signer_text).unwrap(),
        LedgerConfig {
            origin: "shared.test/audit".into(),
            checkpoint_every,
            checkpoint_interval: Duration::from_secs(3600),
            ..LedgerConfig::default()
        },
    )
    .await
    .unwrap();
    (ledger, store)
}

#[tokio::test]
async fn a_checkpoint_asked_of_an_idle_instance_covers_the_others_records() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let signer_text = NoteSigner::generate("shared.test/audit").unwrap().to_text();
    let (_, master_text) = MasterKey::generate();
    let (busy, _busy_store) = open_ledger(&url, &signer_text, &master_text, 1_000_000).await;
    let (idle, idle_store) = open_ledger(&url, &signer_text, &master_text, 1_000_000).await;
    for n in 0..5 {
        let event = Event::new(Plane::Data, format!("r{n}"), "chat.completions");
        busy.record(Entry {
            event,
            capture: None,
        })
        .await
        .unwrap();
    }
    let signed = idle.checkpoint().await.unwrap().expect("a new checkpoint");
    assert_eq!(
        signed.size, 5,
        "the idle instance signed the whole log, not its own prefix"
    );
    let latest = idle_store.audit.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_one_sqlite_file_keep_one_log() {
    let dir = tempfile::tempdir().unwrap();
    instances_share(&format!(
        "sqlite://{}",
        dir.path().join("shared.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_one_postgres_keep_one_log() {
    let pg = palisade_testkit::postgres::PgHarness::start()
        .await
        .expect("PostgreSQL is needed for this test (scripts/test installs it)");
    instances_share(&pg.url()).await;
}

#[tokio::test]
async fn a_store_that_lost_commits_is_reloaded_not_appended_to_with_a_gap() {
    // A PostgreSQL failover with asynchronous replication can lose the last commits. The
    // writer must not go on at its own idea of the tail (that would leave a gap and a
    // link to a record that is gone): the next commit fails, the one after reloads.
    let pg = palisade_testkit::postgres::PgHarness::start()
        .await
        .expect("PostgreSQL is needed for this test (scripts/test installs it)");
    let signer_text = NoteSigner::generate("shared.test/audit").unwrap().to_text();
    let (_, master_text) = MasterKey::generate();
    let (ledger, store) = open_ledger(&pg.url(), &signer_text, &master_text, 1_000_000).await;
    let record = |n: usize| Entry {
        event: Event::new(Plane::Data, format!("r{n}"), "chat.completions"),
        capture: None,
    };
    for n in 0..5 {
        ledger.record(record(n)).await.unwrap();
    }
    pg.execute(
        "palisade",
        "DELETE FROM audit_search WHERE seq >= 3; DELETE FROM audit_records WHERE seq >= 3",
    )
    .await
    .unwrap();
    assert!(
        ledger.record(record(5)).await.is_err(),
        "refused, not written after a gap"
    );
    let seq = ledger.record(record(6)).await.unwrap();
    assert_eq!(seq, Some(3), "appended where the store ends");
    ledger.close().await;
    let verifier = NoteSigner::parse(&signer_text).unwrap().verifier();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 4);
}

#[tokio::test]
async fn a_store_whose_lost_commits_were_filled_by_another_writer_is_reloaded() {
    // The same failover, but another instance appended to the replica before this one
    // wrote again: the store holds more records than this writer's tail, yet not its
    // last ones. Catching up with the new records alone would sign checkpoints over a
    // log that exists nowhere; the writer must read the tail again.
    let pg = palisade_testkit::postgres::PgHarness::start()
        .await
        .expect("PostgreSQL is needed for this test (scripts/test installs it)");
    let signer_text = NoteSigner::generate("shared.test/audit").unwrap().to_text();
    let (_, master_text) = MasterKey::generate();
    let (a, store) = open_ledger(&pg.url(), &signer_text, &master_text, 1_000_000).await;
    let record = |name: String| Entry {
        event: Event::new(Plane::Data, name, "chat.completions"),
        capture: None,
    };
    for n in 0..5 {
        a.record(record(format!("a{n}"))).await.unwrap();
    }
    pg.execute(
        "palisade",
        "DELETE FROM audit_search WHERE seq >= 3; DELETE FROM audit_records WHERE seq >= 3",
    )
    .await
    .unwrap();
    let (b, _b_store) = open_ledger(&pg.url(), &signer_text, &master_text, 1_000_000).await;
    for n in 0..4 {
        b.record(record(format!("b{n}"))).await.unwrap();
    }
    b.close().await;
    assert!(
        a.record(record("a5".into())).await.is_err(),
        "refused, not linked to a record the store no longer has"
    );
    let seq = a.record(record("a6".into())).await.unwrap();
    assert_eq!(seq, Some(7), "appended after the other writer's records");
    a.close().await;
    let verifier = NoteSigner::parse(&signer_text).unwrap().verifier();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 8);
}
