//! Conformance cases for check-then-insert atomicity under contention: many concurrent
//! `create_access_key_within_quota` calls for one user, `create_api_key_within_limit` calls for
//! one account, creations of one manual API key id, and `initialize` calls, each spawned on
//! Tokio's multi-thread runtime, must admit exactly as many as the quota, limit or uniqueness
//! allows; reads running beside those writes must all succeed and see only committed keys.
//! Backends apply concurrent writes together (group commit), so two cases mix every outcome in
//! one burst of creations, and creations with deletions, and check that each request got its
//! own answer and that no refusal changed anything.

use keyplane_core::store::OwnedAccessKey;
use std::sync::Arc;

use keyplane_core::model::{AccessKey, ApiKey, ApiKeyType, KeyFamily};
use keyplane_core::store::{Store, StoreError};
use time::Duration;

use crate::support::{
    api_key, api_key_id, at, audit_event, audit_log, audit_summary, create_access_key,
    expected_access_key, initialize, initialize_with_user, new_access_key, success, tencent_key_id,
    user, ACCOUNT_ID, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN, USER_UIN,
};

/// The per-user quota the mixed cases use (the product's).
const QUOTA: u32 = 2;

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

/// What one request of a mixed burst is, so its answer can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// A fresh id for a user who already holds one key: one of these may succeed.
    FreshForAlice,
    /// A fresh id for a user who holds none: two of these may succeed.
    FreshForBob,
    /// The id of a key that exists, for a user with room: always `IdentifierTaken`.
    TakenIdForCarol,
    /// A fresh id for that same user: always created (taken ids never use up the quota).
    FreshForCarol,
    /// An owner that does not exist: always `UserNotFound`.
    UnknownOwner,
    /// One fresh id asked for twice: once created, once `IdentifierTaken`.
    RepeatedIdForDave,
}

/// Creates a user of `ACCOUNT_ID`, expecting success.
async fn create_user(store: &dyn Store, uin: u64, name: &str) {
    store
        .create_user(user(uin, name, at(10)), audit_event("CreateUser", name))
        .await
        .expect("creating a user");
}

pub async fn concurrent_creations_with_mixed_outcomes_each_get_their_own_answer(
    store: Arc<dyn Store>,
) {
    const CAROL_UIN: u64 = USER_UIN + 1_000;
    const DAVE_UIN: u64 = USER_UIN + 1_001;
    initialize_with_user(&*store).await;
    create_user(&*store, SECOND_USER_UIN, SECOND_USER_NAME).await;
    create_user(&*store, CAROL_UIN, "carol").await;
    create_user(&*store, DAVE_UIN, "dave").await;
    let alices_first = create_access_key(
        &*store,
        &new_access_key(&tencent_key_id(1_000), USER_UIN, KeyFamily::Tencent, at(20)),
    )
    .await;
    let audit_before = audit_log(&*store).await;

    let mut requests = Vec::new();
    requests.extend((0..20u32).map(|number| (Request::FreshForAlice, number, USER_UIN)));
    requests.extend((100..120u32).map(|number| (Request::FreshForBob, number, SECOND_USER_UIN)));
    requests.extend((0..6u32).map(|_| (Request::TakenIdForCarol, 1_000, CAROL_UIN)));
    requests.push((Request::FreshForCarol, 200, CAROL_UIN));
    requests.extend((300..306u32).map(|number| (Request::UnknownOwner, number, UNKNOWN_UIN)));
    requests.extend((0..2u32).map(|_| (Request::RepeatedIdForDave, 400, DAVE_UIN)));
    let tasks: Vec<_> = requests
        .iter()
        .enumerate()
        .map(|(index, &(_, number, owner))| {
            let store = Arc::clone(&store);
            let key = new_access_key(
                &tencent_key_id(number),
                owner,
                KeyFamily::Tencent,
                at(100) + Duration::milliseconds(i64::try_from(index).expect("a small index")),
            );
            tokio::spawn(async move {
                let audit = audit_event("CreateAccessKey", &key.id);
                store
                    .create_access_key_within_quota(key, QUOTA, audit)
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("a concurrent store call panicked"));
    }

    let answered = |kind: Request| -> Vec<&Result<AccessKey, StoreError>> {
        requests
            .iter()
            .zip(&answers)
            .filter(|((request, _, _), _)| *request == kind)
            .map(|(_, answer)| answer)
            .collect()
    };
    let created = |kind: Request| -> Vec<AccessKey> {
        answered(kind)
            .into_iter()
            .filter_map(|answer| answer.as_ref().ok().cloned())
            .collect()
    };
    let over_quota = Err(StoreError::AccessKeyQuotaExceeded { limit: QUOTA });
    for (kind, room) in [(Request::FreshForAlice, 1), (Request::FreshForBob, 2)] {
        assert_eq!(created(kind).len(), room, "{kind:?}: {:?}", answered(kind));
        assert!(
            answered(kind)
                .iter()
                .all(|answer| answer.is_ok() || **answer == over_quota),
            "{kind:?}: {:?}",
            answered(kind)
        );
    }
    assert!(answered(Request::TakenIdForCarol)
        .iter()
        .all(|answer| **answer == Err(StoreError::IdentifierTaken)));
    assert_eq!(created(Request::FreshForCarol).len(), 1);
    assert!(answered(Request::UnknownOwner)
        .iter()
        .all(|answer| **answer == Err(StoreError::UserNotFound)));
    let mut dave = answered(Request::RepeatedIdForDave)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    dave.sort_by_key(Result::is_ok);
    assert_eq!(dave[0], Err(StoreError::IdentifierTaken), "{dave:?}");
    assert!(dave[1].is_ok(), "{dave:?}");

    // Exactly the created keys are stored, with the fields they were created with.
    let sorted = |mut keys: Vec<AccessKey>| {
        keys.sort_by(|left, right| (left.created_at, &left.id).cmp(&(right.created_at, &right.id)));
        keys
    };
    let listed = |owner: u64| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_access_keys(ACCOUNT_ID, owner, KeyFamily::Tencent)
                .await
                .expect("listing keys")
        }
    };
    let mut alices = vec![alices_first];
    alices.extend(created(Request::FreshForAlice));
    assert_eq!(listed(USER_UIN).await, sorted(alices));
    assert_eq!(
        listed(SECOND_USER_UIN).await,
        sorted(created(Request::FreshForBob))
    );
    assert_eq!(
        listed(CAROL_UIN).await,
        sorted(created(Request::FreshForCarol))
    );
    assert_eq!(
        listed(DAVE_UIN).await,
        sorted(created(Request::RepeatedIdForDave))
    );
    for key in answers.iter().filter_map(|answer| answer.as_ref().ok()) {
        let number: u32 = key.id["AKID".len()..].parse().expect("a numbered key id");
        assert_eq!(key.id, tencent_key_id(number));
        assert_eq!(store.access_key(&key.id).await, Ok(Some(key.clone())));
    }

    // One audit event per created key, none for a refusal.
    let audit_after = audit_log(&*store).await;
    assert_eq!(audit_after[..audit_before.len()], audit_before[..]);
    let mut audited = audit_summary(&audit_after[audit_before.len()..]);
    audited.sort();
    let mut expected: Vec<_> = answers
        .iter()
        .filter_map(|answer| answer.as_ref().ok())
        .map(|key| success("CreateAccessKey", &key.id))
        .collect();
    expected.sort();
    assert_eq!(audited, expected);
}

pub async fn concurrent_creations_and_deletions_each_get_their_own_answer(store: Arc<dyn Store>) {
    // Eight users (alice and seven more), each holding two keys, the quota.
    initialize_with_user(&*store).await;
    let owners: Vec<u64> = (0..8u64).map(|index| USER_UIN + 2_000 * index).collect();
    for (index, owner) in owners.iter().enumerate().skip(1) {
        create_user(&*store, *owner, &format!("user-{index}")).await;
    }
    let mut held = Vec::new();
    for (index, owner) in owners.iter().enumerate() {
        let index = u32::try_from(index).expect("a small index");
        let first = new_access_key(
            &tencent_key_id(2 * index),
            *owner,
            KeyFamily::Tencent,
            at(20),
        );
        let second = new_access_key(
            &tencent_key_id(2 * index + 1),
            *owner,
            KeyFamily::Tencent,
            at(21),
        );
        held.push((
            create_access_key(&*store, &first).await,
            create_access_key(&*store, &second).await,
        ));
    }
    let audit_before = audit_log(&*store).await;

    // At once, per user: delete the first key (twice: one of them finds it gone), try two
    // creations (at most one fits, and only if it runs after the deletion), and try to delete
    // the second key as another user (always refused); plus deletions of a key that never
    // existed.
    let mut deletions = Vec::new();
    let mut creations = Vec::new();
    let mut foreign_deletions = Vec::new();
    for (index, (owner, (first, second))) in owners.iter().zip(&held).enumerate() {
        let index = u32::try_from(index).expect("a small index");
        for _ in 0..2 {
            let (store, key_id, owner) = (Arc::clone(&store), first.id.clone(), *owner);
            deletions.push(tokio::spawn(async move {
                let audit = audit_event("DeleteAccessKey", &key_id);
                store
                    .delete_access_key(OwnedAccessKey::new(ACCOUNT_ID, owner, &key_id), audit)
                    .await
            }));
        }
        for attempt in 0..2u32 {
            let store = Arc::clone(&store);
            let key = new_access_key(
                &tencent_key_id(100 + 2 * index + attempt),
                *owner,
                KeyFamily::Tencent,
                at(30),
            );
            creations.push((
                *owner,
                tokio::spawn(async move {
                    let audit = audit_event("CreateAccessKey", &key.id);
                    store
                        .create_access_key_within_quota(key, QUOTA, audit)
                        .await
                }),
            ));
        }
        let (store, key_id) = (Arc::clone(&store), second.id.clone());
        foreign_deletions.push(tokio::spawn(async move {
            let audit = audit_event("DeleteAccessKey", &key_id);
            store
                .delete_access_key(OwnedAccessKey::new(ACCOUNT_ID, UNKNOWN_UIN, &key_id), audit)
                .await
        }));
    }
    let unknown_deletions: Vec<_> = (0..4u32)
        .map(|number| {
            let store = Arc::clone(&store);
            let key_id = tencent_key_id(900 + number);
            tokio::spawn(async move {
                let audit = audit_event("DeleteAccessKey", &key_id);
                store
                    .delete_access_key(OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key_id), audit)
                    .await
            })
        })
        .collect();

    let (deleted, refused_deletions) = join_all(deletions).await;
    assert_eq!(deleted.len(), owners.len());
    assert_eq!(
        refused_deletions,
        vec![StoreError::AccessKeyNotFound; owners.len()]
    );
    let (_, foreign_refusals) = join_all(foreign_deletions).await;
    assert_eq!(
        foreign_refusals,
        vec![StoreError::OwnerMismatch; owners.len()]
    );
    let (_, unknown_refusals) = join_all(unknown_deletions).await;
    assert_eq!(unknown_refusals, vec![StoreError::AccessKeyNotFound; 4]);
    let mut created_by_owner = std::collections::BTreeMap::<u64, Vec<AccessKey>>::new();
    for (owner, task) in creations {
        match task.await.expect("a concurrent store call panicked") {
            Ok(key) => created_by_owner.entry(owner).or_default().push(key),
            Err(error) => assert_eq!(error, StoreError::AccessKeyQuotaExceeded { limit: QUOTA }),
        }
    }

    let mut expected_audit = Vec::new();
    for (owner, (first, second)) in owners.iter().zip(&held) {
        let created = created_by_owner.remove(owner).unwrap_or_default();
        assert!(created.len() <= 1, "the quota was exceeded: {created:?}");
        assert_eq!(store.access_key(&first.id).await, Ok(None));
        let mut expected = vec![second.clone()];
        expected.extend(created.iter().cloned());
        assert_eq!(
            store
                .list_access_keys(ACCOUNT_ID, *owner, KeyFamily::Tencent)
                .await,
            Ok(expected)
        );
        expected_audit.push(success("DeleteAccessKey", &first.id));
        expected_audit.extend(
            created
                .iter()
                .map(|key| success("CreateAccessKey", &key.id)),
        );
    }
    let audit_after = audit_log(&*store).await;
    assert_eq!(audit_after[..audit_before.len()], audit_before[..]);
    let mut audited = audit_summary(&audit_after[audit_before.len()..]);
    audited.sort();
    expected_audit.sort();
    assert_eq!(audited, expected_audit);
}
