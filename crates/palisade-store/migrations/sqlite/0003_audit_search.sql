-- The search index of the audit log moves out of `audit_records` into its own table.
-- Every index on `audit_records` cost a page write on each of the ledger's commits (four
-- indexes: five pages per single-record commit instead of one), and with strict
-- durability a request waits for its commit. `audit_search` holds the searchable
-- columns of a prefix of the log (records 0..k, no gaps); the audit writer catches it up
-- in bulk when it is idle, and a search covers the records past k by walking them from
-- `audit_records` directly (see `palisade-store/src/audit.rs`).

CREATE TABLE audit_search (
    seq        INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 0),
    time_us    INTEGER NOT NULL,
    request_id TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    user_id    TEXT    NOT NULL
) STRICT;

INSERT INTO audit_search (seq, time_us, request_id, actor, user_id)
    SELECT seq, time_us, request_id, actor, user_id FROM audit_records ORDER BY seq;

-- Search is newest first (ORDER BY seq DESC), so equality filters carry seq.
CREATE INDEX audit_search_time_us ON audit_search (time_us);
CREATE INDEX audit_search_request_id ON audit_search (request_id);
CREATE INDEX audit_search_actor ON audit_search (actor, seq);
CREATE INDEX audit_search_user_id ON audit_search (user_id, seq);

DROP INDEX audit_records_time_us;
DROP INDEX audit_records_request_id;
DROP INDEX audit_records_actor;
DROP INDEX audit_records_user_id;
