//! SIGTERM stops accepting new work but lets in-flight requests finish.
// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Gateway, openai_provider, user_message};
use palisade_testkit::mock_upstream::MockUpstream;
use serde_json::json;

#[tokio::test]
async fn in_flight_request_finishes_after_sigterm() {
    let mock = MockUpstream::start().await.unwrap();
    let mut gw = Gateway::start(
        "",
        &openai_provider("mock", &mock.base_url(), "", &[("slow", "slow-1000")]),
    )
    .await;
    let key = gw.api_key().await;
    let pending = tokio::spawn(
        gw.chat(
            &key,
            json!({"model": "slow", "messages": user_message("hi")}),
        )
        .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code = tokio::task::spawn_blocking(move || {
        let code = gw.terminate();
        (code, gw)
    })
    .await
    .unwrap();
    let resp = pending
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(resp.status(), 200);
    assert_eq!(code.0, Some(0), "clean exit; log:\n{}", code.1.logs());
}
