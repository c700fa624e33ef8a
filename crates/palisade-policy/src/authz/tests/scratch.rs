use super::*;
use crate::authz::request::data_request;
use crate::authz::schema::catalog;
use cedar_policy::{Authorizer, PolicySet};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

#[test]
#[ignore]
fn scratch_breakdown() {
    let cat = catalog().unwrap();
    let m = model("gpt-4o", "standard", "active", &["eu", "general"]);
    let gs = groups(&["research", "staff", "g7"]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.client_ip = Some("10.1.2.3".parse().unwrap());
    f.purpose = Some("research".into());
    let n: u32 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let t = Instant::now();
    for _ in 0..n {
        black_box(data_request(cat, "alice", &gs, DataAction::Chat, &m, &f, 0).unwrap());
    }
    println!("build: {:?}", t.elapsed() / n);
    if std::env::var("ONLY_BUILD").is_ok() {
        return;
    }
    let (req, ents) = data_request(cat, "alice", &gs, DataAction::Chat, &m, &f, 0).unwrap();
    let auth = Authorizer::new();
    for (name, src) in [
        ("empty", String::new()),
        ("default", DEFAULT_POLICIES.to_owned()),
        ("105", super::bench::hundred_policies()),
    ] {
        let ps = PolicySet::from_str(&src).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            black_box(auth.is_authorized(&req, &ps, &ents));
        }
        println!("is_authorized {name}: {:?}", t.elapsed() / n);
    }
    let one = PolicySet::from_str(r#"permit (principal, action, resource) when { resource.tier == "x" && context.estimated_tokens > 3 };"#).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        black_box(auth.is_authorized(&req, &one, &ents));
    }
    println!("is_authorized one: {:?}", t.elapsed() / n);
}
