//! Maps `sqlx` errors onto the domain error types: [`StoreError`] for identities (unique
//! violations become `Conflict`, foreign key violations `NotFound`, everything else
//! `Backend`) and [`AuditStoreError`] for the audit ledger (unique violations become
//! `Conflict`, everything else `Backend`). Messages name records by their public ids or
//! sequence numbers only, never by secret hashes, record contents or bound values.

use palisade_audit::store::AuditStoreError;
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

/// Any audit store failure that is not a constraint the caller can act on.
pub(crate) fn audit(err: sqlx::Error) -> AuditStoreError {
    tracing::warn!(error = %err, "audit store query failed");
    AuditStoreError::Backend(err.to_string())
}

/// A failed audit write: `conflict` names what already exists on a unique violation.
pub(crate) fn audit_write(err: sqlx::Error, conflict: impl FnOnce() -> String) -> AuditStoreError {
    if let sqlx::Error::Database(db) = &err
        && db.kind() == ErrorKind::UniqueViolation
    {
        return AuditStoreError::Conflict(conflict());
    }
    audit(err)
}
