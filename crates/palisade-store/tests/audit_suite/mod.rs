//! The [`AuditStore`] conformance suite itself: backend-agnostic test functions that take
//! a freshly migrated, empty store, plus record builders. `audit_conformance.rs` runs each
//! function against every backend.

use std::sync::Arc;

use palisade_audit::merkle::{Hash, leaf_hash};
use palisade_audit::record::{IndexFields, StoredRecord};
use palisade_audit::store::{
    AuditStore, AuditStoreError, DirectAppend, Query, StoredCheckpoint, WrappedKey,
};

pub type Audit = Arc<dyn AuditStore>;

/// A record at `seq`, `time_us`, with the index fields `fill` sets (all empty otherwise)
/// and 16 bytes of content.
pub fn record(seq: u64, time_us: i64, fill: impl FnOnce(&mut IndexFields)) -> StoredRecord {
    let mut index = IndexFields {
        time_us,
        plane: "data".into(),
        decision: "allow".into(),
        ..IndexFields::default()
    };
    fill(&mut index);
    let header =
        format!("{{\"seq\":{seq},\"time_us\":{time_us},\"note\":\"header bytes\"}}").into_bytes();
    StoredRecord {
        seq,
        index,
        leaf_hash: leaf_hash(&header),
        header,
        content: Some(vec![seq as u8; 16]),
    }
}

/// Records `from..to`, one per millisecond, with nothing but times.
pub fn records(from: u64, to: u64) -> Vec<StoredRecord> {
    (from..to)
        .map(|seq| record(seq, 1_000 * seq as i64, |_| {}))
        .collect()
}

pub fn checkpoint(size: u64, note: &str) -> StoredCheckpoint {
    StoredCheckpoint {
        size,
        root: [size as u8; 32],
        note: note.into(),
        created_us: 10 * size as i64,
    }
}

pub fn key(subject: &str, key_id: &str, wrapped: &[u8]) -> WrappedKey {
    WrappedKey {
        subject: subject.into(),
        key_id: key_id.into(),
        master_key_id: "master-1".into(),
        wrapped: wrapped.to_vec(),
        created_us: 42,
    }
}

fn seqs(records: &[StoredRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

pub async fn append_and_read(store: Audit) {
    store.ping().await.unwrap();
    assert_eq!(store.size().await.unwrap(), 0);
    assert!(store.records(0, 10).await.unwrap().is_empty());
    assert!(store.leaf_hashes(0, 10).await.unwrap().is_empty());
    assert_eq!(store.record(0).await.unwrap(), None);

    // Nothing to append is a no-op.
    store.append(&[], None).await.unwrap();
    assert_eq!(store.size().await.unwrap(), 0);

    let mut first = records(0, 5);
    first[2].content = None;
    first[3].index = IndexFields {
        time_us: 3_000,
        plane: "admin".into(),
        request_id: "req-3".into(),
        actor: "k-3".into(),
        user_id: "u-3".into(),
        model: "gpt-x".into(),
        decision: "deny".into(),
        subject: "subj-3".into(),
    };
    store.append(&first, None).await.unwrap();
    assert_eq!(store.size().await.unwrap(), 5);
    assert_eq!(store.records(0, 10).await.unwrap(), first);
    assert_eq!(store.records(2, 2).await.unwrap(), &first[2..4]);
    assert!(store.records(5, 10).await.unwrap().is_empty());
    assert!(store.records(0, 0).await.unwrap().is_empty());
    assert_eq!(store.record(3).await.unwrap().as_ref(), Some(&first[3]));
    assert_eq!(store.record(2).await.unwrap().unwrap().content, None);
    assert_eq!(store.record(5).await.unwrap(), None);

    // Leaf hashes: `from <= seq < to`, in order.
    let leaves: Vec<Hash> = first.iter().map(|r| r.leaf_hash).collect();
    assert_eq!(store.leaf_hashes(0, 5).await.unwrap(), leaves);
    assert_eq!(store.leaf_hashes(1, 4).await.unwrap(), &leaves[1..4]);
    assert_eq!(store.leaf_hashes(3, 100).await.unwrap(), &leaves[3..]);
    assert!(store.leaf_hashes(3, 3).await.unwrap().is_empty());
    assert!(store.leaf_hashes(4, 2).await.unwrap().is_empty());

    // Headers and leaf hashes without content: `from <= seq < to`, in order.
    let headers = store.headers(1, 100).await.unwrap();
    assert_eq!(headers.len(), 4);
    for (h, r) in headers.iter().zip(&first[1..]) {
        assert_eq!(
            (h.seq, &h.header, h.leaf_hash),
            (r.seq, &r.header, r.leaf_hash)
        );
    }
    assert!(store.headers(3, 3).await.unwrap().is_empty());

    // Records and a checkpoint in one append.
    let second = records(5, 8);
    let head = checkpoint(8, "tree head 8");
    store.append(&second, Some(&head)).await.unwrap();
    assert_eq!(store.size().await.unwrap(), 8);
    assert_eq!(store.latest_checkpoint().await.unwrap(), Some(head.clone()));
    assert_eq!(
        seqs(&store.records(0, 100).await.unwrap()),
        (0..8).collect::<Vec<_>>()
    );

    // A checkpoint alone.
    let later = checkpoint(
        9,
        "tree head 9 (ahead of records: the store does not judge)",
    );
    store.append(&[], Some(&later)).await.unwrap();
    assert_eq!(store.checkpoints().await.unwrap(), [head, later]);

    // A batch larger than one SQLite statement's chunk, with large headers.
    let mut big = records(8, 608);
    for r in &mut big {
        r.header = vec![r.seq as u8; 400];
        r.leaf_hash = leaf_hash(&r.header);
    }
    store.append(&big, None).await.unwrap();
    assert_eq!(store.size().await.unwrap(), 608);
    assert_eq!(store.records(8, 1000).await.unwrap(), big);
    assert_eq!(store.leaf_hashes(600, 608).await.unwrap().len(), 8);
}

pub async fn conflicts_roll_back(store: Audit) {
    store.append(&records(0, 3), None).await.unwrap();

    // A taken sequence number: Conflict, and nothing of the batch is kept.
    let err = store.append(&records(2, 5), None).await.unwrap_err();
    assert!(matches!(err, AuditStoreError::Conflict(_)), "{err:?}");
    assert!(!err.to_string().contains("header bytes"), "{err}");
    assert_eq!(store.size().await.unwrap(), 3);
    assert_eq!(store.record(3).await.unwrap(), None);

    // A duplicate inside the batch, with a checkpoint: neither is kept.
    let mut batch = records(3, 6);
    batch[2].seq = 4;
    let err = store
        .append(&batch, Some(&checkpoint(6, "never")))
        .await
        .unwrap_err();
    assert!(matches!(err, AuditStoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.size().await.unwrap(), 3);
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);

    // The next batch goes in.
    store
        .append(&records(3, 6), Some(&checkpoint(6, "six")))
        .await
        .unwrap();
    assert_eq!(store.size().await.unwrap(), 6);

    // A sequence number beyond BIGINT is refused before reaching the database.
    let err = store
        .append(&[record(u64::MAX, 0, |_| {})], None)
        .await
        .unwrap_err();
    assert!(matches!(err, AuditStoreError::Backend(_)), "{err:?}");
    assert_eq!(store.size().await.unwrap(), 6);
}

pub async fn search(store: Audit) {
    search_split(store, None).await;
}

/// The search suite; with `direct`, the newest three of its six rows go in through that
/// connection (SQLite's ledger writer), past the prefix the search index covers, so every
/// query has to merge the indexed rows with the ones not indexed yet.
pub async fn search_split(store: Audit, direct: Option<Box<dyn DirectAppend>>) {
    // seq: time, actor, user, model, decision, request, plane, subject
    let rows = [
        (0, 100, "k-a", "", "m1", "allow", "r0", "data", ""),
        (1, 200, "k-b", "u-a", "m2", "deny", "r1", "data", "s1"),
        (2, 300, "t-admin", "", "", "allow", "r2", "admin", ""),
        (3, 400, "k-a", "u-a", "m1", "allow", "r3", "data", "s1"),
        (4, 500, "u-a", "", "m2", "allow", "r3", "data", "s2"),
        (5, 600, "k-c", "", "m1", "error", "r5", "data", ""),
    ];
    let all: Vec<StoredRecord> = rows
        .iter()
        .map(
            |&(seq, time, actor, user, model, decision, req, plane, subject)| {
                record(seq, time, |i| {
                    i.actor = actor.into();
                    i.user_id = user.into();
                    i.model = model.into();
                    i.decision = decision.into();
                    i.request_id = req.into();
                    i.plane = plane.into();
                    i.subject = subject.into();
                })
            },
        )
        .collect();
    match direct {
        Some(mut direct) => {
            store.append(&all[..3], None).await.unwrap();
            direct.append(&all[3..], None).unwrap();
        }
        None => store.append(&all, None).await.unwrap(),
    }

    let find = |query: Query| {
        let store = store.clone();
        async move { seqs(&store.search(&query).await.unwrap()) }
    };
    let q = || Query {
        limit: 100,
        ..Query::default()
    };

    // No filter: everything, newest first, whole records.
    assert_eq!(find(q()).await, [5, 4, 3, 2, 1, 0]);
    let found = store.search(&q()).await.unwrap();
    assert_eq!(found.iter().rev().cloned().collect::<Vec<_>>(), all);

    // Time: since inclusive, until exclusive.
    assert_eq!(
        find(Query {
            since_us: Some(300),
            ..q()
        })
        .await,
        [5, 4, 3, 2]
    );
    assert_eq!(
        find(Query {
            until_us: Some(300),
            ..q()
        })
        .await,
        [1, 0]
    );
    assert_eq!(
        find(Query {
            since_us: Some(200),
            until_us: Some(500),
            ..q()
        })
        .await,
        [3, 2, 1]
    );
    assert!(
        find(Query {
            since_us: Some(700),
            ..q()
        })
        .await
        .is_empty()
    );

    // Actor: the actor column or the user id.
    assert_eq!(
        find(Query {
            actor: Some("k-a".into()),
            ..q()
        })
        .await,
        [3, 0]
    );
    assert_eq!(
        find(Query {
            actor: Some("u-a".into()),
            ..q()
        })
        .await,
        [4, 3, 1]
    );
    assert_eq!(
        find(Query {
            actor: Some("t-admin".into()),
            ..q()
        })
        .await,
        [2]
    );
    assert!(
        find(Query {
            actor: Some("nobody".into()),
            ..q()
        })
        .await
        .is_empty()
    );

    // Each equality filter.
    assert_eq!(
        find(Query {
            model: Some("m1".into()),
            ..q()
        })
        .await,
        [5, 3, 0]
    );
    assert_eq!(
        find(Query {
            decision: Some("deny".into()),
            ..q()
        })
        .await,
        [1]
    );
    assert_eq!(
        find(Query {
            request_id: Some("r3".into()),
            ..q()
        })
        .await,
        [4, 3]
    );
    assert_eq!(
        find(Query {
            plane: Some("admin".into()),
            ..q()
        })
        .await,
        [2]
    );
    assert_eq!(
        find(Query {
            subject: Some("s1".into()),
            ..q()
        })
        .await,
        [3, 1]
    );

    // Filters combine.
    assert_eq!(
        find(Query {
            actor: Some("u-a".into()),
            model: Some("m2".into()),
            ..q()
        })
        .await,
        [4, 1]
    );
    assert_eq!(
        find(Query {
            actor: Some("u-a".into()),
            model: Some("m2".into()),
            decision: Some("allow".into()),
            since_us: Some(100),
            plane: Some("data".into()),
            subject: Some("s2".into()),
            request_id: Some("r3".into()),
            until_us: Some(501),
            before_seq: Some(5),
            limit: 10,
        })
        .await,
        [4]
    );
    assert!(
        find(Query {
            model: Some("m1".into()),
            decision: Some("deny".into()),
            ..q()
        })
        .await
        .is_empty()
    );

    // Cursor and limit page through newest first; a limit of 0 means 1.
    assert_eq!(find(Query { limit: 2, ..q() }).await, [5, 4]);
    assert_eq!(
        find(Query {
            before_seq: Some(4),
            limit: 2,
            ..q()
        })
        .await,
        [3, 2]
    );
    assert_eq!(
        find(Query {
            before_seq: Some(2),
            limit: 2,
            ..q()
        })
        .await,
        [1, 0]
    );
    assert!(
        find(Query {
            before_seq: Some(0),
            ..q()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        find(Query {
            model: Some("m1".into()),
            before_seq: Some(5),
            limit: 1,
            ..q()
        })
        .await,
        [3]
    );
    assert_eq!(find(Query { limit: 0, ..q() }).await, [5]);

    // The limit is clamped to 1000.
    store.append(&records(6, 1106), None).await.unwrap();
    assert_eq!(find(Query { limit: 5000, ..q() }).await.len(), 1000);
    assert_eq!(find(Query { limit: 5000, ..q() }).await[0], 1105);
}

pub async fn checkpoints(store: Audit) {
    assert!(store.checkpoints().await.unwrap().is_empty());
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    for size in [10, 5, 20] {
        store
            .add_checkpoint(&checkpoint(size, &format!("head {size}")))
            .await
            .unwrap();
    }
    // The same size again is ignored, whatever it says, alone or with an append.
    store
        .add_checkpoint(&checkpoint(10, "another head 10"))
        .await
        .unwrap();
    store
        .append(&[], Some(&checkpoint(20, "another head 20")))
        .await
        .unwrap();
    assert_eq!(
        store.checkpoints().await.unwrap(),
        [
            checkpoint(5, "head 5"),
            checkpoint(10, "head 10"),
            checkpoint(20, "head 20")
        ]
    );
    // Replaced only while the row still says what the caller read (compare and swap).
    let swapped = checkpoint(10, "writer's head 10");
    assert!(!store.replace_checkpoint("stale", &swapped).await.unwrap());
    assert!(store.replace_checkpoint("head 10", &swapped).await.unwrap());
    assert!(!store.replace_checkpoint("head 10", &swapped).await.unwrap());
    assert_eq!(store.checkpoints().await.unwrap()[1], swapped);
    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(checkpoint(20, "head 20"))
    );
    store.add_checkpoint(&checkpoint(0, "empty")).await.unwrap();
    assert_eq!(store.checkpoints().await.unwrap()[0].size, 0);
    // The next one down from a size.
    let below = |size| {
        let store = store.clone();
        async move { store.checkpoint_below(size).await.unwrap().map(|c| c.size) }
    };
    assert_eq!(below(20).await, Some(10));
    assert_eq!(below(11).await, Some(10));
    assert_eq!(below(10).await, Some(5));
    assert_eq!(below(1).await, Some(0));
    assert_eq!(below(0).await, None);
    assert_eq!(below(u64::from(u32::MAX)).await, Some(20));
    // A page of them, largest first.
    let page = |size, limit| {
        let store = store.clone();
        async move {
            let rows = store.checkpoints_below(size, limit).await.unwrap();
            rows.into_iter().map(|c| c.size).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(20, 2).await, [10, 5]);
    assert_eq!(page(11, 10).await, [10, 5, 0]);
    assert_eq!(page(0, 10).await, Vec::<u64>::new());
}

pub async fn subject_keys(store: Audit) {
    assert_eq!(store.subject_key("s1").await.unwrap(), None);
    assert!(store.wrapped_keys().await.unwrap().is_empty());

    // The first key stays in force.
    let first = key("s1", "dk-1", &[1; 60]);
    assert_eq!(store.create_subject_key(&first).await.unwrap(), first);
    let second = key("s1", "dk-2", &[2; 60]);
    assert_eq!(store.create_subject_key(&second).await.unwrap(), first);
    assert_eq!(store.subject_key("s1").await.unwrap(), Some(first.clone()));

    // Racing creators all end with the same key, one of theirs.
    let racers: Vec<_> = (0..8u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_subject_key(&key("s2", &format!("race-{i}"), &[i; 60]))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        winners.push(racer.await.unwrap());
    }
    assert!(winners.iter().all(|w| *w == winners[0]), "{winners:?}");
    assert!(winners[0].key_id.starts_with("race-"));
    assert_eq!(
        store.subject_key("s2").await.unwrap().as_ref(),
        Some(&winners[0])
    );

    let listed = store.wrapped_keys().await.unwrap();
    assert_eq!(listed, [first.clone(), winners[0].clone()]);

    // Rewrap replaces the wrapping of the same data key only.
    let rewrapped = WrappedKey {
        master_key_id: "master-2".into(),
        wrapped: vec![7; 61],
        ..first.clone()
    };
    store.rewrap_subject_key(&rewrapped).await.unwrap();
    assert_eq!(
        store.subject_key("s1").await.unwrap(),
        Some(rewrapped.clone())
    );
    let stale = WrappedKey {
        key_id: "dk-other".into(),
        master_key_id: "master-3".into(),
        ..first.clone()
    };
    store.rewrap_subject_key(&stale).await.unwrap();
    assert_eq!(store.subject_key("s1").await.unwrap(), Some(rewrapped));
    store
        .rewrap_subject_key(&key("ghost", "dk", &[0; 4]))
        .await
        .unwrap();
    assert_eq!(store.subject_key("ghost").await.unwrap(), None);

    // Destroy: gone, once; the other subject keeps its key.
    assert!(store.destroy_subject_key("s1").await.unwrap());
    assert_eq!(store.subject_key("s1").await.unwrap(), None);
    assert!(!store.destroy_subject_key("s1").await.unwrap());
    assert!(!store.destroy_subject_key("never").await.unwrap());
    assert_eq!(store.wrapped_keys().await.unwrap(), [winners[0].clone()]);

    // A destroyed subject can get a new key.
    let fresh = key("s1", "dk-3", &[3; 60]);
    assert_eq!(store.create_subject_key(&fresh).await.unwrap(), fresh);
}

pub async fn purge_content(store: Audit) {
    let mut batch: Vec<StoredRecord> = [100, 200, 300, 400]
        .iter()
        .enumerate()
        .map(|(seq, &time)| record(seq as u64, time, |_| {}))
        .collect();
    batch[1].content = None;
    store.append(&batch, None).await.unwrap();

    // Only records older than the cutoff that still have content count, and only among
    // the first `through` (what the purge statement covers).
    assert_eq!(store.purge_content(50, u64::MAX).await.unwrap(), 0);
    assert_eq!(store.purge_content(300, 0).await.unwrap(), 0);
    assert_eq!(store.purge_content(300, u64::MAX).await.unwrap(), 1);
    assert_eq!(store.purge_content(300, u64::MAX).await.unwrap(), 0);
    let after = store.records(0, 10).await.unwrap();
    assert_eq!(
        after
            .iter()
            .map(|r| r.content.is_some())
            .collect::<Vec<_>>(),
        [false, false, true, true]
    );
    // Everything but the content is untouched.
    for (before, after) in batch.iter().zip(&after) {
        assert_eq!(before.header, after.header);
        assert_eq!(before.leaf_hash, after.leaf_hash);
        assert_eq!(before.index, after.index);
    }
    assert_eq!(store.purge_content(i64::MAX, 3).await.unwrap(), 1);
    assert!(store.records(3, 1).await.unwrap()[0].content.is_some());
    assert_eq!(store.purge_content(i64::MAX, 4).await.unwrap(), 1);
    assert!(
        store
            .records(0, 10)
            .await
            .unwrap()
            .iter()
            .all(|r| r.content.is_none())
    );
}

pub async fn meta(store: Audit) {
    assert_eq!(store.meta("index-key").await.unwrap(), None);

    // Only if absent: the first value stays.
    assert_eq!(
        store.set_meta("index-key", b"first", true).await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.set_meta("index-key", b"second", true).await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.meta("index-key").await.unwrap(),
        Some(b"first".to_vec())
    );

    // Otherwise the value is replaced.
    assert_eq!(
        store.set_meta("index-key", b"third", false).await.unwrap(),
        b"third"
    );
    assert_eq!(
        store.meta("index-key").await.unwrap(),
        Some(b"third".to_vec())
    );
    assert_eq!(store.set_meta("other", b"", false).await.unwrap(), b"");
    assert_eq!(store.meta("other").await.unwrap(), Some(Vec::new()));
    assert_eq!(
        store.meta("index-key").await.unwrap(),
        Some(b"third".to_vec())
    );
}

/// The search index is checked against the records: a row edited or left without its
/// record, or a row missing below the highest, is named at its sequence number; an index
/// that only lags behind the log is faithful. `raw` runs SQL on the store's database
/// directly, as someone with write access to it would.
pub async fn search_index_divergence<F, Fut>(store: Audit, raw: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use palisade_audit::store::IndexDivergence::{Differs, Gap};
    let rows: Vec<StoredRecord> = (0..20)
        .map(|seq| {
            record(seq, 1_000 * seq as i64, |i| {
                i.actor = format!("key-{seq}");
                i.user_id = format!("user-{}", seq % 3);
                i.request_id = format!("req-{seq}");
            })
        })
        .collect();
    assert_eq!(
        store.search_index_divergence().await.unwrap(),
        None,
        "empty"
    );
    store.append(&rows, None).await.unwrap();
    assert_eq!(store.search_index_divergence().await.unwrap(), None);
    let restore = "INSERT INTO audit_search (seq, time_us, request_id, actor, user_id) \
                   SELECT seq, time_us, request_id, actor, user_id FROM audit_records \
                   WHERE seq NOT IN (SELECT seq FROM audit_search)";
    let cases: [(&str, Option<_>); 8] = [
        (
            "UPDATE audit_search SET actor = 'someone-else' WHERE seq = 7",
            Some(Differs(7)),
        ),
        (
            "UPDATE audit_search SET request_id = 'REQ-13' WHERE seq = 13",
            Some(Differs(13)),
        ),
        (
            "UPDATE audit_search SET time_us = time_us + 1 WHERE seq = 0",
            Some(Differs(0)),
        ),
        (
            "UPDATE audit_search SET user_id = 'user-x' WHERE seq = 19",
            Some(Differs(19)),
        ),
        ("DELETE FROM audit_search WHERE seq = 4", Some(Gap(4))),
        ("DELETE FROM audit_search WHERE seq = 0", Some(Gap(0))),
        ("DELETE FROM audit_search WHERE seq IN (3, 9)", Some(Gap(3))),
        // A prefix: the index has not caught up with the newest records yet.
        ("DELETE FROM audit_search WHERE seq >= 15", None),
    ];
    for (tamper, expected) in cases {
        raw(tamper).await;
        assert_eq!(
            store.search_index_divergence().await.unwrap(),
            expected,
            "{tamper}"
        );
        raw("DELETE FROM audit_search").await;
        raw(restore).await;
        assert_eq!(store.search_index_divergence().await.unwrap(), None);
    }
    // A row whose record is gone, and a gap before a differing row: the lower one.
    raw("DELETE FROM audit_records WHERE seq = 12").await;
    assert_eq!(
        store.search_index_divergence().await.unwrap(),
        Some(Differs(12))
    );
    raw("DELETE FROM audit_search WHERE seq = 5").await;
    assert_eq!(store.search_index_divergence().await.unwrap(), Some(Gap(5)));
}
