//! Conformance cases for the audit log: every successful mutation stores exactly its one audit
//! event (all fields, in order), a refused mutation stores none, `append_audit_events` appends
//! in order, `audit_records(after, limit)` pages by sequence, and the authorization decision an
//! event carries is kept, for plain and batched writes alike.

use keyplane_core::store::{DeleteUser, OwnedAccessKey, UpdateApiKey, UserPolicy};
use std::sync::Arc;

use keyplane_core::audit::{AuditAuthorization, AuditEvent, AuditRecord};
use keyplane_core::model::{ApiKeyType, KeyFamily, KeyStatus, PolicyType, SealedBlob};
use keyplane_core::store::{ApiKeyChange, Store, StoreError};

use crate::conformance::iam::custom_policy;
use crate::conformance::users::REMOVE_EVERYTHING;
use crate::support::{
    api_key, api_key_id, assert_strictly_increasing, at, audit_event, audit_events, audit_log,
    audit_summary, initialize, initialize_with_user, key_usage, new_access_key,
    refused_audit_event, success, tencent_key_id, user, ACCOUNT_ID, OTHER_ACCOUNT_ID,
    SECOND_USER_UIN, UNKNOWN_UIN, USER_NAME, USER_UIN,
};

/// An audit event of `principal_uin` acting with access key `key_id`.
fn event_by(action: &str, target: &str, principal_uin: u64, key_id: Option<&str>) -> AuditEvent {
    AuditEvent {
        principal_uin: Some(principal_uin),
        key_id: key_id.map(str::to_owned),
        ..audit_event(action, target)
    }
}

pub async fn every_successful_mutation_writes_exactly_one_audit_event(store: Arc<dyn Store>) {
    initialize(&*store).await;
    assert_eq!(
        audit_events(&*store).await,
        Vec::new(),
        "initialize takes no audit event and must store none"
    );
    let key_id = tencent_key_id(1);
    let api_id = api_key_id(1);
    let mut expected: Vec<AuditEvent> = Vec::new();

    let event = event_by("CreateUser", USER_NAME, ACCOUNT_ID, None);
    store
        .create_user(user(USER_UIN, USER_NAME, at(10)), event.clone())
        .await
        .expect("creating a user");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("CreateAccessKey", &key_id, USER_UIN, None);
    store
        .create_access_key_within_quota(
            new_access_key(&key_id, USER_UIN, KeyFamily::Tencent, at(20)),
            2,
            event.clone(),
        )
        .await
        .expect("creating an access key");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("UpdateAccessKey", &key_id, USER_UIN, Some(&key_id));
    store
        .set_access_key_status(
            OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key_id)
                .with_status(KeyStatus::Inactive, at(30)),
            event.clone(),
        )
        .await
        .expect("deactivating the access key");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    store
        .record_key_usage(vec![key_usage(&key_id, at(31), "DescribeInstances")])
        .await
        .expect("recording usage");
    assert_eq!(
        audit_events(&*store).await,
        expected,
        "usage is not audited"
    );

    let event = event_by("CreateApiKey", &api_id, ACCOUNT_ID, None);
    store
        .create_api_key_within_limit(api_key(&api_id, ApiKeyType::Auto, at(40)), 5, event.clone())
        .await
        .expect("creating an API key");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("DisableApiKey", &api_id, ACCOUNT_ID, None);
    store
        .update_api_key(
            UpdateApiKey::new(ACCOUNT_ID, &api_id, ApiKeyChange::SetEnabled(false), at(41)),
            event.clone(),
        )
        .await
        .expect("disabling the API key");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("UpdateApiKey", &api_id, ACCOUNT_ID, None);
    store
        .update_api_key(
            UpdateApiKey::new(
                ACCOUNT_ID,
                &api_id,
                ApiKeyChange::ReplaceSecret(SealedBlob {
                    key_version: 2,
                    ciphertext: vec![7; 44],
                }),
                at(42),
            ),
            event.clone(),
        )
        .await
        .expect("replacing the API key's secret");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("DeleteApiKey", &api_id, ACCOUNT_ID, None);
    store
        .delete_api_key(ACCOUNT_ID, &api_id, event.clone())
        .await
        .expect("deleting the API key");
    expected.push(event);
    assert_eq!(audit_events(&*store).await, expected);

    let event = event_by("DeleteAccessKey", &key_id, USER_UIN, Some(&key_id));
    store
        .delete_access_key(
            OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &key_id),
            event.clone(),
        )
        .await
        .expect("deleting the access key");
    expected.push(event);

    let records = audit_log(&*store).await;
    assert_strictly_increasing(&records);
    assert_eq!(
        records
            .iter()
            .map(|record| record.event.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        audit_summary(&records),
        vec![
            success("CreateUser", USER_NAME),
            success("CreateAccessKey", &key_id),
            success("UpdateAccessKey", &key_id),
            success("CreateApiKey", &api_id),
            success("DisableApiKey", &api_id),
            success("UpdateApiKey", &api_id),
            success("DeleteApiKey", &api_id),
            success("DeleteAccessKey", &key_id),
        ]
    );
}

pub async fn refused_access_key_over_quota_writes_no_audit_event(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    for number in [1, 2] {
        let key = new_access_key(
            &tencent_key_id(number),
            USER_UIN,
            KeyFamily::Tencent,
            at(20),
        );
        store
            .create_access_key_within_quota(key.clone(), 2, audit_event("CreateAccessKey", &key.id))
            .await
            .expect("creating a key under the quota");
    }
    let before = audit_log(&*store).await;
    assert_eq!(
        audit_summary(&before),
        vec![
            success("CreateUser", USER_NAME),
            success("CreateAccessKey", &tencent_key_id(1)),
            success("CreateAccessKey", &tencent_key_id(2)),
        ]
    );

    let over_quota = new_access_key(&tencent_key_id(3), USER_UIN, KeyFamily::Tencent, at(30));
    assert_eq!(
        store
            .create_access_key_within_quota(
                over_quota.clone(),
                2,
                audit_event("CreateAccessKey", &over_quota.id)
            )
            .await,
        Err(StoreError::AccessKeyQuotaExceeded { limit: 2 })
    );
    assert_eq!(audit_log(&*store).await, before);
}

pub async fn every_refused_mutation_writes_no_audit_event(store: Arc<dyn Store>) {
    initialize_with_user(&*store).await;
    let key_id = tencent_key_id(1);
    store
        .create_access_key_within_quota(
            new_access_key(&key_id, USER_UIN, KeyFamily::Tencent, at(20)),
            1,
            audit_event("CreateAccessKey", &key_id),
        )
        .await
        .expect("creating an access key");
    let api_id = api_key_id(1);
    store
        .create_api_key_within_limit(
            api_key(&api_id, ApiKeyType::Manual, at(21)),
            1,
            audit_event("CreateApiKey", &api_id),
        )
        .await
        .expect("creating an API key");
    let before = audit_log(&*store).await;
    let refused = || audit_event("Refused", "anything");

    let outcomes = vec![
        (
            "create_user with a taken name",
            store
                .create_user(user(SECOND_USER_UIN, USER_NAME, at(30)), refused())
                .await
                .err(),
            StoreError::UserNameTaken,
        ),
        (
            "create_user with a taken uin",
            store
                .create_user(user(USER_UIN, "mallory", at(30)), refused())
                .await
                .err(),
            StoreError::IdentifierTaken,
        ),
        (
            "create_access_key_within_quota for an unknown owner",
            store
                .create_access_key_within_quota(
                    new_access_key(&tencent_key_id(2), UNKNOWN_UIN, KeyFamily::Tencent, at(30)),
                    2,
                    refused(),
                )
                .await
                .err(),
            StoreError::UserNotFound,
        ),
        (
            "create_access_key_within_quota over the quota",
            store
                .create_access_key_within_quota(
                    new_access_key(&tencent_key_id(2), USER_UIN, KeyFamily::Tencent, at(30)),
                    1,
                    refused(),
                )
                .await
                .err(),
            StoreError::AccessKeyQuotaExceeded { limit: 1 },
        ),
        (
            "create_access_key_within_quota with a taken id",
            store
                .create_access_key_within_quota(
                    new_access_key(&key_id, USER_UIN, KeyFamily::Aliyun, at(30)),
                    2,
                    refused(),
                )
                .await
                .err(),
            StoreError::IdentifierTaken,
        ),
        (
            "set_access_key_status of an unknown key",
            store
                .set_access_key_status(
                    OwnedAccessKey::new(ACCOUNT_ID, USER_UIN, &tencent_key_id(404))
                        .with_status(KeyStatus::Inactive, at(30)),
                    refused(),
                )
                .await
                .err(),
            StoreError::AccessKeyNotFound,
        ),
        (
            "set_access_key_status of another owner's key",
            store
                .set_access_key_status(
                    OwnedAccessKey::new(ACCOUNT_ID, ACCOUNT_ID, &key_id)
                        .with_status(KeyStatus::Inactive, at(30)),
                    refused(),
                )
                .await
                .err(),
            StoreError::OwnerMismatch,
        ),
        (
            "delete_access_key in another account",
            store
                .delete_access_key(
                    OwnedAccessKey::new(OTHER_ACCOUNT_ID, USER_UIN, &key_id),
                    refused(),
                )
                .await
                .err(),
            StoreError::AccessKeyNotFound,
        ),
        (
            "create_api_key_within_limit over the limit",
            store
                .create_api_key_within_limit(
                    api_key(&api_key_id(2), ApiKeyType::Auto, at(30)),
                    1,
                    refused(),
                )
                .await
                .err(),
            StoreError::ApiKeyLimitExceeded { limit: 1 },
        ),
        (
            "create_api_key_within_limit with an existing id",
            store
                .create_api_key_within_limit(
                    api_key(&api_id, ApiKeyType::Manual, at(30)),
                    10,
                    refused(),
                )
                .await
                .err(),
            StoreError::ApiKeyAlreadyExists,
        ),
        (
            "update_api_key of an unknown key",
            store
                .update_api_key(
                    UpdateApiKey::new(
                        ACCOUNT_ID,
                        &api_key_id(404),
                        ApiKeyChange::SetEnabled(false),
                        at(30),
                    ),
                    refused(),
                )
                .await
                .err(),
            StoreError::ApiKeyNotFound,
        ),
        (
            "delete_api_key in another account",
            store
                .delete_api_key(OTHER_ACCOUNT_ID, &api_id, refused())
                .await
                .err(),
            StoreError::ApiKeyNotFound,
        ),
    ];
    for (attempt, outcome, expected) in outcomes {
        assert_eq!(outcome, Some(expected), "{attempt}");
    }
    assert_eq!(audit_log(&*store).await, before);
}

pub async fn append_audit_events_appends_in_order(store: Arc<dyn Store>) {
    initialize(&*store).await;
    let first_batch = vec![
        refused_audit_event(1, "AuthFailure.SignatureFailure"),
        AuditEvent {
            outcome: "UnauthorizedOperation".to_owned(),
            ..audit_event("DeleteAccessKey", &tencent_key_id(1))
        },
        AuditEvent {
            detail: Some("started=… ended=… bytes_from_client=12 bytes_to_client=3456".to_owned()),
            ..audit_event("TerminalSession", "cn-shanghai/svc/svc-1/worker0")
        },
        refused_audit_event(2, "RequestLimitExceeded"),
    ];
    assert_eq!(store.append_audit_events(first_batch.clone()).await, Ok(()));
    let records = audit_log(&*store).await;
    assert_strictly_increasing(&records);
    assert_eq!(
        records
            .iter()
            .map(|record| record.event.clone())
            .collect::<Vec<_>>(),
        first_batch
    );

    assert_eq!(store.append_audit_events(Vec::new()).await, Ok(()));
    assert_eq!(audit_log(&*store).await, records);

    let second_batch = vec![
        refused_audit_event(3, "AuthFailure.SecretIdNotFound"),
        refused_audit_event(4, "AuthFailure.SecretIdNotFound"),
    ];
    assert_eq!(
        store.append_audit_events(second_batch.clone()).await,
        Ok(())
    );
    let mutation = audit_event("CreateUser", USER_NAME);
    store
        .create_user(user(USER_UIN, USER_NAME, at(10)), mutation.clone())
        .await
        .expect("creating a user");

    let all = audit_log(&*store).await;
    assert_strictly_increasing(&all);
    assert_eq!(
        all[..records.len()],
        records[..],
        "earlier records are unchanged"
    );
    let expected: Vec<AuditEvent> = first_batch
        .into_iter()
        .chain(second_batch)
        .chain([mutation])
        .collect();
    assert_eq!(
        all.iter()
            .map(|record| record.event.clone())
            .collect::<Vec<_>>(),
        expected
    );
}

pub async fn audit_records_paginates_by_sequence(store: Arc<dyn Store>) {
    initialize(&*store).await;
    assert_eq!(store.audit_records(0, 10).await, Ok(Vec::new()));
    let events: Vec<AuditEvent> = (1..=7)
        .map(|number| refused_audit_event(number, "AuthFailure.SignatureFailure"))
        .collect();
    store
        .append_audit_events(events.clone())
        .await
        .expect("appending audit events");
    let all = audit_log(&*store).await;
    assert_eq!(all.len(), 7);
    assert_strictly_increasing(&all);
    assert_eq!(
        all.iter()
            .map(|record| record.event.clone())
            .collect::<Vec<_>>(),
        events
    );

    let mut pages: Vec<Vec<AuditRecord>> = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_records(after, 3).await.expect("reading a page");
        let Some(last) = page.last() else {
            break;
        };
        after = last.sequence;
        pages.push(page);
        assert!(
            pages.len() <= 3,
            "seven records must fit in three pages of three"
        );
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(pages.concat(), all);

    assert_eq!(
        store.audit_records(all[4].sequence, 100).await,
        Ok(all[5..].to_vec())
    );
    assert_eq!(
        store.audit_records(all[0].sequence, 2).await,
        Ok(all[1..3].to_vec())
    );
    assert_eq!(
        store.audit_records(all[6].sequence, 100).await,
        Ok(Vec::new())
    );
    assert_eq!(store.audit_records(0, 0).await, Ok(Vec::new()));
    assert_eq!(store.audit_records(i64::MAX, 10).await, Ok(Vec::new()));
}

fn allowed_by(statement: Option<&str>) -> Option<AuditAuthorization> {
    Some(AuditAuthorization {
        decision: "Allow".to_owned(),
        statement: statement.map(str::to_owned),
    })
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
            UserPolicy::new(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "keys-admin")
                .attached_at(at(13), 10),
            event.clone(),
        )
        .await
        .expect("attaching");
    expected.push(event);
    let event = authorized("DetachUserPolicy", "keys-admin", Some("root"));
    store
        .detach_policy(
            UserPolicy::new(ACCOUNT_ID, USER_UIN, PolicyType::Custom, "keys-admin"),
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
        .delete_user(
            DeleteUser::new(ACCOUNT_ID, USER_UIN, REMOVE_EVERYTHING),
            event.clone(),
        )
        .await
        .expect("deleting alice");
    expected.push(event);

    assert_eq!(audit_events(&*store).await, expected);
}
