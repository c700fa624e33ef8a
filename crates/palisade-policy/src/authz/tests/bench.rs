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

/// The default set plus 100 policies scoped the way operators usually scope them: by
/// group, by model, by user, with 10 unscoped rules.
pub(crate) fn scoped_policies() -> String {
    let mut src = String::from(DEFAULT_POLICIES);
    for i in 0..100 {
        let policy = match i {
            0..40 => format!(
                r#"@id("s{i}") permit (principal in Palisade::Group::"g{i}",
                   action in Palisade::Action::"data_plane", resource)
                   when {{ resource.tier == "tier{i}" }};"#
            ),
            40..70 => format!(
                r#"@id("s{i}") forbid (principal, action == Palisade::Action::"chat",
                   resource == Palisade::Model::"m{i}")
                   unless {{ context.time.weekday < 5 && context.time.hour >= 9 }};"#
            ),
            70..90 => format!(
                r#"@id("s{i}") forbid (principal == Palisade::User::"u{i}",
                   action in Palisade::Action::"data_plane", resource)
                   when {{ context.estimated_tokens > {i}000 }};"#
            ),
            _ => format!(
                r#"@id("s{i}") forbid (principal, action, resource is Palisade::Model)
                   when {{ resource.labels.contains("l{i}") && context.estimated_tokens > {i}000 }};"#
            ),
        };
        src.push_str(&policy);
        src.push('\n');
    }
    src
}

fn per_call(n: u32, mut f: impl FnMut(u32)) -> std::time::Duration {
    for i in 0..n.min(1000) {
        f(i);
    }
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed() / n
}

fn measure(label: &str, source: &str) {
    let engine = engine(source);
    let m = model("gpt-4o", "standard", "active", &["eu", "general"]);
    let gs = groups(&["research", "staff", "g7"]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.client_ip = Some("10.1.2.3".parse().expect("ip"));
    f.purpose = Some("research".into());
    f.stream = true;
    let n = 50_000;

    let warm = per_call(n, |_| {
        black_box(engine.authorize_data("alice", black_box(&gs), DataAction::Chat, &m, &f));
    });
    // A different user every call: the entity store is built every time.
    let users: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
    let cold = per_call(n, |i| {
        let user = &users[i as usize];
        black_box(engine.authorize_data(user, &gs, DataAction::Chat, &m, &f));
    });
    let admin = per_call(n, |_| {
        let d = engine.authorize_admin("tok", "operator", AdminAction::ManageUsers, None, 0);
        black_box(d);
    });
    let models: Vec<ModelAttrs> = (0..50)
        .map(|i| model(&format!("m{i}"), "standard", "active", &[]))
        .collect();
    let list = per_call(1000, |_| {
        for m in &models {
            black_box(engine.authorize_data("alice", &gs, DataAction::ListModels, m, &f));
        }
    });
    println!("{label} ({} policies):", engine.summary().policies);
    println!("  authorize_data, repeated caller+model  {warm:?}");
    println!("  authorize_data, new caller every time   {cold:?}");
    println!("  authorize_admin                         {admin:?}");
    println!("  GET /v1/models, 50 models               {list:?} per listing");
}

#[test]
#[ignore = "timing; run with --release --ignored --nocapture"]
fn cost_per_decision_with_100_policies() {
    measure("default set", DEFAULT_POLICIES);
    measure("default + 100 scoped policies", &scoped_policies());
    measure(
        "default + 100 policies, 40 unscoped with conditions",
        &hundred_policies(),
    );
}
