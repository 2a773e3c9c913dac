-- IAM: user profiles, custom policies, policies attached to users, and the authorization
-- decision behind audited outcomes. Existing users get an empty profile (console login off),
-- existing audit events no decision.
ALTER TABLE users
    ADD COLUMN display_name        TEXT    NOT NULL DEFAULT '',
    ADD COLUMN comments            TEXT    NOT NULL DEFAULT '',
    ADD COLUMN email               TEXT    NOT NULL DEFAULT '',
    ADD COLUMN phone_country_code  TEXT    NOT NULL DEFAULT '',
    ADD COLUMN phone_number        TEXT    NOT NULL DEFAULT '',
    ADD COLUMN console_login       BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX users_by_account ON users (account_id, created_at, uin);

-- Policies an account wrote, in the common document form; the id is the CAM PolicyId,
-- unique in the installation, the name the RAM PolicyName, unique in the account.
CREATE TABLE custom_policies (
    id           BIGINT  PRIMARY KEY,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    syntax       TEXT    NOT NULL CHECK (syntax IN ('ram', 'cam')),
    document     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    CONSTRAINT custom_policies_name_is_unique UNIQUE (account_id, name)
);

-- Policies attached to users: system policies by name, custom ones by name in the account.
-- Removed with the user by Store::delete_user (not by a cascade). Attaching locks the account
-- (FOR KEY SHARE) and then the user (FOR UPDATE), the order every batch takes them in.
CREATE TABLE policy_attachments (
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    user_uin     BIGINT  NOT NULL REFERENCES users (uin),
    policy_type  TEXT    NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name  TEXT    NOT NULL,
    attached_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_uin, policy_type, policy_name)
);
CREATE INDEX policy_attachments_by_user
    ON policy_attachments (user_uin, attached_at, policy_type, policy_name);

-- The authorization decision (Allow, ExplicitDeny, ImplicitDeny) and the statement that
-- decided it; NULL for events without one and for every earlier event.
ALTER TABLE audit_events
    ADD COLUMN decision            TEXT,
    ADD COLUMN decision_statement  TEXT;

-- Batched use cases carry both too, and create_user the new user's profile (NULL fields are
-- stored as the empty profile):
--   create_user            account_id, uin, name, at_time, display_name, comments, email,
--                          phone_country_code, phone_number, console_login; event
ALTER TYPE keyplane_audit_event
    ADD ATTRIBUTE decision            TEXT,
    ADD ATTRIBUTE decision_statement  TEXT;
ALTER TYPE keyplane_operation
    ADD ATTRIBUTE display_name        TEXT,
    ADD ATTRIBUTE comments            TEXT,
    ADD ATTRIBUTE email               TEXT,
    ADD ATTRIBUTE phone_country_code  TEXT,
    ADD ATTRIBUTE phone_number        TEXT,
    ADD ATTRIBUTE console_login       BOOLEAN;

-- The single-use-case functions of 0004 write audit events from eleven arguments, without the
-- detail or the decision. Nothing has called them since 0005 (group commit); they are dropped
-- so that nothing can start writing events through them that lose those columns.
DROP FUNCTION keyplane_delete_access_key(BIGINT, BIGINT, TEXT, BIGINT, TEXT, BIGINT, BIGINT,
    TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION keyplane_create_access_key(TEXT, BIGINT, BIGINT, TEXT, TEXT, BIGINT, BYTEA,
    BIGINT, BIGINT, BIGINT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION keyplane_insert_audit(BIGINT, TEXT, BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT,
    TEXT, TEXT);

-- keyplane_apply_operations is replaced by its body in functions/apply_operations.sql, appended
-- to this migration: create_user's INSERT writes the profile, the audit INSERT the decision and
-- its statement.
