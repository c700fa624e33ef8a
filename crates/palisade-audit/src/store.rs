//! The storage contract of the audit ledger. `palisade-store` implements it for SQLite
//! and PostgreSQL; both pass the same conformance suite. The ledger is the only writer of
//! records: the store never computes hashes, it keeps bytes.

use async_trait::async_trait;
use thiserror::Error;

use crate::merkle::Hash;
use crate::record::StoredRecord;

#[derive(Debug, Error)]
pub enum AuditStoreError {
    /// A record with this sequence number (or a key for this subject) already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed or could not be reached. The message is for logs only.
    #[error("audit store error: {0}")]
    Backend(String),
}

/// A signed tree head as stored: the size, the root and the signed note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The C2SP signed note (checkpoint body and signature lines).
    pub note: String,
    pub created_us: i64,
}

/// A record's header and leaf hash, as stored (see [`AuditStore::headers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeader {
    pub seq: u64,
    pub header: Vec<u8>,
    pub leaf_hash: Hash,
}

/// A subject's data key, wrapped (encrypted) by a master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The pseudonymous subject reference.
    pub subject: String,
    /// Random id of the data key; record headers name it.
    pub key_id: String,
    /// Which master key wrapped it.
    pub master_key_id: String,
    /// Nonce and AEAD ciphertext of the 32-byte data key.
    pub wrapped: Vec<u8>,
    pub created_us: i64,
}

/// Where a store's search index stops being a faithful copy of the records it indexes
/// (see [`AuditStore::search_index_divergence`]). An unfaithful index can hide a record
/// from searches, never pass one off: searches re-check their filters on the records'
/// own columns, which `verify` checks against the signed headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexDivergence {
    /// The index row of this record differs from the record's columns, or the record
    /// does not exist.
    Differs(u64),
    /// The index has no row for this record but has rows for later ones.
    Gap(u64),
}

impl IndexDivergence {
    /// The sequence number where the index first diverges.
    pub fn position(self) -> u64 {
        match self {
            IndexDivergence::Differs(seq) | IndexDivergence::Gap(seq) => seq,
        }
    }
}

/// Search filters; every given one must match. Results are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// Matches the API key id, the admin token id or the user id.
    pub actor: Option<String>,
    pub model: Option<String>,
    pub decision: Option<String>,
    pub request_id: Option<String>,
    pub plane: Option<String>,
    /// Pseudonymous subject reference.
    pub subject: Option<String>,
    /// Cursor: only records with `seq` below this.
    pub before_seq: Option<u64>,
    pub limit: u32,
}

/// Exclusive right to append, for writers sharing one store (several gateway instances on
/// one PostgreSQL). Released when dropped.
pub struct TailLease(Option<Box<dyn std::any::Any + Send>>);

impl std::fmt::Debug for TailLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "TailLease(held)"
        } else {
            "TailLease(none)"
        })
    }
}

impl TailLease {
    /// No lock: the store has a single writer, or serialises writers itself.
    pub fn none() -> TailLease {
        TailLease(None)
    }

    /// Whether a lock is actually held (other writers may share the store).
    pub fn is_held(&self) -> bool {
        self.0.is_some()
    }

    /// A lease that lasts as long as `guard` (e.g. an open transaction holding a lock).
    pub fn holding(guard: Box<dyn std::any::Any + Send>) -> TailLease {
        TailLease(Some(guard))
    }
}

/// A store connection that the ledger writer owns and appends through synchronously, on
/// the writer's own thread (see `ledger.rs`). A store offers one (through
/// [`AuditStore::direct_appender`]) when its driver would otherwise cost a hand-off to
/// another thread and back on every commit, which strict durability puts on the path of
/// every request: the SQLite store does, PostgreSQL (a network round trip anyway) does
/// not.
pub trait DirectAppend: Send {
    /// As [`AuditStore::append`]: one durable transaction, `Conflict` when a sequence
    /// number is taken, nothing of the batch kept on failure.
    fn append(
        &mut self,
        records: &[StoredRecord],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), AuditStoreError>;

    /// The writer has nothing queued: the store may do deferred upkeep now (SQLite
    /// catches its search index up), a bounded step at a time. `all` asks for whatever is
    /// pending however little (a timer, shutdown); otherwise a step is only taken when
    /// enough has piled up to be worth a transaction. Returns whether more remains.
    fn idle(&mut self, all: bool) -> Result<bool, AuditStoreError> {
        let _ = all;
        Ok(false)
    }
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// A connection for the ledger writer to append through directly (see
    /// [`DirectAppend`]); `None` when the store has no faster way than [`append`].
    ///
    /// [`append`]: AuditStore::append
    fn direct_appender(&self) -> Result<Option<Box<dyn DirectAppend>>, AuditStoreError> {
        Ok(None)
    }

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), AuditStoreError>;

    /// Appends records with consecutive sequence numbers, and optionally a checkpoint, in
    /// one durable transaction. `Conflict` if any sequence number is taken.
    async fn append(
        &self,
        records: &[StoredRecord],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), AuditStoreError>;

    /// Waits for the exclusive right to append (see [`TailLease`]). The writer holds it
    /// while it reads the current tail, seals its batch after it and appends, so writers
    /// sharing a store take turns instead of racing for the same positions.
    async fn lock_tail(&self) -> Result<TailLease, AuditStoreError> {
        Ok(TailLease::none())
    }

    /// The number of records: one past the highest sequence number (0 when empty).
    async fn size(&self) -> Result<u64, AuditStoreError>;

    /// Leaf hashes of records `from..to` in sequence order.
    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditStoreError>;

    /// The headers and leaf hashes of records `from..to`, in sequence order, without
    /// their content (what a writer reads to authenticate records others appended).
    async fn headers(&self, from: u64, to: u64) -> Result<Vec<StoredHeader>, AuditStoreError>;

    /// Up to `limit` records with `seq >= from`, in sequence order.
    async fn records(&self, from: u64, limit: u32) -> Result<Vec<StoredRecord>, AuditStoreError>;

    /// One record.
    async fn record(&self, seq: u64) -> Result<Option<StoredRecord>, AuditStoreError>;

    /// Records matching a query, newest first.
    async fn search(&self, query: &Query) -> Result<Vec<StoredRecord>, AuditStoreError>;

    /// The first place where the search index, when the store keeps one apart from the
    /// records, is not an exact copy of the records' searchable columns over a prefix
    /// of the log without gaps (a prefix: the index may lag behind the newest records).
    /// `None` when it is faithful or there is no separate index. Reads the whole index.
    async fn search_index_divergence(&self) -> Result<Option<IndexDivergence>, AuditStoreError> {
        Ok(None)
    }

    /// Stores a checkpoint (ignored if one of that size exists: the writer then reads
    /// that row, and replaces it with [`AuditStore::replace_checkpoint`] only if this
    /// log never signed it).
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), AuditStoreError>;

    /// Replaces the checkpoint row of `checkpoint.size` if its note is still `old_note`
    /// (compare and swap); whether it did.
    async fn replace_checkpoint(
        &self,
        old_note: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<bool, AuditStoreError>;

    /// All checkpoints, smallest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, AuditStoreError>;

    /// The largest checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, AuditStoreError>;

    /// The largest checkpoint smaller than `size`.
    async fn checkpoint_below(
        &self,
        size: u64,
    ) -> Result<Option<StoredCheckpoint>, AuditStoreError> {
        Ok(self.checkpoints_below(size, 1).await?.into_iter().next())
    }

    /// Up to `limit` checkpoints smaller than `size`, largest first (a walk down past
    /// rows the log did not sign reads them a page at a time).
    async fn checkpoints_below(
        &self,
        size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, AuditStoreError>;

    /// A subject's wrapped data key.
    async fn subject_key(&self, subject: &str) -> Result<Option<WrappedKey>, AuditStoreError>;

    /// Stores a subject's key unless one exists; returns the key in force either way.
    async fn create_subject_key(&self, key: &WrappedKey) -> Result<WrappedKey, AuditStoreError>;

    /// Destroys a subject's data key so that it cannot be recovered from the store files
    /// (secure delete); `true` if there was one.
    async fn destroy_subject_key(&self, subject: &str) -> Result<bool, AuditStoreError>;

    /// Every wrapped key (for master-key rotation).
    async fn wrapped_keys(&self) -> Result<Vec<WrappedKey>, AuditStoreError>;

    /// Replaces a subject's wrapped key with the same data key wrapped anew.
    async fn rewrap_subject_key(&self, key: &WrappedKey) -> Result<(), AuditStoreError>;

    /// After keys were re-wrapped (master-key rotation): removes the copies wrapped under
    /// the old master key from the store's files, as erasure does for a destroyed key.
    /// Best effort, like erasure's; failures are logged.
    async fn scrub_replaced_keys(&self);

    /// Drops the content of records older than `before_us` among the first `through`
    /// (the records a purge statement covers: see `crate::purge`); returns how many.
    async fn purge_content(&self, before_us: i64, through: u64) -> Result<u64, AuditStoreError>;

    /// A ledger setting (e.g. the wrapped subject-index key).
    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, AuditStoreError>;

    /// Sets a ledger setting; with `only_if_absent`, keeps an existing value. Returns the
    /// value in force.
    async fn set_meta(
        &self,
        name: &str,
        value: &[u8],
        only_if_absent: bool,
    ) -> Result<Vec<u8>, AuditStoreError>;
}
