-- PAI-EAS: the service registry (services per cluster, their instances and workers, and the
-- operator's command templates, stored as JSON arrays of template words) and the single-use
-- instance tokens, stored only as their SHA-256 hash. Deleting a service deletes its
-- instances; tokens are kept until they are removed some time after their expiry.
CREATE TABLE eas_services (
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    cluster             TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    exec_template       TEXT    NOT NULL,
    log_template        TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (account_id, cluster, name)
);

CREATE TABLE eas_instances (
    account_id          INTEGER NOT NULL,
    cluster             TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    workers             TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (account_id, cluster, service, name),
    FOREIGN KEY (account_id, cluster, service)
        REFERENCES eas_services (account_id, cluster, name) ON DELETE CASCADE
);

CREATE TABLE eas_instance_tokens (
    token_hash          BLOB    PRIMARY KEY,
    grant_id            TEXT    NOT NULL,
    purpose             TEXT    NOT NULL CHECK (purpose IN ('workbench', 'terminal', 'streamlog')),
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    principal_uin       INTEGER NOT NULL,
    key_id              TEXT    NOT NULL,
    cluster             TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    instance            TEXT    NOT NULL,
    worker              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    used_at             INTEGER,
    UNIQUE (grant_id, purpose)
);
CREATE INDEX eas_instance_tokens_by_expiry ON eas_instance_tokens (expires_at);
