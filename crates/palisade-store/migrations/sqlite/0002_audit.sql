-- Audit ledger: records (with copies of a few header fields for search), signed
-- checkpoints, wrapped per-subject data keys and ledger settings. The store keeps bytes;
-- the ledger computes every hash. Times are unix microseconds. Index columns hold the
-- empty string when a field is absent.

CREATE TABLE audit_records (
    seq        INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 0),
    time_us    INTEGER NOT NULL,
    plane      TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    decision   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    header     BLOB    NOT NULL,
    content    BLOB,
    leaf_hash  BLOB    NOT NULL
) STRICT;

-- Search is newest first (ORDER BY seq DESC), so equality filters carry seq.
CREATE INDEX audit_records_time_us ON audit_records (time_us);
CREATE INDEX audit_records_request_id ON audit_records (request_id);
CREATE INDEX audit_records_actor ON audit_records (actor, seq);
CREATE INDEX audit_records_user_id ON audit_records (user_id, seq);
-- Model and subject filters scan backwards from the newest record instead: every index
-- is paid for on each of the ledger's appends, and these two are the least selective
-- (few models) or rarely used (a subject's records, for access requests).

CREATE TABLE audit_checkpoints (
    size       INTEGER NOT NULL PRIMARY KEY CHECK (size >= 0),
    root       BLOB    NOT NULL,
    note       TEXT    NOT NULL,
    created_us INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_subject_keys (
    subject       TEXT    NOT NULL PRIMARY KEY,
    key_id        TEXT    NOT NULL,
    master_key_id TEXT    NOT NULL,
    wrapped       BLOB    NOT NULL,
    created_us    INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_meta (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
