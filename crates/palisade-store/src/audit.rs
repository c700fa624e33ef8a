//! [`AuditStore`] on SQL: the audit ledger's records, checkpoints, wrapped subject keys
//! and settings in the tables of `migrations/{sqlite,postgres}/0002_audit.sql`, written
//! once for both backends, plus the row decoding and integer conversions they share.
//!
//! [`SqlAuditStore`] is generic over the sqlx driver exactly like
//! [`SqlIdentityStore`](crate::identity::SqlIdentityStore) (see `identity.rs` for why
//! generics and why one SQL text serves both backends); `sqlite::SqliteAuditStore` and
//! `postgres::PgAuditStore` are this type with the driver filled in. What differs per
//! backend is the small [`AuditBackend`] trait, implemented in `sqlite/audit.rs` and
//! `postgres/audit.rs`: the bulk insert of an append (the hot path, written for speed on
//! each), how to overwrite a wrapped key in place, and how to scrub the files afterwards.
//!
//! The store holds two pools: reads go to `read`, writes to `write`. On PostgreSQL they
//! are the same pool; on SQLite `write` is a single connection opened with the audit
//! durability setting (see `sqlite::audit_writer`).
//!
//! Search goes through `audit_search`, the searchable columns of a prefix of the log
//! (records 0..k, no gaps) under the indexes; `audit_records` itself has none, so an
//! append writes one table's pages. A search reads the prefix through the indexes and
//! walks the records past k directly. Every append through the pools indexes its records
//! in the same transaction ([`AuditBackend::insert_records`]); SQLite's direct writer
//! (`sqlite/writer.rs`) defers that to moments when the ledger writer is idle.
//!
//! The store keeps bytes and never computes hashes. Nothing here logs record contents,
//! keys or setting values: errors name sequence numbers at most.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use palisade_audit::merkle::Hash;
use palisade_audit::record::{IndexFields, StoredRecord};
use palisade_audit::store::{
    AuditStore, AuditStoreError, DirectAppend, IndexDivergence, Query, StoredCheckpoint,
    StoredHeader, TailLease, WrappedKey,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use crate::driver::Driver;
use crate::error;

/// The most records one [`Query`] returns; smaller limits are honoured, 0 means 1.
pub const MAX_SEARCH_LIMIT: u32 = 1000;

/// What the two backends do differently; everything else is shared SQL.
#[async_trait]
pub(crate) trait AuditBackend: Driver {
    /// An SQL expression for as many zero bytes as the `wrapped` column holds.
    const ZEROED_WRAPPED: &'static str;
    /// What makes a comparison of two text columns bytewise (PostgreSQL needs it said
    /// when the columns' collations differ).
    const BYTEWISE: &'static str;

    /// Inserts a non-empty batch of records through `conn`, inside the caller's
    /// transaction, and their searchable columns into `audit_search` (keeping it a
    /// prefix of the log); `seqs` are their sequence numbers as stored.
    async fn insert_records(
        conn: &mut Self::Connection,
        records: &[StoredRecord],
        seqs: &[i64],
    ) -> Result<(), sqlx::Error>;

    /// Appends a batch (and its checkpoint) in one round trip to the database when the
    /// backend can; `None` when it cannot, and the shared transaction of
    /// [`AuditStore::append`] is used. On success the batch is committed with the pool's
    /// durability; on failure nothing of it is.
    async fn append_at_once(
        _pool: &Pool<Self>,
        _records: &[StoredRecord],
        _seqs: &[i64],
        _checkpoint: Option<&StoredCheckpoint>,
    ) -> Option<Result<(), AuditStoreError>> {
        None
    }

    /// After a subject key was overwritten and deleted (or re-wrapped): makes sure no copy
    /// of the old bytes stays in the database files. Best effort: failures are logged, not
    /// returned.
    async fn scrub_deleted(pool: &Pool<Self>);

    /// Takes the lock that serialises appends from several writers (processes) sharing
    /// the database; the returned guard holds it. `None`: nothing to hold.
    async fn lock_tail(_pool: &Pool<Self>) -> Result<Option<Box<dyn Any + Send>>, sqlx::Error> {
        Ok(None)
    }
}

/// The audit ledger's tables in a SQL database reached through the sqlx driver `DB`.
/// Cloning shares the pools.
#[derive(Debug)]
pub struct SqlAuditStore<DB: Database> {
    read: Pool<DB>,
    write: Pool<DB>,
    /// Where a backend has a faster way than `read` to walk the log in order.
    pages: Option<Arc<dyn RecordPages>>,
    /// Where a backend has a faster way than `write` for the ledger writer to append.
    direct: Option<Arc<dyn DirectWriters>>,
}

/// Opens connections for the ledger writer to append through directly (see
/// [`DirectAppend`] and `sqlite::writer`).
pub(crate) trait DirectWriters: std::fmt::Debug + Send + Sync {
    fn open(&self) -> Result<Box<dyn DirectAppend>, AuditStoreError>;
}

/// Reads the log in order, page by page, the way `verify` walks all of it: a backend may
/// bypass its pool for this one query when the pool's per-row cost dominates (see
/// `sqlite::pages`).
#[async_trait]
pub(crate) trait RecordPages: std::fmt::Debug + Send + Sync {
    /// Up to `limit` records with `seq >= from`, in `seq` order.
    async fn records(&self, from: u64, limit: u32) -> Result<Vec<StoredRecord>, AuditStoreError>;
}

impl<DB: Database> SqlAuditStore<DB> {
    /// Reads and writes through one pool whose database has been migrated.
    pub fn new(pool: Pool<DB>) -> Self {
        Self::with_pools(pool.clone(), pool)
    }

    /// Reads through `read` and writes through `write`: two pools on the same migrated
    /// database (on SQLite, `write` is where the audit durability setting applies).
    pub fn with_pools(read: Pool<DB>, write: Pool<DB>) -> Self {
        Self {
            read,
            write,
            pages: None,
            direct: None,
        }
    }

    /// Reads whole pages of records (`AuditStore::records`) through `pages`.
    pub(crate) fn with_record_pages(mut self, pages: Arc<dyn RecordPages>) -> Self {
        self.pages = Some(pages);
        self
    }

    /// Offers the ledger writer connections from `direct` (`AuditStore::direct_appender`).
    pub(crate) fn with_direct_writers(mut self, direct: Arc<dyn DirectWriters>) -> Self {
        self.direct = Some(direct);
        self
    }
}

// Not derived: a derive would require `DB: Clone`, which the driver markers are not.
impl<DB: Database> Clone for SqlAuditStore<DB> {
    fn clone(&self) -> Self {
        Self {
            read: self.read.clone(),
            write: self.write.clone(),
            pages: self.pages.clone(),
            direct: self.direct.clone(),
        }
    }
}

/// The columns of `audit_records`, in the order [`AuditRow::record`] and the inserts use.
pub(crate) const RECORD_COLUMNS: &str = "seq, time_us, plane, request_id, actor, user_id, \
     model, decision, subject, header, content, leaf_hash";
pub(crate) const CHECKPOINT_COLUMNS: &str = "size, root, note, created_us";
/// Rows that can be a checkpoint at all (a 32-byte root; the schema keeps sizes from
/// going negative): the writer's walk down to the log's largest checkpoint passes over
/// any other row (anyone with write access could add one) instead of failing on it;
/// `checkpoints` (for `audit verify`) reads every row and reports one that is malformed.
const CHECKPOINT_SHAPED: &str = "length(root) = 32";
/// The columns of `audit_search`, which are also columns of `audit_records`.
/// Records whose content one purge statement may drop.
const PURGE_WINDOW: i64 = 50_000;

pub(crate) const SEARCH_COLUMNS: &str = "seq, time_us, request_id, actor, user_id";

/// Stores a checkpoint (size, root, note, created_us as `$1`..`$4`) unless a row of its
/// size exists (see [`AuditStore::add_checkpoint`]); sqlx on both backends and the SQLite
/// direct writer run this text.
pub(crate) fn insert_checkpoint_sql() -> String {
    format!(
        "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4) \
         {CHECKPOINT_CONFLICT}"
    )
}

/// What storing a checkpoint does to a row of its size: nothing (the writer then checks
/// the row: `AuditStore::replace_checkpoint`).
pub(crate) const CHECKPOINT_CONFLICT: &str = "ON CONFLICT (size) DO NOTHING";

/// Copies the searchable columns of the records past `audit_search`'s prefix into it, in
/// order, at most `limit` of them (all when `None`). Both backends run this text.
pub(crate) fn search_catch_up(limit: Option<u32>) -> String {
    let limit = limit.map_or_else(String::new, |n| format!(" LIMIT {n}"));
    format!(
        "INSERT INTO audit_search ({SEARCH_COLUMNS}) SELECT {SEARCH_COLUMNS} FROM audit_records \
         WHERE seq > (SELECT COALESCE(MAX(seq), -1) FROM audit_search) ORDER BY seq{limit} \
         ON CONFLICT (seq) DO NOTHING"
    )
}
/// The lowest sequence number whose `audit_search` row differs from its record or has
/// no record; -1 when there is none. `{collate}` makes the text comparisons bytewise.
const SEARCH_ROW_DIFFERS: &str = "SELECT COALESCE(MIN(s.seq), -1) AS seq FROM audit_search s \
     LEFT JOIN audit_records r ON r.seq = s.seq \
     WHERE r.seq IS NULL OR r.time_us <> s.time_us OR r.request_id <> s.request_id{collate} \
     OR r.actor <> s.actor{collate} OR r.user_id <> s.user_id{collate}";
/// The shape of `audit_search`: rows, lowest and highest sequence number (0, 0, -1 when
/// empty). With unique sequence numbers, `n = max + 1` and `min = 0` mean no gap.
const SEARCH_SHAPE: &str = "SELECT COUNT(*) AS n, COALESCE(MIN(seq), 0) AS lo, \
     COALESCE(MAX(seq), -1) AS hi FROM audit_search";
/// The first sequence number missing from `audit_search` below its highest.
const SEARCH_FIRST_GAP: &str = "SELECT COALESCE(MIN(g.seq), -1) AS seq FROM (\
     SELECT 0 AS seq WHERE NOT EXISTS (SELECT 1 FROM audit_search WHERE seq = 0) \
     UNION ALL SELECT s.seq + 1 FROM audit_search s \
     WHERE s.seq < (SELECT MAX(seq) FROM audit_search) \
     AND NOT EXISTS (SELECT 1 FROM audit_search n WHERE n.seq = s.seq + 1)) g";

const KEY_COLUMNS: &str = "subject, key_id, master_key_id, wrapped, created_us";

/// A `u64` (sequence number, size) as the `BIGINT` it is stored as.
pub(crate) fn to_db(value: u64, what: &str) -> Result<i64, AuditStoreError> {
    i64::try_from(value)
        .map_err(|_| AuditStoreError::Backend(format!("{what} {value} does not fit a BIGINT")))
}

/// A stored `BIGINT` as the `u64` it stands for.
pub(crate) fn from_db(value: i64, what: &str) -> Result<u64, AuditStoreError> {
    u64::try_from(value)
        .map_err(|_| AuditStoreError::Backend(format!("stored {what} {value} is negative")))
}

/// The sequence numbers of a batch as stored.
pub(crate) fn seqs(records: &[StoredRecord]) -> Result<Vec<i64>, AuditStoreError> {
    records
        .iter()
        .map(|r| to_db(r.seq, "sequence number"))
        .collect()
}

/// Names a batch in a `Conflict` error.
pub(crate) fn batch_name(records: &[StoredRecord]) -> String {
    match (records.first(), records.last()) {
        (Some(first), Some(last)) if first.seq != last.seq => {
            format!("a record in seq {}..={}", first.seq, last.seq)
        }
        (Some(first), _) => format!("record {}", first.seq),
        _ => "checkpoint".into(),
    }
}

/// A stored 32-byte hash; `what` names it in the error (built only on failure: this runs
/// for every row `verify` reads).
fn hash(bytes: Vec<u8>, what: impl FnOnce() -> String) -> Result<Hash, AuditStoreError> {
    Hash::try_from(bytes.as_slice()).map_err(|_| {
        AuditStoreError::Backend(format!(
            "stored {} is {} bytes, not 32",
            what(),
            bytes.len()
        ))
    })
}

/// A row of `audit_records` as decoded by any driver, checked into a [`StoredRecord`].
pub(crate) fn stored_record(
    seq: i64,
    index: IndexFields,
    header: Vec<u8>,
    content: Option<Vec<u8>>,
    leaf_hash: Vec<u8>,
) -> Result<StoredRecord, AuditStoreError> {
    let seq = from_db(seq, "sequence number")?;
    Ok(StoredRecord {
        seq,
        index,
        header,
        content,
        leaf_hash: hash(leaf_hash, || format!("leaf hash of record {seq}"))?,
    })
}

/// A search [`Query`] as SQL conditions (each starting with ` AND `) on numbered
/// parameters, their values and the clamped limit. Conditions name the record's table
/// `r`; the columns `audit_search` also has are written `{s}.` so that a search can read
/// them from either table ([`Filter::sql`]).
#[derive(Debug, PartialEq)]
struct Filter<'q> {
    sql: String,
    params: Vec<Param<'q>>,
    limit: u32,
    /// Whether a condition is on a column `audit_search` indexes.
    indexed: bool,
}

#[derive(Debug, PartialEq)]
enum Param<'q> {
    Int(i64),
    Text(&'q str),
}

impl<'q> Filter<'q> {
    fn of(query: &'q Query) -> Result<Filter<'q>, AuditStoreError> {
        let mut filter = Filter {
            sql: String::new(),
            params: Vec::new(),
            limit: query.limit.clamp(1, MAX_SEARCH_LIMIT),
            indexed: false,
        };
        if let Some(since) = query.since_us {
            filter.push("{s}.time_us >= {}", Param::Int(since));
        }
        if let Some(until) = query.until_us {
            filter.push("{s}.time_us < {}", Param::Int(until));
        }
        if let Some(actor) = &query.actor {
            filter.push("({s}.actor = {} OR {s}.user_id = {})", Param::Text(actor));
        }
        let equal = [
            ("r.model = {}", &query.model),
            ("r.decision = {}", &query.decision),
            ("{s}.request_id = {}", &query.request_id),
            ("r.plane = {}", &query.plane),
            ("r.subject = {}", &query.subject),
        ];
        for (condition, value) in equal {
            if let Some(value) = value {
                filter.push(condition, Param::Text(value));
            }
        }
        if let Some(before) = query.before_seq {
            filter.push("r.seq < {}", Param::Int(to_db(before, "sequence number")?));
        }
        Ok(filter)
    }

    /// The conditions with the searchable columns read from the table named `table`.
    fn sql(&self, table: &str) -> String {
        self.sql.replace("{s}", table)
    }

    /// Adds a condition whose every `{}` is the next parameter, `value`.
    fn push(&mut self, condition: &str, value: Param<'q>) {
        self.params.push(value);
        self.indexed |= condition.contains("{s}");
        let placeholder = format!("${}", self.params.len());
        self.sql.push_str(" AND ");
        self.sql.push_str(&condition.replace("{}", &placeholder));
    }
}

/// Decodes the rows of the audit tables. Implemented for the rows of every sqlx driver
/// that reads `String`, `i64` and byte columns by name: SQLite's and PostgreSQL's.
pub(crate) trait AuditRow {
    /// A row of `audit_records` ([`RECORD_COLUMNS`]).
    fn record(&self) -> Result<StoredRecord, AuditStoreError>;
    /// A row of `audit_checkpoints`.
    fn checkpoint(&self) -> Result<StoredCheckpoint, AuditStoreError>;
    /// A row of `audit_subject_keys`.
    fn wrapped_key(&self) -> Result<WrappedKey, AuditStoreError>;
    /// An integer column.
    fn int(&self, name: &str) -> Result<i64, AuditStoreError>;
    /// A byte column.
    fn bytes(&self, name: &str) -> Result<Vec<u8>, AuditStoreError>;
}

impl<R> AuditRow for R
where
    R: Row,
    for<'r> &'r str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn record(&self) -> Result<StoredRecord, AuditStoreError> {
        // By position, in the order of RECORD_COLUMNS: `verify` decodes every row of the
        // log, and a lookup by name per column costs more than the column itself.
        let decode = || -> Result<_, sqlx::Error> {
            Ok((
                self.try_get::<i64, _>(0)?,
                IndexFields {
                    time_us: self.try_get(1)?,
                    plane: self.try_get(2)?,
                    request_id: self.try_get(3)?,
                    actor: self.try_get(4)?,
                    user_id: self.try_get(5)?,
                    model: self.try_get(6)?,
                    decision: self.try_get(7)?,
                    subject: self.try_get(8)?,
                },
                self.try_get::<Vec<u8>, _>(9)?,
                self.try_get::<Option<Vec<u8>>, _>(10)?,
                self.try_get::<Vec<u8>, _>(11)?,
            ))
        };
        let (seq, index, header, content, leaf_hash) = decode().map_err(error::audit)?;
        stored_record(seq, index, header, content, leaf_hash)
    }

    fn checkpoint(&self) -> Result<StoredCheckpoint, AuditStoreError> {
        let decode = || -> Result<_, sqlx::Error> {
            Ok((
                self.try_get::<i64, _>("size")?,
                self.try_get::<Vec<u8>, _>("root")?,
                self.try_get::<String, _>("note")?,
                self.try_get::<i64, _>("created_us")?,
            ))
        };
        let (size, root, note, created_us) = decode().map_err(error::audit)?;
        let size = from_db(size, "checkpoint size")?;
        Ok(StoredCheckpoint {
            size,
            root: hash(root, || format!("root of checkpoint {size}"))?,
            note,
            created_us,
        })
    }

    fn wrapped_key(&self) -> Result<WrappedKey, AuditStoreError> {
        let decode = || -> Result<WrappedKey, sqlx::Error> {
            Ok(WrappedKey {
                subject: self.try_get("subject")?,
                key_id: self.try_get("key_id")?,
                master_key_id: self.try_get("master_key_id")?,
                wrapped: self.try_get("wrapped")?,
                created_us: self.try_get("created_us")?,
            })
        };
        decode().map_err(error::audit)
    }

    fn int(&self, name: &str) -> Result<i64, AuditStoreError> {
        self.try_get(name).map_err(error::audit)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, AuditStoreError> {
        self.try_get(name).map_err(error::audit)
    }
}

/// Stores a checkpoint through any executor (the pool or an append's transaction).
async fn insert_checkpoint<'e, DB, E>(
    executor: E,
    checkpoint: &StoredCheckpoint,
) -> Result<(), AuditStoreError>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    let size = to_db(checkpoint.size, "checkpoint size")?;
    sqlx::query(&insert_checkpoint_sql())
        .bind(size)
        .bind(checkpoint.root.as_slice())
        .bind(checkpoint.note.as_str())
        .bind(checkpoint.created_us)
        .execute(executor)
        .await
        .map_err(error::audit)?;
    Ok(())
}

#[async_trait]
impl<DB> AuditStore for SqlAuditStore<DB>
where
    DB: AuditBackend,
    DB::Row: AuditRow,
    // Queries run on the pools and inside transactions.
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    // The Rust types bound as parameters.
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    fn direct_appender(&self) -> Result<Option<Box<dyn DirectAppend>>, AuditStoreError> {
        self.direct.as_ref().map(|d| d.open()).transpose()
    }

    async fn ping(&self) -> Result<(), AuditStoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(error::audit)?;
        Ok(())
    }

    async fn lock_tail(&self) -> Result<TailLease, AuditStoreError> {
        Ok(
            match DB::lock_tail(&self.write).await.map_err(error::audit)? {
                Some(guard) => TailLease::holding(guard),
                None => TailLease::none(),
            },
        )
    }

    async fn append(
        &self,
        records: &[StoredRecord],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), AuditStoreError> {
        if records.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        let seqs = seqs(records)?;
        if let Some(done) = DB::append_at_once(&self.write, records, &seqs, checkpoint).await {
            done?;
            tracing::debug!(
                records = records.len(),
                checkpoint = checkpoint.is_some(),
                "audit append committed"
            );
            return Ok(());
        }
        let mut tx = self.write.begin().await.map_err(error::audit)?;
        if !records.is_empty() {
            DB::insert_records(&mut tx, records, &seqs)
                .await
                .map_err(|e| error::audit_write(e, || batch_name(records)))?;
        }
        if let Some(checkpoint) = checkpoint {
            insert_checkpoint(&mut *tx, checkpoint).await?;
        }
        tx.commit().await.map_err(error::audit)?;
        tracing::debug!(
            records = records.len(),
            checkpoint = checkpoint.is_some(),
            "audit append committed"
        );
        Ok(())
    }

    async fn size(&self) -> Result<u64, AuditStoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq) + 1, 0) AS size FROM audit_records")
            .fetch_one(&self.read)
            .await
            .map_err(error::audit)?;
        from_db(row.int("size")?, "size")
    }

    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditStoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT seq, leaf_hash FROM audit_records WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(to_db(from, "sequence number")?)
        .bind(to_db(to, "sequence number")?)
        .fetch_all(&self.read)
        .await
        .map_err(error::audit)?;
        rows.iter()
            .map(|row| {
                let seq = row.int("seq")?;
                hash(row.bytes("leaf_hash")?, || {
                    format!("leaf hash of record {seq}")
                })
            })
            .collect()
    }

    async fn headers(&self, from: u64, to: u64) -> Result<Vec<StoredHeader>, AuditStoreError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT seq, header, leaf_hash FROM audit_records \
             WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(to_db(from, "sequence number")?)
        .bind(to_db(to, "sequence number")?)
        .fetch_all(&self.read)
        .await
        .map_err(error::audit)?;
        rows.iter()
            .map(|row| {
                let seq = from_db(row.int("seq")?, "sequence number")?;
                Ok(StoredHeader {
                    seq,
                    header: row.bytes("header")?,
                    leaf_hash: hash(row.bytes("leaf_hash")?, || {
                        format!("leaf hash of record {seq}")
                    })?,
                })
            })
            .collect()
    }

    async fn records(&self, from: u64, limit: u32) -> Result<Vec<StoredRecord>, AuditStoreError> {
        if let Some(pages) = &self.pages {
            return pages.records(from, limit).await;
        }
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE seq >= $1 ORDER BY seq LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(to_db(from, "sequence number")?)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(error::audit)?;
        rows.iter().map(AuditRow::record).collect()
    }

    async fn record(&self, seq: u64) -> Result<Option<StoredRecord>, AuditStoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_records WHERE seq = $1");
        let row = sqlx::query(&sql)
            .bind(to_db(seq, "sequence number")?)
            .fetch_optional(&self.read)
            .await
            .map_err(error::audit)?;
        row.as_ref().map(AuditRow::record).transpose()
    }

    /// With a condition on a searchable column: the indexed prefix (`audit_search`
    /// joined to its records) and the records past it, merged newest first. Without one,
    /// a walk back from the newest record.
    async fn search(&self, query: &Query) -> Result<Vec<StoredRecord>, AuditStoreError> {
        let filter = Filter::of(query)?;
        let columns = RECORD_COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if filter.indexed {
            format!(
                "SELECT {columns} FROM audit_search s JOIN audit_records r ON r.seq = s.seq \
                 WHERE TRUE{}{} \
                 UNION ALL SELECT {columns} FROM audit_records r \
                 WHERE r.seq > (SELECT COALESCE(MAX(seq), -1) FROM audit_search){} \
                 ORDER BY seq DESC LIMIT {}",
                filter.sql("s"),
                // Again on the record's own copies, which `verify` checks: an edited
                // index row can hide a record from a search, never pass one off.
                filter.sql("r"),
                filter.sql("r"),
                filter.limit
            )
        } else {
            format!(
                "SELECT {columns} FROM audit_records r WHERE TRUE{} ORDER BY seq DESC LIMIT {}",
                filter.sql("r"),
                filter.limit
            )
        };
        let mut select = sqlx::query(&sql);
        for param in filter.params {
            select = match param {
                Param::Int(value) => select.bind(value),
                Param::Text(value) => select.bind(value),
            };
        }
        let rows = select.fetch_all(&self.read).await.map_err(error::audit)?;
        rows.iter().map(AuditRow::record).collect()
    }

    /// Two scans of `audit_search`: its rows against their records, then (only when the
    /// row count says so) where its first gap is.
    async fn search_index_divergence(&self) -> Result<Option<IndexDivergence>, AuditStoreError> {
        let differs = SEARCH_ROW_DIFFERS.replace("{collate}", DB::BYTEWISE);
        let row = sqlx::query(&differs)
            .fetch_one(&self.read)
            .await
            .map_err(error::audit)?;
        let differs = u64::try_from(row.int("seq")?).ok();
        let shape = sqlx::query(SEARCH_SHAPE)
            .fetch_one(&self.read)
            .await
            .map_err(error::audit)?;
        let (n, lo, hi) = (shape.int("n")?, shape.int("lo")?, shape.int("hi")?);
        let gap = if n == 0 || (lo == 0 && n == hi + 1) {
            None
        } else {
            let row = sqlx::query(SEARCH_FIRST_GAP)
                .fetch_one(&self.read)
                .await
                .map_err(error::audit)?;
            u64::try_from(row.int("seq")?).ok()
        };
        Ok(match (differs, gap) {
            (Some(d), Some(g)) if g < d => Some(IndexDivergence::Gap(g)),
            (Some(d), _) => Some(IndexDivergence::Differs(d)),
            (None, g) => g.map(IndexDivergence::Gap),
        })
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), AuditStoreError> {
        insert_checkpoint(&self.write, checkpoint).await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, AuditStoreError> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY size");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.read)
            .await
            .map_err(error::audit)?;
        rows.iter().map(AuditRow::checkpoint).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, AuditStoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE {CHECKPOINT_SHAPED} \
             ORDER BY size DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .fetch_optional(&self.read)
            .await
            .map_err(error::audit)?;
        row.as_ref().map(AuditRow::checkpoint).transpose()
    }

    async fn replace_checkpoint(
        &self,
        old_note: &str,
        checkpoint: &StoredCheckpoint,
    ) -> Result<bool, AuditStoreError> {
        let done = sqlx::query(
            "UPDATE audit_checkpoints SET root = $2, note = $3, created_us = $4 \
             WHERE size = $1 AND note = $5",
        )
        .bind(to_db(checkpoint.size, "checkpoint size")?)
        .bind(checkpoint.root.as_slice())
        .bind(checkpoint.note.as_str())
        .bind(checkpoint.created_us)
        .bind(old_note)
        .execute(&self.write)
        .await
        .map_err(error::audit)?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn checkpoints_below(
        &self,
        size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, AuditStoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size < $1 \
             AND {CHECKPOINT_SHAPED} ORDER BY size DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(to_db(size, "checkpoint size")?)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(error::audit)?;
        rows.iter().map(AuditRow::checkpoint).collect()
    }

    async fn subject_key(&self, subject: &str) -> Result<Option<WrappedKey>, AuditStoreError> {
        select_key(&self.read, subject).await
    }

    async fn create_subject_key(&self, key: &WrappedKey) -> Result<WrappedKey, AuditStoreError> {
        let sql = format!(
            "INSERT INTO audit_subject_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (subject) DO NOTHING"
        );
        sqlx::query(&sql)
            .bind(key.subject.as_str())
            .bind(key.key_id.as_str())
            .bind(key.master_key_id.as_str())
            .bind(key.wrapped.as_slice())
            .bind(key.created_us)
            .execute(&self.write)
            .await
            .map_err(error::audit)?;
        // Read back through the writer: whichever insert won is committed by now.
        select_key(&self.write, &key.subject).await?.ok_or_else(|| {
            AuditStoreError::Backend("a subject key was destroyed while being created".into())
        })
    }

    async fn destroy_subject_key(&self, subject: &str) -> Result<bool, AuditStoreError> {
        let mut tx = self.write.begin().await.map_err(error::audit)?;
        // Overwrite in place first, so the row's last version holds zeros whatever the
        // engine does with deleted rows; then delete it.
        let zero = format!(
            "UPDATE audit_subject_keys SET wrapped = {} WHERE subject = $1",
            DB::ZEROED_WRAPPED
        );
        sqlx::query(&zero)
            .bind(subject)
            .execute(&mut *tx)
            .await
            .map_err(error::audit)?;
        let done = sqlx::query("DELETE FROM audit_subject_keys WHERE subject = $1")
            .bind(subject)
            .execute(&mut *tx)
            .await
            .map_err(error::audit)?;
        tx.commit().await.map_err(error::audit)?;
        let existed = DB::rows_affected(&done) > 0;
        if existed {
            DB::scrub_deleted(&self.write).await;
            tracing::info!("subject key destroyed");
        }
        Ok(existed)
    }

    async fn wrapped_keys(&self) -> Result<Vec<WrappedKey>, AuditStoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM audit_subject_keys ORDER BY subject");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.read)
            .await
            .map_err(error::audit)?;
        rows.iter().map(AuditRow::wrapped_key).collect()
    }

    async fn scrub_replaced_keys(&self) {
        DB::scrub_deleted(&self.write).await;
    }

    async fn rewrap_subject_key(&self, key: &WrappedKey) -> Result<(), AuditStoreError> {
        // Matching the data key id too: a key destroyed or replaced meanwhile stays so.
        let done = sqlx::query(
            "UPDATE audit_subject_keys SET master_key_id = $3, wrapped = $4 \
             WHERE subject = $1 AND key_id = $2",
        )
        .bind(key.subject.as_str())
        .bind(key.key_id.as_str())
        .bind(key.master_key_id.as_str())
        .bind(key.wrapped.as_slice())
        .execute(&self.write)
        .await
        .map_err(error::audit)?;
        if DB::rows_affected(&done) == 0 {
            tracing::debug!(key_id = %key.key_id, "rewrap matched no subject key");
        }
        Ok(())
    }

    async fn purge_content(&self, before_us: i64, through: u64) -> Result<u64, AuditStoreError> {
        // Up to the newest record older than the cutoff (found through the search table's
        // time index) and never past `through`, a window of sequence numbers per
        // statement: each is a short range scan of the primary key, never one statement
        // over the whole log (which a large log's statement timeout would end, every
        // day). A record committed late with an older start time goes the next day.
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq) + 1, 0) AS end_seq FROM audit_search WHERE time_us < $1",
        )
        .bind(before_us)
        .fetch_one(&self.read)
        .await
        .map_err(error::audit)?;
        let end = row
            .int("end_seq")?
            .min(i64::try_from(through).unwrap_or(i64::MAX));
        let mut purged = 0;
        let mut from = 0;
        while from < end {
            let to = end.min(from.saturating_add(PURGE_WINDOW));
            let done = sqlx::query(
                "UPDATE audit_records SET content = NULL \
                 WHERE seq >= $1 AND seq < $2 AND time_us < $3 AND content IS NOT NULL",
            )
            .bind(from)
            .bind(to)
            .bind(before_us)
            .execute(&self.write)
            .await
            .map_err(error::audit)?;
            purged += DB::rows_affected(&done);
            from = to;
        }
        tracing::info!(purged, before_us, "audit record content purged");
        Ok(purged)
    }

    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, AuditStoreError> {
        select_meta(&self.read, name).await
    }

    async fn set_meta(
        &self,
        name: &str,
        value: &[u8],
        only_if_absent: bool,
    ) -> Result<Vec<u8>, AuditStoreError> {
        let sql = if only_if_absent {
            "INSERT INTO audit_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        } else {
            "INSERT INTO audit_meta (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        };
        sqlx::query(sql)
            .bind(name)
            .bind(value)
            .execute(&self.write)
            .await
            .map_err(error::audit)?;
        if !only_if_absent {
            return Ok(value.to_vec());
        }
        select_meta(&self.write, name)
            .await?
            .ok_or_else(|| AuditStoreError::Backend(format!("setting {name} vanished")))
    }
}

async fn select_key<DB>(
    pool: &Pool<DB>,
    subject: &str,
) -> Result<Option<WrappedKey>, AuditStoreError>
where
    DB: Database,
    DB::Row: AuditRow,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let sql = format!("SELECT {KEY_COLUMNS} FROM audit_subject_keys WHERE subject = $1");
    let row = sqlx::query(&sql)
        .bind(subject)
        .fetch_optional(pool)
        .await
        .map_err(error::audit)?;
    row.as_ref().map(AuditRow::wrapped_key).transpose()
}

async fn select_meta<DB>(pool: &Pool<DB>, name: &str) -> Result<Option<Vec<u8>>, AuditStoreError>
where
    DB: Database,
    DB::Row: AuditRow,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let row = sqlx::query("SELECT value FROM audit_meta WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(error::audit)?;
    row.as_ref().map(|row| row.bytes("value")).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> StoredRecord {
        StoredRecord {
            seq,
            index: IndexFields::default(),
            header: Vec::new(),
            content: None,
            leaf_hash: [0; 32],
        }
    }

    #[test]
    fn integers_round_trip_and_refuse_overflow() {
        assert_eq!(to_db(7, "x").unwrap(), 7);
        assert_eq!(from_db(7, "x").unwrap(), 7);
        assert!(matches!(
            to_db(u64::MAX, "x"),
            Err(AuditStoreError::Backend(_))
        ));
        assert!(matches!(from_db(-1, "x"), Err(AuditStoreError::Backend(_))));
    }

    #[test]
    fn hashes_must_be_32_bytes() {
        assert_eq!(hash(vec![1; 32], || "h".into()).unwrap(), [1; 32]);
        assert!(matches!(
            hash(vec![1; 31], || "h".into()),
            Err(AuditStoreError::Backend(_))
        ));
    }

    #[test]
    fn search_filters_use_numbered_parameters() {
        let query = Query {
            since_us: Some(10),
            actor: Some("k1".into()),
            subject: Some("s".into()),
            before_seq: Some(99),
            limit: 5000,
            ..Query::default()
        };
        let filter = Filter::of(&query).unwrap();
        assert_eq!(
            filter.sql("s"),
            " AND s.time_us >= $1 AND (s.actor = $2 OR s.user_id = $2) AND r.subject = $3 \
             AND r.seq < $4"
        );
        assert!(filter.indexed);
        assert_eq!(
            filter.params,
            [
                Param::Int(10),
                Param::Text("k1"),
                Param::Text("s"),
                Param::Int(99)
            ]
        );
        assert_eq!(filter.limit, MAX_SEARCH_LIMIT);
        assert_eq!(Filter::of(&Query::default()).unwrap().limit, 1);
        let unindexed = Query {
            model: Some("m".into()),
            ..Query::default()
        };
        assert!(!Filter::of(&unindexed).unwrap().indexed);
    }

    #[test]
    fn names_batches() {
        assert_eq!(batch_name(&[record(3)]), "record 3");
        assert_eq!(
            batch_name(&[record(3), record(4), record(5)]),
            "a record in seq 3..=5"
        );
    }
}
