-- Identity: groups, users and their memberships, data-plane API keys, admin tokens.
-- Timestamps are unix seconds. Secrets are stored only as hashes.

CREATE TABLE groups (
    name       TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

CREATE TABLE user_groups (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_name)
) STRICT;

CREATE INDEX user_groups_group_name ON user_groups (group_name);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    name         TEXT,
    secret_hash  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX api_keys_user_id ON api_keys (user_id);

CREATE TABLE admin_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    secret_hash TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
