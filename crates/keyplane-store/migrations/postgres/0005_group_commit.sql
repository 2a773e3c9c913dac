-- Group commit: a node collects the write use cases that arrive while its previous batches are
-- in flight and applies them with one call of keyplane_apply_operations, that is one statement,
-- one round trip and one (durable) commit for the whole batch. Each operation still gets its
-- own outcome: a refused operation (quota, limit, taken name or id, unknown key) changes
-- nothing and does not affect the others, because every refusal is decided by a check or an
-- ON CONFLICT clause rather than by an error. An unexpected error aborts the whole batch, which
-- the node then replays one use case per call.

-- An audit event to append, as the use cases carry it (the sequence is assigned on insert).
CREATE TYPE keyplane_audit_event AS (
    time            BIGINT,
    request_id      TEXT,
    account_id      BIGINT,
    principal_uin   BIGINT,
    key_id          TEXT,
    product         TEXT,
    action          TEXT,
    target          TEXT,
    outcome         TEXT,
    source_address  TEXT,
    user_agent      TEXT
);

-- One write use case. `kind` says which, and which of the other fields it uses:
--   create_user            account_id, uin, name, at_time; event
--   create_access_key      id, account_id, uin (owner), family, description, secret_*, at_time,
--                          quota; event
--   set_access_key_status  id, account_id, uin (owner), status, at_time; event
--   delete_access_key      id, account_id, uin (owner); event
--   create_api_key         id, account_id, key_type, secret_name, enabled, tags, secret_*,
--                          at_time, updated_at_time, quota (the limit); event
--   set_api_key_enabled    id, account_id, enabled, at_time; event
--   replace_api_key_secret id, account_id, secret_*, at_time; event
--   delete_api_key         id, account_id; event
--   record_key_usage       id (the access key), at_time, product, action, source_address
--   remember_nonce         id (the access key), name (the nonce), at_time (now), until_time
--   append_audit_event     event
CREATE TYPE keyplane_operation AS (
    kind                TEXT,
    id                  TEXT,
    account_id          BIGINT,
    uin                 BIGINT,
    name                TEXT,
    family              TEXT,
    status              TEXT,
    description         TEXT,
    key_type            TEXT,
    secret_name         TEXT,
    enabled             BOOLEAN,
    tags                TEXT,
    secret_key_version  BIGINT,
    secret_ciphertext   BYTEA,
    at_time             BIGINT,
    updated_at_time     BIGINT,
    until_time          BIGINT,
    quota               BIGINT,
    product             TEXT,
    action              TEXT,
    source_address      TEXT,
    event               keyplane_audit_event
);

-- The outcome of one operation, with the access key or API key it left behind when the use
-- case answers with one (set_access_key_status, set_api_key_enabled, replace_api_key_secret).
-- The key columns are named as in their tables.
CREATE TYPE keyplane_operation_result AS (
    outcome             TEXT,
    id                  TEXT,
    account_id          BIGINT,
    owner_uin           BIGINT,
    family              TEXT,
    status              TEXT,
    description         TEXT,
    key_type            TEXT,
    secret_name         TEXT,
    enabled             BOOLEAN,
    tags                TEXT,
    secret_key_version  BIGINT,
    secret_ciphertext   BYTEA,
    created_at          BIGINT,
    updated_at          BIGINT
);

-- keyplane_apply_operations follows: functions/apply_operations.sql, appended to this migration.
