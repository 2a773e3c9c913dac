//! Pruning the audit log by age on PostgreSQL: the trigger of migration 0014 lets a DELETE
//! through only for rows older than the cutoff this transaction set, transaction-locally, in
//! `keyplane.audit_prune_before`; every other deletion is refused.

use keyplane_core::store::{PruneAudit, StoreError};
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

use super::{backend, commit, insert_audit};
use crate::codec::nanos;

/// Deletes the audit rows older than `before`, then appends the prune's own event, in one
/// transaction.
pub(super) async fn prune(
    mut transaction: Transaction<'static, Postgres>,
    before: OffsetDateTime,
    audit: PruneAudit,
) -> Result<u64, StoreError> {
    let cutoff = nanos(before);
    sqlx::query("SELECT set_config('keyplane.audit_prune_before', $1, true)")
        .bind(cutoff.to_string())
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    let removed = sqlx::query("DELETE FROM audit_events WHERE time < $1")
        .bind(cutoff)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?
        .rows_affected();
    sqlx::query("SELECT set_config('keyplane.audit_prune_before', '', true)")
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
    insert_audit(&mut transaction, &audit(removed)).await?;
    commit(transaction).await?;
    Ok(removed)
}
