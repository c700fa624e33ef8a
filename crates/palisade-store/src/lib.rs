//! Storage adapters: SQLite (embedded, default) and PostgreSQL (scale-out), each
//! implementing the storage traits the domain crates define (identities, the audit
//! ledger). [`connect`] / [`connect_with`] pick the backend from the URL, run that
//! backend's migrations and return a [`Store`] holding one implementation of every trait.

mod audit;
mod driver;
mod error;
mod identity;
mod migrations;
pub mod postgres;
mod records;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;

pub use audit::MAX_SEARCH_LIMIT;
pub use palisade_audit::store::{AuditStore, AuditStoreError};
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

/// How durable an audit append is on SQLite before it returns. PostgreSQL always uses
/// the server's commit durability (`synchronous_commit`, on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuditSync {
    /// Synced to disk at every commit: survives power loss (`synchronous = FULL`).
    #[default]
    Full,
    /// Survives a process crash; a power loss may lose the last commits
    /// (`synchronous = NORMAL`), for a higher append rate.
    Normal,
}

/// How [`connect_with`] opens a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Bounds the connection pool (at least 1; an in-memory SQLite database always uses
    /// one connection).
    pub max_connections: u32,
    /// Durability of audit appends on SQLite.
    pub audit_sync: AuditSync,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            audit_sync: AuditSync::Full,
        }
    }
}

/// A connected, migrated store. Cloning is cheap and shares the connection pools.
#[derive(Clone)]
pub struct Store {
    pub identity: Arc<dyn IdentityStore>,
    pub audit: Arc<dyn AuditStore>,
    pub backend: Backend,
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    Sqlite {
        shared: sqlx::SqlitePool,
        /// The audit ledger's write connection (the shared pool for `sqlite::memory:`).
        audit_writer: sqlx::SqlitePool,
    },
    Postgres(postgres::PgPools),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Closes the connection pools, waiting for connections in use to be returned.
    /// Every clone of this store shares the pools, so all of them stop working.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite {
                shared,
                audit_writer,
            } => {
                audit_writer.close().await;
                shared.close().await;
            }
            Pool::Postgres(pools) => pools.close().await,
        }
    }
}

/// Opens the store a URL names and runs its migrations: `sqlite://path/to/file.db`
/// (relative; `sqlite:///abs/path.db` for absolute), `sqlite::memory:`, or
/// `postgres://...` / `postgresql://...`. `max_connections` bounds the pool (at least 1;
/// an in-memory SQLite database always uses one connection). Audit appends get the
/// default durability ([`AuditSync::Full`]); see [`connect_with`].
pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    connect_with(
        url,
        StoreOptions {
            max_connections,
            ..StoreOptions::default()
        },
    )
    .await
}

/// Opens the store a URL names to read it only, for `palisade audit verify`: nothing is
/// created, migrated or written (see [`sqlite::connect_read_only`],
/// [`postgres::connect_read_only`]); a schema other than this version's is an error.
pub async fn connect_read_only(url: &str) -> Result<Store, StoreError> {
    let backend = Backend::from_url(url)?;
    let store = match backend {
        Backend::Sqlite => {
            let pool = sqlite::connect_read_only(url).await?;
            Store {
                identity: Arc::new(sqlite::SqliteIdentityStore::new(pool.clone())),
                audit: Arc::new(sqlite::read_only_audit_store(url, &pool)?),
                backend,
                pool: Pool::Sqlite {
                    shared: pool.clone(),
                    audit_writer: pool,
                },
            }
        }
        Backend::Postgres => {
            let pool = postgres::connect_read_only(url).await?;
            Store {
                identity: Arc::new(postgres::PgIdentityStore::new(pool.clone())),
                audit: Arc::new(postgres::PgAuditStore::new(pool.clone())),
                backend,
                pool: Pool::Postgres(postgres::PgPools {
                    shared: pool.clone(),
                    audit_writer: pool,
                }),
            }
        }
    };
    Ok(store)
}

/// [`connect`] with every option. On SQLite the audit ledger writes through its own
/// connection with `options.audit_sync` durability (see [`sqlite::audit_writer`]) and
/// reads through the shared pool.
pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
    let backend = Backend::from_url(url)?;
    let max_connections = options.max_connections.max(1);
    let store = match backend {
        Backend::Sqlite => {
            let shared = sqlite::connect(url, max_connections).await?;
            let audit_writer = sqlite::audit_writer(url, &shared, options.audit_sync).await?;
            Store {
                identity: Arc::new(sqlite::SqliteIdentityStore::new(shared.clone())),
                audit: Arc::new(sqlite::audit_store(
                    url,
                    &shared,
                    &audit_writer,
                    options.audit_sync,
                )?),
                backend,
                pool: Pool::Sqlite {
                    shared,
                    audit_writer,
                },
            }
        }
        Backend::Postgres => {
            let pools = postgres::connect(url, max_connections).await?;
            Store {
                identity: Arc::new(postgres::PgIdentityStore::new(pools.shared.clone())),
                audit: Arc::new(postgres::PgAuditStore::with_pools(
                    pools.shared.clone(),
                    pools.audit_writer.clone(),
                )),
                backend,
                pool: Pool::Postgres(pools),
            }
        }
    };
    tracing::info!(
        backend = %backend,
        max_connections,
        audit_sync = ?options.audit_sync,
        "store connected and migrated"
    );
    Ok(store)
}
