//! Aggregation of unauthenticated refusals: a request refused before its caller was
//! authenticated (an unknown key, a bad signature, a malformed credential, a bad activation
//! code or instance token) does not get an audit row of its own. Such refusals are counted per
//! (source address, claimed key id, outcome code) per [`INTERVAL_SECONDS`]-second interval of
//! the `now` the requests carry, and each aggregate becomes one audit row whose `detail` holds
//! the count and the first and last time.
//!
//! The number of rows is bounded whatever the requests claim: at most
//! [`AGGREGATES_PER_SOURCE`] aggregates per source address per interval (further claimed ids
//! collapse into one `(source, "*", code)` aggregate per code; ids of real keys do not count
//! against it, so that made-up ids cannot hide an attack on a real key), and at most
//! [`AGGREGATES_PER_INTERVAL`] aggregates per interval in all (everything beyond goes into one
//! overflow aggregate, source `*`, key `*`, outcome `*`).

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::audit::{truncated, AuditEvent};

/// The length of an aggregation interval.
pub const INTERVAL_SECONDS: i64 = 60;
/// The most aggregates one source address gets per interval before its further claimed ids
/// collapse into `*`.
pub const AGGREGATES_PER_SOURCE: usize = 16;
/// The most aggregates per interval in all, before the overflow aggregate.
pub const AGGREGATES_PER_INTERVAL: usize = 256;
/// The most closed aggregates held while the store cannot be written (several intervals).
const CLOSED_LIMIT: usize = 4 * (AGGREGATES_PER_INTERVAL + 1);
/// What stands for "any" in a collapsed aggregate's key id, source address and outcome.
pub const ANY: &str = "*";
/// How many characters of a claimed id that names no key or activation code are kept.
pub const UNKNOWN_ID_PREFIX_CHARACTERS: usize = 8;
/// What precedes the kept characters of such an id.
pub const UNKNOWN_ID_MARK: &str = "unknown:";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AggregateKey {
    source_address: String,
    key_id: Option<String>,
    outcome: String,
}

/// Refusals counted together: the first one's event stands for all of them.
#[derive(Debug, Clone)]
pub struct Aggregate {
    first_event: AuditEvent,
    count: u64,
    last: OffsetDateTime,
}

impl Aggregate {
    /// The claimed key id, as counted (before [`Aggregate::into_event`] decides how to store
    /// it); `None` for no claim and for `*`.
    pub fn claimed_key_id(&self) -> Option<&str> {
        self.first_event
            .key_id
            .as_deref()
            .filter(|key_id| *key_id != ANY)
    }

    /// The audit event of the aggregate. `key_exists` says whether its claimed id names a real
    /// key (or activation code): only then is it stored in full; otherwise only its first
    /// [`UNKNOWN_ID_PREFIX_CHARACTERS`] characters are, after [`UNKNOWN_ID_MARK`].
    pub fn into_event(self, key_exists: bool) -> AuditEvent {
        let format = |time: OffsetDateTime| {
            time.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let mut event = self.first_event;
        let detail = format!(
            "unauthenticated_refusals={} first={} last={}",
            self.count,
            format(event.time),
            format(self.last)
        );
        event.detail = Some(detail);
        if !key_exists {
            event.key_id = event.key_id.map(|key_id| {
                if key_id == ANY {
                    key_id
                } else {
                    format!(
                        "{UNKNOWN_ID_MARK}{}",
                        truncated(&key_id, UNKNOWN_ID_PREFIX_CHARACTERS)
                    )
                }
            });
        }
        event
    }
}

/// The aggregates of the current interval and those closed but not yet written.
#[derive(Debug, Default)]
pub struct RefusalAggregator {
    /// The start of the current interval, in seconds since the epoch.
    interval_start: Option<i64>,
    open: HashMap<AggregateKey, Aggregate>,
    per_source: HashMap<String, usize>,
    closed: Vec<Aggregate>,
    dropped: u64,
}

impl RefusalAggregator {
    /// Counts one unauthenticated refusal. `names_a_key` says whether its claimed id is known
    /// to name a real key: such an aggregate does not count against its source's
    /// [`AGGREGATES_PER_SOURCE`] (made-up ids cannot hide an attack on a real key), only
    /// against [`AGGREGATES_PER_INTERVAL`].
    pub fn record(&mut self, event: AuditEvent, names_a_key: bool) {
        let start = event.time.unix_timestamp().div_euclid(INTERVAL_SECONDS) * INTERVAL_SECONDS;
        match self.interval_start {
            Some(current) if start > current => {
                self.close();
                self.interval_start = Some(start);
            }
            Some(_) => {}
            None => self.interval_start = Some(start),
        }
        let mut key = AggregateKey {
            source_address: event.source_address.clone(),
            key_id: event.key_id.clone(),
            outcome: event.outcome.clone(),
        };
        if !names_a_key
            && !self.open.contains_key(&key)
            && key.key_id.as_deref() != Some(ANY)
            && self
                .per_source
                .get(&key.source_address)
                .is_some_and(|count| *count >= AGGREGATES_PER_SOURCE)
        {
            key.key_id = Some(ANY.to_owned());
        }
        if !self.open.contains_key(&key) && self.open.len() >= AGGREGATES_PER_INTERVAL {
            key = AggregateKey {
                source_address: ANY.to_owned(),
                key_id: Some(ANY.to_owned()),
                outcome: ANY.to_owned(),
            };
        }
        if let Some(aggregate) = self.open.get_mut(&key) {
            aggregate.count += 1;
            aggregate.last = aggregate.last.max(event.time);
            let first = &mut aggregate.first_event;
            if first.product != event.product || first.action != event.action {
                first.action = ANY.to_owned();
                if first.product != event.product {
                    first.product = ANY.to_owned();
                }
            }
            if first.user_agent != event.user_agent {
                first.user_agent = ANY.to_owned();
            }
            return;
        }
        if !names_a_key && key.key_id.as_deref() != Some(ANY) {
            *self
                .per_source
                .entry(key.source_address.clone())
                .or_default() += 1;
        }
        let mut first_event = event;
        first_event.source_address = key.source_address.clone();
        first_event.key_id = key.key_id.clone();
        first_event.outcome = key.outcome.clone();
        first_event.detail = None;
        first_event.account_id = None;
        first_event.principal_uin = None;
        first_event.authorization = None;
        if key.outcome == ANY {
            first_event.product = ANY.to_owned();
            first_event.action = ANY.to_owned();
            first_event.user_agent = ANY.to_owned();
        }
        let last = first_event.time;
        self.open.insert(
            key,
            Aggregate {
                first_event,
                count: 1,
                last,
            },
        );
    }

    /// Moves the open aggregates to the closed ones, oldest first.
    fn close(&mut self) {
        let mut aggregates: Vec<Aggregate> = self.open.drain().map(|(_, value)| value).collect();
        aggregates.sort_by_key(|aggregate| aggregate.first_event.time);
        self.per_source.clear();
        self.interval_start = None;
        self.keep_closed(aggregates);
    }

    fn keep_closed(&mut self, aggregates: Vec<Aggregate>) {
        for aggregate in aggregates {
            if self.closed.len() >= CLOSED_LIMIT {
                self.dropped += 1;
            } else {
                self.closed.push(aggregate);
            }
        }
    }

    /// The aggregates whose interval has ended by `now`, taken out to be written.
    pub fn take_due(&mut self, now: OffsetDateTime) -> Vec<Aggregate> {
        if self
            .interval_start
            .is_some_and(|start| now.unix_timestamp() >= start + INTERVAL_SECONDS)
        {
            self.close();
        }
        std::mem::take(&mut self.closed)
    }

    /// Every aggregate, including the current interval's (at shutdown, or for a test).
    pub fn take_all(&mut self) -> Vec<Aggregate> {
        self.close();
        std::mem::take(&mut self.closed)
    }

    /// Puts back aggregates whose write failed (kept for the next flush, within the bound).
    pub fn restore(&mut self, aggregates: Vec<Aggregate>) {
        let newer = std::mem::take(&mut self.closed);
        self.keep_closed(aggregates);
        self.keep_closed(newer);
    }

    /// How many aggregates were dropped because writing them failed for too long.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
