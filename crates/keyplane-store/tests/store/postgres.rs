//! The PostgreSQL backend: every conformance case on a fresh `PostgresStore`, each in its own
//! schema of the database named by `KEYPLANE_TEST_DATABASE_URL` (CI creates a scratch database
//! for the run and drops it afterwards). Without that variable every case reports, on stdout
//! and stderr, that the PostgreSQL half was skipped.

use std::sync::Arc;

use keyplane_core::store::Store;
use keyplane_store::postgres::{PoolSettings, PostgresStore};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

use crate::conformance::conformance_tests;
use crate::support::TestStore;

/// The environment variable naming the PostgreSQL database the suite may use.
const DATABASE_URL_VARIABLE: &str = "KEYPLANE_TEST_DATABASE_URL";

/// Prints `message` where both `cargo test` and its captured output will show it.
fn report_skip(message: &str) {
    eprintln!("{message}");
    println!("{message}");
}

/// The PostgreSQL factory: a new schema named after a random id, a store whose connections
/// use it as their search path, migrated. `None` (skip) when no database is configured.
async fn fresh_postgres_store() -> Option<TestStore> {
    let Some(url) = std::env::var(DATABASE_URL_VARIABLE)
        .ok()
        .filter(|value| !value.is_empty())
    else {
        report_skip("PostgreSQL conformance SKIPPED: KEYPLANE_TEST_DATABASE_URL is not set");
        return None;
    };
    let schema = format!("conformance_{}", uuid_like());
    let options: PgConnectOptions = url
        .parse()
        .expect("KEYPLANE_TEST_DATABASE_URL is a PostgreSQL URL");
    let mut connection = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("connecting to KEYPLANE_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut connection)
        .await
        .expect("creating a test schema");
    connection.close().await.ok();
    let settings = PoolSettings {
        max_connections: 8,
        ..PoolSettings::default()
    };
    let store = PostgresStore::connect_with(
        options.options([("search_path", schema.as_str())]),
        &settings,
    )
    .await
    .expect("opening a PostgresStore on the test schema");
    Some(TestStore::new(Arc::new(store), schema))
}

/// A lower-case identifier fragment unique to this test run and case, for schema names.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_nanos())
        .unwrap_or_default();
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}_{:x}_{case}", std::process::id())
}

conformance_tests!(fresh_postgres_store);

/// The database itself refuses to change or remove audit events, whoever connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_events_cannot_be_updated_or_deleted() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let store = test_store.store();
    crate::support::initialize(&*store).await;
    store
        .append_audit_events(vec![crate::support::audit_event("CreateUser", "x")])
        .await
        .expect("appending");
    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = test_store
        .resource::<String>()
        .expect("the schema name")
        .clone();
    let mut connection =
        sqlx::PgConnection::connect_with(&options.options([("search_path", schema.as_str())]))
            .await
            .expect("connecting");
    for statement in [
        "UPDATE audit_events SET outcome = 'Forged'",
        "DELETE FROM audit_events",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut connection)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
}

/// Two nodes (two stores, two connection pools) on one database: a nonce one accepts is
/// refused by the other until its window ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_nonce_accepted_by_one_node_is_refused_by_another() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let first_node = test_store.store();
    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = test_store
        .resource::<String>()
        .expect("the schema name")
        .clone();
    let second_node = PostgresStore::connect_with(
        options.options([("search_path", schema.as_str())]),
        &PoolSettings::default(),
    )
    .await
    .expect("a second node's store");
    let window = time::Duration::minutes(15);
    let now = crate::support::at(0);
    assert_eq!(
        first_node
            .remember_nonce("LTAIkey", "n", now + window, now)
            .await,
        Ok(true)
    );
    let later = now + time::Duration::minutes(14);
    assert_eq!(
        second_node
            .remember_nonce("LTAIkey", "n", later + window, later)
            .await,
        Ok(false)
    );
    let expired = now + window;
    assert_eq!(
        second_node
            .remember_nonce("LTAIkey", "n", expired + window, expired)
            .await,
        Ok(true)
    );
    assert_eq!(
        first_node
            .remember_nonce("LTAIkey", "n", expired + window, expired)
            .await,
        Ok(false)
    );
    second_node.close().await;
}
