//! Admin-plane decisions: every role against every action under the default set, unknown
//! roles, and admin rules using the client IP and time.

use super::*;

fn expected_default(role: &str, action: AdminAction) -> Option<&'static str> {
    match role {
        "admin" => Some("admin.role-admin"),
        "operator"
            if !matches!(
                action,
                AdminAction::ManageAdminTokens
                    | AdminAction::ManagePolicies
                    | AdminAction::ManageAudit
                    | AdminAction::EraseSubjects
            ) =>
        {
            Some("admin.role-operator")
        }
        "auditor" if action.is_read() => Some("admin.role-auditor"),
        _ => None,
    }
}

#[test]
fn default_roles_cover_every_admin_action() {
    let engine = engine(DEFAULT_POLICIES);
    for role in ["admin", "operator", "auditor", "intern", ""] {
        for action in AdminAction::ALL {
            let d = engine.authorize_admin("tok_1", role, action, None, MONDAY_NOON_UTC);
            let expected = expected_default(role, action);
            assert_eq!(d.allowed, expected.is_some(), "{role} {action}: {d:?}");
            let names: Vec<&str> = d.policies.iter().map(String::as_str).collect();
            assert_eq!(
                names,
                expected.into_iter().collect::<Vec<_>>(),
                "{role} {action}"
            );
            assert!(d.errors.is_empty());
        }
    }
}

#[test]
fn spot_checks_of_the_role_matrix() {
    let engine = engine(DEFAULT_POLICIES);
    let ask = |role, action| engine.authorize_admin("t", role, action, None, 0).allowed;
    assert!(ask("admin", AdminAction::ManageAdminTokens));
    assert!(ask("admin", AdminAction::ManagePolicies));
    assert!(ask("operator", AdminAction::ManageUsers));
    assert!(ask("operator", AdminAction::ManageIncidents));
    assert!(!ask("operator", AdminAction::ManageAdminTokens));
    assert!(!ask("operator", AdminAction::ManagePolicies));
    assert!(!ask("operator", AdminAction::ManageAudit));
    assert!(!ask("operator", AdminAction::EraseSubjects));
    assert!(ask("operator", AdminAction::ReadAuditContent));
    assert!(ask("auditor", AdminAction::ReadAuditContent));
    assert!(!ask("auditor", AdminAction::ManageAudit));
    assert!(!ask("auditor", AdminAction::EraseSubjects));
    assert!(ask("admin", AdminAction::ManageAudit));
    assert!(ask("admin", AdminAction::EraseSubjects));
    assert!(ask("auditor", AdminAction::ReadAudit));
    assert!(ask("auditor", AdminAction::ReadPolicies));
    assert!(!ask("auditor", AdminAction::ManageKeys));
    assert!(!ask("auditor", AdminAction::ManageIncidents));
    // The bootstrap token is an admin like any other.
    let d = engine.authorize_admin("bootstrap", "admin", AdminAction::ManagePolicies, None, 0);
    assert!(d.allowed);
}

const GUARDED: &str = r#"
@id("admins") permit (principal, action in Palisade::Action::"admin_plane", resource)
when { principal.role == "admin" };

@id("writes-from-ops-network")
forbid (principal, action in Palisade::Action::"admin_write", resource)
unless { context has client_ip && context.client_ip.isInRange(ip("10.20.0.0/16")) };

@id("no-bootstrap-on-weekends")
forbid (principal == Palisade::AdminToken::"bootstrap", action, resource)
when { context.time.weekday >= 5 };
"#;

#[test]
fn admin_rules_can_use_client_ip_time_and_token_id() {
    let engine = engine(GUARDED);
    let ops = Some("10.20.1.1".parse().expect("ip"));
    let home = Some("203.0.113.5".parse().expect("ip"));
    let d = engine.authorize_admin(
        "tok",
        "admin",
        AdminAction::ManageUsers,
        ops,
        MONDAY_NOON_UTC,
    );
    assert!(d.allowed);
    assert_eq!(d.policies, vec!["admins"]);
    let d = engine.authorize_admin(
        "tok",
        "admin",
        AdminAction::ManageUsers,
        home,
        MONDAY_NOON_UTC,
    );
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["writes-from-ops-network"]);
    // Reads are not writes.
    let d = engine.authorize_admin(
        "tok",
        "admin",
        AdminAction::ReadAudit,
        None,
        MONDAY_NOON_UTC,
    );
    assert!(d.allowed);
    let sunday = MONDAY_NOON_UTC + 6 * 86_400;
    let d = engine.authorize_admin("bootstrap", "admin", AdminAction::ReadAudit, None, sunday);
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["no-bootstrap-on-weekends"]);
    let d = engine.authorize_admin("tok", "admin", AdminAction::ReadAudit, None, sunday);
    assert!(d.allowed);
}

#[test]
fn data_and_admin_principals_do_not_mix() {
    // A user named like a token, or a group named "admin", gets nothing on the admin plane
    // and admin rules never apply to data requests.
    let engine = engine(DEFAULT_POLICIES);
    let d = engine.authorize_admin("alice", "user", AdminAction::ReadAudit, None, 0);
    assert!(!d.allowed);
    let only_admin = super::engine(
        r#"@id("admins") permit (principal, action, resource is Palisade::Plane)
           when { principal.role == "admin" };"#,
    );
    let d = only_admin.authorize_data(
        "admin",
        &groups(&["admin"]),
        DataAction::Chat,
        &model("m", "standard", "active", &[]),
        &facts(0),
    );
    assert!(!d.allowed);
    assert!(d.policies.is_empty());
}
