//! Storage adapters: SQLite (embedded, default) and PostgreSQL (scale-out), each
//! implementing the storage traits the domain crates define. [`connect`] picks the
//! backend from the URL, runs that backend's migrations and returns a [`Store`] holding
//! one implementation of every trait.

mod error;
mod identity;
mod migrations;
pub mod postgres;
mod records;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;

pub use palisade_policy::identity::{IdentityStore, StoreError};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names: `sqlite:...` or `postgres://` / `postgresql://`.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            // Only the scheme is echoed: the rest may hold a password.
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::Backend(format!(
                "unsupported store URL scheme `{scheme}` (expected sqlite: or postgres://)"
            )))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connected, migrated store. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct Store {
    pub identity: Arc<dyn IdentityStore>,
    pub backend: Backend,
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Closes the connection pool, waiting for connections in use to be returned.
    /// Every clone of this store shares the pool, so all of them stop working.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the store a URL names and runs its migrations: `sqlite://path/to/file.db`
/// (relative; `sqlite:///abs/path.db` for absolute), `sqlite::memory:`, or
/// `postgres://...` / `postgresql://...`. `max_connections` bounds the pool (at least 1;
/// an in-memory SQLite database always uses one connection).
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    let backend = Backend::from_url(url)?;
    let max_connections = max_connections.max(1);
    let store = match backend {
        Backend::Sqlite => {
            let pool = sqlite::connect(url, max_connections).await?;
            Store {
                identity: Arc::new(sqlite::SqliteIdentityStore::new(pool.clone())),
                backend,
                pool: Pool::Sqlite(pool),
            }
        }
        Backend::Postgres => {
            let pool = postgres::connect(url, max_connections).await?;
            Store {
                identity: Arc::new(postgres::PgIdentityStore::new(pool.clone())),
                backend,
                pool: Pool::Postgres(pool),
            }
        }
    };
    tracing::info!(backend = %backend, max_connections, "store connected and migrated");
    Ok(store)
}
