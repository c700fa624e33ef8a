//! [`IdentityStore`](palisade_policy::identity::IdentityStore) on PostgreSQL: the shared
//! [`SqlIdentityStore`] (see `crate::identity`) on a PostgreSQL pool, and the part
//! PostgreSQL does its own way, recording a batch of key uses in one statement.

use async_trait::async_trait;
use palisade_policy::identity::StoreError;
use sqlx::{PgPool, Postgres};

use crate::error;
use crate::identity::{IdentityBackend, SqlIdentityStore};

/// Identity records in a PostgreSQL database. Cloning shares the pool.
pub type PgIdentityStore = SqlIdentityStore<Postgres>;

#[async_trait]
impl IdentityBackend for Postgres {
    async fn record_key_use(pool: &PgPool, uses: Vec<(String, i64)>) -> Result<(), StoreError> {
        // One statement for the whole batch; ids are unique after `latest_uses`, so each
        // key joins at most one use.
        let (ids, times): (Vec<String>, Vec<i64>) = uses.into_iter().unzip();
        sqlx::query(
            "UPDATE api_keys AS k SET last_used_at = u.at \
             FROM UNNEST($1::text[], $2::bigint[]) AS u (id, at) \
             WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(pool)
        .await
        .map_err(error::backend)?;
        Ok(())
    }
}
