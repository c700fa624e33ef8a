//! Upstream redirects are never followed: a provider (or anything between) answering
//! 307/308 must not make the gateway re-send the prompt and the provider key elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use palisade_config::{KeyHeader, OpenAiSettings, ProviderConfig, ProviderKind};
use palisade_protocol::openai::ChatRequest;
use palisade_upstream::openai::OpenAiProvider;
use palisade_upstream::{Provider, UpstreamError};
use serde_json::json;

#[tokio::test]
async fn a_redirect_is_an_error_and_nothing_follows_it() {
    let followed = Arc::new(AtomicUsize::new(0));
    let hits = Arc::clone(&followed);
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/elsewhere")],
                )
                    .into_response()
            }),
        )
        .route(
            "/elsewhere",
            post(move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let settings = OpenAiSettings {
        key_header: KeyHeader::Bearer,
    };
    let cfg = ProviderConfig {
        name: "redirecting".into(),
        kind: ProviderKind::OpenAi(settings.clone()),
        base_url: format!("http://{addr}/v1"),
        api_key: Some("sk-test-redirect".into()),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries: 0,
        retry_backoff: Duration::from_millis(5),
        max_idle_per_host: 2,
    };
    let provider = OpenAiProvider::new(&cfg, &settings).unwrap();
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": "hello"}]
    }))
    .unwrap();
    match provider.chat(req.clone()).await {
        Err(UpstreamError::Status { status, .. }) => assert_eq!(status, 307),
        other => panic!("expected the 307 as an error, got {other:?}"),
    }
    assert!(provider.chat_stream(req).await.is_err());
    assert_eq!(
        followed.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}
