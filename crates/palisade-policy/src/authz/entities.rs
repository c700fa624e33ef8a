//! The entity store of one question: the principal (a user in its groups, or an admin
//! token with its role), the model, and the action with its groups. Built without schema
//! checks (the shapes are right by construction and policies were validated against the
//! schema) and remembered per thread by their inputs, because building a store (Cedar
//! computes the transitive closure of parents every time) dominates a decision's cost.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{Entities, Entity, EntityId, EntityUid, RestrictedExpression};

use super::cache::{Memo, memoized};
use super::request::ModelAttrs;
use super::schema::{ActionEntry, Catalog};

/// Remembered stores per thread; beyond this the memo starts over.
const DATA_CAPACITY: usize = 2048;
const ADMIN_CAPACITY: usize = 256;

/// A question's entity store and the uids the scope index is asked about.
pub(crate) struct Prepared {
    pub entities: Entities,
    pub principal: EntityUid,
    /// The user's groups (empty for admin tokens).
    pub groups: Vec<EntityUid>,
    pub resource: EntityUid,
}

type DataKey = (String, Vec<String>, usize, ModelAttrs);
type AdminKey = (String, String, usize);

thread_local! {
    static DATA: RefCell<Memo<DataKey, Arc<Prepared>>> = RefCell::new(Memo::new(DATA_CAPACITY));
    static ADMIN: RefCell<Memo<AdminKey, Arc<Prepared>>> =
        RefCell::new(Memo::new(ADMIN_CAPACITY));
}

/// `User::"<user>"` in its groups, `Model::"<name>"` and the action.
pub(crate) fn data_entities(
    catalog: &Catalog,
    user: &str,
    groups: &[String],
    action: &ActionEntry,
    model: &ModelAttrs,
) -> Result<Arc<Prepared>, String> {
    let probe = (user, groups, action.slot, model);
    let is_same = |(u, g, slot, m): &DataKey| {
        u == user && g.as_slice() == groups && *slot == action.slot && m == model
    };
    let build = || {
        let prepared = build_data(catalog, user, groups, action, model)?;
        let key = (user.to_owned(), groups.to_vec(), action.slot, model.clone());
        Ok((key, Arc::new(prepared)))
    };
    memoized(&DATA, &probe, is_same, build)
}

/// `AdminToken::"<token_id>"` with its role, `Plane::"admin"` and the action.
pub(crate) fn admin_entities(
    catalog: &Catalog,
    token_id: &str,
    role: &str,
    action: &ActionEntry,
) -> Result<Arc<Prepared>, String> {
    let probe = (token_id, role, action.slot);
    let is_same = |(t, r, slot): &AdminKey| t == token_id && r == role && *slot == action.slot;
    let build = || {
        let prepared = build_admin(catalog, token_id, role, action)?;
        Ok((
            (token_id.to_owned(), role.to_owned(), action.slot),
            Arc::new(prepared),
        ))
    };
    memoized(&ADMIN, &probe, is_same, build)
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn build_data(
    catalog: &Catalog,
    user: &str,
    groups: &[String],
    action: &ActionEntry,
    model: &ModelAttrs,
) -> Result<Prepared, String> {
    let principal =
        EntityUid::from_type_name_and_id(catalog.user_type.clone(), EntityId::new(user));
    let group_uids: Vec<EntityUid> = groups
        .iter()
        .map(|g| EntityUid::from_type_name_and_id(catalog.group_type.clone(), EntityId::new(g)))
        .collect();
    let user_entity = Entity::new(
        principal.clone(),
        HashMap::from([("name".to_owned(), string(user))]),
        group_uids.iter().cloned().collect::<HashSet<_>>(),
    )
    .map_err(|e| format!("user entity: {e}"))?;

    let resource =
        EntityUid::from_type_name_and_id(catalog.model_type.clone(), EntityId::new(&model.name));
    let labels = RestrictedExpression::new_set(model.labels.iter().map(|l| string(l)));
    let model_entity = Entity::new(
        resource.clone(),
        HashMap::from([
            ("provider".to_owned(), string(&model.provider)),
            ("tier".to_owned(), string(&model.tier)),
            ("labels".to_owned(), labels),
            ("status".to_owned(), string(&model.status)),
        ]),
        HashSet::new(),
    )
    .map_err(|e| format!("model entity: {e}"))?;

    let entities =
        Entities::from_entities([user_entity, model_entity, action.entity.clone()], None)
            .map_err(|e| format!("request entities: {e}"))?;
    Ok(Prepared {
        entities,
        principal,
        groups: group_uids,
        resource,
    })
}

fn build_admin(
    catalog: &Catalog,
    token_id: &str,
    role: &str,
    action: &ActionEntry,
) -> Result<Prepared, String> {
    let principal =
        EntityUid::from_type_name_and_id(catalog.token_type.clone(), EntityId::new(token_id));
    let token = Entity::new(
        principal.clone(),
        HashMap::from([("role".to_owned(), string(role))]),
        HashSet::new(),
    )
    .map_err(|e| format!("admin token entity: {e}"))?;
    let entities = Entities::from_entities([token, action.entity.clone()], None)
        .map_err(|e| format!("request entities: {e}"))?;
    Ok(Prepared {
        entities,
        principal,
        groups: Vec::new(),
        resource: catalog.plane.clone(),
    })
}
