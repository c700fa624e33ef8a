//! The SQLite backend: opening the database file (created `0600` if missing) with WAL
//! journaling, `synchronous = NORMAL`, `secure_delete`, in-memory temp files, foreign
//! keys and a 5 s busy timeout, running the SQLite migrations, the audit ledger's own
//! write connection ([`audit_writer`], with its durability setting), and the adapters
//! built on the resulting pools.

mod audit;
mod identity;
mod pages;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use palisade_policy::identity::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};

pub use audit::SqliteAuditStore;
pub use identity::SqliteIdentityStore;

use crate::driver::Driver;
use crate::{AuditSync, error, migrations};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Driver for Sqlite {
    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// Opens (creating if needed) the SQLite database a `sqlite:` URL names and migrates it.
/// An in-memory database (`sqlite::memory:`) lives as long as the pool and uses a single
/// connection.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlitePool, StoreError> {
    let options = options(url)?;
    let mut pool = SqlitePoolOptions::new();
    if is_memory(url) {
        // Every connection would otherwise see its own empty database once the pool
        // recycles them: keep exactly one, forever.
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        create_private_file(options.get_filename()).await?;
        pool = pool.max_connections(max_connections.max(1));
    }
    let pool = pool
        .connect_with(options)
        .await
        .map_err(|e| error::setup("opening sqlite database", e))?;
    migrations::run(migrations::SQLITE, &pool).await?;
    Ok(pool)
}

/// Opens an existing SQLite database to read it only (`palisade audit verify` over a log
/// that may be evidence): no file is created, no migration runs, the journal mode is
/// left as it is, nothing is checkpointed, and every connection runs with `query_only`.
/// The schema must be this version's.
pub async fn connect_read_only(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| error::setup("invalid sqlite URL", e))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("query_only", "ON");
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .map_err(|e| error::setup("opening sqlite database", e))?;
    migrations::check(migrations::SQLITE, &pool).await?;
    Ok(pool)
}

/// The audit store of [`connect_read_only`]'s pool: reads only (its pages read from the
/// file through read-only connections).
pub fn read_only_audit_store(url: &str, pool: &SqlitePool) -> Result<SqliteAuditStore, StoreError> {
    let store = SqliteAuditStore::with_pools(pool.clone(), pool.clone());
    if is_memory(url) {
        return Ok(store);
    }
    let options = options(url)?;
    Ok(
        store.with_record_pages(std::sync::Arc::new(pages::FilePages::read_only(
            options.get_filename(),
            BUSY_TIMEOUT,
        ))),
    )
}

/// The audit store's write pool (the ledger appends through it for an in-memory database;
/// for a file, through its own direct connection, see `writer`; erasure, rotation and
/// retention write here): one connection to the database that
/// `shared` (from [`connect`] on the same URL) has opened and migrated, so appends are
/// serialised, with `synchronous = FULL` (every commit is synced to disk before it
/// returns, surviving power loss) or `NORMAL` (surviving a process crash; a power loss
/// may lose the last commits) as `sync` asks. An in-memory database has no second
/// connection: there the writer is `shared` itself.
pub async fn audit_writer(
    url: &str,
    shared: &SqlitePool,
    sync: AuditSync,
) -> Result<SqlitePool, StoreError> {
    if is_memory(url) {
        return Ok(shared.clone());
    }
    let synchronous = match sync {
        AuditSync::Full => SqliteSynchronous::Full,
        AuditSync::Normal => SqliteSynchronous::Normal,
    };
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            options(url)?
                .synchronous(synchronous)
                .pragma("cache_size", "-65536")
                // Checkpoints run beside the writer (see `spawn_checkpointer`), never
                // inside an audit commit that requests are waiting for.
                .pragma("wal_autocheckpoint", "0"),
        )
        .await
        .map_err(|e| error::setup("opening the sqlite audit writer", e))?;
    spawn_checkpointer(shared.clone());
    Ok(writer)
}

/// The audit store on the shared pool (reads) and the audit writer; for a database file,
/// whole pages of records (what `verify` walks) are read from the file directly (see
/// `pages`), and the ledger writer appends through its own connection with `sync`
/// durability (see `writer`).
pub fn audit_store(
    url: &str,
    shared: &SqlitePool,
    writer: &SqlitePool,
    sync: AuditSync,
) -> Result<SqliteAuditStore, StoreError> {
    let store = SqliteAuditStore::with_pools(shared.clone(), writer.clone());
    if is_memory(url) {
        return Ok(store);
    }
    let options = options(url)?;
    let path = options.get_filename();
    let store = store.with_record_pages(std::sync::Arc::new(pages::FilePages::new(
        path,
        BUSY_TIMEOUT,
    )));
    // The direct writer for both `sync` settings. With `full` it once fell behind at
    // 3,000 req/s (p50 30 ms against 3.5 ms through the pool); in today's runs it is
    // faster than the pool path at every rate measured (bench/RESULTS-audit.md) with
    // three times its throughput. Its busy timeout is twice the pool's: an erasure's
    // scrub (a TRUNCATE checkpoint on the pool, holding the log's write lock while it
    // waits up to its own busy timeout for readers) delays a commit, never fails it.
    Ok(
        store.with_direct_writers(std::sync::Arc::new(writer::FileWriters {
            path: path.to_path_buf(),
            sync,
            busy_timeout: BUSY_TIMEOUT * 2,
        })),
    )
}

/// How often the WAL is copied back into the database file, and the WAL size (pages)
/// above which a checkpoint may briefly block the writer to bound the file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
const CHECKPOINT_RESTART_PAGES: i64 = 16_384;

/// Moves committed pages from the WAL into the database file every second, on a pool
/// connection: `PASSIVE` never blocks the audit writer; only when the WAL has grown past
/// 64 MiB (a writer outpacing passive checkpoints) does a `RESTART` checkpoint wait for it.
/// Stops when the pool is closed.
fn spawn_checkpointer(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            let passive: Result<(i64, i64, i64), _> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&pool)
                    .await;
            match passive {
                Ok((_, log, _)) if log > CHECKPOINT_RESTART_PAGES => {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&pool)
                        .await
                    {
                        tracing::debug!(error = %e, "sqlite WAL restart checkpoint failed");
                    }
                }
                Ok(_) => {}
                Err(e) if pool.is_closed() => {
                    tracing::debug!(error = %e, "sqlite checkpointer stopping");
                    break;
                }
                Err(e) => tracing::debug!(error = %e, "sqlite WAL checkpoint failed"),
            }
        }
    });
}

/// The connect options every connection to a `sqlite:` URL uses. `secure_delete` makes
/// SQLite overwrite deleted content with zeros, which destroying a subject key and
/// purging record content rely on; `temp_store = MEMORY` keeps statement journals and
/// sort spills (which hold copies of rows, keys included) off the disk.
fn options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| error::setup("invalid sqlite URL", e))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("secure_delete", "ON")
        .pragma("temp_store", "MEMORY");
    if is_memory(url) {
        return Ok(options);
    }
    Ok(options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal))
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the database file with mode `0600` if it does not exist yet (and its parent
/// directory), so that SQLite (which gives its `-wal` and `-shm` files the database's
/// permissions) never creates it world-readable.
async fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.to_string_lossy().starts_with("file:") {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| error::setup("creating the sqlite database directory", e))?;
    }
    let mut open = tokio::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    open.mode(0o600);
    match open.open(path).await {
        Ok(_) => {
            tracing::info!(path = %path.display(), "created sqlite database file");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(error::setup("creating the sqlite database file", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pragma(pool: &SqlitePool, name: &str) -> i64 {
        sqlx::query_scalar(&format!("PRAGMA {name}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// The shared pool syncs at checkpoints, the audit writer as asked; every connection
    /// zeroes deleted content.
    #[tokio::test]
    async fn audit_writer_has_its_own_durability() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let shared = connect(&url, 2).await.unwrap();
        let full = audit_writer(&url, &shared, AuditSync::Full).await.unwrap();
        let normal = audit_writer(&url, &shared, AuditSync::Normal)
            .await
            .unwrap();
        // 1 = NORMAL, 2 = FULL.
        assert_eq!(pragma(&shared, "synchronous").await, 1);
        assert_eq!(pragma(&full, "synchronous").await, 2);
        assert_eq!(pragma(&normal, "synchronous").await, 1);
        for pool in [&shared, &full, &normal] {
            assert_eq!(pragma(pool, "secure_delete").await, 1);
            // 2 = MEMORY.
            assert_eq!(pragma(pool, "temp_store").await, 2);
        }

        let memory = connect("sqlite::memory:", 1).await.unwrap();
        let writer = audit_writer("sqlite::memory:", &memory, AuditSync::Full)
            .await
            .unwrap();
        assert_eq!(pragma(&writer, "secure_delete").await, 1);
        sqlx::query("INSERT INTO audit_meta (name, value) VALUES ('m', x'00')")
            .execute(&writer)
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_meta")
            .fetch_one(&memory)
            .await
            .unwrap();
        assert_eq!(seen, 1, "an in-memory writer must be the shared database");
    }
}
