-- SMC activation codes (AccessTokens) and the source servers registered with them.
-- Codes are stored only as their SHA-256 hash. Registrations outlive their code.
CREATE TABLE activation_codes (
    id                  TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    name                TEXT    NOT NULL,
    description         TEXT    NOT NULL,
    code_hash           BLOB    NOT NULL,
    use_limit           INTEGER NOT NULL CHECK (use_limit BETWEEN 1 AND 1000),
    registered_count    INTEGER NOT NULL CHECK (registered_count BETWEEN 0 AND use_limit),
    time_to_live_days   INTEGER NOT NULL,
    disabled            INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL
);
CREATE INDEX activation_codes_by_account ON activation_codes (account_id, created_at);

CREATE TABLE source_servers (
    id                  TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    activation_code_id  TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    hostname            TEXT    NOT NULL,
    operating_system    TEXT    NOT NULL,
    fingerprint         TEXT    NOT NULL,
    source_address      TEXT    NOT NULL,
    registered_at       INTEGER NOT NULL,
    UNIQUE (activation_code_id, fingerprint)
);
CREATE INDEX source_servers_by_account ON source_servers (account_id, registered_at);
