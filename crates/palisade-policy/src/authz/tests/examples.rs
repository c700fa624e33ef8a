//! The example policy sets in `examples/policies/`: every file loads, and each makes the
//! decisions its header describes.

use std::path::PathBuf;

use super::*;

fn dir() -> PathBuf {
    palisade_testkit::manifest_dir().join("../../examples/policies")
}

fn example(name: &str) -> PolicyEngine {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    engine(&text)
}

#[test]
fn every_example_is_a_valid_commented_policy_set() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).expect("examples/policies exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "cedar") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(text.starts_with("// "), "{path:?} needs a comment header");
        let summary = PolicyEngine::check(&text).unwrap_or_else(|e| panic!("{path:?}:\n{e}"));
        assert!(
            summary.warnings.is_empty(),
            "{path:?}: {:?}",
            summary.warnings
        );
        assert!(
            summary.ids.iter().all(|id| !id.starts_with("policy")),
            "{path:?}: add @id"
        );
        // Complete sets: every role can at least read.
        let engine = engine(&text);
        for role in ["admin", "operator", "auditor"] {
            let d = engine.authorize_admin("t", role, AdminAction::ReadAudit, None, 0);
            assert!(d.allowed, "{path:?}: {role}");
        }
        seen += 1;
    }
    assert!(seen >= 4, "found {seen} examples");
}

#[test]
fn group_model_access() {
    let engine = example("group-model-access.cedar");
    let frontier = model("o3", "frontier", "active", &[]);
    let standard = model("gpt-4o-mini", "standard", "active", &[]);
    let f = facts(MONDAY_NOON_UTC);
    let d = engine.authorize_data(
        "alice",
        &groups(&["research"]),
        DataAction::Chat,
        &frontier,
        &f,
    );
    assert_eq!(
        (d.allowed, d.policies),
        (true, vec!["frontier-for-research".to_owned()])
    );
    let d = engine.authorize_data("bob", &groups(&["sales"]), DataAction::Chat, &frontier, &f);
    assert_eq!((d.allowed, d.policies.len()), (false, 0));
    let d = engine.authorize_data(
        "bob",
        &groups(&["sales"]),
        DataAction::ListModels,
        &frontier,
        &f,
    );
    assert!(
        !d.allowed,
        "frontier models are hidden from non-research users"
    );
    let d = engine.authorize_data("bob", &groups(&["sales"]), DataAction::Chat, &standard, &f);
    assert!(d.allowed);
    let c = groups(&["research", "contractors"]);
    let d = engine.authorize_data("carl", &c, DataAction::Embed, &standard, &f);
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["contractors-no-embeddings".to_owned()])
    );
    let old = model("gpt-3", "standard", "retired", &[]);
    let d = engine.authorize_data("bob", &[], DataAction::Chat, &old, &f);
    assert_eq!(d.policies, vec!["forbid-inactive-models"]);
}

#[test]
fn business_hours() {
    let engine = example("business-hours.cedar");
    let finance = model("finance-large", "standard", "active", &[]);
    let other = model("gpt-4o", "standard", "active", &[]);
    let ask = |m: &ModelAttrs, action, now| engine.authorize_data("u", &[], action, m, &facts(now));
    assert!(ask(&finance, DataAction::Chat, MONDAY_NOON_UTC).allowed);
    let evening = MONDAY_NOON_UTC + 6 * 3600;
    let d = ask(&finance, DataAction::Chat, evening);
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["finance-large-business-hours".to_owned()])
    );
    assert!(ask(&finance, DataAction::ListModels, evening).allowed);
    assert!(ask(&other, DataAction::Chat, evening).allowed);
    let sunday = MONDAY_NOON_UTC + 6 * 86_400;
    assert!(!ask(&finance, DataAction::Embed, sunday).allowed);
    // At UTC+9, Monday 00:30 UTC is 09:30 local: open.
    let tokyo = PolicyEngine::new(
        &std::fs::read_to_string(dir().join("business-hours.cedar")).expect("read"),
        540,
    )
    .expect("loads");
    let d = tokyo.authorize_data(
        "u",
        &[],
        DataAction::Chat,
        &finance,
        &facts(MONDAY_NOON_UTC - 11 * 3600 - 1800),
    );
    assert!(d.allowed, "{d:?}");
}

#[test]
fn frontier_needs_purpose() {
    let engine = example("frontier-needs-purpose.cedar");
    let frontier = model("o3", "frontier", "active", &[]);
    let mut f = facts(MONDAY_NOON_UTC);
    f.client_ip = Some("10.1.2.3".parse().expect("ip"));
    let d = engine.authorize_data("u", &[], DataAction::Chat, &frontier, &f);
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["frontier-needs-purpose".to_owned()])
    );
    assert!(
        engine
            .authorize_data("u", &[], DataAction::ListModels, &frontier, &f)
            .allowed
    );
    f.purpose = Some("evaluation".into());
    assert!(
        engine
            .authorize_data("u", &[], DataAction::Chat, &frontier, &f)
            .allowed
    );
    f.estimated_tokens = 50_000;
    let d = engine.authorize_data("u", &[], DataAction::Chat, &frontier, &f);
    assert_eq!(d.policies, vec!["frontier-token-cap"]);
    f.estimated_tokens = 100;
    f.client_ip = Some("198.51.100.1".parse().expect("ip"));
    let d = engine.authorize_data("u", &[], DataAction::Chat, &frontier, &f);
    assert_eq!(d.policies, vec!["frontier-office-network"]);
    f.client_ip = Some("2001:db8::42".parse().expect("ip"));
    assert!(
        engine
            .authorize_data("u", &[], DataAction::Chat, &frontier, &f)
            .allowed
    );
    let standard = model("gpt-4o", "standard", "active", &[]);
    assert!(
        engine
            .authorize_data("u", &[], DataAction::Chat, &standard, &facts(0))
            .allowed
    );
}

#[test]
fn quarantine() {
    let engine = example("quarantine.cedar");
    let f = facts(MONDAY_NOON_UTC);
    let ask = |m: &ModelAttrs, action| engine.authorize_data("u", &[], action, m, &f);
    let q = model("q", "standard", "quarantined", &[]);
    let d = ask(&q, DataAction::ListModels);
    assert_eq!(
        (d.allowed, d.policies),
        (false, vec!["quarantined-models".to_owned()])
    );
    let dep = model("d", "standard", "active", &["deprecated", "eu"]);
    assert!(ask(&dep, DataAction::ListModels).allowed);
    let d = ask(&dep, DataAction::Chat);
    assert_eq!(d.policies, vec!["deprecated-or-blocked-labels"]);
    // Both forbids are named when both apply.
    let both = model("b", "standard", "quarantined", &["blocked"]);
    let d = ask(&both, DataAction::Embed);
    assert_eq!(
        d.policies,
        vec!["deprecated-or-blocked-labels", "quarantined-models"]
    );
    let ns = model("n", "standard", "active", &["no-streaming"]);
    let mut streaming = facts(0);
    streaming.stream = true;
    assert!(
        !engine
            .authorize_data("u", &[], DataAction::Chat, &ns, &streaming)
            .allowed
    );
    assert!(ask(&ns, DataAction::Chat).allowed);
    let op = |action| {
        engine
            .authorize_admin("t", "operator", action, None, 0)
            .allowed
    };
    assert!(op(AdminAction::ManageIncidents));
    assert!(op(AdminAction::ReadIdentities));
    assert!(!op(AdminAction::ManageUsers));
}
