//! The facts of one question and their Cedar form: [`ModelAttrs`], [`RequestFacts`] and
//! [`Clock`], turned into a `Request` plus a small `Entities` store (principal, model or
//! plane, action) built without schema checks: the types are right by construction and
//! the policies were validated against the schema when loaded.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use cedar_policy::{Context, Entities, Entity, EntityId, EntityUid, Request, RestrictedExpression};
use serde::{Deserialize, Serialize};

use super::actions::{AdminAction, DataAction};
use super::schema::Catalog;

/// A model as policies see it (`Palisade::Model::"<name>"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelAttrs {
    /// The public model name (the entity id).
    pub name: String,
    pub provider: String,
    pub tier: String,
    pub labels: Vec<String>,
    /// `active`, `quarantined` or `retired`.
    pub status: String,
}

/// The per-request context of a data-plane question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// Tokens the request is expected to use (0 for `list_models`).
    pub estimated_tokens: u64,
    pub stream: bool,
    pub client_ip: Option<IpAddr>,
    /// The caller's declared purpose (e.g. from an `x-palisade-purpose` header).
    pub purpose: Option<String>,
    /// The public id of the API key used; never the secret.
    pub api_key: String,
    pub now_unix: i64,
}

/// The request time as policies see it in `context.time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Seconds since the unix epoch (UTC, not shifted).
    pub unix: i64,
    /// 0..=23 at the configured UTC offset.
    pub hour: i64,
    /// 0..=59 at the configured UTC offset.
    pub minute: i64,
    /// 0 = Monday ... 6 = Sunday at the configured UTC offset.
    pub weekday: i64,
}

impl Clock {
    /// The wall clock at `utc_offset_minutes` from UTC.
    pub fn at(now_unix: i64, utc_offset_minutes: i32) -> Clock {
        let local = now_unix.saturating_add(i64::from(utc_offset_minutes) * 60);
        let days = local.div_euclid(86_400);
        let second_of_day = local.rem_euclid(86_400);
        Clock {
            unix: now_unix,
            hour: second_of_day / 3600,
            minute: second_of_day % 3600 / 60,
            // 1970-01-01 was a Thursday (3 when Monday is 0).
            weekday: (days + 3).rem_euclid(7),
        }
    }

    fn to_expr(self) -> Result<RestrictedExpression, String> {
        RestrictedExpression::new_record([
            ("unix".to_owned(), RestrictedExpression::new_long(self.unix)),
            ("hour".to_owned(), RestrictedExpression::new_long(self.hour)),
            (
                "minute".to_owned(),
                RestrictedExpression::new_long(self.minute),
            ),
            (
                "weekday".to_owned(),
                RestrictedExpression::new_long(self.weekday),
            ),
        ])
        .map_err(|e| format!("request context: {e}"))
    }
}

/// An IP as a Cedar `ip("...")` literal. IPv4-mapped IPv6 addresses become IPv4 (so
/// IPv4 ranges match on dual-stack listeners); IPv6 is written as eight hex groups,
/// which Cedar always accepts.
fn ip_expr(ip: IpAddr) -> RestrictedExpression {
    match ip.to_canonical() {
        IpAddr::V4(v4) => RestrictedExpression::new_ip(v4.to_string()),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            RestrictedExpression::new_ip(format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
            ))
        }
    }
}

fn string_set(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        values
            .iter()
            .map(|v| RestrictedExpression::new_string(v.clone())),
    )
}

/// The data-plane question: `User::"<user>"` (in its groups) does `action` to the model.
pub(crate) fn data_request(
    catalog: &Catalog,
    user: &str,
    groups: &[String],
    action: DataAction,
    model: &ModelAttrs,
    facts: &RequestFacts,
    utc_offset_minutes: i32,
) -> Result<(Request, Entities), String> {
    let action = catalog
        .data_action(action)
        .ok_or_else(|| format!("action `{action}` is missing from the schema"))?;
    let principal =
        EntityUid::from_type_name_and_id(catalog.user_type.clone(), EntityId::new(user));
    let parents: HashSet<EntityUid> = groups
        .iter()
        .map(|g| EntityUid::from_type_name_and_id(catalog.group_type.clone(), EntityId::new(g)))
        .collect();
    let user_entity = Entity::new(
        principal.clone(),
        HashMap::from([(
            "name".to_owned(),
            RestrictedExpression::new_string(user.to_owned()),
        )]),
        parents,
    )
    .map_err(|e| format!("user entity: {e}"))?;

    let resource =
        EntityUid::from_type_name_and_id(catalog.model_type.clone(), EntityId::new(&model.name));
    let model_entity = Entity::new(
        resource.clone(),
        HashMap::from([
            (
                "provider".to_owned(),
                RestrictedExpression::new_string(model.provider.clone()),
            ),
            (
                "tier".to_owned(),
                RestrictedExpression::new_string(model.tier.clone()),
            ),
            ("labels".to_owned(), string_set(&model.labels)),
            (
                "status".to_owned(),
                RestrictedExpression::new_string(model.status.clone()),
            ),
        ]),
        HashSet::new(),
    )
    .map_err(|e| format!("model entity: {e}"))?;

    let tokens = i64::try_from(facts.estimated_tokens).unwrap_or(i64::MAX);
    let mut pairs = Vec::with_capacity(6);
    pairs.push((
        "estimated_tokens".to_owned(),
        RestrictedExpression::new_long(tokens),
    ));
    pairs.push((
        "stream".to_owned(),
        RestrictedExpression::new_bool(facts.stream),
    ));
    pairs.push((
        "api_key".to_owned(),
        RestrictedExpression::new_string(facts.api_key.clone()),
    ));
    pairs.push((
        "time".to_owned(),
        Clock::at(facts.now_unix, utc_offset_minutes).to_expr()?,
    ));
    if let Some(ip) = facts.client_ip {
        pairs.push(("client_ip".to_owned(), ip_expr(ip)));
    }
    if let Some(purpose) = &facts.purpose {
        pairs.push((
            "purpose".to_owned(),
            RestrictedExpression::new_string(purpose.clone()),
        ));
    }
    let context = Context::from_pairs(pairs).map_err(|e| format!("request context: {e}"))?;

    let entities =
        Entities::from_entities([user_entity, model_entity, action.entity.clone()], None)
            .map_err(|e| format!("request entities: {e}"))?;
    let request = Request::new(principal, action.uid.clone(), resource, context, None)
        .map_err(|e| format!("request: {e}"))?;
    Ok((request, entities))
}

/// The admin-plane question: `AdminToken::"<token_id>"` (with its role) does `action` to
/// `Plane::"admin"`.
pub(crate) fn admin_request(
    catalog: &Catalog,
    token_id: &str,
    role: &str,
    action: AdminAction,
    client_ip: Option<IpAddr>,
    now_unix: i64,
    utc_offset_minutes: i32,
) -> Result<(Request, Entities), String> {
    let action = catalog
        .admin_action(action)
        .ok_or_else(|| format!("action `{action}` is missing from the schema"))?;
    let principal =
        EntityUid::from_type_name_and_id(catalog.token_type.clone(), EntityId::new(token_id));
    let token = Entity::new(
        principal.clone(),
        HashMap::from([(
            "role".to_owned(),
            RestrictedExpression::new_string(role.to_owned()),
        )]),
        HashSet::new(),
    )
    .map_err(|e| format!("admin token entity: {e}"))?;

    let mut pairs = Vec::with_capacity(2);
    pairs.push((
        "time".to_owned(),
        Clock::at(now_unix, utc_offset_minutes).to_expr()?,
    ));
    if let Some(ip) = client_ip {
        pairs.push(("client_ip".to_owned(), ip_expr(ip)));
    }
    let context = Context::from_pairs(pairs).map_err(|e| format!("request context: {e}"))?;

    let entities = Entities::from_entities([token, action.entity.clone()], None)
        .map_err(|e| format!("request entities: {e}"))?;
    let request = Request::new(
        principal,
        action.uid.clone(),
        catalog.plane.clone(),
        context,
        None,
    )
    .map_err(|e| format!("request: {e}"))?;
    Ok((request, entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shifts_hour_and_weekday_by_the_offset() {
        // 2024-01-01 (a Monday) 00:30 UTC.
        let t = 1_704_069_000;
        assert_eq!(
            Clock::at(t, 0),
            Clock {
                unix: t,
                hour: 0,
                minute: 30,
                weekday: 0
            }
        );
        // UTC-1: still Sunday evening.
        assert_eq!(
            Clock::at(t, -60),
            Clock {
                unix: t,
                hour: 23,
                minute: 30,
                weekday: 6
            }
        );
        // UTC+5:45 (Nepal).
        assert_eq!(
            Clock::at(t, 345),
            Clock {
                unix: t,
                hour: 6,
                minute: 15,
                weekday: 0
            }
        );
        // Before the epoch: 1969-12-31 (Wednesday) 23:00.
        assert_eq!(
            Clock::at(-3600, 0),
            Clock {
                unix: -3600,
                hour: 23,
                minute: 0,
                weekday: 2
            }
        );
    }

    #[test]
    fn ip_literals_are_ones_cedar_accepts() {
        for ip in [
            "10.1.2.3",
            "::1",
            "2001:db8::1",
            "::ffff:192.0.2.7",
            "::192.0.2.7",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            let ctx = Context::from_pairs([("ip".to_owned(), ip_expr(ip))]);
            assert!(ctx.is_ok(), "{ip}: {ctx:?}");
        }
    }
}
