//! Drives the real `palisade` binary: writes a config, starts `palisade serve` on
//! loopback ports the OS picks (port 0, read back from its "palisade listening" log
//! line, so parallel tests never race for a port) with a bootstrap admin token, waits
//! until it is healthy, and kills it when dropped. Upstreams are the in-process mock
//! from `palisade-testkit`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "test-bootstrap-admin-token-0123456789abcdef";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Gateway {
    child: Option<Child>,
    pub base: String,
    pub admin: String,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub http: reqwest::Client,
}

impl Gateway {
    /// Starts the binary with `[server]` extras and provider/model tables.
    pub async fn start(server_extra: &str, upstreams: &str) -> Gateway {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Self::start_with(
            tempfile::tempdir().expect("tempdir"),
            server_extra,
            upstreams,
            "http",
            http,
        )
        .await
    }

    /// Like [`Gateway::start`], in `dir`, reached with `scheme` through `http`.
    pub async fn start_with(
        dir: tempfile::TempDir,
        server_extra: &str,
        upstreams: &str,
        scheme: &str,
        http: reqwest::Client,
    ) -> Gateway {
        let store_url = format!("sqlite://{}", dir.path().join("palisade.db").display());
        Self::start_on_store(dir, &store_url, server_extra, upstreams, scheme, http).await
    }

    /// Like [`Gateway::start_with`], with `store_url` as `[store] url` (the default is the
    /// SQLite file `palisade.db` in `dir`, see [`Gateway::sqlite_url`]).
    pub async fn start_on_store(
        dir: tempfile::TempDir,
        store_url: &str,
        server_extra: &str,
        upstreams: &str,
        scheme: &str,
        http: reqwest::Client,
    ) -> Gateway {
        Self::start_with_env(dir, store_url, server_extra, upstreams, scheme, http, &[]).await
    }

    /// [`Gateway::start_on_store`] with environment variables `env` set for the process.
    pub async fn start_with_env(
        dir: tempfile::TempDir,
        store_url: &str,
        server_extra: &str,
        upstreams: &str,
        scheme: &str,
        http: reqwest::Client,
        env: &[(&str, &str)],
    ) -> Gateway {
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nshutdown_grace_ms = 5000\n{server_extra}\n\
             [store]\nurl = \"{store_url}\"\n[logging]\nlevel = \"debug\"\nformat = \"json\"\n{upstreams}\n"
        );
        let config_path = dir.path().join("palisade.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = dir.path().join("gateway.log");
        let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["serve", "--config"])
            .arg(&config_path)
            // Relative paths in the config (audit keys by default) land in the temp dir.
            .current_dir(dir.path())
            .env("PALISADE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn palisade");
        let mut gw = Gateway {
            child: Some(child),
            base: String::new(),
            admin: String::new(),
            dir,
            log,
            http,
        };
        let (port, admin_port) = gw.wait_listening().await;
        gw.base = format!("{scheme}://localhost:{port}");
        gw.admin = format!("{scheme}://localhost:{admin_port}");
        gw.wait_healthy().await;
        gw
    }

    /// The data and admin plane ports, from the gateway's "palisade listening" log line.
    async fn wait_listening(&mut self) -> (u16, u16) {
        let port_of = |line: &Value, field: &str| {
            line[field]
                .as_str()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.port())
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let logs = self.logs();
            let listening = logs
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["message"] == "palisade listening");
            if let Some(line) = listening {
                match (port_of(&line, "data_plane"), port_of(&line, "admin_plane")) {
                    (Some(data), Some(admin)) => return (data, admin),
                    _ => panic!("no ports in the listening line: {line}"),
                }
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("gateway exited ({status}) before listening; log:\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("gateway did not start listening; log:\n{}", self.logs());
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let data = self.http.get(format!("{}/healthz", self.base)).send().await;
            let admin = self
                .http
                .get(format!("{}/healthz", self.admin))
                .send()
                .await;
            if data.is_ok_and(|r| r.status().is_success())
                && admin.is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway did not become healthy; log:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Creates a user and returns a fresh API key for it.
    pub async fn api_key(&self) -> String {
        self.key_for(&format!("user-{}", free_port()), &["test"])
            .await
    }

    /// Creates user `name` in `groups` (if new) and returns a fresh API key for it.
    pub async fn key_for(&self, name: &str, groups: &[&str]) -> String {
        let r = self
            .admin_post("/admin/v1/users", json!({"name": name, "groups": groups}))
            .await;
        assert!(r.0 == 201 || r.0 == 409, "{}", r.1);
        let r = self
            .admin_post("/admin/v1/keys", json!({"user": name}))
            .await;
        assert_eq!(r.0, 201, "{}", r.1);
        r.1["key"].as_str().expect("key").to_owned()
    }

    /// An admin token with `role`, minted through the API.
    pub async fn admin_token(&self, role: &str) -> String {
        let r = self
            .admin_post("/admin/v1/tokens", json!({"role": role}))
            .await;
        assert_eq!(r.0, 201, "{}", r.1);
        r.1["token"].as_str().expect("token").to_owned()
    }

    /// Sends SIGHUP (policy reload).
    pub fn hangup(&self) {
        let _ = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status();
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("admin call");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub fn chat(&self, key: &str, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(&body)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        None
    }
}

/// Restarts, raw admin calls and store files, for the audit tests.
impl Gateway {
    /// The default SQLite database file of a gateway started in `dir`.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("palisade.db")
    }

    /// The store URL of the default SQLite database (for `palisade_store::connect`).
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.db_path().display())
    }

    /// Kills the process with SIGKILL (a crash: no shutdown work at all) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process (SIGKILL if it is still running) and hands back its directory,
    /// to start a new gateway on the same store and audit key files.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        self.kill9();
        let empty = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, empty)
    }

    /// The Prometheus text of `/metrics` on the admin listener.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// An admin call with the bootstrap token: `(status, JSON body or Null, x-request-id)`.
    pub async fn admin_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("admin call");
        let status = resp.status().as_u16();
        let id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, resp.json().await.unwrap_or(Value::Null), id)
    }
}

/// Runs `palisade audit verify --store <url> --public-key <file>` (bounded to 60 s):
/// its exit code (`None` if it was killed) and its stdout and stderr.
pub fn audit_verify_cli(store_url: &str, public_key: &std::path::Path) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("verify.out");
    let err_path = dir.path().join("verify.err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["audit", "verify", "--store", store_url, "--public-key"])
        .arg(public_key)
        // No config file is needed with --store; run where none is.
        .current_dir(dir.path())
        .env_remove("PALISADE_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(&out_path).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .spawn()
        .expect("spawn palisade audit verify");
    let code = wait_bounded(&mut child, Duration::from_secs(60));
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    (code, format!("{out}{err}"))
}

/// A self-signed certificate for `localhost`, written to `dir` as `<name>.crt` and
/// `<name>.key` (PEM): their paths and the certificate's PEM (to trust it).
pub fn localhost_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("self-signed certificate");
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, certified.cert.pem()).expect("write certificate");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    (cert, key, certified.cert.pem())
}

/// Waits for `child` to exit, at most `limit` (then kills it): its exit code, `None` when
/// it had to be killed or died by a signal.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An `openai` provider pointing at `base_url`, with models `name = upstream` pairs.
pub fn openai_provider(name: &str, base_url: &str, extra: &str, models: &[(&str, &str)]) -> String {
    let mut s = format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{base_url}\"\n{extra}\n"
    );
    for (model, upstream) in models {
        s.push_str(&format!("[[models]]\nname = \"{model}\"\nprovider = \"{name}\"\nupstream_model = \"{upstream}\"\n"));
    }
    s
}

pub fn user_message(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// The smallest chat request: "hi" to `model`.
pub fn say_hi(model: &str) -> Value {
    json!({"model": model, "messages": user_message("hi")})
}
