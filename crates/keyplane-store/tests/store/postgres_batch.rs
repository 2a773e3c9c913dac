//! The PostgreSQL group-commit function (`keyplane_apply_operations`) given hand-built
//! batches, so that the paths a node only takes under load (deletions and creations made
//! together, an id taken by another transaction meanwhile) are checked deterministically.

use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection, Row};

use crate::postgres::{fresh_postgres_store, DATABASE_URL_VARIABLE};
use keyplane_core::model::KeyFamily;

use crate::support::{
    at, create_access_key, initialize_with_user, new_access_key, user, TestStore, ACCOUNT_ID,
    SECOND_USER_NAME, SECOND_USER_UIN, USER_UIN,
};

/// A connection to the test store's schema, for statements outside the Store trait.
pub async fn schema_connection(test_store: &TestStore) -> PgConnection {
    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let schema = test_store.resource::<String>().expect("the schema name");
    PgConnection::connect_with(&options.options([("search_path", schema.as_str())]))
        .await
        .expect("connecting to the test schema")
}

/// Applies one batch with `keyplane_apply_operations` and returns each operation's outcome.
/// `operations` is a JSON array of objects named as `keyplane_operation`'s fields.
async fn apply_batch(
    connection: &mut PgConnection,
    operations: &Value,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT outcome FROM keyplane_apply_operations(ARRAY( \
             SELECT jsonb_populate_record(NULL::keyplane_operation, batch.operation) \
             FROM jsonb_array_elements($1::TEXT::JSONB) WITH ORDINALITY \
                  AS batch (operation, number) \
             ORDER BY batch.number))",
    )
    .bind(operations.to_string())
    .fetch_all(connection)
    .await?
    .iter()
    .map(|row| row.try_get::<String, _>("outcome"))
    .collect()
}

/// An access-key id no other test uses (notifications are seen database-wide).
pub fn batch_key_id(test: &str, number: u32) -> String {
    format!("AKID{test}{number:0>width$}", width = 32 - test.len())
}

/// The JSON of an audit event of the root for `action` on `target`.
pub fn batch_event(action: &str, target: &str) -> Value {
    json!({
        "time": 1, "request_id": format!("{action}-{target}"), "account_id": ACCOUNT_ID,
        "principal_uin": ACCOUNT_ID, "key_id": null, "product": "cam", "action": action,
        "target": target, "outcome": "Success", "source_address": "192.0.2.10",
        "user_agent": "keyplane-conformance/1.0",
    })
}

fn batch_creation(id: &str, owner: u64) -> Value {
    json!({
        "kind": "create_access_key", "id": id, "account_id": ACCOUNT_ID, "uin": owner,
        "family": "tencent", "secret_key_version": 1, "secret_ciphertext": "\\x00ff",
        "at_time": 5, "quota": 2, "event": batch_event("CreateAccessKey", id),
    })
}

fn batch_deletion(id: &str, owner: u64) -> Value {
    json!({
        "kind": "delete_access_key", "id": id, "account_id": ACCOUNT_ID, "uin": owner,
        "event": batch_event("DeleteAccessKey", id),
    })
}

/// The request ids of the audit log, in sequence order.
async fn audited_request_ids(connection: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT request_id FROM audit_events ORDER BY sequence")
        .fetch_all(connection)
        .await
        .expect("reading the audit log")
}

/// A batch with eight deletions and ten creations, the size from which both are made by one
/// statement each: every operation gets the answer of one serial order (the deletions, the
/// rest in batch order, the creations), the audit log records that order, and every deleted
/// key is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_batch_answers_as_one_serial_order_and_audits_in_it() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let store = test_store.store();
    initialize_with_user(&*store).await;
    store
        .create_user(
            user(SECOND_USER_UIN, SECOND_USER_NAME, at(10)),
            crate::support::audit_event("CreateUser", SECOND_USER_NAME),
        )
        .await
        .expect("creating bob");
    let id = |number| batch_key_id("ORDER", number);
    // Alice holds one key, bob eight.
    create_access_key(
        &*store,
        &new_access_key(&id(0), USER_UIN, KeyFamily::Tencent, at(20)),
    )
    .await;
    for number in 1..=8 {
        create_access_key(
            &*store,
            &new_access_key(&id(number), SECOND_USER_UIN, KeyFamily::Tencent, at(21)),
        )
        .await;
    }
    let mut connection = schema_connection(&test_store).await;
    let audited_before = audited_request_ids(&mut connection).await;
    let url = std::env::var(DATABASE_URL_VARIABLE).expect("set, since the store opened");
    let mut listener = PgListener::connect(&url).await.expect("a listener");
    listener
        .listen(keyplane_store::postgres::KEY_CHANGES_CHANNEL)
        .await
        .expect("listening");

    let mut operations: Vec<Value> = (11..=20)
        .map(|number| batch_creation(&id(number), USER_UIN))
        .collect();
    operations.push(batch_deletion(&id(0), USER_UIN));
    operations.extend((1..=7).map(|number| batch_deletion(&id(number), SECOND_USER_UIN)));
    operations.push(batch_deletion(&id(8), USER_UIN));
    operations.push(batch_deletion(&id(99), USER_UIN));
    operations.push(batch_deletion(&id(0), USER_UIN));
    operations.push(json!({
        "kind": "append_audit_event", "event": batch_event("CreateUser", "refused"),
    }));
    let outcomes = apply_batch(&mut connection, &Value::Array(operations))
        .await
        .expect("applying the batch");

    // Deletions first: alice's key is gone before her creations, so two of them fit.
    let mut expected = vec!["created", "created"];
    expected.extend(["quota_exceeded"; 8]);
    expected.extend(["deleted"; 8]);
    expected.extend(["owner_mismatch", "not_found", "not_found", "appended"]);
    assert_eq!(outcomes, expected);
    let remaining: Vec<String> =
        sqlx::query_scalar("SELECT id FROM access_keys WHERE id LIKE 'AKIDORDER%' ORDER BY id")
            .fetch_all(&mut connection)
            .await
            .expect("reading the keys");
    assert_eq!(remaining, vec![id(8), id(11), id(12)]);

    let audited = audited_request_ids(&mut connection).await;
    assert_eq!(audited[..audited_before.len()], audited_before[..]);
    let mut expected_audit = vec![format!("DeleteAccessKey-{}", id(0))];
    expected_audit.extend((1..=7).map(|number| format!("DeleteAccessKey-{}", id(number))));
    expected_audit.push("CreateUser-refused".to_owned());
    expected_audit.extend((11..=12).map(|number| format!("CreateAccessKey-{}", id(number))));
    assert_eq!(audited[audited_before.len()..], expected_audit[..]);

    let mut announced = Vec::new();
    while announced.len() < 8 {
        let notification = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
            .await
            .expect("every deletion is announced within 5 s")
            .expect("receiving a notification");
        if notification.payload().starts_with("AKIDORDER") {
            announced.push(notification.payload().to_owned());
        }
    }
    announced.sort();
    assert_eq!(announced, (0..=7).map(id).collect::<Vec<_>>());
}

/// Creations of which one names a taken id, or two the same id, go one at a time in batch
/// order: a taken id is refused without using up the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_batch_with_taken_or_repeated_ids_creates_in_batch_order() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let store = test_store.store();
    initialize_with_user(&*store).await;
    let id = |number| batch_key_id("TAKEN", number);
    create_access_key(
        &*store,
        &new_access_key(&id(0), ACCOUNT_ID, KeyFamily::Tencent, at(20)),
    )
    .await;
    let mut connection = schema_connection(&test_store).await;

    let mut operations = vec![batch_creation(&id(0), USER_UIN)];
    operations.extend((1..=4).map(|number| batch_creation(&id(number), USER_UIN)));
    operations.extend((5..=8).map(|number| batch_creation(&id(number), ACCOUNT_ID)));
    let outcomes = apply_batch(&mut connection, &Value::Array(operations))
        .await
        .expect("applying the batch");
    let mut expected = vec!["identifier_taken", "created", "created"];
    expected.extend(["quota_exceeded"; 2]);
    expected.push("created");
    expected.extend(["quota_exceeded"; 3]);
    assert_eq!(outcomes, expected);

    let bob = batch_creation(&id(10), SECOND_USER_UIN);
    let mut operations = vec![json!({
        "kind": "create_user", "account_id": ACCOUNT_ID, "uin": SECOND_USER_UIN,
        "name": SECOND_USER_NAME, "at_time": 1, "event": batch_event("CreateUser", "bob"),
    })];
    operations.extend(vec![bob; 8]);
    let outcomes = apply_batch(&mut connection, &Value::Array(operations))
        .await
        .expect("applying the batch");
    let mut expected = vec!["created", "created"];
    expected.extend(["identifier_taken"; 7]);
    assert_eq!(outcomes, expected);
}

/// Creations made together whose id another transaction takes while the batch runs (after the
/// batch checked that none was taken): the batch fails as a serialisation failure, which the
/// node retries, and the retry refuses that creation alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_id_taken_meanwhile_fails_the_batch_for_a_retry() {
    let Some(test_store) = fresh_postgres_store().await else {
        return;
    };
    let store = test_store.store();
    initialize_with_user(&*store).await;
    let id = |number| batch_key_id("RACE", number);
    let mut other = schema_connection(&test_store).await;
    let mut transaction = other.begin().await.expect("a transaction");
    sqlx::query(
        "INSERT INTO access_keys (id, account_id, owner_uin, family, status, \
         secret_key_version, secret_ciphertext, created_at, updated_at) \
         VALUES ($1, $2, $2, 'tencent', 'Active', 1, '\\x00'::BYTEA, 1, 1)",
    )
    .bind(id(1))
    .bind(i64::try_from(ACCOUNT_ID).expect("an id below 2^63"))
    .execute(&mut *transaction)
    .await
    .expect("taking an id, uncommitted");

    let operations = Value::Array(
        (1..=8)
            .map(|number| batch_creation(&id(number), USER_UIN))
            .collect(),
    );
    let mut connection = schema_connection(&test_store).await;
    let batch = {
        let operations = operations.clone();
        tokio::spawn(async move {
            let outcomes = apply_batch(&mut connection, &operations).await;
            (connection, outcomes)
        })
    };
    // The batch's insertion waits for the other transaction's row; let it get there.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    transaction.commit().await.expect("committing the taken id");
    let (mut connection, outcomes) = batch.await.expect("the batch task");
    let error = outcomes.expect_err("the batch fails");
    let code = match &error {
        sqlx::Error::Database(database) => database.code().map(|code| code.into_owned()),
        _ => None,
    };
    assert_eq!(code.as_deref(), Some("40001"), "{error}");

    let outcomes = apply_batch(&mut connection, &operations)
        .await
        .expect("the retry succeeds");
    // The taken id is refused without using up the quota.
    let mut expected = vec!["identifier_taken", "created", "created"];
    expected.extend(["quota_exceeded"; 5]);
    assert_eq!(outcomes, expected);
}
