//! What every SQL adapter needs from a sqlx driver beyond sqlx's driver-neutral traits:
//! [`Driver`], implemented for SQLite in `sqlite/mod.rs` and for PostgreSQL in
//! `postgres/mod.rs`. The per-domain backend traits (`identity::IdentityBackend`,
//! `audit::AuditBackend`) build on it.

use sqlx::Database;

/// A sqlx driver the shared SQL adapters run on.
pub(crate) trait Driver: Database {
    /// How many rows an `UPDATE` or `DELETE` changed (sqlx has no driver-neutral accessor
    /// for it).
    fn rows_affected(done: &Self::QueryResult) -> u64;
}
