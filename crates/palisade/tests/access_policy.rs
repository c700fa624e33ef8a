//! Access policy through the real binary: Cedar decides who may use which model, with
//! default deny, `forbid` winning, context rules, explanations in 403s, per-caller model
//! lists, admin actions under the same engine, and atomic hot reload (admin PUT and
//! SIGHUP) that keeps the old set when the new one is invalid.

// Test helpers outside #[test] fns may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Gateway, say_hi, user_message};
use serde_json::{Value, json};

const ADMIN_RULES: &str = r#"
@id("admins")
permit(principal is Palisade::AdminToken, action, resource) when { principal.role == "admin" };
@id("operators")
permit(principal is Palisade::AdminToken, action, resource)
when { principal.role == "operator" }
unless { action == Palisade::Action::"manage_admin_tokens" || action == Palisade::Action::"manage_policies" };
"#;

const MODELS: &str = r#"
[[providers]]
name = "sim"
kind = "simulated"
[[providers]]
name = "slow"
kind = "simulated"
latency_ms = 1500
[[models]]
name = "small"
provider = "sim"
tier = "standard"
[[models]]
name = "frontier"
provider = "sim"
tier = "frontier"
aliases = ["frontier-latest"]
[[models]]
name = "old"
provider = "sim"
labels = ["deprecated"]
[[models]]
name = "slow"
provider = "slow"
"#;

fn policies(data_rules: &str) -> String {
    format!("{ADMIN_RULES}\n{data_rules}")
}

const GROUP_RULES: &str = r#"
@id("everyone-standard")
permit(principal, action, resource is Palisade::Model) when { resource.tier == "standard" };
@id("research-frontier")
permit(principal in Palisade::Group::"research", action, resource is Palisade::Model) when { resource.tier == "frontier" };
@id("frontier-needs-purpose")
forbid(principal, action == Palisade::Action::"chat", resource is Palisade::Model)
when { resource.tier == "frontier" }
unless { context has purpose && ["research", "support"].contains(context.purpose) };
@id("no-deprecated")
forbid(principal, action, resource is Palisade::Model) when { resource.labels.contains("deprecated") };
"#;

async fn start(data_rules: &str) -> Gateway {
    start_with_policy(data_rules, "").await
}

/// [`start`] with more `[policy]` keys.
async fn start_with_policy(data_rules: &str, policy_keys: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policies.cedar");
    std::fs::write(&file, policies(data_rules)).unwrap();
    let rest = format!(
        "[policy]\nfile = \"{}\"\n{policy_keys}\n{MODELS}",
        file.display()
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Gateway::start_with(dir, "", &rest, "http", http).await
}

/// `PUT /admin/v1/policies` with the Cedar text as the body.
async fn put_policies(gw: &Gateway, token: &str, source: impl Into<String>) -> reqwest::Response {
    let url = format!("{}/admin/v1/policies", gw.admin);
    gw.http
        .put(url)
        .bearer_auth(token)
        .body(source.into())
        .send()
        .await
        .unwrap()
}

async fn chat(gw: &Gateway, key: &str, model: &str, purpose: Option<&str>) -> (u16, Value) {
    let mut req = gw.chat(key, json!({"model": model, "messages": user_message("hi")}));
    if let Some(p) = purpose {
        req = req.header("x-palisade-purpose", p);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn groups_decide_which_models_a_user_may_use() {
    let gw = start(GROUP_RULES).await;
    let researcher = gw.key_for("rita", &["research"]).await;
    let seller = gw.key_for("sam", &["sales"]).await;
    assert_eq!(
        chat(&gw, &researcher, "frontier", Some("research")).await.0,
        200
    );
    assert_eq!(chat(&gw, &seller, "small", None).await.0, 200);
    let (status, body) = chat(&gw, &seller, "frontier", Some("research")).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "access_denied");
    assert_eq!(body["error"]["type"], "permission_error");
}

#[tokio::test]
async fn without_explanations_a_model_the_caller_may_not_list_is_unknown() {
    // With `explain_denials = false` a 403 would still confirm that a hidden model exists:
    // it is answered like a name no model has, and recorded as the denial it is.
    let gw = start_with_policy(GROUP_RULES, "explain_denials = false").await;
    let seller = gw.key_for("sam", &["sales"]).await;
    let resp = gw
        .chat(
            &seller,
            json!({"model": "frontier", "messages": user_message("hi")}),
        )
        .send()
        .await
        .unwrap();
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, body) = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    let (unknown_status, unknown) = chat(&gw, &seller, "no-such-model", None).await;
    assert_eq!((status, unknown_status), (404, 404), "{body} {unknown}");
    assert_eq!(body["error"]["code"], unknown["error"]["code"]);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`frontier`"),
        "{body}"
    );
    let (_, records, _) = gw
        .admin_call(
            reqwest::Method::GET,
            &format!("/admin/v1/audit?request_id={request_id}"),
            None,
        )
        .await;
    let record = &records["data"][0];
    assert_eq!(record["decision"], "deny", "{record}");
    assert_eq!(record["reason"], "access_denied", "{record}");
}

#[tokio::test]
async fn forbid_overrides_permit_and_is_named() {
    let gw = start(GROUP_RULES).await;
    let key = gw.key_for("rita", &["research"]).await;
    let (status, body) = chat(&gw, &key, "old", None).await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-deprecated"),
        "{body}"
    );
}

#[tokio::test]
async fn context_rule_requires_a_purpose() {
    let gw = start(GROUP_RULES).await;
    let key = gw.key_for("rita", &["research"]).await;
    let (status, body) = chat(&gw, &key, "frontier", None).await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frontier-needs-purpose"),
        "{body}"
    );
    assert_eq!(chat(&gw, &key, "frontier", Some("marketing")).await.0, 403);
    assert_eq!(chat(&gw, &key, "frontier", Some("support")).await.0, 200);
}

#[tokio::test]
async fn model_list_shows_only_what_the_caller_may_use() {
    let gw = start(GROUP_RULES).await;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |key: String| {
        let gw = &gw;
        async move {
            gw.http
                .get(format!("{}/v1/models", gw.base))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let researcher = gw.key_for("rita", &["research"]).await;
    let seller = gw.key_for("sam", &["sales"]).await;
    assert_eq!(ids(list(researcher).await), ["small", "frontier", "slow"]);
    assert_eq!(ids(list(seller.clone()).await), ["small", "slow"]);
    // `list_models` alone decides (docs/policies.md, and what explain answers): a model
    // closed for chat and embeddings (after hours, say) still lists.
    let closed = format!(
        "{GROUP_RULES}\n@id(\"closed\")\nforbid(principal, action in [Palisade::Action::\"chat\", Palisade::Action::\"embed\"], resource == Palisade::Model::\"small\");"
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, policies(&closed)).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    assert_eq!(ids(list(seller.clone()).await), ["small", "slow"]);
    assert_eq!(chat(&gw, &seller, "small", None).await.0, 403);
}

#[tokio::test]
async fn admin_put_swaps_policies_atomically_and_rejects_invalid_sets() {
    let gw = start(GROUP_RULES).await;
    let key = gw.key_for("sam", &["sales"]).await;
    assert_eq!(chat(&gw, &key, "frontier", Some("research")).await.0, 403);

    // A request in flight on the slow model while the set changes completes.
    let in_flight = tokio::spawn(gw.chat(&key, say_hi("slow")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let open = policies("@id(\"open\")\npermit(principal, action, resource is Palisade::Model);");
    let put = gw
        .http
        .put(format!("{}/admin/v1/policies", gw.admin))
        .bearer_auth(common::ADMIN_TOKEN)
        .json(&json!({"source": open}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        chat(&gw, &key, "frontier", None).await.0,
        200,
        "the new set is in force"
    );
    assert_eq!(
        in_flight.await.unwrap().unwrap().status(),
        200,
        "in-flight requests are not dropped"
    );
    let on_disk = std::fs::read_to_string(gw.dir.path().join("policies.cedar")).unwrap();
    assert!(
        on_disk.contains("@id(\"open\")"),
        "PUT persists to the policy file"
    );

    // An invalid set (unknown attribute) is refused with the exact error; the old set stays.
    let invalid = policies(
        "@id(\"bad\")\npermit(principal, action, resource is Palisade::Model) when { resource.colour == \"red\" };",
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, invalid).await;
    assert_eq!(put.status(), 400);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_policy");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );
    assert_eq!(
        chat(&gw, &key, "frontier", None).await.0,
        200,
        "the previous set still works"
    );
}

#[tokio::test]
async fn sighup_reloads_the_policy_file() {
    let gw = start(GROUP_RULES).await;
    let key = gw.key_for("sam", &["sales"]).await;
    assert_eq!(chat(&gw, &key, "small", None).await.0, 200);
    let closed = policies(
        "@id(\"nothing-for-sales\")\nforbid(principal in Palisade::Group::\"sales\", action, resource);\npermit(principal, action, resource is Palisade::Model);",
    );
    std::fs::write(gw.dir.path().join("policies.cedar"), closed).unwrap();
    gw.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = chat(&gw, &key, "small", None).await;
        if status == 403 {
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing-for-sales")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the policies"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An invalid file on SIGHUP keeps the running set: sales still refused, and anyone
    // else still served (a fall-back to deny-all would refuse them too).
    let other = gw.key_for("olive", &["ops"]).await;
    std::fs::write(gw.dir.path().join("policies.cedar"), "permit(").unwrap();
    gw.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gw.logs().contains("policy reload rejected") {
        assert!(
            Instant::now() < deadline,
            "the broken file was not reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(chat(&gw, &key, "small", None).await.0, 403);
    assert_eq!(chat(&gw, &other, "small", None).await.0, 200);

    // A valid file under which no admin could change policies again (here: one with no
    // admin rules, as an emptied file would be) is refused like `PUT` refuses it.
    std::fs::write(
        gw.dir.path().join("policies.cedar"),
        "permit(principal, action, resource is Palisade::Model);",
    )
    .unwrap();
    gw.hangup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gw.logs().contains("lock policy management out") {
        assert!(
            Instant::now() < deadline,
            "the locking-out file was not refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        chat(&gw, &key, "small", None).await.0,
        403,
        "the set in force is kept"
    );
    let (status, _, _) = gw
        .admin_call(reqwest::Method::GET, "/admin/v1/policies", None)
        .await;
    assert_eq!(status, 200, "the admin plane still answers");
}

#[tokio::test]
async fn admin_actions_are_governed_by_policy() {
    let gw = start(GROUP_RULES).await;
    let operator = gw.admin_token("operator").await;
    let create_in = |token: String, name: &'static str, groups: Value| {
        let gw = &gw;
        async move {
            gw.http
                .post(format!("{}/admin/v1/users", gw.admin))
                .bearer_auth(token)
                .json(&json!({"name": name, "groups": groups}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let create_user = |token: String, name: &'static str| create_in(token, name, json!([]));
    assert_eq!(create_user(operator.clone(), "olga").await, 201);
    let put = put_policies(&gw, &operator, policies(GROUP_RULES)).await;
    assert_eq!(put.status(), 403, "operators may not change policies");
    // Without manage_groups, an operator may put users in existing groups only: naming
    // a new group would create it.
    let no_groups = format!(
        "{}\n@id(\"operators-no-groups\")\nforbid(principal, action == Palisade::Action::\"manage_groups\", resource) when {{ principal.role == \"operator\" }};",
        policies(GROUP_RULES)
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, no_groups).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    assert_eq!(
        create_in(operator.clone(), "gail", json!(["brand-new"])).await,
        403
    );
    gw.key_for("seed", &["research"]).await;
    assert_eq!(
        create_in(operator.clone(), "greta", json!(["research"])).await,
        201
    );
    // Forbid operators from managing users: the same request is now refused.
    let stricter = format!(
        "{}\n@id(\"operators-no-users\")\nforbid(principal, action == Palisade::Action::\"manage_users\", resource) when {{ principal.role == \"operator\" }};",
        policies(GROUP_RULES)
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, stricter).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    assert_eq!(create_user(operator, "oscar").await, 403);
}

#[tokio::test]
async fn a_token_manager_grants_and_revokes_only_roles_its_own_includes() {
    // A policy lets operators manage tokens (to hand out auditor tokens): an operator
    // still may not mint itself an admin token, nor revoke one.
    let gw = start(GROUP_RULES).await;
    let operator = gw.admin_token("operator").await;
    let managers = format!(
        "{}\n@id(\"operators-hand-out-tokens\")\npermit(principal is Palisade::AdminToken, action == Palisade::Action::\"manage_admin_tokens\", resource) when {{ principal.role == \"operator\" }};",
        policies(GROUP_RULES)
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, managers).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let mint = |role: &'static str| {
        let (gw, operator) = (&gw, operator.clone());
        async move {
            let resp = gw
                .http
                .post(format!("{}/admin/v1/tokens", gw.admin))
                .bearer_auth(operator)
                .json(&json!({"role": role}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = mint("auditor").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = mint("admin").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "access_denied");
    let (_, admin) = gw
        .admin_post("/admin/v1/tokens", json!({"role": "admin"}))
        .await;
    let revoke = gw
        .http
        .delete(format!(
            "{}/admin/v1/tokens/{}",
            gw.admin,
            admin["id"].as_str().unwrap()
        ))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 403);
}

#[tokio::test]
async fn a_policy_naming_an_alias_is_accepted_with_a_warning() {
    // Policies see a model by its own name: a `forbid` naming an alias forbids nothing,
    // and the answer says so.
    let gw = start(GROUP_RULES).await;
    let set = format!(
        "{}\n@id(\"no-frontier\")\nforbid(principal, action, resource == Palisade::Model::\"frontier-latest\");",
        policies(GROUP_RULES)
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, set).await;
    assert_eq!(put.status(), 200);
    let body: Value = put.json().await.unwrap();
    let warnings = body["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0].as_str().unwrap().contains("write `frontier`"),
        "{body}"
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, policies(GROUP_RULES)).await;
    let body: Value = put.json().await.unwrap();
    assert!(body.get("warnings").is_none(), "{body}");
}

#[tokio::test]
async fn explain_names_the_deciding_policies() {
    let gw = start(GROUP_RULES).await;
    gw.key_for("rita", &["research"]).await;
    let explain = |body: Value| {
        let gw = &gw;
        async move {
            gw.http
                .post(format!("{}/admin/v1/policies/explain", gw.admin))
                .bearer_auth(common::ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let out =
        explain(json!({"user": "rita", "model": "frontier", "context": {"purpose": "research"}}))
            .await;
    assert_eq!(out["decision"], "allow");
    assert_eq!(out["policies"], json!(["research-frontier"]));
    let out = explain(json!({"user": "rita", "model": "frontier"})).await;
    assert_eq!(out["decision"], "deny");
    assert_eq!(out["policies"], json!(["frontier-needs-purpose"]));
    // An alias is explained as the model it stands for, as the data plane decides it.
    let out = explain(json!({"user": "rita", "model": "frontier-latest"})).await;
    assert_eq!(out["model"], "frontier");
    assert_eq!(out["policies"], json!(["frontier-needs-purpose"]));
}

#[tokio::test]
async fn a_set_that_locks_out_policy_management_is_refused() {
    let gw = start(GROUP_RULES).await;
    let lockout = "@id(\"users-only\")\npermit(principal, action, resource is Palisade::Model);";
    let put = put_policies(&gw, common::ADMIN_TOKEN, lockout).await;
    assert_eq!(put.status(), 400);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_policy");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage_policies")
    );
    let get = gw
        .http
        .get(format!("{}/admin/v1/policies", gw.admin))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.status(),
        200,
        "the admin plane still works under the old set"
    );

    // Retiring the bootstrap token is not a lockout while a live admin token remains.
    let admin = gw.admin_token("admin").await;
    let retire_bootstrap = format!(
        "{}\n@id(\"retire-bootstrap\")\nforbid(principal == Palisade::AdminToken::\"bootstrap\", action, resource);",
        policies(GROUP_RULES)
    );
    let put = put_policies(&gw, common::ADMIN_TOKEN, retire_bootstrap).await;
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let put = put_policies(&gw, &admin, policies(GROUP_RULES)).await;
    assert_eq!(
        put.status(),
        200,
        "the remaining admin token manages policies"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_client() {
    // Only the office range may chat. Behind a load balancer (here: loopback, trusted),
    // the client is the address it forwards; anyone else's X-Forwarded-For is ignored.
    let office = r#"
@id("all") permit(principal, action, resource is Palisade::Model);
@id("office-only") forbid(principal, action == Palisade::Action::"chat", resource)
unless { context has client_ip && context.client_ip.isInRange(ip("203.0.113.0/24")) };
"#;
    let start_with = |server: &'static str| async move {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policies.cedar");
        std::fs::write(&file, policies(office)).unwrap();
        let rest = format!("[policy]\nfile = \"{}\"\n{MODELS}", file.display());
        Gateway::start_with(dir, server, &rest, "http", reqwest::Client::new()).await
    };
    let from = |gw: &Gateway, key: &str, xff: &str| {
        gw.chat(key, say_hi("small")).header("x-forwarded-for", xff)
    };

    let behind = start_with("trusted_proxies = [\"127.0.0.1\"]").await;
    let key = behind.api_key().await;
    let status =
        |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status().as_u16() };
    assert_eq!(status(from(&behind, &key, "203.0.113.7")).await, 200);
    assert_eq!(status(from(&behind, &key, "198.51.100.1")).await, 403);
    // A client that adds its own entry in front of the proxy's does not get in.
    assert_eq!(
        status(from(&behind, &key, "203.0.113.7, 198.51.100.1")).await,
        403
    );

    let direct = start_with("").await;
    let key = direct.api_key().await;
    assert_eq!(
        status(from(&direct, &key, "203.0.113.7")).await,
        403,
        "without trusted proxies the header is not believed"
    );
}
