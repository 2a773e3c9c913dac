//! Conformance cases for check-then-insert atomicity under contention: many concurrent
//! `create_access_key_within_quota` calls for one user, `create_api_key_within_limit` calls for
//! one account, creations of one manual API key id, and `initialize` calls, each spawned on
//! Tokio's multi-thread runtime, must admit exactly as many as the quota, limit or uniqueness
//! allows; reads running beside those writes must all succeed and see only committed keys.

use std::sync::Arc;

use keyplane_core::model::{AccessKey, ApiKey, ApiKeyType, KeyFamily};
use keyplane_core::store::{Store, StoreError};
use time::Duration;

use crate::support::{
    api_key, api_key_id, at, audit_event, audit_log, audit_summary, expected_access_key,
    initialize, initialize_with_user, new_access_key, success, tencent_key_id, ACCOUNT_ID,
    USER_UIN,
};

/// Awaits every task, splitting successes from errors.
async fn join_all<T: Send + 'static>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, StoreError>>>,
) -> (Vec<T>, Vec<StoreError>) {
    let mut successes = Vec::new();
    let mut errors = Vec::new();
    for task in tasks {
        match task.await.expect("a concurrent store call panicked") {
            Ok(value) => successes.push(value),
            Err(error) => errors.push(error),
        }
    }
    (successes, errors)
}

/// The ids of access keys, for failure messages.
fn ids(keys: &[AccessKey]) -> Vec<&str> {
    keys.iter().map(|key| key.id.as_str()).collect()
}

/// The ids of API keys, for failure messages.
fn api_ids(keys: &[ApiKey]) -> Vec<&str> {
    keys.iter().map(|key| key.id.as_str()).collect()
}

pub async fn concurrent_access_key_creations_respect_the_quota(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let audit_before = audit_log(&*store).await;

    let tasks = (0..50u32)
        .map(|number| {
            let store = Arc::clone(&store);
            let key = new_access_key(
                &tencent_key_id(number),
                USER_UIN,
                KeyFamily::Tencent,
                at(100) + Duration::milliseconds(i64::from(number)),
            );
            tokio::spawn(async move {
                let audit = audit_event("CreateAccessKey", &key.id);
                store.create_access_key_within_quota(key, 2, audit).await
            })
        })
        .collect();
    let (mut created, refused) = join_all(tasks).await;

    assert_eq!(created.len(), 2, "keys created: {:?}", ids(&created));
    assert_eq!(refused.len(), 48);
    assert!(
        refused
            .iter()
            .all(|error| *error == StoreError::AccessKeyQuotaExceeded { limit: 2 }),
        "unexpected refusals: {refused:?}"
    );
    created.sort_by(|left, right| (left.created_at, &left.id).cmp(&(right.created_at, &right.id)));
    for key in &created {
        let number: u32 = key.id["AKID".len()..].parse().expect("a numbered key id");
        let expected = expected_access_key(&new_access_key(
            &tencent_key_id(number),
            USER_UIN,
            KeyFamily::Tencent,
            at(100) + Duration::milliseconds(i64::from(number)),
        ));
        assert_eq!(*key, expected);
    }
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(created.clone())
    );

    let audit_after = audit_log(&*store).await;
    assert_eq!(audit_after[..audit_before.len()], audit_before[..]);
    // The two creations may have committed in either order.
    let mut audited = audit_summary(&audit_after[audit_before.len()..]);
    audited.sort();
    let mut expected: Vec<_> = created
        .iter()
        .map(|key| success("CreateAccessKey", &key.id))
        .collect();
    expected.sort();
    assert_eq!(audited, expected);
}

pub async fn concurrent_api_key_creations_respect_the_limit(store: Arc<dyn Store>) {
    initialize(&*store).await;

    let tasks = (0..50u32)
        .map(|number| {
            let store = Arc::clone(&store);
            let key = api_key(
                &api_key_id(number),
                ApiKeyType::Auto,
                at(100) + Duration::milliseconds(i64::from(number)),
            );
            tokio::spawn(async move {
                let audit = audit_event("CreateApiKey", &key.id);
                store.create_api_key_within_limit(key, 5, audit).await
            })
        })
        .collect();
    let (mut created, refused) = join_all(tasks).await;

    assert_eq!(created.len(), 5, "keys created: {:?}", api_ids(&created));
    assert_eq!(refused.len(), 45);
    assert!(
        refused
            .iter()
            .all(|error| *error == StoreError::ApiKeyLimitExceeded { limit: 5 }),
        "unexpected refusals: {refused:?}"
    );
    created.sort_by(|left, right| (left.created_at, &left.id).cmp(&(right.created_at, &right.id)));
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(created.clone()));

    let mut audited: Vec<_> = audit_summary(&audit_log(&*store).await);
    audited.sort();
    let mut expected: Vec<_> = created
        .iter()
        .map(|key| success("CreateApiKey", &key.id))
        .collect();
    expected.sort();
    assert_eq!(audited, expected);
}

pub async fn concurrent_creations_of_the_same_api_key_id_create_one(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let id = "manual-key-chosen-by-the-caller".to_owned();

    let tasks = (0..20u32)
        .map(|attempt| {
            let store = Arc::clone(&store);
            let key = ApiKey {
                secret_name: format!("attempt-{attempt}"),
                ..api_key(
                    &id,
                    ApiKeyType::Manual,
                    at(100) + Duration::milliseconds(i64::from(attempt)),
                )
            };
            tokio::spawn(async move {
                let audit = audit_event("CreateApiKey", &key.id);
                store.create_api_key_within_limit(key, 100, audit).await
            })
        })
        .collect();
    let (created, refused) = join_all(tasks).await;

    assert_eq!(created.len(), 1, "keys created: {:?}", api_ids(&created));
    assert_eq!(refused.len(), 19);
    assert!(
        refused
            .iter()
            .all(|error| *error == StoreError::ApiKeyAlreadyExists),
        "unexpected refusals: {refused:?}"
    );
    let winner = created[0].clone();
    assert_eq!(
        store.api_key(ACCOUNT_ID, &id).await,
        Ok(Some(winner.clone()))
    );
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(vec![winner]));
    assert_eq!(
        audit_summary(&audit_log(&*store).await),
        vec![success("CreateApiKey", &id)]
    );
}

pub async fn concurrent_initializations_create_one_account(store: Arc<dyn Store>) {
    let tasks = (0..10u32)
        .map(|attempt| {
            let store = Arc::clone(&store);
            let account = keyplane_core::store::NewAccount {
                account_id: ACCOUNT_ID + u64::from(attempt),
                root_name: format!("root-{attempt}"),
                created_at: at(i64::from(attempt)),
            };
            let root_key = keyplane_core::store::NewAccessKey {
                account_id: account.account_id,
                ..new_access_key(
                    &tencent_key_id(attempt),
                    account.account_id,
                    KeyFamily::Tencent,
                    at(i64::from(attempt)),
                )
            };
            tokio::spawn(async move { store.initialize(account, vec![root_key]).await })
        })
        .collect();
    let (initialized, refused) = join_all(tasks).await;

    assert_eq!(initialized.len(), 1, "initialized: {initialized:?}");
    assert_eq!(refused, vec![StoreError::AlreadyInitialized; 9]);
    let (account, root) = initialized[0].clone();
    assert_eq!(store.primary_account().await, Ok(Some(account.clone())));
    assert_eq!(store.user(account.id, account.id).await, Ok(Some(root)));
    let mut keys_found = 0;
    for attempt in 0..10u32 {
        let account_id = ACCOUNT_ID + u64::from(attempt);
        let key = store
            .access_key(&tencent_key_id(attempt))
            .await
            .expect("reading a root key");
        if account_id == account.id {
            assert_eq!(key.map(|key| key.owner_uin), Some(account_id));
            keys_found += 1;
        } else {
            assert_eq!(key, None, "a refused initialize left its root key");
            assert_eq!(store.user(account_id, account_id).await, Ok(None));
        }
    }
    assert_eq!(keys_found, 1);
}

pub async fn concurrent_reads_during_writes_succeed(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let writers: Vec<_> = (0..30u32)
        .map(|number| {
            let store = Arc::clone(&store);
            let key = api_key(
                &api_key_id(number),
                ApiKeyType::Auto,
                at(100) + Duration::milliseconds(i64::from(number)),
            );
            tokio::spawn(async move {
                let audit = audit_event("CreateApiKey", &key.id);
                store.create_api_key_within_limit(key, 100, audit).await
            })
        })
        .collect();
    let readers: Vec<_> = (0..30u32)
        .map(|number| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let keys = store.list_api_keys(ACCOUNT_ID).await?;
                let records = store.audit_records(0, 1_000).await?;
                let single = store.api_key(ACCOUNT_ID, &api_key_id(number)).await?;
                Ok::<_, StoreError>((keys, records, single))
            })
        })
        .collect();

    let (created, write_errors) = join_all(writers).await;
    let (reads, read_errors) = join_all(readers).await;
    assert_eq!(write_errors, Vec::new());
    assert_eq!(read_errors, Vec::new());
    assert_eq!(created.len(), 30);
    for (keys, records, single) in reads {
        assert!(keys.len() <= 30 && records.len() <= 30);
        assert!(keys.iter().all(|key| created.contains(key)));
        if let Some(key) = single {
            assert!(created.contains(&key));
        }
    }
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await.map(|keys| keys.len()),
        Ok(30)
    );
    assert_eq!(audit_log(&*store).await.len(), 30);
}
