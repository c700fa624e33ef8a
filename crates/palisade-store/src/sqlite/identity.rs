//! [`IdentityStore`](palisade_policy::identity::IdentityStore) on SQLite: the shared
//! [`SqlIdentityStore`] (see `crate::identity`) on a SQLite pool, and the part SQLite does
//! its own way, recording a batch of key uses.

use async_trait::async_trait;
use palisade_policy::identity::StoreError;
use sqlx::{Sqlite, SqlitePool};

use crate::error;
use crate::identity::{IdentityBackend, SqlIdentityStore};

/// Identity records in a SQLite database. Cloning shares the pool.
pub type SqliteIdentityStore = SqlIdentityStore<Sqlite>;

#[async_trait]
impl IdentityBackend for Sqlite {
    async fn record_key_use(pool: &SqlitePool, uses: Vec<(String, i64)>) -> Result<(), StoreError> {
        // SQLite has no array parameters: one small update per key, in one transaction.
        let mut tx = pool.begin().await.map_err(error::backend)?;
        for (id, at) in &uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 \
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(error::backend)?;
        }
        tx.commit().await.map_err(error::backend)
    }
}
