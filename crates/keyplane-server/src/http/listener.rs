//! The accept loop: connection limits (global, and per TCP peer address), the optional TLS
//! handshake, hyper's HTTP/1.1 limits, and graceful shutdown.
//!
//! A connection over a limit is accepted and closed at once, without a task or a byte of
//! buffer, so a flood costs the server one `accept` and one `close` per attempt. The header
//! read timeout bounds both a slow header sender and an idle keep-alive connection (hyper
//! starts it whenever a connection waits for a request); the TLS handshake has the same
//! bound.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use super::limits::ConnectionLimits;
use super::tls::Tls;
use super::AppState;

/// The largest header section hyper buffers; larger requests are refused by hyper itself.
const MAX_HEADER_BUFFER_BYTES: usize = 1024 * 1024;
/// The most headers one request may carry; hyper refuses more itself (431). hyper sizes its
/// per-request header index table by this, so it is kept near what clients send (about 15).
const MAX_HEADERS: usize = 128;

/// How the listener treats connections.
#[derive(Clone)]
pub struct ListenerSettings {
    pub connections: ConnectionLimits,
    pub header_read_timeout: Duration,
    /// `None`: plain HTTP.
    pub tls: Option<Tls>,
}

/// The key a connection is counted under: the address, or an IPv6 peer's /64 (one host or
/// site usually holds a whole /64).
fn address_key(address: IpAddr) -> IpAddr {
    match super::client_address::canonical(address) {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
        v4 => v4,
    }
}

/// Open connections, in all and per address.
pub struct ConnectionCounter {
    limits: ConnectionLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; counted until dropped.
pub struct Admission {
    counter: Arc<ConnectionCounter>,
    key: Option<IpAddr>,
}

impl ConnectionCounter {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Admits a connection from `peer` unless a limit is reached; `exempt` peers (trusted
    /// proxies, which carry many clients) count only towards the global limit.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, exempt: bool) -> Option<Admission> {
        let mut open = self.open.lock();
        let (total, per_address) = &mut *open;
        if *total >= self.limits.max_total {
            return None;
        }
        let key = (!exempt).then(|| address_key(peer));
        if let Some(key) = key {
            let count = per_address.entry(key).or_insert(0);
            if *count >= self.limits.max_per_address {
                return None;
            }
            *count += 1;
        }
        *total += 1;
        Some(Admission {
            counter: self.clone(),
            key,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock();
        let (total, per_address) = &mut *open;
        *total -= 1;
        if let Some(key) = self.key {
            if let Some(count) = per_address.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    per_address.remove(&key);
                }
            }
        }
    }
}

/// Raises the open-file soft limit to the hard limit, so that the connection limits, not the
/// file-descriptor limit, decide who is refused. Returns the limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(%error, "could not raise the open-file limit to its hard limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Connections refused at the limits, logged at most once per [`REFUSAL_REPORT_INTERVAL`] so
/// that a flood does not flood the log too.
#[derive(Default)]
struct RefusalReport {
    since_last: u64,
    last: Option<tokio::time::Instant>,
}

const REFUSAL_REPORT_INTERVAL: Duration = Duration::from_secs(10);

impl RefusalReport {
    fn count(&mut self) {
        self.since_last += 1;
        let now = tokio::time::Instant::now();
        if self
            .last
            .is_none_or(|last| now.duration_since(last) >= REFUSAL_REPORT_INTERVAL)
        {
            tracing::warn!(
                refused = self.since_last,
                "connections refused: a connection limit (max_connections or \
                 max_connections_per_address) is reached"
            );
            self.since_last = 0;
            self.last = Some(now);
        }
    }
}

/// Serves one connection until it ends or the server stops.
fn spawn_connection<I>(
    io: I,
    builder: http1::Builder,
    state: Arc<AppState>,
    peer: SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
    admission: Admission,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer_address: Arc<str> = Arc::from(super::client_address::canonical(peer.ip()).to_string());
    let service = service_fn(move |request| {
        super::serve_request(state.clone(), peer, peer_address.clone(), request)
    });
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::spawn(async move {
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = async {
                let _ = stop.wait_for(|stopping| *stopping).await;
            } => {
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "connection ended with an error");
        }
        drop(stop);
        drop(admission);
    });
}

/// Serves until `shutdown` resolves, then drains connections for up to `grace`: each
/// connection is asked to finish its in-flight request and close, and the gateway's terminal
/// and log sessions are ended (their programs signalled and reaped).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    settings: ListenerSettings,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    // hyper-util's GracefulShutdown cannot watch connections that allow upgrades, so each
    // connection task watches this channel itself; the sender learns when all have ended.
    let (stop_connections, _) = tokio::sync::watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(MAX_HEADER_BUFFER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let counter = ConnectionCounter::new(settings.connections);
    let handshake_timeout = settings.header_read_timeout;
    let mut refusals = RefusalReport::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let exempt = state.front.trusted_proxies.trusts(peer.ip());
                let Some(admission) = counter.admit(peer.ip(), exempt) else {
                    drop(stream);
                    refusals.count();
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let stop = stop_connections.subscribe();
                match &settings.tls {
                    None => spawn_connection(
                        stream, builder.clone(), state.clone(), peer, stop, admission,
                    ),
                    Some(tls) => {
                        let acceptor = tls.acceptor().clone();
                        let builder = builder.clone();
                        let state = state.clone();
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(
                                handshake_timeout,
                                acceptor.accept(stream),
                            )
                            .await;
                            match handshake {
                                Ok(Ok(stream)) => {
                                    spawn_connection(stream, builder, state, peer, stop, admission)
                                }
                                Ok(Err(error)) => {
                                    tracing::debug!(%peer, %error, "TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_connections.send(true);
    let drained = tokio::time::timeout(grace, async {
        tokio::join!(stop_connections.closed(), state.gateway.shut_down(grace));
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_per_address_and_in_total() {
        let counter = ConnectionCounter::new(ConnectionLimits {
            max_total: 3,
            max_per_address: 2,
        });
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "2001:db8::1".parse().unwrap();
        let two_neighbour: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        let first = counter.admit(one, false).unwrap();
        let _second = counter.admit(one, false).unwrap();
        assert!(counter.admit(one, false).is_none());
        let _third = counter.admit(two, false).unwrap();
        assert!(
            counter.admit(two_neighbour, true).is_none(),
            "total reached"
        );
        drop(first);
        assert!(
            counter.admit(two_neighbour, false).is_some(),
            "same /64, second connection"
        );
        let proxy = ConnectionCounter::new(ConnectionLimits {
            max_total: 10,
            max_per_address: 1,
        });
        let _held: Vec<_> = (0..5)
            .map(|_| proxy.admit(one, true).expect("exempt"))
            .collect();
    }
}
