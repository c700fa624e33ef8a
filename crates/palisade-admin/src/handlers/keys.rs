//! API keys: `POST /admin/v1/keys` (the only response that ever holds the secret),
//! `GET /admin/v1/keys[?user=]`, `GET /admin/v1/keys/{id}`, `DELETE /admin/v1/keys/{id}`
//! (revocation, effective at once on this instance).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use palisade_policy::identity::ApiKeyRecord;
use palisade_policy::time::unix_now;
use serde::{Deserialize, Serialize};

use super::{List, NOTHING, change, page_request, validate_name};
use palisade_audit::Change;
use palisade_policy::authz::AdminAction;

use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::state::AdminState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The owning user, by id or name.
    pub user: String,
    pub name: Option<String>,
    /// Unix seconds or an RFC 3339 timestamp.
    pub expires_at: Option<serde_json::Value>,
}

/// The creation response: the record plus the secret, shown this once.
#[derive(Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
    pub user: String,
}

pub async fn create(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Extension<Change>, Json<CreatedKey>), AdminError> {
    admin.require(&state, AdminAction::ManageKeys)?;
    if let Some(name) = &body.name {
        validate_name("name", name)?;
    }
    let now = unix_now();
    let expires_at = body.expires_at.as_ref().map(parse_instant).transpose()?;
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AdminError::Invalid(
            "`expires_at` must be in the future".into(),
        ));
    }
    let user = state
        .identity
        .find_user(&body.user)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user `{}`", body.user)))?;
    let (record, key) = ApiKeyRecord::mint(&user.id, body.name, expires_at, now);
    state.identity.insert_api_key(&record).await?;
    // The record serialises without its secret hash; the plaintext key is never in it.
    let audit = change(format!("key:{}", record.id), NOTHING, Some(&record));
    Ok((
        StatusCode::CREATED,
        audit,
        Json(CreatedKey {
            record,
            key,
            user: user.name,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub user: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<List<ApiKeyRecord>>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    let page = page_request(q.limit, q.cursor)?;
    let user_id = match q.user {
        Some(u) => Some(
            state
                .identity
                .find_user(&u)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("user `{u}`")))?
                .id,
        ),
        None => None,
    };
    Ok(Json(
        state
            .identity
            .list_api_keys(user_id.as_deref(), &page)
            .await?
            .into(),
    ))
}

pub async fn get(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(id): PathParam<String>,
) -> Result<Json<ApiKeyRecord>, AdminError> {
    admin.require(&state, AdminAction::ReadIdentities)?;
    state
        .identity
        .find_api_key(&id)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("key `{id}`")))
}

pub async fn revoke(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(id): PathParam<String>,
) -> Result<(Extension<Change>, Json<ApiKeyRecord>), AdminError> {
    admin.require(&state, AdminAction::ManageKeys)?;
    let before = state.identity.find_api_key(&id).await?;
    if !state.identity.revoke_api_key(&id, unix_now()).await? {
        return Err(AdminError::NotFound(format!("key `{id}`")));
    }
    state.key_auth.evict(&id);
    let after = state
        .identity
        .find_api_key(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("key `{id}`")))?;
    let audit = change(format!("key:{id}"), before.as_ref(), Some(&after));
    Ok((audit, Json(after)))
}

/// Unix seconds (integer) or an RFC 3339 string.
pub fn parse_instant(v: &serde_json::Value) -> Result<i64, AdminError> {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| AdminError::Invalid("`expires_at` must be an integer".into())),
        serde_json::Value::String(s) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| {
                    AdminError::Invalid(
                        "`expires_at` must be unix seconds or an RFC 3339 timestamp".into(),
                    )
                })
        }
        _ => Err(AdminError::Invalid(
            "`expires_at` must be unix seconds or an RFC 3339 timestamp".into(),
        )),
    }
}
