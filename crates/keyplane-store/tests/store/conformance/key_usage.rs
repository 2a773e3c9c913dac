//! Conformance cases for last-use tracking: `record_key_usage` keeps the latest use per key
//! (an older record, in a later call or later in the same batch, never overwrites a newer
//! one), ignores keys that do not exist without failing, and `delete_access_key` removes a
//! key's usage with the key.

use keyplane_core::store::OwnedAccessKey;
use std::sync::Arc;

use keyplane_core::model::{KeyFamily, KeyUsage};
use keyplane_core::store::Store;

use crate::support::{
    at, audit_event, audit_events, create_access_key, initialize_with_user, key_usage,
    new_access_key, tencent_key_id, ACCOUNT_ID, USER_UIN,
};

/// The usage of `key_ids`, sorted by key id (the trait does not fix an order).
async fn usage_of(store: &dyn Store, key_ids: &[String]) -> Vec<KeyUsage> {
    let mut usage = store.key_usage(key_ids).await.expect("reading key usage");
    usage.sort_by(|left, right| left.key_id.cmp(&right.key_id));
    usage
}

pub async fn key_usage_keeps_the_latest_use(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let first = tencent_key_id(1);
    let second = tencent_key_id(2);
    for (id, created_at) in [(&first, at(20)), (&second, at(21))] {
        create_access_key(
            &*store,
            &new_access_key(id, USER_UIN, KeyFamily::Tencent, created_at),
        )
        .await;
    }
    let both = [first.clone(), second.clone()];
    assert_eq!(usage_of(&*store, &both).await, Vec::new());
    let audit_before = audit_events(&*store).await;

    let first_use = key_usage(&first, at(100), "DescribeInstances");
    assert_eq!(
        store.record_key_usage(vec![first_use.clone()]).await,
        Ok(())
    );
    assert_eq!(usage_of(&*store, &both).await, vec![first_use.clone()]);

    // An older use reported late does not overwrite the newer one.
    let late_older_use = KeyUsage {
        product: "cbs".to_owned(),
        source_address: "203.0.113.1".to_owned(),
        ..key_usage(&first, at(50), "DescribeDisks")
    };
    assert_eq!(store.record_key_usage(vec![late_older_use]).await, Ok(()));
    assert_eq!(usage_of(&*store, &both).await, vec![first_use]);

    // A newer use replaces every field.
    let newer_use = KeyUsage {
        product: "cbs".to_owned(),
        source_address: "203.0.113.9".to_owned(),
        ..key_usage(&first, at(200), "RunInstances")
    };
    assert_eq!(
        store.record_key_usage(vec![newer_use.clone()]).await,
        Ok(())
    );

    // Within one batch the latest use wins whatever its position.
    let batch_latest = key_usage(&second, at(300), "TerminateInstances");
    let batch_earlier = key_usage(&second, at(250), "StartInstances");
    assert_eq!(
        store
            .record_key_usage(vec![batch_latest.clone(), batch_earlier])
            .await,
        Ok(())
    );
    assert_eq!(store.record_key_usage(Vec::new()).await, Ok(()));

    assert_eq!(
        usage_of(&*store, &both).await,
        vec![newer_use.clone(), batch_latest.clone()]
    );
    assert_eq!(
        usage_of(&*store, std::slice::from_ref(&first)).await,
        vec![newer_use]
    );
    assert_eq!(usage_of(&*store, &[second]).await, vec![batch_latest]);
    assert_eq!(usage_of(&*store, &[]).await, Vec::new());
    // Usage is bookkeeping, not a credential change: it is not audited.
    assert_eq!(audit_events(&*store).await, audit_before);
}

pub async fn key_usage_for_unknown_keys_is_ignored(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let known = tencent_key_id(1);
    let unknown = tencent_key_id(404);
    create_access_key(
        &*store,
        &new_access_key(&known, USER_UIN, KeyFamily::Tencent, at(20)),
    )
    .await;

    let known_use = key_usage(&known, at(100), "DescribeInstances");
    assert_eq!(
        store
            .record_key_usage(vec![
                key_usage(&unknown, at(99), "DescribeRegions"),
                known_use.clone(),
            ])
            .await,
        Ok(())
    );
    assert_eq!(
        usage_of(&*store, std::slice::from_ref(&unknown)).await,
        Vec::new()
    );
    assert_eq!(
        usage_of(&*store, &[unknown.clone(), known.clone()]).await,
        vec![known_use]
    );

    // The ignored use was not kept aside: a key created later under that id has none.
    create_access_key(
        &*store,
        &new_access_key(&unknown, USER_UIN, KeyFamily::Tencent, at(150)),
    )
    .await;
    assert_eq!(usage_of(&*store, &[unknown]).await, Vec::new());
}

pub async fn delete_access_key_removes_its_usage(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let deleted = tencent_key_id(1);
    let kept = tencent_key_id(2);
    for (id, created_at) in [(&deleted, at(20)), (&kept, at(21))] {
        create_access_key(
            &*store,
            &new_access_key(id, USER_UIN, KeyFamily::Tencent, created_at),
        )
        .await;
    }
    let kept_use = key_usage(&kept, at(101), "DescribeInstances");
    assert_eq!(
        store
            .record_key_usage(vec![
                key_usage(&deleted, at(100), "DescribeInstances"),
                kept_use.clone(),
            ])
            .await,
        Ok(())
    );

    assert_eq!(
        store
            .delete_access_key(
                OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &deleted),
                audit_event("DeleteAccessKey", &deleted)
            )
            .await,
        Ok(())
    );
    assert_eq!(
        usage_of(&*store, &[deleted.clone(), kept.clone()]).await,
        vec![kept_use]
    );

    // A new key reusing the id starts without the old key's usage.
    create_access_key(
        &*store,
        &new_access_key(&deleted, USER_UIN, KeyFamily::Tencent, at(200)),
    )
    .await;
    assert_eq!(usage_of(&*store, &[deleted]).await, Vec::new());
}
