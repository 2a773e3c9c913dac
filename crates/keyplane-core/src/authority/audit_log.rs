//! The audit log's use cases on [`Authority`]: refusals (one row each for an authenticated
//! caller, aggregated for everyone else), the failed-authentication throttle, the periodic and
//! final flushes of buffered records, and pruning by age.

use std::sync::atomic::Ordering;

use time::OffsetDateTime;

use super::{Authority, RequestContext, AUDIT_BUFFER_LIMIT};
use crate::audit::{AuditEvent, AuditRecord};

use crate::error::CoreError;
use crate::refusal_audit::Aggregate;
use crate::store::PruneAudit;
use crate::validation::{Field, Violation};

impl Authority {
    /// Records the audit event of a refused request, written by [`Authority::flush`]. A
    /// request refused by an authenticated caller (a denial, a quota, a validation error) gets
    /// a row of its own. One refused before any principal was established (no account in the
    /// event: an unknown key, a bad signature, a bad activation code or instance token) counts
    /// against its source address's failed-authentication budget and is aggregated
    /// ([`crate::refusal_audit`]): it writes no row of its own.
    pub fn record_refusal(&self, event: AuditEvent) {
        self.record_unauthenticated_refusal(event, true);
    }

    /// Like [`Authority::record_refusal`], for a request that proved its credential before it
    /// was refused (a valid activation code that is exhausted, expired or disabled; a valid
    /// instance token already used or expired, or whose instance is gone): aggregated the same
    /// way, but not counted as a failed authentication of its source address.
    pub fn record_refusal_after_proof(&self, event: AuditEvent) {
        self.record_unauthenticated_refusal(event, false);
    }

    fn record_unauthenticated_refusal(&self, event: AuditEvent, failed_authentication: bool) {
        if event.account_id.is_some() || event.principal_uin.is_some() {
            self.record_buffered_event(event);
            return;
        }
        if failed_authentication {
            self.throttle
                .record_failure(&event.source_address, event.time);
        }
        let names_a_key = event
            .key_id
            .as_deref()
            .is_some_and(|key_id| self.key_cache.contains_key(key_id));
        self.refusals.lock().record(event, names_a_key);
    }

    /// Whether requests from `source_address` are refused at `now` because it failed
    /// authentication too often (see [`AuthorityConfig::authentication_failure_limit`]).
    /// Cheap: dialects ask before reading anything else of a request.
    pub fn authentication_throttled(&self, source_address: &str, now: OffsetDateTime) -> bool {
        self.throttle.throttled(source_address, now)
    }

    /// Records (aggregated) a request refused because its source address is throttled, with
    /// the code the dialect answered (`product` names the dialect's entry point, since the
    /// request was not read). It does not count as one more failure.
    pub fn record_throttled_refusal(
        &self,
        source_address: &str,
        now: OffsetDateTime,
        request_id: &str,
        product: &str,
        outcome: &str,
    ) {
        self.refusals.lock().record(
            AuditEvent {
                time: now,
                request_id: request_id.to_owned(),
                account_id: None,
                principal_uin: None,
                key_id: None,
                product: product.to_owned(),
                action: crate::refusal_audit::ANY.to_owned(),
                target: None,
                outcome: outcome.to_owned(),
                source_address: source_address.to_owned(),
                user_agent: String::new(),
                detail: None,
                authorization: None,
            },
            false,
        );
    }

    /// Buffers an audit event that is not part of a store transaction — a refusal, or the end
    /// of a terminal or log session — for the next [`Authority::flush`] (bounded like
    /// refusals: beyond the limit the event is counted and dropped).
    pub fn record_buffered_event(&self, event: AuditEvent) {
        let mut buffer = self.audit_buffer.lock();
        if buffer.len() >= AUDIT_BUFFER_LIMIT {
            self.dropped_audit_events.fetch_add(1, Ordering::Relaxed);
            return;
        }
        buffer.push(event);
    }

    /// How many refused-request audit events were dropped because the buffer was full.
    pub fn dropped_audit_events(&self) -> u64 {
        self.dropped_audit_events.load(Ordering::Relaxed)
    }

    /// Writes buffered last-use records and audit events to the store, with every aggregate
    /// of unauthenticated refusals, the current interval's included (at shutdown).
    pub async fn flush(&self) -> Result<(), CoreError> {
        self.flush_buffers().await?;
        let aggregates = self.refusals.lock().take_all();
        self.write_aggregates(aggregates).await
    }

    /// Like [`Authority::flush`], but writes only the aggregates of intervals that ended by
    /// `now` (the periodic flush), and forgets throttle entries that went idle.
    pub async fn flush_due(&self, now: OffsetDateTime) -> Result<(), CoreError> {
        self.throttle.forget_idle(now);
        self.flush_buffers().await?;
        let aggregates = self.refusals.lock().take_due(now);
        self.write_aggregates(aggregates).await
    }

    /// How many aggregates of unauthenticated refusals were dropped because the store could
    /// not be written for several intervals.
    pub fn dropped_refusal_aggregates(&self) -> u64 {
        self.refusals.lock().dropped()
    }

    /// Writes aggregates as audit rows, storing a claimed id in full only when it names a
    /// real access key or activation code.
    async fn write_aggregates(&self, aggregates: Vec<Aggregate>) -> Result<(), CoreError> {
        if aggregates.is_empty() {
            return Ok(());
        }
        let mut events = Vec::with_capacity(aggregates.len());
        for aggregate in &aggregates {
            let exists = match aggregate.claimed_key_id() {
                Some(key_id) => self.names_a_credential(key_id).await,
                None => false,
            };
            events.push(aggregate.clone().into_event(exists));
        }
        if let Err(error) = self.store.append_audit_events(events).await {
            self.refusals.lock().restore(aggregates);
            return Err(error.into());
        }
        Ok(())
    }

    /// Whether `key_id` names an access key or an activation code (a failed lookup counts as
    /// no: the id is then stored shortened).
    async fn names_a_credential(&self, key_id: &str) -> bool {
        if self.key_cache.contains_key(key_id) {
            return true;
        }
        if matches!(self.store.access_key(key_id).await, Ok(Some(_))) {
            return true;
        }
        matches!(self.store.activation_code(key_id).await, Ok(Some(_)))
    }

    async fn flush_buffers(&self) -> Result<(), CoreError> {
        let usage = self.usage.drain();
        if !usage.is_empty() {
            if let Err(error) = self.store.record_key_usage(usage.clone()).await {
                self.usage.restore(usage);
                return Err(error.into());
            }
        }
        let events = std::mem::take(&mut *self.audit_buffer.lock());
        if !events.is_empty() {
            if let Err(error) = self.store.append_audit_events(events.clone()).await {
                let mut buffer = self.audit_buffer.lock();
                let room = AUDIT_BUFFER_LIMIT.saturating_sub(buffer.len());
                buffer.extend(events.into_iter().take(room));
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// Removes the audit records older than `older_than` before `context.now` (an operator
    /// command), and records the prune itself, with how many records it removed and the
    /// cutoff, in the same transaction. This is the only way records leave the audit log.
    pub async fn prune_audit(
        &self,
        context: &RequestContext,
        older_than: time::Duration,
    ) -> Result<u64, CoreError> {
        if older_than.is_negative() {
            return Err(CoreError::invalid(
                Field::AuditRetention,
                Violation::Negative,
            ));
        }
        let cutoff = context.now.checked_sub(older_than).ok_or_else(|| {
            CoreError::invalid(Field::AuditRetention, Violation::BeforeCalendarStart)
        })?;
        let cutoff_text = cutoff
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let event = context.success("audit".to_owned());
        let audit: PruneAudit = Box::new(move |removed| AuditEvent {
            detail: Some(format!("removed={removed} before={cutoff_text}")),
            ..event
        });
        Ok(self.store.prune_audit_events(cutoff, audit).await?)
    }

    /// Audit records after `after`, for operators.
    pub async fn audit_records(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, CoreError> {
        Ok(self.store.audit_records(after, limit).await?)
    }
}
