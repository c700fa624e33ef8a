//! The audit ledger records every kind of interaction, with its fields filled, on both
//! stores (SQLite and PostgreSQL): an allowed chat and an allowed stream, a policy
//! denial, a rate-limited request, a failed authentication, an upstream error, an unknown
//! route, an embeddings call, a request a content scanner blocked, a stream whose client
//! went away, and admin mutations. Each request is found by the
//! `x-request-id` its response carried; its record names who (actor), from where
//! (client IP, user agent), what (action, model and model version), the outcome
//! (decision, reason, status, deciding policies, upstream status), usage and timings,
//! and for admin mutations what changed — never key material, never scanned text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, openai_provider, say_hi, user_message};
use palisade_audit::export::RecordView;
use palisade_audit::store::Query;
use palisade_testkit::mock_upstream::MockUpstream;
use palisade_testkit::postgres::PgHarness;
use reqwest::Method;
use serde_json::{Value, json};

/// An AWS access key id of the documented shape, made up for this test.
const AWS_KEY: &str = "AKIAZ7Q4PLMR2WX5TYUV";

const USER_AGENT: &str = "palisade-audit-records-test/1.0 (+distinctive)";

const POLICIES: &str = r#"
@id("admins")
permit(principal is Palisade::AdminToken, action, resource) when { principal.role == "admin" };
@id("users-use-models")
permit(principal is Palisade::User, action, resource is Palisade::Model);
@id("no-forbidden-models")
forbid(principal, action, resource is Palisade::Model) when { resource.labels.contains("forbidden") };
"#;

fn upstreams(mock_base: &str) -> String {
    let sim = r#"
[[providers]]
name = "sim"
kind = "simulated"
reply = "a recorded answer"
[[models]]
name = "sim"
provider = "sim"
upstream_model = "sim-2025-01"
[[models]]
name = "forbidden"
provider = "sim"
labels = ["forbidden"]
[[providers]]
name = "streamer"
kind = "simulated"
chunk_interval_ms = 100
reply = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
[[models]]
name = "streamer"
provider = "streamer"
[[limits.rules]]
scope = "user"
match = "limited"
requests_per_minute = 1
"#;
    let mock = openai_provider(
        "mock",
        mock_base,
        "max_retries = 0",
        &[("broken", "error-500")],
    );
    // The built-in default profile: secrets are blocked.
    format!("{sim}\n{mock}\n[scan]\nenabled = true\n")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .user_agent(USER_AGENT)
        .build()
        .unwrap()
}

/// One request sent, and what its record must say.
#[derive(Debug)]
struct Sent {
    what: &'static str,
    request_id: String,
    status: u16,
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Sends a data-plane request and reads the whole body.
async fn send(what: &'static str, req: reqwest::RequestBuilder) -> (Sent, String) {
    let resp = req.send().await.unwrap();
    let sent = Sent {
        what,
        request_id: request_id(&resp),
        status: resp.status().as_u16(),
    };
    let body = tokio::time::timeout(Duration::from_secs(20), resp.text())
        .await
        .expect("body within 20 s")
        .unwrap();
    (sent, body)
}

/// Creates user `name` in `groups` and a key for it: `(key, key id, user id)`.
async fn user_with_key(gw: &Gateway, name: &str, groups: &[&str]) -> (String, String, String) {
    let (status, user) = gw
        .admin_post("/admin/v1/users", json!({"name": name, "groups": groups}))
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, key) = gw.admin_post("/admin/v1/keys", json!({"user": name})).await;
    assert_eq!(status, 201, "{key}");
    (
        key["key"].as_str().unwrap().to_owned(),
        key["id"].as_str().unwrap().to_owned(),
        user["id"].as_str().unwrap().to_owned(),
    )
}

/// The record of `request_id`, waiting (bounded) for it to be committed.
async fn record_of(store: &palisade_store::Store, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = store
            .audit
            .search(&Query {
                request_id: Some(request_id.to_owned()),
                limit: 10,
                ..Query::default()
            })
            .await
            .unwrap();
        if !found.is_empty() {
            assert_eq!(found.len(), 1, "one record per request: {request_id}");
            let view = RecordView::from_stored(&found[0]).expect("header parses");
            return serde_json::to_value(view).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no audit record for request {request_id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn policies_of(r: &Value) -> Vec<String> {
    r["policies"]
        .as_array()
        .map(|a| a.iter().map(|p| p.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// What every record has, whatever the interaction.
fn assert_common(r: &Value, sent: &Sent, started_us: i64) {
    let ctx = format!("{}: {r:#}", sent.what);
    assert_eq!(r["request_id"], sent.request_id.as_str(), "{ctx}");
    assert_eq!(r["status"], sent.status, "{ctx}");
    let time_us = r["time_us"].as_i64().expect("time_us");
    assert!(
        time_us >= started_us - 1_000_000 && time_us <= palisade_audit::event::now_us(),
        "{ctx}"
    );
    let time = r["time"].as_str().unwrap();
    assert_eq!(
        palisade_audit::export::parse_time(time),
        Some(time_us),
        "{ctx}"
    );
    assert!(r["seq"].is_u64(), "{ctx}");
    assert_eq!(r["leaf_hash"].as_str().unwrap().len(), 64, "{ctx}");
    assert_eq!(r["client_ip"], "127.0.0.1", "{ctx}");
    assert_eq!(r["user_agent"], USER_AGENT, "{ctx}");
    assert!(r["latency_ms"].as_f64().unwrap() > 0.0, "{ctx}");
    assert!(r["overhead_ms"].as_f64().unwrap() >= 0.0, "{ctx}");
    assert!(!r["reason"].as_str().unwrap().is_empty(), "{ctx}");
    // Content is not captured by default.
    assert!(r.get("content").is_none(), "{ctx}");
    assert!(r.get("subject").is_none(), "{ctx}");
}

/// Sends one of every kind of interaction through a gateway on `store_url` (the default
/// SQLite file when `None`) and checks each one's record in that store.
async fn every_interaction_is_recorded(store_url: Option<String>) {
    let started_us = palisade_audit::event::now_us();
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("policies.cedar");
    std::fs::write(&policy_file, POLICIES).unwrap();
    let rest = format!(
        "[policy]\nfile = \"{}\"\n{}",
        policy_file.display(),
        upstreams(&mock.base_url())
    );
    let gw = match &store_url {
        Some(url) => Gateway::start_on_store(dir, url, "", &rest, "http", client()).await,
        None => Gateway::start_with(dir, "", &rest, "http", client()).await,
    };
    let store_url = store_url.unwrap_or_else(|| gw.sqlite_url());

    let (alice, alice_key_id, alice_id) = user_with_key(&gw, "alice", &["research", "staff"]).await;
    let (limited, _, _) = user_with_key(&gw, "limited", &["staff"]).await;
    let chat = |key: &str, body: Value| gw.chat(key, body);
    let mut sent = Vec::new();

    let (s, body) = send(
        "chat",
        chat(
            &alice,
            json!({"model": "sim", "messages": user_message("hello there")}),
        ),
    )
    .await;
    assert_eq!(s.status, 200, "{body}");
    sent.push(s);

    let (s, body) = send(
        "stream",
        chat(
            &alice,
            json!({"model": "sim", "messages": user_message("stream please"), "stream": true}),
        ),
    )
    .await;
    assert_eq!(s.status, 200, "{body}");
    assert!(body.contains("data: [DONE]"), "{body}");
    sent.push(s);

    let (s, body) = send("denied", chat(&alice, say_hi("forbidden"))).await;
    assert_eq!(s.status, 403, "{body}");
    sent.push(s);

    let (s, body) = send("limit-first", chat(&limited, say_hi("sim"))).await;
    assert_eq!(s.status, 200, "{body}");
    let (s, body) = send("limited", chat(&limited, say_hi("sim"))).await;
    assert_eq!(s.status, 429, "{body}");
    sent.push(s);

    let (s, body) = send(
        "bad-key",
        chat("pal_nosuchkeyid_notavalidsecret0123456789", say_hi("sim")),
    )
    .await;
    assert_eq!(s.status, 401, "{body}");
    sent.push(s);

    // Alice's key id with a wrong secret: the record names the key tried, apart from the
    // key id of authenticated traffic.
    let (s, body) = send(
        "wrong-secret",
        chat(
            &format!("pal_{alice_key_id}_wrongsecret0123456789"),
            say_hi("sim"),
        ),
    )
    .await;
    assert_eq!(s.status, 401, "{body}");
    sent.push(s);

    let (s, body) = send(
        "blocked",
        chat(
            &alice,
            json!({"model": "sim", "messages": user_message(&format!("deploy with {AWS_KEY} please"))}),
        ),
    )
    .await;
    assert_eq!(s.status, 400, "{body}");
    assert!(body.contains("content_policy_violation"), "{body}");
    sent.push(s);

    // A stream whose client reads its first words and goes away: recorded all the same.
    let resp = chat(
        &alice,
        json!({"model": "streamer", "messages": user_message("count slowly"), "stream": true}),
    )
    .send()
    .await
    .unwrap();
    let s = Sent {
        what: "disconnected",
        request_id: request_id(&resp),
        status: resp.status().as_u16(),
    };
    assert_eq!(s.status, 200);
    let mut chunks = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("three") {
        let chunk = futures::StreamExt::next(&mut chunks)
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(chunks);
    sent.push(s);

    let (s, body) = send("upstream-error", chat(&alice, say_hi("broken"))).await;
    assert_eq!(s.status, 502, "{body}");
    sent.push(s);

    let (s, body) = send(
        "unknown-route",
        gw.http
            .get(format!("{}/v1/no/such/route", gw.base))
            .bearer_auth(&alice),
    )
    .await;
    assert_eq!(s.status, 404, "{body}");
    sent.push(s);

    let (s, body) = send(
        "embeddings",
        gw.http
            .post(format!("{}/v1/embeddings", gw.base))
            .bearer_auth(&alice)
            .json(&json!({"model": "sim", "input": "embed me"})),
    )
    .await;
    assert_eq!(s.status, 200, "{body}");
    sent.push(s);

    let (status, created, id) = gw
        .admin_call(
            Method::POST,
            "/admin/v1/keys",
            Some(json!({"user": "alice", "name": "audited"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let new_key = created["key"].as_str().unwrap().to_owned();
    let new_key_id = created["id"].as_str().unwrap().to_owned();
    sent.push(Sent {
        what: "admin-create-key",
        request_id: id,
        status,
    });
    let (status, revoked, id) = gw
        .admin_call(
            Method::DELETE,
            &format!("/admin/v1/keys/{new_key_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    sent.push(Sent {
        what: "admin-revoke-key",
        request_id: id,
        status,
    });

    let store = palisade_store::connect(&store_url, 2).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    for s in &sent {
        let r = record_of(&store, &s.request_id).await;
        assert!(seen.insert(r["seq"].as_u64().unwrap()), "distinct records");
        assert_common(&r, s, started_us);
        let ctx = format!("{}: {r:#}", s.what);
        let policies = policies_of(&r);
        match s.what {
            "chat" | "stream" | "denied" | "blocked" | "disconnected" | "upstream-error"
            | "embeddings" => {
                assert_eq!(r["plane"], "data", "{ctx}");
                assert_eq!(r["actor"]["key_id"], alice_key_id.as_str(), "{ctx}");
                assert_eq!(r["actor"]["user"], "alice", "{ctx}");
                assert_eq!(r["actor"]["user_id"], alice_id.as_str(), "{ctx}");
                assert_eq!(r["actor"]["groups"], json!(["research", "staff"]), "{ctx}");
                assert!(r["actor"].get("token_id").is_none(), "{ctx}");
            }
            _ => {}
        }
        match s.what {
            "chat" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "sim", "{ctx}");
                assert_eq!(r["model_version"], "sim-2025-01", "{ctx}");
                assert_eq!(r["decision"], "allow", "{ctx}");
                assert_eq!(r["reason"], "ok", "{ctx}");
                assert_eq!(r["upstream_status"], 200, "{ctx}");
                assert_eq!(r["stream"], false, "{ctx}");
                assert!(policies.contains(&"users-use-models".to_owned()), "{ctx}");
                let usage = &r["usage"];
                assert!(usage["prompt_tokens"].as_u64().unwrap() > 0, "{ctx}");
                assert!(usage["completion_tokens"].as_u64().unwrap() > 0, "{ctx}");
                assert_eq!(
                    usage["total_tokens"].as_u64().unwrap(),
                    usage["prompt_tokens"].as_u64().unwrap()
                        + usage["completion_tokens"].as_u64().unwrap(),
                    "{ctx}"
                );
            }
            "stream" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "sim", "{ctx}");
                assert_eq!(r["model_version"], "sim-2025-01", "{ctx}");
                assert_eq!(r["decision"], "allow", "{ctx}");
                assert_eq!(r["reason"], "ok", "{ctx}");
                assert_eq!(r["upstream_status"], 200, "{ctx}");
                assert_eq!(r["stream"], true, "{ctx}");
                assert!(policies.contains(&"users-use-models".to_owned()), "{ctx}");
                assert!(
                    r["usage"]["completion_tokens"].as_u64().unwrap() > 0,
                    "{ctx}"
                );
            }
            "denied" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "forbidden", "{ctx}");
                assert!(r["model_version"].is_string(), "{ctx}");
                assert_eq!(r["decision"], "deny", "{ctx}");
                assert_eq!(r["reason"], "access_denied", "{ctx}");
                assert!(
                    policies.contains(&"no-forbidden-models".to_owned()),
                    "the deciding forbid is named: {ctx}"
                );
                assert!(r.get("upstream_status").is_none(), "{ctx}");
                assert!(r.get("usage").is_none(), "{ctx}");
            }
            "blocked" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "sim", "{ctx}");
                assert_eq!(r["decision"], "block", "{ctx}");
                assert_eq!(r["reason"], "content_policy_violation", "{ctx}");
                assert!(
                    r.get("upstream_status").is_none(),
                    "nothing went upstream: {ctx}"
                );
                let findings = r["findings"].as_array().expect("findings");
                let secret = findings
                    .iter()
                    .find(|f| f["kind"] == "secret")
                    .expect("the secret finding");
                assert_eq!(secret["action"], "block", "{ctx}");
                assert_eq!(secret["location"], "input.messages[0]", "{ctx}");
                let start = "deploy with ".len() as u64;
                assert_eq!(secret["start"], start, "{ctx}");
                assert_eq!(secret["end"], start + AWS_KEY.len() as u64, "{ctx}");
                assert!(
                    secret["detector"].as_str().is_some_and(|d| !d.is_empty()),
                    "{ctx}"
                );
                assert!(!ctx.contains(AWS_KEY), "never the matched text: {ctx}");
            }
            "disconnected" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "streamer", "{ctx}");
                assert_eq!(r["decision"], "allow", "{ctx}");
                assert_eq!(r["reason"], "client_disconnected", "{ctx}");
                assert_eq!(r["stream"], true, "{ctx}");
                assert_eq!(r["upstream_status"], 200, "{ctx}");
                assert!(
                    r["usage"]["completion_tokens"].as_u64().unwrap() > 0,
                    "what was streamed before the client left is counted: {ctx}"
                );
            }
            "limited" => {
                assert_eq!(r["plane"], "data", "{ctx}");
                assert_eq!(r["actor"]["user"], "limited", "{ctx}");
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "sim", "{ctx}");
                assert_eq!(r["decision"], "limit", "{ctx}");
                assert_eq!(r["reason"], "rate_limit_exceeded", "{ctx}");
                assert!(r.get("upstream_status").is_none(), "{ctx}");
            }
            "wrong-secret" => {
                assert_eq!(
                    r["actor"],
                    json!({"attempted_key_id": alice_key_id}),
                    "an attempt under a key's id is not that key's traffic: {ctx}"
                );
                assert_eq!(r["decision"], "deny", "{ctx}");
                assert_eq!(r["reason"], "invalid_api_key", "{ctx}");
                assert!(!ctx.contains("wrongsecret"), "{ctx}");
            }
            "bad-key" => {
                assert_eq!(r["plane"], "data", "{ctx}");
                assert_eq!(r["actor"], json!({}), "nobody is known: {ctx}");
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["decision"], "deny", "{ctx}");
                assert_eq!(r["reason"], "invalid_api_key", "{ctx}");
                assert!(policies.is_empty(), "{ctx}");
                assert!(!ctx.contains("notavalidsecret"), "{ctx}");
            }
            "upstream-error" => {
                assert_eq!(r["action"], "chat.completions", "{ctx}");
                assert_eq!(r["model"], "broken", "{ctx}");
                assert_eq!(r["model_version"], "error-500", "{ctx}");
                assert_eq!(r["decision"], "error", "{ctx}");
                assert_eq!(r["reason"], "upstream_error", "{ctx}");
                assert_eq!(r["upstream_status"], 500, "{ctx}");
                assert!(policies.contains(&"users-use-models".to_owned()), "{ctx}");
            }
            "unknown-route" => {
                assert_eq!(r["plane"], "data", "{ctx}");
                assert_eq!(r["action"], "unmatched", "{ctx}");
                assert_eq!(r["decision"], "error", "{ctx}");
                assert_eq!(r["reason"], "not_found", "{ctx}");
                assert!(r.get("model").is_none(), "{ctx}");
            }
            "embeddings" => {
                assert_eq!(r["action"], "embeddings", "{ctx}");
                assert_eq!(r["model"], "sim", "{ctx}");
                assert_eq!(r["model_version"], "sim-2025-01", "{ctx}");
                assert_eq!(r["decision"], "allow", "{ctx}");
                assert_eq!(r["upstream_status"], 200, "{ctx}");
                assert!(policies.contains(&"users-use-models".to_owned()), "{ctx}");
                assert!(r["usage"]["prompt_tokens"].as_u64().unwrap() > 0, "{ctx}");
            }
            "admin-create-key" | "admin-revoke-key" => {
                assert_eq!(r["plane"], "admin", "{ctx}");
                assert!(
                    r["actor"]["token_id"]
                        .as_str()
                        .is_some_and(|t| !t.is_empty()),
                    "{ctx}"
                );
                assert_eq!(r["actor"]["role"], "admin", "{ctx}");
                assert!(r["actor"].get("key_id").is_none(), "{ctx}");
                assert_eq!(r["decision"], "allow", "{ctx}");
                assert_eq!(r["reason"], "ok", "{ctx}");
                assert!(policies.contains(&"admins".to_owned()), "{ctx}");
                let change = &r["change"];
                assert_eq!(change["target"], format!("key:{new_key_id}"), "{ctx}");
                assert_eq!(change["after"]["id"], new_key_id.as_str(), "{ctx}");
                if s.what == "admin-create-key" {
                    assert_eq!(r["action"], "POST /admin/v1/keys", "{ctx}");
                    assert!(change.get("before").is_none(), "{ctx}");
                } else {
                    assert_eq!(r["action"], "DELETE /admin/v1/keys/{id}", "{ctx}");
                    assert_eq!(change["before"]["id"], new_key_id.as_str(), "{ctx}");
                    assert!(change["before"]["revoked_at"].is_null(), "{ctx}");
                    assert!(change["after"]["revoked_at"].is_i64(), "{ctx}");
                }
                // No key material: neither the plaintext key, its secret, nor its hash.
                let text = r.to_string();
                assert!(!text.contains("pal_"), "{ctx}");
                assert!(!text.contains(&new_key), "{ctx}");
                assert!(!text.contains(new_key.rsplit('_').next().unwrap()), "{ctx}");
                assert!(!text.contains("secret_hash"), "{ctx}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    store.close().await;
    let mut gw = gw;
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
}

#[tokio::test]
async fn every_interaction_is_recorded_on_sqlite() {
    every_interaction_is_recorded(None).await;
}

#[tokio::test]
async fn every_interaction_is_recorded_on_postgres() {
    // A missing PostgreSQL is an error, never a skip (see palisade_testkit::postgres).
    let pg = PgHarness::start().await.unwrap();
    every_interaction_is_recorded(Some(pg.url())).await;
}
