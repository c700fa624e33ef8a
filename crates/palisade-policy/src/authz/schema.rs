//! The Palisade Cedar schema and default policy set (both embedded text), and the
//! [`Catalog`]: everything derived from the schema once per process (validator, entity
//! type names, action entities with their groups) so decisions never re-parse anything.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{Entity, EntityId, EntityTypeName, EntityUid, Schema, Validator};

use super::actions::{AdminAction, DataAction};
use super::decision::PolicyError;

/// The Cedar schema every policy set is validated against (strict mode).
pub const SCHEMA: &str = include_str!("palisade.cedarschema");

/// The policy set in force when the operator configures no policy file.
pub const DEFAULT_POLICIES: &str = include_str!("default.cedar");

/// The Cedar namespace of every Palisade entity type and action.
pub const NAMESPACE: &str = "Palisade";

/// A requestable action: its uid, its action groups (transitively), and its entity,
/// whose parents are all of those groups, so a request's entity store needs no other
/// action entity.
pub(crate) struct ActionEntry {
    pub uid: EntityUid,
    pub groups: HashSet<EntityUid>,
    pub entity: Entity,
    /// Position in [`Catalog::actions`]: data actions first, then admin actions.
    pub slot: usize,
    /// An admin-plane action (principal `AdminToken`, resource `Plane`), else data-plane
    /// (principal `User`, resource `Model`).
    pub admin: bool,
}

/// What the engine needs from the schema, built once per process.
pub(crate) struct Catalog {
    pub validator: Validator,
    pub user_type: EntityTypeName,
    pub group_type: EntityTypeName,
    pub model_type: EntityTypeName,
    pub token_type: EntityTypeName,
    /// `Palisade::Plane::"admin"`, the resource of every admin action.
    pub plane: EntityUid,
    /// Every requestable action: [`DataAction::ALL`] then [`AdminAction::ALL`].
    pub actions: Vec<ActionEntry>,
}

impl Catalog {
    pub fn data_action(&self, action: DataAction) -> Option<&ActionEntry> {
        self.actions.get(action.index())
    }

    pub fn admin_action(&self, action: AdminAction) -> Option<&ActionEntry> {
        self.actions.get(DataAction::ALL.len() + action.index())
    }
}

/// The process-wide catalog; an error only if the embedded schema is broken (a test
/// guards against that).
pub(crate) fn catalog() -> Result<&'static Catalog, PolicyError> {
    static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
    CATALOG
        .get_or_init(build_catalog)
        .as_ref()
        .map_err(|e| PolicyError::Schema(e.clone()))
}

fn type_name(name: &str) -> Result<EntityTypeName, String> {
    EntityTypeName::from_str(&format!("{NAMESPACE}::{name}"))
        .map_err(|e| format!("entity type {name}: {e}"))
}

fn build_catalog() -> Result<Catalog, String> {
    let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA).map_err(|e| e.to_string())?;
    let actions = schema.action_entities().map_err(|e| e.to_string())?;
    let action_type = type_name("Action")?;
    let entry = |(slot, (name, admin)): (usize, (&str, bool))| -> Result<ActionEntry, String> {
        let uid = EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(name));
        let groups: HashSet<EntityUid> = actions
            .ancestors(&uid)
            .ok_or_else(|| format!("action `{name}` is missing from the schema"))?
            .cloned()
            .collect();
        let entity = Entity::new_no_attrs(uid.clone(), groups.clone());
        Ok(ActionEntry {
            uid,
            groups,
            entity,
            slot,
            admin,
        })
    };
    let names = DataAction::ALL
        .iter()
        .map(|a| (a.as_str(), false))
        .chain(AdminAction::ALL.iter().map(|a| (a.as_str(), true)));
    let actions = names
        .enumerate()
        .map(entry)
        .collect::<Result<Vec<_>, _>>()?;
    let plane = EntityUid::from_type_name_and_id(type_name("Plane")?, EntityId::new("admin"));
    Ok(Catalog {
        user_type: type_name("User")?,
        group_type: type_name("Group")?,
        model_type: type_name("Model")?,
        token_type: type_name("AdminToken")?,
        plane,
        actions,
        validator: Validator::new(schema),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::Entities;

    #[test]
    fn embedded_schema_loads_and_actions_know_their_groups() {
        let catalog = catalog().expect("schema loads");
        let group = |name: &str| {
            EntityUid::from_str(&format!("{NAMESPACE}::Action::\"{name}\"")).expect("uid")
        };
        let store = Entities::from_entities(catalog.actions.iter().map(|a| a.entity.clone()), None)
            .expect("entities");
        for action in AdminAction::ALL {
            let entry = catalog.admin_action(action).expect("entry");
            assert!(entry.admin);
            assert_eq!(entry.uid.id().unescaped(), action.as_str());
            let uid = &entry.uid;
            let read = store.is_ancestor_of(&group("admin_read"), uid);
            let write = store.is_ancestor_of(&group("admin_write"), uid);
            assert_eq!(read, action.is_read(), "{action}");
            assert_eq!(write, !action.is_read(), "{action}");
            assert!(store.is_ancestor_of(&group("admin_plane"), uid), "{action}");
        }
        for action in DataAction::ALL {
            let entry = catalog.data_action(action).expect("entry");
            assert!(!entry.admin);
            assert_eq!(entry.uid.id().unescaped(), action.as_str());
            assert!(store.is_ancestor_of(&group("data_plane"), &entry.uid));
        }
        assert_eq!(
            catalog.actions.len(),
            DataAction::ALL.len() + AdminAction::ALL.len()
        );
    }
}
