//! Proofs served from the store (`palisade_audit::proofs`) are the proofs computed from
//! every leaf at once, for every index and size of a small log read in small chunks (so
//! ranges start, end and cross chunk boundaries).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use palisade_audit::checkpoint::NoteSigner;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::merkle;
use palisade_audit::proofs::{ProofsError, consistency_in_chunks, inclusion, inclusion_in_chunks};
use palisade_audit::{Entry, Event, Ledger, LedgerConfig, Plane};

#[tokio::test]
async fn proofs_from_the_store_match_proofs_from_all_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = palisade_store::connect(&url, 2).await.unwrap();
    let keys = AuditKeys::load(
        store.audit.as_ref(),
        Keyring::new(MasterKey::generate().0, vec![]),
    )
    .await
    .unwrap();
    let signer = NoteSigner::generate("proofs.test/audit").unwrap();
    let ledger = Ledger::open(
        Arc::clone(&store.audit),
        keys,
        signer,
        LedgerConfig::default(),
    )
    .await
    .unwrap();
    for n in 0..21u64 {
        let event = Event::new(Plane::Data, format!("req-{n}"), "chat.completions");
        ledger
            .record_durably(Entry {
                event,
                capture: None,
            })
            .await
            .unwrap();
    }
    ledger.close().await;
    let audit = store.audit.as_ref();
    let leaves = audit.leaf_hashes(0, 21).await.unwrap();
    // Chunks of 4 records: ranges start and end inside chunks and across them.
    for size in 1..=21u64 {
        let tree = &leaves[..size as usize];
        for index in 0..size {
            let p = inclusion_in_chunks(audit, index, size, 4).await.unwrap();
            assert_eq!(
                p.hashes,
                merkle::inclusion_proof(tree, index as usize).unwrap()
            );
            assert_eq!((p.leaf, p.root), (tree[index as usize], merkle::root(tree)));
        }
        for first in 1..=size {
            let p = consistency_in_chunks(audit, first, size, 4).await.unwrap();
            assert_eq!(
                p.hashes,
                merkle::consistency_proof(tree, first as usize).unwrap()
            );
            assert_eq!(p.first_root, merkle::root(&tree[..first as usize]));
            assert_eq!(p.second_root, merkle::root(tree));
        }
    }
    assert!(matches!(
        inclusion(audit, 3, 30).await,
        Err(ProofsError::Short { .. })
    ));
}
