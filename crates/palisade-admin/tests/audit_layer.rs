//! The admin router in process, over an in-memory SQLite store and a real ledger, served
//! by the gateway's listener: live audit tails end when the server stops (graceful
//! shutdown does not wait the grace period for them); with strict durability a call whose
//! record cannot be committed is answered `503 audit_unavailable` (saying so when the
//! change itself was made); with the ledger off,
//! the audit routes answer `404 audit_disabled` and everything else works unrecorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_admin::AdminState;
use palisade_audit::checkpoint::NoteSigner;
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::{Ledger, LedgerConfig};
use palisade_gateway::server::{ListenerLimits, serve};
use palisade_policy::authz::{DEFAULT_POLICIES, PolicyEngine};
use palisade_policy::identity::{AdminAuthenticator, AuthFailures, Authenticator};
use palisade_policy::limits::{BackendConfig, FailMode, Limiter};
use serde_json::{Value, json};
use tokio::sync::watch;

const TOKEN: &str = "in-process-bootstrap-admin-token-0123456789";

struct Server {
    base: String,
    ledger: Option<Ledger>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

async fn server(audit: bool) -> Server {
    let store = palisade_store::connect("sqlite::memory:", 1).await.unwrap();
    let ledger = if audit {
        let keys = AuditKeys::load(
            store.audit.as_ref(),
            Keyring::new(MasterKey::generate().0, Vec::new()),
        )
        .await
        .unwrap();
        let signer = NoteSigner::generate("test/audit").unwrap();
        let config = LedgerConfig {
            origin: "test/audit".into(),
            ..LedgerConfig::default()
        };
        Some(
            Ledger::open(Arc::clone(&store.audit), keys, signer, config)
                .await
                .unwrap(),
        )
    } else {
        None
    };
    let state = Arc::new(AdminState {
        identity: Arc::clone(&store.identity),
        admin_auth: AdminAuthenticator::new(Arc::clone(&store.identity), Some(TOKEN)),
        auth_failures: Arc::new(AuthFailures::new(120)),
        key_auth: Arc::new(Authenticator::new(
            Arc::clone(&store.identity),
            Duration::from_secs(1),
        )),
        render_metrics: Arc::new(String::new),
        metrics_require_auth: true,
        policy: Arc::new(PolicyEngine::new(DEFAULT_POLICIES, 0).unwrap()),
        policy_file: None,
        limiter: Arc::new(
            Limiter::new(Vec::new(), BackendConfig::Memory, FailMode::Closed)
                .await
                .unwrap(),
        ),
        models: Vec::new(),
        model_aliases: Default::default(),
        audit: ledger.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = watch::channel(false);
    let router = palisade_admin::router_with_shutdown(state, stopped.clone());
    let limits = ListenerLimits {
        max_header_bytes: 16 * 1024,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(10),
        tls: None,
        max_connections_per_ip: 64,
        trusted_proxies: Vec::new(),
        max_connections: 1024,
    };
    let mut until = stopped;
    let task = tokio::spawn(serve(
        listener,
        router,
        limits,
        async move {
            let _ = until.wait_for(|s| *s).await;
        },
        std::future::pending(),
    ));
    Server {
        base,
        ledger,
        stop,
        task,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

impl Server {
    async fn call(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "ops"}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tails_end_when_the_server_stops() {
    let srv = server(true).await;
    let mut tail = reqwest::Client::new()
        .get(format!("{}/admin/v1/audit/stream", srv.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);
    // The tail's own start is recorded and delivered.
    let first = tokio::time::timeout(Duration::from_secs(5), tail.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("GET /admin/v1/audit/stream"),
        "{first:?}"
    );

    let started = Instant::now();
    srv.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), srv.task)
        .await
        .expect("the listener drains without waiting for the tail")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let end = tokio::time::timeout(Duration::from_secs(5), tail.chunk())
        .await
        .expect("the tail ends");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_record_fails_is_answered_503() {
    let srv = server(true).await;
    let (status, body) = srv.call(reqwest::Method::GET, "/admin/v1/users").await;
    assert_eq!(status, 200, "{body}");
    // A closed ledger commits nothing more: strict durability refuses to answer.
    srv.ledger.as_ref().unwrap().close().await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/v1/users"),
        (reqwest::Method::POST, "/admin/v1/groups"),
        (reqwest::Method::GET, "/admin/v1/no-such-route"),
    ] {
        let (status, body) = srv.call(method.clone(), path).await;
        assert_eq!(status, 503, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
        assert_eq!(body["error"]["type"], "server_error", "{body}");
        // The group was created before its record failed: the answer says so, or the
        // caller would believe nothing happened.
        let applied = body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WAS applied");
        assert_eq!(
            applied,
            method == reqwest::Method::POST,
            "{method} {path}: {body}"
        );
    }
    // The probes do not depend on the ledger.
    let resp = srv
        .http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_ledger_the_audit_routes_say_so() {
    let srv = server(false).await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/v1/audit"),
        (reqwest::Method::GET, "/admin/v1/audit/3"),
        (reqwest::Method::GET, "/admin/v1/audit/3/content"),
        (reqwest::Method::GET, "/admin/v1/audit/stream"),
        (reqwest::Method::GET, "/admin/v1/audit/checkpoint"),
        (reqwest::Method::POST, "/admin/v1/audit/checkpoint"),
        (reqwest::Method::GET, "/admin/v1/audit/public-key"),
        (
            reqwest::Method::GET,
            "/admin/v1/audit/proofs/inclusion?seq=0",
        ),
        (
            reqwest::Method::GET,
            "/admin/v1/audit/proofs/consistency?first=1",
        ),
        (reqwest::Method::POST, "/admin/v1/audit/rotate-keys"),
        (reqwest::Method::DELETE, "/admin/v1/subjects/someone"),
    ] {
        let (status, body) = srv.call(method.clone(), path).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "audit_disabled", "{body}");
    }
    let resp = srv
        .http
        .post(format!("{}/admin/v1/groups", srv.base))
        .bearer_auth(TOKEN)
        .header("x-request-id", "given-id")
        .json(&json!({"name": "ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-request-id"], "given-id");
}
