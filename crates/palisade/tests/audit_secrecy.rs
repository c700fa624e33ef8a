//! Secrets stay out of storage and logs. With `[audit] capture = "full"` the prompts and
//! replies are captured (the admin API can open them), yet once the gateway has stopped
//! none of these appear in plaintext in any file of the store (the SQLite database, its
//! `-wal` and `-shm`) nor in the gateway's log: the prompt text, the model's reply text
//! (plain and streamed), the API key (whole or its secret part), a bad key presented to
//! the gateway, the bootstrap admin token and a minted admin token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ADMIN_TOKEN, Gateway, user_message};
use serde_json::{Value, json};

const PROMPT: &str = "prompt-secret-K9P2: the merger with Globex closes on Friday";
const REPLY: &str = "zebra-reply-QX81 confidential answer about Globex";
const BAD_KEY: &str = "pal_badkeyid0000_wrongsecretVq7Lm2Zp9Xc4Rt8Yh1";

fn config() -> String {
    format!(
        r#"
[audit]
capture = "full"
[[providers]]
name = "sim"
kind = "simulated"
reply = "{REPLY}"
[[models]]
name = "sim"
provider = "sim"
"#
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The secret part of a `pal_<id>_<secret>` bearer.
fn secret_part(bearer: &str) -> &str {
    bearer.rsplit('_').next().unwrap()
}

async fn open_content(gw: &Gateway, token: &str, request_id: &str) -> Value {
    let page: Value = gw
        .http
        .get(format!(
            "{}/admin/v1/audit?request_id={request_id}",
            gw.admin
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seq = page["data"][0]["seq"].as_u64().expect("a record");
    gw.http
        .get(format!("{}/admin/v1/audit/{seq}/content", gw.admin))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn prompts_replies_keys_and_tokens_are_never_stored_or_logged_in_plaintext() {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut gw =
        Gateway::start_with(tempfile::tempdir().unwrap(), "", &config(), "http", http).await;
    let key = gw.key_for("carol", &["legal"]).await;
    let auditor = gw.admin_token("auditor").await;

    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "messages": user_message(PROMPT)}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let chat_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], REPLY);

    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "messages": user_message(PROMPT), "stream": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let stream_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.text().await.unwrap().contains("[DONE]"));

    let resp = gw
        .http
        .post(format!("{}/v1/embeddings", gw.base))
        .bearer_auth(&key)
        .json(&json!({"model": "sim", "input": PROMPT}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = gw
        .chat(
            BAD_KEY,
            json!({"model": "sim", "messages": user_message(PROMPT)}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // The content was captured: an auditor can open it.
    let c = open_content(&gw, &auditor, &chat_id).await;
    assert_eq!(c["state"], "plain", "{c}");
    assert_eq!(c["content"]["request"]["messages"][0]["content"], PROMPT);
    assert_eq!(
        c["content"]["response"]["choices"][0]["message"]["content"],
        REPLY
    );
    let c = open_content(&gw, &auditor, &stream_id).await;
    assert_eq!(c["state"], "plain", "{c}");
    assert_eq!(c["content"]["stream_text"], REPLY, "{c}");

    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());

    let dir = gw.dir.path();
    let mut files: Vec<_> = ["palisade.db", "palisade.db-wal", "palisade.db-shm"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect();
    assert!(files.iter().any(|p| p.ends_with("palisade.db")));
    files.push(gw.log.clone());
    let log = gw.logs();
    assert!(
        log.contains(&chat_id),
        "sanity: the log is the gateway's: {log}"
    );
    let secrets: [(&str, &str); 9] = [
        ("prompt", PROMPT),
        ("prompt marker", "prompt-secret-K9P2"),
        ("reply", REPLY),
        ("reply marker", "zebra-reply-QX81"),
        ("API key", &key),
        ("API key secret", secret_part(&key)),
        ("presented bad key secret", secret_part(BAD_KEY)),
        ("bootstrap admin token", ADMIN_TOKEN),
        ("minted admin token", &auditor),
    ];
    // Sanity: the search reads what the store wrote (the WAL may not be checkpointed).
    assert!(
        files[..files.len() - 1]
            .iter()
            .any(|p| contains(&std::fs::read(p).unwrap(), b"carol")),
        "the user name is stored somewhere in {files:?}"
    );
    let mut leaks = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        for (what, secret) in &secrets {
            if contains(&bytes, secret.as_bytes()) {
                leaks.push(format!("{what} in {}", file_name(path)));
            }
        }
        if contains(&bytes, secret_part(&auditor).as_bytes()) {
            leaks.push(format!("minted admin token secret in {}", file_name(path)));
        }
    }
    assert!(leaks.is_empty(), "plaintext secrets found: {leaks:?}");
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
