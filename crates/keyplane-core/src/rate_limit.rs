//! Per-account, per-action request rate limits: a keyed GCRA (generic cell rate algorithm)
//! limiter driven by the `now` its caller passes in, so tests control time exactly. A limit of
//! N per second admits a burst of N and then one request every 1/N seconds.

use std::collections::HashMap;

use parking_lot::Mutex;
use time::OffsetDateTime;

/// Limits by `product:Action` name, in requests per second; actions without an entry are
/// unlimited.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    per_second: HashMap<String, u32>,
    disabled: bool,
}

impl RateLimits {
    /// The limits `defaults` names (`product:Action`, per second; a 0 sets none). The core
    /// knows no product's limits: each dialect publishes its own defaults and the composition
    /// root passes them in.
    pub fn with_defaults<'a>(defaults: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        let mut limits = Self::default();
        for (name, per_second) in defaults {
            limits.set(name, per_second);
        }
        limits
    }

    /// Sets (or with 0, removes) the limit of one `product:Action`.
    pub fn set(&mut self, name: &str, per_second: u32) {
        if per_second == 0 {
            self.per_second.remove(name);
        } else {
            self.per_second.insert(name.to_owned(), per_second);
        }
    }

    /// Turns every limit off.
    pub fn disable(&mut self) {
        self.disabled = true;
    }

    /// The limit of one `product:Action`, if any.
    pub fn limit(&self, name: &str) -> Option<u32> {
        if self.disabled {
            return None;
        }
        self.per_second.get(name).copied()
    }

    /// The limit of `action` of `product`, found without building the `product:Action` name.
    pub fn limit_of(&self, product: &str, action: &str) -> Option<u32> {
        if self.disabled {
            return None;
        }
        self.per_second.iter().find_map(|(name, per_second)| {
            let (name_product, name_action) = name.split_once(':')?;
            (name_product == product && name_action == action).then_some(*per_second)
        })
    }
}

/// The limiter: remembers, per (account, action), the theoretical arrival time of the next
/// request.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    theoretical_arrival: Mutex<HashMap<(u64, String), i128>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            theoretical_arrival: Mutex::new(HashMap::new()),
        }
    }

    /// Admits or refuses one request of `product`'s `action` by `account_id` at `now`.
    pub fn admit(&self, account_id: u64, product: &str, action: &str, now: OffsetDateTime) -> bool {
        let Some(per_second) = self.limits.limit_of(product, action) else {
            return true;
        };
        let action = format!("{product}:{action}");
        let now_nanos = now.unix_timestamp_nanos();
        let cell = Cell::new(per_second, per_second);
        let mut table = self.theoretical_arrival.lock();
        let entry = table
            .entry((account_id, action.to_owned()))
            .or_insert(now_nanos);
        let admitted = cell.admit(entry, now_nanos);
        if table.len() > 100_000 {
            table.retain(|_, arrival| *arrival > now_nanos);
        }
        admitted
    }
}

/// One GCRA rate: `per_second` conforming events a second, after a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Nanoseconds between two events at the sustained rate.
    interval: i128,
    /// How far ahead of `now` the theoretical arrival time may run before an event is refused.
    burst_tolerance: i128,
}

impl Cell {
    /// The rate of `per_second` events a second with a burst of `burst` (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval = 1_000_000_000_i128 / i128::from(per_second.max(1));
        Self {
            interval,
            burst_tolerance: interval * (i128::from(burst.max(1)) - 1),
        }
    }

    /// Whether an event at `now_nanos` conforms given the theoretical arrival time `arrival`;
    /// when it does, `arrival` moves on by one interval. A refused event changes nothing.
    pub fn admit(&self, arrival: &mut i128, now_nanos: i128) -> bool {
        if !self.would_admit(*arrival, now_nanos) {
            return false;
        }
        *arrival = self.effective(*arrival, now_nanos).max(now_nanos) + self.interval;
        true
    }

    /// Whether an event at `now_nanos` would conform, without counting it.
    pub fn would_admit(&self, arrival: i128, now_nanos: i128) -> bool {
        self.effective(arrival, now_nanos).max(now_nanos) - now_nanos <= self.burst_tolerance
    }

    /// `arrival`, or `now_nanos` when `arrival` is further ahead than admitted events can ever
    /// put it (which happens only when the clock stepped back): a backward step of the clock
    /// forgets the history instead of refusing for as long as the step.
    fn effective(&self, arrival: i128, now_nanos: i128) -> i128 {
        if arrival - now_nanos > self.burst_tolerance + self.interval {
            now_nanos
        } else {
            arrival
        }
    }
}
