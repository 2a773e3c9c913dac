//! The PostgreSQL change listener cannot go deaf unnoticed: when its backend is killed
//! (`pg_terminate_backend`) it reports `Everything` and listens again; when its connection
//! silently stops delivering (a loopback TCP relay that stops forwarding, as a NAT that dropped
//! the flow would) its liveness probe times out, it reports `Everything`, reconnects, and
//! delivers changes again once the network does. Skipped without `KEYPLANE_TEST_DATABASE_URL`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyplane_store::postgres::{PoolSettings, PostgresStore, KEY_CHANGES_CHANNEL};
use keyplane_store::{ListenerProbe, StoreChange};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

/// The test database's options and a fresh schema in it; `None` (and a message) without one.
async fn test_database(test: &str) -> Option<(PgConnectOptions, String)> {
    let Some(url) = std::env::var("KEYPLANE_TEST_DATABASE_URL")
        .ok()
        .filter(|value| !value.is_empty())
    else {
        let message = format!("{test}: SKIPPED, KEYPLANE_TEST_DATABASE_URL is not set");
        eprintln!("{message}");
        println!("{message}");
        return None;
    };
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = format!(
        "listener_{test}_{}_{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    let mut connection = PgConnection::connect_with(&options).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .unwrap();
    Some((options, schema))
}

/// Starts listening with `probe`, forwarding every change to the returned receiver.
fn listen(
    store: &PostgresStore,
    probe: ListenerProbe,
) -> (UnboundedReceiver<StoreChange>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let store = store.clone();
    let task = tokio::spawn(async move {
        store
            .listen_for_changes_probing(probe, move |change| {
                let _ = sender.send(change);
            })
            .await;
    });
    (receiver, task)
}

/// Waits (at most `within`) for `wanted`, skipping other changes (notifications are
/// database-wide: other tests' keys pass by).
async fn expect_change(
    changes: &mut UnboundedReceiver<StoreChange>,
    wanted: &StoreChange,
    within: Duration,
) {
    tokio::time::timeout(within, async {
        loop {
            let change = changes.recv().await.expect("the listener runs");
            if &change == wanted {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {within:?}"));
}

/// Announces a key change from a connection of its own, as another node would.
async fn announce_key(options: &PgConnectOptions, key_id: &str) {
    let mut connection = PgConnection::connect_with(options).await.unwrap();
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(KEY_CHANGES_CHANNEL)
        .bind(key_id)
        .execute(&mut connection)
        .await
        .unwrap();
}

/// Shows that the listener delivers again: announces keys until one arrives (bounded).
async fn assert_listening(
    options: &PgConnectOptions,
    changes: &mut UnboundedReceiver<StoreChange>,
    key_id: &str,
) {
    let wanted = StoreChange::Key(key_id.to_owned());
    for _ in 0..20 {
        announce_key(options, key_id).await;
        let arrived = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if changes.recv().await.expect("the listener runs") == wanted {
                    return;
                }
            }
        })
        .await;
        if arrived.is_ok() {
            return;
        }
    }
    panic!("the listener never delivered {key_id} again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_reports_everything_and_listens_again() {
    let Some((options, schema)) = test_database("killed").await else {
        return;
    };
    let application = format!("kp-listener-test-{}", std::process::id());
    let store_options = options
        .clone()
        .application_name(&application)
        .options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(store_options, &PoolSettings::default())
        .await
        .unwrap();
    let (mut changes, task) = listen(&store, ListenerProbe::default());
    expect_change(
        &mut changes,
        &StoreChange::Everything,
        Duration::from_secs(10),
    )
    .await;
    assert_listening(&options, &mut changes, "KILLEDFIRST1").await;

    let mut connection = PgConnection::connect_with(&options).await.unwrap();
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND query ILIKE '%LISTEN%'",
    )
    .bind(&application)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "one listening backend");
    expect_change(
        &mut changes,
        &StoreChange::Everything,
        Duration::from_secs(10),
    )
    .await;
    assert_listening(&options, &mut changes, "KILLEDAGAIN2").await;
    task.abort();
}

/// A loopback TCP relay to `upstream` that stops forwarding, both ways and on every
/// connection, while `paused` is set, without closing anything.
async fn relay(upstream: SocketAddr, paused: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, paused.clone()));
            tokio::spawn(pump(server_read, client_write, paused.clone()));
        }
    });
    address
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: Arc<AtomicBool>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        while paused.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        while paused.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_stops_hearing_its_probe_reports_everything_and_reconnects() {
    let Some((options, schema)) = test_database("probe").await else {
        return;
    };
    let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await
        .unwrap()
        .find(SocketAddr::is_ipv4)
        .expect("the test database has an IPv4 address");
    let paused = Arc::new(AtomicBool::new(false));
    let relayed = relay(upstream, paused.clone()).await;
    let store_options = options
        .clone()
        .host("127.0.0.1")
        .port(relayed.port())
        .options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(store_options, &PoolSettings::default())
        .await
        .unwrap();
    let probe = ListenerProbe {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(600),
    };
    let (mut changes, task) = listen(&store, probe);
    expect_change(
        &mut changes,
        &StoreChange::Everything,
        Duration::from_secs(10),
    )
    .await;

    // While the network delivers, probes come back and nothing is forgotten.
    assert_listening(&options, &mut changes, "PROBEHEALTHY1").await;
    let quiet = tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            if changes.recv().await.expect("the listener runs") == StoreChange::Everything {
                return;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "Everything while the probes came back");

    // The relay goes silent: the probe is not heard, and the listener says so.
    paused.store(true, Ordering::Release);
    expect_change(
        &mut changes,
        &StoreChange::Everything,
        Duration::from_secs(5),
    )
    .await;
    paused.store(false, Ordering::Release);
    assert_listening(&options, &mut changes, "PROBERESUMED2").await;
    task.abort();
}
