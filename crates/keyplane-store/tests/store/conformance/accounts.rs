//! Conformance cases for setting up an installation and its principals: `initialize` (account,
//! root user, root keys, all or nothing; refused the second time without changing anything),
//! `primary_account`, `create_user` (name and uin collisions) and `user` lookups scoped to an
//! account.

use std::sync::Arc;

use keyplane_core::model::{KeyFamily, User};
use keyplane_core::store::{NewAccessKey, NewAccount, Store, StoreError};

use crate::support::{
    aliyun_key_id, at, audit_event, audit_events, expected_access_key, expected_account,
    initialize, initialize_with_user, new_access_key, new_account, root_user, tencent_key_id, user,
    ACCOUNT_ID, OTHER_ACCOUNT_ID, ROOT_NAME, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN,
    USER_NAME, USER_UIN,
};

pub async fn initialize_creates_account_root_user_and_root_keys(store: Arc<dyn Store>) {
    let root_tencent_key =
        new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Tencent, at(0));
    let root_aliyun_key = new_access_key(&aliyun_key_id(1), ACCOUNT_ID, KeyFamily::Aliyun, at(0));

    let (account, root) = store
        .initialize(
            new_account(),
            vec![root_tencent_key.clone(), root_aliyun_key.clone()],
        )
        .await
        .expect("initializing an empty store");

    assert_eq!(account, expected_account());
    assert_eq!(
        root,
        User {
            account_id: ACCOUNT_ID,
            uin: ACCOUNT_ID,
            name: ROOT_NAME.to_owned(),
            profile: keyplane_core::model::UserProfile::default(),
            created_at: at(0),
        }
    );
    assert!(root.is_root());
    assert_eq!(store.primary_account().await, Ok(Some(expected_account())));
    assert_eq!(
        store.user(ACCOUNT_ID, ACCOUNT_ID).await,
        Ok(Some(root_user()))
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, ACCOUNT_ID, KeyFamily::Tencent)
            .await,
        Ok(vec![expected_access_key(&root_tencent_key)])
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, ACCOUNT_ID, KeyFamily::Aliyun)
            .await,
        Ok(vec![expected_access_key(&root_aliyun_key)])
    );
    assert_eq!(
        store.access_key(&root_tencent_key.id).await,
        Ok(Some(expected_access_key(&root_tencent_key)))
    );
    assert_eq!(
        store.access_key(&root_aliyun_key.id).await,
        Ok(Some(expected_access_key(&root_aliyun_key)))
    );
}

pub async fn initialize_twice_is_refused_and_changes_nothing(store: Arc<dyn Store>) {
    let root_key = new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Tencent, at(0));
    store
        .initialize(new_account(), vec![root_key.clone()])
        .await
        .expect("the first initialize");
    let audit_before = audit_events(&*store).await;

    // A different account, created earlier: were it stored, it would become the primary one.
    let other_account = NewAccount {
        account_id: OTHER_ACCOUNT_ID,
        root_name: "other-root".to_owned(),
        created_at: at(-3_600),
    };
    let other_root_key = NewAccessKey {
        account_id: OTHER_ACCOUNT_ID,
        ..new_access_key(
            &tencent_key_id(2),
            OTHER_ACCOUNT_ID,
            KeyFamily::Tencent,
            at(-3_600),
        )
    };
    assert_eq!(
        store
            .initialize(other_account, vec![other_root_key.clone()])
            .await,
        Err(StoreError::AlreadyInitialized)
    );
    // The same account again, with an extra root key.
    let extra_root_key = new_access_key(&tencent_key_id(3), ACCOUNT_ID, KeyFamily::Tencent, at(5));
    assert_eq!(
        store
            .initialize(new_account(), vec![extra_root_key.clone()])
            .await,
        Err(StoreError::AlreadyInitialized)
    );

    assert_eq!(store.primary_account().await, Ok(Some(expected_account())));
    assert_eq!(
        store.user(ACCOUNT_ID, ACCOUNT_ID).await,
        Ok(Some(root_user()))
    );
    assert_eq!(
        store.user(OTHER_ACCOUNT_ID, OTHER_ACCOUNT_ID).await,
        Ok(None)
    );
    assert_eq!(store.access_key(&other_root_key.id).await, Ok(None));
    assert_eq!(store.access_key(&extra_root_key.id).await, Ok(None));
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, ACCOUNT_ID, KeyFamily::Tencent)
            .await,
        Ok(vec![expected_access_key(&root_key)])
    );
    assert_eq!(
        store
            .list_access_keys(OTHER_ACCOUNT_ID, OTHER_ACCOUNT_ID, KeyFamily::Tencent)
            .await,
        Ok(Vec::new())
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn primary_account_is_none_before_initialize_and_some_after(store: Arc<dyn Store>) {
    assert_eq!(store.primary_account().await, Ok(None));
    assert_eq!(store.user(ACCOUNT_ID, ACCOUNT_ID).await, Ok(None));
    initialize(&*store).await;
    assert_eq!(store.primary_account().await, Ok(Some(expected_account())));
    // Asking again gives the same answer.
    assert_eq!(store.primary_account().await, Ok(Some(expected_account())));
}

pub async fn create_user_round_trips_and_is_scoped_to_its_account(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let alice = user(USER_UIN, USER_NAME, at(10));
    let bob = user(SECOND_USER_UIN, SECOND_USER_NAME, at(11));

    assert_eq!(
        store
            .create_user(alice.clone(), audit_event("CreateUser", USER_NAME))
            .await,
        Ok(alice.clone())
    );
    assert_eq!(
        store
            .create_user(bob.clone(), audit_event("CreateUser", SECOND_USER_NAME))
            .await,
        Ok(bob.clone())
    );
    assert!(!alice.is_root());

    assert_eq!(store.user(ACCOUNT_ID, USER_UIN).await, Ok(Some(alice)));
    assert_eq!(store.user(ACCOUNT_ID, SECOND_USER_UIN).await, Ok(Some(bob)));
    assert_eq!(
        store.user(ACCOUNT_ID, ACCOUNT_ID).await,
        Ok(Some(root_user()))
    );
    assert_eq!(store.user(ACCOUNT_ID, UNKNOWN_UIN).await, Ok(None));
    assert_eq!(store.user(OTHER_ACCOUNT_ID, USER_UIN).await, Ok(None));
    assert_eq!(store.user(OTHER_ACCOUNT_ID, ACCOUNT_ID).await, Ok(None));
}

pub async fn create_user_with_a_taken_name_is_refused(store: Arc<dyn Store>) {
    let alice = initialize_with_user(&*store).await;
    let audit_before = audit_events(&*store).await;

    let same_name = user(SECOND_USER_UIN, USER_NAME, at(20));
    assert_eq!(
        store
            .create_user(same_name, audit_event("CreateUser", USER_NAME))
            .await,
        Err(StoreError::UserNameTaken)
    );
    let root_name = user(SECOND_USER_UIN, ROOT_NAME, at(21));
    assert_eq!(
        store
            .create_user(root_name, audit_event("CreateUser", ROOT_NAME))
            .await,
        Err(StoreError::UserNameTaken)
    );

    assert_eq!(store.user(ACCOUNT_ID, SECOND_USER_UIN).await, Ok(None));
    assert_eq!(store.user(ACCOUNT_ID, USER_UIN).await, Ok(Some(alice)));
    assert_eq!(
        store.user(ACCOUNT_ID, ACCOUNT_ID).await,
        Ok(Some(root_user()))
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn create_user_with_a_taken_uin_is_refused(store: Arc<dyn Store>) {
    let alice = initialize_with_user(&*store).await;
    let audit_before = audit_events(&*store).await;

    let same_uin = user(USER_UIN, "mallory", at(20));
    assert_eq!(
        store
            .create_user(same_uin, audit_event("CreateUser", "mallory"))
            .await,
        Err(StoreError::IdentifierTaken)
    );
    let root_uin = user(ACCOUNT_ID, "mallory", at(21));
    assert_eq!(
        store
            .create_user(root_uin, audit_event("CreateUser", "mallory"))
            .await,
        Err(StoreError::IdentifierTaken)
    );

    assert_eq!(store.user(ACCOUNT_ID, USER_UIN).await, Ok(Some(alice)));
    assert_eq!(
        store.user(ACCOUNT_ID, ACCOUNT_ID).await,
        Ok(Some(root_user()))
    );
    assert_eq!(audit_events(&*store).await, audit_before);
    // The refused name is still free.
    let mallory = user(SECOND_USER_UIN, "mallory", at(22));
    assert_eq!(
        store
            .create_user(mallory.clone(), audit_event("CreateUser", "mallory"))
            .await,
        Ok(mallory)
    );
}

pub async fn initialize_with_colliding_root_keys_stores_nothing(store: Arc<dyn Store>) {
    // The account, the root user and the first key are written before the second key collides
    // with the first: all of it must be undone.
    let root_key = new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Tencent, at(0));
    let colliding = new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Aliyun, at(0));
    assert_eq!(
        store
            .initialize(new_account(), vec![root_key.clone(), colliding])
            .await,
        Err(StoreError::IdentifierTaken)
    );
    assert_eq!(store.primary_account().await, Ok(None));
    assert_eq!(store.user(ACCOUNT_ID, ACCOUNT_ID).await, Ok(None));
    assert_eq!(store.access_key(&root_key.id).await, Ok(None));
    assert_eq!(audit_events(&*store).await, Vec::new());

    // Nothing was left behind to make a correct initialize fail.
    assert_eq!(
        store
            .initialize(new_account(), vec![root_key.clone()])
            .await,
        Ok((expected_account(), root_user()))
    );
    assert_eq!(
        store.access_key(&root_key.id).await,
        Ok(Some(expected_access_key(&root_key)))
    );
}

/// The first node to start records its master key's check value; every later claim, whatever
/// its value, gets the recorded one back (so a node with another key can refuse to start).
pub async fn the_first_master_key_check_value_is_kept(store: Arc<dyn Store>) {
    store.ping().await.expect("a fresh store answers");
    assert_eq!(
        store.claim_master_key_check("first-check").await,
        Ok("first-check".to_owned())
    );
    assert_eq!(
        store.claim_master_key_check("other-check").await,
        Ok("first-check".to_owned())
    );
    assert_eq!(
        store.claim_master_key_check("first-check").await,
        Ok("first-check".to_owned())
    );
}
