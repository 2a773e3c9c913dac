//! Pruning the audit log by age on SQLite: the permit row of migration 0008 names the cutoff
//! only for the duration of the prune's own savepoint, so the DELETE trigger refuses every
//! other deletion.

use std::sync::LazyLock;

use async_trait::async_trait;
use keyplane_core::audit::{AuditEvent, AuditRecord};
use keyplane_core::store::{AuditStore, PruneAudit, StoreError};
use rusqlite::{params, Connection, Row};
use time::OffsetDateTime;

use super::worker::backend;
use super::{from_nanos, select_all, SqliteStore};
use crate::codec::{as_i64, as_u64, authorization_from_columns, nanos};

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

/// The columns of an audit event (all but its sequence), in the order `decode_audit_record`
/// reads them after the sequence.
const AUDIT_EVENT_COLUMNS: &str = "time, request_id, account_id, principal_uin, key_id, product, \
     action, target, outcome, source_address, user_agent, detail, decision, decision_statement";

/// The statement every audit event is appended with (built once: every write runs it).
static INSERT_AUDIT_EVENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO audit_events ({AUDIT_EVENT_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    )
});

/// An audit record from `sequence, AUDIT_EVENT_COLUMNS`.
fn decode_audit_record(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        sequence: row.get(0)?,
        event: AuditEvent {
            time: from_nanos(row.get(1)?)?,
            request_id: row.get(2)?,
            account_id: row.get::<_, Option<i64>>(3)?.map(as_u64),
            principal_uin: row.get::<_, Option<i64>>(4)?.map(as_u64),
            key_id: row.get(5)?,
            product: row.get(6)?,
            action: row.get(7)?,
            target: row.get(8)?,
            outcome: row.get(9)?,
            source_address: row.get(10)?,
            user_agent: row.get(11)?,
            detail: row.get(12)?,
            authorization: authorization_from_columns(row.get(13)?, row.get(14)?),
        },
    })
}

/// Appends one audit event.
pub(super) fn insert_audit(connection: &Connection, event: &AuditEvent) -> Result<(), StoreError> {
    connection
        .prepare_cached(&INSERT_AUDIT_EVENT)
        .and_then(|mut statement| {
            let authorization = event.authorization.as_ref();
            statement.execute(params![
                nanos(event.time),
                event.request_id,
                event.account_id.map(as_i64),
                event.principal_uin.map(as_i64),
                event.key_id,
                event.product,
                event.action,
                event.target,
                event.outcome,
                event.source_address,
                event.user_agent,
                event.detail,
                authorization.map(|authorization| &authorization.decision),
                authorization.and_then(|authorization| authorization.statement.as_ref()),
            ])
        })
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.connections
            .write(move |connection| {
                for event in &events {
                    insert_audit(connection, event)?;
                }
                Ok(())
            })
            .await
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.connections
            .read(move |connection| {
                select_all(
                    connection,
                    &format!(
                        "SELECT sequence, {AUDIT_EVENT_COLUMNS} FROM audit_events \
                         WHERE sequence > ?1 ORDER BY sequence LIMIT ?2"
                    ),
                    params![after, limit],
                    decode_audit_record,
                )
            })
            .await
    }

    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit_event: PruneAudit,
    ) -> Result<u64, StoreError> {
        self.connections
            .write(move |connection| prune(connection, before, audit_event))
            .await
    }
}
