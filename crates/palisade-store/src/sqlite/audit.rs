//! [`AuditStore`](palisade_audit::store::AuditStore) on SQLite: the shared
//! [`SqlAuditStore`] (see `crate::audit`) on SQLite pools, and the parts SQLite does its
//! own way: appending a batch as one multi-row `INSERT`, zeroing a wrapped key with
//! `zeroblob`, and truncating the write-ahead log after a key is destroyed so that no old
//! page image survives in the `-wal` file. Every connection runs with
//! `secure_delete = ON` (see `sqlite::connect`), so deleted and overwritten bytes are
//! zeroed in the database file itself.

use async_trait::async_trait;
use palisade_audit::record::StoredRecord;
use palisade_audit::store::{AuditStoreError, StoredCheckpoint};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::audit::{
    AuditBackend, CHECKPOINT_COLUMNS, CHECKPOINT_CONFLICT, RECORD_COLUMNS, SqlAuditStore,
    batch_name, search_catch_up, to_db,
};
use crate::error;

/// The audit ledger in a SQLite database. Cloning shares the pools.
pub type SqliteAuditStore = SqlAuditStore<Sqlite>;

/// Rows per `INSERT` statement: 12 parameters each, under SQLite's limit of 32766. A
/// batch up to this size is one statement, which matters: every statement after the
/// first in a transaction must journal the pages it changes (a statement journal, so it
/// can be undone alone), which halves the append rate.
const ROWS_PER_INSERT: usize = 2048;

/// `INSERT INTO audit_records … VALUES (…), (…)` for one chunk of a batch.
fn push_insert<'a>(sql: &mut QueryBuilder<'a, Sqlite>, chunk: &'a [StoredRecord], seqs: &'a [i64]) {
    sql.push(format!("INSERT INTO audit_records ({RECORD_COLUMNS}) "));
    sql.push_values(chunk.iter().zip(seqs), |mut row, (record, seq)| {
        let index = &record.index;
        row.push_bind(*seq)
            .push_bind(index.time_us)
            .push_bind(index.plane.as_str())
            .push_bind(index.request_id.as_str())
            .push_bind(index.actor.as_str())
            .push_bind(index.user_id.as_str())
            .push_bind(index.model.as_str())
            .push_bind(index.decision.as_str())
            .push_bind(index.subject.as_str())
            .push_bind(record.header.as_slice())
            .push_bind(record.content.as_deref())
            .push_bind(record.leaf_hash.as_slice());
    });
}

/// How often a blocked scrub checkpoint is tried again (in the background), and how
/// long apart.
const SCRUB_RETRIES: u32 = 3;
const SCRUB_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// One `wal_checkpoint(TRUNCATE)`; whether it completed (no reader blocked it).
async fn truncate_wal(pool: &SqlitePool) -> bool {
    match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(pool)
        .await
    {
        Ok(row) => row.try_get::<i64, _>(0).unwrap_or(1) == 0,
        Err(err) => {
            tracing::warn!(error = %err, "sqlite WAL checkpoint after key destruction failed");
            // Not a reader's snapshot: trying again would not help.
            true
        }
    }
}

#[async_trait]
impl AuditBackend for Sqlite {
    const ZEROED_WRAPPED: &'static str = "zeroblob(length(wrapped))";
    // SQLite compares text with BINARY unless told otherwise.
    const BYTEWISE: &'static str = "";

    async fn insert_records(
        conn: &mut SqliteConnection,
        records: &[StoredRecord],
        seqs: &[i64],
    ) -> Result<(), sqlx::Error> {
        for (chunk, seqs) in records
            .chunks(ROWS_PER_INSERT)
            .zip(seqs.chunks(ROWS_PER_INSERT))
        {
            let mut sql = QueryBuilder::<Sqlite>::new("");
            push_insert(&mut sql, chunk, seqs);
            sql.build().execute(&mut *conn).await?;
        }
        sqlx::query(&search_catch_up(None))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// One multi-statement query — `BEGIN IMMEDIATE`, the inserts, the search index
    /// catch-up, the checkpoint, `COMMIT` — so a commit costs one trip to sqlx's SQLite worker thread instead of one
    /// per statement: on the request path of strict durability, each trip is a thread
    /// hand-off both ways. A failure rolls back on the same connection.
    async fn append_at_once(
        pool: &SqlitePool,
        records: &[StoredRecord],
        seqs: &[i64],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Option<Result<(), AuditStoreError>> {
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => return Some(Err(error::audit(e))),
        };
        let mut sql = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE; ");
        for (chunk, seqs) in records
            .chunks(ROWS_PER_INSERT)
            .zip(seqs.chunks(ROWS_PER_INSERT))
        {
            push_insert(&mut sql, chunk, seqs);
            sql.push("; ");
        }
        if !records.is_empty() {
            sql.push(search_catch_up(None));
            sql.push("; ");
        }
        let size = match checkpoint
            .map(|cp| to_db(cp.size, "checkpoint size"))
            .transpose()
        {
            Ok(size) => size,
            Err(e) => return Some(Err(e)),
        };
        if let (Some(cp), Some(size)) = (checkpoint, size) {
            sql.push(format!(
                "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ("
            ));
            let mut values = sql.separated(", ");
            values
                .push_bind(size)
                .push_bind(cp.root.as_slice())
                .push_bind(cp.note.as_str())
                .push_bind(cp.created_us);
            sql.push(format!(") {CHECKPOINT_CONFLICT}; "));
        }
        sql.push("COMMIT");
        let done = sql.build().execute(&mut *conn).await;
        Some(match done {
            Ok(_) => Ok(()),
            Err(e) => {
                // The transaction may be open (a failed insert) or not (a failed BEGIN);
                // ROLLBACK without one only returns an error, which is of no interest.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                Err(error::audit_write(e, || batch_name(records)))
            }
        })
    }

    async fn scrub_deleted(pool: &SqlitePool) {
        // TRUNCATE copies every frame into the database file (where secure_delete has
        // zeroed the key) and empties the log. It waits for readers up to the busy timeout
        // (holding off new commits meanwhile) and reports `busy` when one still held an
        // old snapshot (a long verify or search). Later checkpoints only overwrite the log
        // from its start, so an old frame deep in it could stay: tried again in the
        // background a few times, apart, rather than holding the caller (and the
        // commits) for all of them.
        if truncate_wal(pool).await {
            return;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            for _ in 0..SCRUB_RETRIES {
                tokio::time::sleep(SCRUB_RETRY).await;
                if pool.is_closed() || truncate_wal(&pool).await {
                    return;
                }
            }
            tracing::warn!(
                "sqlite WAL checkpoint stayed blocked by readers; a destroyed or replaced \
                 key's old page may stay in the -wal file until a later checkpoint"
            );
        });
    }
}
