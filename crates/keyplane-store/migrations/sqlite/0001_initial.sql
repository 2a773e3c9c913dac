-- Keyplane schema, version 1. Times are Unix nanoseconds (UTC).
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    uin         INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE access_keys (
    id                  TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    owner_uin           INTEGER NOT NULL REFERENCES users (uin),
    family              TEXT    NOT NULL CHECK (family IN ('tencent', 'aliyun')),
    status              TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
    description         TEXT,
    secret_key_version  INTEGER NOT NULL,
    secret_ciphertext   BLOB    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX access_keys_by_owner ON access_keys (owner_uin, family);

CREATE TABLE key_usage (
    key_id          TEXT    PRIMARY KEY,
    used_at         INTEGER NOT NULL,
    product         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    source_address  TEXT    NOT NULL
);

CREATE TABLE api_keys (
    id                  TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    key_type            TEXT    NOT NULL CHECK (key_type IN ('auto', 'manual')),
    secret_name         TEXT    NOT NULL,
    enabled             INTEGER NOT NULL,
    tags                TEXT    NOT NULL,
    secret_key_version  INTEGER NOT NULL,
    secret_ciphertext   BLOB    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

CREATE TABLE audit_events (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    time            INTEGER NOT NULL,
    request_id      TEXT    NOT NULL,
    account_id      INTEGER,
    principal_uin   INTEGER,
    key_id          TEXT,
    product         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target          TEXT,
    outcome         TEXT    NOT NULL,
    source_address  TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL
);

CREATE TRIGGER audit_events_are_not_updated BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_are_not_deleted BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
