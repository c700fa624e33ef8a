//! Limit rules: `GET /admin/v1/limits` and `PUT /admin/v1/limits` (`{"rules": [...]}`),
//! validated and swapped atomically; requests in flight keep the admission they got.
//! A change applies to this instance until it restarts (the config file's
//! `[[limits.rules]]` are what every instance starts with): the answer says so.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use palisade_policy::authz::AdminAction;
use palisade_policy::limits::LimitRule;
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
    let before = Rules {
        rules: state.limiter.rules(),
    };
    state
        .limiter
        .replace_rules(body.rules)
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
