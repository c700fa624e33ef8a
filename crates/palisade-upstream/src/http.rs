//! The pooled HTTP client every HTTP provider uses, and the helpers that turn an upstream
//! answer into a value or an [`UpstreamError`]: status classification, bounded body reads,
//! `Retry-After` parsing.

use std::time::Duration;

use palisade_config::ProviderConfig;
use serde::de::DeserializeOwned;

use crate::UpstreamError;
use crate::retry::RetryPolicy;

/// Largest non-streaming upstream body Palisade will read.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Largest error body read to extract a message.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Connection settings shared by HTTP providers.
#[derive(Clone)]
pub struct HttpUpstream {
    pub client: reqwest::Client,
    pub base_url: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl HttpUpstream {
    pub fn new(cfg: &ProviderConfig) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(cfg.max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // Never follow a redirect: it would carry the provider key in headers reqwest
            // does not strip (`api-key`, `x-api-key`) and re-send the prompt (307/308) to
            // wherever the answer points, the metadata service included. A 3xx is an
            // upstream error.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Connect(format!("cannot build HTTP client: {e}")))?;
        Ok(HttpUpstream {
            client,
            base_url: cfg.base_url.clone(),
            timeout: cfg.timeout,
            retry: RetryPolicy {
                max_retries: cfg.max_retries,
                backoff: cfg.retry_backoff,
            },
        })
    }

    /// The parsed URL of an endpoint under the base URL (parse once, reuse per request):
    /// `path` is appended to the base URL's path, and a query the base URL carries (Azure's
    /// `?api-version=…`) is kept.
    pub fn endpoint(&self, path: &str) -> Result<reqwest::Url, UpstreamError> {
        let mut url = reqwest::Url::parse(&self.base_url)
            .map_err(|e| UpstreamError::Connect(format!("invalid upstream URL: {e}")))?;
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        Ok(url)
    }
}

/// Sends a request and returns the response if its status is a success; otherwise the
/// classified error.
pub async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, UpstreamError> {
    let resp = req
        .send()
        .await
        .map_err(|e| UpstreamError::from_reqwest(&e))?;
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(status_error(resp).await)
    }
}

/// Reads a JSON body of at most [`MAX_RESPONSE_BYTES`].
pub async fn read_json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, UpstreamError> {
    let bytes = read_bounded(resp, MAX_RESPONSE_BYTES).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| UpstreamError::Protocol(format!("bad JSON body: {e}")))
}

async fn read_bounded(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, UpstreamError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| UpstreamError::from_reqwest(&e))?
    {
        if out.len() + chunk.len() > max {
            return Err(UpstreamError::Protocol(format!(
                "response body exceeds {max} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `message` with every URL (a word with `://`), IP address and `host:port` replaced, so
/// that an upstream error shown to the client does not map the deployment behind the
/// gateway. Words are split at white space (kept as one space); an address may sit
/// after `name=` or `name:`, in brackets or quotes, with a port, a zone or a prefix
/// length.
fn without_locations(message: &str) -> String {
    let words: Vec<String> = message
        .split_whitespace()
        .map(|word| {
            if word.contains("://") {
                return "[url]".to_owned();
            }
            let trim = |w: &'_ str| -> String {
                w.trim_matches(|c: char| "()[]{}<>,;:.!?'\"`".contains(c))
                    .to_owned()
            };
            let bare = trim(word);
            let bare = bare.as_str();
            // `host='10.0.0.3'`: the value after a name, trimmed again.
            let value = bare.rsplit_once('=').map(|(_, v)| trim(v));
            let value = value.as_deref().unwrap_or(bare);
            if !value.is_empty() && is_location(value) {
                return word.replacen(value, "[address]", 1);
            }
            // `host:10.0.0.3`, `api_base:llm.internal:4000`.
            match value.split_once(':') {
                Some((name, rest)) if !name.contains('.') && is_location(rest) => {
                    word.replacen(rest, "[address]", 1)
                }
                _ => word.to_owned(),
            }
        })
        .collect();
    words.join(" ")
}

/// Whether `s` is an IP address (v4 or v6: bracketed, with a port, a `%zone` or a
/// `/prefix`) or a dotted host name with a port.
fn is_location(s: &str) -> bool {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let s = s.split('/').next().unwrap_or(s);
    if s.parse::<IpAddr>().is_ok() || s.parse::<SocketAddr>().is_ok() {
        return true;
    }
    // `[v6]:port` (or `[v6%zone]:port`) with its opening bracket trimmed off.
    if let Some((host, _)) = s.split_once("]:") {
        let host = host.trim_start_matches('[');
        return host
            .split('%')
            .next()
            .unwrap_or(host)
            .parse::<IpAddr>()
            .is_ok();
    }
    let unzoned = s.split('%').next().unwrap_or(s).trim_matches(['[', ']']);
    if unzoned.parse::<IpAddr>().is_ok() {
        return true;
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            // A host name: `localhost`, or dotted with a letter in its last label
            // (`llm.internal`, not a version like `1.2`).
            let last = host.rsplit('.').next().unwrap_or(host);
            host.parse::<Ipv4Addr>().is_ok()
                || host.eq_ignore_ascii_case("localhost")
                || (host.contains('.')
                    && last.bytes().any(|b| b.is_ascii_alphabetic())
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        }
        _ => false,
    }
}

/// Turns a non-success response into [`UpstreamError::Status`]. The upstream's message is
/// kept only for client errors about the request itself (400, 404, 413, 422): those are
/// the caller's to read; authentication and server errors are ours.
async fn status_error(resp: reqwest::Response) -> UpstreamError {
    let status = resp.status().as_u16();
    // `retry-after-ms` (OpenAI's, exact) before `Retry-After` (whole or fractional
    // seconds; an HTTP date is not read), each at most an hour.
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let retry_after = header("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| header("retry-after"))
        .map(|secs| Duration::from_secs_f64(secs.min(3600.0)));
    let keep_message = matches!(status, 400 | 404 | 413 | 422);
    let error = if keep_message {
        read_bounded(resp, MAX_ERROR_BYTES)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|mut v| v.get_mut("error").map(serde_json::Value::take))
    } else {
        None
    };
    let field = |name: &str, max: usize, ok: fn(char) -> bool| {
        error
            .as_ref()
            .and_then(|e| e.get(name)?.as_str())
            .filter(|s| !s.is_empty() && s.len() <= max && s.chars().all(ok))
            .map(str::to_owned)
    };
    UpstreamError::Status {
        status,
        // `error.message` (OpenAI and Anthropic both use it), cut to 1000 characters,
        // without the addresses a proxy in between may name (its `api_base`, a host).
        message: error
            .as_ref()
            .and_then(|e| e.get("message")?.as_str())
            .map(|m| without_locations(&m.chars().take(1000).collect::<String>())),
        // A code and a parameter path are short words; anything else is not passed on.
        code: field("code", 64, |c| {
            c.is_ascii_alphanumeric() || "_-.".contains(c)
        }),
        param: field("param", 128, |c| {
            c.is_ascii_alphanumeric() || "_-.[]".contains(c)
        }),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::without_locations;

    #[test]
    fn an_upstream_message_names_no_address() {
        assert_eq!(
            without_locations(
                "Connection to https://10.1.2.3:8443/v1 failed (api_base=http://llm.internal:4000), \
                 try 10.0.0.3:4000 or fe80::1."
            ),
            "Connection to [url] failed [url] try [address] or [address]."
        );
        assert_eq!(
            without_locations(
                "host=10.0.0.3 via [fe80::1]:8443,\tfe80::1%eth0 10.0.0.0/24 llm.internal:4000!"
            ),
            "host=[address] via [[address], [address] [address] [address]!"
        );
        let plain = "This model's maximum context length is 8192 tokens: 1.5 times too long.";
        assert_eq!(without_locations(plain), plain);
        let plain = "Invalid value for 'temperature': expected a number, got \"hot\".";
        assert_eq!(without_locations(plain), plain);
        assert_eq!(
            without_locations(
                "HTTPConnectionPool(host='10.0.0.3', port=8000) dial tcp 10.0.0.3:8000: refused \
                 at [fe80::1%eth0]:8443 or localhost:8000"
            ),
            "HTTPConnectionPool(host='[address]', port=8000) dial tcp [address]: refused at \
             [[address] or [address]"
        );
        let plain = "Invalid 'messages[0].content': string too long; model gpt-4o:2024-08-06, ratio 3:2 at 10:30, v1.2:3.";
        assert_eq!(without_locations(plain), plain);
    }
}
