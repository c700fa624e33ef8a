//! Data-plane decisions: the default set, groups, forbid-overrides-permit, context rules
//! (time with offset, purpose, client IP, token estimate, streaming), default deny and
//! evaluation errors.

use super::*;

fn alice() -> (&'static str, Vec<String>) {
    ("alice", groups(&["research"]))
}

#[test]
fn default_set_lets_users_use_active_models_and_names_the_permit() {
    let engine = engine(DEFAULT_POLICIES);
    let (user, groups) = alice();
    let gpt = model("gpt-4o", "standard", "active", &[]);
    for action in DataAction::ALL {
        let d = engine.authorize_data(user, &groups, action, &gpt, &facts(MONDAY_NOON_UTC));
        assert!(d.allowed, "{action}: {d:?}");
        assert_eq!(d.policies, vec!["data.users-use-models"]);
        assert!(d.errors.is_empty());
    }
    // No groups at all is fine too.
    let d = engine.authorize_data("bob", &[], DataAction::Chat, &gpt, &facts(0));
    assert!(d.allowed);
}

#[test]
fn forbid_overrides_permit_and_the_decision_names_the_forbid() {
    let engine = engine(DEFAULT_POLICIES);
    let (user, groups) = alice();
    for status in ["quarantined", "retired", ""] {
        let m = model("old", "standard", status, &[]);
        for action in DataAction::ALL {
            let d = engine.authorize_data(user, &groups, action, &m, &facts(MONDAY_NOON_UTC));
            assert!(!d.allowed, "{status} {action}");
            assert_eq!(d.policies, vec!["data.forbid-inactive-models"]);
        }
    }
}

pub(super) const GROUPS: &str = r#"
@id("research-frontier")
permit (principal in Palisade::Group::"research", action in Palisade::Action::"data_plane", resource)
when { resource.tier == "frontier" };

@id("everyone-standard")
permit (principal, action in Palisade::Action::"data_plane", resource)
when { resource.tier == "standard" };

@id("interns-no-embed")
forbid (principal in Palisade::Group::"interns", action == Palisade::Action::"embed", resource);
"#;

#[test]
fn groups_allow_and_deny() {
    let engine = engine(GROUPS);
    let frontier = model("o3", "frontier", "active", &[]);
    let standard = model("gpt-4o-mini", "standard", "active", &[]);
    let now = facts(MONDAY_NOON_UTC);
    let ask = |user: &str, gs: &[&str], action, m: &ModelAttrs| {
        engine.authorize_data(user, &groups(gs), action, m, &now)
    };

    let d = ask("alice", &["research"], DataAction::Chat, &frontier);
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["research-frontier"]);

    let d = ask("bob", &["sales"], DataAction::Chat, &frontier);
    assert!(!d.allowed);
    assert!(d.policies.is_empty(), "default deny names nothing: {d:?}");

    let d = ask("bob", &["sales"], DataAction::Chat, &standard);
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["everyone-standard"]);

    // Membership of a denied group does not remove the permit for chat...
    let d = ask(
        "carol",
        &["research", "interns"],
        DataAction::Chat,
        &frontier,
    );
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["research-frontier"]);

    // ...but the forbid wins over it for embed.
    let d = ask(
        "carol",
        &["research", "interns"],
        DataAction::Embed,
        &frontier,
    );
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["interns-no-embed"]);
}

#[test]
fn undecided_requests_are_denied_with_no_policy_named() {
    // A set with only admin rules: no data-plane request matches anything.
    let engine = engine(
        r#"@id("admins") permit (principal, action in Palisade::Action::"admin_plane", resource)
           when { principal.role == "admin" };"#,
    );
    let d = engine.authorize_data(
        "alice",
        &groups(&["research"]),
        DataAction::Chat,
        &model("gpt-4o", "standard", "active", &[]),
        &facts(MONDAY_NOON_UTC),
    );
    assert_eq!(
        d,
        Decision {
            allowed: false,
            policies: vec![],
            errors: vec![],
            failed: vec![]
        }
    );
}

pub(super) const HOURS: &str = r#"
@id("all") permit (principal, action in Palisade::Action::"data_plane", resource);

@id("office-hours")
forbid (principal, action in [Palisade::Action::"chat", Palisade::Action::"embed"], resource)
unless { context.time.weekday < 5 && context.time.hour >= 9 && context.time.hour < 18 };
"#;

#[test]
fn time_rules_use_the_configured_offset() {
    let m = model("m", "standard", "active", &[]);
    let ask = |offset: i32, now: i64, action| {
        let engine = PolicyEngine::new(HOURS, offset).expect("loads");
        engine.authorize_data("u", &[], action, &m, &facts(now))
    };
    let hour = 3600;
    // Monday 12:00 UTC.
    assert!(ask(0, MONDAY_NOON_UTC, DataAction::Chat).allowed);
    // Monday 08:30 UTC: closed in UTC, open at UTC+1 (09:30).
    let early = MONDAY_NOON_UTC - 3 * hour - 1800;
    let d = ask(0, early, DataAction::Chat);
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["office-hours"]);
    assert!(ask(60, early, DataAction::Chat).allowed);
    // Monday 17:59 local is open, 18:00 is closed.
    assert!(ask(0, MONDAY_NOON_UTC + 6 * hour - 60, DataAction::Embed).allowed);
    assert!(!ask(0, MONDAY_NOON_UTC + 6 * hour, DataAction::Embed).allowed);
    // Saturday noon (weekday 5) is closed; listing is not restricted.
    let saturday = MONDAY_NOON_UTC + 5 * 24 * hour;
    assert!(!ask(0, saturday, DataAction::Chat).allowed);
    assert!(ask(0, saturday, DataAction::ListModels).allowed);
    // Monday 10:00 UTC is Sunday 22:00 at UTC-12.
    assert!(!ask(-720, MONDAY_NOON_UTC - 2 * hour, DataAction::Chat).allowed);
}

pub(super) const CONTEXT: &str = r#"
@id("all") permit (principal, action in Palisade::Action::"data_plane", resource);

@id("frontier-purpose")
forbid (principal, action in Palisade::Action::"data_plane", resource)
when { resource.tier == "frontier" }
unless { context has purpose && ["research", "evaluation"].contains(context.purpose) };

@id("internal-network")
forbid (principal, action in Palisade::Action::"data_plane", resource)
when { resource.labels.contains("internal") }
unless { context has client_ip && context.client_ip.isInRange(ip("10.0.0.0/8")) };

@id("token-cap")
forbid (principal, action in Palisade::Action::"data_plane", resource)
when { context.estimated_tokens > 8000 };

@id("no-streaming-batch")
forbid (principal, action in Palisade::Action::"data_plane", resource)
when { context.stream && resource.tier == "batch" };

@id("blocked-key")
forbid (principal, action in Palisade::Action::"data_plane", resource)
when { context.api_key == "key_leaked" };
"#;

fn check(engine: &PolicyEngine, m: &ModelAttrs, f: &RequestFacts) -> Decision {
    engine.authorize_data("u", &[], DataAction::Chat, m, f)
}

#[test]
fn purpose_must_be_present_and_allowed() {
    let engine = engine(CONTEXT);
    let frontier = model("o3", "frontier", "active", &[]);
    let mut f = facts(MONDAY_NOON_UTC);
    let d = check(&engine, &frontier, &f);
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["frontier-purpose"]);
    f.purpose = Some("fun".into());
    assert!(!check(&engine, &frontier, &f).allowed);
    f.purpose = Some("research".into());
    let d = check(&engine, &frontier, &f);
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["all"]);
}

#[test]
fn client_ip_must_be_in_range() {
    let engine = engine(CONTEXT);
    let internal = model("int", "standard", "active", &["internal"]);
    let mut f = facts(MONDAY_NOON_UTC);
    assert!(
        !check(&engine, &internal, &f).allowed,
        "absent ip is outside"
    );
    for (ip, ok) in [
        ("10.2.3.4", true),
        ("192.168.1.1", false),
        ("::ffff:10.9.9.9", true),
    ] {
        f.client_ip = Some(ip.parse().expect("ip"));
        let d = check(&engine, &internal, &f);
        assert_eq!(d.allowed, ok, "{ip}: {d:?}");
        if !ok {
            assert_eq!(d.policies, vec!["internal-network"]);
        }
    }
    f.client_ip = Some("2001:db8::1".parse().expect("ip"));
    assert!(!check(&engine, &internal, &f).allowed);
}

#[test]
fn estimated_tokens_stream_and_api_key_rules() {
    let engine = engine(CONTEXT);
    let standard = model("s", "standard", "active", &[]);
    let batch = model("b", "batch", "active", &[]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.estimated_tokens = 8000;
    assert!(check(&engine, &standard, &f).allowed);
    f.estimated_tokens = 8001;
    assert_eq!(check(&engine, &standard, &f).policies, vec!["token-cap"]);
    f.estimated_tokens = u64::MAX; // saturates, never wraps negative
    assert!(!check(&engine, &standard, &f).allowed);

    let mut f = facts(MONDAY_NOON_UTC);
    assert!(check(&engine, &batch, &f).allowed);
    f.stream = true;
    assert_eq!(
        check(&engine, &batch, &f).policies,
        vec!["no-streaming-batch"]
    );
    assert!(check(&engine, &standard, &f).allowed);

    let mut f = facts(MONDAY_NOON_UTC);
    f.api_key = "key_leaked".into();
    assert_eq!(check(&engine, &standard, &f).policies, vec!["blocked-key"]);
}

#[test]
fn several_forbids_are_all_named() {
    let engine = engine(CONTEXT);
    let m = model("o3", "frontier", "active", &["internal"]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.estimated_tokens = 10_000;
    let d = check(&engine, &m, &f);
    assert!(!d.allowed);
    assert_eq!(
        d.policies,
        vec!["frontier-purpose", "internal-network", "token-cap"]
    );
}

#[test]
fn evaluation_errors_name_the_policy_and_the_policy_is_skipped() {
    let engine = engine(
        r#"@id("all") permit (principal, action in Palisade::Action::"data_plane", resource);
           @id("overflowing")
           forbid (principal, action in Palisade::Action::"data_plane", resource)
           when { context.estimated_tokens * 4000000000000000 > 0 };"#,
    );
    let m = model("m", "standard", "active", &[]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.estimated_tokens = 1;
    let d = check(&engine, &m, &f);
    assert!(!d.allowed, "forbid matches");
    f.estimated_tokens = 10_000;
    let d = check(&engine, &m, &f);
    assert!(
        d.allowed,
        "a forbid that errors is skipped, as Cedar does: {d:?}"
    );
    assert_eq!(d.policies, vec!["all"]);
    // It denies, though (fail closed), and the erroring forbid is what decided.
    assert!(!d.permits());
    assert_eq!(d.deciding(), ["overflowing"]);
    assert_eq!(d.errors.len(), 1);
    assert!(
        d.errors[0].starts_with("policy \"overflowing\": "),
        "{:?}",
        d.errors
    );
    assert!(d.errors[0].contains("overflow"), "{:?}", d.errors);
}
