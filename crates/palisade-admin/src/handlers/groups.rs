//! `POST /admin/v1/groups`, `GET /admin/v1/groups`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use palisade_policy::identity::Group;
use palisade_policy::time::unix_now;
use serde::Deserialize;

use super::{List, NOTHING, PageQuery, change, validate_name};
use palisade_audit::Change;
use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AdminState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
}

pub async fn create(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<(StatusCode, Extension<Change>, Json<Group>), AdminError> {
    admin.require(&state, AdminAction::ManageGroups)?;
    validate_name("name", &body.name)?;
    let group = Group {
        name: body.name,
        created_at: unix_now(),
    };
    state.identity.create_group(&group).await?;
    let audit = change(format!("group:{}", group.name), NOTHING, Some(&group));
    Ok((StatusCode::CREATED, audit, Json(group)))
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<List<Group>>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    Ok(Json(
        state.identity.list_groups(&page.request()?).await?.into(),
    ))
}
