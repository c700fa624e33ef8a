//! The storage contract for identities. `palisade-store` implements it for SQLite and
//! PostgreSQL; both pass the same conformance suite.

use async_trait::async_trait;
use thiserror::Error;

use super::model::{AdminTokenRecord, ApiKeyRecord, Group, User};

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique name or id is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A referenced record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database failed or could not be reached. The message is for logs only.
    #[error("store backend error: {0}")]
    Backend(String),
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Checks that the store answers (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a group; `Conflict` if the name is taken.
    async fn create_group(&self, group: &Group) -> Result<(), StoreError>;
    /// All groups, ordered by name.
    async fn list_groups(&self) -> Result<Vec<Group>, StoreError>;

    /// Creates a user and its group memberships; groups that do not exist yet are created.
    /// `Conflict` if the id or name is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by id or by name, with its groups (sorted).
    async fn find_user(&self, id_or_name: &str) -> Result<Option<User>, StoreError>;
    /// All users with their groups, ordered by name.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Stores a new API key; `NotFound` if its user does not exist, `Conflict` on a
    /// duplicate id.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Keys of one user (by user id), or all keys; ordered by creation time then id.
    async fn list_api_keys(&self, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks a key revoked at `at`. Returns false if no such key. Revoking twice keeps
    /// the first revocation time.
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError>;
    /// Records key use: `last_used_at` becomes the later of its value and the given time.
    /// Unknown ids are ignored.
    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError>;

    async fn insert_admin_token(&self, token: &AdminTokenRecord) -> Result<(), StoreError>;
    async fn find_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>, StoreError>;
    /// All admin tokens, ordered by creation time then id.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError>;
    /// Same contract as [`IdentityStore::revoke_api_key`].
    async fn revoke_admin_token(&self, id: &str, at: i64) -> Result<bool, StoreError>;
}
