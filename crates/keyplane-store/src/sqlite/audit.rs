//! Pruning the audit log by age on SQLite: the permit row of migration 0008 names the cutoff
//! only for the duration of the prune's own savepoint, so the DELETE trigger refuses every
//! other deletion.

use keyplane_core::store::{PruneAudit, StoreError};
use rusqlite::{params, Connection};
use time::OffsetDateTime;

use super::insert_audit;
use super::worker::backend;
use crate::codec::nanos;

/// Deletes the audit rows older than `before`, then appends the prune's own event.
pub(super) fn prune(
    connection: &Connection,
    before: OffsetDateTime,
    audit: PruneAudit,
) -> Result<u64, StoreError> {
    let cutoff = nanos(before);
    connection
        .execute(
            "UPDATE audit_prune_permit SET cutoff = ?1 WHERE id = 1",
            params![cutoff],
        )
        .map_err(backend)?;
    let removed = connection
        .execute("DELETE FROM audit_events WHERE time < ?1", params![cutoff])
        .map_err(backend)?;
    connection
        .execute(
            "UPDATE audit_prune_permit SET cutoff = NULL WHERE id = 1",
            [],
        )
        .map_err(backend)?;
    let removed = removed as u64;
    insert_audit(connection, &audit(removed))?;
    Ok(removed)
}
