//! Conformance cases for access keys: `create_access_key_within_quota` (unknown owner, the
//! per-user per-family quota that counts inactive keys, id collisions), exact round trips
//! through `access_key` and `list_access_keys` (oldest first, nanosecond timestamps, sealed
//! bytes), and `set_access_key_status` / `delete_access_key` with their not-found,
//! other-account and other-owner refusals.

use keyplane_core::store::OwnedAccessKey;
use std::sync::Arc;

use keyplane_core::model::{AccessKey, KeyFamily, KeyStatus, SealedBlob};
use keyplane_core::store::{NewAccessKey, Store, StoreError};
use time::Duration;

use crate::support::{
    aliyun_key_id, at, audit_event, audit_events, create_access_key, expected_access_key,
    initialize, initialize_with_user, key_id, new_access_key, tencent_key_id, user, ACCOUNT_ID,
    OTHER_ACCOUNT_ID, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN, USER_UIN,
};

pub async fn create_access_key_for_an_unknown_owner_is_refused(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let audit_before = audit_events(&*store).await;

    let unknown_owner = new_access_key(&tencent_key_id(1), UNKNOWN_UIN, KeyFamily::Tencent, at(20));
    assert_eq!(
        store
            .create_access_key_within_quota(
                unknown_owner.clone(),
                2,
                audit_event("CreateAccessKey", &unknown_owner.id)
            )
            .await,
        Err(StoreError::UserNotFound)
    );
    // The owner exists, but not in the account the key claims.
    let owner_in_other_account = NewAccessKey {
        account_id: OTHER_ACCOUNT_ID,
        ..new_access_key(&tencent_key_id(2), USER_UIN, KeyFamily::Tencent, at(21))
    };
    assert_eq!(
        store
            .create_access_key_within_quota(
                owner_in_other_account.clone(),
                2,
                audit_event("CreateAccessKey", &owner_in_other_account.id)
            )
            .await,
        Err(StoreError::UserNotFound)
    );

    assert_eq!(store.access_key(&unknown_owner.id).await, Ok(None));
    assert_eq!(store.access_key(&owner_in_other_account.id).await, Ok(None));
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(Vec::new())
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn access_key_quota_counts_inactive_keys_and_is_per_family_and_user(
    store: Arc<dyn Store>,
) {
    initialize_with_user(&*store).await;

    for family in [KeyFamily::Tencent, KeyFamily::Aliyun] {
        let first = new_access_key(&key_id(family, 1), USER_UIN, family, at(20));
        let second = new_access_key(&key_id(family, 2), USER_UIN, family, at(21));
        let third = new_access_key(&key_id(family, 3), USER_UIN, family, at(22));
        for key in [&first, &second] {
            assert_eq!(
                store
                    .create_access_key_within_quota(
                        key.clone(),
                        2,
                        audit_event("CreateAccessKey", &key.id)
                    )
                    .await,
                Ok(expected_access_key(key))
            );
        }
        let inactive_first = store
            .set_access_key_status(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &first.id)
                    .with_status(KeyStatus::Inactive, at(23)),
                audit_event("UpdateAccessKey", &first.id),
            )
            .await
            .expect("deactivating the first key");

        assert_eq!(
            store
                .create_access_key_within_quota(
                    third.clone(),
                    2,
                    audit_event("CreateAccessKey", &third.id)
                )
                .await,
            Err(StoreError::AccessKeyQuotaExceeded { limit: 2 }),
            "an inactive key still counts against the {family:?} quota"
        );
        assert_eq!(store.access_key(&third.id).await, Ok(None));
        assert_eq!(
            store.list_access_keys(ACCOUNT_ID, USER_UIN, family).await,
            Ok(vec![inactive_first, expected_access_key(&second)])
        );
    }

    // The quota is per user: the root principal's keys are counted apart.
    let root_key = new_access_key(&tencent_key_id(10), ACCOUNT_ID, KeyFamily::Tencent, at(30));
    assert_eq!(
        store
            .create_access_key_within_quota(
                root_key.clone(),
                2,
                audit_event("CreateAccessKey", &root_key.id)
            )
            .await,
        Ok(expected_access_key(&root_key))
    );
    // The quota is the caller's: a larger one admits a third key.
    let under_larger_quota =
        new_access_key(&tencent_key_id(4), USER_UIN, KeyFamily::Tencent, at(31));
    assert_eq!(
        store
            .create_access_key_within_quota(
                under_larger_quota.clone(),
                3,
                audit_event("CreateAccessKey", &under_larger_quota.id)
            )
            .await,
        Ok(expected_access_key(&under_larger_quota))
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await
            .map(|keys| keys.len()),
        Ok(3)
    );
}

pub async fn create_access_key_with_a_taken_id_is_refused(store: Arc<dyn Store>) {
    let root_key = new_access_key(&tencent_key_id(1), ACCOUNT_ID, KeyFamily::Tencent, at(0));
    store
        .initialize(crate::support::new_account(), vec![root_key.clone()])
        .await
        .expect("initializing with a root key");
    let alice = user(USER_UIN, "alice", at(10));
    store
        .create_user(alice, audit_event("CreateUser", "alice"))
        .await
        .expect("creating alice");
    let own_key = new_access_key(&tencent_key_id(2), USER_UIN, KeyFamily::Tencent, at(20));
    create_access_key(&*store, &own_key).await;
    let audit_before = audit_events(&*store).await;

    // Another user's id, and the user's own id reused for the other family.
    let collisions = [
        new_access_key(&root_key.id, USER_UIN, KeyFamily::Tencent, at(21)),
        new_access_key(&own_key.id, USER_UIN, KeyFamily::Aliyun, at(22)),
    ];
    for collision in collisions {
        assert_eq!(
            store
                .create_access_key_within_quota(
                    collision.clone(),
                    2,
                    audit_event("CreateAccessKey", &collision.id)
                )
                .await,
            Err(StoreError::IdentifierTaken)
        );
    }

    assert_eq!(
        store.access_key(&root_key.id).await,
        Ok(Some(expected_access_key(&root_key)))
    );
    assert_eq!(
        store.access_key(&own_key.id).await,
        Ok(Some(expected_access_key(&own_key)))
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(vec![expected_access_key(&own_key)])
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Aliyun)
            .await,
        Ok(Vec::new())
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn access_key_fields_round_trip_exactly(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    // Inserted first but created one nanosecond later: listing must order by creation time.
    let newer = NewAccessKey {
        description: Some("CI deploy key \u{2014} \u{fc}n\u{ef}c\u{f6}de \u{2713}".to_owned()),
        sealed_secret: SealedBlob {
            key_version: 7,
            ciphertext: (0..=255).collect(),
        },
        ..new_access_key(
            &tencent_key_id(1),
            USER_UIN,
            KeyFamily::Tencent,
            at(20) + Duration::nanoseconds(1),
        )
    };
    let older = NewAccessKey {
        description: Some(String::new()),
        sealed_secret: SealedBlob {
            key_version: u32::MAX,
            ciphertext: vec![0; 48],
        },
        ..new_access_key(&tencent_key_id(2), USER_UIN, KeyFamily::Tencent, at(20))
    };
    let undescribed = new_access_key(&aliyun_key_id(1), USER_UIN, KeyFamily::Aliyun, at(21));

    for key in [&newer, &older, &undescribed] {
        let created = store
            .create_access_key_within_quota(key.clone(), 2, audit_event("CreateAccessKey", &key.id))
            .await;
        assert_eq!(created, Ok(expected_access_key(key)));
    }
    let expected_newer = AccessKey {
        id: tencent_key_id(1),
        account_id: ACCOUNT_ID,
        owner_uin: USER_UIN,
        family: KeyFamily::Tencent,
        status: KeyStatus::Active,
        description: Some("CI deploy key \u{2014} \u{fc}n\u{ef}c\u{f6}de \u{2713}".to_owned()),
        sealed_secret: SealedBlob {
            key_version: 7,
            ciphertext: (0..=255).collect(),
        },
        created_at: at(20) + Duration::nanoseconds(1),
        updated_at: at(20) + Duration::nanoseconds(1),
    };
    assert_eq!(expected_access_key(&newer), expected_newer);

    assert_eq!(
        store.access_key(&newer.id).await,
        Ok(Some(expected_newer.clone()))
    );
    assert_eq!(
        store.access_key(&older.id).await,
        Ok(Some(expected_access_key(&older)))
    );
    assert_eq!(
        store.access_key(&undescribed.id).await,
        Ok(Some(expected_access_key(&undescribed)))
    );
    assert_eq!(store.access_key(&tencent_key_id(3)).await, Ok(None));

    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(vec![expected_access_key(&older), expected_newer])
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Aliyun)
            .await,
        Ok(vec![expected_access_key(&undescribed)])
    );
    assert_eq!(
        store
            .list_access_keys(OTHER_ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(Vec::new())
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, ACCOUNT_ID, KeyFamily::Tencent)
            .await,
        Ok(Vec::new())
    );
}

/// Alice (`USER_UIN`) holding one Tencent key, and Bob (`SECOND_USER_UIN`) holding none.
async fn alice_with_a_key_and_bob(store: &dyn Store) -> NewAccessKey {
    initialize_with_user(store).await;
    let bob = user(SECOND_USER_UIN, SECOND_USER_NAME, at(11));
    store
        .create_user(bob, audit_event("CreateUser", SECOND_USER_NAME))
        .await
        .expect("creating bob");
    let key = new_access_key(&tencent_key_id(1), USER_UIN, KeyFamily::Tencent, at(20));
    create_access_key(store, &key).await;
    key
}

/// (account, owner, key id, expected error) for a key that is unknown, in another account,
/// or owned by someone else than the named owner (bob, or the root).
fn refused_key_attempts(key: &NewAccessKey) -> [(u64, u64, String, StoreError); 4] {
    [
        (
            ACCOUNT_ID,
            USER_UIN,
            tencent_key_id(404),
            StoreError::AccessKeyNotFound,
        ),
        (
            OTHER_ACCOUNT_ID,
            USER_UIN,
            key.id.clone(),
            StoreError::AccessKeyNotFound,
        ),
        (
            ACCOUNT_ID,
            SECOND_USER_UIN,
            key.id.clone(),
            StoreError::OwnerMismatch,
        ),
        (
            ACCOUNT_ID,
            ACCOUNT_ID,
            key.id.clone(),
            StoreError::OwnerMismatch,
        ),
    ]
}

pub async fn set_access_key_status_refuses_unknown_foreign_and_other_owners_keys(
    store: Arc<dyn Store>,
) {
    let key = alice_with_a_key_and_bob(&*store).await;
    let audit_before = audit_events(&*store).await;

    let attempts = refused_key_attempts(&key);
    for (account_id, owner_uin, key_id, expected) in attempts {
        assert_eq!(
            store
                .set_access_key_status(
                    OwnedAccessKey::new(account_id, owner_uin, &key_id)
                        .with_status(KeyStatus::Inactive, at(30)),
                    audit_event("UpdateAccessKey", &key_id)
                )
                .await,
            Err(expected),
            "setting the status of {key_id} in account {account_id} as owner {owner_uin}"
        );
    }

    assert_eq!(
        store.access_key(&key.id).await,
        Ok(Some(expected_access_key(&key)))
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn set_access_key_status_updates_status_and_updated_at(store: Arc<dyn Store>) {
    let key = alice_with_a_key_and_bob(&*store).await;

    let deactivated = AccessKey {
        status: KeyStatus::Inactive,
        updated_at: at(30) + Duration::nanoseconds(7),
        ..expected_access_key(&key)
    };
    assert_eq!(
        store
            .set_access_key_status(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key.id)
                    .with_status(KeyStatus::Inactive, at(30) + Duration::nanoseconds(7)),
                audit_event("UpdateAccessKey", &key.id)
            )
            .await,
        Ok(deactivated.clone())
    );
    assert_eq!(
        store.access_key(&key.id).await,
        Ok(Some(deactivated.clone()))
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(vec![deactivated])
    );

    let reactivated = AccessKey {
        status: KeyStatus::Active,
        updated_at: at(40),
        ..expected_access_key(&key)
    };
    assert_eq!(
        store
            .set_access_key_status(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key.id)
                    .with_status(KeyStatus::Active, at(40)),
                audit_event("UpdateAccessKey", &key.id)
            )
            .await,
        Ok(reactivated.clone())
    );
    assert_eq!(store.access_key(&key.id).await, Ok(Some(reactivated)));
}

pub async fn delete_access_key_refuses_unknown_foreign_and_other_owners_keys(
    store: Arc<dyn Store>,
) {
    let key = alice_with_a_key_and_bob(&*store).await;
    let audit_before = audit_events(&*store).await;

    let attempts = refused_key_attempts(&key);
    for (account_id, owner_uin, key_id, expected) in attempts {
        assert_eq!(
            store
                .delete_access_key(
                    OwnedAccessKey::new(account_id, owner_uin, &key_id),
                    audit_event("DeleteAccessKey", &key_id)
                )
                .await,
            Err(expected),
            "deleting {key_id} in account {account_id} as owner {owner_uin}"
        );
    }

    assert_eq!(
        store.access_key(&key.id).await,
        Ok(Some(expected_access_key(&key)))
    );
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn delete_access_key_removes_the_key_and_frees_its_quota_slot(store: Arc<dyn Store>) {
    initialize(&*store).await;
    store
        .create_user(
            user(USER_UIN, "alice", at(10)),
            audit_event("CreateUser", "alice"),
        )
        .await
        .expect("creating alice");
    let first = new_access_key(&tencent_key_id(1), USER_UIN, KeyFamily::Tencent, at(20));
    let second = new_access_key(&tencent_key_id(2), USER_UIN, KeyFamily::Tencent, at(21));
    let third = new_access_key(&tencent_key_id(3), USER_UIN, KeyFamily::Tencent, at(22));
    for key in [&first, &second] {
        store
            .create_access_key_within_quota(key.clone(), 2, audit_event("CreateAccessKey", &key.id))
            .await
            .expect("creating a key under the quota");
    }
    assert_eq!(
        store
            .create_access_key_within_quota(
                third.clone(),
                2,
                audit_event("CreateAccessKey", &third.id)
            )
            .await,
        Err(StoreError::AccessKeyQuotaExceeded { limit: 2 })
    );

    assert_eq!(
        store
            .delete_access_key(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &first.id),
                audit_event("DeleteAccessKey", &first.id)
            )
            .await,
        Ok(())
    );
    assert_eq!(store.access_key(&first.id).await, Ok(None));
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(vec![expected_access_key(&second)])
    );
    // Deleting it again finds nothing.
    assert_eq!(
        store
            .delete_access_key(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &first.id),
                audit_event("DeleteAccessKey", &first.id)
            )
            .await,
        Err(StoreError::AccessKeyNotFound)
    );

    assert_eq!(
        store
            .create_access_key_within_quota(
                third.clone(),
                2,
                audit_event("CreateAccessKey", &third.id)
            )
            .await,
        Ok(expected_access_key(&third))
    );
    assert_eq!(
        store
            .list_access_keys(ACCOUNT_ID, USER_UIN, KeyFamily::Tencent)
            .await,
        Ok(vec![
            expected_access_key(&second),
            expected_access_key(&third)
        ])
    );
}
