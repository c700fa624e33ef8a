//! Cost of one decision with 100 policies (plus the default set). Ignored by default;
//! it prints and asserts nothing about time. Run it optimised:
//! `cargo test --release -p palisade-policy authz::tests::bench -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use super::*;

/// The default set plus 100 policies of the shapes operators write.
pub(crate) fn hundred_policies() -> String {
    let mut src = String::from(DEFAULT_POLICIES);
    for i in 0..100 {
        let policy = match i % 5 {
            0 => format!(
                r#"@id("p{i}") permit (principal in Palisade::Group::"g{i}",
                   action in Palisade::Action::"data_plane", resource)
                   when {{ resource.tier == "tier{i}" }};"#
            ),
            1 => format!(
                r#"@id("p{i}") forbid (principal, action == Palisade::Action::"chat",
                   resource == Palisade::Model::"m{i}")
                   unless {{ context.time.weekday < 5 && context.time.hour >= 9 }};"#
            ),
            2 => format!(
                r#"@id("p{i}") forbid (principal, action, resource is Palisade::Model)
                   when {{ resource.labels.contains("l{i}") && context.estimated_tokens > {i}000 }};"#
            ),
            3 => format!(
                r#"@id("p{i}") forbid (principal, action in Palisade::Action::"data_plane", resource)
                   when {{ context has client_ip && context.client_ip.isInRange(ip("10.{i}.0.0/16"))
                   && context has purpose && context.purpose == "p{i}" }};"#
            ),
            _ => format!(
                r#"@id("p{i}") permit (principal, action in Palisade::Action::"admin_read", resource)
                   when {{ principal.role == "role{i}" }};"#
            ),
        };
        src.push_str(&policy);
        src.push('\n');
    }
    src
}

#[test]
#[ignore = "timing; run with --release --ignored --nocapture"]
fn cost_per_decision_with_100_policies() {
    let engine = engine(&hundred_policies());
    assert_eq!(engine.summary().policies, 105);
    let m = model("gpt-4o", "standard", "active", &["eu", "general"]);
    let gs = groups(&["research", "staff", "g7"]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.client_ip = Some("10.1.2.3".parse().expect("ip"));
    f.purpose = Some("research".into());
    f.stream = true;

    let n = 50_000u32;
    for _ in 0..1000 {
        black_box(engine.authorize_data("alice", &gs, DataAction::Chat, &m, &f));
    }
    let start = Instant::now();
    for _ in 0..n {
        let d = engine.authorize_data("alice", black_box(&gs), DataAction::Chat, &m, &f);
        black_box(d);
    }
    let data = start.elapsed() / n;
    let d = engine.authorize_data("alice", &gs, DataAction::Chat, &m, &f);
    assert!(d.allowed);

    let start = Instant::now();
    for _ in 0..n {
        black_box(engine.authorize_admin("tok", "operator", AdminAction::ManageUsers, None, 0));
    }
    let admin = start.elapsed() / n;

    let models: Vec<ModelAttrs> = (0..50)
        .map(|i| model(&format!("m{i}"), "standard", "active", &[]))
        .collect();
    let start = Instant::now();
    let rounds = 1000u32;
    for _ in 0..rounds {
        for m in &models {
            black_box(engine.authorize_data("alice", &gs, DataAction::ListModels, m, &f));
        }
    }
    let list = start.elapsed() / rounds;

    println!("authz with {} policies:", engine.summary().policies);
    println!("  authorize_data  {data:?} per decision");
    println!("  authorize_admin {admin:?} per decision");
    println!("  GET /v1/models with 50 models: {list:?} per listing");
}
