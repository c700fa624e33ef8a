//! The ledger writer: one task that owns the tail of the log. Producers submit
//! [`Entry`]s through a bounded queue; the writer takes everything waiting (up to
//! `batch_max`), seals each record (sequence number, link to the previous leaf, content
//! encrypted under the subject's data key), appends the batch in one store transaction
//! (group commit), and only then answers each producer. Checkpoints are signed every
//! `checkpoint_every` records, every `checkpoint_interval`, and on close.
//!
//! In `strict` durability a producer's `record` returns after its record is committed,
//! and returns an error (never silently drops) when the store fails; the queue is
//! bounded, so a slow store slows producers down instead of growing memory. In
//! `best_effort` durability `record` returns at once and a full queue drops the record
//! (counted in [`LedgerStats::dropped`]).
//!
//! Where the store offers a [`DirectAppend`] connection (SQLite), the writer runs on a
//! thread of its own and commits through that connection synchronously: a request then
//! waits for one hand-off to the writer and one back, not also for a trip to the
//! driver's worker thread and back. Otherwise (PostgreSQL) it is a task on the runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::authenticator::Authenticator;
use crate::checkpoint::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use crate::crypto::{DataKey, KeyError, Sealing, content_aad};
use crate::event::{Change, Entry, Event, Plane, now_us};
use crate::keys::{AuditKeys, KeysError};
use crate::merkle::{CompactTree, Hash};
use crate::purge::Purge;
use crate::record::{ContentRef, HEADER_VERSION, Header, StoredRecord, hex, sha256_hex};
use crate::store::{AuditStore, AuditStoreError, DirectAppend, StoredCheckpoint};
use crate::tail::{JunkReports, Tail, Trust};
use crate::verify::PURGE_ACTION;
use crate::witness;

/// Whether a response waits for its record to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Strict,
    BestEffort,
}

#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// The checkpoint origin line (the log's name).
    pub origin: String,
    pub durability: Durability,
    /// Most records in one transaction.
    pub batch_max: usize,
    /// Bound of the submission queue.
    pub queue: usize,
    pub checkpoint_every: u64,
    pub checkpoint_interval: Duration,
    /// How long a subject's unwrapped data key is kept in memory. It bounds how long
    /// another instance may still hold (and encrypt with) a key erased elsewhere.
    pub key_cache_ttl: Duration,
    /// Longest one group commit, or re-reading the log's tail, may take: a store that
    /// hangs (a stuck lock holder, a network partition) fails its requests with
    /// `Unavailable` after this instead of stalling them all.
    pub commit_timeout: Duration,
    /// Where the writer keeps the latest checkpoint it signed, outside the database
    /// (`witness.rs`); `None`: nowhere (a rollback while the gateway was down then
    /// goes unnoticed at start).
    pub witness: Option<std::path::PathBuf>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            origin: "palisade/audit".into(),
            durability: Durability::Strict,
            batch_max: 512,
            queue: 65_536,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(10),
            key_cache_ttl: Duration::from_secs(5),
            commit_timeout: Duration::from_secs(10),
            witness: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum AuditError {
    /// The record could not be made durable.
    #[error("audit store unavailable: {0}")]
    Unavailable(String),
    #[error("audit ledger is closed")]
    Closed,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Store(#[from] AuditStoreError),
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The records in the store cannot be vouched for at `position` (see
    /// `tail.rs`): a record no signed checkpoint covers fails its writers' tag, hash
    /// or link; the records a signed checkpoint covers do not give its root; or the log
    /// signed more records than the store holds. The writer takes nothing from there in
    /// until someone looks.
    #[error(
        "the audit log cannot be vouched for at record {position}: {reason}; run `palisade \
         audit verify` (docs/audit.md, \"What a writer takes in\")"
    )]
    Unauthenticated { position: u64, reason: String },
}

/// A committed record, as the live tail publishes it.
#[derive(Debug, Clone, Serialize)]
pub struct Appended {
    pub seq: u64,
    pub leaf_hash: String,
    pub header: Header,
}

/// Counters for metrics.
#[derive(Debug, Default)]
pub struct LedgerStats {
    pub appended: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub batches: AtomicU64,
    pub checkpoints: AtomicU64,
    /// Microseconds spent in store commits, summed.
    pub commit_us: AtomicU64,
    /// Records queued and not yet committed.
    pub pending: AtomicU64,
}

/// Where a producer waiting for its commit is answered.
type Reply = oneshot::Sender<Result<u64, AuditError>>;

/// What a checkpoint job did: the checkpoint it signed (none when nothing was new), and
/// the size the log's checkpoints now cover as far as this writer knows (its own, or
/// another writer's signed by the log's key, over records this writer holds).
struct Checkpointed {
    signed: Option<StoredCheckpoint>,
    size: u64,
}

enum Job {
    Append(Box<Entry>, Option<Reply>),
    Checkpoint(oneshot::Sender<Result<Checkpointed, AuditError>>),
    Close(oneshot::Sender<()>),
}

struct Shared {
    store: Arc<dyn AuditStore>,
    keys: Arc<AuditKeys>,
    signer: NoteSigner,
    verifier: NoteVerifier,
    /// Tags this writer's records and checks the ones it finds ([`crate::authenticator`]).
    auth: Authenticator,
    config: LedgerConfig,
    tail: broadcast::Sender<Arc<Appended>>,
    stats: LedgerStats,
    available: AtomicBool,
    data_keys: Mutex<KeyCache>,
    /// The checkpoint rows this log never signed that were reported.
    junk: JunkReports,
}

/// Unwrapped subject data keys, kept for `key_cache_ttl` so a burst of captures does not
/// unwrap a key per record. Every erasure bumps `erasures` under the lock, and a key read
/// from the store is cached only if no erasure happened since the read began: a key
/// destroyed by an erasure can never come back into the cache.
#[derive(Default)]
struct KeyCache {
    entries: HashMap<String, CachedKey>,
    erasures: u64,
}

struct CachedKey {
    key: Arc<DataKey>,
    key_id: String,
    loaded: Instant,
}

/// The handle producers and readers share. Cloning is cheap.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("origin", &self.shared.config.origin)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger over a store: loads the tail, starts the writer task.
    pub async fn open(
        store: Arc<dyn AuditStore>,
        keys: Arc<AuditKeys>,
        signer: NoteSigner,
        config: LedgerConfig,
    ) -> Result<Ledger, AuditError> {
        let verifier = signer.verifier();
        let auth = Authenticator::for_log(keys.keyring(), &config.origin);
        let junk = JunkReports::default();
        let trust = Trust {
            store: store.as_ref(),
            verifier: &verifier,
            origin: &config.origin,
            auth: &auth,
            junk: &junk,
        };
        let floor = match &config.witness {
            Some(path) => witness::read(path, &verifier, &config.origin)?,
            None => None,
        };
        let (tail, anchor) = match Tail::load(&trust, floor).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(error = %e, "the audit log's tail could not be taken in");
                return Err(e);
            }
        };
        // The largest checkpoint the records were just checked against vouches for them
        // from now on, even if this instance stops before signing one of its own.
        if let (Some(path), Some(anchor)) = (&config.witness, anchor)
            && floor.is_none_or(|(size, _)| anchor.size > size)
        {
            // Re-signed, so the witness holds the note's canonical bytes whatever lines
            // someone added to the stored copy (the signature is deterministic).
            witness::write(
                path,
                &anchor.sign(&signer),
                anchor.size,
                &verifier,
                &config.origin,
            );
        }
        tracing::info!(records = tail.tree.size(), origin = %config.origin, "audit ledger opened");
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let shared = Arc::new(Shared {
            store,
            keys,
            signer,
            verifier,
            auth,
            tail: broadcast::channel(1024).0,
            stats: LedgerStats::default(),
            available: AtomicBool::new(true),
            data_keys: Mutex::new(KeyCache::default()),
            junk,
            config,
        });
        match shared.store.direct_appender()? {
            None => {
                tokio::spawn(writer(Arc::clone(&shared), rx, Some(tail), None));
            }
            Some(direct) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| AuditError::Unavailable(format!("audit writer runtime: {e}")))?;
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name("palisade-audit".into())
                    .spawn(move || runtime.block_on(writer(shared, rx, Some(tail), Some(direct))))
                    .map_err(|e| AuditError::Unavailable(format!("audit writer thread: {e}")))?;
            }
        }
        Ok(Ledger { tx, shared })
    }

    /// Submits a record. In strict durability, returns its sequence number once it is
    /// committed; in best-effort, returns `None` at once.
    pub async fn record(&self, entry: Entry) -> Result<Option<u64>, AuditError> {
        let stats = &self.shared.stats;
        match self.shared.config.durability {
            Durability::Strict => self.record_durably(entry).await.map(Some),
            Durability::BestEffort => {
                match self.tx.try_send(Job::Append(Box::new(entry), None)) {
                    Ok(()) => {
                        stats.pending.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(None)
            }
        }
    }

    /// Whether the last commit succeeded: producers may refuse work early when not.
    pub fn is_available(&self) -> bool {
        self.shared.available.load(Ordering::Relaxed)
    }

    pub fn durability(&self) -> Durability {
        self.shared.config.durability
    }

    /// Signs and stores a checkpoint of everything committed so far (none if nothing new).
    pub async fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, AuditError> {
        Ok(self.checkpoint_job().await?.signed)
    }

    async fn checkpoint_job(&self) -> Result<Checkpointed, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Checkpoint(reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Commits everything queued, signs a final checkpoint and stops the writer.
    pub async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Job::Close(reply)).await.is_ok() {
            let _ = answer.await;
        }
    }

    /// Live committed records, for the SSE tail.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Appended>> {
        self.shared.tail.subscribe()
    }

    pub fn stats(&self) -> &LedgerStats {
        &self.shared.stats
    }

    pub fn store(&self) -> &Arc<dyn AuditStore> {
        &self.shared.store
    }

    pub fn keys(&self) -> &Arc<AuditKeys> {
        &self.shared.keys
    }

    pub fn origin(&self) -> &str {
        &self.shared.config.origin
    }

    /// The key that verifies this ledger's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.shared.verifier.clone()
    }

    /// The public key that verifies this ledger's checkpoints, in note format.
    pub fn verifier_key(&self) -> String {
        self.shared.verifier.to_text()
    }

    /// Retention: records an `audit.purge` event carrying a signed statement of what goes
    /// (the content of records older than `before_us` among those a checkpoint covers —
    /// the one just signed, or when nothing was new the latest this writer knows: see
    /// [`crate::purge`]), then drops that content. Hashes and headers stay,
    /// so the log still verifies, and `audit verify` accepts the missing ciphertexts the
    /// statement covers. Returns how many contents were dropped.
    pub async fn purge_before(&self, before_us: i64) -> Result<u64, AuditError> {
        // Never the store's checkpoint rows as they are: anyone who can write the
        // database can add one of any size.
        let through = self.checkpoint_job().await?.size;
        let purge = Purge {
            through,
            cutoff_us: before_us,
        };
        let statement = purge.sign(&self.shared.signer, &self.shared.config.origin);
        let mut event = Event::new(Plane::Admin, format!("purge-{}", now_us()), PURGE_ACTION);
        event.actor.role = Some("system".into());
        event.change = Some(Change {
            target: "audit:content".into(),
            before: None,
            after: Some(serde_json::json!({
                "purged_before_us": before_us,
                "through_seq": through,
                "statement": statement,
            })),
        });
        self.record_durably(event.into()).await?;
        Ok(self.shared.store.purge_content(before_us, through).await?)
    }

    /// Like [`Ledger::record`] but always waits for the commit, whatever the durability
    /// setting (for the ledger's own bookkeeping records).
    pub async fn record_durably(&self, entry: Entry) -> Result<u64, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.shared.stats.pending.fetch_add(1, Ordering::Relaxed);
        if self
            .tx
            .send(Job::Append(Box::new(entry), Some(reply)))
            .await
            .is_err()
        {
            self.shared.stats.pending.fetch_sub(1, Ordering::Relaxed);
            return Err(AuditError::Closed);
        }
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Crypto-shreds a subject: destroys their data key so their content can never be
    /// decrypted again. Returns whether a key existed.
    pub async fn erase_subject(&self, subject: &str) -> Result<bool, AuditError> {
        let subject_ref = self.shared.keys.subject_ref(subject);
        // The store first: a cache miss from here on finds no key to bring back.
        let destroyed = self.shared.store.destroy_subject_key(&subject_ref).await;
        if let Ok(mut cache) = self.shared.data_keys.lock() {
            cache.erasures += 1;
            cache.entries.remove(&subject_ref);
        }
        Ok(destroyed?)
    }
}

/// Where the writer appends: the store's own direct connection, or the store.
type Direct = Option<Box<dyn DirectAppend>>;

async fn append(
    shared: &Shared,
    direct: &mut Direct,
    records: &[StoredRecord],
    checkpoint: Option<&StoredCheckpoint>,
) -> Result<(), AuditStoreError> {
    match direct {
        Some(direct) => direct.append(records, checkpoint),
        None => shared.store.append(records, checkpoint).await,
    }
}

/// Deferred store upkeep while nothing is queued (see [`DirectAppend::idle`]).
fn upkeep(direct: &mut Direct, rx: &mpsc::Receiver<Job>, all: bool) {
    let Some(direct) = direct else {
        return;
    };
    while rx.is_empty() {
        match direct.idle(all) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(error = %e, "audit store upkeep failed");
                break;
            }
        }
    }
}

async fn writer(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Job>,
    mut tail: Option<Tail>,
    mut direct: Direct,
) {
    let mut ticker = tokio::time::interval(shared.config.checkpoint_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let batch_max = shared.config.batch_max.max(1);
    let mut jobs = Vec::with_capacity(batch_max);
    // A commit failed: check the store did not lose records before the next batch.
    let mut stale = false;
    // What a reloaded tail must still pass through: the largest checkpoint the tail that
    // was dropped had signed or checked (see `Tail::vouched`).
    let mut floor = None;
    // Why the tail could not be read, for the replies while there is none.
    let mut unavailable = String::from("audit store unavailable");
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            _ = ticker.tick() => {
                if let Some(t) = tail.as_mut()
                    && t.tree.size() > t.last_checkpoint
                    && t.last_checkpoint_at.elapsed() >= shared.config.checkpoint_interval
                    && let Err(e) = within(
                        shared.config.commit_timeout,
                        timed_checkpoint(&shared, &mut direct, t),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "audit checkpoint failed");
                    // The store may have lost records (see `timed_checkpoint`): check
                    // before the next batch is appended.
                    stale = true;
                }
                upkeep(&mut direct, &rx, true);
                shared.sweep_keys();
                continue;
            }
        };
        let Some(first) = first else {
            break;
        };
        jobs.push(first);
        while jobs.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // After a failed commit: a store that now holds fewer records than the tail (a
        // failover that lost the last commits, a restore) needs the tail read afresh;
        // one that holds as many or more is caught up with by the next commit.
        if stale {
            stale = false;
            let size = within(shared.config.commit_timeout, async {
                Ok(shared.store.size().await?)
            })
            .await;
            if let (Some(t), Ok(size)) = (tail.as_ref(), size)
                && size < t.tree.size()
            {
                tracing::warn!(
                    store = size,
                    tail = t.tree.size(),
                    "the audit store holds fewer records than were committed: reloading"
                );
                floor = t.vouched.or(floor);
                tail = None;
            }
            if let Some(t) = tail.as_ref() {
                let same = within(
                    shared.config.commit_timeout,
                    t.matches(shared.store.as_ref()),
                );
                if let Ok(false) = same.await {
                    tracing::warn!(
                        tail = t.tree.size(),
                        "the audit store's last committed record changed: reloading"
                    );
                    floor = t.vouched.or(floor);
                    tail = None;
                }
            }
        }
        if tail.is_none() {
            let trust = shared.trust();
            let load = Tail::load(&trust, floor);
            tail = match within(shared.config.commit_timeout, load).await {
                Ok((t, _)) => Some(t),
                Err(e) => {
                    tracing::error!(error = %e, "the audit log's tail could not be read again");
                    unavailable = e.to_string();
                    None
                }
            };
        }
        let mut close = None;
        let mut entries = Vec::new();
        let mut replies = Vec::new();
        let mut controls = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Append(entry, reply) => {
                    entries.push(*entry);
                    replies.push(reply);
                }
                Job::Checkpoint(reply) => controls.push(reply),
                Job::Close(reply) => close = Some(reply),
            }
        }
        if !entries.is_empty() {
            shared
                .stats
                .pending
                .fetch_sub(replies.len() as u64, Ordering::Relaxed);
            let outcome = match tail.as_mut() {
                Some(t) => {
                    // Sealing may create a subject's data key in the store: bounded too.
                    let seal = async { Ok(seal_each(&shared, &mut entries, &mut replies).await) };
                    match within(shared.config.commit_timeout, seal).await {
                        Ok(sealed) if sealed.is_empty() => Ok(None),
                        Ok(sealed) => {
                            let commit = commit(&shared, &mut direct, t, sealed);
                            within(shared.config.commit_timeout, commit).await.map(Some)
                        }
                        Err(e) => Err(e),
                    }
                }
                None => Err(AuditError::Unavailable(unavailable.clone())),
            };
            let n = replies.len() as u64;
            match outcome {
                Ok(None) => {}
                Ok(Some((first_seq, checkpoint))) => {
                    shared.available.store(true, Ordering::Relaxed);
                    shared.stats.appended.fetch_add(n, Ordering::Relaxed);
                    for (i, reply) in replies.drain(..).enumerate() {
                        if let Some(reply) = reply {
                            let _ = reply.send(Ok(first_seq + i as u64));
                        }
                    }
                    // After the answers, outside the commit's time limit and the tail's
                    // lease: the records are stored whatever this takes.
                    if let Some(cp) = checkpoint {
                        shared.after_checkpoint(&cp).await;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, records = n, "audit records could not be committed");
                    shared.available.store(false, Ordering::Relaxed);
                    shared.stats.failed.fetch_add(n, Ordering::Relaxed);
                    for reply in replies.drain(..).flatten() {
                        let _ = reply.send(Err(AuditError::Unavailable(e.to_string())));
                    }
                    // The commit may or may not have landed. The tail is kept: it only
                    // ever holds stored records it vouches for (it moves on a successful
                    // append or a whole catch-up, never a failed one), so the next batch catches up on whatever landed (under
                    // the PostgreSQL lease, or on SQLite's position conflict) instead of
                    // re-reading every leaf hash of the log — unless the store now
                    // holds fewer records (checked before the next batch).
                    stale = true;
                }
            }
        }
        for reply in controls {
            let result = match tail.as_mut() {
                Some(t) => {
                    let now = checkpoint_now(&shared, &mut direct, t);
                    within(shared.config.commit_timeout, now)
                        .await
                        .map(|signed| Checkpointed {
                            signed,
                            size: t.last_checkpoint,
                        })
                }
                None => Err(AuditError::Unavailable(unavailable.clone())),
            };
            stale |= result.is_err();
            let _ = reply.send(result);
        }
        if let Some(reply) = close {
            if let Some(t) = tail.as_mut()
                && let Err(e) = within(
                    shared.config.commit_timeout,
                    final_checkpoint(&shared, &mut direct, t),
                )
                .await
            {
                tracing::error!(
                    error = %e,
                    "final audit checkpoint failed: records after the last checkpoint stay unsigned"
                );
            }
            rx.close();
            upkeep(&mut direct, &rx, true);
            let _ = reply.send(());
            break;
        }
        upkeep(&mut direct, &rx, false);
    }
    tracing::info!("audit ledger writer stopped");
}

/// Seals each entry of a batch on its own (position and link are provisional: `place`
/// sets them). An entry that cannot be sealed — its subject's data key cannot be
/// unwrapped or made — is refused alone (its reply gets the error, its reply slot is
/// dropped from `replies`), not with the whole batch.
async fn seal_each(
    shared: &Shared,
    entries: &mut Vec<Entry>,
    replies: &mut Vec<Option<Reply>>,
) -> Vec<(Header, Option<Vec<u8>>)> {
    let mut sealed = Vec::with_capacity(entries.len());
    let mut kept = Vec::with_capacity(replies.len());
    for (entry, reply) in entries.drain(..).zip(replies.drain(..)) {
        match seal(shared, 0, [0; 32], entry).await {
            Ok(s) => {
                sealed.push(s);
                kept.push(reply);
            }
            Err(e) => {
                tracing::error!(error = %e, "an audit record could not be sealed");
                shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(reply) = reply {
                    let _ = reply.send(Err(e));
                }
            }
        }
    }
    *replies = kept;
    sealed
}

/// How many times a batch is re-sealed after another writer (an instance sharing the
/// store) took its positions first.
const MAX_RESEALS: usize = 64;

/// `work`, or `Unavailable` once `limit` has passed. The store's answer is then unknown
/// (a commit may still land): the next batch catches up on it.
async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, AuditError>>,
) -> Result<T, AuditError> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(AuditError::Unavailable(format!(
            "the audit store did not answer within {} ms",
            limit.as_millis()
        ))),
    }
}

/// Seals and appends one batch; returns the first sequence number and the checkpoint
/// stored with the batch, if one was due (for [`Shared::after_checkpoint`]). When another writer
/// appended first (a sequence conflict), the tail catches up with what it wrote and the
/// batch is re-sealed at the new positions. On any other error the tail is left as it
/// was: it still holds only stored records.
async fn commit(
    shared: &Shared,
    direct: &mut Direct,
    tail: &mut Tail,
    mut sealed: Vec<(Header, Option<Vec<u8>>)>,
) -> Result<(u64, Option<StoredCheckpoint>), AuditError> {
    // Writers sharing the store take turns: under the lease, read what the others
    // appended, then seal after it. A store without a lease (SQLite: usually one writer)
    // skips that read; a conflict below catches up instead.
    let lease = shared.store.lock_tail().await?;
    if lease.is_held() {
        tail.catch_up(&shared.trust()).await?;
    }
    let mut attempt = 0;
    loop {
        let (records, tree, prev) = place(tail, &mut sealed, &shared.auth);
        let due =
            tree.size().saturating_sub(tail.last_checkpoint) >= shared.config.checkpoint_every;
        let checkpoint = if due { Some(sign(shared, &tree)) } else { None };
        let started = Instant::now();
        match append(shared, direct, &records, checkpoint.as_ref()).await {
            Ok(()) => {}
            Err(AuditStoreError::Conflict(what)) if attempt < MAX_RESEALS => {
                // Only where the store has no tail lock (SQLite shared by processes): back
                // off for a random moment so racing writers spread out, then catch up.
                attempt += 1;
                tracing::debug!(conflict = %what, attempt, "audit tail moved (another writer): re-sealing");
                unplace(&mut sealed, records);
                let jitter = rand::random::<u64>() % (1000 * attempt.min(20) as u64);
                tokio::time::sleep(Duration::from_micros(jitter)).await;
                tail.catch_up(&shared.trust()).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let stats = &shared.stats;
        stats
            .commit_us
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        if let Some(cp) = &checkpoint {
            tail.checkpointed(cp.size, cp.root);
            tail.last_checkpoint_at = Instant::now();
            stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        }
        let first_seq = tail.tree.size();
        tail.tree = tree;
        tail.prev = prev;
        if shared.tail.receiver_count() > 0 {
            for (record, (header, _)) in records.iter().zip(sealed) {
                let _ = shared.tail.send(Arc::new(Appended {
                    seq: record.seq,
                    leaf_hash: hex(&record.leaf_hash),
                    header,
                }));
            }
        }
        return Ok((first_seq, checkpoint));
    }
}

/// Gives sealed headers their positions after the tail and links each to the one
/// before; returns the rows and the tree and last leaf they lead to. The ciphertexts move
/// into the rows (a retry takes them back with [`unplace`]), never copied.
fn place(
    tail: &Tail,
    sealed: &mut [(Header, Option<Vec<u8>>)],
    auth: &Authenticator,
) -> (Vec<StoredRecord>, CompactTree, Hash) {
    let mut tree = tail.tree.clone();
    let mut prev = tail.prev;
    let mut records = Vec::with_capacity(sealed.len());
    for (header, content) in sealed.iter_mut() {
        header.seq = tree.size();
        header.prev = hex(&prev);
        let record = StoredRecord::seal(header, content.take(), auth);
        tree.push(record.leaf_hash);
        prev = record.leaf_hash;
        records.push(record);
    }
    (records, tree, prev)
}

/// Returns the ciphertexts of rows that were not stored to their sealed headers.
fn unplace(sealed: &mut [(Header, Option<Vec<u8>>)], records: Vec<StoredRecord>) {
    for ((_, content), record) in sealed.iter_mut().zip(records) {
        *content = record.content;
    }
}

/// Builds a record's header, encrypting its captured content.
async fn seal(
    shared: &Shared,
    seq: u64,
    prev: Hash,
    entry: Entry,
) -> Result<(Header, Option<Vec<u8>>), AuditError> {
    let mut subject = None;
    let mut content_ref = None;
    let mut ciphertext = None;
    if let Some(capture) = entry.capture {
        let subject_ref = shared.keys.subject_ref(&capture.subject);
        let (key, key_id) = data_key(shared, &subject_ref).await?;
        let plain = zeroize::Zeroizing::new(capture.content);
        let aad = content_aad(
            &subject_ref,
            &key_id,
            &entry.event.request_id,
            entry.event.time_us,
        );
        let sealed = key.seal(&aad, &plain);
        content_ref = Some(ContentRef {
            sha256: sha256_hex(&sealed),
            key_id,
            len: sealed.len() as u64,
            sealing: Sealing::RecordKey.number(),
        });
        ciphertext = Some(sealed);
        subject = Some(subject_ref);
    }
    let header = Header {
        v: HEADER_VERSION,
        seq,
        prev: hex(&prev),
        event: entry.event,
        subject,
        content: content_ref,
        mac: None,
    };
    Ok((header, ciphertext))
}

impl Shared {
    /// What follows storing a checkpoint: the witness file, then the read-back of the row
    /// ([`Shared::settle_checkpoint`]), bounded by the commit timeout (it only logs).
    async fn after_checkpoint(&self, cp: &StoredCheckpoint) {
        self.witness(cp);
        let settle = async {
            self.settle_checkpoint(cp).await;
            Ok(())
        };
        if let Err(e) = within(self.config.commit_timeout, settle).await {
            tracing::warn!(error = %e, checkpoint_size = cp.size, "the audit checkpoint just stored was not read back");
        }
    }

    /// Checks that the store holds `cp`, just stored: a row of its size that was there
    /// before kept its place (`add_checkpoint` ignores the new one). A row this log never
    /// signed (junk anyone with write access could add ahead of the log) is replaced by
    /// `cp` — compare and swap, so a row changed meanwhile stays. A validly signed row that
    /// disagrees is a fork (say, a failover to a replica that lost commits, which another
    /// writer then filled): it stays as evidence and is reported; this writer's
    /// checkpoint is in its witness.
    async fn settle_checkpoint(&self, cp: &StoredCheckpoint) {
        let row = match self.store.checkpoint_below(cp.size.saturating_add(1)).await {
            Ok(Some(row)) if row.size == cp.size => row,
            Ok(_) => {
                tracing::warn!(
                    checkpoint_size = cp.size,
                    "the audit checkpoint just stored is not in the store"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read back the audit checkpoint just stored");
                return;
            }
        };
        if row.note == cp.note && row.root == cp.root {
            return;
        }
        if self.trust().open(&row).is_some() {
            tracing::error!(
                checkpoint_size = cp.size,
                "two signed checkpoints of this audit log disagree at this size: the log forked \
                 (a failover that lost commits?); the store's is kept, this writer's is in its \
                 witness; run `palisade audit verify`"
            );
            return;
        }
        match self.store.replace_checkpoint(&row.note, cp).await {
            Ok(true) => tracing::warn!(
                checkpoint_size = cp.size,
                "replaced a checkpoint row this audit log never signed with the writer's own"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot replace a checkpoint row this log never signed")
            }
        }
    }

    /// Keeps a checkpoint this writer signed in the witness file, if there is one.
    fn witness(&self, cp: &StoredCheckpoint) {
        if let Some(path) = &self.config.witness {
            witness::write(path, &cp.note, cp.size, &self.verifier, &self.config.origin);
        }
    }

    /// What vouches for the records this writer finds in the store.
    fn trust(&self) -> Trust<'_> {
        Trust {
            store: self.store.as_ref(),
            verifier: &self.verifier,
            origin: &self.config.origin,
            auth: &self.auth,
            junk: &self.junk,
        }
    }

    /// Drops the cached data keys older than `key_cache_ttl` (each is zeroed as its last
    /// reference goes): run on every checkpoint tick, so a key erased by another instance
    /// leaves this one's memory even if its subject never comes back.
    fn sweep_keys(&self) {
        let ttl = self.config.key_cache_ttl;
        if let Ok(mut cache) = self.data_keys.lock() {
            cache.entries.retain(|_, c| c.loaded.elapsed() < ttl);
        }
    }
}

/// The subject's data key: from the cache, the store, or newly made.
async fn data_key(
    shared: &Shared,
    subject_ref: &str,
) -> Result<(Arc<DataKey>, String), AuditError> {
    let mut erasures = None;
    if let Ok(cache) = shared.data_keys.lock() {
        if let Some(c) = cache.entries.get(subject_ref)
            && c.loaded.elapsed() < shared.config.key_cache_ttl
        {
            return Ok((Arc::clone(&c.key), c.key_id.clone()));
        }
        erasures = Some(cache.erasures);
    }
    let keyring = shared.keys.keyring();
    let wrapped = match shared.store.subject_key(subject_ref).await? {
        Some(w) => w,
        None => {
            let (key, key_id) = DataKey::generate();
            let fresh = keyring.wrap(subject_ref, &key_id, &key, now_us());
            shared.store.create_subject_key(&fresh).await?
        }
    };
    let key = Arc::new(keyring.unwrap(&wrapped)?);
    if let Ok(mut cache) = shared.data_keys.lock()
        && erasures == Some(cache.erasures)
    {
        if cache.entries.len() > 100_000 {
            cache.entries.clear();
        }
        cache.entries.insert(
            subject_ref.to_owned(),
            CachedKey {
                key: Arc::clone(&key),
                key_id: wrapped.key_id.clone(),
                loaded: Instant::now(),
            },
        );
    }
    Ok((key, wrapped.key_id))
}

fn sign(shared: &Shared, tree: &CompactTree) -> StoredCheckpoint {
    let cp = Checkpoint {
        origin: shared.config.origin.clone(),
        size: tree.size(),
        root: tree.root(),
    };
    StoredCheckpoint {
        size: cp.size,
        root: cp.root,
        note: cp.sign(&shared.signer),
        created_us: now_us(),
    }
}

/// A checkpoint asked for now (`POST /admin/v1/audit/checkpoint`): of the whole log as
/// the store holds it, so what other instances appended is taken in first — an instance
/// that has been idle would otherwise sign an old prefix. No lease is needed: a
/// checkpoint of any stored prefix is true, whatever is appended after it.
async fn checkpoint_now(
    shared: &Shared,
    direct: &mut Direct,
    tail: &mut Tail,
) -> Result<Option<StoredCheckpoint>, AuditError> {
    tail.catch_up(&shared.trust()).await?;
    timed_checkpoint(shared, direct, tail).await
}

/// The checkpoint at shutdown: of everything the store holds, as [`checkpoint_now`] (a
/// commit that timed out may still have landed), or of this writer's own tail when the
/// store's newer records cannot be taken in.
async fn final_checkpoint(
    shared: &Shared,
    direct: &mut Direct,
    tail: &mut Tail,
) -> Result<Option<StoredCheckpoint>, AuditError> {
    match checkpoint_now(shared, direct, tail).await {
        Ok(signed) => Ok(signed),
        Err(e) => {
            tracing::warn!(error = %e, "signing the final audit checkpoint over this writer's own records");
            timed_checkpoint(shared, direct, tail).await
        }
    }
}

/// Signs and stores a checkpoint of the committed tail, if it grew since the last one.
async fn timed_checkpoint(
    shared: &Shared,
    direct: &mut Direct,
    tail: &mut Tail,
) -> Result<Option<StoredCheckpoint>, AuditError> {
    if tail.tree.size() == tail.last_checkpoint {
        return Ok(None);
    }
    // A store that lost this tail's last commits (a failover) must not get a signed
    // checkpoint over records it does not hold: the next commit reloads the tail.
    if !tail.matches(shared.store.as_ref()).await? {
        return Err(AuditError::Unavailable(
            "the audit store no longer holds the last committed record: not signing".into(),
        ));
    }
    let cp = sign(shared, &tail.tree);
    append(shared, direct, &[], Some(&cp)).await?;
    tail.checkpointed(cp.size, cp.root);
    tail.last_checkpoint_at = Instant::now();
    shared.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    shared.after_checkpoint(&cp).await;
    Ok(Some(cp))
}
