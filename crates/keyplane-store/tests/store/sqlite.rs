//! The SQLite backend: every conformance case on a fresh `SqliteStore` in its own temporary
//! directory, and the SQLite-only checks: what was written survives `close()` and reopening
//! the same file (and a closed store refuses writes), and the database itself refuses to
//! update or delete audit events.

use keyplane_core::store::{OwnedAccessKey, UpdateApiKey};
use std::path::Path;
use std::sync::Arc;

use keyplane_core::audit::AuditRecord;
use keyplane_core::model::{
    AccessKey, Account, ApiKey, ApiKeyType, KeyFamily, KeyStatus, KeyUsage, SealedBlob, User,
};
use keyplane_core::store::{
    AccessKeyStore, ApiKeyChange, AuditStore, InstallationStore, Store, StoreError, UserStore,
};
use keyplane_store::SqliteStore;
use tempfile::TempDir;

use crate::conformance::conformance_tests;
use crate::support::{
    api_key, api_key_id, at, audit_event, audit_log, initialize_with_user, key_usage,
    new_access_key, new_account, refused_audit_event, tag, tencent_key_id, user, TestStore,
    ACCOUNT_ID, USER_UIN,
};

const DATABASE_FILE: &str = "keyplane.sqlite3";

/// The SQLite factory: a new database file in a new temporary directory, removed after the test.
async fn fresh_sqlite_store() -> Option<TestStore> {
    let directory = TempDir::new().expect("creating a temporary directory");
    let store = SqliteStore::open(&directory.path().join(DATABASE_FILE))
        .expect("opening a fresh SQLite store");
    Some(TestStore::new(Arc::new(store), directory))
}

conformance_tests!(fresh_sqlite_store);

/// Everything a store holds after `write_a_bit_of_everything`, read back through the trait.
#[derive(Debug, PartialEq)]
struct Contents {
    account: Option<Account>,
    root: Option<User>,
    alice: Option<User>,
    root_tencent_keys: Vec<AccessKey>,
    alice_tencent_keys: Vec<AccessKey>,
    alice_aliyun_keys: Vec<AccessKey>,
    api_keys: Vec<ApiKey>,
    usage: Vec<KeyUsage>,
    audit: Vec<AuditRecord>,
}

async fn contents(store: &dyn Store) -> Contents {
    let mut usage = store
        .key_usage(&[tencent_key_id(1), tencent_key_id(2), tencent_key_id(3)])
        .await
        .expect("reading usage");
    usage.sort_by(|left, right| left.key_id.cmp(&right.key_id));
    Contents {
        account: store.primary_account().await.expect("reading the account"),
        root: store
            .user(ACCOUNT_ID, ACCOUNT_ID)
            .await
            .expect("reading root"),
        alice: store
            .user(ACCOUNT_ID, USER_UIN)
            .await
            .expect("reading alice"),
        root_tencent_keys: store
            .list_access_keys(ACCOUNT_ID, ACCOUNT_ID, KeyFamily::Tencent)
            .await
            .expect("listing root's keys"),
        alice_tencent_keys: store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await
            .expect("listing alice's Tencent keys"),
        alice_aliyun_keys: store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Aliyun)
            .await
            .expect("listing alice's Alibaba keys"),
        api_keys: store
            .list_api_keys(ACCOUNT_ID)
            .await
            .expect("listing API keys"),
        usage,
        audit: audit_log(store).await,
    }
}

/// Initialises the store (with a root key) and exercises every kind of write once.
async fn write_a_bit_of_everything(store: &dyn Store) {
    let root_key = new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Tencent, at(0));
    store
        .initialize(new_account(), vec![root_key])
        .await
        .expect("initializing");
    store
        .create_user(
            user(USER_UIN, "alice", at(10)),
            audit_event("CreateUser", "alice"),
        )
        .await
        .expect("creating alice");
    for (id, family) in [
        (tencent_key_id(2), KeyFamily::Tencent),
        (tencent_key_id(3), KeyFamily::Tencent),
        (crate::support::aliyun_key_id(1), KeyFamily::Aliyun),
    ] {
        store
            .create_access_key_within_quota(
                new_access_key(&id, USER_UIN, family, at(20)),
                2,
                audit_event("CreateAccessKey", &id),
            )
            .await
            .expect("creating a key");
    }
    store
        .set_access_key_status(
            OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &tencent_key_id(3))
                .with_status(KeyStatus::Inactive, at(30)),
            audit_event("UpdateAccessKey", &tencent_key_id(3)),
        )
        .await
        .expect("deactivating a key");
    store
        .record_key_usage(vec![
            key_usage(&tencent_key_id(1), at(40), "DescribeInstances"),
            key_usage(&tencent_key_id(2), at(41), "RunInstances"),
        ])
        .await
        .expect("recording usage");
    for number in 1..=2 {
        let key = ApiKey {
            tags: vec![tag("team", "payments"), tag("env", "prod")],
            ..api_key(&api_key_id(number), ApiKeyType::Manual, at(50))
        };
        store
            .create_api_key_within_limit(key, 5, audit_event("CreateApiKey", &api_key_id(number)))
            .await
            .expect("creating an API key");
    }
    store
        .update_api_key(
            UpdateApiKey::new(
                ACCOUNT_ID,
                &api_key_id(1),
                ApiKeyChange::ReplaceSecret(SealedBlob {
                    key_version: 2,
                    ciphertext: vec![0x42; 50],
                }),
                at(60),
            ),
            audit_event("UpdateApiKey", &api_key_id(1)),
        )
        .await
        .expect("replacing an API key's secret");
    store
        .update_api_key(
            UpdateApiKey::new(
                ACCOUNT_ID,
                &api_key_id(2),
                ApiKeyChange::SetEnabled(false),
                at(61),
            ),
            audit_event("DisableApiKey", &api_key_id(2)),
        )
        .await
        .expect("disabling an API key");
    store
        .append_audit_events(vec![refused_audit_event(1, "AuthFailure.SignatureFailure")])
        .await
        .expect("appending an audit event");
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).expect("opening the SQLite store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_everything_written_survives_close_and_reopen() {
    let directory = TempDir::new().expect("creating a temporary directory");
    let path = directory.path().join(DATABASE_FILE);

    let store = open(&path);
    write_a_bit_of_everything(&store).await;
    let written = contents(&store).await;
    assert!(written.account.is_some() && written.root.is_some() && written.alice.is_some());
    assert_eq!(written.root_tencent_keys.len(), 1);
    assert_eq!(written.alice_tencent_keys.len(), 2);
    assert_eq!(written.alice_tencent_keys[1].status, KeyStatus::Inactive);
    assert_eq!(written.alice_aliyun_keys.len(), 1);
    assert_eq!(written.api_keys.len(), 2);
    assert_eq!(written.usage.len(), 2);
    // CreateUser, 3 × CreateAccessKey, UpdateAccessKey, 2 × CreateApiKey, UpdateApiKey,
    // DisableApiKey, and the appended refusal.
    assert_eq!(written.audit.len(), 10);

    store.close();
    assert!(
        matches!(
            store
                .append_audit_events(vec![refused_audit_event(2, "AfterClose")])
                .await,
            Err(StoreError::Backend(_))
        ),
        "a closed store must refuse writes"
    );
    drop(store);

    let reopened = open(&path);
    assert_eq!(contents(&reopened).await, written);

    // The reopened store carries on: new writes land after the old ones.
    reopened
        .append_audit_events(vec![refused_audit_event(3, "AfterReopen")])
        .await
        .expect("appending after reopening");
    let audit = audit_log(&reopened).await;
    assert_eq!(audit.len(), written.audit.len() + 1);
    assert_eq!(audit[..written.audit.len()], written.audit[..]);
    let appended = &audit[written.audit.len()];
    assert!(appended.sequence > written.audit[written.audit.len() - 1].sequence);
    assert_eq!(appended.event, refused_audit_event(3, "AfterReopen"));
    assert_eq!(
        reopened.initialize(new_account(), Vec::new()).await,
        Err(StoreError::AlreadyInitialized)
    );
    reopened.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_audit_events_cannot_be_updated_or_deleted() {
    let directory = TempDir::new().expect("creating a temporary directory");
    let path = directory.path().join(DATABASE_FILE);
    let store = open(&path);
    initialize_with_user(&store).await;
    store
        .append_audit_events(vec![
            refused_audit_event(1, "AuthFailure.SignatureFailure"),
            refused_audit_event(2, "AuthFailure.SecretIdNotFound"),
        ])
        .await
        .expect("appending audit events");
    let written = audit_log(&store).await;
    assert_eq!(written.len(), 3);

    let connection = rusqlite::Connection::open(&path).expect("opening the file with rusqlite");
    let attempts = [
        "UPDATE audit_events SET outcome = 'Success'",
        "UPDATE audit_events SET request_id = 'forged' WHERE sequence = (SELECT MIN(sequence) FROM audit_events)",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE sequence = (SELECT MAX(sequence) FROM audit_events)",
    ];
    for statement in attempts {
        let error = connection
            .execute(statement, [])
            .expect_err("the audit table must refuse the change");
        assert!(
            error.to_string().contains("append-only"),
            "`{statement}` failed for another reason: {error}"
        );
    }
    let count: i64 = connection
        .query_row("SELECT COUNT(*) FROM audit_events", [], |row| row.get(0))
        .expect("counting audit events");
    assert_eq!(count, 3);
    assert_eq!(audit_log(&store).await, written);

    // A prune removes what is older than its cutoff, and leaves the table as closed as before.
    let cutoff = written[2].event.time;
    let removed = store
        .prune_audit_events(
            cutoff,
            Box::new(|removed| keyplane_core::audit::AuditEvent {
                detail: Some(format!("removed={removed}")),
                ..refused_audit_event(9, "Success")
            }),
        )
        .await
        .expect("pruning");
    assert_eq!(removed, 2);
    for statement in attempts.iter().chain(&[
        "DELETE FROM audit_events WHERE time < 9223372036854775807",
        "DELETE FROM audit_prune_permit",
    ]) {
        let error = connection
            .execute(statement, [])
            .expect_err("the audit table must still refuse the change");
        assert!(
            error.to_string().contains("append-only") || error.to_string().contains("permanent"),
            "`{statement}` failed for another reason: {error}"
        );
    }
    let count: i64 = connection
        .query_row("SELECT COUNT(*) FROM audit_events", [], |row| row.get(0))
        .expect("counting audit events");
    assert_eq!(count, 2, "the newest record and the prune's own");
    drop(connection);
    let after = audit_log(&store).await;
    assert_eq!(after[0], written[2]);
    assert_eq!(after[1].event.detail.as_deref(), Some("removed=2"));
    store.close();
}

/// Reads reuse their snapshot between calls, but never past a write this store acknowledged:
/// each write below is read back at once, interleaved with reads that keep snapshots warm.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reads_see_every_acknowledged_write_at_once() {
    let directory = TempDir::new().unwrap();
    let store = SqliteStore::open(&directory.path().join(DATABASE_FILE)).unwrap();
    initialize_with_user(&store).await;
    for number in 1..=20_u32 {
        let before = store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Aliyun)
            .await
            .unwrap();
        let key_id = crate::support::aliyun_key_id(number);
        let key = new_access_key(&key_id, USER_UIN, KeyFamily::Aliyun, at(i64::from(number)));
        store
            .create_access_key_within_quota(key.clone(), 1, audit_event("CreateAccessKey", &key.id))
            .await
            .unwrap();
        let after = store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Aliyun)
            .await
            .unwrap();
        assert_eq!((before.len(), after.len()), (0, 1), "round {number}");
        assert!(store.access_key(&key.id).await.unwrap().is_some());
        store
            .delete_access_key(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key.id),
                audit_event("DeleteAccessKey", &key.id),
            )
            .await
            .unwrap();
        assert!(
            store.access_key(&key.id).await.unwrap().is_none(),
            "round {number}"
        );
    }
}

/// Users are created by `keyplane user create` in another process while the server runs: a
/// second store on the same file stands in for it, and the server's next user lookup sees the
/// new user at once, however warm its read snapshots are.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_users_created_by_another_process_are_visible_at_once() {
    let directory = TempDir::new().unwrap();
    let path = directory.path().join(DATABASE_FILE);
    let server = SqliteStore::open(&path).unwrap();
    initialize_with_user(&server).await;
    let operator = SqliteStore::open(&path).unwrap();
    for number in 0..10_u64 {
        let uin = 200_000_000_000 + number;
        server
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await
            .unwrap();
        assert_eq!(server.user(ACCOUNT_ID, uin).await.unwrap(), None);
        let created = operator
            .create_user(
                user(uin, &format!("operator-{number}"), at(1)),
                audit_event("CreateUser", "x"),
            )
            .await
            .unwrap();
        assert_eq!(server.user(ACCOUNT_ID, uin).await.unwrap(), Some(created));
    }
    operator.close();
}
