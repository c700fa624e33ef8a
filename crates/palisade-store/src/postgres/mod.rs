//! The PostgreSQL backend: connecting a pool from a `postgres://` URL, running the
//! PostgreSQL migrations, and the adapters built on the resulting pool.

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

impl Driver for Postgres {
    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

/// Connects a pool to read the database only (`palisade audit verify`): every session is
/// `default_transaction_read_only`, no migration runs, and the schema must be this
/// version's.
pub async fn connect_read_only(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| error::setup("invalid postgres URL", e))?
        .options([("default_transaction_read_only", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    migrations::check(migrations::POSTGRES, &pool).await?;
    Ok(pool)
}

/// Connects a pool of at most `max_connections` to the database a `postgres://` URL
/// names and migrates it.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options =
        PgConnectOptions::from_str(url).map_err(|e| error::setup("invalid postgres URL", e))?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| error::setup("connecting to postgres", e))?;
    migrations::run(migrations::POSTGRES, &pool).await?;
    Ok(pool)
}
