//! Embedded migrations for both backends. The SQL files under `migrations/` are compiled
//! in with `include_str!` (so editing one triggers a rebuild) and fed to sqlx's
//! [`Migrator`], which records them in `_sqlx_migrations` exactly as `sqlx::migrate!`
//! would, without needing sqlx's proc-macro crate.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use palisade_policy::identity::StoreError;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, Migration, MigrationSource, MigrationType, Migrator};

use crate::error;

/// One migration file, `migrations/<backend>/{version:04}_{description}.sql`, and its SQL.
#[derive(Debug)]
pub(crate) struct Embedded {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "identity",
        sql: include_str!("../migrations/sqlite/0001_identity.sql"),
    },
    Embedded {
        version: 2,
        description: "audit",
        sql: include_str!("../migrations/sqlite/0002_audit.sql"),
    },
    Embedded {
        version: 3,
        description: "audit_search",
        sql: include_str!("../migrations/sqlite/0003_audit_search.sql"),
    },
];

pub(crate) const POSTGRES: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "identity",
        sql: include_str!("../migrations/postgres/0001_identity.sql"),
    },
    Embedded {
        version: 2,
        description: "audit",
        sql: include_str!("../migrations/postgres/0002_audit.sql"),
    },
    Embedded {
        version: 3,
        description: "audit_search",
        sql: include_str!("../migrations/postgres/0003_audit_search.sql"),
    },
];

#[derive(Debug)]
struct Source(&'static [Embedded]);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    Cow::Borrowed(m.sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Applies the migrations not yet recorded in the database; a no-op when up to date.
pub(crate) async fn run<'a, A>(set: &'static [Embedded], conn: A) -> Result<(), StoreError>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: Migrate,
{
    let migrator = Migrator::new(Source(set))
        .await
        .map_err(|e| error::setup("loading migrations", e))?;
    migrator
        .run(conn)
        .await
        .map_err(|e| error::setup("running migrations", e))
}

/// Checks, without changing anything, that the database has exactly the migrations of
/// `set`: a store opened read-only is only read with the schema this version knows.
pub(crate) async fn check<DB>(
    set: &'static [Embedded],
    pool: &sqlx::Pool<DB>,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| error::setup("opening the store", e))?;
    let applied = conn
        .list_applied_migrations()
        .await
        .map_err(|e| error::setup("reading the store's schema version", e))?;
    let have: Vec<i64> = applied.iter().map(|m| m.version).collect();
    let want: Vec<i64> = set.iter().map(|m| m.version).collect();
    if have == want {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "the store's schema (migrations {have:?}) is not this version's ({want:?}): open it with the palisade that wrote it, or let `palisade serve` migrate it first"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `migrations/<backend>/` is embedded, in version order, with the
    /// name its version and description give, and the embedded SQL is that file's.
    fn check(dir: &str, set: &[Embedded]) {
        let path = palisade_testkit::manifest_dir()
            .join("migrations")
            .join(dir);
        let mut files: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = set
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.description))
            .collect();
        assert_eq!(
            files, embedded,
            "migrations/{dir} and the embedded list differ"
        );
        for (i, m) in set.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions must be 1, 2, 3...");
            let on_disk = std::fs::read_to_string(path.join(&embedded[i])).unwrap();
            assert_eq!(on_disk, m.sql, "{} embeds another file", embedded[i]);
        }
    }

    #[test]
    fn every_migration_file_is_embedded() {
        check("sqlite", SQLITE);
        check("postgres", POSTGRES);
    }
}
