//! One conformance suite for [`IdentityStore`](palisade_policy::identity::IdentityStore),
//! run against SQLite (a temp-dir file) and PostgreSQL (a real server from [`PgHarness`]):
//! every `sqlite_*` test has a `postgres_*` twin running the same function of [`suite`].
//! SQLite-only tests cover files on disk; both backends check reconnecting.

// The suite functions are shared helpers, not `#[test]` fns, so clippy's
// allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod suite;

use std::future::Future;

use palisade_policy::identity::{Group, StoreError};
use palisade_store::{Backend, Store, connect};
use palisade_testkit::postgres::PgHarness;
use suite::{
    Identity, admin_tokens, all_groups, all_users, api_keys, group_names, groups_and_users, key,
    key_lifecycle, lists_are_paged, user,
};

async fn with_sqlite<F, Fut>(suite: F)
where
    F: FnOnce(Identity) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let store = connect(&url, 4).await.unwrap();
    assert_eq!(store.backend, Backend::Sqlite);
    suite(store.identity.clone()).await;
    store.close().await;
}

async fn with_postgres<F, Fut>(suite: F)
where
    F: FnOnce(Identity) -> Fut,
    Fut: Future<Output = ()>,
{
    let pg = PgHarness::start().await.unwrap();
    let store = connect(&pg.url(), 4).await.unwrap();
    assert_eq!(store.backend, Backend::Postgres);
    suite(store.identity.clone()).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_groups_and_users() {
    with_sqlite(groups_and_users).await;
}

#[tokio::test]
async fn postgres_groups_and_users() {
    with_postgres(groups_and_users).await;
}

#[tokio::test]
async fn sqlite_lists_are_paged() {
    with_sqlite(lists_are_paged).await;
}

#[tokio::test]
async fn postgres_lists_are_paged() {
    with_postgres(lists_are_paged).await;
}

#[tokio::test]
async fn sqlite_api_keys() {
    with_sqlite(api_keys).await;
}

#[tokio::test]
async fn postgres_api_keys() {
    with_postgres(api_keys).await;
}

#[tokio::test]
async fn sqlite_key_lifecycle() {
    with_sqlite(key_lifecycle).await;
}

#[tokio::test]
async fn postgres_key_lifecycle() {
    with_postgres(key_lifecycle).await;
}

#[tokio::test]
async fn sqlite_admin_tokens() {
    with_sqlite(admin_tokens).await;
}

#[tokio::test]
async fn postgres_admin_tokens() {
    with_postgres(admin_tokens).await;
}

#[tokio::test]
async fn sqlite_in_memory_runs_the_suite() {
    let store = connect("sqlite::memory:", 8).await.unwrap();
    groups_and_users(store.identity.clone()).await;
    key_lifecycle(connect("sqlite::memory:", 8).await.unwrap().identity).await;
}

/// Data written through one connection survives closing and reopening the file, and
/// reconnecting re-runs migrations harmlessly, even while another pool has it open.
#[tokio::test]
async fn sqlite_file_persists_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/palisade.db");
    let url = format!("sqlite://{}", path.display());

    let first = connect(&url, 2).await.unwrap();
    first
        .identity
        .create_user(&user("u1", "one", &["g"], 1))
        .await
        .unwrap();
    first
        .identity
        .insert_api_key(&key("k1", "u1", 2))
        .await
        .unwrap();
    let second = connect(&url, 2).await.unwrap();
    assert_eq!(all_users(&second.identity).await.len(), 1);
    first.close().await;
    second.close().await;

    let reopened = connect(&url, 2).await.unwrap();
    let found = reopened.identity.find_user("one").await.unwrap().unwrap();
    assert_eq!(found.groups, ["g"]);
    assert_eq!(
        reopened.identity.find_api_key("k1").await.unwrap(),
        Some(key("k1", "u1", 2))
    );
    reopened.close().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "database file mode {mode:o}");
    }
}

#[tokio::test]
async fn postgres_reconnect_keeps_data_and_migrations_are_idempotent() {
    let pg = PgHarness::start().await.unwrap();
    let first: Store = connect(&pg.url(), 2).await.unwrap();
    first
        .identity
        .create_group(&Group {
            name: "g".into(),
            created_at: 1,
        })
        .await
        .unwrap();
    let second = connect(&pg.url(), 2).await.unwrap();
    assert_eq!(group_names(&all_groups(&second.identity).await), ["g"]);
    first.close().await;
    second.close().await;
    let other = connect(&pg.create_database("other").await.unwrap(), 2)
        .await
        .unwrap();
    assert!(all_groups(&other.identity).await.is_empty());
    other.close().await;
}

#[tokio::test]
async fn unknown_scheme_is_refused_without_echoing_the_url() {
    let err = connect("mysql://user:s3cret@host/db", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
