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
    /// The published per-API limits of the supported products.
    pub fn published_defaults() -> Self {
        let mut limits = Self::default();
        for (name, per_second) in [
            ("cam:CreateAccessKey", 5),
            ("cam:UpdateAccessKey", 5),
            ("cam:DeleteAccessKey", 5),
            ("cam:ListAccessKeys", 20),
            ("apigateway:CreateApiKey", 20),
        ] {
            limits.per_second.insert(name.to_owned(), per_second);
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
        let interval = 1_000_000_000_i128 / i128::from(per_second);
        let burst_tolerance = interval * (i128::from(per_second) - 1);
        let mut table = self.theoretical_arrival.lock();
        let entry = table
            .entry((account_id, action.to_owned()))
            .or_insert(now_nanos);
        let arrival = (*entry).max(now_nanos);
        if arrival - now_nanos > burst_tolerance {
            return false;
        }
        *entry = arrival + interval;
        if table.len() > 100_000 {
            table.retain(|_, arrival| *arrival > now_nanos);
        }
        true
    }
}
