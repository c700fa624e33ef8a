-- Audit ledger: records (with copies of a few header fields for search), signed
-- checkpoints, wrapped per-subject data keys and ledger settings. The store keeps bytes;
-- the ledger computes every hash. Times are unix microseconds. Index columns hold the
-- empty string when a field is absent. Text uses the "C" collation, as in 0001.

CREATE TABLE audit_records (
    seq        BIGINT           NOT NULL PRIMARY KEY CHECK (seq >= 0),
    time_us    BIGINT           NOT NULL,
    plane      TEXT COLLATE "C" NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    actor      TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    model      TEXT COLLATE "C" NOT NULL,
    decision   TEXT COLLATE "C" NOT NULL,
    subject    TEXT COLLATE "C" NOT NULL,
    header     BYTEA            NOT NULL,
    content    BYTEA,
    leaf_hash  BYTEA            NOT NULL
);

-- Search is newest first (ORDER BY seq DESC), so equality filters carry seq.
CREATE INDEX audit_records_time_us ON audit_records (time_us);
CREATE INDEX audit_records_request_id ON audit_records (request_id);
CREATE INDEX audit_records_actor ON audit_records (actor, seq);
CREATE INDEX audit_records_user_id ON audit_records (user_id, seq);
-- Model and subject filters scan backwards from the newest record instead: every index
-- is paid for on each of the ledger's appends, and these two are the least selective
-- (few models) or rarely used (a subject's records, for access requests).

CREATE TABLE audit_checkpoints (
    size       BIGINT NOT NULL PRIMARY KEY CHECK (size >= 0),
    root       BYTEA  NOT NULL,
    note       TEXT   NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE TABLE audit_subject_keys (
    subject       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    key_id        TEXT COLLATE "C" NOT NULL,
    master_key_id TEXT COLLATE "C" NOT NULL,
    wrapped       BYTEA            NOT NULL,
    created_us    BIGINT           NOT NULL
);

CREATE TABLE audit_meta (
    name  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value BYTEA            NOT NULL
);
