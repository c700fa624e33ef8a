//! What an OpenAI-kind provider puts on the wire, read from a raw TCP listener: the key
//! in exactly one header, the base URL's query kept (Azure's `api-version`), and no
//! retry once the request may have reached the upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_config::{KeyHeader, OpenAiSettings, ProviderConfig, ProviderKind};
use palisade_protocol::openai::ChatRequest;
use palisade_upstream::openai::OpenAiProvider;
use palisade_upstream::{Provider, UpstreamError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

/// A listener that records each request's head and either answers [`ANSWER`] or, with
/// `reset`, closes the connection once the whole request has arrived.
async fn upstream(reset: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (format!("http://{addr}"), serve(listener, reset))
}

/// Serves on `listener` as [`upstream`] describes; returns the heads it records.
fn serve(listener: TcpListener, reset: bool) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then a body of Content-Length bytes.
                let (head, want) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        break (head, end + 4 + len);
                    }
                };
                while buf.len() < want {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                log.lock().unwrap().push(head);
                if reset {
                    return; // dropped: the connection closes with no answer
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                    ANSWER.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    seen
}

fn provider(base_url: &str, key_header: KeyHeader, max_retries: u32) -> OpenAiProvider {
    provider_with_backoff(base_url, key_header, max_retries, Duration::from_millis(5))
}

fn provider_with_backoff(
    base_url: &str,
    key_header: KeyHeader,
    max_retries: u32,
    retry_backoff: Duration,
) -> OpenAiProvider {
    let settings = OpenAiSettings { key_header };
    let cfg = ProviderConfig {
        name: "wire".into(),
        kind: ProviderKind::OpenAi(settings.clone()),
        base_url: base_url.to_owned(),
        api_key: Some("sk-test-wire-0123456789".into()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries,
        retry_backoff,
        max_idle_per_host: 2,
    };
    OpenAiProvider::new(&cfg, &settings).unwrap()
}

fn request() -> ChatRequest {
    serde_json::from_value(
        json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
    )
    .unwrap()
}

fn header<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

#[tokio::test]
async fn the_key_goes_in_one_header_and_the_base_query_is_kept() {
    let (base, seen) = upstream(false).await;
    provider(&format!("{base}/v1"), KeyHeader::Bearer, 0)
        .chat(request())
        .await
        .unwrap();
    let azure = format!("{base}/openai/deployments/gpt4o?api-version=2024-10-21");
    provider(&azure, KeyHeader::ApiKey, 0)
        .chat(request())
        .await
        .unwrap();
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[0].starts_with("POST /v1/chat/completions HTTP/1.1"),
        "{}",
        heads[0]
    );
    assert_eq!(
        header(&heads[0], "authorization"),
        ["Bearer sk-test-wire-0123456789"]
    );
    assert!(header(&heads[0], "api-key").is_empty(), "{}", heads[0]);
    assert!(
        heads[1].starts_with(
            "POST /openai/deployments/gpt4o/chat/completions?api-version=2024-10-21 HTTP/1.1"
        ),
        "{}",
        heads[1]
    );
    assert_eq!(header(&heads[1], "api-key"), ["sk-test-wire-0123456789"]);
    assert!(
        header(&heads[1], "authorization").is_empty(),
        "{}",
        heads[1]
    );
}

#[tokio::test]
async fn a_request_the_upstream_received_is_not_sent_again() {
    // The connection drops after the whole request arrived (a load balancer cutting a
    // long generation): the model may be at work, so retrying could run it three times.
    let (base, seen) = upstream(true).await;
    let err = provider(&format!("{base}/v1"), KeyHeader::Bearer, 2)
        .chat(request())
        .await
        .expect_err("no answer");
    assert!(matches!(err, UpstreamError::Interrupted(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(seen.lock().unwrap().len(), 1, "the request was sent again");
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    // Nothing listens on the port at the first try (nothing was sent, so trying again is
    // safe); the upstream comes up before the retry, 300 ms later, which is served.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let seen = Arc::new(Mutex::new(None));
    let up = Arc::clone(&seen);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        *up.lock().unwrap() = Some(serve(listener, false));
    });
    let reply = provider_with_backoff(
        &format!("http://127.0.0.1:{port}/v1"),
        KeyHeader::Bearer,
        2,
        Duration::from_millis(300),
    )
    .chat(request())
    .await
    .expect("served after a retry");
    assert_eq!(reply.id, "c1");
    let heads = seen.lock().unwrap().clone().expect("the upstream came up");
    assert_eq!(heads.lock().unwrap().len(), 1, "one request reached it");
}
