//! The storage contract for identities. `palisade-store` implements it for SQLite and
//! PostgreSQL; both pass the same conformance suite. Lists are read a page at a time
//! ([`PageRequest`], [`Page`]).

use std::future::Future;

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
    /// A list was asked to continue after a cursor it never gave out.
    #[error("not a cursor of this list")]
    InvalidCursor,
}

/// The most items one page of a list holds.
pub const MAX_PAGE: u32 = 1000;

/// Which page of a list to read: at most `limit` items (1..=[`MAX_PAGE`]) after `after`,
/// the cursor the previous page ended with (`None`: from the start). A list keeps one
/// order, so paging through it while items are added misses none that were there when
/// the first page was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    /// The first `limit` items.
    pub fn first(limit: u32) -> PageRequest {
        PageRequest { limit, after: None }
    }

    /// How many rows to read: one more than the page holds, to tell whether more follow.
    pub fn rows(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE)) + 1
    }
}

/// One page of a list, and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The page of `rows` read for `req` ([`PageRequest::rows`] of them at most): the
    /// extra row only says that more follow, and the next page starts after the `cursor`
    /// of the last item kept.
    pub fn of(mut rows: Vec<T>, req: &PageRequest, cursor: impl Fn(&T) -> String) -> Page<T> {
        let keep = usize::try_from(req.rows() - 1).unwrap_or(usize::MAX);
        let more = rows.len() > keep;
        rows.truncate(keep);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { items: rows, next }
    }
}

/// The cursor of an item listed by creation time, then id (keys and admin tokens).
pub fn created_cursor(created_at: i64, id: &str) -> String {
    format!("{created_at}.{id}")
}

/// A [`created_cursor`] read back; `(i64::MIN, "")` (before everything) for none.
pub fn parse_created_cursor(cursor: Option<&str>) -> Result<(i64, &str), StoreError> {
    let Some(cursor) = cursor else {
        return Ok((i64::MIN, ""));
    };
    let (time, id) = cursor.split_once('.').ok_or(StoreError::InvalidCursor)?;
    let time = time.parse().map_err(|_| StoreError::InvalidCursor)?;
    Ok((time, id))
}

/// Every item of a paged list, read page after page: for the few checks that must see
/// them all (which admin tokens could still manage policies, say).
pub async fn every<T, F, Fut>(mut read: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = read(PageRequest {
            limit: MAX_PAGE,
            after,
        })
        .await?;
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Checks that the store answers (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a group; `Conflict` if the name is taken.
    async fn create_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Groups ordered by name; the cursor is a name.
    async fn list_groups(&self, page: &PageRequest) -> Result<Page<Group>, StoreError>;
    /// Which of `names` (a user's groups: a few dozen at most) are groups, by name.
    async fn existing_groups(&self, names: &[String]) -> Result<Vec<String>, StoreError>;

    /// Creates a user and its group memberships; groups that do not exist yet are created.
    /// `Conflict` if the id or name is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by id or by name, with its groups (sorted).
    async fn find_user(&self, id_or_name: &str) -> Result<Option<User>, StoreError>;
    /// Users with their groups, ordered by name; the cursor is a name.
    async fn list_users(&self, page: &PageRequest) -> Result<Page<User>, StoreError>;

    /// Stores a new API key; `NotFound` if its user does not exist, `Conflict` on a
    /// duplicate id.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Keys of one user (by user id), or of everyone; ordered by creation time then id
    /// ([`created_cursor`]).
    async fn list_api_keys(
        &self,
        user_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ApiKeyRecord>, StoreError>;
    /// Marks a key revoked at `at`. Returns false if no such key. Revoking twice keeps
    /// the first revocation time.
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, StoreError>;
    /// Records key use: `last_used_at` becomes the later of its value and the given time.
    /// Unknown ids are ignored.
    async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<(), StoreError>;

    async fn insert_admin_token(&self, token: &AdminTokenRecord) -> Result<(), StoreError>;
    async fn find_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>, StoreError>;
    /// Admin tokens ordered by creation time then id ([`created_cursor`]).
    async fn list_admin_tokens(
        &self,
        page: &PageRequest,
    ) -> Result<Page<AdminTokenRecord>, StoreError>;
    /// Same contract as [`IdentityStore::revoke_api_key`].
    async fn revoke_admin_token(&self, id: &str, at: i64) -> Result<bool, StoreError>;
}
