//! A mock OpenAI-compatible upstream for tests and benchmarks, in-process
//! ([`MockUpstream::start`]) or as the `palisade-mock-upstream` binary. What it does is
//! chosen by the upstream model name a request carries, so one mock serves every
//! scenario (see [`behavior::Behavior`]): normal answers, fixed error statuses, flaky
//! upstreams, slow ones, and streams that break mid-way. It records the last requests it
//! received (`GET /__mock/requests`) so tests can assert what was forwarded.

pub mod behavior;
mod openai;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the mock remembers about one request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) requests: Mutex<VecDeque<Recorded>>,
    pub(crate) calls: Mutex<HashMap<String, u64>>,
    /// Whether to record requests (off for benchmarks).
    pub(crate) record: bool,
}

impl Shared {
    pub(crate) fn remember(&self, rec: Recorded) {
        if !self.record {
            return;
        }
        if let Ok(mut q) = self.requests.lock() {
            if q.len() >= 100 {
                q.pop_front();
            }
            q.push_back(rec);
        }
    }

    /// Counts a call for `model` and returns how many there were before it.
    pub(crate) fn count(&self, model: &str) -> u64 {
        let Ok(mut calls) = self.calls.lock() else {
            return 0;
        };
        let n = calls.entry(model.to_owned()).or_insert(0);
        *n += 1;
        *n - 1
    }
}

/// A running mock upstream; stops when dropped.
pub struct MockUpstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a recording mock on a free loopback port.
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?, true).await
    }

    /// Starts on `addr`; `record` keeps the last 100 requests for inspection.
    pub async fn start_on(addr: SocketAddr, record: bool) -> std::io::Result<MockUpstream> {
        let shared = Arc::new(Shared {
            record,
            ..Shared::default()
        });
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockUpstream { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The requests received so far (oldest first).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Runs until the task ends (for the binary).
    pub async fn wait(self) {
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/__mock/requests", get(openai::recorded))
        .with_state(shared)
}
