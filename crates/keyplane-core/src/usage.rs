//! Last-use tracking without a write on the request path: every successful authentication
//! records into an in-memory map (latest use per key wins), a background task drains it into the
//! store in batches, and reads merge what is still pending with what is stored.

use std::collections::HashMap;

use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::model::KeyUsage;

/// Buffered last-use records, keyed by access key id.
#[derive(Debug, Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<String, KeyUsage>>,
}

impl UsageTracker {
    /// Records a use; keeps the later of this and any pending use of the same key.
    pub fn record(&self, usage: KeyUsage) {
        let mut pending = self.pending.lock();
        match pending.get_mut(&usage.key_id) {
            Some(existing) if existing.used_at > usage.used_at => {}
            Some(existing) => *existing = usage,
            None => {
                pending.insert(usage.key_id.clone(), usage);
            }
        }
    }

    /// Whether a use of `key_id` in the same second as `now` (or later) is already pending.
    pub fn has_use_in_second(&self, key_id: &str, now: OffsetDateTime) -> bool {
        self.pending
            .lock()
            .get(key_id)
            .is_some_and(|pending| pending.used_at.unix_timestamp() >= now.unix_timestamp())
    }

    /// Takes every pending record, leaving the buffer empty.
    pub fn drain(&self) -> Vec<KeyUsage> {
        let mut pending = self.pending.lock();
        pending.drain().map(|(_, usage)| usage).collect()
    }

    /// Puts records back after a failed flush, without overwriting newer uses.
    pub fn restore(&self, records: Vec<KeyUsage>) {
        for record in records {
            self.record(record);
        }
    }

    /// The pending record of a key, if any.
    pub fn pending(&self, key_id: &str) -> Option<KeyUsage> {
        self.pending.lock().get(key_id).cloned()
    }
}

/// Of two optional uses, the later one.
pub fn latest(left: Option<KeyUsage>, right: Option<KeyUsage>) -> Option<KeyUsage> {
    match (left, right) {
        (Some(left), Some(right)) => Some(if right.used_at > left.used_at {
            right
        } else {
            left
        }),
        (left, right) => left.or(right),
    }
}
