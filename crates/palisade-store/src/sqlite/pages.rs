//! Whole pages of audit records read straight from the SQLite file, for `verify`'s walk
//! over the entire log. sqlx runs each SQLite connection on a worker thread and hands
//! every row over a channel with a copy of each of its twelve values, which costs more
//! than reading the row; verifying a million records spent most of its time there. This
//! reader opens its own connections to the same file with `rusqlite` (the same linked
//! SQLite library) on blocking threads and decodes each row once. Beside a running
//! ledger, connections are read-write only so that they can join the WAL's shared memory,
//! and run with `query_only`: nothing here can change the database. For a store opened
//! read-only ([`FilePages::read_only`]) they are opened read-only too: a read-write
//! connection that is the file's last would checkpoint the WAL into it on close.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use palisade_audit::record::{IndexFields, StoredRecord};
use palisade_audit::store::AuditStoreError;
use rusqlite::{Connection, OpenFlags};

use crate::audit::{RECORD_COLUMNS, RecordPages, stored_record, to_db};

/// Idle connections kept for the next page (`verify` fetches a few pages ahead).
const KEEP_IDLE: usize = 4;

/// Reads pages of `audit_records` from the database file at `path`. Cloning shares the
/// idle connections.
#[derive(Debug, Clone)]
pub(crate) struct FilePages(Arc<Files>);

#[derive(Debug)]
struct Files {
    path: PathBuf,
    busy_timeout: Duration,
    flags: OpenFlags,
    idle: Mutex<Vec<Connection>>,
}

impl FilePages {
    pub(crate) fn new(path: &Path, busy_timeout: Duration) -> FilePages {
        FilePages::with_flags(path, busy_timeout, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Pages of a database opened to be read only: connections opened read-only.
    pub(crate) fn read_only(path: &Path, busy_timeout: Duration) -> FilePages {
        FilePages::with_flags(path, busy_timeout, OpenFlags::SQLITE_OPEN_READ_ONLY)
    }

    fn with_flags(path: &Path, busy_timeout: Duration, mode: OpenFlags) -> FilePages {
        FilePages(Arc::new(Files {
            path: path.to_path_buf(),
            busy_timeout,
            flags: mode | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            idle: Mutex::new(Vec::new()),
        }))
    }

    fn connection(&self) -> rusqlite::Result<Connection> {
        if let Some(conn) = self.0.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(&self.0.path, self.0.flags)?;
        conn.busy_timeout(self.0.busy_timeout)?;
        conn.pragma_update(None, "query_only", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.0.idle.lock()
            && idle.len() < KEEP_IDLE
        {
            idle.push(conn);
        }
    }

    fn read(&self, from: i64, limit: u32) -> Result<Vec<StoredRecord>, AuditStoreError> {
        let conn = self.connection().map_err(backend)?;
        let page = read_page(&conn, from, limit);
        self.give_back(conn);
        page
    }
}

fn read_page(
    conn: &Connection,
    from: i64,
    limit: u32,
) -> Result<Vec<StoredRecord>, AuditStoreError> {
    let mut select = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(backend)?;
    let mut rows = select.query((from, i64::from(limit))).map_err(backend)?;
    let mut page = Vec::with_capacity(limit as usize);
    while let Some(row) = rows.next().map_err(backend)? {
        // By position, in the order of RECORD_COLUMNS.
        let decode = || -> rusqlite::Result<_> {
            Ok((
                row.get::<_, i64>(0)?,
                IndexFields {
                    time_us: row.get(1)?,
                    plane: row.get(2)?,
                    request_id: row.get(3)?,
                    actor: row.get(4)?,
                    user_id: row.get(5)?,
                    model: row.get(6)?,
                    decision: row.get(7)?,
                    subject: row.get(8)?,
                },
                row.get::<_, Vec<u8>>(9)?,
                row.get::<_, Option<Vec<u8>>>(10)?,
                row.get::<_, Vec<u8>>(11)?,
            ))
        };
        let (seq, index, header, content, leaf_hash) = decode().map_err(backend)?;
        page.push(stored_record(seq, index, header, content, leaf_hash)?);
    }
    Ok(page)
}

/// Messages name no values: rusqlite errors carry SQL and column types at most.
fn backend(err: rusqlite::Error) -> AuditStoreError {
    AuditStoreError::Backend(format!("reading audit records: {err}"))
}

#[async_trait]
impl RecordPages for FilePages {
    async fn records(&self, from: u64, limit: u32) -> Result<Vec<StoredRecord>, AuditStoreError> {
        let from = to_db(from, "sequence number")?;
        let pages = self.clone();
        tokio::task::spawn_blocking(move || pages.read(from, limit))
            .await
            .map_err(|e| AuditStoreError::Backend(format!("reading audit records: {e}")))?
    }
}
