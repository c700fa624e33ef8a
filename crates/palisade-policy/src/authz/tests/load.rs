//! Loading policy sets: the default set, syntax and schema errors (complete, located
//! messages), `@id` rules, templates, `check` vs `replace`, and a failed `replace`
//! keeping the old set in force.

use super::*;

fn load_err(source: &str) -> PolicyError {
    match PolicyEngine::check(source) {
        Ok(summary) => panic!("should be refused, loaded {summary:?}"),
        Err(e) => e,
    }
}

#[test]
fn default_policies_load_and_are_summarised_in_source_order() {
    let summary = PolicyEngine::check(DEFAULT_POLICIES).expect("default set is valid");
    assert_eq!(summary.policies, 5);
    assert_eq!(
        summary.ids,
        vec![
            "data.users-use-models",
            "data.forbid-inactive-models",
            "admin.role-admin",
            "admin.role-operator",
            "admin.role-auditor",
        ]
    );
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let engine = PolicyEngine::with_defaults(0).expect("loads");
    assert_eq!(&*engine.source(), DEFAULT_POLICIES);
    assert_eq!(engine.summary(), summary);
}

#[test]
fn policies_without_id_are_named_by_cedar() {
    let summary = PolicyEngine::check(
        r#"permit (principal, action == Palisade::Action::"chat", resource);
           @id("named") permit (principal, action == Palisade::Action::"embed", resource);
           permit (principal, action == Palisade::Action::"list_models", resource);"#,
    )
    .expect("valid");
    assert_eq!(summary.ids, vec!["policy0", "named", "policy2"]);
    let engine = engine(r#"permit (principal, action == Palisade::Action::"chat", resource);"#);
    let d = engine.authorize_data(
        "u",
        &[],
        DataAction::Chat,
        &model("m", "", "", &[]),
        &facts(0),
    );
    assert_eq!(d.policies, vec!["policy0"]);
}

#[test]
fn syntax_errors_are_reported_with_their_location() {
    let e =
        load_err("@id(\"a\")\npermit (principal, action, resource)\nwhen { principal.name == };\n");
    assert_eq!(e.code(), "parse");
    let msg = e.to_string();
    assert!(
        msg.starts_with("policy set does not parse (1 problem):"),
        "{msg}"
    );
    assert!(msg.contains("line 3, column"), "{msg}");
    assert!(msg.contains("unexpected token"), "{msg}");

    let e = load_err("permit (principal, action, resource);\nforbid (principal action, resource);");
    assert!(matches!(e, PolicyError::Parse(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("line 2, column 19: unexpected token `action`"),
        "{e}"
    );
}

#[test]
fn all_syntax_errors_are_reported() {
    let e = load_err(
        "permit (principal, action, resource) when { 1 + };\n\
         permit (principal, action, resource);\n\
         forbid (principal, action, resource) when { context.a < };\n",
    );
    let msg = e.to_string();
    assert!(matches!(e, PolicyError::Parse(_)), "{e:?}");
    assert!(
        msg.starts_with("policy set does not parse (2 problems):"),
        "{msg}"
    );
    assert!(
        msg.contains("\n  - line 1, column 49: unexpected token `}`"),
        "{msg}"
    );
    assert!(
        msg.contains("\n  - line 3, column 57: unexpected token `}`"),
        "{msg}"
    );
}

#[test]
fn unknown_attributes_are_schema_errors_naming_policy_and_attribute() {
    let e = load_err(
        "@id(\"ok\") permit (principal, action, resource);\n\
         @id(\"typo\")\npermit (principal, action == Palisade::Action::\"chat\", resource)\n\
         when { resource.tierr == \"frontier\" };",
    );
    assert_eq!(e.code(), "validation");
    let msg = e.to_string();
    assert!(
        msg.starts_with("policy set does not match the Palisade schema (1 problem):"),
        "{msg}"
    );
    assert!(msg.contains("policy \"typo\""), "{msg}");
    assert!(msg.contains("line 4, column"), "{msg}");
    assert!(msg.contains("tierr"), "{msg}");
}

#[test]
fn wrong_types_unknown_actions_and_entity_types_are_schema_errors() {
    let e = load_err(
        r#"@id("t") forbid (principal, action == Palisade::Action::"chat", resource)
           when { context.estimated_tokens == "lots" || context.stream > 1 };"#,
    );
    assert!(matches!(e, PolicyError::Validation(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("policy \"t\""), "{msg}");
    assert!(
        msg.contains("unexpected type") || msg.contains("type"),
        "{msg}"
    );

    let e = load_err(
        r#"permit (principal, action == Palisade::Action::"delete_everything", resource);"#,
    );
    assert!(e.to_string().contains("delete_everything"), "{e}");

    let e = load_err(r#"permit (principal is Palisade::Robot, action, resource);"#);
    assert!(e.to_string().contains("Palisade::Robot"), "{e}");

    // Optional context attributes need `has`.
    let e = load_err(
        r#"forbid (principal, action == Palisade::Action::"chat", resource)
           when { context.purpose == "x" };"#,
    );
    assert!(e.to_string().contains("purpose"), "{e}");

    // Data-plane attributes are not there on admin actions.
    let e = load_err(
        r#"permit (principal, action == Palisade::Action::"read_audit", resource)
           when { context.stream };"#,
    );
    assert!(matches!(e, PolicyError::Validation(_)), "{e:?}");
}

#[test]
fn duplicate_ids_are_refused_naming_both_places() {
    let e = load_err(
        "@id(\"same\") permit (principal, action, resource);\n\
         @id(\"other\") permit (principal, action, resource);\n\
         @id(\"same\") forbid (principal, action, resource);",
    );
    assert_eq!(e.code(), "duplicate_id");
    assert_eq!(
        e.to_string(),
        "policy names (@id) must be unique within a set (1 problem):\n  - \"same\" names the \
         policies at line 1, column 1 and line 3, column 1"
    );
    // An @id equal to a generated id collides too.
    let e = load_err(
        "permit (principal, action, resource);\n@id(\"policy0\") forbid (principal, action, resource);",
    );
    assert!(matches!(e, PolicyError::DuplicateId(_)), "{e:?}");
    let e = load_err("@id(\"\") permit (principal, action, resource);");
    assert_eq!(e.code(), "invalid_id");
}

#[test]
fn templates_are_refused() {
    let e = load_err("@id(\"t\") permit (principal == ?principal, action, resource);");
    assert_eq!(e.code(), "unsupported");
    assert!(e.to_string().contains("line 1, column 1"), "{e}");
}

#[test]
fn empty_sets_load_with_a_warning_and_deny_everything() {
    let summary = PolicyEngine::check("// nothing here\n").expect("empty is valid");
    assert_eq!(summary.policies, 0);
    assert_eq!(summary.warnings.len(), 1);
    let engine = engine("");
    let d = engine.authorize_admin("bootstrap", "admin", AdminAction::ReadAudit, None, 0);
    assert!(!d.allowed);
    assert!(d.policies.is_empty());
}

#[test]
fn check_installs_nothing_and_failed_replace_keeps_the_old_set() {
    let engine = engine(DEFAULT_POLICIES);
    let m = model("gpt-4o", "standard", "active", &[]);
    let allowed = |e: &PolicyEngine| e.authorize_data("u", &[], DataAction::Chat, &m, &facts(0));
    let deny_all = r#"@id("nobody") forbid (principal, action, resource);"#;
    PolicyEngine::check(deny_all).expect("valid");
    assert!(allowed(&engine).allowed, "check must not install");

    for bad in [
        "permit (",
        r#"permit (principal, action, resource) when { resource.nope };"#,
    ] {
        assert!(engine.replace(bad).is_err());
        assert_eq!(&*engine.source(), DEFAULT_POLICIES);
        assert_eq!(engine.summary().policies, 5);
        let d = allowed(&engine);
        assert!(d.allowed);
        assert_eq!(d.policies, vec!["data.users-use-models"]);
    }

    let summary = engine.replace(deny_all).expect("replaces");
    assert_eq!(summary.ids, vec!["nobody"]);
    assert_eq!(&*engine.source(), deny_all);
    let d = allowed(&engine);
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["nobody"]);
}
