//! The tamper suite: a log is written through the real ledger into a real SQLite store,
//! then hundreds of trials each edit, delete, insert, reorder or truncate stored records
//! (or the rows of the search index that point at them) at a random position, straight
//! in the database file as an attacker with write access would. `verify` must catch every
//! one and name the position; an untouched log must always verify.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use palisade_audit::checkpoint::{NoteSigner, NoteVerifier};
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::merkle::leaf_hash;
use palisade_audit::purge::Purge;
use palisade_audit::record::hex;
use palisade_audit::verify::{PURGE_ACTION, ProblemKind, Report, verify, verify_origin};
use palisade_audit::{Capture, Change, Decision, Entry, Event, Ledger, LedgerConfig, Plane};
use rand::Rng;

mod common;
use common::{header_of, insert_row};
use sqlx::{Row, SqlitePool};

const RECORDS: u64 = 240;
const TRIALS_PER_KIND: usize = 40;

struct Pristine {
    _dir: tempfile::TempDir,
    db: PathBuf,
    verifier: NoteVerifier,
    /// The log's signing key (a copy: the ledger took the original).
    signer: NoteSigner,
    held: String,
    /// Contents retention dropped (0 without a purge).
    purged: u64,
}

async fn write_log() -> Pristine {
    write_log_purging(None).await
}

/// The log; with `purge_before`, retention then runs through the ledger (an
/// `audit.purge` record, a checkpoint over it, content older than the cutoff dropped).
async fn write_log_purging(purge_before: Option<i64>) -> Pristine {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let store = palisade_store::connect(&format!("sqlite://{}", db.display()), 2)
        .await
        .unwrap();
    let (master, _) = MasterKey::generate();
    let keys = AuditKeys::load(store.audit.as_ref(), Keyring::new(master, vec![]))
        .await
        .unwrap();
    let signer = NoteSigner::generate("tamper.test/audit").unwrap();
    let verifier = signer.verifier();
    let signer_copy = NoteSigner::parse(&signer.to_text()).unwrap();
    let config = LedgerConfig {
        origin: "tamper.test/audit".into(),
        checkpoint_every: 50,
        checkpoint_interval: Duration::from_secs(3600),
        ..LedgerConfig::default()
    };
    let ledger = Ledger::open(
        Arc::clone(&store.audit),
        Arc::clone(&keys),
        signer,
        config.clone(),
    )
    .await
    .unwrap();
    // Producers in parallel, so batches of several records commit together.
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..RECORDS / 8 {
                let n = t * 1000 + i;
                let mut e = Event::new(Plane::Data, format!("req-{n}"), "chat.completions");
                e.actor.key_id = Some(format!("key_{t}"));
                e.actor.user = Some(format!("user{t}"));
                e.model = Some(if n % 2 == 0 { "gpt-a" } else { "gpt-b" }.into());
                e.decision = if n.is_multiple_of(5) {
                    Decision::Deny
                } else {
                    Decision::Allow
                };
                let capture = n.is_multiple_of(3).then(|| Capture {
                    subject: format!("subject-{t}"),
                    content: format!(r#"{{"request":{{"prompt":"secret {n}"}}}}"#).into_bytes(),
                });
                ledger.record(Entry { event: e, capture }).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ledger.close().await;
    let mut purged = 0;
    if let Some(cutoff) = purge_before {
        // Reopened: closing caught up the search index retention reads its cutoff from.
        let signer = NoteSigner::parse(&signer_copy.to_text()).unwrap();
        let ledger = Ledger::open(Arc::clone(&store.audit), keys, signer, config)
            .await
            .unwrap();
        purged = ledger.purge_before(cutoff).await.unwrap();
        assert!(purged > 0);
        ledger.close().await;
    }
    let held = store.audit.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(held.size, RECORDS + u64::from(purge_before.is_some()));
    store.close().await;
    Pristine {
        _dir: dir,
        db,
        verifier,
        signer: signer_copy,
        held: held.note,
        purged,
    }
}

async fn verify_file(db: &Path, p: &Pristine) -> Report {
    let store = palisade_store::connect(&format!("sqlite://{}", db.display()), 2)
        .await
        .unwrap();
    let report = verify(Arc::clone(&store.audit), &p.verifier, Some(&p.held))
        .await
        .unwrap();
    store.close().await;
    report
}

/// A raw connection to a copy of the pristine database, as the attacker has.
async fn attacker(p: &Pristine, trial: &Path) -> SqlitePool {
    std::fs::copy(&p.db, trial).unwrap();
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", trial.display()));
    }
    // Commits not yet checkpointed into the file are in its write-ahead log: the copy
    // takes it too (SQLite rebuilds the index of it).
    let wal = format!("{}-wal", p.db.display());
    if std::path::Path::new(&wal).exists() {
        std::fs::copy(&wal, format!("{}-wal", trial.display())).unwrap();
    }
    SqlitePool::connect(&format!("sqlite://{}", trial.display()))
        .await
        .unwrap()
}

/// Moves every record at or above `from` by `delta` (±1), avoiding key collisions.
async fn shift(pool: &SqlitePool, from: i64, delta: i64) {
    sqlx::query("UPDATE audit_records SET seq = seq + 10000000 WHERE seq >= ?")
        .bind(from)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_records SET seq = seq - 10000000 + ? WHERE seq >= 10000000")
        .bind(delta)
        .execute(pool)
        .await
        .unwrap();
}

#[derive(Debug, Clone, Copy)]
enum Tamper {
    EditHeaderByte,
    EditHeaderAndRehash,
    EditContent,
    EditSearchColumn,
    EditSearchIndex,
    DeleteSearchIndexRow,
    Delete,
    DeleteAndRenumber,
    InsertForged,
    InsertDuplicate,
    Swap,
    Truncate,
}

/// Applies one tampering; returns the position `verify` must name.
async fn apply(pool: &SqlitePool, kind: Tamper, rng: &mut impl Rng) -> i64 {
    let n = RECORDS as i64;
    match kind {
        Tamper::EditHeaderByte => {
            let k = rng.random_range(0..n);
            let row = sqlx::query("SELECT header FROM audit_records WHERE seq = ?")
                .bind(k)
                .fetch_one(pool)
                .await
                .unwrap();
            let mut header: Vec<u8> = row.get(0);
            let i = rng.random_range(0..header.len());
            header[i] = if header[i] == b'7' { b'8' } else { b'7' };
            sqlx::query("UPDATE audit_records SET header = ? WHERE seq = ?")
                .bind(header)
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
        Tamper::EditHeaderAndRehash => {
            // The attacker knows the format: changes the decision and fixes the leaf
            // hash and search columns. Only the next record's link betrays it.
            let k = rng.random_range(0..n - 1);
            let mut h = header_of(pool, k).await;
            h.event.decision = Decision::Allow;
            h.event.reason = "ok-but-forged".into();
            let bytes = h.to_bytes();
            sqlx::query("UPDATE audit_records SET header = ?, leaf_hash = ?, decision = 'allow' WHERE seq = ?")
                .bind(&bytes)
                .bind(leaf_hash(&bytes).to_vec())
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
        Tamper::EditContent => {
            let rows =
                sqlx::query("SELECT seq, content FROM audit_records WHERE content IS NOT NULL")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let row = &rows[rng.random_range(0..rows.len())];
            let k: i64 = row.get(0);
            let mut ct: Vec<u8> = row.get(1);
            let i = rng.random_range(0..ct.len());
            ct[i] ^= 0x01;
            sqlx::query("UPDATE audit_records SET content = ? WHERE seq = ?")
                .bind(ct)
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
        Tamper::EditSearchColumn => {
            let k = rng.random_range(0..n);
            let column = ["model", "decision", "actor", "request_id"][rng.random_range(0..4)];
            sqlx::query(&format!(
                "UPDATE audit_records SET {column} = 'hidden' WHERE seq = ?"
            ))
            .bind(k)
            .execute(pool)
            .await
            .unwrap();
            k
        }
        Tamper::EditSearchIndex => {
            // Hides record k from searches by actor, user, request id or time.
            let k = rng.random_range(0..n);
            let column = ["actor", "user_id", "request_id"][rng.random_range(0..3)];
            sqlx::query(&format!(
                "UPDATE audit_search SET {column} = 'hidden' WHERE seq = ?"
            ))
            .bind(k)
            .execute(pool)
            .await
            .unwrap();
            k
        }
        Tamper::DeleteSearchIndexRow => {
            let k = rng.random_range(0..n - 1);
            sqlx::query("DELETE FROM audit_search WHERE seq = ?")
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
        Tamper::Delete => {
            let k = rng.random_range(0..n - 1);
            sqlx::query("DELETE FROM audit_records WHERE seq = ?")
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
        Tamper::DeleteAndRenumber => {
            let k = rng.random_range(0..n - 1);
            sqlx::query("DELETE FROM audit_records WHERE seq = ?")
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            shift(pool, k + 1, -1).await;
            k
        }
        Tamper::InsertForged => {
            // A well-formed record claiming position k, correctly linked to k-1.
            let k = rng.random_range(1..n);
            let prev = sqlx::query("SELECT leaf_hash FROM audit_records WHERE seq = ?")
                .bind(k - 1)
                .fetch_one(pool)
                .await
                .unwrap()
                .get::<Vec<u8>, _>(0);
            let mut h = header_of(pool, k).await;
            h.event.request_id = "forged".into();
            h.prev = hex(&prev);
            h.content = None;
            h.subject = None;
            shift(pool, k, 1).await;
            insert_row(pool, k, &h.to_bytes()).await;
            k
        }
        Tamper::InsertDuplicate => {
            // An exact copy of record k-1 (bytes, hashes, content) placed after it.
            let k = rng.random_range(1..n);
            shift(pool, k, 1).await;
            sqlx::query(
                "INSERT INTO audit_records (seq, time_us, plane, request_id, actor, user_id, model, decision, subject, header, content, leaf_hash) \
                 SELECT ?, time_us, plane, request_id, actor, user_id, model, decision, subject, header, content, leaf_hash \
                 FROM audit_records WHERE seq = ?",
            )
            .bind(k)
            .bind(k - 1)
            .execute(pool)
            .await
            .unwrap();
            k
        }
        Tamper::Swap => {
            let a = rng.random_range(0..n - 1);
            let b = rng.random_range(a + 1..n);
            for (from, to) in [(a, 99_999_999), (b, a), (99_999_999, b)] {
                sqlx::query("UPDATE audit_records SET seq = ? WHERE seq = ?")
                    .bind(to)
                    .bind(from)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            a
        }
        Tamper::Truncate => {
            // The attacker also removes the stored checkpoints that would betray it.
            let k = rng.random_range(1..n);
            sqlx::query("DELETE FROM audit_records WHERE seq >= ?")
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            sqlx::query("DELETE FROM audit_checkpoints WHERE size > ?")
                .bind(k)
                .execute(pool)
                .await
                .unwrap();
            k
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tampering_is_caught_and_located() {
    let pristine = write_log().await;
    let clean = verify_file(&pristine.db, &pristine).await;
    assert!(clean.ok, "{clean:?}");
    assert_eq!(clean.records, RECORDS);
    assert_eq!(clean.unsigned_tail, 0);
    assert!(clean.checkpoints_verified >= 5);
    assert_eq!(clean.with_content, RECORDS.div_ceil(3));

    let kinds = [
        Tamper::EditHeaderByte,
        Tamper::EditHeaderAndRehash,
        Tamper::EditContent,
        Tamper::EditSearchColumn,
        Tamper::EditSearchIndex,
        Tamper::DeleteSearchIndexRow,
        Tamper::Delete,
        Tamper::DeleteAndRenumber,
        Tamper::InsertForged,
        Tamper::InsertDuplicate,
        Tamper::Swap,
        Tamper::Truncate,
    ];
    let (seed, mut rng) = seeded();
    let work = tempfile::tempdir().unwrap();
    let mut trials = 0;
    for kind in kinds {
        for t in 0..TRIALS_PER_KIND {
            let trial = work.path().join(format!("{kind:?}-{t}.db"));
            let pool = attacker(&pristine, &trial).await;
            let position = apply(&pool, kind, &mut rng).await;
            pool.close().await;
            let report = verify_file(&trial, &pristine).await;
            assert!(
                !report.ok,
                "{kind:?} at {position} went unnoticed (seed {seed})"
            );
            let first = &report.problems[0];
            assert_eq!(
                first.position as i64, position,
                "{kind:?} at {position} was located at {first:?} (seed {seed})"
            );
            trials += 1;
            let _ = std::fs::remove_file(&trial);
        }
        // An untouched copy still verifies, whatever was done to the others.
        let trial = work.path().join("untouched.db");
        let pool = attacker(&pristine, &trial).await;
        pool.close().await;
        assert!(verify_file(&trial, &pristine).await.ok);
    }
    assert_eq!(trials, kinds.len() * TRIALS_PER_KIND);
}

/// The trials' random generator: seeded from `PALISADE_TAMPER_SEED` when set (to replay
/// a failure), else at random; the seed is in every failure message.
fn seeded() -> (u64, rand::rngs::StdRng) {
    use rand::SeedableRng;
    let seed = std::env::var("PALISADE_TAMPER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    (seed, rand::rngs::StdRng::seed_from_u64(seed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_whose_followers_were_re_chained_is_caught_within_its_interval() {
    // An attacker who knows the format edits record k, then re-hashes and re-links the
    // records after it up to some j. Hashes alone cannot tell which record of the run was
    // edited: verify must catch it and name an interval that holds k — the records since
    // the last checkpoint that verified.
    let pristine = write_log().await;
    let (seed, mut rng) = seeded();
    let work = tempfile::tempdir().unwrap();
    let n = RECORDS as i64;
    for t in 0..TRIALS_PER_KIND {
        let trial = work.path().join(format!("rechain-{t}.db"));
        let pool = attacker(&pristine, &trial).await;
        let k = rng.random_range(0..n - 2);
        let j = rng.random_range(k..n - 1);
        let mut prev: Option<Vec<u8>> = None;
        for seq in k..=j {
            let mut h = header_of(&pool, seq).await;
            if seq == k {
                h.event.reason = "ok-but-forged".into();
            }
            if let Some(p) = &prev {
                h.prev = hex(&leaf_hash(p));
            }
            let bytes = h.to_bytes();
            sqlx::query("UPDATE audit_records SET header = ?, leaf_hash = ? WHERE seq = ?")
                .bind(&bytes)
                .bind(leaf_hash(&bytes).to_vec())
                .bind(seq)
                .execute(&pool)
                .await
                .unwrap();
            prev = Some(bytes);
        }
        pool.close().await;
        let report = verify_file(&trial, &pristine).await;
        assert!(
            !report.ok,
            "edit at {k} re-chained to {j} went unnoticed (seed {seed})"
        );
        let first = &report.problems[0];
        let ctx = format!("edit at {k} re-chained to {j}: {first:?} (seed {seed})");
        // Either the checkpoint after the edit does not match (the interval starts at the
        // last one that did), or the link after the run is broken and the message names
        // the interval since the last checkpoint that verified.
        assert!(first.position as i64 <= j, "{ctx}");
        if first.position as i64 > k {
            let from: i64 = first
                .detail
                .split("one of records ")
                .nth(1)
                .and_then(|r| r.split(" to ").next())
                .and_then(|f| f.parse().ok())
                .unwrap_or_else(|| panic!("no interval named: {ctx}"));
            assert!(from <= k, "{ctx}");
        }
        let _ = std::fs::remove_file(&trial);
    }
}

#[tokio::test]
async fn a_checkpoint_signed_by_another_key_is_rejected() {
    let pristine = write_log().await;
    let other = NoteSigner::generate("tamper.test/audit")
        .unwrap()
        .verifier();
    let store = palisade_store::connect(&format!("sqlite://{}", pristine.db.display()), 2)
        .await
        .unwrap();
    assert!(
        verify(Arc::clone(&store.audit), &other, Some(&pristine.held))
            .await
            .is_err()
    );
    let report = verify(Arc::clone(&store.audit), &other, None)
        .await
        .unwrap();
    assert!(
        !report.ok,
        "stored checkpoints signed by another key must not pass"
    );
}

#[tokio::test]
async fn a_checkpoint_of_another_log_is_rejected_even_with_the_right_key() {
    let pristine = write_log().await;
    let store = palisade_store::connect(&format!("sqlite://{}", pristine.db.display()), 2)
        .await
        .unwrap();
    // Same key, same size and root, but the note names another log: re-signed by hand
    // as a second log sharing the key would sign it.
    let body = pristine.held.split("\n\n").next().unwrap();
    let mut lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "tamper.test/audit");
    lines[0] = "other.test/audit";
    let forged = pristine.signer.sign(&format!("{}\n", lines.join("\n")));
    let err = verify(Arc::clone(&store.audit), &pristine.verifier, Some(&forged))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("other.test/audit"), "{err}");
    assert!(
        verify(
            Arc::clone(&store.audit),
            &pristine.verifier,
            Some(&pristine.held)
        )
        .await
        .unwrap()
        .ok
    );
}

/// Far enough ahead that every record of the log is older.
fn after_every_record() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(now.as_micros()).unwrap() + 60_000_000
}

#[tokio::test]
async fn content_purged_by_retention_verifies() {
    let purged = write_log_purging(Some(after_every_record())).await;
    let report = verify_file(&purged.db, &purged).await;
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.content_purged, purged.purged);
}

#[tokio::test]
async fn a_purge_record_appended_by_the_attacker_does_not_excuse_missing_content() {
    // An attacker with write access deletes the captured prompts and appends a well-linked
    // `audit.purge` record covering them: its statement is not signed with the log's key,
    // so the content counts as removed (a ledger adopting the record and signing a
    // checkpoint over it later would not change that).
    let pristine = write_log().await;
    let work = tempfile::tempdir().unwrap();
    let trial = work.path().join("forged-purge.db");
    let pool = attacker(&pristine, &trial).await;
    let last = RECORDS as i64 - 1;
    let last_bytes = header_of(&pool, last).await.to_bytes();
    let mut forged = header_of(&pool, last).await;
    forged.seq = RECORDS;
    forged.prev = hex(&leaf_hash(&last_bytes));
    forged.event.plane = Plane::Admin;
    forged.event.action = PURGE_ACTION.into();
    // Its statement signed with a key of the attacker's (the log's is not theirs).
    let theirs = NoteSigner::generate("tamper.test/audit").unwrap();
    let statement = Purge {
        through: RECORDS + 1,
        cutoff_us: after_every_record(),
    }
    .sign(&theirs, "tamper.test/audit");
    forged.event.change = Some(Change {
        target: "audit:content".into(),
        before: None,
        after: Some(serde_json::json!({
            "purged_before_us": after_every_record(),
            "through_seq": RECORDS + 1,
            "statement": statement,
        })),
    });
    forged.subject = None;
    forged.content = None;
    insert_row(&pool, RECORDS as i64, &forged.to_bytes()).await;
    let emptied = sqlx::query("UPDATE audit_records SET content = NULL WHERE content IS NOT NULL")
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert!(emptied > 0);
    pool.close().await;
    let report = verify_file(&trial, &pristine).await;
    assert!(!report.ok);
    let missing = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::ContentMissing)
        .count();
    assert_eq!(missing as u64, emptied, "{:?}", report.problems);
    assert_eq!(report.content_purged, 0);
}

#[tokio::test]
async fn a_pinned_origin_rejects_a_log_signed_under_another_name() {
    // The same key signs two logs (say staging and production): one log's records and
    // checkpoints copied over the other's are consistent in themselves, and only the
    // name in the checkpoints tells them apart.
    let pristine = write_log().await;
    let store = palisade_store::connect(&format!("sqlite://{}", pristine.db.display()), 2)
        .await
        .unwrap();
    let own = verify_origin(
        Arc::clone(&store.audit),
        &pristine.verifier,
        None,
        "tamper.test/audit",
    )
    .await
    .unwrap();
    assert!(own.ok, "{:?}", own.problems);
    let other = verify_origin(
        Arc::clone(&store.audit),
        &pristine.verifier,
        None,
        "production.example/audit",
    )
    .await
    .unwrap();
    assert!(!other.ok);
    assert!(
        other
            .problems
            .iter()
            .all(|p| p.kind == ProblemKind::BadCheckpoint && p.detail.contains("tamper.test/audit")),
        "{:?}",
        other.problems
    );
    // A held checkpoint of the other name is refused outright.
    assert!(
        verify_origin(
            Arc::clone(&store.audit),
            &pristine.verifier,
            Some(&pristine.held),
            "production.example/audit",
        )
        .await
        .is_err()
    );
    store.close().await;
}
