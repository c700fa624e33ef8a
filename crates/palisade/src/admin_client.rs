//! A small client for the admin API, used by the CLI verbs. Errors from the API are shown
//! with their message and code. Besides JSON it fetches plain-text answers (signed
//! checkpoints, public keys) and opens long-lived streams (the live audit tail).

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::cli::AdminArgs;

pub struct AdminClient {
    http: reqwest::Client,
    /// For streams: bounded connect, no overall timeout.
    streaming: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    pub fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let token = args
            .admin_token
            .clone()
            .filter(|t| !t.is_empty())
            .context("no admin token: set PALISADE_ADMIN_TOKEN or pass --admin-token")?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let streaming = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(AdminClient {
            http,
            streaming,
            base: args.admin_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    /// Every page of a list route (`path`, with or without a query), following
    /// `next_cursor`: one `{"object": "list", "data": [...]}` of all their items.
    pub async fn get_all(&self, path: &str) -> anyhow::Result<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut data = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "{path}{sep}limit={}",
                palisade_policy::identity::store::MAX_PAGE
            );
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&url_component(c));
            }
            let page = self.get(&url).await?;
            if let Some(items) = page["data"].as_array() {
                data.extend(items.iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        Ok(serde_json::json!({"object": "list", "data": data}))
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(self.url(path))).await
    }

    /// A plain-text answer (e.g. a signed checkpoint note), as sent.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let resp = self.open(self.http.get(self.url(path))).await?;
        Ok(resp.text().await?)
    }

    /// A long-lived answer (SSE), returned once its status is a success; read it with
    /// `chunk()`.
    pub async fn get_stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        self.open(
            self.streaming
                .get(self.url(path))
                .header("accept", "text/event-stream"),
        )
        .await
    }

    /// Sends a request and fails with the API's message and code unless it succeeded.
    async fn open(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        bail!("admin API answered {status}: {}", describe(&body));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if !status.is_success() {
            bail!("admin API answered {status}: {}", describe(&body));
        }
        Ok(body)
    }
}

/// `message (code)` of an API error body.
fn describe(body: &Value) -> String {
    let msg = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let code = body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    format!("{msg} ({code})")
}

/// A path or query component, percent-encoded (names are URL-safe already; anything else
/// is escaped).
pub fn url_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A cell of a table column: [`text`], except that a `…_at` column's Unix seconds are
/// shown as RFC 3339 UTC (`2026-12-06T10:45:11Z`), as `audit search` shows times.
pub fn cell(column: &str, v: &serde_json::Value) -> String {
    match v.as_i64() {
        Some(secs) if column.ends_with("_at") => {
            let t = palisade_audit::export::format_time(secs.saturating_mul(1_000_000));
            match t.strip_suffix(".000000Z") {
                Some(s) => format!("{s}Z"),
                // Beyond year 9999 the formatter gives nothing: the number, then.
                None if t.is_empty() => text(v),
                None => t,
            }
        }
        _ => text(v),
    }
}

/// A JSON value as a table cell: `-` for null, strings bare, arrays comma-joined.
pub fn text(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
