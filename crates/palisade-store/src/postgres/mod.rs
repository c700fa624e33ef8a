//! The PostgreSQL backend: connecting the pools from a `postgres://` URL (a shared one,
//! and the audit writer's own so that reads can never starve appends), running the
//! PostgreSQL migrations, and the adapters built on the pools. Every session is bounded
//! on the server: a statement runs at most [`STATEMENT_TIMEOUT`] and a transaction left
//! idle (a gateway frozen or cut off while it holds the audit tail lock) is ended after
//! [`IDLE_IN_TRANSACTION_TIMEOUT`], so one stuck replica cannot stall the others.

mod audit;
mod identity;

use std::str::FromStr;
use std::time::Duration;

use palisade_policy::identity::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgPool, Postgres};

pub use audit::PgAuditStore;
pub use identity::PgIdentityStore;

use crate::driver::Driver;
use crate::{error, migrations};

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest statement (an audit search filtered on an unindexed column over a large
/// log ends here, with an error, rather than holding its connection).
pub const STATEMENT_TIMEOUT: &str = "60s";
/// The longest a transaction may sit idle: the audit writer holds the tail lock in an
/// open transaction only while it appends one batch.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "30s";
/// Connections of the audit writer's pool: one holds the tail lock, one appends.
const WRITER_CONNECTIONS: u32 = 2;

/// The pools of a PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgPools {
    /// Identity lookups, admin reads, audit searches and proofs.
    pub shared: PgPool,
    /// The audit ledger's appends and tail lock only.
    pub audit_writer: PgPool,
}

impl PgPools {
    pub async fn close(&self) {
        self.audit_writer.close().await;
        self.shared.close().await;
    }
}

/// A URL's connect options with the session limits above.
fn bounded_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(|e| error::setup("invalid postgres URL", e))?
        .options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]))
}

impl Driver for Postgres {
    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// Connects a pool to read the database only (`palisade audit verify`): every session is
/// `default_transaction_read_only`, no migration runs, and the schema must be this
/// version's.
pub async fn connect_read_only(url: &str) -> Result<PgPool, StoreError> {
    let options = bounded_options(url)?.options([("default_transaction_read_only", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    migrations::check(migrations::POSTGRES, &pool).await?;
    Ok(pool)
}

/// Migrates the database a `postgres://` URL names (through one connection without the
/// statement limit: building an index on a large table may take longer), then connects
/// the shared pool of at most `max_connections` and the audit writer's pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPools, StoreError> {
    let unbounded =
        PgConnectOptions::from_str(url).map_err(|e| error::setup("invalid postgres URL", e))?;
    let migrator = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(unbounded)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    let migrated = migrations::run(migrations::POSTGRES, &migrator).await;
    migrator.close().await;
    migrated?;
    let pool = |connections: u32| {
        PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
    };
    let shared = pool(max_connections.max(1))
        .connect_with(bounded_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    let audit_writer = pool(WRITER_CONNECTIONS)
        .connect_with(bounded_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    Ok(PgPools {
        shared,
        audit_writer,
    })
}
