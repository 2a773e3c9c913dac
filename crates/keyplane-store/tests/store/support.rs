//! Fixtures shared by every test in this binary: the handle a backend factory returns
//! (`TestStore`), fixed identifiers, fixed times (nanosecond precision, never the clock), fake
//! sealed blobs, builders for users, access keys, API keys, key usage and audit events, and
//! helpers that read the whole audit log.

use std::any::Any;
use std::sync::Arc;

use keyplane_core::audit::{AuditEvent, AuditRecord, OUTCOME_SUCCESS};
use keyplane_core::model::{
    AccessKey, Account, ApiKey, ApiKeyType, KeyFamily, KeyStatus, KeyUsage, SealedBlob, Tag, User,
    UserProfile,
};
use keyplane_core::store::{NewAccessKey, NewAccount, Store};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A fresh, empty store from a backend factory, with whatever must outlive it (a temporary
/// directory, a throw-away database). The store is dropped before those resources.
pub struct TestStore {
    store: Arc<dyn Store>,
    resources: Box<dyn Any + Send>,
}

impl TestStore {
    pub fn new(store: Arc<dyn Store>, resources: impl Any + Send) -> Self {
        Self {
            store,
            resources: Box::new(resources),
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// The resource kept alive beside the store, if it is a `T`.
    pub fn resource<T: 'static>(&self) -> Option<&T> {
        self.resources.downcast_ref::<T>()
    }
}

/// The installation's account, which is also the root principal's uin.
pub const ACCOUNT_ID: u64 = 100_000_000_001;
/// An account that is never initialised: lookups scoped to it must find nothing.
pub const OTHER_ACCOUNT_ID: u64 = 100_000_000_999;
pub const ROOT_NAME: &str = "root";
pub const USER_UIN: u64 = 100_000_000_101;
pub const USER_NAME: &str = "alice";
pub const SECOND_USER_UIN: u64 = 100_000_000_102;
pub const SECOND_USER_NAME: &str = "bob";
/// A uin no user has.
pub const UNKNOWN_UIN: u64 = 100_000_000_404;

/// The reference time; sub-second digits make lost precision visible.
pub const BASE_TIME: OffsetDateTime = datetime!(2025-03-14 09:26:53.589793238 UTC);

/// `BASE_TIME` plus `seconds`.
pub fn at(seconds: i64) -> OffsetDateTime {
    BASE_TIME + Duration::seconds(seconds)
}

/// A fake sealed secret: not real ciphertext, but bytes that include 0x00 and 0xff and differ
/// with `seed`.
pub fn sealed(seed: u8) -> SealedBlob {
    let mut ciphertext = vec![0x00, 0xff, seed];
    ciphertext.extend((0..29u8).map(|index| seed.wrapping_add(index.wrapping_mul(37))));
    SealedBlob {
        key_version: 1,
        ciphertext,
    }
}

fn seed_of(text: &str) -> u8 {
    text.bytes()
        .fold(17u8, |seed, byte| seed.wrapping_mul(31).wrapping_add(byte))
}

/// A Tencent-shaped access key id: `AKID` and 32 digits.
pub fn tencent_key_id(number: u32) -> String {
    format!("AKID{number:032}")
}

/// An Alibaba-shaped access key id: `LTAI` and 20 digits.
pub fn aliyun_key_id(number: u32) -> String {
    format!("LTAI{number:020}")
}

/// An access key id of the given family.
pub fn key_id(family: KeyFamily, number: u32) -> String {
    match family {
        KeyFamily::Tencent => tencent_key_id(number),
        KeyFamily::Aliyun => aliyun_key_id(number),
    }
}

/// An access key to insert in `ACCOUNT_ID`, without a description.
pub fn new_access_key(
    id: &str,
    owner_uin: u64,
    family: KeyFamily,
    created_at: OffsetDateTime,
) -> NewAccessKey {
    NewAccessKey {
        id: id.to_owned(),
        account_id: ACCOUNT_ID,
        owner_uin,
        family,
        description: None,
        sealed_secret: sealed(seed_of(id)),
        created_at,
    }
}

/// What the store must hold right after inserting `key`: active, not yet updated.
pub fn expected_access_key(key: &NewAccessKey) -> AccessKey {
    AccessKey {
        id: key.id.clone(),
        account_id: key.account_id,
        owner_uin: key.owner_uin,
        family: key.family,
        status: KeyStatus::Active,
        description: key.description.clone(),
        sealed_secret: key.sealed_secret.clone(),
        created_at: key.created_at,
        updated_at: key.created_at,
    }
}

/// The account every test initialises: `ACCOUNT_ID`, root `ROOT_NAME`, created at `at(0)`.
pub fn new_account() -> NewAccount {
    NewAccount {
        account_id: ACCOUNT_ID,
        root_name: ROOT_NAME.to_owned(),
        created_at: at(0),
    }
}

pub fn expected_account() -> Account {
    Account {
        id: ACCOUNT_ID,
        created_at: at(0),
    }
}

pub fn root_user() -> User {
    User {
        account_id: ACCOUNT_ID,
        uin: ACCOUNT_ID,
        name: ROOT_NAME.to_owned(),
        profile: UserProfile::default(),
        created_at: at(0),
    }
}

/// A user of `ACCOUNT_ID`.
pub fn user(uin: u64, name: &str, created_at: OffsetDateTime) -> User {
    User {
        account_id: ACCOUNT_ID,
        uin,
        name: name.to_owned(),
        profile: UserProfile::default(),
        created_at,
    }
}

/// The audit event a successful request from the root principal would carry.
pub fn audit_event(action: &str, target: &str) -> AuditEvent {
    AuditEvent {
        time: at(1),
        request_id: format!("request-{action}-{target}"),
        account_id: Some(ACCOUNT_ID),
        principal_uin: Some(ACCOUNT_ID),
        key_id: Some(tencent_key_id(9_999)),
        product: "cam".to_owned(),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        outcome: OUTCOME_SUCCESS.to_owned(),
        source_address: "192.0.2.10".to_owned(),
        user_agent: "keyplane-conformance/1.0".to_owned(),
        detail: None,
        authorization: None,
    }
}

/// The audit event of a refused request from nobody known: every optional field empty.
pub fn refused_audit_event(request_number: u32, outcome: &str) -> AuditEvent {
    AuditEvent {
        time: at(2) + Duration::nanoseconds(i64::from(request_number)),
        request_id: format!("refused-request-{request_number}"),
        account_id: None,
        principal_uin: None,
        key_id: None,
        product: "sts".to_owned(),
        action: "GetFederationToken".to_owned(),
        target: None,
        outcome: outcome.to_owned(),
        source_address: "2001:db8::7".to_owned(),
        user_agent: String::new(),
        detail: None,
        authorization: None,
    }
}

/// An enabled API key of `ACCOUNT_ID` without tags.
pub fn api_key(id: &str, key_type: ApiKeyType, created_at: OffsetDateTime) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        account_id: ACCOUNT_ID,
        key_type,
        secret_name: format!("secret-name-of-{id}"),
        enabled: true,
        tags: Vec::new(),
        sealed_secret: sealed(seed_of(id)),
        created_at,
        updated_at: created_at,
    }
}

/// An API key id.
pub fn api_key_id(number: u32) -> String {
    format!("APIKEY{number:026}")
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// A last use of `key_id`.
pub fn key_usage(key_id: &str, used_at: OffsetDateTime, action: &str) -> KeyUsage {
    KeyUsage {
        key_id: key_id.to_owned(),
        used_at,
        product: "cvm".to_owned(),
        action: action.to_owned(),
        source_address: "198.51.100.7".to_owned(),
    }
}

/// Initialises the store with `new_account()` and no root keys.
pub async fn initialize(store: &dyn Store) {
    let (account, root) = store
        .initialize(new_account(), Vec::new())
        .await
        .expect("initializing the store");
    assert_eq!(account, expected_account());
    assert_eq!(root, root_user());
}

/// Initialises the store and creates `USER_NAME` (`USER_UIN`), whose creation is the only audit
/// event; returns that user.
pub async fn initialize_with_user(store: &dyn Store) -> User {
    initialize(store).await;
    let alice = user(USER_UIN, USER_NAME, at(10));
    store
        .create_user(alice.clone(), audit_event("CreateUser", USER_NAME))
        .await
        .expect("creating the test user");
    alice
}

/// Creates an access key with a generous quota, expecting success.
pub async fn create_access_key(store: &dyn Store, key: &NewAccessKey) -> AccessKey {
    store
        .create_access_key_within_quota(key.clone(), 100, audit_event("CreateAccessKey", &key.id))
        .await
        .expect("creating an access key")
}

/// The whole audit log, in sequence order.
pub async fn audit_log(store: &dyn Store) -> Vec<AuditRecord> {
    store
        .audit_records(0, 1_000_000)
        .await
        .expect("reading the audit log")
}

/// The events of the whole audit log, in sequence order.
pub async fn audit_events(store: &dyn Store) -> Vec<AuditEvent> {
    audit_log(store)
        .await
        .into_iter()
        .map(|record| record.event)
        .collect()
}

/// (action, target, outcome) of each record.
pub fn audit_summary(records: &[AuditRecord]) -> Vec<(String, Option<String>, String)> {
    records
        .iter()
        .map(|record| {
            (
                record.event.action.clone(),
                record.event.target.clone(),
                record.event.outcome.clone(),
            )
        })
        .collect()
}

/// An expected `audit_summary` entry for a success.
pub fn success(action: &str, target: &str) -> (String, Option<String>, String) {
    (
        action.to_owned(),
        Some(target.to_owned()),
        OUTCOME_SUCCESS.to_owned(),
    )
}

/// Asserts that sequences strictly increase.
pub fn assert_strictly_increasing(records: &[AuditRecord]) {
    for pair in records.windows(2) {
        assert!(
            pair[0].sequence < pair[1].sequence,
            "audit sequences must strictly increase: {} then {}",
            pair[0].sequence,
            pair[1].sequence
        );
    }
}
