//! Conformance cases for custom policies (refusals in their order, lookups scoped to the
//! account, deletion while attached), `attach_policy` / `detach_policy` (every refusal, the
//! attachment limit under concurrency) and `user_policies` (attach order, custom policies joined
//! in). Users are in `users`; the authorization audit events carry is in `audit`.

use keyplane_core::store::{DeleteCustomPolicy, UserPolicy};
use std::sync::Arc;

use keyplane_core::model::{CustomPolicy, PolicyAttachment, PolicySyntax, PolicyType};
use keyplane_core::store::{Store, StoreError};
use time::{Duration, OffsetDateTime};

use crate::support::{
    at, audit_event, audit_events, initialize, initialize_with_user, user, ACCOUNT_ID,
    OTHER_ACCOUNT_ID, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN, USER_UIN,
};

/// A custom policy of `ACCOUNT_ID`.
pub(crate) fn custom_policy(id: u64, name: &str, created_at: OffsetDateTime) -> CustomPolicy {
    CustomPolicy {
        account_id: ACCOUNT_ID,
        id,
        name: name.to_owned(),
        description: format!("what {name} is for — ünïcode"),
        syntax: PolicySyntax::Cam,
        document: format!(
            r#"{{"version":"2.0","statement":[{{"effect":"allow","action":["{name}:*"]}}]}}"#
        ),
        created_at,
    }
}

pub(crate) async fn create_policy(store: &dyn Store, policy: &CustomPolicy) {
    let created = store
        .create_custom_policy(
            policy.clone(),
            100,
            audit_event("CreatePolicy", &policy.name),
        )
        .await
        .expect("creating a custom policy");
    assert_eq!(&created, policy);
}

pub(crate) async fn attach(
    store: &dyn Store,
    uin: u64,
    policy_type: PolicyType,
    name: &str,
    attached_at: OffsetDateTime,
) -> Result<(), StoreError> {
    store
        .attach_policy(
            UserPolicy::new(ACCOUNT_ID, uin, policy_type, name).attached_at(attached_at, 10),
            audit_event("AttachUserPolicy", name),
        )
        .await
}

pub async fn create_custom_policy_refusals_in_their_order(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let first = custom_policy(1, "first", at(10));
    let second = custom_policy(2, "second", at(11));
    create_policy(&*store, &first).await;
    let audit_before = audit_events(&*store).await;
    let create = |policy: CustomPolicy, limit: u32| {
        let store = Arc::clone(&store);
        async move {
            store
                .create_custom_policy(policy, limit, audit_event("CreatePolicy", "x"))
                .await
        }
    };

    assert_eq!(
        create(custom_policy(3, "first", at(12)), 10).await,
        Err(StoreError::PolicyNameTaken)
    );
    assert_eq!(
        create(second.clone(), 1).await,
        Err(StoreError::PolicyLimitExceeded { limit: 1 })
    );
    // A taken name is the answer even at the limit; a taken id is looked at last.
    assert_eq!(
        create(custom_policy(3, "first", at(12)), 1).await,
        Err(StoreError::PolicyNameTaken)
    );
    assert_eq!(
        create(custom_policy(1, "other", at(12)), 10).await,
        Err(StoreError::IdentifierTaken)
    );
    assert_eq!(
        create(custom_policy(1, "other", at(12)), 1).await,
        Err(StoreError::PolicyLimitExceeded { limit: 1 })
    );
    assert_eq!(audit_events(&*store).await, audit_before);
    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "other").await,
        Ok(None)
    );
    assert_eq!(
        store.custom_policy_by_id(ACCOUNT_ID, 1).await,
        Ok(Some(first))
    );

    assert_eq!(create(second.clone(), 2).await, Ok(second.clone()));
    assert_eq!(
        create(custom_policy(3, "third", at(12)), 2).await,
        Err(StoreError::PolicyLimitExceeded { limit: 2 })
    );
}

pub async fn custom_policies_are_found_by_name_and_id_within_their_account(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let cam = custom_policy(900_000_001, "keys-admin", at(10));
    let ram = CustomPolicy {
        syntax: PolicySyntax::Ram,
        description: String::new(),
        ..custom_policy(900_000_002, "ReadKeys", at(11))
    };
    create_policy(&*store, &cam).await;
    create_policy(&*store, &ram).await;

    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "keys-admin").await,
        Ok(Some(cam.clone()))
    );
    assert_eq!(
        store.custom_policy_by_id(ACCOUNT_ID, 900_000_002).await,
        Ok(Some(ram.clone()))
    );
    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "ReadKeys").await,
        Ok(Some(ram))
    );
    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "readkeys").await,
        Ok(None),
        "names are case-sensitive"
    );
    assert_eq!(
        store
            .custom_policy_by_name(OTHER_ACCOUNT_ID, "keys-admin")
            .await,
        Ok(None)
    );
    assert_eq!(
        store
            .custom_policy_by_id(OTHER_ACCOUNT_ID, 900_000_001)
            .await,
        Ok(None)
    );
    assert_eq!(store.custom_policy_by_id(ACCOUNT_ID, 3).await, Ok(None));
}

pub async fn attach_and_detach_refusals_change_nothing(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    create_policy(&*store, &custom_policy(5, "keys-admin", at(10))).await;
    attach(
        &*store,
        USER_UIN,
        PolicyType::System,
        "ReadOnlyAccess",
        at(20),
    )
    .await
    .expect("attaching");
    let attachments = store.user_policies(ACCOUNT_ID, USER_UIN).await;
    let audit_before = audit_events(&*store).await;
    let attach_with = |account_id: u64, uin: u64, policy_type, name: &'static str, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .attach_policy(
                    UserPolicy::new(account_id, uin, policy_type, name).attached_at(at(30), limit),
                    audit_event("AttachUserPolicy", name),
                )
                .await
        }
    };

    assert_eq!(
        attach_with(
            ACCOUNT_ID,
            UNKNOWN_UIN,
            PolicyType::System,
            "AdministratorAccess",
            10
        )
        .await,
        Err(StoreError::UserNotFound)
    );
    assert_eq!(
        attach_with(
            OTHER_ACCOUNT_ID,
            USER_UIN,
            PolicyType::System,
            "AdministratorAccess",
            10
        )
        .await,
        Err(StoreError::UserNotFound)
    );
    assert_eq!(
        attach_with(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::Custom,
            "no-such-policy",
            10
        )
        .await,
        Err(StoreError::PolicyNotFound)
    );
    assert_eq!(
        attach_with(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::Custom,
            "ReadOnlyAccess",
            10
        )
        .await,
        Err(StoreError::PolicyNotFound),
        "a system policy's name is not a custom policy"
    );
    assert_eq!(
        attach_with(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::System,
            "ReadOnlyAccess",
            10
        )
        .await,
        Err(StoreError::PolicyAlreadyAttached)
    );
    assert_eq!(
        attach_with(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::System,
            "ReadOnlyAccess",
            1
        )
        .await,
        Err(StoreError::PolicyAlreadyAttached),
        "already attached is the answer even at the limit"
    );
    assert_eq!(
        attach_with(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "keys-admin", 1).await,
        Err(StoreError::AttachmentLimitExceeded { limit: 1 })
    );

    let detach = |account_id: u64, uin: u64, policy_type, name: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .detach_policy(
                    UserPolicy::new(account_id, uin, policy_type, name),
                    audit_event("DetachUserPolicy", name),
                )
                .await
        }
    };
    assert_eq!(
        detach(
            ACCOUNT_ID,
            UNKNOWN_UIN,
            PolicyType::System,
            "ReadOnlyAccess"
        )
        .await,
        Err(StoreError::UserNotFound)
    );
    assert_eq!(
        detach(
            OTHER_ACCOUNT_ID,
            USER_UIN,
            PolicyType::System,
            "ReadOnlyAccess"
        )
        .await,
        Err(StoreError::UserNotFound)
    );
    assert_eq!(
        detach(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "keys-admin").await,
        Err(StoreError::PolicyNotAttached)
    );
    assert_eq!(
        detach(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "ReadOnlyAccess").await,
        Err(StoreError::PolicyNotAttached),
        "the type is part of what is attached"
    );
    assert_eq!(store.user_policies(ACCOUNT_ID, USER_UIN).await, attachments);
    assert_eq!(audit_events(&*store).await, audit_before);

    // Detaching frees the slot.
    let event = audit_event("DetachUserPolicy", "ReadOnlyAccess");
    assert_eq!(
        store
            .detach_policy(
                UserPolicy::new(ACCOUNT_ID, USER_UIN, PolicyType::System, "ReadOnlyAccess"),
                event
            )
            .await,
        Ok(())
    );
    assert_eq!(
        attach_with(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "keys-admin", 1).await,
        Ok(())
    );
    assert_eq!(
        detach(ACCOUNT_ID, USER_UIN, PolicyType::System, "ReadOnlyAccess").await,
        Err(StoreError::PolicyNotAttached)
    );
}

pub async fn concurrent_attachments_respect_the_limit(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    const LIMIT: u32 = 5;
    let tasks: Vec<_> = (0..24u32)
        .map(|number| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let name = format!("SystemPolicy{number:02}");
                store
                    .attach_policy(
                        UserPolicy::new(ACCOUNT_ID, USER_UIN, PolicyType::System, &name)
                            .attached_at(at(20) + Duration::milliseconds(i64::from(number)), LIMIT),
                        audit_event("AttachUserPolicy", &name),
                    )
                    .await
                    .map(|()| name)
            })
        })
        .collect();
    let mut attached = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.expect("an attachment task panicked") {
            Ok(name) => attached.push(name),
            Err(error) => refused.push(error),
        }
    }
    assert_eq!(attached.len(), LIMIT as usize, "attached: {attached:?}");
    assert!(
        refused
            .iter()
            .all(|error| *error == StoreError::AttachmentLimitExceeded { limit: LIMIT }),
        "{refused:?}"
    );
    attached.sort();
    let mut listed: Vec<String> = store
        .user_policies(ACCOUNT_ID, USER_UIN)
        .await
        .expect("listing")
        .into_iter()
        .map(|attachment| attachment.policy_name)
        .collect();
    listed.sort();
    assert_eq!(listed, attached);
    let audited = audit_events(&*store)
        .await
        .into_iter()
        .filter(|event| event.action == "AttachUserPolicy")
        .count();
    assert_eq!(audited, LIMIT as usize);
}

pub async fn user_policies_are_in_attach_order_with_their_custom_policies(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    store
        .create_user(
            user(SECOND_USER_UIN, SECOND_USER_NAME, at(11)),
            audit_event("CreateUser", SECOND_USER_NAME),
        )
        .await
        .expect("creating bob");
    let keys_admin = custom_policy(11, "keys-admin", at(12));
    let auditor = CustomPolicy {
        syntax: PolicySyntax::Ram,
        ..custom_policy(12, "Auditor", at(13))
    };
    create_policy(&*store, &keys_admin).await;
    create_policy(&*store, &auditor).await;
    // Attached out of name order; two at the same instant (ordered by type, then name).
    let plan = [
        (PolicyType::System, "ReadOnlyAccess", at(40)),
        (PolicyType::Custom, "keys-admin", at(20)),
        (PolicyType::System, "AdministratorAccess", at(30)),
        (PolicyType::Custom, "Auditor", at(30)),
    ];
    for (policy_type, name, attached_at) in plan {
        attach(&*store, USER_UIN, policy_type, name, attached_at)
            .await
            .expect("attaching");
    }
    attach(&*store, SECOND_USER_UIN, PolicyType::System, "Bob's", at(1))
        .await
        .expect("attaching to bob");

    let attachment =
        |policy_type, name: &str, attached_at, custom: Option<&CustomPolicy>| PolicyAttachment {
            policy_type,
            policy_name: name.to_owned(),
            attached_at,
            custom: custom.cloned(),
        };
    assert_eq!(
        store.user_policies(ACCOUNT_ID, USER_UIN).await,
        Ok(vec![
            attachment(PolicyType::Custom, "keys-admin", at(20), Some(&keys_admin)),
            attachment(PolicyType::Custom, "Auditor", at(30), Some(&auditor)),
            attachment(PolicyType::System, "AdministratorAccess", at(30), None),
            attachment(PolicyType::System, "ReadOnlyAccess", at(40), None),
        ])
    );
    assert_eq!(
        store.user_policies(ACCOUNT_ID, SECOND_USER_UIN).await,
        Ok(vec![attachment(PolicyType::System, "Bob's", at(1), None)])
    );
    assert_eq!(
        store.user_policies(OTHER_ACCOUNT_ID, USER_UIN).await,
        Ok(Vec::new())
    );
    assert_eq!(
        store.user_policies(ACCOUNT_ID, UNKNOWN_UIN).await,
        Ok(Vec::new())
    );
}

pub async fn delete_custom_policy_refuses_while_attached_unless_told_to_detach(
    store: Arc<dyn Store>,
) {
    initialize_with_user(&*store).await;
    store
        .create_user(
            user(SECOND_USER_UIN, SECOND_USER_NAME, at(11)),
            audit_event("CreateUser", SECOND_USER_NAME),
        )
        .await
        .expect("creating bob");
    let shared = custom_policy(21, "shared", at(12));
    let lonely = custom_policy(22, "lonely", at(13));
    create_policy(&*store, &shared).await;
    create_policy(&*store, &lonely).await;
    for uin in [USER_UIN, SECOND_USER_UIN] {
        attach(&*store, uin, PolicyType::Custom, "shared", at(20))
            .await
            .expect("attaching");
    }
    // A system policy of the same name is another policy.
    attach(&*store, USER_UIN, PolicyType::System, "shared", at(21))
        .await
        .expect("attaching a system policy");
    let count = |policy_type, name: &'static str| {
        let store = store.clone();
        async move {
            store
                .policy_attachment_count(ACCOUNT_ID, policy_type, name)
                .await
        }
    };
    assert_eq!(count(PolicyType::Custom, "shared").await, Ok(2));
    assert_eq!(count(PolicyType::System, "shared").await, Ok(1));
    assert_eq!(count(PolicyType::Custom, "lonely").await, Ok(0));
    assert_eq!(
        store.list_custom_policies(ACCOUNT_ID).await,
        Ok(vec![(shared.clone(), 2), (lonely.clone(), 0)])
    );
    assert_eq!(
        store.list_custom_policies(OTHER_ACCOUNT_ID).await,
        Ok(Vec::new())
    );

    // Refusals change nothing.
    let delete = |name: &'static str, detach: bool| {
        let store = store.clone();
        async move {
            store
                .delete_custom_policy(
                    DeleteCustomPolicy::new(ACCOUNT_ID, name, detach),
                    audit_event("DeletePolicy", name),
                )
                .await
        }
    };
    assert_eq!(
        delete("missing", true).await,
        Err(StoreError::PolicyNotFound)
    );
    assert_eq!(
        store
            .delete_custom_policy(
                DeleteCustomPolicy::new(OTHER_ACCOUNT_ID, "lonely", true),
                audit_event("DeletePolicy", "x")
            )
            .await,
        Err(StoreError::PolicyNotFound),
        "policies are scoped to their account"
    );
    assert_eq!(delete("shared", false).await, Err(StoreError::PolicyInUse));
    assert_eq!(count(PolicyType::Custom, "shared").await, Ok(2));
    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "shared").await,
        Ok(Some(shared.clone()))
    );

    // An unattached policy goes without detaching anything; an attached one detaches.
    assert_eq!(delete("lonely", false).await, Ok(Vec::new()));
    assert_eq!(store.custom_policy_by_id(ACCOUNT_ID, 22).await, Ok(None));
    let mut detached = delete("shared", true).await.expect("deleting shared");
    detached.sort_unstable();
    let mut expected = vec![USER_UIN, SECOND_USER_UIN];
    expected.sort_unstable();
    assert_eq!(detached, expected);
    assert_eq!(
        store.custom_policy_by_name(ACCOUNT_ID, "shared").await,
        Ok(None)
    );
    assert_eq!(count(PolicyType::Custom, "shared").await, Ok(0));
    let left: Vec<_> = store
        .user_policies(ACCOUNT_ID, USER_UIN)
        .await
        .expect("listing")
        .into_iter()
        .map(|attachment| (attachment.policy_type, attachment.policy_name))
        .collect();
    assert_eq!(left, vec![(PolicyType::System, "shared".to_owned())]);
    assert_eq!(
        store.user_policies(ACCOUNT_ID, SECOND_USER_UIN).await,
        Ok(Vec::new())
    );
    assert_eq!(store.list_custom_policies(ACCOUNT_ID).await, Ok(Vec::new()));
    // The name is free again.
    create_policy(&*store, &custom_policy(23, "shared", at(30))).await;
}
