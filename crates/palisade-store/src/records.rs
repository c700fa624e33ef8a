//! Turning rows into identity records, for both backends: [`IdentityRow`] decodes one row
//! of any sqlx driver, [`fold_users`] folds user-membership join rows into [`User`]s and
//! [`parse_role`] checks stored admin roles.

use palisade_policy::identity::{
    AdminRole, AdminTokenRecord, ApiKeyRecord, Group, StoreError, User,
};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error;

/// Decodes the rows of the identity tables. Implemented for the rows of every sqlx driver
/// that reads `String`, `i64` and `bool` columns by name: SQLite's and PostgreSQL's.
pub(crate) trait IdentityRow {
    /// A row of `groups`.
    fn group(&self) -> Result<Group, StoreError>;
    /// A row of `users LEFT JOIN user_groups` (see [`fold_users`]).
    fn user(&self) -> Result<UserRow, StoreError>;
    /// A row of `api_keys`.
    fn api_key(&self) -> Result<ApiKeyRecord, StoreError>;
    /// A row of `admin_tokens`; `Backend` if its role is unknown.
    fn admin_token(&self) -> Result<AdminTokenRecord, StoreError>;
}

impl<R> IdentityRow for R
where
    R: Row,
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn group(&self) -> Result<Group, StoreError> {
        let decode = || -> Result<Group, sqlx::Error> {
            Ok(Group {
                name: self.try_get("name")?,
                created_at: self.try_get("created_at")?,
            })
        };
        decode().map_err(error::backend)
    }

    fn user(&self) -> Result<UserRow, StoreError> {
        let decode = || -> Result<UserRow, sqlx::Error> {
            Ok(UserRow {
                id: self.try_get("id")?,
                name: self.try_get("name")?,
                created_at: self.try_get("created_at")?,
                disabled: self.try_get("disabled")?,
                group: self.try_get("group_name")?,
            })
        };
        decode().map_err(error::backend)
    }

    fn api_key(&self) -> Result<ApiKeyRecord, StoreError> {
        let decode = || -> Result<ApiKeyRecord, sqlx::Error> {
            Ok(ApiKeyRecord {
                id: self.try_get("id")?,
                user_id: self.try_get("user_id")?,
                name: self.try_get("name")?,
                secret_hash: self.try_get("secret_hash")?,
                created_at: self.try_get("created_at")?,
                expires_at: self.try_get("expires_at")?,
                revoked_at: self.try_get("revoked_at")?,
                last_used_at: self.try_get("last_used_at")?,
            })
        };
        decode().map_err(error::backend)
    }

    fn admin_token(&self) -> Result<AdminTokenRecord, StoreError> {
        let decode = || -> Result<_, sqlx::Error> {
            Ok((
                self.try_get::<String, _>("id")?,
                self.try_get::<String, _>("role")?,
                self.try_get("name")?,
                self.try_get("secret_hash")?,
                self.try_get("created_at")?,
                self.try_get("revoked_at")?,
            ))
        };
        let (id, role, name, secret_hash, created_at, revoked_at) =
            decode().map_err(error::backend)?;
        Ok(AdminTokenRecord {
            role: parse_role(&id, &role)?,
            id,
            name,
            secret_hash,
            created_at,
            revoked_at,
        })
    }
}

/// Decodes and folds the rows of `users LEFT JOIN user_groups` (see [`fold_users`]).
pub(crate) fn users(rows: &[impl IdentityRow]) -> Result<Vec<User>, StoreError> {
    let rows = rows
        .iter()
        .map(IdentityRow::user)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fold_users(rows))
}

/// One row of `users LEFT JOIN user_groups`, ordered so that the rows of one user are
/// adjacent and its groups sorted.
pub(crate) struct UserRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub disabled: bool,
    pub group: Option<String>,
}

/// Folds adjacent rows of the same user into one [`User`], keeping row order.
pub(crate) fn fold_users(rows: impl IntoIterator<Item = UserRow>) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    for row in rows {
        if users.last().is_none_or(|last| last.id != row.id) {
            users.push(User {
                id: row.id,
                name: row.name,
                groups: Vec::new(),
                created_at: row.created_at,
                disabled: row.disabled,
            });
        }
        if let (Some(group), Some(user)) = (row.group, users.last_mut()) {
            user.groups.push(group);
        }
    }
    users
}

/// A stored role string; anything else means the row was written by something else.
pub(crate) fn parse_role(token_id: &str, role: &str) -> Result<AdminRole, StoreError> {
    AdminRole::parse(role).ok_or_else(|| {
        StoreError::Backend(format!(
            "admin token {token_id} has an unknown role `{role}`"
        ))
    })
}

/// Deduplicates key uses, keeping the latest time per id, in id order.
pub(crate) fn latest_uses(uses: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut latest = std::collections::BTreeMap::<&str, i64>::new();
    for (id, at) in uses {
        latest
            .entry(id)
            .and_modify(|t| *t = (*t).max(*at))
            .or_insert(*at);
    }
    latest
        .into_iter()
        .map(|(id, at)| (id.to_owned(), at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, group: Option<&str>) -> UserRow {
        UserRow {
            id: id.into(),
            name: format!("n-{id}"),
            created_at: 1,
            disabled: false,
            group: group.map(Into::into),
        }
    }

    #[test]
    fn folds_adjacent_rows() {
        let users = fold_users([row("a", Some("g1")), row("a", Some("g2")), row("b", None)]);
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].groups, ["g1", "g2"]);
        assert!(users[1].groups.is_empty());
    }

    #[test]
    fn keeps_latest_use() {
        let uses = [
            ("k".to_owned(), 5),
            ("j".to_owned(), 1),
            ("k".to_owned(), 9),
            ("k".to_owned(), 7),
        ];
        assert_eq!(
            latest_uses(&uses),
            [("j".to_owned(), 1), ("k".to_owned(), 9)]
        );
    }

    #[test]
    fn rejects_unknown_role() {
        assert_eq!(parse_role("t", "auditor").unwrap(), AdminRole::Auditor);
        assert!(matches!(
            parse_role("t", "root"),
            Err(StoreError::Backend(_))
        ));
    }
}
