//! Caches that cannot go stale for long: an access key changed, or a policy attached, behind
//! the authority's back (as on another node whose change notification was lost) is seen once
//! the cache's time to live has passed, with no notification at all. In-process, over a real
//! SQLite store, with a short time to live.

use keyplane_core::store::{OwnedAccessKey, UserPolicy};
use std::time::{Duration, Instant};

use keyplane_core::audit::OUTCOME_SUCCESS;
use keyplane_core::authority::{InitializedAccount, MAX_CACHE_TIME_TO_LIVE};
use keyplane_core::model::{KeyFamily, KeyStatus, PolicyType, User, UserProfile};
use keyplane_core::store::traits::*;
use keyplane_core::{AuthorityConfig, Caller, KeyLookup, RequestContext};
use keyplane_testkit::InProcess;
use time::OffsetDateTime;

const TIME_TO_LIVE: Duration = Duration::from_millis(600);

/// Polls `condition` every 20 ms for at most 5 s; returns how long it took to hold.
async fn within_seconds(mut condition: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    for _ in 0..250 {
        if condition().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn cached_keys_and_permissions_expire_after_their_time_to_live() {
    assert!(MAX_CACHE_TIME_TO_LIVE <= Duration::from_secs(60));
    assert_eq!(
        AuthorityConfig::default().cache_time_to_live,
        Duration::from_secs(30)
    );
    let in_process = InProcess::start(AuthorityConfig {
        cache_time_to_live: TIME_TO_LIVE,
        ..AuthorityConfig::default()
    });
    let (authority, store) = (&in_process.authority, &in_process.store);
    let now = OffsetDateTime::now_utc();
    let InitializedAccount {
        account,
        tencent_key,
        ..
    } = authority.initialize(now).await.unwrap();
    let operator = RequestContext::operator(now, "test".to_owned(), "Test");
    let key_id = tencent_key.key.id.clone();

    // The key is cached, then deactivated in the store behind the authority's back.
    let lookup = || authority.lookup_signing_key(&key_id, KeyFamily::Tencent);
    assert!(matches!(lookup().await.unwrap(), KeyLookup::Active(_)));
    let changed = Instant::now();
    store
        .set_access_key_status(
            OwnedAccessKey::new(account.id, account.id, &key_id)
                .with_status(KeyStatus::Inactive, now),
            operator.audit_event(None, OUTCOME_SUCCESS),
        )
        .await
        .unwrap();
    let still_cached = matches!(lookup().await.unwrap(), KeyLookup::Active(_));
    if changed.elapsed() < TIME_TO_LIVE / 2 {
        assert!(still_cached, "the key was served from the cache");
    }
    let seen = within_seconds(async || matches!(lookup().await.unwrap(), KeyLookup::Inactive))
        .await
        .expect("the deactivation is seen once the key's cache entry expired");
    assert!(seen >= TIME_TO_LIVE / 2 || !still_cached, "{seen:?}");

    // A sub-user's permissions are cached, then a policy is attached behind its back.
    let uin = account.id + 1;
    store
        .create_user(
            User {
                account_id: account.id,
                uin,
                name: "late".to_owned(),
                profile: UserProfile::default(),
                created_at: now,
            },
            operator.audit_event(None, OUTCOME_SUCCESS),
        )
        .await
        .unwrap();
    let context = RequestContext {
        caller: Some(Caller {
            account_id: account.id,
            uin,
            key_id: "AKIDnotused".to_owned(),
        }),
        ..RequestContext::operator(now, "test".to_owned(), "ListUsers")
    };
    let allowed = async || {
        authority
            .authorize(&context, "cam:ListUsers", |_| vec!["*".to_owned()])
            .await
            .unwrap()
            .allowed()
    };
    assert!(!allowed().await);
    let changed = Instant::now();
    store
        .attach_policy(
            UserPolicy::new(account.id, uin, PolicyType::System, "AdministratorAccess")
                .attached_at(now, 10),
            operator.audit_event(None, OUTCOME_SUCCESS),
        )
        .await
        .unwrap();
    let still_cached = !allowed().await;
    if changed.elapsed() < TIME_TO_LIVE / 2 {
        assert!(still_cached, "the permissions were served from the cache");
    }
    within_seconds(allowed)
        .await
        .expect("the attachment is seen once the permissions' cache entry expired");
}
