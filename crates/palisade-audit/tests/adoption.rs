//! A writer takes in the records it finds in the store after the last signed checkpoint
//! (its own commits before a crash, other instances' records) and signs checkpoints over
//! them. Records an attacker with write access to the database appends there, however
//! well linked, must not get in: the ledger refuses to open over them, and a running one
//! refuses to commit or checkpoint after them. Records real writers made do get in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use palisade_audit::authenticator::Authenticator;
use palisade_audit::checkpoint::{Checkpoint, NoteSigner};
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::merkle::{CompactTree, leaf_hash};
use palisade_audit::record::{Header, hex};
use palisade_audit::verify::verify;
use palisade_audit::{AuditError, Entry, Event, Ledger, LedgerConfig, Plane};
use sqlx::SqlitePool;

mod common;
use common::{
    delete_records_from, execute, header_bytes, insert_junk_checkpoint, insert_row, roll_back_to,
};

const ORIGIN: &str = "adoption.test/audit";

struct Log {
    _dir: tempfile::TempDir,
    url: String,
    signer: String,
    master: String,
    /// How often writers sign a checkpoint of new records (besides when asked or closed).
    interval: Duration,
    /// The writers' witness file, if any.
    witness: Option<std::path::PathBuf>,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        Log {
            _dir: dir,
            url,
            signer: NoteSigner::generate(ORIGIN).unwrap().to_text().to_string(),
            master: MasterKey::generate().1.to_string(),
            interval: Duration::from_secs(3600),
            witness: None,
        }
    }

    /// A writer over this log; `Err` when it refuses to open.
    async fn open(&self) -> Result<(Ledger, palisade_store::Store), AuditError> {
        self.open_with(Keyring::new(
            MasterKey::from_text(&self.master).unwrap(),
            vec![],
        ))
        .await
    }

    /// A writer over this log with these master keys.
    async fn open_with(
        &self,
        keyring: Keyring,
    ) -> Result<(Ledger, palisade_store::Store), AuditError> {
        let store = palisade_store::connect(&self.url, 2).await.unwrap();
        let keys = AuditKeys::load(store.audit.as_ref(), keyring)
            .await
            .unwrap();
        let config = LedgerConfig {
            origin: ORIGIN.into(),
            // No checkpoint unless asked or closed: records stay after the last one.
            checkpoint_every: 1_000_000,
            checkpoint_interval: self.interval,
            witness: self.witness.clone(),
            ..LedgerConfig::default()
        };
        let signer = NoteSigner::parse(&self.signer).unwrap();
        let ledger = Ledger::open(Arc::clone(&store.audit), keys, signer, config).await?;
        Ok((ledger, store))
    }

    /// The attacker's own connection to the database.
    async fn raw(&self) -> SqlitePool {
        SqlitePool::connect(&self.url).await.unwrap()
    }
}

/// Records `{prefix}{n}` for each `n`, one after the other.
async fn write(ledger: &Ledger, prefix: &str, range: std::ops::Range<u64>) {
    for n in range {
        ledger.record(entry(&format!("{prefix}{n}"))).await.unwrap();
    }
}

fn entry(name: &str) -> Entry {
    Entry {
        event: Event::new(Plane::Data, name, "chat.completions"),
        capture: None,
    }
}

#[derive(Debug, Clone, Copy)]
enum Forgery {
    /// A new record, well linked, without a tag.
    Untagged,
    /// A record edited from the last one: new fields, the last one's tag kept.
    TagOfAnother,
    /// The last record's header again, tag and all, at the next position.
    Replayed,
}

/// Appends a forged record after record `last`, linked to it: a fake approval of a
/// request that never happened.
async fn forge(pool: &SqlitePool, last: u64, how: Forgery) {
    let last_bytes = header_bytes(pool, last as i64).await;
    let forged = match how {
        Forgery::Replayed => last_bytes.clone(),
        Forgery::Untagged | Forgery::TagOfAnother => {
            let mut h = Header::from_bytes(&last_bytes).unwrap();
            h.seq = last + 1;
            h.prev = hex(&leaf_hash(&last_bytes));
            h.event.request_id = "never-happened".into();
            if let Forgery::Untagged = how {
                h.mac = None;
            }
            h.to_bytes()
        }
    };
    insert_row(pool, last as i64 + 1, &forged).await;
}

fn refused_at(result: Result<impl std::fmt::Debug, AuditError>, position: u64) {
    match result {
        Err(AuditError::Unauthenticated { position: p, .. }) => assert_eq!(p, position),
        other => panic!("expected a refusal at record {position}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_writer_takes_in_the_unsigned_records_of_another_writer() {
    // Another writer's commits after the last checkpoint (a crashed instance's, or one
    // sharing the store) are authenticated and built on.
    let log = Log::new();
    let (first, _store) = log.open().await.unwrap();
    write(&first, "a", 0..5).await;
    let (second, store) = log.open().await.unwrap();
    assert_eq!(second.record(entry("b0")).await.unwrap(), Some(5));
    // The first one catches up with it and goes on.
    assert_eq!(first.record(entry("a5")).await.unwrap(), Some(6));
    second.close().await;
    first.close().await;
    let verifier = NoteSigner::parse(&log.signer).unwrap().verifier();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.records, report.unsigned_tail), (7, 0));
}

#[tokio::test]
async fn a_forged_record_after_the_last_checkpoint_keeps_the_ledger_from_opening() {
    for how in [Forgery::Untagged, Forgery::TagOfAnother, Forgery::Replayed] {
        let log = Log::new();
        let (ledger, store) = log.open().await.unwrap();
        write(&ledger, "r", 0..4).await;
        ledger.checkpoint().await.unwrap();
        ledger.record(entry("r4")).await.unwrap();
        ledger.close().await;
        store.close().await;
        // The close signed a checkpoint of 5 records; the forgery comes after it.
        let pool = log.raw().await;
        forge(&pool, 4, how).await;
        pool.close().await;
        refused_at(log.open().await.map(|_| ()), 5);
    }
}

#[tokio::test]
async fn a_forged_record_before_any_checkpoint_is_refused_too() {
    // A log with no checkpoint yet (a crash before the first): everything is
    // authenticated, from record 0.
    let log = Log::new();
    let (ledger, _store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    let pool = log.raw().await;
    forge(&pool, 2, Forgery::Untagged).await;
    refused_at(log.open().await.map(|_| ()), 3);
}

#[tokio::test]
async fn a_running_writer_does_not_commit_or_sign_after_a_forged_record() {
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    let pool = log.raw().await;
    forge(&pool, 2, Forgery::Untagged).await;
    // Its next commit finds position 3 taken, reads what is there and refuses it.
    assert!(ledger.record(entry("r3")).await.is_err());
    refused_at(ledger.checkpoint().await, 3);
    ledger.close().await;
    let signed = store.audit.latest_checkpoint().await.unwrap();
    assert!(
        signed.is_none_or(|cp| cp.size <= 3),
        "no checkpoint covers the forged record"
    );
}

#[tokio::test]
async fn a_checkpoint_not_signed_by_the_log_does_not_vouch_for_records() {
    // The attacker also stores a checkpoint over the forged record (they can compute
    // the root, not sign it): it is ignored, and the record still refused.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    ledger.close().await;
    let pool = log.raw().await;
    forge(&pool, 2, Forgery::Untagged).await;
    let leaves = store.audit.leaf_hashes(0, 4).await.unwrap();
    let tree = CompactTree::from_leaves(&leaves);
    let theirs = NoteSigner::generate(ORIGIN).unwrap();
    let note = Checkpoint {
        origin: ORIGIN.into(),
        size: 4,
        root: tree.root(),
    }
    .sign(&theirs);
    sqlx::query("INSERT INTO audit_checkpoints (size, root, note, created_us) VALUES (4, ?, ?, 0)")
        .bind(tree.root().to_vec())
        .bind(note)
        .execute(&pool)
        .await
        .unwrap();
    store.close().await;
    refused_at(log.open().await.map(|_| ()), 3);
}

#[tokio::test]
async fn records_that_do_not_have_a_signed_checkpoints_root_are_refused() {
    // Records the log's own checkpoint covers, rewritten (tag and all from elsewhere):
    // their leaf hashes no longer give its root.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    ledger.close().await;
    store.close().await;
    let pool = log.raw().await;
    execute(
        &pool,
        "UPDATE audit_records SET leaf_hash = zeroblob(32) WHERE seq = 1",
    )
    .await;
    refused_at(log.open().await.map(|_| ()), 3);
}

#[tokio::test]
async fn a_failed_catch_up_leaves_the_writers_tail_as_it_was() {
    // Writer A is behind writer B's signed checkpoint; the attacker alters a record it
    // covers, so A's catching up fails on the root. A must not keep the leaves it read:
    // with B's checkpoint then deleted, neither its close nor its next commit may sign
    // or build on the altered record.
    let log = Log::new();
    let (a, store) = log.open().await.unwrap();
    write(&a, "a", 0..3).await;
    let (b, b_store) = log.open().await.unwrap();
    for n in 3..6 {
        assert_eq!(b.record(entry(&format!("b{n}"))).await.unwrap(), Some(n));
    }
    assert_eq!(b.checkpoint().await.unwrap().unwrap().size, 6);
    b.close().await;
    b_store.close().await;
    let pool = log.raw().await;
    execute(
        &pool,
        "UPDATE audit_records SET leaf_hash = zeroblob(32) WHERE seq = 4",
    )
    .await;
    refused_at(a.checkpoint().await, 6);
    execute(&pool, "DELETE FROM audit_checkpoints").await;
    // Now the altered record is after every checkpoint: authenticated, and refused.
    assert!(a.record(entry("a3")).await.is_err());
    refused_at(a.checkpoint().await, 4);
    a.close().await;
    let leaves = store.audit.leaf_hashes(0, 6).await.unwrap();
    for cp in store.audit.checkpoints().await.unwrap() {
        assert!(cp.size <= 3, "A signed {} records", cp.size);
        let signed = CompactTree::from_leaves(&leaves[..cp.size as usize]).root();
        assert_eq!(cp.root, signed);
    }
}

#[tokio::test]
async fn a_purge_statement_covers_what_the_writer_checkpointed_not_a_stored_row() {
    // A checkpoint row of any size is one INSERT away: the statement's bound must come
    // from what the writer signed or verified.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    ledger.checkpoint().await.unwrap();
    let pool = log.raw().await;
    insert_junk_checkpoint(&pool, 1_000_000_000).await;
    ledger.purge_before(1).await.unwrap();
    ledger.close().await;
    let last = store.audit.size().await.unwrap() - 1;
    let purge = Header::from_bytes(&header_bytes(&pool, last as i64).await).unwrap();
    let after = purge.event.change.unwrap().after.unwrap();
    assert_eq!(after["through_seq"], 3, "{after}");
}

#[tokio::test]
async fn junk_checkpoint_rows_neither_take_the_writers_place_nor_hide_its_checkpoints() {
    // Rows anyone with write access could add, at sizes the log has not reached: the one
    // at the size the writer checkpoints next is replaced by the writer's own, and the
    // one far beyond stays the latest row without hiding the real checkpoints below it.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..2).await;
    ledger.checkpoint().await.unwrap();
    let pool = log.raw().await;
    for size in [5, 1_000_000_000] {
        insert_junk_checkpoint(&pool, size).await;
    }
    write(&ledger, "r", 2..5).await;
    let signed = ledger
        .checkpoint()
        .await
        .unwrap()
        .expect("a checkpoint of 5");
    assert_eq!(signed.size, 5);
    let stored = store.audit.checkpoints().await.unwrap();
    let at_five = stored.iter().find(|c| c.size == 5).unwrap();
    assert_eq!(
        at_five.note, signed.note,
        "the writer's checkpoint is stored"
    );
    ledger.close().await;
    store.close().await;
    // A row that cannot be a checkpoint at all (a root of 5 bytes), above and below the
    // log's checkpoints, is passed over too, not a failed read; `audit verify`, which
    // reads every row, reports it.
    for size in [2_000_000_000i64, 3] {
        sqlx::query(
            "INSERT INTO audit_checkpoints (size, root, note, created_us) \
             VALUES ($1, zeroblob(5), 'junk', 0)",
        )
        .bind(size)
        .execute(&pool)
        .await
        .unwrap();
    }
    // A new writer anchors on it (records before it by hash, the rest authenticated)
    // and goes on from there.
    let (ledger, store) = log.open().await.unwrap();
    assert_eq!(ledger.record(entry("r5")).await.unwrap(), Some(5));
    ledger.close().await;
    assert!(store.audit.checkpoints().await.is_err());
    sqlx::query("DELETE FROM audit_checkpoints WHERE length(root) != 32")
        .execute(&pool)
        .await
        .unwrap();
    let leaves = store.audit.leaf_hashes(0, 6).await.unwrap();
    for cp in store.audit.checkpoints().await.unwrap() {
        if cp.note != "junk" {
            let root = CompactTree::from_leaves(&leaves[..cp.size as usize]).root();
            assert_eq!(cp.root, root, "checkpoint {}", cp.size);
        }
    }
}

#[tokio::test]
async fn a_signed_checkpoint_that_disagrees_at_the_writers_size_is_kept_as_evidence() {
    // A fork: a checkpoint of this log (its key, its name) at the size the writer reaches
    // next, over other records (a failover that lost commits, which another writer then
    // filled). The writer's own checkpoint does not take its place.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..2).await;
    ledger.checkpoint().await.unwrap();
    let other = Checkpoint {
        origin: ORIGIN.into(),
        size: 4,
        root: [7; 32],
    };
    let note = other.sign(&NoteSigner::parse(&log.signer).unwrap());
    let pool = log.raw().await;
    sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, created_us) VALUES (4, $1, $2, 0)",
    )
    .bind(other.root.as_slice())
    .bind(&note)
    .execute(&pool)
    .await
    .unwrap();
    write(&ledger, "r", 2..4).await;
    let signed = ledger
        .checkpoint()
        .await
        .unwrap()
        .expect("a checkpoint of 4");
    assert_ne!(signed.note, note);
    let stored = store.audit.checkpoints().await.unwrap();
    let at_four = stored.iter().find(|c| c.size == 4).unwrap();
    assert_eq!(at_four.note, note, "the disagreeing signed row stays");
    ledger.close().await;
}

#[tokio::test]
async fn after_a_master_key_rotation_the_old_keys_tags_are_refused() {
    // The writers' key is derived from the current master key: one that leaked (the
    // reason to rotate) tags nothing a writer with the new key accepts, even while it is
    // still listed to unwrap old data keys.
    let log = Log::new();
    let old = || MasterKey::from_text(&log.master).unwrap();
    let new_text = MasterKey::generate().1.to_string();
    let rotated = || Keyring::new(MasterKey::from_text(&new_text).unwrap(), vec![old()]);
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    // Records no checkpoint covers, tagged under the old key (a crash before rotating).
    refused_at(log.open_with(rotated()).await.map(|_| ()), 0);
    // Closed cleanly, the final checkpoint covers them: the rotated writer goes on.
    ledger.close().await;
    store.close().await;
    let (rotated_ledger, _store) = log.open_with(rotated()).await.unwrap();
    assert_eq!(rotated_ledger.record(entry("r3")).await.unwrap(), Some(3));
    rotated_ledger.close().await;
    // The leaked old key tags a forgery after the last checkpoint: refused.
    let pool = log.raw().await;
    let last = header_bytes(&pool, 3).await;
    let mut forged = Header::from_bytes(&last).unwrap();
    forged.seq = 4;
    forged.prev = hex(&leaf_hash(&last));
    forged.mac = None;
    let keyring = Keyring::new(old(), vec![]);
    let tagged = Authenticator::for_log(&keyring, ORIGIN).attach(forged.to_bytes());
    insert_row(&pool, 4, &tagged).await;
    refused_at(log.open_with(rotated()).await.map(|_| ()), 4);
}

#[tokio::test]
async fn a_store_missing_records_a_signed_checkpoint_covers_is_refused() {
    // Deleting signed records and letting a writer refill their positions would give
    // the log a second, signed history.
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..5).await;
    ledger.close().await;
    store.close().await;
    let pool = log.raw().await;
    delete_records_from(&pool, 3).await;
    refused_at(log.open().await.map(|_| ()), 3);
}

#[tokio::test]
async fn a_checkpoint_row_whose_note_says_otherwise_is_no_anchor() {
    // A row claiming a huge size but carrying a genuine older note must not stand in for
    // the log's latest checkpoint (which would hide that signed records were deleted).
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    let old = ledger.checkpoint().await.unwrap().unwrap();
    write(&ledger, "r", 3..5).await;
    ledger.close().await;
    store.close().await;
    let pool = log.raw().await;
    sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, created_us) VALUES (1000, ?, ?, 0)",
    )
    .bind(old.root.to_vec())
    .bind(&old.note)
    .execute(&pool)
    .await
    .unwrap();
    delete_records_from(&pool, 3).await;
    refused_at(log.open().await.map(|_| ()), 3);
}

#[tokio::test]
async fn no_timed_checkpoint_is_signed_over_records_the_store_lost() {
    // A failover to a replica behind: the last commits are gone. The checkpoint timer
    // must not sign the writer's tail onto that store; the next commits reload and go on.
    let mut log = Log::new();
    log.interval = Duration::from_millis(100);
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..5).await;
    // Let a timer checkpoint cover the first five (waited for, bounded), then lose two
    // more.
    for _ in 0..200 {
        let latest = store.audit.latest_checkpoint().await.unwrap();
        if latest.is_some_and(|cp| cp.size == 5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    write(&ledger, "r", 5..7).await;
    let pool = log.raw().await;
    delete_records_from(&pool, 5).await;
    // Ten timer ticks: the writer tries to sign, finds the store short and does not.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let latest = store.audit.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 5, "nothing signed over the lost records");
    // The failed checkpoint made the writer check the store before appending again: it
    // reloads and appends where the store ends, leaving no gap.
    assert_eq!(ledger.record(entry("r7")).await.unwrap(), Some(5));
    ledger.close().await;
    let verifier = NoteSigner::parse(&log.signer).unwrap().verifier();
    let report = verify(Arc::clone(&store.audit), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
}

#[tokio::test]
async fn the_final_checkpoint_covers_what_other_writers_committed() {
    // A writer shutting down signs everything the store holds, not only its own tail:
    // what another instance committed since (or a commit of its own that timed out but
    // landed) is not left unsigned.
    let log = Log::new();
    let (a, store) = log.open().await.unwrap();
    write(&a, "a", 0..2).await;
    let (b, _b_store) = log.open().await.unwrap();
    write(&b, "b", 2..4).await;
    a.close().await;
    let latest = store.audit.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 4);
    b.close().await;
}

#[tokio::test]
async fn a_running_writer_does_not_build_on_a_rolled_back_log() {
    // The attacker deletes the last records together with the checkpoints covering them:
    // the store then holds a shorter log that verifies on its own. The writer signed the
    // longer one; reading its tail again, it must refuse the shorter one, not continue
    // from it (which would sign a second history).
    let log = Log::new();
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    ledger.checkpoint().await.unwrap();
    write(&ledger, "r", 3..5).await;
    assert_eq!(ledger.checkpoint().await.unwrap().unwrap().size, 5);
    let pool = log.raw().await;
    roll_back_to(&pool, 3).await;
    // The writer notices the store changed, reads its tail again, and refuses.
    assert!(ledger.checkpoint().await.is_err());
    for n in 5..8 {
        assert!(ledger.record(entry(&format!("r{n}"))).await.is_err());
    }
    assert_eq!(
        store.audit.size().await.unwrap(),
        3,
        "nothing built on the rolled-back log"
    );
    ledger.close().await;
    let latest = store.audit.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 3);
}

#[tokio::test]
async fn a_running_writer_refuses_a_rolled_back_log_another_writer_rewrote() {
    // The same rollback, then another writer (started on the shorter log) fills the
    // positions again with records of its own: the store is as long as before, but not
    // the log the first writer signed.
    let log = Log::new();
    let (a, store) = log.open().await.unwrap();
    write(&a, "a", 0..3).await;
    a.checkpoint().await.unwrap();
    write(&a, "a", 3..5).await;
    assert_eq!(a.checkpoint().await.unwrap().unwrap().size, 5);
    let pool = log.raw().await;
    roll_back_to(&pool, 3).await;
    let (b, _b_store) = log.open().await.unwrap();
    write(&b, "b", 3..6).await;
    // A's tail no longer matches the store: it reads it again, and refuses it.
    assert!(a.record(entry("a5")).await.is_err());
    let refused = a.checkpoint().await.unwrap_err().to_string();
    assert!(
        refused.contains("not the ones this writer vouched for"),
        "{refused}"
    );
    assert_eq!(store.audit.size().await.unwrap(), 6);
    b.close().await;
    a.close().await;
}

#[tokio::test]
async fn the_witness_file_catches_a_rollback_made_while_the_gateway_was_down() {
    // Records deleted with the checkpoints covering them, while no writer ran: the store
    // holds a shorter log that verifies on its own. The witness file (the last checkpoint
    // signed, kept outside the database) makes the next start refuse it.
    let witness_dir = tempfile::tempdir().unwrap();
    let mut log = Log::new();
    log.witness = Some(witness_dir.path().join("audit.witness"));
    let (ledger, store) = log.open().await.unwrap();
    write(&ledger, "r", 0..3).await;
    ledger.checkpoint().await.unwrap();
    write(&ledger, "r", 3..5).await;
    ledger.close().await;
    store.close().await;
    let pool = log.raw().await;
    roll_back_to(&pool, 3).await;
    refused_at(log.open().await.map(|_| ()), 3);
    // Without the witness nothing tells: the shorter log is consistent in itself.
    let witness = log.witness.take().unwrap();
    log.open().await.unwrap().0.close().await;
    // A witness that is not a checkpoint of this log is refused, not ignored.
    std::fs::write(&witness, "not a checkpoint\n").unwrap();
    log.witness = Some(witness);
    assert!(log.open().await.is_err());
}

#[tokio::test]
async fn a_writer_witnesses_the_checkpoint_it_opened_on_before_signing_one() {
    // Another instance signed the checkpoint; this one starts on it, writes nothing and
    // stops. Its witness must still hold that checkpoint, or the records it covers could
    // be rolled back unnoticed before this instance signs anything itself.
    let witness_dir = tempfile::tempdir().unwrap();
    let mut log = Log::new();
    let (other, store) = log.open().await.unwrap();
    write(&other, "r", 0..5).await;
    other.checkpoint().await.unwrap();
    other.close().await;
    store.close().await;
    let witness = witness_dir.path().join("audit.witness");
    log.witness = Some(witness.clone());
    let (ledger, store) = log.open().await.unwrap();
    assert!(
        witness.exists(),
        "the checkpoint taken in at start is witnessed"
    );
    ledger.close().await;
    store.close().await;
    let pool = log.raw().await;
    roll_back_to(&pool, 3).await;
    refused_at(log.open().await.map(|_| ()), 3);
}
