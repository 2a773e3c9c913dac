-- keyplane_apply_operations, the group-commit function: its one live body. Every migration that
-- changes it ends with this file (the migration list in src/postgres/migrations.rs appends it),
-- so a fresh database creates this body at the first of them and replaces it with the same body
-- at each later one, and a database migrated earlier gets it from the first such migration it
-- has not applied yet. PL/pgSQL is bound when the function first runs, not when it is created,
-- so this body may name columns and attributes that only a later migration adds; no migration
-- calls it.
--
-- History: 0005 created it; 0013 made create_user's INSERT write the user's profile and the
-- audit INSERT the authorization decision and its statement.
--
-- Applies `operations` and returns one result per operation, in the same order.
-- Outcomes: created, user_not_found, user_name_taken, identifier_taken, quota_exceeded,
-- already_exists, limit_exceeded, updated, deleted, not_found, owner_mismatch, recorded,
-- accepted, replayed, appended.
--
-- The operations of a batch were requested concurrently (none was answered before the batch
-- ran), so any serial order of them is a correct answer. One statement per operation costs
-- about as much as the work itself, so when a batch holds at least eight access-key deletions
-- or creations (the break-even measured), those are made together, and the order used is:
-- access-key deletions that succeed, in one statement; then every other operation in batch
-- order, one at a time; access-key creations last, in one statement, provided that none of
-- their ids is taken and that they share one quota (otherwise one at a time, in batch order,
-- with the others). Should a concurrent transaction take one of those ids meanwhile, the batch
-- fails with a serialisation failure and the node tries it again. Smaller batches go one
-- operation at a time, in batch order.
--
-- Sequential scans are disabled inside: every lookup here has an index, and the plans a
-- connection caches while a table is tiny would otherwise stay sequential scans as create and
-- delete churn fills the table with dead rows (until autovacuum analyses it again).
CREATE OR REPLACE FUNCTION keyplane_apply_operations(operations keyplane_operation[])
RETURNS SETOF keyplane_operation_result LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    operation_count INTEGER := cardinality(operations);
    operation keyplane_operation;
    operation_number INTEGER := 0;
    result keyplane_operation_result;
    results keyplane_operation_result[] :=
        array_fill(NULL::keyplane_operation_result, ARRAY[operation_count]);
    audited BOOLEAN[] := array_fill(false, ARRAY[operation_count]);
    announced BOOLEAN[] := array_fill(false, ARRAY[operation_count]);
    -- The order in which the operations took effect (see above), for the audit log.
    effect_order INTEGER[] := array_fill(0, ARRAY[operation_count]);
    effects INTEGER := 0;
    deletions BIGINT;
    creations BIGINT;
    distinct_creation_ids BIGINT;
    creation_quotas BIGINT;
    access_key_changes BIGINT;
    api_key_changes BIGINT;
    creations_together BOOLEAN := false;
    answered_number BIGINT;
    answered_outcome TEXT;
    locked_account BIGINT;
    locks_exclusively BOOLEAN;
    held BIGINT;
    found_account BIGINT;
    access_key access_keys%ROWTYPE;
    api_key api_keys%ROWTYPE;
BEGIN
    SELECT COUNT(*) FILTER (WHERE o.kind = 'delete_access_key'),
           COUNT(*) FILTER (WHERE o.kind = 'create_access_key'),
           COUNT(DISTINCT o.id) FILTER (WHERE o.kind = 'create_access_key'),
           COUNT(DISTINCT o.quota) FILTER (WHERE o.kind = 'create_access_key'),
           COUNT(*) FILTER (WHERE o.kind IN ('set_access_key_status', 'delete_access_key')),
           COUNT(*) FILTER (WHERE o.kind IN ('set_api_key_enabled', 'replace_api_key_secret',
                                             'delete_api_key'))
        INTO deletions, creations, distinct_creation_ids, creation_quotas, access_key_changes,
             api_key_changes
        FROM unnest(operations) AS o;

    -- Every row lock the batch needs is taken first, in one order that every batch follows
    -- (accounts, users, access keys, API keys; each by id), so batches in flight together, on
    -- one node or several, wait for each other but do not deadlock. Accounts are locked
    -- exclusively to serialise API-key limits, and otherwise as the foreign keys of the rows
    -- inserted below would lock them anyway.
    FOR locked_account, locks_exclusively IN
        SELECT o.account_id, bool_or(o.kind = 'create_api_key')
        FROM unnest(operations) AS o
        WHERE o.kind IN ('create_user', 'create_access_key', 'create_api_key')
        GROUP BY o.account_id ORDER BY o.account_id
    LOOP
        IF locks_exclusively THEN
            PERFORM 1 FROM accounts WHERE accounts.id = locked_account FOR UPDATE;
        ELSE
            PERFORM 1 FROM accounts WHERE accounts.id = locked_account FOR KEY SHARE;
        END IF;
    END LOOP;
    -- The owner's row serialises every access-key quota decision for that user across nodes.
    IF creations > 0 THEN
        PERFORM 1 FROM users
            WHERE users.uin IN (SELECT o.uin FROM unnest(operations) AS o
                                WHERE o.kind = 'create_access_key')
            ORDER BY users.uin FOR UPDATE;
    END IF;
    IF access_key_changes > 0 THEN
        PERFORM 1 FROM access_keys
            WHERE access_keys.id IN (SELECT o.id FROM unnest(operations) AS o
                                     WHERE o.kind IN ('set_access_key_status',
                                                      'delete_access_key'))
            ORDER BY access_keys.id FOR UPDATE;
    END IF;
    IF api_key_changes > 0 THEN
        PERFORM 1 FROM api_keys
            WHERE api_keys.id IN (SELECT o.id FROM unnest(operations) AS o
                                  WHERE o.kind IN ('set_api_key_enabled',
                                                   'replace_api_key_secret', 'delete_api_key'))
            ORDER BY api_keys.id FOR UPDATE;
    END IF;

    -- Access-key deletions that succeed, with the keys' last-use records. A key two deletions
    -- name is deleted by one of them; the other is answered in the loop below, after it.
    IF deletions >= 8 THEN
        FOR answered_number IN
            WITH deleted AS (
                DELETE FROM access_keys USING unnest(operations) WITH ORDINALITY AS o
                WHERE o.kind = 'delete_access_key' AND access_keys.id = o.id
                  AND access_keys.account_id = o.account_id AND access_keys.owner_uin = o.uin
                RETURNING access_keys.id, o.ordinality
            ), usage_deleted AS (
                DELETE FROM key_usage WHERE key_usage.key_id IN (SELECT deleted.id FROM deleted)
            )
            SELECT deleted.ordinality FROM deleted ORDER BY deleted.ordinality
        LOOP
            results[answered_number] := ROW('deleted', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                            NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            announced[answered_number] := true;
            audited[answered_number] := true;
            effects := effects + 1;
            effect_order[answered_number] := effects;
        END LOOP;
    END IF;

    -- Creations go together when no id is taken, none repeats, and all share one quota.
    IF creations >= 8 AND distinct_creation_ids = creations AND creation_quotas = 1 THEN
        creations_together := NOT EXISTS (
            SELECT 1 FROM access_keys
            WHERE access_keys.id IN (SELECT o.id FROM unnest(operations) AS o
                                     WHERE o.kind = 'create_access_key'));
    END IF;

    FOREACH operation IN ARRAY operations LOOP
        operation_number := operation_number + 1;
        CONTINUE WHEN (results[operation_number]).outcome IS NOT NULL
            OR (creations_together AND operation.kind = 'create_access_key');
        result := NULL;
        CASE operation.kind
        WHEN 'create_user' THEN
            INSERT INTO users (uin, account_id, name, created_at, display_name, comments, email,
                               phone_country_code, phone_number, console_login)
            VALUES (operation.uin, operation.account_id, operation.name, operation.at_time,
                    COALESCE(operation.display_name, ''), COALESCE(operation.comments, ''),
                    COALESCE(operation.email, ''), COALESCE(operation.phone_country_code, ''),
                    COALESCE(operation.phone_number, ''),
                    COALESCE(operation.console_login, false))
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
                result.outcome := 'created';
            ELSIF EXISTS (SELECT 1 FROM users WHERE users.account_id = operation.account_id
                                                AND users.name = operation.name) THEN
                result.outcome := 'user_name_taken';
            ELSE
                result.outcome := 'identifier_taken';
            END IF;

        WHEN 'create_access_key' THEN
            -- No row when the owner does not exist in the account.
            SELECT COUNT(access_keys.id) INTO held
                FROM users LEFT JOIN access_keys
                    ON access_keys.owner_uin = users.uin
                   AND access_keys.family = operation.family
                WHERE users.account_id = operation.account_id AND users.uin = operation.uin
                GROUP BY users.uin;
            IF NOT FOUND THEN
                result.outcome := 'user_not_found';
            ELSIF held >= operation.quota THEN
                result.outcome := 'quota_exceeded';
            ELSE
                INSERT INTO access_keys (id, account_id, owner_uin, family, status, description,
                                         secret_key_version, secret_ciphertext, created_at,
                                         updated_at)
                VALUES (operation.id, operation.account_id, operation.uin, operation.family,
                        'Active', operation.description, operation.secret_key_version,
                        operation.secret_ciphertext, operation.at_time, operation.at_time)
                ON CONFLICT DO NOTHING;
                result.outcome := CASE WHEN FOUND THEN 'created' ELSE 'identifier_taken' END;
            END IF;

        WHEN 'delete_access_key' THEN
            -- Only deletions the statement above did not make get here; most are refused.
            DELETE FROM access_keys
                WHERE access_keys.id = operation.id
                  AND access_keys.account_id = operation.account_id
                  AND access_keys.owner_uin = operation.uin;
            IF FOUND THEN
                DELETE FROM key_usage WHERE key_usage.key_id = operation.id;
                result.outcome := 'deleted';
            END IF;

        WHEN 'set_access_key_status' THEN
            UPDATE access_keys SET status = operation.status, updated_at = operation.at_time
                WHERE access_keys.id = operation.id
                  AND access_keys.account_id = operation.account_id
                  AND access_keys.owner_uin = operation.uin
                RETURNING * INTO access_key;
            IF FOUND THEN
                result := ROW('updated', access_key.id, access_key.account_id,
                              access_key.owner_uin, access_key.family, access_key.status,
                              access_key.description, NULL, NULL, NULL, NULL,
                              access_key.secret_key_version, access_key.secret_ciphertext,
                              access_key.created_at, access_key.updated_at);
            END IF;

        WHEN 'create_api_key' THEN
            IF EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = operation.id) THEN
                result.outcome := 'already_exists';
            ELSE
                SELECT COUNT(*) INTO held FROM api_keys
                    WHERE api_keys.account_id = operation.account_id;
                IF held >= operation.quota THEN
                    result.outcome := 'limit_exceeded';
                ELSE
                    INSERT INTO api_keys (id, account_id, key_type, secret_name, enabled, tags,
                                          secret_key_version, secret_ciphertext, created_at,
                                          updated_at)
                    VALUES (operation.id, operation.account_id, operation.key_type,
                            operation.secret_name, operation.enabled, operation.tags,
                            operation.secret_key_version, operation.secret_ciphertext,
                            operation.at_time, operation.updated_at_time)
                    ON CONFLICT DO NOTHING;
                    result.outcome := CASE WHEN FOUND THEN 'created' ELSE 'already_exists' END;
                END IF;
            END IF;

        WHEN 'set_api_key_enabled', 'replace_api_key_secret' THEN
            IF operation.kind = 'set_api_key_enabled' THEN
                UPDATE api_keys SET enabled = operation.enabled, updated_at = operation.at_time
                    WHERE api_keys.account_id = operation.account_id
                      AND api_keys.id = operation.id
                    RETURNING * INTO api_key;
            ELSE
                UPDATE api_keys
                    SET secret_key_version = operation.secret_key_version,
                        secret_ciphertext = operation.secret_ciphertext,
                        updated_at = operation.at_time
                    WHERE api_keys.account_id = operation.account_id
                      AND api_keys.id = operation.id
                    RETURNING * INTO api_key;
            END IF;
            IF FOUND THEN
                result := ROW('updated', api_key.id, api_key.account_id, NULL, NULL, NULL, NULL,
                              api_key.key_type, api_key.secret_name, api_key.enabled,
                              api_key.tags, api_key.secret_key_version,
                              api_key.secret_ciphertext, api_key.created_at, api_key.updated_at);
            ELSE
                result.outcome := 'not_found';
            END IF;

        WHEN 'delete_api_key' THEN
            DELETE FROM api_keys
                WHERE api_keys.account_id = operation.account_id AND api_keys.id = operation.id;
            result.outcome := CASE WHEN FOUND THEN 'deleted' ELSE 'not_found' END;

        WHEN 'record_key_usage' THEN
            INSERT INTO key_usage (key_id, used_at, product, action, source_address)
            SELECT operation.id, operation.at_time, operation.product, operation.action,
                   operation.source_address
            WHERE EXISTS (SELECT 1 FROM access_keys WHERE access_keys.id = operation.id)
            ON CONFLICT (key_id) DO UPDATE SET used_at = excluded.used_at,
                product = excluded.product, action = excluded.action,
                source_address = excluded.source_address
            WHERE excluded.used_at > key_usage.used_at;
            result.outcome := 'recorded';

        WHEN 'remember_nonce' THEN
            INSERT INTO nonces (key_id, nonce, expires_at)
            VALUES (operation.id, operation.name, operation.until_time)
            ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = excluded.expires_at
            WHERE nonces.expires_at <= operation.at_time;
            result.outcome := CASE WHEN FOUND THEN 'accepted' ELSE 'replayed' END;

        WHEN 'append_audit_event' THEN
            result.outcome := 'appended';

        ELSE
            RAISE EXCEPTION 'unknown operation kind %', operation.kind;
        END CASE;

        -- Why an access-key change was refused (rare, so not worth a statement when it is not).
        IF operation.kind IN ('set_access_key_status', 'delete_access_key')
           AND result.outcome IS NULL THEN
            SELECT access_keys.account_id INTO found_account
                FROM access_keys WHERE access_keys.id = operation.id;
            IF NOT FOUND OR found_account <> operation.account_id THEN
                result.outcome := 'not_found';
            ELSE
                result.outcome := 'owner_mismatch';
            END IF;
        END IF;
        -- Deactivated, reactivated and deleted keys are announced to every node on commit.
        announced[operation_number] := operation.kind IN ('set_access_key_status',
                                                          'delete_access_key')
            AND result.outcome IN ('updated', 'deleted');
        -- The audit event of every operation that changed something goes in with the batch.
        audited[operation_number] := result.outcome IN ('created', 'updated', 'deleted',
                                                        'appended');
        results[operation_number] := result;
        effects := effects + 1;
        effect_order[operation_number] := effects;
    END LOOP;

    -- Access-key creations together: within each owner and family, in batch order, as many
    -- as the quota leaves room for.
    IF creations_together THEN
        FOR answered_number, answered_outcome IN
            WITH creations AS (
                SELECT o.ordinality, o.id, o.account_id, o.uin, o.family, o.description,
                       o.secret_key_version, o.secret_ciphertext, o.at_time, o.quota,
                       users.uin IS NOT NULL AS owner_exists
                FROM unnest(operations) WITH ORDINALITY AS o
                LEFT JOIN users ON users.uin = o.uin AND users.account_id = o.account_id
                WHERE o.kind = 'create_access_key'
            ), holdings AS (
                SELECT access_keys.owner_uin, access_keys.family, COUNT(*) AS held
                FROM access_keys
                WHERE (access_keys.owner_uin, access_keys.family) IN
                      (SELECT creations.uin, creations.family FROM creations
                       WHERE creations.owner_exists)
                GROUP BY access_keys.owner_uin, access_keys.family
            ), decided AS (
                SELECT creations.*,
                       CASE WHEN NOT creations.owner_exists THEN 'user_not_found'
                            WHEN COALESCE(holdings.held, 0) + row_number() OVER (
                                     PARTITION BY creations.owner_exists, creations.uin,
                                                  creations.family
                                     ORDER BY creations.ordinality) <= creations.quota
                                THEN 'created'
                            ELSE 'quota_exceeded' END AS outcome
                FROM creations LEFT JOIN holdings
                    ON holdings.owner_uin = creations.uin AND holdings.family = creations.family
            ), inserted AS (
                INSERT INTO access_keys (id, account_id, owner_uin, family, status, description,
                                         secret_key_version, secret_ciphertext, created_at,
                                         updated_at)
                SELECT decided.id, decided.account_id, decided.uin, decided.family, 'Active',
                       decided.description, decided.secret_key_version,
                       decided.secret_ciphertext, decided.at_time, decided.at_time
                FROM decided WHERE decided.outcome = 'created'
                ORDER BY decided.ordinality
                ON CONFLICT DO NOTHING
                RETURNING access_keys.id
            )
            SELECT decided.ordinality,
                   CASE WHEN decided.outcome = 'created'
                             AND decided.id NOT IN (SELECT inserted.id FROM inserted)
                        THEN 'taken meanwhile' ELSE decided.outcome END
            FROM decided
            ORDER BY decided.ordinality
        LOOP
            IF answered_outcome = 'taken meanwhile' THEN
                RAISE EXCEPTION 'an access key id was taken by a concurrent transaction'
                    USING ERRCODE = 'serialization_failure';
            END IF;
            results[answered_number] := ROW(answered_outcome, NULL, NULL, NULL, NULL, NULL,
                                            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                            NULL);
            audited[answered_number] := answered_outcome = 'created';
            effects := effects + 1;
            effect_order[answered_number] := effects;
        END LOOP;
    END IF;

    PERFORM pg_notify('keyplane_key_changes', o.id)
        FROM unnest(operations) WITH ORDINALITY AS o
        WHERE announced[o.ordinality]
        ORDER BY effect_order[o.ordinality];
    INSERT INTO audit_events (time, request_id, account_id, principal_uin, key_id, product,
                              action, target, outcome, source_address, user_agent, decision,
                              decision_statement)
    SELECT (o.event).time, (o.event).request_id, (o.event).account_id, (o.event).principal_uin,
           (o.event).key_id, (o.event).product, (o.event).action, (o.event).target,
           (o.event).outcome, (o.event).source_address, (o.event).user_agent, (o.event).decision,
           (o.event).decision_statement
    FROM unnest(operations) WITH ORDINALITY AS o
    WHERE audited[o.ordinality] AND (o.event).request_id IS NOT NULL
    ORDER BY effect_order[o.ordinality];
    RETURN QUERY
        SELECT r.outcome, r.id, r.account_id, r.owner_uin, r.family, r.status, r.description,
               r.key_type, r.secret_name, r.enabled, r.tags, r.secret_key_version,
               r.secret_ciphertext, r.created_at, r.updated_at
        FROM unnest(results) WITH ORDINALITY AS r
        ORDER BY r.ordinality;
END;
$$;
