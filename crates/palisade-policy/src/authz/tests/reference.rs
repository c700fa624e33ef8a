//! The engine (scope index, remembered entity stores, flattened action groups) must
//! decide exactly as plain Cedar does on the whole policy set with schema-checked
//! entities, context and request. Compared over every example set and a matrix of
//! questions.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicySet,
    Request, RestrictedExpression, Schema,
};
use serde_json::json;

use super::*;

/// Every kind of scope constraint, including ones that can never match.
const SCOPES: &str = r#"
@id("z-user-eq") permit (principal == Palisade::User::"alice", action, resource);
@id("z-user-in-user") forbid (principal in Palisade::User::"mallory", action, resource);
@id("z-group") permit (principal in Palisade::Group::"research", action == Palisade::Action::"embed", resource);
@id("z-is-in") permit (principal is Palisade::User in Palisade::Group::"ops",
  action in [Palisade::Action::"chat"], resource is Palisade::Model in Palisade::Model::"gpt-4o");
@id("z-model-eq") forbid (principal, action, resource == Palisade::Model::"legacy");
@id("z-model-in") permit (principal, action == Palisade::Action::"list_models", resource in Palisade::Model::"o3");
@id("z-token") permit (principal == Palisade::AdminToken::"bootstrap", action, resource);
@id("z-token-in") forbid (principal in Palisade::AdminToken::"revoked",
  action in Palisade::Action::"admin_write", resource == Palisade::Plane::"admin");
@id("z-plane-other") permit (principal, action, resource == Palisade::Plane::"other");
@id("z-both") permit (principal in Palisade::Group::"research", action, resource == Palisade::Model::"o3")
  when { context.estimated_tokens < 1000 };
@id("z-typed") forbid (principal is Palisade::User, action, resource is Palisade::Model)
  when { resource.labels.contains("blocked") };
@id("z-admin-ip") forbid (principal, action in Palisade::Action::"admin_plane", resource)
  when { context has client_ip && context.client_ip.isLoopback() };
@id("z-auditor") permit (principal is Palisade::AdminToken, action in Palisade::Action::"admin_read", resource)
  when { principal.role == "auditor" };
@id("z-overflow") forbid (principal, action == Palisade::Action::"chat", resource)
  when { context.estimated_tokens * 1000000000000000 > 5 };
"#;

fn sets() -> Vec<(String, String)> {
    let mut sets = vec![
        ("default".to_owned(), DEFAULT_POLICIES.to_owned()),
        ("scopes".to_owned(), SCOPES.to_owned()),
        ("groups".to_owned(), super::data::GROUPS.to_owned()),
        ("hours".to_owned(), super::data::HOURS.to_owned()),
        ("context".to_owned(), super::data::CONTEXT.to_owned()),
        ("hundred".to_owned(), super::bench::hundred_policies()),
    ];
    let dir = palisade_testkit::manifest_dir().join("../../examples/policies");
    for entry in std::fs::read_dir(dir).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        sets.push((path.display().to_string(), text));
    }
    sets
}

struct Reference {
    schema: Schema,
    actions: Entities,
    policies: PolicySet,
    names: HashMap<String, String>,
}

impl Reference {
    fn new(source: &str) -> Reference {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).expect("schema");
        let actions = schema.action_entities().expect("actions");
        let policies = PolicySet::from_str(source).expect("parses");
        let names = policies
            .policies()
            .map(|p| {
                let id = p.id().to_string();
                (id.clone(), p.annotation("id").map_or(id, str::to_owned))
            })
            .collect();
        Reference {
            schema,
            actions,
            policies,
            names,
        }
    }

    fn decide(
        &self,
        principal: Entity,
        action: &str,
        resource: Entity,
        ctx: serde_json::Value,
    ) -> Decision {
        let action = EntityUid::from_str(&format!("Palisade::Action::\"{action}\"")).expect("uid");
        let context =
            Context::from_json_value(ctx, Some((&self.schema, &action))).expect("context conforms");
        let (p, r) = (principal.uid(), resource.uid());
        let entities = Entities::from_entities(
            self.actions.iter().cloned().chain([principal, resource]),
            Some(&self.schema),
        )
        .expect("entities conform");
        let request =
            Request::new(p, action, r, context, Some(&self.schema)).expect("request conforms");
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| self.names[&id.to_string()].clone())
            .collect();
        policies.sort();
        Decision {
            allowed: response.decision() == CedarDecision::Allow,
            failed: Vec::new(),
            policies,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
        }
    }
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_str(&format!("Palisade::{ty}::{id:?}")).expect("uid")
}

fn user(name: &str, groups: &[&str]) -> Entity {
    let attrs = HashMap::from([(
        "name".to_owned(),
        RestrictedExpression::new_string(name.into()),
    )]);
    Entity::new(
        uid("User", name),
        attrs,
        groups.iter().map(|g| uid("Group", g)).collect(),
    )
    .expect("user")
}

fn model_entity(m: &ModelAttrs) -> Entity {
    let s = |v: &str| RestrictedExpression::new_string(v.to_owned());
    let attrs = HashMap::from([
        ("provider".to_owned(), s(&m.provider)),
        ("tier".to_owned(), s(&m.tier)),
        (
            "labels".to_owned(),
            RestrictedExpression::new_set(m.labels.iter().map(|l| s(l))),
        ),
        ("status".to_owned(), s(&m.status)),
    ]);
    Entity::new(uid("Model", &m.name), attrs, Default::default()).expect("model")
}

fn token(id: &str, role: &str) -> Entity {
    let attrs = HashMap::from([(
        "role".to_owned(),
        RestrictedExpression::new_string(role.into()),
    )]);
    Entity::new(uid("AdminToken", id), attrs, Default::default()).expect("token")
}

fn clock(now: i64) -> serde_json::Value {
    let c = Clock::at(now, 0);
    json!({ "unix": c.unix, "hour": c.hour, "minute": c.minute, "weekday": c.weekday })
}

fn data_ctx(f: &RequestFacts) -> serde_json::Value {
    let mut ctx = json!({
        "estimated_tokens": f.estimated_tokens, "stream": f.stream, "api_key": f.api_key,
        "time": clock(f.now_unix),
    });
    if let Some(ip) = f.client_ip {
        ctx["client_ip"] = json!({ "__extn": { "fn": "ip", "arg": ip.to_string() } });
    }
    if let Some(p) = &f.purpose {
        ctx["purpose"] = json!(p);
    }
    ctx
}

fn facts_matrix() -> Vec<RequestFacts> {
    let mut all = Vec::new();
    for (tokens, stream, ip, purpose, now) in [
        (10, false, None, None, MONDAY_NOON_UTC),
        (
            50_000,
            true,
            Some("10.1.2.3"),
            Some("research"),
            MONDAY_NOON_UTC + 6 * 3600,
        ),
        (
            500,
            false,
            Some("127.0.0.1"),
            Some("fun"),
            MONDAY_NOON_UTC + 5 * 86_400,
        ),
        (
            0,
            false,
            Some("2001:db8::7"),
            Some("evaluation"),
            MONDAY_NOON_UTC - 4 * 3600,
        ),
    ] {
        let mut f = facts(now);
        f.estimated_tokens = tokens;
        f.stream = stream;
        f.client_ip = ip.map(|ip| ip.parse().expect("ip"));
        f.purpose = purpose.map(str::to_owned);
        all.push(f);
    }
    all
}

#[test]
fn engine_decides_exactly_as_cedar_on_the_whole_set() {
    let users: [(&str, &[&str]); 5] = [
        ("alice", &[]),
        ("bob", &["research"]),
        ("carol", &["ops", "research", "contractors"]),
        ("mallory", &["interns"]),
        ("g7", &["g0", "g5", "g7"]),
    ];
    let models = [
        model("gpt-4o", "standard", "active", &["eu"]),
        model("o3", "frontier", "active", &[]),
        model("legacy", "standard", "retired", &["deprecated"]),
        model(
            "finance-large",
            "standard",
            "active",
            &["internal", "no-streaming"],
        ),
        model("m1", "batch", "quarantined", &["blocked", "l2"]),
        model("m6", "tier0", "active", &["l7"]),
    ];
    let tokens = [
        ("bootstrap", "admin"),
        ("t1", "operator"),
        ("t2", "auditor"),
        ("revoked", "admin"),
        ("x", "role4"),
    ];
    let mut compared = 0;
    for (name, source) in sets() {
        let engine = engine(&source);
        let reference = Reference::new(&source);
        for f in facts_matrix() {
            for (u, gs) in users {
                for m in &models {
                    for action in DataAction::ALL {
                        let got = engine.authorize_data(u, &groups(gs), action, m, &f);
                        let want = reference.decide(
                            user(u, gs),
                            action.as_str(),
                            model_entity(m),
                            data_ctx(&f),
                        );
                        assert_eq!(
                            (got.allowed, &got.policies, got.errors.len()),
                            (want.allowed, &want.policies, want.errors.len()),
                            "{name}: {u} {action} {} {f:?}",
                            m.name
                        );
                        compared += 1;
                    }
                }
            }
            for (id, role) in tokens {
                for action in AdminAction::ALL {
                    let got = engine.authorize_admin(id, role, action, f.client_ip, f.now_unix);
                    let mut ctx = json!({ "time": clock(f.now_unix) });
                    if let Some(ip) = f.client_ip {
                        ctx["client_ip"] =
                            json!({ "__extn": { "fn": "ip", "arg": ip.to_string() } });
                    }
                    let plane = Entity::new_no_attrs(uid("Plane", "admin"), Default::default());
                    let want = reference.decide(token(id, role), action.as_str(), plane, ctx);
                    assert_eq!(
                        (got.allowed, &got.policies, got.errors.len()),
                        (want.allowed, &want.policies, want.errors.len()),
                        "{name}: {id}/{role} {action} {f:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 4000, "{compared}");
}
