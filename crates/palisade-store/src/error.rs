//! Maps `sqlx` errors onto [`StoreError`]: unique violations become `Conflict`, foreign
//! key violations `NotFound`, everything else `Backend`. Messages name records by their
//! public ids only, never by secret hashes or bound values.

use palisade_policy::identity::StoreError;
use sqlx::error::ErrorKind;

/// Any failure that is not a constraint the caller can act on.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    tracing::warn!(error = %err, "store query failed");
    StoreError::Backend(err.to_string())
}

/// A failed write: `conflict` names what already exists on a unique violation,
/// `missing` what a foreign key pointed at on a foreign key violation.
pub(crate) fn write(
    err: sqlx::Error,
    conflict: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        match db.kind() {
            ErrorKind::UniqueViolation => return StoreError::Conflict(conflict()),
            ErrorKind::ForeignKeyViolation => return StoreError::NotFound(missing()),
            _ => {}
        }
    }
    backend(err)
}

/// A failed migration or connection attempt, with what was being done.
pub(crate) fn setup(doing: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{doing}: {err}"))
}
