//! Backend-neutral helpers for turning rows into identity records: folding
//! user-membership join rows into [`User`]s and parsing stored admin roles.

use palisade_policy::identity::{AdminRole, StoreError, User};

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
