-- Pruning by age (`keyplane audit prune`) is the one deletion the audit log allows. The
-- DELETE trigger now lets a row go only while the one-row permit below names a cutoff and the
-- row is older than it; the prune sets the cutoff, deletes, and clears it again inside its own
-- transaction, so no other statement ever sees it set. UPDATE stays refused outright.
CREATE TABLE audit_prune_permit (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    cutoff  INTEGER
);
INSERT INTO audit_prune_permit (id, cutoff) VALUES (1, NULL);

CREATE TRIGGER audit_prune_permit_is_not_deleted BEFORE DELETE ON audit_prune_permit
BEGIN
    SELECT RAISE(ABORT, 'the audit prune permit is permanent');
END;

DROP TRIGGER audit_events_are_not_deleted;

CREATE TRIGGER audit_events_are_not_deleted BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
    SELECT 1 FROM audit_prune_permit
    WHERE id = 1 AND cutoff IS NOT NULL AND OLD.time < cutoff
)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
