//! Limits through the real binary (in-process backend): each limit kind refuses at the
//! right point with OpenAI's headers, token reservations are reconciled with real usage,
//! a stream is cut cleanly at its budget, and concurrency is released when a client
//! disconnects.

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Gateway, user_message};
use futures::StreamExt;
use serde_json::{Value, json};

const MODELS: &str = r#"
[[providers]]
name = "sim"
kind = "simulated"
[[providers]]
name = "streamer"
kind = "simulated"
chunk_interval_ms = 100
reply = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
[[providers]]
name = "chatty"
kind = "simulated"
reply = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
[[models]]
name = "sim"
provider = "sim"
aliases = ["sim-latest"]
price_input_per_million = 1000000.0
price_output_per_million = 1000000.0
[[models]]
name = "streamer"
provider = "streamer"
[[models]]
name = "chatty"
provider = "chatty"
[[models]]
name = "chatty-priced"
provider = "chatty"
price_input_per_million = 1000000.0
price_output_per_million = 1000000.0
"#;

async fn start(server_extra: &str, rules: &str) -> (Gateway, String) {
    let gw = Gateway::start(server_extra, &format!("{MODELS}\n{rules}")).await;
    let key = gw.api_key().await;
    (gw, key)
}

fn body(model: &str) -> Value {
    json!({"model": model, "messages": user_message("hi"), "max_tokens": 20})
}

/// A field of the OpenAI error body (`code`, `param`, …).
async fn error_field(resp: reqwest::Response, field: &str) -> Value {
    resp.json::<Value>().await.unwrap()["error"][field].clone()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn requests_per_minute_refuses_the_next_request_with_openai_headers() {
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"key\"\nrequests_per_minute = 3\n",
    )
    .await;
    for i in 0..3 {
        let resp = gw.chat(&key, body("sim")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "x-ratelimit-limit-requests").as_deref(),
            Some("3")
        );
        assert_eq!(
            header(&resp, "x-ratelimit-remaining-requests"),
            Some((2 - i).to_string())
        );
        assert!(header(&resp, "x-ratelimit-reset-requests").is_some());
    }
    let resp = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(
        header(&resp, "x-ratelimit-remaining-requests").as_deref(),
        Some("0")
    );
    let retry: u64 = header(&resp, "retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=20).contains(&retry),
        "one request refills in 20 s: {retry}"
    );
    assert!(header(&resp, "retry-after-ms").is_some());
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    // Another key is not affected by this key's limit.
    let other = gw.api_key().await;
    assert_eq!(
        gw.chat(&other, body("sim")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn a_key_over_its_request_rate_is_refused_before_its_body_is_read() {
    // Once a request rate not tied to a model refused the key, its next requests are all
    // refused until the retry time, whatever they carry: the gateway answers before
    // reading the body (a body that is not even JSON gets the 429, not a 400), so a key
    // over its rate cannot make it parse and count large bodies.
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"key\"\nrequests_per_minute = 1\n",
    )
    .await;
    assert_eq!(
        gw.chat(&key, body("sim")).send().await.unwrap().status(),
        200
    );
    let first = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(first.status(), 429);
    let first_retry: u64 = header(&first, "retry-after").unwrap().parse().unwrap();
    for path in ["/v1/chat/completions", "/v1/embeddings"] {
        let resp = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body("{ this is not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "{path}");
        let retry: u64 = header(&resp, "retry-after").unwrap().parse().unwrap();
        assert!((1..=first_retry).contains(&retry), "{path}: {retry}");
        assert_eq!(error_field(resp, "code").await, "rate_limit_exceeded");
    }
    // Another key is not held.
    let other = gw.api_key().await;
    assert_eq!(
        gw.chat(&other, body("sim")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn token_reservation_is_reconciled_with_real_usage() {
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"user\"\ntokens_per_minute = 5000\n",
    )
    .await;
    let big = json!({"model": "sim", "messages": user_message("hi"), "max_tokens": 4000});
    let resp = gw.chat(&key, big.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let reserved_left: u64 = header(&resp, "x-ratelimit-remaining-tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reserved_left <= 1000,
        "the estimate (prompt + max_tokens) is reserved: {reserved_left}"
    );
    let used = resp.json::<Value>().await.unwrap()["usage"]["total_tokens"]
        .as_u64()
        .unwrap();
    // After settlement, only the real usage is charged: a second big request fits.
    let resp = gw.chat(&key, big).send().await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the over-estimate was refunded (used {used})"
    );
    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "messages": user_message("hi"), "max_tokens": 4995}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        429,
        "but not a third that would exceed the minute"
    );
    assert_eq!(error_field(resp, "code").await, "rate_limit_exceeded");
}

#[tokio::test]
async fn each_of_n_choices_is_reserved_up_to_the_output_cap() {
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"user\"\ntokens_per_minute = 5000\n",
    )
    .await;
    let ask = |n: u64| json!({"model": "sim", "messages": user_message("hi"), "max_tokens": 2000, "n": n});
    // Three choices of up to 2,000 tokens cannot fit in 5,000: refused before the upstream.
    let resp = gw.chat(&key, ask(3)).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(error_field(resp, "code").await, "rate_limit_exceeded");
    let resp = gw.chat(&key, ask(2)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // `n` is bounded as OpenAI bounds it, so `n × max_tokens` cannot wrap around.
    for n in [
        json!(0),
        json!(129),
        json!(u64::MAX),
        json!("2"),
        json!(1.5),
    ] {
        let mut body = ask(1);
        body["n"] = n.clone();
        let resp = gw.chat(&key, body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "n = {n}");
        assert_eq!(error_field(resp, "param").await, "n");
    }
}

#[tokio::test]
async fn daily_token_and_cost_budgets_refuse_with_budget_exceeded() {
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"user\"\ndaily_tokens = 60\n",
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp = gw.chat(&key, body("sim")).send().await.unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert_eq!(error_field(resp, "code").await, "budget_exceeded");
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 1);

    // Cost: the model costs one unit per token; a budget of 40 units allows one request.
    let (gw, key) = start(
        "",
        "[[limits.rules]]\nscope = \"user\"\ndaily_cost = 40.0\n",
    )
    .await;
    assert_eq!(
        gw.chat(&key, body("sim")).send().await.unwrap().status(),
        200
    );
    let resp = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(error_field(resp, "code").await, "budget_exceeded");
}

#[tokio::test]
async fn concurrency_is_held_by_streams_and_released_on_disconnect() {
    let (gw, key) = start("", "[[limits.rules]]\nscope = \"user\"\nconcurrent = 1\n").await;
    let stream_body = json!({"model": "streamer", "stream": true, "messages": user_message("hi")});
    let first = gw.chat(&key, stream_body.clone()).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let mut chunks = first.bytes_stream();
    chunks.next().await.unwrap().unwrap();
    let resp = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(
        error_field(resp, "code").await,
        "concurrency_limit_exceeded"
    );
    drop(chunks); // the client goes away mid-stream
    let mut admitted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if gw.chat(&key, body("sim")).send().await.unwrap().status() == 200 {
            admitted = true;
            break;
        }
    }
    assert!(admitted, "the slot came back after the disconnect");
    assert!(gw.logs().contains("client_disconnected"));
}

/// Streams `model` (a long answer, no `max_tokens`) under `rule` and checks it is cut
/// before its end: a `length` finish, then a `budget_exceeded` error event, no `[DONE]`.
async fn assert_stream_cut_by(rule: &str, model: &str) {
    let (gw, key) = start("default_output_tokens = 5", rule).await;
    let resp = gw
        .chat(
            &key,
            json!({"model": model, "stream": true, "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .unwrap()
        .unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert!(!data.contains(&"[DONE]"));
    let last: Value = serde_json::from_str(data[data.len() - 1]).unwrap();
    assert_eq!(last["error"]["code"], "budget_exceeded");
    let finish: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let words: String = data[..data.len() - 2]
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        !words.contains("omega alpha"),
        "the stream stopped before the end: {words}"
    );
}

#[tokio::test]
async fn a_stream_reaching_its_budget_is_cut_cleanly() {
    assert_stream_cut_by(
        "[[limits.rules]]\nscope = \"user\"\ndaily_tokens = 40\n",
        "chatty",
    )
    .await;
}

#[tokio::test]
async fn a_stream_reaching_its_cost_budget_is_cut_cleanly() {
    // One unit per token: 40 units are spent long before the answer ends.
    assert_stream_cut_by(
        "[[limits.rules]]\nscope = \"user\"\ndaily_cost = 40.0\n",
        "chatty-priced",
    )
    .await;
}

#[tokio::test]
async fn request_protection_bounds_max_tokens_and_messages() {
    let (gw, key) = start("max_output_tokens = 1000\nmax_messages = 3", "").await;
    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "messages": user_message("hi"), "max_tokens": 1001}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_field(resp, "param").await, "max_tokens");
    // Both fields sent: each is bounded (an upstream may read either).
    let resp = gw
        .chat(
            &key,
            json!({"model": "sim", "messages": user_message("hi"),
                   "max_completion_tokens": 1, "max_tokens": 500000}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_field(resp, "param").await, "max_tokens");
    let many: Vec<Value> = (0..4)
        .map(|_| json!({"role": "user", "content": "x"}))
        .collect();
    let resp = gw
        .chat(&key, json!({"model": "sim", "messages": many}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_field(resp, "param").await, "messages");
}

#[tokio::test]
async fn a_model_rule_set_through_the_admin_api_counts_under_the_models_name() {
    // Requests are counted under the model's own name: a rule naming an alias is stored
    // as that name (else it would never match), and an unknown name is refused.
    let (gw, key) = start("", "").await;
    let one_a_minute_for = |model: &'static str| {
        let rules =
            json!({"rules": [{"scope": "model", "match": model, "requests_per_minute": 1}]});
        gw.admin_call(reqwest::Method::PUT, "/admin/v1/limits", Some(rules))
    };
    let (status, answer, _) = one_a_minute_for("sim-latest").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rules"][0]["match"], "sim", "{answer}");
    assert_eq!(
        gw.chat(&key, body("sim-latest"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let (status, answer, _) = one_a_minute_for("no-such-model").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_flood_of_bad_keys_is_cut_off_per_address() {
    // No key cache: a key verified lately is known without one.
    let (gw, key) = start(
        "auth_failures_per_minute_per_ip = 5\nkey_cache_ttl_ms = 0",
        "",
    )
    .await;
    // A client sharing the address, whose key was verified a moment ago.
    let active = gw.key_for("active-client", &[]).await;
    let resp = gw.chat(&active, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    for _ in 0..5 {
        assert_eq!(
            gw.chat("pal_aaaaaaaaaaaa_wrong", body("sim"))
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let resp = gw
        .chat("pal_aaaaaaaaaaaa_wrong", body("sim"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(error_field(resp, "code").await, "too_many_auth_failures");
    let resp = gw.chat(&key, body("sim")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        429,
        "the address is refused before any key is looked up"
    );
    let resp = gw.chat(&active, body("sim")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a key verified lately still passes");
    // The admin plane keeps its own count: operators behind the same address can still
    // reach it to fix the keys.
    let resp = gw
        .http
        .get(format!("{}/admin/v1/users", gw.admin))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// `GET /admin/v1/users` with `token`, from `client` as a proxy would forward it.
async fn admin_users_as(gw: &Gateway, token: &str, client: &str) -> reqwest::Response {
    gw.http
        .get(format!("{}/admin/v1/users", gw.admin))
        .bearer_auth(token)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
}

const WRONG_ADMIN_TOKEN: &str = "pat_aaaaaaaaaaaa_wrongwrongwrongwrong";

/// Behind a load balancer every admin client shares its address: failures are counted
/// per forwarded client, so one client's bad tokens do not lock the others out.
#[tokio::test]
async fn behind_a_trusted_proxy_admin_failures_count_per_forwarded_client() {
    let (gw, _key) = start(
        "auth_failures_per_minute_per_ip = 5\nadmin_trusted_proxies = [\"127.0.0.1\"]",
        "",
    )
    .await;
    for _ in 0..5 {
        let resp = admin_users_as(&gw, WRONG_ADMIN_TOKEN, "203.0.113.7").await;
        assert_eq!(resp.status(), 401);
    }
    let resp = admin_users_as(&gw, common::ADMIN_TOKEN, "203.0.113.7").await;
    assert_eq!(resp.status(), 429);
    assert_eq!(error_field(resp, "code").await, "too_many_auth_failures");
    let resp = admin_users_as(&gw, common::ADMIN_TOKEN, "198.51.100.1").await;
    assert_eq!(resp.status(), 200, "another client behind the same proxy");
}

/// The data plane's trusted proxies are not trusted on the admin plane: there the
/// header is ignored unless `admin_trusted_proxies` lists the peer.
#[tokio::test]
async fn the_data_planes_proxies_do_not_name_admin_clients() {
    let (gw, _key) = start(
        "auth_failures_per_minute_per_ip = 5\ntrusted_proxies = [\"127.0.0.1\"]",
        "",
    )
    .await;
    for n in 0..5 {
        // A new made-up address each time does not spread the count.
        let resp = admin_users_as(&gw, WRONG_ADMIN_TOKEN, &format!("203.0.113.{n}")).await;
        assert_eq!(resp.status(), 401);
    }
    let resp = admin_users_as(&gw, common::ADMIN_TOKEN, "198.51.100.1").await;
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn a_flood_of_bad_admin_tokens_is_cut_off_per_address() {
    let (gw, _key) = start("auth_failures_per_minute_per_ip = 5", "").await;
    let users = || {
        gw.http
            .get(format!("{}/admin/v1/users", gw.admin))
            .bearer_auth("pat_aaaaaaaaaaaa_wrongwrongwrongwrong")
            .send()
    };
    for _ in 0..5 {
        assert_eq!(users().await.unwrap().status(), 401);
    }
    let resp = users().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(error_field(resp, "code").await, "too_many_auth_failures");
}
