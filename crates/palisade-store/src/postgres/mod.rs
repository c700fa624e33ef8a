//! The PostgreSQL backend: connecting the pools from a `postgres://` URL (a shared one,
//! and the audit writer's own for the tail lock and appends, so searches holding the
//! shared connections do not hold up commits; its catch-up reads still use the shared
//! pool), running the
//! PostgreSQL migrations, and the adapters built on the pools. Every session is bounded
//! on the server ([`SESSION_LIMITS`]): a statement runs at most 60 s and a transaction
//! left idle 30 s (a gateway frozen or cut off while it holds the audit tail lock) is
//! ended, so one stuck replica cannot stall the others.

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
/// The limits every session gets: a statement ends after 60 s (an audit search filtered
/// on an unindexed column over a large log ends there, with an error, rather than
/// holding its connection); a transaction left idle 30 s is ended (the audit writer holds
/// the tail lock in an open transaction only while it appends one batch).
const SESSION_LIMITS: &str =
    "SET statement_timeout = '60s'; SET idle_in_transaction_session_timeout = '30s';";
const SESSION_LIMITS_READ_ONLY: &str = "SET statement_timeout = '60s'; \
     SET idle_in_transaction_session_timeout = '30s'; SET default_transaction_read_only = on;";

/// Connections of the audit writer's pool: one holds the tail lock, one appends, one
/// for the writes beside them (retention purge, erasure, key re-wrapping).
const WRITER_CONNECTIONS: u32 = 3;

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

/// A URL's connect options.
fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|e| error::setup("invalid postgres URL", e))
}

/// A pool of at most `connections` whose sessions get the limits above, set with `SET`
/// once connected rather than as startup parameters (which PgBouncer and some managed
/// proxies refuse); `read_only` sessions also default to read-only transactions.
fn bounded_pool(connections: u32, read_only: bool) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                let set = if read_only {
                    SESSION_LIMITS_READ_ONLY
                } else {
                    SESSION_LIMITS
                };
                sqlx::Executor::execute(conn, set).await?;
                Ok(())
            })
        })
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
    let pool = bounded_pool(2, true)
        .connect_with(connect_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    migrations::check(migrations::POSTGRES, &pool).await?;
    Ok(pool)
}

/// Migrates the database a `postgres://` URL names (through one connection without the
/// statement limit: building an index on a large table may take longer), then connects
/// the shared pool of at most `max_connections` and the audit writer's pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPools, StoreError> {
    let migrator = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(connect_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    let migrated = migrations::run(migrations::POSTGRES, &migrator).await;
    migrator.close().await;
    migrated?;
    let shared = bounded_pool(max_connections, false)
        .connect_with(connect_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    let audit_writer = bounded_pool(WRITER_CONNECTIONS, false)
        .connect_with(connect_options(url)?)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    Ok(PgPools {
        shared,
        audit_writer,
    })
}
