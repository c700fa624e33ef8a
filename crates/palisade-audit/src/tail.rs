//! The tail of the log as the writer knows it (compact Merkle tree, last leaf, last
//! checkpoint), and how records found in the store are taken into it: at start, and when
//! other writers sharing the store appended. The writer signs checkpoints over whatever
//! its tail holds, so nothing gets in unvouched for:
//!
//! - records the largest checkpoint of this log covers (signed by its key under its
//!   origin, the note agreeing with its row) come in by their leaf hashes, and the tree
//!   must then have the checkpoint's root; a store holding fewer records than it covers
//!   is refused (signed records were deleted);
//! - every record after that must carry a valid tag of the writers' [`Authenticator`]
//!   (only holders of the master key can make one), its leaf hash must be its header's,
//!   and its header must name its position and link to the record before.
//!
//! Anything else is refused with [`AuditError::Unauthenticated`], all or nothing (the
//! tail is left as it was): the ledger does not open, or the commit that met it fails
//! (and every one after it), until someone looks. An authenticated record that does not link to this writer's last one means the
//! store lost commits another writer then filled: the tail must be read again.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::authenticator::Authenticator;
use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::ledger::AuditError;
use crate::merkle::{self, CompactTree, Hash};
use crate::record::{HeaderView, hex};
use crate::store::{AuditStore, StoredCheckpoint};

/// Leaf hashes read per store call (2 MiB).
const HASH_CHUNK: u64 = 1 << 16;
/// Headers read per store call when each is authenticated.
const RECORD_CHUNK: u64 = 1024;
/// Checkpoint rows read per store call walking down past rows not of this log (the
/// first is the latest row alone: usually this log's).
const CHECKPOINT_PAGE: u32 = 256;

/// What vouches for records found in the store: this log's checkpoint key and name, and
/// the writers' authenticator.
pub(crate) struct Trust<'a> {
    pub store: &'a dyn AuditStore,
    pub verifier: &'a NoteVerifier,
    pub origin: &'a str,
    pub auth: &'a Authenticator,
    /// The checkpoint rows not of this log already reported.
    pub junk: &'a JunkReports,
}

/// Most checkpoint rows not of this log remembered as reported; past it the memory
/// starts over (a row may be reported again: junk by the thousand is news itself).
const MAX_JUNK_REMEMBERED: usize = 4096;

/// Which checkpoint rows not of this log were reported, so each is reported once —
/// every one of them: a junk row at the largest size must not silence those after it.
/// A row is known by its size, root and a SHA-256 of its note (whoever writes rows
/// cannot make one pass for another).
#[derive(Debug, Default)]
pub(crate) struct JunkReports(Mutex<HashSet<(u64, Hash, Hash)>>);

impl JunkReports {
    /// Whether `row` is met for the first time (it is remembered from now on).
    fn first(&self, row: &StoredCheckpoint) -> bool {
        let key = (
            row.size,
            row.root,
            Sha256::digest(row.note.as_bytes()).into(),
        );
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        if seen.len() >= MAX_JUNK_REMEMBERED && !seen.contains(&key) {
            seen.clear();
        }
        seen.insert(key)
    }
}

impl Trust<'_> {
    /// A stored checkpoint if its note is signed by this log's key under this log's name
    /// and says what its row's columns say.
    pub fn open(&self, stored: &StoredCheckpoint) -> Option<Checkpoint> {
        Checkpoint::open(&stored.note, self.verifier)
            .ok()
            .filter(|cp| {
                cp.origin == self.origin && cp.size == stored.size && cp.root == stored.root
            })
    }

    /// The largest checkpoint of this log: the latest row, or — when that one is not
    /// this log's (a row anyone with write access could have added) — the next one down
    /// that is. The rows not of this log walked past are reported, each once; a
    /// writer's own checkpoint at such a row's size replaces it (`ledger.rs`,
    /// `settle_checkpoint`).
    async fn largest(&self) -> Result<Option<Checkpoint>, AuditError> {
        let mut page: Vec<StoredCheckpoint> =
            self.store.latest_checkpoint().await?.into_iter().collect();
        let (mut new_junk, mut largest_junk) = (0u64, None);
        let found = 'walk: loop {
            let Some(last) = page.last().map(|c| c.size) else {
                break Ok(None);
            };
            for stored in &page {
                if let Some(cp) = self.open(stored) {
                    break 'walk Ok(Some(cp));
                }
                if self.junk.first(stored) {
                    new_junk += 1;
                    largest_junk = largest_junk.or(Some(stored.size));
                }
            }
            page = match self.store.checkpoints_below(last, CHECKPOINT_PAGE).await {
                Ok(page) => page,
                Err(e) => break Err(e),
            };
        };
        // Reported before a failed read returns: the rows met are remembered as reported.
        if let Some(size) = largest_junk {
            tracing::error!(
                rows = new_junk,
                largest_size = size,
                "the audit store holds checkpoint rows this log did not sign; run \
                 `palisade audit verify`"
            );
        }
        Ok(found?)
    }

    /// The largest checkpoint of this log, and the store's size read after it.
    async fn anchor(&self) -> Result<(Option<Checkpoint>, u64), AuditError> {
        let best = self.largest().await?;
        // Read after the checkpoints: records land with or before the checkpoint that
        // covers them, so a store holding fewer lost records the log signed.
        let size = self.store.size().await?;
        within_store(best.as_ref(), size)?;
        Ok((best, size))
    }
}

/// Refuses a checkpoint of this log covering more records than the store holds: records
/// it signed were deleted (a writer would refill their positions with others and sign a
/// second history).
fn within_store(cp: Option<&Checkpoint>, size: u64) -> Result<(), AuditError> {
    match cp {
        Some(cp) if cp.size > size => Err(unvouched(
            size,
            format!(
                "the log's signed checkpoint covers {} records, the store holds {size} \
                 (records were deleted, or the store lost commits)",
                cp.size
            ),
        )),
        _ => Ok(()),
    }
}

/// A checkpoint this writer signed, or checked against the records: its size and root.
pub(crate) type Vouched = (u64, Hash);

pub(crate) struct Tail {
    pub tree: CompactTree,
    pub prev: Hash,
    pub last_checkpoint: u64,
    pub last_checkpoint_at: Instant,
    /// The largest checkpoint this writer signed or checked the records against. When the
    /// tail is read again (after a failed commit), the store must still hold a log that
    /// passes through it: records deleted together with the checkpoints covering them
    /// (a rollback) are refused, not built on. (Only for the life of the process: a
    /// checkpoint kept outside, `audit verify --checkpoint`, covers restarts.)
    pub vouched: Option<Vouched>,
    /// While loading: a checkpoint the records must pass through (see [`Tail::load`]).
    floor: Option<Vouched>,
}

impl Tail {
    fn empty() -> Tail {
        Tail {
            tree: CompactTree::new(),
            prev: [0; 32],
            last_checkpoint: 0,
            last_checkpoint_at: Instant::now(),
            vouched: None,
            floor: None,
        }
    }

    /// Notes a checkpoint of this tail signed or checked against the records.
    pub fn checkpointed(&mut self, size: u64, root: Hash) {
        self.last_checkpoint = self.last_checkpoint.max(size);
        if self.vouched.is_none_or(|(s, _)| size >= s) {
            self.vouched = Some((size, root));
        }
    }

    /// Appends a leaf taken in from the store, checking the floor when it is reached.
    fn take(&mut self, leaf: Hash) -> Result<(), AuditError> {
        self.tree.push(leaf);
        self.prev = leaf;
        if let Some((size, root)) = self.floor
            && size == self.tree.size()
        {
            if self.tree.root() != root {
                return Err(unvouched(
                    size,
                    format!(
                        "the {size} records before it are not the ones this writer vouched for \
                         (records were replaced, or the log was rolled back and rewritten)"
                    ),
                ));
            }
            self.floor = None;
        }
        Ok(())
    }

    /// Reads the tail from the store: up to the largest checkpoint of this log by leaf
    /// hashes (a log of a few hundred million records is gigabytes of them, read a chunk
    /// at a time), the records after it one by one, authenticated. `floor`: a checkpoint
    /// this writer vouched for before (a reload), which the records must pass through.
    /// Returns the checkpoint the records were checked against, if any.
    pub async fn load(
        trust: &Trust<'_>,
        floor: Option<Vouched>,
    ) -> Result<(Tail, Option<Checkpoint>), AuditError> {
        let (anchor, size) = trust.anchor().await?;
        let mut tail = Tail::empty();
        if let Some((signed, _)) = floor {
            if signed > size {
                return Err(unvouched(
                    size,
                    format!(
                        "this writer vouched for a checkpoint of {signed} records, the store holds \
                         {size} (records and their checkpoints were deleted, or the store lost \
                         commits)"
                    ),
                ));
            }
            tail.floor = floor.filter(|(s, _)| *s > 0);
            tail.vouched = floor;
        }
        if let Some(cp) = &anchor {
            tail.take_covered(trust.store, cp).await?;
            tail.checkpointed(cp.size, cp.root);
        }
        tail.take_authenticated(trust, size, false).await?;
        Ok((tail, anchor))
    }

    /// Whether the store still holds this tail's last record (a failover to a replica
    /// that lost the last commits, which other writers then filled, holds as many
    /// records but not these): building on a tail the store no longer has would sign
    /// checkpoints over a log that exists nowhere.
    pub async fn matches(&self, store: &dyn AuditStore) -> Result<bool, AuditError> {
        let Some(last) = self.tree.size().checked_sub(1) else {
            return Ok(true);
        };
        let stored = store.leaf_hashes(last, last + 1).await?;
        Ok(stored.first() == Some(&self.prev))
    }

    /// Takes in the records other writers appended since this tail was read: what their
    /// checkpoints cover by leaf hash, the rest authenticated one by one. So this costs
    /// what they added, not the whole log; with nothing new, as on every commit of a
    /// single instance, only the size is read. All or nothing: on any error the tail is
    /// left as it was, holding only what was vouched for.
    pub async fn catch_up(&mut self, trust: &Trust<'_>) -> Result<(), AuditError> {
        let size = trust.store.size().await?;
        if size < self.tree.size() {
            return Err(AuditError::Unavailable(format!(
                "the audit store holds {size} records, fewer than the {} committed",
                self.tree.size()
            )));
        }
        if size == self.tree.size() {
            return Ok(());
        }
        let (anchor, size) = trust.anchor().await?;
        let mut next = Tail {
            tree: self.tree.clone(),
            ..*self
        };
        let covered = anchor.as_ref().filter(|cp| cp.size > next.tree.size());
        if let Some(cp) = covered {
            next.take_covered(trust.store, cp).await?;
        }
        let covered = covered.is_some();
        next.take_authenticated(trust, size, !covered).await?;
        // Another writer's checkpoints cover its records; ours continue from there.
        if let Some(cp) = anchor {
            if covered {
                // Checked against the records just taken in.
                next.checkpointed(cp.size, cp.root);
            } else {
                next.last_checkpoint = next.last_checkpoint.max(cp.size);
            }
        }
        *self = next;
        Ok(())
    }

    /// Takes in the records `cp` covers by their leaf hashes, and checks the root.
    async fn take_covered(
        &mut self,
        store: &dyn AuditStore,
        cp: &Checkpoint,
    ) -> Result<(), AuditError> {
        // The first chunk starts one record early, at this tail's last: the store must
        // still hold it, or what follows is built on a record that is gone.
        let mut own = self.tree.size().checked_sub(1);
        while self.tree.size() < cp.size {
            let from = self.tree.size();
            let to = cp.size.min(from + HASH_CHUNK);
            let mut added = store.leaf_hashes(own.unwrap_or(from), to).await?;
            if own.take().is_some() {
                if added.first() != Some(&self.prev) {
                    return Err(lost_tail(from));
                }
                added.remove(0);
            }
            if added.len() as u64 != to - from {
                return Err(AuditError::Unavailable(format!(
                    "the audit store has gaps in its sequence before record {to}"
                )));
            }
            for leaf in added {
                self.take(leaf)?;
            }
        }
        if self.tree.root() != cp.root {
            return Err(unvouched(
                cp.size,
                format!(
                    "the {} records before it do not give the root of the log's signed \
                     checkpoint of that size (one of them was changed)",
                    cp.size
                ),
            ));
        }
        Ok(())
    }

    /// Takes in the records up to `to`, each only if authenticated and linked. `own`:
    /// the tail's last record is this writer's own commit, not one just read from the
    /// store (so a first record linking elsewhere means the store lost it).
    async fn take_authenticated(
        &mut self,
        trust: &Trust<'_>,
        to: u64,
        own: bool,
    ) -> Result<(), AuditError> {
        let start = self.tree.size();
        while self.tree.size() < to {
            let from = self.tree.size();
            let chunk_end = to.min(from + RECORD_CHUNK);
            let records = trust.store.headers(from, chunk_end).await?;
            if records.len() as u64 != chunk_end - from {
                return Err(AuditError::Unavailable(format!(
                    "the audit store has gaps in its sequence before record {chunk_end}"
                )));
            }
            for record in records {
                let position = self.tree.size();
                let refuse = |reason: &str| unvouched(position, reason.into());
                if record.seq != position {
                    return Err(AuditError::Unavailable(format!(
                        "the audit store has no record {position} (gap in its sequence)"
                    )));
                }
                if !trust.auth.check(&record.header) {
                    return Err(refuse(
                        "its header has no valid writers' tag (not written by a writer \
                         holding this master key, for this origin)",
                    ));
                }
                let leaf = merkle::leaf_hash(&record.header);
                if record.leaf_hash != leaf {
                    return Err(refuse("its leaf hash is not its header's"));
                }
                let header = HeaderView::parse(&record.header)
                    .map_err(|_| refuse("its header does not parse"))?;
                if header.seq != position {
                    return Err(refuse("its header names another position"));
                }
                if header.prev != hex(&self.prev) {
                    if own && position == start && start > 0 {
                        // Written by a writer, after a record this tail does not have.
                        return Err(lost_tail(position));
                    }
                    return Err(refuse("it does not link to the record before it"));
                }
                self.take(leaf)?;
            }
        }
        Ok(())
    }
}

fn lost_tail(position: u64) -> AuditError {
    AuditError::Unavailable(format!(
        "the audit store's record {} is not the one committed: the tail must be read again",
        position - 1
    ))
}

/// The refusal of records that cannot be vouched for from `position` on.
fn unvouched(position: u64, reason: String) -> AuditError {
    AuditError::Unauthenticated { position, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn junk(size: u64, note: &str) -> StoredCheckpoint {
        StoredCheckpoint {
            size,
            root: [0; 32],
            note: note.to_owned(),
            created_us: 0,
        }
    }

    #[test]
    fn every_junk_row_is_reported_once_whatever_came_before_it() {
        let reports = JunkReports::default();
        // A row at the largest size first must not silence smaller ones after it.
        assert!(reports.first(&junk(u64::MAX >> 1, "junk")));
        assert!(reports.first(&junk(1_000, "junk")));
        assert!(!reports.first(&junk(u64::MAX >> 1, "junk")));
        assert!(!reports.first(&junk(1_000, "junk")));
        // Another row at a size already reported (the first one was replaced) is news.
        assert!(reports.first(&junk(1_000, "other junk")));
        // The memory is bounded; past it, reports start over.
        for size in 0..MAX_JUNK_REMEMBERED as u64 {
            reports.first(&junk(size, "flood"));
        }
        assert!(reports.0.lock().unwrap().len() <= MAX_JUNK_REMEMBERED);
    }
}
