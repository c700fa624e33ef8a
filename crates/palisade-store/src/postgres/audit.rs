//! [`AuditStore`](palisade_audit::store::AuditStore) on PostgreSQL: the shared
//! [`SqlAuditStore`] (see `crate::audit`) on a PostgreSQL pool, and the parts PostgreSQL
//! does its own way: appending a whole batch in one `INSERT ... SELECT FROM UNNEST` of
//! column arrays, zeroing a wrapped key with `decode(repeat(...))`, and vacuuming the key
//! table after a key is destroyed.

use std::any::Any;

use async_trait::async_trait;
use palisade_audit::record::StoredRecord;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::audit::{AuditBackend, RECORD_COLUMNS, SEARCH_COLUMNS, SqlAuditStore};

/// The advisory lock key of the audit tail ("palisade" + "audit" in ASCII, truncated).
const TAIL_LOCK: i64 = 0x7061_6c69_7361_6175;

/// The audit ledger in a PostgreSQL database. Cloning shares the pool.
pub type PgAuditStore = SqlAuditStore<Postgres>;

#[async_trait]
impl AuditBackend for Postgres {
    const ZEROED_WRAPPED: &'static str = "decode(repeat('00', octet_length(wrapped)), 'hex')";
    // `audit_records`' text columns are `COLLATE "C"`, `audit_search`'s the database's.
    const BYTEWISE: &'static str = " COLLATE \"C\"";

    async fn insert_records(
        conn: &mut PgConnection,
        records: &[StoredRecord],
        seqs: &[i64],
    ) -> Result<(), sqlx::Error> {
        // One statement and one round trip for the batch, whatever its size: each column
        // travels as one array parameter, and the rows inserted feed the search index.
        let column = |f: fn(&StoredRecord) -> &str| records.iter().map(f).collect::<Vec<_>>();
        let times: Vec<i64> = records.iter().map(|r| r.index.time_us).collect();
        let headers: Vec<&[u8]> = records.iter().map(|r| r.header.as_slice()).collect();
        let contents: Vec<Option<&[u8]>> = records.iter().map(|r| r.content.as_deref()).collect();
        let leaves: Vec<&[u8]> = records.iter().map(|r| r.leaf_hash.as_slice()).collect();
        let sql = format!(
            "WITH inserted AS (INSERT INTO audit_records ({RECORD_COLUMNS}) SELECT * FROM UNNEST(\
             $1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::bytea[], $11::bytea[], $12::bytea[]) \
             RETURNING {SEARCH_COLUMNS}) \
             INSERT INTO audit_search ({SEARCH_COLUMNS}) SELECT {SEARCH_COLUMNS} FROM inserted"
        );
        sqlx::query(&sql)
            .bind(seqs)
            .bind(&times)
            .bind(column(|r| &r.index.plane))
            .bind(column(|r| &r.index.request_id))
            .bind(column(|r| &r.index.actor))
            .bind(column(|r| &r.index.user_id))
            .bind(column(|r| &r.index.model))
            .bind(column(|r| &r.index.decision))
            .bind(column(|r| &r.index.subject))
            .bind(&headers)
            .bind(&contents)
            .bind(&leaves)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A transaction-scoped advisory lock, held by an open transaction on its own
    /// connection until the guard is dropped (sqlx then rolls it back, which releases
    /// the lock). Waiters are served in arrival order, so no instance starves.
    async fn lock_tail(pool: &PgPool) -> Result<Option<Box<dyn Any + Send>>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(TAIL_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(Some(Box::new(tx)))
    }

    async fn scrub_deleted(pool: &PgPool) {
        // Removes the dead row versions (the original and the zeroed one) from the heap
        // pages. Best effort: PostgreSQL gives no guarantee that freed page space or its
        // write-ahead log is overwritten. VACUUM cannot run in a transaction block, so it
        // goes through the simple query protocol.
        if let Err(err) = sqlx::raw_sql("VACUUM audit_subject_keys, audit_meta")
            .execute(pool)
            .await
        {
            tracing::warn!(error = %err, "VACUUM after key destruction failed");
        }
    }
}
