//! Conformance cases for API Gateway keys: `create_api_key_within_limit` (the per-account
//! limit, existing ids), exact round trips through `api_key` (scoped to its account) and
//! `list_api_keys` (oldest first, tags in order), `update_api_key` (`SetEnabled`,
//! `ReplaceSecret`), `delete_api_key`, and their `ApiKeyNotFound` refusals.

use keyplane_core::store::UpdateApiKey;
use std::sync::Arc;

use keyplane_core::model::{ApiKey, ApiKeyType, SealedBlob};
use keyplane_core::store::{ApiKeyChange, Store, StoreError};
use time::Duration;

use crate::support::{
    api_key, api_key_id, at, audit_event, audit_events, initialize, tag, ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
};

/// Creates `key` under a generous limit, expecting it back unchanged.
async fn create(store: &dyn Store, key: &ApiKey) {
    assert_eq!(
        store
            .create_api_key_within_limit(key.clone(), 100, audit_event("CreateApiKey", &key.id))
            .await,
        Ok(key.clone())
    );
}

pub async fn api_key_round_trips_and_is_scoped_to_its_account(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let tagged = ApiKey {
        tags: vec![
            tag("zone", "ap-guangzhou-3"),
            tag("team", "payments"),
            tag("cost-centre", "\u{fc}n\u{ef}c\u{f6}de \u{2713}"),
            tag("team", "duplicate keys keep their place"),
            tag("", ""),
        ],
        sealed_secret: SealedBlob {
            key_version: 3,
            ciphertext: (0..=255).rev().collect(),
        },
        ..api_key(&api_key_id(1), ApiKeyType::Manual, at(20))
    };
    let disabled_auto = ApiKey {
        enabled: false,
        updated_at: at(22) + Duration::nanoseconds(5),
        ..api_key(&api_key_id(2), ApiKeyType::Auto, at(21))
    };
    create(&*store, &tagged).await;
    create(&*store, &disabled_auto).await;

    assert_eq!(
        store.api_key(ACCOUNT_ID, &tagged.id).await,
        Ok(Some(tagged.clone()))
    );
    assert_eq!(
        store.api_key(ACCOUNT_ID, &disabled_auto.id).await,
        Ok(Some(disabled_auto.clone()))
    );
    assert_eq!(store.api_key(OTHER_ACCOUNT_ID, &tagged.id).await, Ok(None));
    assert_eq!(store.api_key(ACCOUNT_ID, &api_key_id(404)).await, Ok(None));
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await,
        Ok(vec![tagged, disabled_auto])
    );
    assert_eq!(store.list_api_keys(OTHER_ACCOUNT_ID).await, Ok(Vec::new()));
}

pub async fn list_api_keys_returns_oldest_first(store: Arc<dyn Store>) {
    initialize(&*store).await;
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(Vec::new()));
    let newest = api_key(&api_key_id(1), ApiKeyType::Auto, at(30));
    let oldest = api_key(&api_key_id(2), ApiKeyType::Manual, at(10));
    let middle = api_key(
        &api_key_id(3),
        ApiKeyType::Auto,
        at(10) + Duration::nanoseconds(1),
    );
    for key in [&newest, &oldest, &middle] {
        create(&*store, key).await;
    }
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await,
        Ok(vec![oldest, middle, newest])
    );
}

pub async fn update_api_key_set_enabled_changes_only_enabled_and_updated_at(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let key = ApiKey {
        tags: vec![tag("team", "payments")],
        ..api_key(&api_key_id(1), ApiKeyType::Manual, at(20))
    };
    create(&*store, &key).await;

    let disabled = ApiKey {
        enabled: false,
        updated_at: at(30) + Duration::nanoseconds(3),
        ..key.clone()
    };
    assert_eq!(
        store
            .update_api_key(
                UpdateApiKey::new(
                    ACCOUNT_ID,
                    &key.id,
                    ApiKeyChange::SetEnabled(false),
                    at(30) + Duration::nanoseconds(3)
                ),
                audit_event("DisableApiKey", &key.id)
            )
            .await,
        Ok(disabled.clone())
    );
    assert_eq!(store.api_key(ACCOUNT_ID, &key.id).await, Ok(Some(disabled)));

    let enabled = ApiKey {
        enabled: true,
        updated_at: at(40),
        ..key.clone()
    };
    assert_eq!(
        store
            .update_api_key(
                UpdateApiKey::new(ACCOUNT_ID, &key.id, ApiKeyChange::SetEnabled(true), at(40)),
                audit_event("EnableApiKey", &key.id)
            )
            .await,
        Ok(enabled.clone())
    );
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(vec![enabled]));
}

pub async fn update_api_key_replace_secret_changes_only_the_secret_and_updated_at(
    store: Arc<dyn Store>,
) {
    initialize(&*store).await;
    let key = ApiKey {
        tags: vec![tag("team", "payments")],
        ..api_key(&api_key_id(1), ApiKeyType::Manual, at(20))
    };
    create(&*store, &key).await;

    let replacement = SealedBlob {
        key_version: 2,
        ciphertext: vec![0xab; 61],
    };
    let replaced = ApiKey {
        sealed_secret: replacement.clone(),
        updated_at: at(30),
        ..key.clone()
    };
    assert_ne!(replaced.sealed_secret, key.sealed_secret);
    assert_eq!(
        store
            .update_api_key(
                UpdateApiKey::new(
                    ACCOUNT_ID,
                    &key.id,
                    ApiKeyChange::ReplaceSecret(replacement),
                    at(30)
                ),
                audit_event("UpdateApiKey", &key.id)
            )
            .await,
        Ok(replaced.clone())
    );
    assert_eq!(
        store.api_key(ACCOUNT_ID, &key.id).await,
        Ok(Some(replaced.clone()))
    );
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(vec![replaced]));
}

pub async fn api_key_changes_refuse_unknown_and_foreign_keys(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let key = api_key(&api_key_id(1), ApiKeyType::Manual, at(20));
    create(&*store, &key).await;
    let audit_before = audit_events(&*store).await;

    let unknown = api_key_id(404);
    for (account_id, key_id) in [(ACCOUNT_ID, &unknown), (OTHER_ACCOUNT_ID, &key.id)] {
        for change in [
            ApiKeyChange::SetEnabled(false),
            ApiKeyChange::ReplaceSecret(SealedBlob {
                key_version: 2,
                ciphertext: vec![1; 40],
            }),
        ] {
            assert_eq!(
                store
                    .update_api_key(
                        UpdateApiKey::new(account_id, key_id, change, at(30)),
                        audit_event("UpdateApiKey", key_id)
                    )
                    .await,
                Err(StoreError::ApiKeyNotFound),
                "updating {key_id} in account {account_id}"
            );
        }
        assert_eq!(
            store
                .delete_api_key(account_id, key_id, audit_event("DeleteApiKey", key_id))
                .await,
            Err(StoreError::ApiKeyNotFound),
            "deleting {key_id} in account {account_id}"
        );
    }

    assert_eq!(
        store.api_key(ACCOUNT_ID, &key.id).await,
        Ok(Some(key.clone()))
    );
    assert_eq!(store.api_key(ACCOUNT_ID, &unknown).await, Ok(None));
    assert_eq!(store.list_api_keys(ACCOUNT_ID).await, Ok(vec![key]));
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn delete_api_key_removes_it_and_frees_its_slot(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let first = api_key(&api_key_id(1), ApiKeyType::Auto, at(20));
    let second = api_key(&api_key_id(2), ApiKeyType::Manual, at(21));
    let third = api_key(&api_key_id(3), ApiKeyType::Auto, at(22));
    for key in [&first, &second] {
        assert_eq!(
            store
                .create_api_key_within_limit(key.clone(), 2, audit_event("CreateApiKey", &key.id))
                .await,
            Ok(key.clone())
        );
    }
    assert_eq!(
        store
            .create_api_key_within_limit(third.clone(), 2, audit_event("CreateApiKey", &third.id))
            .await,
        Err(StoreError::ApiKeyLimitExceeded { limit: 2 })
    );
    assert_eq!(store.api_key(ACCOUNT_ID, &third.id).await, Ok(None));

    assert_eq!(
        store
            .delete_api_key(
                ACCOUNT_ID,
                &first.id,
                audit_event("DeleteApiKey", &first.id)
            )
            .await,
        Ok(())
    );
    assert_eq!(store.api_key(ACCOUNT_ID, &first.id).await, Ok(None));
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await,
        Ok(vec![second.clone()])
    );
    assert_eq!(
        store
            .delete_api_key(
                ACCOUNT_ID,
                &first.id,
                audit_event("DeleteApiKey", &first.id)
            )
            .await,
        Err(StoreError::ApiKeyNotFound)
    );

    assert_eq!(
        store
            .create_api_key_within_limit(third.clone(), 2, audit_event("CreateApiKey", &third.id))
            .await,
        Ok(third.clone())
    );
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await,
        Ok(vec![second, third])
    );
}

pub async fn create_api_key_with_an_existing_id_is_refused(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let original = api_key(&api_key_id(1), ApiKeyType::Manual, at(20));
    create(&*store, &original).await;
    let audit_before = audit_events(&*store).await;

    let same_id = ApiKey {
        secret_name: "another-secret-name".to_owned(),
        key_type: ApiKeyType::Auto,
        sealed_secret: SealedBlob {
            key_version: 1,
            ciphertext: vec![9; 32],
        },
        ..api_key(&original.id, ApiKeyType::Auto, at(30))
    };
    assert_eq!(
        store
            .create_api_key_within_limit(same_id, 100, audit_event("CreateApiKey", &original.id))
            .await,
        Err(StoreError::ApiKeyAlreadyExists)
    );
    assert_eq!(
        store.api_key(ACCOUNT_ID, &original.id).await,
        Ok(Some(original.clone()))
    );
    assert_eq!(
        store.list_api_keys(ACCOUNT_ID).await,
        Ok(vec![original.clone()])
    );
    assert_eq!(audit_events(&*store).await, audit_before);

    // Once deleted, the id may be used again.
    assert_eq!(
        store
            .delete_api_key(
                ACCOUNT_ID,
                &original.id,
                audit_event("DeleteApiKey", &original.id)
            )
            .await,
        Ok(())
    );
    let reused = api_key(&original.id, ApiKeyType::Manual, at(40));
    create(&*store, &reused).await;
    assert_eq!(
        store.api_key(ACCOUNT_ID, &original.id).await,
        Ok(Some(reused))
    );
}
