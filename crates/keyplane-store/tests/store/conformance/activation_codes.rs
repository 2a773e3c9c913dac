//! Conformance cases for SMC activation codes and source-server registrations: round trips,
//! scoping to the account, disable/delete, and redemption — one use per new fingerprint, the
//! same fingerprint getting its registration back, refusals that consume nothing, and exactly
//! `count` registrations under concurrent redemption.

use std::sync::Arc;

use keyplane_core::model::{ActivationCode, Redemption, SourceServer};
use keyplane_core::store::{Store, StoreError};

use crate::support::{
    at, audit_event, audit_log, audit_summary, initialize, success, ACCOUNT_ID, OTHER_ACCOUNT_ID,
};

fn activation_code(id: &str, count: u32) -> ActivationCode {
    ActivationCode {
        id: id.to_owned(),
        account_id: ACCOUNT_ID,
        name: format!("name-{id}"),
        description: "for the migration of rack 7".to_owned(),
        code_hash: vec![0x00, 0xff, 0x10, 0x20, 0x30],
        count,
        registered_count: 0,
        time_to_live_days: 30,
        disabled: false,
        created_at: at(0),
        expires_at: at(30 * 86_400),
    }
}

fn source_server(id: &str, code_id: &str, fingerprint: &str, seconds: i64) -> SourceServer {
    SourceServer {
        id: id.to_owned(),
        account_id: ACCOUNT_ID,
        activation_code_id: code_id.to_owned(),
        name: format!("server {id}"),
        hostname: format!("{id}.example.internal"),
        operating_system: "Debian GNU/Linux 12".to_owned(),
        fingerprint: fingerprint.to_owned(),
        source_address: "192.0.2.7".to_owned(),
        registered_at: at(seconds),
    }
}

async fn create(store: &dyn Store, code: &ActivationCode) {
    store
        .create_activation_code(code.clone(), audit_event("CreateAccessToken", &code.id))
        .await
        .expect("create activation code");
}

async fn redeem(store: &dyn Store, server: &SourceServer) -> Result<Redemption, StoreError> {
    store
        .redeem_activation_code(
            server.clone(),
            audit_event("RegisterSourceServer", &server.id),
        )
        .await
}

async fn registered_count(store: &dyn Store, code_id: &str) -> u32 {
    store
        .activation_code(code_id)
        .await
        .expect("read activation code")
        .expect("the code exists")
        .registered_count
}

pub async fn activation_code_round_trips_and_is_scoped_to_its_account(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let first = activation_code("at-first000000000000000", 5);
    let second = activation_code("at-second00000000000000", 1000);
    create(store.as_ref(), &first).await;
    create(store.as_ref(), &second).await;
    assert_eq!(
        store.activation_code(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.activation_code("at-missing").await.unwrap(), None);
    assert_eq!(
        store.list_activation_codes(ACCOUNT_ID).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert!(store
        .list_activation_codes(OTHER_ACCOUNT_ID)
        .await
        .unwrap()
        .is_empty());
    let taken = store
        .create_activation_code(first.clone(), audit_event("CreateAccessToken", &first.id))
        .await;
    assert_eq!(taken.unwrap_err(), StoreError::IdentifierTaken);
}

pub async fn disable_and_delete_refuse_unknown_and_foreign_codes(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let code = activation_code("at-disable0000000000000", 5);
    create(store.as_ref(), &code).await;
    let event = || audit_event("DisableAccessToken", &code.id);
    assert_eq!(
        store
            .disable_activation_code(OTHER_ACCOUNT_ID, &code.id, event())
            .await
            .unwrap_err(),
        StoreError::ActivationCodeNotFound
    );
    assert_eq!(
        store
            .delete_activation_code(ACCOUNT_ID, "at-missing", event())
            .await
            .unwrap_err(),
        StoreError::ActivationCodeNotFound
    );
    let disabled = store
        .disable_activation_code(ACCOUNT_ID, &code.id, event())
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(
        store.activation_code(&code.id).await.unwrap(),
        Some(disabled)
    );
    store
        .delete_activation_code(
            ACCOUNT_ID,
            &code.id,
            audit_event("DeleteAccessToken", &code.id),
        )
        .await
        .unwrap();
    assert_eq!(store.activation_code(&code.id).await.unwrap(), None);
    let summary = audit_summary(&audit_log(store.as_ref()).await);
    assert_eq!(
        summary[summary.len() - 3..],
        [
            success("CreateAccessToken", &code.id),
            success("DisableAccessToken", &code.id),
            success("DeleteAccessToken", &code.id),
        ]
    );
}

pub async fn redemption_consumes_one_use_per_fingerprint(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let code = activation_code("at-redeem00000000000000", 2);
    create(store.as_ref(), &code).await;
    let first = source_server("s-first", &code.id, "fingerprint-a", 10);
    assert_eq!(
        redeem(store.as_ref(), &first).await.unwrap(),
        Redemption::Registered(first.clone())
    );
    // The same machine again: its registration back, nothing consumed.
    let again = source_server("s-again", &code.id, "fingerprint-a", 20);
    assert_eq!(
        redeem(store.as_ref(), &again).await.unwrap(),
        Redemption::AlreadyRegistered(first.clone())
    );
    assert_eq!(registered_count(store.as_ref(), &code.id).await, 1);
    let second = source_server("s-second", &code.id, "fingerprint-b", 30);
    assert_eq!(
        redeem(store.as_ref(), &second).await.unwrap(),
        Redemption::Registered(second.clone())
    );
    let third = source_server("s-third", &code.id, "fingerprint-c", 40);
    assert_eq!(
        redeem(store.as_ref(), &third).await.unwrap_err(),
        StoreError::ActivationCodeExhausted
    );
    assert_eq!(registered_count(store.as_ref(), &code.id).await, 2);
    assert_eq!(
        store
            .list_source_servers(ACCOUNT_ID, Some(&code.id))
            .await
            .unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert!(store
        .list_source_servers(OTHER_ACCOUNT_ID, None)
        .await
        .unwrap()
        .is_empty());
    // Registrations outlive their code.
    store
        .delete_activation_code(
            ACCOUNT_ID,
            &code.id,
            audit_event("DeleteAccessToken", &code.id),
        )
        .await
        .unwrap();
    assert_eq!(
        store.list_source_servers(ACCOUNT_ID, None).await.unwrap(),
        vec![first, second]
    );
}

pub async fn refused_redemptions_consume_nothing(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let code = activation_code("at-refused0000000000000", 3);
    create(store.as_ref(), &code).await;
    let registered = source_server("s-kept", &code.id, "fingerprint-kept", 10);
    redeem(store.as_ref(), &registered).await.unwrap();
    let audit_before = audit_log(store.as_ref()).await.len();

    // Expired: at the expiry instant and after.
    let late = source_server("s-late", &code.id, "fingerprint-late", 30 * 86_400);
    assert_eq!(
        redeem(store.as_ref(), &late).await.unwrap_err(),
        StoreError::ActivationCodeExpired
    );
    // A registration that cannot be recorded (its id is taken) gives its use back.
    let colliding = source_server("s-kept", &code.id, "fingerprint-other", 20);
    assert_eq!(
        redeem(store.as_ref(), &colliding).await.unwrap_err(),
        StoreError::IdentifierTaken
    );
    assert_eq!(registered_count(store.as_ref(), &code.id).await, 1);
    // Unknown code.
    let unknown = source_server("s-unknown", "at-missing", "fingerprint-unknown", 20);
    assert_eq!(
        redeem(store.as_ref(), &unknown).await.unwrap_err(),
        StoreError::ActivationCodeNotFound
    );
    // Disabled.
    store
        .disable_activation_code(
            ACCOUNT_ID,
            &code.id,
            audit_event("DisableAccessToken", &code.id),
        )
        .await
        .unwrap();
    let disabled = source_server("s-disabled", &code.id, "fingerprint-disabled", 20);
    assert_eq!(
        redeem(store.as_ref(), &disabled).await.unwrap_err(),
        StoreError::ActivationCodeDisabled
    );
    assert_eq!(registered_count(store.as_ref(), &code.id).await, 1);
    assert_eq!(
        store.list_source_servers(ACCOUNT_ID, None).await.unwrap(),
        vec![registered]
    );
    // Only the disable was audited among all of these.
    assert_eq!(audit_log(store.as_ref()).await.len(), audit_before + 1);
}

pub async fn concurrent_redemptions_register_exactly_count_servers(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let code = activation_code("at-concurrent0000000000", 10);
    create(store.as_ref(), &code).await;
    let attempts = (0..60).map(|index| {
        let store = Arc::clone(&store);
        // Every third attempt repeats an earlier machine's fingerprint.
        let fingerprint = format!("fingerprint-{}", index - index % 3);
        let server = source_server(&format!("s-{index:04}"), &code.id, &fingerprint, 10);
        tokio::spawn(async move { redeem(store.as_ref(), &server).await })
    });
    let mut registered = 0;
    let mut exhausted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(Redemption::Registered(_)) => registered += 1,
            Ok(Redemption::AlreadyRegistered(_)) => {}
            Err(StoreError::ActivationCodeExhausted) => exhausted += 1,
            Err(error) => panic!("unexpected redemption failure: {error}"),
        }
    }
    assert_eq!(registered, 10);
    assert!(exhausted > 0);
    assert_eq!(registered_count(store.as_ref(), &code.id).await, 10);
    let servers = store
        .list_source_servers(ACCOUNT_ID, Some(&code.id))
        .await
        .unwrap();
    assert_eq!(servers.len(), 10);
    let mut fingerprints: Vec<_> = servers.iter().map(|server| &server.fingerprint).collect();
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 10);
}

pub async fn user_by_name_finds_users_within_their_account(store: Arc<dyn Store>) {
    let alice = crate::support::initialize_with_user(store.as_ref()).await;
    assert_eq!(
        store.user_by_name(ACCOUNT_ID, &alice.name).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .user_by_name(ACCOUNT_ID, crate::support::ROOT_NAME)
            .await
            .unwrap(),
        Some(crate::support::root_user())
    );
    assert_eq!(
        store.user_by_name(ACCOUNT_ID, "nobody").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .user_by_name(OTHER_ACCOUNT_ID, &alice.name)
            .await
            .unwrap(),
        None
    );
}
