-- Identity: groups, users and their memberships, data-plane API keys, admin tokens.
-- Timestamps are unix seconds. Secrets are stored only as hashes.
-- Identifiers and names use the "C" collation so that ordering is bytewise, as in SQLite,
-- whatever the database's default locale.

CREATE TABLE groups (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created_at BIGINT           NOT NULL
);

CREATE TABLE users (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT           NOT NULL,
    disabled   BOOLEAN          NOT NULL DEFAULT FALSE
);

CREATE TABLE user_groups (
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name TEXT COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_name)
);

CREATE INDEX user_groups_group_name ON user_groups (group_name);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name         TEXT,
    secret_hash  TEXT             NOT NULL,
    created_at   BIGINT           NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE INDEX api_keys_user_id ON api_keys (user_id);

CREATE TABLE admin_tokens (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT,
    role        TEXT             NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
    secret_hash TEXT             NOT NULL,
    created_at  BIGINT           NOT NULL,
    revoked_at  BIGINT
);
