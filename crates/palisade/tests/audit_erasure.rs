//! Crypto-shredding one data subject. With `[audit] capture = "full"`, content is
//! encrypted under its subject's data key: the end user the client names in the OpenAI
//! `user` field — scoped to the calling user (`<user id>:<end-user id>`) unless
//! `audit.end_user_scope = "global"` — else the calling user's id. `DELETE /admin/v1/subjects/{id}`
//! destroys that key: afterwards the subject's content is `erased` by every means
//! Palisade has (the admin API, and the library holding the master key), another
//! subject's content still opens, the erasure itself is an admin record that names the
//! subject only by its pseudonymous reference, the destroyed key's bytes are in none of
//! the SQLite files once the gateway stopped, and the log still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Gateway, audit_verify_cli, user_message};
use palisade_audit::checkpoint::NoteVerifier;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::{AuditKeys, ContentView};
use reqwest::Method;
use serde_json::{Value, json};

const CONFIG: &str = r#"
[audit]
capture = "full"
[[providers]]
name = "sim"
kind = "simulated"
reply = "the model's answer"
[[models]]
name = "sim"
provider = "sim"
"#;

const END_USER: &str = "end-user-alpha";
const SECRET_PROMPT: &str = "alpha's private note: the locker code is 4471-ALPHA";
const OTHER_PROMPT: &str = "bob's ordinary question about invoices";

/// A user's id, through the admin API.
async fn user_id(gw: &Gateway, name: &str) -> String {
    let (status, user, _) = gw
        .admin_call(Method::GET, &format!("/admin/v1/users/{name}"), None)
        .await;
    assert_eq!(status, 200, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

/// The subject path of the erasure route.
fn subject_path(subject: &str) -> String {
    format!("/admin/v1/subjects/{}", urlencoding(subject))
}

/// Sends a chat and returns its request id.
async fn chat(gw: &Gateway, key: &str, body: Value) -> String {
    let resp = gw.chat(key, body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    resp.text().await.unwrap();
    id
}

/// The record of a request, through the admin API.
async fn record(gw: &Gateway, request_id: &str) -> Value {
    let (status, page, _) = gw
        .admin_call(
            Method::GET,
            &format!("/admin/v1/audit?request_id={request_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{page}");
    data[0].clone()
}

/// A record's content through the admin API.
async fn content(gw: &Gateway, seq: u64) -> Value {
    let (status, body, _) = gw
        .admin_call(Method::GET, &format!("/admin/v1/audit/{seq}/content"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The store and the ledger keys, as anyone holding the master key file could open them.
async fn open_with_master_key(dir: &Path) -> (palisade_store::Store, Arc<AuditKeys>) {
    let url = format!("sqlite://{}", dir.join("palisade.db").display());
    let store = palisade_store::connect(&url, 2).await.unwrap();
    let text = std::fs::read_to_string(dir.join("palisade-master.key")).unwrap();
    let master = MasterKey::from_text(&text).unwrap();
    let keys = AuditKeys::load(store.audit.as_ref(), Keyring::new(master, vec![]))
        .await
        .unwrap();
    (store, keys)
}

async fn open_seq(store: &palisade_store::Store, keys: &AuditKeys, seq: u64) -> ContentView {
    let record = store.audit.record(seq).await.unwrap().expect("record");
    keys.open_content(store.audit.as_ref(), &record)
        .await
        .unwrap()
}

/// The SQLite files of the store that exist.
fn store_files(dir: &Path) -> Vec<std::path::PathBuf> {
    ["palisade.db", "palisade.db-wal", "palisade.db-shm"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The files among `files` that hold `needle`.
fn files_holding(files: &[std::path::PathBuf], needle: &[u8]) -> Vec<String> {
    files
        .iter()
        .filter(|p| contains(&std::fs::read(p).unwrap(), needle))
        .map(|p| p.display().to_string())
        .collect()
}

#[tokio::test]
async fn erasing_a_subject_shreds_only_their_content_and_the_log_still_verifies() {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut gw = Gateway::start_with(tempfile::tempdir().unwrap(), "", CONFIG, "http", http).await;
    let alice = gw.key_for("alice", &["staff"]).await;
    let bob = gw.key_for("bob", &["staff"]).await;
    let bob_id = user_id(&gw, "bob").await;
    let alpha = format!("{}:{END_USER}", user_id(&gw, "alice").await);

    let mut alpha_ids = Vec::new();
    for i in 0..2 {
        let body = json!({
            "model": "sim",
            "user": END_USER,
            "messages": user_message(&format!("{SECRET_PROMPT} #{i}")),
        });
        alpha_ids.push(chat(&gw, &alice, body).await);
    }
    let bob_request = chat(
        &gw,
        &bob,
        json!({"model": "sim", "messages": user_message(OTHER_PROMPT)}),
    )
    .await;

    // Each record names its subject by reference only, and its content opens.
    let mut alpha_seqs = Vec::new();
    let mut alpha_ref = String::new();
    for id in &alpha_ids {
        let r = record(&gw, id).await;
        assert!(!r.to_string().contains(END_USER), "{r}");
        assert!(!r.to_string().contains("vault code"), "{r}");
        let subject = r["subject"].as_str().unwrap().to_owned();
        assert!(subject.starts_with("s_"), "{r}");
        assert!(alpha_ref.is_empty() || alpha_ref == subject);
        alpha_ref = subject;
        assert_eq!(r["content_stored"], true, "{r}");
        let seq = r["seq"].as_u64().unwrap();
        let c = content(&gw, seq).await;
        assert_eq!(c["state"], "plain", "{c}");
        assert_eq!(c["content"]["request"]["user"], END_USER, "{c}");
        assert!(
            c["content"]["request"]["messages"][0]["content"]
                .as_str()
                .unwrap()
                .starts_with(SECRET_PROMPT),
            "{c}"
        );
        assert!(c["content"]["response"]["choices"].is_array(), "{c}");
        alpha_seqs.push(seq);
    }
    let bob_record = record(&gw, &bob_request).await;
    let bob_seq = bob_record["seq"].as_u64().unwrap();
    let bob_ref = bob_record["subject"].as_str().unwrap().to_owned();
    assert_ne!(bob_ref, alpha_ref);
    let c = content(&gw, bob_seq).await;
    assert_eq!(c["state"], "plain", "{c}");
    assert_eq!(
        c["content"]["request"]["messages"][0]["content"], OTHER_PROMPT,
        "{c}"
    );

    // The same through the library with the master key; and alpha's wrapped data key as
    // stored, before the erasure.
    let (store, keys) = open_with_master_key(gw.dir.path()).await;
    assert_eq!(
        keys.subject_ref(&alpha),
        alpha_ref,
        "alpha is an end user of alice's"
    );
    assert_eq!(
        keys.subject_ref(&bob_id),
        bob_ref,
        "bob's subject is his user id"
    );
    for seq in alpha_seqs.iter().chain([&bob_seq]) {
        assert!(
            matches!(
                open_seq(&store, &keys, *seq).await,
                ContentView::Plain { .. }
            ),
            "record {seq} opens with the master key"
        );
    }
    let alpha_key = store
        .audit
        .subject_key(&alpha_ref)
        .await
        .unwrap()
        .expect("alpha has a data key");
    let bob_key = store.audit.subject_key(&bob_ref).await.unwrap().unwrap();
    // Close before the erasure: an open reader would hold back the WAL truncation that
    // follows a key's destruction.
    store.close().await;
    drop(keys);
    let old_wrapped = alpha_key.wrapped.clone();
    assert!(old_wrapped.len() >= 32);
    assert!(
        !files_holding(&store_files(gw.dir.path()), &old_wrapped).is_empty(),
        "sanity: the byte search finds the key while it exists"
    );

    // Erase.
    let (status, erased, erase_request) = gw
        .admin_call(Method::DELETE, &subject_path(&alpha), None)
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"], true, "{erased}");
    assert_eq!(erased["subject_ref"], alpha_ref.as_str(), "{erased}");

    // Through the API: alpha's content is erased, bob's still opens.
    for seq in &alpha_seqs {
        let c = content(&gw, *seq).await;
        assert_eq!(c, json!({"state": "erased"}), "record {seq}");
    }
    assert_eq!(content(&gw, bob_seq).await["state"], "plain");

    // The erasure is itself recorded, naming the subject by reference only.
    let r = record(&gw, &erase_request).await;
    assert_eq!(r["plane"], "admin", "{r}");
    assert_eq!(r["action"], "DELETE /admin/v1/subjects/{id}", "{r}");
    assert_eq!(r["decision"], "allow", "{r}");
    assert_eq!(r["actor"]["role"], "admin", "{r}");
    let target = r["change"]["target"].as_str().unwrap();
    assert!(target.starts_with("subject:"), "{r}");
    assert_eq!(target, format!("subject:{alpha_ref}"), "{r}");
    assert!(!r.to_string().contains(END_USER), "{r}");
    // Erasing again is harmless and says there was nothing left.
    let (status, again, _) = gw
        .admin_call(Method::DELETE, &subject_path(&alpha), None)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["erased"], false, "{again}");

    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    assert!(
        !gw.logs().contains(END_USER),
        "the raw subject id is not logged"
    );
    let dir = gw.dir.path().to_owned();

    // No copy of the destroyed key survives in the database, its WAL or its shared memory.
    let files = store_files(&dir);
    assert!(!files.is_empty());
    let holding = files_holding(&files, &old_wrapped);
    assert!(
        holding.is_empty(),
        "the destroyed key's bytes remain in {holding:?}"
    );
    assert!(
        !files_holding(&files, &bob_key.wrapped).is_empty(),
        "bob's key is still stored"
    );
    let holding = files_holding(&files, END_USER.as_bytes());
    assert!(
        holding.is_empty(),
        "the raw subject id is stored in {holding:?}"
    );

    // By any means Palisade has, master key included: alpha's content is gone, bob's is
    // not.
    let (store, keys) = open_with_master_key(&dir).await;
    assert!(store.audit.subject_key(&alpha_ref).await.unwrap().is_none());
    for seq in &alpha_seqs {
        assert_eq!(
            open_seq(&store, &keys, *seq).await,
            ContentView::Erased,
            "record {seq}"
        );
    }
    match open_seq(&store, &keys, bob_seq).await {
        ContentView::Plain { content } => {
            assert_eq!(content["request"]["messages"][0]["content"], OTHER_PROMPT)
        }
        other => panic!("bob's content: {other:?}"),
    }

    // The log still verifies: shredding removes keys, never records or ciphertexts.
    let public_key = dir.join("palisade-audit.key.pub");
    let verifier =
        NoteVerifier::parse(std::fs::read_to_string(&public_key).unwrap().trim()).unwrap();
    let report = palisade_audit::verify::verify(store.audit.clone(), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.with_content, 3, "{report:#?}");
    store.close().await;
    drop(keys);
    let (code, out) = audit_verify_cli(
        &format!("sqlite://{}", dir.join("palisade.db").display()),
        &public_key,
    );
    assert_eq!(code, Some(0), "palisade audit verify:\n{out}");

    let holding = files_holding(&store_files(&dir), &old_wrapped);
    assert!(
        holding.is_empty(),
        "the destroyed key's bytes reappeared in {holding:?}"
    );
}

/// An end-user id longer than a subject id's 256 characters is one subject for sealing
/// and erasure alike: erasing it by the id the client sent (scoped to the caller) shreds
/// its content.
#[tokio::test]
async fn a_long_end_user_id_is_erased_by_the_id_the_client_sent() {
    let mut gw = Gateway::start("", CONFIG).await;
    let key = gw.key_for("carol", &["staff"]).await;
    let long_id = format!("tenant-7/{}", "é".repeat(300));
    let body = json!({"model": "sim", "user": long_id, "messages": user_message(SECRET_PROMPT)});
    let request_id = chat(&gw, &key, body).await;
    let seq = record(&gw, &request_id).await["seq"].as_u64().unwrap();
    assert_eq!(content(&gw, seq).await["state"], "plain");
    let subject = format!("{}:{long_id}", user_id(&gw, "carol").await);
    let (status, erased, _) = gw
        .admin_call(Method::DELETE, &subject_path(&subject), None)
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"], true, "{erased}");
    assert_eq!(content(&gw, seq).await, json!({"state": "erased"}));
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
}

/// `text` as one path segment.
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Erasure while the gateway is busy (data-plane writes and audit reads in flight), then a
/// crash (SIGKILL, no shutdown work): the destroyed key already left no copy in the store
/// files when the erasure was answered, and the log verifies.
#[tokio::test]
async fn erasure_under_load_is_complete_before_a_crash() {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut gw = Gateway::start_with(tempfile::tempdir().unwrap(), "", CONFIG, "http", http).await;
    let alice = gw.key_for("alice", &["staff"]).await;
    let bob = gw.key_for("bob", &["staff"]).await;
    let alpha = format!("{}:{END_USER}", user_id(&gw, "alice").await);
    let mut alpha_seqs = Vec::new();
    for i in 0..3 {
        let body = json!({
            "model": "sim",
            "user": END_USER,
            "messages": user_message(&format!("{SECRET_PROMPT} #{i}")),
        });
        let id = chat(&gw, &alice, body).await;
        alpha_seqs.push(record(&gw, &id).await["seq"].as_u64().unwrap());
    }
    let (store, keys) = open_with_master_key(gw.dir.path()).await;
    let alpha_ref = keys.subject_ref(&alpha);
    let old_wrapped = store
        .audit
        .subject_key(&alpha_ref)
        .await
        .unwrap()
        .expect("alpha has a data key")
        .wrapped;
    store.close().await;
    drop(keys);

    // Load: bob chats (records written) and audit searches and content reads (store
    // reads), until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for n in 0..4u32 {
        let (http, base, admin, bob, stop) = (
            gw.http.clone(),
            gw.base.clone(),
            gw.admin.clone(),
            bob.clone(),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let resp = if n.is_multiple_of(2) {
                    http.post(format!("{base}/v1/chat/completions"))
                        .bearer_auth(&bob)
                        .json(&json!({"model": "sim", "messages": user_message(&format!("bob {n}-{i}"))}))
                        .send()
                        .await
                } else if i.is_multiple_of(2) {
                    http.get(format!("{admin}/admin/v1/audit?limit=200"))
                        .bearer_auth(common::ADMIN_TOKEN)
                        .send()
                        .await
                } else {
                    http.get(format!("{admin}/admin/v1/audit/{}/content", i % 5))
                        .bearer_auth(common::ADMIN_TOKEN)
                        .send()
                        .await
                };
                let resp = resp.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                resp.bytes().await.unwrap();
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, erased, _) = gw
        .admin_call(Method::DELETE, &subject_path(&alpha), None)
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"], true, "{erased}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("load stops")
            .unwrap();
    }
    for seq in &alpha_seqs {
        assert_eq!(content(&gw, *seq).await, json!({"state": "erased"}));
    }
    gw.kill9();

    let dir = gw.dir.path().to_owned();
    let holding = files_holding(&store_files(&dir), &old_wrapped);
    assert!(
        holding.is_empty(),
        "the destroyed key's bytes remain in {holding:?}; log:\n{}",
        gw.logs()
    );
    let (store, keys) = open_with_master_key(&dir).await;
    for seq in &alpha_seqs {
        assert_eq!(open_seq(&store, &keys, *seq).await, ContentView::Erased);
    }
    let public_key = dir.join("palisade-audit.key.pub");
    let verifier =
        NoteVerifier::parse(std::fs::read_to_string(&public_key).unwrap().trim()).unwrap();
    let report = palisade_audit::verify::verify(store.audit.clone(), &verifier, None)
        .await
        .unwrap();
    assert!(report.ok, "{report:#?}");
    store.close().await;
}

/// Two applications (users) whose end users are both `42`: by default two subjects, so
/// erasing one application's `42` leaves the other's content readable (and neither can
/// file content under the other's end user); with `end_user_scope = "global"` one person,
/// erased everywhere by the end-user id alone.
#[tokio::test]
async fn end_users_belong_to_the_calling_user_unless_the_scope_is_global() {
    for global in [false, true] {
        let config = if global {
            CONFIG.replace("[audit]\n", "[audit]\nend_user_scope = \"global\"\n")
        } else {
            CONFIG.to_owned()
        };
        let mut gw = Gateway::start("", &config).await;
        let mut seqs = Vec::new();
        for app in ["app-one", "app-two"] {
            let key = gw.key_for(app, &["staff"]).await;
            let body =
                json!({"model": "sim", "user": "42", "messages": user_message(SECRET_PROMPT)});
            let request_id = chat(&gw, &key, body).await;
            seqs.push(record(&gw, &request_id).await["seq"].as_u64().unwrap());
        }
        let subject = if global {
            "42".to_owned()
        } else {
            format!("{}:42", user_id(&gw, "app-one").await)
        };
        let (status, erased, _) = gw
            .admin_call(Method::DELETE, &subject_path(&subject), None)
            .await;
        assert_eq!(status, 200, "{erased}");
        assert_eq!(erased["erased"], true, "{erased}");
        assert_eq!(content(&gw, seqs[0]).await, json!({"state": "erased"}));
        let other = content(&gw, seqs[1]).await;
        if global {
            assert_eq!(other, json!({"state": "erased"}), "one person everywhere");
        } else {
            assert_eq!(other["state"], "plain", "app-two's 42 is someone else");
            // The bare end-user id names no subject of its own.
            let (status, bare, _) = gw
                .admin_call(Method::DELETE, &subject_path("42"), None)
                .await;
            assert_eq!(status, 200, "{bare}");
            assert_eq!(bare["erased"], false, "{bare}");
            assert_eq!(content(&gw, seqs[1]).await["state"], "plain");
        }
        assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    }
}
