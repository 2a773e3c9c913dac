//! The audit store: the append-only log, its events not tied to a change, reading it in
//! order, and pruning it by age.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::{AuditEvent, AuditRecord};

/// What a prune records of itself: the audit event for the number of records it removed.
pub type PruneAudit = Box<dyn FnOnce(u64) -> AuditEvent + Send>;

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends audit events that are not tied to a change (refused requests).
    async fn append_audit_events(&self, events: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// Audit records with a sequence greater than `after`, in order, at most `limit`.
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// Deletes the audit records whose time is before `before` and appends the event `audit`
    /// makes of how many it deleted, in one transaction; returns how many. The only deletion
    /// the audit log allows: the backends refuse every other UPDATE or DELETE of it.
    async fn prune_audit_events(
        &self,
        before: OffsetDateTime,
        audit: PruneAudit,
    ) -> Result<u64, StoreError>;
}
