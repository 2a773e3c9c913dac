-- SMC activation codes (AccessTokens) and the source servers registered with them.
-- (Numbered 10 to leave room for the PostgreSQL-only use-case function migrations.)
-- Codes are stored only as their SHA-256 hash. Registrations outlive their code.
CREATE TABLE activation_codes (
    id                  TEXT    PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    name                TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    code_hash           BYTEA   NOT NULL,
    use_limit           INTEGER NOT NULL CHECK (use_limit BETWEEN 1 AND 1000),
    registered_count    INTEGER NOT NULL CHECK (registered_count BETWEEN 0 AND use_limit),
    time_to_live_days   INTEGER NOT NULL,
    disabled            BOOLEAN NOT NULL,
    created_at          BIGINT  NOT NULL,
    expires_at          BIGINT  NOT NULL
);
CREATE INDEX activation_codes_by_account ON activation_codes (account_id, created_at);

CREATE TABLE source_servers (
    id                  TEXT    PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    activation_code_id  TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    hostname            TEXT    NOT NULL,
    operating_system    TEXT    NOT NULL,
    fingerprint         TEXT    NOT NULL,
    source_address      TEXT    NOT NULL,
    registered_at       BIGINT  NOT NULL,
    CONSTRAINT source_servers_fingerprint_is_unique UNIQUE (activation_code_id, fingerprint)
);
CREATE INDEX source_servers_by_account ON source_servers (account_id, registered_at);
