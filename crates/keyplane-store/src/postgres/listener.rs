//! Listening for the changes other nodes announce, on a connection that cannot silently go
//! deaf.
//!
//! A LISTEN connection that a NAT or firewall dropped without a reset looks idle, not broken:
//! no error ever arrives, and a node would keep revoked keys cached for as long as it runs.
//! So:
//!
//! - every connection asks the server for TCP keepalive (`tcp_keepalives_idle` 30 s,
//!   `tcp_keepalives_interval` 10 s, `tcp_keepalives_count` 3), so that the server side drops a
//!   dead peer within about a minute;
//! - the listener probes itself: every [`ListenerProbe::interval`] (default 15 s) it sends a
//!   notification with a payload of its own on [`PROBE_CHANNEL`] (through the pool, not the
//!   listening connection) and expects to receive it within [`ListenerProbe::timeout`]
//!   (default 5 s). When it does not, it drops the connection and listens on a new one;
//! - every (re)connection reports [`StoreChange::Everything`], so that caches drop whatever
//!   they hold, since notifications may have been missed meanwhile.
//!
//! The listening connection has a pool of its own (one connection), so that one abandoned
//! after a failed probe, whose clean-up may hang until the kernel gives up on it, never takes
//! a connection from the store's pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::time::Instant;

use super::{PostgresStore, KEY_CHANGES_CHANNEL};
use crate::postgres::changes::StoreChange;

/// The channel a listener probes itself on; other nodes' probes are seen there too, and
/// ignored.
pub const PROBE_CHANNEL: &str = "keyplane_listener_probe";

/// The server-side TCP keepalive every connection asks for (PostgreSQL settings, seconds).
pub(crate) const SERVER_KEEPALIVE: [(&str, &str); 3] = [
    ("tcp_keepalives_idle", "30"),
    ("tcp_keepalives_interval", "10"),
    ("tcp_keepalives_count", "3"),
];

/// How long to wait before trying again after failing to listen.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Numbers the listeners of this process, so that each recognises its own probes.
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(0);

/// How the listener checks that its connection still delivers notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerProbe {
    /// How long after the last probe came back the next is sent.
    pub interval: Duration,
    /// How long a probe may take to come back (and connecting may take) before the
    /// connection is given up.
    pub timeout: Duration,
}

impl Default for ListenerProbe {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
        }
    }
}

impl PostgresStore {
    /// Calls `on_change` with every change any node announces as it commits: an access key
    /// deactivated, reactivated or deleted ([`StoreChange::Key`]), a user's permissions
    /// changed (a policy attached or detached, the user deleted:
    /// [`StoreChange::UserPermissions`]), and [`StoreChange::Everything`] when notifications
    /// may have been missed (on every (re)connection, after a failed liveness probe, and for a
    /// payload it does not understand), so that caches drop everything. Runs until the task is
    /// cancelled, reconnecting as needed, with the default [`ListenerProbe`].
    pub async fn listen_for_changes(&self, on_change: impl Fn(StoreChange) + Send) {
        self.listen_for_changes_probing(ListenerProbe::default(), on_change)
            .await;
    }

    /// [`PostgresStore::listen_for_changes`] with the given liveness probe.
    pub async fn listen_for_changes_probing(
        &self,
        probe: ListenerProbe,
        on_change: impl Fn(StoreChange) + Send,
    ) {
        let listener_number = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
        let mut probes_sent: u64 = 0;
        loop {
            let Some(mut listener) = self.connect_listener(probe.timeout).await else {
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            };
            // Anything changed before this point was missed.
            on_change(StoreChange::Everything);
            let mut next_probe = Instant::now() + probe.interval;
            // The payload of the probe in flight, and when it is due back.
            let mut awaited: Option<(String, Instant)> = None;
            loop {
                let wake_at = awaited.as_ref().map_or(next_probe, |(_, due)| *due);
                tokio::select! {
                    received = listener.try_recv() => match received {
                        Ok(Some(notification)) if notification.channel() == PROBE_CHANNEL => {
                            if awaited
                                .as_ref()
                                .is_some_and(|(payload, _)| payload == notification.payload())
                            {
                                awaited = None;
                                next_probe = Instant::now() + probe.interval;
                            }
                        }
                        Ok(Some(notification)) => {
                            let change = StoreChange::from_payload(notification.payload());
                            if change == StoreChange::Everything {
                                tracing::warn!(
                                    payload = notification.payload(),
                                    "a store change notification was not understood; \
                                     forgetting everything cached"
                                );
                            }
                            on_change(change);
                        }
                        // The connection was lost and re-established: notifications were
                        // missed.
                        Ok(None) => on_change(StoreChange::Everything),
                        Err(error) => {
                            tracing::warn!(%error, "listening for store changes failed; reconnecting");
                            on_change(StoreChange::Everything);
                            break;
                        }
                    },
                    () = tokio::time::sleep_until(wake_at) => {
                        if awaited.is_some() {
                            tracing::warn!(
                                timeout = ?probe.timeout,
                                "the store change listener did not hear its own probe; \
                                 reconnecting and forgetting everything cached"
                            );
                            on_change(StoreChange::Everything);
                            break;
                        }
                        probes_sent += 1;
                        let payload = format!(
                            "{}:{listener_number}:{probes_sent}",
                            std::process::id()
                        );
                        let sent = tokio::time::timeout(
                            probe.timeout,
                            sqlx::query("SELECT pg_notify($1, $2)")
                                .bind(PROBE_CHANNEL)
                                .bind(&payload)
                                .execute(&self.pool),
                        )
                        .await;
                        if !matches!(sent, Ok(Ok(_))) {
                            tracing::warn!(
                                "the store change listener could not send its probe; \
                                 reconnecting and forgetting everything cached"
                            );
                            on_change(StoreChange::Everything);
                            break;
                        }
                        awaited = Some((payload, Instant::now() + probe.timeout));
                    }
                }
            }
        }
    }

    /// A listener on the change and probe channels, over a one-connection pool of its own
    /// with the store's connection options; `None` (logged) when that fails or takes longer
    /// than `timeout`.
    async fn connect_listener(&self, timeout: Duration) -> Option<PgListener> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let connected = tokio::time::timeout(timeout, async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener
                .listen_all([KEY_CHANGES_CHANNEL, PROBE_CHANNEL])
                .await?;
            Ok::<_, sqlx::Error>(listener)
        })
        .await;
        match connected {
            Ok(Ok(listener)) => Some(listener),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot listen for store changes; retrying");
                None
            }
            Err(_) => {
                tracing::warn!(?timeout, "listening for store changes timed out; retrying");
                None
            }
        }
    }
}
