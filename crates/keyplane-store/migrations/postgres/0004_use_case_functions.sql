-- The hottest use cases as single statements: one round trip (and one commit) each instead of
-- six or seven. Each returns an outcome word; the Rust side maps it to its error.

CREATE FUNCTION keyplane_insert_audit(
    event_time BIGINT, event_request_id TEXT, event_account_id BIGINT, event_principal_uin BIGINT,
    event_key_id TEXT, event_product TEXT, event_action TEXT, event_target TEXT,
    event_outcome TEXT, event_source_address TEXT, event_user_agent TEXT
) RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO audit_events (time, request_id, account_id, principal_uin, key_id, product,
                              action, target, outcome, source_address, user_agent)
    VALUES (event_time, event_request_id, event_account_id, event_principal_uin, event_key_id,
            event_product, event_action, event_target, event_outcome, event_source_address,
            event_user_agent);
$$;

-- Inserts an access key unless its owner already holds `quota` keys of the family.
-- Outcomes: created, user_not_found, quota_exceeded, identifier_taken.
CREATE FUNCTION keyplane_create_access_key(
    key_id TEXT, key_account_id BIGINT, key_owner_uin BIGINT, key_family TEXT,
    key_description TEXT, key_secret_version BIGINT, key_secret BYTEA, key_created_at BIGINT,
    quota BIGINT,
    event_time BIGINT, event_request_id TEXT, event_account_id BIGINT, event_principal_uin BIGINT,
    event_key_id TEXT, event_product TEXT, event_action TEXT, event_target TEXT,
    event_outcome TEXT, event_source_address TEXT, event_user_agent TEXT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    held BIGINT;
BEGIN
    -- Locking the owner serialises every quota decision for that user across nodes.
    PERFORM 1 FROM users WHERE account_id = key_account_id AND uin = key_owner_uin FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'user_not_found';
    END IF;
    SELECT COUNT(*) INTO held FROM access_keys WHERE owner_uin = key_owner_uin AND family = key_family;
    IF held >= quota THEN
        RETURN 'quota_exceeded';
    END IF;
    BEGIN
        INSERT INTO access_keys (id, account_id, owner_uin, family, status, description,
                                 secret_key_version, secret_ciphertext, created_at, updated_at)
        VALUES (key_id, key_account_id, key_owner_uin, key_family, 'Active', key_description,
                key_secret_version, key_secret, key_created_at, key_created_at);
    EXCEPTION WHEN unique_violation THEN
        RETURN 'identifier_taken';
    END;
    PERFORM keyplane_insert_audit(event_time, event_request_id, event_account_id,
        event_principal_uin, event_key_id, event_product, event_action, event_target,
        event_outcome, event_source_address, event_user_agent);
    RETURN 'created';
END;
$$;

-- Deletes an access key owned by `expected_owner` in `expected_account`, announcing the change.
-- Outcomes: deleted, not_found, owner_mismatch.
CREATE FUNCTION keyplane_delete_access_key(
    expected_account BIGINT, expected_owner BIGINT, target_key_id TEXT,
    event_time BIGINT, event_request_id TEXT, event_account_id BIGINT, event_principal_uin BIGINT,
    event_key_id TEXT, event_product TEXT, event_action TEXT, event_target TEXT,
    event_outcome TEXT, event_source_address TEXT, event_user_agent TEXT
) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    found_account BIGINT;
    found_owner BIGINT;
BEGIN
    SELECT account_id, owner_uin INTO found_account, found_owner
        FROM access_keys WHERE id = target_key_id FOR UPDATE;
    IF NOT FOUND OR found_account <> expected_account THEN
        RETURN 'not_found';
    END IF;
    IF found_owner <> expected_owner THEN
        RETURN 'owner_mismatch';
    END IF;
    PERFORM pg_notify('keyplane_key_changes', target_key_id);
    DELETE FROM access_keys WHERE id = target_key_id;
    DELETE FROM key_usage WHERE key_id = target_key_id;
    PERFORM keyplane_insert_audit(event_time, event_request_id, event_account_id,
        event_principal_uin, event_key_id, event_product, event_action, event_target,
        event_outcome, event_source_address, event_user_agent);
    RETURN 'deleted';
END;
$$;
