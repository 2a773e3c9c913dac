//! Pruning the audit log by age on PostgreSQL: the trigger of migration 0014 lets a DELETE
//! through only for rows older than the cutoff this transaction set, transaction-locally, in
//! `keyplane.audit_prune_before`; every other deletion is refused.

use async_trait::async_trait;
use keyplane_core::audit::{AuditEvent, AuditRecord};
use keyplane_core::store::{AuditStore, PruneAudit, StoreError};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::{backend, commit, select_all, time_column, PostgresStore};
use crate::codec::{as_i64, as_u64, authorization_from_columns, nanos};

/// The columns of an audit event (all but its sequence), in the order they are bound.
const AUDIT_EVENT_COLUMNS: &str = "time, request_id, account_id, principal_uin, key_id, product, \
     action, target, outcome, source_address, user_agent, detail, decision, decision_statement";

/// An audit record from `sequence` and `AUDIT_EVENT_COLUMNS`.
fn decode_audit_record(row: &PgRow) -> Result<AuditRecord, StoreError> {
    let optional_id = |column: &str| -> Result<Option<u64>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(column)
            .map_err(backend)?
            .map(as_u64))
    };
    Ok(AuditRecord {
        sequence: row.try_get("sequence").map_err(backend)?,
        event: AuditEvent {
            time: time_column(row, "time")?,
            request_id: row.try_get("request_id").map_err(backend)?,
            account_id: optional_id("account_id")?,
            principal_uin: optional_id("principal_uin")?,
            key_id: row.try_get("key_id").map_err(backend)?,
            product: row.try_get("product").map_err(backend)?,
            action: row.try_get("action").map_err(backend)?,
            target: row.try_get("target").map_err(backend)?,
            outcome: row.try_get("outcome").map_err(backend)?,
            source_address: row.try_get("source_address").map_err(backend)?,
            user_agent: row.try_get("user_agent").map_err(backend)?,
            detail: row.try_get("detail").map_err(backend)?,
            authorization: authorization_from_columns(
                row.try_get("decision").map_err(backend)?,
                row.try_get("decision_statement").map_err(backend)?,
            ),
        },
    })
}

/// Appends `audit` in `transaction` and commits it: the end of every plain-transaction write.
pub(super) async fn commit_audited(
    mut transaction: Transaction<'_, Postgres>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    insert_audit(&mut transaction, audit).await?;
    commit(transaction).await
}

/// Runs `statement`, which deletes one row, in `transaction`: `missing` when it deleted none,
/// otherwise commits it with `audit`.
pub(super) async fn delete_one_audited(
    mut transaction: Transaction<'_, Postgres>,
    statement: Query<'_, Postgres, PgArguments>,
    missing: StoreError,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let deleted = statement
        .execute(&mut *transaction)
        .await
        .map_err(backend)?
        .rows_affected();
    if deleted == 0 {
        return Err(missing);
    }
    commit_audited(transaction, audit).await
}

/// Appends one audit event in `transaction`.
pub(super) async fn insert_audit(
    transaction: &mut Transaction<'_, Postgres>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let authorization = event.authorization.as_ref();
    sqlx::query(&format!(
        "INSERT INTO audit_events ({AUDIT_EVENT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(nanos(event.time))
    .bind(&event.request_id)
    .bind(event.account_id.map(as_i64))
    .bind(event.principal_uin.map(as_i64))
    .bind(&event.key_id)
    .bind(&event.product)
    .bind(&event.action)
    .bind(&event.target)
    .bind(&event.outcome)
    .bind(&event.source_address)
    .bind(&event.user_agent)
    .bind(&event.detail)
    .bind(authorization.map(|authorization| &authorization.decision))
    .bind(authorization.and_then(|authorization| authorization.statement.as_ref()))
    .execute(&mut **transaction)
    .await
    .map_err(backend)?;
    Ok(())
}

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

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // Buffered events (refusals, terminal sessions) are flushed in the background, not on
        // a request's path: one plain transaction, which also writes their detail (the batch
        // function's audit insert takes none).
        let mut transaction = self.begin().await?;
        for event in &events {
            insert_audit(&mut transaction, event).await?;
        }
        commit(transaction).await
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        select_all(
            &self.pool,
            sqlx::query(&format!(
                "SELECT sequence, {AUDIT_EVENT_COLUMNS} FROM audit_events WHERE sequence > $1 \
             ORDER BY sequence LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit)),
            decode_audit_record,
        )
        .await
    }

    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit_event: PruneAudit,
    ) -> Result<u64, StoreError> {
        prune(self.begin().await?, before, audit_event).await
    }
}
