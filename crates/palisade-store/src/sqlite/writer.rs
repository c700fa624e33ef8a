//! The audit ledger writer's own SQLite connection ([`DirectAppend`]), offered for a
//! database file (see `sqlite::audit_store`): the ledger runs its writer on a
//! dedicated thread and commits through this connection synchronously, instead of
//! sending every commit to sqlx's worker thread and waiting for the answer.
//! With strict durability a request waits for its record's commit, so that round trip
//! was on the path of every request.
//!
//! An append writes only `audit_records` (one table, so a single-record commit writes
//! one or two pages instead of one per index). The search index, `audit_search`, is
//! caught up when the ledger writer is idle: in steps of [`CATCH_UP_STEP`] records once
//! that many have piled up, or all of them when the ledger asks (its timer, shutdown).
//! Searches cover the records not yet indexed (see `crate::audit`).
//!
//! The write-ahead log is also checkpointed from here, at most every
//! [`CHECKPOINT_EVERY`] and only when the writer is idle: the log can only be reset (and
//! stop growing) when no commit lands while a checkpoint runs, which the checkpointer on
//! another connection cannot arrange under steady load. Without that, the log grew until
//! that checkpointer's blocking `RESTART` stalled every commit for as long as it took to
//! copy tens of megabytes (a second on a slow disk).
//!
//! The connection is opened like every other (`secure_delete`, in-memory temp files, the
//! busy timeout), with the audit durability setting, no automatic WAL checkpoints (the
//! checkpointer runs beside the writer, see `sqlite::spawn_checkpointer`) and the same
//! linked SQLite library as sqlx (see `pages.rs` and docs/dependencies.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palisade_audit::record::StoredRecord;
use palisade_audit::store::{AuditStoreError, DirectAppend, StoredCheckpoint};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use crate::AuditSync;
use crate::audit::{
    DirectWriters, RECORD_COLUMNS, batch_name, insert_checkpoint_sql, search_catch_up, seqs, to_db,
};

/// Records indexed per catch-up transaction; also how many must be waiting before an
/// idle writer spends a transaction on them.
pub(crate) const CATCH_UP_STEP: u32 = 256;

/// Least time between two checkpoints of the write-ahead log by the writer.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Opens writer connections to the database file at `path`.
#[derive(Debug)]
pub(crate) struct FileWriters {
    pub path: PathBuf,
    pub sync: AuditSync,
    pub busy_timeout: Duration,
}

impl DirectWriters for FileWriters {
    fn open(&self) -> Result<Box<dyn DirectAppend>, AuditStoreError> {
        let writer = Writer::open(&self.path, self.sync, self.busy_timeout).map_err(backend)?;
        Ok(Box::new(writer))
    }
}

struct Writer {
    conn: Connection,
    /// Records appended through this connection that the search index may not have yet
    /// (an upper bound: another writer's catch-up may have taken them).
    unindexed: u64,
    /// Whether something was committed since the last checkpoint of the log, and when
    /// that checkpoint ran.
    dirty: bool,
    checkpointed: Instant,
}

impl Writer {
    fn open(path: &Path, sync: AuditSync, busy_timeout: Duration) -> rusqlite::Result<Writer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        let synchronous = match sync {
            AuditSync::Full => "FULL",
            AuditSync::Normal => "NORMAL",
        };
        for (name, value) in [
            ("secure_delete", "ON"),
            ("temp_store", "MEMORY"),
            ("foreign_keys", "ON"),
            ("synchronous", synchronous),
            ("cache_size", "-65536"),
            ("wal_autocheckpoint", "0"),
        ] {
            conn.pragma_update(None, name, value)?;
        }
        // Records appended before this writer (another process, a crash before a
        // catch-up) are counted by the first catch-up.
        let unindexed: i64 = conn.query_row(
            "SELECT (SELECT COALESCE(MAX(seq), -1) FROM audit_records) \
                  - (SELECT COALESCE(MAX(seq), -1) FROM audit_search)",
            [],
            |row| row.get(0),
        )?;
        Ok(Writer {
            conn,
            unindexed: u64::try_from(unindexed).unwrap_or(0),
            dirty: true,
            checkpointed: Instant::now(),
        })
    }

    fn insert(
        &mut self,
        records: &[StoredRecord],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), AuditStoreError> {
        let seqs = seqs(records)?;
        let checkpoint_size = checkpoint
            .map(|cp| to_db(cp.size, "checkpoint size"))
            .transpose()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        {
            // One cached statement, executed per record: inside one transaction a
            // single-row insert needs no statement journal, so this costs what one
            // multi-row statement does, without preparing a new text per batch size.
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO audit_records ({RECORD_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))
                .map_err(backend)?;
            for (record, seq) in records.iter().zip(&seqs) {
                let index = &record.index;
                insert
                    .execute(params![
                        seq,
                        index.time_us,
                        index.plane,
                        index.request_id,
                        index.actor,
                        index.user_id,
                        index.model,
                        index.decision,
                        index.subject,
                        record.header,
                        record.content,
                        record.leaf_hash.as_slice(),
                    ])
                    .map_err(|e| write_error(e, records))?;
            }
        }
        if let (Some(cp), Some(size)) = (checkpoint, checkpoint_size) {
            // `$1`..`$4` are numbered in order of appearance, so they bind by position.
            tx.prepare_cached(&insert_checkpoint_sql())
                .and_then(|mut insert| {
                    insert.execute(params![size, cp.root.as_slice(), cp.note, cp.created_us])
                })
                .map_err(backend)?;
        }
        // Dropping an uncommitted transaction rolls it back.
        tx.commit().map_err(backend)?;
        self.unindexed += records.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// PASSIVE: copies what no reader still needs, never waits. The next commit starts
    /// the log over if everything was copied.
    fn checkpoint(&mut self) -> Result<(), AuditStoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(backend)?;
        self.dirty = false;
        self.checkpointed = Instant::now();
        Ok(())
    }

    /// One catch-up transaction of at most [`CATCH_UP_STEP`] records; returns how many
    /// it indexed.
    fn catch_up(&mut self) -> Result<u64, AuditStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let indexed = tx
            .prepare_cached(&search_catch_up(Some(CATCH_UP_STEP)))
            .and_then(|mut insert| insert.execute([]))
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(indexed as u64)
    }
}

impl DirectAppend for Writer {
    fn append(
        &mut self,
        records: &[StoredRecord],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), AuditStoreError> {
        if records.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        self.insert(records, checkpoint)
    }

    fn idle(&mut self, all: bool) -> Result<bool, AuditStoreError> {
        if self.dirty && self.checkpointed.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint()?;
            return Ok(true);
        }
        if self.unindexed == 0 || (!all && self.unindexed < u64::from(CATCH_UP_STEP)) {
            return Ok(false);
        }
        let indexed = self.catch_up()?;
        self.dirty = true;
        self.unindexed = if indexed < u64::from(CATCH_UP_STEP) {
            0
        } else {
            self.unindexed.saturating_sub(indexed)
        };
        Ok(self.unindexed > 0)
    }
}

/// A failed insert: `Conflict` when a sequence number is taken. Messages name sequence
/// numbers at most, never values.
fn write_error(err: rusqlite::Error, records: &[StoredRecord]) -> AuditStoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &err
        && failure.code == ErrorCode::ConstraintViolation
        && matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        )
    {
        return AuditStoreError::Conflict(batch_name(records));
    }
    backend(err)
}

fn backend(err: rusqlite::Error) -> AuditStoreError {
    tracing::warn!(error = %err, "sqlite audit writer failed");
    AuditStoreError::Backend(format!("writing audit records: {err}"))
}
