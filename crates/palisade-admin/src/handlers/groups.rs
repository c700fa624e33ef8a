//! `POST /admin/v1/groups`, `GET /admin/v1/groups`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use palisade_policy::identity::Group;
use palisade_policy::time::unix_now;
use serde::Deserialize;

use super::{List, log_action, validate_name};
use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::state::AdminState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
}

pub async fn create(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    Json(body): Json<CreateGroup>,
) -> Result<(StatusCode, Json<Group>), AdminError> {
    admin.require(&state, AdminAction::ManageGroups)?;
    validate_name("name", &body.name)?;
    let group = Group {
        name: body.name,
        created_at: unix_now(),
    };
    state.identity.create_group(&group).await?;
    log_action(admin.actor(), "group.create", &group.name);
    Ok((StatusCode::CREATED, Json(group)))
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Json<List<Group>>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    Ok(Json(List::new(state.identity.list_groups().await?)))
}
