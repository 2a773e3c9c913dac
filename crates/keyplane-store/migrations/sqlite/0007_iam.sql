-- IAM: user profiles, custom policies, policies attached to users, and the authorization
-- decision behind audited outcomes. Existing users get an empty profile (console login off),
-- existing audit events no decision.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN comments TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone_country_code TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone_number TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN console_login INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_by_account ON users (account_id, created_at, uin);

-- Policies an account wrote, in the common document form; the id is the CAM PolicyId,
-- unique in the installation, the name the RAM PolicyName, unique in the account.
CREATE TABLE custom_policies (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    syntax       TEXT    NOT NULL CHECK (syntax IN ('ram', 'cam')),
    document     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- Policies attached to users: system policies by name, custom ones by name in the account.
-- Removed with the user by Store::delete_user (not by a cascade).
CREATE TABLE policy_attachments (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    user_uin     INTEGER NOT NULL REFERENCES users (uin),
    policy_type  TEXT    NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name  TEXT    NOT NULL,
    attached_at  INTEGER NOT NULL,
    PRIMARY KEY (user_uin, policy_type, policy_name)
);
CREATE INDEX policy_attachments_by_user
    ON policy_attachments (user_uin, attached_at, policy_type, policy_name);

-- The authorization decision (Allow, ExplicitDeny, ImplicitDeny) and the statement that
-- decided it; NULL for events without one and for every earlier event.
ALTER TABLE audit_events ADD COLUMN decision TEXT;
ALTER TABLE audit_events ADD COLUMN decision_statement TEXT;
