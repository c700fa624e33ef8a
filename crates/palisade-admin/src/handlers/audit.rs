//! The audit ledger over the admin API: search (`GET /admin/v1/audit`), one record
//! (`/audit/{seq}`), its decrypted content (`/audit/{seq}/content`, its own action
//! `read_audit_content`), a live tail (`/audit/stream`, SSE: [`super::audit_tail`]), the latest signed
//! checkpoint (`GET`; `POST` signs one now), the checkpoint public key, inclusion and
//! consistency proofs, and master-key rotation (`POST /audit/rotate-keys`). Every route
//! answers `404 audit_disabled` when the ledger is off.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use palisade_audit::checkpoint::Checkpoint;
use palisade_audit::export::{RecordView, parse_time};
use palisade_audit::keys::ContentView;
use palisade_audit::merkle::Hash;
use palisade_audit::proofs;
use palisade_audit::store::{Query as AuditQuery, StoredCheckpoint};
use palisade_audit::{Change, Decision, Ledger};
use palisade_policy::authz::AdminAction;
use serde::Serialize;

use super::{NOTHING, change};
use crate::auth::Admin;
use crate::error::AdminError;
use crate::extract::PathParam;
use crate::state::AdminState;

/// Default and largest page of a search.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

pub(super) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(super) fn ledger(state: &AdminState) -> Result<&Ledger, AdminError> {
    state.audit.as_ref().ok_or(AdminError::AuditDisabled)
}

/// The query string as a map, or a 400 that says what is wrong with it.
pub(super) fn params(q: Params, allowed: &[&str]) -> Result<HashMap<String, String>, AdminError> {
    let Query(map) = q.map_err(|e| AdminError::Invalid(format!("bad query string: {e}")))?;
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AdminError::Invalid(format!(
            "unknown query parameter `{unknown}` (expected one of: {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

fn number<T: std::str::FromStr>(
    map: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, AdminError> {
    map.get(name)
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                AdminError::Invalid(format!(
                    "`{name}` must be a non-negative integer, not `{v}`"
                ))
            })
        })
        .transpose()
}

fn time_param(map: &HashMap<String, String>, name: &str) -> Result<Option<i64>, AdminError> {
    map.get(name)
        .map(|v| {
            parse_time(v).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "`{name}` must be an RFC 3339 timestamp such as 2025-01-31T09:00:00Z"
                ))
            })
        })
        .transpose()
}

pub(super) fn decision_param(map: &HashMap<String, String>) -> Result<Option<String>, AdminError> {
    map.get("decision")
        .map(|d| {
            Decision::parse(d)
                .map(|d| d.as_str().to_owned())
                .ok_or_else(|| {
                    AdminError::Invalid(format!(
                        "`decision` must be one of allow, deny, limit, block, error, not `{d}`"
                    ))
                })
        })
        .transpose()
}

pub(super) fn plane_param(map: &HashMap<String, String>) -> Result<Option<String>, AdminError> {
    map.get("plane")
        .map(|p| match p.as_str() {
            "data" | "admin" => Ok(p.clone()),
            other => Err(AdminError::Invalid(format!(
                "`plane` must be data or admin, not `{other}`"
            ))),
        })
        .transpose()
}

pub(super) fn text_param(
    map: &HashMap<String, String>,
    name: &str,
) -> Result<Option<String>, AdminError> {
    map.get(name)
        .map(|v| {
            if v.is_empty() || v.len() > 256 {
                Err(AdminError::Invalid(format!(
                    "`{name}` must be 1-256 characters"
                )))
            } else {
                Ok(v.clone())
            }
        })
        .transpose()
}

/// A search page: newest first; `next_cursor` continues below the last record.
#[derive(Serialize)]
pub struct Page {
    pub object: &'static str,
    pub data: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

const SEARCH_PARAMS: &[&str] = &[
    "since",
    "until",
    "actor",
    "model",
    "decision",
    "request_id",
    "plane",
    "subject",
    "subject_ref",
    "cursor",
    "limit",
];

/// `GET /admin/v1/audit`.
pub async fn search(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    q: Params,
) -> Result<Json<Page>, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let map = params(q, SEARCH_PARAMS)?;
    let limit = number::<u32>(&map, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AdminError::Invalid(format!(
            "`limit` must be between 1 and {MAX_LIMIT}"
        )));
    }
    let before_seq = match map.get("cursor") {
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            AdminError::Invalid("`cursor` is not a cursor this API returned".into())
        })?),
        None => None,
    };
    let subject = match (
        text_param(&map, "subject")?,
        text_param(&map, "subject_ref")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(AdminError::Invalid(
                "give `subject` (the id) or `subject_ref` (its s_… reference), not both".into(),
            ));
        }
        (Some(id), None) => Some(ledger.keys().subject_ref(&id)),
        (None, reference) => reference,
    };
    let query = AuditQuery {
        since_us: time_param(&map, "since")?,
        until_us: time_param(&map, "until")?,
        actor: text_param(&map, "actor")?,
        model: text_param(&map, "model")?,
        decision: decision_param(&map)?,
        request_id: text_param(&map, "request_id")?,
        plane: plane_param(&map)?,
        subject,
        before_seq,
        limit,
    };
    let records = ledger.store().search(&query).await?;
    let next_cursor = match records.last() {
        Some(last) if records.len() as u32 >= limit && last.seq > 0 => Some(last.seq.to_string()),
        _ => None,
    };
    let data = records
        .iter()
        .filter_map(|r| {
            let view = RecordView::from_stored(r);
            if view.is_none() {
                tracing::warn!(
                    seq = r.seq,
                    "audit record header does not parse; run `palisade audit verify`"
                );
            }
            view
        })
        .collect();
    Ok(Json(Page {
        object: "list",
        data,
        next_cursor,
    }))
}

fn seq_param(seq: &str) -> Result<u64, AdminError> {
    seq.parse()
        .map_err(|_| AdminError::Invalid(format!("`{seq}` is not a record sequence number")))
}

/// `GET /admin/v1/audit/{seq}`.
pub async fn get(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(seq): PathParam<String>,
) -> Result<Json<RecordView>, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let seq = seq_param(&seq)?;
    let record = ledger
        .store()
        .record(seq)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("audit record {seq}")))?;
    RecordView::from_stored(&record)
        .map(Json)
        .ok_or_else(|| AdminError::AuditUnavailable(format!("record {seq} does not parse")))
}

/// `GET /admin/v1/audit/{seq}/content`: the decrypted content, or why there is none. The
/// call's own record names the record read (`change.target = audit:<seq>`), so the log
/// shows who read whose content.
pub async fn content(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    PathParam(seq): PathParam<String>,
) -> Result<(Extension<Change>, Json<ContentView>), AdminError> {
    admin.require(&state, AdminAction::ReadAuditContent)?;
    let ledger = ledger(&state)?;
    let seq = seq_param(&seq)?;
    let record = ledger
        .store()
        .record(seq)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("audit record {seq}")))?;
    let view = ledger
        .keys()
        .open_content(ledger.store().as_ref(), &record)
        .await?;
    let outcome = serde_json::json!({ "content": content_state(&view) });
    let audit = change(format!("audit:{seq}"), NOTHING, Some(&outcome));
    Ok((audit, Json(view)))
}

fn content_state(view: &ContentView) -> &'static str {
    match view {
        ContentView::None => "none",
        ContentView::Purged => "purged",
        ContentView::Erased => "erased",
        ContentView::Corrupt => "corrupt",
        ContentView::Plain { .. } => "opened",
    }
}

fn plain_text(text: String) -> Response {
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The store's latest checkpoint, once its note is checked: signed by this ledger's key,
/// for this log, and saying what its columns say. Auditors keep these notes as their
/// evidence against truncation, and proofs default to its size: a row someone wrote
/// into the store (a bogus size, a note of another log) must not be handed out as one.
async fn latest(ledger: &Ledger) -> Result<Option<StoredCheckpoint>, AdminError> {
    let Some(cp) = ledger.store().latest_checkpoint().await? else {
        return Ok(None);
    };
    match Checkpoint::open(&cp.note, &ledger.verifier()) {
        Ok(signed)
            if signed.size == cp.size
                && signed.root == cp.root
                && signed.origin == ledger.origin() =>
        {
            Ok(Some(cp))
        }
        _ => {
            tracing::error!(
                size = cp.size,
                "the audit store's latest checkpoint does not verify; run `palisade audit verify`"
            );
            Err(AdminError::AuditUnavailable(
                "the audit store's latest checkpoint does not verify against this ledger's key; \
                 run `palisade audit verify`"
                    .into(),
            ))
        }
    }
}

/// `GET /admin/v1/audit/checkpoint`: the latest signed checkpoint note.
pub async fn checkpoint(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Response, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let cp = latest(ledger)
        .await?
        .ok_or_else(|| AdminError::NotFound("signed checkpoint".into()))?;
    Ok(plain_text(cp.note))
}

/// `POST /admin/v1/audit/checkpoint`: signs a checkpoint of everything committed so far
/// (if anything is new) and returns the latest note.
pub async fn sign_checkpoint(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Response, AdminError> {
    admin.require(&state, AdminAction::ManageAudit)?;
    let ledger = ledger(&state)?;
    let before = latest(ledger).await?.map(|c| summary(&c));
    ledger.checkpoint().await?;
    let cp = latest(ledger)
        .await?
        .ok_or_else(|| AdminError::NotFound("signed checkpoint (the log is empty)".into()))?;
    let audit = change("audit:checkpoint", before.as_ref(), Some(&summary(&cp)));
    Ok((audit, plain_text(cp.note)).into_response())
}

fn summary(cp: &StoredCheckpoint) -> serde_json::Value {
    serde_json::json!({ "size": cp.size, "root": B64.encode(cp.root) })
}

/// `GET /admin/v1/audit/public-key`: the key that verifies checkpoint signatures.
pub async fn public_key(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<Response, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    Ok(plain_text(format!("{}\n", ledger.verifier_key())))
}

#[derive(Serialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub hashes: Vec<String>,
    pub root: String,
}

#[derive(Serialize)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub hashes: Vec<String>,
    pub first_root: String,
    pub second_root: String,
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// The tree size a proof is for: the one asked, else the latest checkpoint's.
async fn tree_size(ledger: &Ledger, asked: Option<u64>, name: &str) -> Result<u64, AdminError> {
    match asked {
        Some(s) => Ok(s),
        None => latest(ledger).await?.map(|c| c.size).ok_or_else(|| {
            AdminError::Invalid(format!(
                "no signed checkpoint yet: pass `{name}` explicitly"
            ))
        }),
    }
}

/// Checks the store has at least `size` records.
async fn within_log(ledger: &Ledger, size: u64, name: &str) -> Result<(), AdminError> {
    let stored = ledger.store().size().await?;
    if size > stored {
        return Err(AdminError::Invalid(format!(
            "`{name}` = {size} is larger than the log ({stored} records)"
        )));
    }
    Ok(())
}

/// `GET /admin/v1/audit/proofs/inclusion?seq=N[&tree_size=S]`: RFC 6962 inclusion proof
/// of record `N` in the tree of the first `S` records (default: the latest checkpoint).
pub async fn inclusion(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    q: Params,
) -> Result<Json<InclusionProof>, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let map = params(q, &["seq", "tree_size"])?;
    let seq = number::<u64>(&map, "seq")?
        .ok_or_else(|| AdminError::Invalid("`seq` is required".into()))?;
    let size = tree_size(ledger, number::<u64>(&map, "tree_size")?, "tree_size").await?;
    if seq >= size {
        return Err(AdminError::Invalid(format!(
            "`seq` ({seq}) must be below `tree_size` ({size})"
        )));
    }
    within_log(ledger, size, "tree_size").await?;
    let proof = proofs::inclusion(ledger.store().as_ref(), seq, size).await?;
    Ok(Json(InclusionProof {
        leaf_index: seq,
        tree_size: size,
        leaf_hash: B64.encode(proof.leaf),
        hashes: b64_all(&proof.hashes),
        root: B64.encode(proof.root),
    }))
}

/// `GET /admin/v1/audit/proofs/consistency?first=A[&second=B]`: RFC 6962 consistency
/// proof that the tree of `B` records (default: the latest checkpoint) extends the tree
/// of the first `A`.
pub async fn consistency(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
    q: Params,
) -> Result<Json<ConsistencyProof>, AdminError> {
    admin.require(&state, AdminAction::ReadAudit)?;
    let ledger = ledger(&state)?;
    let map = params(q, &["first", "second"])?;
    let first = number::<u64>(&map, "first")?
        .ok_or_else(|| AdminError::Invalid("`first` is required".into()))?;
    let second = tree_size(ledger, number::<u64>(&map, "second")?, "second").await?;
    if first == 0 || first > second {
        return Err(AdminError::Invalid(format!(
            "`first` must be at least 1 and at most `second` ({second})"
        )));
    }
    within_log(ledger, second, "second").await?;
    let proof = proofs::consistency(ledger.store().as_ref(), first, second).await?;
    Ok(Json(ConsistencyProof {
        first,
        second,
        hashes: b64_all(&proof.hashes),
        first_root: B64.encode(proof.first_root),
        second_root: B64.encode(proof.second_root),
    }))
}

/// `POST /admin/v1/audit/rotate-keys`: re-wraps every data key still under an old master
/// key with the current one.
pub async fn rotate_keys(
    State(state): State<Arc<AdminState>>,
    admin: Admin,
) -> Result<(Extension<Change>, Json<serde_json::Value>), AdminError> {
    admin.require(&state, AdminAction::ManageAudit)?;
    let ledger = ledger(&state)?;
    let rewrapped = ledger.keys().rotate(ledger.store().as_ref()).await?;
    let after = serde_json::json!({
        "rewrapped": rewrapped,
        "master_key_id": ledger.keys().keyring().current_id(),
    });
    let audit = change("audit:keys", NOTHING, Some(&after));
    Ok((audit, Json(serde_json::json!({ "rewrapped": rewrapped }))))
}
