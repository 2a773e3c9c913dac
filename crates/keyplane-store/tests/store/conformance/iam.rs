//! Conformance cases for IAM: `list_users` (oldest first, profiles round trip), `delete_user`
//! (refusals that change nothing, forced deletion of keys of both families and of
//! attachments), custom policies (refusals in their order, lookups scoped to the account),
//! `attach_policy` / `detach_policy` (every refusal, the attachment limit under concurrency),
//! `user_policies` (attach order, custom policies joined in), and the authorization carried
//! by the audit events of these and of a batched write.

use std::sync::Arc;

use keyplane_core::audit::{AuditAuthorization, AuditEvent};
use keyplane_core::model::{
    CustomPolicy, KeyFamily, PolicyAttachment, PolicySyntax, PolicyType, User, UserProfile,
};
use keyplane_core::store::{DeleteUserOptions, Store, StoreError};
use time::{Duration, OffsetDateTime};

use crate::support::{
    aliyun_key_id, at, audit_event, audit_events, create_access_key, expected_access_key,
    initialize, initialize_with_user, key_usage, new_access_key, root_user, tencent_key_id, user,
    ACCOUNT_ID, OTHER_ACCOUNT_ID, SECOND_USER_NAME, SECOND_USER_UIN, UNKNOWN_UIN, USER_NAME,
    USER_UIN,
};

const KEEP_EVERYTHING: DeleteUserOptions = DeleteUserOptions {
    remove_access_keys: false,
    detach_policies: false,
};
const REMOVE_EVERYTHING: DeleteUserOptions = DeleteUserOptions {
    remove_access_keys: true,
    detach_policies: true,
};

/// A custom policy of `ACCOUNT_ID`.
fn custom_policy(id: u64, name: &str, created_at: OffsetDateTime) -> CustomPolicy {
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

async fn create_policy(store: &dyn Store, policy: &CustomPolicy) {
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

async fn attach(
    store: &dyn Store,
    uin: u64,
    policy_type: PolicyType,
    name: &str,
    attached_at: OffsetDateTime,
) -> Result<(), StoreError> {
    store
        .attach_policy(
            ACCOUNT_ID,
            uin,
            policy_type,
            name,
            attached_at,
            10,
            audit_event("AttachUserPolicy", name),
        )
        .await
}

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

fn allowed_by(statement: Option<&str>) -> Option<AuditAuthorization> {
    Some(AuditAuthorization {
        decision: "Allow".to_owned(),
        statement: statement.map(str::to_owned),
    })
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
                .delete_user(account_id, uin, options, audit_event("DeleteUser", "x"))
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
        .delete_user(ACCOUNT_ID, USER_UIN, REMOVE_EVERYTHING, event.clone())
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
                ACCOUNT_ID,
                USER_UIN,
                KEEP_EVERYTHING,
                audit_event("DeleteUser", "a")
            )
            .await,
        Ok(Vec::new()),
        "a user without keys or policies needs no option"
    );
    assert_eq!(
        store
            .delete_user(
                ACCOUNT_ID,
                USER_UIN,
                REMOVE_EVERYTHING,
                audit_event("DeleteUser", "b")
            )
            .await,
        Err(StoreError::UserNotFound)
    );
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
                    account_id,
                    uin,
                    policy_type,
                    name,
                    at(30),
                    limit,
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
                    account_id,
                    uin,
                    policy_type,
                    name,
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
                ACCOUNT_ID,
                USER_UIN,
                PolicyType::System,
                "ReadOnlyAccess",
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
                        ACCOUNT_ID,
                        USER_UIN,
                        PolicyType::System,
                        &name,
                        at(20) + Duration::milliseconds(i64::from(number)),
                        LIMIT,
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

pub async fn audit_events_keep_their_authorization(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let authorized = |action: &str, target: &str, statement: Option<&str>| AuditEvent {
        authorization: allowed_by(statement),
        ..audit_event(action, target)
    };
    let mut expected = Vec::new();

    // Batched on PostgreSQL: create_user and access-key creation.
    let event = authorized(
        "CreateUser",
        USER_NAME,
        Some("System:AdministratorAccess#0"),
    );
    store
        .create_user(user(USER_UIN, USER_NAME, at(10)), event.clone())
        .await
        .expect("creating alice");
    expected.push(event);
    let event = authorized("CreateAccessKey", &tencent_key_id(1), None);
    store
        .create_access_key_within_quota(
            new_access_key(&tencent_key_id(1), USER_UIN, KeyFamily::Tencent, at(11)),
            2,
            event.clone(),
        )
        .await
        .expect("creating a key");
    expected.push(event);

    let event = authorized("CreatePolicy", "keys-admin", Some("root"));
    store
        .create_custom_policy(custom_policy(3, "keys-admin", at(12)), 10, event.clone())
        .await
        .expect("creating a policy");
    expected.push(event);
    let event = authorized(
        "AttachUserPolicy",
        "keys-admin",
        Some("Custom:keys-admin#2"),
    );
    store
        .attach_policy(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::Custom,
            "keys-admin",
            at(13),
            10,
            event.clone(),
        )
        .await
        .expect("attaching");
    expected.push(event);
    let event = authorized("DetachUserPolicy", "keys-admin", Some("root"));
    store
        .detach_policy(
            ACCOUNT_ID,
            USER_UIN,
            PolicyType::Custom,
            "keys-admin",
            event.clone(),
        )
        .await
        .expect("detaching");
    expected.push(event);
    let event = AuditEvent {
        authorization: Some(AuditAuthorization {
            decision: "ExplicitDeny".to_owned(),
            statement: Some("Custom:deny-all#0".to_owned()),
        }),
        outcome: "AccessDenied".to_owned(),
        ..audit_event("DeleteUser", USER_NAME)
    };
    let implicit = AuditEvent {
        authorization: Some(AuditAuthorization {
            decision: "ImplicitDeny".to_owned(),
            statement: None,
        }),
        outcome: "AccessDenied".to_owned(),
        ..audit_event("ListUsers", "")
    };
    store
        .append_audit_events(vec![event.clone(), implicit.clone()])
        .await
        .expect("appending refusals");
    expected.push(event);
    expected.push(implicit);
    let event = authorized(
        "DeleteUser",
        USER_NAME,
        Some("System:AdministratorAccess#0"),
    );
    store
        .delete_user(ACCOUNT_ID, USER_UIN, REMOVE_EVERYTHING, event.clone())
        .await
        .expect("deleting alice");
    expected.push(event);

    assert_eq!(audit_events(&*store).await, expected);
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
                .delete_custom_policy(ACCOUNT_ID, name, detach, audit_event("DeletePolicy", name))
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
                OTHER_ACCOUNT_ID,
                "lonely",
                true,
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
