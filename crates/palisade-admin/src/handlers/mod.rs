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
use serde::Serialize;

use crate::error::AdminError;

/// A list response: `{"object": "list", "data": [...]}`.
#[derive(Serialize)]
pub struct List<T> {
    pub object: &'static str,
    pub data: Vec<T>,
}

impl<T> List<T> {
    pub fn new(data: Vec<T>) -> Self {
        List {
            object: "list",
            data,
        }
    }
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
