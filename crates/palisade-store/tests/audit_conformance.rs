//! One conformance suite for [`AuditStore`](palisade_audit::store::AuditStore), run
//! against SQLite (a temp-dir file) and PostgreSQL (a real server from [`PgHarness`]):
//! every `sqlite_*` test has a `postgres_*` twin running the same function of
//! [`audit_suite`]. SQLite-only tests cover the files on disk (a destroyed key leaves no
//! trace in them), the durability settings, in-memory databases and reopening.

// The suite functions are shared helpers, not `#[test]` fns, so clippy's
// allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit_suite;

use std::future::Future;
use std::path::Path;

use audit_suite::{
    Audit, append_and_read, checkpoints, conflicts_roll_back, key, meta, purge_content, records,
    search, search_index_divergence, search_split, subject_keys,
};
use palisade_store::{AuditSync, Backend, StoreOptions, connect, connect_with};
use palisade_testkit::postgres::PgHarness;

async fn with_sqlite<F, Fut>(suite: F)
where
    F: FnOnce(Audit) -> Fut,
    Fut: Future<Output = ()>,
{
    with_sqlite_sync(AuditSync::Full, suite).await;
}

/// Like [`with_sqlite`], once for each `sync` setting: for a database file the store
/// offers the ledger writer its own connection (`AuditStore::direct_appender`) with both.
async fn with_sqlite_direct<F, Fut>(suite: F)
where
    F: Fn(Audit) -> Fut,
    Fut: Future<Output = ()>,
{
    for sync in [AuditSync::Full, AuditSync::Normal] {
        with_sqlite_sync(sync, &suite).await;
    }
}

async fn with_sqlite_sync<F, Fut>(audit_sync: AuditSync, suite: F)
where
    F: FnOnce(Audit) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let options = StoreOptions {
        max_connections: 4,
        audit_sync,
    };
    let store = connect_with(&url, options).await.unwrap();
    assert_eq!(store.backend, Backend::Sqlite);
    suite(store.audit.clone()).await;
    store.close().await;
}

async fn with_postgres<F, Fut>(suite: F)
where
    F: FnOnce(Audit) -> Fut,
    Fut: Future<Output = ()>,
{
    let pg = PgHarness::start().await.unwrap();
    let store = connect(&pg.url(), 4).await.unwrap();
    assert_eq!(store.backend, Backend::Postgres);
    suite(store.audit.clone()).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_append_and_read() {
    with_sqlite(append_and_read).await;
}

#[tokio::test]
async fn postgres_append_and_read() {
    with_postgres(append_and_read).await;
}

#[tokio::test]
async fn sqlite_conflicts_roll_back() {
    with_sqlite(conflicts_roll_back).await;
}

#[tokio::test]
async fn postgres_conflicts_roll_back() {
    with_postgres(conflicts_roll_back).await;
}

#[tokio::test]
async fn sqlite_search() {
    with_sqlite(search).await;
}

#[tokio::test]
async fn postgres_search() {
    with_postgres(search).await;
}

#[tokio::test]
async fn sqlite_search_covers_records_not_indexed_yet() {
    with_sqlite_direct(|store| async move {
        let direct = store
            .direct_appender()
            .unwrap()
            .expect("a file database offers one");
        search_split(store, Some(direct)).await;
    })
    .await;
}

/// The ledger writer's direct connection leaves the search index to idle moments: a step
/// of 256 records once that many wait, everything when asked; searches find every record
/// before, during and after.
#[tokio::test]
async fn sqlite_direct_writer_defers_the_search_index() {
    with_sqlite_direct(|store| async move {
        let mut direct = store.direct_appender().unwrap().unwrap();
        let rows: Vec<_> = (0..300)
            .map(|seq| {
                audit_suite::record(seq, seq as i64, |i| i.request_id = format!("req-{seq}"))
            })
            .collect();
        direct.append(&rows[..200], None).unwrap();
        assert!(
            !direct.idle(false).unwrap(),
            "under a step: nothing to do yet"
        );
        direct.append(&rows[200..], None).unwrap();
        let by_request = |seq: u64| {
            let store = store.clone();
            async move {
                let query = palisade_audit::store::Query {
                    request_id: Some(format!("req-{seq}")),
                    limit: 10,
                    ..Default::default()
                };
                let found = store.search(&query).await.unwrap();
                found.iter().map(|r| r.seq).collect::<Vec<_>>()
            }
        };
        for seq in [0, 255, 256, 299] {
            assert_eq!(by_request(seq).await, [seq]);
        }
        assert!(direct.idle(false).unwrap(), "one step taken, 44 left");
        for seq in [0, 255, 256, 299] {
            assert_eq!(by_request(seq).await, [seq]);
        }
        assert!(
            !direct.idle(false).unwrap(),
            "44 wait for a full step or a timer"
        );
        assert!(!direct.idle(true).unwrap(), "asked: all indexed");
        for seq in [0, 255, 256, 299] {
            assert_eq!(by_request(seq).await, [seq]);
        }
        // Taken sequence numbers conflict through this connection too, and roll back.
        let err = direct.append(&rows[299..], None).unwrap_err();
        assert!(
            matches!(err, palisade_audit::store::AuditStoreError::Conflict(_)),
            "{err:?}"
        );
        assert_eq!(store.size().await.unwrap(), 300);
        // A checkpoint goes in through it too, once.
        let cp = audit_suite::checkpoint(300, "three hundred");
        direct.append(&[], Some(&cp)).unwrap();
        direct.append(&[], Some(&cp)).unwrap();
        assert_eq!(store.latest_checkpoint().await.unwrap(), Some(cp));
    })
    .await;
}

#[tokio::test]
async fn sqlite_search_index_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    search_index_divergence_on::<sqlx::Sqlite>(&url).await;
}

#[tokio::test]
async fn postgres_search_index_divergence() {
    let pg = PgHarness::start().await.unwrap();
    search_index_divergence_on::<sqlx::Postgres>(&pg.url()).await;
}

/// The search-index suite on the store at `url`, tampering through a raw pool of `DB`.
async fn search_index_divergence_on<DB>(url: &str)
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let store = connect(url, 2).await.unwrap();
    let raw = sqlx::Pool::<DB>::connect(url).await.unwrap();
    search_index_divergence(store.audit.clone(), |sql| {
        let raw = raw.clone();
        async move {
            sqlx::query(sql).execute(&raw).await.unwrap();
        }
    })
    .await;
    raw.close().await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_checkpoints() {
    with_sqlite(checkpoints).await;
}

#[tokio::test]
async fn postgres_checkpoints() {
    with_postgres(checkpoints).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_subject_keys() {
    with_sqlite(subject_keys).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_subject_keys() {
    with_postgres(subject_keys).await;
}

#[tokio::test]
async fn sqlite_purge_content() {
    with_sqlite(purge_content).await;
}

#[tokio::test]
async fn postgres_purge_content() {
    with_postgres(purge_content).await;
}

#[tokio::test]
async fn sqlite_meta() {
    with_sqlite(meta).await;
}

#[tokio::test]
async fn postgres_meta() {
    with_postgres(meta).await;
}

#[tokio::test]
async fn sqlite_in_memory_runs_the_suite() {
    let store = connect("sqlite::memory:", 8).await.unwrap();
    append_and_read(store.audit.clone()).await;
    subject_keys(connect("sqlite::memory:", 8).await.unwrap().audit).await;
}

#[tokio::test]
async fn sqlite_normal_sync_runs_the_suite_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let options = StoreOptions {
        max_connections: 2,
        audit_sync: AuditSync::Normal,
    };
    let store = connect_with(&url, options).await.unwrap();
    append_and_read(store.audit.clone()).await;
    store.close().await;

    let reopened = connect(&url, 2).await.unwrap();
    assert_eq!(reopened.audit.size().await.unwrap(), 608);
    reopened
        .audit
        .append(&records(608, 610), None)
        .await
        .unwrap();
    assert_eq!(reopened.audit.size().await.unwrap(), 610);
    reopened.close().await;
}

/// Where `needle` occurs in the database, its write-ahead log and shared-memory index.
fn files_holding(db: &Path, needle: &[u8]) -> Vec<String> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", db.display()))
        .filter(|path| {
            std::fs::read(path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// After destruction, a subject's wrapped key is in none of the SQLite files, neither
/// while the store is open nor after it is closed; other keys are untouched.
#[tokio::test]
async fn sqlite_destroyed_key_leaves_no_trace_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palisade.db");
    let url = format!("sqlite://{}", db.display());
    let store = connect(&url, 4).await.unwrap();

    let secret: Vec<u8> = (0..40u8).map(|i| 0xA5 ^ i.wrapping_mul(37)).collect();
    let kept: Vec<u8> = (0..40u8).map(|i| 0x3C ^ i.wrapping_mul(11)).collect();
    store
        .audit
        .create_subject_key(&key("kept", "dk-kept", &kept))
        .await
        .unwrap();
    store
        .audit
        .create_subject_key(&key("doomed", "dk-doomed", &secret))
        .await
        .unwrap();
    // Some traffic around it, and a rewrap (the key's bytes in two versions).
    store.audit.append(&records(0, 300), None).await.unwrap();
    let mut rewrapped = key("doomed", "dk-doomed", &secret);
    rewrapped.wrapped.reverse();
    let reversed = rewrapped.wrapped.clone();
    store.audit.rewrap_subject_key(&rewrapped).await.unwrap();
    assert!(
        !files_holding(&db, &secret).is_empty(),
        "the test key should be on disk before destruction"
    );

    assert!(store.audit.destroy_subject_key("doomed").await.unwrap());
    assert_eq!(files_holding(&db, &secret), Vec::<String>::new());
    assert_eq!(files_holding(&db, &reversed), Vec::<String>::new());
    assert!(!files_holding(&db, &kept).is_empty());
    assert_eq!(
        store
            .audit
            .subject_key("kept")
            .await
            .unwrap()
            .unwrap()
            .wrapped,
        kept
    );

    store.close().await;
    assert_eq!(files_holding(&db, &secret), Vec::<String>::new());
    assert_eq!(files_holding(&db, &reversed), Vec::<String>::new());
}

/// On PostgreSQL, destroying a key vacuums the key table (outside any transaction), so
/// the dead row versions holding the old bytes are pruned from its pages.
#[tokio::test]
async fn postgres_destroy_vacuums_the_key_table() {
    let pg = PgHarness::start().await.unwrap();
    let store = connect(&pg.url(), 2).await.unwrap();
    let vacuum_count = || async {
        let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
        let vacuumed: Option<i64> = sqlx::query_scalar(
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'audit_subject_keys'",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        pool.close().await;
        vacuumed.unwrap_or(0)
    };
    store
        .audit
        .create_subject_key(&key("s", "dk", &[9; 40]))
        .await
        .unwrap();
    assert_eq!(vacuum_count().await, 0);
    assert!(store.audit.destroy_subject_key("s").await.unwrap());
    assert_eq!(vacuum_count().await, 1);
    // Nothing destroyed, nothing vacuumed.
    assert!(!store.audit.destroy_subject_key("s").await.unwrap());
    assert_eq!(vacuum_count().await, 1);
    store.close().await;
}
