//! The nonce store: request nonces, remembered across every node on the store so that a
//! signed request cannot be replayed.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// Request nonces, remembered across every node on the store so that a signed request cannot be
/// replayed.
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Records that `nonce` was used with `key_id`, valid until `expires_at`. Returns `false`
    /// when that pair is already recorded and has not expired at `now` (a replay), atomically
    /// across every node on the store.
    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes nonce records that expired at or before `now`; returns how many.
    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}
