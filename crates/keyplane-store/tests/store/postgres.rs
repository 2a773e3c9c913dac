//! The PostgreSQL backend: every conformance case on a fresh `PostgresStore`, each in its own
//! schema of the database named by `KEYPLANE_TEST_DATABASE_URL` (CI creates a scratch database
//! for the run and drops it afterwards). Without that variable every case reports, on stdout
//! and stderr, that the PostgreSQL half was skipped.
//!
//! Beyond the conformance suite: the audit table refuses changes, a nonce is shared by two
//! nodes, a pool too small for its batches is refused, and changes reach every node's listener;
//! the group-commit function is given hand-built batches in `postgres_batch`.

use keyplane_core::store::{DeleteUser, UsedNonce, UserPolicy};
use std::sync::Arc;

use keyplane_core::model::{KeyFamily, PolicyType};
use keyplane_core::store::{DeleteUserOptions, NonceStore};
use keyplane_store::postgres::{PoolSettings, PostgresStore};
use keyplane_store::StoreChange;
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

use crate::support::{at, create_access_key, new_access_key, user, ACCOUNT_ID};

use crate::conformance::conformance_tests;
use crate::postgres_batch::batch_key_id;
use crate::support::TestStore;

/// The environment variable naming the PostgreSQL database the suite may use.
pub const DATABASE_URL_VARIABLE: &str = "KEYPLANE_TEST_DATABASE_URL";

/// Prints `message` where both `cargo test` and its captured output will show it.
fn report_skip(message: &str) {
    eprintln!("{message}");
    println!("{message}");
}

/// The PostgreSQL factory: a new schema named after a random id, a store whose connections
/// use it as their search path, migrated. `None` (skip) when no database is configured.
pub async fn fresh_postgres_store() -> Option<TestStore> {
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
    let statements = [
        "UPDATE audit_events SET outcome = 'Forged'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE time < 9223372036854775807",
    ];
    for statement in statements {
        let error = sqlx::query(statement)
            .execute(&mut connection)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    // A prune removes what is older than its cutoff; the table stays closed to everything
    // else, on this connection too (the prune's setting ended with its transaction).
    let removed = store
        .prune_audit_events(
            crate::support::at(2),
            Box::new(|removed| keyplane_core::audit::AuditEvent {
                detail: Some(format!("removed={removed}")),
                time: crate::support::at(3),
                ..crate::support::audit_event("PruneAuditLog", "audit")
            }),
        )
        .await
        .expect("pruning");
    assert_eq!(removed, 1);
    for statement in statements {
        let error = sqlx::query(statement)
            .execute(&mut connection)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    let left = store.audit_records(0, 10).await.expect("reading");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.detail.as_deref(), Some("removed=1"));
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
            .remember_nonce(UsedNonce::new("LTAIkey", "n", now + window), now)
            .await,
        Ok(true)
    );
    let later = now + time::Duration::minutes(14);
    assert_eq!(
        second_node
            .remember_nonce(UsedNonce::new("LTAIkey", "n", later + window), later)
            .await,
        Ok(false)
    );
    let expired = now + window;
    assert_eq!(
        second_node
            .remember_nonce(UsedNonce::new("LTAIkey", "n", expired + window), expired)
            .await,
        Ok(true)
    );
    assert_eq!(
        first_node
            .remember_nonce(UsedNonce::new("LTAIkey", "n", expired + window), expired)
            .await,
        Ok(false)
    );
    second_node.close().await;
}

/// Batch runners keep their connections, so a pool too small to leave one for other queries
/// is refused when the store opens, rather than starving them later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_pool_too_small_for_its_batches_is_refused() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = test_store.resource::<String>().expect("the schema name");
    let defaults = PoolSettings::default();
    let needed =
        u32::try_from(defaults.write_batches.in_flight + defaults.listing_batches.in_flight + 2)
            .expect("a small number");
    let too_small = PoolSettings {
        max_connections: needed - 1,
        ..PoolSettings::default()
    };
    let refused = PostgresStore::connect_with(
        options.clone().options([("search_path", schema.as_str())]),
        &too_small,
    )
    .await
    .expect_err("a pool one connection short is refused");
    assert!(
        refused
            .to_string()
            .contains(&format!("at least {needed} connections")),
        "{refused}"
    );
    let enough = PoolSettings {
        max_connections: needed,
        ..PoolSettings::default()
    };
    let store =
        PostgresStore::connect_with(options.options([("search_path", schema.as_str())]), &enough)
            .await
            .expect("a pool just large enough opens");
    store.close().await;
}

/// Payloads of `keyplane_key_changes` as a listener reads them: key ids are alphanumeric,
/// permission changes `user:<account>:<uin>`, anything else means "forget everything".
#[test]
fn postgres_change_payloads_are_parsed_robustly() {
    assert_eq!(
        StoreChange::from_payload("AKID0123456789abcdefABCDEF"),
        StoreChange::Key("AKID0123456789abcdefABCDEF".to_owned())
    );
    assert_eq!(
        StoreChange::from_payload("user:100000000001:100000000101"),
        StoreChange::UserPermissions {
            account_id: 100_000_000_001,
            uin: 100_000_000_101,
        }
    );
    for payload in [
        "",
        "user:",
        "user:1",
        "user:1:",
        "user::2",
        "user:x:2",
        "user:1:2:3",
        "user:+1:2",
        "user:1:99999999999999999999",
        "AKID-1",
        "AKID 1",
        "key:AKID1",
    ] {
        assert_eq!(
            StoreChange::from_payload(payload),
            StoreChange::Everything,
            "{payload:?}"
        );
    }
}

/// Attaching, detaching and deleting a user reach every node's `listen_for_changes` as
/// permission changes; deleting the user also announces each of its keys, before the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_permission_changes_reach_listeners() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let store = test_store.store();
    crate::support::initialize(&*store).await;
    // Notifications are seen database-wide: a uin and key ids no other test uses.
    const LISTENED_UIN: u64 = 100_000_000_777;
    let listened = StoreChange::UserPermissions {
        account_id: ACCOUNT_ID,
        uin: LISTENED_UIN,
    };
    let key_ids = [batch_key_id("LISTEN", 1), batch_key_id("LISTEN", 2)];
    store
        .create_user(
            user(LISTENED_UIN, "listened", at(10)),
            crate::support::audit_event("CreateUser", "listened"),
        )
        .await
        .expect("creating the user");
    for key_id in &key_ids {
        create_access_key(
            &*store,
            &new_access_key(key_id, LISTENED_UIN, KeyFamily::Tencent, at(11)),
        )
        .await;
    }

    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = test_store.resource::<String>().expect("the schema name");
    let other_node = PostgresStore::connect_with(
        options.options([("search_path", schema.as_str())]),
        &PoolSettings::default(),
    )
    .await
    .expect("another node's store");
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let listening = {
        let other_node = other_node.clone();
        tokio::spawn(async move {
            other_node
                .listen_for_changes(move |change| {
                    let _ = sender.send(change);
                })
                .await;
        })
    };
    // The listener announces Everything once it listens.
    assert_eq!(next_change(&mut changes).await, StoreChange::Everything);

    let event = |action: &str| crate::support::audit_event(action, "listened");
    store
        .attach_policy(
            UserPolicy::new(
                ACCOUNT_ID,
                LISTENED_UIN,
                PolicyType::System,
                "ReadOnlyAccess",
            )
            .attached_at(at(20), 10),
            event("AttachUserPolicy"),
        )
        .await
        .expect("attaching");
    store
        .detach_policy(
            UserPolicy::new(
                ACCOUNT_ID,
                LISTENED_UIN,
                PolicyType::System,
                "ReadOnlyAccess",
            ),
            event("DetachUserPolicy"),
        )
        .await
        .expect("detaching");
    store
        .attach_policy(
            UserPolicy::new(
                ACCOUNT_ID,
                LISTENED_UIN,
                PolicyType::System,
                "AdministratorAccess",
            )
            .attached_at(at(21), 10),
            event("AttachUserPolicy"),
        )
        .await
        .expect("attaching again");
    let deleted = store
        .delete_user(
            DeleteUser::new(
                ACCOUNT_ID,
                LISTENED_UIN,
                DeleteUserOptions {
                    remove_access_keys: true,
                    detach_policies: true,
                },
            ),
            event("DeleteUser"),
        )
        .await
        .expect("deleting the user");
    assert_eq!(deleted, key_ids.to_vec());

    let mut expected = vec![listened.clone(), listened.clone(), listened.clone()];
    expected.extend(key_ids.iter().cloned().map(StoreChange::Key));
    expected.push(listened);
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        let change = next_change(&mut changes).await;
        let ours = match &change {
            StoreChange::Key(id) => id.starts_with("AKIDLISTEN"),
            StoreChange::UserPermissions { uin, .. } => *uin == LISTENED_UIN,
            StoreChange::Everything => false,
        };
        if ours {
            seen.push(change);
        }
    }
    assert_eq!(seen, expected);
    listening.abort();
    other_node.close().await;
}

/// The next change a listener reported, within 5 s.
async fn next_change(
    changes: &mut tokio::sync::mpsc::UnboundedReceiver<StoreChange>,
) -> StoreChange {
    tokio::time::timeout(std::time::Duration::from_secs(5), changes.recv())
        .await
        .expect("a change within 5 s")
        .expect("the listener runs")
}
