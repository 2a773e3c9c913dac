//! Conformance cases for users: `list_users` (oldest first, profiles round trip) and
//! `delete_user` (refusals that change nothing, forced deletion of keys of both families and of
//! attachments).

use keyplane_core::store::DeleteUser;
use std::sync::Arc;

use keyplane_core::model::{KeyFamily, PolicyAttachment, PolicyType, User, UserProfile};
use keyplane_core::store::{DeleteUserOptions, Store, StoreError};

use crate::support::{
    aliyun_key_id, at, audit_event, audit_events, create_access_key, expected_access_key,
    initialize, initialize_with_user, key_usage, new_access_key, root_user, tencent_key_id, user,
    ACCOUNT_ID, OTHER_ACCOUNT_ID, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN, USER_NAME,
    USER_UIN,
};

use crate::conformance::iam::{attach, create_policy, custom_policy};

pub(crate) const KEEP_EVERYTHING: DeleteUserOptions = DeleteUserOptions {
    remove_access_keys: false,
    detach_policies: false,
};

pub(crate) const REMOVE_EVERYTHING: DeleteUserOptions = DeleteUserOptions {
    remove_access_keys: true,
    detach_policies: true,
};

fn profile(seed: &str, console_login: bool) -> UserProfile {
    UserProfile {
        display_name: format!("{seed} display"),
        comments: format!("{seed}: comments, with 'quotes' and \"more\""),
        email: format!("{seed}@example.com"),
        phone_country_code: "86".to_owned(),
        phone_number: "13800000000".to_owned(),
        console_login,
    }
}

pub async fn list_users_returns_oldest_first_with_their_profiles(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let bob = User {
        profile: profile("bob", true),
        ..user(SECOND_USER_UIN, SECOND_USER_NAME, at(20))
    };
    let alice = User {
        profile: UserProfile {
            display_name: "Alice".to_owned(),
            ..UserProfile::default()
        },
        ..user(USER_UIN, USER_NAME, at(10))
    };
    for created in [&bob, &alice] {
        assert_eq!(
            store
                .create_user(created.clone(), audit_event("CreateUser", &created.name))
                .await
                .as_ref(),
            Ok(created)
        );
    }
    assert_eq!(
        store.list_users(ACCOUNT_ID).await,
        Ok(vec![root_user(), alice.clone(), bob.clone()])
    );
    assert_eq!(store.list_users(OTHER_ACCOUNT_ID).await, Ok(Vec::new()));
    assert_eq!(
        store.user(ACCOUNT_ID, SECOND_USER_UIN).await,
        Ok(Some(bob.clone()))
    );
    assert_eq!(
        store.user_by_name(ACCOUNT_ID, USER_NAME).await,
        Ok(Some(alice))
    );
}

/// Alice with a key of each family (one of them used) and a system and a custom policy.
async fn alice_with_keys_and_policies(store: &dyn Store) -> (Vec<String>, Vec<PolicyAttachment>) {
    initialize_with_user(store).await;
    let tencent = new_access_key(&tencent_key_id(1), USER_UIN, KeyFamily::Tencent, at(20));
    let aliyun = new_access_key(&aliyun_key_id(1), USER_UIN, KeyFamily::Aliyun, at(21));
    create_access_key(store, &tencent).await;
    create_access_key(store, &aliyun).await;
    store
        .record_key_usage(vec![key_usage(&tencent.id, at(25), "DescribeInstances")])
        .await
        .expect("recording a use");
    let policy = custom_policy(7, "keys-admin", at(22));
    create_policy(store, &policy).await;
    attach(
        store,
        USER_UIN,
        PolicyType::System,
        "ReadOnlyAccess",
        at(30),
    )
    .await
    .expect("attaching a system policy");
    attach(store, USER_UIN, PolicyType::Custom, "keys-admin", at(31))
        .await
        .expect("attaching a custom policy");
    let mut key_ids = vec![tencent.id, aliyun.id];
    key_ids.sort();
    let attachments = store
        .user_policies(ACCOUNT_ID, USER_UIN)
        .await
        .expect("listing alice's policies");
    assert_eq!(attachments.len(), 2);
    (key_ids, attachments)
}

pub async fn delete_user_refusals_change_nothing(store: Arc<dyn Store>) {
    let (key_ids, attachments) = alice_with_keys_and_policies(&*store).await;
    let audit_before = audit_events(&*store).await;
    let users_before = store.list_users(ACCOUNT_ID).await.expect("listing users");
    let delete = |uin: u64, account_id: u64, options: DeleteUserOptions| {
        let store = Arc::clone(&store);
        async move {
            store
                .delete_user(
                    DeleteUser::new(account_id, uin, options),
                    audit_event("DeleteUser", "x"),
                )
                .await
        }
    };

    assert_eq!(
        delete(UNKNOWN_UIN, ACCOUNT_ID, REMOVE_EVERYTHING).await,
        Err(StoreError::UserNotFound)
    );
    assert_eq!(
        delete(USER_UIN, OTHER_ACCOUNT_ID, REMOVE_EVERYTHING).await,
        Err(StoreError::UserNotFound),
        "a user is found only in its own account"
    );
    // Keys are checked before policies.
    assert_eq!(
        delete(USER_UIN, ACCOUNT_ID, KEEP_EVERYTHING).await,
        Err(StoreError::UserHasAccessKeys)
    );
    assert_eq!(
        delete(
            USER_UIN,
            ACCOUNT_ID,
            DeleteUserOptions {
                remove_access_keys: false,
                detach_policies: true,
            }
        )
        .await,
        Err(StoreError::UserHasAccessKeys)
    );
    assert_eq!(
        delete(
            USER_UIN,
            ACCOUNT_ID,
            DeleteUserOptions {
                remove_access_keys: true,
                detach_policies: false,
            }
        )
        .await,
        Err(StoreError::UserHasPolicies)
    );

    assert_eq!(store.list_users(ACCOUNT_ID).await, Ok(users_before));
    for key_id in &key_ids {
        assert!(
            matches!(store.access_key(key_id).await, Ok(Some(_))),
            "{key_id} survives"
        );
    }
    assert_eq!(
        store.key_usage(&key_ids).await.map(|usage| usage.len()),
        Ok(1)
    );
    assert_eq!(
        store.user_policies(ACCOUNT_ID, USER_UIN).await,
        Ok(attachments)
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn delete_user_removes_its_keys_of_both_families_and_its_attachments(
    store: Arc<dyn Store>,
) {
    let (key_ids, _) = alice_with_keys_and_policies(&*store).await;
    let bob = user(SECOND_USER_UIN, SECOND_USER_NAME, at(11));
    store
        .create_user(bob.clone(), audit_event("CreateUser", SECOND_USER_NAME))
        .await
        .expect("creating bob");
    let bobs_key = new_access_key(
        &tencent_key_id(2),
        SECOND_USER_UIN,
        KeyFamily::Tencent,
        at(40),
    );
    create_access_key(&*store, &bobs_key).await;
    attach(
        &*store,
        SECOND_USER_UIN,
        PolicyType::Custom,
        "keys-admin",
        at(41),
    )
    .await
    .expect("attaching to bob");
    let bobs_policies = store
        .user_policies(ACCOUNT_ID, SECOND_USER_UIN)
        .await
        .expect("bob's policies");
    let mut expected_audit = audit_events(&*store).await;

    let event = audit_event("DeleteUser", USER_NAME);
    let mut deleted = store
        .delete_user(
            DeleteUser::new(ACCOUNT_ID, USER_UIN, REMOVE_EVERYTHING),
            event.clone(),
        )
        .await
        .expect("deleting alice with everything she has");
    deleted.sort();
    assert_eq!(deleted, key_ids);
    expected_audit.push(event);
    assert_eq!(audit_events(&*store).await, expected_audit);

    assert_eq!(store.user(ACCOUNT_ID, USER_UIN).await, Ok(None));
    assert_eq!(store.user_by_name(ACCOUNT_ID, USER_NAME).await, Ok(None));
    for key_id in &key_ids {
        assert_eq!(store.access_key(key_id).await, Ok(None), "{key_id} is gone");
    }
    for family in [KeyFamily::Tencent, KeyFamily::Aliyun] {
        assert_eq!(
            store.list_access_keys(ACCOUNT_ID, USER_UIN, family).await,
            Ok(Vec::new())
        );
    }
    assert_eq!(store.key_usage(&key_ids).await, Ok(Vec::new()));
    assert_eq!(
        store.user_policies(ACCOUNT_ID, USER_UIN).await,
        Ok(Vec::new())
    );
    assert_eq!(
        store.list_users(ACCOUNT_ID).await,
        Ok(vec![root_user(), bob.clone()])
    );
    // Bob and the custom policy are untouched.
    assert_eq!(
        store.access_key(&bobs_key.id).await,
        Ok(Some(expected_access_key(&bobs_key)))
    );
    assert_eq!(
        store.user_policies(ACCOUNT_ID, SECOND_USER_UIN).await,
        Ok(bobs_policies)
    );
    assert!(matches!(
        store.custom_policy_by_name(ACCOUNT_ID, "keys-admin").await,
        Ok(Some(_))
    ));
    // The name and the uin are free again, with nothing attached.
    let again = user(USER_UIN, USER_NAME, at(50));
    assert_eq!(
        store
            .create_user(again.clone(), audit_event("CreateUser", USER_NAME))
            .await,
        Ok(again)
    );
    assert_eq!(
        store.user_policies(ACCOUNT_ID, USER_UIN).await,
        Ok(Vec::new())
    );
    assert_eq!(
        store
            .delete_user(
                DeleteUser::new(ACCOUNT_ID, USER_UIN, KEEP_EVERYTHING),
                audit_event("DeleteUser", "a")
            )
            .await,
        Ok(Vec::new()),
        "a user without keys or policies needs no option"
    );
    assert_eq!(
        store
            .delete_user(
                DeleteUser::new(ACCOUNT_ID, USER_UIN, REMOVE_EVERYTHING),
                audit_event("DeleteUser", "b")
            )
            .await,
        Err(StoreError::UserNotFound)
    );
}
