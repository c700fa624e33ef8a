//! `POST /admin/v1/users`, `GET /admin/v1/users`, `GET /admin/v1/users/{id_or_name}`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use palisade_policy::identity::{User, secret};
use palisade_policy::time::unix_now;
use serde::Deserialize;

use super::{List, NOTHING, PageQuery, change, validate_name};
use palisade_audit::Change;
use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::state::AdminState;

/// Most groups one user belongs to: each is a parent entity in every policy decision
/// and may be a limit bucket checked on every request.
const MAX_GROUPS_PER_USER: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

pub async fn create(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Extension<Change>, Json<User>), AdminError> {
    admin.require(&state, AdminAction::ManageUsers)?;
    validate_name("name", &body.name)?;
    let mut groups = body.groups;
    for g in &groups {
        validate_name("groups", g)?;
    }
    groups.sort();
    groups.dedup();
    if groups.len() > MAX_GROUPS_PER_USER {
        return Err(AdminError::Invalid(format!(
            "`groups`: a user belongs to at most {MAX_GROUPS_PER_USER} groups"
        )));
    }
    if !groups.is_empty() {
        // Naming a group that does not exist creates it: that is managing groups.
        let known: HashSet<String> = state
            .identity
            .existing_groups(&groups)
            .await?
            .into_iter()
            .collect();
        if groups.iter().any(|g| !known.contains(g)) {
            admin.require(&state, AdminAction::ManageGroups)?;
        }
    }
    let user = User {
        id: secret::new_id("usr_"),
        name: body.name,
        groups,
        created_at: unix_now(),
        disabled: false,
    };
    state.identity.create_user(&user).await?;
    let audit = change(format!("user:{}", user.id), NOTHING, Some(&user));
    Ok((StatusCode::CREATED, audit, Json(user)))
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<List<User>>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    Ok(Json(
        state.identity.list_users(&page.request()?).await?.into(),
    ))
}

pub async fn get(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(id): PathParam<String>,
) -> Result<Json<User>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    state
        .identity
        .find_user(&id)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("user `{id}`")))
}
