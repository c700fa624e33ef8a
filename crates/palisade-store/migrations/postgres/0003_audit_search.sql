-- The search index of the audit log moves out of `audit_records` into its own table,
-- as on SQLite (where index pages dominate the cost of a commit; see
-- migrations/sqlite/0003_audit_search.sql). `audit_search` holds the searchable columns
-- of a prefix of the log (records 0..k, no gaps). On PostgreSQL every append catches it
-- up in the same transaction, so the prefix is the whole log; the shared search SQL
-- still covers records past k.

CREATE TABLE audit_search (
    seq        BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 0),
    time_us    BIGINT NOT NULL,
    request_id TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    user_id    TEXT   NOT NULL
);

INSERT INTO audit_search (seq, time_us, request_id, actor, user_id)
    SELECT seq, time_us, request_id, actor, user_id FROM audit_records ORDER BY seq;

CREATE INDEX audit_search_time_us ON audit_search (time_us);
CREATE INDEX audit_search_request_id ON audit_search (request_id);
CREATE INDEX audit_search_actor ON audit_search (actor, seq);
CREATE INDEX audit_search_user_id ON audit_search (user_id, seq);

DROP INDEX audit_records_time_us;
DROP INDEX audit_records_request_id;
DROP INDEX audit_records_actor;
DROP INDEX audit_records_user_id;
