//! Cross-origin calls from browsers: with `server.cors_origins` listing a web origin, a
//! page of that origin gets its preflight answered (before any key is checked) and may
//! read every answer — refusals included — with the request id and rate-limit headers;
//! pages of other origins get no CORS headers (their browsers keep the answers from
//! them), and neither does anyone when no origin is listed. The admin plane never
//! answers CORS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Gateway, user_message};
use reqwest::{Method, Response};
use serde_json::json;

const SIM: &str = "[[providers]]\nname = \"sim\"\nkind = \"simulated\"\n[[models]]\nname = \"sim\"\nprovider = \"sim\"\n";
const APP: &str = "https://app.example.com";

/// A browser's preflight for a chat from `origin`, with the headers the OpenAI JS SDK adds.
async fn preflight(gw: &Gateway, base: &str, origin: &str) -> Response {
    gw.http
        .request(Method::OPTIONS, format!("{base}/v1/chat/completions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-stainless-os",
        )
        .send()
        .await
        .unwrap()
}

/// A chat from a page of `origin` (with `key`, if any).
async fn chat_from(gw: &Gateway, origin: &str, key: Option<&str>) -> Response {
    let mut req = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.base))
        .header("origin", origin)
        .json(&json!({"model": "sim", "messages": user_message("hi")}));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.unwrap()
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_listed_origin_may_call_from_a_browser_and_others_may_not() {
    let gw = Gateway::start(&format!("cors_origins = [\"{APP}\"]"), SIM).await;
    let key = gw.api_key().await;

    let pre = preflight(&gw, &gw.base, APP).await;
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(header(&pre, "access-control-allow-origin"), Some(APP));
    let methods = header(&pre, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = header(&pre, "access-control-allow-headers").unwrap();
    for h in ["authorization", "content-type", "x-stainless-os"] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert_eq!(header(&pre, "access-control-max-age"), Some("600"));
    assert_eq!(
        header(&pre, "access-control-allow-credentials"),
        None,
        "keys travel in Authorization, never in cookies"
    );

    let ok = chat_from(&gw, APP, Some(&key)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some(APP));
    let exposed = header(&ok, "access-control-expose-headers").unwrap();
    for h in [
        "x-request-id",
        "retry-after",
        "x-ratelimit-remaining-requests",
    ] {
        assert!(exposed.contains(h), "{h} not in {exposed}");
    }
    assert!(header(&ok, "vary").unwrap().contains("origin"));
    // A refusal is readable by the page too.
    let refused = chat_from(&gw, APP, None).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(APP));

    // Another origin: no CORS headers on the preflight or the call.
    let other = "https://evil.example";
    let pre = preflight(&gw, &gw.base, other).await;
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    let call = chat_from(&gw, other, Some(&key)).await;
    assert_eq!(header(&call, "access-control-allow-origin"), None);

    // The admin plane answers no CORS, listed origin or not.
    let admin = gw
        .http
        .request(Method::OPTIONS, format!("{}/admin/v1/users", gw.admin))
        .header("origin", APP)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&admin, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn any_origin_or_none() {
    let gw = Gateway::start("cors_origins = [\"*\"]", SIM).await;
    let pre = preflight(&gw, &gw.base, "http://localhost:5173").await;
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(header(&pre, "access-control-allow-origin"), Some("*"));
    drop(gw);

    // Nothing listed (the default): no CORS headers; a preflight is a method not allowed.
    let gw = Gateway::start("", SIM).await;
    let key = gw.api_key().await;
    let pre = preflight(&gw, &gw.base, APP).await;
    assert_eq!(pre.status(), 405);
    assert_eq!(header(&pre, "access-control-allow-origin"), None);
    let call = chat_from(&gw, APP, Some(&key)).await;
    assert_eq!(call.status(), 200);
    assert_eq!(header(&call, "access-control-allow-origin"), None);
}
