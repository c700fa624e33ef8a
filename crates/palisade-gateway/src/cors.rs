//! Cross-origin calls from browsers (CORS) to the data plane, for the web origins listed in
//! `server.cors_origins`: their pages may call `/v1/…` with an API key, as they may call
//! OpenAI's API. With origins listed, every `OPTIONS` request is answered as a preflight
//! before routing and authentication (a browser sends no key with one; it reaches no
//! handler, log line or metric). Every answer the router gives a listed origin —
//! refusals included, so a page can read the error — names it in
//! `Access-Control-Allow-Origin` and exposes the request id, the overhead and the
//! rate-limit headers; a header block too large for the listener (431) is answered before
//! the router and carries none. Other origins are never named in
//! `Access-Control-Allow-Origin` (the other CORS headers they may see grant nothing), so
//! browsers keep their pages from reading the answers. No credentials mode: keys travel
//! in `Authorization`, never in cookies. The admin plane has no CORS at all.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Answer headers a page may read besides the CORS-safelisted ones.
const EXPOSED: &[&str] = &[
    palisade_protocol::request_id::HEADER,
    crate::pipeline::respond::OVERHEAD_HEADER,
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
];

/// The layer for `origins` (already validated: `["*"]` or exact origins); `None` when
/// no origin is listed.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            // Whatever the page asks to send: the OpenAI SDKs add their own headers, and
            // with no ambient credentials a header grants nothing the key does not.
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(
                EXPOSED
                    .iter()
                    .map(|h| HeaderName::from_static(h))
                    .collect::<Vec<_>>(),
            )
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
