//! Replay protection: a (key, nonce) pair is accepted once until its window ends, then again;
//! other keys are independent; expired records are removed; and under concurrency exactly one
//! of many simultaneous uses of one pair wins.

use keyplane_core::store::UsedNonce;
use std::sync::Arc;

use keyplane_core::store::Store;
use time::Duration;

use crate::support::at;

pub async fn a_nonce_is_accepted_once_per_key_until_it_expires(store: Arc<dyn Store>) {
    let window = Duration::minutes(15);
    assert_eq!(
        store
            .remember_nonce(UsedNonce::new("LTAIkey1", "n-1", at(0) + window), at(0))
            .await,
        Ok(true)
    );
    assert_eq!(
        store
            .remember_nonce(UsedNonce::new("LTAIkey1", "n-1", at(60) + window), at(60))
            .await,
        Ok(false)
    );
    assert_eq!(
        store
            .remember_nonce(UsedNonce::new("LTAIkey2", "n-1", at(60) + window), at(60))
            .await,
        Ok(true)
    );
    assert_eq!(
        store
            .remember_nonce(UsedNonce::new("LTAIkey1", "n-2", at(60) + window), at(60))
            .await,
        Ok(true)
    );
    let after_window = at(0) + window;
    assert_eq!(
        store
            .remember_nonce(
                UsedNonce::new("LTAIkey1", "n-1", after_window + window),
                after_window
            )
            .await,
        Ok(true),
        "a nonce may be reused once its window has passed"
    );
    assert_eq!(
        store
            .remember_nonce(
                UsedNonce::new("LTAIkey1", "n-1", after_window + window),
                after_window
            )
            .await,
        Ok(false)
    );
    // The two pairs first seen at 60 s expire at 60 s + window; the re-used pair, recorded
    // again at the end of its first window, does not expire yet.
    assert_eq!(store.forget_expired_nonces(at(60) + window).await, Ok(2));
    assert_eq!(store.forget_expired_nonces(at(60) + window).await, Ok(0));
    assert_eq!(
        store
            .remember_nonce(
                UsedNonce::new("LTAIkey1", "n-1", after_window + window),
                after_window
            )
            .await,
        Ok(false),
        "the record still inside its window survived the clean-up"
    );
}

pub async fn concurrent_uses_of_one_nonce_accept_exactly_one(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .remember_nonce(
                    UsedNonce::new("LTAIkey1", "shared", at(0) + Duration::minutes(15)),
                    at(0),
                )
                .await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.expect("task") == Ok(true) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
}
