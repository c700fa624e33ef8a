//! SIGTERM stops accepting new work but lets in-flight requests finish.
// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Gateway, openai_provider, say_hi, user_message};
use palisade_testkit::mock_upstream::MockUpstream;
use serde_json::{Value, json};

#[tokio::test]
async fn in_flight_request_finishes_after_sigterm() {
    let mock = MockUpstream::start().await.unwrap();
    let mut gw = Gateway::start(
        "",
        &openai_provider("mock", &mock.base_url(), "", &[("slow", "slow-1000")]),
    )
    .await;
    let key = gw.api_key().await;
    let pending = tokio::spawn(gw.chat(&key, say_hi("slow")).send());
    // In flight: the mock has it (it records a request before its slow wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !mock
        .requests()
        .iter()
        .any(|r| r.body["model"] == "slow-1000")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// A simulated model streaming 40 words, one every 400 ms (16 s: longer than the 5 s
/// grace period of the test gateways).
fn drip() -> String {
    format!(
        "[[providers]]\nname = \"drip\"\nkind = \"simulated\"\nchunk_interval_ms = 400\nreply = \"{}\"\n\
         [[models]]\nname = \"drip\"\nprovider = \"drip\"\n",
        "drip ".repeat(40).trim_end()
    )
}

/// Starts a drip stream and keeps reading it in the background (so its connection is
/// busy): its request id and the reader.
async fn busy_stream(gw: &Gateway) -> (String, tokio::task::JoinHandle<()>) {
    let key = gw.api_key().await;
    let mut resp = gw
        .chat(
            &key,
            json!({"model": "drip", "stream": true, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    resp.chunk().await.unwrap().expect("the stream started");
    let reader = tokio::spawn(async move { while let Ok(Some(_)) = resp.chunk().await {} });
    (request_id, reader)
}

/// The records of `request_id`, read from a gateway started again on `gw`'s store.
async fn records_after_restart(gw: Gateway, request_id: &str) -> Vec<Value> {
    let gw = Gateway::start_with(gw.into_dir(), "", &drip(), "http", reqwest::Client::new()).await;
    let (status, body, _) = gw
        .admin_call(
            reqwest::Method::GET,
            &format!("/admin/v1/audit?request_id={request_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// A stream that outlives the grace period is cut when it ends, and still recorded: the
/// ledger closes only after the cut stream's record is in.
#[tokio::test]
async fn a_stream_cut_at_the_end_of_the_grace_period_is_recorded() {
    let mut gw = Gateway::start("", &drip()).await;
    let (request_id, reader) = busy_stream(&gw).await;
    let (code, gw) = tokio::task::spawn_blocking(move || {
        let code = gw.terminate();
        (code, gw)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "clean exit; log:\n{}", gw.logs());
    let _ = reader.await;
    let records = records_after_restart(gw, &request_id).await;
    assert_eq!(
        records.len(),
        1,
        "the cut stream has its record: {records:?}"
    );
    assert_eq!(records[0]["model"], "drip");
}

/// A second SIGTERM while draining stops at once (an operator who asks twice wants out
/// now), still with a clean exit, and the stream it cut still has its record.
#[tokio::test]
async fn a_second_sigterm_stops_without_waiting_for_the_grace_period() {
    let mut gw = Gateway::start("", &drip()).await;
    let (request_id, reader) = busy_stream(&gw).await;
    let started = std::time::Instant::now();
    let (code, gw) = tokio::task::spawn_blocking(move || {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &gw.pid().to_string()])
            .status();
        // Two signals sent before the first is read would arrive as one: the second
        // goes once the gateway says it is draining.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !gw.logs().contains("shutting down: draining") {
            assert!(std::time::Instant::now() < deadline, "{}", gw.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        let code = gw.terminate(); // the second SIGTERM
        (code, gw)
    })
    .await
    .unwrap();
    let took = started.elapsed();
    assert_eq!(code, Some(0), "clean exit; log:\n{}", gw.logs());
    // The stream had 16 s to go and the grace period is 5 s.
    assert!(took < Duration::from_secs(4), "stopped after {took:?}");
    assert!(gw.logs().contains("second signal"), "{}", gw.logs());
    let _ = reader.await;
    let records = records_after_restart(gw, &request_id).await;
    assert_eq!(
        records.len(),
        1,
        "the cut stream has its record: {records:?}"
    );
}
