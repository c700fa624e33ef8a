//! `palisade audit verify`, the command an auditor runs, on a log a real gateway wrote:
//! it exits 0 on the untouched log and 1 on every tampered copy, naming the position
//! and the kind of the change — an edited header, a deleted record, records cut from
//! the end. (The exhaustive random trials run against the same verifier in
//! `palisade-audit/tests/tamper.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Gateway, audit_verify_cli, say_hi};

const SIM: &str = "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n[[models]]\nname = \"sim\"\nprovider = \"sim\"\n";

/// A copy of the stopped gateway's database for one trial; the tampering is applied with
/// a raw connection, as someone with write access to the file would.
async fn tampered(db: &std::path::Path, trial: &str, sql: &str) -> String {
    let copy = db.with_file_name(format!("{trial}.db"));
    std::fs::copy(db, &copy).unwrap();
    let url = format!("sqlite://{}", copy.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::raw_sql(sql).execute(&pool).await.unwrap();
    pool.close().await;
    url
}

#[tokio::test]
async fn the_verify_command_names_each_tampering() {
    let mut gw = Gateway::start("", SIM).await;
    let key = gw.api_key().await;
    for _ in 0..30 {
        let resp = gw.chat(&key, say_hi("sim")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap();
    }
    // A clean stop signs a final checkpoint over everything.
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    let db = gw.dir.path().join("palisade.db");
    let public_key = gw.dir.path().join("palisade-audit.key.pub");

    let (code, out) = audit_verify_cli(&gw.sqlite_url(), &public_key);
    assert_eq!(code, Some(0), "the untouched log: {out}");

    let pool = sqlx::SqlitePool::connect(&gw.sqlite_url()).await.unwrap();
    let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(records > 30, "{records} records");
    let middle = records / 2;
    let trials = [
        (
            "edit-first",
            "UPDATE audit_records SET header = CAST(REPLACE(CAST(header AS TEXT), '\"allow\"', '\"deny\"') AS BLOB) WHERE seq = 0".to_owned(),
            "position 0: edited",
        ),
        (
            "delete-middle",
            format!("DELETE FROM audit_records WHERE seq = {middle}"),
            "missing",
        ),
        (
            "truncate",
            format!("DELETE FROM audit_records WHERE seq >= {}", records - 3),
            "truncated",
        ),
    ];
    for (trial, sql, expected) in trials {
        let url = tampered(&db, trial, &sql).await;
        let (code, out) = audit_verify_cli(&url, &public_key);
        assert_eq!(code, Some(1), "{trial}: {out}");
        assert!(
            out.contains(expected),
            "{trial}: expected `{expected}` in\n{out}"
        );
    }
    // The deleted record is named by its position.
    let url = tampered(
        &db,
        "delete-again",
        &format!("DELETE FROM audit_records WHERE seq = {middle}"),
    )
    .await;
    let (_, out) = audit_verify_cli(&url, &public_key);
    assert!(
        out.contains(&format!("position {middle}: missing")),
        "{out}"
    );
}
