//! Throttling of failed authentication per source address: every request refused before its
//! caller was authenticated counts against the address it came from (a GCRA [`Cell`], driven
//! by the `now` its caller passes in), and once an address has failed too often every request
//! from it is refused before any parsing or signature check until its budget refills. Only the
//! failing address is affected: a client elsewhere, even one using the same access key, is not.
//!
//! Memory is bounded: an entry whose theoretical arrival time has passed carries no state (a
//! fresh entry would behave the same), so idle entries are dropped exactly; at most
//! [`MAX_TRACKED_SOURCES`] addresses are tracked at once, and a new address beyond that (after
//! dropping the idle ones) is not tracked until room frees up.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::rate_limit::Cell;

/// The most source addresses tracked at once.
pub const MAX_TRACKED_SOURCES: usize = 65_536;
/// Shards of the table, so that concurrent requests from different addresses rarely contend.
const SHARDS: usize = 16;

/// How many failed authentications a source address may make: `per_second` sustained after a
/// burst of `burst`; `per_second` 0 turns the throttle off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationFailureLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl AuthenticationFailureLimit {
    /// The default: 10 failures a second after a burst of 100.
    pub const DEFAULT: Self = Self {
        per_second: 10,
        burst: 100,
    };

    /// No throttling.
    pub const DISABLED: Self = Self {
        per_second: 0,
        burst: 0,
    };
}

impl Default for AuthenticationFailureLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The key an address is throttled under: an IPv4 address, the /64 prefix of an IPv6 address
/// (one host or site usually holds a whole /64, so its addresses share one budget), or the text
/// of anything else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SourceKey {
    Ipv4(u32),
    Ipv6Prefix(u64),
    Other(Box<str>),
}

impl SourceKey {
    fn of(source_address: &str) -> Self {
        match source_address.parse::<IpAddr>() {
            Ok(IpAddr::V4(address)) => SourceKey::Ipv4(u32::from(address)),
            Ok(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
                Some(address) => SourceKey::Ipv4(u32::from(address)),
                None => SourceKey::Ipv6Prefix((u128::from(address) >> 64) as u64),
            },
            Err(_) => SourceKey::Other(crate::audit::truncated(source_address, 64).into()),
        }
    }

    fn shard(&self) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish() as usize % SHARDS
    }
}

/// The throttle: per source address, the theoretical arrival time of its next failure.
#[derive(Debug)]
pub struct AuthenticationThrottle {
    cell: Option<Cell>,
    shards: Vec<Mutex<HashMap<SourceKey, i128>>>,
    /// How many addresses are tracked, so that the common case (no recent failure anywhere)
    /// costs one atomic read.
    tracked: AtomicUsize,
}

impl AuthenticationThrottle {
    pub fn new(limit: AuthenticationFailureLimit) -> Self {
        Self {
            cell: (limit.per_second > 0).then(|| Cell::new(limit.per_second, limit.burst)),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            tracked: AtomicUsize::new(0),
        }
    }

    /// Whether requests from `source_address` are refused at `now`: it failed authentication
    /// so often that one more failure would exceed its limit.
    pub fn throttled(&self, source_address: &str, now: OffsetDateTime) -> bool {
        let Some(cell) = &self.cell else {
            return false;
        };
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let key = SourceKey::of(source_address);
        let shard = self.shards[key.shard()].lock();
        shard
            .get(&key)
            .is_some_and(|arrival| !cell.would_admit(*arrival, now.unix_timestamp_nanos()))
    }

    /// Counts one failed authentication from `source_address` at `now`.
    pub fn record_failure(&self, source_address: &str, now: OffsetDateTime) {
        let Some(cell) = &self.cell else {
            return;
        };
        let now_nanos = now.unix_timestamp_nanos();
        let key = SourceKey::of(source_address);
        let mut shard = self.shards[key.shard()].lock();
        if let Some(arrival) = shard.get_mut(&key) {
            cell.admit(arrival, now_nanos);
            return;
        }
        if shard.len() >= MAX_TRACKED_SOURCES / SHARDS {
            let before = shard.len();
            shard.retain(|_, arrival| *arrival > now_nanos);
            self.tracked
                .fetch_sub(before - shard.len(), Ordering::Relaxed);
            if shard.len() >= MAX_TRACKED_SOURCES / SHARDS {
                return;
            }
        }
        let mut arrival = now_nanos;
        cell.admit(&mut arrival, now_nanos);
        shard.insert(key, arrival);
        self.tracked.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops the entries of addresses whose budget has fully refilled by `now`.
    pub fn forget_idle(&self, now: OffsetDateTime) {
        let now_nanos = now.unix_timestamp_nanos();
        for shard in &self.shards {
            let mut shard = shard.lock();
            let before = shard.len();
            shard.retain(|_, arrival| *arrival > now_nanos);
            self.tracked
                .fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
    }

    /// How many addresses are tracked.
    pub fn tracked_sources(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }
}
