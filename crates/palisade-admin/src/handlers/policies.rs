//! Access policy: `GET /admin/v1/policies` (the Cedar text in force), `PUT
//! /admin/v1/policies` (validate, persist to the policy file, swap atomically — an
//! invalid set is refused with the exact error and the running set stays in force), and
//! `POST /admin/v1/policies/explain` (what would be decided, and which policies decide).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use palisade_policy::authz::{AdminAction, DataAction, ModelAttrs, PolicyEngine, RequestFacts};
use palisade_policy::identity::AdminRole;
use palisade_policy::identity::store::every;
use palisade_policy::time::unix_now;
use serde::{Deserialize, Serialize};

use super::change;
use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::{JsonBody, TextBody};
use crate::state::AdminState;
use palisade_audit::Change;

/// Serializes policy replacements within the process: a `PUT` (file write, then swap)
/// and a SIGHUP reload (file read, then swap).
pub static POLICY_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Serialize)]

pub struct PolicyView {
    pub source: String,
    pub policies: usize,
    pub ids: Vec<String>,
    /// The file the set is persisted in (`null`: the built-in default set, in memory).
    pub file: Option<String>,
}

fn view(state: &AdminState) -> PolicyView {
    let summary = state.policy.summary();
    PolicyView {
        source: state.policy.source().to_string(),
        policies: summary.policies,
        ids: summary.ids,
        file: state.policy_file.as_ref().map(|p| p.display().to_string()),
    }
}

pub async fn get(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Json<PolicyView>, AdminError> {
    admin.require(&state, AdminAction::ReadPolicies)?;
    Ok(Json(view(&state)))
}

/// Refuses a set under which no admin could ever change policies again (an empty file
/// included: it denies everything): it would lock the admin plane out of its own
/// recovery. Asked for every token that can sign in as an admin — the bootstrap token if
/// one is configured, and each live admin token — from `client_ip`. Used by `PUT` and by
/// the SIGHUP reload of the policy file.
pub async fn keeps_policy_management(
    state: &AdminState,
    candidate: &PolicyEngine,
    client_ip: Option<std::net::IpAddr>,
) -> Result<(), AdminError> {
    let mut admins: Vec<String> = Vec::new();
    if state.admin_auth.has_bootstrap() {
        admins.push("bootstrap".into());
    }
    admins.extend(
        every(|page| async move { state.identity.list_admin_tokens(&page).await })
            .await
            .map_err(|e| AdminError::Store(e.to_string()))?
            .into_iter()
            .filter(|t| t.revoked_at.is_none() && t.role == AdminRole::Admin)
            .map(|t| t.id),
    );
    let now = unix_now();
    let someone_can = admins.iter().any(|id| {
        candidate
            .authorize_admin(id, "admin", AdminAction::ManagePolicies, client_ip, now)
            .permits()
    });
    if someone_can {
        Ok(())
    } else {
        Err(AdminError::InvalidPolicy(
            "the new set lets no admin token (role admin) perform manage_policies; it would lock policy management out".into(),
        ))
    }
}

/// Models a policy names (`Palisade::Model::"…"`) that no request is ever judged as,
/// one warning each: policies see a model by its own name, so one naming an alias or a
/// name no model has never matches — a `forbid` that silently forbids nothing. Checked
/// at start, on `PUT` (the answer's `warnings`) and on a SIGHUP reload (logged).
pub fn unmatched_model_names(
    source: &str,
    models: &[ModelAttrs],
    aliases: &HashMap<String, String>,
) -> Vec<String> {
    let mut named: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("Model::\"") {
        rest = &rest[at + "Model::\"".len()..];
        let Some(end) = rest.find('"') else {
            break;
        };
        let name = &rest[..end];
        rest = &rest[end..];
        if models.iter().any(|m| m.name == name) || named.contains(&name) {
            continue;
        }
        named.push(name);
        out.push(match aliases.get(name) {
            Some(model) => format!(
                "a policy names model `{name}`, an alias of `{model}`: policies see the model's own name, so it never matches; write `{model}`"
            ),
            None => format!(
                "a policy names model `{name}`, which no [[models]] entry defines: it never matches"
            ),
        });
    }
    out
}

/// What `PUT` answers: the set now in force, and what in it never matches.
#[derive(Serialize)]
pub struct Replaced {
    #[serde(flatten)]
    pub view: PolicyView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The body is the Cedar text itself (`text/plain`) or `{"source": "..."}`.
pub async fn put(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    TextBody(body): TextBody,
) -> Result<(Extension<Change>, Json<Replaced>), AdminError> {
    admin.require(&state, AdminAction::ManagePolicies)?;
    let source = match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(o)) => o
            .get("source")
            .and_then(|s| s.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                AdminError::Invalid("JSON bodies must be {\"source\": \"<cedar>\"}".into())
            })?,
        _ => body,
    };
    let candidate = PolicyEngine::new(&source, state.policy.utc_offset_minutes())
        .map_err(|e| AdminError::InvalidPolicy(e.to_string()))?;
    // From the caller's own address: a set that only refuses some addresses must leave
    // this one able to undo it.
    keeps_policy_management(&state, &candidate, admin.client_ip).await?;
    // One change at a time (a SIGHUP reload included): the file and the running set
    // must hold the same winner, and `before` is the set this change replaces.
    let _writing = POLICY_WRITES.lock().await;
    let before = fingerprint(&view(&state));
    if state.policy_file.is_none() {
        tracing::warn!(
            "policies changed with no policy.file configured: the change lasts until this instance restarts"
        );
    }
    if let Some(file) = &state.policy_file {
        write_atomically(file, &source)
            .map_err(|e| AdminError::Store(format!("cannot write {}: {e}", file.display())))?;
    }
    state
        .policy
        .replace(&source)
        .map_err(|e| AdminError::InvalidPolicy(e.to_string()))?;
    let after = view(&state);
    let audit = change("policies", Some(&before), Some(&fingerprint(&after)));
    let warnings = unmatched_model_names(&source, &state.models, &state.model_aliases);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    Ok((
        audit,
        Json(Replaced {
            view: after,
            warnings,
        }),
    ))
}

/// What a policy change records: the SHA-256 of the Cedar text and the policy ids, not
/// the text itself (the full text is in the policy file and in `GET /admin/v1/policies`).
fn fingerprint(view: &PolicyView) -> serde_json::Value {
    serde_json::json!({
        "sha256": palisade_audit::record::sha256_hex(view.source.as_bytes()),
        "policies": view.policies,
        "ids": view.ids,
        "file": view.file,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    pub user: String,
    pub model: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub context: HashMap<String, String>,
}

#[derive(Serialize)]
pub struct Explanation {
    pub decision: &'static str,
    pub policies: Vec<String>,
    pub errors: Vec<String>,
    pub user: String,
    pub groups: Vec<String>,
    pub model: String,
    pub action: &'static str,
}

/// Context keys: `purpose`, `client_ip`, `estimated_tokens`, `stream`, `api_key`,
/// `time` (unix seconds).
pub async fn explain(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    JsonBody(req): JsonBody<ExplainRequest>,
) -> Result<Json<Explanation>, AdminError> {
    admin.require(&state, AdminAction::ReadPolicies)?;
    let user = state
        .identity
        .find_user(&req.user)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user `{}`", req.user)))?;
    // An alias is the model it stands for, as on the data plane.
    let name = state.model_aliases.get(&req.model).unwrap_or(&req.model);
    let model = state
        .models
        .iter()
        .find(|m| &m.name == name)
        .ok_or_else(|| AdminError::NotFound(format!("model `{}`", req.model)))?;
    let action = match req.action.as_deref().unwrap_or("chat") {
        "chat" => DataAction::Chat,
        "embed" => DataAction::Embed,
        "list_models" => DataAction::ListModels,
        other => {
            return Err(AdminError::Invalid(format!(
                "`action` must be chat, embed or list_models, not `{other}`"
            )));
        }
    };
    let facts = facts(&req.context)?;
    let decision = state
        .policy
        .authorize_data(&user.name, &user.groups, action, model, &facts);
    // Group memberships are identity data: shown to a caller who may read identities.
    let groups = if admin.require(&state, AdminAction::ReadIdentities).is_ok() {
        user.groups
    } else {
        Vec::new()
    };
    Ok(Json(Explanation {
        decision: if decision.permits() { "allow" } else { "deny" },
        policies: decision.deciding().to_vec(),
        errors: decision.errors,
        user: user.name,
        groups,
        model: model.name.clone(),
        action: action.as_str(),
    }))
}

fn facts(ctx: &HashMap<String, String>) -> Result<RequestFacts, AdminError> {
    let mut facts = RequestFacts {
        estimated_tokens: 0,
        stream: false,
        client_ip: None,
        purpose: None,
        api_key: String::new(),
        now_unix: unix_now(),
    };
    for (k, v) in ctx {
        let bad = || AdminError::Invalid(format!("context `{k}` has an invalid value"));
        match k.as_str() {
            "purpose" => facts.purpose = Some(v.clone()),
            "client_ip" => facts.client_ip = Some(v.parse::<IpAddr>().map_err(|_| bad())?),
            "estimated_tokens" => facts.estimated_tokens = v.parse().map_err(|_| bad())?,
            "stream" => facts.stream = v.parse().map_err(|_| bad())?,
            "api_key" => facts.api_key = v.clone(),
            "time" => facts.now_unix = v.parse().map_err(|_| bad())?,
            _ => {
                return Err(AdminError::Invalid(format!(
                    "unknown context key `{k}` (purpose, client_ip, estimated_tokens, stream, api_key, time)"
                )));
            }
        }
    }
    Ok(facts)
}

/// Writes next to the target (a temporary file of this process, synced) and renames over
/// it, so readers never see half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("cedar.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
