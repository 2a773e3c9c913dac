//! Conformance cases for pruning the audit log by age, the one deletion it allows: only the
//! records older than the cutoff go, the survivors are unchanged, and the prune records itself
//! (with the count it removed) in the same transaction.

use std::sync::Arc;

use keyplane_core::audit::AuditEvent;
use keyplane_core::store::{PruneAudit, Store};

use crate::support::{at, audit_event, audit_log, initialize};

/// An event at `seconds` after the support epoch.
fn event_at(seconds: i64, action: &str) -> AuditEvent {
    AuditEvent {
        time: at(seconds),
        ..audit_event(action, "t")
    }
}

/// The prune's own event, at `seconds`, with the count in its detail.
fn prune_event(seconds: i64) -> PruneAudit {
    Box::new(move |removed| AuditEvent {
        detail: Some(format!("removed={removed}")),
        ..event_at(seconds, "PruneAuditLog")
    })
}

pub async fn prune_removes_only_records_older_than_the_cutoff_and_records_itself(
    store: Arc<dyn Store>,
) {
    initialize(&*store).await;
    let events: Vec<AuditEvent> = [10, 20, 29, 30, 31, 40]
        .into_iter()
        .map(|seconds| event_at(seconds, &format!("Action{seconds}")))
        .collect();
    store
        .append_audit_events(events.clone())
        .await
        .expect("appending");
    let before = audit_log(&*store).await;
    let removed = store
        .prune_audit_events(at(30), prune_event(50))
        .await
        .expect("pruning");
    let expected_survivors: Vec<_> = before
        .iter()
        .filter(|record| record.event.time >= at(30))
        .cloned()
        .collect();
    assert_eq!(removed as usize, before.len() - expected_survivors.len());
    assert_eq!(removed, 3, "the records at 10, 20 and 29 s");
    let after = audit_log(&*store).await;
    assert_eq!(after.len(), expected_survivors.len() + 1);
    assert_eq!(
        after[..expected_survivors.len()],
        expected_survivors[..],
        "the survivors are unchanged, sequence numbers included"
    );
    let own = &after.last().expect("the prune's record").event;
    assert_eq!(own.action, "PruneAuditLog");
    assert_eq!(own.detail.as_deref(), Some("removed=3"));
    assert!(after.last().unwrap().sequence > before.last().unwrap().sequence);
}

pub async fn prune_with_nothing_older_removes_nothing_and_still_records_itself(
    store: Arc<dyn Store>,
) {
    initialize(&*store).await;
    store
        .append_audit_events(vec![event_at(10, "Kept")])
        .await
        .expect("appending");
    let before = audit_log(&*store).await;
    let removed = store
        .prune_audit_events(at(10), prune_event(20))
        .await
        .expect("pruning");
    assert_eq!(removed, 0, "a record exactly at the cutoff is kept");
    let after = audit_log(&*store).await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        after.last().unwrap().event.detail.as_deref(),
        Some("removed=0")
    );
    // Pruning again removes the earlier prune's record only once it is older than the cutoff.
    let removed = store
        .prune_audit_events(at(21), prune_event(30))
        .await
        .expect("pruning again");
    assert_eq!(removed as usize, before.len() + 1);
    let last = audit_log(&*store).await;
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].event.detail.as_deref(),
        Some(&*format!("removed={removed}"))
    );
}
