//! What producers hand to the ledger: one [`Event`] per interaction (a data-plane request
//! or an admin-plane call), plus optional captured [`Capture`] content. Events hold
//! identifiers, numbers and codes only; prompt and response text travels only inside a
//! `Capture`, which the ledger encrypts before anything is stored.

use serde::{Deserialize, Serialize};

/// Which listener the interaction came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plane {
    Data,
    Admin,
}

impl Plane {
    pub fn as_str(self) -> &'static str {
        match self {
            Plane::Data => "data",
            Plane::Admin => "admin",
        }
    }
}

/// The outcome of an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Served.
    Allow,
    /// Refused by authentication or policy.
    Deny,
    /// Refused by a rate limit, budget or concurrency limit.
    Limit,
    /// Refused by a content scanner.
    Block,
    /// Failed: bad request, upstream failure, timeout, internal error.
    Error,
}

impl Decision {
    pub const ALL: [Decision; 5] = [
        Decision::Allow,
        Decision::Deny,
        Decision::Limit,
        Decision::Block,
        Decision::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Limit => "limit",
            Decision::Block => "block",
            Decision::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Who made the call: an API key's owner on the data plane, an admin token on the admin
/// plane, or nobody known (failed authentication). Never a secret: ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// On a failed authentication, the key id the caller presented (a well-formed key whose
    /// secret did not match, or a revoked or expired key). Not proven: key ids are not
    /// secret, so anyone can present one. Kept apart from `key_id` so a key's own traffic
    /// (and searches by actor) never mixes with attempts made under its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted_key_id: Option<String>,
    /// The user's name (unique; what policies and searches use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The user's immutable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Actor {
    /// The id searches match on first: the API key id or the admin token id, or `-`.
    pub fn primary(&self) -> &str {
        primary_actor(self.key_id.as_deref(), self.token_id.as_deref())
    }
}

/// The actor id searches match first (see [`Actor::primary`]); shared with the verifier's
/// zero-copy header view.
pub fn primary_actor<'a>(key_id: Option<&'a str>, token_id: Option<&'a str>) -> &'a str {
    key_id.or(token_id).unwrap_or("-")
}

/// Token usage of a data-plane request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// One scanner finding: what was found and where, never the matched text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: String,
    pub detector: String,
    pub score: f32,
    /// Where: `input` or `output`, and the message index when known.
    pub location: String,
    pub start: u32,
    pub end: u32,
    /// What was done about it: block, redact, mask, pseudonymize, flag.
    pub action: String,
}

/// What an admin mutation changed. Secrets (key hashes, tokens) are never included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The kind and id of what changed, e.g. `key:key_01…`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// One interaction, as the gateway or the admin API saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time in microseconds when the interaction started.
    pub time_us: i64,
    pub request_id: String,
    pub plane: Plane,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// What was asked: `chat.completions`, `embeddings`, `models`, or for the admin plane
    /// `METHOD /path`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    pub decision: Decision,
    /// The stable code behind the decision (`ok`, `access_denied`, `rate_limit_exceeded`…).
    pub reason: String,
    /// The HTTP status the client got.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(default)]
    pub stream: bool,
    pub latency_ms: f64,
    pub overhead_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

impl Event {
    /// An event stamped now, with everything else empty: producers fill in what they know.
    pub fn new(plane: Plane, request_id: impl Into<String>, action: impl Into<String>) -> Self {
        Event {
            time_us: now_us(),
            request_id: request_id.into(),
            plane,
            actor: Actor::default(),
            client_ip: None,
            user_agent: None,
            action: action.into(),
            model: None,
            model_version: None,
            decision: Decision::Allow,
            reason: "ok".into(),
            status: 200,
            policies: Vec::new(),
            findings: Vec::new(),
            upstream_status: None,
            usage: None,
            stream: false,
            latency_ms: 0.0,
            overhead_ms: 0.0,
            change: None,
        }
    }
}

/// Content captured for the record: whose it is (the subject whose data key encrypts it)
/// and the content itself. Only ever stored encrypted.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The data subject: the end-user id the client passed, else the calling user.
    pub subject: String,
    /// The content as UTF-8 JSON, e.g. `{"request": …, "response": …}`.
    pub content: Vec<u8>,
}

/// What a producer submits: the event and, when capture is on, its content.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: Event,
    pub capture: Option<Capture>,
}

impl From<Event> for Entry {
    fn from(event: Event) -> Self {
        Entry {
            event,
            capture: None,
        }
    }
}

/// The current Unix time in microseconds.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
