//! The audit ledger through the admin plane, against the real binary: every admin call
//! (reads, mutations, refused and unknown ones) leaves a record with who, from where,
//! what and what changed — never key material; the auditor role reads records, content
//! and proofs but manages nothing; search filters and cursor pagination; inclusion and
//! consistency proofs that verify against a signed checkpoint; the live SSE tail;
//! subject erasure; and the `palisade audit verify|export|checkpoint|public-key|search`
//! and `palisade subjects erase` verbs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, Gateway};
use palisade_audit::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use palisade_audit::merkle::{self, Hash};
use reqwest::Method;
use serde_json::{Value, json};

const USER_AGENT: &str = "palisade-audit-admin-test/2.0";

/// A simulated model, and full (encrypted) content capture.
const UPSTREAMS: &str = r#"
[audit]
capture = "full"

[[providers]]
name = "sim"
kind = "simulated"
reply = "an audited answer"

[[models]]
name = "sim"
provider = "sim"
"#;

async fn start() -> Gateway {
    Gateway::start("", UPSTREAMS).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .user_agent(USER_AGENT)
        .build()
        .unwrap()
}

/// An admin call with `token`: `(status, body, x-request-id)`. The body is JSON, or a
/// JSON string holding a text answer.
async fn call(
    gw: &Gateway,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut req = client()
        .request(method, format!("{}{path}", gw.admin))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let id = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, id)
}

async fn get(gw: &Gateway, token: &str, path: &str) -> (u16, Value) {
    let (status, body, _) = call(gw, token, Method::GET, path, None).await;
    (status, body)
}

/// Stops `gw` (a clean exit, which signs a final checkpoint) and hands back its
/// directory, to start again on the same store and key files.
fn stopped(mut gw: Gateway) -> tempfile::TempDir {
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    gw.into_dir()
}

/// A chat request to the simulated model with `text` as the user message.
async fn say(gw: &Gateway, key: &str, text: &str) -> reqwest::Response {
    gw.chat(
        key,
        json!({"model": "sim", "messages": [{"role": "user", "content": text}]}),
    )
    .send()
    .await
    .unwrap()
}

/// The id part of a `pat_<id>_<secret>` admin token.
fn token_id(token: &str) -> String {
    token.split('_').nth(1).unwrap().to_owned()
}

/// The one record of a request id (searched with the bootstrap token), waiting briefly
/// for it to be committed.
async fn record_of(gw: &Gateway, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = get(
            gw,
            ADMIN_TOKEN,
            &format!("/admin/v1/audit?request_id={request_id}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        if let Some(r) = data.first() {
            assert_eq!(data.len(), 1, "one record per request id: {page}");
            return r.clone();
        }
        assert!(Instant::now() < deadline, "no record of {request_id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_no_record(gw: &Gateway, request_id: &str) {
    let (status, page) = get(
        gw,
        ADMIN_TOKEN,
        &format!("/admin/v1/audit?request_id={request_id}"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"], json!([]), "{request_id} must not be recorded");
}

/// Sends with a chosen request id and checks it is echoed.
async fn with_id(
    gw: &Gateway,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    id: &str,
) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", gw.admin))
        .bearer_auth(token)
        .header("x-request-id", id);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], id);
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_calls_are_recorded_with_who_what_and_changes() {
    let gw = start().await;

    // A mutation: creating a key. Its record names the admin, the target and the new
    // key's public fields — never the key.
    let (status, user) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/users",
        Some(json!({"name": "alice", "groups": ["staff"]})),
        "t-user-create",
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let (status, created) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/keys",
        Some(json!({"user": "alice", "name": "laptop"})),
        "t-key-create",
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    let (status, revoked) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::DELETE,
        &format!("/admin/v1/keys/{key_id}"),
        None,
        "t-key-revoke",
    )
    .await;
    assert_eq!(status, 200, "{revoked}");

    let r = record_of(&gw, "t-user-create").await;
    assert_eq!(r["action"], "POST /admin/v1/users", "{r}");
    assert_eq!(
        r["change"]["target"],
        format!("user:{}", user["id"].as_str().unwrap())
    );
    assert_eq!(r["change"]["after"]["name"], "alice", "{r}");

    for (id, action) in [
        ("t-key-create", "POST /admin/v1/keys"),
        ("t-key-revoke", "DELETE /admin/v1/keys/{id}"),
    ] {
        let r = record_of(&gw, id).await;
        let ctx = format!("{id}: {r}");
        assert_eq!(r["plane"], "admin", "{ctx}");
        assert_eq!(r["action"], action, "{ctx}");
        assert_eq!(r["actor"]["token_id"], "bootstrap", "{ctx}");
        assert_eq!(r["actor"]["role"], "admin", "{ctx}");
        assert_eq!(r["client_ip"], "127.0.0.1", "{ctx}");
        assert_eq!(r["user_agent"], USER_AGENT, "{ctx}");
        assert_eq!(r["decision"], "allow", "{ctx}");
        assert_eq!(r["reason"], "ok", "{ctx}");
        assert!(r["latency_ms"].as_f64().unwrap() > 0.0, "{ctx}");
        assert!(r["seq"].is_u64() && r["leaf_hash"].is_string(), "{ctx}");
        assert!(
            r["policies"]
                .as_array()
                .unwrap()
                .contains(&json!("admin.role-admin")),
            "{ctx}"
        );
        let change = &r["change"];
        assert_eq!(change["target"], format!("key:{key_id}"), "{ctx}");
        assert_eq!(change["after"]["id"], key_id.as_str(), "{ctx}");
        assert_eq!(change["after"]["name"], "laptop", "{ctx}");
        if id == "t-key-create" {
            assert_eq!(r["status"], 201, "{ctx}");
            assert!(change.get("before").is_none(), "{ctx}");
        } else {
            assert_eq!(r["status"], 200, "{ctx}");
            assert!(change["before"]["revoked_at"].is_null(), "{ctx}");
            assert!(change["after"]["revoked_at"].is_i64(), "{ctx}");
        }
        // No key material: neither the key, its secret part, nor its hash.
        let text = r.to_string();
        assert!(!text.contains(&key), "{ctx}");
        assert!(!text.contains("pal_"), "{ctx}");
        assert!(!text.contains(key.rsplit('_').next().unwrap()), "{ctx}");
        assert!(!text.contains("secret_hash"), "{ctx}");
    }

    // Minting an admin token: the record has its id and role, never the token.
    let (status, minted, id) = call(
        &gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/tokens",
        Some(json!({"role": "auditor"})),
    )
    .await;
    assert_eq!(status, 201, "{minted}");
    let r = record_of(&gw, &id).await;
    assert_eq!(r["change"]["after"]["role"], "auditor", "{r}");
    let token = minted["token"].as_str().unwrap();
    assert!(!r.to_string().contains(token), "{r}");
    assert!(!r.to_string().contains("pat_"), "{r}");

    // Policies: the change is a fingerprint (hash and ids), not the text.
    let (status, _, id) = call(&gw, ADMIN_TOKEN, Method::GET, "/admin/v1/policies", None).await;
    assert_eq!(status, 200);
    let source = get(&gw, ADMIN_TOKEN, "/admin/v1/policies").await.1["source"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        record_of(&gw, &id).await["action"],
        "GET /admin/v1/policies"
    );
    let (status, _, id) = call(
        &gw,
        ADMIN_TOKEN,
        Method::PUT,
        "/admin/v1/policies",
        Some(json!({"source": format!("{source}\n// edited\n")})),
    )
    .await;
    assert_eq!(status, 200);
    let r = record_of(&gw, &id).await;
    let change = &r["change"];
    assert_eq!(change["target"], "policies", "{r}");
    assert_ne!(change["before"]["sha256"], change["after"]["sha256"], "{r}");
    assert!(change["after"]["ids"].as_array().unwrap().len() > 1, "{r}");
    assert!(!r.to_string().contains("// edited"), "{r}");

    // Limits: before and after.
    let (status, _, id) = call(
        &gw,
        ADMIN_TOKEN,
        Method::PUT,
        "/admin/v1/limits",
        Some(json!({"rules": [{"scope": "user", "match": "alice", "requests_per_minute": 5}]})),
    )
    .await;
    assert_eq!(status, 200);
    let r = record_of(&gw, &id).await;
    assert_eq!(r["change"]["before"]["rules"], json!([]), "{r}");
    assert_eq!(r["change"]["after"]["rules"][0]["match"], "alice", "{r}");

    // A failed admin authentication is recorded as a denial, with no actor.
    let (status, _) = with_id(
        &gw,
        "pat_nope_wrong",
        Method::GET,
        "/admin/v1/users",
        None,
        "t-bad-token",
    )
    .await;
    assert_eq!(status, 401);
    let r = record_of(&gw, "t-bad-token").await;
    assert_eq!(r["decision"], "deny", "{r}");
    assert_eq!(r["reason"], "invalid_admin_token", "{r}");
    assert_eq!(r["status"], 401, "{r}");
    assert!(r["actor"].get("token_id").is_none(), "{r}");
    assert!(!r.to_string().contains("pat_nope_wrong"), "{r}");

    // Unknown routes and bad requests are recorded; an unknown route's path is not (it may
    // hold an id the log could never erase).
    let (status, _) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::GET,
        "/admin/v1/nothing-here",
        None,
        "t-404",
    )
    .await;
    assert_eq!(status, 404);
    let r = record_of(&gw, "t-404").await;
    assert_eq!(r["action"], "GET unmatched", "{r}");
    assert!(!r.to_string().contains("nothing-here"), "{r}");
    assert_eq!(r["decision"], "error", "{r}");
    assert_eq!(r["reason"], "not_found", "{r}");
    let (status, _) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/users",
        Some(json!({"nmae": "typo"})),
        "t-bad-body",
    )
    .await;
    assert_eq!(status, 400);
    let r = record_of(&gw, "t-bad-body").await;
    assert_eq!(r["decision"], "error", "{r}");
    assert_eq!(r["reason"], "invalid_request_error", "{r}");
    assert!(r.get("change").is_none(), "{r}");

    // A read is recorded too; a minted request id is echoed and used.
    let (status, _, id) = call(&gw, ADMIN_TOKEN, Method::GET, "/admin/v1/users", None).await;
    assert_eq!(status, 200);
    assert!(id.starts_with("req_"), "{id}");
    let r = record_of(&gw, &id).await;
    assert_eq!(r["action"], "GET /admin/v1/users", "{r}");
    assert_eq!(r["status"], 200, "{r}");

    // The probes are not recorded.
    for probe in ["/healthz", "/readyz"] {
        let resp = client()
            .get(format!("{}{probe}", gw.admin))
            .header("x-request-id", "t-probe")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_no_record(&gw, "t-probe").await;

    let mut gw = gw;
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
}

#[tokio::test]
async fn the_auditor_reads_everything_and_manages_nothing() {
    let gw = start().await;
    let auditor = gw.admin_token("auditor").await;
    let operator = gw.admin_token("operator").await;
    let (status, _) = gw
        .admin_post("/admin/v1/audit/checkpoint", json!(null))
        .await;
    assert_eq!(status, 200);

    // Reads: records, one record, its content, proofs, checkpoint and key.
    let (status, page) = get(&gw, &auditor, "/admin/v1/audit?limit=5").await;
    assert_eq!(status, 200, "{page}");
    let seq = page["data"][0]["seq"].as_u64().unwrap();
    for path in [
        format!("/admin/v1/audit/{seq}"),
        format!("/admin/v1/audit/{seq}/content"),
        "/admin/v1/audit/checkpoint".to_owned(),
        "/admin/v1/audit/public-key".to_owned(),
        "/admin/v1/audit/proofs/inclusion?seq=0".to_owned(),
        "/admin/v1/audit/proofs/consistency?first=1".to_owned(),
        "/admin/v1/users".to_owned(),
        "/admin/v1/policies".to_owned(),
    ] {
        let (status, body) = get(&gw, &auditor, &path).await;
        assert_eq!(status, 200, "auditor GET {path}: {body}");
    }
    let (_, content) = get(&gw, &auditor, &format!("/admin/v1/audit/{seq}/content")).await;
    assert_eq!(
        content["state"], "none",
        "admin calls capture no content: {content}"
    );

    // Every mutation is refused, and the refusal recorded.
    let denied: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/admin/v1/audit/rotate-keys", None),
        (Method::POST, "/admin/v1/audit/checkpoint", None),
        (Method::DELETE, "/admin/v1/subjects/someone", None),
        (
            Method::POST,
            "/admin/v1/users",
            Some(json!({"name": "mallory"})),
        ),
        (
            Method::POST,
            "/admin/v1/groups",
            Some(json!({"name": "ops"})),
        ),
        (
            Method::POST,
            "/admin/v1/keys",
            Some(json!({"user": "mallory"})),
        ),
        (Method::DELETE, "/admin/v1/keys/abc", None),
        (
            Method::POST,
            "/admin/v1/tokens",
            Some(json!({"role": "admin"})),
        ),
        (Method::DELETE, "/admin/v1/tokens/abc", None),
        (
            Method::PUT,
            "/admin/v1/policies",
            Some(json!({"source": ""})),
        ),
        (Method::PUT, "/admin/v1/limits", Some(json!({"rules": []}))),
    ];
    for (method, path, body) in denied {
        let (status, body, id) = call(&gw, &auditor, method.clone(), path, body).await;
        assert_eq!(status, 403, "auditor {method} {path}: {body}");
        assert_eq!(body["error"]["code"], "access_denied", "{body}");
        let r = record_of(&gw, &id).await;
        assert_eq!(r["decision"], "deny", "{r}");
        assert_eq!(r["reason"], "access_denied", "{r}");
        assert_eq!(r["actor"]["role"], "auditor", "{r}");
        assert_eq!(r["actor"]["token_id"], token_id(&auditor), "{r}");
        assert!(r.get("change").is_none(), "{r}");
    }

    // The operator reads content but may neither manage the ledger nor erase subjects.
    let (status, _) = get(&gw, &operator, &format!("/admin/v1/audit/{seq}/content")).await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::POST, "/admin/v1/audit/rotate-keys"),
        (Method::POST, "/admin/v1/audit/checkpoint"),
        (Method::DELETE, "/admin/v1/subjects/someone"),
    ] {
        let (status, body, _) = call(&gw, &operator, method.clone(), path, None).await;
        assert_eq!(status, 403, "operator {method} {path}: {body}");
    }
    // The admin may.
    let (status, body, id) = call(
        &gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/audit/rotate-keys",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rewrapped"], 0, "{body}");
    assert_eq!(record_of(&gw, &id).await["change"]["target"], "audit:keys");
}

#[tokio::test]
async fn search_filters_and_pages_newest_first() {
    let gw = start().await;
    let operator = gw.admin_token("operator").await;
    let op_id = token_id(&operator);
    for _ in 0..7 {
        assert_eq!(get(&gw, &operator, "/admin/v1/users").await.0, 200);
    }
    assert_eq!(get(&gw, &operator, "/admin/v1/tokens").await.0, 403);

    // Pages of 3 by this actor: 3 + 3 + 2, newest first, no overlap.
    let mut seen: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/admin/v1/audit?actor={op_id}&limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(&gw, ADMIN_TOKEN, &path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["object"], "list");
        pages += 1;
        for r in page["data"].as_array().unwrap() {
            assert_eq!(r["actor"]["token_id"], op_id.as_str(), "{r}");
            seen.push(r["seq"].as_u64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    assert!(pages >= 3);

    // Filters combine.
    let (_, page) = get(
        &gw,
        ADMIN_TOKEN,
        &format!("/admin/v1/audit?actor={op_id}&decision=deny"),
    )
    .await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{page}");
    assert_eq!(data[0]["action"], "GET /admin/v1/tokens");
    let (_, page) = get(&gw, ADMIN_TOKEN, "/admin/v1/audit?plane=data").await;
    assert_eq!(page["data"], json!([]), "no data-plane traffic yet: {page}");
    let (_, page) = get(
        &gw,
        ADMIN_TOKEN,
        "/admin/v1/audit?since=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(page["data"], json!([]));
    let (_, page) = get(
        &gw,
        ADMIN_TOKEN,
        &format!("/admin/v1/audit?actor={op_id}&until=2999-01-01T00:00:00Z&since=2000-01-01T00:00:00%2B02:00"),
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 8, "{page}");

    // Bad parameters are refused with a message.
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "since=yesterday",
        "decision=maybe",
        "plane=control",
        "cursor=abc",
        "colour=blue",
    ] {
        let (status, body) = get(&gw, ADMIN_TOKEN, &format!("/admin/v1/audit?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().len() > 10,
            "{body}"
        );
    }
    let (status, _) = get(&gw, ADMIN_TOKEN, "/admin/v1/audit/999999").await;
    assert_eq!(status, 404);
    let (status, _) = get(&gw, ADMIN_TOKEN, "/admin/v1/audit/not-a-number").await;
    assert_eq!(status, 400);

    // The CLI search prints a table.
    let out = cli(&gw, &["audit", "search", "--actor", &op_id, "--limit", "2"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("SEQ"), "{text}");
    assert!(text.contains("GET /admin/v1/"), "{text}");
    assert!(text.contains("more: --cursor"), "{text}");
}

/// Standard base64 (this crate does not depend on a base64 library).
fn unbase64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hash(b64: &Value) -> Hash {
    unbase64(b64.as_str().unwrap()).try_into().unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

/// Signs a checkpoint through the API and opens it with the API's public key.
async fn signed_checkpoint(gw: &Gateway, verifier: &NoteVerifier) -> Checkpoint {
    let (status, note, _) = call(
        gw,
        ADMIN_TOKEN,
        Method::POST,
        "/admin/v1/audit/checkpoint",
        None,
    )
    .await;
    assert_eq!(status, 200, "{note}");
    let (status, latest) = get(gw, ADMIN_TOKEN, "/admin/v1/audit/checkpoint").await;
    assert_eq!(status, 200);
    assert_eq!(note, latest);
    Checkpoint::open(note.as_str().unwrap(), verifier).unwrap()
}

#[tokio::test]
async fn proofs_verify_against_signed_checkpoints() {
    let gw = start().await;
    let auditor = gw.admin_token("auditor").await;
    for _ in 0..5 {
        get(&gw, &auditor, "/admin/v1/users").await;
    }
    let (status, key) = get(&gw, &auditor, "/admin/v1/audit/public-key").await;
    assert_eq!(status, 200);
    let verifier = NoteVerifier::parse(key.as_str().unwrap()).unwrap();
    let first = signed_checkpoint(&gw, &verifier).await;
    assert!(first.size >= 6, "{first:?}");

    // Every record is in the signed tree, and its leaf hash is the record's.
    for seq in [0, first.size / 2, first.size - 1] {
        let (status, proof) = get(
            &gw,
            &auditor,
            &format!("/admin/v1/audit/proofs/inclusion?seq={seq}"),
        )
        .await;
        assert_eq!(status, 200, "{proof}");
        assert_eq!(proof["tree_size"], first.size);
        assert_eq!(hash(&proof["root"]), first.root);
        let leaf = hash(&proof["leaf_hash"]);
        merkle::verify_inclusion(
            seq,
            first.size,
            &leaf,
            &hashes(&proof["hashes"]),
            &first.root,
        )
        .unwrap();
        let (_, record) = get(&gw, &auditor, &format!("/admin/v1/audit/{seq}")).await;
        assert_eq!(
            record["leaf_hash"].as_str().unwrap(),
            palisade_audit::record::hex(&leaf),
            "{record}"
        );
        // A forged leaf does not verify.
        let mut forged = leaf;
        forged[0] ^= 1;
        assert!(
            merkle::verify_inclusion(
                seq,
                first.size,
                &forged,
                &hashes(&proof["hashes"]),
                &first.root
            )
            .is_err()
        );
    }

    // More records, a second checkpoint: the second tree extends the first.
    for _ in 0..4 {
        get(&gw, &auditor, "/admin/v1/groups").await;
    }
    let second = signed_checkpoint(&gw, &verifier).await;
    assert!(second.size > first.size);
    let (status, proof) = get(
        &gw,
        &auditor,
        &format!(
            "/admin/v1/audit/proofs/consistency?first={}&second={}",
            first.size, second.size
        ),
    )
    .await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(hash(&proof["first_root"]), first.root);
    assert_eq!(hash(&proof["second_root"]), second.root);
    merkle::verify_consistency(
        first.size,
        second.size,
        &first.root,
        &second.root,
        &hashes(&proof["hashes"]),
    )
    .unwrap();
    // An inclusion proof in an explicit older tree size matches the first checkpoint.
    let (_, proof) = get(
        &gw,
        &auditor,
        &format!(
            "/admin/v1/audit/proofs/inclusion?seq=1&tree_size={}",
            first.size
        ),
    )
    .await;
    assert_eq!(hash(&proof["root"]), first.root);

    for bad in [
        format!("inclusion?seq={}", second.size),
        "inclusion?seq=0&tree_size=999999".to_owned(),
        "inclusion".to_owned(),
        "consistency?first=0".to_owned(),
        format!("consistency?first={}&second={}", second.size, first.size),
    ] {
        let (status, body) = get(&gw, &auditor, &format!("/admin/v1/audit/proofs/{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn malformed_admin_bodies_get_the_json_error_shape() {
    let gw = start().await;
    let send = |method: Method, path: &str, body: &str, json: bool| {
        let mut req = client()
            .request(method, format!("{}{path}", gw.admin))
            .bearer_auth(ADMIN_TOKEN)
            .body(body.to_owned());
        if json {
            req = req.header("content-type", "application/json");
        }
        req.send()
    };
    for (method, path, body, json) in [
        (Method::PUT, "/admin/v1/limits", "[1]", true),
        (Method::POST, "/admin/v1/users", "{\"name\": 7}", true),
        (Method::POST, "/admin/v1/users", "{\"name\": \"x\"", true),
        (Method::POST, "/admin/v1/users", "{\"name\": \"x\"}", false),
    ] {
        let resp = send(method.clone(), path, body, json).await.unwrap();
        let status = resp.status().as_u16();
        let body_json: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "{method} {path} {body}: {body_json}");
        assert_eq!(
            body_json["error"]["type"], "invalid_request_error",
            "{method} {path} {body}: {body_json}"
        );
        assert!(body_json["error"]["message"].is_string(), "{body_json}");
    }
}

/// Opens a live tail on `gw`'s admin listener with `token` (`query`: `?plane=admin`, …),
/// checking it is answered 200 as an event stream.
async fn open_tail(gw: &Gateway, token: &str, query: &str) -> reqwest::Response {
    let resp = client()
        .get(format!("{}/admin/v1/audit/stream{query}", gw.admin))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    resp
}

/// Reads SSE events from a response until one satisfies `want`, for at most 10 s.
async fn sse_until(
    resp: &mut reqwest::Response,
    buf: &mut String,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            for line in block.lines() {
                if let Some(data) = line.strip_prefix("data: ")
                    && let Ok(v) = serde_json::from_str::<Value>(data)
                    && want(&v)
                {
                    return v;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk())
            .await
            .expect("the wanted event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_live_tail_delivers_new_records_and_ends_at_shutdown() {
    let gw = start().await;
    let auditor = gw.admin_token("auditor").await;
    let mut resp = open_tail(&gw, &auditor, "?plane=admin").await;
    let mut buf = String::new();
    // The stream's own start is recorded (and so is delivered first).
    let own = sse_until(&mut resp, &mut buf, |v| {
        v["action"] == "GET /admin/v1/audit/stream"
    })
    .await;
    assert_eq!(own["actor"]["role"], "auditor");

    let (status, _) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::GET,
        "/admin/v1/groups",
        None,
        "t-tailed",
    )
    .await;
    assert_eq!(status, 200);
    let got = sse_until(&mut resp, &mut buf, |v| v["request_id"] == "t-tailed").await;
    assert_eq!(got["action"], "GET /admin/v1/groups");
    assert!(got["seq"].as_u64().unwrap() > own["seq"].as_u64().unwrap());

    // Filters apply: a decision=deny tail skips allowed calls.
    let mut denied = open_tail(&gw, &auditor, "?decision=deny").await;
    let _ = get(&gw, ADMIN_TOKEN, "/admin/v1/users").await;
    let (status, _) = with_id(&gw, "bad", Method::GET, "/admin/v1/users", None, "t-denied").await;
    assert_eq!(status, 401);
    let mut buf2 = String::new();
    let got = sse_until(&mut denied, &mut buf2, |v| {
        v["decision"] != "deny" || v["request_id"] == "t-denied"
    })
    .await;
    assert_eq!(got["request_id"], "t-denied", "only denials: {got}");

    // Bad filters are refused before the stream starts.
    let (status, _) = get(&gw, &auditor, "/admin/v1/audit/stream?decision=sometimes").await;
    assert_eq!(status, 400);

    // Shutdown does not wait for open tails: the process exits well within the 5 s grace.
    let started = Instant::now();
    let (code, gw) = tokio::task::spawn_blocking(move || {
        let mut gw = gw;
        (gw.terminate(), gw)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{}", gw.logs());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "shutdown waited {:?} for open tails",
        started.elapsed()
    );
    drop(resp);
    drop(denied);
}

#[tokio::test]
async fn a_tail_ends_when_its_token_is_revoked() {
    let gw = start().await;
    let (status, created) = gw
        .admin_post("/admin/v1/tokens", json!({"role": "auditor"}))
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let mut resp = open_tail(&gw, &token, "").await;
    let (status, _) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::DELETE,
        &format!("/admin/v1/tokens/{id}"),
        None,
        "t-revoke-tailer",
    )
    .await;
    assert!(status < 300, "revoked: {status}");
    // The tail ends within its re-check interval (5 s), whatever it was sent meanwhile.
    let ended = tokio::time::timeout(Duration::from_secs(12), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked token's tail is still open");
}

#[tokio::test]
async fn subjects_are_erased_by_reference_and_their_content_with_them() {
    let gw = start().await;
    let key = gw.key_for("bob", &["staff"]).await;
    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "user": "end-user-4711", "messages": [{"role": "user", "content": "my secret plan"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let chat_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let chat = record_of(&gw, &chat_id).await;
    let subject_ref = chat["subject"]
        .as_str()
        .expect("captured content has a subject")
        .to_owned();
    assert!(subject_ref.starts_with("s_"), "{chat}");
    assert!(!chat.to_string().contains("end-user-4711"), "{chat}");
    assert!(!chat.to_string().contains("my secret plan"), "{chat}");
    let seq = chat["seq"].as_u64().unwrap();
    // The subject: bob's end user (`<user id>:<end-user id>`).
    let (_, bob) = get(&gw, ADMIN_TOKEN, "/admin/v1/users/bob").await;
    let subject = format!("{}:end-user-4711", bob["id"].as_str().unwrap());

    // Found by the raw subject id; readable by the auditor.
    let (_, page) = get(
        &gw,
        ADMIN_TOKEN,
        &format!("/admin/v1/audit?subject={subject}"),
    )
    .await;
    assert_eq!(page["data"][0]["seq"], seq, "{page}");
    let (_, page) = get(
        &gw,
        ADMIN_TOKEN,
        &format!("/admin/v1/audit?subject_ref={subject_ref}"),
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["data"][0]["seq"], seq, "{page}");
    let auditor = gw.admin_token("auditor").await;
    let (status, content, id) = call(
        &gw,
        &auditor,
        Method::GET,
        &format!("/admin/v1/audit/{seq}/content"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{content}");
    assert_eq!(content["state"], "plain", "{content}");
    assert!(
        content["content"].to_string().contains("my secret plan"),
        "{content}"
    );
    // Reading content is itself recorded, naming the record read (not its content).
    let r = record_of(&gw, &id).await;
    assert_eq!(r["action"], "GET /admin/v1/audit/{seq}/content", "{r}");
    assert_eq!(r["change"]["target"], format!("audit:{seq}"), "{r}");
    assert!(!r.to_string().contains("my secret plan"), "{r}");

    // Erasure (through the CLI): the answer and the record name the reference only.
    let out = cli(&gw, &["subjects", "erase", &subject, "--json"]).await;
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer, json!({"subject_ref": subject_ref, "erased": true}));
    let (_, page) = get(&gw, ADMIN_TOKEN, "/admin/v1/audit?limit=20").await;
    let erase = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "DELETE /admin/v1/subjects/{id}")
        .expect("the erasure is recorded")
        .clone();
    assert_eq!(
        erase["change"]["target"],
        format!("subject:{subject_ref}"),
        "{erase}"
    );
    assert!(!erase.to_string().contains("end-user-4711"), "{erase}");

    let (_, content) = get(&gw, &auditor, &format!("/admin/v1/audit/{seq}/content")).await;
    assert_eq!(content, json!({"state": "erased"}));
    // Erasing again finds nothing.
    let (status, again, _) = call(
        &gw,
        ADMIN_TOKEN,
        Method::DELETE,
        &format!("/admin/v1/subjects/{subject}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["erased"], false);
}

/// Runs the binary with the admin URL and bootstrap token in its environment.
async fn cli(gw: &Gateway, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_ADMIN_URL", &gw.admin)
        .env("PALISADE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("PALISADE_CONFIG")
        .current_dir(gw.dir.path())
        .output()
        .await
        .unwrap()
}

async fn verify(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["audit", "verify"])
        .args(args)
        .env_remove("PALISADE_CONFIG")
        .env_remove("PALISADE_ADMIN_TOKEN")
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_verifies_exports_and_keeps_checkpoints() {
    let gw = start().await;
    let key = gw.key_for("carol", &[]).await;
    let resp = say(&gw, &key, "hi").await;
    assert_eq!(resp.status(), 200);
    let dir = gw.dir.path().to_owned();

    // What an auditor keeps: the public key and a signed checkpoint.
    let out = cli(&gw, &["audit", "public-key", "--output", "audit.pub"]).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("audit.pub"))
            .unwrap()
            .trim(),
        std::fs::read_to_string(dir.join("palisade-audit.key.pub"))
            .unwrap()
            .trim(),
    );
    assert_eq!(
        gw.admin_post("/admin/v1/audit/checkpoint", json!(null))
            .await
            .0,
        200
    );
    let out = cli(&gw, &["audit", "checkpoint", "--output", "held.checkpoint"]).await;
    assert!(out.status.success(), "{out:?}");
    let out = cli(&gw, &["audit", "checkpoint"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(dir.join("held.checkpoint")).unwrap()
    );

    // Verify while the gateway runs (store URL given), and through the config file.
    let store = gw.sqlite_url();
    let (code, stdout, stderr) = verify(
        &dir,
        &[
            "--store",
            &store,
            "--public-key",
            "audit.pub",
            "--checkpoint",
            "held.checkpoint",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("audit log: ok"), "{stdout}");
    assert!(stdout.contains("checkpoints verified:"), "{stdout}");
    let (code, stdout, stderr) = verify(
        &dir,
        &[
            "--config",
            "palisade.toml",
            "--public-key",
            "audit.pub",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["records"].as_u64().unwrap() >= 5, "{report}");
    assert_eq!(report["with_content"], 1, "the chat's content: {report}");
    // Held to another log's name, the same records and checkpoints do not verify.
    let (code, stdout, stderr) = verify(
        &dir,
        &[
            "--store",
            &store,
            "--public-key",
            "audit.pub",
            "--origin",
            "production.example/audit",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("production.example/audit"), "{stdout}");

    // Export: CEF lines, and JSON lines in both orders, paging through the API.
    let out = cli(
        &gw,
        &["audit", "export", "--format", "cef", "--page-size", "2"],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let cef = String::from_utf8(out.stdout).unwrap();
    assert!(cef.lines().count() >= 5, "{cef}");
    for line in cef.lines() {
        assert!(line.starts_with("CEF:0|Palisade|Palisade|"), "{line}");
    }
    assert!(cef.contains("|data.allow|chat.completions|"), "{cef}");
    // An export file that already exists, readable by everyone, becomes private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(dir.join("export.jsonl"), "old").unwrap();
        std::fs::set_permissions(
            dir.join("export.jsonl"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = cli(
        &gw,
        &[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--plane",
            "admin",
            "--oldest-first",
            "--page-size",
            "3",
            "--output",
            "export.jsonl",
        ],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let seqs: Vec<u64> = std::fs::read_to_string(dir.join("export.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            assert_eq!(r["plane"], "admin", "{r}");
            r["seq"].as_u64().unwrap()
        })
        .collect();
    assert!(seqs.len() >= 4, "{seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("export.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "exports are private: {mode:o}");
    }

    // After a clean stop, the log (with its final checkpoint) still verifies — and
    // verifying changes nothing in the store's files (a log kept as evidence).
    let mut gw = gw;
    assert_eq!(gw.terminate(), Some(0), "{}", gw.logs());
    // The database and its write-ahead log, if any (an empty log counts as none; the
    // `-shm` index is shared memory every reader may touch, not content).
    let db_files = || -> Vec<(String, Vec<u8>)> {
        ["palisade.db", "palisade.db-wal"]
            .iter()
            .map(|name| dir.join(name))
            .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
            .filter(|(_, bytes)| !bytes.is_empty())
            .collect()
    };
    let before = db_files();
    // A write-protected copy verifies too.
    #[cfg(unix)]
    for (path, _) in &before {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let (code, stdout, stderr) = verify(
        &dir,
        &[
            "--store",
            &store,
            "--public-key",
            "audit.pub",
            "--checkpoint",
            "held.checkpoint",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("unsigned tail:        0 records"),
        "{stdout}"
    );
    let after = db_files();
    assert_eq!(
        before.iter().map(|f| &f.0).collect::<Vec<_>>(),
        after.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(before == after, "verify changed the store's files");

    // The wrong public key: the stored checkpoints do not verify (exit 1, each named).
    let other = NoteSigner::generate("palisade/audit").unwrap();
    std::fs::write(dir.join("other.pub"), other.verifier().to_text()).unwrap();
    let (code, stdout, _) = verify(&dir, &["--store", &store, "--public-key", "other.pub"]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("problem"), "{stdout}");
    assert!(stdout.contains(": bad_checkpoint: "), "{stdout}");

    // Could not verify at all: exit 2.
    let (code, _, stderr) = verify(
        &dir,
        &[
            "--store",
            "sqlite://missing.db",
            "--public-key",
            "audit.pub",
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = verify(&dir, &["--store", &store, "--public-key", "nope.pub"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        !dir.join("missing.db").exists(),
        "verify creates no database"
    );
    // A log written by an older version (its last migration not recorded) is not
    // migrated by verify: refused, and left as it was.
    {
        let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let older = db_files();
    let (code, _, stderr) = verify(&dir, &["--store", &store, "--public-key", "audit.pub"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("schema"), "{stderr}");
    let now = db_files();
    assert!(
        now == older,
        "verify changed the log: {:?} -> {:?}",
        older.iter().map(|f| (&f.0, f.1.len())).collect::<Vec<_>>(),
        now.iter().map(|f| (&f.0, f.1.len())).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_cli_tail_prints_records_until_interrupted() {
    use tokio::io::AsyncBufReadExt as _;
    let gw = start().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["audit", "tail", "--plane", "admin", "--json"])
        .env("PALISADE_ADMIN_URL", &gw.admin)
        .env("PALISADE_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Its own start is the first line: from then on, it is following.
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["action"], "GET /admin/v1/audit/stream", "{first}");

    let (status, _) = with_id(
        &gw,
        ADMIN_TOKEN,
        Method::GET,
        "/admin/v1/users",
        None,
        "t-cli-tail",
    )
    .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .expect("the record within 10 s")
            .unwrap()
            .expect("the tail keeps running");
        let record: Value = serde_json::from_str(&line).unwrap();
        if record["request_id"] == "t-cli-tail" {
            assert_eq!(record["action"], "GET /admin/v1/users");
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("Ctrl-C ends the tail")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_live_tail_shows_records_other_instances_commit() {
    // Two instances on one store (behind a load balancer): a tail opened on one sees the
    // other's records too, in sequence order.
    let first = start().await;
    let second_dir = tempfile::tempdir().unwrap();
    for name in ["palisade-audit.key", "palisade-master.key"] {
        std::fs::copy(first.dir.path().join(name), second_dir.path().join(name)).unwrap();
    }
    let shared = format!(
        "sqlite://{}",
        first.dir.path().join("palisade.db").display()
    );
    let second =
        Gateway::start_on_store(second_dir, &shared, "", UPSTREAMS, "http", client()).await;
    let auditor = first.admin_token("auditor").await;
    let mut resp = open_tail(&first, &auditor, "?plane=admin").await;
    let mut buf = String::new();
    let own = sse_until(&mut resp, &mut buf, |v| {
        v["action"] == "GET /admin/v1/audit/stream"
    })
    .await;
    let (status, _) = with_id(
        &second,
        ADMIN_TOKEN,
        Method::GET,
        "/admin/v1/groups",
        None,
        "t-elsewhere",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = with_id(
        &first,
        ADMIN_TOKEN,
        Method::GET,
        "/admin/v1/users",
        None,
        "t-here",
    )
    .await;
    assert_eq!(status, 200);
    let mut seqs = vec![own["seq"].as_u64().unwrap()];
    for id in ["t-elsewhere", "t-here"] {
        let got = sse_until(&mut resp, &mut buf, |v| v["request_id"] == id).await;
        seqs.push(got["seq"].as_u64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
}

/// Runs `palisade serve` in `dir` (its config and key files) and waits, bounded, for it
/// to exit: `(exit code, stderr)`; `None` when it was still running after 20 s.
fn serve_exit(dir: &Path) -> (Option<i32>, String) {
    let err_path = dir.join("serve.err");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--config", "palisade.toml"])
        .current_dir(dir)
        .env("PALISADE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let code = common::wait_bounded(&mut child, Duration::from_secs(20));
    (code, std::fs::read_to_string(&err_path).unwrap_or_default())
}

#[tokio::test]
async fn a_log_with_checkpoints_never_gets_a_new_signing_key() {
    // A signing key file missing at start (a wrong path, another working directory) or
    // replaced used to be answered with a fresh key: the log then held checkpoints under
    // two keys and verified with neither. The start is refused instead.
    let mut gw = start().await;
    let key = gw.api_key().await;
    let resp = say(&gw, &key, "hi").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.terminate(), Some(0), "a clean stop writes a checkpoint");
    let dir = gw.into_dir();
    let key_file = dir.path().join("palisade-audit.key");
    let kept = dir.path().join("kept.key");
    std::fs::rename(&key_file, &kept).unwrap();

    let (code, err) = serve_exit(dir.path());
    assert!(matches!(code, Some(c) if c != 0), "{code:?}: {err}");
    assert!(err.contains("audit.signing_key_file"), "{err}");
    assert!(!key_file.exists(), "no new key was written");

    std::fs::write(
        &key_file,
        NoteSigner::generate("other").unwrap().to_text().as_bytes(),
    )
    .unwrap();
    let (code, err) = serve_exit(dir.path());
    assert!(matches!(code, Some(c) if c != 0), "{code:?}: {err}");
    assert!(err.contains("not signed by"), "{err}");

    std::fs::rename(&kept, &key_file).unwrap();
    let gw = Gateway::start_with(dir, "", UPSTREAMS, "http", client()).await;
    let (status, _, _) = gw
        .admin_call(Method::GET, "/admin/v1/audit?limit=1", None)
        .await;
    assert_eq!(status, 200, "the right key starts the gateway again");
}

#[tokio::test]
async fn a_junk_checkpoint_row_ahead_of_the_log_does_not_stop_a_start() {
    // A row anyone with write access to the database could add: the latest by size, but
    // not signed by the log's key. The key is checked against the log's real checkpoints.
    let mut gw = start().await;
    let key = gw.api_key().await;
    assert_eq!(say(&gw, &key, "hi").await.status(), 200);
    assert_eq!(gw.terminate(), Some(0), "a clean stop writes a checkpoint");
    let dir = gw.into_dir();
    let url = format!("sqlite://{}", dir.path().join("palisade.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, created_us) \
         VALUES (1000000000, zeroblob(32), 'junk', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let gw = Gateway::start_with(dir, "", UPSTREAMS, "http", client()).await;
    let key = gw.api_key().await;
    assert_eq!(say(&gw, &key, "again").await.status(), 200);
}

#[tokio::test]
async fn instances_sharing_a_store_must_share_its_signing_key_from_the_start() {
    // Before the first checkpoint there is nothing to check a key against: two instances
    // with separate key files would each sign checkpoints, and no single public key would
    // verify the log. The store pins the key of the first instance instead.
    let mut first = start().await;
    assert_eq!(first.terminate(), Some(0), "{}", first.logs());
    let first_dir = first.into_dir();
    let second_dir = tempfile::tempdir().unwrap();
    // The same store (an absolute path), a key file of its own.
    std::fs::copy(
        first_dir.path().join("palisade.toml"),
        second_dir.path().join("palisade.toml"),
    )
    .unwrap();
    let (code, err) = serve_exit(second_dir.path());
    assert!(matches!(code, Some(c) if c != 0), "{code:?}: {err}");
    assert!(
        err.contains("every instance sharing a store must use the same signing key"),
        "{err}"
    );
    // With the first instance's key it starts.
    for name in ["palisade-audit.key", "palisade-master.key"] {
        std::fs::copy(first_dir.path().join(name), second_dir.path().join(name)).unwrap();
    }
    let shared = format!(
        "sqlite://{}",
        first_dir.path().join("palisade.db").display()
    );
    let gw = Gateway::start_on_store(second_dir, &shared, "", UPSTREAMS, "http", client()).await;
    let (status, _, _) = gw
        .admin_call(Method::GET, "/admin/v1/audit?limit=1", None)
        .await;
    assert_eq!(status, 200);
}

/// The content of record `seq` as the admin reads it.
async fn content_of(gw: &Gateway, seq: u64) -> Value {
    let (status, body) = get(gw, ADMIN_TOKEN, &format!("/admin/v1/audit/{seq}/content")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_master_key_is_rotated_and_old_content_still_opens() {
    // The documented rotation: a new master key, the old one listed as previous; at
    // start every data key is re-wrapped under the new one, after which the old key can
    // go and captured content still opens.
    let gw = start().await;
    let key = gw.api_key().await;
    let resp = say(&gw, &key, "the rotation canary").await;
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let seq = record_of(&gw, &request_id).await["seq"].as_u64().unwrap();
    assert!(
        content_of(&gw, seq)
            .await
            .to_string()
            .contains("rotation canary")
    );
    let dir = stopped(gw);
    std::fs::rename(
        dir.path().join("palisade-master.key"),
        dir.path().join("old-master.key"),
    )
    .unwrap();

    // A new key file is made at start; the old one is previous.
    let rotating = UPSTREAMS.replace(
        "capture = \"full\"\n",
        "capture = \"full\"\nprevious_master_key_files = [\"old-master.key\"]\n",
    );
    assert_ne!(rotating, UPSTREAMS);
    let gw = Gateway::start_with(dir, "", &rotating, "http", client()).await;
    assert!(gw.logs().contains("re-wrapped"), "{}", gw.logs());
    assert!(
        content_of(&gw, seq)
            .await
            .to_string()
            .contains("rotation canary")
    );
    let dir = stopped(gw);

    // The old key is gone: the content still opens under the new one alone.
    std::fs::remove_file(dir.path().join("old-master.key")).unwrap();
    let gw = Gateway::start_with(dir, "", UPSTREAMS, "http", client()).await;
    let c = content_of(&gw, seq).await;
    assert_eq!(c["state"], "plain", "{c}");
    assert!(c.to_string().contains("rotation canary"), "{c}");
}

#[tokio::test]
async fn a_checkpoint_row_that_does_not_verify_is_never_handed_out() {
    // Someone with write access to the store adds a checkpoint row of a huge size: the
    // latest by size, but not signed by this ledger. Auditors archive what this endpoint
    // returns, and proofs default to its size: refused, not served.
    let gw = start().await;
    gw.api_key().await; // admin calls, so the log has records to sign
    let (status, _) = gw
        .admin_post("/admin/v1/audit/checkpoint", json!(null))
        .await;
    assert_eq!(status, 200);
    let (status, good) = get(&gw, ADMIN_TOKEN, "/admin/v1/audit/checkpoint").await;
    assert_eq!(status, 200, "{good}");
    let pool = sqlx::SqlitePool::connect(&gw.sqlite_url()).await.unwrap();
    sqlx::query("INSERT INTO audit_checkpoints (size, root, note, created_us) VALUES (?, ?, ?, ?)")
        .bind(1_i64 << 40)
        .bind(vec![7u8; 32])
        .bind("palisade/audit\n1099511627776\nBwcH\n\n— forged AAAA\n")
        .bind(0_i64)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    for path in [
        "/admin/v1/audit/checkpoint",
        "/admin/v1/audit/proofs/inclusion?seq=0",
    ] {
        let (status, body) = get(&gw, ADMIN_TOKEN, path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"]["code"], "audit_unavailable", "{path}: {body}");
    }
}
