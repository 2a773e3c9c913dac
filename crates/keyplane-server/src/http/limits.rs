//! What one client may cost the server: request bodies sized for each route, a minimum send
//! rate, a budget of body bytes buffered at once across every connection, and the connection
//! limits and header timeout the listener enforces (see [`super::listener`]).
//!
//! A body larger than its route allows is refused as soon as that is known: from its declared
//! `Content-Length` before a byte of it is read, or while it streams in, and answered at once.
//! A refused body that declares at most [`MAX_DRAINED_BODY_BYTES`] is then read and discarded
//! (so that a client still writing a slightly over-sized body reads the error instead of a
//! reset connection, and keeps its connection); anything else closes the connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

/// Default body limit of the management APIs (Tencent CAM/API Gateway, Alibaba RAM/IMS/SMC
/// RPC and ACS3): a policy document is at most 6,144 characters, which JSON or form escaping
/// can triple, and nothing else they take comes near that.
pub const DEFAULT_MAX_API_BODY_BYTES: usize = 64 * 1024;
/// Default body limit of the SMC agent's registration (`POST /smc/v1/source-servers`): four
/// short strings.
pub const DEFAULT_MAX_REGISTRATION_BODY_BYTES: usize = 8 * 1024;
/// Default body limit of the PAI-EAS ROA API (`/api/v2/services/…`): its calls are GETs.
pub const DEFAULT_MAX_EAS_BODY_BYTES: usize = 4 * 1024;
/// The largest body limit that may be configured.
pub const MAX_CONFIGURABLE_BODY_BYTES: usize = keyplane_tencent::envelope::MAX_TC3_BODY_BYTES;
/// Default budget of request-body bytes buffered at once across all connections.
pub const DEFAULT_MAX_BUFFERED_BODY_BYTES: usize = 64 * 1024 * 1024;
/// At most this much of a refused body is read and discarded before the connection closes.
pub const MAX_DRAINED_BODY_BYTES: usize = 256 * 1024;
/// How long draining a refused body may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Default time a client has for its request headers, which is also how long an idle
/// keep-alive connection is kept.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// Default time a client has for a whole request body.
pub const DEFAULT_BODY_READ_TIMEOUT_SECONDS: u64 = 30;
/// Default minimum body send rate once the grace period is over.
pub const DEFAULT_MIN_BODY_BYTES_PER_SECOND: u64 = 1024;
/// Default grace period before the minimum body rate applies.
pub const DEFAULT_BODY_RATE_GRACE_SECONDS: u64 = 5;
/// Default limit on open client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default limit on open connections from one source address (one IPv6 /64).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;

/// The body limit of each route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Tencent (TC3, v1) and the Alibaba RPC/ACS3 management APIs.
    pub api: usize,
    /// The SMC agent's registration endpoint.
    pub registration: usize,
    /// The PAI-EAS ROA API.
    pub eas: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            api: DEFAULT_MAX_API_BODY_BYTES,
            registration: DEFAULT_MAX_REGISTRATION_BODY_BYTES,
            eas: DEFAULT_MAX_EAS_BODY_BYTES,
        }
    }
}

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRate {
    /// The whole body must arrive within this.
    pub timeout: Duration,
    /// After `grace`, at least this many bytes per second since the body began; and (unless
    /// 0) no pause between two parts of the body longer than `grace`.
    pub min_bytes_per_second: u64,
    pub grace: Duration,
}

impl Default for BodyRate {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(DEFAULT_BODY_READ_TIMEOUT_SECONDS),
            min_bytes_per_second: DEFAULT_MIN_BODY_BYTES_PER_SECOND,
            grace: Duration::from_secs(DEFAULT_BODY_RATE_GRACE_SECONDS),
        }
    }
}

/// How many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_total: usize,
    /// Per TCP peer address (IPv6 peers are counted per /64); connections from trusted
    /// proxies count only towards `max_total`.
    pub max_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_total: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Every front-door limit, resolved from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontLimits {
    pub body: BodyLimits,
    pub body_rate: BodyRate,
    pub max_buffered_body_bytes: usize,
    pub connections: ConnectionLimits,
    pub header_read_timeout: Duration,
}

impl Default for FrontLimits {
    fn default() -> Self {
        Self {
            body: BodyLimits::default(),
            body_rate: BodyRate::default(),
            max_buffered_body_bytes: DEFAULT_MAX_BUFFERED_BODY_BYTES,
            connections: ConnectionLimits::default(),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
        }
    }
}

/// The request-body bytes that all connections together may hold in memory at once.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held now (for tests and logs).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }
}

/// Bytes of the [`BodyBudget`] held by one request until it is answered.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl Reservation {
    pub fn empty(budget: &Arc<BodyBudget>) -> Self {
        Self {
            budget: budget.clone(),
            bytes: 0,
        }
    }

    /// Holds at least `bytes` in all; false when the budget cannot give them.
    fn hold(&mut self, bytes: usize) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        if !self.budget.take(bytes - self.bytes) {
            return false;
        }
        self.bytes = bytes;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Why a request body was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    /// Over the route's limit (the limit is carried for the error message).
    TooLarge(usize),
    /// Cut off, malformed, or not sent within the deadline.
    Incomplete,
    /// Sent slower than the minimum rate.
    TooSlow,
    /// The server already holds its budget of body bytes.
    Busy,
}

/// Reads a body of at most `limit` bytes, holding budget for what it buffers, at the minimum
/// rate. `declared` is the request's `Content-Length`, if any.
pub async fn read_body(
    body: &mut Incoming,
    declared: Option<u64>,
    limit: usize,
    rate: &BodyRate,
    reservation: &mut Reservation,
) -> Result<Bytes, BodyProblem> {
    let mut collected = match declared {
        Some(length) if length > limit as u64 => return Err(BodyProblem::TooLarge(limit)),
        Some(length) => {
            let length = usize::try_from(length).unwrap_or(limit);
            if !reservation.hold(length) {
                return Err(BodyProblem::Busy);
            }
            BytesMut::with_capacity(length)
        }
        None => BytesMut::new(),
    };
    let started = Instant::now();
    let deadline = started + rate.timeout;
    let mut last_progress = started;
    loop {
        // The moment by which more must have arrived: to keep the minimum average rate, and
        // (with a minimum rate at all) after no pause longer than the grace period.
        let rate_deadline = match rate.min_bytes_per_second {
            0 => deadline,
            per_second => {
                let allowed = Duration::from_secs_f64(collected.len() as f64 / per_second as f64);
                (started + rate.grace + allowed)
                    .min(last_progress + rate.grace)
                    .min(deadline)
            }
        };
        let frame = match tokio::time::timeout_at(rate_deadline, body.frame()).await {
            Ok(Some(frame)) => frame.map_err(|_| BodyProblem::Incomplete)?,
            Ok(None) => break,
            Err(_) if rate_deadline < deadline => return Err(BodyProblem::TooSlow),
            Err(_) => return Err(BodyProblem::Incomplete),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        last_progress = Instant::now();
        let total = collected.len().saturating_add(data.len());
        if total > limit {
            return Err(BodyProblem::TooLarge(limit));
        }
        // Held as the buffer will grow (it doubles), so that the budget counts real memory.
        if !reservation.hold(total.max(collected.capacity()).min(limit)) {
            return Err(BodyProblem::Busy);
        }
        collected.extend_from_slice(&data);
    }
    Ok(collected.freeze())
}

/// Whether a refused body of `declared` bytes is small enough to be read and discarded.
pub fn is_drainable(declared: u64) -> bool {
    declared <= MAX_DRAINED_BODY_BYTES as u64
}

/// After a refusal has been answered, reads and discards what remains of a body (at most
/// [`MAX_DRAINED_BODY_BYTES`], within [`DRAIN_TIMEOUT`]), so that the connection can carry the
/// next request; a body that does not finish in time is dropped, which closes the connection.
pub async fn drain(mut body: Incoming) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut total = 0_usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len());
                if total > MAX_DRAINED_BODY_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_and_returned() {
        let budget = BodyBudget::new(100);
        let mut first = Reservation::empty(&budget);
        let mut second = Reservation::empty(&budget);
        assert!(first.hold(60));
        assert!(!second.hold(41));
        assert!(second.hold(40));
        assert!(first.hold(60), "holding what is held costs nothing");
        assert_eq!(budget.used(), 100);
        drop(first);
        assert_eq!(budget.used(), 40);
        assert!(second.hold(100));
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
