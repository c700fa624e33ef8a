//! `audit verify`: recomputes the Merkle tree from the stored records and checks every
//! link, every hash, every signed checkpoint and (optionally) a checkpoint the verifier
//! holds from earlier. It names the first position where the log stops being the one that
//! was written:
//!
//! | what happened | how it shows | position named |
//! |---|---|---|
//! | record deleted | gap in the sequence, or a header whose `seq` is ahead | the deleted one |
//! | record inserted | a header whose `seq` is behind, or a broken `prev` link | the inserted one |
//! | records reordered | a header whose `seq` is not its position | the first moved |
//! | header edited | leaf hash column ≠ hash of the header | the edited one |
//! | header edited and rehashed | the next record's `prev` link breaks | the edited one |
//! | content edited | ciphertext digest ≠ header's | the edited one |
//! | search column edited | column ≠ header field | the edited one |
//! | search index edited | an index row ≠ its record, or a gap in the index | the first such row |
//! | truncation | fewer records than a signed checkpoint covers | the first missing |
//! | whole suffix rewritten | root ≠ a signed checkpoint's root | the checkpoint interval |
//!
//! Content removed by retention is accepted only when an `audit.purge` record carries a
//! statement signed with the checkpoint key that covers it ([`crate::purge`]): anyone who
//! can write the database can append a well-linked purge record, not sign one.
//! Crypto-shredded content still verifies (only its key is gone).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinHandle;

use crate::checkpoint::{Checkpoint, NoteError, NoteVerifier};
use crate::merkle::{self, CompactTree, Hash};
use crate::purge::Purge;
use crate::record::{HeaderView, hex, sha256_hex};
use crate::store::{AuditStore, AuditStoreError, IndexDivergence};

/// The action of the record retention writes before purging content.
pub const PURGE_ACTION: &str = "audit.purge";

const PAGE: u32 = 10_000;
/// Pages fetched ahead, each on its own connection, while one is being checked.
const PREFETCH: usize = 3;

type PageResult = Result<Vec<crate::record::StoredRecord>, AuditStoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Missing,
    Inserted,
    OutOfOrder,
    Corrupt,
    Edited,
    ContentEdited,
    ContentMissing,
    IndexEdited,
    SearchIndexEdited,
    Truncated,
    CheckpointMismatch,
    BadCheckpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The record position (sequence number) where the log differs.
    pub position: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub records: u64,
    pub root: String,
    pub checkpoints_verified: u64,
    /// Size of the largest checkpoint whose signature and root were confirmed.
    pub latest_checkpoint: u64,
    /// Records after the latest signed checkpoint (not yet covered by a signature).
    pub unsigned_tail: u64,
    pub with_content: u64,
    pub content_purged: u64,
    pub problems: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] AuditStoreError),
    #[error("the checkpoint you hold does not verify: {0}")]
    HeldCheckpoint(NoteError),
}

struct Signed {
    root: Hash,
    held: bool,
}

/// Verifies the whole log in the store against the ledger's public key and, if given, a
/// signed checkpoint the caller kept. The log's origin is the one its first stored
/// checkpoint names; [`verify_origin`] holds it to a known one.
pub async fn verify(
    store: Arc<dyn AuditStore>,
    verifier: &NoteVerifier,
    held: Option<&str>,
) -> Result<Report, VerifyError> {
    verify_log(store, verifier, held, None).await
}

/// Like [`verify`], with every checkpoint, stored or held, required to name `origin`: a
/// log signed with the same key under another name (another deployment's, copied over
/// this one's records and checkpoints) is consistent in itself, but it is not this log.
pub async fn verify_origin(
    store: Arc<dyn AuditStore>,
    verifier: &NoteVerifier,
    held: Option<&str>,
    origin: &str,
) -> Result<Report, VerifyError> {
    verify_log(store, verifier, held, Some(origin)).await
}

async fn verify_log(
    store: Arc<dyn AuditStore>,
    verifier: &NoteVerifier,
    held: Option<&str>,
    pinned: Option<&str>,
) -> Result<Report, VerifyError> {
    let mut report = Report::default();
    let mut problems = Vec::new();
    // The store's search index is compared with the records by the store itself, on its
    // own connection while the log is walked here.
    let index_check = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.search_index_divergence().await }
    });
    let mut signed: BTreeMap<u64, Signed> = BTreeMap::new();
    let held = match held {
        Some(note) => Some(Checkpoint::open(note, verifier).map_err(VerifyError::HeldCheckpoint)?),
        None => None,
    };
    if let Some(cp) = &held {
        signed.insert(
            cp.size,
            Signed {
                root: cp.root,
                held: true,
            },
        );
    }
    // Every checkpoint names the log it is for: one log, one origin. A checkpoint of
    // another log signed with the same key proves nothing about this one.
    let mut origin: Option<String> = pinned.map(str::to_owned);
    for stored in store.checkpoints().await? {
        match Checkpoint::open(&stored.note, verifier) {
            Ok(cp) if origin.as_ref().is_some_and(|o| *o != cp.origin) => problems.push(Problem {
                position: stored.size,
                kind: ProblemKind::BadCheckpoint,
                detail: format!(
                    "stored checkpoint of size {} is for log `{}`, not `{}`",
                    stored.size,
                    cp.origin,
                    origin.as_deref().unwrap_or_default()
                ),
            }),
            Ok(cp) if cp.size == stored.size && cp.root == stored.root => {
                origin.get_or_insert_with(|| cp.origin.clone());
                if let Some(s) = signed.get(&cp.size)
                    && s.root != cp.root
                {
                    problems.push(Problem {
                        position: cp.size,
                        kind: ProblemKind::BadCheckpoint,
                        detail: "two validly signed checkpoints of this size disagree (split view)"
                            .into(),
                    });
                }
                signed.entry(cp.size).or_insert(Signed {
                    root: cp.root,
                    held: false,
                });
            }
            Ok(_) => problems.push(Problem {
                position: stored.size,
                kind: ProblemKind::BadCheckpoint,
                detail: "stored checkpoint columns differ from its signed note".into(),
            }),
            Err(e) => problems.push(Problem {
                position: stored.size,
                kind: ProblemKind::BadCheckpoint,
                detail: format!("stored checkpoint of size {}: {e}", stored.size),
            }),
        }
    }
    if let (Some(cp), Some(expected)) = (&held, &origin)
        && cp.origin != *expected
    {
        return Err(VerifyError::HeldCheckpoint(NoteError::WrongOrigin {
            expected: expected.clone(),
            found: cp.origin.clone(),
        }));
    }

    let mut tree = CompactTree::new();
    let mut prev: Hash = [0; 32];
    let mut prev_hex = hex(&prev);
    let mut last_verified_cp = 0u64;
    let mut missing_content: Vec<(u64, i64)> = Vec::new();
    let mut purges: Vec<Purge> = Vec::new();
    let mut stopped = false;
    let mut pending: Option<Problem> = None;

    // Pages are fetched `PREFETCH` ahead on their own connections, assuming a log without
    // gaps; a page that does not start where the previous one ended is fetched again.
    let mut ahead: VecDeque<(u64, JoinHandle<PageResult>)> = VecDeque::new();
    let mut next_from = 0u64;
    let mut expected_from = 0u64;
    'pages: loop {
        while ahead.len() < PREFETCH {
            ahead.push_back((
                next_from,
                tokio::spawn(fetch(Arc::clone(&store), next_from)),
            ));
            next_from += u64::from(PAGE);
        }
        let Some((from, handle)) = ahead.pop_front() else {
            break;
        };
        let page = handle
            .await
            .map_err(|e| AuditStoreError::Backend(format!("verify page task: {e}")))??;
        if from != expected_from {
            // A gap or an overlap before this page: drop the guesses, fetch in order.
            ahead.iter().for_each(|(_, h)| h.abort());
            ahead.clear();
            next_from = expected_from;
            continue;
        }
        let full = page.len() == PAGE as usize;
        if let Some(last) = page.last() {
            expected_from = last.seq + 1;
        }
        if expected_from != from + u64::from(PAGE) {
            ahead.iter().for_each(|(_, h)| h.abort());
            ahead.clear();
            next_from = expected_from;
        }
        for rec in &page {
            let p = tree.size();
            let fail = |kind, detail: String| Problem {
                position: p,
                kind,
                detail,
            };
            if rec.seq != p {
                let detail = match rec.seq.checked_sub(p) {
                    Some(1) => format!("record {p} is missing (the next stored is {})", rec.seq),
                    Some(n) => format!(
                        "records {p} to {} are missing ({n} records; the next stored is {})",
                        rec.seq - 1,
                        rec.seq
                    ),
                    None => format!("record {} is stored where record {p} belongs", rec.seq),
                };
                problems.push(fail(ProblemKind::Missing, detail));
                stopped = true;
                break 'pages;
            }
            let Ok(header) = HeaderView::parse(&rec.header) else {
                problems.push(fail(
                    ProblemKind::Corrupt,
                    "header is not a valid record".into(),
                ));
                stopped = true;
                break 'pages;
            };
            let leaf = merkle::leaf_hash(&rec.header);
            if leaf != rec.leaf_hash {
                problems.push(fail(
                    ProblemKind::Edited,
                    "header bytes do not match the record's leaf hash".into(),
                ));
                stopped = true;
                break 'pages;
            }
            let linked = header.prev == prev_hex;
            if header.seq != p {
                let problem = if header.seq > p {
                    fail(
                        ProblemKind::Missing,
                        format!("found record {} where record {p} belongs", header.seq),
                    )
                } else if leaf == prev {
                    fail(
                        ProblemKind::Inserted,
                        format!("duplicate of record {}", p - 1),
                    )
                } else if !linked && header.seq + 1 == p {
                    Problem {
                        position: p - 1,
                        kind: ProblemKind::Inserted,
                        detail: format!("record {} was inserted or replaced", p - 1),
                    }
                } else {
                    fail(
                        ProblemKind::OutOfOrder,
                        format!("found record {} where record {p} belongs", header.seq),
                    )
                };
                problems.push(problem);
                stopped = true;
                break 'pages;
            }
            if !linked {
                // Whoever edited a record may have re-chained (and re-hashed) the ones
                // after it: the break only shows where they stopped. What verified last
                // bounds it from below.
                let since = if last_verified_cp + 1 < p {
                    format!(
                        " (or, if the records after an edit were re-chained, one of records \
                         {last_verified_cp} to {}: the {} since the last checkpoint that verified{})",
                        p - 1,
                        p - last_verified_cp,
                        if pending.is_some() {
                            ", and the next checkpoint does not match them"
                        } else {
                            ""
                        }
                    )
                } else {
                    String::new()
                };
                problems.push(Problem {
                    position: p.saturating_sub(1),
                    kind: ProblemKind::Edited,
                    detail: format!(
                        "record {p} was chained to a different record {}: it was edited or replaced{since}",
                        p.saturating_sub(1)
                    ),
                });
                stopped = true;
                break 'pages;
            }
            // The record passed every structural check: a root mismatch seen at the
            // previous checkpoint cannot be located more precisely than its interval.
            if let Some(mismatch) = pending.take() {
                problems.push(mismatch);
                stopped = true;
                break 'pages;
            }
            if !rec.index.matches(&header) {
                problems.push(fail(
                    ProblemKind::IndexEdited,
                    "search columns differ from the record header".into(),
                ));
            }
            match (&header.content, &rec.content) {
                (Some(cref), Some(ct)) => {
                    report.with_content += 1;
                    if sha256_hex(ct) != cref.sha256 {
                        problems.push(fail(
                            ProblemKind::ContentEdited,
                            "ciphertext does not match the digest in the header".into(),
                        ));
                    }
                }
                (Some(_), None) => {
                    report.with_content += 1;
                    missing_content.push((p, header.event.time_us));
                }
                (None, Some(_)) => problems.push(fail(
                    ProblemKind::ContentEdited,
                    "content present on a record that captured none".into(),
                )),
                (None, None) => {}
            }
            if header.event.action == PURGE_ACTION
                && let Some(purge) = header
                    .event
                    .change
                    .as_ref()
                    .and_then(|c| c.after.as_ref())
                    .and_then(|a| a.get("statement"))
                    .and_then(serde_json::Value::as_str)
                    .and_then(|note| Purge::open(verifier, note, origin.as_deref()))
            {
                purges.push(purge);
            }
            tree.push(leaf);
            prev = leaf;
            prev_hex = hex(&prev);
            if let Some(s) = signed.get(&tree.size()) {
                if s.root != tree.root() {
                    // Look at one more record first: a forged or edited last record of
                    // the interval shows in the next record's link, at its exact position.
                    pending = Some(Problem {
                        position: last_verified_cp,
                        kind: ProblemKind::CheckpointMismatch,
                        detail: format!(
                            "records {last_verified_cp}..{} do not match the {} checkpoint signed at size {}",
                            tree.size(),
                            if s.held { "held" } else { "stored" },
                            tree.size()
                        ),
                    });
                    continue;
                }
                last_verified_cp = tree.size();
                report.checkpoints_verified += 1;
            }
        }
        if !full {
            ahead.iter().for_each(|(_, h)| h.abort());
            break;
        }
    }

    // A root mismatch at the last checkpoint with no record after it to say more.
    if !stopped && let Some(mismatch) = pending.take() {
        problems.push(mismatch);
        stopped = true;
    }
    let n = tree.size();
    if !stopped && let Some((&size, s)) = signed.range(n + 1..).next() {
        problems.push(Problem {
            position: n,
            kind: ProblemKind::Truncated,
            detail: format!(
                "the log ends at {n} records but a {} signed checkpoint covers {size}",
                if s.held { "held" } else { "stored" }
            ),
        });
    }
    for (seq, time_us) in missing_content {
        if purges.iter().any(|purge| purge.covers(seq, time_us)) {
            report.content_purged += 1;
        } else {
            problems.push(Problem {
                position: seq,
                kind: ProblemKind::ContentMissing,
                detail: "ciphertext removed without a signed retention purge covering it".into(),
            });
        }
    }
    let divergence = index_check
        .await
        .map_err(|e| AuditStoreError::Backend(format!("verify index task: {e}")))??;
    let truncated = problems.iter().any(|p| p.kind == ProblemKind::Truncated);
    if let Some(divergence) = divergence {
        // Index rows for records past the end of a log read to its end: the tail was cut
        // (after the last signed checkpoint, or no checkpoint would have been needed).
        let past_end = matches!(divergence, IndexDivergence::Differs(seq) if seq >= n);
        if past_end && truncated {
            // The cut tail's index rows, already told by the truncation above.
        } else if past_end && !stopped {
            problems.push(Problem {
                position: n,
                kind: ProblemKind::Truncated,
                detail: format!(
                    "the log ends at {n} records but the search index lists record {}: \
                     records were cut from the end (or an index row was forged)",
                    divergence.position()
                ),
            });
        } else {
            problems.push(Problem {
                position: divergence.position(),
                kind: ProblemKind::SearchIndexEdited,
                detail: match divergence {
                    IndexDivergence::Differs(seq) => {
                        format!("the search index row of record {seq} differs from the record")
                    }
                    IndexDivergence::Gap(seq) => {
                        format!("the search index has no row for record {seq}, only for later ones")
                    }
                },
            });
        }
    }
    // Stable: at one position, the records' own problems come first.
    problems.sort_by_key(|p| p.position);
    report.records = n;
    report.root = hex(&tree.root());
    report.latest_checkpoint = last_verified_cp;
    report.unsigned_tail = n - last_verified_cp.min(n);
    report.ok = problems.is_empty();
    report.problems = problems;
    Ok(report)
}

async fn fetch(
    store: Arc<dyn AuditStore>,
    from: u64,
) -> Result<Vec<crate::record::StoredRecord>, AuditStoreError> {
    store.records(from, PAGE).await
}
