//! Admin tokens (admin role only): `POST /admin/v1/tokens` (returns the secret once),
//! `GET /admin/v1/tokens`, `DELETE /admin/v1/tokens/{id}`. Whoever a policy lets manage
//! tokens still grants and revokes only roles its own includes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use palisade_policy::identity::{AdminRole, AdminTokenRecord};
use palisade_policy::time::unix_now;
use serde::{Deserialize, Serialize};

use super::{List, NOTHING, PageQuery, change, validate_name};
use palisade_audit::Change;
use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::state::AdminState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub role: String,
    pub name: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: AdminTokenRecord,
    pub token: String,
}

pub async fn create(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(body): JsonBody<CreateToken>,
) -> Result<(StatusCode, Extension<Change>, Json<CreatedToken>), AdminError> {
    admin.require(&state, AdminAction::ManageAdminTokens)?;
    let role = AdminRole::parse(&body.role)
        .ok_or_else(|| AdminError::Invalid("`role` must be admin, operator or auditor".into()))?;
    if let Some(name) = &body.name {
        validate_name("name", name)?;
    }
    above_own_role(&admin, role)?;
    let (record, token) = AdminTokenRecord::mint(role, body.name, unix_now());
    state.identity.insert_admin_token(&record).await?;
    // The record serialises without its secret hash; the token itself is never in it.
    let audit = change(format!("admin_token:{}", record.id), NOTHING, Some(&record));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(CreatedToken { record, token }),
    ))
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<List<AdminTokenRecord>>, AdminError> {
    admin.require(&state, AdminAction::ManageAdminTokens)?;
    Ok(Json(
        state
            .identity
            .list_admin_tokens(&page.request()?)
            .await?
            .into(),
    ))
}

pub async fn revoke(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(id): PathParam<String>,
) -> Result<(StatusCode, Extension<Change>), AdminError> {
    admin.require(&state, AdminAction::ManageAdminTokens)?;
    let before = state.identity.find_admin_token(&id).await?;
    if let Some(token) = &before {
        above_own_role(&admin, token.role)?;
    }
    if !state.identity.revoke_admin_token(&id, unix_now()).await? {
        return Err(AdminError::NotFound(format!("admin token `{id}`")));
    }
    let after = state.identity.find_admin_token(&id).await?;
    let audit = change(format!("admin_token:{id}"), before.as_ref(), after.as_ref());
    Ok((StatusCode::NO_CONTENT, audit))
}

/// Refuses to grant or revoke a role above the caller's own: a policy that lets operators
/// manage tokens (to hand out auditor tokens) must not let one mint itself an admin.
fn above_own_role(admin: &Admin, role: AdminRole) -> Result<(), AdminError> {
    if admin.principal.role.includes(role) {
        return Ok(());
    }
    Err(AdminError::Forbidden {
        have: admin.principal.role.as_str(),
        action: "grant_or_revoke_a_higher_role",
        policies: Vec::new(),
    })
}
