//! The nonce store: request nonces, remembered across every node on the store so that a
//! signed request cannot be replayed.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// A nonce used with a key: what `NonceStore::remember_nonce` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsedNonce<'a> {
    /// The key the request was signed with.
    pub key_id: &'a str,
    /// The request's nonce.
    pub nonce: &'a str,
    /// Until when the pair is remembered.
    pub expires_at: OffsetDateTime,
}

impl<'a> UsedNonce<'a> {
    /// `nonce` used with `key_id`, remembered until `expires_at`.
    pub fn new(key_id: &'a str, nonce: &'a str, expires_at: OffsetDateTime) -> Self {
        Self {
            key_id,
            nonce,
            expires_at,
        }
    }
}

/// Request nonces, remembered across every node on the store so that a signed request cannot be
/// replayed.
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Records that `nonce.nonce` was used with `nonce.key_id`, valid until `nonce.expires_at`. Returns `false`
    /// when that pair is already recorded and has not expired at `now` (a replay), atomically
    /// across every node on the store.
    async fn remember_nonce(
        &self,
        nonce: UsedNonce<'_>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes nonce records that expired at or before `now`; returns how many.
    async fn forget_expired_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}
