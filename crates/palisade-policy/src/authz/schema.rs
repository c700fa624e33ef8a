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

/// An action's uid and its entity, whose parents are all of its action groups
/// (transitively), so a request's entity store needs no other action entity.
pub(crate) struct ActionEntry {
    pub uid: EntityUid,
    pub entity: Entity,
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
    /// Indexed by [`DataAction::index`].
    pub data_actions: Vec<ActionEntry>,
    /// Indexed by [`AdminAction::index`].
    pub admin_actions: Vec<ActionEntry>,
}

impl Catalog {
    pub fn data_action(&self, action: DataAction) -> Option<&ActionEntry> {
        self.data_actions.get(action.index())
    }

    pub fn admin_action(&self, action: AdminAction) -> Option<&ActionEntry> {
        self.admin_actions.get(action.index())
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
    let entry = |name: &str| -> Result<ActionEntry, String> {
        let uid = EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(name));
        let ancestors: HashSet<EntityUid> = actions
            .ancestors(&uid)
            .ok_or_else(|| format!("action `{name}` is missing from the schema"))?
            .cloned()
            .collect();
        let entity = Entity::new_no_attrs(uid.clone(), ancestors);
        Ok(ActionEntry { uid, entity })
    };
    let data_actions = DataAction::ALL
        .iter()
        .map(|a| entry(a.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let admin_actions = AdminAction::ALL
        .iter()
        .map(|a| entry(a.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let plane = EntityUid::from_type_name_and_id(type_name("Plane")?, EntityId::new("admin"));
    Ok(Catalog {
        user_type: type_name("User")?,
        group_type: type_name("Group")?,
        model_type: type_name("Model")?,
        token_type: type_name("AdminToken")?,
        plane,
        data_actions,
        admin_actions,
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
        let store =
            Entities::from_entities(catalog.admin_actions.iter().map(|a| a.entity.clone()), None)
                .expect("entities");
        for action in AdminAction::ALL {
            let uid = &catalog.admin_action(action).expect("entry").uid;
            let read = store.is_ancestor_of(&group("admin_read"), uid);
            let write = store.is_ancestor_of(&group("admin_write"), uid);
            assert_eq!(read, action.is_read(), "{action}");
            assert_eq!(write, !action.is_read(), "{action}");
            assert!(store.is_ancestor_of(&group("admin_plane"), uid), "{action}");
        }
        assert_eq!(catalog.data_actions.len(), DataAction::ALL.len());
    }
}
