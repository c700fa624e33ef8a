//! With `[server.tls]`, both listeners speak HTTPS (rustls), HTTP/2 by ALPN included, and
//! refuse plain HTTP.

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Gateway, say_hi};

const SIM: &str = "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n[[models]]\nname = \"sim\"\nprovider = \"sim\"\n";

#[tokio::test]
async fn both_listeners_serve_https_and_refuse_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = common::localhost_cert(dir.path(), "tls");
    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(root)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let server = format!(
        "tls = {{ cert_file = \"{}\", key_file = \"{}\" }}",
        cert.display(),
        key.display()
    );
    let gw = Gateway::start_with(dir, &server, SIM, "https", http).await;

    let key = gw.api_key().await;
    let resp = gw.chat(&key, say_hi("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.version(),
        reqwest::Version::HTTP_2,
        "ALPN negotiates HTTP/2"
    );

    let plain = reqwest::Client::new()
        .get(gw.base.replace("https://", "http://") + "/healthz")
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP must not be served"
    );
}
