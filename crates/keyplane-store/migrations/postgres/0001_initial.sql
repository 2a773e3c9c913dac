-- Keyplane schema, version 1, PostgreSQL. Times are Unix nanoseconds (UTC), as in SQLite.
CREATE TABLE accounts (
    id          BIGINT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    uin         BIGINT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    name        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT users_name_is_unique UNIQUE (account_id, name)
);

CREATE TABLE access_keys (
    id                  TEXT    PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    owner_uin           BIGINT  NOT NULL REFERENCES users (uin),
    family              TEXT    NOT NULL CHECK (family IN ('tencent', 'aliyun')),
    status              TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
    description         TEXT,
    secret_key_version  BIGINT  NOT NULL,
    secret_ciphertext   BYTEA   NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX access_keys_by_owner ON access_keys (owner_uin, family);

CREATE TABLE key_usage (
    key_id          TEXT    PRIMARY KEY,
    used_at         BIGINT  NOT NULL,
    product         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    source_address  TEXT    NOT NULL
);

CREATE TABLE api_keys (
    id                  TEXT    PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    key_type            TEXT    NOT NULL CHECK (key_type IN ('auto', 'manual')),
    secret_name         TEXT    NOT NULL,
    enabled             BOOLEAN NOT NULL,
    tags                TEXT    NOT NULL,
    secret_key_version  BIGINT  NOT NULL,
    secret_ciphertext   BYTEA   NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

CREATE TABLE audit_events (
    sequence        BIGSERIAL PRIMARY KEY,
    time            BIGINT  NOT NULL,
    request_id      TEXT    NOT NULL,
    account_id      BIGINT,
    principal_uin   BIGINT,
    key_id          TEXT,
    product         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target          TEXT,
    outcome         TEXT    NOT NULL,
    source_address  TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL
);

CREATE FUNCTION audit_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;

CREATE TRIGGER audit_events_are_not_changed BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_are_append_only();
