-- Pruning by age (`keyplane audit prune`) is the one deletion the audit log allows. The
-- trigger now lets a DELETE through only for a row older than the cutoff the prune's own
-- transaction set with `set_config('keyplane.audit_prune_before', …, true)` (transaction-local:
-- it ends with the transaction). UPDATE, and DELETE in any other transaction, stay refused.
CREATE OR REPLACE FUNCTION audit_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cutoff TEXT := NULLIF(current_setting('keyplane.audit_prune_before', true), '');
BEGIN
    IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND OLD.time < cutoff::BIGINT THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
