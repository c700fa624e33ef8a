//! [`IdentityStore`] on SQLite: groups, users and memberships, API keys and admin tokens
//! in the tables of `migrations/sqlite/0001_identity.sql`.

use async_trait::async_trait;
use palisade_policy::identity::{
    AdminTokenRecord, ApiKeyRecord, Group, IdentityStore, StoreError, User,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::error;
use crate::records::{UserRow, fold_users, latest_uses, parse_role};

/// Identity records in a SQLite database. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct SqliteIdentityStore {
    pool: SqlitePool,
}

impl SqliteIdentityStore {
    /// Wraps a pool whose database has been migrated (see [`super::connect`]).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

const USER_ROWS: &str = "SELECT u.id, u.name, u.created_at, u.disabled, g.group_name \
     FROM users u LEFT JOIN user_groups g ON g.user_id = u.id";
const KEY_COLUMNS: &str =
    "id, user_id, name, secret_hash, created_at, expires_at, revoked_at, last_used_at";
const TOKEN_COLUMNS: &str = "id, name, role, secret_hash, created_at, revoked_at";

fn user_row(row: &SqliteRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        disabled: row.try_get("disabled")?,
        group: row.try_get("group_name")?,
    })
}

fn users(rows: &[SqliteRow]) -> Result<Vec<User>, StoreError> {
    let rows = rows
        .iter()
        .map(user_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(error::backend)?;
    Ok(fold_users(rows))
}

fn key(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    let decode = || -> Result<ApiKeyRecord, sqlx::Error> {
        Ok(ApiKeyRecord {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            secret_hash: row.try_get("secret_hash")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    };
    decode().map_err(error::backend)
}

fn token(row: &SqliteRow) -> Result<AdminTokenRecord, StoreError> {
    let decode = || -> Result<_, sqlx::Error> {
        Ok((
            row.try_get::<String, _>("id")?,
            row.try_get::<String, _>("role")?,
            row.try_get("name")?,
            row.try_get("secret_hash")?,
            row.try_get("created_at")?,
            row.try_get("revoked_at")?,
        ))
    };
    let (id, role, name, secret_hash, created_at, revoked_at) = decode().map_err(error::backend)?;
    Ok(AdminTokenRecord {
        role: parse_role(&id, &role)?,
        id,
        name,
        secret_hash,
        created_at,
        revoked_at,
    })
}

#[async_trait]
impl IdentityStore for SqliteIdentityStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(error::backend)?;
        Ok(())
    }

    async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO groups (name, created_at) VALUES (?1, ?2)")
            .bind(&group.name)
            .bind(group.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| error::write(e, || format!("group {}", group.name), || "group".into()))?;
        Ok(())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query("SELECT name, created_at FROM groups ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        rows.iter()
            .map(|row| {
                Ok(Group {
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(error::backend)
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let conflict = || format!("user {}", user.name);
        let missing = || format!("group of user {}", user.name);
        let mut tx = self.pool.begin().await.map_err(error::backend)?;
        sqlx::query("INSERT INTO users (id, name, created_at, disabled) VALUES (?1, ?2, ?3, ?4)")
            .bind(&user.id)
            .bind(&user.name)
            .bind(user.created_at)
            .bind(user.disabled)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::write(e, conflict, missing))?;
        for group in &user.groups {
            // Groups created on the fly take the user's creation time.
            sqlx::query(
                "INSERT INTO groups (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(group)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::write(e, conflict, missing))?;
            sqlx::query(
                "INSERT INTO user_groups (user_id, group_name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )
            .bind(&user.id)
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::write(e, conflict, missing))?;
        }
        tx.commit().await.map_err(error::backend)
    }

    async fn find_user(&self, id_or_name: &str) -> Result<Option<User>, StoreError> {
        // An id match wins over a name match (another user may be named like this id).
        let sql = format!(
            "{USER_ROWS} WHERE u.id = (SELECT id FROM users WHERE id = ?1 OR name = ?1 \
             ORDER BY id = ?1 DESC LIMIT 1) ORDER BY g.group_name"
        );
        let rows = sqlx::query(&sql)
            .bind(id_or_name)
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        Ok(users(&rows)?.into_iter().next())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("{USER_ROWS} ORDER BY u.name, g.group_name");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        users(&rows)
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        sqlx::query(&sql)
            .bind(&key.id)
            .bind(&key.user_id)
            .bind(&key.name)
            .bind(&key.secret_hash)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(key.last_used_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                error::write(
                    e,
                    || format!("api key {}", key.id),
                    || format!("user {}", key.user_id),
                )
            })?;
        Ok(())
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::backend)?;
        row.as_ref().map(key).transpose()
    }

    async fn list_api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = match user_id {
            Some(user_id) => {
                let sql = format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_at, id"
                );
                sqlx::query(&sql).bind(user_id).fetch_all(&self.pool).await
            }
            None => {
                let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id");
                sqlx::query(&sql).fetch_all(&self.pool).await
            }
        }
        .map_err(error::backend)?;
        rows.iter().map(key).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1")
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(error::backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let uses = latest_uses(uses);
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(error::backend)?;
        for (id, at) in &uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = ?2 \
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(error::backend)?;
        }
        tx.commit().await.map_err(error::backend)
    }

    async fn insert_admin_token(&self, token: &AdminTokenRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO admin_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        sqlx::query(&sql)
            .bind(&token.id)
            .bind(&token.name)
            .bind(token.role.as_str())
            .bind(&token.secret_hash)
            .bind(token.created_at)
            .bind(token.revoked_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                error::write(
                    e,
                    || format!("admin token {}", token.id),
                    || "admin token".into(),
                )
            })?;
        Ok(())
    }

    async fn find_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens WHERE id = ?1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::backend)?;
        row.as_ref().map(token).transpose()
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        rows.iter().map(token).collect()
    }

    async fn revoke_admin_token(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(error::backend)?;
        Ok(done.rows_affected() > 0)
    }
}
