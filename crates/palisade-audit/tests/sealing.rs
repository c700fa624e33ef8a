//! One record that cannot be sealed fails alone: its subject's data key was wrapped by a
//! master key the ledger does not have (made during a rotation that was then rolled
//! back), so its content cannot be encrypted — the records committed beside it in the
//! same group commit must not fail with it, and the ledger stays available.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use palisade_audit::checkpoint::NoteSigner;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::verify::verify;
use palisade_audit::{Capture, Entry, Event, Ledger, LedgerConfig, Plane};

fn entry(n: u64, subject: Option<&str>) -> Entry {
    let mut e = Event::new(Plane::Data, format!("req-{n}"), "chat.completions");
    e.actor.key_id = Some("key_1".into());
    Entry {
        event: e,
        capture: subject.map(|s| Capture {
            subject: s.to_owned(),
            content: br#"{"request":{"prompt":"hello"}}"#.to_vec(),
        }),
    }
}

async fn open(store: &palisade_store::Store, keyring: Keyring, signer: &str) -> Ledger {
    let signer = NoteSigner::parse(signer).unwrap();
    let keys = AuditKeys::load(store.audit.as_ref(), keyring)
        .await
        .unwrap();
    Ledger::open(
        Arc::clone(&store.audit),
        keys,
        signer,
        LedgerConfig {
            origin: "sealing.test/audit".into(),
            ..LedgerConfig::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_record_that_cannot_be_sealed_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = palisade_store::connect(&url, 4).await.unwrap();
    let signer = NoteSigner::generate("sealing.test/audit").unwrap();
    let verifier = signer.verifier();
    let signer = signer.to_text();
    let (first, first_text) = MasterKey::generate();
    let (second, _) = MasterKey::generate();
    let again = |text: &str| MasterKey::from_text(text).unwrap();

    // Alice's data key is made under the first master key; during a rotation to the
    // second, carol's is made under the second.
    let ledger = open(&store, Keyring::new(first, vec![]), &signer).await;
    ledger
        .record_durably(entry(0, Some("alice")))
        .await
        .unwrap();
    ledger.close().await;
    let ledger = open(
        &store,
        Keyring::new(second, vec![again(&first_text)]),
        &signer,
    )
    .await;
    ledger
        .record_durably(entry(1, Some("carol")))
        .await
        .unwrap();
    ledger.close().await;

    // Rolled back to the first key alone: carol's key cannot be unwrapped. Her record
    // and many others arrive together.
    let ledger = open(&store, Keyring::new(again(&first_text), vec![]), &signer).await;
    let mut tasks = Vec::new();
    for n in 2..=65u64 {
        let ledger = ledger.clone();
        let subject = match n {
            32 => Some("carol"),
            n if n % 3 == 0 => Some("alice"),
            n if n % 2 == 0 => Some("bob"),
            _ => None,
        };
        tasks.push(tokio::spawn(async move {
            (n, ledger.record_durably(entry(n, subject)).await)
        }));
    }
    for task in tasks {
        let (n, result) = task.await.unwrap();
        if n == 32 {
            assert!(
                result.is_err(),
                "carol's record cannot be sealed: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "record {n} failed with carol's: {result:?}");
        }
    }
    assert!(ledger.record_durably(entry(66, None)).await.is_ok());
    ledger.close().await;
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.records, 2 + 63 + 1);
}
