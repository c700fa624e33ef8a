//! Limit rules: `GET /admin/v1/limits` and `PUT /admin/v1/limits` (`{"rules": [...]}`),
//! validated and swapped atomically; requests in flight keep the admission they got.
//! A change applies to this instance until it restarts (the config file's
//! `[[limits.rules]]` are what every instance starts with): the answer says so. A model
//! rule may name a model or one of its aliases (stored as the model's name); another
//! name is refused.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use palisade_policy::authz::AdminAction;
use palisade_policy::limits::{LimitRule, Scope};
use serde::{Deserialize, Serialize};

use super::change;
use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::JsonBody;
use crate::state::AdminState;
use palisade_audit::Change;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<LimitRule>,
}

pub async fn get(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Json<Rules>, AdminError> {
    admin.require(&state, AdminAction::ReadLimits)?;
    Ok(Json(Rules {
        rules: state.limiter.rules(),
    }))
}

/// What `PUT` answers: the rules now in force, and where they apply.
#[derive(Serialize)]
pub struct Applied {
    pub rules: Vec<LimitRule>,
    /// Always `"this_instance_until_restart"`: other instances, and this one after a
    /// restart, keep the config file's rules.
    pub applies_to: &'static str,
}

pub async fn put(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(body): JsonBody<Rules>,
) -> Result<(Extension<Change>, Json<Applied>), AdminError> {
    admin.require(&state, AdminAction::ManageLimits)?;
    let rules = models_by_name(&state, body.rules)?;
    let before = Rules {
        rules: state.limiter.rules(),
    };
    state
        .limiter
        .replace_rules(rules)
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let after = Rules {
        rules: state.limiter.rules(),
    };
    let audit = change("limits", Some(&before), Some(&after));
    Ok((
        audit,
        Json(Applied {
            rules: after.rules,
            applies_to: "this_instance_until_restart",
        }),
    ))
}

/// The rules with each model rule's `match` as the model's own name, as the config file's
/// are: requests are counted under it, so a rule naming an alias would never match (a
/// budget silently not enforced). A name no model has is refused.
fn models_by_name(
    state: &AdminState,
    mut rules: Vec<LimitRule>,
) -> Result<Vec<LimitRule>, AdminError> {
    for (i, rule) in rules.iter_mut().enumerate() {
        let (Scope::Model, Some(name)) = (rule.scope, rule.matches.as_mut()) else {
            continue;
        };
        if state.models.iter().any(|m| m.name == *name) {
            continue;
        }
        match state.model_aliases.get(name.as_str()) {
            Some(model) => name.clone_from(model),
            None => {
                return Err(AdminError::Invalid(format!(
                    "rules[{i}].match: `{name}` is not a configured model name or alias"
                )));
            }
        }
    }
    Ok(rules)
}
