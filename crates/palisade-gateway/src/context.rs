//! The per-request context every pipeline stage reads and extends: identity of the
//! request, who is calling, where it goes, and the clock readings that make up the
//! gateway's own overhead (total time minus time spent waiting on the upstream).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use palisade_policy::identity::Principal;
use palisade_policy::limits::RateLimitHeaders;
use palisade_protocol::openai::Usage;

use crate::pipeline::inspect::ScanState;
use crate::pipeline::record::Captured;
use crate::routing::ModelRoute;
use crate::telemetry::metrics::InFlight;

/// Which API endpoint the request is for; a bounded label for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
    Models,
    /// A path or method no route matches.
    Unmatched,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Unmatched => "unmatched",
        }
    }

    /// The action name in audit records.
    pub fn action(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat.completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Unmatched => "unmatched",
        }
    }
}

pub struct RequestCtx {
    pub request_id: String,
    pub endpoint: Endpoint,
    pub client_addr: Option<SocketAddr>,
    pub started: Instant,
    /// Wall-clock start, Unix microseconds (for the audit record).
    pub started_unix_us: i64,
    /// The client's `User-Agent` (truncated), for the audit record.
    pub user_agent: Option<String>,
    pub principal: Option<Principal>,
    /// The public id of a well-formed key that failed authentication (revoked, expired,
    /// wrong secret, unknown): the record names which key was tried, never its secret.
    pub presented_key_id: Option<String>,
    pub route: Option<ModelRoute>,
    pub stream: bool,
    /// Time spent awaiting the upstream so far.
    pub upstream_time: Duration,
    pub usage: Option<Usage>,
    /// Holds the request in the in-flight gauge until the context is dropped.
    pub in_flight: Option<InFlight>,
    /// What the client said the request is for (`x-palisade-purpose`), for policies.
    pub purpose: Option<String>,
    /// Prompt tokens as counted before the call.
    pub prompt_estimate: u64,
    /// The rate-limit state sent back as `x-ratelimit-*` headers.
    pub ratelimit: Option<RateLimitHeaders>,
    /// The policies behind the access decision (permits when allowed, the deciding ones
    /// when denied) — always recorded, whatever `explain_denials` says.
    pub policies: Vec<String>,
    /// The upstream's HTTP status, once it answered.
    pub upstream_status: Option<u16>,
    /// The model version that served the request, as the upstream named it.
    pub model_version: Option<String>,
    /// Content kept for the audit record when capture is on.
    pub capture: Option<Captured>,
    /// The scanning profile, pseudonym vault and findings; `None` when not scanned.
    pub scan: Option<ScanState>,
}

impl RequestCtx {
    pub fn new(request_id: String, endpoint: Endpoint, client_addr: Option<SocketAddr>) -> Self {
        RequestCtx {
            request_id,
            endpoint,
            client_addr,
            started: Instant::now(),
            started_unix_us: palisade_audit::event::now_us(),
            user_agent: None,
            principal: None,
            presented_key_id: None,
            route: None,
            stream: false,
            upstream_time: Duration::ZERO,
            usage: None,
            in_flight: None,
            purpose: None,
            prompt_estimate: 0,
            ratelimit: None,
            policies: Vec::new(),
            upstream_status: None,
            model_version: None,
            capture: None,
            scan: None,
        }
    }

    /// Time spent in the gateway itself so far (excluding upstream waits).
    pub fn overhead(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.upstream_time)
    }

    /// The public model name, or `-` before routing (bounded label).
    pub fn model_label(&self) -> &str {
        self.route.as_ref().map_or("-", |r| r.name.as_ref())
    }
}
