//! Admin handlers, one file per resource. Every state change attaches a
//! [`Change`] (target id, the object before and after — never a secret) to its response;
//! the audit layer puts it in the call's ledger record.

pub mod audit;
pub mod audit_tail;
pub mod groups;
pub mod keys;
pub mod limits;
pub mod policies;
pub mod subjects;
pub mod tokens;
pub mod users;

use axum::Extension;
use palisade_audit::Change;
use palisade_policy::identity::store::MAX_PAGE;
use palisade_policy::identity::{Page, PageRequest};
use serde::{Deserialize, Serialize};

use crate::error::AdminError;

/// A page of a list: `{"object": "list", "data": [...], "next_cursor": "…"}`;
/// `next_cursor` is `null` on the last page, else the `cursor` of the next.
#[derive(Serialize)]
pub struct List<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for List<T> {
    fn from(page: Page<T>) -> Self {
        List {
            object: "list",
            data: page.items,
            next_cursor: page.next,
        }
    }
}

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 100;

/// `?limit=&cursor=` of a list route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(self) -> Result<PageRequest, AdminError> {
        page_request(self.limit, self.cursor)
    }
}

/// The page a list route was asked for: `limit` 1 to 1000, default 100; `cursor` the
/// `next_cursor` of the page before.
pub fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, AdminError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AdminError::Invalid(format!(
            "`limit` must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(PageRequest {
        limit,
        after: cursor,
    })
}

/// Names of users, groups, keys and tokens: 1–128 characters of letters, digits and
/// `._@-`, so they are safe in logs, URLs and policies.
pub fn validate_name(field: &str, name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "`{field}` must be 1-128 characters of letters, digits, '.', '_', '@' or '-'"
        )))
    }
}

/// The [`Change`] a mutating handler returns among its response parts. `before` and
/// `after` must be secret-free views (records whose secret hashes are not serialised).
pub fn change<B: Serialize, A: Serialize>(
    target: impl Into<String>,
    before: Option<&B>,
    after: Option<&A>,
) -> Extension<Change> {
    Extension(Change {
        target: target.into(),
        before: before.map(to_json),
        after: after.map(to_json),
    })
}

/// A JSON value; `null` if serialisation fails (it cannot for plain records).
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// For `change` calls without a `before` (or `after`).
pub const NOTHING: Option<&()> = None;
