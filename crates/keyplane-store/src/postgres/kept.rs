//! Connections the batch runners keep between batches instead of returning them to the pool.
//!
//! sqlx tests every connection with a round trip when it goes back to its pool (and, by
//! default, again when it is taken out), which would double the round trips, and the server
//! wake-ups, of every batch. The runners take a connection from here, and give it back only
//! if it is known to be healthy (the batch succeeded, or the server answered it with an
//! error); one that broke or is in an unknown state is dropped and so returns to the pool,
//! whose test closes it. A connection kept idle for [`PING_WHEN_IDLE_FOR`] or more is tested
//! before it is used again, as the pool would.
//!
//! The connections still count against the pool's size: at most one per batch in flight is
//! ever kept.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::{Connection, Postgres};

/// A connection idle for this long is checked with a round trip before it is used.
pub(crate) const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Connections kept out of the pool by the batch runners, with when each was last used.
pub(crate) struct KeptConnections {
    pool: PgPool,
    idle: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
}

impl KeptConnections {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A kept connection (the most recently used, which is the least likely to need a test),
    /// or a new one from the pool.
    pub(crate) async fn take(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        loop {
            let kept = self.idle.lock().pop();
            let Some((mut connection, last_used)) = kept else {
                return self.pool.acquire().await;
            };
            if last_used.elapsed() < PING_WHEN_IDLE_FOR || connection.ping().await.is_ok() {
                return Ok(connection);
            }
            // Broken: dropping it hands it back to the pool, which closes it.
        }
    }

    /// Keeps a connection that is known to be healthy for the next batch.
    pub(crate) fn keep(&self, connection: PoolConnection<Postgres>) {
        self.idle.lock().push((connection, Instant::now()));
    }

    /// Hands every kept connection back to the pool (before the pool closes).
    pub(crate) fn release_all(&self) {
        self.idle.lock().clear();
    }
}

/// Whether a connection that failed with `error` is still in a known, usable state: the
/// server answered with an error, which ends the statement (and its implicit transaction).
pub(crate) fn still_usable_after(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(_))
}
