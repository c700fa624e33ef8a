//! What the audit test suites share: an attacker's raw access to a SQLite audit database
//! (read a record's header, insert a row of their own).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_audit::merkle::leaf_hash;
use palisade_audit::record::Header;
use sqlx::{Row, SqlitePool};

/// The stored header bytes of record `seq`.
pub async fn header_bytes(pool: &SqlitePool, seq: i64) -> Vec<u8> {
    sqlx::query("SELECT header FROM audit_records WHERE seq = ?")
        .bind(seq)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

/// Record `seq`'s header, parsed.
pub async fn header_of(pool: &SqlitePool, seq: i64) -> Header {
    Header::from_bytes(&header_bytes(pool, seq).await).unwrap()
}

/// Inserts a row for `header` at `seq` (search columns copied from it, no content).
pub async fn insert_row(pool: &SqlitePool, seq: i64, header: &[u8]) {
    let h = Header::from_bytes(header).ok();
    let index = h.map(|h| h.index()).unwrap_or_default();
    sqlx::query(
        "INSERT INTO audit_records (seq, time_us, plane, request_id, actor, user_id, model, decision, subject, header, content, leaf_hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
    )
    .bind(seq)
    .bind(index.time_us)
    .bind(index.plane)
    .bind(index.request_id)
    .bind(index.actor)
    .bind(index.user_id)
    .bind(index.model)
    .bind(index.decision)
    .bind(index.subject)
    .bind(header)
    .bind(leaf_hash(header).to_vec())
    .execute(pool)
    .await
    .unwrap();
}

/// Runs one statement the attacker writes.
pub async fn execute(pool: &SqlitePool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

/// Deletes records `seq` and after (and their search-index rows).
pub async fn delete_records_from(pool: &SqlitePool, seq: u64) {
    for table in ["audit_search", "audit_records"] {
        execute(pool, &format!("DELETE FROM {table} WHERE seq >= {seq}")).await;
    }
}

/// A rollback: the records from `size` on deleted together with the checkpoints covering
/// them, leaving a shorter log that verifies on its own.
pub async fn roll_back_to(pool: &SqlitePool, size: u64) {
    delete_records_from(pool, size).await;
    execute(
        pool,
        &format!("DELETE FROM audit_checkpoints WHERE size > {size}"),
    )
    .await;
}

/// A checkpoint row nobody signed (note `junk`), at `size`: one INSERT away for anyone
/// with write access to the database.
pub async fn insert_junk_checkpoint(pool: &SqlitePool, size: i64) {
    sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, created_us) \
         VALUES ($1, zeroblob(32), 'junk', 0)",
    )
    .bind(size)
    .execute(pool)
    .await
    .unwrap();
}
