//! Admin handlers, one file per resource. Every state change is logged as an admin
//! action (actor token id, action, target id — never secrets); the audit ledger takes
//! these over when it lands.

pub mod groups;
pub mod keys;
pub mod limits;
pub mod policies;
pub mod tokens;
pub mod users;

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

/// Logs an admin action.
pub fn log_action(actor: &str, action: &'static str, target_id: &str) {
    tracing::info!(target: "palisade::admin", actor, action, target_id, "admin action");
}
