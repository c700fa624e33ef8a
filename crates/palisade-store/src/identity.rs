//! [`IdentityStore`] on SQL: groups, users and memberships, API keys and admin tokens in
//! the tables of `migrations/{sqlite,postgres}/0001_identity.sql`, written once for both
//! backends.
//!
//! [`SqlIdentityStore`] is generic over the sqlx driver (`DB`), so every query below runs
//! unchanged on SQLite and PostgreSQL; `sqlite::SqliteIdentityStore` and
//! `postgres::PgIdentityStore` are this type with the driver filled in. What really
//! differs per backend is the small [`IdentityBackend`] trait, implemented in
//! `sqlite/identity.rs` and `postgres/identity.rs`. Rows are decoded in
//! [`crate::records`].
//!
//! Why generics and not a macro that stamps out one impl per backend: this is ordinary
//! Rust that rustfmt formats, the compiler checks once, and an editor can navigate; a
//! newcomer reads it like any other impl. The price is the `where` clause on the impl
//! below, which only lists what the shared SQL needs a driver to encode and execute (both
//! sqlx drivers provide all of it).
//!
//! One SQL text serves both backends because placeholders are written `$1`, `$2`, …:
//! PostgreSQL's syntax, which SQLite also accepts (as named parameters) and sqlx's SQLite
//! driver binds by their number, so `$2` takes the second `bind` on either backend.

use async_trait::async_trait;
use palisade_policy::identity::store::{created_cursor, parse_created_cursor};
use palisade_policy::identity::{
    AdminTokenRecord, ApiKeyRecord, Group, IdentityStore, Page, PageRequest, StoreError, User,
};
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Type};

use crate::driver::Driver;
use crate::error;
use crate::records::{IdentityRow, latest_uses, users};

/// What the two backends do differently; everything else is shared SQL.
#[async_trait]
pub(crate) trait IdentityBackend: Driver {
    /// Sets `last_used_at` to the later of its value and the given time, for a non-empty
    /// batch with unique ids; unknown ids are ignored.
    async fn record_key_use(pool: &Pool<Self>, uses: Vec<(String, i64)>) -> Result<(), StoreError>;
}

/// Identity records in a SQL database reached through the sqlx driver `DB`. Cloning shares
/// the pool.
#[derive(Debug)]
pub struct SqlIdentityStore<DB: Database> {
    pool: Pool<DB>,
}

impl<DB: Database> SqlIdentityStore<DB> {
    /// Wraps a pool whose database has been migrated (see `sqlite::connect` and
    /// `postgres::connect`).
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

// Not derived: a derive would require `DB: Clone`, which the driver markers are not.
impl<DB: Database> Clone for SqlIdentityStore<DB> {
    fn clone(&self) -> Self {
        Self::new(self.pool.clone())
    }
}

const USER_ROWS: &str = "SELECT u.id, u.name, u.created_at, u.disabled, g.group_name \
     FROM users u LEFT JOIN user_groups g ON g.user_id = u.id";
const KEY_COLUMNS: &str =
    "id, user_id, name, secret_hash, created_at, expires_at, revoked_at, last_used_at";
const TOKEN_COLUMNS: &str = "id, name, role, secret_hash, created_at, revoked_at";
/// Rows after a [`created_cursor`] (`$1` the time, `$2` the id), in creation order.
const AFTER_CREATED: &str = "(created_at > $1 OR (created_at = $1 AND id > $2))";

#[async_trait]
impl<DB> IdentityStore for SqlIdentityStore<DB>
where
    DB: IdentityBackend,
    DB::Row: IdentityRow,
    // Queries run on the pool and inside transactions.
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    // The Rust types bound as parameters (references to them follow from these).
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
{
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(error::backend)?;
        Ok(())
    }

    async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO groups (name, created_at) VALUES ($1, $2)")
            .bind(&group.name)
            .bind(group.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| error::write(e, || format!("group {}", group.name), || "group".into()))?;
        Ok(())
    }

    async fn list_groups(&self, page: &PageRequest) -> Result<Page<Group>, StoreError> {
        // Names are never empty: "" is before them all.
        let rows = sqlx::query(
            "SELECT name, created_at FROM groups WHERE name > $1 ORDER BY name LIMIT $2",
        )
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page.rows())
        .fetch_all(&self.pool)
        .await
        .map_err(error::backend)?;
        let groups = rows
            .iter()
            .map(IdentityRow::group)
            .collect::<Result<_, _>>()?;
        Ok(Page::of(groups, page, |g: &Group| g.name.clone()))
    }

    async fn existing_groups(&self, names: &[String]) -> Result<Vec<String>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let slots = (1..=names.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql =
            format!("SELECT name, created_at FROM groups WHERE name IN ({slots}) ORDER BY name");
        let mut query = sqlx::query(&sql);
        for name in names {
            query = query.bind(name.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(error::backend)?;
        rows.iter()
            .map(|r| IdentityRow::group(r).map(|g| g.name))
            .collect()
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let conflict = || format!("user {}", user.name);
        let missing = || format!("group of user {}", user.name);
        let mut tx = self.pool.begin().await.map_err(error::backend)?;
        sqlx::query("INSERT INTO users (id, name, created_at, disabled) VALUES ($1, $2, $3, $4)")
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
                "INSERT INTO groups (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(group)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| error::write(e, conflict, missing))?;
            sqlx::query(
                "INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
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
            "{USER_ROWS} WHERE u.id = (SELECT id FROM users WHERE id = $1 OR name = $1 \
             ORDER BY id = $1 DESC LIMIT 1) ORDER BY g.group_name"
        );
        let rows = sqlx::query(&sql)
            .bind(id_or_name)
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        Ok(users(&rows)?.into_iter().next())
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        // The page is counted in users, not in their rows of groups.
        let sql = format!(
            "{USER_ROWS} WHERE u.id IN (SELECT id FROM users WHERE name > $1 \
             ORDER BY name LIMIT $2) ORDER BY u.name, g.group_name"
        );
        let rows = sqlx::query(&sql)
            .bind(page.after.as_deref().unwrap_or(""))
            .bind(page.rows())
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        Ok(Page::of(users(&rows)?, page, |u: &User| u.name.clone()))
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
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
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::backend)?;
        row.as_ref().map(IdentityRow::api_key).transpose()
    }

    async fn list_api_keys(
        &self,
        user_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ApiKeyRecord>, StoreError> {
        let (time, id) = parse_created_cursor(page.after.as_deref())?;
        let of_user = if user_id.is_some() {
            "user_id = $4 AND"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE {of_user} {AFTER_CREATED} \
             ORDER BY created_at, id LIMIT $3"
        );
        let mut query = sqlx::query(&sql).bind(time).bind(id).bind(page.rows());
        if let Some(user_id) = user_id {
            query = query.bind(user_id);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(error::backend)?;
        let keys = rows
            .iter()
            .map(IdentityRow::api_key)
            .collect::<Result<_, _>>()?;
        Ok(Page::of(keys, page, |k: &ApiKeyRecord| {
            created_cursor(k.created_at, &k.id)
        }))
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(error::backend)?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let uses = latest_uses(uses);
        if uses.is_empty() {
            return Ok(());
        }
        DB::record_key_use(&self.pool, uses).await
    }

    async fn insert_admin_token(&self, token: &AdminTokenRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO admin_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
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
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::backend)?;
        row.as_ref().map(IdentityRow::admin_token).transpose()
    }

    async fn list_admin_tokens(
        &self,
        page: &PageRequest,
    ) -> Result<Page<AdminTokenRecord>, StoreError> {
        let (time, id) = parse_created_cursor(page.after.as_deref())?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM admin_tokens WHERE {AFTER_CREATED} \
             ORDER BY created_at, id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(time)
            .bind(id)
            .bind(page.rows())
            .fetch_all(&self.pool)
            .await
            .map_err(error::backend)?;
        let tokens = rows
            .iter()
            .map(IdentityRow::admin_token)
            .collect::<Result<_, _>>()?;
        Ok(Page::of(tokens, page, |t: &AdminTokenRecord| {
            created_cursor(t.created_at, &t.id)
        }))
    }

    async fn revoke_admin_token(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(error::backend)?;
        Ok(DB::rows_affected(&done) > 0)
    }
}
