use cedar_policy::*;
use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

fn time<T>(name: &str, n: u32, mut f: impl FnMut() -> T) {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    println!("{name}: {:?}", t.elapsed() / n);
}

#[test]
#[ignore]
fn scratch_pieces() {
    let n = 50_000;
    let user_t = EntityTypeName::from_str("Palisade::User").unwrap();
    let group_t = EntityTypeName::from_str("Palisade::Group").unwrap();
    let model_t = EntityTypeName::from_str("Palisade::Model").unwrap();
    let act = EntityUid::from_str(r#"Palisade::Action::"chat""#).unwrap();
    let dp = EntityUid::from_str(r#"Palisade::Action::"data_plane""#).unwrap();
    let act_e = Entity::new_no_attrs(act.clone(), HashSet::from([dp]));
    let groups = ["research", "staff", "g7"];
    let mk_user = || {
        let uid = EntityUid::from_type_name_and_id(user_t.clone(), EntityId::new("alice"));
        let parents: HashSet<EntityUid> = groups
            .iter()
            .map(|g| EntityUid::from_type_name_and_id(group_t.clone(), EntityId::new(g)))
            .collect();
        Entity::new(
            uid,
            HashMap::from([(
                "name".to_owned(),
                RestrictedExpression::new_string("alice".into()),
            )]),
            parents,
        )
        .unwrap()
    };
    let mk_model = || {
        let uid = EntityUid::from_type_name_and_id(model_t.clone(), EntityId::new("gpt-4o"));
        Entity::new(
            uid,
            HashMap::from([
                (
                    "provider".to_owned(),
                    RestrictedExpression::new_string("openai".into()),
                ),
                (
                    "tier".to_owned(),
                    RestrictedExpression::new_string("standard".into()),
                ),
                (
                    "labels".to_owned(),
                    RestrictedExpression::new_set(
                        ["eu", "general"].map(|s| RestrictedExpression::new_string(s.into())),
                    ),
                ),
                (
                    "status".to_owned(),
                    RestrictedExpression::new_string("active".into()),
                ),
            ]),
            HashSet::new(),
        )
        .unwrap()
    };
    time("user entity", n, mk_user);
    time("model entity", n, mk_model);
    let (u, m) = (mk_user(), mk_model());
    time("clone 3 entities", n, || {
        (u.clone(), m.clone(), act_e.clone())
    });
    time("entities from 3", n, || {
        Entities::from_entities([u.clone(), m.clone(), act_e.clone()], None).unwrap()
    });
    time("entities from 2 (no action)", n, || {
        Entities::from_entities([u.clone(), m.clone()], None).unwrap()
    });
    time("entities from 1 (model)", n, || {
        Entities::from_entities([m.clone()], None).unwrap()
    });
    let u0 = Entity::new_no_attrs(u.uid(), HashSet::new());
    time("entities user no parents + model", n, || {
        Entities::from_entities([u0.clone(), m.clone()], None).unwrap()
    });
    let gents: Vec<Entity> = groups
        .iter()
        .map(|g| {
            Entity::new_no_attrs(
                EntityUid::from_type_name_and_id(group_t.clone(), EntityId::new(g)),
                HashSet::new(),
            )
        })
        .collect();
    time("entities user+groups+model+action", n, || {
        Entities::from_entities(
            [u.clone(), m.clone(), act_e.clone()]
                .into_iter()
                .chain(gents.iter().cloned()),
            None,
        )
        .unwrap()
    });
    let u1 = Entity::new_no_attrs(
        u.uid(),
        HashSet::from([EntityUid::from_type_name_and_id(
            group_t.clone(),
            EntityId::new("g"),
        )]),
    );
    time("entities user 1 parent + model", n, || {
        Entities::from_entities([u1.clone(), m.clone()], None).unwrap()
    });
    let clock = || {
        RestrictedExpression::new_record([
            ("unix".to_owned(), RestrictedExpression::new_long(1)),
            ("hour".to_owned(), RestrictedExpression::new_long(1)),
            ("minute".to_owned(), RestrictedExpression::new_long(1)),
            ("weekday".to_owned(), RestrictedExpression::new_long(1)),
        ])
        .unwrap()
    };
    let ctx = || {
        Context::from_pairs([
            (
                "estimated_tokens".to_owned(),
                RestrictedExpression::new_long(100),
            ),
            ("stream".to_owned(), RestrictedExpression::new_bool(true)),
            (
                "api_key".to_owned(),
                RestrictedExpression::new_string("key_x".into()),
            ),
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string("research".into()),
            ),
            ("time".to_owned(), clock()),
        ])
        .unwrap()
    };
    time("context (no ip)", n, ctx);
    time("new_ip", n, || RestrictedExpression::new_ip("10.1.2.3"));
    time("context json ip", n, || {
        Context::from_json_value(
            serde_json::json!({"client_ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}}}),
            None,
        )
        .unwrap()
    });
    time("context json all", n, || {
        Context::from_json_value(
            serde_json::json!({
        "client_ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
        "estimated_tokens": 100, "stream": true, "api_key": "key_x", "purpose": "research",
        "time": {"unix": 1, "hour": 1, "minute": 1, "weekday": 1}}),
            None,
        )
        .unwrap()
    });
    let c = ctx();
    time("request", n, || {
        Request::new(u.uid(), act.clone(), m.uid(), c.clone(), None).unwrap()
    });
}
