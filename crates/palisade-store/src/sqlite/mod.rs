//! The SQLite backend: opening the database file (created `0600` if missing) with WAL
//! journaling, `synchronous = NORMAL`, foreign keys and a 5 s busy timeout, running the
//! SQLite migrations, and the adapters built on the resulting pool.

mod identity;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use palisade_policy::identity::StoreError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use identity::SqliteIdentityStore;

use crate::{error, migrations};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if needed) the SQLite database a `sqlite:` URL names and migrates it.
/// An in-memory database (`sqlite::memory:`) lives as long as the pool and uses a single
/// connection.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlitePool, StoreError> {
    let memory = is_memory(url);
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|e| error::setup("invalid sqlite URL", e))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let mut pool = SqlitePoolOptions::new();
    if memory {
        // Every connection would otherwise see its own empty database once the pool
        // recycles them: keep exactly one, forever.
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
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
