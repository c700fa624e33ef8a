//! Data subjects: `DELETE /admin/v1/subjects/{id}` crypto-shreds a subject (destroys
//! their data key), so the content captured for them can never be decrypted again while
//! the log still verifies. The raw subject id is never recorded: the call's audit record
//! and the answer name the pseudonymous reference (`s_…`) only.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use palisade_audit::Change;
use palisade_policy::authz::AdminAction;
use serde::Serialize;

use super::change;
use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::PathParam;
use crate::state::AdminState;

#[derive(Serialize)]
pub struct Erased {
    pub subject_ref: String,
    /// Whether the subject had a data key (content captured) that is now destroyed.
    pub erased: bool,
}

pub async fn erase(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(id): PathParam<String>,
) -> Result<(Extension<Change>, Json<Erased>), AdminError> {
    admin.require(&state, AdminAction::EraseSubjects)?;
    let ledger = state.audit.as_ref().ok_or(AdminError::AuditDisabled)?;
    // Any length the client's `user` had: a subject is its first 256 characters, for
    // sealing and erasure alike (`AuditKeys::subject_ref`).
    if id.is_empty() {
        return Err(AdminError::Invalid("the subject id is empty".into()));
    }
    let subject_ref = ledger.keys().subject_ref(&id);
    let erased = ledger.erase_subject(&id).await?;
    let before = serde_json::json!({ "data_key": if erased { "present" } else { "absent" } });
    let after = serde_json::json!({ "data_key": "destroyed" });
    let audit = change(
        format!("subject:{subject_ref}"),
        Some(&before),
        Some(&after),
    );
    Ok((
        audit,
        Json(Erased {
            subject_ref,
            erased,
        }),
    ))
}
